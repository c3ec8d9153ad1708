#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Alerts after real drills of the shared clinic, to listeners on 127.0.0.1
//! only: a webhook served by this test, an SMTP server by aiosmtpd
//! (tests/smtp-sink.py). What was received is searched for every patient
//! value; undelivered alerts must leave the exit code alone, be said on
//! stderr and recorded, in bounded time.

mod common;

use common::*;
use restore_drill::checks::Status;
use restore_drill::report::Verdict;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SITE: &str = "Main Street Eye Care";

// ---- the listeners ----

/// One HTTP request as received.
struct Request {
    head: String,
    body: String,
}

/// A webhook on 127.0.0.1 that records every request and answers 200.
struct Hook {
    port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        // Ends with the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(r) = read_request(&stream) {
                    log.lock().unwrap().push(r);
                }
                let _ = (&stream).write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Hook { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/abc", self.port)
    }

    fn requests(&self) -> Vec<(String, String)> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|r| (r.head.clone(), r.body.clone()))
            .collect()
    }
}

fn read_request(mut stream: &TcpStream) -> Option<Request> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < end + 4 + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[end + 4..]).into_owned();
    Some(Request { head, body })
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// aiosmtpd on 127.0.0.1 (tests/smtp-sink.py), killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start(mode: &str) -> SmtpSink {
        let dir = tempdir();
        // Debian's python3-aiosmtpd is installed for Debian's interpreter,
        // whatever python3 comes first on PATH.
        let mut child = Command::new("/usr/bin/python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp-sink.py"))
            .arg(dir.path())
            .arg(mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run /usr/bin/python3 (tests/run installs python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("smtp-sink.py printed no port ({line:?}): is python3-aiosmtpd installed?")
        });
        SmtpSink { child, port, dir }
    }

    /// Each message received: its subject and decoded text body.
    fn emails(&self) -> Vec<String> {
        files_in(self.dir.path())
            .into_iter()
            .filter(|f| f.ends_with(".txt"))
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap())
            .collect()
    }

    /// Each message as received, headers and encoded body.
    fn raw(&self) -> Vec<String> {
        files_in(self.dir.path())
            .into_iter()
            .filter(|f| f.ends_with(".eml"))
            .map(|f| {
                String::from_utf8_lossy(&std::fs::read(self.dir.path().join(f)).unwrap())
                    .into_owned()
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- drills ----

/// The monthly drill with `notify` appended; `strict` makes its RPO
/// objective fail (a backup is always older than 0.36 s): exit 1.
fn scenario(dir: &Path, strict: bool, notify: &str) -> PathBuf {
    let monthly = format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text = std::fs::read_to_string(monthly).unwrap();
    assert!(text.contains("rpo_hours = 26"));
    if strict {
        text = text.replace("rpo_hours = 26", "rpo_hours = 0.0001");
    }
    let file = dir.join("notify.toml");
    std::fs::write(&file, format!("{text}\n{notify}\n")).unwrap();
    file
}

fn drill(scenario: &Path, tmp: &Path) -> Finished {
    run_tracked_within(&drill_args(scenario, tmp), Duration::from_secs(300))
}

/// `--json run` of `scenario` on the shared clinic, its report, history and
/// site in `tmp`.
fn drill_args(scenario: &Path, tmp: &Path) -> Vec<std::ffi::OsString> {
    let clinic = shared_clinic();
    let mut args: Vec<std::ffi::OsString> = ["--json", "run"].map(Into::into).to_vec();
    args.push(scenario.into());
    args.extend(["--backups".into(), clinic.backups.clone().into_os_string()]);
    args.extend([
        "--identity".into(),
        clinic.key.path.clone().into_os_string(),
    ]);
    args.extend(["--report-dir".into(), tmp.join("reports").into_os_string()]);
    args.extend([
        "--history".into(),
        tmp.join("history.sqlite").into_os_string(),
    ]);
    args.extend(["--site".into(), SITE.into()]);
    args
}

/// The report file and the alert's delivery record beside it (if any).
fn written(tmp: &Path) -> (Vec<u8>, Option<serde_json::Value>) {
    let reports = tmp.join("reports");
    let files = files_in(&reports);
    let report = files
        .iter()
        .find(|f| f.ends_with(".json") && !f.ends_with(".notify.json"))
        .expect("a report");
    let record = files
        .iter()
        .find(|f| f.ends_with(".notify.json"))
        .map(|f| serde_json::from_slice(&std::fs::read(reports.join(f)).unwrap()).unwrap());
    (std::fs::read(reports.join(report)).unwrap(), record)
}

fn stdout_json(f: &Finished) -> serde_json::Value {
    serde_json::from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", f.stdout, f.stderr))
}

fn assert_no_patient_value(what: &str, text: &str) {
    for v in patient_values() {
        assert!(
            !text.contains(v.as_str()),
            "patient value {v:?} in the {what}:\n{text}"
        );
    }
}

// ---- alerts sent ----

/// A failed drill whose custom check makes PostgreSQL quote a health card
/// (`invalid input syntax for type bigint: "…"`), and whose RPO objective
/// fails: one POST and one email, naming the verdict and the scenario, and
/// none of the clinic's patient values.
#[test]
fn a_failed_drill_alerts_once_by_webhook_and_email_without_patient_data() {
    let tmp = tempdir();
    let (hook, smtp) = (Hook::start(), SmtpSink::start("accept"));
    let notify = format!(
        "[[checks.sql]]\nname = \"card as number\"\n\
         query = \"SELECT health_card_number::bigint FROM patients ORDER BY id LIMIT 1\"\n\
         expect = {{ at_least = 0 }}\n\n\
         [notify]\nwebhook = \"{}\"\n[notify.email]\nsmtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\n\
         from = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n",
        hook.url(),
        smtp.port
    );
    let f = drill(&scenario(tmp.path(), true, &notify), tmp.path());
    // A custom check that errors is a broken scenario: exit 2, as without alerts.
    assert_eq!(f.code, 2, "{}\n{}", f.stdout, f.stderr);
    let (report, record) = written(tmp.path());
    let sha = sha256_hex(&report);

    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "one POST");
    let (head, body) = &requests[0];
    assert!(head.starts_with("POST /hooks/abc HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let j: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(j["verdict"], "failed");
    assert_eq!(j["scenario"], "monthly restore drill");
    assert_eq!(j["site"], SITE);
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["report_sha256"], sha.as_str());
    let text = j["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "restore-drill: FAILED monthly restore drill at {SITE}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("card as number"),
        "the finding is the broken check: {text}"
    );
    assert_no_patient_value("webhook body", body);

    let emails = smtp.emails();
    assert_eq!(emails.len(), 1, "one email");
    let mail = &emails[0];
    assert!(
        mail.starts_with(&format!(
            "Subject: restore-drill: FAILED monthly restore drill at {SITE}\n"
        )),
        "{mail}"
    );
    assert!(mail.contains("verdict    failed (exit code 2)"), "{mail}");
    assert!(mail.contains(&sha), "{mail}");
    assert_no_patient_value("email", mail);
    assert_no_patient_value("email as sent", &smtp.raw()[0]);

    let record = record.expect("the delivery record");
    let outcomes: Vec<(&str, &str)> = record["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["channel"].as_str().unwrap(),
                d["outcome"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes, [("webhook", "delivered"), ("email", "delivered")]);
    assert_eq!(stdout_json(&f)["notifications"], record["notifications"]);
}

#[test]
fn a_passed_drill_alerts_nobody_on_failure() {
    let tmp = tempdir();
    let (hook, smtp) = (Hook::start(), SmtpSink::start("accept"));
    let notify = format!(
        "[notify]\non = \"failure\"\nwebhook = \"{}\"\n[notify.email]\nsmtp = \"smtp://127.0.0.1:{}\"\n\
         tls = \"none\"\nfrom = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n",
        hook.url(),
        smtp.port
    );
    let f = drill(&scenario(tmp.path(), false, &notify), tmp.path());
    assert_eq!(f.code, 0, "{}\n{}", f.stdout, f.stderr);
    assert_eq!(hook.requests().len(), 0);
    assert_eq!(smtp.raw().len(), 0);
    assert_eq!(stdout_json(&f)["notifications"], serde_json::json!([]));
    assert!(written(tmp.path()).1.is_none(), "no delivery record");
}

// ---- alerts not delivered ----

/// One delivery of a run that failed (exit 1, as without alerts), said on
/// stderr, the same in the stdout JSON and the record beside the report.
fn failed_delivery(f: &Finished, tmp: &Path, channel: &str) -> serde_json::Value {
    assert_eq!(
        f.code, 1,
        "the failed drill keeps its exit code:\n{}",
        f.stderr
    );
    let (report, record) = written(tmp);
    let record = record.expect("the delivery record");
    assert_eq!(
        record["report_sha256"],
        sha256_hex(&report).as_str(),
        "the report is as written"
    );
    assert_eq!(stdout_json(f)["notifications"], record["notifications"]);
    let d = record["notifications"][0].clone();
    assert_eq!(d["channel"], channel);
    assert_eq!(d["outcome"]["status"], "failed", "{d}");
    let attempts = d["attempts"].as_u64().unwrap();
    let warned = format!(
        "warning: the {channel} alert to {} was not delivered ({attempts} {}): ",
        d["target"].as_str().unwrap(),
        if attempts == 1 { "attempt" } else { "attempts" }
    );
    assert!(f.stderr.contains(&warned), "{warned}\n{}", f.stderr);
    d
}

#[test]
fn an_unreachable_webhook_is_recorded_failed_after_three_attempts_in_bounded_time() {
    let tmp = tempdir();
    let port = closed_port();
    let notify =
        format!("[notify]\nwebhook = \"http://127.0.0.1:{port}/hooks/abc?token=s3cret\"\n");
    let f = drill(&scenario(tmp.path(), true, &notify), tmp.path());
    assert!(f.elapsed < Duration::from_secs(60), "took {:?}", f.elapsed);
    let d = failed_delivery(&f, tmp.path(), "webhook");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["target"], format!("http://127.0.0.1:{port}/hooks/abc"));
    let reason = d["outcome"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("cannot connect: "), "{reason}");
    assert!(!f.stderr.contains("s3cret") && !f.stdout.contains("s3cret"));
    // The history keeps the failed delivery, and doctor says it.
    let history = tmp.path().join("history.sqlite");
    let (code, text, err) = run(&[
        "doctor",
        "--history",
        history.to_str().unwrap(),
        "--max-age-days",
        "400",
    ]);
    assert!(
        text.contains("WARN last alerts: not delivered (record #1"),
        "{text}\n{err}"
    );
    assert!(text.contains("webhook http://127.0.0.1:"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_ne!(code, 0, "{text}");
}

#[test]
fn a_refused_smtp_login_is_a_failed_delivery_tried_once() {
    let tmp = tempdir();
    let smtp = SmtpSink::start("refuse-login");
    let password = tmp.path().join("smtp.password");
    std::fs::write(&password, "not-the-password\n").unwrap();
    std::fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let notify = format!(
        "[notify]\n[notify.email]\nsmtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\n\
         from = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n\
         user = \"drills\"\npassword_file = \"{}\"\n",
        smtp.port,
        password.display()
    );
    let f = drill(&scenario(tmp.path(), true, &notify), tmp.path());
    let d = failed_delivery(&f, tmp.path(), "email");
    assert_eq!(d["attempts"], 1, "a refused login is not retried");
    let reason = d["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the server refused the login ("),
        "{reason}"
    );
    assert!(
        reason.contains("535") && reason.contains("check `user` and the password"),
        "{reason}"
    );
    assert!(!f.stderr.contains("not-the-password"));
    assert_eq!(smtp.raw().len(), 0);
}

#[test]
fn implicit_tls_against_a_plain_smtp_server_is_a_failed_delivery() {
    let tmp = tempdir();
    let smtp = SmtpSink::start("accept");
    let notify = format!(
        "[notify]\n[notify.email]\nsmtp = \"smtp://127.0.0.1:{}\"\ntls = \"tls\"\n\
         from = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n",
        smtp.port
    );
    let f = drill(&scenario(tmp.path(), true, &notify), tmp.path());
    let d = failed_delivery(&f, tmp.path(), "email");
    assert_eq!(d["target"], format!("smtp://127.0.0.1:{}", smtp.port));
    let reason = d["outcome"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("TLS failed ("), "{reason}");
    assert!(reason.contains("use tls = starttls"), "{reason}");
    assert_eq!(smtp.raw().len(), 0);
}

// ---- scenarios refused ----

/// `[notify.email]` of `extra` lines after the monthly drill; runs it with a
/// key of its own and an empty backup folder: nothing of the clinic is needed
/// for a refusal.
fn refused_run(tmp: &Path, extra: &str) -> (PathBuf, (i32, String, String)) {
    let email = format!(
        "[notify]\n[notify.email]\nsmtp = \"smtp://mail.example.org\"\n\
         from = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n{extra}"
    );
    let file = scenario(tmp, true, &email);
    let key = make_key(tmp, "k");
    let backups = tmp.join("b");
    std::fs::create_dir_all(&backups).unwrap();
    let args: Vec<std::ffi::OsString> = vec![
        "--json".into(),
        "run".into(),
        file.clone().into(),
        "--backups".into(),
        backups.into(),
        "--identity".into(),
        key.path.into(),
        "--report-dir".into(),
        tmp.join("reports").into(),
        "--history".into(),
        tmp.join("history.sqlite").into(),
    ];
    (file, run_tracked(&args))
}

/// The 1-based line of the first line of `file` that starts with `key`.
fn line_of(file: &Path, key: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().position(|l| l.starts_with(key)).unwrap() + 1
}

#[test]
fn a_password_in_the_scenario_is_refused_with_its_line_and_the_fix() {
    let tmp = tempdir();
    let (file, (code, out, err)) =
        refused_run(tmp.path(), "user = \"drills\"\npassword = \"hunter2\"\n");
    assert_eq!(code, 2, "{out}\n{err}");
    let at = format!("{}:{}:", file.display(), line_of(&file, "password ="));
    assert!(err.contains(&at), "{at}\n{err}");
    assert!(
        err.contains("never write a password in a scenario: use password_env"),
        "{err}"
    );
    assert!(err.contains("password_file"), "{err}");
    assert!(!err.contains("hunter2") && !out.contains("hunter2"));
    assert!(!tmp.path().join("reports").exists(), "nothing was started");
}

#[test]
fn no_tls_to_a_remote_server_is_refused_with_its_line() {
    let tmp = tempdir();
    let (file, (code, out, err)) = refused_run(tmp.path(), "tls = \"none\"\n");
    assert_eq!(code, 2, "{out}\n{err}");
    let at = format!("{}:{}:", file.display(), line_of(&file, "tls ="));
    assert!(err.contains(&at), "{at}\n{err}");
    assert!(err.contains("only for a relay on this machine"), "{err}");
}

#[test]
fn a_password_file_readable_by_others_stops_the_drill_before_any_container() {
    let tmp = tempdir();
    let password = tmp.path().join("smtp.password");
    std::fs::write(&password, "pw\n").unwrap();
    std::fs::set_permissions(
        &password,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let extra = format!(
        "user = \"drills\"\npassword_file = \"{}\"\n",
        password.display()
    );
    let (_, (code, out, err)) = refused_run(tmp.path(), &extra);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("mode 644"), "{err}");
    assert!(
        err.contains(&format!("Fix: chmod 600 {}", password.display())),
        "{err}"
    );
    let (report, record) = written(tmp.path());
    let report = report_of(std::str::from_utf8(&report).unwrap());
    assert_eq!(report.verdict, Verdict::Error);
    assert_eq!(report.error.unwrap().phase, "read the SMTP password");
    assert!(report.phases.is_empty(), "nothing ran");
    // The alert of that run cannot log in either: no attempt was made.
    let d = &record.expect("the delivery record")["notifications"][0];
    assert_eq!(d["attempts"], 0, "{d}");
    assert!(
        d["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("chmod 600"),
        "{d}"
    );
}

/// A site file brings the practice's name and its alerts to a scenario that
/// has neither; one with a password in it is refused at its line.
#[test]
fn a_site_file_names_the_site_and_sends_its_alerts() {
    let tmp = tempdir();
    let hook = Hook::start();
    let site_file = tmp.path().join("site.toml");
    std::fs::write(
        &site_file,
        format!(
            "site = \"Harbour Optometry\"\n\n[notify]\nwebhook = \"{}\"\n",
            hook.url()
        ),
    )
    .unwrap();
    let clinic = shared_clinic();
    let scenario = scenario(tmp.path(), true, "");
    let reports = tmp.path().join("reports");
    let args = |site_file: &Path| {
        run_tracked(&[
            "--json".as_ref(),
            "run".as_ref(),
            scenario.as_os_str(),
            "--backups".as_ref(),
            clinic.backups.as_os_str(),
            "--identity".as_ref(),
            clinic.key.path.as_os_str(),
            "--report-dir".as_ref(),
            reports.as_os_str(),
            "--site-file".as_ref(),
            site_file.as_os_str(),
        ])
    };
    let (code, out, err) = args(&site_file);
    assert_eq!(code, 1, "{out}\n{err}");
    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "one POST");
    let j: serde_json::Value = serde_json::from_str(&requests[0].1).unwrap();
    assert_eq!(j["site"], "Harbour Optometry");

    let bad = tmp.path().join("bad-site.toml");
    std::fs::write(
        &bad,
        "site = \"x\"\n[notify]\n[notify.email]\nsmtp = \"smtp://127.0.0.1:25\"\ntls = \"none\"\nfrom = \"a@b.example\"\nto = [\"c@d.example\"]\npassword = \"hunter2\"\n",
    )
    .unwrap();
    let (code, _, err) = args(&bad);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad-site.toml:8"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

// ---- patient values the database quotes reach no sink ----

/// Custom checks whose errors make the database quote a patient's value:
/// a RAISE of a surname with an apostrophe, a surname taken as a relation's
/// name (`relation "…" does not exist`), and a full name with double quotes
/// cast to a schema and to a number. (name, query, what the report says.)
const QUOTING_CHECKS: [(&str, &str, &str); 4] = [
    (
        "raised surname",
        "DO $$BEGIN RAISE EXCEPTION '%', (SELECT last_name FROM patients WHERE id = 1); END$$",
        "raise_exception (SQLSTATE P0001)",
    ),
    (
        "surname as relation",
        "SELECT quote_ident(last_name)::regclass FROM patients WHERE id = 1",
        "undefined_table (SQLSTATE 42P01)",
    ),
    (
        "full name as schema",
        "SELECT quote_ident(first_name || ' ' || last_name)::regnamespace FROM patients WHERE id = 2",
        "invalid_schema_name (SQLSTATE 3F000)",
    ),
    (
        "full name as number",
        "SELECT (first_name || ' ' || last_name)::int FROM patients WHERE id = 2",
        "invalid_text_representation (SQLSTATE 22P02)",
    ),
];

/// The fixture's patients 1 and 2 (fixtures/clinic-generate.sql): names with
/// an apostrophe and with double quotes, and each piece a cut-short
/// redaction used to leave.
const QUOTED_NAMES: [&str; 5] = [
    "O'Brien-Hartley",
    "Brien-Hartley",
    "Robert \"Bob\"",
    "Bob",
    "Smith",
];

/// Every text the drill and its evidence pack left, by place.
fn every_sink(tmp: &Path, f: &Finished, hook: &Hook, smtp: &SmtpSink) -> Vec<(String, String)> {
    let mut texts = vec![
        ("stdout".to_string(), f.stdout.clone()),
        ("stderr".to_string(), f.stderr.clone()),
    ];
    for (head, body) in hook.requests() {
        texts.push(("webhook".into(), format!("{head}\n{body}")));
    }
    texts.extend(smtp.emails().into_iter().map(|m| ("email".to_string(), m)));
    texts.extend(
        smtp.raw()
            .into_iter()
            .map(|m| ("email as sent".to_string(), m)),
    );
    for dir in ["reports", "pack"] {
        for name in files_in(&tmp.join(dir)) {
            let path = tmp.join(dir).join(&name);
            let text = if name.ends_with(".pdf") {
                let out = Command::new("pdftotext")
                    .arg(&path)
                    .arg("-")
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            } else {
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
            };
            texts.push((format!("{dir}/{name}"), text));
        }
    }
    for name in ["junit.xml", "drill.prom"] {
        texts.push((
            name.into(),
            std::fs::read_to_string(tmp.join(name)).unwrap(),
        ));
    }
    let dump = Command::new("sqlite3")
        .arg(tmp.join("history.sqlite"))
        .arg(".dump")
        .output()
        .unwrap();
    texts.push((
        "history".into(),
        String::from_utf8_lossy(&dump.stdout).into_owned(),
    ));
    texts
}

#[test]
fn patient_values_the_database_quotes_reach_no_sink() {
    let tmp = tempdir();
    let (hook, smtp) = (Hook::start(), SmtpSink::start("accept"));
    let mut extra = String::new();
    for (name, query, _) in QUOTING_CHECKS {
        extra.push_str(&format!(
            "[[checks.sql]]\nname = \"{name}\"\nquery = '''{query}'''\nexpect = {{ at_least = 0 }}\n\n"
        ));
    }
    extra.push_str(&format!(
        "[notify]\nwebhook = \"{}\"\n[notify.email]\nsmtp = \"smtp://127.0.0.1:{}\"\ntls = \"none\"\n\
         from = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n",
        hook.url(),
        smtp.port
    ));
    let scenario = scenario(tmp.path(), false, &extra);
    let (junit, metrics) = (tmp.path().join("junit.xml"), tmp.path().join("drill.prom"));
    let mut args = drill_args(&scenario, tmp.path());
    args.extend([
        "--junit".into(),
        junit.into(),
        "--metrics".into(),
        metrics.into(),
    ]);
    let f = run_tracked_within(&args, Duration::from_secs(300));
    assert_eq!(
        f.code, 2,
        "checks that error are a broken scenario:\n{}\n{}",
        f.stdout, f.stderr
    );
    // The report part of what --json printed (the delivery record beside it
    // is not the report's).
    let report = report_of(&f.stdout);
    for (name, _, said) in QUOTING_CHECKS {
        let check = report
            .checks
            .iter()
            .find(|c| c.name == format!("sql: {name}"))
            .unwrap_or_else(|| panic!("no check {name}: {}", f.stdout));
        assert_eq!(check.status, Status::Error, "{check:?}");
        assert!(check.detail.as_str().contains(said), "{check:?}");
    }
    let pack = tmp.path().join("pack");
    let (code, out, err) = run(&[
        "evidence",
        "--history",
        tmp.path().join("history.sqlite").to_str().unwrap(),
        "--out",
        pack.to_str().unwrap(),
        "--site",
        SITE,
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The PDF, the HTML, the JSON and the signed list of them.
    assert_eq!(files_in(&pack).len(), 4, "{:?}", files_in(&pack));
    let texts = every_sink(tmp.path(), &f, &hook, &smtp);
    assert!(texts.iter().any(|(p, _)| p == "webhook") && texts.iter().any(|(p, _)| p == "email"));
    let mut values = patient_values();
    values.extend(QUOTED_NAMES.iter().map(|s| s.to_string()));
    for (place, text) in &texts {
        for v in &values {
            assert!(
                !text.contains(v.as_str()),
                "patient value {v:?} in {place}:\n{text}"
            );
        }
    }
}
