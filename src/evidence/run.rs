//! One recorded run as the evidence rules see it (a restore drill or a
//! failure rehearsal, passed, as expected or not), and which failures a
//! later run resolved. `build` and `questions` both judge over these.

use super::pack::{RecordRef, RunKind};
use crate::ledger::view::ReportView;

/// One record in scope, as the rules see it.
pub struct Run<'a> {
    pub r: RecordRef,
    pub site: &'a str,
    pub v: &'a ReportView,
}

impl Run<'_> {
    pub fn kind(&self) -> RunKind {
        self.v.run_kind()
    }

    pub fn is_drill(&self) -> bool {
        self.kind() == RunKind::Drill
    }

    pub fn is_rehearsal(&self) -> bool {
        self.kind() == RunKind::Rehearsal
    }

    /// Counted by the evidence: a drill or a rehearsal, not an operator error.
    pub fn counts(&self) -> bool {
        self.kind() != RunKind::OperatorError
    }

    /// A restore drill whose verdict is passed: restored, every check and
    /// objective passed.
    pub fn passed_drill(&self) -> bool {
        self.is_drill() && self.v.passed()
    }

    /// A rehearsal that turned out as the scenario expects; None for a drill.
    pub fn as_expected(&self) -> Option<bool> {
        self.v.as_expected()
    }

    /// Succeeded on its own terms: a drill passed, a rehearsal as expected.
    pub fn succeeded(&self) -> bool {
        self.as_expected().unwrap_or_else(|| self.v.passed())
    }

    pub fn fault(&self) -> Option<&str> {
        self.v.simulation.as_ref().map(|s| s.fault.as_str())
    }
}

/// What resolves a failure: for a drill, the next restore drill that passed;
/// for a rehearsal, the next rehearsal of the same fault as expected.
/// An operator error is not a failure: nothing resolves it.
pub fn next_success<'a, 'b>(failed: &Run, later: &'b [Run<'a>]) -> Option<&'b Run<'a>> {
    later.iter().find(|n| match failed.kind() {
        RunKind::Drill => n.passed_drill(),
        RunKind::Rehearsal => n.fault() == failed.fault() && n.as_expected() == Some(true),
        RunKind::OperatorError => false,
    })
}

/// Failed runs that nothing later resolved (see `next_success`). Operator
/// errors never reach here: `build` leaves them out of every rule.
pub fn failures_open<'a>(runs: &'a [Run<'a>]) -> Vec<&'a Run<'a>> {
    runs.iter()
        .enumerate()
        .filter(|(i, r)| !r.succeeded() && next_success(r, &runs[i + 1..]).is_none())
        .map(|(_, r)| r)
        .collect()
}
