//! Which sites are due: a site is due when its last passing drill is older
//! than its cadence, or it never passed. Pure, over the history's records.

use crate::ledger::Record;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// A site's standing against its cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No passing drill on record.
    NeverPassed,
    /// The last passing drill is older than the cadence allows.
    Overdue { last_pass: DateTime<Utc> },
    /// Passed within the cadence; due again at `due_at`.
    Current {
        last_pass: DateTime<Utc>,
        due_at: DateTime<Utc>,
    },
}

impl Standing {
    pub fn is_due(&self) -> bool {
        !matches!(self, Standing::Current { .. })
    }

    pub fn last_pass(&self) -> Option<DateTime<Utc>> {
        match self {
            Standing::NeverPassed => None,
            Standing::Overdue { last_pass } | Standing::Current { last_pass, .. } => {
                Some(*last_pass)
            }
        }
    }
}

/// The newest passing drill of each site (by the history's site column, as
/// `status` and `evidence` group). A rehearsal or an operator error is not
/// a drill of the backups: only drills that passed count.
pub fn last_passes(records: &[Record]) -> BTreeMap<String, DateTime<Utc>> {
    let mut out: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for r in records {
        let v = &r.report;
        if !v.passing_drill() {
            continue;
        }
        let newest = out.entry(r.stored.site.clone()).or_insert(v.finished_at);
        *newest = (*newest).max(v.finished_at);
    }
    out
}

/// When a site that last passed at `last_pass` is due again.
pub fn due_at(last_pass: DateTime<Utc>, cadence_days: u32) -> DateTime<Utc> {
    last_pass + Duration::days(i64::from(cadence_days))
}

/// A site's standing at `now`, from its last passing drill and cadence.
pub fn standing(
    last_pass: Option<DateTime<Utc>>,
    cadence_days: u32,
    now: DateTime<Utc>,
) -> Standing {
    let Some(last_pass) = last_pass else {
        return Standing::NeverPassed;
    };
    let due_at = due_at(last_pass, cadence_days);
    if due_at <= now {
        Standing::Overdue { last_pass }
    } else {
        Standing::Current { last_pass, due_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(3, 0, 0))
            .map(|t| t.and_utc())
            .expect("a valid date")
    }

    #[test]
    fn due_when_never_passed_or_older_than_the_cadence() {
        assert_eq!(standing(None, 30, at(20)), Standing::NeverPassed);
        assert!(standing(Some(at(1)), 7, at(8)).is_due());
        let current = standing(Some(at(1)), 30, at(20));
        assert_eq!(
            current,
            Standing::Current {
                last_pass: at(1),
                due_at: at(1) + Duration::days(30)
            }
        );
        assert!(!current.is_due());
    }
}
