//! The underwriter's four questions on page 1 (do you test restores, how
//! often, how long, did it work), each answered in one sentence from the
//! period's runs. Pure: the same runs always read the same.

use super::pack::{ObjectiveSummary, Period, Said};
use super::questions::{longest_gap, no_record_before};
use super::run::{failures_open, Run};
use super::wording::duration as human_seconds;
use crate::words::plural;

pub fn answers(runs: &[Run], period: &Period, rto: &ObjectiveSummary) -> Vec<Said> {
    let drills: Vec<&Run> = runs.iter().filter(|r| r.is_drill()).collect();
    let passed: Vec<&Run> = drills.iter().copied().filter(|r| r.v.passed()).collect();
    let say = |question: &str, answer: String| Said {
        question: question.into(),
        answer,
    };
    vec![
        say("Do you test restores?", tested(&drills, period)),
        say("How often?", how_often(&drills, &passed, period)),
        say("How long does a restore take?", how_long(rto)),
        say("Did it work?", worked(runs, &drills, &passed)),
    ]
}

fn tested(drills: &[&Run], period: &Period) -> String {
    match drills.len() {
        0 => format!(
            "No: no restore drill of the real backups from {} to {}{}.",
            period.known_from(),
            period.until,
            no_record_before(period)
        ),
        n => format!(
            "Yes: {} of the real backups from {} to {}{}, each restoring the clinic database into a separate, sealed server and checking it.",
            plural(n, "restore drill", "restore drills"),
            period.known_from(),
            period.until,
            no_record_before(period)
        ),
    }
}

fn how_often(drills: &[&Run], passed: &[&Run], period: &Period) -> String {
    let from = period.known_from();
    let days = (period.until - from).num_days() + 1;
    if drills.is_empty() {
        return "Not in this period.".into();
    }
    let counted = format!(
        "{} in {}",
        plural(drills.len(), "drill", "drills"),
        plural(days, "day", "days")
    );
    if passed.is_empty() {
        return format!("{counted}, none successful.");
    }
    if days < 92 {
        return format!(
            "{counted} (the history starts on {from}): too short to show a quarterly rhythm yet."
        );
    }
    let (gap, start, end) = longest_gap(passed, from, period.until);
    format!(
        "{counted}; the longest stretch without a successful restore was {} ({start} to {end}; a quarter is at most 92).",
        plural(gap, "day", "days")
    )
}

fn how_long(rto: &ObjectiveSummary) -> String {
    let objective = rto
        .target_seconds
        .map(|t| format!(" (objective {})", human_seconds(t)))
        .unwrap_or_default();
    match (rto.latest_seconds, rto.worst_seconds) {
        (Some(latest), Some(worst)) if worst > latest => format!(
            "The data was back in {} in the latest successful drill{objective}; the slowest measured drill took {}.",
            human_seconds(latest),
            human_seconds(worst)
        ),
        (Some(latest), _) => format!(
            "The data was back in {} in the latest successful drill{objective}.",
            human_seconds(latest)
        ),
        (None, _) => "Not known: no drill restored the data with every check passed.".into(),
    }
}

fn worked(runs: &[Run], drills: &[&Run], passed: &[&Run]) -> String {
    let Some(last) = passed.last() else {
        return match drills.len() {
            0 => "Not evidenced: nothing was restored.".into(),
            1 => "No: the one drill did not restore the data with every check passed.".into(),
            n => format!("No: none of the {n} drills restored the data with every check passed."),
        };
    };
    let open = failures_open(runs).len();
    let failed = runs.iter().filter(|r| !r.succeeded()).count();
    let after = match (failed, open) {
        (0, _) => String::from("; no run failed"),
        (_, 0) => String::from("; each failure was followed by a passing run"),
        (_, n) => format!(
            "; {} not yet followed by a passing run",
            plural(n, "failure", "failures")
        ),
    };
    format!(
        "{} of {} passed, the latest on {}{after}.",
        passed.len(),
        plural(drills.len(), "drill", "drills"),
        last.r.date.format("%Y-%m-%d")
    )
}
