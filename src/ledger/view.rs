//! What the history reads back from a recorded report: the fields that lists
//! and evidence packs use, and nothing that a later report version may drop.
//! Reports are stored as the exact JSON written to the report file, so an old
//! record stays readable after the report grows; a field a record lacks is
//! missing evidence (None), never a default that looks like success.
//!
//! Verdicts and statuses read typed, with the report's own enums: a value
//! this version does not know reads as `Unknown`, which is not passed.

use crate::report::facts::{Contacts, RunKind, Status};
use crate::report::{AttemptOutcome, Verdict};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReportView {
    pub report_version: u32,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    pub scenario: ScenarioView,
    /// Missing before report version 4: then told by `simulation`.
    #[serde(default)]
    pub kind: Option<RunKind>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub contacts: Option<Contacts>,
    #[serde(default)]
    pub target: Option<TargetView>,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub verdict: Verdict,
    #[serde(default)]
    pub error: Option<ErrorView>,
    #[serde(default)]
    pub rto_seconds: Option<f64>,
    #[serde(default)]
    pub rpo_seconds: Option<f64>,
    #[serde(default)]
    pub rpo_cost_seconds: Option<f64>,
    #[serde(default)]
    pub objectives: Vec<ObjectiveView>,
    #[serde(default)]
    pub checks: Vec<CheckView>,
    #[serde(default)]
    pub backup: Option<BackupView>,
    #[serde(default)]
    pub recovered_from: Option<String>,
    #[serde(default)]
    pub attempts: Vec<AttemptView>,
    #[serde(default)]
    pub simulation: Option<SimulationView>,
    #[serde(default)]
    pub lost_writes: Option<LostWritesView>,
    #[serde(default)]
    pub expectation: Option<ExpectationView>,
    /// Each location's measured reach (none before reports had it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protection: Vec<crate::protection::Protection>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ScenarioView {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TargetView {
    #[serde(default)]
    pub engine: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub server_version: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ErrorView {
    pub phase: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ObjectiveView {
    pub name: String,
    pub target_seconds: f64,
    pub actual_seconds: Option<f64>,
    pub status: Status,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CheckView {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BackupView {
    pub path: String,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// As the report wrote them (`"age"`, `"zstd"`, `{"dump": "custom"}`).
    #[serde(default)]
    pub layers: Vec<serde_json::Value>,
    #[serde(default)]
    pub manifest: bool,
    #[serde(default)]
    pub recipients: Option<usize>,
    #[serde(default)]
    pub decrypted_with: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AttemptView {
    pub path: String,
    pub location: String,
    pub outcome: AttemptOutcome,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub finding: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SimulationView {
    pub fault: String,
    #[serde(default)]
    pub simulated_offsite: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LostWritesView {
    pub committed: u64,
    pub lost: u64,
    #[serde(default)]
    pub span_seconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExpectationView {
    pub expected: OutcomeView,
    pub actual: OutcomeView,
    pub met: bool,
    #[serde(default)]
    pub mismatches: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OutcomeView {
    #[serde(default)]
    pub verdict: Option<String>,
    #[serde(default)]
    pub recovered_from: Option<String>,
    #[serde(default)]
    pub detection: Option<String>,
    #[serde(default)]
    pub decrypted_with: Option<String>,
}

impl BackupView {
    /// Encrypted with age (binary or armored), as the restore found it.
    pub fn age_encrypted(&self) -> bool {
        self.layers
            .iter()
            .any(|l| l.as_str().is_some_and(|s| s.starts_with("age")))
    }
}

impl ReportView {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Passed
    }

    /// A drill of the backups that passed: what a cadence counts. A
    /// rehearsal or an operator error is not a drill of the backups.
    pub fn passing_drill(&self) -> bool {
        self.run_kind() == RunKind::Drill && self.passed()
    }

    /// What the run was: as recorded, else (older records) a rehearsal when
    /// it simulated a fault and a drill otherwise.
    pub fn run_kind(&self) -> RunKind {
        match (self.kind, &self.simulation) {
            (Some(k), _) => k,
            (None, Some(_)) => RunKind::Rehearsal,
            (None, None) => RunKind::Drill,
        }
    }

    /// A rehearsal's outcome against its scenario's expectation (no
    /// expectation recorded: not as expected); None for a drill or an
    /// operator error, which expect nothing.
    pub fn as_expected(&self) -> Option<bool> {
        (self.run_kind() == RunKind::Rehearsal)
            .then(|| self.expectation.as_ref().is_some_and(|e| e.met))
    }

    /// The location of the copy that restored (`primary`, `offsite`).
    pub fn recovered_location(&self) -> Option<&str> {
        self.recovered_from
            .as_deref()
            .and_then(|r| r.split(':').next())
    }

    /// The measured reach of the location the drill restored from.
    pub fn recovered_protection(&self) -> Option<&crate::protection::Protection> {
        let location = self.recovered_location()?;
        self.protection.iter().find(|p| p.location == location)
    }

    /// The objective whose name starts so (`RTO`, `RPO`).
    pub fn objective(&self, name: &str) -> Option<&ObjectiveView> {
        self.objectives.iter().find(|o| o.name.starts_with(name))
    }

    /// What a person reads as the reason a drill did not pass: the error, the
    /// first unusable backup's finding, the first failed check, or the first
    /// missed objective.
    pub fn finding(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(format!("stopped during {}: {}", e.phase, e.reason));
        }
        if let Some(e) = self.expectation.as_ref().filter(|e| !e.met) {
            return Some(format!("not as expected: {}", e.mismatches.join("; ")));
        }
        if self.recovered_from.is_none() {
            if let Some(f) = self.attempts.iter().find_map(|a| a.finding.clone()) {
                return Some(f);
            }
        }
        if let Some(c) = self.checks.iter().find(|c| !c.status.is_ok()) {
            return Some(format!(
                "check {} {}: {}",
                c.name,
                c.status.as_str(),
                c.detail
            ));
        }
        self.objectives
            .iter()
            .find(|o| o.status != Status::Passed)
            .map(|o| match o.actual_seconds {
                Some(a) => format!(
                    "{} was {}, over its objective of {}",
                    o.name,
                    crate::report::human_seconds(a),
                    crate::report::human_seconds(o.target_seconds)
                ),
                None => format!(
                    "{} could not be measured (objective {})",
                    o.name,
                    crate::report::human_seconds(o.target_seconds)
                ),
            })
    }
}
