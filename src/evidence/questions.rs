//! The questions insurers and auditors ask about backups, each answered from
//! the period's measured runs. An answer is `yes` only when a run shows it;
//! where the period holds nothing either way it is `not evidenced`, plainly.

use super::pack::{Answer, AnswerStatus, Period, RecordRef};
use super::run::{failures_open, Run};
use crate::protection::{Probe, Protection, Segregation};
use crate::report::facts::{Status, MANIFEST_CHECK};
use crate::report::human_seconds;
use crate::words::plural;
use chrono::{Duration, NaiveDate};

const INSURER: &str = "Cyber-insurance application (ransomware supplement)";
const HIPAA: &str = "HIPAA Security Rule";
const CIS: &str = "CIS Controls v8";
/// A quarter, at its longest.
const QUARTER_DAYS: i64 = 92;
/// Six months, as insurers' forms ask.
const SIX_MONTHS_DAYS: i64 = 183;
const HOURS_72: f64 = 72.0 * 3600.0;

pub fn answer(runs: &[Run], period: &Period) -> Vec<Answer> {
    vec![
        restore_tested(runs),
        tested_recently(runs, period),
        offline_copy(runs),
        encrypted(runs),
        exact_copies(runs),
        disaster_recovery(runs),
        testing_procedures(runs),
        quarterly(runs, period),
        within_72_hours(runs),
    ]
}

fn refs<'a>(runs: impl IntoIterator<Item = &'a Run<'a>>) -> Vec<RecordRef> {
    runs.into_iter().map(|r| r.r.clone()).collect()
}

fn day(r: &Run) -> String {
    r.r.date.format("%Y-%m-%d").to_string()
}

fn ask(id: &str, source: &str, reference: &str, question: &str) -> Answer {
    Answer {
        id: id.into(),
        source: source.into(),
        reference: reference.into(),
        question: question.into(),
        status: AnswerStatus::NotEvidenced,
        answer: String::new(),
        evidence: Vec::new(),
    }
}

fn drills<'a>(runs: &'a [Run<'a>]) -> Vec<&'a Run<'a>> {
    runs.iter().filter(|r| r.is_drill()).collect()
}

fn passed<'a>(runs: &'a [Run<'a>]) -> Vec<&'a Run<'a>> {
    runs.iter().filter(|r| r.passed_drill()).collect()
}

fn restore_tested(runs: &[Run]) -> Answer {
    let mut a = ask(
        "insurer-restore-tested",
        INSURER,
        "Backup and recovery",
        "Do you test the successful restoration and recovery of key server configurations and data from backups?",
    );
    let (all, ok) = (drills(runs), passed(runs));
    match (all.len(), ok.last()) {
        (0, _) => a.answer = "No restore drill was run in this period.".into(),
        (n, None) => {
            a.status = AnswerStatus::No;
            a.answer = format!(
                "{} run in this period, and none restored the data with every check passed.",
                plural(n, "restore drill was", "restore drills were")
            );
            a.evidence = refs(all);
        }
        (n, Some(last)) => {
            a.status = AnswerStatus::Yes;
            a.answer = format!(
                "Data: {} of {} restored the clinic database from its backups into a separate server and verified it; the latest on {}. Server configuration is not part of these drills.",
                ok.len(),
                plural(n, "restore drill", "restore drills"),
                day(last)
            );
            a.evidence = refs(ok);
        }
    }
    a
}

fn tested_recently(runs: &[Run], period: &Period) -> Answer {
    let mut a = ask(
        "insurer-restore-6-months",
        INSURER,
        "Backup and recovery",
        "Have you successfully restored data from backups in the last 6 months?",
    );
    let from = period.until - Duration::days(SIX_MONTHS_DAYS);
    let recent: Vec<&Run> = drills(runs)
        .into_iter()
        .filter(|r| r.r.date.date_naive() > from)
        .collect();
    match recent.iter().rev().find(|r| r.v.passed()) {
        Some(r) => {
            a.status = AnswerStatus::Yes;
            a.answer = format!(
                "Yes: the latest successful restore was on {}, within the 6 months up to {}.",
                day(r),
                period.until
            );
            a.evidence = vec![r.r.clone()];
        }
        None if recent.is_empty() => {
            a.answer = format!(
                "No restore drill was run in the 6 months up to {}.",
                period.until
            )
        }
        None => {
            a.status = AnswerStatus::No;
            a.answer = format!(
                "{} in the 6 months up to {}, none successful.",
                plural(recent.len(), "restore drill", "restore drills"),
                period.until
            );
            a.evidence = refs(recent);
        }
    }
    a
}

fn offline_copy(runs: &[Run]) -> Answer {
    let mut a = ask(
        "insurer-offline-backups",
        INSURER,
        "Offline or segregated backups",
        "Do you keep backups offline or segregated from the network, and can you restore from them?",
    );
    let restored = |reach: Segregation| -> Vec<(&Run, &Protection)> {
        runs.iter()
            .filter(|r| real_restore(r))
            .filter_map(|r| r.v.recovered_protection().map(|p| (r, p)))
            .filter(|(_, p)| p.verdict == reach)
            .collect()
    };
    let (out, within) = (
        restored(Segregation::OutOfReach),
        restored(Segregation::InReach),
    );
    match (out.last(), within.last()) {
        (Some((last, p)), _) => {
            a.status = AnswerStatus::Yes;
            a.answer = format!(
                "A copy the clinic server's own credentials could not delete was restored and verified {}, the latest on {} from {} ({}).",
                plural(out.len(), "time", "times"),
                day(last),
                p.place,
                reach_detail(p)
            );
            a.evidence = refs(out.iter().map(|(r, _)| *r));
        }
        (None, Some((last, p))) => {
            a.status = AnswerStatus::No;
            a.answer = format!(
                "The copy restored on {} from {} is within reach of the clinic server's credentials ({}): ransomware holding them could destroy it. No copy out of their reach was restored in this period.",
                day(last),
                p.place,
                reach_detail(p)
            );
            a.evidence = refs(within.iter().map(|(r, _)| *r));
        }
        (None, None) => a.answer = offline_not_evidenced(runs),
    }
    a
}

/// What the probe found, in a few words.
fn reach_detail(p: &Protection) -> String {
    let lock = match (&p.object_lock, p.versioning) {
        (Some(l), _) => format!(
            "object lock {}",
            l.mode.as_deref().unwrap_or("enabled without a default")
        ),
        (None, Some(true)) => "versioning, no object lock".into(),
        (None, Some(false)) => "no versioning, no object lock".into(),
        (None, None) => String::new(),
    };
    let probe = match &p.probe {
        Probe::Refused { what } | Probe::Deleted { what } => what.as_str(),
        Probe::NotTried { why } | Probe::Unknown { why } => why.as_str(),
    };
    match lock.is_empty() {
        true => probe.to_string(),
        false => format!("{lock}; {probe}"),
    }
}

/// Why neither yes nor no: nothing restored from a measured copy.
fn offline_not_evidenced(runs: &[Run]) -> String {
    match runs.iter().rev().find(|r| offsite_restored(r)) {
        Some(r) => format!(
            "A copy at the offsite location was restored on {}, but whether the clinic server's credentials could delete it was not measured: name them in the scenario ([backups.s3] production_credentials_file, or [backups] production_user for a folder).",
            day(r)
        ),
        None => "No restore from a copy whose reach was measured in this period: that an offline or segregated copy can be restored is not evidenced.".into(),
    }
}

/// A restore of a real copy (not one a simulation made), checked.
fn real_restore(r: &Run) -> bool {
    !r.v.simulation.as_ref().is_some_and(|s| s.simulated_offsite) && r.v.rto_seconds.is_some()
}

fn offsite_restored(r: &Run) -> bool {
    r.v.recovered_location() == Some("offsite")
        && !r.v.simulation.as_ref().is_some_and(|s| s.simulated_offsite)
        && r.v.rto_seconds.is_some()
}

fn encrypted(runs: &[Run]) -> Answer {
    let mut a = ask(
        "insurer-encryption",
        INSURER,
        "Backup encryption",
        "Are your backups encrypted?",
    );
    let restored: Vec<&Run> = runs
        .iter()
        .filter(|r| r.v.recovered_from.is_some() && r.v.backup.is_some())
        .collect();
    let plain: Vec<&Run> = restored
        .iter()
        .copied()
        .filter(|r| r.v.backup.as_ref().is_some_and(|b| !b.age_encrypted()))
        .collect();
    if restored.is_empty() {
        a.answer =
            "No backup was restored in this period, so its encryption was not observed.".into();
    } else if let Some(p) = plain.first() {
        a.status = AnswerStatus::No;
        a.answer = format!(
            "{} of {} restored backups were not encrypted; the first on {}.",
            plain.len(),
            restored.len(),
            day(p)
        );
        a.evidence = refs(plain);
    } else {
        a.status = AnswerStatus::Yes;
        a.answer = format!(
            "All {} backups restored in this period were encrypted with age (X25519); the restore had to decrypt them.",
            restored.len()
        );
        a.evidence = refs(restored);
    }
    a
}

fn exact_copies(runs: &[Run]) -> Answer {
    let mut a = ask(
        "hipaa-164.308-a-7-ii-A",
        HIPAA,
        "45 CFR 164.308(a)(7)(ii)(A) Data backup plan",
        "Are retrievable exact copies of electronic protected health information created and maintained?",
    );
    let ok = passed(runs);
    let exact: Vec<&Run> = ok
        .iter()
        .copied()
        .filter(|r| {
            r.v.checks
                .iter()
                .any(|c| c.name == MANIFEST_CHECK && c.status == Status::Passed)
        })
        .collect();
    if let Some(last) = exact.last() {
        a.status = AnswerStatus::Yes;
        a.answer = format!(
            "{} compared table by table (row counts and content fingerprints) with the manifest written when the backup was taken, and matched; the latest on {}.",
            plural(exact.len(), "restore was", "restores were"),
            day(last)
        );
        a.evidence = refs(exact);
    } else if !ok.is_empty() {
        a.answer = "Backups were restored, but none was compared with a manifest taken at backup time: that the copies are exact is not evidenced.".into();
        a.evidence = refs(ok);
    } else if !drills(runs).is_empty() {
        a.status = AnswerStatus::No;
        a.answer =
            "No restore drill in this period retrieved the data with every check passed.".into();
        a.evidence = refs(drills(runs));
    } else {
        a.answer = "No restore drill was run in this period.".into();
    }
    a
}

fn disaster_recovery(runs: &[Run]) -> Answer {
    let mut a = ask(
        "hipaa-164.308-a-7-ii-B",
        HIPAA,
        "45 CFR 164.308(a)(7)(ii)(B) Disaster recovery plan",
        "Are procedures in place to restore any loss of data?",
    );
    // The latest rehearsal of each fault decides for that fault.
    let mut latest: Vec<&Run> = Vec::new();
    for r in runs.iter().filter(|r| !r.is_drill()).rev() {
        if !latest.iter().any(|l| l.fault() == r.fault()) {
            latest.push(r);
        }
    }
    latest.reverse();
    let names = |v: &[&Run]| {
        v.iter()
            .filter_map(|r| r.fault())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bad: Vec<&Run> = latest
        .iter()
        .copied()
        .filter(|r| r.as_expected() != Some(true))
        .collect();
    if latest.is_empty() {
        a.answer = "No disaster (ransomware, lost server, lost key, damaged backup) was rehearsed in this period.".into();
    } else if bad.is_empty() {
        a.status = AnswerStatus::Yes;
        a.answer = format!(
            "Rehearsed on scratch copies, each as the recovery plan expects: {}.",
            names(&latest)
        );
        a.evidence = refs(latest);
    } else {
        a.status = AnswerStatus::No;
        a.answer = format!(
            "The latest rehearsal of {} did not turn out as the plan expects.",
            names(&bad)
        );
        a.evidence = refs(bad);
    }
    a
}

fn testing_procedures(runs: &[Run]) -> Answer {
    let mut a = ask(
        "hipaa-164.308-a-7-ii-D",
        HIPAA,
        "45 CFR 164.308(a)(7)(ii)(D) Testing and revision procedures",
        "Are contingency plans tested periodically, and revised when a test fails?",
    );
    let all = drills(runs);
    let unresolved = failures_open(runs);
    match all.last() {
        None => a.answer = "No restore drill was run in this period.".into(),
        Some(last) if last.v.passed() && unresolved.is_empty() => {
            a.status = AnswerStatus::Yes;
            a.answer = format!(
                "{} and {} in this period; every failure was followed by a passing run of the same scenario; the latest drill, on {}, passed.",
                plural(all.len(), "restore drill", "restore drills"),
                plural(runs.len() - all.len(), "rehearsal", "rehearsals"),
                day(last)
            );
            a.evidence = refs(runs);
        }
        Some(_) => {
            a.status = AnswerStatus::No;
            a.answer = format!(
                "{} not been followed by a passing run of the same scenario.",
                plural(
                    unresolved.len().max(1),
                    "failed run has",
                    "failed runs have"
                )
            );
            a.evidence = refs(unresolved);
        }
    }
    a
}

fn quarterly(runs: &[Run], period: &Period) -> Answer {
    let mut a = ask(
        "cis-11.5",
        CIS,
        "Safeguard 11.5 Test data recovery",
        "Is backup recovery tested quarterly, or more frequently?",
    );
    let ok = passed(runs);
    if ok.is_empty() {
        a.answer = "No successful restore in this period.".into();
        return a;
    }
    a.evidence = refs(ok.iter().copied());
    let from = period.known_from();
    let known = (period.until - from).num_days() + 1;
    if known < QUARTER_DAYS {
        a.answer = format!(
            "The history holds {} from {from}{}: shorter than a quarter, so quarterly testing cannot be shown yet.",
            plural(known, "day", "days"),
            no_record_before(period)
        );
        return a;
    }
    let (gap, start, end) = longest_gap(&ok, from, period.until);
    if gap <= QUARTER_DAYS {
        a.status = AnswerStatus::Yes;
        a.answer = format!(
            "Yes: from {from}{} no stretch went more than {} without a successful restore (limit {QUARTER_DAYS}).",
            no_record_before(period),
            plural(gap, "day", "days")
        );
    } else {
        a.status = AnswerStatus::No;
        a.answer = format!(
            "No: {} passed without a successful restore, from {start} to {end} (a quarter is at most {QUARTER_DAYS}){}.",
            plural(gap, "day", "days"),
            no_record_before(period)
        );
    }
    a
}

/// `, no record before DATE` when the history starts inside the period.
pub(crate) fn no_record_before(period: &Period) -> String {
    match period.records_from {
        Some(d) if d > period.since => format!(" (no record before {d})"),
        _ => String::new(),
    }
}

/// The longest stretch without a passed drill: from the first day known to
/// the first, between consecutive ones, and from the last to the period's end.
pub(crate) fn longest_gap(
    ok: &[&Run],
    from: NaiveDate,
    until: NaiveDate,
) -> (i64, NaiveDate, NaiveDate) {
    let mut days: Vec<NaiveDate> = vec![from];
    days.extend(ok.iter().map(|r| r.r.date.date_naive()));
    days.push(until);
    days.windows(2)
        .map(|w| ((w[1] - w[0]).num_days(), w[0], w[1]))
        .max_by_key(|(g, _, _)| *g)
        .unwrap_or((0, from, until))
}

fn within_72_hours(runs: &[Run]) -> Answer {
    let mut a = ask(
        "hipaa-proposed-72h",
        HIPAA,
        "Proposed rule, January 2025 (not final): restore within 72 hours",
        "Can relevant electronic information systems and data be restored within 72 hours?",
    );
    let timed: Vec<(&Run, f64)> = passed(runs)
        .into_iter()
        .filter_map(|r| r.v.rto_seconds.map(|s| (r, s)))
        .collect();
    let Some((slowest, secs)) = timed.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        a.answer = "No successful restore was timed in this period.".into();
        return a;
    };
    a.evidence = timed.iter().map(|(r, _)| r.r.clone()).collect();
    a.status = if secs <= HOURS_72 {
        AnswerStatus::Yes
    } else {
        AnswerStatus::No
    };
    a.answer = format!(
        "The slowest successful restore in this period took {} (on {}), from the start of recovery to the last check passed: the database only, not the whole practice system.",
        human_seconds(secs),
        day(slowest)
    );
    a
}
