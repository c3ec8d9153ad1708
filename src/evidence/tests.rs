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
            records_from: None,
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

fn answer(p: &Pack, id: &str) -> String {
    p.questions
        .iter()
        .find(|q| q.id == id)
        .map(|q| q.answer.clone())
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
    assert_eq!(
        real.protection.offsite_copy_proven.as_ref().map(|r| r.id),
        Some(1)
    );
    // Restored, but nobody measured whether the server could delete it.
    assert_eq!(
        status(&real, "insurer-offline-backups"),
        AnswerStatus::NotEvidenced
    );
    assert!(answer(&real, "insurer-offline-backups").contains("was not measured"));
}

/// A ransomware rehearsal restored from an offsite bucket whose scratch
/// object the production credentials could (or could not) delete.
fn measured(verdict: &str, outcome: &str) -> serde_json::Value {
    let mut r = rehearsal("2026-01-10", "ransomware", true, "offsite", false);
    r["protection"] = json!([{
        "location": "offsite", "place": "s3://offsite/clinic", "kind": "s3",
        "versioning": true,
        "probe": {"outcome": outcome, "what": "deleting the scratch object's version"},
        "tried_as": "production", "verdict": verdict
    }]);
    r
}

#[test]
fn the_offline_answer_follows_the_measured_reach_of_the_copy_restored() {
    let locked = pack(
        &[measured("out-of-reach", "refused")],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(
        status(&locked, "insurer-offline-backups"),
        AnswerStatus::Yes
    );
    assert!(answer(&locked, "insurer-offline-backups").contains("s3://offsite/clinic"));
    assert_eq!(
        locked.protection.out_of_reach_proven.as_ref().map(|r| r.id),
        Some(1)
    );
    let open = pack(
        &[measured("in-reach", "deleted")],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(status(&open, "insurer-offline-backups"), AnswerStatus::No);
    assert!(answer(&open, "insurer-offline-backups").contains("within reach"));
    assert!(open.protection.out_of_reach_proven.is_none());
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
            records_from: None,
        },
        site: Some("clinic".into()),
    };
    let p = build(&recs, &head, &scope, chrono::Utc::now());
    assert_eq!(p.drills.len(), 1);
    assert_eq!(p.sites, ["clinic"]);
}

fn operator_error(date: &str) -> serde_json::Value {
    let mut r = report(date, "error", None);
    r["kind"] = json!("operator-error");
    r["error"] = json!({"phase": "load keys", "reason": "cannot read keys/daliy.key", "kind": "environment"});
    r["objectives"] = json!([]);
    r["checks"] = json!([]);
    r["backup"] = serde_json::Value::Null;
    r
}

#[test]
fn an_operator_error_is_listed_and_changes_no_answer() {
    let drills = [
        report("2026-01-10", "passed", Some(30.0)),
        report("2026-02-10", "passed", Some(40.0)),
    ];
    let without = pack(&drills, "2026-01-01", "2026-03-31");
    let with = pack(
        &[
            drills[0].clone(),
            drills[1].clone(),
            operator_error("2026-02-11"),
        ],
        "2026-01-01",
        "2026-03-31",
    );
    let text = |p: &Pack| {
        serde_json::to_string(&(&p.questions, &p.summary, &p.failures, &p.drills)).expect("json")
    };
    assert_eq!(text(&with), text(&without));
    assert_eq!(status(&with, "hipaa-164.308-a-7-ii-D"), AnswerStatus::Yes);
    assert_eq!(with.operator_errors.len(), 1);
    assert_eq!(with.operator_errors[0].step, "load keys");
    assert_eq!(with.operator_errors[0].record.id, 3);
}

#[test]
fn a_failed_drill_unlike_an_operator_error_turns_testing_to_no() {
    let mut failed = report("2026-02-11", "error", None);
    failed["error"] =
        json!({"phase": "restore", "reason": "Docker went away", "kind": "environment"});
    let p = pack(
        &[report("2026-01-10", "passed", Some(30.0)), failed],
        "2026-01-01",
        "2026-03-31",
    );
    assert_eq!(status(&p, "hipaa-164.308-a-7-ii-D"), AnswerStatus::No);
    assert!(p.operator_errors.is_empty());
}

/// A history begun today, packed with the default period: it starts at the
/// first record, and no answer counts the year before it.
#[test]
fn a_first_day_pack_counts_no_day_before_the_first_record() {
    let recs = records(&[report("2026-12-03", "passed", Some(30.0))]);
    let asked = Period {
        since: super::build::default_since(day("2026-12-03")),
        until: day("2026-12-03"),
        records_from: None,
    };
    let first = super::build::first_record(&recs, None);
    let period = super::build::honest_period(asked, false, first);
    assert_eq!(period.since, day("2026-12-03"));
    assert_eq!(period.records_from, Some(day("2026-12-03")));
    let head = Head {
        records: 1,
        id: Some(1),
        hash: "head".into(),
    };
    let scope = Scope { period, site: None };
    let p = build(&recs, &head, &scope, chrono::Utc::now());
    let cis = p
        .questions
        .iter()
        .find(|q| q.id == "cis-11.5")
        .expect("cis");
    assert_eq!(cis.status, AnswerStatus::NotEvidenced, "{}", cis.answer);
    assert!(
        cis.answer.contains("1 day from 2026-12-03"),
        "{}",
        cis.answer
    );
    let all = serde_json::to_string(&p).expect("json");
    assert!(!all.contains("364 days"), "{all}");
    assert!(!all.contains("2025-12"), "{all}");
}

/// `--since` before the history's start: the days before it are said to
/// hold no record, not counted as a gap.
#[test]
fn a_period_reaching_before_the_history_says_no_record_before() {
    let recs = records(&[
        report("2026-03-01", "passed", Some(30.0)),
        report("2026-05-01", "passed", Some(30.0)),
        report("2026-07-01", "passed", Some(30.0)),
    ]);
    let asked = Period {
        since: day("2025-08-01"),
        until: day("2026-07-31"),
        records_from: None,
    };
    let period = super::build::honest_period(asked, true, super::build::first_record(&recs, None));
    assert_eq!(period.since, day("2025-08-01"));
    let head = Head {
        records: 3,
        id: Some(3),
        hash: "head".into(),
    };
    let p = build(
        &recs,
        &head,
        &Scope { period, site: None },
        chrono::Utc::now(),
    );
    let cis = p
        .questions
        .iter()
        .find(|q| q.id == "cis-11.5")
        .expect("cis");
    assert_eq!(cis.status, AnswerStatus::Yes, "{}", cis.answer);
    assert!(
        cis.answer.contains("(no record before 2026-03-01)"),
        "{}",
        cis.answer
    );
}

#[test]
fn a_site_the_history_lacks_is_refused_with_the_sites_it_holds() {
    let mut recs = records(&[
        report("2026-01-10", "passed", Some(30.0)),
        report("2026-02-10", "passed", Some(30.0)),
    ]);
    recs[1].stored.site = "Main Street Eye Care".into();
    let refusal = super::build::choose_site(&recs, Some("Main St Eye Care"), false)
        .expect_err("no such site");
    let text = refusal.message(std::path::Path::new("h.sqlite"));
    assert!(
        text.contains("--site \"Main St Eye Care\": no run of that site"),
        "{text}"
    );
    assert!(text.contains("\"Main Street Eye Care\" (1 run)"), "{text}");
    assert!(text.contains("\"clinic\" (1 run)"), "{text}");
    let several = super::build::choose_site(&recs, None, false).expect_err("two sites");
    assert!(matches!(
        several,
        super::build::SiteRefusal::SeveralSites { .. }
    ));
    assert_eq!(super::build::choose_site(&recs, None, true), Ok(None));
    assert_eq!(
        super::build::choose_site(&recs, Some("clinic"), false),
        Ok(Some("clinic".into()))
    );
}
