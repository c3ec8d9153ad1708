//! The pack's rules on hand-made records: what counts as a passed restore, a
//! proven offsite copy or escrow key, a quarter covered, a failure resolved.

use super::build::{build, Scope};
use super::pack::{AnswerStatus, Pack, Period};
use crate::ledger::chain::{Head, Stored, GENESIS};
use crate::ledger::Record;
use chrono::NaiveDate;
use serde_json::json;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// A report as a drill writes it (the fields the history reads).
fn report(date: &str, verdict: &str, rto: Option<f64>) -> serde_json::Value {
    json!({
        "report_version": 3,
        "site": "clinic",
        "scenario": {"name": "monthly restore drill"},
        "run_id": format!("r{date}"),
        "started_at": format!("{date}T02:00:00Z"),
        "finished_at": format!("{date}T02:01:00Z"),
        "verdict": verdict,
        "rto_seconds": rto,
        "rpo_seconds": 3600.0,
        "objectives": [
            {"name": "RTO", "target_seconds": 900.0, "actual_seconds": rto,
             "status": if rto.is_some_and(|r| r <= 900.0) { "passed" } else { "failed" }},
            {"name": "RPO (backup age)", "target_seconds": 93600.0, "actual_seconds": 3600.0, "status": "passed"}
        ],
        "checks": [{"name": "manifest comparison", "status": if verdict == "passed" { "passed" } else { "failed" }, "detail": "10 tables"}],
        "backup": {"path": "b", "created_at": format!("{date}T01:00:00Z"),
                   "layers": ["age", "zstd", {"dump": "custom"}], "manifest": true, "recipients": 2},
        "recovered_from": if verdict == "error" { serde_json::Value::Null } else { json!("primary: b") },
        "attempts": [],
    })
}

fn rehearsal(
    date: &str,
    fault: &str,
    met: bool,
    from: &str,
    simulated_offsite: bool,
) -> serde_json::Value {
    let mut r = report(date, "passed", Some(60.0));
    r["scenario"]["name"] = json!(fault);
    r["simulation"] =
        json!({"fault": fault, "actions": [], "simulated_offsite": simulated_offsite});
    r["recovered_from"] = json!(format!("{from}: b"));
    r["expectation"] = json!({"expected": {"verdict": "passed"}, "actual": {"verdict": "passed"}, "met": met, "mismatches": []});
    r
}

fn records(reports: &[serde_json::Value]) -> Vec<Record> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            stored: Stored {
                id: i as i64 + 1,
                recorded_at: String::new(),
                site: "clinic".into(),
                tool: "t".into(),
                report: r.to_string(),
                report_sha256: String::new(),
                prev_hash: GENESIS.into(),
                hash: format!("h{}", i + 1),
            },
            report: serde_json::from_value(r.clone()).expect("a report view"),
        })
        .collect()
}

fn pack(reports: &[serde_json::Value], since: &str, until: &str) -> Pack {
    let recs = records(reports);
    let head = Head {
        records: recs.len() as u64,
        id: recs.last().map(|r| r.stored.id),
        hash: "head".into(),
    };
    let scope = Scope {
        period: Period {
            since: day(since),
            until: day(until),
        },
        site: None,
    };
    build(&recs, &head, &scope, chrono::Utc::now())
}

fn status(p: &Pack, id: &str) -> AnswerStatus {
    p.questions
        .iter()
        .find(|q| q.id == id)
        .map(|q| q.status)
        .expect("question")
}

#[test]
fn an_empty_period_evidences_nothing_and_says_so() {
    let p = pack(
        &[report("2025-06-01", "passed", Some(10.0))],
        "2026-01-01",
        "2026-06-30",
    );
    assert_eq!(p.summary.restores_tested, 0);
    assert!(p.summary.headline.starts_with("No restore was tested"));
    assert!(p
        .questions
        .iter()
        .all(|q| q.status == AnswerStatus::NotEvidenced));
    assert_eq!(p.questions.len(), 9);
}

#[test]
fn a_failed_drill_is_listed_with_the_drill_that_next_passed() {
    let p = pack(
        &[
            report("2026-01-10", "failed", Some(1200.0)),
            report("2026-02-10", "passed", Some(30.0)),
        ],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(p.summary.restores_tested, 2);
    assert_eq!(p.summary.restores_passed, 1);
    assert_eq!(p.failures.len(), 1);
    assert_eq!(p.failures[0].record.id, 1);
    assert_eq!(p.failures[0].next_pass.as_ref().map(|r| r.id), Some(2));
    assert_eq!(p.summary.rto.worst_seconds, Some(1200.0));
    assert_eq!(
        p.summary.rto.met,
        Some(false),
        "a missed objective is not hidden"
    );
    assert_eq!(status(&p, "hipaa-164.308-a-7-ii-D"), AnswerStatus::Yes);
    assert_eq!(status(&p, "insurer-restore-tested"), AnswerStatus::Yes);
}

#[test]
fn a_failure_not_yet_followed_by_a_pass_answers_testing_no() {
    let p = pack(
        &[
            report("2026-01-10", "passed", Some(30.0)),
            report("2026-02-10", "unrecoverable", None),
        ],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(status(&p, "hipaa-164.308-a-7-ii-D"), AnswerStatus::No);
    assert!(p.failures[0].next_pass.is_none());
}

#[test]
fn only_a_real_offsite_copy_restored_proves_offline_backups() {
    let simulated = pack(
        &[rehearsal("2026-01-10", "ransomware", true, "offsite", true)],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(
        status(&simulated, "insurer-offline-backups"),
        AnswerStatus::NotEvidenced
    );
    assert!(simulated.protection.offsite_copy_proven.is_none());
    let real = pack(
        &[rehearsal(
            "2026-01-10",
            "ransomware",
            true,
            "offsite",
            false,
        )],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(status(&real, "insurer-offline-backups"), AnswerStatus::Yes);
    assert_eq!(
        real.protection.offsite_copy_proven.as_ref().map(|r| r.id),
        Some(1)
    );
}

#[test]
fn the_escrow_key_is_proven_only_by_a_lost_key_rehearsal_as_expected() {
    let ok = pack(
        &[rehearsal("2026-01-10", "lost-key", true, "primary", false)],
        "2026-01-01",
        "2026-03-31",
    );
    assert!(ok.protection.escrow_key_proven.is_some());
    assert_eq!(status(&ok, "hipaa-164.308-a-7-ii-B"), AnswerStatus::Yes);
    let not = pack(
        &[rehearsal("2026-01-10", "lost-key", false, "primary", false)],
        "2026-01-01",
        "2026-03-31",
    );
    assert!(not.protection.escrow_key_proven.is_none());
    assert_eq!(status(&not, "hipaa-164.308-a-7-ii-B"), AnswerStatus::No);
    assert_eq!(
        not.failures.len(),
        1,
        "a rehearsal not as expected is a failure"
    );
}

#[test]
fn a_gap_longer_than_a_quarter_answers_cis_no() {
    let quarterly = pack(
        &[
            report("2026-01-15", "passed", Some(30.0)),
            report("2026-04-10", "passed", Some(30.0)),
        ],
        "2026-01-01",
        "2026-06-30",
    );
    assert_eq!(status(&quarterly, "cis-11.5"), AnswerStatus::Yes);
    let gap = pack(
        &[
            report("2026-01-15", "passed", Some(30.0)),
            report("2026-06-01", "passed", Some(30.0)),
        ],
        "2026-01-01",
        "2026-06-30",
    );
    assert_eq!(status(&gap, "cis-11.5"), AnswerStatus::No);
    let q = gap
        .questions
        .iter()
        .find(|q| q.id == "cis-11.5")
        .expect("cis");
    assert!(q.answer.contains("137 days"), "{}", q.answer);
}

#[test]
fn a_restore_slower_than_72_hours_answers_no_and_six_months_counts_from_the_end() {
    let p = pack(
        &[report("2026-01-15", "passed", Some(80.0 * 3600.0))],
        "2026-01-01",
        "2026-12-31",
    );
    assert_eq!(status(&p, "hipaa-proposed-72h"), AnswerStatus::No);
    assert_eq!(
        status(&p, "insurer-restore-6-months"),
        AnswerStatus::NotEvidenced
    );
    let recent = pack(
        &[report("2026-11-15", "passed", Some(60.0))],
        "2026-01-01",
        "2026-12-31",
    );
    assert_eq!(status(&recent, "hipaa-proposed-72h"), AnswerStatus::Yes);
    assert_eq!(
        status(&recent, "insurer-restore-6-months"),
        AnswerStatus::Yes
    );
}

#[test]
fn an_unencrypted_restored_backup_answers_encryption_no() {
    let mut plain = report("2026-01-15", "passed", Some(30.0));
    plain["backup"]["layers"] = json!(["zstd", {"dump": "custom"}]);
    let p = pack(
        &[report("2026-01-10", "passed", Some(30.0)), plain],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(status(&p, "insurer-encryption"), AnswerStatus::No);
    assert_eq!(p.protection.all_encrypted, Some(false));
    assert_eq!(p.protection.min_recipients, Some(2));
}

#[test]
fn a_site_filter_keeps_only_that_sites_runs() {
    let mut recs = records(&[
        report("2026-01-10", "passed", Some(30.0)),
        report("2026-01-11", "failed", None),
    ]);
    recs[1].stored.site = "other".into();
    let head = Head {
        records: 2,
        id: Some(2),
        hash: "h".into(),
    };
    let scope = Scope {
        period: Period {
            since: day("2026-01-01"),
            until: day("2026-01-31"),
        },
        site: Some("clinic".into()),
    };
    let p = build(&recs, &head, &scope, chrono::Utc::now());
    assert_eq!(p.drills.len(), 1);
    assert_eq!(p.sites, ["clinic"]);
}
