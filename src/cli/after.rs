//! What a finished run leaves besides its report file: the metrics and JUnit
//! files, and its record in the drill history. Each is written after the
//! report; one that cannot be written is said on stderr and makes a run that
//! passed exit 3, while a run that failed keeps its own code.

use super::saved::Ran;
use super::{exit, Output};
use crate::catalog::atomic::{create_dir, DirMode};
use crate::error::Result;
use crate::events::Events;
use crate::ledger::chain::HeadRef;
use crate::ledger::Ledger;
use crate::redact::Redacted;
use crate::report::Report;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where a run's extras go; None: not asked for.
pub struct Extras {
    pub metrics: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub history: Option<PathBuf>,
    pub notify: Option<crate::scenario::Notify>,
}

/// A side output written: the line for the summary and its JSON.
type Written = (String, Value);

/// Replaces `path` with `content`, creating its folder when missing.
fn replace(path: &Path, content: &[u8], flag: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let what = format!("folder of {}", path.display());
        create_dir(dir, DirMode::Shared, &what, flag)?;
    }
    crate::catalog::atomic::replace_file(path, content, 0o644).map(|_| ())
}

pub async fn leave(ran: Ran, x: &Extras, site: &str, events: &Events) -> Output {
    let Ran {
        mut out,
        report,
        report_json,
        report_path,
    } = ran;
    out.details = Some(report.details());
    let mut json: Value = serde_json::from_str(&out.json).unwrap_or_default();
    // The history first: its new head goes into the metrics, the JUnit file
    // and the alert, which leave the machine. The ledger stays open for the
    // alerts' deliveries of the same record.
    let mut recorded = None;
    if let Some(p) = &x.history {
        let done = match append(p, &report_json, site).await {
            Ok(a) => {
                if let Some(e) = a.marker {
                    out.warnings.push(Redacted::ours(format!(
                        "the drill was recorded, but the history's marker was not written ({e}): a deleted history would not be noticed"
                    )));
                }
                recorded = Some((a.ledger, a.head));
                Ok(a.written)
            }
            Err(e) => Err(e),
        };
        let what = "the drill was not recorded in the history";
        said(&mut out, &mut json, "history", what, p, done);
    }
    let head = recorded.as_ref().map(|(_, h)| h.clone());
    files(&mut out, &mut json, x, &report, head.as_ref());
    out.json = serde_json::to_string_pretty(&json).unwrap_or_default();
    // Last: the alert tells the run's final exit code, the history's included.
    let Some(notify) = &x.notify else {
        return out;
    };
    let (out, deliveries) = super::alert::alert(
        notify,
        out,
        &report,
        &report_json,
        &report_path,
        head.as_ref(),
        events,
    )
    .await;
    match recorded {
        Some((ledger, head)) => keep_deliveries(out, ledger, head.record, &deliveries).await,
        None => out,
    }
}

/// The metrics and JUnit files, each replaced when asked for.
fn files(out: &mut Output, json: &mut Value, x: &Extras, report: &Report, head: Option<&HeadRef>) {
    let code = out.code;
    if let Some(p) = &x.metrics {
        let done = write_metrics(p, report, code, head);
        said(
            out,
            json,
            "metrics",
            "the metrics file was not written",
            p,
            done,
        );
    }
    if let Some(p) = &x.junit {
        let done = replace(
            p,
            crate::export::junit::render(report, head).as_bytes(),
            "--junit",
        )
        .map(|_| (format!("junit    {}", p.display()), json!({"file": p})));
        said(
            out,
            json,
            "junit",
            "the junit file was not written",
            p,
            done,
        );
    }
}

/// The alerts' fate in the history, for `doctor`; failing to keep it is a
/// warning: the drill and its record stand.
async fn keep_deliveries(
    mut out: Output,
    mut ledger: Ledger,
    record_id: i64,
    deliveries: &[crate::notify::Delivery],
) -> Output {
    if deliveries.is_empty() {
        return out;
    }
    let at = chrono::Utc::now().to_rfc3339();
    let rows: Vec<crate::ledger::DeliveryRow> = deliveries
        .iter()
        .map(|d| crate::ledger::DeliveryRow {
            record_id,
            at: at.clone(),
            channel: d.channel.as_str().to_string(),
            target: d.target.clone(),
            delivered: matches!(d.outcome, crate::notify::Outcome::Delivered),
            attempts: d.attempts,
            reason: match &d.outcome {
                crate::notify::Outcome::Failed { reason } => Some(reason.to_string()),
                crate::notify::Outcome::Delivered => None,
            },
        })
        .collect();
    if let Err(e) = ledger.record_deliveries(&rows).await {
        out.warnings.push(Redacted::ours(format!(
            "the alerts' delivery was not kept in the history: {e}"
        )));
    }
    out
}

/// Adds what was written to the summary and the JSON (under `key`), or says
/// why not (`what` was not done).
fn said(
    out: &mut Output,
    json: &mut Value,
    key: &str,
    what: &str,
    path: &Path,
    done: Result<Written>,
) {
    match done {
        Ok((line, value)) => {
            out.text.push('\n');
            out.text.push_str(&line);
            json[key] = value;
        }
        Err(e) => {
            let msg = Redacted::ours(format!("{what}: {e}"));
            json[key] = json!({"file": path, "error": msg});
            out.error = Some(match out.error.take() {
                Some(first) => Redacted::ours(format!("{first}\nerror: {msg}")),
                None => msg,
            });
            if out.code == exit::OK {
                out.code = exit::ENVIRONMENT;
            }
        }
    }
}

fn write_metrics(
    path: &Path,
    report: &Report,
    code: u8,
    head: Option<&HeadRef>,
) -> Result<Written> {
    // The last success survives a failed run through the file it replaces.
    let previous = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| crate::export::metrics::previous_success(&t));
    let text = crate::export::metrics::render(report, code, previous, head);
    replace(
        path,
        text.as_bytes(),
        "--metrics (or the scenario's [report] metrics)",
    )?;
    Ok((
        format!("metrics  {}", path.display()),
        json!({"file": path}),
    ))
}

/// A report appended: the open ledger, the new head, the summary line, and
/// why the marker of the head could not be written, if it could not.
struct Appended {
    ledger: Ledger,
    head: HeadRef,
    written: Written,
    marker: Option<crate::error::Error>,
}

/// Appends the report and records the new head in the marker beside it.
async fn append(path: &Path, report_json: &str, site: &str) -> Result<Appended> {
    // Never a new chain where the marker says one existed.
    crate::ledger::marker::refuse_new_chain(path)?;
    let mut ledger = Ledger::open_or_create(path).await?;
    // Nor on top of a history that lost the marker's head since.
    if let Some(m) = crate::ledger::marker::read(path)? {
        let held = ledger.hash_of(m.head.record).await?;
        crate::ledger::marker::refuse_lost_head(path, &m, held.as_deref())?;
    }
    let s = ledger.append(report_json, site).await?;
    // The record stands whatever becomes of its marker: said, not fatal.
    let marker = crate::ledger::marker::write(path, &s).err();
    let written = (
        format!(
            "history  record {} in {} (hash {})",
            s.id,
            path.display(),
            &s.hash[..16]
        ),
        json!({"file": path, "record": s.id, "hash": s.hash}),
    );
    Ok(Appended {
        ledger,
        head: s.head_ref(),
        written,
        marker,
    })
}
