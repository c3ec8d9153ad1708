//! Shared by the integration tests: the binary, keys, Docker, source databases.
//! These tests need a running Docker engine and the images built by
//! `restore-drill images build`; without them they fail, they never skip.
#![allow(dead_code)]

/// A second Docker engine started by the test, and a sandbox sampler.
pub mod engine;
/// An sshd of the test's own on 127.0.0.1, for a fleet's `ssh://` engine.
pub mod sshd;

use restore_drill::compare::model::{
    ComparisonReport, Item, ItemKind, ItemStatus, QueryRun, TargetReport,
};
use restore_drill::engine::EngineKind;
use restore_drill::sandbox::{self, run::LABEL_RUN, RunId, Sandbox, SandboxSpec};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PG15: &str = "restore-drill/postgres:15";
pub const PG17: &str = "restore-drill/postgres:17";
pub const AS_OF: &str = "2026-11-01";

/// The binary, with its drill history in a file of this test process's own
/// (a test that wants a particular history passes --history, which wins).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_restore-drill"));
    c.env("RESTORE_DRILL_HISTORY", test_history());
    c
}

/// This test process's drill history file.
pub fn test_history() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("histories")
        .join(format!("history-{}.sqlite", std::process::id()))
}

/// Runs the binary and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("run restore-drill");
    decode(out)
}

pub fn decode(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A drill report read back typed, from what `--json run` prints or a report
/// file holds: the tests compare its enums (`Verdict::Passed`,
/// `Status::Failed` ...), so a renamed or misspelt value fails to read
/// instead of comparing unequal to a string. Fields printed beside the report
/// (the delivery record's `notifications`) are not part of it: read those as
/// JSON.
pub fn report_of(json: &str) -> restore_drill::report::Report {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not a drill report ({e}):\n{json}"))
}

/// An age key pair: the identity file (mode 600) and its public key.
#[derive(Clone)]
pub struct Key {
    pub path: PathBuf,
    pub public: String,
}

pub fn make_key(dir: &Path, name: &str) -> Key {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("# test key\n{}\n", id.to_string().expose_secret()),
    )
    .expect("write key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    Key {
        path,
        public: id.to_public().to_string(),
    }
}

/// `fixtures generate` into a new folder `dir`, encrypted to `recipients`.
pub fn generate_fixture(dir: &Path, patients: u32, recipients: &[&Key]) {
    generate_fixture_on("postgres", dir, patients, recipients)
}

/// The same, on the clinic engine `engine` (`postgres` or `mariadb`).
pub fn generate_fixture_on(engine: &str, dir: &Path, patients: u32, recipients: &[&Key]) {
    std::fs::create_dir(dir).expect("create the fixture folder");
    let mut args = vec![
        "fixtures".to_string(),
        "generate".into(),
        "--engine".into(),
        engine.into(),
        "--out".into(),
        dir.display().to_string(),
        "--patients".into(),
        patients.to_string(),
    ];
    for r in recipients {
        args.push("--recipient".into());
        args.push(r.public.clone());
    }
    let out = bin().args(&args).output().expect("run restore-drill");
    let (code, out, err) = decode(out);
    assert_eq!(code, 0, "fixtures generate failed:\n{out}\n{err}");
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("restore-drill-test-")
        .tempdir()
        .expect("tempdir")
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub async fn docker() -> bollard::Docker {
    sandbox::docker::connect()
        .await
        .expect("these tests need a running Docker engine")
}

/// Containers and networks carrying the given run's label (or any run's).
pub async fn labelled(docker: &bollard::Docker, run: Option<&str>) -> (usize, usize) {
    let value = match run {
        Some(r) => format!("{LABEL_RUN}={r}"),
        None => LABEL_RUN.to_string(),
    };
    count_label(docker, value).await
}

/// Containers and networks created by the restore-drill process `pid`.
pub async fn labelled_by_pid(docker: &bollard::Docker, pid: u32) -> (usize, usize) {
    count_label(docker, format!("org.restore-drill.pid={pid}")).await
}

async fn count_label(docker: &bollard::Docker, value: String) -> (usize, usize) {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
    let filters = HashMap::from([("label".to_string(), vec![value])]);
    let c = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("list containers");
    let n = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .expect("list networks");
    (c.len(), n.len())
}

/// Runs the binary and checks that its process left no container or network
/// labelled behind, whatever the outcome; returns (exit code, stdout, stderr).
pub fn run_tracked<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let child = bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run restore-drill");
    let pid = child.id();
    let out = decode(child.wait_with_output().expect("wait for restore-drill"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let left = rt.block_on(async { labelled_by_pid(&docker().await, pid).await });
    assert_eq!(
        left,
        (0, 0),
        "the run left containers or networks behind:\n{}",
        out.2
    );
    out
}

/// Removes a run's containers and networks when dropped, also when the test
/// panics, so a failing test does not leave a database running.
pub struct Cleanup {
    pub run: RunId,
}

impl Cleanup {
    pub fn new(run: &RunId) -> Self {
        Self { run: run.clone() }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let run = self.run.clone();
        on_a_thread_of_its_own(async move {
            if let Ok(d) = sandbox::docker::connect().await {
                let _ = sandbox::gc::cleanup_run(&d, &run).await;
            }
        });
    }
}

/// Runs `work` to its end on a thread and runtime of its own: `Drop` can't
/// await, and may run inside a runtime.
fn on_a_thread_of_its_own(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
    .join();
}

/// Removes what the restore-drill process `pid` created when dropped (a
/// `--keep` run's sandbox), also when the test panics.
pub struct PidCleanup(pub u32);

impl Drop for PidCleanup {
    fn drop(&mut self) {
        let pid = self.0;
        on_a_thread_of_its_own(async move {
            if let Ok(d) = sandbox::docker::connect().await {
                remove_labelled_by_pid(&d, pid).await;
            }
        });
    }
}

/// A source PostgreSQL server (a clinic's "production") for a test, removed
/// with its run by `Source::remove` or, if the test panics, by the next `gc`.
pub struct Source {
    pub docker: bollard::Docker,
    pub run: RunId,
    pub server: Sandbox,
    _cleanup: Cleanup,
}

impl Source {
    pub async fn start(image: &str) -> Source {
        let docker = docker().await;
        let run = RunId::new();
        let cleanup = Cleanup::new(&run);
        let mut spec = SandboxSpec::new(EngineKind::Postgres, image);
        spec.role = "source";
        let server = Sandbox::start(&docker, &run, &spec)
            .await
            .expect("start source database");
        Source {
            docker,
            run,
            server,
            _cleanup: cleanup,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub async fn remove(self) {
        sandbox::gc::cleanup_run(&self.docker, &self.run)
            .await
            .expect("cleanup");
        assert_eq!(labelled(&self.docker, Some(&self.run.id)).await, (0, 0));
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

// ---- Shared by tests/damaged.rs and tests/phi.rs ----

/// Runs a bash pipeline (`set -euo pipefail`) with `args` as $1, $2 ...; fails
/// the test, naming the script, if any command of it fails.
pub fn shell<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail; {script}"))
        .arg("bash")
        .args(args)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How many patients the shared clinic has.
pub const SHARED_PATIENTS: u32 = 1000;

/// A `fixtures generate` clinic and what the real CLIs make of it, shared by
/// every test process of one build on one day: nextest runs each test in a
/// process of its own, and generating a clinic per test would cost minutes.
pub struct SharedClinic {
    /// The nightly backup and its manifest, as `fixtures generate` wrote them.
    pub backups: PathBuf,
    pub key: Key,
    /// The backup decoded by `age -d | zstd -dc`: a pg_dump custom-format dump.
    pub custom: PathBuf,
    /// The same dump as plain SQL (`pg_restore -f -`).
    pub plain: PathBuf,
}

impl SharedClinic {
    /// The backup file in `backups` (not its manifest).
    pub fn backup(&self) -> PathBuf {
        let name = files_in(&self.backups)
            .into_iter()
            .find(|f| f.ends_with(".age"))
            .expect("the shared clinic has a backup");
        self.backups.join(name)
    }
}

/// The shared clinic, built on first use under cargo's per-target scratch
/// folder. It is keyed by the binary (a new generator makes a new clinic) and
/// by the UTC date, so its backup is always less than a day old and the
/// monthly drill's RPO of 26 hours holds.
pub fn shared_clinic() -> &'static SharedClinic {
    static CLINIC: std::sync::OnceLock<SharedClinic> = std::sync::OnceLock::new();
    CLINIC.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).expect("create cargo's test scratch folder");
        let bin = std::fs::metadata(env!("CARGO_BIN_EXE_restore-drill")).expect("the binary");
        let built = bin
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let key = format!(
            "{}-{}-{built}-{}",
            SHARED_PATIENTS,
            bin.len(),
            chrono::Utc::now().format("%Y%m%d")
        );
        let dir = base.join(format!("shared-clinic-{key}"));
        // One process builds while the others wait, instead of each building its own.
        let lock = std::fs::File::create(base.join("shared-clinic.lock")).expect("lock file");
        let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("lock the shared clinic");
        if !dir.join("ready").exists() {
            prune_shared_clinics(base, &dir);
            // Built aside and renamed, so a killed build never looks finished.
            let building = base.join(format!(
                "shared-clinic-{key}.building-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&building);
            build_shared_clinic(&building);
            std::fs::rename(&building, &dir).expect("move the shared clinic into place");
        }
        let public = std::fs::read_to_string(dir.join("k.pub")).expect("public key");
        SharedClinic {
            backups: dir.join("b"),
            key: Key {
                path: dir.join("k"),
                public: public.trim().to_string(),
            },
            custom: dir.join("clinic.dump"),
            plain: dir.join("clinic.sql"),
        }
    })
}

/// Removes clinics of other builds or days once they are an hour old (a test
/// of an older build could still be reading a younger one).
fn prune_shared_clinics(base: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if name.starts_with("shared-clinic-") && path != keep && path.is_dir() && old {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn build_shared_clinic(dir: &Path) {
    std::fs::create_dir(dir).expect("create the shared clinic folder");
    let key = make_key(dir, "k");
    std::fs::write(dir.join("k.pub"), &key.public).expect("write the public key");
    let backups = dir.join("b");
    generate_fixture(&backups, SHARED_PATIENTS, &[&key]);
    let backup = files_in(&backups)
        .into_iter()
        .find(|f| f.ends_with(".age"))
        .expect("fixtures generate wrote a backup");
    let custom = dir.join("clinic.dump");
    shell(
        "age -d -i \"$1\" \"$2\" | zstd -dcq > \"$3\"",
        &[
            key.path.as_os_str(),
            backups.join(backup).as_os_str(),
            custom.as_os_str(),
        ],
    );
    shell(
        "pg_restore -f \"$2\" \"$1\"",
        &[custom.as_os_str(), dir.join("clinic.sql").as_os_str()],
    );
    std::fs::write(dir.join("ready"), b"").expect("mark the shared clinic ready");
}

// ---- Shared by tests/history.rs and tests/notify.rs ----

/// Full names and health cards of the shared clinic's patients, read from the
/// decoded dump with pg_restore.
pub fn patient_values() -> Vec<String> {
    let clinic = shared_clinic();
    let out = Command::new("pg_restore")
        .args(["--data-only", "-t", "patients", "-f", "-"])
        .arg(&clinic.custom)
        .output()
        .expect("run pg_restore");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut values = Vec::new();
    for line in text.lines().filter(|l| l.contains('\t')).take(200) {
        let cols: Vec<&str> = line.split('\t').collect();
        values.extend(
            cols.iter()
                .filter(|c| c.len() >= 8 && c.contains(' '))
                .map(|c| c.to_string()),
        );
        values.extend(
            cols.iter()
                .filter(|c| {
                    c.len() >= 8
                        && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
                        && c.chars().any(|ch| ch.is_ascii_digit())
                })
                .map(|c| c.to_string()),
        );
    }
    assert!(
        values.len() > 100,
        "too few patient values found: {}",
        values.len()
    );
    values
}

/// How a command run by `run_tracked_within` ended.
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// From start to exit (not counting the leftover check).
    pub elapsed: std::time::Duration,
}

/// `run_tracked` for a command that may hang: after `limit` it gets SIGTERM
/// (it cleans up on SIGTERM), 20 s later SIGKILL, and the test fails saying
/// it hung. Whatever it left labelled is removed, so a hang costs one test,
/// not the engine's memory for the rest of the suite.
pub fn run_tracked_within<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    limit: std::time::Duration,
) -> Finished {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut child = bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run restore-drill");
    let pid = child.id();
    // Pipes are drained on threads of their own, so a chatty child never blocks.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut terminated: Option<Instant> = None;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for restore-drill") {
            break s;
        }
        match terminated {
            None if start.elapsed() > limit => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                terminated = Some(Instant::now());
            }
            Some(t) if t.elapsed() > Duration::from_secs(20) => {
                let _ = child.kill();
                break child.wait().expect("wait for restore-drill");
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let left = rt.block_on(async {
        let docker = docker().await;
        let left = labelled_by_pid(&docker, pid).await;
        if left != (0, 0) {
            remove_labelled_by_pid(&docker, pid).await;
        }
        left
    });
    assert!(
        terminated.is_none(),
        "restore-drill hung: no exit within {limit:?}, stopped by signal ({status}).\nstderr:\n{stderr}"
    );
    assert_eq!(
        left,
        (0, 0),
        "the run left containers or networks behind:\n{stderr}"
    );
    Finished {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed,
    }
}

/// Removes the containers and networks the restore-drill process `pid` created.
pub async fn remove_labelled_by_pid(docker: &bollard::Docker, pid: u32) {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("org.restore-drill.pid={pid}")],
    )]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap_or_default();
    for c in containers {
        if let Some(id) = c.id {
            let _ = sandbox::gc::remove_container(docker, &id).await;
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .unwrap_or_default();
    for n in networks {
        if let Some(id) = n.id {
            let _ = docker.remove_network(&id).await;
        }
    }
}

/// A comparison report (what `run` of a `[compare]` scenario writes) read
/// back typed.
pub fn comparison_of(json: &str) -> ComparisonReport {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not a comparison report ({e}):\n{json}"))
}

/// The comparison report `r`'s item of `kind` named `name`.
pub fn item_of<'a>(r: &'a ComparisonReport, kind: ItemKind, name: &str) -> &'a Item {
    r.items
        .iter()
        .find(|i| i.kind == kind && i.name == name)
        .unwrap_or_else(|| panic!("no {kind:?} item {name:?} in {:?}", r.items))
}

/// Every `-- query: NAME` of the queries file `queries` (relative to the
/// crate) answered alike and timed three times on every target of the
/// comparison report `r`; returns the names, for the caller's own count.
pub fn every_query_answered_alike_in(r: &ComparisonReport, queries: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(queries)).unwrap();
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("-- query: "))
        .map(String::from)
        .collect();
    for name in &names {
        let it = item_of(r, ItemKind::Query, name);
        assert_eq!(it.status, ItemStatus::Equal, "{it:?}");
        for t in &r.targets {
            let q = t.queries.iter().find(|q| &q.name == name).unwrap();
            match &q.run {
                QueryRun::Answered { runs_ms, .. } => assert_eq!(runs_ms.len(), 3, "{q:?}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    names
}

/// The rows the first query of target `t` answered.
pub fn first_query_rows(t: &TargetReport) -> u64 {
    match &t.queries[0].run {
        QueryRun::Answered { rows, .. } => *rows,
        other => panic!("{}: {other:?}", t.image),
    }
}

/// `restore-drill run FILE` without --json on `backups` with `keys`, its
/// reports in `reports` and its record in `history`, at a fixed site (else
/// the host's name: the same on every machine).
pub fn drill_recorded(
    file: &str,
    backups: &Path,
    keys: &[&Path],
    history: &Path,
    reports: &Path,
) -> (i32, String, String) {
    let mut args: Vec<&str> = vec![
        "run",
        file,
        "--backups",
        backups.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
        "--site",
        "Main Street Eye Care",
    ];
    for k in keys {
        args.extend(["--identity", k.to_str().unwrap()]);
    }
    run_tracked(&args)
}

// ---- Hand-made backups (tests/phi.rs, tests/sealed.rs) ----

/// The shared clinic's plain SQL dump with `sql` run just before pg_dump's
/// completion comment, when every constraint exists: the dump stays complete,
/// only the database refuses it.
pub fn plain_with_statements(sql: &str) -> Vec<u8> {
    let mut dump = std::fs::read(&shared_clinic().plain).unwrap();
    let marker = b"--\n-- PostgreSQL database dump complete";
    let at = dump
        .windows(marker.len())
        .rposition(|w| w == marker)
        .expect("pg_dump's completion comment");
    let mut insert = sql.as_bytes().to_vec();
    insert.extend_from_slice(b"\n\n");
    dump.splice(at..at, insert);
    dump
}

/// `dump` through the real zstd and age, alone in `dir/b`, as a nightly job
/// without manifests would leave it. Returns (the folder, the file).
pub fn hand_made_backup(dump: &[u8], name: &str, dir: &Path) -> (PathBuf, PathBuf) {
    hand_made_backup_to(dump, name, dir, &shared_clinic().key.public)
}

/// [`hand_made_backup`], encrypted to `recipient`.
pub fn hand_made_backup_to(
    dump: &[u8],
    name: &str,
    dir: &Path,
    recipient: &str,
) -> (PathBuf, PathBuf) {
    let plain = dir.join("dump");
    std::fs::write(&plain, dump).unwrap();
    let backups = dir.join("b");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join(name);
    shell(
        "zstd -q -c \"$1\" | age -r \"$2\" > \"$3\"",
        &[plain.as_os_str(), recipient.as_ref(), file.as_os_str()],
    );
    std::fs::remove_file(&plain).unwrap();
    (backups, file)
}

// ---- Headless Chromium (tests/history.rs, tests/fleet_status.rs) ----

/// Chromium's own background services (component updates, network time,
/// sign-in), which it contacts whatever page it shows.
pub fn chromium_own(request: &str) -> bool {
    let host = request
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host.ends_with(".google.com") || host.ends_with(".googleapis.com")
}

/// Renders `page` with headless Chromium into a screenshot, all its traffic
/// sent to a proxy on loopback that answers nothing and records each
/// request line: nothing leaves the machine, and every request is seen.
pub fn render_through_proxy(page: &Path, shot: &Path, scratch: &Path) -> Vec<String> {
    let url = format!("file://{}", page.display());
    let screenshot = [
        "--window-size=1000,1800".to_string(),
        format!("--screenshot={}", shot.display()),
    ];
    chromium_through_proxy(&url, &screenshot, scratch).0
}

/// Opens `url` in headless Chromium with `args` (`--screenshot=…`,
/// `--dump-dom`), through the recording proxy: (the requests it saw, what
/// Chromium printed on stdout).
pub fn chromium_through_proxy(url: &str, args: &[String], scratch: &Path) -> (Vec<String>, String) {
    use std::io::Read;
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    proxy.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let recorder = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            match proxy.accept() {
                Ok((mut c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                        .unwrap();
                    let mut buf = [0u8; 512];
                    let n = c.read(&mut buf).unwrap_or(0);
                    let text = String::from_utf8_lossy(&buf[..n]);
                    seen.push(text.lines().next().unwrap_or("").to_string());
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        seen
    });
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--disable-sync",
            "--disable-default-apps",
            "--hide-scrollbars",
            &format!("--proxy-server=http://127.0.0.1:{port}"),
            "--proxy-bypass-list=<-loopback>",
            &format!("--user-data-dir={}", scratch.join("profile").display()),
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = recorder.join().unwrap();
    (seen, String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn chromium() -> &'static str {
    if Command::new("chromium").arg("--version").output().is_ok() {
        "chromium"
    } else {
        "chromium-browser"
    }
}
