//! The drill's judgement: pure functions over what was found, no I/O, so
//! every rule of the verdict is unit-tested in milliseconds.

use crate::checks::{CheckResult, Status};
use crate::redact::Redacted;
use crate::report::{AttemptOutcome, ExpectationResult, LostWrites, Objective, Report, Verdict};
use crate::scenario::{Expectation, Objectives};
use chrono::{DateTime, Utc};

/// What the verdict rests on.
pub struct Findings<'a> {
    /// The drill died of an infrastructure error (`Some(true)`: of one that
    /// means no backup could be found at all, which is unrecoverable).
    pub died: Option<bool>,
    pub recovered: bool,
    /// An earlier candidate was unusable: the drill fell back to an older copy.
    pub fell_back: bool,
    pub checks: &'a [CheckResult],
    pub objectives: &'a [Objective],
}

/// Passed means the backup the clinic would reach for first restored and
/// proved complete: recovering from an older copy is a recovery, but the
/// newest backup failed, and the drill must not hide that. Unknown is not
/// passed.
pub fn verdict(f: &Findings) -> Verdict {
    match f.died {
        Some(true) => return Verdict::Unrecoverable,
        Some(false) => return Verdict::Error,
        None => {}
    }
    if !f.recovered {
        return Verdict::Unrecoverable;
    }
    let checks_ok = f.checks.iter().all(|c| c.status.is_ok());
    let objectives_ok = f.objectives.iter().all(|o| o.status == Status::Passed);
    if !f.fell_back && checks_ok && objectives_ok {
        Verdict::Passed
    } else {
        Verdict::Failed
    }
}

/// RTO counts only when the data was proved: every check passed.
pub fn rto(checks: &[CheckResult], seconds_to_last_check: Option<f64>) -> Option<f64> {
    seconds_to_last_check.filter(|_| !checks.is_empty() && checks.iter().all(|c| c.status.is_ok()))
}

/// Measured, not estimated, when a workload logged its writes: from the
/// snapshot to the last write lost. Else the clock's start minus the backup's time.
pub fn rpo(
    lost: Option<&LostWrites>,
    backup_time: Option<DateTime<Utc>>,
    clock_start: DateTime<Utc>,
) -> Option<f64> {
    match lost {
        Some(l) => l.span_seconds,
        None => backup_time.map(|t| seconds(clock_start - t)),
    }
}

/// Extra data lost by restoring an older copy than the newest backup.
pub fn rpo_cost(newest: Option<DateTime<Utc>>, restored: Option<DateTime<Utc>>) -> Option<f64> {
    match (newest, restored) {
        (Some(n), Some(r)) if n > r => Some(seconds(n - r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    }
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

pub use super::{RPO, RTO};

/// Each objective the scenario sets: passed, failed, or unknown when the
/// measure is missing.
pub fn objectives(o: &Objectives, rto: Option<f64>, rpo: Option<f64>) -> Vec<Objective> {
    let judge = |target: f64, actual: Option<f64>| match actual {
        None => Status::Unknown,
        Some(a) if a <= target => Status::Passed,
        Some(_) => Status::Failed,
    };
    let mut out = Vec::new();
    if let Some(t) = o.rto_seconds {
        out.push(Objective {
            name: RTO.into(),
            target_seconds: t,
            actual_seconds: rto,
            status: judge(t, rto),
        });
    }
    if let Some(t) = o.rpo_seconds {
        out.push(Objective {
            name: RPO.into(),
            target_seconds: t,
            actual_seconds: rpo,
            status: judge(t, rpo),
        });
    }
    out
}

/// Everything the drill detected, as text: unusable backups (their kind and
/// their reason), failed checks and objectives, and an error that stopped
/// it: what a detection in the deprecated spelling is looked for in
/// (`detection`).
fn detections(r: &Report) -> Vec<String> {
    let unusable = r
        .attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable);
    let mut out: Vec<String> = unusable.clone().filter_map(|a| a.kind.clone()).collect();
    out.extend(unusable.filter_map(|a| a.reason.as_ref().map(|x| x.to_string())));
    out.extend(
        r.checks
            .iter()
            .filter(|c| !c.status.is_ok())
            .map(|c| format!("{}: {}", c.name, c.detail)),
    );
    out.extend(
        r.objectives
            .iter()
            .filter(|o| o.status != Status::Passed)
            .map(|o| format!("{} objective {}", o.name, o.status.as_str())),
    );
    out.extend(r.error.iter().map(|e| e.reason.to_string()));
    out
}

/// What happened, in the terms a scenario's `[expect]` uses: what was
/// detected as finding kinds, each once with its count (never every file's
/// reason, whatever spelling the scenario expects in).
fn actual(r: &Report) -> Expectation {
    let words = super::detection::described(r);
    let recovered_location = r
        .recovered_from
        .as_ref()
        .and_then(|f| f.split(':').next())
        .map(str::to_string);
    Expectation {
        verdict: Some(r.verdict.as_str().into()),
        recovered_from: recovered_location,
        detection: (!words.is_empty()).then(|| words.join(" | ")),
        decrypted_with: r
            .recovered_from
            .as_ref()
            .and(r.backup.as_ref())
            .and_then(|b| b.decrypted_with.clone()),
    }
}

/// Compares what the scenario expects with what happened; each expected item
/// that did not hold is named.
pub fn expectation(expected: &Expectation, r: &Report) -> ExpectationResult {
    let detected = detections(r);
    let actual = actual(r);
    let mut mismatches = Vec::new();
    if let Some(v) = &expected.verdict {
        if Some(v) != actual.verdict.as_ref() {
            mismatches.push(format!("verdict: expected {v}, got {}", r.verdict.as_str()));
        }
    }
    if let Some(l) = &expected.recovered_from {
        if actual.recovered_from.as_deref() != Some(l.as_str()) {
            mismatches.push(format!(
                "recovered from: expected {l}, got {}",
                actual.recovered_from.as_deref().unwrap_or("nothing")
            ));
        }
    }
    if let Some(d) = &expected.detection {
        if !super::detection::detected(d, r, &detected) {
            mismatches.push(format!("detection: nothing detected mentions {d}"));
        }
    }
    if let Some(k) = &expected.decrypted_with {
        let got = actual.decrypted_with.as_deref();
        if !got.is_some_and(|d| d.contains(k.as_str())) {
            mismatches.push(format!(
                "decrypted with: expected a key matching {k}, got {}",
                got.unwrap_or("none")
            ));
        }
    }
    ExpectationResult {
        expected: expected.clone(),
        actual,
        met: mismatches.is_empty(),
        mismatches: mismatches.into_iter().map(Redacted::ours).collect(),
    }
}

#[cfg(test)]
#[path = "assess_tests.rs"]
mod tests;
