//! What a scenario's `[expect] detection` names, and whether a drill detected
//! it. A detection is a finding kind: a stable, documented name that does not
//! change when a message is reworded or a variant renamed:
//!
//! - an unusable backup's kind (`sha256-mismatch`, `stream-cut`, `disk-full`
//!   ..., every one in [`crate::unusable::KINDS`]);
//! - an objective missed or not measured: `rto-objective-failed`,
//!   `rto-objective-unknown`, `rpo-objective-failed`, `rpo-objective-unknown`;
//! - a check that did not pass: `check-failed`, `check-unknown`,
//!   `check-error`.
//!
//! Anything else is the older spelling, text that must appear in what was
//! detected (an unusable backup's reason, a failed check's detail): still
//! matched as before, with a deprecation note, because that text is display
//! text and may change between versions. An objective's old spelling
//! (`RPO (backup age) objective Failed`, an enum's debug form) is matched as
//! the kind it stands for.

use super::{RPO, RTO};
use crate::checks::Status;
use crate::report::{AttemptOutcome, Objective, Report};

/// The finding kinds of objectives and checks (unusable backups' kinds are
/// `unusable::KINDS`).
pub const KINDS: &[&str] = &[
    "rto-objective-failed",
    "rto-objective-unknown",
    "rpo-objective-failed",
    "rpo-objective-unknown",
    "check-failed",
    "check-unknown",
    "check-error",
];

/// A documented finding kind, matched exactly.
pub fn is_kind(detection: &str) -> bool {
    KINDS.contains(&detection) || crate::unusable::KINDS.contains(&detection)
}

/// Whether the drill detected what `expected` names: a finding kind exactly,
/// else (the deprecated spelling) text within what was detected.
pub fn detected(expected: &str, r: &Report, texts: &[String]) -> bool {
    let kind = match is_kind(expected) {
        true => Some(expected.to_string()),
        false => legacy_objective(expected),
    };
    match kind {
        Some(k) => kinds(r).contains(&k),
        None => texts.iter().any(|t| t.contains(expected)),
    }
}

/// The finding kinds of what the drill detected, each once, in order.
pub fn kinds(r: &Report) -> Vec<String> {
    let unusable = r
        .attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable)
        .filter_map(|a| a.kind.clone());
    let objectives = r.objectives.iter().filter_map(objective_kind);
    let checks = r
        .checks
        .iter()
        .filter(|c| !c.status.is_ok())
        .map(|c| format!("check-{}", c.status.as_str()));
    let mut out: Vec<String> = Vec::new();
    for k in unusable.chain(objectives).chain(checks) {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

/// What was detected, as a line short enough to read: each kind once, with
/// how many backups or checks showed it (`not-a-backup (2 backups)`), and
/// the phase an error stopped the drill in.
pub fn described(r: &Report) -> Vec<String> {
    let count_of = |kind: &str| -> (usize, &str) {
        let unusable = r
            .attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::Unusable && a.kind.as_deref() == Some(kind))
            .count();
        if unusable > 0 {
            return (unusable, "backups");
        }
        let status = kind.strip_prefix("check-").unwrap_or_default();
        let checks = r
            .checks
            .iter()
            .filter(|c| !c.status.is_ok() && c.status.as_str() == status)
            .count();
        (checks, "checks")
    };
    let mut out: Vec<String> = kinds(r)
        .into_iter()
        .map(|k| match count_of(&k) {
            (n, what) if n > 1 => format!("{k} ({n} {what})"),
            _ => k,
        })
        .collect();
    out.extend(
        r.error
            .iter()
            .map(|e| format!("error (during {})", e.phase)),
    );
    out
}

/// `rpo-objective-failed` for a missed RPO objective; None when it passed.
fn objective_kind(o: &Objective) -> Option<String> {
    let which = match o.name.as_str() {
        RTO => "rto",
        RPO => "rpo",
        _ => return None,
    };
    (o.status != Status::Passed).then(|| format!("{which}-objective-{}", o.status.as_str()))
}

/// The note for a detection written in the deprecated spelling: which kind
/// to write instead when one fits, else where the kinds are listed.
pub fn deprecation(expected: &str) -> Option<String> {
    if is_kind(expected) {
        return None;
    }
    let instead = legacy_objective(expected).map_or_else(
        || "a finding kind (listed in scenarios/example.toml)".to_string(),
        |k| format!("\"{k}\""),
    );
    Some(format!(
        "[expect] detection = \"{expected}\" matches the drill's display text, which may change between versions: write {instead} instead (the text is still matched for now)"
    ))
}

/// The kind an objective's old spelling (`RPO (backup age) objective Failed`)
/// stands for.
fn legacy_objective(text: &str) -> Option<String> {
    let which = [(RTO, "rto"), (RPO, "rpo")]
        .iter()
        .find(|(name, _)| text.starts_with(&format!("{name} objective")))?
        .1;
    let status = [("failed", "failed"), ("unknown", "unknown")]
        .iter()
        .find(|(word, _)| text.to_lowercase().ends_with(word))?
        .1;
    Some(format!("{which}-objective-{status}"))
}

#[cfg(test)]
#[path = "detection_tests.rs"]
mod tests;
