//! Checks on a restored database, each with its own result: the manifest's
//! counts and fingerprints, referential integrity discovered from the restored
//! schema itself, business invariants, custom SQL expectations, freshness.
//! Results hold counts, names and timings, never row values.
//!
//! This module keeps the job list and the scheduler; `run` asks each check
//! of the engine's check session (`engine::reader`), `judge` decides its
//! result (pure), `bound` stops a check past the drill's time bound.

use crate::catalog::Manifest;
use crate::engine::EngineKind;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::redact::Redacted;
pub use crate::report::facts::{CheckResult, Status, MANIFEST_CHECK};
use crate::restore::Streamed;
pub use crate::scenario::rules::{parse_invariants, plan_switches, rule_names, PlanSwitch};
use crate::scenario::{Checks, Invariants};
use chrono::{DateTime, Utc};
use std::time::Instant;

mod bound;
mod judge;
mod refusal;
mod run;

pub use crate::engine::reader::{orphans_query, AntiJoin, ForeignKey, Session};
pub use judge::{
    compare, judge_foreign_keys, judge_freshness, judge_rules, judge_sql, judge_streamed,
    known_backup_time, manifest_to_compare,
};

/// What the checks need to know about the backup and the sandbox.
pub struct Context<'a> {
    pub manifest: Option<&'a Manifest>,
    pub backup_time: Option<DateTime<Utc>>,
    /// The tables' fingerprints read from the dump while it restored.
    pub streamed: Option<&'a Streamed>,
    /// How each check session may use the sandbox's CPUs and memory.
    pub session: Session,
}

impl Session {
    /// Pure: the CPUs shared among the check sessions, and 1/32 of the
    /// memory the sandbox has while they run for each sort or hash (a query
    /// holds a few at once, each up to twice that for a hash, and two run side
    /// by side), between 4 and 256 MiB. That memory is its limit plus the
    /// staging area a parallel restore used and freed before the checks:
    /// 64 MiB in a 2 GiB sandbox that streamed, 82 MiB after staging 600 MB.
    pub fn for_sandbox(cpus: f64, memory_bytes: i64, staging_bytes: Option<u64>) -> Session {
        let per_session = (cpus / CHECK_WORKERS as f64).floor() as u32;
        let memory = memory_bytes.max(0) as u64 + staging_bytes.unwrap_or(0);
        Session {
            parallel_workers: per_session.saturating_sub(1),
            work_mem_mib: (memory >> 25).clamp(4, 256),
            tmp_table_mib: (memory >> 23).clamp(16, 1024),
        }
    }
}

/// How many read-only connections the checks share: the sandbox has two
/// cores, and the manifest's COPY streams, the orphan counts and the business
/// rules are independent queries.
pub(crate) const CHECK_WORKERS: usize = 2;

/// One check to run, in the order the report lists them.
enum Job {
    Manifest,
    ForeignKeys,
    /// One query deciding one or more rules, a count column per rule, and
    /// the planner switches it runs under.
    Invariant(Vec<String>, String, Vec<PlanSwitch>),
    Sql(usize),
    Freshness(usize),
}

/// Runs every check the plan asks for, two at a time, each session on a
/// login of its own (`logins`, their URLs); results come back in the plan's
/// order. The costliest rules go first where the engine estimates costs.
async fn run_all(
    logins: &[String],
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
    b: &bound::Bound<'_>,
) -> Result<Vec<CheckResult>> {
    let jobs = jobs(plan, &*b.engine)?;
    let total = jobs.len();
    let mut conns = Vec::with_capacity(CHECK_WORKERS);
    for url in logins.iter().take(total.max(1)) {
        conns.push(bound::Bounded::open(b.engine, url.clone(), ctx.session).await?);
    }
    let mut costs = Vec::with_capacity(total);
    for job in &jobs {
        costs.push(match (job, conns[0].conn()) {
            (Job::Invariant(_, q, s), Some(c)) => c.cost(q, s).await,
            _ => None,
        });
    }
    Ok(run_queued(conns, schedule(jobs, &costs), plan, ctx, events, b).await)
}

/// Each session takes the next job of `order` when it is free (a list
/// schedule: with the longest first, no session ends up running a long job
/// alone); the results come back in the report's order.
async fn run_queued(
    conns: Vec<bound::Bounded>,
    order: Vec<(usize, Job)>,
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
    b: &bound::Bound<'_>,
) -> Vec<CheckResult> {
    let queue = std::sync::Mutex::new(order.into_iter());
    let queue = &queue;
    let worker = |mut conn: bound::Bounded| async move {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.next());
            let Some((i, job)) = next else { break };
            for r in conn.run(job, plan, ctx, b).await {
                events.event(Event::note(format!(
                    "check {}: {} ({:.1} s)",
                    r.name,
                    r.status.as_str(),
                    r.seconds
                )));
                done.push((i, r));
            }
        }
        done
    };
    let runs = futures_util::future::join_all(conns.into_iter().map(worker)).await;
    // A stable sort: the rules of one query keep their order.
    let mut results: Vec<(usize, CheckResult)> = runs.into_iter().flatten().collect();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Pure: the order the check sessions take the jobs in, each with its place in
/// the report. The manifest and foreign keys first, then the costliest rules
/// first (longest-first keeps one session from running a long rule alone at
/// the end while the other idles), then everything else in the plan's order.
fn schedule(jobs: Vec<Job>, costs: &[Option<f64>]) -> Vec<(usize, Job)> {
    let mut order: Vec<(usize, Job)> = jobs.into_iter().enumerate().collect();
    let rank = |i: usize, job: &Job| match job {
        Job::Manifest | Job::ForeignKeys => (0, 0.0),
        _ => match costs.get(i).copied().flatten() {
            Some(c) => (1, -c),
            None => (2, 0.0),
        },
    };
    // A stable sort: equal ranks keep the plan's order.
    order.sort_by(|(a, ja), (b, jb)| {
        let (ra, rb) = (rank(*a, ja), rank(*b, jb));
        ra.0.cmp(&rb.0).then(ra.1.total_cmp(&rb.1))
    });
    order
}

/// Runs the checks on a restored database of `engine`, as the administrator
/// at `admin_url` makes each session a login that can only read the
/// restored application's tables; the administrator also stops any check
/// past the plan's bound.
pub async fn run_for(
    engine: EngineKind,
    admin_url: &str,
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
) -> Result<Vec<CheckResult>> {
    let logins =
        crate::engine::check_logins(engine, admin_url, CHECK_WORKERS, plan.timeout).await?;
    let b = bound::Bound {
        engine,
        admin_url,
        limit: plan.timeout,
    };
    run_all(&logins, plan, ctx, events, &b).await
}

/// The checks the plan asks for, in the order the report lists them, with
/// the clinic's rules in the engine's dialect; a rule's planner switches
/// only where the engine has them.
fn jobs(plan: &Checks, engine: &dyn crate::engine::Engine) -> Result<Vec<Job>> {
    let mut jobs = vec![Job::Manifest];
    if plan.foreign_keys {
        jobs.push(Job::ForeignKeys);
    }
    if let Some(inv) = &plan.invariants {
        let text = match inv {
            Invariants::Clinic => engine.clinic_rules().to_string(),
            Invariants::File(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::io("read the invariants file", p, e))?,
        };
        for (name, text) in parse_invariants(&text) {
            let (set, query) = plan_switches(&text)
                .and_then(|(set, q)| match set.is_empty() || engine.planner_switches() {
                    true => Ok((set, q)),
                    false => Err(format!(
                        "planner switches (SET LOCAL) are PostgreSQL's; a {} rule cannot carry them",
                        engine.name()
                    )),
                })
                .map_err(|why| Error::Usage(format!("{}, rule {name:?}: {why}", rules_label(inv))))?;
            jobs.push(Job::Invariant(rule_names(&name), query, set));
        }
    }
    jobs.extend((0..plan.sql.len()).map(Job::Sql));
    jobs.extend((0..plan.freshness.len()).map(Job::Freshness));
    Ok(jobs)
}

async fn timed(name: &str, f: impl std::future::Future<Output = (Status, String)>) -> CheckResult {
    let t = Instant::now();
    let (status, detail) = f.await;
    CheckResult {
        name: name.to_string(),
        status,
        detail: Redacted::ours(detail),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Where a rule came from, for an error about it.
fn rules_label(inv: &Invariants) -> String {
    match inv {
        Invariants::Clinic => "the clinic rules".into(),
        Invariants::File(p) => format!("invariants file {}", p.display()),
    }
}

#[cfg(test)]
mod tests;
