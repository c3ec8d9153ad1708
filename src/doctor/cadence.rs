//! Does the drill still happen? Pure judgements over what the drill history
//! holds: a drill that passed recently enough, a backup younger than its RPO
//! objective. A machine can be ready while nobody has drilled for months:
//! that is what these checks catch.

use super::{Area, Check};
use crate::ledger::view::ReportView;
use crate::words::{self, plural};
use chrono::{DateTime, Utc};

/// What the cadence is judged on.
pub struct Seen<'a> {
    pub now: DateTime<Utc>,
    pub max_age_days: u32,
    /// The history's reports, oldest first, with their record ids.
    pub runs: &'a [(i64, ReportView)],
    /// The newest backup in the last drill's location, when it could be listed.
    pub newest_backup: Option<NewestBackup>,
    /// The alerts of the last run that sent any.
    pub last_alerts: &'a [crate::ledger::DeliveryRow],
}

pub struct NewestBackup {
    pub location: String,
    /// None when the location holds no backup.
    pub taken_at: Option<DateTime<Utc>>,
}

pub fn judge(s: &Seen) -> Vec<Check> {
    let mut checks = vec![last_pass(s)];
    checks.extend(backup_age(s));
    checks.extend(alerts(s.last_alerts));
    checks
}

/// Whether the last alerts reached anyone: a drill that fails in silence is
/// what scheduling was meant to prevent.
fn alerts(rows: &[crate::ledger::DeliveryRow]) -> Option<Check> {
    let first = rows.first()?;
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.delivered)
        .map(|r| {
            format!(
                "{} {} after {}: {}",
                r.channel,
                r.target,
                plural(r.attempts, "attempt", "attempts"),
                r.reason.as_deref().unwrap_or("no reason recorded")
            )
        })
        .collect();
    Some(if failed.is_empty() {
        check(
            "last alerts",
            true,
            format!("delivered (record #{}, {})", first.record_id, first.at),
        )
    } else {
        check(
            "last alerts",
            false,
            format!(
                "not delivered (record #{}, {}): {}. Check the [notify] settings; the drill's result is in its report and the history",
                first.record_id,
                first.at,
                failed.join("; ")
            ),
        )
    })
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        name: name.into(),
        ok,
        detail,
        area: Area::Cadence,
    }
}

fn last_pass(s: &Seen) -> Check {
    const NAME: &str = "last passing drill";
    let Some((id, v)) = s.runs.iter().rfind(|(_, v)| v.passing_drill()) else {
        let detail = if s.runs.is_empty() {
            "no drill has run: the history is empty. Run one (restore-drill run SCENARIO), then schedule it (restore-drill schedule install SCENARIO)".into()
        } else {
            format!(
                "no restore drill has ever passed ({} recorded). See restore-drill history list",
                plural(s.runs.len(), "run", "runs")
            )
        };
        return check(NAME, false, detail);
    };
    let days = (s.now - v.started_at).num_seconds() as f64 / 86_400.0;
    let when = format!(
        "{} ago ({}, record #{id}, {:?})",
        words::days(days),
        v.started_at.format("%Y-%m-%d"),
        v.scenario.name
    );
    if days > f64::from(s.max_age_days) {
        check(
            NAME,
            false,
            format!(
                "{when}: older than {}. Run a drill now, and check its schedule (restore-drill schedule list)",
                plural(s.max_age_days, "day", "days")
            ),
        )
    } else {
        check(NAME, true, when)
    }
}

/// The newest backup against the RPO objective of the last drill that had one.
fn backup_age(s: &Seen) -> Option<Check> {
    const NAME: &str = "newest backup";
    let target = s
        .runs
        .iter()
        .rev()
        .find_map(|(_, v)| v.objective("RPO").map(|o| o.target_seconds))?;
    let b = s.newest_backup.as_ref()?;
    let Some(taken) = b.taken_at else {
        return Some(check(
            NAME,
            false,
            format!("no backup found in {}: check the backup job", b.location),
        ));
    };
    let age = (s.now - taken).num_seconds() as f64;
    let said = format!(
        "{} old in {} (taken {}), RPO objective {}",
        crate::report::human_seconds(age),
        b.location,
        taken.format("%Y-%m-%d %H:%M UTC"),
        crate::report::human_seconds(target)
    );
    Some(if age > target {
        check(
            NAME,
            false,
            format!("{said}: older than the objective. Check the backup job"),
        )
    } else {
        check(NAME, true, said)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::DeliveryRow;

    fn run(days_ago: i64, verdict: &str) -> ReportView {
        let at = Utc::now() - chrono::Duration::days(days_ago);
        serde_json::from_value(serde_json::json!({
            "report_version": 3, "scenario": {"name": "monthly"}, "run_id": "r",
            "started_at": at, "finished_at": at, "verdict": verdict,
        }))
        .expect("a report view")
    }

    fn judged(runs: &[(i64, ReportView)], alerts: &[DeliveryRow]) -> Vec<Check> {
        judge(&Seen {
            now: Utc::now(),
            max_age_days: 35,
            runs,
            newest_backup: None,
            last_alerts: alerts,
        })
    }

    #[test]
    fn the_last_pass_counts_not_the_last_run() {
        let runs = [(1, run(36, "passed")), (2, run(1, "failed"))];
        let c = judged(&runs, &[]);
        assert!(
            !c[0].ok && c[0].detail.starts_with("36 days ago"),
            "{}",
            c[0].detail
        );
        let runs = [(1, run(34, "passed")), (2, run(1, "failed"))];
        assert!(judged(&runs, &[])[0].ok);
    }

    #[test]
    fn an_undelivered_alert_is_a_warning() {
        let row = |delivered| DeliveryRow {
            record_id: 7,
            at: "2026-11-29T03:00:00Z".into(),
            channel: "webhook".into(),
            target: "https://chat.example/hooks".into(),
            delivered,
            attempts: 3,
            reason: (!delivered).then(|| "connection refused".into()),
        };
        let runs = [(7, run(1, "passed"))];
        let c = judged(&runs, &[row(true), row(false)]);
        let a = c
            .iter()
            .find(|c| c.name == "last alerts")
            .expect("alerts check");
        assert!(
            !a.ok && a.detail.contains("connection refused"),
            "{}",
            a.detail
        );
        let c = judged(&runs, &[row(true)]);
        assert!(c.iter().any(|c| c.name == "last alerts" && c.ok));
        assert!(judged(&runs, &[]).iter().all(|c| c.name != "last alerts"));
    }
}
