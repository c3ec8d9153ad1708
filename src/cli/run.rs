//! `restore-drill run`: the drill, its report on disk, and its exit code.
//! From the moment the scenario is valid, every outcome leaves a report, also
//! one that died of an infrastructure error or was interrupted.

use super::saved::{create_dir, save_report, stopped_in, Ran};
use super::{exit, keep_text, run_keys, with_run_as, Output};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::report::Report;
use crate::sandbox::RunId;
use crate::scenario::Plan;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML) that says what to restore, where, and what to check.
    scenario: PathBuf,
    /// Backup location (overrides the scenario's): a folder, s3://BUCKET/PREFIX or restic:REPO.
    #[arg(long)]
    backups: Option<String>,
    /// age identity file (overrides the scenario's); repeat to try several in order.
    #[arg(long = "identity")]
    identities: Vec<PathBuf>,
    /// Where the JSON report is written (default: the scenario's [report] dir, else
    /// /var/lib/restore-drill/reports as root, else the XDG state directory).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Leave the restored database running and print how to connect to it.
    #[arg(long)]
    keep: bool,
    /// The practice or server drilled (default: the scenario's `site`, else the host name).
    #[arg(long, env = "RESTORE_DRILL_SITE")]
    site: Option<String>,
    /// The drill history this run is recorded in. Default:
    /// /var/lib/restore-drill/history.sqlite as root, else the XDG state directory.
    #[arg(long = "history", env = "RESTORE_DRILL_HISTORY")]
    history: Option<PathBuf>,
    /// Do not record this run in the drill history.
    #[arg(long)]
    no_history: bool,
    /// A site file: `site` and `[notify]` for this machine's practice (a
    /// scenario's own `[notify]` wins; `--site` wins over its `site`).
    #[arg(long, env = "RESTORE_DRILL_SITE_FILE")]
    site_file: Option<PathBuf>,
    /// Prometheus textfile-collector file, replaced after the run (overrides
    /// the scenario's `[report] metrics`).
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// JUnit XML file, replaced after the run: a test case per check and objective.
    #[arg(long)]
    junit: Option<PathBuf>,
}

pub async fn run(a: RunArgs, events: Events) -> Result<Output> {
    // An invalid scenario starts nothing and reports nothing: exit 2.
    let site_file = match &a.site_file {
        Some(p) => crate::scenario::load_site_file(p)?,
        None => crate::scenario::SiteFile::default(),
    };
    // What the operator typed, before the plan merges it with the scenario.
    let typed_backups = a.backups.clone();
    let mut plan =
        crate::scenario::load(&a.scenario)?.with_overrides(crate::scenario::Overrides {
            site: a.site.or(site_file.site),
            backups: a.backups,
            identities: a.identities,
            report_dir: a.report_dir,
        })?;
    crate::plain_text::refuse_in_drill(&a.scenario, &plan.name, plan.site_name())?;
    let report_dir = plan
        .report_dir
        .clone()
        .unwrap_or_else(crate::state::reports_dir);
    if plan.compare.is_some() {
        if a.keep {
            return Err(Error::Usage(
                "--keep is for drills: a comparison removes every target it restored into".into(),
            ));
        }
        create_dir(&report_dir)?;
        let ignored = super::compare::Ignored {
            metrics: a.metrics.is_some(),
            junit: a.junit.is_some(),
        };
        return super::compare::run(plan, report_dir, ignored, events).await;
    }
    if plan.notify.is_none() {
        plan.notify = site_file.notify;
    }
    plan.contacts = site_file.contacts;
    let extras = super::after::Extras {
        metrics: a.metrics.or_else(|| plan.metrics.clone()),
        junit: a.junit,
        history: (!a.no_history).then(|| a.history.unwrap_or_else(crate::ledger::default_path)),
        notify: plan.notify.clone(),
    };
    // Made before any container starts: a folder that cannot be made fails
    // the run now (exit 3), not after a restore whose report has nowhere to go.
    create_dir(&report_dir)?;
    let ran = drill(
        plan.clone(),
        typed_backups.as_deref(),
        report_dir,
        a.keep,
        events.clone(),
    )
    .await?;
    let mut out = super::after::leave(ran, &extras, plan.site_name(), &events).await;
    if plan.site.is_none() {
        out.warnings
            .push(crate::redact::Redacted::ours(UNNAMED_WARNING));
    }
    let detection = plan.expect.as_ref().and_then(|e| e.detection.as_deref());
    let note = detection.and_then(crate::drill::detection::deprecation);
    out.warnings.extend(note.map(crate::redact::Redacted::ours));
    Ok(out)
}

/// Said once per run without a site: the history and the pack say "site not
/// named" rather than a host name that reads like a clinic's.
const UNNAMED_WARNING: &str = "no site named: this run is recorded as \"site not named\". \
Name the clinic with --site NAME, or with a site file (--site-file) that also names \
the contractor and how to reach both";

/// The drill, its report written; every outcome past a valid scenario has one.
async fn drill(
    plan: Plan,
    typed_backups: Option<&str>,
    report_dir: PathBuf,
    keep: bool,
    events: Events,
) -> Result<Ran> {
    let run = RunId::new();
    // The operator's own inputs, checked before any container starts: a
    // mistake here says nothing about the backups, so it is recorded as an
    // operator error, never as a failed drill.
    let keys = match operator_inputs(&plan, typed_backups) {
        Ok(k) => Arc::new(k),
        Err((step, e)) => {
            let kind = Some(crate::report::facts::RunKind::OperatorError);
            return error_output(&plan, &run, &report_dir, (step, kind), e);
        }
    };
    let (plan2, dir2) = (plan.clone(), report_dir.clone());
    let drilled = with_run_as(
        run.clone(),
        events,
        keep,
        move |docker, run, events| async move {
            drill_on(&docker, &run, &plan2, keys, keep, &dir2, &events).await
        },
    )
    .await;
    match drilled {
        Ok(out) => Ok(out),
        Err(e) => error_output(&plan, &run, &report_dir, (stopped_in(&e), None), e),
    }
}

/// The drill itself on `docker`, its report written: `run`'s and each of a
/// fleet's sites'. The caller removes what the run created.
pub(super) async fn drill_on(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    keys: Arc<Vec<crate::keys::IdentitySource>>,
    keep: bool,
    report_dir: &Path,
    events: &Events,
) -> Result<Ran> {
    let opts = crate::drill::DrillOptions {
        keep,
        before_checks_sql: None,
    };
    let outcome = crate::drill::run(docker, run, plan, keys, opts, events).await;
    finish(outcome, report_dir)
}

/// The key files, the alert's password file and the `--backups` folder
/// typed on the command line: what the operator gave this run. Returns the
/// keys, or the step that refused.
pub(super) fn operator_inputs(
    plan: &Plan,
    typed_backups: Option<&str>,
) -> std::result::Result<Vec<crate::keys::IdentitySource>, (&'static str, Error)> {
    let keys = run_keys(plan).map_err(|e| ("load keys", e))?;
    if let Some(Err(e)) = plan.notify.as_ref().map(crate::notify::check_credentials) {
        return Err(("read the SMTP password", e));
    }
    let typed_folder = plan.backups.location.as_ref().and_then(|l| l.folder());
    if let (Some(typed), Some(dir)) = (typed_backups, typed_folder) {
        if !dir.is_dir() {
            return Err((
                "check --backups",
                Error::Usage(format!(
                    "--backups {}: no such folder. Check the path; the scenario's own location is used when --backups is left out",
                    crate::plain_text::shown(typed)
                )),
            ));
        }
    }
    Ok(keys)
}

/// Writes the workload log and the report; the exit code follows the verdict.
fn finish(outcome: crate::drill::DrillOutcome, dir: &Path) -> Result<Ran> {
    let mut report = outcome.report;
    let code = exit::for_report(&report, outcome.error.as_ref());
    if let Some(e) = report.error.as_mut() {
        e.exit_code = Some(code);
    }
    let name = format!("{}.workload.jsonl", stem(&report));
    if let (Some(log), Some(lost)) = (&outcome.workload_log, report.lost_writes.as_mut()) {
        create_dir(dir)?;
        lost.log = crate::catalog::atomic::write_file(dir, &name, log)?
            .display()
            .to_string();
    }
    let mut ran = output(&report, dir)?;
    if let Some(sb) = &outcome.kept {
        ran.out.text.push_str(&keep_text(sb));
    }
    ran.out.code = code;
    Ok(ran)
}

/// A drill that died before or around its start still leaves a report; if
/// even that cannot be written, the original error is what the user sees.
/// `kind`: what the run counts as, where the scenario does not decide it
/// (an operator error).
pub(super) fn error_output(
    plan: &Plan,
    run: &RunId,
    dir: &Path,
    (phase, kind): (&str, Option<crate::report::facts::RunKind>),
    e: Error,
) -> Result<Ran> {
    let mut report = crate::drill::error_report(plan, run, phase, &e);
    report.kind = kind.unwrap_or(report.kind);
    let code = exit::code_for(&e);
    if let Some(err) = report.error.as_mut() {
        err.exit_code = Some(code);
    }
    let mut ran = output(&report, dir).map_err(|_| e)?;
    ran.out.code = code;
    Ok(ran)
}

fn output(report: &Report, dir: &Path) -> Result<Ran> {
    let report_json = report.to_json();
    let name = format!("{}.json", stem(report));
    let (path, text) = save_report(dir, &name, &report_json, report.summary())?;
    let mut out = Output::new(text, serde_json::to_value(report).unwrap_or_default());
    out.error = report.error.as_ref().map(|e| e.reason.clone());
    Ok(Ran {
        out,
        report: report.clone(),
        report_json,
        report_path: path,
    })
}

/// `drill-YYYYMMDDTHHMMSSZ-RUNID`: the report and the files beside it.
fn stem(report: &Report) -> String {
    format!(
        "drill-{}-{}",
        report.started_at.format("%Y%m%dT%H%M%SZ"),
        report.run_id
    )
}
