//! Failure simulation. Everything acts on scratch copies: the backup set is
//! copied (reflinked where the file system can: `std::fs::copy` uses
//! copy_file_range, which clones on btrfs and XFS; never hard links, which
//! would let a simulation write through to the originals) and the faults are
//! applied there. The user's files and servers are never touched.

use crate::backup::{self, BackupRequest, DumpSource};
use crate::catalog::list;
use crate::engine::{postgres, EngineKind};
use crate::error::{Error, Result};
use crate::events::{Event, Events, Observer};
use crate::keys::IdentitySource;
use crate::sandbox::{self, RunId, Sandbox, SandboxSpec};
use crate::scenario::{Fault, Plan};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Executor;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A backup location the drill will read: a name for reports and a folder.
#[derive(Debug, Clone)]
pub struct Location {
    pub name: String,
    pub path: PathBuf,
}

/// What the simulation did, in words a clinic manager understands, with the
/// evidence (files, byte counts).
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub fault: String,
    pub actions: Vec<String>,
}

/// The live workload's account of what it wrote, and what the restore lost.
#[derive(Debug, Clone, Serialize)]
pub struct LostWrites {
    /// Writes the workload saw committed.
    pub committed: u64,
    /// Of those, the ones missing from the restored database.
    pub lost: u64,
    /// The workload table's row count recorded in the restored backup's
    /// manifest: an independent count of the writes the backup holds.
    pub in_backup_per_manifest: Option<u64>,
    pub first_lost_at: Option<DateTime<Utc>>,
    pub last_lost_at: Option<DateTime<Utc>>,
    /// From the restored backup's snapshot to the last committed write.
    pub span_seconds: Option<f64>,
    /// The workload's own log (sequence numbers and commit times only).
    pub log: String,
}

/// A staged failure: where the drill reads, with which keys, and what else
/// the simulation changes about the run.
pub struct Staged {
    scratch: tempfile::TempDir,
    pub locations: Vec<Location>,
    pub keys: Arc<Vec<IdentitySource>>,
    pub simulation: Simulation,
    /// The drill's "now" is this much later (a backup job that stopped).
    pub clock_offset: Duration,
    pub sandbox_tmpfs: Option<u64>,
    /// Kill the sandbox once this many bytes of the backup were read.
    pub kill_after: Option<u64>,
    /// When production was lost (lost-server), for RTO.
    pub lost_at: Option<Instant>,
    pub workload: Option<WorkloadLog>,
}

/// The running workload: its task (yielding the committed writes) and its stop signal.
type Workload = (
    tokio::task::JoinHandle<Result<Vec<(i64, DateTime<Utc>)>>>,
    Arc<Notify>,
);

#[derive(Debug, Clone)]
pub struct WorkloadLog {
    pub path: PathBuf,
    /// (sequence number, commit time) of every write the workload saw commit.
    pub committed: Vec<(i64, DateTime<Utc>)>,
}

/// Copies the plan's locations into scratch space and applies the fault.
pub async fn stage(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    keys: Arc<Vec<IdentitySource>>,
    fault: &Fault,
    events: &Events,
) -> Result<Staged> {
    let scratch = tempfile::Builder::new()
        .prefix("restore-drill-scratch-")
        .tempdir()
        .map_err(|e| Error::io("create scratch space in", std::env::temp_dir(), e))?;
    let mut actions = Vec::new();
    let primary_src = plan
        .backups
        .location
        .clone()
        .ok_or_else(|| Error::Usage("no backup location".into()))?;
    let mut locations = vec![Location {
        name: "primary".into(),
        path: copy_dir(&primary_src, &scratch.path().join("primary"))?,
    }];
    if let Some(off) = &plan.backups.offsite {
        locations.push(Location {
            name: "offsite".into(),
            path: copy_dir(off, &scratch.path().join("offsite"))?,
        });
    }
    actions.push(format!(
        "copied the backups to scratch space; the originals in {} are not touched",
        primary_src.display()
    ));
    let mut staged = Staged {
        scratch,
        locations,
        keys,
        simulation: Simulation {
            fault: fault.name().into(),
            actions,
        },
        clock_offset: Duration::ZERO,
        sandbox_tmpfs: None,
        kill_after: None,
        lost_at: None,
        workload: None,
    };
    let primary = staged.locations[0].path.clone();
    let mut act: Vec<String> = Vec::new();
    match fault {
        Fault::CorruptBackup { flips, seed } => {
            let target = newest(&primary)?;
            let offsets = flip_bytes(&target, *flips, *seed)?;
            act.push(format!(
                "damaged the newest backup {}: {} bytes changed at offsets {}",
                file_name(&target),
                offsets.len(),
                offsets
                    .iter()
                    .map(|o| o.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Fault::TruncatedBackup { fraction } => {
            let target = newest(&primary)?;
            let len = std::fs::metadata(&target)
                .map_err(|e| Error::io("read", &target, e))?
                .len();
            let keep = (len as f64 * fraction) as u64;
            std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .and_then(|f| f.set_len(keep))
                .map_err(|e| Error::io("truncate", &target, e))?;
            act.push(format!(
                "cut the newest backup {} from {len} to {keep} bytes (the copy to the share stopped part-way)",
                file_name(&target)
            ));
        }
        Fault::StaleBackups { days } => {
            staged.clock_offset = Duration::from_secs_f64(days * 86_400.0);
            act.push(format!(
                "the backup job stopped silently: the drill runs as if {days} days had passed since the newest backup"
            ));
        }
        Fault::LostKey => {
            // The first identity is gone; the others are loaded again from
            // their files (keys can't be copied out of a shared set).
            let mut rest = Vec::new();
            for (i, k) in staged.keys.iter().enumerate() {
                if i == 0 {
                    act.push(format!(
                        "the day-to-day key {} is lost; only the keys after it remain",
                        k.path.display()
                    ));
                    continue;
                }
                let path = k.path.display().to_string();
                rest.push(match path.strip_prefix('$') {
                    Some(var) => crate::keys::passphrase_identity(var)?,
                    None => crate::keys::load_identity_file(&k.path)?,
                });
            }
            if rest.is_empty() {
                act.push("no escrow key was provided: nothing else can open the backups".into());
            }
            staged.keys = Arc::new(rest);
        }
        Fault::WrongKey => {
            let id = age::x25519::Identity::generate();
            staged.keys = Arc::new(vec![IdentitySource {
                path: PathBuf::from("(a key that belongs to something else)"),
                identities: vec![Box::new(id)],
            }]);
            act.push("the only key at hand is one that opens none of these backups".into());
        }
        Fault::DiskFull { tmpfs_mb } => {
            let bytes = match tmpfs_mb {
                Some(mb) => mb << 20,
                None => {
                    // An initialised cluster takes ~62 MiB (one WAL segment
                    // included); a quarter of the dump on top cannot hold it.
                    let newest = list::scan(&primary, None)?.into_iter().next();
                    let dump = newest
                        .map(|c| c.manifest.map_or(c.bytes * 4, |m| m.dump.bytes))
                        .unwrap_or(0);
                    (64 << 20) + dump / 4
                }
            };
            staged.sandbox_tmpfs = Some(bytes);
            act.push(format!(
                "the recovery server has only {:.1} MiB of storage for the database",
                bytes as f64 / f64::from(1u32 << 20)
            ));
        }
        Fault::RestoreKilled { fraction } => {
            let target = newest(&primary)?;
            let len = std::fs::metadata(&target)
                .map_err(|e| Error::io("read", &target, e))?
                .len();
            let after = (len as f64 * fraction) as u64;
            staged.kill_after = Some(after);
            act.push(format!(
                "the recovery server will be killed once {after} of the backup's {len} bytes have been read"
            ));
        }
        Fault::Ransomware => {
            let production = Production::start(docker, run, plan, &staged, events).await?;
            production.write_appointments(50).await?;
            let newer = production.backup_into(&primary, events).await?;
            act.push(format!(
                "production (restored from the newest backup, then 50 new appointments) made a newer backup {}",
                file_name(&newer)
            ));
            // The older copy survives offsite: the one the backup job shipped
            // before the attack.
            let offsite = staged.scratch.path().join("offsite");
            if !staged.locations.iter().any(|l| l.name == "offsite") {
                copy_dir(&primary_src, &offsite)?;
                staged.locations.push(Location {
                    name: "offsite".into(),
                    path: offsite,
                });
                act.push("an offsite copy holds the backups shipped before the attack".into());
            }
            let (count, bytes) = encrypt_like_ransomware(&primary)?;
            act.push(format!(
                "ransomware encrypted {count} files ({bytes} bytes) of the primary backup store, renamed them *.locked and left a ransom note"
            ));
            production.destroy().await?;
            act.push("ransomware encrypted the production server: it is gone".into());
        }
        Fault::LostServer {
            writes_per_second,
            seconds_before_backup,
            seconds_after_backup,
        } => {
            let production = Production::start(docker, run, plan, &staged, events).await?;
            let log_path = staged.scratch.path().join("workload.jsonl");
            let (workload, stop) = production.workload(*writes_per_second, log_path.clone());
            tokio::time::sleep(Duration::from_secs_f64(*seconds_before_backup)).await;
            let newer = production.backup_into(&primary, events).await?;
            tokio::time::sleep(Duration::from_secs_f64(*seconds_after_backup)).await;
            // The server dies with the workload still writing: killed, then its
            // storage removed. The killed server's connections drop, so the
            // writer's next write fails and it stops; `stop` is the backstop.
            let lost_at = Instant::now();
            production.kill().await;
            let committed = match tokio::time::timeout(Duration::from_secs(10), async {
                let mut workload = workload;
                tokio::select! {
                    r = &mut workload => r,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => { stop.notify_one(); workload.await }
                }
            })
            .await
            {
                Ok(joined) => joined
                    .map_err(|e| Error::Failed(format!("internal error in the workload: {e}")))??,
                Err(_) => return Err(Error::Failed("the workload did not stop after the server was lost".into())),
            };
            production.destroy().await?;
            act.push(format!(
                "production (restored from the newest backup) ran a live workload of {writes_per_second} writes/s; \
                 a backup {} was taken during it; then the server was lost with its storage, after {} committed writes",
                file_name(&newer),
                committed.len()
            ));
            staged.lost_at = Some(lost_at);
            staged.workload = Some(WorkloadLog {
                path: log_path,
                committed,
            });
        }
    }
    staged.simulation.actions.extend(act);
    events.event(Event::Note(format!("simulating {}", fault.name())));
    Ok(staged)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Copies every regular file of `src` into a new `dst` (never hard links).
fn copy_dir(src: &Path, dst: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io("create scratch folder", dst, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| {
        Error::Environment(format!(
            "cannot read the backup location {}: {e}. Check the path (--backups DIR)",
            src.display()
        ))
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            let to = dst.join(entry.file_name());
            std::fs::copy(&path, &to).map_err(|e| Error::io("copy to scratch", &path, e))?;
        }
    }
    Ok(dst.to_path_buf())
}

fn newest(dir: &Path) -> Result<PathBuf> {
    list::scan(dir, None)?
        .into_iter()
        .next()
        .map(|c| c.path)
        .ok_or_else(|| {
            Error::Unrecoverable(format!(
                "no backup found in {}: nothing to simulate a failure on",
                dir.display()
            ))
        })
}

/// Flips one bit in `flips` distinct bytes past the first 4 KiB (so the damage
/// is in the payload, the hard case) at offsets drawn from `seed`.
fn flip_bytes(path: &Path, flips: u32, seed: u64) -> Result<Vec<u64>> {
    use rand::{Rng, SeedableRng};
    let mut data = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let len = data.len() as u64;
    let start = 4096.min(len / 2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut offsets: Vec<u64> = (0..flips)
        .map(|_| rng.random_range(start..len.max(start + 1)))
        .filter(|o| *o < len)
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    for o in &offsets {
        data[*o as usize] ^= 0x20;
    }
    std::fs::write(path, &data).map_err(|e| Error::io("write", path, e))?;
    Ok(offsets)
}

/// What ransomware does to a folder: every file overwritten with ciphertext
/// (a keystream nobody holds), renamed `*.locked`, and a note left behind.
fn encrypt_like_ransomware(dir: &Path) -> Result<(usize, u64)> {
    use rand::RngCore;
    let mut count = 0;
    let mut bytes = 0u64;
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    for path in entries {
        let mut data = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let mut pad = vec![0u8; data.len()];
        rand::rng().fill_bytes(&mut pad);
        for (d, k) in data.iter_mut().zip(pad) {
            *d ^= k;
        }
        let locked = PathBuf::from(format!("{}.locked", path.display()));
        std::fs::write(&locked, &data).map_err(|e| Error::io("write", &locked, e))?;
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        count += 1;
        bytes += data.len() as u64;
    }
    let note = dir.join("README-RESTORE-YOUR-FILES.txt");
    let mut f = std::fs::File::create(&note).map_err(|e| Error::io("write", &note, e))?;
    let _ = f.write_all(
        b"All your files are encrypted. (A restore-drill simulation: this note is part of the rehearsal.)\n",
    );
    Ok((count, bytes))
}

/// The clinic's production server, played by a container restored from the
/// newest backup of the primary location.
struct Production {
    docker: bollard::Docker,
    server: Sandbox,
    recipients: Vec<String>,
}

impl Production {
    async fn start(
        docker: &bollard::Docker,
        run: &RunId,
        plan: &Plan,
        staged: &Staged,
        events: &Events,
    ) -> Result<Production> {
        let primary = &staged.locations[0].path;
        let newest = list::scan(primary, plan.backups.name_prefix.as_deref())?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::Unrecoverable(format!(
                    "no backup in {} to build the production server from",
                    primary.display()
                ))
            })?;
        let recipients = newest
            .manifest
            .as_ref()
            .map(|m| m.encryption.recipients.clone())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "this scenario plays the clinic's server and backs it up again, which needs the recipients \
                     from a manifest; {} has none. Use a fixture made by `restore-drill fixtures generate`",
                    newest.path.display()
                ))
            })?;
        let mut spec = SandboxSpec::new(EngineKind::Postgres, &plan.target.image);
        spec.role = "production";
        let server = Sandbox::start(docker, run, &spec).await?;
        crate::restore::restore_file(&server, &newest.path, staged.keys.clone(), events)
            .await
            .map_err(|e| Error::Failed(format!("building the production server: {e}")))?;
        Ok(Production {
            docker: docker.clone(),
            server,
            recipients,
        })
    }

    async fn write_appointments(&self, n: u32) -> Result<()> {
        let mut conn = postgres::connect(&self.server.url(), Duration::from_secs(10)).await?;
        conn.execute(sqlx::raw_sql(&format!(
            "INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
             SELECT p.id, now() + interval '1 day', 30, 'follow_up', 'booked', now() \
             FROM patients p ORDER BY p.id LIMIT {n}"
        )))
        .await
        .map_err(|e| Error::db("writing to production", e))?;
        Ok(())
    }

    async fn backup_into(&self, dir: &Path, events: &Events) -> Result<PathBuf> {
        let r = backup::backup(
            BackupRequest {
                url: self.server.url(),
                out_dir: dir.to_path_buf(),
                recipients: self.recipients.clone(),
                name: "clinic".into(),
                source: DumpSource::Container {
                    docker: self.docker.clone(),
                    container: self.server.container.clone(),
                },
            },
            events,
        )
        .await?;
        Ok(r.artifact)
    }

    /// A writer at a set rate: each write a transaction with a new appointment
    /// and its sequence number, logged once committed.
    fn workload(&self, per_second: u32, log: PathBuf) -> Workload {
        let url = self.server.url();
        let stop = Arc::new(Notify::new());
        let stop2 = stop.clone();
        let handle = tokio::spawn(async move {
            let mut conn = postgres::connect(&url, Duration::from_secs(10)).await?;
            conn.execute(
                "CREATE TABLE drill_workload (seq bigint PRIMARY KEY, committed_at timestamptz NOT NULL, \
                 appointment_id bigint NOT NULL REFERENCES appointments(id))",
            )
            .await
            .map_err(|e| Error::db("preparing the workload", e))?;
            let mut file = std::fs::File::create(&log).map_err(|e| Error::io("create", &log, e))?;
            let mut committed = Vec::new();
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
            let mut seq: i64 = 0;
            loop {
                tokio::select! {
                    _ = stop2.notified() => break,
                    _ = tick.tick() => {}
                }
                seq += 1;
                let q = format!(
                    "WITH a AS (INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
                       SELECT id, now() + interval '1 day', 30, 'follow_up', 'booked', now() FROM patients ORDER BY id LIMIT 1 \
                       RETURNING id) \
                     INSERT INTO drill_workload SELECT {seq}, clock_timestamp(), id FROM a"
                );
                // A write that fails (the server is going away) is not committed:
                // the workload stops there.
                if conn.execute(q.as_str()).await.is_err() {
                    break;
                }
                let at = Utc::now();
                committed.push((seq, at));
                let _ = writeln!(
                    file,
                    "{{\"seq\":{seq},\"committed_at\":\"{}\"}}",
                    at.to_rfc3339()
                );
            }
            let _ = file.sync_all();
            Ok(committed)
        });
        (handle, stop)
    }

    /// The server dies (SIGKILL).
    async fn kill(&self) {
        kill_container(&self.docker, &self.server.container).await;
    }

    /// The server is lost with its storage.
    async fn destroy(self) -> Result<()> {
        sandbox::gc::remove_container(&self.docker, &self.server.container)
            .await
            .map(|_| ())
    }
}

/// After the restore: which of the workload's committed writes are missing.
pub async fn lost_writes(
    url: &str,
    log: &WorkloadLog,
    backup_time: Option<DateTime<Utc>>,
    manifest: Option<&crate::catalog::Manifest>,
) -> Result<LostWrites> {
    let mut conn = postgres::connect(url, Duration::from_secs(10)).await?;
    let restored: Vec<i64> = sqlx::query_scalar("SELECT seq FROM drill_workload")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| Error::db("reading the workload's writes", e))?;
    let restored: std::collections::HashSet<i64> = restored.into_iter().collect();
    let lost: Vec<&(i64, DateTime<Utc>)> = log
        .committed
        .iter()
        .filter(|(s, _)| !restored.contains(s))
        .collect();
    let last_committed = log.committed.last().map(|(_, t)| *t);
    Ok(LostWrites {
        committed: log.committed.len() as u64,
        lost: lost.len() as u64,
        in_backup_per_manifest: manifest.and_then(|m| {
            m.tables
                .iter()
                .find(|t| t.name == "public.drill_workload")
                .map(|t| t.rows)
        }),
        first_lost_at: lost.first().map(|(_, t)| *t),
        last_lost_at: lost.last().map(|(_, t)| *t),
        span_seconds: match (lost.is_empty(), backup_time, last_committed) {
            (true, _, _) => Some(0.0),
            (false, Some(b), Some(l)) => Some((l - b).num_milliseconds() as f64 / 1000.0),
            _ => None,
        },
        log: log.path.display().to_string(),
    })
}

/// An observer that fires once the restore has read `after` bytes of the
/// backup file, then holds the stream (progress is reported from the stream's
/// own thread) until the drill has killed the sandbox: the kill lands
/// mid-restore however fast the restore would otherwise finish.
pub struct KillSwitch {
    pub after: u64,
    pub fired: Notify,
    inner: Events,
    state: std::sync::Mutex<KillState>,
    killed: std::sync::Condvar,
}

#[derive(Default)]
struct KillState {
    fired: bool,
    killed: bool,
}

impl KillSwitch {
    pub fn new(after: u64, inner: Events) -> Arc<KillSwitch> {
        Arc::new(KillSwitch {
            after,
            fired: Notify::new(),
            inner,
            state: std::sync::Mutex::new(KillState::default()),
            killed: std::sync::Condvar::new(),
        })
    }

    /// Called once the sandbox is dead: lets the stream go on (into nothing).
    pub fn release(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.killed = true;
        }
        self.killed.notify_all();
    }
}

impl Observer for KillSwitch {
    fn event(&self, event: Event) {
        if let Event::Progress { done, .. } = &event {
            if *done >= self.after {
                if let Ok(mut st) = self.state.lock() {
                    if !st.fired {
                        st.fired = true;
                        self.fired.notify_one();
                        // Bounded: a kill that never comes must not hang the drill.
                        let _ = self
                            .killed
                            .wait_timeout_while(st, Duration::from_secs(30), |s| !s.killed);
                    }
                }
            }
        }
        self.inner.event(event);
    }
}

/// Waits until pg_restore is connected to the sandbox and has created at least
/// one table: from then on a kill lands in the middle of the restore.
pub async fn wait_for_restore_activity(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let Ok(mut conn) = postgres::connect(url, Duration::from_secs(5)).await else {
        return;
    };
    while Instant::now() < deadline {
        let busy: Result<(i64, i64), _> = sqlx::query_as(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore'), \
                    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema'))",
        )
        .fetch_one(&mut conn)
        .await;
        if matches!(busy, Ok((a, t)) if a > 0 && t > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Kills a container (the recovery server dying mid-restore).
pub async fn kill_container(docker: &bollard::Docker, id: &str) {
    let _ = docker
        .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
        .await;
}
