//! The comparison's judgement, pure: the targets' facts in, one side-by-side
//! item per thing compared and the verdict out. The first target is the
//! baseline every other is compared with.

use super::model::{
    CompareVerdict, Item, ItemKind, ItemStatus, QueryRun, RestoreOutcome, TargetReport,
};
use crate::error::Error;
use crate::redact::Redacted;
use crate::scenario::{AppQuery, Compare};
use std::collections::BTreeSet;

/// An item compared across the targets that restored (the others show why
/// they have no value; the restore time item and the verdict say they did
/// not restore): `equal` or `different`, with the detail.
fn item(
    kind: ItemKind,
    name: &str,
    values: Vec<String>,
    targets: &[TargetReport],
    detail: &str,
) -> Item {
    let compared: Vec<&String> = values
        .iter()
        .zip(targets)
        .filter(|(_, t)| t.restored())
        .map(|(v, _)| v)
        .collect();
    let equal = compared.windows(2).all(|w| w[0] == w[1]);
    Item {
        kind,
        name: name.to_string(),
        status: if equal {
            ItemStatus::Equal
        } else {
            ItemStatus::Different
        },
        detail: Redacted::ours(if equal { "" } else { detail }),
        values,
    }
}

pub fn items(targets: &[TargetReport], c: &Compare) -> Vec<Item> {
    let mut out = restore_items(targets);
    out.extend(check_items(targets));
    out.extend(
        c.queries
            .iter()
            .enumerate()
            .map(|(i, q)| query_item(q, i, targets, c)),
    );
    out.extend(schema_items(targets));
    out.extend(extension_items(targets));
    out.extend(collation_items(targets));
    out
}

fn restore_items(targets: &[TargetReport]) -> Vec<Item> {
    let time = targets
        .iter()
        .map(|t| match &t.restore {
            RestoreOutcome::Restored { seconds, .. } => format!("{seconds:.1} s"),
            RestoreOutcome::Failed { kind, .. } => format!("failed: {kind}"),
            RestoreOutcome::NotRun => "not run".into(),
        })
        .collect();
    let failed: Vec<String> = targets
        .iter()
        .filter_map(|t| match &t.restore {
            RestoreOutcome::Failed { reason, .. } => Some(format!("{}: {reason}", t.image)),
            _ => None,
        })
        .collect();
    let mut time = Item {
        kind: ItemKind::Restore,
        name: "restore time".into(),
        status: ItemStatus::Measured,
        values: time,
        detail: Redacted::ours(failed.join("; ")),
    };
    if targets.iter().any(|t| !t.restored()) {
        time.status = ItemStatus::Unknown;
    }
    let messages = targets
        .iter()
        .map(|t| match &t.restore {
            RestoreOutcome::Restored { messages, .. } if messages.is_empty() => "none".into(),
            RestoreOutcome::Restored { messages, .. } => {
                let lines: Vec<&str> = messages.iter().map(|m| m.as_str()).collect();
                format!("{} lines: {}", lines.len(), lines.join(" | "))
            }
            _ => "not restored".into(),
        })
        .collect();
    let messages = item(
        ItemKind::Restore,
        "restore warnings and errors",
        messages,
        targets,
        "the restore tool printed different messages on the targets",
    );
    vec![time, messages]
}

/// The drill's checks, by the baseline's names: the same status and figures.
fn check_items(targets: &[TargetReport]) -> Vec<Item> {
    let Some(base) = targets.first() else {
        return Vec::new();
    };
    base.checks
        .iter()
        .map(|bc| {
            let values = targets
                .iter()
                .map(|t| match t.checks.iter().find(|c| c.name == bc.name) {
                    Some(c) => format!("{}: {}", status_word(c.status), c.detail),
                    None if t.restored() => "not run".into(),
                    None => "not restored".into(),
                })
                .collect();
            item(
                ItemKind::Check,
                &bc.name,
                values,
                targets,
                "the check's status or figures differ",
            )
        })
        .collect()
}

fn status_word(s: crate::checks::Status) -> &'static str {
    use crate::checks::Status;
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Unknown => "unknown",
        Status::Skipped => "skipped",
        Status::Error => "error",
    }
}

/// One application query: the same answer (rows, content, and order when the
/// query orders), and no target slower than the threshold allows.
fn query_item(q: &AppQuery, i: usize, targets: &[TargetReport], c: &Compare) -> Item {
    let runs: Vec<Option<&QueryRun>> = targets
        .iter()
        .map(|t| t.queries.get(i).map(|n| &n.run))
        .collect();
    let values = runs
        .iter()
        .map(|r| r.map_or_else(|| "not run".into(), QueryRun::short))
        .collect();
    let (status, detail) = query_status(q, &runs, targets, c);
    Item {
        kind: ItemKind::Query,
        name: q.name.clone(),
        status,
        values,
        detail: Redacted::ours(detail),
    }
}

fn query_status(
    q: &AppQuery,
    runs: &[Option<&QueryRun>],
    targets: &[TargetReport],
    c: &Compare,
) -> (ItemStatus, String) {
    let Some(Some(base @ QueryRun::Answered { .. })) = runs.first() else {
        let why = match runs.first() {
            Some(Some(QueryRun::TimedOut { after_seconds })) => format!(
                "cancelled after {after_seconds} s on the baseline (query_timeout_seconds): nothing to compare the other targets with"
            ),
            _ => "the baseline gave no answer to compare with".into(),
        };
        return (ItemStatus::Unknown, format!("{}: {why}", q.origin()));
    };
    let mut problems = Vec::new();
    let mut status = ItemStatus::Equal;
    for (t, run) in targets.iter().zip(runs).skip(1) {
        if !t.restored() {
            continue;
        }
        if let Some((s, why)) = against(q, base, *run, c) {
            status = worse(status, s);
            problems.push(format!("{}: {why}", t.image));
        }
    }
    (status, problems.join("; "))
}

/// How one target's run differs from the baseline's answer; None when it
/// does not (the same answer, not slower).
fn against(
    q: &AppQuery,
    base: &QueryRun,
    run: Option<&QueryRun>,
    c: &Compare,
) -> Option<(ItemStatus, String)> {
    let QueryRun::Answered {
        rows: b_rows,
        fingerprint: b_fp,
        order_fingerprint: b_order,
        median_ms: b_ms,
        ..
    } = base
    else {
        return None;
    };
    Some(match run {
        Some(QueryRun::Answered { rows, .. }) if rows != b_rows => (
            ItemStatus::Different,
            format!("{rows} rows, the baseline {b_rows}"),
        ),
        Some(QueryRun::Answered { fingerprint, .. }) if fingerprint != b_fp => (
            ItemStatus::Different,
            format!("the same {b_rows} rows in number, with different content"),
        ),
        Some(QueryRun::Answered {
            order_fingerprint, ..
        }) if q.ordered && order_fingerprint != b_order => (
            ItemStatus::Different,
            "the same rows in a different order (the query has ORDER BY)".into(),
        ),
        Some(QueryRun::Answered { median_ms, .. }) => {
            let ratio = slower(*b_ms, *median_ms, c)?;
            (
                ItemStatus::Slower,
                format!(
                    "{ratio:.1}x the baseline's time ({median_ms:.1} ms against {b_ms:.1} ms; threshold {}x)",
                    c.slower_than
                ),
            )
        }
        Some(QueryRun::TimedOut { after_seconds }) => (
            ItemStatus::Slower,
            format!("cancelled after {after_seconds} s; the baseline answered in {b_ms:.1} ms"),
        ),
        Some(QueryRun::Failed {
            sqlstate,
            message,
            at,
            ..
        }) => (
            ItemStatus::Different,
            format!(
                "failed at {at}: {message} (SQLSTATE {}); the baseline answered",
                sqlstate.as_deref().unwrap_or("none")
            ),
        ),
        Some(QueryRun::NotRun) | None => (ItemStatus::Unknown, "not run".into()),
    })
}

/// The ratio, when a target's time is a regression: over the threshold and
/// over the noise floor.
pub fn slower(base_ms: f64, ms: f64, c: &Compare) -> Option<f64> {
    let floor = c.ignore_below.as_secs_f64() * 1000.0;
    let ratio = ms / base_ms.max(0.001);
    (ratio > c.slower_than && ms - base_ms > floor).then_some(ratio)
}

fn worse(a: ItemStatus, b: ItemStatus) -> ItemStatus {
    let rank = |s| match s {
        ItemStatus::Equal | ItemStatus::Measured => 0,
        ItemStatus::Slower => 1,
        ItemStatus::Different => 2,
        ItemStatus::Unknown => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Object counts per kind: compared only between restored targets.
fn schema_items(targets: &[TargetReport]) -> Vec<Item> {
    let kinds: BTreeSet<&String> = targets
        .iter()
        .filter_map(|t| t.schema.as_ref())
        .flat_map(|s| s.objects.keys())
        .collect();
    kinds
        .into_iter()
        .map(|k| {
            let values: Vec<String> = targets
                .iter()
                .map(|t| match (&t.schema, t.restored()) {
                    (Some(s), true) => s.objects.get(k).copied().unwrap_or(0).to_string(),
                    _ => "not restored".into(),
                })
                .collect();
            item(
                ItemKind::Schema,
                k,
                values,
                targets,
                "the restored schemas hold different numbers of these objects",
            )
        })
        .collect()
}

/// Every extension installed on a restored target: its version on each, or
/// whether the target offers it at all.
fn extension_items(targets: &[TargetReport]) -> Vec<Item> {
    let names: BTreeSet<&String> = targets
        .iter()
        .filter(|t| t.restored())
        .filter_map(|t| t.schema.as_ref())
        .flat_map(|s| s.extensions.keys())
        .collect();
    names
        .into_iter()
        .map(|name| {
            let mut missing = Vec::new();
            let values: Vec<String> = targets
                .iter()
                .map(|t| {
                    let Some(s) = &t.schema else {
                        return "unknown".into();
                    };
                    match (t.restored(), s.extensions.get(name), s.available.get(name)) {
                        (true, Some(v), _) => v.clone(),
                        (false, _, Some(v)) => format!("offers {v} (not restored)"),
                        (true, None, Some(v)) => format!("not installed (offers {v})"),
                        (_, _, None) => {
                            missing.push(t.image.clone());
                            "not available".into()
                        }
                    }
                })
                .collect();
            let detail = if missing.is_empty() {
                format!("the extension {name} is not installed in the same version everywhere")
            } else {
                format!(
                    "the backup uses the extension {name} and {} does not offer it: install its package in that image (or server) before upgrading",
                    missing.join(", ")
                )
            };
            let mut it = item(ItemKind::Extension, name, values, targets, &detail);
            if !missing.is_empty() {
                it.status = ItemStatus::Different;
                it.detail = Redacted::ours(detail);
            }
            it
        })
        .collect()
}

fn collation_items(targets: &[TargetReport]) -> Vec<Item> {
    let names: BTreeSet<&String> = targets
        .iter()
        .filter_map(|t| t.schema.as_ref())
        .flat_map(|s| s.collations.iter().map(|c| &c.name))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let values = targets
                .iter()
                .map(|t| {
                    let fact = t
                        .schema
                        .as_ref()
                        .and_then(|s| s.collations.iter().find(|c| &c.name == name));
                    match (t.restored(), fact.and_then(|c| c.version.clone())) {
                        (false, _) => "not restored".into(),
                        (true, Some(v)) => v,
                        (true, None) => "unknown".into(),
                    }
                })
                .collect();
            item(
                ItemKind::Collation,
                name,
                values,
                targets,
                "the collation's version differs: text sorts may change, so indexes on text built under one version can be out of order under the other. After an in-place upgrade rebuild every index on text (PostgreSQL: REINDEX after pg_upgrade; MariaDB: mariadb-upgrade, or ALTER TABLE ... FORCE); a dump and restore rebuilds them",
            )
        })
        .collect()
}

/// A query that fails on the baseline is the query file's mistake (a syntax
/// error, a write, a missing table), not a difference: a usage error that
/// names the file, line and SQLSTATE.
pub fn broken_query(queries: &[AppQuery], baseline: &TargetReport) -> Option<Error> {
    queries.iter().zip(&baseline.queries).find_map(|(q, n)| {
        let QueryRun::Failed {
            sqlstate,
            refused_write,
            message,
            at,
        } = &n.run
        else {
            return None;
        };
        let code = sqlstate.as_deref().unwrap_or("none");
        let what = if *refused_write {
            "tries to change the restored database, and the application's queries run as a role that can only read"
        } else {
            "fails on the baseline"
        };
        Some(Error::Usage(format!(
            "{at}: the query `{}` {what}: {message} (SQLSTATE {code}). Fix it in the query file and run the comparison again",
            q.name
        )))
    })
}

/// Unrestored targets make it unrecoverable; any difference, slower or
/// unknown item makes it `differences`.
pub fn verdict(targets: &[TargetReport], items: &[Item], error: Option<&Error>) -> CompareVerdict {
    if let Some(e) = error {
        return match e.kind() {
            crate::error::ErrorKind::Unrecoverable => CompareVerdict::Unrecoverable,
            _ => CompareVerdict::Error,
        };
    }
    if targets.is_empty() || targets.iter().any(|t| !t.restored()) {
        return CompareVerdict::Unrecoverable;
    }
    if items.iter().any(|i| i.status.is_difference()) {
        CompareVerdict::Differences
    } else {
        CompareVerdict::Compatible
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
