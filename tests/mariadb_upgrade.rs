#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Upgrading a MariaDB clinic from 10.11 to 11: a backup made on 10.11 passes
//! its manifest on 11 (the fingerprints mean the same on both), and the
//! before-upgrade comparison restores it into both side by side, in real
//! containers, with the shipped scenario and query file; bad inputs are
//! refused with their place.

mod common;

use common::*;
use restore_drill::checks::Status;
use restore_drill::compare::model::{
    CompareVerdict, ComparisonReport, ItemKind, ItemStatus, QueryRun, RestoreOutcome,
};
use restore_drill::report::Verdict;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MARIADB_10: &str = "restore-drill/mariadb:10.11";
const MARIADB_11: &str = "restore-drill/mariadb:11";
/// The longest a drill or comparison of the small clinic may take.
const LIMIT: Duration = Duration::from_secs(300);
const PATIENTS: u32 = 200;

/// A MariaDB clinic made by `fixtures generate` on 10.11, shared by every
/// test process of one build on one day (nextest runs each test in a process
/// of its own), like the shared PostgreSQL clinic.
struct Clinic {
    backups: PathBuf,
    key: Key,
}

fn clinic() -> &'static Clinic {
    static CLINIC: std::sync::OnceLock<Clinic> = std::sync::OnceLock::new();
    CLINIC.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).unwrap();
        let bin = std::fs::metadata(env!("CARGO_BIN_EXE_restore-drill")).unwrap();
        let built = bin
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let today = chrono::Utc::now().format("%Y%m%d");
        let dir = base.join(format!("mariadb-upgrade-clinic-{built}-{today}"));
        let lock = std::fs::File::create(base.join("mariadb-upgrade-clinic.lock")).unwrap();
        let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .unwrap();
        if !dir.join("ready").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            let key = make_key(&dir, "k");
            std::fs::write(dir.join("k.pub"), &key.public).unwrap();
            generate_fixture_on("mariadb", &dir.join("b"), PATIENTS, &[&key]);
            std::fs::write(dir.join("ready"), b"").unwrap();
        }
        let public = std::fs::read_to_string(dir.join("k.pub")).unwrap();
        Clinic {
            backups: dir.join("b"),
            key: Key {
                path: dir.join("k"),
                public: public.trim().to_string(),
            },
        }
    })
}

/// `run` of a comparison `scenario` on the clinic: what the person reads and
/// the comparison report it wrote, read back.
fn run_on_clinic(scenario: &Path) -> (Finished, ComparisonReport) {
    let (f, text) = report_file_on_clinic(scenario);
    (f, comparison_of(&text))
}

/// `run` of `scenario` on the clinic: what the person reads and the text of
/// the report file it wrote. Fails the test if it hangs or leaves a container
/// behind.
fn report_file_on_clinic(scenario: &Path) -> (Finished, String) {
    let c = clinic();
    let reports = tempdir().keep().join("reports");
    let f = run_tracked_within(
        &[
            "run".as_ref(),
            scenario.as_os_str(),
            "--backups".as_ref(),
            c.backups.as_os_str(),
            "--identity".as_ref(),
            c.key.path.as_os_str(),
            "--report-dir".as_ref(),
            reports.as_os_str(),
            "--no-history".as_ref(),
        ],
        LIMIT,
    );
    let files = files_in(&reports);
    assert_eq!(files.len(), 1, "one report: {files:?}\n{}", f.stderr);
    let text = std::fs::read_to_string(reports.join(&files[0])).unwrap();
    let _ = std::fs::remove_dir_all(reports.parent().unwrap());
    (f, text)
}

fn shipped(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn a_backup_made_on_10_11_passes_its_manifest_on_11() {
    let tmp = tempdir();
    let scenario = tmp.path().join("on-11.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"drill on 11\"\n[backups]\nlocation = \"b\"\n\
             [target]\nengine = \"mariadb\"\nimage = \"{MARIADB_11}\"\nmemory_mb = 1024\n\
             [checks]\nmanifest = \"required\"\nforeign_keys = true\ninvariants = \"clinic\"\n"
        ),
    )
    .unwrap();
    let (f, text) = report_file_on_clinic(&scenario);
    assert_eq!(f.code, 0, "{}\n{}", f.stdout, f.stderr);
    let r = report_of(&text);
    assert_eq!(r.verdict, Verdict::Passed, "{text}");
    let version = r.target.server_version.as_deref().unwrap();
    assert!(version.starts_with("11."), "{version}");
    let manifest = r
        .checks
        .iter()
        .find(|c| c.name == "manifest comparison")
        .unwrap();
    assert_eq!(manifest.status, Status::Passed, "{manifest:?}");
    // Every table's count and fingerprint, taken on 10.11, holds on 11.
    let detail = manifest.detail.as_str();
    assert!(detail.contains("10 tables"), "{detail}");
    for c in &r.checks {
        assert_eq!(c.status, Status::Passed, "{c:?}");
    }
}

/// The comparison of the shipped scenario, with its query file.
#[test]
fn ten_eleven_and_eleven_agree_on_the_clinic_side_by_side() {
    let (f, r) = run_on_clinic(&shipped("scenarios/mariadb/upgrade-check.toml"));
    assert_eq!(f.code, 0, "{}\n{}", f.stdout, f.stderr);
    assert_eq!(r.kind, "comparison");
    assert_eq!(r.verdict, CompareVerdict::Compatible, "{}", f.stdout);
    assert_eq!(r.baseline, MARIADB_10);
    let targets = &r.targets;
    assert_eq!(targets.len(), 2);
    for (t, version) in targets.iter().zip(["10.11.", "11."]) {
        assert!(
            matches!(t.restore, RestoreOutcome::Restored { .. }),
            "{t:?}"
        );
        let v = t.server_version.as_deref().unwrap();
        assert!(v.starts_with(version) && v.contains("MariaDB"), "{v}");
        // Checks ran on each, every one passed.
        let checks = &t.checks;
        assert!(checks.len() >= 20, "{checks:?}");
        for c in checks {
            assert_eq!(c.status, Status::Passed, "{}: {c:?}", t.image);
        }
        // The statistics were gathered, and timed, before the queries.
        let phases: Vec<&str> = t.phases.iter().map(|p| p.name.as_str()).collect();
        assert!(phases.contains(&"analyze"), "{phases:?}");
    }
    let manifest = item_of(&r, ItemKind::Check, "manifest comparison");
    assert_eq!(manifest.status, ItemStatus::Equal, "{manifest:?}");
    every_shipped_query_is_answered_alike(&r);
    for kind in ["tables", "indexes", "constraints"] {
        let it = item_of(&r, ItemKind::Schema, kind);
        assert_eq!(it.status, ItemStatus::Equal, "{it:?}");
        assert_ne!(it.values[0], "0", "{it:?}");
    }
    let innodb = item_of(&r, ItemKind::Extension, "storage engine InnoDB");
    assert_eq!(innodb.status, ItemStatus::Equal, "{innodb:?}");
    assert_eq!(innodb.values[0], "10 tables", "{innodb:?}");
    let collation = item_of(&r, ItemKind::Collation, "utf8mb4_unicode_ci");
    assert_eq!(collation.status, ItemStatus::Equal, "{collation:?}");
    // mariadb-dump read the baseline: the first half of a dump-and-restore upgrade.
    assert!(
        r.baseline_dump_seconds.unwrap() > 0.0,
        "{:?}",
        r.baseline_dump_seconds
    );
    assert!(
        f.stdout.contains("an upgrade by dump and restore: about"),
        "{}",
        f.stdout
    );
    assert!(f.stdout.contains(": COMPATIBLE"), "{}", f.stdout);
}

/// Every query of the shipped MariaDB file answered alike and timed three
/// times on both targets; the day sheet has appointments.
fn every_shipped_query_is_answered_alike(r: &ComparisonReport) {
    let names = every_query_answered_alike_in(r, "fixtures/clinic-app-queries-mariadb.sql");
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(
        first_query_rows(&r.targets[0]) > 0,
        "the day sheet has appointments"
    );
}

/// A comparison of the two images with `queries` as its query file and
/// `extra` lines in `[compare]`.
fn with_queries(dir: &Path, queries: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("q.sql"), queries).unwrap();
    let path = dir.join("compare.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"test comparison\"\n[backups]\nlocation = \"b\"\n\
             [target]\nengine = \"mariadb\"\nmemory_mb = 1024\n\
             [compare]\ntargets = [\"{MARIADB_10}\", \"{MARIADB_11}\"]\nqueries = \"q.sql\"\n{extra}\n\
             [checks]\nmanifest = \"required\"\nforeign_keys = false\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_query_with_a_syntax_error_names_its_file_and_line_on_mariadb() {
    let tmp = tempdir();
    let path = with_queries(
        tmp.path(),
        "-- query: patients\nSELECT COUNT(*) FROM patients\n\n\
         -- query: day sheet\nSELECT id\nFORM appointments\n",
        "",
    );
    let (f, r) = run_on_clinic(&path);
    assert_eq!(f.code, 2, "{}\n{}", f.stdout, f.stderr);
    let reason = r.error.as_ref().unwrap().reason.as_str();
    let q = tmp.path().join("q.sql");
    assert!(
        reason.starts_with(&format!(
            "{}:6: the query `day sheet` fails on the baseline",
            q.display()
        )),
        "{reason}"
    );
    assert!(reason.contains("SQLSTATE 42000"), "{reason}");
    assert_eq!(r.error.as_ref().unwrap().exit_code, Some(2));
}

#[test]
fn a_query_that_writes_is_refused_by_the_read_only_user_on_mariadb() {
    let tmp = tempdir();
    let path = with_queries(
        tmp.path(),
        "-- query: tidy up\nDELETE FROM appointments WHERE id < 0\n",
        "",
    );
    let (f, r) = run_on_clinic(&path);
    assert_eq!(f.code, 2, "{}\n{}", f.stdout, f.stderr);
    let reason = r.error.as_ref().unwrap().reason.as_str();
    assert!(
        reason.contains("tries to change the restored database"),
        "{reason}"
    );
    let run = &r.targets[0].queries[0].run;
    assert!(
        matches!(
            run,
            QueryRun::Failed {
                refused_write: true,
                ..
            }
        ),
        "{run:?}"
    );
}

/// MariaDB's own limit (max_statement_time) ends the query, not the client's
/// grace period after it.
#[test]
fn a_query_over_the_time_limit_is_cancelled_and_reported_on_mariadb() {
    let tmp = tempdir();
    let path = with_queries(
        tmp.path(),
        "-- query: slow report\nSELECT SLEEP(30)\n",
        "query_timeout_seconds = 1",
    );
    let (f, r) = run_on_clinic(&path);
    assert_eq!(f.code, 1, "{}\n{}", f.stdout, f.stderr);
    assert!(f.elapsed < Duration::from_secs(60), "{:?}", f.elapsed);
    let it = item_of(&r, ItemKind::Query, "slow report");
    assert_eq!(it.status, ItemStatus::Unknown, "{it:?}");
    assert_eq!(it.values[0], "cancelled after 1 s", "{it:?}");
    assert_eq!(it.values[1], "cancelled after 1 s", "{it:?}");
    let run = &r.targets[1].queries[0].run;
    assert!(matches!(run, QueryRun::TimedOut { .. }), "{run:?}");
}

/// One backup goes into versions of one engine: a PostgreSQL image in a
/// MariaDB comparison is refused at its line before anything starts.
#[test]
fn a_comparison_mixing_engines_is_refused_before_anything_starts() {
    let tmp = tempdir();
    let path = with_queries(
        tmp.path(),
        "-- query: patients\nSELECT COUNT(*) FROM patients\n",
        "",
    );
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(MARIADB_11, PG17);
    std::fs::write(&path, text).unwrap();
    for args in [
        vec!["validate", path.to_str().unwrap()],
        vec!["run", path.to_str().unwrap(), "--backups", "nowhere"],
    ] {
        let (code, out, err) = run_tracked(&args);
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        let at = format!("{}:8:11: [compare] targets names {PG17}", path.display());
        assert!(err.contains(&at), "{args:?}: {err}");
        assert!(
            err.contains("a PostgreSQL image, but the scenario's engine is MariaDB"),
            "{err}"
        );
    }
}
