#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Snapshots (insta) of what a PostgreSQL drill says, for the monthly drill
//! and each failure scenario: the JSON report, the terminal summary, and for
//! the monthly drill the evidence pack's JSON. A changed field name, message
//! or verdict shows up as a diff in review instead of slipping through.
//!
//! What differs between runs and machines is redacted: durations,
//! timestamps, run ids, hashes, sizes and row counts (the generated clinic's
//! rows depend on the day), temporary paths and versions. The snapshots live
//! in tests/snapshots/; `cargo insta review` (or INSTA_UPDATE=always) updates
//! them after an intended change. tests/run sets INSTA_UPDATE=no, so the
//! suite fails on a changed or missing snapshot and writes nothing.

mod common;

use common::*;
use insta::internals::Content;
use std::path::{Path, PathBuf};

/// Patients in each test's clinic: enough for every check to have rows,
/// small enough for the whole file to run in about a minute.
const PATIENTS: u32 = 300;

/// disk-full sizes the recovery server's storage as an empty server plus a
/// quarter of the dump: on a clinic of a few hundred patients that margin is
/// so thin that pg_restore sometimes fails before the disk does (a different
/// finding). tests/failures.rs drills it on 1500 patients; so does this.
const DISK_FULL_PATIENTS: u32 = 1500;

/// One drill of a shipped scenario on a clinic of its own.
struct Drill {
    code: i32,
    /// What `restore-drill run` printed on stdout (without --json).
    summary: String,
    /// The JSON report it saved.
    report: serde_json::Value,
    /// The history it was recorded in (this drill alone).
    history: PathBuf,
    tmp: tempfile::TempDir,
}

/// Generates a clinic, runs `scenarios/NAME.toml` on it without --json and
/// reads back the saved report. lost-key also gets the escrow key, the way
/// the clinic rehearses it (tests/failures.rs covers it without).
fn drill(name: &str) -> Drill {
    let tmp = tempdir();
    let daily = make_key(tmp.path(), "daily.key");
    let escrow = make_key(tmp.path(), "escrow.key");
    let backups = tmp.path().join("backups");
    let reports = tmp.path().join("reports");
    let history = tmp.path().join("history.sqlite");
    let patients = match name {
        "disk-full" => DISK_FULL_PATIENTS,
        _ => PATIENTS,
    };
    generate_fixture(&backups, patients, &[&daily, &escrow]);
    let file = format!("{}/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let mut keys = vec![daily.path.as_path()];
    if name == "lost-key" {
        keys.push(&escrow.path);
    }
    let (code, summary, err) = drill_recorded(&file, &backups, &keys, &history, &reports);
    let saved: Vec<String> = files_in(&reports)
        .into_iter()
        .filter(|f| f.ends_with(".json"))
        .collect();
    assert_eq!(
        saved.len(),
        1,
        "{name}: reports {saved:?}\n{summary}\n{err}"
    );
    let text = std::fs::read_to_string(reports.join(&saved[0])).unwrap();
    Drill {
        code,
        summary,
        report: serde_json::from_str(&text).unwrap(),
        history,
        tmp,
    }
}

/// A number or text that differs from run to run, replaced by `label`; a
/// null stays null, so that "unknown" (an RTO never reached) still shows.
fn varies(label: &'static str) -> insta::internals::Redaction {
    insta::dynamic_redaction(move |value, _path| match value {
        Content::None | Content::Unit => value,
        _ => label.into(),
    })
}

/// Applies the redactions and filters shared by every snapshot, then runs
/// `assert` (an insta assertion) under them.
fn redacted(assert: impl FnOnce()) {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    for selector in VARIES {
        s.add_redaction(selector, "[varies]");
    }
    for selector in SECONDS {
        s.add_redaction(selector, varies("[seconds]"));
    }
    for selector in COUNTS {
        s.add_redaction(selector, varies("[count]"));
    }
    for (pattern, to) in FILTERS {
        s.add_filter(pattern, *to);
    }
    s.bind(assert);
}

/// Fields of the report and the pack that differ on every run.
const VARIES: &[&str] = &[
    // The report.
    ".tool",
    ".scenario.file",
    ".run_id",
    ".started_at",
    ".finished_at",
    ".clock_started.at",
    ".phases[].started_at",
    ".backup.created_at",
    ".backup.sha256",
    ".target.server_version",
    // The machine the drill ran on, and its server's version in the pack.
    ".host",
    ".methods.hosts[]",
    ".methods.engines[]",
    ".lost_writes.first_lost_at",
    ".lost_writes.last_lost_at",
    // The evidence pack.
    ".generated_at",
];

/// Durations, in the report and the pack.
const SECONDS: &[&str] = &[
    ".rto_seconds",
    ".rpo_seconds",
    ".rpo_cost_seconds",
    ".objectives[].actual_seconds",
    ".phases[].seconds",
    ".checks[].seconds",
    ".lost_writes.span_seconds",
    ".summary.rto.worst_seconds",
    ".summary.rto.latest_seconds",
    ".summary.rpo.worst_seconds",
    ".summary.rpo.latest_seconds",
    ".drills[].rto_seconds",
    ".drills[].rpo_seconds",
    ".protection.backup_age[].newest_backup_age_seconds",
];

/// Sizes and counts that depend on the day's clinic or on timing.
const COUNTS: &[&str] = &[
    ".backup.bytes",
    ".backup.dump_bytes",
    ".backup.restored_as.staging_bytes",
    ".backup.restored_data.bound_bytes",
    ".lost_writes.committed",
    ".lost_writes.lost",
    ".lost_writes.in_backup_per_manifest",
];

/// Text filters, in order, for what varies inside sentences (and paths and
/// names in the JSON strings): applied to every snapshot.
const FILTERS: &[(&str, &str)] = &[
    // This test's folder and the drill's scratch copy of the backups.
    (r#"[^\s"]*/restore-drill-test-[A-Za-z0-9]+"#, "[TMP]"),
    (r#"[^\s"]*/restore-drill-scratch-[A-Za-z0-9]+"#, "[SCRATCH]"),
    // Public keys as messages shorten them (each test makes its own keys).
    (r"\bage1[a-z0-9]{4}…[a-z0-9]{4}\b", "age1[KEY]"),
    // Hashes: SHA-256 of a backup, a history record's hash (whole or short).
    (r"\b[0-9a-f]{64}\b", "[HASH]"),
    (r"\(hash [0-9a-f]{16}\)", "(hash [HASH])"),
    // Times: in file names, then full, then dates alone (the pack's period
    // ends today).
    (r"\d{8}T\d{6}Z", "[STAMP]"),
    (
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z| UTC)?",
        "[TIME]",
    ),
    (r"\d{4}-\d{2}-\d{2}", "[DATE]"),
    // A report's run id, in its file name.
    (r"\[STAMP\]-[0-9a-f]{12}\b", "[STAMP]-[RUN]"),
    // Durations in seconds, and the phase table's seconds column; spans in
    // words (the first line's data lost, the backup's age).
    (r"\b\d+(\.\d+)? s\b", "[N] s"),
    (
        r"\b\d+(\.\d+)? (second|minute|hour|day)s? of data lost",
        "[SPAN] of data lost",
    ),
    (
        r"backup \d+(\.\d+)? (second|minute|hour|day)s? old",
        "backup [SPAN] old",
    ),
    (r"(?m)^([a-z][a-z ]*[a-z]) +\d+\.\d\d$", "$1 [N]"),
    // How old the newest row is when the backup is taken: the time of day.
    (r"\d+(\.\d+)? h older", "[N] h older"),
    // Sizes and counts that depend on the day's clinic or on timing.
    (r"\b\d+ bytes", "[N] bytes"),
    (r"\b\d+ of the backup's", "[N] of the backup's"),
    (r"\b\d+ in the manifest", "[N] in the manifest"),
    (r"from \d+ to \[N\] bytes", "from [N] to [N] bytes"),
    (r"\b\d+(\.\d+)? MiB", "[N] MiB"),
    (r"\b\d+ rows", "[N] rows"),
    (r"offsets [\d, ]+", "offsets [N]"),
    // pg_restore's two parallel jobs each may or may not hit the full disk
    // before it stops, so what else it said, and in which order, varies:
    // the finding is kept, the rest of its words are not.
    (
        r"(disk_full \(SQLSTATE 53100\); )+[^(]*?\d+ other lines? not shown",
        "disk_full (SQLSTATE 53100); [what else pg_restore said] not shown",
    ),
    (r"\b\d+ other lines? not shown", "[N] other lines not shown"),
    (
        r"\b\d+ of \d+ committed writes",
        "[N] of [N] committed writes",
    ),
    (r"after \d+ committed writes", "after [N] committed writes"),
];

/// Ransomware leaves files with equal modification times, which the drill
/// may try in either order: the primary store's attempts sorted by path, so
/// the snapshot does not depend on it.
fn stable_order(report: &mut serde_json::Value) {
    if let Some(attempts) = report["attempts"].as_array_mut() {
        attempts.sort_by(|a, b| {
            let key = |x: &serde_json::Value| (x["location"] != "primary", x["path"].to_string());
            key(a).cmp(&key(b))
        });
    }
}

/// The same for the summary's "unusable (primary) PATH:" blocks (a heading
/// and its indented lines), sorted among themselves.
fn stable_summary(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("unusable (primary) ") {
            blocks.push(format!("{line}\n"));
        } else if line.starts_with("  ") && !blocks.is_empty() {
            blocks.last_mut().unwrap().push_str(&format!("{line}\n"));
        } else {
            blocks.sort();
            out.append(&mut blocks);
            out.push(format!("{line}\n"));
        }
    }
    blocks.sort();
    out.append(&mut blocks);
    out.concat()
}

/// Snapshots `NAME.report` and `NAME.summary` for scenario `name`.
fn snapshot(name: &str, d: &mut Drill) {
    stable_order(&mut d.report);
    let summary = format!("exit code {}\n{}", d.code, stable_summary(&d.summary));
    redacted(|| {
        insta::assert_json_snapshot!(format!("{name}.report"), d.report);
        insta::assert_snapshot!(format!("{name}.summary"), summary);
    });
}

/// The evidence pack of `history` (one drill): its JSON file.
fn evidence_json(history: &Path, dir: &Path) -> serde_json::Value {
    let out = dir.join("pack");
    // The period is today alone: the drill ran today.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (code, said, err) = run(&[
        "evidence",
        "--history",
        history.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--since",
        &today,
        "--until",
        &today,
    ]);
    assert_eq!(code, 0, "{said}\n{err}");
    let name = files_in(&out)
        .into_iter()
        .find(|f| {
            f.starts_with("evidence-") && f.ends_with(".json") && !f.ends_with(".manifest.json")
        })
        .unwrap_or_else(|| panic!("no pack JSON in {:?}", files_in(&out)));
    serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap()
}

#[test]
fn monthly_drill() {
    let mut d = drill("monthly-drill");
    snapshot("monthly-drill", &mut d);
    let pack = evidence_json(&d.history, d.tmp.path());
    redacted(|| insta::assert_json_snapshot!("monthly-drill.evidence", pack));
}

/// One test per failure scenario, so that one changed snapshot does not
/// hide the others.
macro_rules! failure_scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            snapshot($name, &mut drill($name));
        }
    )*};
}

failure_scenarios! {
    corrupt_backup => "corrupt-backup",
    disk_full => "disk-full",
    lost_key => "lost-key",
    lost_server => "lost-server",
    ransomware => "ransomware",
    restore_killed => "restore-killed",
    stale_backups => "stale-backups",
    truncated_backup => "truncated-backup",
    wrong_key => "wrong-key",
}
