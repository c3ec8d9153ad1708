#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Environment faults: each a clear message with its fix and exit code 3, and
//! cleanup that holds on failure, on SIGTERM, and (through `gc`) after SIGKILL.

mod common;

use common::*;
use restore_drill::engine::EngineKind;
use restore_drill::sandbox::{RunId, Sandbox, SandboxSpec};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn docker_not_running_is_exit_3_with_the_fix() {
    let (code, _, err) = {
        let out = bin()
            .args(["gc"])
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .unwrap();
        decode(out)
    };
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("Docker is not reachable at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    assert!(err.contains("start the engine"), "{err}");
}

#[test]
fn docker_socket_permission_denied_is_exit_3_with_the_fix() {
    // An unprivileged user outside the docker group, against the real socket.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_restore-drill"))
        .arg("gc")
        .output()
        .expect("setpriv");
    let (code, _, err) = decode(out);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("permission denied on the Docker socket"),
        "{err}"
    );
    assert!(err.contains("docker group"), "{err}");
}

#[tokio::test]
async fn a_missing_image_names_the_build_command() {
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    let spec = SandboxSpec::new(EngineKind::Postgres, "restore-drill/postgres:9");
    let e = Sandbox::start(&docker, &run, &spec)
        .await
        .expect_err("no such image");
    let msg = e.to_string();
    assert!(
        msg.contains("restore-drill/postgres:9 is not present"),
        "{msg}"
    );
    assert!(
        msg.contains("docker pull") || msg.contains("images build"),
        "{msg}"
    );
    assert_eq!(restore_drill::cli::exit::code_for(&e), 3);
    // The same through the CLI.
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    std::fs::write(tmp.path().join("b"), b"x").unwrap();
    let (code, _, err) = run_args(&[
        "restore",
        tmp.path().join("b").to_str().unwrap(),
        "--identity",
        key.path.to_str().unwrap(),
        "--image",
        "restore-drill/postgres:9",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("is not present on this Docker engine"),
        "{err}"
    );
    assert_eq!(labelled(&docker, Some(&run.id)).await, (0, 0));
}

fn run_args(args: &[&str]) -> (i32, String, String) {
    run(args)
}

#[tokio::test]
async fn a_container_that_exits_during_startup_shows_its_last_log_lines() {
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    // A data directory on a 1 MiB tmpfs: initdb cannot fit and the server exits.
    let mut spec = SandboxSpec::new(EngineKind::Postgres, PG15);
    spec.tmpfs_bytes = Some(1 << 20);
    let e = Sandbox::start(&docker, &run, &spec)
        .await
        .expect_err("must fail");
    let msg = e.to_string();
    assert!(msg.contains("exited during startup"), "{msg}");
    assert!(msg.contains("Last log lines:"), "{msg}");
    assert!(
        msg.to_lowercase().contains("no space left"),
        "the cause must show: {msg}"
    );
    assert_eq!(restore_drill::cli::exit::code_for(&e), 3);
    restore_drill::sandbox::gc::cleanup_run(&docker, &run)
        .await
        .unwrap();
    assert_eq!(labelled(&docker, Some(&run.id)).await, (0, 0));
}

#[tokio::test]
async fn a_readiness_timeout_says_so_with_the_fix() {
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    let mut spec = SandboxSpec::new(EngineKind::Postgres, PG15);
    spec.ready_timeout = Duration::from_millis(50);
    let e = Sandbox::start(&docker, &run, &spec)
        .await
        .expect_err("must time out");
    let msg = e.to_string();
    assert!(msg.contains("was not ready after"), "{msg}");
    assert!(msg.contains("raise the readiness timeout"), "{msg}");
    assert_eq!(restore_drill::cli::exit::code_for(&e), 3);
}

/// Makes a backup big enough that its restore takes several seconds.
async fn slow_backup(dir: &std::path::Path, key: &Key) -> std::path::PathBuf {
    let source = Source::start(PG15).await;
    let mut conn = restore_drill::engine::postgres::connect(&source.url(), Duration::from_secs(5))
        .await
        .unwrap();
    sqlx::Executor::execute(
        &mut conn,
        "CREATE TABLE notes (id bigint PRIMARY KEY, body text); \
         INSERT INTO notes SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 1200000) g;",
    )
    .await
    .unwrap();
    let (code, out, err) = run(&[
        "backup",
        "--url",
        &source.url(),
        "--out",
        dir.to_str().unwrap(),
        "--recipient",
        &key.public,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    source.remove().await;
    let f = files_in(dir)
        .into_iter()
        .find(|f| f.ends_with(".age"))
        .unwrap();
    dir.join(f)
}

/// Waits until the child has a sandbox and pg_restore is streaming into it.
async fn wait_for_restore(docker: &bollard::Docker, pid: u32) {
    let start = Instant::now();
    loop {
        let (c, _) = labelled_by_pid(docker, pid).await;
        if c > 0 {
            // Give the restore stream time to be well under way.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no sandbox appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_restore_then_gc_leaves_nothing() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let backup = slow_backup(&out, &key).await;
    let docker = docker().await;
    let mut child = bin()
        .args([
            "restore",
            backup.to_str().unwrap(),
            "--identity",
            key.path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_restore(&docker, pid).await;
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let (c, n) = labelled_by_pid(&docker, pid).await;
    assert!(
        c >= 1 && n == 0,
        "the killed run must have left its sandbox (and made no network) ({c}, {n})"
    );
    let sockets = socket_folder_of(&docker, pid).await;
    assert!(sockets.is_dir(), "{}", sockets.display());
    let (code, text, err) = run(&["gc"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("removed"), "{text}");
    assert_eq!(labelled_by_pid(&docker, pid).await, (0, 0));
    assert!(!sockets.exists(), "gc leaves {}", sockets.display());
}

/// The socket folder of the run that process `pid` made.
async fn socket_folder_of(docker: &bollard::Docker, pid: u32) -> std::path::PathBuf {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("org.restore-drill.pid={pid}")],
    )]);
    let found = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    let labels = found[0].labels.clone().unwrap_or_default();
    restore_drill::sandbox::sockets::run_folder(&labels["org.restore-drill.run"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_restore_removes_everything_the_run_created() {
    interrupt_mid_restore(nix::sys::signal::Signal::SIGTERM, "SIGTERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_restore_removes_everything_the_run_created() {
    interrupt_mid_restore(nix::sys::signal::Signal::SIGINT, "Ctrl-C").await;
}

async fn interrupt_mid_restore(signal: nix::sys::signal::Signal, said: &str) {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let backup = slow_backup(&out, &key).await;
    let docker = docker().await;
    let child = bin()
        .args([
            "restore",
            backup.to_str().unwrap(),
            "--identity",
            key.path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_restore(&docker, pid).await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    let (code, _, err) = decode(child.wait_with_output().unwrap());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("interrupted by {said}")), "{err}");
    assert_eq!(
        labelled_by_pid(&docker, pid).await,
        (0, 0),
        "{said} must clean up: {err}"
    );
}

#[test]
fn mmdebstrap_missing_is_exit_3_with_the_install_command() {
    let out = bin()
        .args([
            "images",
            "build",
            "postgres:15",
            "--rebuild",
            "--mirror",
            "http://127.0.0.1:9/debian",
        ])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let (code, _, err) = decode(out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("mmdebstrap is not installed"), "{err}");
    assert!(err.contains("apt-get install mmdebstrap"), "{err}");
}

#[tokio::test]
async fn an_unreachable_mirror_fails_the_build_and_tags_nothing() {
    let docker = docker().await;
    let before = docker
        .inspect_image(PG15)
        .await
        .expect("image present before")
        .id;
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let (code, _, err) = run(&[
        "images",
        "build",
        "postgres:15",
        "--rebuild",
        "--mirror",
        "http://127.0.0.1:9/debian",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("the Debian mirror http://127.0.0.1:9/debian is unreachable"),
        "{err}"
    );
    assert!(err.contains("--mirror"), "{err}");
    // The existing image is untouched and no temporary tag is left.
    let after = docker
        .inspect_image(PG15)
        .await
        .expect("image still present")
        .id;
    assert_eq!(before, after);
    let images = docker
        .list_images(Some(
            bollard::query_parameters::ListImagesOptionsBuilder::new()
                .all(true)
                .build(),
        ))
        .await
        .unwrap();
    let building: Vec<_> = images
        .iter()
        .flat_map(|i| i.repo_tags.iter())
        .filter(|t| t.contains("-building-"))
        .collect();
    assert!(building.is_empty(), "{building:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_leaves_the_sandbox_running_and_says_how_to_reach_it() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    let k2 = Key {
        path: key.path.clone(),
        public: key.public.clone(),
    };
    let o2 = out.clone();
    tokio::task::spawn_blocking(move || generate_fixture(&o2, 20, &[&k2]))
        .await
        .unwrap();
    let backup = out.join(
        files_in(&out)
            .into_iter()
            .find(|f| f.ends_with(".age"))
            .unwrap(),
    );
    let (b2, k2) = (backup.clone(), key.path.clone());
    let (code, text, err) = tokio::task::spawn_blocking(move || {
        run(&[
            "restore",
            b2.to_str().unwrap(),
            "--identity",
            k2.to_str().unwrap(),
            "--keep",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("kept: container "), "{text}");
    assert!(text.contains("docker exec -it "), "{text}");
    assert!(text.contains("(no network; its socket is in "), "{text}");
    let container = text
        .split("kept: container ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let socket_dir = std::path::PathBuf::from(
        text.split("its socket is in ")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap(),
    );
    assert!(socket_dir.join(".s.PGSQL.5432").exists(), "{text}");
    let docker = docker().await;
    let info = docker
        .inspect_container(&container, None)
        .await
        .expect("the kept container exists");
    assert_eq!(info.state.and_then(|s| s.running), Some(true));
    // The restored data is there to look at.
    let rows = restore_drill::sandbox::exec(
        &docker,
        &container,
        restore_drill::sandbox::ExecRequest::new([
            "psql",
            "-U",
            "drill",
            "-d",
            "clinic",
            "-tAc",
            "SELECT count(*) FROM patients",
        ])
        .user("postgres"),
    )
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "20");
    // Regression: the next command's sweep of dead runs removed the kept
    // sandbox, since the run that made it had exited.
    let (code, text, err) = tokio::task::spawn_blocking(|| run(&["gc"])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("still alive or kept with --keep"), "{text}");
    let info = docker
        .inspect_container(&container, None)
        .await
        .expect("the kept container outlives the next run's sweep");
    assert_eq!(info.state.and_then(|s| s.running), Some(true));
    docker
        .remove_container(
            &container,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    // A kept run's socket folder stays with it until `gc --all`.
    std::fs::remove_dir_all(socket_dir.parent().unwrap()).unwrap();
}

#[test]
fn doctor_reports_each_check_with_its_fix() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let (code, text, err) = run(&[
        "doctor",
        "--no-history",
        "--identity",
        key.path.to_str().unwrap(),
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("ok   docker: reachable at"), "{text}");
    assert!(
        text.contains("ok   image restore-drill/postgres:15: present"),
        "{text}"
    );
    assert!(text.contains("ok   mmdebstrap"), "{text}");
    assert!(text.contains("readable by its owner only"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key.path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, text, _) = run(&[
        "doctor",
        "--no-history",
        "--identity",
        key.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains(&format!("FIX  key {}", key.path.display())),
        "{text}"
    );
    assert!(text.contains("chmod 600"), "{text}");
}

/// `gc` takes the socket folder of a run that has no container left once it
/// is a minute old, and leaves a young one and one holding anything but
/// socket folders (a folder of someone else's that looks like ours).
#[test]
fn gc_removes_orphaned_socket_folders_and_nothing_else() {
    let base = std::env::temp_dir();
    let id = |n: u32| {
        format!(
            "{:012x}",
            0xfeed_0000_0000u64 + u64::from(n) + u64::from(std::process::id()) * 16
        )
    };
    let (old, young, foreign) = (id(1), id(2), id(3));
    for run in [&old, &young, &foreign] {
        std::fs::create_dir_all(base.join(format!("restore-drill-{run}/sandbox-abc123"))).unwrap();
    }
    std::fs::write(
        base.join(format!("restore-drill-{foreign}/notes.txt")),
        "mine",
    )
    .unwrap();
    for run in [&old, &foreign] {
        shell(
            "touch -d '5 minutes ago' \"$1\"",
            &[base.join(format!("restore-drill-{run}"))],
        );
    }
    let (code, out, err) = run(&["gc"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!base.join(format!("restore-drill-{old}")).exists());
    for kept in [&young, &foreign] {
        let dir = base.join(format!("restore-drill-{kept}"));
        assert!(dir.exists(), "{}", dir.display());
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A run folder whose socket answers belongs to a live run, whichever
/// engine its containers are on (a fleet's other engines are not in this
/// engine's labels): `gc` keeps it however old, and takes it once nothing
/// listens there any more.
#[test]
fn gc_keeps_an_old_socket_folder_whose_socket_answers() {
    let base = std::env::temp_dir();
    let run_id = format!(
        "{:012x}",
        0xbeef_0000_0000u64 + u64::from(std::process::id())
    );
    let folder = base.join(format!("restore-drill-{run_id}"));
    let sandbox = folder.join("sandbox-abc123");
    std::fs::create_dir_all(&sandbox).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(sandbox.join(".s.PGSQL.5432")).unwrap();
    shell("touch -d '5 minutes ago' \"$1\"", &[&folder]);
    let (code, out, err) = run(&["gc"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(folder.exists(), "a live run's socket folder was removed");
    drop(listener);
    // -c: another test's `gc`, running at the same time, may have taken the
    // dead folder already; touch must not make a file in its place.
    shell("touch -c -d '5 minutes ago' \"$1\"", &[&folder]);
    let (code, out, err) = run(&["gc"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!folder.exists(), "a dead run's socket folder was kept");
}
