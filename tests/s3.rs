//! Backups in an S3-compatible bucket (moto on 127.0.0.1, IAM enforced): the
//! monthly drill from a bucket, with nothing over 1 MB written on this host;
//! the bucket's reach measured; the ransomware rehearsal restoring from a
//! locked offsite bucket, and the evidence pack's offline/segregated answer
//! following what was measured; `backup --out s3://`; and each bad input
//! with its message, kind and exit code.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;
#[path = "common/jail.rs"]
mod jail;
#[path = "common/s3.rs"]
mod s3;

use common::*;
use restore_drill::report::Verdict;
use s3::{DroppingServer, S3Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A scenario folder: the scenario's text refers to files beside it.
struct Setup {
    dir: tempfile::TempDir,
    /// The identity the scenario decrypts with.
    key: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempdir(),
            key: shared_clinic().key.path.clone(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Credentials for tests/s3/dropping.py, which takes any.
    fn any_credentials(&self) -> PathBuf {
        let creds = self.path("any.credentials");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = A\naws_secret_access_key = B\n",
        )
        .expect("write");
        chmod_600(&creds);
        creds
    }

    /// A monthly drill from `location` (and `offsite`), reaching buckets at
    /// `endpoint` with `creds` (and `production`); `extra` is appended.
    fn scenario(&self, location: &str, s3: &str, extra: &str) -> PathBuf {
        let key = self.key.display().to_string();
        let text = format!(
            r#"name = "monthly drill from a bucket"
site = "Bucket Optometry"

[backups]
location = "{location}"
{extra}

[backups.s3]
{s3}

[keys]
identities = ["{key}"]

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
        let path = self.path("scenario.toml");
        std::fs::write(&path, text).expect("write the scenario");
        path
    }
}

/// `[backups.s3]` for `server` with the drill's credentials, and the
/// production ones when asked.
fn reach(server: &S3Server, production: bool) -> String {
    let mut s = format!(
        "endpoint = \"{}\"\nregion = \"us-east-1\"\ncredentials_file = \"{}\"\n",
        server.endpoint,
        server.creds("drill").display()
    );
    if production {
        s.push_str(&format!(
            "production_credentials_file = \"{}\"\n",
            server.creds("production").display()
        ));
    }
    s
}

/// A bucket of `mode` holding the shared clinic's backup under `clinic/`.
fn bucket_with_clinic(server: &S3Server, name: &str, mode: &str) {
    server.bucket(name, mode);
    server.upload_dir(name, "clinic", &shared_clinic().backups);
}

fn drill(scenario: &Path, reports: &Path, more: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "run".to_string(),
        scenario.display().to_string(),
        "--no-history".into(),
        "--report-dir".into(),
        reports.display().to_string(),
    ];
    args.extend(more.iter().map(|s| s.to_string()));
    run_tracked(&args)
}

/// The one report a run left in `dir`.
fn report_in(dir: &Path) -> (restore_drill::report::Report, serde_json::Value) {
    let file = files_in(dir)
        .into_iter()
        .find(|f| f.ends_with(".json"))
        .unwrap_or_else(|| panic!("no report in {}", dir.display()));
    let text = std::fs::read_to_string(dir.join(file)).expect("read the report");
    (report_of(&text), serde_json::from_str(&text).expect("json"))
}

fn manifest_sha(backups: &Path) -> String {
    let manifest = files_in(backups)
        .into_iter()
        .find(|f| f.ends_with(".manifest.json"))
        .expect("a manifest");
    let text = std::fs::read(backups.join(manifest)).expect("read");
    let m: serde_json::Value = serde_json::from_slice(&text).expect("json");
    m["artifact"]["sha256"].as_str().expect("sha").to_string()
}

#[test]
fn the_monthly_drill_passes_from_a_bucket_writing_nothing_over_1_mb_here() {
    let server = S3Server::start();
    server.bucket("nightly", "locked");
    // A clinic whose backup is over 1 MB, so that a copy of it on this
    // host's disk could not hide in the jail's small folder.
    let mut setup = Setup::new();
    let key = make_key(setup.dir.path(), "k");
    let backups = setup.path("backups");
    generate_fixture(&backups, 3000, &[&key]);
    setup.key = key.path.clone();
    server.upload_dir("nightly", "clinic", &backups);
    let size = files_in(&backups)
        .iter()
        .map(|f| std::fs::metadata(backups.join(f)).expect("size").len())
        .max()
        .expect("a backup");
    assert!(size > 1 << 20, "the backup is {size} bytes");
    let scenario = setup.scenario("s3://nightly/clinic", &reach(&server, true), "");
    let (code, out, err) = jail::jailed_run(&[&scenario]);
    assert_eq!(code, 0, "{out}\n{err}");
    let json = jail::jailed_report(&out);
    let r = report_of(json);
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    assert_eq!(r.verdict, Verdict::Passed, "{out}");
    let backup = &v["backup"];
    assert_eq!(backup["location_kind"], "s3");
    assert!(backup["network_bytes"].as_u64().expect("network bytes") >= size);
    assert_eq!(
        backup["sha256"].as_str(),
        Some(manifest_sha(&backups).as_str())
    );
    let manifest_check = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("manifest"))
        })
        .expect("the manifest check");
    assert_eq!(manifest_check["status"], "passed", "{manifest_check}");
    // The restore phase streamed the download: RTO is at least that phase.
    let restore = r
        .phases
        .iter()
        .find(|p| p.name == "restore")
        .expect("a restore phase");
    assert!(r.rto_seconds.expect("rto") >= restore.seconds);
    assert!(out.contains("from     the S3 bucket:"), "{out}");
}

#[test]
fn the_jail_refuses_a_file_over_1_mb() {
    assert_eq!(jail::jail_refuses_a_big_file(), Some(7));
}

#[test]
fn the_bucket_s_reach_is_measured_and_its_scratch_object_removed() {
    let server = S3Server::start();
    bucket_with_clinic(&server, "nightly", "locked");
    let setup = Setup::new();
    let scenario = setup.scenario("s3://nightly/clinic", &reach(&server, true), "");
    let reports = setup.path("reports");
    let (code, out, err) = drill(&scenario, &reports, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, v) = report_in(&reports);
    let p = &v["protection"][0];
    assert_eq!(p["location"], "primary");
    assert_eq!(p["versioning"], true);
    assert_eq!(p["object_lock"]["mode"], "COMPLIANCE");
    assert_eq!(p["retention"][0]["mode"], "COMPLIANCE", "{p}");
    assert!(p["retention"][0]["until"].is_string(), "{p}");
    assert_eq!(p["probe"]["outcome"], "refused", "{p}");
    assert_eq!(p["tried_as"], "production");
    assert_eq!(p["verdict"], "out-of-reach");
    // Only the backup and its manifest: the scratch object is gone.
    let left = server.list("nightly", "");
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn production_credentials_that_can_delete_put_the_copy_in_reach() {
    let server = S3Server::start();
    bucket_with_clinic(&server, "plain", "plain");
    let setup = Setup::new();
    let scenario = setup.scenario("s3://plain/clinic", &reach(&server, true), "");
    let reports = setup.path("reports");
    let (code, out, err) = drill(&scenario, &reports, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, v) = report_in(&reports);
    let p = &v["protection"][0];
    assert_eq!(p["probe"]["outcome"], "deleted", "{p}");
    assert_eq!(p["verdict"], "in-reach");
    assert!(p.get("object_lock").is_none(), "{p}");
    assert_eq!(server.list("plain", "").len(), 2);
}

/// The ransomware rehearsal: the primary folder (a scratch copy) encrypted,
/// the offsite bucket untouched. Returns the history it was recorded in.
fn ransomware_with_offsite(server: &S3Server, bucket: &str, setup: &Setup) -> PathBuf {
    let history = setup.path("history.sqlite");
    let monthly = setup.scenario(&format!("s3://{bucket}/clinic"), &reach(server, true), "");
    let (code, out, err) = run_tracked(&[
        "run",
        monthly.to_str().expect("utf-8"),
        "--history",
        history.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let extra = format!(
        "offsite = \"s3://{bucket}/clinic\"\n\n[simulate]\nfault = \"ransomware\"\n\n[expect]\nverdict = \"failed\"\nrecovered_from = \"offsite\"\ndetection = \"not-a-backup\"\n"
    );
    let primary = shared_clinic().backups.display().to_string();
    let scenario = setup.scenario(&primary, &reach(server, true), &extra);
    let (code, out, err) = run_tracked(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--history",
        history.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "as expected:\n{out}\n{err}");
    assert!(
        out.contains("recovered from  expected \"offsite\", actual \"offsite\""),
        "{out}"
    );
    history
}

fn offline_answer(history: &Path, setup: &Setup) -> serde_json::Value {
    let pack = setup.path("pack");
    let (code, out, err) = run(&[
        "evidence",
        "--history",
        history.to_str().expect("utf-8"),
        "--out",
        pack.to_str().expect("utf-8"),
        "--since",
        "2026-01-01",
        "--until",
        &chrono::Utc::now().format("%Y-%m-%d").to_string(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let json = files_in(&pack)
        .into_iter()
        .find(|f| f.ends_with(".json"))
        .expect("the pack's JSON");
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pack.join(json)).expect("read")).expect("json");
    p["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["id"] == "insurer-offline-backups")
        .expect("the offline question")
        .clone()
}

#[test]
fn ransomware_restores_from_a_locked_offsite_bucket_and_the_pack_says_yes() {
    let server = S3Server::start();
    bucket_with_clinic(&server, "offsite", "locked");
    let setup = Setup::new();
    let history = ransomware_with_offsite(&server, "offsite", &setup);
    let q = offline_answer(&history, &setup);
    assert_eq!(q["status"], "yes", "{q}");
    assert!(
        q["answer"]
            .as_str()
            .expect("answer")
            .contains("s3://offsite/clinic"),
        "{q}"
    );
    // The rehearsal's record (the second) is the evidence.
    let ids: Vec<i64> = q["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect();
    assert!(ids.contains(&2), "{q}");
}

#[test]
fn an_offsite_bucket_the_production_credentials_can_empty_makes_the_pack_say_no() {
    let server = S3Server::start();
    bucket_with_clinic(&server, "offsite", "plain");
    let setup = Setup::new();
    let history = ransomware_with_offsite(&server, "offsite", &setup);
    let q = offline_answer(&history, &setup);
    assert_eq!(q["status"], "no", "{q}");
    assert!(
        q["answer"]
            .as_str()
            .expect("answer")
            .contains("within reach"),
        "{q}"
    );
}

/// A bad input's drill: its exit code, its report's error kind and text.
fn refused(setup: &Setup, scenario: &Path) -> (i32, String, String) {
    let reports = setup.path("reports");
    let started = Instant::now();
    let (code, out, err) = drill(scenario, &reports, &[]);
    assert!(started.elapsed() < Duration::from_secs(90), "not bounded");
    let (_, v) = report_in(&reports);
    let kind = v["error"]["kind"].as_str().unwrap_or("none").to_string();
    let reason = v["error"]["reason"].as_str().unwrap_or("").to_string();
    let _ = out;
    (code, kind, format!("{reason}\n{err}"))
}

#[test]
fn wrong_credentials_are_an_environment_error() {
    let server = S3Server::start();
    bucket_with_clinic(&server, "nightly", "plain");
    let setup = Setup::new();
    let wrong = setup.path("wrong.credentials");
    let good = std::fs::read_to_string(server.creds("drill")).expect("read");
    let secret = good
        .lines()
        .find(|l| l.starts_with("aws_secret_access_key"))
        .expect("a secret line");
    std::fs::write(
        &wrong,
        good.replace(secret, "aws_secret_access_key = not-the-secret"),
    )
    .expect("write");
    chmod_600(&wrong);
    let s3 = format!(
        "endpoint = \"{}\"\ncredentials_file = \"{}\"\n",
        server.endpoint,
        wrong.display()
    );
    let scenario = setup.scenario("s3://nightly/clinic", &s3, "");
    let (code, kind, said) = refused(&setup, &scenario);
    assert_eq!((code, kind.as_str()), (3, "environment"), "{said}");
    assert!(
        said.contains("refused the credentials (SignatureDoesNotMatch)"),
        "{said}"
    );
    assert!(
        !said.contains("not-the-secret"),
        "the secret is never shown: {said}"
    );
}

#[test]
fn a_missing_bucket_is_an_environment_error() {
    let server = S3Server::start();
    let setup = Setup::new();
    let scenario = setup.scenario("s3://no-such-bucket/clinic", &reach(&server, false), "");
    let (code, kind, said) = refused(&setup, &scenario);
    assert_eq!((code, kind.as_str()), (3, "environment"), "{said}");
    assert!(said.contains("no such bucket (no-such-bucket)"), "{said}");
}

#[test]
fn a_download_that_drops_midway_ends_in_bounded_time_leaving_nothing() {
    let server = DroppingServer::start(&shared_clinic().backups, "flaky");
    let setup = Setup::new();
    let creds = setup.any_credentials();
    let s3 = format!(
        "endpoint = \"{}\"\ncredentials_file = \"{}\"\n",
        server.endpoint,
        creds.display()
    );
    let scenario = setup.scenario("s3://flaky", &s3, "");
    // A temporary folder of the drill's own: whatever it leaves shows there.
    let tmp = setup.path("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    let reports = setup.path("reports");
    let started = Instant::now();
    let out = bin()
        .args(["run", "--no-history", "--report-dir"])
        .arg(&reports)
        .arg(&scenario)
        .env("TMPDIR", &tmp)
        .output()
        .expect("run restore-drill");
    assert!(started.elapsed() < Duration::from_secs(90), "not bounded");
    let (code, _, err) = decode(out);
    let (_, v) = report_in(&reports);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (3, Some("environment")),
        "{err}"
    );
    let said = v["error"]["reason"].as_str().expect("reason");
    assert!(said.contains("the download of s3://flaky/"), "{said}");
    assert!(said.contains("broke after"), "{said}");
    assert!(said.contains("3 times resumed"), "{said}");
    assert_eq!(files_in(&tmp), Vec::<String>::new(), "nothing left on disk");
}

#[test]
fn an_object_whose_size_differs_from_its_manifest_is_unusable() {
    let server = S3Server::start();
    bucket_with_clinic(&server, "nightly", "plain");
    let name = shared_clinic()
        .backup()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    server.truncate("nightly", &format!("clinic/{name}"), 1000);
    let setup = Setup::new();
    let scenario = setup.scenario("s3://nightly/clinic", &reach(&server, false), "");
    let reports = setup.path("reports");
    let (code, out, err) = drill(&scenario, &reports, &[]);
    assert_eq!(code, 4, "unrecoverable:\n{out}\n{err}");
    let (r, v) = report_in(&reports);
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    assert_eq!(v["attempts"][0]["kind"], "size-mismatch", "{v}");
    assert_eq!(v["backup"]["network_bytes"], 0, "nothing downloaded: {v}");
    // Only the drill's read-only credentials: nothing to try, and said so.
    let probe = &v["protection"][0]["probe"];
    assert_eq!(probe["outcome"], "not-tried", "{probe}");
    assert!(probe["why"]
        .as_str()
        .is_some_and(|w| w.contains("no production credentials")));
}

fn chmod_600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// `backup --out s3://` from a production database, then the monthly drill
/// from that bucket: the quickstart's whole path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_out_s3_writes_a_backup_and_its_manifest_that_the_drill_restores() {
    let server = S3Server::start();
    server.bucket("nightly", "locked");
    let source = Source::start(PG15).await;
    let now = chrono::Utc::now();
    restore_drill::workload::generate::load_clinic(&source.url(), 300, 1, now)
        .await
        .expect("load the clinic");
    let url = source.url();
    let public = shared_clinic().key.public.clone();
    let (endpoint, writer) = (server.endpoint.clone(), server.creds("writer"));
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        let w = writer.to_str().expect("utf-8").to_string();
        run(&[
            "backup",
            "--url",
            &url,
            "--out",
            "s3://nightly/backups",
            "--recipient",
            &public,
            "--s3-endpoint",
            &endpoint,
            "--s3-credentials",
            &w,
        ])
    })
    .await
    .expect("backup");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("backup:   s3://nightly/backups/clinic-"),
        "{out}"
    );
    let listed = server.list("nightly", "backups/");
    assert_eq!(listed.len(), 2, "the backup and its manifest: {listed:?}");
    assert!(
        listed.iter().all(|(_, _, lock)| lock == "COMPLIANCE"),
        "{listed:?}"
    );
    let setup = Setup::new();
    let scenario = setup.scenario("s3://nightly/backups", &reach(&server, false), "");
    let reports = setup.path("reports");
    let (code, out, err) = tokio::task::spawn_blocking(move || drill(&scenario, &reports, &[]))
        .await
        .expect("drill");
    assert_eq!(code, 0, "{out}\n{err}");
    source.remove().await;
}

/// A big file to upload (its content does not matter to an upload), and
/// where `backup --out` would send it, through a look-alike whose writes
/// behave as `writes` says (tests/s3/dropping.py).
fn upload_to(
    writes: &[&str],
    bytes: usize,
) -> (
    DroppingServer,
    Setup,
    PathBuf,
    restore_drill::catalog::Reach,
) {
    let setup = Setup::new();
    let served = setup.path("served");
    std::fs::create_dir(&served).expect("mkdir");
    let server = DroppingServer::start_with(&served, "uploads", writes);
    let big = setup.path("clinic-20261204T000000Z.dump.zst.age");
    std::fs::write(&big, vec![7u8; bytes]).expect("write");
    let creds = setup.any_credentials();
    let reach = restore_drill::catalog::Reach {
        s3: restore_drill::catalog::s3::S3Settings {
            endpoint: Some(server.endpoint.clone()),
            credentials_file: Some(creds),
            ..Default::default()
        },
        restic: Default::default(),
    };
    (server, setup, big, reach)
}

fn uploads() -> restore_drill::catalog::place::Place {
    restore_drill::catalog::place::Place::parse("s3://uploads/nightly", |p| PathBuf::from(p))
        .unwrap()
}

/// An upload the server stops taking in (a line that hangs) ends 30 s after
/// the last byte it took, saying how far it got: bounded by its silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_server_stops_taking_ends_after_30_s_of_silence() {
    let (_server, _setup, big, reach) = upload_to(&["--writes", "hang"], 64 << 20);
    let place = uploads();
    let started = Instant::now();
    let err = restore_drill::catalog::ship::ship(&place, &reach, &[&big])
        .await
        .expect_err("a hanging upload cannot succeed");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(30), "ended early: {took:?}");
    assert!(took < Duration::from_secs(90), "not bounded: {took:?}");
    assert_eq!(err.kind().as_str(), "environment", "{err}");
    let said = err.to_string();
    assert!(said.contains("writing to s3://uploads/nightly"), "{said}");
    assert!(said.contains("the upload stalled after"), "{said}");
    assert!(said.contains(&format!("of {} bytes", 64 << 20)), "{said}");
    assert!(said.contains("nothing was taken in for 30 s"), "{said}");
}

/// A slow line is not a stuck one: an upload that takes 40 s, its bytes
/// taken in all along, goes through (a bound on the whole upload, as the
/// SDK's read timeout of 30 s was, cut it off).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upload_that_keeps_moving_is_not_cut_off() {
    let rate = 200 << 10;
    let (_server, _setup, big, reach) = upload_to(
        &["--writes", "slow", "--rate", &rate.to_string()],
        40 * rate,
    );
    let place = uploads();
    let started = Instant::now();
    let sent = restore_drill::catalog::ship::ship(&place, &reach, &[&big])
        .await
        .expect("a slow upload goes through");
    assert!(
        started.elapsed() >= Duration::from_secs(35),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        sent,
        ["s3://uploads/nightly/clinic-20261204T000000Z.dump.zst.age"]
    );
}
