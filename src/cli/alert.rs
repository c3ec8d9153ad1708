//! After a drill: the alert the scenario's `[notify]` asks for, sent once the
//! report and the history are written. Each channel's delivery goes into the
//! JSON output (`notifications`), a `<report stem>.notify.json` beside the
//! report (the report file itself stays byte for byte what the history
//! holds), and a line of the summary; one that failed is a warning on stderr.
//! The exit code is the drill's, whatever became of the alert.

use super::Output;
use crate::events::{Event, Events};
use crate::notify::{Alert, Delivery, Outcome};
use crate::redact::Redacted;
use crate::report::Report;
use crate::scenario::Notify;
use crate::words::plural;
use std::path::{Path, PathBuf};

pub(super) async fn alert(
    notify: &Notify,
    mut out: Output,
    report: &Report,
    report_json: &str,
    report_path: &Path,
    head: Option<&crate::ledger::chain::HeadRef>,
    events: &Events,
) -> (Output, Vec<Delivery>) {
    if !notify.is_due(out.code) {
        set_json(&mut out, serde_json::json!([]), None);
        return (out, Vec::new());
    }
    // The hash the drill history records for this report.
    let sha = crate::ledger::chain::sha256_hex(report_json.as_bytes());
    let alert = Alert::new(report, &sha, out.code, out.error.as_ref())
        .with_history_head(report, head.cloned());
    events.event(Event::note("sending the alert"));
    // The drill's signal handlers are gone by now: without this, Ctrl-C
    // would be ignored while a dead server is retried.
    let deliveries = tokio::select! {
        d = crate::notify::send(notify, &alert) => d,
        signal = interrupted() => {
            out.warnings.push(Redacted::ours(format!(
                "the alert was abandoned: interrupted by {signal}; the drill's result stands"
            )));
            return (out, Vec::new());
        }
    };
    (tell(out, &deliveries, report_path, &alert), deliveries)
}

/// The deliveries in the record beside the report, the summary and the JSON
/// output; each one that failed also as a warning.
fn tell(mut out: Output, deliveries: &[Delivery], report_path: &Path, alert: &Alert) -> Output {
    let record = serde_json::json!({
        "report": report_path.file_name().map(|n| n.to_string_lossy()),
        "report_sha256": alert.report_sha256,
        "history_head": alert.history_head,
        "exit_code": out.code,
        "sent_at": chrono::Utc::now(),
        "notifications": deliveries,
    });
    let file = match write_record(report_path, &record) {
        Ok(p) => Some(p),
        Err(e) => {
            out.warnings.push(Redacted::ours(format!(
                "the alert's delivery record was not written: {e}"
            )));
            None
        }
    };
    for d in deliveries {
        out.text.push_str(&format!("\nalert    {}", line(d)));
        if let Outcome::Failed { reason } = &d.outcome {
            out.warnings.push(Redacted::ours(format!(
                "the {} alert to {} was not delivered ({}): {reason}; the drill's result stands",
                d.channel.as_str(),
                d.target,
                plural(d.attempts, "attempt", "attempts")
            )));
        }
    }
    if let Some(f) = &file {
        out.text.push_str(&format!("\nalerts   {}", f.display()));
    }
    set_json(&mut out, record["notifications"].clone(), file.as_deref());
    out
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

/// `webhook https://chat.example:443/hooks/abc: delivered (1 attempt)`.
fn line(d: &Delivery) -> String {
    let attempts = plural(d.attempts, "attempt", "attempts");
    let outcome = match &d.outcome {
        Outcome::Delivered => "delivered".to_string(),
        Outcome::Failed { reason } => format!("FAILED: {reason}"),
    };
    format!(
        "{} {}: {outcome} ({attempts})",
        d.channel.as_str(),
        d.target
    )
}

/// `notifications` (and the record's file) in the JSON output.
fn set_json(out: &mut Output, notifications: serde_json::Value, file: Option<&Path>) {
    let mut json: serde_json::Value = serde_json::from_str(&out.json).unwrap_or_default();
    json["notifications"] = notifications;
    if let Some(f) = file {
        json["notifications_file"] = serde_json::json!(f);
    }
    out.json = serde_json::to_string_pretty(&json).unwrap_or_default();
}

/// `drill-...-RUNID.notify.json` beside `drill-...-RUNID.json`, atomically.
fn write_record(report_path: &Path, record: &serde_json::Value) -> crate::Result<PathBuf> {
    let dir = report_path.parent().unwrap_or(Path::new("."));
    let stem = report_path
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
        .unwrap_or_default();
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    crate::catalog::atomic::write_file(dir, &format!("{stem}.notify.json"), text.as_bytes())
}
