//! The terminal summary from reports built by hand: its first line, and a
//! passing drill on one screen.

use super::*;
use serde_json::{json, Value};

/// A report as a drill writes it, `extra` laid over a monthly drill that passed.
fn report(extra: Value) -> Report {
    let mut r = json!({
        "report_version": 4, "tool": "t", "site": "clinic",
        "scenario": {"name": "monthly restore drill", "file": "m.toml"},
        "run_id": "r1", "started_at": "2026-12-01T02:00:00Z",
        "finished_at": "2026-12-01T02:05:00Z", "verdict": "passed",
        "clock_started": {"at": "2026-12-01T02:00:00Z", "event": "drill start"},
        "rto_seconds": 61.5, "rpo_seconds": 18000.0,
        "objectives": [
            {"name": "RTO", "target_seconds": 900.0, "actual_seconds": 61.5, "status": "passed"},
            {"name": "RPO (backup age)", "target_seconds": 93600.0, "actual_seconds": 18000.0, "status": "passed"}
        ],
        "phases": [
            {"name": "select", "seconds": 0.01, "started_at": "2026-12-01T02:00:00Z"},
            {"name": "restore", "seconds": 40.0, "started_at": "2026-12-01T02:00:10Z"}
        ],
        "checks": (0..24).map(|i| json!({"name": format!("invariant: rule_{i}"), "status": "passed", "detail": "0 violations", "seconds": 0.1})).collect::<Vec<_>>(),
        "backup": {"path": "/b/clinic-20261201T000000Z.dump.zst.age", "bytes": 10, "sha256": null, "created_at": null,
                   "time_source": "manifest", "layers": ["age", "zstd", {"dump": "postgres-custom"}],
                   "manifest": true, "recipients": 2, "decrypted_with": "daily.key", "dump_bytes": 99},
        "recovered_from": "primary: clinic-20261201T000000Z.dump.zst.age",
        "attempts": [{"path": "/b/clinic-20261201T000000Z.dump.zst.age", "location": "primary", "outcome": "restored", "reason": null, "finding": null}],
        "rpo_cost_seconds": 0.0,
        "target": {"image": "restore-drill/postgres:15", "server_version": "15.8"}
    });
    if let (Some(base), Value::Object(over)) = (r.as_object_mut(), extra) {
        base.extend(over);
    }
    serde_json::from_value(r).expect("a report")
}

/// Ransomware as rehearsed: two encrypted backups tried, a note and two
/// manifests skipped, the offsite copy a day old restored.
fn ransomware(met: bool) -> Report {
    let unusable = |name: &str| {
        json!({"path": format!("/s/primary/{name}"), "location": "primary", "outcome": "unusable",
               "kind": "not-a-backup", "reason": "it is not a backup", "finding": "This file is not a usable backup."})
    };
    let skipped = |name: &str, kind: &str| json!({"path": format!("/s/primary/{name}"), "location": "primary", "kind": kind});
    report(json!({
        "scenario": {"name": "ransomware", "file": "r.toml"}, "verdict": "failed",
        "rpo_seconds": 86_500.0, "rpo_cost_seconds": 86_400.0,
        "recovered_from": "offsite: clinic-20261130T020000Z.dump.zst.age",
        "simulation": {"fault": "ransomware", "actions": ["ransomware encrypted 4 files"], "simulated_offsite": false},
        "attempts": [unusable("a.dump.zst.age.locked"), unusable("b.dump.zst.age.locked"),
                     {"path": "/s/offsite/c", "location": "offsite", "outcome": "restored", "reason": null, "finding": null}],
        "skipped": [skipped("README.txt", "note"), skipped("a.manifest.json.locked", "manifest"), skipped("b.manifest.json.locked", "manifest")],
        "expectation": {
            "expected": {"verdict": "failed", "recovered_from": "offsite", "detection": "not-a-backup"},
            "actual": {"verdict": if met { "failed" } else { "passed" }, "recovered_from": "offsite", "detection": "not-a-backup (2 backups)"},
            "met": met, "mismatches": if met { vec![] } else { vec!["verdict: expected failed, got passed"] }
        }
    }))
}

#[test]
fn a_rehearsal_that_went_as_planned_says_so_first_with_its_facts() {
    let s = ransomware(true).summary();
    assert_eq!(
        s.lines().next(),
        // The encrypted primary copies tried first are why the older
        // offsite one restored: said among the facts.
        Some("ransomware: AS EXPECTED (restored from the offsite copy, 1 day of data lost, 2 newer backups unusable)"),
        "{s}"
    );
    let s = ransomware(false).summary();
    assert!(
        s.starts_with("ransomware: NOT AS EXPECTED (restored from the offsite copy"),
        "{s}"
    );
}

#[test]
fn a_drill_without_expectations_leads_with_its_verdict() {
    let s = report(json!({})).summary();
    assert_eq!(
        s.lines().next(),
        Some("monthly restore drill: PASSED (restored from the primary copy, backup 5 hours old)")
    );
    let failed = report(json!({
        "verdict": "failed", "rto_seconds": null,
        "checks": [{"name": "manifest comparison", "status": "failed", "detail": "2 rows missing", "seconds": 1.0},
                   {"name": "sql: x", "status": "passed", "detail": "1", "seconds": 1.0}],
        "objectives": [{"name": "RTO", "target_seconds": 900.0, "actual_seconds": null, "status": "unknown"}]
    }))
    .summary();
    assert!(
        failed.starts_with("monthly restore drill: FAILED (restored from the primary copy, backup 5 hours old, 1 check failed, RTO objective not measured)"),
        "{failed}"
    );
    let none = report(json!({
        "verdict": "unrecoverable", "recovered_from": null, "checks": [],
        "attempts": [{"path": "/b/x", "location": "primary", "outcome": "unusable", "kind": "wrong-key", "reason": "r", "finding": "f"}]
    }))
    .summary();
    assert!(
        none.starts_with("monthly restore drill: UNRECOVERABLE (nothing restored: 1 backup unusable (wrong-key))"),
        "{none}"
    );
}

#[test]
fn a_passing_drill_fits_one_screen_and_verbose_lists_every_check() {
    let r = report(json!({}));
    let s = r.summary();
    // With the report and history lines the command adds: 12 at most.
    assert!(s.lines().count() <= 10, "{} lines:\n{s}", s.lines().count());
    assert!(
        s.contains("checks   24 of 24 passed (--verbose lists each)\n"),
        "{s}"
    );
    assert!(
        s.contains("RTO      61.5 s, objective 15.0 min: met\n"),
        "{s}"
    );
    assert!(s.contains("RPO      5.0 h, objective 26.0 h: met\n"), "{s}");
    assert!(!s.contains("rule_3"), "{s}");
    let d = r.details();
    assert_eq!(d.matches("ok       invariant: rule_").count(), 24, "{d}");
    assert!(d.contains("restore                         40.00"), "{d}");
}

#[test]
fn checks_that_did_not_pass_are_always_listed() {
    let s = report(json!({"checks": [
        {"name": "manifest comparison", "status": "failed", "detail": "2 rows missing", "seconds": 1.0},
        {"name": "freshness: t.c", "status": "unknown", "detail": "no rows", "seconds": 1.0},
        {"name": "sql: x", "status": "passed", "detail": "1", "seconds": 1.0}
    ]}))
    .summary();
    assert!(
        s.contains("checks   1 of 3 passed, 1 FAILED, 1 UNKNOWN"),
        "{s}"
    );
    assert!(
        s.contains("FAILED   manifest comparison: 2 rows missing\n"),
        "{s}"
    );
    assert!(s.contains("UNKNOWN  freshness: t.c: no rows\n"), "{s}");
}

#[test]
fn objectives_read_in_words_not_an_enums_spelling() {
    let s = report(json!({
        "rto_seconds": null,
        "objectives": [{"name": "RTO", "target_seconds": 900.0, "actual_seconds": null, "status": "unknown"}]
    }))
    .summary();
    assert!(
        s.contains("RTO      unknown (no time measured: nothing was restored and verified), objective 15.0 min: UNKNOWN\n"),
        "{s}"
    );
    assert!(s.contains("RPO      5.0 h (no objective set)\n"), "{s}");
    assert!(!s.contains("Unknown") && !s.contains("Passed"), "{s}");
}

#[test]
fn files_that_are_not_backups_and_backups_unusable_alike_are_grouped() {
    let s = ransomware(true).summary();
    assert!(
        s.contains("skipped 3 files that are not backups: 1 note, 2 manifests\n"),
        "{s}"
    );
    assert_eq!(s.matches("unusable (primary)").count(), 1, "{s}");
    assert!(
        s.contains("unusable (primary) 2 backups in /s/primary: a.dump.zst.age.locked, b.dump.zst.age.locked:\n"),
        "{s}"
    );
}

#[test]
fn spans_read_as_a_person_says_them() {
    assert_eq!(span_words(40.0), "40 seconds");
    assert_eq!(span_words(1.0), "1 second");
    assert_eq!(span_words(720.0), "12 minutes");
    assert_eq!(span_words(18_000.0), "5 hours");
    assert_eq!(span_words(86_500.0), "1 day");
    assert_eq!(span_words(302_400.0), "3.5 days");
}

#[test]
fn verbose_names_the_backup_each_attempts_phases_were_for() {
    let mut r = ransomware(true);
    let phase = |name: &str| crate::measure::Phase {
        name: name.into(),
        seconds: 0.5,
        started_at: chrono::Utc::now(),
    };
    r.phases = [
        "select",
        "verify artifact",
        "verify artifact",
        "verify artifact",
        "start sandbox",
        "restore",
        "checks",
    ]
    .into_iter()
    .map(phase)
    .collect();
    let d = r.details();
    assert!(
        d.contains("verify artifact                  0.50  primary: a.dump.zst.age.locked\n"),
        "{d}"
    );
    assert!(
        d.contains("verify artifact                  0.50  primary: b.dump.zst.age.locked\n"),
        "{d}"
    );
    assert!(
        d.contains("restore                          0.50  offsite: c\n"),
        "{d}"
    );
    assert!(d.contains("checks                           0.50\n"), "{d}");
}
