#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Before an upgrade: one backup restored into PostgreSQL 15 and 17 side by
//! side, in real containers, with the shipped scenario and query file, and
//! every bad input of a comparison with its message and exit code.

mod common;

use common::*;
use restore_drill::compare::model::{
    CompareVerdict, ComparisonReport, ItemKind, ItemStatus, QueryRun, RestoreOutcome, TargetReport,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest a comparison of the small test clinics may take.
const LIMIT: Duration = Duration::from_secs(300);

fn scenario_path(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `run` of a comparison, on `backups` with `key`: what the person reads
/// (stdout) and the report file it wrote, read back.
fn compare(scenario: &Path, backups: &Path, key: &Path) -> (Finished, ComparisonReport) {
    let (f, text) = compare_text(scenario, backups, key);
    (f, comparison_of(&text))
}

/// The same, with the report file's text as written. Fails the test if it
/// hangs or leaves a container or network behind.
fn compare_text(scenario: &Path, backups: &Path, key: &Path) -> (Finished, String) {
    let reports = tempdir().keep().join("reports");
    let f = run_tracked_within(
        &[
            "run".as_ref(),
            scenario.as_os_str(),
            "--backups".as_ref(),
            backups.as_os_str(),
            "--identity".as_ref(),
            key.as_os_str(),
            "--report-dir".as_ref(),
            reports.as_os_str(),
        ],
        LIMIT,
    );
    let files = files_in(&reports);
    assert_eq!(files.len(), 1, "one report: {files:?}\n{}", f.stderr);
    let text = std::fs::read_to_string(reports.join(&files[0])).unwrap();
    let _ = std::fs::remove_dir_all(reports.parent().unwrap());
    (f, text)
}

/// A comparison scenario in `dir`: `targets`, a query file of `queries`, and
/// `extra` lines in `[compare]`; `checks` replaces the default checks.
fn scenario(dir: &Path, targets: &[&str], queries: &str, extra: &str, checks: &str) -> PathBuf {
    std::fs::write(dir.join("q.sql"), queries).unwrap();
    let targets: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
    let text = format!(
        "name = \"test comparison\"\n[backups]\nlocation = \"b\"\n[target]\nmemory_mb = 1024\n\
         [compare]\ntargets = [{}]\nqueries = \"q.sql\"\n{extra}\n[checks]\n{checks}\n",
        targets.join(", ")
    );
    let path = dir.join("compare.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const FEW_CHECKS: &str = "manifest = \"required\"\nforeign_keys = false\n";

/// (start, end) of a target's phase, in seconds since the epoch.
fn phase_span(target: &TargetReport, name: &str) -> (f64, f64) {
    let p = target
        .phases
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no phase {name} in {:?}", target.phases));
    let start = p.started_at.timestamp_micros() as f64 / 1e6;
    (start, start + p.seconds)
}

/// Every query of the shipped file answered alike and timed three times on
/// every target.
fn every_shipped_query_is_equal(r: &ComparisonReport) {
    let names = every_query_answered_alike_in(r, "fixtures/clinic-app-queries.sql");
    assert!(names.len() >= 8, "{names:?}");
}

#[test]
fn fifteen_and_seventeen_agree_on_the_clinic_side_by_side() {
    let clinic = shared_clinic();
    let (f, text) = compare_text(
        Path::new(&scenario_path("upgrade-check.toml")),
        &clinic.backups,
        &clinic.key.path,
    );
    assert_eq!(f.code, 0, "{}\n{}", f.stdout, f.stderr);
    let r = comparison_of(&text);
    assert_eq!(r.kind, "comparison");
    assert_eq!(r.verdict, CompareVerdict::Compatible);
    let targets = &r.targets;
    assert_eq!(targets.len(), 2);
    assert!(targets[0]
        .server_version
        .as_deref()
        .unwrap()
        .starts_with("15."));
    assert!(targets[1]
        .server_version
        .as_deref()
        .unwrap()
        .starts_with("17."));
    every_shipped_query_is_equal(&r);
    assert!(
        first_query_rows(&targets[0]) > 0,
        "the day sheet has appointments"
    );
    // The drill's checks ran on both and agree; the manifest's fingerprints
    // hold across the versions.
    let manifest = item_of(&r, ItemKind::Check, "manifest comparison");
    assert_eq!(manifest.status, ItemStatus::Equal);
    assert!(manifest.values[1].starts_with("passed"), "{manifest:?}");
    for kind in ["tables", "indexes", "constraints"] {
        assert_eq!(
            item_of(&r, ItemKind::Schema, kind).status,
            ItemStatus::Equal
        );
    }
    assert_eq!(
        item_of(&r, ItemKind::Extension, "plpgsql").status,
        ItemStatus::Equal
    );
    // The two restores ran at the same time.
    assert!(r.concurrency.concurrent, "{:?}", r.concurrency);
    let (a, b) = (
        phase_span(&targets[0], "restore"),
        phase_span(&targets[1], "restore"),
    );
    assert!(
        a.0 < b.1 && b.0 < a.1,
        "the restores did not overlap: {a:?} {b:?}"
    );
    assert!(r.concurrency.restores_overlap_seconds.unwrap() > 0.0);
    // The person's summary shows the timings side by side.
    let line = f
        .stdout
        .lines()
        .find(|l| l.starts_with("query: day sheet"))
        .unwrap_or_else(|| panic!("{}", f.stdout));
    assert_eq!(line.matches(" ms").count(), 2, "{line}");
    assert!(line.ends_with("equal"), "{line}");
    assert!(f.stdout.contains(": COMPATIBLE"), "{}", f.stdout);
    no_patient_value_leaves(&f, &text);
}

/// The queries read names, addresses and phone numbers: only counts,
/// fingerprints and timings of them may leave the process (`report`: the
/// report file's text, every field of it).
fn no_patient_value_leaves(f: &Finished, report: &str) {
    for v in patient_values() {
        for (what, text) in [
            ("stdout", &f.stdout),
            ("stderr", &f.stderr),
            ("report", &report.to_string()),
        ] {
            assert!(
                !text.contains(&v),
                "a patient's value {v:?} is in the {what}"
            );
        }
    }
}

#[test]
fn a_query_reading_the_server_version_is_reported_different_by_name() {
    let clinic = shared_clinic();
    let tmp = tempdir();
    let path = scenario(
        tmp.path(),
        &[PG15, PG17],
        "-- query: patients\nSELECT count(*) FROM patients\n\n\
         -- query: server version\nSELECT current_setting('server_version_num')\n",
        "",
        FEW_CHECKS,
    );
    let (f, r) = compare(&path, &clinic.backups, &clinic.key.path);
    assert_eq!(f.code, 1, "{}\n{}", f.stdout, f.stderr);
    assert_eq!(r.verdict, CompareVerdict::Differences);
    assert!(
        f.stdout.contains("DIFFERENT query: server version"),
        "{}",
        f.stdout
    );
    let it = item_of(&r, ItemKind::Query, "server version");
    assert_eq!(it.status, ItemStatus::Different, "{it:?}");
    assert!(it.detail.as_str().contains("different content"), "{it:?}");
    assert_eq!(
        item_of(&r, ItemKind::Query, "patients").status,
        ItemStatus::Equal
    );
    let differing: Vec<_> = r
        .items
        .iter()
        .filter(|i| i.status != ItemStatus::Equal && i.status != ItemStatus::Measured)
        .collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
}

/// An image derived from one of ours, built here from a Dockerfile (the base
/// is local: nothing is pulled).
fn derived_image(tag: &str, dockerfile: &str) {
    let mut child = std::process::Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run docker build");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A clinic database using the citext extension and an ICU collation,
/// dumped by hand with the real CLIs into `dir/b`.
async fn extension_backup(dir: &Path, key: &Key) -> PathBuf {
    let source = Source::start(PG15).await;
    let mut conn = restore_drill::engine::postgres::connect(&source.url(), Duration::from_secs(5))
        .await
        .unwrap();
    sqlx::Executor::execute(
        &mut conn,
        "CREATE EXTENSION citext; \
         CREATE TABLE contacts (id int PRIMARY KEY, email citext NOT NULL UNIQUE, \
                                name text COLLATE \"en-x-icu\" NOT NULL); \
         CREATE INDEX contacts_name_idx ON contacts (name); \
         INSERT INTO contacts SELECT g, 'p' || g || '@example.org', 'Name ' || g \
         FROM generate_series(1, 200) g",
    )
    .await
    .unwrap();
    drop(conn);
    let backups = dir.join("b");
    std::fs::create_dir(&backups).unwrap();
    let out = backups.join("contacts-20261101T020000Z.dump.zst.age");
    shell(
        "pg_dump -Fc \"$1\" | zstd -q | age -r \"$2\" > \"$3\"",
        &[
            source.url().as_str(),
            key.public.as_str(),
            out.to_str().unwrap(),
        ],
    );
    source.remove().await;
    backups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_one_target_lacks_and_a_changed_collation_are_reported() {
    const NO_CITEXT: &str = "restore-drill-test/postgres:17-no-citext";
    derived_image(
        NO_CITEXT,
        "FROM restore-drill/postgres:17\nRUN rm /usr/share/postgresql/17/extension/citext*\n",
    );
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = extension_backup(tmp.path(), &key).await;
    let path = scenario(
        tmp.path(),
        &[PG15, PG17, NO_CITEXT],
        "-- query: contacts\nSELECT id, email, name FROM contacts ORDER BY name, id\n",
        "",
        "manifest = \"if-present\"\n",
    );
    let (f, r) = tokio::task::spawn_blocking(move || compare(&path, &backups, &key.path))
        .await
        .unwrap();
    assert_eq!(f.code, 4, "{}\n{}", f.stdout, f.stderr);
    assert_eq!(r.verdict, CompareVerdict::Unrecoverable);
    let targets = &r.targets;
    assert!(
        matches!(targets[1].restore, RestoreOutcome::Restored { .. }),
        "{:?}",
        targets[1]
    );
    assert!(
        matches!(targets[2].restore, RestoreOutcome::Failed { .. }),
        "{:?}",
        targets[2]
    );
    let citext = item_of(&r, ItemKind::Extension, "citext");
    assert_eq!(citext.status, ItemStatus::Different, "{citext:?}");
    assert_eq!(citext.values[2], "not available", "{citext:?}");
    let detail = citext.detail.as_str();
    assert!(
        detail.contains(NO_CITEXT) && detail.contains("does not offer it"),
        "{detail}"
    );
    // The 15 and 17 images link different ICU versions: the column's
    // collation, and the index on it, change with the upgrade.
    let icu = item_of(&r, ItemKind::Collation, "en-x-icu (icu)");
    assert_eq!(icu.status, ItemStatus::Different, "{icu:?}");
    assert!(icu.detail.as_str().contains("REINDEX"), "{icu:?}");
    // Only the restored targets are compared item by item; the one that did
    // not restore says why, naming the extension.
    assert_eq!(
        item_of(&r, ItemKind::Extension, "plpgsql").status,
        ItemStatus::Equal
    );
    assert_eq!(
        item_of(&r, ItemKind::Query, "contacts").status,
        ItemStatus::Equal
    );
    let line = f
        .stdout
        .lines()
        .find(|l| l.contains("DID NOT RESTORE"))
        .unwrap();
    // The server's words are not shown; its code is, and the extension is
    // named by the comparison's own item above.
    assert!(
        line.contains("feature_not_supported (SQLSTATE 0A000)"),
        "{line}"
    );
}

/// A comparison of 15 and 17 with the query file `sql`: how it ended, its
/// report read back and as written, the query file.
fn bad_query(
    sql: &str,
    extra: &str,
) -> (
    Finished,
    ComparisonReport,
    String,
    PathBuf,
    tempfile::TempDir,
) {
    let clinic = shared_clinic();
    let tmp = tempdir();
    let path = scenario(tmp.path(), &[PG15, PG17], sql, extra, FEW_CHECKS);
    let (f, text) = compare_text(&path, &clinic.backups, &clinic.key.path);
    (f, comparison_of(&text), text, tmp.path().join("q.sql"), tmp)
}

/// The reason the comparison `r` stopped with an error.
fn error_reason(r: &ComparisonReport) -> &str {
    r.error.as_ref().unwrap().reason.as_str()
}

#[test]
fn a_query_with_a_syntax_error_names_its_file_line_and_sqlstate() {
    let (f, r, _, q, _tmp) = bad_query("-- query: day sheet\nSELECT id\nFORM appointments\n", "");
    assert_eq!(f.code, 2, "{}\n{}", f.stdout, f.stderr);
    let reason = error_reason(&r);
    assert!(
        reason.starts_with(&format!(
            "{}:3: the query `day sheet` fails on the baseline",
            q.display()
        )),
        "{reason}"
    );
    assert!(reason.contains("SQLSTATE 42601"), "{reason}");
    assert!(reason.contains("Fix it in the query file"), "{reason}");
    assert!(f.stderr.contains("SQLSTATE 42601"), "{}", f.stderr);
    assert_eq!(r.error.as_ref().unwrap().exit_code, Some(2));
}

/// A query whose error quotes a patient's surname (one with an apostrophe,
/// as a relation's name): the comparison's report and its terminal output
/// carry the code only.
#[test]
fn a_failing_query_names_no_patient_in_the_comparison() {
    let (f, r, text, _q, _tmp) = bad_query(
        "-- query: surname lookup\nSELECT quote_ident(last_name)::regclass FROM patients WHERE id = 1\n",
        "",
    );
    assert_eq!(f.code, 2, "{}\n{}", f.stdout, f.stderr);
    let reason = error_reason(&r);
    assert!(
        reason.contains("undefined_table (SQLSTATE 42P01)"),
        "{reason}"
    );
    for text in [&f.stdout, &f.stderr, &text] {
        assert!(!text.contains("Brien"), "{text}");
    }
}

#[test]
fn a_query_that_writes_is_refused_by_the_read_only_role() {
    let (f, r, _, q, _tmp) = bad_query(
        "-- query: tidy up\nDELETE FROM appointments WHERE id < 0\n",
        "",
    );
    assert_eq!(f.code, 2, "{}\n{}", f.stdout, f.stderr);
    let reason = error_reason(&r);
    assert!(
        reason.starts_with(&format!("{}:1:", q.display())),
        "{reason}"
    );
    assert!(
        reason.contains("tries to change the restored database")
            && reason.contains("SQLSTATE 25006"),
        "{reason}"
    );
}

#[test]
fn a_query_over_the_time_limit_is_cancelled_and_reported() {
    let (f, r, _, _q, _tmp) = bad_query(
        "-- query: slow report\nSELECT pg_sleep(30)\n",
        "query_timeout_seconds = 1\n",
    );
    assert_eq!(f.code, 1, "{}\n{}", f.stdout, f.stderr);
    assert!(f.elapsed < Duration::from_secs(120), "{:?}", f.elapsed);
    let it = item_of(&r, ItemKind::Query, "slow report");
    assert_eq!(it.status, ItemStatus::Unknown, "{it:?}");
    assert_eq!(it.values[0], "cancelled after 1 s", "{it:?}");
    assert!(
        it.detail
            .as_str()
            .contains("cancelled after 1 s on the baseline"),
        "{it:?}"
    );
    let run = &r.targets[1].queries[0].run;
    assert!(matches!(run, QueryRun::TimedOut { .. }), "{run:?}");
}

#[test]
fn an_unknown_target_image_stops_before_any_container_starts() {
    let clinic = shared_clinic();
    let tmp = tempdir();
    let path = scenario(
        tmp.path(),
        &[PG15, "restore-drill/postgres:16"],
        "-- query: a\nSELECT 1\n",
        "",
        FEW_CHECKS,
    );
    let (f, r) = compare(&path, &clinic.backups, &clinic.key.path);
    assert_eq!(f.code, 3, "{}\n{}", f.stdout, f.stderr);
    let reason = error_reason(&r);
    assert!(
        reason.contains("the image restore-drill/postgres:16 is not present on this Docker engine"),
        "{reason}"
    );
    assert_eq!(r.error.as_ref().unwrap().phase, "check images");
    assert!(r.targets[0].phases.is_empty(), "nothing started");
}

#[test]
fn a_target_that_fails_to_start_stops_the_comparison_and_both_are_removed() {
    const BROKEN: &str = "restore-drill-test/postgres:17-broken";
    derived_image(
        BROKEN,
        "FROM restore-drill/postgres:17\nENTRYPOINT [\"sh\", \"-c\", \"echo refusing to start >&2; sleep 2; exit 1\"]\n",
    );
    let clinic = shared_clinic();
    let tmp = tempdir();
    let path = scenario(
        tmp.path(),
        &[PG15, BROKEN],
        "-- query: a\nSELECT 1\n",
        "",
        FEW_CHECKS,
    );
    // `compare` fails the test if either container or network is left.
    let (f, r) = compare(&path, &clinic.backups, &clinic.key.path);
    assert_eq!(f.code, 3, "{}\n{}", f.stdout, f.stderr);
    let reason = error_reason(&r);
    assert!(
        reason.starts_with(&format!(
            "{BROKEN}: the PostgreSQL container exited during startup"
        )),
        "{reason}"
    );
    assert!(reason.contains("refusing to start"), "{reason}");
    assert_eq!(r.verdict, CompareVerdict::Error);
}

#[test]
fn fewer_than_two_targets_is_a_usage_error_at_the_list() {
    let tmp = tempdir();
    let path = scenario(
        tmp.path(),
        &[PG15],
        "-- query: a\nSELECT 1\n",
        "",
        FEW_CHECKS,
    );
    let (code, out, err) = run(&["run", path.to_str().unwrap(), "--backups", "b"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "{}:7:11: [compare] targets names 1 image; a comparison needs at least two",
            path.display()
        )),
        "{err}"
    );
    assert!(
        !tmp.path().join("reports").exists(),
        "an invalid scenario starts nothing"
    );
}

#[test]
fn keep_is_refused_for_a_comparison() {
    let tmp = tempdir();
    let path = scenario(
        tmp.path(),
        &[PG15, PG17],
        "-- query: a\nSELECT 1\n",
        "",
        FEW_CHECKS,
    );
    let (code, out, err) = run(&["run", path.to_str().unwrap(), "--backups", "b", "--keep"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("--keep is for drills"), "{err}");
}
