//! A restic repository as a backup location, through the restic program
//! (see the README for why not a library): its snapshots and the backup
//! files in them, a file read with `restic dump` as a stream, a backup
//! written with `restic backup --stdin`. restic's own words never leave the
//! process: its failures are sorted into kinds here, and the message is ours.

use crate::error::{Error, Result};
use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `[backups.restic]`: the repository password, from a file or a variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResticSettings {
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub repo: String,
    settings: ResticSettings,
    /// Credentials for an `s3:` repository, from `[backups.s3]`.
    s3_env: Vec<(String, String)>,
}

/// A file in a snapshot.
#[derive(Debug, Clone)]
pub struct Found {
    pub snapshot: String,
    pub path: String,
    pub name: String,
    pub bytes: u64,
    pub time: Option<chrono::DateTime<chrono::Utc>>,
}

/// How long listing a repository may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// Why restic could not do what was asked, sorted from its exit and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResticFailure {
    WrongPassword,
    NoRepository,
    NotInstalled,
    TimedOut,
    /// Took nothing in for `STALL` while a backup was written into it.
    Stalled {
        after: u64,
    },
    Other(Option<i32>),
}

impl Repo {
    pub fn new(repo: &str, settings: &ResticSettings, s3: &super::s3::S3Settings) -> Result<Repo> {
        check_password(repo, settings)?;
        Ok(Repo {
            repo: repo.to_string(),
            settings: settings.clone(),
            s3_env: s3_env(s3)?,
        })
    }

    fn command(&self) -> Command {
        let mut c = Command::new("restic");
        c.args(["--no-cache", "--quiet", "-r", &self.repo])
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_PASSWORD_FILE")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .envs(self.s3_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(f) = &self.settings.password_file {
            c.env("RESTIC_PASSWORD_FILE", f);
        } else if let Some(var) = &self.settings.password_env {
            c.env("RESTIC_PASSWORD", std::env::var(var).unwrap_or_default());
        }
        c
    }

    /// Runs restic to the end, bounded; its stdout on success.
    async fn output(&self, args: &[&str]) -> Result<Vec<u8>> {
        let mut c = tokio::process::Command::from(self.command());
        c.args(args).kill_on_drop(true);
        let out = match tokio::time::timeout(LIST_TIMEOUT, c.output()).await {
            Err(_) => return Err(self.failure(ResticFailure::TimedOut)),
            Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Err(self.failure(ResticFailure::NotInstalled))
            }
            Ok(Err(e)) => return Err(Error::io("run", "restic", e)),
            Ok(Ok(o)) => o,
        };
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(self.failure(classify(out.status.code(), &out.stderr)))
    }

    /// Every file in every snapshot, newest snapshot first, from one
    /// `restic find` over them all: restic derives its key and reads the
    /// index anew on each call (half a second for a local repository, more
    /// over a network), so a call per snapshot made a year of nightly
    /// snapshots cost minutes before the restore began.
    pub async fn files(&self) -> Result<Vec<Found>> {
        let text = self.output(&["snapshots", "--json", "--no-lock"]).await?;
        let times = snapshot_times(&text);
        let found = self.output(&["find", "--json", "--no-lock", "*"]).await?;
        let mut out = files_found(&found, &times);
        // A folder backed up nightly holds each backup in every snapshot
        // since: the newest snapshot's copy stands for them all.
        out.sort_by_key(|f| std::cmp::Reverse(f.time));
        let mut seen = std::collections::HashSet::new();
        out.retain(|f| seen.insert(f.name.clone()));
        Ok(out)
    }

    /// A file of a snapshot as a stream (`restic dump`); the stream fails
    /// if restic ends with an error, so a cut read is never taken as whole.
    /// `bytes`: the file's size, as the listing gave it (for messages).
    pub fn dump(&self, snapshot: &str, path: &str, bytes: u64) -> io::Result<Dumped> {
        let mut c = self.command();
        // --no-lock: a drill only reads, and may hold read-only access to
        // the repository, where restic could not write its lock.
        c.args(["dump", "--no-lock", snapshot, path]);
        let mut child = c.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let watch = Arc::new(Watch::new());
        watchdog(child.id(), watch.clone());
        let what = format!("{}{path}", super::place::Place::Restic(self.repo.clone()));
        Ok(Dumped {
            child,
            stdout,
            watch,
            what,
            of: bytes,
        })
    }

    /// Writes `input` into the repository as `name` (`restic backup --stdin`).
    /// Bounded by progress as a dump is: a restic that takes nothing in for
    /// `STALL` is killed, and so is one still busy `LIST_TIMEOUT` after the
    /// last byte (its last packs, index and snapshot), never by the length.
    pub fn store(&self, name: &str, input: &mut dyn Read) -> Result<()> {
        let mut c = self.command();
        c.args([
            "backup",
            "--stdin",
            "--stdin-filename",
            name,
            "--tag",
            "restore-drill",
        ])
        .stdin(Stdio::piped());
        let mut child = c.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.failure(ResticFailure::NotInstalled),
            _ => Error::io("run", "restic", e),
        })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| Error::Failed("no stdin".into()))?;
        let watch = Arc::new(Watch::new());
        watchdog(child.id(), watch.clone());
        let copied = copy_watched(input, &mut stdin, &watch);
        drop(stdin);
        watch.allow(LIST_TIMEOUT);
        let (status, stderr) = finish(child, &watch).map_err(|e| Error::io("run", "restic", e))?;
        if watch.stalled.load(Ordering::Relaxed) {
            return Err(self.failure(match copied {
                Ok(_) => ResticFailure::TimedOut,
                Err(_) => ResticFailure::Stalled {
                    after: watch.moved(),
                },
            }));
        }
        if !status.success() {
            return Err(self.failure(classify(status.code(), &stderr)));
        }
        let shown = super::place::shown_repo(&self.repo);
        copied.map_err(|e| Error::io("write into", PathBuf::from(shown), e))?;
        Ok(())
    }

    /// The one place a restic failure becomes a message.
    pub fn failure(&self, f: ResticFailure) -> Error {
        let repo = &super::place::shown_repo(&self.repo);
        match f {
            ResticFailure::WrongPassword => Error::Environment(format!(
                "restic:{repo}: the repository password does not open it (wrong password or no key). Check [backups.restic] password_file or password_env"
            )),
            ResticFailure::NoRepository => Error::Environment(format!(
                "restic:{repo}: no restic repository there. Check the location (restic:PATH, restic:rest:URL or restic:s3:URL)"
            )),
            ResticFailure::NotInstalled => Error::Environment(
                "restic is not installed: reading restic repositories runs the restic program. Install it (apt install restic)".into(),
            ),
            ResticFailure::TimedOut => Error::Environment(format!(
                "restic:{repo}: restic did not answer within {} s. Check the repository's disk or network, then try again",
                LIST_TIMEOUT.as_secs()
            )),
            ResticFailure::Stalled { after } => Error::Environment(format!(
                "restic:{repo}: restic took nothing in for {} s after {after} bytes and was stopped. Check the repository's disk or network, then run the backup again",
                STALL.as_secs()
            )),
            ResticFailure::Other(code) => Error::Environment(format!(
                "restic:{repo}: restic failed (exit {}). Run `restic -r {repo} snapshots` by hand to see why",
                code.map_or("by a signal".to_string(), |c| c.to_string())
            )),
        }
    }
}

/// The repository password must be there before restic is asked: restic
/// would only say it failed.
fn check_password(repo: &str, s: &ResticSettings) -> Result<()> {
    match (&s.password_file, &s.password_env) {
        (None, None) => Err(Error::Usage(format!(
            "restic:{} needs the repository password: set [backups.restic] password_file or password_env",
            super::place::shown_repo(repo)
        ))),
        (Some(_), Some(_)) => Err(Error::Usage(
            "[backups.restic]: give password_file or password_env, not both".into(),
        )),
        (Some(f), None) => std::fs::File::open(f).map(drop).map_err(|e| {
            Error::Environment(format!(
                "cannot read the restic password file {}: {e}. Check [backups.restic] password_file",
                f.display()
            ))
        }),
        (None, Some(v)) if std::env::var(v).map_or(true, |p| p.is_empty()) => {
            Err(Error::Environment(format!(
                "the restic password variable {v} is not set: set it for the drill, or use [backups.restic] password_file"
            )))
        }
        (None, Some(_)) => Ok(()),
    }
}

/// Sorts restic's failure by its exit code (restic 0.17 and later) or by
/// the fixed phrases of its messages (older ones). Only the kind is kept.
pub fn classify(code: Option<i32>, stderr: &[u8]) -> ResticFailure {
    let said = String::from_utf8_lossy(stderr).to_lowercase();
    match code {
        Some(12) => return ResticFailure::WrongPassword,
        Some(10) => return ResticFailure::NoRepository,
        _ => {}
    }
    if said.contains("wrong password") || said.contains("no key found") {
        ResticFailure::WrongPassword
    } else if said.contains("is there a repository at the following location")
        || said.contains("repository does not exist")
        || said.contains("unable to open config file")
    {
        ResticFailure::NoRepository
    } else {
        ResticFailure::Other(code)
    }
}

type Times = std::collections::HashMap<String, Option<chrono::DateTime<chrono::Utc>>>;

/// Each snapshot's time, by its id, from `restic snapshots --json`.
fn snapshot_times(listed: &[u8]) -> Times {
    let snaps: Vec<serde_json::Value> = serde_json::from_slice(listed).unwrap_or_default();
    snaps
        .iter()
        .filter_map(|s| {
            let time = s["time"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc));
            Some((s["id"].as_str()?.to_string(), time))
        })
        .collect()
}

/// The regular files of `restic find --json` output (one entry a snapshot,
/// its matches beneath), each with its snapshot's time.
fn files_found(found: &[u8], times: &Times) -> Vec<Found> {
    let entries: Vec<serde_json::Value> = serde_json::from_slice(found).unwrap_or_default();
    let mut out = Vec::new();
    for e in &entries {
        let Some(snapshot) = e["snapshot"].as_str() else {
            continue;
        };
        let time = times.get(snapshot).copied().flatten();
        let matches = e["matches"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        out.extend(
            matches
                .iter()
                .filter(|m| m["type"] == "file")
                .filter_map(|m| {
                    let path = m["path"].as_str()?;
                    Some(Found {
                        snapshot: snapshot.to_string(),
                        path: path.to_string(),
                        name: path.rsplit('/').next()?.to_string(),
                        bytes: m["size"].as_u64().unwrap_or(0),
                        time,
                    })
                }),
        );
    }
    out
}

/// AWS credentials for an `s3:` repository, from `[backups.s3]`'s file.
fn s3_env(s3: &super::s3::S3Settings) -> Result<Vec<(String, String)>> {
    let Some(file) = &s3.credentials_file else {
        return Ok(Vec::new());
    };
    let c = super::s3::credentials_file(file)?;
    let mut env = vec![
        (
            "AWS_ACCESS_KEY_ID".to_string(),
            c.access_key_id().to_string(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            c.secret_access_key().to_string(),
        ),
    ];
    if let Some(t) = c.session_token() {
        env.push(("AWS_SESSION_TOKEN".into(), t.to_string()));
    }
    if let Some(r) = &s3.region {
        env.push(("AWS_DEFAULT_REGION".into(), r.clone()));
    }
    Ok(env)
}

/// How long `restic dump` may send nothing before it is ended as stuck, as
/// a bucket's download is (`s3::STALL`).
const STALL: Duration = super::s3::STALL;

/// `restic dump`'s output; an unsuccessful end of restic is a read error,
/// and a restic that sends nothing for `STALL` is killed and the read ends
/// as a broken download.
pub struct Dumped {
    child: std::process::Child,
    stdout: std::process::ChildStdout,
    watch: Arc<Watch>,
    what: String,
    of: u64,
}

/// Until when restic may stay silent, how many bytes it moved, and
/// whether the watchdog ended it.
struct Watch {
    deadline: Mutex<Instant>,
    moved: AtomicU64,
    done: AtomicBool,
    stalled: AtomicBool,
}

impl Watch {
    fn new() -> Self {
        Watch {
            deadline: Mutex::new(Instant::now() + STALL),
            moved: AtomicU64::new(0),
            done: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
        }
    }

    /// `n` bytes went through: restic has `STALL` again.
    fn progress(&self, n: usize) {
        self.moved.fetch_add(n as u64, Ordering::Relaxed);
        self.allow(STALL);
    }

    fn allow(&self, quiet: Duration) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = Instant::now() + quiet;
        }
    }

    fn moved(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }

    fn overdue(&self) -> bool {
        self.deadline.lock().is_ok_and(|d| Instant::now() > *d)
    }
}

/// Waits for restic's end under the watchdog: its pipes are read to their
/// end, the watchdog told it is done, and only then is restic reaped (so the
/// pid it may still kill is never another process's). Its exit and stderr.
fn finish(
    mut child: std::process::Child,
    watch: &Watch,
) -> io::Result<(std::process::ExitStatus, Vec<u8>)> {
    let mut stderr = Vec::new();
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let drained = out
        .map_or(Ok(0), |mut o| io::copy(&mut o, &mut io::sink()))
        .and_then(|_| err.map_or(Ok(0), |mut e| e.read_to_end(&mut stderr)));
    watch.done.store(true, Ordering::Relaxed);
    let status = child.wait()?;
    drained.map(|_| (status, stderr))
}

/// `input` into restic's stdin, a chunk at a time, each one progress.
fn copy_watched(input: &mut dyn Read, to: &mut impl io::Write, watch: &Watch) -> io::Result<()> {
    let mut buf = vec![0; 64 << 10];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        watch.progress(n);
    }
}

/// Kills restic (`pid`) once it is past its deadline (nothing sent or taken
/// for `STALL`); its pipes then end, and the caller says it stalled. Stops
/// when restic is done (set before it is reaped, so the pid is still its).
fn watchdog(pid: u32, watch: Arc<Watch>) {
    std::thread::spawn(move || {
        while !watch.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(500));
            if watch.overdue() && !watch.done.load(Ordering::Relaxed) {
                watch.stalled.store(true, Ordering::Relaxed);
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                return;
            }
        }
    });
}

impl Read for Dumped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stdout.read(buf)?;
        self.watch.progress(n);
        if n == 0 && !buf.is_empty() {
            self.watch.done.store(true, Ordering::Relaxed);
            let status = self.child.wait()?;
            if self.watch.stalled.load(Ordering::Relaxed) {
                return Err(self.stalled());
            }
            if !status.success() {
                let mut stderr = Vec::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_end(&mut stderr);
                }
                let kind = classify(status.code(), &stderr);
                return Err(io::Error::other(format!("restic dump failed ({kind:?})")));
            }
        }
        Ok(n)
    }
}

impl Dumped {
    fn stalled(&self) -> io::Error {
        let why = io::ErrorKind::TimedOut;
        let broke = super::origin::Broke {
            what: self.what.clone(),
            after: self.watch.moved(),
            of: self.of,
            why,
            retries: 0,
        };
        io::Error::new(why, broke)
    }
}

impl Drop for Dumped {
    fn drop(&mut self) {
        self.watch.done.store(true, Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_failures_by_code_then_words() {
        assert_eq!(classify(Some(12), b""), ResticFailure::WrongPassword);
        assert_eq!(
            classify(Some(1), b"Fatal: wrong password or no key found\n"),
            ResticFailure::WrongPassword
        );
        assert_eq!(
            classify(Some(1), b"Fatal: unable to open config file: stat /x/config: no such file or directory\nIs there a repository at the following location?\n/x\n"),
            ResticFailure::NoRepository
        );
        assert_eq!(classify(Some(3), b"boom"), ResticFailure::Other(Some(3)));
    }

    /// restic 0.14's own output, cut to what is read.
    #[test]
    fn finds_every_file_of_every_snapshot_with_its_time() {
        let snaps = br#"[{"time":"2026-12-03T01:00:00Z","id":"aaa1","short_id":"aaa"},
                         {"time":"2026-12-04T01:00:00.5+00:00","id":"bbb2","short_id":"bbb"}]"#;
        let found = br#"[{"matches":[{"path":"/srv/b","type":"dir"},
                          {"path":"/srv/b/c-1.dump.zst.age","type":"file","size":3}],"hits":2,"snapshot":"aaa1"},
                         {"matches":[{"path":"/srv/b/c-2.dump.zst.age","type":"file","size":5},
                          {"path":"/srv/b/c-2.dump.zst.age.manifest.json","type":"file","size":9}],"hits":2,"snapshot":"bbb2"}]"#;
        let files = files_found(found, &snapshot_times(snaps));
        let seen: Vec<_> = files
            .iter()
            .map(|f| {
                (
                    f.snapshot.as_str(),
                    f.name.as_str(),
                    f.bytes,
                    f.time.map(|t| t.timestamp()),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("aaa1", "c-1.dump.zst.age", 3, Some(1_796_259_600)),
                ("bbb2", "c-2.dump.zst.age", 5, Some(1_796_346_000)),
                (
                    "bbb2",
                    "c-2.dump.zst.age.manifest.json",
                    9,
                    Some(1_796_346_000)
                ),
            ]
        );
        assert_eq!(files[0].path, "/srv/b/c-1.dump.zst.age");
        assert!(files_found(b"[]", &Times::new()).is_empty());
    }
}
