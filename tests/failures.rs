#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Failure scenarios, one test each per engine (`postgres::`, `mariadb::`,
//! from one macro) so that one failing does not hide the others, each on its
//! own fixture made by `fixtures generate`: its verdict,
//! what it detected, its exit code, where its clock started, nothing left
//! running, and the original backups byte for byte unchanged afterwards.

mod common;

use common::*;
use restore_drill::checks::Status;
use restore_drill::report::facts::{NotABackup, RunKind};
use restore_drill::report::{AttemptOutcome, Report, Verdict};
use std::collections::BTreeMap;
use std::path::Path;

fn checksums(dir: &Path) -> BTreeMap<String, String> {
    files_in(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap();
            (f, sha256_hex(&bytes))
        })
        .collect()
}

/// Runs a scenario; returns exit code, the JSON report and stderr, and checks
/// that the run left no container or network behind.
fn scenario(name: &str, backups: &Path, keys: &[&Path], reports: &Path) -> (i32, Report, String) {
    let file = format!("{}/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![
        "--json".to_string(),
        "run".into(),
        file,
        "--backups".into(),
        backups.display().to_string(),
        "--report-dir".into(),
        reports.display().to_string(),
    ];
    for k in keys {
        args.push("--identity".into());
        args.push(k.display().to_string());
    }
    let (code, out, err) = run_tracked(&args);
    assert!(!out.is_empty(), "{name}: no JSON report:\n{err}");
    (code, report_of(&out), err)
}

fn expectation_met(r: &Report) -> bool {
    r.expectation.as_ref().expect("an expectation").met
}

fn unusable_reasons(r: &Report) -> Vec<String> {
    r.attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable)
        .map(|a| {
            format!(
                "{} / {}",
                a.reason.as_ref().expect("a reason"),
                a.finding.as_ref().expect("a finding")
            )
        })
        .collect()
}

/// The report, whole, for a failed assertion's message.
fn shown(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default()
}

/// Which identity files a case passes: the day-to-day key alone, or with the escrow key.
#[derive(Clone, Copy)]
enum Keys {
    Daily,
    DailyAndEscrow,
}

/// What a case returns: exit code, report, stderr, and the folder holding the
/// reports (removed when dropped).
type Ran = (i32, Report, String, tempfile::TempDir);

/// Generates a fixture on a clinic of `engine`, runs that engine's scenario
/// on it (`scenarios/mariadb/NAME.toml` for MariaDB), and checks that the
/// originals are untouched.
fn case_on(engine: &str, name: &str, keys: Keys) -> Ran {
    let tmp = tempdir();
    let daily = make_key(tmp.path(), "daily.key");
    let escrow = make_key(tmp.path(), "escrow.key");
    let backups = tmp.path().join("backups");
    let reports = tmp.path().join("reports");
    generate_fixture_on(engine, &backups, 1500, &[&daily, &escrow]);
    let before = checksums(&backups);
    let ids: Vec<&Path> = match keys {
        Keys::Daily => vec![&daily.path],
        Keys::DailyAndEscrow => vec![&daily.path, &escrow.path],
    };
    let file = match engine {
        "postgres" => name.to_string(),
        _ => format!("{engine}/{name}"),
    };
    let (code, r, err) = scenario(&file, &backups, &ids, &reports);
    assert_eq!(checksums(&backups), before, "{name} touched the originals");
    let fault = r.simulation.as_ref().map(|s| s.fault.as_str());
    assert!(
        r.report_version == 4 && r.kind == RunKind::Rehearsal && fault == Some(name),
        "{}",
        shown(&r)
    );
    first_line_says_whether_as_expected(&r, name);
    (code, r, err, tmp)
}

/// Every rehearsal's terminal summary (the one `run` prints, from this very
/// report) opens with whether it went as the clinic expects, not with its
/// verdict: `ransomware: AS EXPECTED (restored from the offsite copy, ...)`.
fn first_line_says_whether_as_expected(r: &Report, name: &str) {
    let summary = r.summary();
    let first = summary.lines().next().unwrap_or_default();
    let word = match r.expectation.as_ref().map(|e| e.met) {
        Some(true) => "AS EXPECTED",
        Some(false) => "NOT AS EXPECTED",
        None => panic!("{name} has no [expect]: {}", shown(r)),
    };
    assert!(
        first.starts_with(&format!("{}: {word} (", r.scenario.name)) && first.ends_with(')'),
        "{name}: {first}\n{summary}"
    );
}

/// RTO and RPO count from the disaster, never from before the staging: for a
/// fault on files, from the end of the staging; for ransomware and a lost
/// server, from the moment the store or server is lost, which comes after
/// building and backing up production (most of the staging's time).
fn clock_started_at(r: &Report, event: &str) {
    assert_eq!(r.clock_started.event, event, "{}", shown(r));
    let simulate = &r.phases[0];
    assert_eq!(simulate.name, "simulate");
    let staged = simulate.seconds;
    let after = (r.clock_started.at - simulate.started_at).num_milliseconds() as f64 / 1000.0;
    let least = if event == "simulation staged" {
        staged - 0.05
    } else {
        staged / 2.0
    };
    assert!(
        after >= least,
        "the clock started {after} s into a {staged} s staging"
    );
}

/// What differs between the engines in these scenarios' evidence.
#[derive(Clone, Copy)]
struct Engine {
    /// `fixtures generate --engine` and the scenarios' folder.
    key: &'static str,
    /// How a full disk is named in the restore tool's typed parts.
    disk_full_said: &'static str,
}

/// One test per failure scenario and engine, each module from the same
/// list, so that both engines meet the same expectations.
macro_rules! failure_scenarios {
    ($($module:ident: $engine:expr;)*) => {$(
        mod $module {
            use super::*;
            const E: Engine = $engine;

            #[test]
            fn corrupt_backup_is_caught_by_its_checksum_before_restoring() {
                corrupt_backup(E)
            }

            #[test]
            fn truncated_backup_is_caught_by_its_size() {
                truncated_backup(E)
            }

            #[test]
            fn stale_backups_restore_but_fail_the_rpo_objective() {
                stale_backups(E)
            }

            #[test]
            fn lost_key_restores_with_the_escrow_key() {
                lost_key(E)
            }

            #[test]
            fn lost_key_without_an_escrow_key_is_unrecoverable_and_not_as_expected() {
                lost_key_without_escrow(E)
            }

            #[test]
            fn wrong_key_opens_nothing() {
                wrong_key(E)
            }

            #[test]
            fn disk_full_is_named_as_out_of_disk_space() {
                disk_full(E)
            }

            #[test]
            fn restore_killed_mid_restore_is_named() {
                restore_killed(E)
            }

            #[test]
            fn ransomware_falls_back_to_the_offsite_copy_and_counts_the_extra_loss() {
                ransomware(E)
            }

            #[test]
            fn lost_server_counts_the_lost_writes_from_the_workloads_own_log() {
                lost_server(E)
            }
        }
    )*};
}

failure_scenarios! {
    postgres: Engine { key: "postgres", disk_full_said: "disk_full (SQLSTATE 53100)" };
    mariadb: Engine { key: "mariadb", disk_full_said: "ER_RECORD_FILE_FULL (error 1114" };
}

fn corrupt_backup(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "corrupt-backup", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    let reasons = unusable_reasons(&r);
    assert!(
        reasons[0].contains("does not match its manifest: SHA-256"),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("altered or damaged after it was made"),
        "{reasons:?}"
    );
    assert_eq!(r.attempts[0].kind.as_deref(), Some("sha256-mismatch"));
    let actions = &r.simulation.as_ref().expect("a simulation").actions;
    assert!(
        actions[1].as_str().contains("bytes changed at offsets"),
        "{actions:?}"
    );
    assert!(!r.phases.iter().any(|p| p.name == "restore"));
    clock_started_at(&r, "simulation staged");
}

fn truncated_backup(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "truncated-backup", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    let reasons = unusable_reasons(&r);
    assert!(reasons[0].contains("bytes on disk"), "{reasons:?}");
    assert!(reasons[0].contains("incomplete"), "{reasons:?}");
}

fn stale_backups(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "stale-backups", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Failed);
    let rpo = r
        .objectives
        .iter()
        .find(|o| o.name == "RPO (backup age)")
        .unwrap();
    assert_eq!(rpo.status, Status::Failed);
    assert!(
        rpo.actual_seconds.unwrap() > 3.0 * 86_400.0 - 60.0,
        "{rpo:?}"
    );
    // Restored and checked: only the backup's age fails it.
    assert!(r.checks.len() > 10, "{}", shown(&r));
    assert!(
        r.checks.iter().all(|c| c.status == Status::Passed),
        "{}",
        shown(&r)
    );
}

fn lost_key(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "lost-key", Keys::DailyAndEscrow);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Passed);
    let backup = r.backup.as_ref().expect("the backup restored");
    assert!(backup
        .decrypted_with
        .as_deref()
        .unwrap()
        .ends_with("escrow.key"));
    clock_started_at(&r, "simulation staged");
    assert!(r.rto_seconds.unwrap() > 0.0);
}

fn lost_key_without_escrow(e: Engine) {
    let (code, r, err, tmp) = case_on(e.key, "lost-key", Keys::Daily);
    assert_eq!(code, 1, "{}\n{err}", shown(&r));
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    assert!(!expectation_met(&r));
    // The key given is named lost, not "no identity was given", with the
    // recipients that would open the backup.
    let reason = unusable_reasons(&r)[0].clone();
    let daily = tmp.path().join("daily.key");
    let lost = format!(
        "no identity is left to try: {} is lost in this simulation and no other identity file was given",
        daily.display()
    );
    assert!(reason.contains(&lost), "{reason}");
    assert!(
        reason.contains("(the recipients its manifest lists)"),
        "{reason}"
    );
    assert!(reason.contains("--identity ESCROW-KEYFILE"), "{reason}");
    assert!(
        !reason.contains("no identity file was given: pass"),
        "{reason}"
    );
    let e = r.expectation.as_ref().unwrap();
    assert_eq!(e.expected.verdict.as_deref(), Some("passed"));
    assert_eq!(e.actual.verdict.as_deref(), Some("unrecoverable"));
}

fn wrong_key(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "wrong-key", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    let reason = &unusable_reasons(&r)[0];
    assert!(
        reason.contains("None of the keys at hand can unlock this backup"),
        "{}",
        shown(&r)
    );
    assert!(
        reason.contains("none of the identity files tried opens it: tried someone-elses.key (age1"),
        "{reason}"
    );
    assert!(
        reason.contains("(the recipients its manifest lists)"),
        "{reason}"
    );
}

fn disk_full(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "disk-full", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    let reasons = unusable_reasons(&r);
    assert!(reasons[0].contains(e.disk_full_said), "{reasons:?}");
    assert!(reasons[0].contains("ran out of disk space"), "{reasons:?}");
    assert_eq!(r.attempts[0].kind.as_deref(), Some("disk-full"));
}

fn restore_killed(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "restore-killed", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    assert!(
        unusable_reasons(&r)[0].contains("stopped in the middle of the restore"),
        "{}",
        shown(&r)
    );
}

fn ransomware(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "ransomware", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert!(expectation_met(&r), "{}", shown(&r));
    // Recovered, but not from the newest backups: not a passed drill.
    assert_eq!(r.verdict, Verdict::Failed);
    assert!(
        r.recovered_from
            .as_deref()
            .unwrap()
            .starts_with("offsite: "),
        "{}",
        shown(&r)
    );
    // Production's newer backup was one of the same engine, before it was
    // encrypted.
    let actions = format!("{:?}", r.simulation.as_ref().unwrap().actions);
    assert!(actions.contains("made a newer backup"), "{actions}");
    // The encrypted backups are tried and found unusable; the ransom note
    // and the encrypted manifests are skipped as not backups, together.
    let reasons = unusable_reasons(&r);
    assert!(reasons.len() >= 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|x| x.contains("not a backup") && x.contains("ransomware")),
        "{reasons:?}"
    );
    assert!(
        r.attempts
            .iter()
            .all(|a| !a.path.contains("manifest") && !a.path.ends_with(".txt")),
        "{}",
        shown(&r)
    );
    let skipped = |k: NotABackup| r.skipped.iter().filter(|s| s.kind == k).count();
    assert_eq!(skipped(NotABackup::Note), 1, "{}", shown(&r));
    assert_eq!(
        skipped(NotABackup::Manifest),
        reasons.len(),
        "{}",
        shown(&r)
    );
    let summary = r.summary();
    assert!(
        summary.starts_with("ransomware: AS EXPECTED (restored from the offsite copy, "),
        "{summary}"
    );
    let line = format!(
        "skipped {} files that are not backups: 1 note, {} manifests\n",
        reasons.len() + 1,
        reasons.len()
    );
    assert!(summary.contains(&line), "{summary}");
    assert_eq!(
        summary.matches("unusable (primary)").count(),
        1,
        "{summary}"
    );
    let detection = r
        .expectation
        .as_ref()
        .and_then(|e| e.actual.detection.clone());
    assert_eq!(
        detection.as_deref(),
        Some(format!("not-a-backup ({} backups)", reasons.len()).as_str()),
        "{}",
        shown(&r)
    );
    let attempts = &r.attempts;
    assert!(attempts
        .iter()
        .take(reasons.len())
        .all(|a| a.location == "primary"));
    assert_eq!(attempts.last().unwrap().location, "offsite");
    assert!(
        r.rpo_cost_seconds.unwrap() > 0.0,
        "{:?}",
        r.rpo_cost_seconds
    );
    // RTO runs from the encryption, not from building the production server.
    clock_started_at(&r, "primary store encrypted");
    let simulate = r.phases[0].seconds;
    let recovery: f64 = r.phases[1..].iter().map(|p| p.seconds).sum();
    let rto = r.rto_seconds.unwrap();
    assert!(simulate > 0.0, "{simulate}");
    assert!(
        rto <= recovery + 0.5,
        "RTO {rto} s includes more than the recovery's {recovery} s"
    );
}

fn lost_server(e: Engine) {
    let (code, r, err, _tmp) = case_on(e.key, "lost-server", Keys::Daily);
    assert_eq!(code, 0, "{}\n{err}", shown(&r));
    assert_eq!(r.verdict, Verdict::Passed);
    let lost = r.lost_writes.as_ref().expect("lost writes counted");
    let log = std::fs::read_to_string(&lost.log).unwrap();
    let committed: Vec<i64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(lost.committed, committed.len() as u64);
    // The single writer commits in order, so the backup holds writes 1..=k,
    // where k is the workload table's row count in the backup's manifest (taken
    // in the dump's snapshot): the log's entries after k are the lost ones.
    // The drill counted its figure from the restored database instead.
    let in_backup = lost.in_backup_per_manifest.unwrap();
    let from_log = committed.iter().filter(|s| **s as u64 > in_backup).count() as u64;
    let lost_count = lost.lost;
    assert_eq!(lost_count, from_log, "{lost:?}");
    assert_eq!(
        r.checks[0].status,
        Status::Passed,
        "the restore equals its manifest"
    );
    assert!(
        lost_count > 0,
        "writes after the backup must be lost: {lost:?}"
    );
    assert!(
        lost_count < committed.len() as u64,
        "writes before the backup must survive: {lost:?}"
    );
    assert!(lost.span_seconds.unwrap() > 0.0);
    // RTO runs from the loss: less than the whole run, which includes staging.
    clock_started_at(&r, "server lost");
    let rto = r.rto_seconds.unwrap();
    let simulate = r.phases[0].seconds;
    assert!(rto > 0.0 && rto < simulate + 120.0, "{rto}");
}
