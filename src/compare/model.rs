//! What a comparison found, per target and side by side: the JSON report's
//! model. Counts, fingerprints, timings, versions and names, never a row.

use crate::checks::CheckResult;
pub use crate::engine::schema::{CollationFact, SchemaFacts};
use crate::measure::Phase;
use crate::redact::Redacted;
use crate::report::{Attempt, BackupEvidence, DrillError, ScenarioInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A comparison report reads back (`Deserialize`, for the tests and anything
/// reading a report file typed) only as this version wrote it: a `kind` other
/// than "comparison", or a restore failure of a kind this version does not
/// name, is an error, not a guess.
fn comparison_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    match String::deserialize(d)?.as_str() {
        "comparison" => Ok("comparison"),
        other => Err(serde::de::Error::custom(format!(
            "not a comparison report: kind {other:?}"
        ))),
    }
}

/// A name from a fixed list. Spelt as an alias because serde's derive takes a
/// field written `&'static str` as borrowed from its input, which a report
/// read from a file or a `String` cannot be; these are read by the two
/// functions here instead.
pub type Name = &'static str;

/// A target's restore failure kind, as one of `unusable::KINDS`.
fn unusable_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let kind = String::deserialize(d)?;
    crate::unusable::KINDS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown restore failure kind {kind:?}")))
}

/// 1: the first comparison report.
pub const COMPARISON_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompareVerdict {
    /// Every target restored and every item is equal.
    Compatible,
    /// Every target restored; some item differs, is slower or unknown.
    Differences,
    /// The backup could not be restored into some target.
    Unrecoverable,
    /// The comparison could not finish (the machine, or a broken query file).
    Error,
}

impl CompareVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareVerdict::Compatible => "compatible",
            CompareVerdict::Differences => "differences",
            CompareVerdict::Unrecoverable => "unrecoverable",
            CompareVerdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonReport {
    pub report_version: u32,
    /// Always "comparison": tells this report from a drill's.
    #[serde(deserialize_with = "comparison_kind")]
    pub kind: Name,
    pub tool: String,
    pub site: String,
    pub scenario: ScenarioInfo,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub verdict: CompareVerdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DrillError>,
    /// The backup restored into every target.
    pub backup: Option<BackupEvidence>,
    /// Backups tried before one verified (newest first).
    pub attempts: Vec<Attempt>,
    pub baseline: String,
    pub settings: Settings,
    /// Whether the targets were restored at the same time, and why (memory).
    pub concurrency: Concurrency,
    pub targets: Vec<TargetReport>,
    /// Side by side: one row per thing compared.
    pub items: Vec<Item>,
    /// Seconds to dump the restored baseline (pg_dump, custom format, or
    /// mariadb-dump, to nowhere): with a target's restore time, what an
    /// upgrade by dump and restore would take on this data.
    pub baseline_dump_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub slower_than: f64,
    pub ignore_below_ms: f64,
    pub query_timeout_seconds: u64,
    pub queries: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Concurrency {
    pub concurrent: bool,
    pub reason: String,
    /// How long the restores ran at the same time, from their phases.
    pub restores_overlap_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    pub image: String,
    pub server_version: Option<String>,
    pub restore: RestoreOutcome,
    pub phases: Vec<Phase>,
    pub checks: Vec<CheckResult>,
    pub queries: Vec<NamedRun>,
    pub schema: Option<SchemaFacts>,
}

impl TargetReport {
    pub fn restored(&self) -> bool {
        matches!(self.restore, RestoreOutcome::Restored { .. })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RestoreOutcome {
    Restored {
        seconds: f64,
        /// Every line the restore tool printed (warnings, notices), redacted.
        messages: Vec<Redacted>,
    },
    /// The backup does not restore into this target.
    Failed {
        #[serde(deserialize_with = "unusable_kind")]
        kind: Name,
        reason: Redacted,
    },
    /// The comparison stopped before this target's restore.
    NotRun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedRun {
    pub name: String,
    #[serde(flatten)]
    pub run: QueryRun,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum QueryRun {
    Answered {
        rows: u64,
        /// Order-independent: the sum of each row's 128-bit hash.
        fingerprint: String,
        /// The rows' hash in the order they came.
        order_fingerprint: String,
        /// The median of the timed runs (after one warm-up).
        median_ms: f64,
        runs_ms: Vec<f64>,
    },
    Failed {
        sqlstate: Option<String>,
        /// The read-only role refused a change the query tried to make.
        refused_write: bool,
        message: Redacted,
        /// `file:line` of the error's place, else of the query.
        at: String,
    },
    /// Cancelled by the server at the query time limit.
    TimedOut {
        after_seconds: u64,
    },
    NotRun,
}

impl QueryRun {
    /// One target's answer in a table cell, and in the progress lines.
    pub fn short(&self) -> String {
        match self {
            QueryRun::Answered {
                rows,
                fingerprint,
                median_ms,
                ..
            } => format!(
                "{rows} rows {} {median_ms:.1} ms",
                fingerprint.get(..8).unwrap_or(fingerprint)
            ),
            QueryRun::Failed { sqlstate, .. } => {
                format!("error {}", sqlstate.as_deref().unwrap_or("(no SQLSTATE)"))
            }
            QueryRun::TimedOut { after_seconds } => format!("cancelled after {after_seconds} s"),
            QueryRun::NotRun => "not run".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    Restore,
    Check,
    Query,
    Schema,
    Extension,
    Collation,
}

impl ItemKind {
    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Restore => "restore",
            ItemKind::Check => "check",
            ItemKind::Query => "query",
            ItemKind::Schema => "schema",
            ItemKind::Extension => "extension",
            ItemKind::Collation => "collation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Equal,
    Different,
    Slower,
    /// The evidence to compare is missing: not equal.
    Unknown,
    /// Shown for information (a time), not compared.
    Measured,
}

impl ItemStatus {
    pub fn is_difference(self) -> bool {
        matches!(
            self,
            ItemStatus::Different | ItemStatus::Slower | ItemStatus::Unknown
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub kind: ItemKind,
    pub name: String,
    pub status: ItemStatus,
    /// One value per target, in the targets' order.
    pub values: Vec<String>,
    /// What differs and what it means; empty when equal.
    pub detail: Redacted,
}
