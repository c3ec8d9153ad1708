#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! The drill history and evidence packs, against real runs: drills recorded,
//! listed and verified; tampering with the sqlite3 CLI found and the record
//! named; packs read by pdfinfo, pdftotext, minisign and Chromium.

mod common;

use common::*;
use restore_drill::report::{Report, Verdict};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A history of three real runs, made once per test binary and copied by
/// each test: (1) a drill that fails its RPO objective, (2) a wrong-key
/// rehearsal (unrecoverable, as expected), (3) the monthly drill, passed.
struct Recorded {
    history: PathBuf,
    reports: PathBuf,
}

fn recorded() -> &'static Recorded {
    static R: std::sync::OnceLock<Recorded> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let clinic = shared_clinic();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("recorded-history-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let history = dir.join("history.sqlite");
        let reports = dir.join("reports");
        let strict = dir.join("strict-rpo.toml");
        let text = std::fs::read_to_string(scenario("monthly-drill.toml")).unwrap();
        std::fs::write(
            &strict,
            text.replace("rpo_hours = 26", "rpo_hours = 0.0001")
                .replace(
                    "name = \"monthly restore drill\"",
                    "name = \"strict RPO drill\"",
                ),
        )
        .unwrap();
        let runs = [
            (strict.display().to_string(), 1),
            (scenario("wrong-key.toml"), 0),
            (scenario("monthly-drill.toml"), 0),
        ];
        for (file, want) in runs {
            let (code, out, err) =
                drill(&file, &clinic.backups, &clinic.key.path, &history, &reports);
            assert_eq!(code, want, "{file}:\n{out}\n{err}");
        }
        Recorded { history, reports }
    })
}

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn drill(
    file: &str,
    backups: &Path,
    key: &Path,
    history: &Path,
    reports: &Path,
) -> (i32, String, String) {
    drill_recorded(file, backups, &[key], history, reports)
}

/// A copy of the recorded history for one test to change.
fn copy_history(to: &Path) -> PathBuf {
    let from = &recorded().history;
    let dest = to.join("history.sqlite");
    // sqlite3's backup copies the database whatever its journal holds.
    sqlite(from, &format!(".backup '{}'", dest.display()));
    dest
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

/// What a tamperer does first: the append-only triggers are a guard against
/// mistakes, not against someone with the file.
fn drop_guards(db: &Path) {
    sqlite(
        db,
        "DROP TRIGGER drills_no_update; DROP TRIGGER drills_no_delete;",
    );
}

fn history(db: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["history", "--history", db.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn three_runs_are_listed_and_the_chain_is_intact() {
    let r = recorded();
    let (code, out, err) = history(&r.history, &["list"]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "strict RPO drill",
        "wrong key",
        "monthly restore drill",
        "Main Street Eye Care",
        "3 records",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    let (code, json, _) = run(&[
        "--json",
        "history",
        "--history",
        r.history.to_str().unwrap(),
        "list",
    ]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let verdicts: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["failed", "unrecoverable", "passed"]);
    assert!(rows[2]["rto_seconds"].as_f64().unwrap() > 0.0);
    assert!(rows[2]["backup_taken_at"].is_string());

    let (code, out, err) = history(&r.history, &["verify"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("3 records, chain intact, head "), "{out}");
    let head = sqlite(&r.history, "SELECT hash FROM drills WHERE id = 3");
    assert!(out.contains(head.trim()), "{out}");
}

#[test]
fn each_record_holds_its_report_file_byte_for_byte() {
    let r = recorded();
    let (code, out, _) = run(&[
        "--json",
        "history",
        "--history",
        r.history.to_str().unwrap(),
        "show",
        "3",
    ]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sha = shown["report_sha256"].as_str().unwrap();
    let run_id = report_of(&shown["report"].to_string()).run_id;
    let file = files_in(&r.reports)
        .into_iter()
        .find(|f| f.contains(&run_id) && f.ends_with(".json"))
        .expect("the report file of record 3");
    assert_eq!(
        sha256_hex(&std::fs::read(r.reports.join(file)).unwrap()),
        sha
    );
}

#[test]
fn an_edited_verdict_is_found_and_the_record_named() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    // With the guard in place, the edit is refused outright.
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE drills SET report = replace(report, '\"verdict\": \"failed\"', '\"verdict\": \"passed\"') WHERE id = 1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("append-only"));
    drop_guards(&db);
    sqlite(&db, "UPDATE drills SET report = replace(report, '\"verdict\": \"failed\"', '\"verdict\": \"passed\"') WHERE id = 1");
    assert!(
        sqlite(&db, "SELECT report FROM drills WHERE id = 1").contains("\"verdict\": \"passed\"")
    );
    let (code, out, err) = history(&db, &["verify"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("record 1: its report was changed"), "{err}");
}

/// `history verify` on a copy of the recorded history after a tamperer ran
/// `sql` on it with the sqlite3 CLI: exit 1, and the message it gave.
fn verify_after_tampering(sql: &str) -> String {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    drop_guards(&db);
    sqlite(&db, sql);
    let (code, out, err) = history(&db, &["verify"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.starts_with("BROKEN: "), "{out}");
    err
}

#[test]
fn a_deleted_middle_record_is_found_and_the_next_record_named() {
    let err = verify_after_tampering("DELETE FROM drills WHERE id = 2");
    assert!(
        err.contains("record 3: it does not follow record 1"),
        "{err}"
    );
}

#[test]
fn two_swapped_records_are_found_and_the_first_named() {
    let err = verify_after_tampering(
        "UPDATE drills SET id = -2 WHERE id = 2; UPDATE drills SET id = 2 WHERE id = 3; UPDATE drills SET id = 3 WHERE id = -2;",
    );
    assert!(err.contains("record 2: its fields"), "{err}");
}

#[test]
fn a_changed_site_with_its_report_intact_is_found_by_the_record_hash() {
    let err = verify_after_tampering("UPDATE drills SET site = 'Elsewhere' WHERE id = 2");
    assert!(err.contains("record 2: its fields"), "{err}");
}

/// A signing key pair made by the command, in `dir`.
fn signing_key(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("evidence.key");
    let (code, out, err) = run(&["keys", "generate-signing", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    (key.clone(), dir.join("evidence.key.pub"))
}

/// The period that holds today's recorded runs.
fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn make_pack(db: &Path, out: &Path, key: Option<&Path>) -> (i32, String, String) {
    let mut args = vec![
        "evidence".to_string(),
        "--history".into(),
        db.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--since".into(),
        "2026-01-01".into(),
        "--until".into(),
        today(),
    ];
    if let Some(k) = key {
        args.extend(["--signing-key".into(), k.display().to_string()]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&a)
}

fn pack_file(dir: &Path, ext: &str) -> PathBuf {
    let name = files_in(dir)
        .into_iter()
        .find(|f| f.starts_with("evidence-") && f.ends_with(ext))
        .unwrap_or_else(|| panic!("no {ext} in {:?}", files_in(dir)));
    dir.join(name)
}

fn tool(cmd: &str, args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    decode(
        Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd}: {e}")),
    )
}

#[test]
fn the_pack_pdf_is_readable_and_says_what_was_tested_without_patient_data() {
    let tmp = tempdir();
    let out = tmp.path().join("pack");
    let (code, text, err) = make_pack(&recorded().history, &out, None);
    assert_eq!(code, 0, "{text}\n{err}");
    let pdf = pack_file(&out, ".pdf");
    let (code, info, err) = tool("pdfinfo", &[pdf.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(info.contains("Pages:"), "{info}");
    let (code, body, err) = tool(
        "pdftotext",
        &["-layout".as_ref(), pdf.as_os_str(), "-".as_ref()],
    );
    assert_eq!(code, 0, "{err}");
    let day = today();
    for want in [
        "2026-01-01".to_string(),
        day.clone(),
        "Main Street Eye Care".into(),
        "164.308(a)(7)".into(),
        "strict RPO drill".into(),
        "CIS".into(),
        "72 hours".into(),
    ] {
        assert!(body.contains(&want), "{want} not in the PDF:\n{body}");
    }
    // Each run's date, and the failed drill named among the failures.
    let pack: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pack_file(&out, ".json")).unwrap()).unwrap();
    assert_eq!(pack["drills"].as_array().unwrap().len(), 3);
    assert_eq!(pack["failures"][0]["scenario"], "strict RPO drill");
    // The monthly drill after it is the drill that next passed.
    assert_eq!(pack["failures"][0]["next_pass"]["id"], 3);
    assert_eq!(
        pack["failures"].as_array().unwrap().len(),
        1,
        "the wrong-key rehearsal went as expected"
    );
    assert!(body.contains("Failures"), "{body}");
    let a = pack["questions"].as_array().unwrap();
    let status = |id: &str| {
        a.iter().find(|q| q["id"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("insurer-restore-tested"), "yes");
    assert_eq!(status("hipaa-164.308-a-7-ii-A"), "yes");
    assert_eq!(status("insurer-offline-backups"), "not-evidenced");
    assert!(body.contains("NOT EVIDENCED"), "{body}");
    // No patient value, from the backup itself, in any file of the pack.
    let values = patient_values();
    for f in files_in(&out) {
        let text = if f.ends_with(".pdf") {
            body.clone()
        } else {
            std::fs::read_to_string(out.join(&f)).unwrap()
        };
        for v in &values {
            assert!(!text.contains(v.as_str()), "patient value {v:?} in {f}");
        }
    }
}

#[test]
fn a_signed_pack_verifies_with_minisign_and_fails_after_one_byte_changes() {
    let tmp = tempdir();
    let (key, public) = signing_key(tmp.path());
    let out = tmp.path().join("pack");
    let (code, text, err) = make_pack(&recorded().history, &out, Some(&key));
    assert_eq!(code, 0, "{text}\n{err}");
    for ext in [".pdf", ".html", ".json"] {
        let f = pack_file(&out, ext);
        let (code, said, err) = tool(
            "minisign",
            &[
                "-V".as_ref(),
                "-p".as_ref(),
                public.as_os_str(),
                "-m".as_ref(),
                f.as_os_str(),
            ],
        );
        assert_eq!(code, 0, "minisign rejected {}: {said}{err}", f.display());
    }
    let (code, said, err) = run(&[
        "evidence",
        "verify",
        out.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{said}\n{err}");
    assert!(said.contains("3 files verified"), "{said}");
    // One byte changed in the PDF: both minisign and restore-drill refuse it.
    let pdf = pack_file(&out, ".pdf");
    let mut bytes = std::fs::read(&pdf).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&pdf, &bytes).unwrap();
    let (code, _, _) = tool(
        "minisign",
        &[
            "-V".as_ref(),
            "-p".as_ref(),
            public.as_os_str(),
            "-m".as_ref(),
            pdf.as_os_str(),
        ],
    );
    assert_ne!(code, 0, "minisign accepted a changed PDF");
    let (code, said, err) = run(&[
        "evidence",
        "verify",
        out.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{said}\n{err}");
    assert!(
        err.contains(pdf.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn the_html_page_renders_in_chromium_without_a_network_request() {
    let tmp = tempdir();
    let out = tmp.path().join("pack");
    let (code, text, err) = make_pack(&recorded().history, &out, None);
    assert_eq!(code, 0, "{text}\n{err}");
    let html = pack_file(&out, ".html");
    let page = std::fs::read_to_string(&html).unwrap();
    for banned in [
        "<script", "http://", "https://", "url(", "@import", "<link", "<img",
    ] {
        assert!(!page.contains(banned), "{banned} in the page");
    }
    let shot = tmp.path().join("page.png");
    let requests = render_through_proxy(&html, &shot, tmp.path());
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot of {} bytes",
        png.len()
    );
    assert!(
        requests.iter().all(|r| chromium_own(r)),
        "the page made network requests: {requests:?}"
    );
    // The detector works: a page with one external image is caught.
    let control = tmp.path().join("control.html");
    std::fs::write(
        &control,
        "<html><body><img src=\"http://pack-test.invalid/x.png\"></body></html>",
    )
    .unwrap();
    let seen = render_through_proxy(&control, &tmp.path().join("control.png"), tmp.path());
    assert!(
        seen.iter().any(|r| r.contains("pack-test.invalid")),
        "the proxy saw no request of the control page: {seen:?}"
    );
}

#[test]
fn a_history_cut_short_is_found_against_the_pack() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    let out = tmp.path().join("pack");
    let (key, public) = signing_key(tmp.path());
    let (code, text, err) = make_pack(&db, &out, Some(&key));
    assert_eq!(code, 0, "{text}\n{err}");
    let json = pack_file(&out, ".json");
    let (code, said, err) = history(
        &db,
        &[
            "verify",
            "--against",
            json.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{said}\n{err}");
    assert!(said.contains("nothing it recorded was cut off"), "{said}");
    drop_guards(&db);
    sqlite(&db, "DELETE FROM drills WHERE id = 3");
    // Alone, the shorter chain is intact ...
    let (code, said, _) = history(&db, &["verify"]);
    assert_eq!(code, 0, "{said}");
    // ... but not against the pack.
    let (code, said, err) = history(&db, &["verify", "--against", json.to_str().unwrap()]);
    assert_eq!(code, 1, "{said}\n{err}");
    assert!(
        err.contains("names record 3 as the head, but the history ends at record 2"),
        "{err}"
    );
}

#[test]
fn a_pack_is_refused_when_the_chain_is_broken() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    drop_guards(&db);
    sqlite(&db, "UPDATE drills SET site = 'Elsewhere' WHERE id = 2");
    let out = tmp.path().join("pack");
    let (code, said, err) = make_pack(&db, &out, None);
    assert_eq!(code, 1, "{said}\n{err}");
    assert!(err.contains("record 2"), "{err}");
    assert!(
        !out.exists() || files_in(&out).is_empty(),
        "a pack was written"
    );
}

#[test]
fn a_period_without_drills_still_makes_a_pack_that_says_so_and_exits_1() {
    let tmp = tempdir();
    let out = tmp.path().join("pack");
    let (code, said, err) = run(&[
        "evidence",
        "--history",
        recorded().history.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--since",
        "2020-01-01",
        "--until",
        "2020-12-31",
    ]);
    assert_eq!(code, 1, "{said}\n{err}");
    assert!(
        err.contains("no restore was tested between 2020-01-01 and 2020-12-31"),
        "{err}"
    );
    let (_, body, _) = tool(
        "pdftotext",
        &[pack_file(&out, ".pdf").as_os_str(), "-".as_ref()],
    );
    assert!(body.contains("No restore was tested"), "{body}");
}

#[test]
fn two_drills_finishing_together_are_both_recorded_in_order() {
    let clinic = shared_clinic();
    let tmp = tempdir();
    let db = tmp.path().join("history.sqlite");
    let reports = tmp.path().join("reports");
    let spawn = || {
        let (db, reports, backups, key) = (
            db.clone(),
            reports.clone(),
            clinic.backups.clone(),
            clinic.key.path.clone(),
        );
        std::thread::spawn(move || {
            drill(
                &scenario("monthly-drill.toml"),
                &backups,
                &key,
                &db,
                &reports,
            )
        })
    };
    let (a, b) = (spawn(), spawn());
    for t in [a, b] {
        let (code, out, err) = t.join().unwrap();
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains("history  record "), "{out}");
    }
    let (code, out, err) = history(&db, &["verify"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("2 records, chain intact"), "{out}");
    assert_eq!(
        sqlite(&db, "SELECT group_concat(id) FROM drills").trim(),
        "1,2"
    );
}

/// Four hundred appends from two connections at once, each on a thread and
/// runtime of its own as two processes would be, released together: every one
/// lands, numbered in order, the chain intact.
#[test]
fn concurrent_appends_keep_the_chain_intact() {
    use restore_drill::ledger::Ledger;
    let tmp = tempdir();
    let db = tmp.path().join("h.sqlite");
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let start = std::sync::Arc::new(std::sync::Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            let (db, start) = (db.clone(), start.clone());
            std::thread::spawn(move || {
                rt().block_on(async {
                    // Both open the new file at once; the barrier is passed
                    // whatever the open did, so a failed open fails the test
                    // instead of leaving the other writer waiting forever.
                    let opened = Ledger::open_or_create(&db).await;
                    start.wait();
                    let mut l = opened.unwrap();
                    for i in 0..200 {
                        let report = format!("{{\"writer\": {writer}, \"i\": {i}}}");
                        l.append(&report, "site").await.unwrap();
                    }
                })
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    rt().block_on(async {
        let mut l = Ledger::open(&db).await.unwrap();
        let stored = l.stored().await.unwrap();
        assert_eq!(stored.len(), 400);
        assert!(stored.iter().enumerate().all(|(i, s)| s.id == i as i64 + 1));
        let head = restore_drill::ledger::chain::verify(&stored).unwrap();
        assert_eq!(head.records, 400);
        // The reports are not drill reports: reading them back is refused, by record.
        let err = l.verified().await.unwrap_err().to_string();
        assert!(err.contains("record 1"), "{err}");
    });
}

/// Regression: drills opening a new history at the same moment. Switching
/// the file to WAL and creating the deliveries table got SQLite's immediate
/// "busy" (its deadlock avoidance does not wait), reported as a history
/// locked for 30 s; one drill in a few lost its record.
#[test]
fn drills_opening_a_new_history_at_once_all_open_it() {
    use restore_drill::ledger::Ledger;
    let tmp = tempdir();
    for round in 0..40 {
        let db = tmp.path().join(format!("h{round}.sqlite"));
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (db, start) = (db.clone(), start.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    start.wait();
                    rt.block_on(async {
                        let mut l = Ledger::open_or_create(&db).await?;
                        l.append("{}", "site").await.map(|_| ())
                    })
                })
            })
            .collect();
        for o in openers {
            if let Err(e) = o.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
    }
}

#[test]
fn a_missing_history_is_exit_3_and_not_created() {
    let tmp = tempdir();
    let db = tmp.path().join("none.sqlite");
    let (code, _, err) = history(&db, &["list"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no drill history at") && err.contains("--history"),
        "{err}"
    );
    assert!(!db.exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_exit_3_named_damaged() {
    let tmp = tempdir();
    let db = tmp.path().join("h.sqlite");
    std::fs::write(&db, vec![0x5a_u8; 8192]).unwrap();
    let (code, _, err) = history(&db, &["verify"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("damaged or not an SQLite file"), "{err}");
}

#[test]
fn a_foreign_sqlite_file_is_exit_2_and_left_alone() {
    let tmp = tempdir();
    let db = tmp.path().join("other.sqlite");
    sqlite(
        &db,
        "CREATE TABLE patients (name TEXT); INSERT INTO patients VALUES ('x');",
    );
    let before = sha256_hex(&std::fs::read(&db).unwrap());
    let (code, _, err) = history(&db, &["list"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a restore-drill drill history"), "{err}");
    // A drill recording into it refuses it too, before changing a byte.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = rt.block_on(restore_drill::ledger::Ledger::open_or_create(&db));
    assert!(refused
        .err()
        .unwrap()
        .to_string()
        .contains("not a restore-drill drill history"));
    assert_eq!(sha256_hex(&std::fs::read(&db).unwrap()), before);
}

#[test]
fn a_history_from_a_newer_version_is_exit_3_and_left_alone() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    sqlite(
        &db,
        "UPDATE ledger_meta SET value = '99' WHERE key = 'ledger_version'",
    );
    let (code, _, err) = history(&db, &["verify"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("newer restore-drill (ledger format 99"),
        "{err}"
    );
}

#[test]
fn a_locked_history_is_exit_3_after_a_bounded_wait() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    // Another process holds the file exclusively (locking mode EXCLUSIVE and
    // a write: no other connection can even read) for longer than we wait.
    let mut holder = Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().unwrap();
        stdin
            .write_all(b"PRAGMA locking_mode=EXCLUSIVE;\nBEGIN EXCLUSIVE;\nINSERT INTO ledger_meta VALUES ('held', 'x');\n")
            .unwrap();
        stdin.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let start = std::time::Instant::now();
    let (code, _, err) = history(&db, &["list"]);
    let waited = start.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("is locked by another process (waited 30 s)"),
        "{err}"
    );
    assert!(waited < std::time::Duration::from_secs(60), "{waited:?}");
}

#[test]
fn a_signing_key_is_made_once_mode_600_and_never_overwritten() {
    let tmp = tempdir();
    let (key, public) = signing_key(tmp.path());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .contains("restore-drill evidence signing public key"));
    let before = sha256_hex(&std::fs::read(&key).unwrap());
    let (code, _, err) = run(&["keys", "generate-signing", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(sha256_hex(&std::fs::read(&key).unwrap()), before);
}

#[test]
fn a_signing_key_others_can_read_is_exit_3_and_nothing_is_written() {
    let tmp = tempdir();
    let (key, _) = signing_key(tmp.path());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = tmp.path().join("pack");
    let (code, _, err) = make_pack(&recorded().history, &out, Some(&key));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_signing_key_of_the_wrong_format_is_exit_2() {
    let tmp = tempdir();
    let age_key = make_key(tmp.path(), "age.key");
    let out = tmp.path().join("pack");
    let (code, _, err) = make_pack(&recorded().history, &out, Some(&age_key.path));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keys generate-signing"), "{err}");
    assert!(!out.exists());
}

#[test]
fn an_unwritable_out_directory_is_exit_3() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    // An unprivileged user, a directory only root may write to.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_restore-drill"))
        .args(["evidence", "--history", db.to_str().unwrap(), "--out"])
        .arg(locked.join("pack"))
        .output()
        .unwrap();
    let (code, _, err) = decode(out);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("evidence directory") && err.contains("Permission denied"),
        "{err}"
    );
}

#[test]
fn a_history_that_cannot_be_written_fails_a_passed_drill_with_exit_3_after_its_report() {
    let clinic = shared_clinic();
    let tmp = tempdir();
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let db = blocker.join("history.sqlite");
    let reports = tmp.path().join("reports");
    let (code, out, err) = drill(
        &scenario("monthly-drill.toml"),
        &clinic.backups,
        &clinic.key.path,
        &db,
        &reports,
    );
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("PASSED"), "{out}");
    assert!(
        err.contains("the drill was not recorded in the history"),
        "{err}"
    );
    assert_eq!(
        files_in(&reports)
            .iter()
            .filter(|f| f.ends_with(".json"))
            .count(),
        1
    );
}

/// A history holding the recorded runs' reports moved `days` into the past,
/// appended through the library as a drill would: the chain is intact.
fn history_aged(dir: &Path, days: i64, edit: impl Fn(&mut Report)) -> PathBuf {
    let from = recorded().history.to_str().unwrap();
    let reports: Vec<Report> = ["1", "2", "3"]
        .iter()
        .map(|id| {
            let (code, out, err) = run(&["--json", "history", "--history", from, "show", id]);
            assert_eq!(code, 0, "{err}");
            // `show` prints the record (hash, sha) around the report.
            let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
            report_of(&shown["report"].to_string())
        })
        .collect();
    let db = dir.join("aged.sqlite");
    let shift = chrono::Duration::days(days);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut l = restore_drill::ledger::Ledger::open_or_create(&db)
            .await
            .unwrap();
        for r in &reports {
            let mut v = r.clone();
            v.started_at -= shift;
            v.finished_at -= shift;
            edit(&mut v);
            l.append(&v.to_json(), "Main Street Eye Care")
                .await
                .unwrap();
        }
        l.close().await.unwrap();
    });
    db
}

fn doctor(db: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["doctor", "--history", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn doctor_warns_with_exit_1_when_the_last_pass_is_40_days_old() {
    let tmp = tempdir();
    let db = history_aged(tmp.path(), 40, |_| {});
    let (code, text, err) = doctor(&db, &[]);
    assert_eq!(code, 1, "{text}\n{err}");
    assert!(
        text.contains("WARN last passing drill: 40 days ago"),
        "{text}"
    );
    assert!(text.contains("older than 35 days"), "{text}");
    assert!(text.contains("3 records, chain intact"), "{text}");
    // The same history within a longer limit: nothing to warn about.
    let (code, text, err) = doctor(&db, &["--max-age-days", "60"]);
    assert_eq!(code, 0, "{text}\n{err}");
    assert!(
        text.contains("ok   last passing drill: 40 days ago"),
        "{text}"
    );
    assert!(text.contains("ok   newest backup"), "{text}");
}

#[test]
fn doctor_warns_when_no_drill_ever_passed() {
    let tmp = tempdir();
    let db = history_aged(tmp.path(), 1, |v| v.verdict = Verdict::Failed);
    let (code, text, err) = doctor(&db, &[]);
    assert_eq!(code, 1, "{text}\n{err}");
    assert!(
        text.contains("no restore drill has ever passed (3 runs recorded)"),
        "{text}"
    );
}

#[test]
fn doctor_warns_when_the_newest_backup_is_older_than_the_rpo_objective() {
    let tmp = tempdir();
    let db = history_aged(tmp.path(), 1, |v| {
        for o in &mut v.objectives {
            if o.name.starts_with("RPO") {
                o.target_seconds = 1.0;
            }
        }
    });
    let (code, text, err) = doctor(&db, &[]);
    assert_eq!(code, 1, "{text}\n{err}");
    assert!(text.contains("WARN newest backup"), "{text}");
    assert!(text.contains("older than the objective"), "{text}");
}

#[test]
fn doctor_warns_when_there_is_no_history_or_it_was_tampered_with() {
    let tmp = tempdir();
    let (code, text, _) = doctor(&tmp.path().join("none.sqlite"), &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("no drill history at"), "{text}");
    let db = copy_history(tmp.path());
    drop_guards(&db);
    sqlite(&db, "DELETE FROM drills WHERE id = 2");
    let (code, text, _) = doctor(&db, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("tampered with: record 3"), "{text}");
}

/// `evidence` over the default period (no --since, no --until), as a
/// contractor runs it; `extra` adds flags.
fn default_pack(db: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "evidence",
        "--history",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn pack_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(pack_file(dir, ".json")).unwrap()).unwrap()
}

/// The contractor's typo (`--identity keys/daliy.key`): recorded, as an
/// operator error, and no answer of the pack moves.
#[test]
fn a_mistyped_key_file_is_an_operator_error_that_changes_no_answer() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    let before = tmp.path().join("before");
    let (code, out, err) = default_pack(&db, &before, &[]);
    assert_eq!(code, 0, "{out}\n{err}");

    let typo = tmp.path().join("keys/daliy.key");
    let clinic = shared_clinic();
    let (code, out, err) = drill(
        &scenario("monthly-drill.toml"),
        &clinic.backups,
        &typo,
        &db,
        &tmp.path().join("reports"),
    );
    assert_eq!(code, 3, "a missing key file: {out}\n{err}");
    assert!(err.contains("daliy.key"), "{err}");
    let (_, list, _) = history(&db, &["list"]);
    let last = list.lines().rev().nth(1).unwrap();
    assert!(last.contains("operator-error"), "{list}");
    let (_, rows, _) = run(&[
        "--json",
        "history",
        "--history",
        db.to_str().unwrap(),
        "list",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    assert_eq!(rows[3]["kind"], "operator-error", "{rows}");

    let after = tmp.path().join("after");
    let (code, out, err) = default_pack(&db, &after, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (a, b) = (pack_json(&before), pack_json(&after));
    for part in ["questions", "summary", "failures", "drills", "rehearsals"] {
        assert_eq!(a[part], b[part], "{part} changed");
    }
    assert_eq!(a["operator_errors"].as_array().unwrap().len(), 0, "{a}");
    let listed = &b["operator_errors"][0];
    assert_eq!(listed["step"], "load keys", "{b}");
    assert!(
        listed["reason"].as_str().unwrap().contains("daliy.key"),
        "{b}"
    );
}

/// The history began today: the default period starts at its first record
/// and no answer counts the year before it as a year without a restore.
#[test]
fn a_first_day_pack_starts_at_the_first_record_and_never_says_364_days() {
    let tmp = tempdir();
    let out = tmp.path().join("pack");
    let (code, text, err) = default_pack(&recorded().history, &out, &[]);
    assert_eq!(code, 0, "{text}\n{err}");
    let p = pack_json(&out);
    assert_eq!(p["period"]["since"], today(), "{}", p["period"]);
    let cis = p["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "cis-11.5")
        .unwrap();
    assert_eq!(cis["status"], "not-evidenced", "{cis}");
    let (_, body, _) = tool(
        "pdftotext",
        &[
            "-layout".as_ref(),
            pack_file(&out, ".pdf").as_os_str(),
            "-".as_ref(),
        ],
    );
    for text in [p.to_string(), body] {
        assert!(!text.contains("364 days"), "{text}");
        assert!(!text.contains("365 days"), "{text}");
    }
}

#[test]
fn a_site_the_history_lacks_is_exit_2_listing_the_sites_it_holds() {
    let tmp = tempdir();
    let out = tmp.path().join("pack");
    let (code, text, err) =
        default_pack(&recorded().history, &out, &["--site", "Main St Eye Care"]);
    assert_eq!(code, 2, "{text}\n{err}");
    assert!(
        err.contains("--site \"Main St Eye Care\": no run of that site"),
        "{err}"
    );
    assert!(err.contains("\"Main Street Eye Care\" (3 runs)"), "{err}");
    assert!(
        !out.exists() || files_in(&out).is_empty(),
        "nothing written"
    );
}

/// Two sites in one history: a pack speaks for one clinic unless told.
#[test]
fn a_history_of_two_sites_needs_site_or_all_sites() {
    let tmp = tempdir();
    let db = copy_history(tmp.path());
    // A second site's run (an operator error is enough to name it).
    let (code, _, err) = run(&[
        "run",
        &scenario("monthly-drill.toml"),
        "--backups",
        tmp.path().to_str().unwrap(),
        "--identity",
        tmp.path().join("none.key").to_str().unwrap(),
        "--report-dir",
        tmp.path().join("reports").to_str().unwrap(),
        "--history",
        db.to_str().unwrap(),
        "--site",
        "Oak Lane Optometry",
    ]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = default_pack(&db, &tmp.path().join("mixed"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds runs of 2 sites"), "{err}");
    assert!(err.contains("\"Oak Lane Optometry\" (1 run)"), "{err}");
    let (code, out, err) = default_pack(&db, &tmp.path().join("all"), &["--all-sites"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = default_pack(
        &db,
        &tmp.path().join("one"),
        &["--site", "Main Street Eye Care"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        pack_json(&tmp.path().join("one"))["sites"][0],
        "Main Street Eye Care"
    );
}

#[test]
fn an_unsigned_pack_is_made_with_a_loud_warning() {
    let tmp = tempdir();
    let (code, out, err) = default_pack(&recorded().history, &tmp.path().join("p"), &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("THIS PACK IS NOT SIGNED"), "{err}");
    let (key, _) = signing_key(tmp.path());
    let (code, out, err) = default_pack(
        &recorded().history,
        &tmp.path().join("s"),
        &["--signing-key", key.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("NOT SIGNED"), "{err}");
}
