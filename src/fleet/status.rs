//! The fleet at a glance: for each site of the fleet file, its standing
//! against its cadence, its last drill, its RTO and RPO against the site's
//! objectives now, and the kind of its last failure; worst first. Pure,
//! over the verified history's records, so every rule is tested without a
//! database. Sites the history holds but the fleet file no longer names (a
//! clinic renamed or gone) are listed on their own, never dropped.

use super::due::{self, Standing};
use crate::ledger::chain::Head;
use crate::ledger::view::ReportView;
use crate::ledger::Record;
use crate::report::facts::{RunKind, Status};
use crate::report::Verdict;
use crate::scenario::fleet::Fleet;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a site is held to: its name, cadence and objectives as the fleet
/// file says them today.
#[derive(Debug, Clone)]
pub struct Terms {
    pub name: String,
    pub cadence_days: u32,
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
}

impl Terms {
    pub fn of(fleet: &Fleet) -> Vec<Terms> {
        fleet
            .sites
            .iter()
            .map(|s| Terms {
                name: s.name.clone(),
                cadence_days: s.cadence_days,
                rto_seconds: s.plan.objectives.rto_seconds,
                rpo_seconds: s.plan.objectives.rpo_seconds,
            })
            .collect()
    }
}

/// A site's standing, as the status names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StandingKind {
    NeverPassed,
    Overdue,
    Current,
}

/// What a run came to, from the report's typed fields only (its verdict,
/// kind, checks' and objectives' statuses), never a message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A drill that passed, or a rehearsal that went as expected.
    Passed,
    /// Restored, but a check failed, errored or could not be decided.
    FailedCheck,
    /// Restored and checked, but RTO or RPO missed or not measured.
    MissedObjective,
    /// No backup could be restored.
    Unrecoverable,
    /// The drill could not finish for a reason of the machine (Docker,
    /// the sandbox): nothing is known about the backups.
    InfrastructureError,
    /// Stopped on the operator's own input (a key file, a folder).
    OperatorError,
    /// A rehearsal whose outcome was not the one the site expects.
    NotAsExpected,
    /// A verdict this version does not know: not passed.
    Unknown,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::FailedCheck => "failed check",
            Outcome::MissedObjective => "missed RTO/RPO",
            Outcome::Unrecoverable => "unrecoverable",
            Outcome::InfrastructureError => "infrastructure",
            Outcome::OperatorError => "operator error",
            Outcome::NotAsExpected => "not as expected",
            Outcome::Unknown => "unknown",
        }
    }
}

/// One run, as the status points at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRef {
    pub record: i64,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The simulated fault, for a rehearsal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A measure against the site's objective: unknown is not met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judged {
    Met,
    Missed,
    /// Not measured, no passing drill, or no objective set.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    pub judged: Judged,
    pub seconds: Option<f64>,
    pub target_seconds: Option<f64>,
}

impl Measure {
    /// `met`, `MISSED`, `unknown`: capitals for what needs a look.
    pub fn word(&self) -> &'static str {
        match self.judged {
            Judged::Met => "met",
            Judged::Missed => "MISSED",
            Judged::Unknown => "unknown",
        }
    }

    /// `4.2 min of 15.0 min`, `not measured`, `5.0 min (no objective)`.
    pub fn text(&self) -> String {
        let h = crate::report::human_seconds;
        match (self.seconds, self.target_seconds) {
            (None, _) => "not measured".into(),
            (Some(s), Some(t)) => format!("{} of {}", h(s), h(t)),
            (Some(s), None) => format!("{} (no objective)", h(s)),
        }
    }
}

/// One site of the fleet file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteStatus {
    pub site: String,
    pub standing: StandingKind,
    pub cadence_days: u32,
    /// When the last passing drill finished.
    pub last_pass: Option<DateTime<Utc>>,
    /// Days from the last passing drill to now.
    pub age_days: Option<f64>,
    /// When the next drill is due (in the past when overdue; None: due now,
    /// never passed).
    pub due_at: Option<DateTime<Utc>>,
    /// The newest drill or operator error (rehearsals are planned failures,
    /// listed under `last_failure` only when they went otherwise).
    pub last_drill: Option<RunRef>,
    /// RTO and RPO of the last passing drill, against today's objectives.
    pub rto: Measure,
    pub rpo: Measure,
    pub last_failure: Option<RunRef>,
    /// Every record of the site, rehearsals and operator errors included.
    pub records: usize,
}

impl SiteStatus {
    /// Current, and its last drill passed.
    pub fn is_ok(&self) -> bool {
        self.standing == StandingKind::Current && self.failing().is_none()
    }

    /// The last drill's outcome when it did not pass.
    pub fn failing(&self) -> Option<Outcome> {
        self.last_drill
            .as_ref()
            .map(|d| d.outcome)
            .filter(|o| *o != Outcome::Passed)
    }

    /// The word a reader sees first (with a colour where there is one).
    pub fn word(&self) -> &'static str {
        match (self.standing, self.failing()) {
            (StandingKind::NeverPassed, _) => "NEVER PASSED",
            (StandingKind::Overdue, _) => "OVERDUE",
            (StandingKind::Current, Some(_)) => "FAILING",
            (StandingKind::Current, None) => "current",
        }
    }
}

/// A site in the history that the fleet file does not name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unlisted {
    pub site: String,
    pub records: usize,
    pub last_record: DateTime<Utc>,
    pub last_pass: Option<DateTime<Utc>>,
}

/// The history's head: what the status was read from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainHead {
    pub records: u64,
    pub id: Option<i64>,
    pub hash: String,
}

impl ChainHead {
    pub fn of(h: &Head) -> ChainHead {
        ChainHead {
            records: h.records,
            id: h.id,
            hash: h.hash.clone(),
        }
    }

    /// The first 12 hex digits: enough to find the record, short enough to read.
    pub fn short(&self) -> &str {
        self.hash.get(..12).unwrap_or(&self.hash)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetStatus {
    pub fleet: String,
    pub generated_at: DateTime<Utc>,
    /// Worst first: never passed, overdue (oldest pass first), failing, then
    /// current by due date.
    pub sites: Vec<SiteStatus>,
    pub unlisted: Vec<Unlisted>,
    /// None: there is no history yet.
    pub head: Option<ChainHead>,
}

impl FleetStatus {
    pub fn all_ok(&self) -> bool {
        self.sites.iter().all(SiteStatus::is_ok)
    }

    /// How many sites read `word` (`NEVER PASSED`, `OVERDUE`, ...).
    pub fn count(&self, word: &str) -> usize {
        self.sites.iter().filter(|s| s.word() == word).count()
    }
}

/// The status of every site of `terms` at `now`, from an intact history's
/// records (`head` None: no history, every site never drilled).
pub fn status(
    fleet: &str,
    terms: &[Terms],
    records: &[Record],
    head: Option<&Head>,
    now: DateTime<Utc>,
) -> FleetStatus {
    let mut sites: Vec<SiteStatus> = terms
        .iter()
        .map(|t| site_status(t, &of_site(records, &t.name), now))
        .collect();
    sites.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.site.cmp(&b.site)));
    FleetStatus {
        fleet: fleet.to_string(),
        generated_at: now,
        sites,
        unlisted: unlisted(terms, records),
        head: head.map(ChainHead::of),
    }
}

/// The history's site column is what the chain covers: records go by it.
fn of_site<'a>(records: &'a [Record], site: &str) -> Vec<&'a Record> {
    records.iter().filter(|r| r.stored.site == site).collect()
}

/// Worst first; within a group, the longest without a pass (or the
/// soonest due) first. Never passed is the most overdue of all.
fn rank(s: &SiteStatus) -> (u8, i64) {
    let at = |t: Option<DateTime<Utc>>| t.map_or(i64::MIN, |t| t.timestamp());
    match (s.standing, s.failing()) {
        (StandingKind::NeverPassed, _) => (0, 0),
        (StandingKind::Overdue, _) => (1, at(s.last_pass)),
        (StandingKind::Current, Some(_)) => (2, at(s.due_at)),
        (StandingKind::Current, None) => (3, at(s.due_at)),
    }
}

fn site_status(t: &Terms, records: &[&Record], now: DateTime<Utc>) -> SiteStatus {
    let newest = |keep: &dyn Fn(&ReportView) -> bool| {
        records
            .iter()
            .filter(|r| keep(&r.report))
            .max_by_key(|r| (r.report.finished_at, r.stored.id))
            .copied()
    };
    let pass = newest(&|v| v.passing_drill());
    let last_pass = pass.map(|r| r.report.finished_at);
    let standing = due::standing(last_pass, t.cadence_days, now);
    let last_drill = newest(&|v| v.run_kind() != RunKind::Rehearsal);
    let last_failure = newest(&|v| outcome(v) != Outcome::Passed);
    let v = pass.map(|r| &r.report);
    SiteStatus {
        site: t.name.clone(),
        standing: match standing {
            Standing::NeverPassed => StandingKind::NeverPassed,
            Standing::Overdue { .. } => StandingKind::Overdue,
            Standing::Current { .. } => StandingKind::Current,
        },
        cadence_days: t.cadence_days,
        last_pass,
        age_days: last_pass.map(|p| (now - p).num_seconds() as f64 / 86_400.0),
        due_at: last_pass.map(|p| due::due_at(p, t.cadence_days)),
        last_drill: last_drill.map(run_ref),
        rto: judge(v.and_then(|v| v.rto_seconds), t.rto_seconds),
        rpo: judge(v.and_then(|v| v.rpo_seconds), t.rpo_seconds),
        last_failure: last_failure.map(run_ref),
        records: records.len(),
    }
}

fn run_ref(r: &Record) -> RunRef {
    RunRef {
        record: r.stored.id,
        at: r.report.finished_at,
        outcome: outcome(&r.report),
        fault: r.report.simulation.as_ref().map(|s| s.fault.clone()),
    }
}

/// A measured value against today's objective.
fn judge(seconds: Option<f64>, target_seconds: Option<f64>) -> Measure {
    let judged = match (seconds, target_seconds) {
        (Some(s), Some(t)) if s <= t => Judged::Met,
        (Some(_), Some(_)) => Judged::Missed,
        _ => Judged::Unknown,
    };
    Measure {
        judged,
        seconds,
        target_seconds,
    }
}

/// What a recorded run came to, by the report's typed fields.
pub fn outcome(v: &ReportView) -> Outcome {
    if v.run_kind() == RunKind::OperatorError {
        return Outcome::OperatorError;
    }
    if let Some(met) = v.as_expected() {
        return if met {
            Outcome::Passed
        } else {
            Outcome::NotAsExpected
        };
    }
    match v.verdict {
        Verdict::Passed => Outcome::Passed,
        Verdict::Unrecoverable => Outcome::Unrecoverable,
        Verdict::Error => Outcome::InfrastructureError,
        Verdict::Unknown => Outcome::Unknown,
        Verdict::Failed if v.checks.iter().any(|c| !c.status.is_ok()) => Outcome::FailedCheck,
        Verdict::Failed if v.objectives.iter().any(|o| o.status != Status::Passed) => {
            Outcome::MissedObjective
        }
        Verdict::Failed => Outcome::Unknown,
    }
}

/// Sites of the history that no site of the fleet file is named, by name.
fn unlisted(terms: &[Terms], records: &[Record]) -> Vec<Unlisted> {
    let mut out: Vec<Unlisted> = Vec::new();
    for r in records {
        if terms.iter().any(|t| t.name == r.stored.site) {
            continue;
        }
        let v = &r.report;
        let pass = v.passing_drill().then_some(v.finished_at);
        match out.iter_mut().find(|u| u.site == r.stored.site) {
            Some(u) => {
                u.records += 1;
                u.last_record = u.last_record.max(v.finished_at);
                u.last_pass = u.last_pass.max(pass);
            }
            None => out.push(Unlisted {
                site: r.stored.site.clone(),
                records: 1,
                last_record: v.finished_at,
                last_pass: pass,
            }),
        }
    }
    out.sort_by(|a, b| a.site.cmp(&b.site));
    out
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
