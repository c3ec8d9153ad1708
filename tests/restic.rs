#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! A restic repository as the backup location: a drill restores a backup
//! kept in one, `backup --out restic:` writes one the drill restores, and a
//! wrong password, a missing repository or no password at all each get our
//! own message and exit code, never restic's words.

mod common;
#[path = "common/jail.rs"]
mod jail;
#[path = "common/s3.rs"]
mod s3;

use common::*;
use restore_drill::catalog::place::PlaceKind;
use restore_drill::catalog::Manifest;
use restore_drill::checks::Status;
use restore_drill::report::{Report, Verdict};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A restic repository of the test's own, in `dir/repo`, its password in
/// `dir/restic-password` (mode 600, as restic's own docs ask).
struct Repo {
    path: PathBuf,
    password: PathBuf,
    /// restic's HOME: nothing of the machine's own user is read or written.
    home: PathBuf,
    /// AWS credentials for a repository in a bucket (none for a folder).
    aws: Vec<(String, String)>,
}

impl Repo {
    fn init(dir: &Path) -> Repo {
        let home = dir.join("home");
        std::fs::create_dir(&home).unwrap();
        let repo = Repo {
            path: dir.join("repo"),
            password: password_file(dir, "restic-password", "correct horse battery staple"),
            home,
            aws: Vec::new(),
        };
        repo.restic(&["init"]);
        repo
    }

    /// A repository in `bucket` of the test's S3 server, made with its
    /// admin's credentials (the backup job's side).
    fn init_in_bucket(dir: &Path, server: &s3::S3Server, bucket: &str) -> Repo {
        let home = dir.join("home");
        std::fs::create_dir(&home).unwrap();
        let creds = std::fs::read_to_string(server.creds("admin")).unwrap();
        let value = |k: &str| {
            let line = creds.lines().find(|l| l.starts_with(k)).unwrap();
            line.split_once('=').unwrap().1.trim().to_string()
        };
        let repo = Repo {
            path: format!("s3:{}/{bucket}/clinic", server.endpoint).into(),
            password: password_file(dir, "restic-password", "correct horse battery staple"),
            home,
            aws: vec![
                ("AWS_ACCESS_KEY_ID".into(), value("aws_access_key_id")),
                (
                    "AWS_SECRET_ACCESS_KEY".into(),
                    value("aws_secret_access_key"),
                ),
            ],
        };
        repo.restic(&["init"]);
        repo
    }

    /// Runs restic on this repository the way an operator would; its stdout.
    fn restic(&self, args: &[&str]) -> String {
        let out = Command::new("restic")
            .args(["--no-cache", "-r"])
            .arg(&self.path)
            .args(args)
            .env("HOME", &self.home)
            .env("RESTIC_PASSWORD_FILE", &self.password)
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_REPOSITORY")
            .envs(self.aws.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("these tests need restic (tests/run installs it)");
        assert!(
            out.status.success(),
            "restic {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `restic:REPO`, as a scenario or `--out` names it.
    fn location(&self) -> String {
        format!("restic:{}", self.path.display())
    }

    fn snapshots(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.restic(&["snapshots", "--json"])).unwrap()
    }
}

fn password_file(dir: &Path, name: &str, password: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A stand-in `restic` in `dir/bin` running `script`; the PATH that finds
/// it first.
fn fake_restic(dir: &Path, script: &str) -> String {
    let bin_dir = dir.join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let fake = bin_dir.join("restic");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap())
}

/// A fresh fixture in `dir/b` backed up into a fresh repository in `dir`:
/// (the repository, the key, the backup file as generated).
fn fixture_in_restic(dir: &Path) -> (Repo, Key, PathBuf) {
    let key = make_key(dir, "k");
    let backups = dir.join("b");
    generate_fixture(&backups, 300, &[&key]);
    let repo = Repo::init(dir);
    repo.restic(&["backup", "--quiet", backups.to_str().unwrap()]);
    let file = files_in(&backups)
        .into_iter()
        .find(|f| f.ends_with(".age"))
        .unwrap();
    (repo, key, backups.join(file))
}

/// The monthly drill's checks on `location`, with `restic` as the body of
/// `[backups.restic]` (none when empty), written into `dir`.
fn scenario(dir: &Path, location: &str, restic: &str) -> PathBuf {
    let section = match restic {
        "" => String::new(),
        body => format!("[backups.restic]\n{body}\n"),
    };
    let text = format!(
        r#"name = "monthly restore drill from restic"
[backups]
location = "{location}"
{section}
[target]
engine = "postgres"
image = "{PG15}"

[objectives]
rto_seconds = 900
rpo_hours = 26

[checks]
manifest = "required"
foreign_keys = true
invariants = "clinic"
"#
    );
    let path = dir.join("restic-drill.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the drill of `scenario` with `key`; (exit code, stdout, stderr, the
/// report file it wrote into `dir/reports`).
fn drill(dir: &Path, scenario: &Path, key: &Key) -> (i32, String, String, Report) {
    let reports = dir.join("reports");
    let (code, out, err) = run_tracked(&[
        "run",
        scenario.to_str().unwrap(),
        "--identity",
        key.path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--no-history",
    ]);
    let file = files_in(&reports)
        .into_iter()
        .find(|f| f.starts_with("drill-") && f.ends_with(".json") && !f.ends_with(".notify.json"))
        .unwrap_or_else(|| panic!("no report written:\n{out}\n{err}"));
    let report = report_of(&std::fs::read_to_string(reports.join(file)).unwrap());
    (code, out, err, report)
}

/// The report's error: (its kind, its reason), with the exit code it records.
fn error_of(r: &Report, exit: u8) -> (String, String) {
    assert_eq!(r.verdict, Verdict::Error, "{r:?}");
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.exit_code, Some(exit), "{e:?}");
    (e.kind.clone(), e.reason.as_str().to_string())
}

/// A drill that passed, from a restic repository, with its manifest's
/// fingerprints compared; returns the restored backup's SHA-256.
fn assert_passed_from_restic(out: &str, err: &str, r: &Report) -> String {
    assert_eq!(r.verdict, Verdict::Passed, "{out}\n{err}");
    assert!(out.contains("PASSED"), "{out}");
    assert!(
        out.contains("from     the restic repository: "),
        "the summary says where the bytes came from:\n{out}"
    );
    let manifest = r
        .checks
        .iter()
        .find(|c| c.name == "manifest comparison")
        .unwrap_or_else(|| panic!("no manifest comparison in {:?}", r.checks));
    assert_eq!(manifest.status, Status::Passed, "{manifest:?}");
    let backup = r.backup.as_ref().unwrap();
    assert_eq!(backup.location_kind, Some(PlaceKind::Restic), "{backup:?}");
    assert!(backup.manifest, "{backup:?}");
    let network = backup.network_bytes.unwrap();
    assert!(network >= backup.bytes, "{network} < {}", backup.bytes);
    backup.sha256.clone().unwrap()
}

#[test]
fn monthly_drill_passes_from_a_restic_repository() {
    let tmp = tempdir();
    let (repo, key, file) = fixture_in_restic(tmp.path());
    // Relative: the scenario's own folder is where the password file is.
    let scen = scenario(
        tmp.path(),
        &repo.location(),
        "password_file = \"restic-password\"",
    );
    let (code, out, err, r) = drill(tmp.path(), &scen, &key);
    assert_eq!(code, 0, "{out}\n{err}");
    let sha256 = assert_passed_from_restic(&out, &err, &r);
    // Every byte of the backup came over from restic, not just a listing.
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(r.backup.as_ref().unwrap().network_bytes.unwrap() >= size);
    let name = file.file_name().unwrap().to_str().unwrap();
    let manifest = Manifest::read(&file.with_file_name(format!("{name}.manifest.json"))).unwrap();
    assert_eq!(sha256, manifest.artifact.sha256);
}

/// The same drill where nothing over 1 MB can be written on this host: the
/// backup (over 1 MB here) streams out of `restic dump`, never to disk.
#[test]
fn the_restic_drill_writes_nothing_over_1_mb_here() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("b");
    generate_fixture(&backups, 3000, &[&key]);
    let big = files_in(&backups)
        .iter()
        .map(|f| std::fs::metadata(backups.join(f)).unwrap().len())
        .max()
        .unwrap();
    assert!(big > 1 << 20, "the backup is {big} bytes");
    let repo = Repo::init(tmp.path());
    repo.restic(&["backup", "--quiet", backups.to_str().unwrap()]);
    let scen = scenario(
        tmp.path(),
        &repo.location(),
        "password_file = \"restic-password\"",
    );
    let (code, out, err) = jail::jailed_run(&[
        scen.as_os_str(),
        "--identity".as_ref(),
        key.path.as_os_str(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let r = report_of(jail::jailed_report(&out));
    assert_eq!(r.verdict, restore_drill::report::Verdict::Passed);
    assert!(r.backup.unwrap().network_bytes.unwrap() >= big);
}

/// restic's `s3:` repository (the contractor's restic, into a bucket): the
/// drill reads it with the drill's own read-only credentials from
/// `[backups.s3]`, which restic gets in its environment.
#[test]
fn a_restic_repository_in_a_bucket_is_read_with_the_drill_s_credentials() {
    let server = s3::S3Server::start();
    server.bucket("restic-repo", "plain");
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("b");
    generate_fixture(&backups, 300, &[&key]);
    let repo = Repo::init_in_bucket(tmp.path(), &server, "restic-repo");
    repo.restic(&["backup", "--quiet", backups.to_str().unwrap()]);
    let body = format!(
        "password_file = \"restic-password\"\n\n[backups.s3]\ncredentials_file = \"{}\"",
        server.creds("drill").display()
    );
    let scen = scenario(tmp.path(), &repo.location(), &body);
    let (code, out, err, r) = drill(tmp.path(), &scen, &key);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_passed_from_restic(&out, &err, &r);
}

/// A repository of many snapshots is read with a fixed number of restic
/// calls: one `snapshots`, one `find`, never one per snapshot. Each call
/// derives the key and reads the index again, so a call per snapshot made
/// a year of nightly snapshots cost minutes before the restore began.
#[test]
fn a_repository_of_many_snapshots_is_listed_in_two_calls() {
    let tmp = tempdir();
    let (repo, key, _) = fixture_in_restic(tmp.path());
    let backups = tmp.path().join("b");
    for _ in 0..4 {
        repo.restic(&["backup", "--quiet", backups.to_str().unwrap()]);
    }
    assert_eq!(repo.snapshots().len(), 5);
    let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("restic"))
        .find(|p| p.is_file())
        .expect("restic on PATH");
    let log = tmp.path().join("calls.log");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
        log.display(),
        real.display()
    );
    let path = fake_restic(tmp.path(), &script);
    let scen = scenario(
        tmp.path(),
        &repo.location(),
        "password_file = \"restic-password\"",
    );
    let out = bin()
        .args(["run", "--no-history", "--identity"])
        .arg(&key.path)
        .arg("--report-dir")
        .arg(tmp.path().join("reports"))
        .arg(&scen)
        .env("PATH", path)
        .output()
        .unwrap();
    let (code, out, err) = decode(out);
    assert_eq!(code, 0, "{out}\n{err}");
    let calls = std::fs::read_to_string(&log).unwrap();
    let count = |sub: &str| {
        calls
            .lines()
            .filter(|c| c.split_whitespace().any(|w| w == sub))
            .count()
    };
    assert_eq!(
        (count("snapshots"), count("find"), count("ls")),
        (1, 1, 0),
        "{calls}"
    );
}

/// A restic that lists a backup, sends its first 300 KB, then nothing (a
/// repository on a network that hangs): the drill kills it after 30 s of
/// silence and ends as an environment error saying where the download broke.
#[test]
fn a_restic_dump_that_stalls_is_ended_and_said() {
    let tmp = tempdir();
    let name = "clinic-20261204T000000Z.dump.zst.age";
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in\n\
         snapshots) echo '[{{\"id\":\"aaaa\",\"time\":\"2026-12-04T00:00:00Z\"}}]'; exit 0;;\n\
         find) echo '[{{\"matches\":[{{\"path\":\"/b/{name}\",\"type\":\"file\",\"size\":1000000}}],\"hits\":1,\"snapshot\":\"aaaa\"}}]'; exit 0;;\n\
         dump) head -c 300000 \"$STALLING_BACKUP\"; exec sleep 600;;\n\
         esac; done\nexit 1\n"
    );
    let path = fake_restic(tmp.path(), &script);
    password_file(tmp.path(), "restic-password", "whatever");
    let scen = scenario(
        tmp.path(),
        "restic:/nowhere",
        "password_file = \"restic-password\"",
    );
    let reports = tmp.path().join("reports");
    let started = std::time::Instant::now();
    let out = bin()
        .args(["run", "--no-history", "--identity"])
        .arg(&shared_clinic().key.path)
        .arg("--report-dir")
        .arg(&reports)
        .arg(&scen)
        .env("PATH", path)
        .env("STALLING_BACKUP", shared_clinic().backup())
        .output()
        .unwrap();
    let took = started.elapsed();
    let (code, out, err) = decode(out);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(took < std::time::Duration::from_secs(90), "took {took:?}");
    let file = files_in(&reports).into_iter().next().unwrap();
    let r = report_of(&std::fs::read_to_string(reports.join(file)).unwrap());
    let (kind, reason) = error_of(&r, 3);
    assert_eq!(kind, "environment");
    assert!(
        reason.contains("broke after 300000 of 1000000 bytes (timed out)"),
        "{reason}"
    );
}

#[test]
fn a_wrong_restic_password_is_an_environment_error() {
    let tmp = tempdir();
    let (repo, key, _) = fixture_in_restic(tmp.path());
    password_file(tmp.path(), "wrong-password", "Tr0ub4dor&3");
    let scen = scenario(
        tmp.path(),
        &repo.location(),
        "password_file = \"wrong-password\"",
    );
    let (code, out, err, r) = drill(tmp.path(), &scen, &key);
    assert_eq!(code, 3, "{out}\n{err}");
    let (kind, reason) = error_of(&r, 3);
    assert_eq!(kind, "environment");
    assert!(reason.contains("password does not open it"), "{reason}");
    assert!(err.contains("password does not open it"), "{err}");
    // Our words only: restic's own message never reaches the operator.
    for said in [&reason, &err, &out] {
        assert!(!said.contains("no key found"), "{said}");
    }
}

#[test]
fn a_missing_restic_repository_is_an_environment_error() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    password_file(tmp.path(), "restic-password", "whatever");
    let nowhere = format!("restic:{}", tmp.path().join("no-repo-here").display());
    let scen = scenario(tmp.path(), &nowhere, "password_file = \"restic-password\"");
    let (code, out, err, r) = drill(tmp.path(), &scen, &key);
    assert_eq!(code, 3, "{out}\n{err}");
    let (kind, reason) = error_of(&r, 3);
    assert_eq!(kind, "environment");
    assert!(reason.contains("no restic repository there"), "{reason}");
    assert!(err.contains("no restic repository there"), "{err}");
    assert!(!err.contains("Is there a repository"), "{err}");
}

#[test]
fn restic_without_a_password_is_a_usage_error() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let repo = format!("restic:{}", tmp.path().join("repo").display());
    let scen = scenario(tmp.path(), &repo, "");
    let (code, out, err, r) = drill(tmp.path(), &scen, &key);
    assert_eq!(code, 2, "{out}\n{err}");
    let (kind, reason) = error_of(&r, 2);
    assert_eq!(kind, "usage");
    for said in [&reason, &err] {
        assert!(
            said.contains("password_file") && said.contains("password_env"),
            "{said}"
        );
    }
}

/// Runs the binary off the async test's threads (it blocks, and
/// `run_tracked` starts a runtime of its own).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_out_restic_writes_a_backup_the_drill_restores() {
    let source = Source::start(PG15).await;
    let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap();
    restore_drill::workload::generate::load_clinic(&source.url(), 300, 1, as_of.into())
        .await
        .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let repo = Repo::init(tmp.path());
    let args: Vec<String> = [
        "backup",
        "--url",
        &source.url(),
        "--out",
        &repo.location(),
        "--recipient",
        &key.public,
        "--restic-password-file",
        repo.password.to_str().unwrap(),
    ]
    .map(String::from)
    .into();
    let (code, out, err) =
        blocking(move || run(&args.iter().map(String::as_str).collect::<Vec<_>>())).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let printed = out
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .unwrap()
        .trim()
        .to_string();

    // One snapshot for the backup, one for its manifest, both tagged ours.
    let snaps = repo.snapshots();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    let paths: Vec<&str> = snaps
        .iter()
        .filter_map(|s| s["paths"][0].as_str())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with(".dump.zst.age")),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with(".dump.zst.age.manifest.json")),
        "{paths:?}"
    );
    assert!(
        snaps.iter().all(|s| s["tags"][0] == "restore-drill"),
        "{snaps:?}"
    );

    let scen = scenario(
        tmp.path(),
        &repo.location(),
        "password_file = \"restic-password\"",
    );
    let dir = tmp.path().to_path_buf();
    let (code, out, err, r) = blocking(move || drill(&dir, &scen, &key)).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(assert_passed_from_restic(&out, &err, &r), printed);
    source.remove().await;
}

/// A restic that takes nothing in (a repository on a line that hangs):
/// `backup --out restic:` kills it 30 s after the last byte it took and
/// ends as an environment error saying so, instead of waiting forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restic_that_takes_nothing_in_is_ended_after_30_s() {
    let source = Source::start(PG15).await;
    let as_of = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap();
    // Enough that the backup is larger than a pipe holds (64 KiB).
    restore_drill::workload::generate::load_clinic(&source.url(), 1000, 1, as_of.into())
        .await
        .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let script = "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in backup) exec sleep 600;; esac; done\nexit 1\n";
    let path = fake_restic(tmp.path(), script);
    let password = password_file(tmp.path(), "restic-password", "whatever");
    let url = source.url();
    let started = std::time::Instant::now();
    let out = blocking(move || {
        bin()
            .args([
                "backup",
                "--url",
                &url,
                "--out",
                "restic:/nowhere",
                "--recipient",
            ])
            .arg(&key.public)
            .arg("--restic-password-file")
            .arg(&password)
            .env("PATH", path)
            .output()
            .unwrap()
    })
    .await;
    let took = started.elapsed();
    let (code, out, err) = decode(out);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(took < std::time::Duration::from_secs(90), "took {took:?}");
    assert!(
        err.contains("restic took nothing in for 30 s after"),
        "{err}"
    );
    source.remove().await;
}
