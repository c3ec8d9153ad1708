#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! A backup is hostile input, and what a database says is not ours to show.
//! A plain SQL dump that asks psql to run a program or write a file is
//! refused at its line and nothing of it runs (psql's restricted mode); the
//! raw words of a database reach only the `--debug-log` file; and the user's
//! own typo is shown as typed, with the choices.

mod common;

use common::*;
use restore_drill::engine::EngineKind;
use restore_drill::report::facts::DataPlace;
use restore_drill::report::{Report, Verdict};
use restore_drill::restore::RestoreError;
use restore_drill::sandbox::{exec, ExecRequest, RunId, Sandbox, SandboxSpec};
use std::path::Path;
use std::sync::Arc;

/// The line `extra` lands on in `plain_with_statements(extra)`.
fn line_of_insert(dump: &[u8], extra: &str) -> usize {
    let at = dump
        .windows(extra.len())
        .position(|w| w == extra.as_bytes())
        .expect("the inserted statement");
    dump[..at].iter().filter(|b| **b == b'\n').count() + 1
}

/// The shared clinic's plain dump with `meta` before its end, as a nightly
/// backup (zstd, age). Returns the backup folder, the file and `meta`'s line.
fn tampered(meta: &str, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, usize) {
    let dump = plain_with_statements(meta);
    let line = line_of_insert(&dump, meta);
    let (backups, file) = hand_made_backup(&dump, "clinic-20261101T020000Z.sql.zst.age", dir);
    (backups, file, line)
}

/// The drill on `backups`: (exit code, report).
fn drill(backups: &Path, dir: &Path) -> (i32, Report, String) {
    let scenario = dir.join("hand-made.toml");
    std::fs::write(
        &scenario,
        "name = \"tampered backup\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n\
         [checks]\nmanifest = \"if-present\"\n",
    )
    .unwrap();
    let reports = dir.join("reports");
    let (code, _, err) = run_tracked(&[
        "run".as_ref(),
        scenario.as_os_str(),
        "--backups".as_ref(),
        backups.as_os_str(),
        "--identity".as_ref(),
        shared_clinic().key.path.as_os_str(),
        "--report-dir".as_ref(),
        reports.as_os_str(),
    ]);
    let name = files_in(&reports)
        .into_iter()
        .find(|f| f.ends_with(".json"))
        .unwrap_or_else(|| panic!("no report: {err}"));
    let report = report_of(&std::fs::read_to_string(reports.join(name)).unwrap());
    (code, report, err)
}

/// The restore the drill runs, into a sandbox this test starts and keeps
/// until it has looked inside: the restore's outcome and the sandbox.
async fn restore_into_kept_sandbox(
    file: &Path,
) -> (
    Result<restore_drill::restore::Restored, restore_drill::restore::RestoreError>,
    Sandbox,
    Cleanup,
) {
    let docker = docker().await;
    let run = RunId::new();
    let cleanup = Cleanup::new(&run);
    let sb = Sandbox::start(&docker, &run, &SandboxSpec::new(EngineKind::Postgres, PG15))
        .await
        .expect("sandbox");
    let keys = Arc::new(vec![restore_drill::keys::load_identity_file(
        &shared_clinic().key.path,
    )
    .unwrap()]);
    let events: restore_drill::events::Events = Arc::new(restore_drill::events::Silent);
    let restored = restore_drill::restore::restore_file(
        &sb,
        &restore_drill::catalog::origin::Origin::File(file.to_path_buf()),
        keys,
        &events,
        Default::default(),
        &restore_drill::restore::Delivery::stream(),
    )
    .await;
    (restored, sb, cleanup)
}

/// Whether `path` exists inside the container.
async fn exists_in(container: &str, path: &str) -> bool {
    let docker = docker().await;
    let out = exec(&docker, container, ExecRequest::new(["test", "-e", path]))
        .await
        .unwrap();
    out.succeeded()
}

/// The drill calls it `dump-runs-programs` at the meta-command's line (exit
/// 4), the same restore refuses it in a sandbox the test keeps, and inside it the file
/// the command would have written does not exist.
async fn refused_and_nothing_ran(meta: &str, would_write: &str) {
    let tmp = tempdir();
    let (backups, file, line) = tampered(meta, tmp.path());
    let dir = tmp.path().to_path_buf();
    // The drill's own checks of what it left block: off the runtime's threads.
    let (code, r, err) = tokio::task::spawn_blocking(move || drill(&backups, &dir))
        .await
        .unwrap();
    assert_eq!(code, 4, "{}\n{err}", r.to_json());
    assert_eq!(r.verdict, Verdict::Unrecoverable, "{}", r.to_json());
    let attempt = &r.attempts[0];
    assert_eq!(
        attempt.kind.as_deref(),
        Some("dump-runs-programs"),
        "{}",
        r.to_json()
    );
    let reason = attempt.reason.as_ref().unwrap().as_str();
    assert!(
        reason.contains(&format!("at line {line}")),
        "line {line}: {reason}"
    );
    assert!(reason.contains("tampered"), "{reason}");

    let (restored, sb, _removed_when_done) = restore_into_kept_sandbox(&file).await;
    match restored {
        Err(RestoreError::Unusable(u)) => {
            assert_eq!(u.kind(), "dump-runs-programs", "{u}");
            assert!(u.reason().contains(&format!("at line {line}")), "{u}");
        }
        other => panic!("not refused: {other:?}"),
    }
    assert!(
        !exists_in(&sb.container, would_write).await,
        "{would_write} was written: the dump's command ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_running_a_shell_command_is_refused_at_its_line() {
    refused_and_nothing_ran("\\! id > /tmp/pwned-by-shell", "/tmp/pwned-by-shell").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_copying_to_a_file_is_refused_at_its_line() {
    refused_and_nothing_ran(
        "\\copy (SELECT 1) TO '/tmp/pwned-by-copy'",
        "/tmp/pwned-by-copy",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_redirecting_output_to_a_file_is_refused_at_its_line() {
    refused_and_nothing_ran("\\o /tmp/pwned-by-output", "/tmp/pwned-by-output").await;
}

/// The raw words go to the debug log (mode 600) and nowhere else; stderr
/// warns that the file may hold patient data.
#[test]
fn the_debug_log_alone_keeps_the_databases_words() {
    let tmp = tempdir();
    let scenario = tmp.path().join("debug.toml");
    std::fs::write(
        &scenario,
        "name = \"debug\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n\
         [checks]\nmanifest = \"required\"\n\n[[checks.sql]]\nname = \"raised surname\"\n\
         query = '''DO $$BEGIN RAISE EXCEPTION '%', (SELECT last_name FROM patients WHERE id = 1); END$$'''\n\
         expect = { at_least = 0 }\n",
    )
    .unwrap();
    let log = tmp.path().join("debug.log");
    let (code, out, err) = run_tracked(&[
        "--json".as_ref(),
        "--debug-log".as_ref(),
        log.as_os_str(),
        "run".as_ref(),
        scenario.as_os_str(),
        "--backups".as_ref(),
        shared_clinic().backups.as_os_str(),
        "--identity".as_ref(),
        shared_clinic().key.path.as_os_str(),
        "--report-dir".as_ref(),
        tmp.path().join("reports").as_os_str(),
    ]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("--debug-log") && err.contains("patient data"),
        "{err}"
    );
    assert!(out.contains("raise_exception (SQLSTATE P0001)"), "{out}");
    for text in [&out, &err] {
        assert!(!text.contains("Brien"), "{text}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let raw = std::fs::read_to_string(&log).unwrap();
    assert!(raw.contains("O'Brien-Hartley"), "the raw words: {raw}");
}

/// The user's own value is not outside text: a typo is shown as typed, with
/// the choices (a pattern filter used to hide both).
#[test]
fn a_scenario_typo_shows_the_users_value_and_the_choices() {
    let tmp = tempdir();
    let scenario = tmp.path().join("typo.toml");
    std::fs::write(
        &scenario,
        "name = \"typo\"\n[backups]\n[simulate]\nfault = \"ransomwear\"\n[target]\n\
         image = \"restore-drill/postgres:15\"\n",
    )
    .unwrap();
    let (code, out, err) = run(&["validate", scenario.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("\"ransomwear\""), "{err}");
    assert!(err.contains("ransomware"), "{err}");
    assert!(err.contains("typo.toml:4"), "{err}");
    assert!(!err.contains("value removed"), "{err}");
}

// ---- the restored data: in memory where it fits, always bounded ----

/// The data directory's folder in the container's writable layer, on the
/// Docker host's disk.
async fn upper_dir(container: &str) -> std::path::PathBuf {
    let info = docker()
        .await
        .inspect_container(container, None)
        .await
        .unwrap();
    let data = info.graph_driver.unwrap().data;
    std::path::PathBuf::from(data.get("UpperDir").expect("an overlay upper dir"))
}

/// A drill kept running after it restored (the state a SIGKILL of the drill
/// leaves): its report says the data is in memory, the surname is in the
/// sandbox's data directory, and nowhere in its storage on the host's disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restored_data_is_in_memory_and_not_on_the_hosts_disk() {
    let tmp = tempdir();
    let scenario = tmp.path().join("memory.toml");
    std::fs::write(
        &scenario,
        "name = \"in memory\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n\
         [checks]\nmanifest = \"required\"\n",
    )
    .unwrap();
    let reports = tmp.path().join("reports");
    let child = bin()
        .args(["--json".as_ref(), "run".as_ref(), scenario.as_os_str()])
        .args(["--backups".as_ref(), shared_clinic().backups.as_os_str()])
        .args(["--identity".as_ref(), shared_clinic().key.path.as_os_str()])
        .args([
            "--report-dir".as_ref(),
            reports.as_os_str(),
            "--keep".as_ref(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _removed_when_done = PidCleanup(child.id());
    let (code, out, err) = decode(child.wait_with_output().unwrap());
    assert_eq!(code, 0, "{out}\n{err}");
    let report = report_of(&out);
    let data = report.backup.as_ref().and_then(|b| b.restored_data);
    assert!(matches!(data, Some(DataPlace::Memory { .. })), "{out}");
    let container = kept_sandbox_of(&report).await;
    // The search finds the surname where the data is, so its absence on
    // the disk means something.
    let inside = exec(
        &docker().await,
        &container,
        ExecRequest::new([
            "grep",
            "-rlF",
            "Brien-Hartley",
            "/var/lib/postgresql/tmpfs-data",
        ]),
    )
    .await
    .unwrap();
    assert!(inside.succeeded(), "the surname is in the restored data");
    let upper = upper_dir(&container).await;
    let (code, found, _) = decode(
        std::process::Command::new("grep")
            .args(["-rlF", "Brien-Hartley"])
            .arg(&upper)
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "patient data on the host's disk: {found}");
}

/// The sandbox a `--keep` run left, found by its labels.
async fn kept_sandbox_of(report: &Report) -> String {
    let run = report.run_id.clone();
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("org.restore-drill.run={run}")],
    )]);
    let found = docker()
        .await
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::new()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    found[0].id.clone().unwrap()
}

/// A few kilobytes of zstd that expand to 300 MB of rows: the drill stops it
/// at its bound (an empty server plus 100x the file), unrecoverable
/// (`restored-too-large`, exit 4), naming the bound and how to raise it, in
/// bounded time.
#[test]
fn a_decompression_bomb_is_stopped_at_its_bound() {
    let tmp = tempdir();
    let backups = tmp.path().join("b");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join("clinic-20261101T020000Z.sql.zst.age");
    shell(
        "{ printf '%s\\n' -- '-- PostgreSQL database dump' -- 'CREATE TABLE bomb (x text);' \
             'COPY bomb FROM stdin;'; \
           (yes \"$(head -c 1000 /dev/zero | tr '\\0' a)\" || true) | head -c 300000000; \
           printf '\\\\.\\n--\\n-- PostgreSQL database dump complete\\n--\\n'; } \
         | zstd -q -9 | age -r \"$1\" > \"$2\"",
        &[shared_clinic().key.public.as_str(), file.to_str().unwrap()],
    );
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 100_000, "a bomb: {size} bytes");
    let started = std::time::Instant::now();
    let (code, r, err) = drill(&backups, tmp.path());
    let took = started.elapsed();
    assert_eq!(code, 4, "{}\n{err}", r.to_json());
    let attempt = &r.attempts[0];
    assert_eq!(
        attempt.kind.as_deref(),
        Some("restored-too-large"),
        "{}",
        r.to_json()
    );
    let reason = attempt.reason.as_ref().unwrap().as_str();
    assert!(reason.contains("max_restored_gb"), "{reason}");
    let bound_mib = (64u64 << 20) + size * 100;
    assert!(
        reason.contains(&format!("bound of {} MiB", bound_mib.div_ceil(1 << 20))),
        "{reason}"
    );
    assert!(took.as_secs() < 120, "stopped after {took:?}");
}
