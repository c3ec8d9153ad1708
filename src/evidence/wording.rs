//! What the evidence pack says, in words: the title, durations, record
//! references, status words and their tone, page 1's figures and the backup
//! protection lines. The PDF and the HTML page both take their wording from
//! here, so the two say exactly the same thing.

use super::pack::{AnswerStatus, DrillRow, FailureRow, ObjectiveSummary, Pack, RecordRef, RunKind};
use chrono::{DateTime, Utc};

/// How a status reads: renderers colour it, but the words always carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Bad,
    Warn,
    Neutral,
}

/// "Restore drill evidence: SITE, SINCE to UNTIL": the document title.
pub(crate) fn title(pack: &Pack) -> String {
    format!(
        "Restore drill evidence: {}, {} to {}",
        sites(pack),
        pack.period.since,
        pack.period.until
    )
}

pub(crate) fn sites(pack: &Pack) -> String {
    if pack.sites.is_empty() {
        "no site".to_string()
    } else {
        pack.sites.join(", ")
    }
}

/// `42 s`, `3.5 min`, `2.1 h`, `1.5 d`: precise enough for an objective.
pub(crate) fn duration(seconds: f64) -> String {
    let one = |v: f64, unit: &str| {
        let s = format!("{v:.1}");
        format!("{} {unit}", s.strip_suffix(".0").unwrap_or(&s))
    };
    if seconds < 59.5 {
        format!("{seconds:.0} s")
    } else if seconds < 3570.0 {
        one(seconds / 60.0, "min")
    } else if seconds < 47.5 * 3600.0 {
        one(seconds / 3600.0, "h")
    } else {
        one(seconds / 86400.0, "d")
    }
}

pub(crate) fn datetime(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The first 12 hex digits: enough to find the record, short enough to read.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// `#42, 2025-03-01 09:00 UTC, 3f9a0c1d2e4b`: how a claim points at a record.
pub(crate) fn record(r: &RecordRef) -> String {
    format!("#{}, {}, {}", r.id, datetime(&r.date), short_hash(&r.hash))
}

pub(crate) fn status_word(status: AnswerStatus) -> (&'static str, Tone) {
    match status {
        AnswerStatus::Yes => ("YES", Tone::Good),
        AnswerStatus::No => ("NO", Tone::Bad),
        AnswerStatus::NotEvidenced => ("NOT EVIDENCED", Tone::Warn),
    }
}

pub(crate) fn verdict(v: &str) -> (String, Tone) {
    let tone = if v == "passed" { Tone::Good } else { Tone::Bad };
    (v.to_uppercase(), tone)
}

pub(crate) fn kind(row: &DrillRow) -> String {
    match (row.kind, &row.fault) {
        (RunKind::Drill, _) => "Restore drill".into(),
        (RunKind::Rehearsal, Some(f)) => format!("Rehearsal: {f}"),
        (RunKind::Rehearsal, None) => "Rehearsal".into(),
    }
}

/// A measured value against its objective, e.g. `18 min (over 15 min)`.
pub(crate) fn measured(value: Option<f64>, target: Option<f64>) -> (String, Tone) {
    match (value, target) {
        (None, _) => ("not measured".into(), Tone::Neutral),
        (Some(v), Some(t)) if v > t => {
            (format!("{} (over {})", duration(v), duration(t)), Tone::Bad)
        }
        (Some(v), _) => (duration(v), Tone::Neutral),
    }
}

/// One of page 1's big figures.
pub(crate) struct Figure {
    pub label: &'static str,
    pub value: String,
    pub status: Option<(String, Tone)>,
    pub detail: String,
}

pub(crate) fn figures(pack: &Pack) -> Vec<Figure> {
    let s = &pack.summary;
    vec![
        restores_figure(pack),
        last_restore_figure(s.last_successful_restore.as_ref()),
        objective_figure("Recovery time (RTO), worst", &s.rto),
        objective_figure("Data-loss window (RPO), worst", &s.rpo),
        rehearsal_figure(pack),
        Figure {
            label: "Runs in the period",
            value: s.runs.to_string(),
            status: None,
            detail: format!(
                "{} restore drills, {} failure rehearsals",
                s.restores_tested, s.rehearsals
            ),
        },
    ]
}

fn restores_figure(pack: &Pack) -> Figure {
    let s = &pack.summary;
    let status = if s.restores_tested == 0 {
        ("NONE TESTED".to_string(), Tone::Bad)
    } else if s.restores_passed == s.restores_tested {
        ("ALL PASSED".to_string(), Tone::Good)
    } else {
        let failed = s.restores_tested.saturating_sub(s.restores_passed);
        (format!("{failed} DID NOT PASS"), Tone::Bad)
    };
    Figure {
        label: "Restores tested",
        value: if s.restores_tested == 0 {
            "None".into()
        } else {
            format!("{} of {} passed", s.restores_passed, s.restores_tested)
        },
        status: Some(status),
        detail: "restore drills of the real backups".into(),
    }
}

fn last_restore_figure(last: Option<&RecordRef>) -> Figure {
    match last {
        Some(r) => Figure {
            label: "Last successful restore",
            value: r.date.format("%Y-%m-%d").to_string(),
            status: None,
            detail: format!("{} UTC, record #{}", r.date.format("%H:%M"), r.id),
        },
        None => Figure {
            label: "Last successful restore",
            value: "None".into(),
            status: Some(("NOT EVIDENCED".into(), Tone::Bad)),
            detail: "no restore passed in the period".into(),
        },
    }
}

fn objective_figure(label: &'static str, o: &ObjectiveSummary) -> Figure {
    let value = o.worst_seconds.map_or("Not measured".into(), duration);
    let status = match (o.target_seconds, o.met) {
        (None, _) => ("NO OBJECTIVE SET".to_string(), Tone::Neutral),
        (Some(_), Some(true)) => ("MET".to_string(), Tone::Good),
        (Some(_), Some(false)) => (
            format!("MISSED IN {} OF {} DRILLS", o.missed, o.measured),
            Tone::Bad,
        ),
        (Some(_), None) => ("NOT EVIDENCED".to_string(), Tone::Warn),
    };
    let detail = match o.target_seconds {
        Some(t) => format!("objective {} (the latest drill's)", duration(t)),
        None => "no objective was set".into(),
    };
    Figure {
        label,
        value,
        status: Some(status),
        detail,
    }
}

fn rehearsal_figure(pack: &Pack) -> Figure {
    let s = &pack.summary;
    let status = if s.rehearsals == 0 {
        ("NONE REHEARSED".to_string(), Tone::Warn)
    } else if s.rehearsals_as_expected == s.rehearsals {
        ("ALL AS EXPECTED".to_string(), Tone::Good)
    } else {
        let off = s.rehearsals.saturating_sub(s.rehearsals_as_expected);
        (format!("{off} NOT AS EXPECTED"), Tone::Bad)
    };
    Figure {
        label: "Failure rehearsals as expected",
        value: format!("{} of {}", s.rehearsals_as_expected, s.rehearsals),
        status: Some(status),
        detail: "simulated failures that turned out as planned".into(),
    }
}

/// Said in large type on page 1 when nothing was restored.
pub(crate) const NO_RESTORE: &str = "No restore was tested in this period.";

/// One line of the backup protection section: a status word, then why.
pub(crate) struct Protected {
    pub label: &'static str,
    pub status: &'static str,
    pub tone: Tone,
    pub detail: String,
}

pub(crate) fn protection(pack: &Pack) -> Vec<Protected> {
    let p = &pack.protection;
    let unknown = "no backup was restored in this period";
    let encrypted = match p.all_encrypted {
        Some(true) => (
            "YES",
            Tone::Good,
            "every restored backup was encrypted (age)".into(),
        ),
        Some(false) => (
            "NO",
            Tone::Bad,
            "at least one restored backup was not encrypted".into(),
        ),
        None => ("NOT EVIDENCED", Tone::Warn, unknown.into()),
    };
    let recipients = match p.min_recipients {
        Some(n) if n >= 2 => (
            "YES",
            Tone::Good,
            format!("every restored backup opens with {n} or more keys (day-to-day and escrow)"),
        ),
        Some(n) => (
            "NO",
            Tone::Bad,
            format!("a restored backup opens with {n} key only"),
        ),
        None => ("NOT EVIDENCED", Tone::Warn, unknown.into()),
    };
    let row = |label, (status, tone, detail): (&'static str, Tone, String)| Protected {
        label,
        status,
        tone,
        detail,
    };
    vec![
        row("Encrypted", encrypted),
        row("Escrow recipient", recipients),
        row(
            "Escrow key proven",
            proven(
                p.escrow_key_proven.as_ref(),
                "opened a backup with the escrow key alone",
            ),
        ),
        row(
            "Offsite copy proven",
            proven(
                p.offsite_copy_proven.as_ref(),
                "restored a real offsite copy",
            ),
        ),
    ]
}

fn proven(r: Option<&RecordRef>, what: &str) -> (&'static str, Tone, String) {
    match r {
        Some(r) => ("YES", Tone::Good, format!("record {}", record(r))),
        None => (
            "NOT EVIDENCED",
            Tone::Warn,
            format!("no run in this period {what}"),
        ),
    }
}

pub(crate) fn next_pass(f: &FailureRow) -> String {
    match &f.next_pass {
        Some(r) => format!("Next passing drill: record {}", record(r)),
        None => "Next passing drill: none since".into(),
    }
}

pub(crate) fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// The site every run was at, when there is one: the table then says it
/// once above rather than in a column squeezing the others.
pub(crate) fn single_site(pack: &Pack) -> Option<&str> {
    let first = pack.drills.first()?.site.as_str();
    pack.drills.iter().all(|d| d.site == first).then_some(first)
}
