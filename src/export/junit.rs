//! The drill as JUnit XML, the format CI servers read: one test case for the
//! restore itself, one per check and one per objective; what did not pass
//! carries its finding, already redacted in the report.

use crate::checks::Status;
use crate::ledger::anchor::{JUNIT_HASH, JUNIT_RECORD};
use crate::ledger::chain::HeadRef;
use crate::report::{AttemptOutcome, Report, Verdict};

struct Case {
    class: &'static str,
    name: String,
    seconds: f64,
    outcome: Outcome,
}

enum Outcome {
    Passed,
    Skipped,
    Failed { kind: &'static str, message: String },
    Error { message: String },
}

/// `head`: the drill history's head after this run was recorded, kept as two
/// properties by the CI server (`history verify --against` reads them back).
pub fn render(report: &Report, head: Option<&HeadRef>) -> String {
    let cases = cases(report);
    let count = |f: fn(&Outcome) -> bool| cases.iter().filter(|c| f(&c.outcome)).count();
    let failures = count(|o| matches!(o, Outcome::Failed { .. }));
    let errors = count(|o| matches!(o, Outcome::Error { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped));
    let seconds = (report.finished_at - report.started_at).num_milliseconds() as f64 / 1000.0;
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"restore-drill\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{seconds:.3}\">\n",
        cases.len()
    ));
    x.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{seconds:.3}\" timestamp=\"{}\" hostname=\"{}\">\n",
        esc(&report.scenario.name),
        cases.len(),
        report.started_at.format("%Y-%m-%dT%H:%M:%S"),
        esc(&report.site)
    ));
    x.push_str(&properties(report, head));
    for c in &cases {
        x.push_str(&case_xml(c));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn properties(r: &Report, head: Option<&HeadRef>) -> String {
    let mut p = String::from("    <properties>\n");
    let head = head.map(|h| {
        [
            (JUNIT_RECORD, h.record.to_string()),
            (JUNIT_HASH, h.hash.clone()),
        ]
    });
    for (k, v) in [
        ("site", r.site.clone()),
        ("verdict", r.verdict.as_str().to_string()),
        ("run_id", r.run_id.clone()),
        (
            "recovered_from",
            r.recovered_from.clone().unwrap_or_default(),
        ),
    ]
    .into_iter()
    .chain(head.into_iter().flatten())
    {
        p.push_str(&format!(
            "      <property name=\"{k}\" value=\"{}\"/>\n",
            esc(&v)
        ));
    }
    p.push_str("    </properties>\n");
    p
}

fn cases(r: &Report) -> Vec<Case> {
    let mut cases = vec![restore_case(r)];
    cases.extend(r.checks.iter().map(|c| Case {
        class: "restore-drill.checks",
        name: c.name.clone(),
        seconds: c.seconds,
        outcome: match c.status {
            Status::Passed => Outcome::Passed,
            Status::Skipped => Outcome::Skipped,
            Status::Error => Outcome::Error {
                message: c.detail.to_string(),
            },
            Status::Failed => Outcome::Failed {
                kind: "failed",
                message: c.detail.to_string(),
            },
            Status::Unknown => Outcome::Failed {
                kind: "unknown",
                message: c.detail.to_string(),
            },
        },
    }));
    cases.extend(r.objectives.iter().map(|o| Case {
        class: "restore-drill.objectives",
        name: o.name.clone(),
        seconds: 0.0,
        outcome: match (o.status, o.actual_seconds) {
            (Status::Passed, _) => Outcome::Passed,
            (s, actual) => Outcome::Failed {
                kind: if s == Status::Unknown {
                    "unknown"
                } else {
                    "failed"
                },
                message: format!(
                    "{}: {} against a target of {:.1} s",
                    o.name,
                    actual.map_or("not measured".into(), |a| format!("{a:.1} s")),
                    o.target_seconds
                ),
            },
        },
    }));
    cases
}

/// Whether a backup was restored at all: the first thing a CI reader wants.
fn restore_case(r: &Report) -> Case {
    let restore_seconds = r
        .phases
        .iter()
        .filter(|p| p.name == "restore")
        .map(|p| p.seconds)
        .sum();
    let outcome = match (&r.error, &r.recovered_from, r.verdict) {
        (Some(e), _, _) => Outcome::Error {
            message: format!("the drill stopped during {}: {}", e.phase, e.reason),
        },
        (None, Some(_), _) => Outcome::Passed,
        (None, None, v) => Outcome::Failed {
            kind: if v == Verdict::Unrecoverable {
                "unrecoverable"
            } else {
                "failed"
            },
            message: r
                .attempts
                .iter()
                .filter(|a| a.outcome == AttemptOutcome::Unusable)
                .find_map(|a| a.finding.as_ref().map(|f| f.to_string()))
                .unwrap_or_else(|| "no backup was restored".into()),
        },
    };
    Case {
        class: "restore-drill.restore",
        name: "restore the newest usable backup".into(),
        seconds: restore_seconds,
        outcome,
    }
}

fn case_xml(c: &Case) -> String {
    let head = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
        c.class,
        esc(&c.name),
        c.seconds
    );
    match &c.outcome {
        Outcome::Passed => format!("{head}/>\n"),
        Outcome::Skipped => format!("{head}>\n      <skipped/>\n    </testcase>\n"),
        Outcome::Failed { kind, message } => format!(
            "{head}>\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>\n",
            esc(message),
            esc(message)
        ),
        Outcome::Error { message } => format!(
            "{head}>\n      <error type=\"error\" message=\"{}\">{}</error>\n    </testcase>\n",
            esc(message),
            esc(message)
        ),
    }
}

/// XML text and attribute escaping; control characters XML 1.0 cannot hold
/// are dropped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
