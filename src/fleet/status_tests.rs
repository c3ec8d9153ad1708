//! The status's rules on hand-made records: standing, worst-first order,
//! each failure's kind from typed fields, objectives judged today, sites
//! the fleet file no longer names.

use super::*;
use crate::ledger::chain::{Stored, GENESIS};
use serde_json::{json, Value};

fn at(day: u32) -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(2026, 11, day)
        .and_then(|d| d.and_hms_opt(3, 0, 0))
        .map(|t| t.and_utc())
        .expect("a valid date")
}

/// A drill's report as the history reads it: RTO 300 s, RPO 1 h.
fn report(day: u32, verdict: &str) -> Value {
    json!({
        "report_version": 5,
        "scenario": {"name": "monthly restore drill"},
        "kind": "drill",
        "run_id": format!("r{day}"),
        "started_at": at(day) - chrono::Duration::minutes(5),
        "finished_at": at(day),
        "verdict": verdict,
        "rto_seconds": 300.0,
        "rpo_seconds": 3600.0,
        "objectives": [
            {"name": "RTO", "target_seconds": 900.0, "actual_seconds": 300.0, "status": "passed"},
            {"name": "RPO (backup age)", "target_seconds": 93600.0, "actual_seconds": 3600.0, "status": "passed"}
        ],
        "checks": [{"name": "manifest comparison", "status": "passed", "detail": "10 tables"}],
    })
}

fn records(runs: &[(&str, Value)]) -> Vec<Record> {
    runs.iter()
        .enumerate()
        .map(|(i, (site, r))| Record {
            stored: Stored {
                id: i as i64 + 1,
                recorded_at: String::new(),
                site: site.to_string(),
                tool: "t".into(),
                report: r.to_string(),
                report_sha256: String::new(),
                prev_hash: GENESIS.into(),
                hash: format!("{:064}", i + 1),
            },
            report: serde_json::from_value(r.clone()).expect("a report view"),
        })
        .collect()
}

fn terms(name: &str, cadence_days: u32) -> Terms {
    Terms {
        name: name.into(),
        cadence_days,
        rto_seconds: Some(900.0),
        rpo_seconds: Some(93_600.0),
    }
}

fn one(runs: &[Value], t: Terms, now: DateTime<Utc>) -> SiteStatus {
    let runs: Vec<(&str, Value)> = runs.iter().map(|r| ("A", r.clone())).collect();
    let t = Terms {
        name: "A".into(),
        ..t
    };
    status("f", &[t], &records(&runs), None, now)
        .sites
        .remove(0)
}

#[test]
fn a_site_never_drilled_is_never_passed_and_not_ok() {
    let s = status("f", &[terms("A", 30)], &[], None, at(20));
    let a = &s.sites[0];
    assert_eq!(a.standing, StandingKind::NeverPassed);
    assert_eq!((a.records, a.last_drill.clone(), a.due_at), (0, None, None));
    assert_eq!(a.rto.judged, Judged::Unknown);
    assert!(!s.all_ok() && s.head.is_none());
}

#[test]
fn the_last_pass_against_the_cadence_makes_it_current_or_overdue() {
    let s = one(&[report(1, "passed")], terms("A", 30), at(20));
    assert_eq!(s.standing, StandingKind::Current);
    assert_eq!(s.due_at, Some(at(1) + chrono::Duration::days(30)));
    assert!((s.age_days.expect("an age") - 19.0).abs() < 1e-9);
    assert!(s.is_ok(), "{s:?}");
    let s = one(&[report(1, "passed")], terms("A", 7), at(20));
    assert_eq!((s.standing, s.word()), (StandingKind::Overdue, "OVERDUE"));
}

#[test]
fn a_failed_last_drill_is_failing_though_the_site_is_current() {
    let s = one(
        &[report(1, "passed"), report(10, "unrecoverable")],
        terms("A", 30),
        at(20),
    );
    assert_eq!(s.standing, StandingKind::Current);
    assert_eq!(s.failing(), Some(Outcome::Unrecoverable));
    assert_eq!(s.word(), "FAILING");
    assert_eq!(s.last_pass, Some(at(1)));
    assert_eq!(s.last_failure.as_ref().map(|f| f.record), Some(2));
}

#[test]
fn each_failure_kind_comes_from_typed_fields() {
    let mut check = report(1, "failed");
    check["checks"][0]["status"] = json!("failed");
    check["checks"][0]["detail"] = json!("relation \"unrecoverable\" said: passed");
    let mut objective = report(1, "failed");
    objective["objectives"][0]["status"] = json!("failed");
    let mut operator = report(1, "error");
    operator["kind"] = json!("operator-error");
    let mut rehearsal = report(1, "unrecoverable");
    rehearsal["kind"] = json!("rehearsal");
    rehearsal["simulation"] = json!({"fault": "wrong-key"});
    rehearsal["expectation"] = json!({"expected": {}, "actual": {}, "met": false});
    let cases = [
        (check, Outcome::FailedCheck),
        (objective, Outcome::MissedObjective),
        (report(1, "error"), Outcome::InfrastructureError),
        (report(1, "unrecoverable"), Outcome::Unrecoverable),
        (report(1, "a verdict of 2031"), Outcome::Unknown),
        (operator, Outcome::OperatorError),
        (rehearsal, Outcome::NotAsExpected),
    ];
    for (r, want) in cases {
        let v: ReportView = serde_json::from_value(r).expect("a report view");
        assert_eq!(outcome(&v), want);
    }
}

#[test]
fn a_rehearsal_as_expected_is_no_failure_and_not_the_last_drill() {
    let mut rehearsal = report(10, "unrecoverable");
    rehearsal["kind"] = json!("rehearsal");
    rehearsal["simulation"] = json!({"fault": "wrong-key"});
    rehearsal["expectation"] = json!({"expected": {}, "actual": {}, "met": true});
    let s = one(&[report(1, "passed"), rehearsal], terms("A", 30), at(20));
    assert!(s.is_ok(), "{s:?}");
    assert_eq!(s.last_drill.as_ref().map(|d| d.record), Some(1));
    assert_eq!((s.last_failure, s.records), (None, 2));
}

#[test]
fn an_operator_error_after_a_pass_is_failing() {
    let mut operator = report(10, "error");
    operator["kind"] = json!("operator-error");
    let s = one(&[report(1, "passed"), operator], terms("A", 30), at(20));
    assert_eq!(s.failing(), Some(Outcome::OperatorError));
}

#[test]
fn objectives_are_judged_against_the_fleet_file_today() {
    let strict = Terms {
        rto_seconds: Some(60.0),
        rpo_seconds: None,
        ..terms("A", 30)
    };
    let s = one(&[report(1, "passed")], strict, at(20));
    assert_eq!(s.rto.judged, Judged::Missed);
    assert_eq!(s.rto.seconds, Some(300.0));
    // No objective set: unknown, which is not met.
    assert_eq!(s.rpo.judged, Judged::Unknown);
    let s = one(&[report(1, "passed")], terms("A", 30), at(20));
    assert_eq!((s.rto.judged, s.rpo.judged), (Judged::Met, Judged::Met));
    // A failed drill's measures are not the site's: only a pass counts.
    let mut slow = report(2, "failed");
    slow["rto_seconds"] = json!(5000.0);
    let s = one(&[report(1, "passed"), slow], terms("A", 30), at(20));
    assert_eq!(s.rto.seconds, Some(300.0));
}

#[test]
fn worst_first_never_passed_then_most_overdue_then_failing_then_by_due_date() {
    let runs = [
        ("current late", report(15, "passed")),
        ("current soon", report(5, "passed")),
        ("overdue a little", report(8, "passed")),
        ("overdue long", report(2, "passed")),
        ("failing", report(12, "passed")),
        ("failing", report(18, "failed")),
    ];
    let t = [
        terms("current late", 30),
        terms("current soon", 30),
        terms("overdue a little", 10),
        terms("overdue long", 10),
        terms("failing", 30),
        terms("never", 30),
    ];
    let s = status("f", &t, &records(&runs), None, at(20));
    let order: Vec<&str> = s.sites.iter().map(|s| s.site.as_str()).collect();
    assert_eq!(
        order,
        [
            "never",
            "overdue long",
            "overdue a little",
            "failing",
            "current soon",
            "current late"
        ]
    );
    assert_eq!(
        (
            s.count("NEVER PASSED"),
            s.count("OVERDUE"),
            s.count("FAILING")
        ),
        (1, 2, 1)
    );
}

#[test]
fn sites_the_fleet_file_does_not_name_are_listed_apart() {
    let runs = [
        ("A", report(1, "passed")),
        ("Old Name", report(2, "passed")),
        ("Old Name", report(3, "failed")),
    ];
    let s = status("f", &[terms("A", 30)], &records(&runs), None, at(20));
    assert_eq!(s.sites.len(), 1);
    assert_eq!(s.sites[0].records, 1);
    assert_eq!(
        s.unlisted,
        [Unlisted {
            site: "Old Name".into(),
            records: 2,
            last_record: at(3),
            last_pass: Some(at(2)),
        }]
    );
}

#[test]
fn the_chain_head_is_carried_with_its_short_hash() {
    let head = Head {
        records: 3,
        id: Some(3),
        hash: "3f9a0c1d2e4b5a6978".into(),
    };
    let s = status("f", &[], &[], Some(&head), at(20));
    let h = s.head.expect("a head");
    assert_eq!((h.id, h.short()), (Some(3), "3f9a0c1d2e4b"));
}
