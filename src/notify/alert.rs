//! The alert: what a finished report says, in the words a chat line and an
//! email need. Built only from the report's fields (names, timings, hashes,
//! and its findings, built from typed parts when the report was made): no
//! row of data is within reach, and no database's words.

use crate::checks::Status;
use crate::ledger::anchor;
use crate::ledger::chain::HeadRef;
use crate::redact::Redacted;
use crate::report::{
    check_line, fmt_secs, objective_line, status_word, AttemptOutcome, Report, Verdict,
};

#[derive(Debug, Clone)]
pub struct Alert {
    pub verdict: Verdict,
    pub exit_code: u8,
    /// For a failure scenario: whether the outcome was the expected one.
    pub expectation_met: Option<bool>,
    pub site: Redacted,
    pub scenario: Redacted,
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
    /// Why the run failed, or what a rehearsal detected; None when all went well.
    pub finding: Option<Redacted>,
    /// Of the report file, as the drill history holds it.
    pub report_sha256: String,
    /// The email's body: the report in plain text.
    pub summary: Redacted,
    /// The drill history's head once this run was recorded (None: not
    /// recorded). Once sent it is out of reach of whoever can write the
    /// history, so `history verify --against` the alert finds a rewrite.
    pub history_head: Option<HeadRef>,
}

impl Alert {
    /// `run_error` is what the run ended with beyond the report (a history
    /// that could not be written): the finding when the report has none.
    pub fn new(
        report: &Report,
        report_sha256: &str,
        exit_code: u8,
        run_error: Option<&Redacted>,
    ) -> Alert {
        let mut alert = Alert {
            verdict: report.verdict,
            exit_code,
            expectation_met: report.expectation.as_ref().map(|e| e.met),
            site: Redacted::ours(&report.site),
            scenario: Redacted::ours(&report.scenario.name),
            rto_seconds: report.rto_seconds,
            rpo_seconds: report.rpo_seconds,
            finding: finding(report).map(Redacted::ours).or(run_error.cloned()),
            report_sha256: report_sha256.to_string(),
            summary: Redacted::default(),
            history_head: None,
        };
        alert.summary = Redacted::ours(body(&alert, report));
        alert
    }

    /// The alert carrying the history's head after this run was recorded.
    pub fn with_history_head(mut self, report: &Report, head: Option<HeadRef>) -> Alert {
        self.history_head = head;
        self.summary = Redacted::ours(body(&self, report));
        self
    }

    /// One word (or three) for the run, from its exit code first: a
    /// rehearsal that went as expected passed, whatever its verdict.
    pub fn outcome(&self) -> &'static str {
        match (self.exit_code, self.expectation_met, self.verdict) {
            (0, _, _) => "PASSED",
            (_, Some(false), _) => "NOT AS EXPECTED",
            (_, _, Verdict::Passed) => "PASSED WITH AN ERROR",
            (_, _, Verdict::Failed) => "FAILED",
            (_, _, Verdict::Unrecoverable) => "UNRECOVERABLE",
            (_, _, Verdict::Error) => "ERROR",
            (_, _, Verdict::Unknown) => "UNKNOWN",
        }
    }

    /// `restore-drill: FAILED monthly restore drill at Main Street Eye Care`.
    pub fn subject(&self) -> Redacted {
        Redacted::ours(format!(
            "restore-drill: {} {} at {}",
            self.outcome(),
            self.scenario,
            self.site
        ))
    }

    /// The two lines a chat tool shows: the subject, then the finding (its
    /// first line), RTO, RPO and the report's hash.
    pub fn text(&self) -> Redacted {
        let mut second = Vec::new();
        if self.exit_code == 0 && self.verdict != Verdict::Passed {
            second.push(format!(
                "{}, as the scenario expects",
                self.verdict.as_str()
            ));
        }
        if let Some(f) = &self.finding {
            second.push(first_line(f.as_str(), 200));
        }
        second.push(format!(
            "RTO {}, RPO {}",
            fmt_secs(self.rto_seconds),
            fmt_secs(self.rpo_seconds)
        ));
        second.push(format!(
            "report sha256 {}",
            &self.report_sha256[..self.report_sha256.len().min(16)]
        ));
        if let Some(h) = &self.history_head {
            second.push(format!(
                "history {}",
                anchor::text_line(h, anchor::SHORT_HASH)
            ));
        }
        Redacted::ours(format!("{}\n{}", self.subject(), second.join("; ")))
    }

    /// The webhook's JSON: `text` for chat tools, the rest for machines.
    pub fn webhook_json(&self) -> serde_json::Value {
        serde_json::json!({
            "text": self.text(),
            "verdict": self.verdict,
            "site": self.site,
            "scenario": self.scenario,
            "rto_seconds": self.rto_seconds,
            "rpo_seconds": self.rpo_seconds,
            "finding": self.finding,
            "report_sha256": self.report_sha256,
            "exit_code": self.exit_code,
            "history_head": self.history_head,
        })
    }
}

/// Why the run failed, most telling first: the expectation it missed, the
/// first unusable backup, the first check or objective not passed, the error
/// that stopped it.
fn finding(r: &Report) -> Option<String> {
    let missed = r
        .expectation
        .as_ref()
        .filter(|e| !e.met)
        .and_then(|e| e.mismatches.first())
        .map(|m| format!("not as expected: {m}"));
    let stopped = || {
        r.error
            .as_ref()
            .map(|e| format!("the drill stopped during {}: {}", e.phase, e.reason))
    };
    let unusable = || {
        r.attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::Unusable)
            .find_map(|a| {
                let why = a.finding.as_ref().or(a.reason.as_ref())?;
                Some(format!(
                    "unusable backup {} ({}): {why}",
                    file_name(&a.path),
                    a.location
                ))
            })
    };
    let check = || {
        r.checks
            .iter()
            .find(|c| !c.status.is_ok())
            .map(|c| format!("check {} {}: {}", c.name, status_word(c.status), c.detail))
    };
    let objective = || {
        r.objectives
            .iter()
            .find(|o| o.status != Status::Passed)
            .map(|o| {
                format!(
                    "objective {} {}: {} against a target of {}",
                    o.name,
                    status_word(o.status),
                    fmt_secs(o.actual_seconds),
                    fmt_secs(Some(o.target_seconds))
                )
            })
    };
    missed
        .or_else(stopped)
        .or_else(unusable)
        .or_else(check)
        .or_else(objective)
}

/// The email: the alert's own lines, then the report's facts, one a line.
fn body(a: &Alert, r: &Report) -> String {
    let mut s = format!("{}\n\n", a.subject());
    if let Some(f) = &a.finding {
        s.push_str(&format!("finding    {f}\n"));
    }
    s.push_str(&format!(
        "verdict    {} (exit code {})\nsite       {}\nscenario   {}\nrun        {}, {} to {}\n",
        r.verdict.as_str(),
        a.exit_code,
        a.site,
        a.scenario,
        r.run_id,
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.finished_at.format("%H:%M:%S UTC")
    ));
    if let Some(b) = &r.backup {
        let taken = b
            .created_at
            .map(|t| format!(", taken {}", t.format("%Y-%m-%d %H:%M UTC")));
        s.push_str(&format!(
            "backup     {}{}\n",
            file_name(&b.path),
            taken.unwrap_or_default()
        ));
    }
    if let Some(from) = &r.recovered_from {
        s.push_str(&format!("restored   from {from} into {}\n", r.target.image));
    }
    s.push_str(&format!(
        "RTO        {}\nRPO        {}\n",
        fmt_secs(r.rto_seconds),
        fmt_secs(r.rpo_seconds)
    ));
    s.push_str(&details(r));
    s.push_str(&format!("\nreport     sha256 {}\n", a.report_sha256));
    if let Some(h) = &a.history_head {
        s.push_str(&format!("history    {}\n", anchor::text_line(h, 64)));
    }
    s
}

/// Unusable backups, the checks and objectives not passed, expected vs actual.
fn details(r: &Report) -> String {
    let mut s = String::new();
    if let Some(e) = &r.error {
        s.push_str(&format!("error      during {}: {}\n", e.phase, e.reason));
    }
    for a in r
        .attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable)
    {
        let why = a
            .finding
            .as_ref()
            .or(a.reason.as_ref())
            .map_or("", |w| w.as_str());
        s.push_str(&format!(
            "unusable   ({}) {}: {why}\n",
            a.location,
            file_name(&a.path)
        ));
    }
    let passed = r.checks.iter().filter(|c| c.status.is_ok()).count();
    s.push_str(&format!(
        "\nchecks     {passed} of {} passed or skipped\n",
        r.checks.len()
    ));
    for c in r.checks.iter().filter(|c| !c.status.is_ok()) {
        s.push_str(&format!("  {}", check_line(c)));
    }
    for o in &r.objectives {
        s.push_str(&format!("  {}", objective_line(o)));
    }
    if let Some(e) = r.expectation.as_ref().filter(|e| !e.met) {
        s.push_str("not as expected:\n");
        for m in &e.mismatches {
            s.push_str(&format!("  {m}\n"));
        }
    }
    s
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The first line of `s`, at most `max` characters.
fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Attempt, ClockStart, ExpectationResult, Objective, ScenarioInfo, TargetInfo,
    };
    use crate::scenario::Expectation;

    fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().expect("time")
    }

    fn report(verdict: Verdict) -> Report {
        Report {
            report_version: 3,
            tool: "t".into(),
            site: "Main Street Eye Care".into(),
            kind: Default::default(),
            host: None,
            contacts: None,
            scenario: ScenarioInfo {
                name: "monthly restore drill".into(),
                file: "monthly-drill.toml".into(),
            },
            run_id: "r1".into(),
            started_at: t("2026-11-02T02:00:00Z"),
            finished_at: t("2026-11-02T02:01:00Z"),
            verdict,
            error: None,
            clock_started: ClockStart {
                at: t("2026-11-02T02:00:00Z"),
                event: "drill start".into(),
            },
            rto_seconds: Some(42.0),
            rpo_seconds: Some(5.0 * 3600.0),
            objectives: vec![Objective {
                name: "RPO (backup age)".into(),
                target_seconds: 0.36,
                actual_seconds: Some(5.0 * 3600.0),
                status: if verdict == Verdict::Passed {
                    Status::Passed
                } else {
                    Status::Failed
                },
            }],
            phases: Vec::new(),
            checks: Vec::new(),
            backup: None,
            recovered_from: Some("primary: clinic-20261102T020000Z.dump.zst.age".into()),
            attempts: Vec::new(),
            skipped: Vec::new(),
            rpo_cost_seconds: None,
            target: TargetInfo {
                engine: None,
                image: "restore-drill/postgres:15".into(),
                server_version: None,
                docker_engine: None,
            },
            simulation: None,
            lost_writes: None,
            expectation: None,
            protection: Vec::new(),
        }
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_missed_objective_is_the_subject_and_the_second_line() {
        let a = Alert::new(&report(Verdict::Failed), SHA, 1, None);
        assert_eq!(
            a.subject().as_str(),
            "restore-drill: FAILED monthly restore drill at Main Street Eye Care"
        );
        let text = a.text();
        let lines: Vec<&str> = text.as_str().lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], a.subject().as_str());
        assert_eq!(
            lines[1],
            "objective RPO (backup age) FAILED: 5.0 h against a target of 0.4 s; \
             RTO 42.0 s, RPO 5.0 h; report sha256 0123456789abcdef"
        );
        let body = a.summary.as_str();
        assert!(body.starts_with(a.subject().as_str()), "{body}");
        assert!(body.contains("verdict    failed (exit code 1)"), "{body}");
        assert!(body.contains(&format!("report     sha256 {SHA}")), "{body}");
    }

    #[test]
    fn the_first_unusable_backup_comes_before_a_failed_check() {
        let mut r = report(Verdict::Failed);
        r.attempts.push(Attempt {
            path: "/srv/backups/clinic-20261102T020000Z.dump.zst.age".into(),
            location: "primary".into(),
            outcome: AttemptOutcome::Unusable,
            kind: Some("sha256-mismatch".into()),
            reason: Some(Redacted::ours("sha256 differs")),
            finding: Some(Redacted::ours("the file changed after it was written")),
        });
        let a = Alert::new(&r, SHA, 1, None);
        assert_eq!(
            a.finding.expect("a finding").as_str(),
            "unusable backup clinic-20261102T020000Z.dump.zst.age (primary): the file changed after it was written"
        );
    }

    #[test]
    fn a_rehearsal_as_expected_passed_whatever_its_verdict() {
        let mut r = report(Verdict::Unrecoverable);
        let e = Expectation {
            verdict: Some("unrecoverable".into()),
            ..Expectation::default()
        };
        r.expectation = Some(ExpectationResult {
            expected: e.clone(),
            actual: e,
            met: true,
            mismatches: Vec::new(),
        });
        let a = Alert::new(&r, SHA, 0, None);
        assert_eq!(a.outcome(), "PASSED");
        assert!(
            a.text()
                .as_str()
                .contains("\nunrecoverable, as the scenario expects; "),
            "{}",
            a.text()
        );
        let mut r = r.clone();
        if let Some(x) = r.expectation.as_mut() {
            x.met = false;
            x.mismatches = vec![Redacted::ours(
                "verdict: expected unrecoverable, got passed",
            )];
        }
        let a = Alert::new(&r, SHA, 1, None);
        assert_eq!(a.outcome(), "NOT AS EXPECTED");
        assert!(a
            .finding
            .expect("finding")
            .as_str()
            .starts_with("not as expected: verdict"));
    }

    #[test]
    fn a_passed_drill_whose_history_failed_says_so() {
        let said = Redacted::ours("the drill was not recorded in the history: locked");
        let a = Alert::new(&report(Verdict::Passed), SHA, 3, Some(&said));
        assert_eq!(a.outcome(), "PASSED WITH AN ERROR");
        assert_eq!(a.finding, Some(said));
    }

    #[test]
    fn the_webhook_json_has_the_fields_chat_tools_and_scripts_read() {
        let a = Alert::new(&report(Verdict::Failed), SHA, 1, None);
        let j = a.webhook_json();
        let mut keys: Vec<&str> = j
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "exit_code",
                "finding",
                "history_head",
                "report_sha256",
                "rpo_seconds",
                "rto_seconds",
                "scenario",
                "site",
                "text",
                "verdict"
            ]
        );
        assert_eq!(j["verdict"], "failed");
        assert_eq!(j["exit_code"], 1);
        assert_eq!(j["site"], "Main Street Eye Care");
    }

    #[test]
    fn the_history_head_goes_into_every_form_of_the_alert() {
        let r = report(Verdict::Failed);
        let head = HeadRef {
            record: 4,
            hash: "cd".repeat(32),
        };
        let a = Alert::new(&r, SHA, 1, None).with_history_head(&r, Some(head.clone()));
        let json = a.webhook_json().to_string();
        for text in [json, a.text().to_string(), a.summary.to_string()] {
            let read = anchor::parse(&text).expect("an anchor");
            assert!(
                head.hash
                    .starts_with(&read.head.clone().expect("a head").hash),
                "{text}"
            );
            assert_eq!(read.head.map(|h| h.record), Some(4), "{text}");
        }
        assert!(a.summary.as_str().contains(&head.hash));
    }

    #[test]
    fn the_users_own_scenario_name_is_shown_as_typed() {
        // The scenario's name is the user's input, not a database's words:
        // a pattern filter used to hide it, so a user could not tell runs apart.
        let mut r = report(Verdict::Failed);
        r.scenario.name = "monthly \"main st\" drill".into();
        let a = Alert::new(&r, SHA, 1, None);
        assert!(a.subject().as_str().contains("monthly \"main st\" drill"));
    }
}
