//! Before an upgrade: the same backup restored into every target of
//! `[compare]` (the first is the baseline, today's version), the drill's
//! checks and the application's queries run on each, and the targets compared
//! side by side. `target` prepares one target, `query` runs the queries,
//! `probe` reads the catalogs, `judge` compares (pure); this file
//! orchestrates. Every outcome leaves a report.

pub mod judge;
pub mod model;
pub mod query;
mod summary;
pub mod target;

use crate::catalog::list::Candidate;
use crate::drill;
use crate::engine::AnyConnection;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::measure::Phase;
use crate::report::{Attempt, BackupEvidence, DrillError, ScenarioInfo};
use crate::sandbox::{self, RunId};
use crate::scenario::{Compare, Plan};
use chrono::{DateTime, Utc};
use model::{ComparisonReport, Concurrency, RestoreOutcome, Settings, TargetReport};
use std::sync::Arc;
use std::time::Duration;

pub struct CompareOutcome {
    pub report: ComparisonReport,
    /// The error that stopped the comparison, if one did (the report says it too).
    pub error: Option<Error>,
}

/// What the comparison found out, filled in as it goes.
struct Facts {
    attempts: Vec<Attempt>,
    evidence: Option<BackupEvidence>,
    concurrency: Concurrency,
    targets: Vec<TargetReport>,
    dump_seconds: Option<f64>,
    /// Where the comparison was when it stopped.
    phase: &'static str,
}

impl Facts {
    /// Nothing found yet: every target not run.
    fn new(plan: &Plan, phase: &'static str) -> Self {
        Facts {
            attempts: Vec::new(),
            evidence: None,
            concurrency: Concurrency {
                concurrent: false,
                reason: "not started".into(),
                restores_overlap_seconds: None,
            },
            targets: plan
                .compare
                .iter()
                .flat_map(|c| c.targets.iter().map(|t| not_run(t)))
                .collect(),
            dump_seconds: None,
            phase,
        }
    }
}

struct Env<'a> {
    docker: &'a bollard::Docker,
    run: &'a RunId,
    plan: &'a Plan,
    compare: &'a Compare,
    events: &'a Events,
}

pub async fn run(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    keys: Arc<Vec<IdentitySource>>,
    events: &Events,
) -> CompareOutcome {
    let started = Utc::now();
    let mut f = Facts::new(plan, "select");
    let result = match &plan.compare {
        Some(c) => {
            let env = Env {
                docker,
                run,
                plan,
                compare: c,
                events,
            };
            drive(&env, keys, &mut f).await
        }
        None => Err(Error::Usage(format!(
            "{} has no [compare] section",
            plan.file.display()
        ))),
    };
    // The run's sandboxes go whatever happened (the command line's cleanup
    // of the run covers an interrupted one).
    let _ = sandbox::gc::cleanup_run(docker, run).await;
    assemble(plan, run, started, f, result.err())
}

/// The report of a comparison that could not start (a key refused, Docker
/// unreachable, interrupted).
pub fn error_report(plan: &Plan, run: &RunId, phase: &str, e: &Error) -> ComparisonReport {
    let f = Facts::new(plan, "start");
    let mut r = report_of(plan, run, Utc::now(), f, Some(e));
    if let Some(err) = r.error.as_mut() {
        err.phase = phase.to_string();
    }
    r
}

fn not_run(image: &str) -> TargetReport {
    TargetReport {
        image: image.to_string(),
        server_version: None,
        restore: RestoreOutcome::NotRun,
        phases: Vec::new(),
        checks: Vec::new(),
        queries: Vec::new(),
        schema: None,
    }
}

async fn drive(env: &Env<'_>, keys: Arc<Vec<IdentitySource>>, f: &mut Facts) -> Result<()> {
    let candidate = choose(env, &keys, f).await?;
    f.phase = "check images";
    let mut missing = Vec::new();
    for image in &env.compare.targets {
        if let Err(e) = sandbox::ensure_image(env.docker, image).await {
            missing.push(e.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(Error::Environment(missing.join("\n")));
    }
    f.concurrency = concurrency(
        env.compare.targets.len(),
        env.plan.target.memory_bytes,
        crate::restore::available_memory(),
    );
    f.phase = "prepare targets";
    let ctx = target::Ctx {
        docker: env.docker,
        run: env.run,
        plan: env.plan,
        keys,
        candidate: &candidate,
        together: f
            .concurrency
            .concurrent
            .then(|| tokio::sync::Barrier::new(env.compare.targets.len())),
    };
    let prepared = prepare_all(env, &ctx, f.concurrency.concurrent).await?;
    let mut sandboxes = Vec::new();
    for (t, p) in f.targets.iter_mut().zip(prepared) {
        t.server_version = p.server_version;
        t.restore = p.restore;
        t.phases = p.phases;
        t.checks = p.checks;
        sandboxes.push(p.sandbox);
    }
    f.concurrency.restores_overlap_seconds = overlap(&f.targets, "restore");
    compare_on(env, &sandboxes, f).await
}

/// The backups in selection order, until one verifies against its manifest:
/// every target restores that one.
async fn choose(
    env: &Env<'_>,
    keys: &Arc<Vec<IdentitySource>>,
    f: &mut Facts,
) -> Result<Candidate> {
    let locations = drill::plan_locations(env.plan)?;
    let candidates = drill::select(&locations, env.plan)
        .await?
        .candidates_or_unrecoverable(&locations, env.plan)?;
    let tries = env.plan.backups.tries(candidates.len());
    for (location, c) in candidates.into_iter().take(tries) {
        match drill::attempt::verify(&c, keys.clone(), Vec::new()).await? {
            Ok(v) => {
                let mut ev = drill::evidence(&c, None, keys);
                ev.sha256 = Some(v.sha256);
                f.evidence = Some(ev);
                return Ok(c);
            }
            Err(u) => {
                f.evidence = Some(drill::evidence(&c, None, keys));
                f.attempts.push(drill::unusable_attempt(&location, &c, &u));
            }
        }
    }
    Err(Error::Unrecoverable(
        "no backup verified against its manifest and opened with the keys given: there is nothing to compare. The attempts say why each was refused".into(),
    ))
}

/// Every target at once, or one after the other; the first target that
/// fails to start stops the others (they are removed with the run).
async fn prepare_all(
    env: &Env<'_>,
    ctx: &target::Ctx<'_>,
    concurrent: bool,
) -> Result<Vec<target::Prepared>> {
    let tagged = |i: usize, image: &str| -> Events {
        Arc::new(target::Tagged {
            inner: env.events.clone(),
            tag: image.to_string(),
            progress: i == 0,
        })
    };
    let mut jobs = Vec::new();
    for (i, image) in env.compare.targets.iter().enumerate() {
        jobs.push(target::prepare(ctx, image, tagged(i, image)));
    }
    if concurrent {
        return futures_util::future::try_join_all(jobs).await;
    }
    let mut out = Vec::new();
    for job in jobs {
        out.push(job.await?);
    }
    Ok(out)
}

/// Queries, catalogs and the baseline's dump time, then the sandboxes go.
async fn compare_on(env: &Env<'_>, sandboxes: &[sandbox::Sandbox], f: &mut Facts) -> Result<()> {
    let engine = env.plan.target.engine;
    f.phase = "analyze";
    for (t, sb) in f
        .targets
        .iter_mut()
        .zip(sandboxes)
        .filter(|(t, _)| t.restored())
    {
        // Timed as a phase of the target: part of what an upgrade costs.
        let tagged: Events = Arc::new(target::Tagged {
            inner: env.events.clone(),
            tag: t.image.clone(),
            progress: false,
        });
        let mut clock = crate::measure::Clock::new(&tagged);
        clock.begin("analyze");
        analyze(sb, env.plan.target.restore_timeout)
            .await
            .map_err(|e| target::in_target(&t.image, e))?;
        t.phases.extend(clock.finish());
    }
    f.phase = "queries";
    let mut conns = Vec::new();
    for (t, sb) in f.targets.iter().zip(sandboxes) {
        conns.push(match t.restored() {
            true => Some({
                // Made before the restore, the reader can read nothing yet.
                crate::engine::grant_reading(engine, &sb.url(), &sb.creds.reader)
                    .await
                    .map_err(|e| target::in_target(&t.image, e))?;
                query::connect(engine, &sb.reader_url(), env.compare)
                    .await
                    .map_err(|e| target::in_target(&t.image, e))?
            }),
            false => None,
        });
    }
    let runs = query::run_all(&mut conns, env.compare, env.events).await;
    drop(conns);
    for (t, r) in f.targets.iter_mut().zip(runs) {
        t.queries = r;
    }
    f.phase = "schema";
    for (t, sb) in f.targets.iter_mut().zip(sandboxes) {
        let facts = tokio::time::timeout(
            Duration::from_secs(120),
            sb.engine.schema_facts(&sb.url(), &sb.reader_url()),
        )
        .await
        .map_err(|_| Error::Failed(format!("{}: reading the catalogs took over 120 s", t.image)))?
        .map_err(|e| target::in_target(&t.image, e))?;
        t.schema = Some(facts);
    }
    keep_relevant_extensions(&mut f.targets);
    if f.targets.first().is_some_and(|t| t.restored()) {
        f.phase = "dump time";
        f.dump_seconds = dump_seconds(&sandboxes[0], env.events).await;
    }
    Ok(())
}

/// A restore leaves the planner without fresh statistics, and the server
/// would gather them at a moment of its choosing (PostgreSQL's autovacuum,
/// InnoDB's background recalculation), perhaps on one target in the middle
/// of its timed runs: every target is analyzed first, as an upgrade's own
/// steps do (`vacuumdb --analyze-in-stages`; `ANALYZE TABLE` on MariaDB).
async fn analyze(sb: &sandbox::Sandbox, limit: Duration) -> Result<()> {
    let mut conn = AnyConnection::connect(sb.engine, &sb.url()).await?;
    let Some(sql) = conn.analyze_sql().await? else {
        return Ok(());
    };
    tokio::time::timeout(limit, conn.execute(&sql))
        .await
        .map_err(|_| {
            Error::Failed(format!(
                "ANALYZE of the restored database took over {} s (restore_timeout_minutes)",
                limit.as_secs()
            ))
        })?
        .map_err(|e| Error::db("analyzing the restored database", e))?;
    Ok(())
}

/// The report keeps, of what each server offers, only the extensions some
/// target has installed.
fn keep_relevant_extensions(targets: &mut [TargetReport]) {
    let installed: std::collections::BTreeSet<String> = targets
        .iter()
        .filter_map(|t| t.schema.as_ref())
        .flat_map(|s| s.extensions.keys().cloned())
        .collect();
    for s in targets.iter_mut().filter_map(|t| t.schema.as_mut()) {
        s.available.retain(|k, _| installed.contains(k));
    }
}

/// How long the engine's dump tool takes to read the restored baseline
/// (written nowhere): the first half of an upgrade by dump and restore.
/// Evidence, not a condition: a failure leaves it unknown.
async fn dump_seconds(sb: &sandbox::Sandbox, events: &Events) -> Option<f64> {
    let crate::engine::ToolCommand { command: cmd, user } = sb.engine.dump_to_nowhere(&sb.creds);
    let cmd_name = cmd[0].clone();
    let started = std::time::Instant::now();
    // The default limits bound the whole dump (4 h), as they bound a restore.
    let req = sandbox::ExecRequest::new(cmd)
        .user(user)
        .limits(sandbox::Limits::default());
    match sandbox::exec(&sb.docker, &sb.container, req).await {
        Ok(out) if out.succeeded() => Some(started.elapsed().as_secs_f64()),
        Ok(out) => {
            events.event(Event::note(format!(
                "timing a dump of the baseline failed: {}",
                crate::redact::ToolSaid::parse(&cmd_name, &out.stderr_text()).text()
            )));
            None
        }
        Err(_) => None,
    }
}

/// Concurrent restores when every target's memory limit fits in three
/// quarters of the memory available now; else one after the other.
pub fn concurrency(targets: usize, limit_bytes: i64, available: Option<u64>) -> Concurrency {
    let each = limit_bytes.max(0) as u64;
    let mib = |b: u64| b >> 20;
    let (concurrent, reason) = match available {
        Some(a) if targets as u64 * each <= a / 4 * 3 => (
            true,
            format!(
                "{targets} x {} MiB fit in the {} MiB of memory available",
                mib(each),
                mib(a)
            ),
        ),
        Some(a) => (
            false,
            format!(
                "{targets} x {} MiB do not fit in three quarters of the {} MiB available: one target after the other",
                mib(each),
                mib(a)
            ),
        ),
        None => (
            false,
            "the memory available is unknown: one target after the other".into(),
        ),
    };
    Concurrency {
        concurrent,
        reason,
        restores_overlap_seconds: None,
    }
}

/// Seconds during which every target's phase `name` ran at once (None when
/// a target has no such phase).
pub fn overlap(targets: &[TargetReport], name: &str) -> Option<f64> {
    let spans: Vec<(f64, f64)> = targets
        .iter()
        .map(|t| t.phases.iter().find(|p| p.name == name).map(span))
        .collect::<Option<_>>()?;
    let start = spans.iter().map(|s| s.0).fold(f64::MIN, f64::max);
    let end = spans.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    Some((end - start).max(0.0))
}

fn span(p: &Phase) -> (f64, f64) {
    let start = p.started_at.timestamp_micros() as f64 / 1e6;
    (start, start + p.seconds)
}

fn assemble(
    plan: &Plan,
    run: &RunId,
    started: DateTime<Utc>,
    mut f: Facts,
    error: Option<Error>,
) -> CompareOutcome {
    // A query that fails on the baseline is the query file's mistake.
    let error = error.or_else(|| {
        let c = plan.compare.as_ref()?;
        let base = f.targets.first().filter(|t| t.restored())?;
        let broken = judge::broken_query(&c.queries, base)?;
        f.phase = "queries";
        Some(broken)
    });
    let report = report_of(plan, run, started, f, error.as_ref());
    CompareOutcome { report, error }
}

fn report_of(
    plan: &Plan,
    run: &RunId,
    started: DateTime<Utc>,
    f: Facts,
    error: Option<&Error>,
) -> ComparisonReport {
    let empty = Compare {
        targets: Vec::new(),
        queries: Vec::new(),
        slower_than: 2.0,
        ignore_below: Duration::ZERO,
        query_timeout: Duration::ZERO,
    };
    let c = plan.compare.as_ref().unwrap_or(&empty);
    let items = judge::items(&f.targets, c);
    ComparisonReport {
        report_version: model::COMPARISON_VERSION,
        kind: "comparison",
        tool: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        site: plan.site_name().to_string(),
        scenario: ScenarioInfo::of(plan),
        run_id: run.id.clone(),
        started_at: started,
        finished_at: Utc::now(),
        verdict: judge::verdict(&f.targets, &items, error),
        error: error.map(|e| DrillError::new(f.phase, e)),
        backup: f.evidence,
        attempts: f.attempts,
        baseline: c.targets.first().cloned().unwrap_or_default(),
        settings: Settings {
            slower_than: c.slower_than,
            ignore_below_ms: c.ignore_below.as_secs_f64() * 1000.0,
            query_timeout_seconds: c.query_timeout.as_secs(),
            queries: c.queries.len(),
        },
        concurrency: f.concurrency,
        targets: f.targets,
        items,
        baseline_dump_seconds: f.dump_seconds,
    }
}
