#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! A backup is hostile input, and what a database says is not ours to show.
//! A plain SQL dump that asks psql to run a program or write a file is
//! refused at its line and nothing of it runs (psql's restricted mode); the
//! raw words of a database reach only the `--debug-log` file; and the user's
//! own typo is shown as typed, with the choices.

mod common;

use common::*;
use restore_drill::engine::EngineKind;
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
fn drill(backups: &Path, dir: &Path) -> (i32, serde_json::Value, String) {
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
    let report = serde_json::from_slice(&std::fs::read(reports.join(name)).unwrap()).unwrap();
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
        file,
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
    assert_eq!(code, 4, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable", "{r}");
    assert_eq!(r["attempts"][0]["kind"], "dump-runs-programs", "{r}");
    let reason = r["attempts"][0]["reason"].as_str().unwrap();
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
