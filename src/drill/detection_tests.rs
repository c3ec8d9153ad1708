use super::*;
use crate::drill::assess::expectation;
use crate::scenario::Expectation;
use serde_json::json;

/// A report as a drill writes it, read back typed.
fn report(objectives: serde_json::Value, attempts: serde_json::Value) -> Report {
    serde_json::from_value(json!({
        "report_version": 3, "tool": "t", "site": "s",
        "scenario": {"name": "stale backups", "file": "f.toml"},
        "run_id": "r", "verdict": "failed",
        "started_at": "2026-12-01T02:00:00Z", "finished_at": "2026-12-01T02:05:00Z",
        "clock_started": {"at": "2026-12-01T02:00:00Z", "event": "drill start"},
        "rto_seconds": 60.0, "rpo_seconds": 300000.0, "rpo_cost_seconds": null,
        "objectives": objectives, "phases": [], "checks": [],
        "backup": null, "recovered_from": "primary: b", "attempts": attempts,
        "target": {"image": "i", "server_version": null},
    }))
    .expect("a report")
}

fn stale() -> Report {
    report(
        json!([
            {"name": "RTO", "target_seconds": 900.0, "actual_seconds": 60.0, "status": "passed"},
            {"name": "RPO (backup age)", "target_seconds": 93600.0, "actual_seconds": 300000.0, "status": "failed"}
        ]),
        json!([]),
    )
}

fn expect(detection: &str) -> Expectation {
    Expectation {
        detection: Some(detection.into()),
        ..Default::default()
    }
}

#[test]
fn a_missed_rpo_objective_is_detected_as_rpo_objective_failed() {
    let r = stale();
    assert_eq!(kinds(&r), vec!["rpo-objective-failed".to_string()]);
    assert!(expectation(&expect("rpo-objective-failed"), &r).met);
    assert!(!expectation(&expect("rto-objective-failed"), &r).met);
    assert!(deprecation("rpo-objective-failed").is_none());
}

#[test]
fn the_old_debug_spelling_still_matches_with_a_deprecation_note() {
    let old = "RPO (backup age) objective Failed";
    assert!(expectation(&expect(old), &stale()).met);
    let note = deprecation(old).expect("a note");
    assert!(
        note.contains("write \"rpo-objective-failed\" instead"),
        "{note}"
    );
}

#[test]
fn other_text_is_deprecated_and_pointed_at_the_list_of_kinds() {
    let note = deprecation("SHA-256").expect("a note");
    assert!(note.contains("scenarios/example.toml"), "{note}");
}

#[test]
fn a_kind_matches_exactly_and_not_within_a_reason() {
    let r = report(
        json!([]),
        json!([{"path": "p", "location": "primary", "outcome": "unusable",
                "kind": "sha256-mismatch", "reason": "not the size-mismatch it could be", "finding": "f"}]),
    );
    assert!(expectation(&expect("sha256-mismatch"), &r).met);
    assert!(!expectation(&expect("size-mismatch"), &r).met);
}

#[test]
fn every_documented_kind_is_one_name_and_unusable_kinds_are_kinds() {
    assert!(crate::unusable::KINDS.iter().all(|k| is_kind(k)));
    assert!(KINDS.iter().all(|k| !crate::unusable::KINDS.contains(k)));
    assert!(!is_kind("rpo-objective"));
}

#[test]
fn the_shipped_stale_backups_scenarios_name_the_kind() {
    for f in [
        "scenarios/stale-backups.toml",
        "scenarios/mariadb/stale-backups.toml",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        let plan = crate::scenario::load(&path).expect("the shipped scenario");
        let d = plan.expect.and_then(|e| e.detection).expect("a detection");
        assert_eq!(d, "rpo-objective-failed", "{f}");
        assert!(deprecation(&d).is_none(), "{f}");
    }
}

#[test]
fn what_was_detected_reads_as_kinds_once_with_counts_in_any_spelling() {
    let locked = |n: u32| {
        json!({"path": format!("primary/clinic-{n}.dump.zst.age.locked"), "location": "primary",
               "outcome": "unusable", "kind": "not-a-backup",
               "reason": "it is not a backup: after the start of the file it holds neither a dump nor a layer this tool knows", "finding": "f"})
    };
    let r = report(
        json!([{"name": "RTO", "target_seconds": 900.0, "actual_seconds": null, "status": "unknown"}]),
        json!([locked(1), locked(2), locked(3)]),
    );
    let want = "not-a-backup (3 backups) | rto-objective-unknown";
    for spelling in ["not-a-backup", "it is not a backup"] {
        let got = expectation(&expect(spelling), &r);
        assert!(got.met, "{spelling}");
        assert_eq!(got.actual.detection.as_deref(), Some(want), "{spelling}");
    }
    // An objective's old spelling, in an enum's debug form, is the kind.
    assert!(expectation(&expect("RTO objective Unknown"), &r).met);
}
