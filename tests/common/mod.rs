//! Shared by the integration tests: the binary, keys, Docker, source databases.
//! These tests need a running Docker engine and the images built by
//! `restore-drill images build`; without them they fail, they never skip.
#![allow(dead_code)]

use restore_drill::engine::EngineKind;
use restore_drill::sandbox::{self, run::LABEL_RUN, RunId, Sandbox, SandboxSpec};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PG15: &str = "restore-drill/postgres:15";
pub const PG17: &str = "restore-drill/postgres:17";
pub const AS_OF: &str = "2026-11-01";

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_restore-drill"))
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

/// An age key pair: the identity file (mode 600) and its public key.
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
    std::fs::create_dir(dir).expect("create the fixture folder");
    let mut args = vec![
        "fixtures".to_string(),
        "generate".into(),
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
        // Drop can't await, and may run inside a runtime: use a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(d) = sandbox::docker::connect().await {
                    let _ = sandbox::gc::cleanup_run(&d, &run).await;
                }
            });
        })
        .join();
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
