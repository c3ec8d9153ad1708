#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! The clinic on MariaDB: the same rows as on PostgreSQL, backups that the real
//! CLIs restore, consistent while the clinic keeps writing, and refused when
//! they could not be.

mod common;

use common::*;
use restore_drill::catalog::Manifest;
use restore_drill::checks::{CheckResult, Status};
use restore_drill::engine::{mariadb, EngineKind};
use restore_drill::pipeline::{DumpFormat, Layer};
use restore_drill::report::facts::{DataPlace, Delivery};
use restore_drill::report::{Report, Verdict};
use restore_drill::sandbox::{self, RunId, Sandbox, SandboxSpec};
use sqlx::Executor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MARIADB: &str = "restore-drill/mariadb:10.11";

fn only_backup(dir: &Path) -> (PathBuf, Manifest) {
    let files = files_in(dir);
    assert_eq!(files.len(), 2, "a backup and its manifest: {files:?}");
    let artifact = dir.join(files.iter().find(|f| f.ends_with(".age")).unwrap());
    let manifest = Manifest::read(&dir.join(format!(
        "{}.manifest.json",
        artifact.file_name().unwrap().to_string_lossy()
    )))
    .unwrap();
    (artifact, manifest)
}

/// A 60-patient clinic of seed 7 as of `as_of` (today when `None`).
fn generate(out: &Path, key: &Key, engine: &str, as_of: Option<&str>) {
    let mut args = vec![
        "fixtures",
        "generate",
        "--engine",
        engine,
        "--out",
        out.to_str().unwrap(),
        "--patients",
        "60",
        "--seed",
        "7",
        "--recipient",
        &key.public,
    ];
    if let Some(d) = as_of {
        args.extend(["--as-of", d]);
    }
    let (code, stdout, stderr) = run(&args);
    assert_eq!(
        code, 0,
        "fixtures generate --engine {engine}:\n{stdout}\n{stderr}"
    );
}

/// A MariaDB sandbox of its own run, removed when the guard drops.
async fn server() -> (bollard::Docker, RunId, Cleanup, Sandbox) {
    let docker = docker().await;
    let run = RunId::new();
    let cleanup = Cleanup::new(&run);
    let sb = Sandbox::start(
        &docker,
        &run,
        &SandboxSpec::new(EngineKind::Mariadb, MARIADB),
    )
    .await
    .expect("start MariaDB");
    (docker, run, cleanup, sb)
}

/// A MariaDB server as [`server`] makes it, with `sql` run in it as root.
async fn server_with(sql: &str) -> (bollard::Docker, RunId, Cleanup, Sandbox) {
    let (docker, run, cleanup, sb) = server().await;
    let mut admin = mariadb::connect(&sb.url(), Duration::from_secs(10))
        .await
        .unwrap();
    admin.execute(sqlx::raw_sql(sql)).await.unwrap();
    (docker, run, cleanup, sb)
}

/// `age -d | zstd -dc | mariadb` into the sandbox: the real CLIs, by hand.
fn restore_by_hand(artifact: &Path, key: &Key, sb: &Sandbox) {
    shell(
        "age -d -i \"$1\" \"$2\" | zstd -dc | docker exec -i \"$3\" mariadb --user=root \"$4\"",
        &[
            key.path.to_str().unwrap(),
            artifact.to_str().unwrap(),
            &sb.container,
            &sb.creds.database,
        ],
    );
}

async fn fingerprints(sb: &Sandbox) -> Vec<restore_drill::engine::TableFingerprint> {
    let mut conn = mariadb::connect(&sb.url(), Duration::from_secs(10))
        .await
        .unwrap();
    let tables = mariadb::list_tables(&mut conn).await.unwrap();
    restore_drill::engine::reader::fingerprint_tables(&mut conn, &tables)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mariadb_clinic_has_postgresqls_rows_and_the_real_clis_restore_its_backup() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let (pg, maria) = (tmp.path().join("pg"), tmp.path().join("maria"));
    let (k1, k2, p2, m2) = (key.clone(), key.clone(), pg.clone(), maria.clone());
    let a = tokio::task::spawn_blocking(move || generate(&p2, &k1, "postgres", Some(AS_OF)));
    let b = tokio::task::spawn_blocking(move || generate(&m2, &k2, "mariadb", Some(AS_OF)));
    a.await.unwrap();
    b.await.unwrap();
    let (_, pg_manifest) = only_backup(&pg);
    let (artifact, manifest) = only_backup(&maria);

    // The same clinic: every table, every row count.
    let counts = |m: &Manifest| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = m
            .tables
            .iter()
            .map(|t| (t.name.trim_start_matches("public.").to_string(), t.rows))
            .collect();
        v.sort();
        v
    };
    assert_eq!(counts(&manifest), counts(&pg_manifest));
    assert_eq!(manifest.tables.len(), 10);
    assert!(
        manifest.tables.iter().all(|t| t.rows > 0),
        "{:?}",
        manifest.tables
    );

    // Described as what it is.
    assert_eq!(manifest.engine, EngineKind::Mariadb);
    assert_eq!(manifest.dump.tool, "mariadb-dump");
    assert!(manifest.dump.consistent_snapshot);
    assert_eq!(
        manifest.artifact.layers,
        vec![Layer::Age, Layer::Zstd, Layer::Dump(DumpFormat::MysqlSql)]
    );
    assert!(
        manifest.server_version.contains("MariaDB"),
        "{}",
        manifest.server_version
    );

    // age and zstd read it, mariadb restores it, and every table fingerprints
    // as its manifest says.
    let (_docker, _run, _cleanup, sb) = server().await;
    restore_by_hand(&artifact, &key, &sb);
    assert_eq!(fingerprints(&sb).await, manifest.tables);

    // The clinic's rules, in MariaDB's dialect, hold on it, read by the
    // checks' user; and they see a broken total.
    let rules = restore_drill::checks::parse_invariants(
        restore_drill::engine::EngineKind::Mariadb.clinic_rules(),
    );
    let named: usize = rules
        .iter()
        .map(|(n, _)| restore_drill::checks::rule_names(n).len())
        .sum();
    assert_eq!(named, 18);
    let mut reader = mariadb::connect(&sb.reader_url(), Duration::from_secs(10))
        .await
        .unwrap();
    for (name, query) in &rules {
        let counts = violations(&mut reader, query).await;
        assert!(counts.iter().all(|v| *v == 0.0), "{name}: {counts:?}");
    }
    let mut admin = mariadb::connect(&sb.url(), Duration::from_secs(10))
        .await
        .unwrap();
    admin
        .execute("UPDATE invoice_lines SET line_total_cents = line_total_cents + 1, unit_price_cents = unit_price_cents + 1 \
                  WHERE quantity = 1 ORDER BY id LIMIT 1")
        .await
        .unwrap();
    let broken: Vec<&str> = {
        let mut v = Vec::new();
        for (name, query) in &rules {
            if violations(&mut reader, query)
                .await
                .iter()
                .any(|v| *v > 0.0)
            {
                v.push(name.as_str());
            }
        }
        v
    };
    assert!(broken.contains(&"invoice_total_equals_lines"), "{broken:?}");
}

/// Every count a rule's query returns (one per rule it decides).
async fn violations(conn: &mut sqlx::MySqlConnection, query: &str) -> Vec<f64> {
    use sqlx::Row;
    let row = conn.fetch_one(sqlx::raw_sql(query)).await.unwrap();
    (0..row.len())
        .map(|k| mariadb::text(&row, k).unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_user_can_read_the_restored_database_and_nothing_more() {
    let (_docker, _run, _cleanup, sb) = server().await;
    let mut admin = mariadb::connect(&sb.url(), Duration::from_secs(10))
        .await
        .unwrap();
    admin
        .execute("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
        .await
        .unwrap();
    admin
        .execute("INSERT INTO notes VALUES (1, 'x')")
        .await
        .unwrap();
    let mut reader = mariadb::connect(&sb.reader_url(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(mariadb::count_rows(&mut reader, "notes").await.unwrap(), 1);
    for write in [
        "INSERT INTO notes VALUES (2, 'y')",
        "DELETE FROM notes",
        "CREATE TEMPORARY TABLE t (id INT)",
        "CREATE TABLE t (id INT)",
    ] {
        let e = reader.execute(write).await.expect_err(write);
        // ER_TABLEACCESS_DENIED_ERROR / ER_DBACCESS_DENIED_ERROR
        assert!(
            matches!(mariadb::error_number(&e), Some(1142 | 1044)),
            "{write}: {e}"
        );
    }
}

/// A clinic on MariaDB that the test can write to while it is backed up.
async fn live_clinic(docker: &bollard::Docker, run: &RunId) -> Sandbox {
    let mut spec = SandboxSpec::new(EngineKind::Postgres, PG15);
    spec.role = "source";
    let generator = Sandbox::start(docker, run, &spec).await.unwrap();
    let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap();
    restore_drill::workload::generate::load_clinic(&generator.url(), 1500, 3, as_of.into())
        .await
        .unwrap();
    let mut spec = SandboxSpec::new(EngineKind::Mariadb, MARIADB);
    spec.role = "source";
    let clinic = Sandbox::start(docker, run, &spec).await.unwrap();
    restore_drill::workload::generate::copy_clinic(docker, &generator.url(), &clinic)
        .await
        .unwrap();
    clinic
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_backup_taken_during_writes_restores_to_its_manifest() {
    let docker = docker().await;
    let clinic_run = RunId::new();
    let _cleanup = Cleanup::new(&clinic_run);
    let clinic = live_clinic(&docker, &clinic_run).await;

    // The writer: an appointment per commit as fast as it can, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (url, stop, commits) = (clinic.url(), stop.clone(), commits.clone());
        tokio::spawn(async move {
            let mut conn = mariadb::connect(&url, Duration::from_secs(5))
                .await
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                conn.execute(
                    "INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
                     SELECT id, '2026-11-02 09:00', 30, 'follow_up', 'booked', '2026-11-01 12:00' \
                     FROM patients ORDER BY id LIMIT 1",
                )
                .await
                .unwrap();
                commits.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while commits.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    let before = commits.load(Ordering::Relaxed);
    // This host's mariadb-dump, over TCP, as at a clinic.
    let (url, out2, public) = (clinic.url(), out.clone(), key.public.clone());
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run(&[
            "backup",
            "--url",
            &url.replacen("mysql://", "mariadb://", 1),
            "--out",
            out2.to_str().unwrap(),
            "--recipient",
            &public,
        ])
    })
    .await
    .unwrap();
    let during = commits.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // The summary names the engine it dumped, not PostgreSQL.
    assert!(stdout.contains("dumped:   MariaDB "), "{stdout}");
    assert!(!stdout.contains("PostgreSQL"), "{stdout}");
    assert!(
        during > 0,
        "the writer must have committed during the backup"
    );
    // The pause is said, in milliseconds.
    let held: u64 = stdout
        .split("commits held: ")
        .nth(1)
        .and_then(|s| s.split(" ms").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pause in:\n{stdout}"));
    eprintln!(
        "commits held {held} ms during a backup of 1500 patients, {during} commits meanwhile"
    );
    let (artifact, manifest) = only_backup(&out);

    // The live clinic moved on; the manifest did not.
    let mut live = mariadb::connect(&clinic.url(), Duration::from_secs(5))
        .await
        .unwrap();
    let now = mariadb::count_rows(&mut live, "appointments")
        .await
        .unwrap();
    let kept = manifest
        .tables
        .iter()
        .find(|t| t.name == "appointments")
        .unwrap();
    assert!(
        now > kept.rows,
        "writes after the snapshot are not in the manifest"
    );

    let (_docker, _run, _cleanup2, sb) = server().await;
    restore_by_hand(&artifact, &key, &sb);
    assert_eq!(fingerprints(&sb).await, manifest.tables);
    sandbox::gc::cleanup_run(&docker, &clinic_run)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_myisam_table_is_refused_as_a_backup_that_would_not_be_consistent() {
    let (_docker, _run, _cleanup, sb) = server().await;
    let mut admin = mariadb::connect(&sb.url(), Duration::from_secs(10))
        .await
        .unwrap();
    admin
        .execute("CREATE TABLE ledger (id INT PRIMARY KEY) ENGINE=MyISAM")
        .await
        .unwrap();
    admin
        .execute("CREATE TABLE patients (id INT PRIMARY KEY) ENGINE=InnoDB")
        .await
        .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = run(&[
        "backup",
        "--url",
        &sb.url(),
        "--out",
        out.to_str().unwrap(),
        "--recipient",
        &key.public,
    ]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains("would not be consistent"), "{stderr}");
    assert!(stderr.contains("ledger (MyISAM)"), "{stderr}");
    assert!(
        !stderr.contains("patients"),
        "only the offending table: {stderr}"
    );
    assert!(stderr.contains("ENGINE=InnoDB"), "the next step: {stderr}");
    assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_in_a_mariadb_url_are_a_usage_error() {
    let (_docker, _run, _cleanup, sb) = server().await;
    // The read-only user with a wrong password (root logs in by the socket
    // as the same user, whatever password is given).
    let url = format!(
        "mariadb://drill_reader:not-the-password@localhost/clinic?socket={}",
        sb.socket_dir.join("mysqld.sock").display()
    );
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = run(&[
        "backup",
        "--url",
        &url,
        "--out",
        out.to_str().unwrap(),
        "--recipient",
        &key.public,
    ]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains("refused the user or password"), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    assert!(files_in(&out).is_empty());
}

fn drill(scenario: &Path, backups: &Path, key: &Key) -> (i32, Report, String) {
    let reports = backups.parent().unwrap().join("reports");
    let (code, out, err) = run_tracked(&[
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
    ]);
    (code, report_of(&out), err)
}

fn check<'a>(r: &'a Report, name: &str) -> &'a CheckResult {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {r:#?}"))
}

/// The first attempt's kind and reason.
fn first_attempt(r: &Report) -> (Option<&str>, &str) {
    let a = r
        .attempts
        .first()
        .unwrap_or_else(|| panic!("no attempt: {r:#?}"));
    (
        a.kind.as_deref(),
        a.reason.as_ref().map_or("", |x| x.as_str()),
    )
}

#[test]
fn the_monthly_drill_passes_on_a_mariadb_clinic_with_every_check() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("backups");
    generate(&backups, &key, "mariadb", None);
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mariadb/monthly-drill.toml");
    let (code, r, err) = drill(&scenario, &backups, &key);
    assert_eq!(code, 0, "{r:#?}\n{err}");
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    // The same report as PostgreSQL's: objectives, phases, evidence, checks.
    assert!(r.rto_seconds.is_some() && r.rpo_seconds.is_some(), "{r:#?}");
    assert!(!r.objectives.is_empty() && !r.phases.is_empty(), "{r:#?}");
    let version = r.target.server_version.as_deref().unwrap_or_default();
    assert!(version.contains("MariaDB"), "{r:#?}");
    // 1 manifest + 1 foreign keys + 18 rules + 2 sql + 2 freshness, every one passed.
    assert_eq!(r.checks.len(), 24, "{r:#?}");
    for c in &r.checks {
        assert_eq!(c.status, Status::Passed, "{c:?}");
    }
    let manifest = check(&r, restore_drill::report::facts::MANIFEST_CHECK)
        .detail
        .as_str();
    assert!(manifest.contains("10 tables"), "{manifest}");
    let fk = check(&r, "referential integrity").detail.as_str();
    assert!(fk.starts_with("13 foreign keys, 0 orphans"), "{fk}");
    assert!(fk.contains("FOREIGN_KEY_CHECKS=0"), "{fk}");
    let restored_as = r.backup.as_ref().and_then(|b| b.restored_as.as_ref());
    assert!(
        matches!(restored_as, Some(Delivery::Stream { .. })),
        "{r:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_behind_a_key_added_without_checks_are_counted_and_named_in_a_hand_made_dump() {
    // A schema restore-drill never saw, with a key added under
    // FOREIGN_KEY_CHECKS=0 over rows that break it: MariaDB never checks them.
    let (_docker, _run, _cleanup, source) = server_with(
        "CREATE TABLE owners (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL) ENGINE=InnoDB; \
         CREATE TABLE pets (id INT PRIMARY KEY, owner_id INT, kind VARCHAR(10)) ENGINE=InnoDB; \
         INSERT INTO owners VALUES (1, 'a'), (2, 'b'); \
         INSERT INTO pets VALUES (1, 1, 'cat'), (2, 2, 'dog'), (3, 7, 'cat'), (4, 8, 'eel'), (5, NULL, 'ant'); \
         SET foreign_key_checks = 0; \
         ALTER TABLE pets ADD CONSTRAINT pets_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id)",
    )
    .await;
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join("vet-20261130T020000Z.sql.gz.age");
    // mariadb-dump | gzip | age, by hand.
    shell(
        "docker exec \"$1\" mariadb-dump --user=root --single-transaction \"$2\" | gzip | age -r \"$3\" > \"$4\"",
        &[
            source.container.as_str(),
            source.creds.database.as_str(),
            key.public.as_str(),
            file.to_str().unwrap(),
        ],
    );
    let scenario = hand_made_scenario(tmp.path(), &backups, "", "foreign_keys = true");
    let (code, r, err) = tokio::task::spawn_blocking({
        let (scenario, backups, key) = (scenario.clone(), backups.clone(), key.clone());
        move || drill(&scenario, &backups, &key)
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{r:#?}\n{err}");
    assert_eq!(r.verdict, Verdict::Failed, "{r:#?}");
    let fk = check(&r, "referential integrity");
    assert_eq!(fk.status, Status::Failed, "{fk:?}");
    let detail = fk.detail.as_str();
    assert!(
        detail.contains("2 orphans across 1 of 1 foreign key"),
        "{detail}"
    );
    assert!(
        detail.contains("pets_owner_fk (pets -> owners): 2 orphans"),
        "{detail}"
    );
    // Counts only: no value of the rows themselves.
    assert!(!detail.contains("eel"), "{detail}");
}

/// A dump of `engine` given to the target of `scenario` (of the other
/// engine): unrecoverable (exit 4), the dump's kind and the target's engine
/// named in `said`.
fn a_dump_of_the_other_engine(engine: &str, scenario: &str, said: &str) {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(scenario);
    let backups = tmp.path().join(engine).join("backups");
    std::fs::create_dir_all(backups.parent().unwrap()).unwrap();
    generate(&backups, &key, engine, None);
    let (code, r, err) = drill(&scenario, &backups, &key);
    assert_eq!(code, 4, "{r:#?}\n{err}");
    assert_eq!(r.verdict, Verdict::Unrecoverable, "{r:#?}");
    let (kind, reason) = first_attempt(&r);
    assert!(reason.contains(said), "{engine}: {reason}");
    assert_eq!(kind, Some("wrong-engine"), "{r:#?}");
}

#[test]
fn a_postgres_dump_on_a_mariadb_target_is_named_and_unrecoverable() {
    a_dump_of_the_other_engine(
        "postgres",
        "mariadb/monthly-drill.toml",
        "it is a pg_dump custom format dump, which a MariaDB target cannot restore",
    );
}

#[test]
fn a_mariadb_dump_on_a_postgres_target_is_named_and_unrecoverable() {
    a_dump_of_the_other_engine(
        "mariadb",
        "monthly-drill.toml",
        "it is a MySQL/MariaDB SQL dump, which a PostgreSQL target cannot restore",
    );
}

/// A dump from a newer server, in syntax this target refuses (MySQL 8's
/// default collation, unknown to MariaDB): the restore stops at that line,
/// unrecoverable, with the server's error and where.
#[test]
fn a_dump_in_syntax_the_target_refuses_stops_at_its_line() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let dump = "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n\
                -- Host: localhost    Database: clinic\n\
                /*!40101 SET NAMES utf8mb4 */;\n\
                DROP TABLE IF EXISTS `patients`;\n\
                CREATE TABLE `patients` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n\
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n\
                INSERT INTO `patients` VALUES (1),(2);\n\
                -- Dump completed on 2026-11-30  2:00:00\n";
    let (backups, _) = hand_made_backup_to(
        dump.as_bytes(),
        "clinic-20261130T020000Z.sql.zst.age",
        tmp.path(),
        &key.public,
    );
    let scenario = hand_made_scenario(tmp.path(), &backups, "", "");
    let (code, r, err) = drill(&scenario, &backups, &key);
    assert_eq!(code, 4, "{r:#?}\n{err}");
    assert_eq!(r.verdict, Verdict::Unrecoverable, "{r:#?}");
    let (_, reason) = first_attempt(&r);
    assert!(
        reason.contains("ER_UNKNOWN_COLLATION (error 1273, SQLSTATE HY000) at line 6"),
        "{reason}"
    );
    // The failing statement is not echoed: in a real dump it is an INSERT
    // full of patient data.
    assert!(!reason.contains("CREATE TABLE"), "{reason}");
}

/// A dump that asks the client to run a program (`system`, which
/// mariadb-dump never writes): the client's sandbox mode refuses it at its
/// line, the drill calls the backup unrecoverable (`dump-runs-programs`,
/// exit 4), and in a sandbox kept for a look inside nothing ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_running_a_program_is_refused_at_its_line_and_nothing_runs() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let dump =
        "-- MariaDB dump 10.19  Distrib 10.11.14-MariaDB, for debian-linux-gnu (x86_64)\n--\n\
                -- Host: localhost    Database: clinic\n\
                CREATE TABLE `patients` (`id` int NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB;\n\
                INSERT INTO `patients` VALUES (1),(2);\n\
                system touch /tmp/pwned-by-system\n\
                -- Dump completed on 2026-11-30  2:00:00\n";
    let (backups, file) = hand_made_backup_to(
        dump.as_bytes(),
        "clinic-20261130T020000Z.sql.zst.age",
        tmp.path(),
        &key.public,
    );
    let scenario = hand_made_scenario(tmp.path(), &backups, "", "");
    let (b, k) = (backups.clone(), key.path.clone());
    let (code, r, err) = tokio::task::spawn_blocking(move || {
        let key = Key {
            path: k,
            public: String::new(),
        };
        drill(&scenario, &b, &key)
    })
    .await
    .unwrap();
    assert_eq!(code, 4, "{r:#?}\n{err}");
    let (kind, reason) = first_attempt(&r);
    assert_eq!(kind, Some("dump-runs-programs"), "{r:#?}");
    assert!(reason.contains("at line 6"), "{reason}");

    let (docker, _run, _cleanup, sb) = server().await;
    let keys = Arc::new(vec![
        restore_drill::keys::load_identity_file(&key.path).unwrap()
    ]);
    let events: restore_drill::events::Events = Arc::new(restore_drill::events::Silent);
    let restored = restore_drill::restore::restore_file(
        &sb,
        &restore_drill::catalog::origin::Origin::File(file.clone()),
        keys,
        &events,
        Default::default(),
        &restore_drill::restore::Delivery::stream(),
    )
    .await;
    match restored {
        Err(restore_drill::restore::RestoreError::Unusable(u)) => {
            assert_eq!(u.kind(), "dump-runs-programs", "{u}")
        }
        other => panic!("not refused: {other:?}"),
    }
    let look = sandbox::exec(
        &docker,
        &sb.container,
        sandbox::ExecRequest::new(["test", "-e", "/tmp/pwned-by-system"]),
    )
    .await
    .unwrap();
    assert!(!look.succeeded(), "the dump's `system` ran");
}

/// The one-off `restore` picks the engine from the dump: a MariaDB backup
/// restores into the MariaDB image without being told.
#[test]
fn restore_takes_a_mariadb_backup_into_a_mariadb_sandbox() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("backups");
    generate(&backups, &key, "mariadb", None);
    let (artifact, _) = only_backup(&backups);
    let (code, out, err) = run_tracked(&[
        "restore",
        artifact.to_str().unwrap(),
        "--identity",
        key.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("(age -> zstd -> MySQL/MariaDB SQL) into restore-drill/mariadb:10.11"),
        "{out}"
    );
}

/// A drill scenario of a hand-made `backups` folder on MariaDB 10.11 (a file
/// of its own in `dir`): `target` lines added to `[target]`, `checks` to
/// `[checks]` after `manifest = "if-present"` (hand-made dumps have none).
fn hand_made_scenario(dir: &Path, backups: &Path, target: &str, checks: &str) -> PathBuf {
    let scenario = dir.join(format!("s{}.toml", files_in(dir).len()));
    std::fs::write(
        &scenario,
        format!(
            "name = \"hand-made\"\n[backups]\nlocation = \"{}\"\n[target]\nengine = \"mariadb\"\nimage = \"{MARIADB}\"\n{target}\n\
             [checks]\nmanifest = \"if-present\"\n{checks}\n",
            backups.display()
        ),
    )
    .unwrap();
    scenario
}

/// Hand-made dumps of several databases: `mariadb-dump --databases`
/// (zstd, age, `--single-transaction`) and `mysqldump --databases` (plain,
/// neither): the drill checks the database the scenario names, and one it
/// does not find is named with the databases the dump did hold, unrecoverable
/// (exit 4). A dump of the whole server (`--all-databases`) restores, and the
/// database the scenario names is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_of_several_databases_is_checked_in_the_one_the_scenario_names() {
    let (_docker, _run, _cleanup, source) = server_with(
        "CREATE DATABASE opendental; CREATE DATABASE billing; \
         CREATE TABLE opendental.owners (id INT PRIMARY KEY) ENGINE=InnoDB; \
         CREATE TABLE opendental.pets (id INT PRIMARY KEY, owner_id INT NOT NULL, \
           FOREIGN KEY (owner_id) REFERENCES opendental.owners (id)) ENGINE=InnoDB; \
         INSERT INTO opendental.owners VALUES (1), (2); \
         INSERT INTO opendental.pets VALUES (1, 1), (2, 2), (3, 2); \
         CREATE TABLE billing.ledger (id INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO billing.ledger VALUES (1)",
    )
    .await;
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let [several, plain, all] = ["several", "plain", "all"].map(|d| tmp.path().join(d));
    for d in [&several, &plain, &all] {
        std::fs::create_dir(d).unwrap();
    }
    let file = |d: &Path, ext: &str| d.join(format!("od-20261130T020000Z.{ext}"));
    shell(
        "docker exec \"$1\" mariadb-dump --user=root --single-transaction --databases opendental billing | zstd -q | age -r \"$2\" > \"$3\"; \
         docker exec \"$1\" mysqldump --user=root --databases billing opendental > \"$4\"; \
         docker exec \"$1\" mysqldump --user=root --all-databases > \"$5\"",
        &[
            source.container.as_str(),
            key.public.as_str(),
            file(&several, "sql.zst.age").to_str().unwrap(),
            file(&plain, "sql").to_str().unwrap(),
            file(&all, "sql").to_str().unwrap(),
        ],
    );
    let drill_of = |backups: &Path, extra: &str| {
        let checks = "foreign_keys = true\n[[checks.sql]]\nname = \"every pet\"\n\
                      query = \"SELECT COUNT(*) FROM pets\"\nexpect = { equals = 3 }";
        let scenario = hand_made_scenario(tmp.path(), backups, extra, checks);
        let (backups, key) = (backups.to_path_buf(), key.clone());
        tokio::task::spawn_blocking(move || drill(&scenario, &backups, &key))
    };
    let named = "database = \"opendental\"";
    for backups in [&several, &plain] {
        let (code, r, err) = drill_of(backups, named).await.unwrap();
        assert_eq!(code, 0, "{}: {r:#?}\n{err}", backups.display());
        assert_eq!(check(&r, "sql: every pet").status, Status::Passed, "{r:#?}");
        let fk = check(&r, "referential integrity").detail.as_str();
        assert!(fk.starts_with("1 foreign key, 0 orphans"), "{fk}");
    }
    // Without the key, or with a name the dump lacks: nothing to check.
    for (extra, wanted) in [("", "clinic"), ("database = \"opendentl\"", "opendentl")] {
        let (code, r, err) = drill_of(&several, extra).await.unwrap();
        assert_eq!(code, 4, "{extra}: {r:#?}\n{err}");
        assert_eq!(r.verdict, Verdict::Unrecoverable, "{r:#?}");
        let (kind, reason) = first_attempt(&r);
        assert_eq!(kind, Some("database-not-in-dump"), "{r:#?}");
        assert!(
            reason.contains(&format!(
                "it restored no table into the database \"{wanted}\": its tables went into billing, opendental"
            )),
            "{reason}"
        );
        assert!(
            reason.ends_with("[target] section (`database`, a key of its own)"),
            "{reason}"
        );
    }
    // A dump of the whole server restores into a new MariaDB whose data
    // directory is a real file system (the sandbox's tmpfs, as ext4 does):
    // only on fuse-overlayfs storage did its `mysql.user` view come back as
    // ER_TABLE_EXISTS_ERROR (server-accounts-view, still named if it does).
    let (code, r, err) = drill_of(&all, named).await.unwrap();
    let place = r.backup.as_ref().and_then(|b| b.restored_data.as_ref());
    assert!(matches!(place, Some(DataPlace::Memory { .. })), "{r:#?}");
    assert_eq!(code, 0, "{r:#?}\n{err}");
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
}

/// Custom checks whose MariaDB errors would quote a surname: a SIGNAL whose
/// message is the surname, and a table named after it (`Table
/// 'O'Brien-Hartley.t' doesn't exist`). Each is an error naming its code;
/// neither the report nor the terminal holds any part of the name.
#[test]
fn mariadb_errors_quoting_a_surname_name_only_their_codes() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("backups");
    generate(&backups, &key, "mariadb", None);
    let checks = "\n[[checks.sql]]\nname = \"signalled surname\"\n\
        query = '''BEGIN NOT ATOMIC DECLARE v VARCHAR(200); \
        SELECT last_name INTO v FROM patients WHERE id = 1; \
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v; END'''\nexpect = { at_least = 0 }\n\
        \n[[checks.sql]]\nname = \"surname as a table\"\n\
        query = '''EXECUTE IMMEDIATE CONCAT('SELECT 1 FROM `', \
        (SELECT last_name FROM patients WHERE id = 1), '`.t')'''\nexpect = { at_least = 0 }\n";
    let scenario = hand_made_scenario(tmp.path(), &backups, "", checks);
    let (code, r, err) = drill(&scenario, &backups, &key);
    assert_eq!(
        code, 2,
        "checks in error are a broken scenario: {r:#?}\n{err}"
    );
    let signalled = check(&r, "sql: signalled surname");
    assert_eq!(signalled.status, Status::Error, "{signalled:?}");
    assert!(
        signalled.detail.as_str().contains("SQLSTATE 45000"),
        "{signalled:?}"
    );
    assert_eq!(
        check(&r, "sql: surname as a table").status,
        Status::Error,
        "{r:#?}"
    );
    for text in [r.to_json(), err] {
        for v in ["Brien", "Hartley"] {
            assert!(!text.contains(v), "{v} in {text}");
        }
    }
}
