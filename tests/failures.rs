#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Failure scenarios, each run against one fixture made by `fixtures generate`:
//! its verdict, what it detected, its exit code, nothing left running, and the
//! original backups byte for byte unchanged after all of them.

mod common;

use common::*;
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
fn scenario(
    name: &str,
    backups: &Path,
    keys: &[&Path],
    reports: &Path,
) -> (i32, serde_json::Value, String) {
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
    let report: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{name}: no JSON report ({e}):\n{out}\n{err}"));
    (code, report, err)
}

fn expectation_met(r: &serde_json::Value) -> bool {
    r["expectation"]["met"].as_bool().unwrap()
}

fn unusable_reasons(r: &serde_json::Value) -> Vec<String> {
    r["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == "unusable")
        .map(|a| {
            format!(
                "{} / {}",
                a["reason"].as_str().unwrap(),
                a["finding"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn every_failure_scenario_behaves_as_the_clinic_expects_and_never_touches_the_originals() {
    let tmp = tempdir();
    let daily = make_key(tmp.path(), "daily.key");
    let escrow = make_key(tmp.path(), "escrow.key");
    let backups = tmp.path().join("backups");
    let reports = tmp.path().join("reports");
    generate_fixture(&backups, 1500, &[&daily, &escrow]);
    let before = checksums(&backups);
    let both: [&Path; 2] = [&daily.path, &escrow.path];
    let day: [&Path; 1] = [&daily.path];

    // Damaged backups: detected before restoring, named in plain words.
    let (code, r, err) = scenario("corrupt-backup", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable");
    let reasons = unusable_reasons(&r);
    assert!(
        reasons[0].contains("does not match its manifest: SHA-256"),
        "{reasons:?}"
    );
    assert!(
        reasons[0].contains("altered or damaged after it was made"),
        "{reasons:?}"
    );
    assert!(
        r["simulation"]["actions"][1]
            .as_str()
            .unwrap()
            .contains("bytes changed at offsets"),
        "{r}"
    );

    let (code, r, err) = scenario("truncated-backup", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable");
    let reasons = unusable_reasons(&r);
    assert!(reasons[0].contains("bytes on disk"), "{reasons:?}");
    assert!(reasons[0].contains("incomplete"), "{reasons:?}");

    // The backup job stopped: it restores, but the RPO objective fails.
    let (code, r, err) = scenario("stale-backups", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "failed");
    let rpo = r["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "RPO (backup age)")
        .unwrap();
    assert_eq!(rpo["status"], "failed");
    assert!(
        rpo["actual_seconds"].as_f64().unwrap() > 3.0 * 86_400.0 - 60.0,
        "{rpo}"
    );

    // Keys.
    let (code, r, err) = scenario("lost-key", &backups, &both, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "passed");
    assert!(r["backup"]["decrypted_with"]
        .as_str()
        .unwrap()
        .ends_with("escrow.key"));
    // Without an escrow key: unrecoverable, which is not what the clinic expects.
    let (code, r, err) = scenario("lost-key", &backups, &day, &reports);
    assert_eq!(code, 1, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable");
    assert!(!expectation_met(&r));
    assert_eq!(r["expectation"]["expected"]["verdict"], "passed");
    assert_eq!(r["expectation"]["actual"]["verdict"], "unrecoverable");

    let (code, r, err) = scenario("wrong-key", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable");
    assert!(
        unusable_reasons(&r)[0].contains("None of the keys at hand can unlock this backup"),
        "{r}"
    );

    // The recovery server's troubles.
    let (code, r, err) = scenario("disk-full", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable");
    let reasons = unusable_reasons(&r);
    assert!(reasons[0].contains("could not extend file"), "{reasons:?}");
    assert!(reasons[0].contains("ran out of disk space"), "{reasons:?}");

    let (code, r, err) = scenario("restore-killed", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "unrecoverable");
    assert!(
        unusable_reasons(&r)[0].contains("stopped in the middle of the restore"),
        "{r}"
    );

    // Ransomware: every primary file unusable, the older offsite copy restores,
    // and the extra data loss is reported.
    let (code, r, err) = scenario("ransomware", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    // Recovered, but not from the newest backups: not a passed drill.
    assert_eq!(r["verdict"], "failed");
    assert!(
        r["recovered_from"]
            .as_str()
            .unwrap()
            .starts_with("offsite: "),
        "{r}"
    );
    let reasons = unusable_reasons(&r);
    assert!(reasons.len() >= 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|x| x.contains("not a backup") && x.contains("ransomware")),
        "{reasons:?}"
    );
    let attempts = r["attempts"].as_array().unwrap();
    assert!(attempts
        .iter()
        .take(reasons.len())
        .all(|a| a["location"] == "primary"));
    assert_eq!(attempts.last().unwrap()["location"], "offsite");
    assert!(
        r["rpo_cost_seconds"].as_f64().unwrap() > 0.0,
        "{}",
        r["rpo_cost_seconds"]
    );

    // Lost server: the lost writes, exactly as the workload's own log counts them.
    let (code, r, err) = scenario("lost-server", &backups, &day, &reports);
    assert_eq!(code, 0, "{r}\n{err}");
    assert_eq!(r["verdict"], "passed");
    let lost = &r["lost_writes"];
    let log = std::fs::read_to_string(lost["log"].as_str().unwrap()).unwrap();
    let committed: Vec<i64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(lost["committed"].as_u64().unwrap(), committed.len() as u64);
    // The single writer commits in order, so the backup holds writes 1..=k,
    // where k is the workload table's row count in the backup's manifest (taken
    // in the dump's snapshot): the log's entries after k are the lost ones.
    // The drill counted its figure from the restored database instead.
    let in_backup = lost["in_backup_per_manifest"].as_u64().unwrap();
    let from_log = committed.iter().filter(|s| **s as u64 > in_backup).count() as u64;
    let lost_count = lost["lost"].as_u64().unwrap();
    assert_eq!(lost_count, from_log, "{lost}");
    assert_eq!(
        r["checks"][0]["status"], "passed",
        "the restore equals its manifest"
    );
    assert!(
        lost_count > 0,
        "writes after the backup must be lost: {lost}"
    );
    assert!(
        lost_count < committed.len() as u64,
        "writes before the backup must survive: {lost}"
    );
    assert!(lost["span_seconds"].as_f64().unwrap() > 0.0);
    assert!(r["rto_seconds"].as_f64().unwrap() > 0.0);

    // After all of them, the originals are exactly as they were.
    assert_eq!(checksums(&backups), before);
}
