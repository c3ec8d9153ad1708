//! `restore-drill run` on a scenario with `[compare]`: the comparison, its
//! report on disk, and its exit code. Like a drill, every outcome past a valid
//! scenario leaves a report. A comparison is not a drill of the clinic's
//! recovery: it is not recorded in the drill history and sends no alert.

use super::{exit, with_run_as, Output};
use crate::compare::model::ComparisonReport;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::redact::Redacted;
use crate::sandbox::RunId;
use crate::scenario::Plan;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a drill's options mean nothing for here: said, not silently dropped.
pub(super) struct Ignored {
    pub(super) metrics: bool,
    pub(super) junit: bool,
}

pub(super) async fn run(
    plan: Plan,
    report_dir: PathBuf,
    ignored: Ignored,
    events: Events,
) -> Result<Output> {
    let run = RunId::new();
    let keys = match super::run_keys(&plan) {
        Ok(k) => Arc::new(k),
        Err(e) => return error_output(&plan, &run, &report_dir, "load keys", e),
    };
    let plan2 = plan.clone();
    let compared = with_run_as(
        run.clone(),
        events,
        false,
        move |docker, run, events| async move {
            Ok(crate::compare::run(&docker, &run, &plan2, keys, &events).await)
        },
    )
    .await;
    let mut out = match compared {
        Ok(o) => output(o.report, o.error.as_ref(), &report_dir)?,
        Err(e) => return error_output(&plan, &run, &report_dir, super::saved::stopped_in(&e), e),
    };
    for (given, flag) in [(ignored.metrics, "--metrics"), (ignored.junit, "--junit")] {
        if given {
            out.warnings.push(Redacted::ours(format!(
                "{flag} is for drills; a comparison writes its JSON report only"
            )));
        }
    }
    Ok(out)
}

fn error_output(plan: &Plan, run: &RunId, dir: &Path, phase: &str, e: Error) -> Result<Output> {
    let report = crate::compare::error_report(plan, run, phase, &e);
    output(report, Some(&e), dir).map_err(|_| e)
}

fn output(mut report: ComparisonReport, error: Option<&Error>, dir: &Path) -> Result<Output> {
    let code = exit::for_comparison(report.verdict, error);
    if let Some(e) = report.error.as_mut() {
        e.exit_code = Some(code);
    }
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let name = format!(
        "compare-{}-{}.json",
        report.started_at.format("%Y%m%dT%H%M%SZ"),
        report.run_id
    );
    let (_, text) = super::saved::save_report(dir, &name, &json, report.summary())?;
    let mut out = Output::new(text, serde_json::to_value(&report).unwrap_or_default());
    out.error = report.error.as_ref().map(|e| e.reason.clone());
    out.code = code;
    Ok(out)
}
