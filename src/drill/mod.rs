//! `restore-drill run`: select a backup, verify it against its manifest,
//! restore it into a throwaway container, check the data, measure RTO and RPO,
//! and say whether the clinic could recover. `attempt` verifies and restores
//! one candidate, `assess` judges (pure functions); this file only
//! orchestrates. A drill always ends with a report: an infrastructure error
//! becomes the verdict `error`, with the phase it happened in.

pub mod assess;
pub mod attempt;
pub mod bound;
pub mod detection;

use crate::catalog::list::Candidate;
use crate::catalog::Location;
use crate::checks::{self, CheckResult};
use crate::error::{Error, ErrorKind, Result};
use crate::events::Events;
use crate::faults::{self, Effect, Staged};
use crate::keys::IdentitySource;
use crate::measure::{Clock, Moment};
use crate::redact::Redacted;
use crate::report::facts::RunKind;
use crate::report::{
    Attempt, AttemptOutcome, BackupEvidence, ClockStart, DrillError, LostWrites, Report,
    ScenarioInfo, SkippedFile, TargetInfo, REPORT_VERSION,
};
use crate::sandbox::{self, RunId, Sandbox};
use crate::scenario::{Plan, Select};
use crate::unusable::Unusable;
use attempt::Tried;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The objectives' names in the report (`detection` derives their finding
/// kinds from these).
pub use crate::report::{RPO, RTO};

#[derive(Default)]
pub struct DrillOptions {
    /// Leave the sandbox running (the caller prints how to reach it).
    pub keep: bool,
    /// Test hook: SQL run against the restored database before the checks, so a
    /// test can prove that a changed value is caught.
    pub before_checks_sql: Option<String>,
}

pub struct DrillOutcome {
    pub report: Report,
    /// The sandbox, when kept.
    pub kept: Option<Sandbox>,
    /// Lost-server: the workload's own log (sequence numbers and commit times),
    /// to be kept beside the report; the scratch space it was written in is gone.
    pub workload_log: Option<Vec<u8>>,
    /// The error that stopped the drill, if one did (the report says it too).
    pub error: Option<Error>,
}

/// Everything the drill found out, filled in as it goes, so that a drill that
/// dies part-way still reports what it had.
struct Facts {
    /// Where RTO and RPO count from, and what happened then.
    clock_start: (Moment, &'static str),
    /// stale-backups: the drill's "now" is this much later.
    clock_ahead: Duration,
    staged: Option<Staged>,
    attempts: Vec<Attempt>,
    /// Files skipped at selection as not backups.
    skipped: Vec<SkippedFile>,
    evidence: Option<BackupEvidence>,
    recovered: Option<(String, Candidate)>,
    newest_time: Option<DateTime<Utc>>,
    checks: Vec<CheckResult>,
    /// Seconds from the clock's start to the end of the checks.
    checks_done: Option<f64>,
    server_version: Option<String>,
    lost_writes: Option<LostWrites>,
    kept: Option<Sandbox>,
    protection: Vec<crate::protection::Protection>,
}

impl Facts {
    fn new() -> Self {
        Facts {
            clock_start: (Moment::now(), "drill start"),
            clock_ahead: Duration::ZERO,
            staged: None,
            attempts: Vec::new(),
            skipped: Vec::new(),
            evidence: None,
            recovered: None,
            newest_time: None,
            checks: Vec::new(),
            checks_done: None,
            server_version: None,
            lost_writes: None,
            kept: None,
            protection: Vec::new(),
        }
    }
}

/// The report of a drill that could not even start (Docker unreachable, a key
/// file refused, interrupted): verdict `error`, with the phase and the reason.
pub fn error_report(plan: &Plan, run: &RunId, phase: &str, error: &Error) -> Report {
    assemble(
        plan,
        run,
        Utc::now(),
        &mut Facts::new(),
        Vec::new(),
        Some((phase.to_string(), error)),
    )
}

struct Env<'a> {
    docker: &'a bollard::Docker,
    run: &'a RunId,
    plan: &'a Plan,
    opts: &'a DrillOptions,
    events: &'a Events,
}

pub async fn run(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    keys: Arc<Vec<IdentitySource>>,
    opts: DrillOptions,
    events: &Events,
) -> DrillOutcome {
    let started = Utc::now();
    let mut clock = Clock::new(events);
    let mut facts = Facts::new();
    let env = Env {
        docker,
        run,
        plan,
        opts: &opts,
        events,
    };
    let result = drive(&env, keys, &mut clock, &mut facts).await;
    let phase = clock.current().unwrap_or("start").to_string();
    let error = result.err();
    let mut report = assemble(
        plan,
        run,
        started,
        &mut facts,
        clock.finish(),
        error.as_ref().map(|e| (phase, e)),
    );
    let workload_log = match facts.staged.as_ref().map(|s| &s.effect) {
        Some(Effect::ServerLost(w)) => std::fs::read(&w.path).ok(),
        _ => None,
    };
    drop(facts.staged.take()); // scratch space removed here
    let error = match report.verdict {
        crate::report::Verdict::Passed => error,
        _ => engine_gone(docker, plan, &mut report).await.or(error),
    };
    DrillOutcome {
        report,
        kept: facts.kept,
        workload_log,
        error,
    }
}

/// A drill that did not pass, on an engine that no longer answers, says
/// nothing of the backups: a sandbox killed with its engine looks like a
/// failed restore or a lost connection. Such a drill ends in an environment
/// error naming the engine, never as failed or unrecoverable.
async fn engine_gone(docker: &bollard::Docker, plan: &Plan, report: &mut Report) -> Option<Error> {
    if crate::sandbox::docker::answers(docker).await {
        return None;
    }
    let phase = report
        .error
        .as_ref()
        .map_or_else(|| "the drill".to_string(), |e| e.phase.clone());
    let engine = match &plan.target.docker_engine {
        Some(name) => format!("the fleet's engine {name}"),
        None => crate::sandbox::docker::docker_host(),
    };
    let e = Error::Environment(format!(
        "Docker is not reachable at {engine}: it stopped answering during {phase}, so nothing is known of the backups. Start the engine again and rerun the drill; restore-drill gc, run against that engine, removes what this drill left there"
    ));
    report.verdict = crate::report::Verdict::Error;
    report.error = Some(crate::report::DrillError::new(phase, &e));
    if let Some(x) = report.expectation.as_mut() {
        x.met = false;
    }
    Some(e)
}

/// The drill's steps in order; `?` leaves the facts gathered so far in `f`.
async fn drive(
    env: &Env<'_>,
    keys: Arc<Vec<IdentitySource>>,
    clock: &mut Clock,
    f: &mut Facts,
) -> Result<()> {
    let (locations, keys) = match &env.plan.simulate {
        Some(fault) => {
            clock.begin("simulate");
            let s = faults::stage(env.docker, env.run, env.plan, keys, fault, env.events).await?;
            clock.end();
            f.clock_start = (s.disaster.at(), s.disaster.event());
            if let Effect::ClockAhead(d) = s.effect {
                f.clock_ahead = d;
            }
            let chosen = (s.locations.clone(), s.keys.clone());
            f.staged = Some(s);
            chosen
        }
        None => (plan_locations(env.plan)?, keys),
    };
    // Measured beside the restore, on the scenario's own locations (never
    // on a simulation's scratch copies); joined when the drill has ended.
    let protection = protect(env);
    clock.begin("select");
    let selection = select(&locations, env.plan).await?;
    f.skipped = selection.skipped.clone();
    let candidates = selection.candidates_or_unrecoverable(&locations, env.plan)?;
    f.newest_time = candidates.iter().filter_map(|(_, c)| c.time).max();
    let tries = env.plan.backups.tries(candidates.len());
    let effect = f.staged.as_ref().map_or(Effect::None, |s| s.effect.clone());
    let ctx = attempt::Ctx {
        docker: env.docker,
        run: env.run,
        plan: env.plan,
        keys: keys.clone(),
        events: env.events,
        effect: &effect,
    };
    for (location, c) in candidates.into_iter().take(tries) {
        let tried = attempt::attempt(&ctx, clock, &c).await;
        // Evidence of the candidate even when the machine failed under it.
        f.evidence = Some(evidence(&c, tried.as_ref().ok(), &keys));
        match tried? {
            Tried::Unusable { unusable, .. } => {
                f.attempts.push(unusable_attempt(&location, &c, &unusable))
            }
            Tried::Restored {
                sandbox, restored, ..
            } => {
                f.attempts.push(restored_attempt(&location, &c));
                f.recovered = Some((location, c.clone()));
                verify_restored(env, clock, f, (*sandbox, &restored), &c).await?;
                break;
            }
        }
    }
    f.protection = protection.await.unwrap_or_default();
    Ok(())
}

/// The reach of every location of the scenario that can be measured.
fn protect(env: &Env<'_>) -> tokio::task::JoinHandle<Vec<crate::protection::Protection>> {
    let locations = plan_locations(env.plan).unwrap_or_default();
    let reach = env.plan.backups.reach.clone();
    let user = env.plan.backups.production_user.clone();
    let run = env.run.id.clone();
    tokio::spawn(async move {
        crate::protection::measure(&locations, &reach, user.as_deref(), &run).await
    })
}

/// Checks, lost writes, then teardown (or keep) of the restored sandbox.
async fn verify_restored(
    env: &Env<'_>,
    clock: &mut Clock,
    f: &mut Facts,
    (sb, restored): (Sandbox, &crate::restore::Restored),
    c: &Candidate,
) -> Result<()> {
    clock.begin("checks");
    f.server_version = crate::engine::server_version_within(sb.engine, &sb.url()).await;
    if let Some(sql) = &env.opts.before_checks_sql {
        crate::engine::execute_as_admin(sb.engine, &sb.url(), sql, "running the test hook").await?;
    }
    let ctx = checks::Context {
        manifest: c.manifest.as_ref(),
        backup_time: c.time,
        streamed: Some(&restored.streamed),
        session: checks::Session::for_sandbox(
            env.plan.target.cpus,
            env.plan.target.memory_bytes,
            restored.delivery.staging_bytes(),
        ),
    };
    f.checks = checks::run_for(sb.engine, &sb.url(), &env.plan.checks, &ctx, env.events).await?;
    clock.end();
    f.checks_done = Some(f.clock_start.0.seconds_since());
    if let Some(Effect::ServerLost(log)) = f.staged.as_ref().map(|s| &s.effect) {
        let url = sb.url();
        let lost =
            faults::production::lost_writes((sb.engine, &url), log, c.time, c.manifest.as_ref());
        f.lost_writes = Some(lost.await?);
    }
    if env.opts.keep {
        f.kept = Some(sb);
    } else {
        clock.begin("teardown");
        sandbox::gc::cleanup_run(env.docker, env.run).await?;
        clock.end();
    }
    Ok(())
}

/// The scenario's own locations (a simulation replaces them by scratch copies).
pub(crate) fn plan_locations(plan: &Plan) -> Result<Vec<Location>> {
    let primary = plan
        .backups
        .location
        .clone()
        .ok_or_else(|| Error::Usage("no backup location".into()))?;
    let mut l = vec![Location {
        name: "primary".into(),
        place: primary,
    }];
    if let Some(off) = &plan.backups.offsite {
        l.push(Location {
            name: "offsite".into(),
            place: off.clone(),
        });
    }
    Ok(l)
}

/// What selection found: the backups to try, in order, and the files
/// skipped as not backups.
pub(crate) struct Selection {
    pub candidates: Vec<(String, Candidate)>,
    pub skipped: Vec<SkippedFile>,
}

/// Backups to try, in order: each location's newest first, the primary
/// location before the next; files that are not backups set aside.
pub(crate) async fn select(locations: &[Location], plan: &Plan) -> Result<Selection> {
    let mut out = Selection {
        candidates: Vec::new(),
        skipped: Vec::new(),
    };
    for loc in locations {
        let prefix = plan.backups.name_prefix.as_deref();
        let found = crate::catalog::scan(&loc.place, &plan.backups.reach, prefix).await?;
        out.candidates.extend(
            found
                .candidates
                .into_iter()
                .filter(|c| match plan.backups.select {
                    Select::Latest => true,
                    Select::LatestBefore(t) => c.time.is_some_and(|ct| ct < t),
                })
                .map(|c| (loc.name.clone(), c)),
        );
        out.skipped
            .extend(found.skipped.into_iter().map(|s| SkippedFile {
                path: s.path.display().to_string(),
                location: loc.name.clone(),
                kind: s.kind,
            }));
    }
    Ok(out)
}

impl Selection {
    /// The backups to try. None anywhere is an unrecoverable situation, not
    /// an empty success, and the error says what was skipped.
    pub(crate) fn candidates_or_unrecoverable(
        self,
        locations: &[Location],
        plan: &Plan,
    ) -> Result<Vec<(String, Candidate)>> {
        if !self.candidates.is_empty() {
            return Ok(self.candidates);
        }
        let where_ = locations
            .iter()
            .map(|l| l.place.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        let before = match plan.backups.select {
            Select::Latest => String::new(),
            Select::LatestBefore(t) => format!(" before {}", t.to_rfc3339()),
        };
        let skipped = match crate::report::skipped_text(&self.skipped) {
            Some(s) => format!(" ({s})"),
            None => String::new(),
        };
        Err(Error::Unrecoverable(format!(
            "no backup found in {where_}{before}{skipped}: nothing can be restored. Check the backup job and the location (--backups DIR)"
        )))
    }
}

pub(crate) fn evidence(
    c: &Candidate,
    tried: Option<&Tried>,
    keys: &[IdentitySource],
) -> BackupEvidence {
    let mut ev = BackupEvidence {
        path: c.path.display().to_string(),
        bytes: c.bytes,
        sha256: c.manifest.as_ref().map(|m| m.artifact.sha256.clone()),
        created_at: c.time,
        time_source: c.time_source,
        layers: Vec::new(),
        manifest: c.manifest.is_some(),
        recipients: c.manifest.as_ref().map(|m| m.encryption.recipients.len()),
        decrypted_with: None,
        dump_bytes: None,
        restored_as: None,
        restored_data: None,
        location_kind: c.origin.seen().map(|_| c.origin.kind()),
        network_bytes: c.origin.seen().map(|s| s.network_bytes()),
    };
    match tried {
        Some(Tried::Restored {
            restored,
            sha256,
            data,
            ..
        }) => {
            ev.restored_data = *data;
            ev.sha256 = Some(sha256.clone());
            ev.layers = restored.layers.clone();
            ev.dump_bytes = Some(restored.dump_bytes);
            ev.restored_as = Some(restored.delivery.clone());
            ev.decrypted_with = restored
                .decrypted_by
                .and_then(|i| keys.get(i))
                .map(|k| k.path.display().to_string());
        }
        Some(Tried::Unusable {
            sha256: Some(sha), ..
        }) => ev.sha256 = Some(sha.clone()),
        _ => {}
    }
    ev
}

pub(crate) fn unusable_attempt(location: &str, c: &Candidate, u: &Unusable) -> Attempt {
    Attempt {
        path: c.path.display().to_string(),
        location: location.to_string(),
        outcome: AttemptOutcome::Unusable,
        kind: Some(u.kind().to_string()),
        reason: Some(Redacted::ours(u.reason())),
        finding: Some(Redacted::ours(u.finding())),
    }
}

fn restored_attempt(location: &str, c: &Candidate) -> Attempt {
    Attempt {
        path: c.path.display().to_string(),
        location: location.to_string(),
        outcome: AttemptOutcome::Restored,
        kind: None,
        reason: None,
        finding: None,
    }
}

/// The report from the facts; the judging is `assess`'s.
fn assemble(
    plan: &Plan,
    run: &RunId,
    started: DateTime<Utc>,
    f: &mut Facts,
    phases: Vec<crate::measure::Phase>,
    error: Option<(String, &Error)>,
) -> Report {
    let clock_at =
        f.clock_start.0.wall + chrono::Duration::from_std(f.clock_ahead).unwrap_or_default();
    let rto = assess::rto(&f.checks, f.checks_done);
    let backup_time = f.evidence.as_ref().and_then(|e| e.created_at);
    let rpo = assess::rpo(f.lost_writes.as_ref(), backup_time, clock_at);
    let objectives = assess::objectives(&plan.objectives, rto, rpo);
    let restored_time = f.recovered.as_ref().and_then(|(_, c)| c.time);
    let verdict = assess::verdict(&assess::Findings {
        died: error
            .as_ref()
            .map(|(_, e)| e.kind() == ErrorKind::Unrecoverable),
        recovered: f.recovered.is_some(),
        fell_back: f
            .attempts
            .iter()
            .any(|a| a.outcome == AttemptOutcome::Unusable),
        checks: &f.checks,
        objectives: &objectives,
    });
    let mut report = Report {
        report_version: REPORT_VERSION,
        tool: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        site: plan.site_name().to_string(),
        kind: if plan.simulate.is_some() {
            RunKind::Rehearsal
        } else {
            RunKind::Drill
        },
        host: Some(crate::sandbox::run::hostname()),
        contacts: plan.contacts.clone(),
        scenario: ScenarioInfo::of(plan),
        run_id: run.id.clone(),
        started_at: started,
        finished_at: Utc::now(),
        verdict,
        error: error.map(|(phase, e)| DrillError::new(phase, e)),
        clock_started: ClockStart {
            at: clock_at,
            event: f.clock_start.1.to_string(),
        },
        rto_seconds: rto,
        rpo_seconds: rpo,
        objectives,
        phases,
        checks: std::mem::take(&mut f.checks),
        backup: f.evidence.take(),
        recovered_from: f
            .recovered
            .as_ref()
            .map(|(loc, c)| format!("{loc}: {}", c.file_name())),
        attempts: std::mem::take(&mut f.attempts),
        skipped: std::mem::take(&mut f.skipped),
        rpo_cost_seconds: assess::rpo_cost(f.newest_time, restored_time),
        target: TargetInfo {
            engine: Some(plan.target.engine.name().to_string()),
            image: plan.target.image.clone(),
            server_version: f.server_version.take(),
            docker_engine: plan.target.docker_engine.clone(),
        },
        simulation: f.staged.as_ref().map(|s| s.simulation.clone()),
        lost_writes: f.lost_writes.take(),
        expectation: None,
        protection: std::mem::take(&mut f.protection),
    };
    if let Some(expected) = &plan.expect {
        report.expectation = Some(assess::expectation(expected, &report));
    }
    report
}
