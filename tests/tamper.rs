#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Evidence that cannot be quietly rewritten, against real runs: the chain's
//! head in the alert (a webhook and an SMTP server on 127.0.0.1), the metrics
//! and the JUnit file, read back by `history verify --against` after the
//! history was rewritten with the sqlite3 CLI; a pack whose files were
//! removed or added; a passphrase-protected key made by the minisign CLI; a
//! deleted history; a sandbox left by a killed run.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const SITE: &str = "Main Street Eye Care";

/// A webhook on 127.0.0.1 that keeps every request body and answers 200.
fn webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hooks/abc",
        listener.local_addr().unwrap().port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            // The body is JSON: read until it closes its object.
            while let Ok(n) = stream.read(&mut chunk) {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if n == 0
                    || text
                        .split("\r\n\r\n")
                        .nth(1)
                        .is_some_and(|b| b.trim_end().ends_with('}'))
                {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            log.lock()
                .unwrap()
                .push(text.split("\r\n\r\n").nth(1).unwrap_or("").to_string());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

/// tests/smtp-sink.py on 127.0.0.1, killed when dropped.
struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Smtp {
    fn start() -> Smtp {
        let dir = tempdir();
        let mut child = Command::new("/usr/bin/python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp-sink.py"))
            .arg(dir.path())
            .arg("accept")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap();
        Smtp { child, port, dir }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two real runs into one history, and what left the machine: (1) a drill
/// that fails its RPO objective and alerts by webhook and email, (2) the
/// monthly drill, passed; each replaces the metrics and JUnit files.
struct Sealed {
    dir: PathBuf,
    history: PathBuf,
    /// The files that carried record 1's head (webhook body, email) and
    /// record 2's (metrics, JUnit), kept as the receiving ends would.
    webhook: PathBuf,
    email: PathBuf,
    metrics: PathBuf,
    junit: PathBuf,
}

fn sealed() -> &'static Sealed {
    static S: std::sync::OnceLock<Sealed> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sealed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (url, posts) = webhook();
        let smtp = Smtp::start();
        let monthly = std::fs::read_to_string(format!("{}/scenarios/monthly-drill.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let strict = dir.join("strict.toml");
        let notify = format!(
            "\n[notify]\nwebhook = \"{url}\"\n[notify.email]\nsmtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\nfrom = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n",
            smtp.port
        );
        std::fs::write(&strict, monthly.replace("rpo_hours = 26", "rpo_hours = 0.0001") + &notify).unwrap();
        let plain = dir.join("monthly.toml");
        std::fs::write(&plain, &monthly).unwrap();
        let history = dir.join("state/history.sqlite");
        let (metrics, junit) = (dir.join("drill.prom"), dir.join("junit.xml"));
        let webhook = dir.join("alert.json");
        let email = dir.join("alert.txt");
        for (scenario, want) in [(&strict, 1), (&plain, 0)] {
            let (code, out, err) = drill(scenario, &history, &[("--metrics", &metrics), ("--junit", &junit)]);
            assert_eq!(code, want, "{out}\n{err}");
            if want == 1 {
                // Kept before the next run replaces the metrics and JUnit files.
                let body = posts.lock().unwrap().first().cloned().expect("one POST");
                std::fs::write(&webhook, body).unwrap();
                let mail = files_in(smtp.dir.path()).into_iter().find(|f| f.ends_with(".txt")).expect("one email");
                std::fs::copy(smtp.dir.path().join(mail), &email).unwrap();
            }
        }
        Sealed { dir, history, webhook, email, metrics, junit }
    })
}

fn drill(scenario: &Path, history: &Path, extra: &[(&str, &Path)]) -> (i32, String, String) {
    let clinic = shared_clinic();
    let reports = history.parent().unwrap().join("reports");
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        scenario.into(),
        "--backups".into(),
        clinic.backups.clone().into(),
        "--identity".into(),
        clinic.key.path.clone().into(),
        "--report-dir".into(),
        reports.into(),
        "--history".into(),
        history.into(),
        "--site".into(),
        SITE.into(),
    ];
    for (flag, value) in extra {
        args.push(flag.into());
        args.push(value.into());
    }
    run_tracked(&args)
}

fn history(db: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["history", "--history", db.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&all)
}

fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of the sealed history for one test to change.
fn copy_history(to: &Path) -> PathBuf {
    let dest = to.join("history.sqlite");
    sqlite(&sealed().history, &format!(".backup '{}'", dest.display()));
    dest
}

/// The attack the README makes possible: the guards dropped, every verdict
/// set to passed, and every record's report SHA-256, hash and link recomputed
/// by the README's formula (computed here, not by restore-drill).
fn rewrite_every_verdict_to_passed(db: &Path) {
    sqlite(
        db,
        "DROP TRIGGER drills_no_update; DROP TRIGGER drills_no_delete;",
    );
    let ids: Vec<i64> = sqlite(db, "SELECT id FROM drills ORDER BY id")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut prev = "0".repeat(64);
    for id in ids {
        let field = |f: &str| sqlite(db, &format!("SELECT {f} FROM drills WHERE id = {id}"));
        let report = field("report");
        let report = report.strip_suffix('\n').unwrap_or(&report);
        let forged = report.replace("\"verdict\": \"failed\"", "\"verdict\": \"passed\"");
        let report_sha = sha256_hex(forged.as_bytes());
        let line = |f: &str| field(f).trim_end_matches('\n').to_string();
        let text = format!(
            "{id}\n{}\n{}\n{}\n{report_sha}\n{prev}\n",
            line("recorded_at"),
            line("site"),
            line("tool")
        );
        let hash = sha256_hex(text.as_bytes());
        sqlite(db, &format!(
            "UPDATE drills SET report = '{}', report_sha256 = '{report_sha}', prev_hash = '{prev}', hash = '{hash}' WHERE id = {id}",
            forged.replace('\'', "''")
        ));
        prev = hash;
    }
}

#[test]
fn a_rewritten_chain_is_caught_against_the_alert_the_metrics_and_the_junit_file() {
    let s = sealed();
    let anchors = [
        (&s.webhook, "record 1"),
        (&s.email, "record 1"),
        (&s.metrics, "record 2"),
        (&s.junit, "record 2"),
    ];
    for (file, _) in anchors {
        let (code, out, err) =
            history(&s.history, &["verify", "--against", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {out}\n{err}", file.display());
        assert!(
            out.contains("nothing it recorded was cut off or rewritten"),
            "{out}"
        );
    }
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    rewrite_every_verdict_to_passed(&db);
    assert!(!sqlite(&db, "SELECT report FROM drills").contains("\"verdict\": \"failed\""));
    // The forgery is good enough for the chain alone ...
    let (code, out, err) = history(&db, &["verify"]);
    assert_eq!(
        code, 0,
        "the rewrite is not a consistent chain: {out}\n{err}"
    );
    assert!(out.starts_with("2 records, chain intact"), "{out}");
    // ... but not for any head that had left the machine.
    for (file, record) in anchors {
        let (code, out, err) = history(&db, &["verify", "--against", file.to_str().unwrap()]);
        assert_eq!(code, 1, "{}: {out}\n{err}", file.display());
        assert!(
            err.contains(&format!("{record} has a different hash"))
                && err.contains("the history was rewritten since"),
            "{err}"
        );
        assert!(out.contains("CUT OFF OR REWRITTEN"), "{out}");
    }
}

#[test]
fn the_head_in_each_file_is_the_record_the_run_made() {
    let s = sealed();
    let head = |id| {
        sqlite(
            &s.history,
            &format!("SELECT hash FROM drills WHERE id = {id}"),
        )
        .trim()
        .to_string()
    };
    let alert: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s.webhook).unwrap()).unwrap();
    assert_eq!(
        alert["history_head"],
        serde_json::json!({"record": 1, "hash": head(1)})
    );
    assert!(alert["text"]
        .as_str()
        .unwrap()
        .contains(&format!("history record 1, head {}", &head(1)[..16])));
    let mail = std::fs::read_to_string(&s.email).unwrap();
    assert!(
        mail.contains(&format!("history    record 1, head {}", head(1))),
        "{mail}"
    );
    let metrics = std::fs::read_to_string(&s.metrics).unwrap();
    assert!(
        metrics.contains(&format!(",hash=\"{}\"}} 2\n", head(2))),
        "{metrics}"
    );
    let junit = std::fs::read_to_string(&s.junit).unwrap();
    assert!(
        junit.contains(&format!(
            "<property name=\"history_head_hash\" value=\"{}\"/>",
            head(2)
        )),
        "{junit}"
    );
}

#[test]
fn a_file_that_carries_no_head_is_exit_2_naming_what_is_accepted() {
    let s = sealed();
    let other = s.dir.join("monthly.toml");
    let (code, _, err) = history(
        &s.history,
        &["verify", "--against", other.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("carries no drill history head") && err.contains("metrics file"),
        "{err}"
    );
    let (code, _, err) = history(
        &s.history,
        &[
            "verify",
            "--against",
            s.metrics.to_str().unwrap(),
            "--public-key",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("leave --public-key out"), "{err}");
}

fn signing_key(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("evidence.key");
    let (code, out, err) = run(&["keys", "generate-signing", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    (key, dir.join("evidence.key.pub"))
}

fn make_pack(db: &Path, out: &Path, key: &Path, env: Option<&str>) -> (i32, String, String) {
    let mut c = bin();
    c.args(["evidence", "--history"])
        .arg(db)
        .arg("--out")
        .arg(out)
        .arg("--signing-key")
        .arg(key);
    c.args([
        "--since",
        "2026-01-01",
        "--until",
        &chrono::Utc::now().format("%Y-%m-%d").to_string(),
    ]);
    c.env_remove("RESTORE_DRILL_SIGNING_PASSPHRASE");
    if let Some(p) = env {
        c.env("RESTORE_DRILL_SIGNING_PASSPHRASE", p);
    }
    decode(c.output().unwrap())
}

fn pack_file(dir: &Path, ext: &str) -> PathBuf {
    dir.join(
        files_in(dir)
            .into_iter()
            .find(|f| f.starts_with("evidence-") && f.ends_with(ext))
            .unwrap(),
    )
}

fn verify_pack(dir: &Path, public: &Path) -> (i32, String, String) {
    run(&[
        "evidence",
        "verify",
        dir.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ])
}

#[test]
fn history_verify_against_a_pack_without_its_public_key_is_unverified_exit_1() {
    let tmp = tempdir();
    let (key, public) = signing_key(tmp.path());
    let out = tmp.path().join("pack");
    let (code, said, err) = make_pack(&sealed().history, &out, &key, None);
    assert_eq!(code, 0, "{said}\n{err}");
    let json = pack_file(&out, ".json");
    let (code, said, err) = history(
        &sealed().history,
        &["verify", "--against", json.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{said}\n{err}");
    assert!(
        err.contains("is unsigned or its signature was not checked (no --public-key)"),
        "{err}"
    );
    assert!(err.contains("--public-key KEY.pub"), "{err}");
    assert!(said.contains("UNVERIFIED"), "{said}");
    let (code, said, err) = history(
        &sealed().history,
        &[
            "verify",
            "--against",
            json.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{said}\n{err}");
}

#[test]
fn an_incomplete_pack_fails_evidence_verify_naming_each_file() {
    let tmp = tempdir();
    let (key, public) = signing_key(tmp.path());
    let out = tmp.path().join("pack");
    let (code, said, err) = make_pack(&sealed().history, &out, &key, None);
    assert_eq!(code, 0, "{said}\n{err}");
    let (code, said, err) = verify_pack(&out, &public);
    assert_eq!(code, 0, "{said}\n{err}");
    assert!(
        said.contains("3 files verified") && said.contains("nothing missing, nothing added"),
        "{said}"
    );
    // The PDF and its signature deleted, an unsigned file added.
    let pdf = pack_file(&out, ".pdf");
    std::fs::remove_file(&pdf).unwrap();
    std::fs::remove_file(pdf.with_extension("pdf.minisig")).unwrap();
    std::fs::write(out.join("evidence-extra.html"), "<p>all drills passed</p>").unwrap();
    let (code, said, err) = verify_pack(&out, &public);
    assert_eq!(code, 1, "{said}\n{err}");
    let name = pdf.file_name().unwrap().to_str().unwrap();
    assert!(
        err.contains(&format!("{name} is listed in the signed list")) && err.contains("missing"),
        "{err}"
    );
    assert!(
        err.contains("evidence-extra.html is not in any signed list"),
        "{err}"
    );
}

#[test]
fn a_pack_signed_with_a_passphrase_protected_minisign_key_verifies_with_minisign() {
    let tmp = tempdir();
    let (key, public) = (tmp.path().join("enc.key"), tmp.path().join("enc.pub"));
    // minisign's own tool makes the key: its format, its scrypt parameters.
    let mut g = Command::new("minisign")
        .args(["-G", "-p"])
        .arg(&public)
        .arg("-s")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    g.stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\ncorrect horse\n")
        .unwrap();
    assert!(g.wait().unwrap().success());
    let out = tmp.path().join("pack");
    let (code, _, err) = make_pack(&sealed().history, &out, &key, None);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("RESTORE_DRILL_SIGNING_PASSPHRASE is not set"),
        "{err}"
    );
    let (code, _, err) = make_pack(&sealed().history, &out, &key, Some("battery staple"));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("check the passphrase") && !err.contains("battery"),
        "{err}"
    );
    assert!(
        !out.exists() || files_in(&out).is_empty(),
        "nothing written with a key that did not open"
    );
    let (code, said, err) = make_pack(&sealed().history, &out, &key, Some("correct horse"));
    assert_eq!(code, 0, "{said}\n{err}");
    let pdf = pack_file(&out, ".pdf");
    let ok = Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(&public)
        .arg("-m")
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "minisign -V: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (code, said, err) = verify_pack(&out, &public);
    assert_eq!(code, 0, "{said}\n{err}");
}

#[test]
fn a_deleted_history_is_named_by_doctor_and_the_next_run_starts_no_new_chain() {
    let tmp = tempdir();
    let db = tmp.path().join("history.sqlite");
    let monthly = format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, out, err) = drill(Path::new(&monthly), &db, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let marker = tmp.path().join("history.sqlite.head");
    assert!(marker.exists(), "the run left a marker of its head");
    for f in ["history.sqlite", "history.sqlite-wal", "history.sqlite-shm"] {
        let _ = std::fs::remove_file(tmp.path().join(f));
    }
    let (code, text, err) = run(&["doctor", "--history", db.to_str().unwrap()]);
    assert!(code != 0, "{text}\n{err}");
    assert!(
        text.contains("is missing, but its marker") && text.contains("history.sqlite.head"),
        "{text}"
    );
    let (code, out, err) = drill(Path::new(&monthly), &db, &[]);
    assert_eq!(
        code, 3,
        "a passed drill that could not be recorded: {out}\n{err}"
    );
    assert!(
        err.contains("held 1 record ") && err.contains("move the marker away first"),
        "{err}"
    );
    assert!(!db.exists(), "no new chain was started");
}

fn monthly() -> String {
    format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_control_character_in_the_site_is_refused_before_anything_starts() {
    let tmp = tempdir();
    let reports = tmp.path().join("reports");
    let (code, _, err) = bin()
        .current_dir(tmp.path())
        .args([
            "run",
            &monthly(),
            "--site",
            "Main Street\u{202E}eraC eyE",
            "--no-history",
            "--report-dir",
            reports.to_str().unwrap(),
        ])
        .output()
        .map(decode)
        .unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the site `Main Street\\u{202E}eraC eyE` holds a bidirectional control character (character 12)"), "{err}");
    assert!(!reports.exists(), "no report folder is made");
}

#[test]
fn a_control_character_in_the_scenario_name_is_refused_before_anything_starts() {
    let tmp = tempdir();
    let named = tmp.path().join("named.toml");
    let text = std::fs::read_to_string(monthly()).unwrap();
    std::fs::write(
        &named,
        text.replace(
            "name = \"monthly restore drill\"",
            "name = \"monthly\\nrestore drill\"",
        ),
    )
    .unwrap();
    let reports = tmp.path().join("reports");
    let (code, _, err) = bin()
        .current_dir(tmp.path())
        .args([
            "run",
            named.to_str().unwrap(),
            "--no-history",
            "--report-dir",
            reports.to_str().unwrap(),
        ])
        .output()
        .map(decode)
        .unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the scenario's name `monthly\\nrestore drill` holds a line break"),
        "{err}"
    );
    assert!(!reports.exists(), "no report folder is made");
}

#[test]
fn doctor_names_a_sandbox_left_by_a_killed_run_and_gc_removes_it() {
    use restore_drill::sandbox::{run::hostname, RunId, Sandbox, SandboxSpec};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Labelled as a run whose process is gone: what SIGKILL leaves behind.
    let dead = RunId {
        id: RunId::new().id,
        host: hostname(),
        pid: 99_999_999,
        pid_start: Some(1),
        keep: false,
        relayed: false,
    };
    let _cleanup = Cleanup::new(&dead);
    let live = RunId::new();
    let _cleanup_live = Cleanup::new(&live);
    rt.block_on(async {
        let d = docker().await;
        let spec = SandboxSpec::new(restore_drill::engine::EngineKind::Postgres, PG15);
        Sandbox::start(&d, &live, &spec).await.unwrap();
        // Created last and not started: any drill starting meanwhile (tests
        // run side by side) sweeps dead runs' containers, this one included.
        left_by(&d, &dead).await;
    });
    let (code, text, err) = run(&["doctor", "--no-history"]);
    assert_eq!(code, 3, "{text}\n{err}");
    let line = text
        .lines()
        .find(|l| l.contains(&dead.id))
        .unwrap_or_else(|| panic!("the killed run's sandbox is not named:\n{text}"));
    assert!(
        line.starts_with("FIX  leftover sandbox restore-drill-"),
        "{line}"
    );
    assert!(
        line.contains("patient data") && line.ends_with("Fix: restore-drill gc"),
        "{line}"
    );
    assert!(
        !text.contains(&live.id),
        "a running drill's sandbox is no leftover:\n{text}"
    );
    // Another test's drill may sweep it at the same moment (Docker's 409).
    let (code, said, err) = run(&["gc"]);
    assert!(
        code == 0 || err.contains("is already in progress"),
        "{said}\n{err}"
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (_, text, _) = run(&["doctor", "--no-history"]);
    assert!(!text.contains(&dead.id), "{text}");
    rt.block_on(async {
        assert_eq!(
            labelled(&docker().await, Some(&live.id)).await.0,
            1,
            "gc left the live run"
        )
    });
}

/// A container labelled as `run`'s sandbox, as a killed run leaves one.
async fn left_by(d: &bollard::Docker, run: &restore_drill::sandbox::RunId) {
    use bollard::models::ContainerCreateBody;
    use bollard::query_parameters::CreateContainerOptionsBuilder;
    let body = ContainerCreateBody {
        image: Some(PG15.to_string()),
        labels: Some(run.labels("sandbox")),
        ..Default::default()
    };
    let name = run.name("sandbox-left");
    d.create_container(
        Some(CreateContainerOptionsBuilder::new().name(&name).build()),
        body,
    )
    .await
    .unwrap();
}

/// Starts a drill, SIGKILLs it once a container carries its PID, and returns
/// its PID and run id.
fn kill_once_sandboxed(
    rt: &tokio::runtime::Runtime,
    scenario: &str,
    backups: &Path,
    key: &Path,
    reports: &Path,
) -> (u32, String) {
    let mut child = bin()
        .args(["run", scenario, "--no-history", "--backups"])
        .arg(backups)
        .arg("--identity")
        .arg(key)
        .arg("--report-dir")
        .arg(reports)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = std::time::Instant::now();
    while rt.block_on(async { labelled_by_pid(&docker().await, pid).await.0 }) == 0 {
        assert!(started.elapsed().as_secs() < 60, "no sandbox within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let run_id = rt.block_on(async {
        use bollard::query_parameters::ListContainersOptionsBuilder;
        let filters = std::collections::HashMap::from([(
            "label".to_string(),
            vec![format!("org.restore-drill.pid={pid}")],
        )]);
        let found = docker()
            .await
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap();
        found[0].labels.as_ref().unwrap()["org.restore-drill.run"].clone()
    });
    (pid, run_id)
}

/// The same with a real kill: a drill SIGKILLed once its sandbox exists
/// leaves it (nothing in the process can run), doctor names it with the
/// command, and that command removes it.
#[test]
fn a_drill_killed_with_sigkill_leaves_a_sandbox_that_doctor_names_and_gc_removes() {
    let clinic = shared_clinic();
    let tmp = tempdir();
    let monthly = format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (pid, run_id) =
        kill_once_sandboxed(&rt, &monthly, &clinic.backups, &clinic.key.path, tmp.path());
    let _cleanup = Cleanup::new(&restore_drill::sandbox::RunId {
        id: run_id.clone(),
        ..restore_drill::sandbox::RunId::new()
    });
    let (_, text, err) = run(&["doctor", "--no-history"]);
    let line = text
        .lines()
        .find(|l| l.contains(&format!("left by run {run_id}")))
        .unwrap_or_else(|| panic!("the killed drill's sandbox is not named:\n{text}\n{err}"));
    assert!(
        line.starts_with("FIX  leftover sandbox ") && line.ends_with("Fix: restore-drill gc"),
        "{line}"
    );
    // A drill of another test starting now sweeps the same leftover: Docker
    // then answers 409 "already in progress" to one of the two removals.
    let (code, said, err) = run(&["gc"]);
    assert!(
        code == 0 || err.contains("is already in progress"),
        "{said}\n{err}"
    );
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        rt.block_on(async { labelled_by_pid(&docker().await, pid).await }) == (0, 0)
    });
    assert!(gone, "gc left the killed drill's sandbox or network");
}

#[test]
fn a_pack_without_its_signed_list_is_refused_with_how_to_check_it_by_hand() {
    let tmp = tempdir();
    let (key, public) = signing_key(tmp.path());
    let out = tmp.path().join("pack");
    let (code, said, err) = make_pack(&sealed().history, &out, &key, None);
    assert_eq!(code, 0, "{said}\n{err}");
    // As a pack made before the list existed: its files and their signatures only.
    for f in files_in(&out)
        .iter()
        .filter(|f| f.contains(".manifest.json"))
    {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    let (code, said, err) = verify_pack(&out, &public);
    assert_eq!(code, 1, "{said}\n{err}");
    assert!(
        err.contains("holds no signed list of the pack's files"),
        "{err}"
    );
    assert!(err.contains("minisign -V"), "{err}");
}

#[test]
fn a_control_character_in_evidence_site_is_exit_2_and_nothing_is_written() {
    let tmp = tempdir();
    let out = tmp.path().join("pack");
    let (code, _, err) = run(&[
        "evidence",
        "--history",
        tmp.path().join("none.sqlite").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--site",
        "Main Street\nEye Care",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--site `Main Street\\nEye Care` holds a line break"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Emptied with the sqlite3 CLI (guards dropped, every record deleted): the
/// file is there, but appending would start a new chain that hides the loss.
#[test]
fn an_emptied_history_is_not_appended_to_and_the_marker_is_named() {
    let tmp = tempdir();
    let db = tmp.path().join("history.sqlite");
    let monthly = format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, out, err) = drill(Path::new(&monthly), &db, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    sqlite(
        &db,
        "DROP TRIGGER drills_no_update; DROP TRIGGER drills_no_delete; DELETE FROM drills;",
    );
    let (code, out, err) = drill(Path::new(&monthly), &db, &[]);
    assert_eq!(
        code, 3,
        "a passed drill that could not be recorded: {out}\n{err}"
    );
    assert!(
        err.contains("no longer holds that record")
            && err.contains("history.sqlite.head names record 1"),
        "{err}"
    );
    assert_eq!(
        sqlite(&db, "SELECT count(*) FROM drills").trim(),
        "0",
        "nothing was appended"
    );
    let (_, text, _) = run(&["doctor", "--history", db.to_str().unwrap()]);
    assert!(
        text.contains("says it held 1 record ") && text.contains("ends at record 0"),
        "{text}"
    );
}
