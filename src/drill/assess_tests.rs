//! Every rule of the README's verdict section, without Docker.

use super::*;
use crate::checks::CheckResult;
use crate::report::{
    Attempt, BackupEvidence, ClockStart, DrillError, Report, ScenarioInfo, TargetInfo,
};

fn check(status: Status) -> CheckResult {
    CheckResult {
        name: "manifest comparison".into(),
        status,
        detail: Redacted::ours("10 tables"),
        seconds: 0.1,
    }
}

fn objective(status: Status) -> Objective {
    Objective {
        name: "RTO".into(),
        target_seconds: 60.0,
        actual_seconds: Some(1.0),
        status,
    }
}

fn findings<'a>(checks: &'a [CheckResult], objectives: &'a [Objective]) -> Findings<'a> {
    Findings {
        died: None,
        recovered: true,
        fell_back: false,
        checks,
        objectives,
    }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn restored_with_every_check_and_objective_passed_is_passed() {
    let c = [check(Status::Passed), check(Status::Skipped)];
    let o = [objective(Status::Passed)];
    assert_eq!(verdict(&findings(&c, &o)), Verdict::Passed);
}

#[test]
fn a_failed_check_fails_the_drill() {
    let c = [check(Status::Passed), check(Status::Failed)];
    assert_eq!(verdict(&findings(&c, &[])), Verdict::Failed);
}

#[test]
fn an_unknown_check_is_not_passed() {
    let c = [check(Status::Unknown)];
    assert_eq!(verdict(&findings(&c, &[])), Verdict::Failed);
}

#[test]
fn a_broken_check_is_not_passed() {
    let c = [check(Status::Error)];
    assert_eq!(verdict(&findings(&c, &[])), Verdict::Failed);
}

#[test]
fn an_unknown_objective_is_not_passed() {
    let c = [check(Status::Passed)];
    let o = [objective(Status::Unknown)];
    assert_eq!(verdict(&findings(&c, &o)), Verdict::Failed);
}

#[test]
fn a_missed_objective_fails_the_drill() {
    let c = [check(Status::Passed)];
    let o = [objective(Status::Failed)];
    assert_eq!(verdict(&findings(&c, &o)), Verdict::Failed);
}

#[test]
fn falling_back_to_an_older_copy_is_not_passed_even_when_it_restores() {
    let c = [check(Status::Passed)];
    let mut f = findings(&c, &[]);
    f.fell_back = true;
    assert_eq!(verdict(&f), Verdict::Failed);
}

#[test]
fn nothing_restored_is_unrecoverable() {
    let mut f = findings(&[], &[]);
    f.recovered = false;
    assert_eq!(verdict(&f), Verdict::Unrecoverable);
}

#[test]
fn an_infrastructure_error_is_the_error_verdict_whatever_was_restored() {
    let c = [check(Status::Passed)];
    let mut f = findings(&c, &[]);
    f.died = Some(false);
    assert_eq!(verdict(&f), Verdict::Error);
    f.died = Some(true);
    assert_eq!(
        verdict(&f),
        Verdict::Unrecoverable,
        "no backup found at all"
    );
}

#[test]
fn rto_counts_only_when_every_check_passed() {
    assert_eq!(rto(&[check(Status::Passed)], Some(12.5)), Some(12.5));
    assert_eq!(rto(&[check(Status::Skipped)], Some(3.0)), Some(3.0));
    assert_eq!(rto(&[check(Status::Failed)], Some(12.5)), None);
    assert_eq!(rto(&[check(Status::Unknown)], Some(12.5)), None);
    assert_eq!(rto(&[], Some(12.5)), None, "no checks ran: nothing proved");
    assert_eq!(rto(&[check(Status::Passed)], None), None);
}

#[test]
fn rpo_is_the_clock_start_minus_the_backup_time() {
    let start = t("2026-11-02T02:00:00Z");
    assert_eq!(
        rpo(None, Some(t("2026-11-01T02:00:00Z")), start),
        Some(86_400.0)
    );
    assert_eq!(rpo(None, None, start), None, "unknown backup time");
}

#[test]
fn rpo_of_a_lost_server_is_measured_from_the_lost_writes() {
    let lost = LostWrites {
        committed: 10,
        lost: 4,
        in_backup_per_manifest: Some(6),
        first_lost_at: None,
        last_lost_at: None,
        span_seconds: Some(2.5),
        log: "w".into(),
    };
    let start = t("2026-11-02T02:00:00Z");
    assert_eq!(
        rpo(Some(&lost), Some(t("2026-11-01T00:00:00Z")), start),
        Some(2.5)
    );
}

#[test]
fn rpo_cost_is_what_an_older_copy_loses() {
    let newest = Some(t("2026-11-02T02:00:00Z"));
    assert_eq!(
        rpo_cost(newest, Some(t("2026-11-01T02:00:00Z"))),
        Some(86_400.0)
    );
    assert_eq!(rpo_cost(newest, newest), Some(0.0));
    assert_eq!(rpo_cost(newest, None), None);
    assert_eq!(rpo_cost(None, newest), None);
}

#[test]
fn objectives_are_passed_failed_or_unknown() {
    let o = Objectives {
        rto_seconds: Some(600.0),
        rpo_seconds: Some(3600.0),
    };
    let got = objectives(&o, Some(10.0), Some(7200.0));
    assert_eq!(got[0].status, Status::Passed);
    assert_eq!(got[1].status, Status::Failed);
    let got = objectives(&o, None, Some(600.0));
    assert_eq!(
        (got[0].status, got[1].status),
        (Status::Unknown, Status::Passed)
    );
    assert_eq!(
        objectives(&o, Some(600.0), None)[0].status,
        Status::Passed,
        "at the target is met"
    );
    assert!(objectives(&Objectives::default(), Some(1.0), Some(1.0)).is_empty());
}

fn report(verdict: Verdict) -> Report {
    Report {
        report_version: 1,
        tool: "t".into(),
        site: "clinic".into(),
        kind: Default::default(),
        host: None,
        contacts: None,
        scenario: ScenarioInfo {
            name: "s".into(),
            file: "s.toml".into(),
        },
        run_id: "r".into(),
        started_at: t("2026-11-02T02:00:00Z"),
        finished_at: t("2026-11-02T02:01:00Z"),
        verdict,
        error: None,
        clock_started: ClockStart {
            at: t("2026-11-02T02:00:00Z"),
            event: "drill start".into(),
        },
        rto_seconds: None,
        rpo_seconds: None,
        objectives: Vec::new(),
        phases: Vec::new(),
        checks: Vec::new(),
        backup: None,
        recovered_from: None,
        attempts: Vec::new(),
        skipped: Vec::new(),
        rpo_cost_seconds: None,
        target: TargetInfo {
            engine: None,
            image: "i".into(),
            server_version: None,
            docker_engine: None,
        },
        simulation: None,
        lost_writes: None,
        expectation: None,
        protection: Vec::new(),
    }
}

fn unusable(reason: &str) -> Attempt {
    Attempt {
        path: "p".into(),
        location: "primary".into(),
        outcome: AttemptOutcome::Unusable,
        kind: Some("sha256-mismatch".into()),
        reason: Some(Redacted::ours(reason)),
        finding: None,
    }
}

#[test]
fn an_expectation_that_holds_is_met() {
    let mut r = report(Verdict::Unrecoverable);
    r.attempts.push(unusable(
        "it does not match its manifest: SHA-256 a on disk",
    ));
    let e = Expectation {
        verdict: Some("unrecoverable".into()),
        detection: Some("SHA-256".into()),
        ..Default::default()
    };
    let got = expectation(&e, &r);
    assert!(got.met, "{:?}", got.mismatches);
    assert_eq!(got.actual.verdict.as_deref(), Some("unrecoverable"));
    // The stable kind matches as well as the words.
    let by_kind = Expectation {
        detection: Some("sha256-mismatch".into()),
        ..Default::default()
    };
    let by_kind = expectation(&by_kind, &r);
    assert!(by_kind.met);
    // Both answer in kinds, each once: never every file's reason.
    assert_eq!(by_kind.actual.detection.as_deref(), Some("sha256-mismatch"));
    assert_eq!(got.actual.detection.as_deref(), Some("sha256-mismatch"));
}

#[test]
fn each_expected_item_that_does_not_hold_is_named() {
    let mut r = report(Verdict::Failed);
    r.recovered_from = Some("primary: clinic.age".into());
    r.backup = Some(BackupEvidence {
        path: "p".into(),
        bytes: 1,
        sha256: None,
        created_at: None,
        time_source: crate::catalog::list::TimeSource::Unknown,
        layers: Vec::new(),
        manifest: false,
        recipients: None,
        decrypted_with: Some("daily.key".into()),
        dump_bytes: None,
        restored_as: None,
        restored_data: None,
        location_kind: None,
        network_bytes: None,
    });
    let e = Expectation {
        verdict: Some("passed".into()),
        recovered_from: Some("offsite".into()),
        detection: Some("disk".into()),
        decrypted_with: Some("escrow".into()),
    };
    let got = expectation(&e, &r);
    assert!(!got.met);
    let m: Vec<&str> = got.mismatches.iter().map(|m| m.as_str()).collect();
    assert_eq!(m.len(), 4, "{m:?}");
    assert!(
        m[0].starts_with("verdict: expected passed, got failed"),
        "{m:?}"
    );
    assert!(m[1].contains("expected offsite, got primary"), "{m:?}");
    assert!(m[2].contains("nothing detected mentions disk"), "{m:?}");
    assert!(m[3].contains("got daily.key"), "{m:?}");
}

#[test]
fn failed_checks_objectives_and_errors_count_as_detections() {
    let mut r = report(Verdict::Error);
    r.objectives.push(Objective {
        name: "RPO (backup age)".into(),
        target_seconds: 1.0,
        actual_seconds: Some(2.0),
        status: Status::Failed,
    });
    r.error = Some(DrillError {
        phase: "start sandbox".into(),
        reason: Redacted::ours("the container exited during startup"),
        kind: "environment".into(),
        exit_code: None,
    });
    let e = Expectation {
        detection: Some("RPO (backup age) objective Failed".into()),
        ..Default::default()
    };
    assert!(expectation(&e, &r).met);
    let e = Expectation {
        detection: Some("exited during startup".into()),
        verdict: Some("error".into()),
        ..Default::default()
    };
    assert!(expectation(&e, &r).met);
}
