//! The drill report: a versioned model, serialised as JSON for machines and
//! insurers, rendered as a summary table for people. Counts, hashes, timings
//! and names only: never a row of patient data. Every free text in it is a
//! `Redacted`, so nothing reaches it without passing the redactor.
//!
//! It reads back too (`Deserialize`), for the tests and anything that reads a
//! report file typed: an enum value this version does not know reads as its
//! `Unknown` (missing evidence, never passed), and a `restored_as` or
//! `restored_data` of another shape as absent. The drill history reads
//! records of every version through `ledger::view` instead.

pub mod facts;
#[cfg(test)]
mod tests;

use crate::redact::Redacted;
use chrono::{DateTime, Utc};
use facts::{CheckResult, Layer, Status};
use serde::{Deserialize, Serialize};

pub use crate::measure::Phase;

/// 2: the `error` verdict and `error` section, `clock_started`.
/// 3: `site`, `backup.recipients`, `simulation.simulated_offsite`.
/// 4: `kind` (drill, rehearsal, operator-error), `host`, `contacts`,
/// `target.engine`; `site` is "site not named" when none was given.
pub const REPORT_VERSION: u32 = 4;

pub use facts::UNNAMED_SITE;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Restored, every check passed, every objective met.
    Passed,
    /// Restored, but a check failed or an objective was missed or unknown.
    Failed,
    /// No backup could be restored.
    Unrecoverable,
    /// The drill could not finish for a reason of the machine (Docker, the
    /// sandbox, a connection): nothing is known about the backups.
    Error,
    /// Read back only: a verdict this version does not know (a record from
    /// another version). Never written by a drill; not passed.
    #[serde(other)]
    Unknown,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Unrecoverable => "unrecoverable",
            Verdict::Error => "error",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub report_version: u32,
    pub tool: String,
    /// The practice the drill is for (`--site`, a site file or the
    /// scenario's `site`; else [`UNNAMED_SITE`]): what the drill history and
    /// evidence packs group by.
    pub site: String,
    /// A drill, a rehearsal, or an operator error (old records: by `simulation`).
    #[serde(default)]
    pub kind: facts::RunKind,
    /// The machine the drill ran on.
    #[serde(default)]
    pub host: Option<String>,
    /// The clinic and its contractor, from the site file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<facts::Contacts>,
    pub scenario: ScenarioInfo,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub verdict: Verdict,
    /// Set when the verdict is `error`: where the drill stopped and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DrillError>,
    /// Where RTO and RPO are measured from.
    pub clock_started: ClockStart,
    /// From `clock_started` to the last check passed (monotonic clock); null
    /// when the data was not verified.
    pub rto_seconds: Option<f64>,
    /// `clock_started` minus the backup's time; null when the backup's time is unknown.
    pub rpo_seconds: Option<f64>,
    pub objectives: Vec<Objective>,
    pub phases: Vec<Phase>,
    pub checks: Vec<CheckResult>,
    /// The backup that was restored (the last one tried when none was).
    pub backup: Option<BackupEvidence>,
    /// Which copy finally restored, e.g. `primary: clinic-20261129T020000Z.dump.zst.age`.
    pub recovered_from: Option<String>,
    /// Every backup tried, in order, with why it failed.
    pub attempts: Vec<Attempt>,
    /// Extra data loss from restoring an older copy than the newest backup.
    pub rpo_cost_seconds: Option<f64>,
    pub target: TargetInfo,
    /// Failure scenarios: what was simulated, on scratch copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<Simulation>,
    /// Lost-server: the workload's committed writes missing after recovery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_writes: Option<LostWrites>,
    /// Failure scenarios: the expected outcome beside the actual one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectation: Option<ExpectationResult>,
}

/// Why a drill ended with the `error` verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillError {
    /// The phase that was running.
    pub phase: String,
    pub reason: Redacted,
    /// environment, failed, usage or unrecoverable: what kind of failure.
    pub kind: String,
    /// The process's exit code for it (filled in by the command line).
    pub exit_code: Option<u8>,
}

impl DrillError {
    /// The error that stopped a run in `phase`; the command line fills in
    /// the exit code.
    pub fn new(phase: impl Into<String>, e: &crate::error::Error) -> Self {
        DrillError {
            phase: phase.into(),
            reason: Redacted::ours(e.to_string()),
            kind: format!("{:?}", e.kind()).to_lowercase(),
            exit_code: None,
        }
    }
}

/// The moment RTO and RPO count from, and what happened then.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClockStart {
    pub at: DateTime<Utc>,
    /// `drill start`, or for a failure scenario the disaster: `simulation
    /// staged`, `primary store encrypted`, `server lost`.
    pub event: String,
}

/// What the simulation did, in words a clinic manager understands, with the
/// evidence (files, byte counts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Simulation {
    pub fault: String,
    pub actions: Vec<Redacted>,
    /// The scenario named no offsite location, so the simulation made one
    /// from the primary's backups: a restore from it proves nothing about a
    /// real offsite copy, and evidence packs do not count it as such.
    pub simulated_offsite: bool,
}

/// The live workload's account of what it wrote, and what the restore lost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LostWrites {
    /// Writes the workload saw committed.
    pub committed: u64,
    /// Of those, the ones missing from the restored database.
    pub lost: u64,
    /// The workload table's row count recorded in the restored backup's
    /// manifest: an independent count of the writes the backup holds.
    pub in_backup_per_manifest: Option<u64>,
    pub first_lost_at: Option<DateTime<Utc>>,
    pub last_lost_at: Option<DateTime<Utc>>,
    /// From the restored backup's snapshot to the last committed write.
    pub span_seconds: Option<f64>,
    /// The workload's own log (sequence numbers and commit times only).
    pub log: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub expected: crate::scenario::Expectation,
    pub actual: crate::scenario::Expectation,
    pub met: bool,
    /// Which expected items did not hold.
    pub mismatches: Vec<Redacted>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub file: String,
}

impl ScenarioInfo {
    pub fn of(plan: &crate::scenario::Plan) -> Self {
        ScenarioInfo {
            name: plan.name.clone(),
            file: plan.file.display().to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Objective {
    pub name: String,
    pub target_seconds: f64,
    pub actual_seconds: Option<f64>,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupEvidence {
    pub path: String,
    pub bytes: u64,
    pub sha256: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Where `created_at` comes from: manifest, file-name, or unknown.
    pub time_source: facts::TimeSource,
    pub layers: Vec<Layer>,
    pub manifest: bool,
    /// How many age recipients the backup was encrypted to (from its
    /// manifest; null without one): 2 means the escrow key can open it too.
    pub recipients: Option<usize>,
    /// The identity file that decrypted it (a path, never a key).
    pub decrypted_with: Option<String>,
    pub dump_bytes: Option<u64>,
    /// How the dump reached the database: in parallel from the sandbox's
    /// memory, or as one stream and why (null when nothing restored).
    #[serde(default, deserialize_with = "facts::lenient")]
    pub restored_as: Option<facts::Delivery>,
    /// Where the restored data was (the sandbox's memory, or the Docker
    /// host's disk when it did not fit) and its bound; null when nothing
    /// restored, or under the disk-full simulation.
    #[serde(default, deserialize_with = "facts::lenient")]
    pub restored_data: Option<facts::DataPlace>,
}

impl BackupEvidence {
    /// `backup   PATH (N bytes, taken TIME)`, as a run's summary starts.
    pub fn summary_line(&self) -> String {
        let mut s = format!(
            "backup   {} ({} bytes{})\n",
            self.path,
            self.bytes,
            self.created_at
                .map(|t| format!(", taken {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
        );
        if let Some(d) = &self.restored_as {
            s.push_str(&format!("restored {}\n", d.describe()));
        }
        if let Some(d) = &self.restored_data {
            s.push_str(&format!("data     {}\n", d.describe(None)));
        }
        s
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub path: String,
    pub location: String,
    pub outcome: AttemptOutcome,
    /// Why it was unusable, as a stable name (`sha256-mismatch`, `stream-cut`,
    /// `disk-full` ...): what scripts and `[expect] detection` match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The technical evidence.
    pub reason: Option<Redacted>,
    /// The same in words a clinic manager understands.
    pub finding: Option<Redacted>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Restored,
    Unusable,
    /// Read back only: an outcome this version does not know.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The engine restored into, by name (`PostgreSQL`, `MariaDB`;
    /// missing in records before version 4).
    #[serde(default)]
    pub engine: Option<String>,
    pub image: String,
    pub server_version: Option<String>,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The summary a person reads at the end of a drill.
    pub fn summary(&self) -> String {
        let mut s = self.summary_head();
        s.push_str(&self.summary_findings());
        s.push_str(&self.summary_tables());
        if let Some(e) = &self.expectation {
            s.push_str(&expectation_text(e));
        }
        s
    }

    /// What was drilled, on which backup, and what the simulation did.
    fn summary_head(&self) -> String {
        let mut s = String::new();
        let verdict = self.verdict.as_str().to_uppercase();
        s.push_str(&format!("drill {:?}: {verdict}\n", self.scenario.name));
        if let Some(e) = &self.error {
            s.push_str(&format!("error during {}: {}\n", e.phase, e.reason));
        }
        if let Some(b) = &self.backup {
            s.push_str(&b.summary_line());
        }
        if let Some(r) = &self.recovered_from {
            s.push_str(&format!("restored from {r} into {}\n", self.target.image));
        }
        if let Some(sim) = &self.simulation {
            s.push_str(&format!("simulated {}:\n", sim.fault));
            for a in &sim.actions {
                s.push_str(&format!("  - {a}\n"));
            }
        }
        s
    }

    /// Unusable backups, what falling back cost, lost writes, RTO and RPO.
    fn summary_findings(&self) -> String {
        let mut s = String::new();
        for a in self
            .attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::Unusable)
        {
            s.push_str(&format!(
                "unusable ({}) {}:\n  {}\n  evidence: {}\n",
                a.location,
                a.path,
                a.finding.as_ref().map_or("", |f| f.as_str()),
                a.reason.as_ref().map_or("", |r| r.as_str())
            ));
        }
        if let Some(c) = self.rpo_cost_seconds.filter(|c| *c > 0.0) {
            s.push_str(&format!(
                "restoring an older copy cost {} of extra data loss\n",
                fmt_secs(Some(c))
            ));
        }
        if let Some(l) = &self.lost_writes {
            s.push_str(&format!(
                "lost writes: {} of {} committed writes are missing ({} of work)\n",
                l.lost,
                l.committed,
                fmt_secs(l.span_seconds)
            ));
        }
        s.push_str(&format!(
            "RTO      {}\nRPO      {}\n(both from {}, {})\n",
            fmt_secs(self.rto_seconds),
            fmt_secs(self.rpo_seconds),
            self.clock_started.event,
            self.clock_started.at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
        s
    }

    /// Phases, checks and objectives, one line each.
    fn summary_tables(&self) -> String {
        let mut s = String::from("\nphase                        seconds\n");
        for p in &self.phases {
            s.push_str(&format!("{:<28} {:>8.2}\n", p.name, p.seconds));
        }
        s.push_str("\nstatus   check\n");
        for c in &self.checks {
            s.push_str(&check_line(c));
        }
        for o in &self.objectives {
            s.push_str(&objective_line(o));
        }
        s
    }
}

/// A check as the summaries list it: `STATUS   NAME: DETAIL`.
pub(crate) fn check_line(c: &CheckResult) -> String {
    format!("{:<8} {}: {}\n", status_word(c.status), c.name, c.detail)
}

/// An objective as the summaries list it, with its target.
pub(crate) fn objective_line(o: &Objective) -> String {
    format!(
        "{:<8} objective {}: {} (target {})\n",
        status_word(o.status),
        o.name,
        fmt_secs(o.actual_seconds),
        fmt_secs(Some(o.target_seconds))
    )
}

/// Expected beside actual, for a failure scenario.
fn expectation_text(e: &ExpectationResult) -> String {
    let mut s = format!(
        "\nexpected vs actual: {}\n",
        if e.met {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    let row = |name: &str, a: &Option<String>, b: &Option<String>| {
        a.as_ref().map(|exp| {
            format!(
                "  {name:<15} expected {exp:?}, actual {:?}\n",
                b.as_deref().unwrap_or("-")
            )
        })
    };
    let (x, y) = (&e.expected, &e.actual);
    for line in [
        row("verdict", &x.verdict, &y.verdict),
        row("recovered from", &x.recovered_from, &y.recovered_from),
        row("detection", &x.detection, &y.detection),
        row("decrypted with", &x.decrypted_with, &y.decrypted_with),
    ]
    .into_iter()
    .flatten()
    {
        s.push_str(&line);
    }
    s
}

pub(crate) fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "ok",
        Status::Failed => "FAILED",
        Status::Unknown => "UNKNOWN",
        Status::Skipped => "skipped",
        Status::Error => "ERROR",
    }
}

pub(crate) fn fmt_secs(s: Option<f64>) -> String {
    match s {
        None => "unknown".into(),
        Some(s) if s < 120.0 => format!("{s:.1} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

/// `42.0 s`, `3.5 min`, `2.1 h` as the report writes them, and days from
/// two days on (a history spans months).
pub fn human_seconds(s: f64) -> String {
    if s < 172_800.0 {
        fmt_secs(Some(s))
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}
