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
    match pack.sites.as_slice() {
        [] => "no site".to_string(),
        [one] if one == crate::report::UNNAMED_SITE => "Site not named".to_string(),
        all => all.join(", "),
    }
}

/// `42 s`, `3.5 min`, `2.1 h`, `1.5 d`: precise enough for an objective.
pub(crate) fn duration(seconds: f64) -> String {
    let one = |v: f64, unit: &str| {
        let s = format!("{v:.1}");
        format!("{} {unit}", s.strip_suffix(".0").unwrap_or(&s))
    };
    if seconds < 9.95 {
        one(seconds, "s")
    } else if seconds < 59.5 {
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

/// A run's verdict as a reader should take it: a rehearsal says first
/// whether it went as planned, in a neutral tone when it did (a planned
/// `unrecoverable` is not a failure), then what it ended as.
pub(crate) fn run_verdict(d: &DrillRow) -> (String, Tone) {
    match d.as_expected {
        Some(true) => (format!("AS EXPECTED ({})", d.verdict), Tone::Neutral),
        Some(false) => (format!("NOT AS EXPECTED ({})", d.verdict), Tone::Bad),
        None => verdict(&d.verdict),
    }
}

/// `wrong-key: wrong key` says the same twice: the fault once, and the
/// scenario's name beside it only when it says more.
pub(crate) fn rehearsal_title(r: &super::pack::Rehearsal) -> String {
    let same = |s: &str| s.to_lowercase().replace(['-', '_'], " ");
    if same(&r.scenario).contains(&same(&r.fault)) {
        r.scenario.clone()
    } else {
        format!("{}: {}", r.fault, r.scenario)
    }
}

/// The chart's legend for a mark that did not pass.
pub(crate) const LEGEND_FAIL: &str = "did not pass (no time: the row under the dates)";

/// Under the operator errors' table.
pub(crate) const OPERATOR_ERRORS: &str = "These runs stopped on their own input before a backup was chosen (a mistyped key file, a backup folder given on the command line that does not exist). They say nothing about the backups and count in no answer above.";

pub(crate) fn kind(row: &DrillRow) -> String {
    match (row.kind, &row.fault) {
        (RunKind::Drill, _) => "Restore drill".into(),
        (RunKind::Rehearsal, Some(f)) => format!("Rehearsal: {f}"),
        (RunKind::Rehearsal, None) => "Rehearsal".into(),
        (RunKind::OperatorError, _) => "Operator error".into(),
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
        objective_figure("Recovery time (RTO), latest successful drill", &s.rto),
        objective_figure("Data-loss window (RPO), latest successful drill", &s.rpo),
        rehearsal_figure(pack),
    ]
}

/// Under the title: the period, and where the history starts inside it.
pub(crate) fn period_line(pack: &Pack) -> String {
    format!(
        "Backup restore tests from {} to {}{}",
        pack.period.since,
        pack.period.until,
        super::questions::no_record_before(&pack.period)
    )
}

/// Who the pack is about and who ran the drills, as the site file names
/// them; said plainly when it does not.
pub(crate) fn who(pack: &Pack) -> Vec<(&'static str, String)> {
    let unnamed = "not named (run the drills with a site file: --site-file)";
    if pack.sites.len() > 1 {
        return vec![(
            "Clinics",
            format!(
                "{} sites in one pack (each run's site is in the drills table); contacts are in each site's own pack",
                pack.sites.len()
            ),
        )];
    }
    let c = pack.contacts.as_ref();
    let line =
        |p: Option<&crate::report::facts::Party>| p.map(|p| p.line()).filter(|l| !l.is_empty());
    vec![
        (
            "Clinic",
            line(c.and_then(|c| c.clinic.as_ref()))
                .unwrap_or_else(|| format!("{}; contact {unnamed}", sites(pack))),
        ),
        (
            "Drills run by",
            line(c.and_then(|c| c.contractor.as_ref())).unwrap_or_else(|| unnamed.into()),
        ),
    ]
}

/// The methods box: what was restored, where, on what, and what RTO covers.
pub(crate) fn methods(pack: &Pack) -> Vec<(&'static str, String)> {
    let Some(m) = &pack.methods else {
        return vec![("Restored", "nothing in this period".into())];
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "not recorded (runs before restore-drill recorded it)".to_string()
        } else {
            v.join("; ")
        }
    };
    vec![
        ("Restored", m.restored.clone()),
        ("Where", format!("on {}", list(&m.hosts))),
        ("Into", list(&m.engines)),
        ("RTO covers", m.rto_covers.clone()),
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
        detail: match &s.last_successful_restore {
            Some(r) => format!(
                "restore drills of the real backups; the latest success {}",
                datetime(&r.date)
            ),
            None => "restore drills of the real backups; none succeeded".into(),
        },
    }
}

/// The latest successful drill's value against the latest objective, and
/// every miss against the objective its own drill had.
fn objective_figure(label: &'static str, o: &ObjectiveSummary) -> Figure {
    let value = o.latest_seconds.map_or("Not measured".into(), duration);
    let status = match (o.target_seconds, o.met) {
        (None, _) => ("NO OBJECTIVE SET".to_string(), Tone::Neutral),
        (Some(_), Some(true)) => ("MET IN EVERY DRILL".to_string(), Tone::Good),
        (Some(_), Some(false)) => (
            format!("MISSED IN {} OF {} DRILLS", o.missed, o.measured),
            Tone::Bad,
        ),
        (Some(_), None) => ("NOT EVIDENCED".to_string(), Tone::Warn),
    };
    let objective = match o.target_seconds {
        Some(t) => format!("objective {}", duration(t)),
        None => "no objective was set".into(),
    };
    let misses: Vec<String> = o
        .misses
        .iter()
        .map(|m| {
            let got = m.seconds.map_or("not measured".into(), duration);
            format!(
                "{got} against {} on {}",
                duration(m.target_seconds),
                m.record.date.format("%m-%d")
            )
        })
        .collect();
    let detail = match misses.len() {
        0 => objective,
        1..=2 => format!("{objective}; missed: {}", misses.join(", ")),
        n => format!(
            "{objective}; missed: {}, and {} more (Failures)",
            misses[..2].join(", "),
            n - 2
        ),
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
        ("ALL AS EXPECTED".to_string(), Tone::Neutral)
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
        row(
            "Copy out of reach",
            proven(
                p.out_of_reach_proven.as_ref(),
                "restored a copy the clinic server's credentials could not delete",
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
