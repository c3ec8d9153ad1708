//! The comparison as a person reads it in the terminal: the targets side by
//! side, one line per item, then what differs in full. The JSON has it all.

use super::model::{ComparisonReport, Item, ItemStatus, RestoreOutcome};
use crate::report::fmt_secs;

/// The widest the table may be: it fits a terminal of 100 columns.
const WIDTH: usize = 100;
/// Widest a target's value may be; the full value follows below the table
/// for every item that is not equal, and is in the JSON.
const VALUE_WIDTH: usize = 26;
/// The item column never gets narrower than this: values give way first.
const MIN_NAME_WIDTH: usize = 24;
/// The last column's title: whether the targets agree on the item.
const VERDICT: &str = "verdict";

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
        let images: Vec<&str> = self.targets.iter().map(|t| t.image.as_str()).collect();
        let mut s = table(&images, &self.items);
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

/// The items side by side, one column per target and a verdict column,
/// within [`WIDTH`] columns however many targets and however long the
/// names: a name wraps onto lines of its own (at a space, `_`, `.` or `/`
/// where it can) rather than losing its end, which is often what tells two
/// apart; a value is cut with an ellipsis (the full value is listed below).
fn table(images: &[&str], items: &[Item]) -> String {
    let heads: Vec<&str> = images
        .iter()
        .map(|i| i.rsplit('/').next().unwrap_or(i))
        .collect();
    let w = widths(&heads, items);
    let mut s = row(
        &[String::from("item")],
        &heads.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        VERDICT,
        &w,
    );
    for it in items {
        let name = wrap(&format!("{}: {}", it.kind.label(), it.name), w.name);
        s.push_str(&row(&name, &it.values, status_text(it.status), &w));
    }
    s
}

/// The columns' widths: values as wide as the widest (at most
/// [`VALUE_WIDTH`]), the verdict as its longest word, the name the rest.
struct Widths {
    name: usize,
    value: usize,
    verdict: usize,
}

fn widths(heads: &[&str], items: &[Item]) -> Widths {
    let n = heads.len().max(1);
    let widest = |a: usize, s: &str| a.max(s.chars().count());
    let values = items
        .iter()
        .flat_map(|i| i.values.iter().map(String::as_str));
    let mut value = values
        .chain(heads.iter().copied())
        .fold(1, widest)
        .min(VALUE_WIDTH);
    let verdict = items
        .iter()
        .map(|i| status_text(i.status))
        .fold(VERDICT.len(), widest);
    let fixed = |value: usize| n * (value + 2) + 2 + verdict;
    if fixed(value) + MIN_NAME_WIDTH > WIDTH {
        value = (WIDTH.saturating_sub(MIN_NAME_WIDTH + 2 + verdict) / n)
            .saturating_sub(2)
            .max(1);
    }
    let longest = items
        .iter()
        .map(|i| i.kind.label().len() + 2 + i.name.chars().count())
        .fold("item".len(), usize::max);
    let name = WIDTH.saturating_sub(fixed(value)).min(longest).max(1);
    Widths {
        name,
        value,
        verdict,
    }
}

/// One item: its name's first line with the values and verdict, then the
/// rest of its name, indented.
fn row(name: &[String], values: &[String], verdict: &str, w: &Widths) -> String {
    let first = name.first().map(String::as_str).unwrap_or_default();
    let mut s = format!("{first:<width$}", width = w.name);
    for v in values {
        s.push_str(&format!("  {:<width$}", clip(v, w.value), width = w.value));
    }
    s.push_str(&format!("  {verdict:<width$}", width = w.verdict));
    let mut s = s.trim_end().to_string();
    s.push('\n');
    for more in name.iter().skip(1) {
        s.push_str(&format!("  {more}\n"));
    }
    s
}

/// `text` in lines of at most `width` characters (the lines after the
/// first two narrower, for their indent), broken after a space, `_`, `-`,
/// `.`, `/` or `:` where one falls in the line, else at the width.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    let mut room = width.max(1);
    while rest.len() > room {
        let cut = (1..=room)
            .rev()
            .find(|&i| matches!(rest[i - 1], ' ' | '_' | '-' | '.' | '/' | ':'))
            .unwrap_or(room);
        let line: String = rest[..cut].iter().collect();
        lines.push(line.trim_end().to_string());
        rest = rest[cut..]
            .iter()
            .copied()
            .skip_while(|c| *c == ' ')
            .collect();
        room = width.saturating_sub(2).max(1);
    }
    lines.push(rest.into_iter().collect());
    lines
}

/// At most `width` characters, an ellipsis marking a cut.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::ItemKind;
    use crate::redact::Redacted;

    fn item(name: &str, values: &[&str], status: ItemStatus) -> Item {
        Item {
            kind: ItemKind::Query,
            name: name.into(),
            status,
            values: values.iter().map(|v| v.to_string()).collect(),
            detail: Redacted::ours(""),
        }
    }

    /// Queries named as a clinic's application names them: long, alike at
    /// the start, told apart at the end.
    fn long_named() -> Vec<&'static str> {
        vec![
            "appointments_by_optometrist_and_day_for_the_front_desk_calendar_view_weekly",
            "appointments_by_optometrist_and_day_for_the_front_desk_calendar_view_monthly",
            "unpaid_invoices_older_than_ninety_days_with_insurer_claim_status_and_patient_balance",
            "short",
        ]
    }

    fn check(images: &[&str]) {
        let value = "1234567 rows 0a1b2c3d 12345.6 ms";
        let items: Vec<Item> = long_named()
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                let status = [ItemStatus::Equal, ItemStatus::Different, ItemStatus::Slower][i % 3];
                item(n, &vec![value; images.len()], status)
            })
            .collect();
        let t = table(images, &items);
        for line in t.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{} columns: {line}\n{t}",
                line.chars().count()
            );
        }
        let header = t.lines().next().unwrap_or_default();
        assert!(
            header.starts_with("item") && header.trim_end().ends_with(VERDICT),
            "{t}"
        );
        // Nothing of a name is lost: its lines put together give it back
        // (a first line's name ends where its values begin).
        let joined: String = t
            .lines()
            .map(|l| match l.strip_prefix("  ") {
                Some(more) => more.trim(),
                None => l.split("  ").next().unwrap_or_default(),
            })
            .collect();
        for n in long_named() {
            assert!(joined.contains(n), "{n} is not whole in\n{t}");
        }
        assert!(t.contains("DIFFERENT") && t.contains("SLOWER"), "{t}");
    }

    #[test]
    fn the_table_fits_100_columns_with_a_titled_verdict_and_whole_names() {
        check(&["restore-drill/postgres:15", "restore-drill/postgres:17"]);
        check(&[
            "restore-drill/postgres:15",
            "restore-drill/postgres:16",
            "restore-drill/postgres:17",
        ]);
        check(&["restore-drill/mariadb:10.11"]);
    }

    #[test]
    fn names_wrap_at_word_breaks_and_hard_only_when_they_must() {
        assert_eq!(wrap("query: a_b_c", 8), vec!["query:", "a_b_c"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "ef", "gh", "ij"]);
        assert_eq!(wrap("short", 10), vec!["short"]);
    }
}
