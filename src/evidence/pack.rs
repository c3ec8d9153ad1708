//! The evidence pack's model: what the PDF, the HTML page and the JSON file
//! all say, decided once from the verified drill history. Renderers only lay
//! it out; every claim here names the ledger records it rests on.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// 1: the first pack format.
/// 2: `contacts`, `methods`, `operator_errors`, `period.records_from`.
pub const PACK_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pack {
    pub pack_version: u32,
    /// `restore-drill X.Y.Z` that made the pack.
    pub tool: String,
    pub generated_at: DateTime<Utc>,
    /// The sites the pack covers (`--site`, else every site in the period).
    pub sites: Vec<String>,
    pub period: Period,
    /// The verified history the pack was made from.
    pub ledger: LedgerHead,
    pub summary: Summary,
    /// Every run in the period, oldest first.
    pub drills: Vec<DrillRow>,
    /// The insurer's, HIPAA's and CIS's questions, each answered.
    pub questions: Vec<Answer>,
    /// Every failure scenario run in the period: expected against actual.
    pub rehearsals: Vec<Rehearsal>,
    /// The backups' protection as the drills measured it.
    pub protection: Protection,
    /// Every run that did not pass, and the run that next passed.
    pub failures: Vec<FailureRow>,
    /// How to check this pack and the history it came from.
    pub how_to_verify: Vec<VerifyStep>,
    /// Who the clinic and its contractor are, from the newest run's site file.
    #[serde(default)]
    pub contacts: Option<crate::report::facts::Contacts>,
    /// How the drills were run: where, on what, and what RTO covers.
    #[serde(default)]
    pub methods: Option<Methods>,
    /// Runs that stopped on the operator's own input before a backup was
    /// chosen: listed, never counted in an answer.
    #[serde(default)]
    pub operator_errors: Vec<OperatorErrorRow>,
}

/// One step of checking a pack: what it shows, and the command, if any,
/// set apart so it is copied as a whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyStep {
    pub say: String,
    #[serde(default)]
    pub command: Option<String>,
}

/// The methods box: what a drill restored, where and on what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Methods {
    /// The machines the period's runs ran on.
    pub hosts: Vec<String>,
    /// The engines restored into, with their versions and images.
    pub engines: Vec<String>,
    /// What one drill restores and checks, from the newest passed drill.
    pub restored: String,
    /// What the measured RTO covers, and what it does not.
    pub rto_covers: String,
}

/// A run that stopped on its own input (a mistyped key file, a `--backups`
/// folder that does not exist).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorErrorRow {
    pub record: RecordRef,
    pub site: String,
    pub scenario: String,
    /// The step that refused the input.
    pub step: String,
    /// What was wrong (the tool's own words, redacted when recorded).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Period {
    /// First day included.
    pub since: NaiveDate,
    /// Last day included.
    pub until: NaiveDate,
    /// The day of the history's first record for the pack's sites, when it
    /// is after `since`: nothing is known before it, and no answer counts
    /// the days before it as days without a restore.
    #[serde(default)]
    pub records_from: Option<NaiveDate>,
}

impl Period {
    /// The first day anything could have been recorded.
    pub fn known_from(&self) -> NaiveDate {
        self.records_from.map_or(self.since, |d| d.max(self.since))
    }
}

/// The ledger's head when the pack was made: a later history that no longer
/// holds this record with this hash has been cut short or rewritten.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerHead {
    pub records: u64,
    pub head_id: Option<i64>,
    pub head_hash: String,
}

/// A pointer to one ledger record: how every claim is traced to a measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRef {
    pub id: i64,
    /// The record's chain hash.
    pub hash: String,
    /// When the drill started.
    pub date: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Runs in the period (drills and failure scenarios).
    pub runs: u32,
    /// Of them, plain restore drills (no simulated failure).
    pub restores_tested: u32,
    /// Of the restore drills, those that passed.
    pub restores_passed: u32,
    /// Failure scenarios run, and how many turned out as the clinic expects.
    pub rehearsals: u32,
    pub rehearsals_as_expected: u32,
    /// The newest drill in which a backup was restored and every check passed.
    pub last_successful_restore: Option<RecordRef>,
    pub rto: ObjectiveSummary,
    pub rpo: ObjectiveSummary,
    /// One sentence a person who is not technical reads first.
    pub headline: String,
    /// The underwriter's four questions, one sentence each.
    #[serde(default)]
    pub four: Vec<Said>,
}

/// A question and its answer in one sentence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Said {
    pub question: String,
    pub answer: String,
}

/// An objective over the period: the target and the worst value measured in a
/// passing restore drill (the one an insurer should plan with).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectiveSummary {
    pub target_seconds: Option<f64>,
    pub worst_seconds: Option<f64>,
    pub latest_seconds: Option<f64>,
    /// Met in every restore drill that measured it; None when nothing was measured.
    pub met: Option<bool>,
    /// Restore drills that measured it, and of those, the ones that missed
    /// their own target (targets can change over a period).
    pub measured: u32,
    pub missed: u32,
    /// Each miss against the objective of its own drill, oldest first.
    #[serde(default)]
    pub misses: Vec<Miss>,
}

/// One drill that missed its objective.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Miss {
    pub record: RecordRef,
    /// None: not measured (an unmeasured objective is not met).
    pub seconds: Option<f64>,
    pub target_seconds: f64,
}

/// What kind of run a record is (the report's own).
pub use crate::report::facts::RunKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillRow {
    pub record: RecordRef,
    pub site: String,
    pub scenario: String,
    pub kind: RunKind,
    /// The simulated fault, for a rehearsal.
    pub fault: Option<String>,
    /// passed, failed, unrecoverable or error.
    pub verdict: String,
    /// A rehearsal: whether the outcome was the one the clinic expects.
    pub as_expected: Option<bool>,
    pub rto_seconds: Option<f64>,
    pub rto_target_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
    pub rpo_target_seconds: Option<f64>,
    /// When the restored backup was taken.
    pub backup_taken_at: Option<DateTime<Utc>>,
    /// `primary` or `offsite`.
    pub recovered_from: Option<String>,
    /// Why it did not pass (redacted when recorded).
    pub finding: Option<String>,
}

/// An answer to one question an insurer or auditor asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerStatus {
    /// The period's drills show it.
    Yes,
    /// The period's drills show the opposite.
    No,
    /// The period holds no evidence either way: not a yes.
    NotEvidenced,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// Stable id, e.g. `hipaa-164.308-a-7-ii-A`.
    pub id: String,
    /// Who asks: "Cyber-insurance application", "HIPAA Security Rule", "CIS Controls v8".
    pub source: String,
    /// The clause, e.g. "45 CFR 164.308(a)(7)(ii)(A) Data backup plan".
    pub reference: String,
    pub question: String,
    pub status: AnswerStatus,
    /// The answer in a sentence, with the figures.
    pub answer: String,
    /// The runs the answer rests on.
    pub evidence: Vec<RecordRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rehearsal {
    pub record: RecordRef,
    pub scenario: String,
    pub fault: String,
    /// The expected outcome, in words (`verdict passed, recovered from offsite`).
    pub expected: String,
    pub actual: String,
    pub as_expected: bool,
    /// What it showed: the copy restored and its RPO cost, the key that
    /// opened the backup, the writes lost.
    pub shows: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Protection {
    /// Every restored backup in the period was age-encrypted (None: nothing restored).
    pub all_encrypted: Option<bool>,
    /// Recipients per restored backup, smallest seen (2 = day-to-day + escrow).
    pub min_recipients: Option<usize>,
    /// The newest run in which the escrow key alone opened a backup.
    pub escrow_key_proven: Option<RecordRef>,
    /// The newest run that restored a real offsite copy (not one the
    /// simulation made).
    pub offsite_copy_proven: Option<RecordRef>,
    /// The newest run that restored a copy the clinic server's own
    /// credentials were measured unable to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_reach_proven: Option<RecordRef>,
    /// Per run: the newest backup's age when the drill started.
    pub backup_age: Vec<BackupAge>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupAge {
    pub record: RecordRef,
    pub encrypted: Option<bool>,
    pub recipients: Option<usize>,
    /// Seconds between the newest backup and the drill's start; None when unknown.
    pub newest_backup_age_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureRow {
    pub record: RecordRef,
    pub scenario: String,
    pub kind: RunKind,
    /// The simulated fault, for a rehearsal.
    pub fault: Option<String>,
    pub verdict: String,
    pub finding: Option<String>,
    /// For a drill, the next restore drill that passed; for a rehearsal,
    /// the next rehearsal of the same fault that went as expected.
    pub next_pass: Option<RecordRef>,
}
