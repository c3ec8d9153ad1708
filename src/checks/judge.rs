//! The checks' pure judges: from what a restored database answered (counts,
//! fingerprints, a query's first value) to a status and a detail, the same
//! for every engine and unit-tested without one.

use super::{CheckResult, Status};
use crate::catalog::Manifest;
use crate::engine::reader::ForeignKey;
use crate::engine::{Engine, TableFingerprint};
use crate::redact::Redacted;
use crate::scenario::{Expect, Freshness, ManifestPolicy, SqlCheck};
use crate::words::plural;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Pure: each rule's result from its count (column k for the k-th name), or
/// from the query's failure; every rule of a query shares its time.
pub fn judge_rules(
    names: &[String],
    counts: std::result::Result<Vec<std::result::Result<i64, String>>, String>,
    seconds: f64,
) -> Vec<CheckResult> {
    let shared = match names {
        [_] => String::new(),
        _ => format!(" (one query decides {})", names.join(", ")),
    };
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let (status, detail) = match &counts {
                Err(e) => (Status::Error, format!("the rule's query failed: {e}")),
                Ok(c) => match c.get(k) {
                    Some(Ok(0)) => (Status::Passed, format!("0 violations{shared}")),
                    Some(Ok(n)) => (
                        Status::Failed,
                        format!(
                            "{}{shared}",
                            plural(*n, "row violates it", "rows violate it")
                        ),
                    ),
                    Some(Err(e)) => (
                        Status::Error,
                        format!(
                            "the rule's query must return a count in column {}: {e}",
                            k + 1
                        ),
                    ),
                    None => (
                        Status::Error,
                        format!("the rule's query returns no column {} for it", k + 1),
                    ),
                },
            };
            CheckResult {
                name: format!("invariant: {name}"),
                status,
                detail: Redacted::ours(detail),
                seconds,
            }
        })
        .collect()
}

/// Pure: the manifest to compare the restored database with, or the result
/// when there is none or the scenario turned the comparison off.
pub fn manifest_to_compare(
    manifest: Option<&Manifest>,
    policy: ManifestPolicy,
) -> Result<&Manifest, (Status, String)> {
    match (manifest, policy) {
        (_, ManifestPolicy::Off) => Err((Status::Skipped, "disabled by the scenario".into())),
        (None, ManifestPolicy::IfPresent) => Err((
            Status::Skipped,
            "no manifest beside the backup: the content was not compared to a manifest".into(),
        )),
        (None, ManifestPolicy::Required | ManifestPolicy::Deep) => Err((
            Status::Unknown,
            "no manifest beside the backup: the content was not compared to a manifest, so it cannot be shown complete".into(),
        )),
        (Some(m), _) => Ok(m),
    }
}

/// The restored tables whose streamed fingerprint does not vouch for them:
/// missing from the stream, or different from the manifest.
pub(super) fn read_back(
    expected: &[TableFingerprint],
    streamed: &[TableFingerprint],
    tables: &[String],
) -> Vec<String> {
    tables
        .iter()
        .filter(|t| {
            let want = expected.iter().find(|e| &e.name == *t);
            let got = streamed.iter().find(|s| &s.name == *t);
            match (want, got) {
                (Some(w), Some(g)) => w.rows != g.rows || w.fingerprint != g.fingerprint,
                (Some(_), None) => true,
                (None, _) => false,
            }
        })
        .cloned()
        .collect()
}

/// Pure: what the restored database holds, per table, as the manifest
/// comparison sees it (a streamed fingerprint with the database's own row
/// count, or the database's own fingerprint), then judged like the deep check.
pub fn judge_streamed(
    expected: &[TableFingerprint],
    streamed: &[TableFingerprint],
    counted: &[(String, u64)],
    deep: &[TableFingerprint],
) -> (Status, String) {
    let restored: Vec<TableFingerprint> = counted
        .iter()
        .map(|(name, rows)| match deep.iter().find(|d| &d.name == name) {
            Some(d) => d.clone(),
            None => TableFingerprint {
                name: name.clone(),
                rows: *rows,
                fingerprint: streamed
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| s.fingerprint.clone())
                    .unwrap_or_default(),
            },
        })
        .collect();
    let (status, detail) = compare(expected, &restored);
    if status != Status::Passed {
        return (status, detail);
    }
    let how = match deep.len() {
        0 => String::new(),
        n => format!("; {n} of them fingerprinted again in the restored database, their stream differing from the manifest"),
    };
    (
        status,
        format!("{detail} (each table's rows fingerprinted as they streamed from the backup into the database, and counted in the restored database{how})"),
    )
}

/// Names every difference between what the manifest recorded and what was restored.
pub fn compare(expected: &[TableFingerprint], restored: &[TableFingerprint]) -> (Status, String) {
    let want: BTreeMap<&str, &TableFingerprint> =
        expected.iter().map(|t| (t.name.as_str(), t)).collect();
    let got: BTreeMap<&str, &TableFingerprint> =
        restored.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut problems = Vec::new();
    for (name, w) in &want {
        match got.get(name) {
            None => problems.push(format!(
                "{name}: missing ({} expected)",
                plural(w.rows, "row", "rows")
            )),
            Some(g) if g.rows != w.rows => problems.push(format!(
                "{name}: {} restored, {} in the manifest",
                plural(g.rows, "row", "rows"),
                w.rows
            )),
            Some(g) if g.fingerprint != w.fingerprint => problems.push(format!(
                "{name}: content fingerprint differs ({} in both)",
                plural(g.rows, "row", "rows")
            )),
            Some(_) => {}
        }
    }
    for name in got.keys() {
        if !want.contains_key(name) {
            problems.push(format!("{name}: not in the manifest"));
        }
    }
    if problems.is_empty() {
        let rows: u64 = expected.iter().map(|t| t.rows).sum();
        (
            Status::Passed,
            format!(
                "{}, {}: every count and fingerprint equals the manifest's",
                plural(expected.len(), "table", "tables"),
                plural(rows, "row", "rows")
            ),
        )
    } else {
        (Status::Failed, problems.join("; "))
    }
}

/// Pure: referential integrity from each key's orphan count (`None` for a
/// key the database validated itself; `Err` when it could not be counted).
pub fn judge_foreign_keys(
    engine: &dyn Engine,
    fks: &[ForeignKey],
    counts: &[Option<std::result::Result<i64, String>>],
) -> (Status, String) {
    if fks.is_empty() {
        return (
            Status::Skipped,
            "the restored schema declares no foreign keys".into(),
        );
    }
    let mut orphaned = Vec::new();
    let mut total = 0i64;
    for (fk, count) in fks.iter().zip(counts) {
        match count {
            None | Some(Ok(0)) => {}
            Some(Ok(n)) => {
                total += n;
                orphaned.push(format!(
                    "{} ({} -> {}): {}",
                    fk.name,
                    fk.child,
                    fk.parent,
                    plural(*n, "orphan", "orphans")
                ));
            }
            Some(Err(e)) => orphaned.push(format!("{}: cannot be checked: {e}", fk.name)),
        }
    }
    if !orphaned.is_empty() {
        return (
            Status::Failed,
            format!(
                "{} across {} of {}: {}",
                plural(total, "orphan", "orphans"),
                orphaned.len(),
                plural(fks.len(), "foreign key", "foreign keys"),
                orphaned.join("; ")
            ),
        );
    }
    let validated = fks.iter().filter(|f| f.validated).count();
    let how = engine.foreign_keys_note(validated, fks.len());
    (
        Status::Passed,
        format!(
            "{}, 0 orphans ({how})",
            plural(fks.len(), "foreign key", "foreign keys")
        ),
    )
}

/// Pure: a custom check's result from the first column of its first row as
/// text (`None`: no row; `Some(None)`: NULL or unreadable).
pub fn judge_sql(c: &SqlCheck, first: Option<Option<String>>) -> (Status, String) {
    if c.expect == Expect::NoRows {
        return match first {
            None => (Status::Passed, "no rows, as expected".into()),
            Some(_) => (Status::Failed, "returned rows; expected none".into()),
        };
    }
    let Some(text) = first else {
        return (
            Status::Failed,
            format!("returned no rows; expected a value {}", c.expect),
        );
    };
    let value: Option<f64> = text.and_then(|s| s.trim().parse().ok());
    let Some(v) = value else {
        return (
            Status::Error,
            format!(
                "the query at {} must return a number in its first column",
                c.origin
            ),
        );
    };
    let ok = match c.expect {
        Expect::Equals(x) => v == x,
        Expect::AtMost(x) => v <= x,
        Expect::AtLeast(x) => v >= x,
        Expect::Between(a, b) => v >= a && v <= b,
        // Handled above, before a value is read.
        Expect::NoRows => false,
    };
    let detail = format!("{v} (expected {})", c.expect);
    (if ok { Status::Passed } else { Status::Failed }, detail)
}

/// Pure: the backup's time, or the freshness result when it is unknown
/// (nothing to measure the lag from, and nothing is asked of the database).
pub fn known_backup_time(
    backup_time: Option<DateTime<Utc>>,
) -> std::result::Result<DateTime<Utc>, (Status, String)> {
    backup_time.ok_or_else(|| {
        (
            Status::Unknown,
            "the backup's time is unknown (no manifest, no time in its name)".into(),
        )
    })
}

/// Pure: freshness from the newest value's time (seconds since the epoch;
/// `None` when the table is empty).
pub fn judge_freshness(
    f: &Freshness,
    backup_time: DateTime<Utc>,
    newest: Option<f64>,
) -> (Status, String) {
    match newest {
        None => (Status::Failed, format!("{} has no rows", f.table)),
        Some(newest) => {
            let lag = backup_time.timestamp_millis() as f64 / 1000.0 - newest;
            let hours = lag / 3600.0;
            let limit = f.max_lag_seconds / 3600.0;
            let detail = format!(
                "the newest {}.{} is {hours:.1} h older than the backup (limit {limit:.1} h)",
                f.table, f.column
            );
            (
                if lag <= f.max_lag_seconds {
                    Status::Passed
                } else {
                    Status::Failed
                },
                detail,
            )
        }
    }
}
