//! The drill's result as Prometheus metrics, for node_exporter's textfile
//! collector: one file per scenario, replaced atomically after every run, so
//! monitoring alerts when drills stop passing or stop running at all.

use crate::checks::Status;
use crate::ledger::chain::HeadRef;
use crate::report::{Report, Verdict};

const VERDICTS: [Verdict; 4] = [
    Verdict::Passed,
    Verdict::Failed,
    Verdict::Unrecoverable,
    Verdict::Error,
];

/// One metric: its name (after `restore_drill_`), help, and samples (extra
/// labels, value).
struct Gauge {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

fn gauge(name: &'static str, help: &'static str, value: f64) -> Gauge {
    Gauge {
        name,
        help,
        samples: vec![(String::new(), value)],
    }
}

/// The metrics file for `report`. `last_success` is when a drill of this
/// scenario last passed (this one, or an earlier one found in the file being
/// replaced): without it the sample is left out, since absent is "unknown"
/// to Prometheus and a made-up value is not. `head` is the drill history's
/// head after this run was recorded: monitoring keeps it where the history's
/// writer cannot reach (`history verify --against` reads it back).
pub fn render(
    report: &Report,
    exit_code: u8,
    last_success: Option<f64>,
    head: Option<&HeadRef>,
) -> String {
    let labels = format!(
        "site=\"{}\",scenario=\"{}\"",
        escape(&report.site),
        escape(&report.scenario.name)
    );
    let mut out = String::new();
    let mut all = gauges(report, exit_code, last_success);
    all.extend(head.map(head_gauge));
    for g in all {
        out.push_str(&format!(
            "# HELP restore_drill_{n} {h}\n# TYPE restore_drill_{n} gauge\n",
            n = g.name,
            h = g.help
        ));
        for (extra, value) in &g.samples {
            out.push_str(&format!(
                "restore_drill_{}{{{labels}{extra}}} {value}\n",
                g.name
            ));
        }
    }
    out
}

fn gauges(report: &Report, exit_code: u8, last_success: Option<f64>) -> Vec<Gauge> {
    let finished = report.finished_at.timestamp_millis() as f64 / 1000.0;
    let passed = report.verdict == Verdict::Passed;
    let failed_checks = report.checks.iter().filter(|c| !c.status.is_ok()).count()
        + report
            .objectives
            .iter()
            .filter(|o| o.status != Status::Passed)
            .count();
    let mut g = vec![gauge(
        "last_run_timestamp_seconds",
        "When the last drill finished (Unix time).",
        finished,
    )];
    if let Some(t) = if passed { Some(finished) } else { last_success } {
        g.push(gauge(
            "last_success_timestamp_seconds",
            "When a drill last passed (Unix time).",
            t,
        ));
    }
    if let Some(rto) = report.rto_seconds {
        g.push(gauge(
            "rto_seconds",
            "Recovery time of the last drill: from the clock's start to the last check passed.",
            rto,
        ));
    }
    if let Some(rpo) = report.rpo_seconds {
        g.push(gauge(
            "rpo_seconds",
            "Data-loss window of the last drill: the restored backup's age.",
            rpo,
        ));
    }
    g.push(gauge(
        "failed_checks",
        "Checks and objectives of the last drill that did not pass (failed, unknown or broken).",
        failed_checks as f64,
    ));
    g.push(Gauge {
        name: "verdict",
        help: "The last drill's verdict: 1 for the verdict it had, 0 for the others.",
        samples: VERDICTS
            .iter()
            .map(|v| {
                (
                    format!(",verdict=\"{}\"", v.as_str()),
                    f64::from(u8::from(*v == report.verdict)),
                )
            })
            .collect(),
    });
    g.push(gauge(
        "exit_code",
        "The last drill's exit code (0: passed, or a rehearsal as expected).",
        f64::from(exit_code),
    ));
    g
}

/// The record is the value and its hash the last label, where
/// `ledger::anchor` reads them back.
fn head_gauge(head: &HeadRef) -> Gauge {
    Gauge {
        name: "history_head_record",
        help: "The drill history's newest record after this run, with its chain hash (history verify --against this file).",
        samples: vec![(format!(",hash=\"{}\"", escape(&head.hash)), head.record as f64)],
    }
}

/// The last-success time recorded in a metrics file this module wrote.
pub fn previous_success(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with("restore_drill_last_success_timestamp_seconds{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Label values: backslash, double quote and line feed escaped, as the text
/// format requires.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_history_head_is_written_where_verify_reads_it() {
        let head = HeadRef {
            record: 7,
            hash: "ab".repeat(32),
        };
        let text = format!(
            "restore_drill_history_head_record{{site=\"s\",scenario=\"m\"{}}} {}\n",
            head_gauge(&head).samples[0].0,
            head_gauge(&head).samples[0].1
        );
        let a = crate::ledger::anchor::parse(&text).expect("an anchor");
        assert_eq!(a.head, Some(head));
    }

    #[test]
    fn the_previous_success_is_read_back() {
        let text = "# HELP x\nrestore_drill_last_success_timestamp_seconds{site=\"a b\",scenario=\"m\"} 1764400000.5\n";
        assert_eq!(previous_success(text), Some(1_764_400_000.5));
        assert_eq!(previous_success("restore_drill_rto_seconds{} 3"), None);
    }
}
