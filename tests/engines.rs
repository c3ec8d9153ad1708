#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! A drill sent to a second Docker engine by `DOCKER_HOST`: its sandbox runs
//! there and nowhere else, and nothing of it is left there; that engine
//! stopped under a running drill ends the drill with exit 3 naming the
//! engine. These also prove the harness the fleet tests stand on
//! (`common::engine`): a dockerd of the test's own, its images, its sampler,
//! and nothing of it left on the host afterwards.

mod common;

use common::engine::{leftovers, SandboxSampler, SecondEngine};
use common::*;
use restore_drill::report::Verdict;
use restore_drill::sandbox::run::LABEL_RUN;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `restore-drill --json run` of the monthly drill, running on the engine
/// at `host`.
struct Drill {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    started: Instant,
}

impl Drill {
    fn spawn(backups: &Path, key: &Path, reports: &Path, host: &str) -> Drill {
        let scenario = format!(
            "{}/scenarios/monthly-drill.toml",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut child = bin()
            .args(["--json", "run", &scenario, "--backups"])
            .arg(backups)
            .arg("--identity")
            .arg(key)
            .arg("--report-dir")
            .arg(reports)
            .env("DOCKER_HOST", host)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run restore-drill");
        // Drained on threads of their own, so a chatty child never blocks.
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                String::from_utf8_lossy(&v).into_owned()
            })
        };
        Drill {
            stdout: drain(Box::new(child.stdout.take().unwrap())),
            stderr: drain(Box::new(child.stderr.take().unwrap())),
            child,
            started: Instant::now(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the drill's end; a drill still running after `limit` is
    /// killed and the test fails saying it hung.
    fn wait(mut self, limit: Duration) -> Finished {
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let elapsed = self.started.elapsed();
        let stderr = self.stderr.join().unwrap();
        let Some(status) = status else {
            panic!("restore-drill hung: no exit within {limit:?}, killed.\nstderr:\n{stderr}");
        };
        Finished {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.join().unwrap(),
            stderr,
            elapsed,
        }
    }
}

/// A fresh clinic of 100 patients: DIR/b holds the backup, DIR/k the key.
fn small_clinic() -> (tempfile::TempDir, Key) {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    generate_fixture(&tmp.path().join("b"), 100, &[&key]);
    (tmp, key)
}

/// Nothing of the engine in `dir` is left on the host once it is dropped.
fn gone_without_a_trace(engine: SecondEngine) {
    let dir = engine.dir().to_path_buf();
    drop(engine);
    assert_eq!(leftovers(&dir), (vec![], vec![]), "{}", dir.display());
    assert!(!dir.exists(), "{} is still there", dir.display());
}

#[test]
fn a_drill_sent_to_a_second_engine_runs_its_sandbox_there_only_and_leaves_nothing() {
    let mut engine = SecondEngine::start();
    engine.load_images(&[PG15]);
    let (tmp, key) = small_clinic();
    let first = restore_drill::sandbox::docker::docker_host();
    let second = engine.host();
    let drill = Drill::spawn(
        &tmp.path().join("b"),
        &key.path,
        &tmp.path().join("reports"),
        &second,
    );
    // On the first engine, shared with tests running beside this one, only
    // this drill's own sandboxes count (they carry its pid).
    let sampler = SandboxSampler::start_for_pid(&[first.clone(), second.clone()], drill.pid());
    let done = drill.wait(Duration::from_secs(300));
    let seen = sampler.finish();
    eprintln!(
        "drill ended in {:.1} s; sampled {seen:?}",
        done.elapsed.as_secs_f64()
    );
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert_eq!(report_of(&done.stdout).verdict, Verdict::Passed);
    assert_eq!(seen[&second].max, 1, "{seen:?}");
    assert!(seen[&first].samples > 0, "{seen:?}");
    assert_eq!(seen[&first].max, 0, "{seen:?}");
    assert_eq!(engine.count(LABEL_RUN), 0);
    engine.stop();
    gone_without_a_trace(engine);
}

#[test]
fn the_engine_stopped_under_a_running_drill_ends_it_with_exit_3_naming_the_engine() {
    let mut engine = SecondEngine::start();
    engine.load_images(&[PG15]);
    // The shared clinic's 1000 patients: a restore long enough to stop the
    // engine under.
    let clinic = shared_clinic();
    let tmp = tempdir();
    let host = engine.host();
    let drill = Drill::spawn(
        &clinic.backups,
        &clinic.key.path,
        &tmp.path().join("reports"),
        &host,
    );
    let sampler = SandboxSampler::start_for_pid(std::slice::from_ref(&host), drill.pid());
    sampler.wait_for_sandbox(&host, Duration::from_secs(120));
    let stopping = Instant::now();
    engine.stop();
    let stopped = stopping.elapsed();
    let done = drill.wait(Duration::from_secs(300));
    let ended = stopping.elapsed();
    sampler.finish();
    eprintln!(
        "engine stopped in {:.1} s; the drill ended {:.1} s after SIGTERM, exit {}\nstderr:\n{}",
        stopped.as_secs_f64(),
        ended.as_secs_f64(),
        done.code,
        done.stderr
    );
    assert_eq!(done.code, 3, "{}\n{}", done.stdout, done.stderr);
    assert!(done.stderr.contains(&host), "{}", done.stderr);
    assert!(done.stderr.contains("not reachable"), "{}", done.stderr);
    let r = report_of(&done.stdout);
    assert_eq!(r.verdict, Verdict::Error);
    assert_eq!(r.error.as_ref().unwrap().exit_code, Some(3));
    // What the drill could not remove with its engine gone, for the record:
    // the engine's own restart may have removed it already.
    engine.restart();
    eprintln!(
        "left on the restarted engine: {} containers labelled {LABEL_RUN}",
        engine.count(LABEL_RUN)
    );
    gone_without_a_trace(engine);
}

/// A crashed engine (SIGKILL) leaves its containers running under their
/// shims, and their mounts: dropping the engine still removes them all.
#[test]
fn a_killed_engine_leaves_its_container_running_until_dropped_and_nothing_after() {
    let mut engine = SecondEngine::start();
    engine.load_images(&[PG15]);
    let out = std::process::Command::new("docker")
        .args(["run", "--detach", "--network=none", "--entrypoint=sleep"])
        .args([
            "--label",
            &format!("{LABEL_RUN}=engine-harness"),
            PG15,
            "600",
        ])
        .env("DOCKER_HOST", engine.host())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    engine.kill();
    let (processes, mounts) = leftovers(engine.dir());
    let commands: Vec<String> = processes
        .iter()
        .map(|p| std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .collect();
    assert!(
        commands.iter().any(|c| c.contains("containerd-shim")),
        "the container's shim went with dockerd: {commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.trim() == "sleep 600"),
        "the container's process is not counted: {commands:?}"
    );
    assert!(
        !mounts.is_empty(),
        "the container's mounts went with dockerd"
    );
    gone_without_a_trace(engine);
}

/// Stops the engine the moment the drill enters `phase`.
struct StopAt {
    phase: &'static str,
    engine: std::sync::Arc<std::sync::Mutex<SecondEngine>>,
}

impl restore_drill::events::Observer for StopAt {
    fn event(&self, e: restore_drill::events::Event) {
        if matches!(&e, restore_drill::events::Event::PhaseStarted { name } if name == self.phase) {
            self.engine.lock().unwrap().stop();
        }
    }
}

/// The engine stopped as the checks begin, on the restored database: the
/// lost connections look like failed checks, but the drill ends in an
/// environment error naming the engine (exit 3), never as failed, since
/// nothing is known of the backups. Stopped at a phase, not a moment: the
/// same every run.
#[tokio::test(flavor = "multi_thread")]
async fn the_engine_stopped_during_the_checks_ends_the_drill_as_an_environment_error() {
    use restore_drill::sandbox::RunId;
    let engine = SecondEngine::start();
    engine.load_images(&[PG15]);
    let host = engine.host();
    let engine = std::sync::Arc::new(std::sync::Mutex::new(engine));
    let clinic = shared_clinic();
    let plan = restore_drill::scenario::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/monthly-drill.toml"
    )))
    .unwrap()
    .with_overrides(restore_drill::scenario::Overrides {
        backups: Some(clinic.backups.display().to_string()),
        identities: vec![clinic.key.path.clone()],
        ..Default::default()
    })
    .unwrap();
    let keys = vec![restore_drill::keys::load_identity_file(&clinic.key.path).unwrap()];
    let path = host.trim_start_matches("unix://");
    let docker =
        bollard::Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION).unwrap();
    let events: restore_drill::events::Events = std::sync::Arc::new(StopAt {
        phase: "checks",
        engine: engine.clone(),
    });
    let opts = restore_drill::drill::DrillOptions {
        keep: false,
        before_checks_sql: None,
    };
    let run = RunId::new();
    // Its socket folder on this host goes with the test, whatever happens.
    let _cleanup = Cleanup::new(&run);
    let started = Instant::now();
    let out = restore_drill::drill::run(&docker, &run, &plan, keys.into(), opts, &events).await;
    eprintln!(
        "ended {:.1} s after it started",
        started.elapsed().as_secs_f64()
    );
    let r = out.report;
    assert_eq!(r.verdict, Verdict::Error, "{:?}", r.error);
    let e = r.error.unwrap();
    assert_eq!(
        (e.phase.as_str(), e.kind.as_str()),
        ("checks", "environment"),
        "{}",
        e.reason
    );
    assert!(
        e.reason
            .to_string()
            .contains("stopped answering during checks"),
        "{}",
        e.reason
    );
    drop(events);
    let engine = std::sync::Arc::try_unwrap(engine)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap();
    gone_without_a_trace(engine);
}
