//! Exit codes: the one place that knows the numbers. Scripts rely on them; the
//! README lists them.

use crate::checks::Status;
use crate::error::{Error, ErrorKind};
use crate::report::{Report, Verdict};

/// Drill passed / command succeeded.
pub const OK: u8 = 0;
/// The work ran and failed (a check failed, a database command failed).
pub const FAILED: u8 = 1;
/// Invalid usage or scenario: nothing was started.
pub const USAGE: u8 = 2;
/// Environment not ready: Docker, images, mmdebstrap, keys, disk.
pub const ENVIRONMENT: u8 = 3;
/// No recoverable backup.
pub const UNRECOVERABLE: u8 = 4;

/// A fleet's exit code: its worst site's. Proven trouble outranks unknown:
/// a backup that cannot be restored (4), then a drill that failed (1), then
/// a drill that could not run (3: environment; 2: the operator's input).
pub fn worst(codes: impl IntoIterator<Item = u8>) -> u8 {
    const RANK: [u8; 5] = [OK, USAGE, ENVIRONMENT, FAILED, UNRECOVERABLE];
    let rank = |c: u8| RANK.iter().position(|&r| r == c).unwrap_or(RANK.len());
    codes.into_iter().max_by_key(|&c| rank(c)).unwrap_or(OK)
}

pub fn code_for(e: &Error) -> u8 {
    for_kind(e.kind())
}

pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => USAGE,
        ErrorKind::Environment => ENVIRONMENT,
        ErrorKind::Unrecoverable => UNRECOVERABLE,
        ErrorKind::Failed => FAILED,
    }
}

/// A drill's exit code. A failure scenario passes when the outcome is what the
/// clinic expects; otherwise: passed 0, failed 1 (2 when a custom check is
/// itself broken: a scenario error), unrecoverable 4, and an error that
/// stopped the drill its own code.
pub fn for_report(r: &Report, error: Option<&Error>) -> u8 {
    let died = error.filter(|_| r.verdict == Verdict::Error);
    if let Some(e) = &r.expectation {
        return match (e.met, died) {
            (true, _) => OK,
            (false, Some(err)) => code_for(err),
            (false, None) => FAILED,
        };
    }
    match r.verdict {
        Verdict::Passed => OK,
        Verdict::Unrecoverable => UNRECOVERABLE,
        Verdict::Error => died.map_or(FAILED, code_for),
        Verdict::Failed if r.checks.iter().any(|c| c.status == Status::Error) => USAGE,
        // Only a report read back can hold it; it is not passed.
        Verdict::Failed | Verdict::Unknown => FAILED,
    }
}

/// A comparison's exit code: compatible 0, differences 1, a target that
/// cannot restore 4, and an error that stopped it its own code (a broken
/// query file is a usage error, 2).
pub fn for_comparison(v: crate::compare::model::CompareVerdict, error: Option<&Error>) -> u8 {
    use crate::compare::model::CompareVerdict;
    match (v, error) {
        (_, Some(e)) => code_for(e),
        (CompareVerdict::Compatible, None) => OK,
        (CompareVerdict::Differences, None) => FAILED,
        (CompareVerdict::Unrecoverable, None) => UNRECOVERABLE,
        (CompareVerdict::Error, None) => FAILED,
    }
}

/// `validate`: 3 when an image the scenario names is missing or could not
/// be checked (a run would stop there with 3), else 0.
pub fn for_images(images: &[crate::sandbox::images::Availability]) -> u8 {
    use crate::sandbox::images::Availability;
    if images.iter().all(|a| *a == Availability::Present) {
        OK
    } else {
        ENVIRONMENT
    }
}

/// `doctor`: 3 when the machine needs fixing, else 1 when drills are overdue
/// or never passed, else 0.
pub fn for_doctor(checks: &[crate::doctor::Check]) -> u8 {
    use crate::doctor::Area;
    let failing = |area| checks.iter().any(|c| c.area == area && !c.ok);
    if failing(Area::Machine) {
        ENVIRONMENT
    } else if failing(Area::Cadence) {
        FAILED
    } else {
        OK
    }
}
