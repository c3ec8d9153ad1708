//! A report reads back as it was written, and what this version does not
//! know reads as unknown (never passed) rather than failing the whole read.

use super::facts::Status;
use super::{AttemptOutcome, Report, Verdict};
use crate::ledger::view::ReportView;
use serde_json::json;

fn written() -> serde_json::Value {
    json!({
        "report_version": 4, "tool": "restore-drill 0.1.0", "site": "clinic",
        "kind": "drill", "host": "drill-host",
        "scenario": {"name": "monthly restore drill", "file": "m.toml"},
        "run_id": "r1", "started_at": "2026-12-01T02:00:00Z",
        "finished_at": "2026-12-01T02:05:00Z", "verdict": "passed",
        "clock_started": {"at": "2026-12-01T02:00:00Z", "event": "drill start"},
        "rto_seconds": 61.5, "rpo_seconds": 3600.0,
        "objectives": [{"name": "RTO", "target_seconds": 900.0, "actual_seconds": 61.5, "status": "passed"}],
        "phases": [{"name": "restore", "seconds": 40.0, "started_at": "2026-12-01T02:00:10Z"}],
        "checks": [{"name": "manifest comparison", "status": "passed", "detail": "10 tables", "seconds": 0.5}],
        "backup": {"path": "b", "bytes": 10, "sha256": null, "created_at": null,
                   "time_source": "manifest", "layers": ["age", "zstd", {"dump": "postgres-custom"}],
                   "manifest": true, "recipients": 2, "decrypted_with": "daily.key", "dump_bytes": 99,
                   "restored_as": {"mode": "parallel", "jobs": 2, "staging_bytes": 1024},
                   "restored_data": {"place": "memory", "bound_bytes": 4096}},
        "recovered_from": "primary: b",
        "attempts": [{"path": "b", "location": "primary", "outcome": "restored", "reason": null, "finding": null}],
        "rpo_cost_seconds": 0.0,
        "target": {"engine": "PostgreSQL", "image": "restore-drill/postgres:16", "server_version": "16.4"}
    })
}

#[test]
fn a_report_reads_back_and_writes_the_same_json() {
    let r: Report = serde_json::from_value(written()).expect("a report");
    assert_eq!(r.verdict, Verdict::Passed);
    assert_eq!(serde_json::to_value(&r).expect("json"), written());
}

#[test]
fn values_this_version_does_not_know_read_as_unknown() {
    let mut v = written();
    v["verdict"] = json!("exploded");
    v["checks"][0]["status"] = json!("half-passed");
    v["attempts"][0]["outcome"] = json!("teleported");
    v["backup"]["time_source"] = json!("sundial");
    v["backup"]["restored_as"] = json!({"mode": "carrier-pigeon"});
    v["backup"]["restored_data"] = json!({"place": "cloud"});
    let r: Report = serde_json::from_value(v).expect("a report");
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.checks[0].status, Status::Unknown);
    assert_eq!(r.attempts[0].outcome, AttemptOutcome::Unknown);
    let b = r.backup.expect("backup");
    assert_eq!(b.time_source, super::facts::TimeSource::Unknown);
    assert!(b.restored_as.is_none() && b.restored_data.is_none());
}

#[test]
fn the_history_reads_a_verdict_it_does_not_know_as_not_passed() {
    let mut v = written();
    v["verdict"] = json!("exploded");
    v["objectives"][0]["status"] = json!("sort-of");
    let view: ReportView = serde_json::from_value(v).expect("a view");
    assert_eq!(view.verdict, Verdict::Unknown);
    assert!(!view.passed());
    assert_eq!(view.objectives[0].status, Status::Unknown);
    assert!(view
        .finding()
        .is_some_and(|f| f.contains("over its objective")));
}
