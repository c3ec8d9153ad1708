#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Backups: made the way a clinic makes them, read by the real CLIs, consistent
//! while the clinic keeps writing, and never left half-written.

mod common;

use common::*;
use restore_drill::catalog::Manifest;
use restore_drill::engine::postgres;
use restore_drill::events::silent;
use restore_drill::sandbox::{self, RunId, Sandbox, SandboxSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn only_backup(dir: &Path) -> (PathBuf, Manifest) {
    let files = files_in(dir);
    assert_eq!(
        files.len(),
        2,
        "expected a backup and its manifest: {files:?}"
    );
    let artifact = dir.join(
        files
            .iter()
            .find(|f| f.ends_with(".dump.zst.age"))
            .expect("artifact"),
    );
    let manifest = Manifest::read(&dir.join(format!(
        "{}.manifest.json",
        artifact.file_name().unwrap().to_string_lossy()
    )))
    .expect("manifest");
    (artifact, manifest)
}

fn generate(out: &Path, recipients: &[&str], seed: &str, patients: &str) -> f64 {
    let mut args = vec![
        "fixtures",
        "generate",
        "--out",
        out.to_str().unwrap(),
        "--patients",
        patients,
        "--seed",
        seed,
        "--as-of",
        AS_OF,
    ];
    for r in recipients {
        args.push("--recipient");
        args.push(r);
    }
    let t = Instant::now();
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "fixtures generate failed:\n{stdout}\n{stderr}");
    t.elapsed().as_secs_f64()
}

const CLINIC_TABLES: [&str; 10] = [
    "appointments",
    "eye_exams",
    "insurer_claims",
    "inventory_items",
    "invoice_lines",
    "invoices",
    "patients",
    "payments",
    "prescriptions",
    "stock_moves",
];

#[test]
fn generate_is_deterministic_and_the_real_clis_read_the_backup() {
    let tmp = tempdir();
    let daily = make_key(tmp.path(), "daily.key");
    let escrow = make_key(tmp.path(), "escrow.key");
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    for d in [&a, &b, &c] {
        std::fs::create_dir(d).unwrap();
    }
    let ta = generate(&a, &[&daily.public, &escrow.public], "7", "2000");
    let tb = generate(&b, &[&daily.public], "7", "2000");
    let tc = generate(&c, &[&daily.public], "8", "2000");
    eprintln!("fixtures generate --patients 2000: {ta:.1} s, {tb:.1} s, {tc:.1} s");
    let (art_a, man_a) = only_backup(&a);
    let (_, man_b) = only_backup(&b);
    let (_, man_c) = only_backup(&c);

    // Same seed and date: the same rows, table for table.
    assert_eq!(man_a.tables, man_b.tables);
    // The comparison is not vacuous: another seed changes the content.
    assert_ne!(man_a.tables, man_c.tables);
    let patients = man_a
        .tables
        .iter()
        .find(|t| t.name == "public.patients")
        .expect("patients");
    assert_eq!(patients.rows, 2000);
    assert_eq!(
        man_a.encryption.recipients,
        vec![daily.public.clone(), escrow.public.clone()]
    );

    // The manifest's SHA-256 is sha256sum's.
    let out = Command::new("sha256sum")
        .arg(&art_a)
        .output()
        .expect("sha256sum");
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        line.split_whitespace().next(),
        Some(man_a.artifact.sha256.as_str())
    );
    assert_eq!(
        std::fs::metadata(&art_a).unwrap().len(),
        man_a.artifact.bytes
    );

    // age -d -i KEY FILE | zstd -dc | pg_restore -l, with either key.
    for key in [&daily, &escrow] {
        let listing = Command::new("bash")
            .arg("-c")
            // No pipefail: pg_restore -l stops reading after the table of
            // contents, so age and zstd end on SIGPIPE by design.
            .arg("age -d -i \"$1\" \"$2\" | zstd -dc | pg_restore -l")
            .arg("sh")
            .arg(&key.path)
            .arg(&art_a)
            .output()
            .expect("run the real CLIs");
        assert!(
            listing.status.success(),
            "{:?}: {}",
            listing.status,
            String::from_utf8_lossy(&listing.stderr)
        );
        let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
        for t in &man_a.tables {
            let name = t.name.trim_start_matches("public.");
            assert!(
                listing
                    .lines()
                    .any(|l| l.contains("TABLE DATA public ") && l.contains(&format!(" {name} "))),
                "pg_restore -l does not list {name}:\n{listing}"
            );
        }
        // The whole stream, through the real CLIs, is the dump the manifest describes.
        let whole = Command::new("bash")
            .arg("-c")
            .arg("set -o pipefail; age -d -i \"$1\" \"$2\" | zstd -dc | wc -c")
            .arg("sh")
            .arg(&key.path)
            .arg(&art_a)
            .output()
            .expect("run the real CLIs");
        assert!(
            whole.status.success(),
            "{}",
            String::from_utf8_lossy(&whole.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&whole.stdout).trim(),
            man_a.dump.bytes.to_string()
        );
        for name in CLINIC_TABLES {
            assert!(
                man_a
                    .tables
                    .iter()
                    .any(|t| t.name == format!("public.{name}")),
                "no {name} in manifest"
            );
        }
    }
}

/// A clinic keeps writing during the backup; the restore must match the
/// manifest exactly, because both describe the same snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_restores_to_its_manifest() {
    let source = Source::start(PG15).await;
    restore_drill::workload::generate::load_clinic(
        &source.url(),
        1500,
        3,
        chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .into(),
    )
    .await
    .expect("load clinic");

    // The writer: new appointments and payments as fast as it can, each commit
    // counted, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (url, stop, commits) = (source.url(), stop.clone(), commits.clone());
        tokio::spawn(async move {
            let mut conn = postgres::connect(&url, Duration::from_secs(5))
                .await
                .expect("writer connect");
            while !stop.load(Ordering::Relaxed) {
                sqlx::Executor::execute(
                    &mut conn,
                    "INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
                     SELECT id, timestamptz '2026-11-02 09:00+00', 30, 'follow_up', 'booked', timestamptz '2026-11-01 12:00+00' \
                     FROM patients ORDER BY id LIMIT 1",
                )
                .await
                .expect("writer insert");
                commits.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Let the writer get going, then back up while it runs.
    while commits.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let before = commits.load(Ordering::Relaxed);
    let url = source.url();
    let out2 = out.clone();
    let public = key.public.clone();
    let status = tokio::task::spawn_blocking(move || {
        bin()
            .args([
                "backup",
                "--url",
                &url,
                "--out",
                out2.to_str().unwrap(),
                "--recipient",
                &public,
                "--name",
                "live",
            ])
            .output()
            .expect("backup")
    })
    .await
    .unwrap();
    let during = commits.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    let (code, stdout, stderr) = decode(status);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        during > 0,
        "the writer must have committed during the backup"
    );
    let (artifact, manifest) = only_backup(&out);

    // The live database moved on; the manifest did not.
    let mut live = postgres::connect(&source.url(), Duration::from_secs(5))
        .await
        .unwrap();
    let live_fp = postgres::fingerprint_table(&mut live, "public.appointments")
        .await
        .unwrap();
    let man_fp = manifest
        .tables
        .iter()
        .find(|t| t.name == "public.appointments")
        .unwrap();
    assert!(
        live_fp.rows > man_fp.rows,
        "writes after the snapshot are not in the manifest"
    );

    // Restore into a fresh sandbox and compare every table.
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    let sb = Sandbox::start(
        &docker,
        &run,
        &SandboxSpec::new(restore_drill::engine::EngineKind::Postgres, PG15),
    )
    .await
    .expect("sandbox");
    let keys = Arc::new(vec![
        restore_drill::keys::load_identity_file(&key.path).unwrap()
    ]);
    restore_drill::restore::restore_file(
        &sb,
        &restore_drill::catalog::origin::Origin::File(artifact.clone()),
        keys,
        &silent(),
        Default::default(),
        &restore_drill::restore::Delivery::stream(),
    )
    .await
    .expect("restore");
    let mut conn = postgres::connect(&sb.url(), Duration::from_secs(5))
        .await
        .unwrap();
    let tables = postgres::list_tables(&mut conn).await.unwrap();
    let restored = restore_drill::engine::reader::fingerprint_tables(&mut conn, &tables)
        .await
        .unwrap();
    assert_eq!(restored, manifest.tables);
    sandbox::gc::cleanup_run(&docker, &run).await.unwrap();
    source.remove().await;
}

// ---- bad input: a clear message, the right exit code, nothing left behind ----

fn backup_args<'a>(url: &'a str, out: &'a str, recipient: &'a str) -> Vec<&'a str> {
    vec![
        "backup",
        "--url",
        url,
        "--out",
        out,
        "--recipient",
        recipient,
    ]
}

#[test]
fn unreachable_database_is_an_environment_error_and_leaves_nothing() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Port 1 on loopback: nothing listens there.
    let (code, _, err) = run(&backup_args(
        "postgres://u:secret@127.0.0.1:1/clinic",
        out.to_str().unwrap(),
        &key.public,
    ));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("cannot connect to the database at postgres://u:***@127.0.0.1:1/clinic"),
        "{err}"
    );
    assert!(err.contains("Check that the server is running"), "{err}");
    assert!(
        !err.contains("secret"),
        "the password must not be printed: {err}"
    );
    assert!(files_in(&out).is_empty());
}

/// `backup` with `url` to a fresh folder: exit code and stderr, once it is
/// checked that nothing was written.
fn refused_backup(url: &str) -> (i32, String) {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (code, _, err) = run(&backup_args(url, out.to_str().unwrap(), &key.public));
    assert!(files_in(&out).is_empty());
    (code, err)
}

const POSTGRES_URL_FORM: &str = "postgres://USER:PASSWORD@HOST:PORT/DATABASE";
const MARIADB_URL_FORM: &str = "mariadb://USER:PASSWORD@HOST:PORT/DATABASE";

/// A bad database URL, one test each: exit 2, the URL's expected form shown.
mod a_bad_url {
    use super::*;

    macro_rules! cases {
        ($($name:ident: $url:expr => $form:expr;)+) => {
            $(
                #[test]
                fn $name() {
                    let (code, err) = refused_backup($url);
                    assert_eq!(code, 2, "{err}");
                    assert!(
                        err.contains("invalid database URL") || err.contains("names no database"),
                        "{err}"
                    );
                    assert!(err.contains($form), "{err}");
                }
            )+
        };
    }

    cases! {
        of_another_scheme: "sqlite://clinic.db" => POSTGRES_URL_FORM;
        that_is_not_a_url: "not a url" => POSTGRES_URL_FORM;
        with_a_postgres_port_not_a_number: "postgres://u:p@127.0.0.1:notaport/db" => POSTGRES_URL_FORM;
        with_a_mariadb_port_not_a_number: "mariadb://u:p@127.0.0.1:notaport/db" => MARIADB_URL_FORM;
        naming_no_database: "mysql://u:p@127.0.0.1:3306" => MARIADB_URL_FORM;
    }
}

/// A recipient that is not an age public key, one test each: exit 2, and a
/// secret key given by mistake is never echoed.
mod an_invalid_recipient {
    use super::*;

    /// `backup` with `bad` as its second recipient.
    fn refused(bad: impl Fn(&str) -> String) {
        let tmp = tempdir();
        let key = make_key(tmp.path(), "k");
        let secret = std::fs::read_to_string(&key.path).unwrap();
        let secret = secret
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY"))
            .unwrap()
            .to_string();
        let bad = bad(&secret);
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let url = "postgres://u:p@127.0.0.1:1/db";
        let mut args = backup_args(url, out.to_str().unwrap(), &key.public);
        args.extend(["--recipient", &bad]);
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("invalid age recipient"), "{err}");
        assert!(
            !err.contains(&secret),
            "a secret key must never be echoed: {err}"
        );
        assert!(files_in(&out).is_empty());
    }

    #[test]
    fn that_is_not_a_key() {
        refused(|_| "age1notakey".to_string());
    }

    #[test]
    fn that_is_an_ssh_key() {
        refused(|_| "ssh-rsa AAAA".to_string());
    }

    #[test]
    fn that_is_a_secret_key() {
        refused(str::to_string);
    }
}

/// A folder in `tmp` the (unprivileged) user may not write to.
fn locked_folder(tmp: &Path) -> PathBuf {
    let locked = tmp.join("locked");
    std::fs::create_dir(&locked).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    locked
}

/// `backup --out out` as an unprivileged user: exit code and stderr.
fn backup_as_nobody(out: &Path, recipient: &str) -> (i32, String) {
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_restore-drill"))
        .args(backup_args(
            "postgres://u:p@127.0.0.1:1/db",
            out.to_str().unwrap(),
            recipient,
        ))
        .output()
        .expect("setpriv");
    let (code, _, err) = decode(output);
    (code, err)
}

#[test]
fn an_unwritable_output_directory_is_refused_before_any_work() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let locked = locked_folder(tmp.path());
    let (code, err) = backup_as_nobody(&locked, &key.public);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is not writable"), "{err}");
    assert!(err.contains("choose another --out"), "{err}");
    assert!(files_in(&locked).is_empty());
}

#[test]
fn an_output_directory_that_cannot_be_created_is_refused_before_any_work() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let inside = locked_folder(tmp.path()).join("new");
    let (code, err) = backup_as_nobody(&inside, &key.public);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("cannot create the output directory") && err.contains("Permission denied"),
        "{err}"
    );
    assert!(err.contains("choose another --out"), "{err}");
    assert!(!inside.exists());
}

#[test]
fn an_output_directory_under_a_file_is_an_environment_error() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let (code, _, err) = run(&backup_args(
        "postgres://u:p@127.0.0.1:1/db",
        file.join("backups").to_str().unwrap(),
        &key.public,
    ));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot create the output directory"), "{err}");
    assert!(err.contains("is a file, not a folder"), "{err}");
}

/// The folder is made before the database is touched: owner-only, and the
/// backup and its manifest land in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_output_directory_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let source = Source::start(PG15).await;
    let mut conn = postgres::connect(&source.url(), Duration::from_secs(10))
        .await
        .unwrap();
    sqlx::Executor::execute(
        &mut conn,
        "CREATE TABLE patients (id int PRIMARY KEY); INSERT INTO patients SELECT generate_series(1, 10)",
    )
    .await
    .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("srv").join("backups");
    let args = backup_args(&source.url(), out.to_str().unwrap(), &key.public)
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let (code, stdout, err) = tokio::task::spawn_blocking(move || {
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}\n{err}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
    let (_, manifest) = only_backup(&out);
    assert_eq!(manifest.tables.len(), 1);
    assert_eq!(manifest.tables[0].rows, 10);
    source.remove().await;
}

/// A tmpfs too small for the backup: the write fails mid-stream with ENOSPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_mid_backup_leaves_no_file() {
    let source = Source::start(PG15).await;
    restore_drill::workload::generate::load_clinic(
        &source.url(),
        1000,
        1,
        chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .into(),
    )
    .await
    .expect("load");
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let small = tmp.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=192k", "tmpfs"])
        .arg(&small)
        .status()
        .expect("mount (these tests run as root)");
    assert!(mounted.success(), "mounting a small tmpfs needs root");
    let url = source.url();
    let small2 = small.clone();
    let public = key.public.clone();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(backup_args(&url, small2.to_str().unwrap(), &public))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let left = files_in(&small);
    let _ = Command::new("umount").arg(&small).status();
    let (code, _, err) = decode(out);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("The disk is full"), "{err}");
    assert!(left.is_empty(), "partial files left: {left:?}");
    source.remove().await;
}

/// pg_dump's server connection is terminated while it streams a large table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_failing_halfway_leaves_no_file() {
    let source = Source::start(PG15).await;
    let mut conn = postgres::connect(&source.url(), Duration::from_secs(5))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text);          INSERT INTO big SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 600000) g;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let url = source.url();
    let out2 = out.clone();
    let public = key.public.clone();
    let backup = tokio::task::spawn_blocking(move || {
        bin()
            .args(backup_args(&url, out2.to_str().unwrap(), &public))
            .output()
            .unwrap()
    });
    // Wait until pg_dump is copying the table out, then cut it off.
    let mut killed = 0i64;
    for _ in 0..600 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity              WHERE application_name = 'pg_dump' AND query LIKE 'COPY public.big%'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if n > 0 {
            killed = n;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed > 0, "pg_dump was never seen copying the table");
    let (code, _, err) = decode(backup.await.unwrap());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pg_dump failed"), "{err}");
    assert!(err.contains("the backup was not written"), "{err}");
    assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
    source.remove().await;
}
