//! Does the drill still happen? Pure judgements over what the drill history
//! holds: a drill that passed recently enough, a backup younger than its RPO
//! objective. A machine can be ready while nobody has drilled for months:
//! that is what these checks catch.

use super::{Area, Check};
use crate::ledger::view::ReportView;
use chrono::{DateTime, Utc};

/// What the cadence is judged on.
pub struct Seen<'a> {
    pub now: DateTime<Utc>,
    pub max_age_days: u32,
    /// The history's reports, oldest first, with their record ids.
    pub runs: &'a [(i64, ReportView)],
    /// The newest backup in the last drill's location, when it could be listed.
    pub newest_backup: Option<NewestBackup>,
}

pub struct NewestBackup {
    pub location: String,
    /// None when the location holds no backup.
    pub taken_at: Option<DateTime<Utc>>,
}

pub fn judge(s: &Seen) -> Vec<Check> {
    let mut checks = vec![last_pass(s)];
    checks.extend(backup_age(s));
    checks
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
    let mut drills = s.runs.iter().filter(|(_, v)| v.simulation.is_none());
    let Some((id, v)) = drills.rfind(|(_, v)| v.passed()) else {
        let detail = if s.runs.is_empty() {
            "no drill has run: the history is empty. Run one (restore-drill run SCENARIO), then schedule it (restore-drill schedule install SCENARIO)".into()
        } else {
            format!("no restore drill has ever passed ({} runs recorded). See restore-drill history list", s.runs.len())
        };
        return check(NAME, false, detail);
    };
    let days = (s.now - v.started_at).num_seconds() as f64 / 86_400.0;
    let when = format!(
        "{days:.0} days ago ({}, record #{id}, {:?})",
        v.started_at.format("%Y-%m-%d"),
        v.scenario.name
    );
    if days > f64::from(s.max_age_days) {
        check(
            NAME,
            false,
            format!(
                "{when}: older than {} days. Run a drill now, and check its schedule (restore-drill schedule list)",
                s.max_age_days
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
        crate::evidence::build::human_seconds(age),
        b.location,
        taken.format("%Y-%m-%d %H:%M UTC"),
        crate::evidence::build::human_seconds(target)
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
