//! From verified ledger records to the pack's model: pure, so every rule
//! (what counts as a passed restore, a proven offsite copy, a failure) is
//! tested without a database.

use super::pack::*;
use super::questions;
use super::run::{next_success, Run};
use crate::ledger::chain::Head;
use crate::ledger::view::ReportView;
use crate::ledger::Record;
use crate::report::facts::Status;
use crate::report::{human_seconds, Verdict};
use chrono::{DateTime, NaiveDate, Utc};

/// Which records a pack covers.
#[derive(Debug, Clone)]
pub struct Scope {
    pub period: Period,
    pub site: Option<String>,
}

pub fn build(records: &[Record], head: &Head, scope: &Scope, now: DateTime<Utc>) -> Pack {
    // Operator errors are listed on their own and reach no answer: each rule
    // below sees only drills and rehearsals.
    let (runs, operator): (Vec<Run>, Vec<Run>) =
        in_scope(records, scope).into_iter().partition(Run::counts);
    let mut sites: Vec<String> = runs.iter().map(|r| r.site.to_string()).collect();
    sites.sort();
    sites.dedup();
    if sites.is_empty() {
        sites.extend(scope.site.clone());
    }
    // One clinic's contacts; a pack over several sites names them only.
    let contacts = (sites.len() == 1)
        .then(|| runs.iter().rev().find_map(|r| r.v.contacts.clone()))
        .flatten();
    Pack {
        pack_version: PACK_VERSION,
        tool: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        generated_at: now,
        sites,
        period: scope.period.clone(),
        ledger: LedgerHead {
            records: head.records,
            head_id: head.id,
            head_hash: head.hash.clone(),
        },
        summary: summary(&runs, &scope.period),
        drills: runs.iter().map(drill_row).collect(),
        questions: questions::answer(&runs, &scope.period),
        rehearsals: runs.iter().filter_map(rehearsal).collect(),
        protection: protection(&runs),
        failures: failures(&runs),
        how_to_verify: Vec::new(),
        contacts,
        methods: methods(&runs),
        operator_errors: operator.iter().map(operator_row).collect(),
    }
}

fn operator_row(r: &Run) -> OperatorErrorRow {
    let e = r.v.error.as_ref();
    OperatorErrorRow {
        record: r.r.clone(),
        site: r.site.to_string(),
        scenario: r.v.scenario.name.clone(),
        step: e.map_or_else(|| "start".into(), |e| e.phase.clone()),
        reason: e.map_or_else(String::new, |e| e.reason.clone()),
    }
}

/// What RTO measures here, said once on the pack's first page.
pub const RTO_COVERS: &str = "From the start of recovery (or the simulated disaster) to the last \
check passing: finding, decrypting and restoring the newest backup into a sealed, throwaway \
server, and verifying it. Not covered: replacing the server, reinstalling the practice \
software, reconnecting workstations.";

/// The methods box, from the runs' own records: where they ran, what they
/// restored into, and what the newest passed drill restored and checked.
fn methods(runs: &[Run]) -> Option<Methods> {
    let newest = runs.last()?;
    let mut hosts: Vec<String> = runs.iter().rev().filter_map(|r| r.v.host.clone()).collect();
    let mut engines: Vec<String> = runs.iter().rev().filter_map(|r| engine_line(r.v)).collect();
    for list in [&mut hosts, &mut engines] {
        let mut seen = std::collections::HashSet::new();
        list.retain(|x| seen.insert(x.clone()));
        // Newest first; a page-1 box holds a few.
        if list.len() > 3 {
            let more = list.len() - 3;
            list.truncate(3);
            list.push(format!("and {more} more"));
        }
    }
    let restored = match runs.iter().rev().find(|r| r.passed_drill()) {
        Some(r) => format!(
            "the clinic database from its newest encrypted backup ({}); {} checks: every table against the backup's manifest, foreign keys, business rules, newest records",
            r.v.backup.as_ref().map_or("name not recorded".into(), |b| file_name(&b.path)),
            r.v.checks.len()
        ),
        None => format!(
            "no drill in this period restored the data with every check passed; the newest run was {} on {}",
            newest.v.scenario.name,
            newest.r.date.format("%Y-%m-%d")
        ),
    };
    Some(Methods {
        hosts,
        engines,
        restored,
        rto_covers: RTO_COVERS.into(),
    })
}

/// `PostgreSQL 15.10 (Debian 15.10-1) (image restore-drill/postgres:15)`,
/// as far as recorded; None for a run that never reached a server.
fn engine_line(v: &ReportView) -> Option<String> {
    let t = v.target.as_ref()?;
    let version = t.server_version.as_deref().map(short_version)?;
    let name = match &t.engine {
        Some(e) if !version.contains(e.as_str()) => format!("{e} {version}"),
        _ => version,
    };
    Some(match &t.image {
        Some(i) => format!("{name} (image {i})"),
        None => name,
    })
}

/// A server's version string up to its first comma or "on": `PostgreSQL
/// 15.10 (Debian 15.10-1)`, `11.4.5-MariaDB-deb12`.
fn short_version(v: &str) -> String {
    v.split([','])
        .next()
        .unwrap_or(v)
        .split(" on ")
        .next()
        .unwrap_or(v)
        .trim()
        .to_string()
}

/// The records whose drill started within the period (both days included),
/// of the site asked for, oldest first.
pub fn in_scope<'a>(records: &'a [Record], scope: &Scope) -> Vec<Run<'a>> {
    let mut runs: Vec<Run> = records
        .iter()
        .filter(|rec| {
            let day = rec.report.started_at.date_naive();
            day >= scope.period.since && day <= scope.period.until
        })
        .filter(|rec| scope.site.as_ref().is_none_or(|s| *s == rec.stored.site))
        .map(|rec| Run {
            r: RecordRef {
                id: rec.stored.id,
                hash: rec.stored.hash.clone(),
                date: rec.report.started_at,
            },
            site: &rec.stored.site,
            v: &rec.report,
        })
        .collect();
    runs.sort_by_key(|r| (r.r.date, r.r.id));
    runs
}

fn summary(runs: &[Run], period: &Period) -> Summary {
    let drills: Vec<&Run> = runs.iter().filter(|r| r.is_drill()).collect();
    let passed: Vec<&&Run> = drills.iter().filter(|r| r.v.passed()).collect();
    let rehearsals: Vec<&Run> = runs.iter().filter(|r| r.is_rehearsal()).collect();
    let last = passed.last().map(|r| r.r.clone());
    let rto = objective(&drills, "RTO", |v| v.rto_seconds);
    let from = period.known_from();
    let drilled = |n: usize| crate::words::plural(n, "restore drill", "restore drills");
    let headline = match (&last, drills.len()) {
        (_, 0) => format!("No restore was tested between {from} and {}.", period.until),
        (None, n) => format!(
            "{} between {from} and {}: none succeeded.",
            drilled(n),
            period.until
        ),
        (Some(l), n) => format!(
            "{} between {from} and {}: {} passed. The last successful restore was on {}{}.",
            drilled(n),
            period.until,
            passed.len(),
            l.date.format("%Y-%m-%d"),
            rto.latest_seconds
                .map(|s| format!(", with the data back in {}", human_seconds(s)))
                .unwrap_or_default()
        ),
    };
    Summary {
        runs: runs.len() as u32,
        restores_tested: drills.len() as u32,
        restores_passed: passed.len() as u32,
        rehearsals: rehearsals.len() as u32,
        rehearsals_as_expected: rehearsals
            .iter()
            .filter(|r| r.as_expected() == Some(true))
            .count() as u32,
        last_successful_restore: last,
        rpo: objective(&drills, "RPO", |v| v.rpo_seconds),
        four: super::four::answers(runs, period, &rto),
        rto,
        headline,
    }
}

/// Over the drills that measured it: the latest target, the worst and the
/// latest value, and whether every measured drill met its target.
fn objective(
    drills: &[&Run],
    name: &str,
    value: fn(&ReportView) -> Option<f64>,
) -> ObjectiveSummary {
    let measured: Vec<(&Run, f64)> = drills
        .iter()
        .filter_map(|r| value(r.v).map(|s| (*r, s)))
        .collect();
    let target = drills
        .iter()
        .rev()
        .find_map(|r| r.v.objective(name).map(|o| o.target_seconds));
    let missed = measured
        .iter()
        .filter(|(r, _)| {
            r.v.objective(name)
                .is_none_or(|o| o.status != Status::Passed)
        })
        .count() as u32;
    let met = (!measured.is_empty()).then_some(missed == 0);
    let misses = drills
        .iter()
        .filter_map(|r| {
            let o = r.v.objective(name)?;
            (o.status != Status::Passed).then(|| Miss {
                record: r.r.clone(),
                seconds: value(r.v),
                target_seconds: o.target_seconds,
            })
        })
        .collect();
    ObjectiveSummary {
        target_seconds: target,
        worst_seconds: measured.iter().map(|(_, s)| *s).reduce(f64::max),
        latest_seconds: measured
            .iter()
            .rev()
            .find(|(r, _)| r.v.passed())
            .map(|(_, s)| *s),
        met,
        measured: measured.len() as u32,
        missed,
        misses,
    }
}

fn drill_row(r: &Run) -> DrillRow {
    let v = r.v;
    DrillRow {
        record: r.r.clone(),
        site: r.site.to_string(),
        scenario: v.scenario.name.clone(),
        kind: r.kind(),
        fault: r.fault().map(str::to_string),
        verdict: v.verdict.as_str().to_string(),
        as_expected: r.as_expected(),
        rto_seconds: v.rto_seconds,
        rto_target_seconds: v.objective("RTO").map(|o| o.target_seconds),
        rpo_seconds: v.rpo_seconds,
        rpo_target_seconds: v.objective("RPO").map(|o| o.target_seconds),
        backup_taken_at: v.backup.as_ref().and_then(|b| b.created_at),
        recovered_from: v.recovered_location().map(str::to_string),
        finding: (!r.succeeded()).then(|| v.finding()).flatten(),
    }
}

fn rehearsal(r: &Run) -> Option<Rehearsal> {
    let fault = r.fault()?.to_string();
    let e = r.v.expectation.as_ref();
    Some(Rehearsal {
        record: r.r.clone(),
        scenario: r.v.scenario.name.clone(),
        expected: e.map_or("nothing stated".into(), |e| outcome_text(&e.expected)),
        actual: actual_text(r),
        as_expected: r.as_expected() == Some(true),
        shows: shows(r, &fault),
        fault,
    })
}

/// What happened, from the measured facts: the verdict, the copy restored,
/// what was detected (each kind once) and the key file that opened it.
fn actual_text(r: &Run) -> String {
    let v = r.v;
    let o = crate::ledger::view::OutcomeView {
        verdict: Some(v.verdict.as_str().to_string()),
        recovered_from: v.recovered_location().map(str::to_string),
        detection: Some(detected(v)).filter(|d| !d.is_empty()),
        decrypted_with: v
            .recovered_from
            .as_ref()
            .and(v.backup.as_ref())
            .and_then(|b| b.decrypted_with.as_deref())
            .map(file_name),
    };
    outcome_text(&o)
}

/// The unusable backups' kinds, each once with how many files had it.
fn detected(v: &ReportView) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for k in v.attempts.iter().filter_map(|a| a.kind.as_deref()) {
        match kinds.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => kinds.push((k, 1)),
        }
    }
    kinds
        .iter()
        .map(|(k, c)| {
            if *c > 1 {
                format!("{k} ({c} files)")
            } else {
                k.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn file_name(p: &str) -> String {
    std::path::Path::new(p)
        .file_name()
        .map_or(p.to_string(), |n| n.to_string_lossy().into_owned())
}

fn outcome_text(o: &crate::ledger::view::OutcomeView) -> String {
    let parts: Vec<String> = [
        o.verdict.as_ref().map(|v| format!("verdict {v}")),
        o.recovered_from
            .as_ref()
            .map(|l| format!("recovered from {l}")),
        o.detection.as_ref().map(|d| format!("detected {d}")),
        o.decrypted_with
            .as_ref()
            .map(|k| format!("decrypted with {k}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "nothing stated".into()
    } else {
        parts.join(", ")
    }
}

/// What a rehearsal showed, in a sentence, from its measured facts.
fn shows(r: &Run, fault: &str) -> String {
    let v = r.v;
    let from = match (v.recovered_location(), v.simulation.as_ref()) {
        (None, _) => "no copy could be restored".to_string(),
        (Some("offsite"), Some(s)) if s.simulated_offsite => {
            "restored from an offsite copy the simulation made from the primary's backups (the scenario names no real offsite location)".into()
        }
        (Some(l), _) => format!("restored from the {l} copy"),
    };
    let mut s = from;
    if let Some(c) = v.rpo_cost_seconds.filter(|c| *c > 0.0) {
        s.push_str(&format!(
            "; falling back cost {} of extra data loss",
            human_seconds(c)
        ));
    }
    if fault == "lost-key" || v.recovered_from.is_some() {
        if let Some(k) = v.backup.as_ref().and_then(|b| b.decrypted_with.as_deref()) {
            s.push_str(&format!("; opened with the key {}", file_name(k)));
        }
    }
    if let Some(l) = &v.lost_writes {
        s.push_str(&format!(
            "; {} of {} committed writes lost{}",
            l.lost,
            l.committed,
            l.span_seconds
                .map(|t| format!(" ({} of work)", human_seconds(t)))
                .unwrap_or_default()
        ));
    }
    let found = detected(v);
    if !found.is_empty() {
        s.push_str(&format!("; detected: {found}"));
    }
    s
}

fn protection(runs: &[Run]) -> Protection {
    let restored: Vec<&Run> = runs
        .iter()
        .filter(|r| r.v.recovered_from.is_some() && r.v.backup.is_some())
        .collect();
    let backups = || restored.iter().filter_map(|r| r.v.backup.as_ref());
    Protection {
        all_encrypted: (!restored.is_empty()).then(|| backups().all(|b| b.age_encrypted())),
        min_recipients: backups().filter_map(|b| b.recipients).min(),
        escrow_key_proven: runs
            .iter()
            .rev()
            .find(|r| {
                r.fault() == Some("lost-key") && r.as_expected() == Some(true) && r.v.passed()
            })
            .map(|r| r.r.clone()),
        offsite_copy_proven: runs
            .iter()
            .rev()
            .find(|r| real_offsite_restore(r))
            .map(|r| r.r.clone()),
        out_of_reach_proven: runs
            .iter()
            .rev()
            .find(|r| {
                r.v.rto_seconds.is_some()
                    && r.v.recovered_protection().map(|p| p.verdict)
                        == Some(crate::protection::Segregation::OutOfReach)
            })
            .map(|r| r.r.clone()),
        backup_age: runs
            .iter()
            .filter(|r| r.is_drill())
            .map(|r| BackupAge {
                record: r.r.clone(),
                encrypted: r
                    .v
                    .backup
                    .as_ref()
                    .filter(|b| !b.layers.is_empty())
                    .map(|b| b.age_encrypted()),
                recipients: r.v.backup.as_ref().and_then(|b| b.recipients),
                newest_backup_age_seconds: r
                    .v
                    .rpo_seconds
                    .map(|rpo| rpo - r.v.rpo_cost_seconds.unwrap_or(0.0)),
            })
            .collect(),
    }
}

/// A restore from the offsite location that the scenario named (a real
/// copy, or a scratch copy of it in a rehearsal), whose data was verified.
fn real_offsite_restore(r: &Run) -> bool {
    let simulated = r.v.simulation.as_ref().is_some_and(|s| s.simulated_offsite);
    r.v.recovered_location() == Some("offsite")
        && !simulated
        && matches!(r.v.verdict, Verdict::Passed | Verdict::Failed)
        && r.v.rto_seconds.is_some()
}

/// Every run that did not succeed, with the run that next made it good.
fn failures(runs: &[Run]) -> Vec<FailureRow> {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| !r.succeeded())
        .map(|(i, r)| FailureRow {
            record: r.r.clone(),
            scenario: r.v.scenario.name.clone(),
            kind: r.kind(),
            fault: r.fault().map(str::to_string),
            verdict: r.v.verdict.as_str().to_string(),
            finding: r.v.finding(),
            next_pass: next_success(r, &runs[i + 1..]).map(|n| n.r.clone()),
        })
        .collect()
}

/// Why `evidence` will not choose the site itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRefusal {
    /// `--site` names no site the history holds; these are the ones it does.
    NoSuchSite {
        asked: String,
        known: Vec<(String, usize)>,
    },
    /// Several sites and neither `--site` nor `--all-sites`.
    SeveralSites { known: Vec<(String, usize)> },
}

impl SiteRefusal {
    pub fn message(&self, history: &std::path::Path) -> String {
        let list = |known: &[(String, usize)]| {
            known
                .iter()
                .map(|(s, n)| {
                    format!(
                        "  \"{}\" ({n} {})",
                        crate::plain_text::shown(s),
                        if *n == 1 { "run" } else { "runs" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        match self {
            SiteRefusal::NoSuchSite { asked, known } if known.is_empty() => format!(
                "--site \"{}\": the history {} holds no run yet. Run a drill first (restore-drill run)",
                crate::plain_text::shown(asked),
                history.display()
            ),
            SiteRefusal::NoSuchSite { asked, known } => format!(
                "--site \"{}\": no run of that site in the history {}. It holds these sites; give one exactly as written:\n{}",
                crate::plain_text::shown(asked),
                history.display(),
                list(known)
            ),
            SiteRefusal::SeveralSites { known } => format!(
                "the history {} holds runs of {} sites, and a pack speaks for one clinic. Give --site NAME for one of them, or --all-sites for one pack over all:\n{}",
                history.display(),
                known.len(),
                list(known)
            ),
        }
    }
}

/// The sites the history holds, with their number of runs, by name.
pub fn known_sites(records: &[Record]) -> Vec<(String, usize)> {
    let mut known: Vec<(String, usize)> = Vec::new();
    for r in records {
        match known.iter_mut().find(|(s, _)| *s == r.stored.site) {
            Some((_, n)) => *n += 1,
            None => known.push((r.stored.site.clone(), 1)),
        }
    }
    known.sort();
    known
}

/// Which site a pack covers: `--site` as the history writes it; without
/// it, the history's only site; several only with `--all-sites` (None:
/// every site).
pub fn choose_site(
    records: &[Record],
    asked: Option<&str>,
    all_sites: bool,
) -> std::result::Result<Option<String>, SiteRefusal> {
    let known = known_sites(records);
    match asked {
        Some(a) if known.iter().any(|(s, _)| s == a) => Ok(Some(a.to_string())),
        Some(a) => Err(SiteRefusal::NoSuchSite {
            asked: a.to_string(),
            known,
        }),
        None if all_sites || known.len() <= 1 => Ok(None),
        None => Err(SiteRefusal::SeveralSites { known }),
    }
}

/// The day of the history's first record of `site` (any site: None).
pub fn first_record(records: &[Record], site: Option<&str>) -> Option<NaiveDate> {
    records
        .iter()
        .filter(|r| site.is_none_or(|s| s == r.stored.site))
        .map(|r| r.report.started_at.date_naive())
        .min()
}

/// The period a pack covers: without `--since`, from the first record (at
/// most twelve months back); a history that starts inside the period is
/// said to (`records_from`), so no answer counts unrecorded days as days
/// without a restore.
pub fn honest_period(asked: Period, since_given: bool, first: Option<NaiveDate>) -> Period {
    let Some(first) = first.filter(|f| *f > asked.since && *f <= asked.until) else {
        return asked;
    };
    Period {
        since: if since_given { asked.since } else { first },
        until: asked.until,
        records_from: Some(first),
    }
}

/// The default period: the twelve months up to and including `today`.
pub fn default_since(until: NaiveDate) -> NaiveDate {
    until
        .checked_sub_months(chrono::Months::new(12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(until)
}
