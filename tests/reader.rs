#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! The checks' reader only reads: a hostile custom check that writes a large
//! object, reads the server's accounts, lifts its time bound and sleeps, or
//! ends another check's session, ends as `error` naming the refusal or the
//! drill's bound, in bounded time, on PostgreSQL and on MariaDB; the other
//! checks still read the restored tables.
//!
//! A check in `error` makes the drill's exit code 2 (README: "2 when a custom
//! check is itself broken"), which these tests assert.

mod common;

use common::*;
use restore_drill::checks::{CheckResult, Status};
use restore_drill::report::{Report, Verdict};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MARIADB: &str = "restore-drill/mariadb:10.11";

/// The drill's bound on one check in these scenarios.
const BOUND: u64 = 5;

/// The most time the checks phase may take in any of these drills: the
/// bound, the administrator's stops, a few small checks.
const CHECKS_PHASE_LIMIT: f64 = 60.0;

/// A clinic to drill: `(backups, key)`. PostgreSQL's is the shared clinic;
/// MariaDB's a 60-patient one of this test's own in `tmp`.
fn clinic(engine: &str, tmp: &Path) -> (PathBuf, Key) {
    if engine == "postgres" {
        let c = shared_clinic();
        return (c.backups.clone(), c.key.clone());
    }
    let key = make_key(tmp, "k");
    let backups = tmp.join("b");
    generate_fixture_on("mariadb", &backups, 60, &[&key]);
    (backups, key)
}

/// A scenario drilling `engine`'s clinic with only `checks` (the manifest
/// and foreign keys off: quick, and beside the point), each check bounded
/// by `BOUND` seconds.
fn scenario(tmp: &Path, engine: &str, checks: &str) -> PathBuf {
    let image = match engine {
        "postgres" => PG15,
        _ => MARIADB,
    };
    let path = tmp.join("hostile.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"hostile checks\"\n[backups]\n[target]\nengine = \"{engine}\"\nimage = \"{image}\"\n\
             [checks]\nmanifest = \"off\"\nforeign_keys = false\ntimeout_seconds = {BOUND}\n{checks}"
        ),
    )
    .unwrap();
    path
}

/// `[[checks.sql]]` of one query, expecting any count.
fn sql(name: &str, query: &str) -> String {
    format!(
        "[[checks.sql]]\nname = \"{name}\"\nquery = \"\"\"{query}\"\"\"\nexpect = {{ at_least = 0 }}\n"
    )
}

/// Runs the drill through the CLI; returns the report and how it ended.
fn drill(engine: &str, checks: &str) -> (Report, Finished) {
    let tmp = tempdir();
    let (backups, key) = clinic(engine, tmp.path());
    let scenario = scenario(tmp.path(), engine, checks);
    let reports = tmp.path().join("reports");
    let args = [
        "--json",
        "run",
        scenario.to_str().unwrap(),
        "--backups",
        backups.to_str().unwrap(),
        "--identity",
        key.path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--no-history",
    ];
    let done = run_tracked_within(&args, Duration::from_secs(300));
    assert!(!done.stdout.trim().is_empty(), "no report: {}", done.stderr);
    (report_of(&done.stdout), done)
}

fn check<'a>(r: &'a Report, name: &str) -> &'a CheckResult {
    r.checks
        .iter()
        .find(|c| c.name == format!("sql: {name}"))
        .unwrap_or_else(|| panic!("no check {name} in {}", r.to_json()))
}

/// The check `name` is an error whose detail holds every one of `words`;
/// the checks phase ended within its limit; the drill failed, exit 2.
fn assert_error(r: &Report, done: &Finished, name: &str, words: &[&str]) {
    let c = check(r, name);
    assert_eq!(c.status, Status::Error, "{c:?}");
    let detail = c.detail.as_str();
    for w in words {
        assert!(detail.contains(w), "{w:?} not in {detail}");
    }
    let phase = r
        .phases
        .iter()
        .find(|p| p.name == "checks")
        .unwrap_or_else(|| panic!("no checks phase: {}", r.to_json()));
    let secs = phase.seconds;
    assert!(
        secs < CHECKS_PHASE_LIMIT,
        "checks took {secs} s: {}",
        r.to_json()
    );
    assert_eq!(r.verdict, Verdict::Failed, "{}", r.to_json());
    assert_eq!(done.code, 2, "{}\n{}", done.stdout, done.stderr);
}

/// The innocent check `name` still read the restored tables.
fn assert_passed(r: &Report, name: &str) {
    let c = check(r, name);
    assert_eq!(c.status, Status::Passed, "{c:?}");
}

const READS: &str = "reads the patients";

#[test]
fn a_check_writing_a_large_object_is_refused_naming_the_function() {
    let checks = sql(READS, "SELECT count(*) FROM patients")
        + &sql(
            "writes a large object",
            "SELECT lo_from_bytea(0, convert_to('x', 'UTF8'))::bigint",
        );
    let (r, done) = drill("postgres", &checks);
    let refused = "permission denied (SQLSTATE 42501) on function lo_from_bytea";
    assert_error(&r, &done, "writes a large object", &[refused]);
    assert_passed(&r, READS);
}

#[test]
fn a_check_reading_the_servers_password_hashes_is_refused_naming_the_catalog() {
    let checks = sql(READS, "SELECT count(*) FROM patients")
        + &sql(
            "reads pg_authid",
            "SELECT count(*) FROM pg_authid WHERE rolpassword IS NOT NULL",
        )
        + &sql("reads pg_shadow", "SELECT count(passwd) FROM pg_shadow");
    let (r, done) = drill("postgres", &checks);
    let denied = "permission denied (SQLSTATE 42501)";
    assert_error(&r, &done, "reads pg_authid", &[denied, "table pg_authid"]);
    assert_error(&r, &done, "reads pg_shadow", &[denied, "table pg_shadow"]);
    assert_passed(&r, READS);
}

#[test]
fn a_check_that_lifts_its_timeout_and_sleeps_is_stopped_by_the_drills_bound() {
    let checks = sql(READS, "SELECT count(*) FROM patients")
        + &sql(
            "sleeps an hour",
            "SET statement_timeout = 0; SELECT count(*) FROM (SELECT pg_sleep(3600)) s",
        );
    let (r, done) = drill("postgres", &checks);
    let bound = format!("stopped after {BOUND} s by the drill's bound");
    assert_error(&r, &done, "sleeps an hour", &[&bound, "cancelled"]);
    let secs = check(&r, "sleeps an hour").seconds;
    assert!(
        (BOUND as f64..BOUND as f64 + 15.0).contains(&secs),
        "{secs}"
    );
    assert_passed(&r, READS);
}

#[test]
fn a_check_signalling_another_checks_session_is_refused_and_the_other_finishes() {
    // The victim sleeps on one session while the others try to end it.
    let checks = sql(
        READS,
        "SELECT count(*) FROM patients, (SELECT pg_sleep(4)) s",
    ) + &sql(
        "terminates a backend",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND usename LIKE 'drill_check%'",
    ) + &sql(
        "cancels a backend",
        "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND usename LIKE 'drill_check%'",
    );
    let (r, done) = drill("postgres", &checks);
    let denied = "permission denied (SQLSTATE 42501)";
    let terminate = "function pg_terminate_backend";
    assert_error(&r, &done, "terminates a backend", &[denied, terminate]);
    let cancel = "function pg_cancel_backend";
    assert_error(&r, &done, "cancels a backend", &[denied, cancel]);
    assert_passed(&r, READS);
}

/// The bound stops the query on the server, not only the drill's wait: on
/// the kept sandbox, as the administrator, no session still runs it.
async fn no_session_still_runs(engine: &str, pattern: &str) {
    let tmp = tempdir();
    let (backups, key) = tokio::task::spawn_blocking({
        let (engine, dir) = (engine.to_string(), tmp.path().to_path_buf());
        move || clinic(&engine, &dir)
    })
    .await
    .unwrap();
    let sleeps = match engine {
        "postgres" => "SET statement_timeout = 0; SELECT count(*) FROM (SELECT pg_sleep(3600)) s",
        _ => "SET SESSION max_statement_time = 0; SELECT SLEEP(3600)",
    };
    let path = scenario(tmp.path(), engine, &sql("sleeps an hour", sleeps));
    let mut plan = restore_drill::scenario::load(&path).unwrap();
    plan.backups.location = Some(restore_drill::catalog::place::Place::Folder(backups));
    let keys = std::sync::Arc::new(vec![
        restore_drill::keys::load_identity_file(&key.path).unwrap()
    ]);
    let docker = docker().await;
    let run = restore_drill::sandbox::RunId::new();
    let _cleanup = Cleanup::new(&run);
    let opts = restore_drill::drill::DrillOptions {
        keep: true,
        before_checks_sql: None,
    };
    let silent = restore_drill::events::silent();
    let outcome = restore_drill::drill::run(&docker, &run, &plan, keys, opts, &silent).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let c = outcome
        .report
        .checks
        .iter()
        .find(|c| c.name == "sql: sleeps an hour")
        .unwrap();
    assert_eq!(c.status, Status::Error, "{}", c.detail);
    assert!(
        c.detail.as_str().contains("by the drill's bound"),
        "{}",
        c.detail
    );
    let kept = outcome.kept.expect("the sandbox is kept");
    let engine_kind = kept.engine;
    let mut admin = restore_drill::engine::AnyConnection::connect(engine_kind, &kept.url())
        .await
        .unwrap();
    let running = match engine {
        // An idle session still shows its last query: only a running one counts.
        "postgres" => format!("SELECT count(*)::text FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%{pattern}%' AND pid <> pg_backend_pid()"),
        // INFO is the statement running now (NULL when idle).
        _ => format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{pattern}%' AND ID <> CONNECTION_ID()"),
    };
    assert_eq!(
        admin.integers(&running).await.unwrap(),
        [0],
        "the query still runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_check_stopped_by_the_bound_no_longer_runs_on_the_server() {
    no_session_still_runs("postgres", "pg_sleep(3600)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_check_stopped_by_the_bound_no_longer_runs_on_the_server() {
    no_session_still_runs("mariadb", "SLEEP(3600)").await;
}

#[test]
fn a_mariadb_check_reading_the_servers_accounts_is_refused_naming_the_table() {
    let checks = sql(READS, "SELECT COUNT(*) FROM patients")
        + &sql("reads mysql.user", "SELECT COUNT(*) FROM mysql.user");
    let (r, done) = drill("mariadb", &checks);
    assert_error(
        &r,
        &done,
        "reads mysql.user",
        &["(error 1142) on table mysql.user"],
    );
    assert_passed(&r, READS);
}

#[test]
fn a_mariadb_check_that_lifts_its_time_limit_and_sleeps_is_stopped_by_the_drills_bound() {
    let checks = sql(READS, "SELECT COUNT(*) FROM patients")
        + &sql(
            "sleeps an hour",
            "SET SESSION max_statement_time = 0; SELECT SLEEP(3600)",
        );
    let (r, done) = drill("mariadb", &checks);
    let bound = format!("stopped after {BOUND} s by the drill's bound");
    assert_error(&r, &done, "sleeps an hour", &[&bound, "cancelled"]);
    let secs = check(&r, "sleeps an hour").seconds;
    assert!(
        (BOUND as f64..BOUND as f64 + 15.0).contains(&secs),
        "{secs}"
    );
    assert_passed(&r, READS);
}

#[test]
fn a_mariadb_check_killing_another_checks_session_is_refused_and_the_other_finishes() {
    // The sessions open one after the other, so the victim's connection id
    // is the attacker's less one: the victim takes the first job free.
    let checks = sql(READS, "SELECT SLEEP(4) + COUNT(*) FROM patients")
        + &sql("kills a session", "KILL CONNECTION_ID() - 1");
    let (r, done) = drill("mariadb", &checks);
    assert_error(&r, &done, "kills a session", &["(error 1095)"]);
    assert_passed(&r, READS);
}
