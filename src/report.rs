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
mod summary;
#[cfg(test)]
mod tests;

pub(crate) use summary::{check_line, objective_line, skipped_text, status_word};
pub use summary::{headline, outcome, span_words};

use crate::redact::Redacted;
use chrono::{DateTime, Utc};
use facts::{CheckResult, Layer, Status};
use serde::{Deserialize, Serialize};

pub use crate::measure::Phase;

/// 2: the `error` verdict and `error` section, `clock_started`.
/// 3: `site`, `backup.recipients`, `simulation.simulated_offsite`.
/// 4: `kind` (drill, rehearsal, operator-error), `host`, `contacts`,
/// `target.engine`, `skipped` (the files in the backup locations that are
/// not backups); `site` is "site not named" when none was given.
pub const REPORT_VERSION: u32 = 4;

pub use facts::UNNAMED_SITE;

/// The objectives' names in the report: the summary finds RTO and RPO by
/// them, and `drill::detection` derives their finding kinds from them.
pub const RTO: &str = "RTO";
pub const RPO: &str = "RPO (backup age)";

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
    /// Files in the backup locations that are not backups (a ransom note, a
    /// manifest without its backup): not tried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFile>,
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
    /// Each location's measured reach: what the clinic server's own
    /// credentials could do to a copy there (absent when none was measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protection: Vec<crate::protection::Protection>,
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
            kind: e.kind().as_str().to_string(),
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
    /// Where the backup was read from, when not a folder: an S3 bucket or a
    /// restic repository (absent for a folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_kind: Option<crate::catalog::place::PlaceKind>,
    /// Bytes that came over the network to verify and restore it (a remote
    /// location's only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_bytes: Option<u64>,
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
        if let (Some(kind), Some(n)) = (self.location_kind, self.network_bytes) {
            s.push_str(&format!(
                "from     the {}: {n} bytes over the network\n",
                kind.word()
            ));
        }
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

/// A file in a backup location skipped as not a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub location: String,
    pub kind: facts::NotABackup,
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
    /// The fleet's Docker engine the drill ran on, by its name in the fleet file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_engine: Option<String>,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
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
