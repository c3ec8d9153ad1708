//! The comparison as a person reads it in the terminal: the targets side by
//! side, one line per item, then what differs in full. The JSON has it all.

use super::model::{ComparisonReport, Item, ItemStatus, RestoreOutcome};
use crate::report::fmt_secs;

/// Widest a name or a value may be in the table; the full text follows
/// below it for every item that is not equal, and is in the JSON.
const NAME_WIDTH: usize = 40;
const VALUE_WIDTH: usize = 26;

impl ComparisonReport {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "compare {:?}: {}\n",
            self.scenario.name,
            self.verdict.as_str().to_uppercase()
        );
        if let Some(e) = &self.error {
            s.push_str(&format!("error during {}: {}\n", e.phase, e.reason));
        }
        if let Some(b) = &self.backup {
            s.push_str(&b.summary_line());
        }
        for a in &self.attempts {
            s.push_str(&format!(
                "refused  {}: {}\n",
                a.path,
                a.reason.as_ref().map_or("", |r| r.as_str())
            ));
        }
        s.push_str(&self.targets_text());
        if !self.items.is_empty() {
            s.push('\n');
            s.push_str(&self.table());
            s.push_str(&self.differences());
        }
        s.push_str(&self.upgrade_estimate());
        s
    }

    fn targets_text(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.targets.iter().enumerate() {
            let role = if i == 0 { ", the baseline" } else { "" };
            let version = t.server_version.as_deref().unwrap_or("version unknown");
            let outcome = match &t.restore {
                RestoreOutcome::Restored { seconds, .. } => {
                    format!("restored in {}", fmt_secs(Some(*seconds)))
                }
                // The first line: the rest is the tool's, in the JSON.
                RestoreOutcome::Failed { reason, .. } => format!(
                    "DID NOT RESTORE: {}",
                    reason.as_str().lines().next().unwrap_or_default()
                ),
                RestoreOutcome::NotRun => "not restored".into(),
            };
            s.push_str(&format!(
                "target   {} ({version}{role}): {outcome}\n",
                t.image
            ));
        }
        let c = &self.concurrency;
        match (c.concurrent, c.restores_overlap_seconds) {
            (true, Some(o)) => s.push_str(&format!(
                "restored concurrently ({}); the restores overlapped for {}\n",
                c.reason,
                fmt_secs(Some(o))
            )),
            (true, None) => s.push_str(&format!("restored concurrently ({})\n", c.reason)),
            (false, _) => s.push_str(&format!("restored one after the other: {}\n", c.reason)),
        }
        s
    }

    fn table(&self) -> String {
        let heads: Vec<String> = self
            .targets
            .iter()
            .map(|t| clip(t.image.rsplit('/').next().unwrap_or(&t.image), VALUE_WIDTH))
            .collect();
        let mut s = format!("{:<NAME_WIDTH$}", "");
        for h in &heads {
            s.push_str(&format!("  {h:<VALUE_WIDTH$}"));
        }
        s.push('\n');
        for it in &self.items {
            s.push_str(&format!(
                "{:<NAME_WIDTH$}",
                clip(&format!("{}: {}", it.kind.label(), it.name), NAME_WIDTH)
            ));
            for v in &it.values {
                s.push_str(&format!("  {:<VALUE_WIDTH$}", clip(v, VALUE_WIDTH)));
            }
            s.push_str(&format!("  {}\n", status_text(it.status)));
        }
        let differing = self
            .items
            .iter()
            .filter(|i| i.status.is_difference())
            .count();
        s.push_str(&format!(
            "\n{differing} of {} items differ, are slower or unknown\n",
            self.items.len()
        ));
        s
    }

    /// Each item that is not equal, in full, with what it means.
    fn differences(&self) -> String {
        let mut s = String::new();
        for it in self.items.iter().filter(|i| i.status.is_difference()) {
            s.push_str(&format!(
                "{} {}: {}\n",
                status_text(it.status),
                it.kind.label(),
                it.name
            ));
            s.push_str(&values_text(self, it));
            if !it.detail.is_empty() {
                s.push_str(&format!("  {}\n", it.detail));
            }
        }
        s
    }

    fn upgrade_estimate(&self) -> String {
        let (Some(dump), Some(base)) = (self.baseline_dump_seconds, self.targets.first()) else {
            return String::new();
        };
        let mut s = String::new();
        for t in self.targets.iter().skip(1) {
            if let RestoreOutcome::Restored { seconds, .. } = t.restore {
                s.push_str(&format!(
                    "an upgrade by dump and restore: about {} to dump on {} plus {} to restore into {}\n",
                    fmt_secs(Some(dump)),
                    base.image,
                    fmt_secs(Some(seconds)),
                    t.image
                ));
            }
        }
        s
    }
}

fn values_text(r: &ComparisonReport, it: &Item) -> String {
    r.targets
        .iter()
        .zip(&it.values)
        .map(|(t, v)| format!("  {}: {v}\n", t.image))
        .collect()
}

fn status_text(s: ItemStatus) -> &'static str {
    match s {
        ItemStatus::Equal => "equal",
        ItemStatus::Different => "DIFFERENT",
        ItemStatus::Slower => "SLOWER",
        ItemStatus::Unknown => "UNKNOWN",
        ItemStatus::Measured => "",
    }
}

/// At most `width` characters, an ellipsis marking a cut.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}
