//! The summary a person reads at the end of a drill. Its first line says
//! what happened and why in one go: the verdict, or for a rehearsal whether
//! it went as expected, with the facts behind it in brackets. A drill that
//! passed fits one screen: failed and unknown checks are always listed, and
//! every phase and check is in `details` (what `run --verbose` adds) and in
//! the JSON.

use super::facts::{CheckResult, NotABackup, Status};
use super::{
    fmt_secs, Attempt, AttemptOutcome, ExpectationResult, Objective, Report, SkippedFile, RPO, RTO,
};

impl Report {
    /// The summary a person reads at the end of a drill.
    pub fn summary(&self) -> String {
        let mut s = headline(self);
        s.push('\n');
        s.push_str(&self.summary_head());
        s.push_str(&self.summary_findings());
        s.push_str(&measures(self));
        s.push_str(&checks_text(&self.checks, self.recovered_from.is_some()));
        if let Some(e) = &self.expectation {
            s.push_str(&expectation_text(e));
        }
        s
    }

    /// Every phase, check and objective, one line each: what `--verbose`
    /// shows beside the summary. An attempt's phases name its backup.
    pub fn details(&self) -> String {
        let mut s = String::from("phase                        seconds\n");
        // Each attempt starts with its verify phase, in the attempts' order.
        let mut attempts = self.attempts.iter();
        let mut current = None;
        for p in &self.phases {
            if p.name == "verify artifact" {
                current = attempts.next();
            }
            let of = match (p.name.as_str(), current) {
                ("verify artifact" | "start sandbox" | "restore", Some(a)) => {
                    format!("  {}: {}", a.location, file_name(&a.path))
                }
                _ => String::new(),
            };
            s.push_str(&format!("{:<28} {:>8.2}{of}\n", p.name, p.seconds));
        }
        s.push_str("\nstatus   check\n");
        for c in &self.checks {
            s.push_str(&check_line(c));
        }
        for o in &self.objectives {
            s.push_str(&objective_line(o));
        }
        s
    }

    /// Where the backup came from, and what the simulation did.
    fn summary_head(&self) -> String {
        let mut s = String::new();
        if let Some(e) = &self.error {
            s.push_str(&format!("error during {}: {}\n", e.phase, e.reason));
        }
        if let Some(b) = &self.backup {
            s.push_str(&b.summary_line());
        }
        if let Some(r) = &self.recovered_from {
            s.push_str(&format!("restored from {r} into {}\n", self.target.image));
        }
        for p in &self.protection {
            s.push_str(&format!("reach    {}\n", p.line()));
        }
        if let Some(sim) = &self.simulation {
            s.push_str(&format!("simulated {}:\n", sim.fault));
            for a in &sim.actions {
                s.push_str(&format!("  - {a}\n"));
            }
        }
        s
    }

    /// Files skipped, unusable backups, what falling back cost, lost writes.
    fn summary_findings(&self) -> String {
        let mut s = String::new();
        if let Some(skipped) = skipped_text(&self.skipped) {
            s.push_str(&format!("{skipped}\n"));
        }
        s.push_str(&unusable_text(&self.attempts));
        if let Some(c) = self.rpo_cost_seconds.filter(|c| *c > 0.0) {
            s.push_str(&format!(
                "restoring an older copy cost {} of extra data loss\n",
                fmt_secs(Some(c))
            ));
        }
        if let Some(l) = &self.lost_writes {
            s.push_str(&format!(
                "lost writes: {} of {} committed writes are missing ({} of work)\n",
                l.lost,
                l.committed,
                fmt_secs(l.span_seconds)
            ));
        }
        s
    }
}

/// The summary's first line: `ransomware: AS EXPECTED (restored from the
/// offsite copy, 1 day of data lost)`, `monthly restore drill: PASSED
/// (restored from the primary copy, backup 5 hours old)`.
pub fn headline(r: &Report) -> String {
    format!("{}: {}", r.scenario.name, outcome(r))
}

/// `PASSED (restored from the primary copy, backup 5 hours old)`: the
/// headline without the scenario's name, as a fleet's line per site says it.
pub fn outcome(r: &Report) -> String {
    let word = match &r.expectation {
        Some(e) if e.met => "AS EXPECTED".to_string(),
        Some(_) => "NOT AS EXPECTED".to_string(),
        None => r.verdict.as_str().to_uppercase(),
    };
    format!("{word} ({})", outcome_facts(r).join(", "))
}

/// What the drill came to, from the report's own facts: where it recovered
/// from and the data that cost, or why nothing was restored; then what did
/// not pass.
fn outcome_facts(r: &Report) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(from) = &r.recovered_from {
        let location = from.split(':').next().unwrap_or(from);
        facts.push(format!("restored from the {location} copy"));
        facts.push(data_lost(r));
        facts.extend(problems(r));
    } else if r.error.is_none() {
        facts.push(nothing_restored(&r.attempts));
    }
    if let Some(e) = &r.error {
        // Ctrl-C or SIGTERM is not a phase: said as what happened.
        facts.push(match e.phase.as_str() {
            "interrupted" => "interrupted".to_string(),
            phase => format!("stopped during {phase}"),
        });
    }
    facts
}

/// The data a recovery loses: the writes a workload counted lost, else the
/// backup's age at the disaster (a rehearsal) or now (a drill).
fn data_lost(r: &Report) -> String {
    if let Some(l) = &r.lost_writes {
        return format!("{} of {} committed writes lost", l.lost, l.committed);
    }
    match (r.rpo_seconds, r.simulation.is_some()) {
        (Some(s), true) => format!("{} of data lost", span_words(s)),
        (Some(s), false) => format!("backup {} old", span_words(s)),
        (None, _) => "data lost unknown: the backup's time is unknown".into(),
    }
}

/// `nothing restored: 2 backups unusable (wrong-key)`.
fn nothing_restored(attempts: &[Attempt]) -> String {
    let unusable: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable)
        .collect();
    if unusable.is_empty() {
        return "nothing restored: no backup found".into();
    }
    let mut kinds: Vec<&str> = Vec::new();
    for k in unusable.iter().filter_map(|a| a.kind.as_deref()) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    format!(
        "nothing restored: {} unusable ({})",
        counted(unusable.len(), "backup", "backups"),
        kinds.join(", ")
    )
}

/// Checks and objectives that did not pass, counted: `2 checks failed`,
/// `RPO objective missed`.
fn problems(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    // A newer backup that could not be restored is why a drill that
    // restored an older one fails: said first.
    let unusable = r
        .attempts
        .iter()
        .filter(|a| a.outcome == crate::report::AttemptOutcome::Unusable)
        .count();
    if unusable > 0 {
        out.push(format!(
            "{} unusable",
            counted(unusable, "newer backup", "newer backups")
        ));
    }
    for (status, what) in [
        (Status::Failed, "failed"),
        (Status::Error, "broken"),
        (Status::Unknown, "unknown"),
    ] {
        let n = r.checks.iter().filter(|c| c.status == status).count();
        if n > 0 {
            out.push(format!("{} {what}", counted(n, "check", "checks")));
        }
    }
    for o in r.objectives.iter().filter(|o| o.status != Status::Passed) {
        let short = if o.name == RPO {
            "RPO"
        } else {
            o.name.as_str()
        };
        let word = match o.status {
            Status::Unknown => "not measured",
            Status::Failed => "missed",
            other => other.as_str(),
        };
        out.push(format!("{short} objective {word}"));
    }
    out
}

/// RTO and RPO, each against its objective, and where both count from.
fn measures(r: &Report) -> String {
    let objective = |name: &str| r.objectives.iter().find(|o| o.name == name);
    let rto = r.rto_seconds.map_or_else(
        || "unknown (no time measured: nothing was restored and verified)".to_string(),
        |s| fmt_secs(Some(s)),
    );
    let rpo = r.rpo_seconds.map_or_else(
        || "unknown (the backup's time is unknown)".to_string(),
        |s| fmt_secs(Some(s)),
    );
    let mut s = format!(
        "RTO      {rto}{}\nRPO      {rpo}{}\n(both from {}, {})\n",
        against(objective(RTO)),
        against(objective(RPO)),
        r.clock_started.event,
        r.clock_started.at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    for o in r
        .objectives
        .iter()
        .filter(|o| o.name != RTO && o.name != RPO)
    {
        s.push_str(&objective_line(o));
    }
    s
}

/// `, objective 15.0 min: met`, or that none was set.
fn against(o: Option<&Objective>) -> String {
    match o {
        Some(o) => format!(
            ", objective {}: {}",
            fmt_secs(Some(o.target_seconds)),
            objective_word(o.status)
        ),
        None => " (no objective set)".into(),
    }
}

/// An objective's status in words: `met`, `MISSED`, `UNKNOWN`.
fn objective_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "met",
        Status::Failed => "MISSED",
        Status::Unknown => "UNKNOWN",
        Status::Skipped => "skipped",
        Status::Error => "ERROR",
    }
}

/// `checks   24 of 24 passed`, then each check that did not pass.
fn checks_text(checks: &[CheckResult], restored: bool) -> String {
    if checks.is_empty() {
        return match restored {
            true => "checks   none ran\n".into(),
            false => "checks   none: nothing was restored\n".into(),
        };
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let mut s = format!(
        "checks   {} of {} passed",
        count(Status::Passed),
        checks.len()
    );
    let mut others = Vec::new();
    for (status, word) in [
        (Status::Skipped, "skipped"),
        (Status::Failed, "FAILED"),
        (Status::Error, "ERROR (the check itself is broken)"),
        (Status::Unknown, "UNKNOWN"),
    ] {
        if count(status) > 0 {
            others.push(format!("{} {word}", count(status)));
        }
    }
    if !others.is_empty() {
        s.push_str(&format!(", {}", others.join(", ")));
    }
    s.push_str(" (--verbose lists each)\n");
    for c in checks.iter().filter(|c| !c.status.is_ok()) {
        s.push_str(&check_line(c));
    }
    s
}

/// Unusable backups, those that failed alike (same place, kind and
/// evidence) in one block: ransomware's encrypted backups read as one.
fn unusable_text(attempts: &[Attempt]) -> String {
    let mut groups: Vec<(Key, Vec<&str>)> = Vec::new();
    for a in attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable)
    {
        match groups.iter_mut().find(|(k, _)| *k == key(a)) {
            Some((_, paths)) => paths.push(&a.path),
            None => groups.push((key(a), vec![&a.path])),
        }
    }
    let mut s = String::new();
    for ((location, _, reason, finding), paths) in groups {
        s.push_str(&format!(
            "unusable ({location}) {}:\n  {}\n  evidence: {}\n",
            paths_text(&paths),
            finding.unwrap_or_default(),
            reason.unwrap_or_default()
        ));
    }
    s
}

/// What unusable backups must share to be told as one: place, kind and words.
type Key<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

fn key(a: &Attempt) -> Key<'_> {
    (
        a.location.as_str(),
        a.kind.as_deref(),
        a.reason.as_ref().map(|r| r.as_str()),
        a.finding.as_ref().map(|f| f.as_str()),
    )
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

/// One path as it is; several as `2 backups in DIR: a, b`.
fn paths_text(paths: &[&str]) -> String {
    let [first, ..] = paths else {
        return String::new();
    };
    if paths.len() == 1 {
        return first.to_string();
    }
    let path = std::path::Path::new(first);
    let dir = path.parent().map(|d| d.display().to_string());
    let mut names: Vec<String> = paths.iter().map(|p| file_name(p)).collect();
    names.sort();
    match dir {
        Some(d) => format!("{} backups in {d}: {}", paths.len(), names.join(", ")),
        None => format!("{} backups: {}", paths.len(), names.join(", ")),
    }
}

/// `skipped 6 files that are not backups: 1 note, 5 manifests`; None when
/// nothing was skipped.
pub(crate) fn skipped_text(skipped: &[SkippedFile]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut kinds: Vec<(NotABackup, usize)> = Vec::new();
    for s in skipped {
        match kinds.iter_mut().find(|(k, _)| *k == s.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((s.kind, 1)),
        }
    }
    kinds.sort();
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{n} {}", k.noun(*n)))
        .collect();
    let files = match skipped.len() {
        1 => "1 file that is not a backup".to_string(),
        n => format!("{n} files that are not backups"),
    };
    Some(format!("skipped {files}: {}", parts.join(", ")))
}

/// A check as the summaries list it: `STATUS   NAME: DETAIL`.
pub(crate) fn check_line(c: &CheckResult) -> String {
    format!("{:<8} {}: {}\n", status_word(c.status), c.name, c.detail)
}

/// An objective as the summaries list it, with its target.
pub(crate) fn objective_line(o: &Objective) -> String {
    format!(
        "{:<8} objective {}: {} (target {})\n",
        status_word(o.status),
        o.name,
        fmt_secs(o.actual_seconds),
        fmt_secs(Some(o.target_seconds))
    )
}

/// Expected beside actual, for a failure scenario.
fn expectation_text(e: &ExpectationResult) -> String {
    let mut s = format!(
        "\nexpected vs actual: {}\n",
        if e.met {
            "as expected"
        } else {
            "NOT as expected"
        }
    );
    let row = |name: &str, a: &Option<String>, b: &Option<String>| {
        a.as_ref().map(|exp| {
            format!(
                "  {name:<15} expected {exp:?}, actual {:?}\n",
                b.as_deref().unwrap_or("-")
            )
        })
    };
    let (x, y) = (&e.expected, &e.actual);
    for line in [
        row("verdict", &x.verdict, &y.verdict),
        row("recovered from", &x.recovered_from, &y.recovered_from),
        row("detection", &x.detection, &y.detection),
        row("decrypted with", &x.decrypted_with, &y.decrypted_with),
    ]
    .into_iter()
    .flatten()
    {
        s.push_str(&line);
    }
    s
}

pub(crate) fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "ok",
        Status::Failed => "FAILED",
        Status::Unknown => "UNKNOWN",
        Status::Skipped => "skipped",
        Status::Error => "ERROR",
    }
}

/// `1 backup`, `2 backups`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A span as a person says it, rounded: `40 seconds`, `12 minutes`,
/// `5 hours`, `1 day`, `3.5 days`.
pub fn span_words(seconds: f64) -> String {
    let s = seconds.max(0.0);
    let (n, unit) = if s < 90.0 {
        (s, "second")
    } else if s < 90.0 * 60.0 {
        (s / 60.0, "minute")
    } else if s < 20.0 * 3600.0 {
        (s / 3600.0, "hour")
    } else {
        (s / 86_400.0, "day")
    };
    let n = if unit == "day" && n < 10.0 {
        (n * 10.0).round() / 10.0
    } else {
        n.round()
    };
    let plural = if n == 1.0 { "" } else { "s" };
    if n.fract() == 0.0 {
        format!("{n:.0} {unit}{plural}")
    } else {
        format!("{n:.1} {unit}{plural}")
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
