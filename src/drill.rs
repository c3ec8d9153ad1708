//! `restore-drill run`: select a backup, verify it against its manifest,
//! restore it into a throwaway container, check the data, measure RTO and RPO,
//! and say whether the clinic could recover. Phases are timed on the monotonic
//! clock; wall-clock times are kept as evidence.

use crate::catalog::list::{self, Candidate};
use crate::checks::{self, Status};
use crate::engine::postgres;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::report::{
    Attempt, AttemptOutcome, BackupEvidence, Objective, Phase, Report, ScenarioInfo, TargetInfo,
    Verdict, REPORT_VERSION,
};
use crate::sandbox::{self, RunId, Sandbox, SandboxSpec};
use crate::scenario::{Plan, Select};
use chrono::{DateTime, Utc};
use sqlx::Executor;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
}

/// Phase timing: a monotonic start paired with a wall-clock start.
struct Stopwatch {
    start: Instant,
    phases: Vec<Phase>,
    events: Events,
}

impl Stopwatch {
    fn begin(&self, name: &str) -> (String, Instant, DateTime<Utc>) {
        self.events.event(Event::PhaseStarted {
            name: name.to_string(),
        });
        (name.to_string(), Instant::now(), Utc::now())
    }
    fn end(&mut self, (name, t, at): (String, Instant, DateTime<Utc>)) {
        let seconds = t.elapsed().as_secs_f64();
        self.events.event(Event::PhaseFinished {
            name: name.clone(),
            seconds,
        });
        self.phases.push(Phase {
            name,
            seconds,
            started_at: at,
        });
    }
    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

pub async fn run(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    keys: Arc<Vec<IdentitySource>>,
    opts: DrillOptions,
    events: &Events,
) -> Result<DrillOutcome> {
    let started_at = Utc::now();
    let mut sw = Stopwatch {
        start: Instant::now(),
        phases: Vec::new(),
        events: events.clone(),
    };
    let location = plan
        .backups
        .location
        .clone()
        .ok_or_else(|| Error::Usage("no backup location".into()))?;

    let p = sw.begin("select");
    let candidates = select(&location, plan)?;
    sw.end(p);

    let mut attempts = Vec::new();
    let mut evidence: Option<BackupEvidence> = None;
    let mut restored: Option<(Sandbox, Candidate)> = None;
    // One candidate for now: the selected backup. (Falling back to older copies
    // and other locations is the failure scenarios' job.)
    if let Some(c) = candidates.first() {
        let mut ev = BackupEvidence {
            path: c.path.display().to_string(),
            bytes: c.bytes,
            sha256: c.manifest.as_ref().map(|m| m.artifact.sha256.clone()),
            created_at: c.time,
            time_source: c.time_source,
            layers: Vec::new(),
            manifest: c.manifest.is_some(),
            decrypted_with: None,
            dump_bytes: None,
        };
        let p = sw.begin("verify artifact");
        let verified = verify_artifact(c).await;
        sw.end(p);
        match verified {
            Err(reason) => attempts.push(unusable(c, &reason)),
            Ok(sha) => {
                ev.sha256 = Some(sha);
                let p = sw.begin("start sandbox");
                let sb = Sandbox::start(docker, run, &spec(plan)).await;
                sw.end(p);
                let sb = sb?;
                let p = sw.begin("restore");
                let r = crate::restore::restore_file(&sb, &c.path, keys.clone(), events).await;
                sw.end(p);
                match r {
                    Ok(r) => {
                        ev.layers = r.layers.clone();
                        ev.dump_bytes = Some(r.dump_bytes);
                        ev.decrypted_with = r
                            .decrypted_by
                            .and_then(|i| keys.get(i))
                            .map(|k| k.path.display().to_string());
                        attempts.push(Attempt {
                            path: c.path.display().to_string(),
                            location: "primary".into(),
                            outcome: AttemptOutcome::Restored,
                            reason: None,
                        });
                        restored = Some((sb, c.clone()));
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::Unrecoverable | ErrorKind::Failed) => {
                        attempts.push(unusable(c, &e.to_string()));
                        sandbox::gc::cleanup_run(docker, run).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        evidence = Some(ev);
    }

    let mut checks = Vec::new();
    let mut rto = None;
    let mut server_version = None;
    let mut kept = None;
    let recovered_from = restored
        .as_ref()
        .map(|(_, c)| format!("primary: {}", c.file_name()));
    if let Some((sb, c)) = restored {
        let p = sw.begin("checks");
        let mut conn = postgres::connect(&sb.url(), Duration::from_secs(10)).await?;
        server_version = postgres::server_version(&mut conn).await.ok();
        if let Some(sql) = &opts.before_checks_sql {
            conn.execute(sqlx::raw_sql(sql))
                .await
                .map_err(|e| Error::db("running the test hook", e))?;
        }
        drop(conn);
        let ctx = checks::Context {
            manifest: c.manifest.as_ref(),
            backup_time: c.time,
        };
        checks = checks::run_all(&sb.url(), &plan.checks, &ctx, events).await?;
        sw.end(p);
        if checks
            .iter()
            .all(|c| matches!(c.status, Status::Passed | Status::Skipped))
        {
            rto = Some(sw.elapsed());
        }
        if opts.keep {
            kept = Some(sb);
        } else {
            let p = sw.begin("teardown");
            sandbox::gc::cleanup_run(docker, run).await?;
            sw.end(p);
        }
    }

    let backup_time = evidence.as_ref().and_then(|e| e.created_at);
    let rpo = backup_time.map(|t| (started_at - t).num_milliseconds() as f64 / 1000.0);
    let objectives = objectives(plan, rto, rpo);
    let verdict = if recovered_from.is_none() {
        Verdict::Unrecoverable
    } else if checks
        .iter()
        .all(|c| matches!(c.status, Status::Passed | Status::Skipped))
        && objectives.iter().all(|o| o.status == Status::Passed)
    {
        Verdict::Passed
    } else {
        Verdict::Failed
    };
    let report = Report {
        report_version: REPORT_VERSION,
        tool: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            file: plan.file.display().to_string(),
        },
        run_id: run.id.clone(),
        started_at,
        finished_at: Utc::now(),
        verdict,
        rto_seconds: rto,
        rpo_seconds: rpo,
        objectives,
        phases: sw.phases,
        checks,
        backup: evidence,
        recovered_from,
        attempts,
        target: TargetInfo {
            image: plan.target.image.clone(),
            server_version,
        },
    };
    Ok(DrillOutcome { report, kept })
}

fn spec(plan: &Plan) -> SandboxSpec {
    let mut s = SandboxSpec::new(plan.target.engine, &plan.target.image);
    s.memory_bytes = plan.target.memory_bytes;
    s.cpus = plan.target.cpus;
    s.ready_timeout = plan.target.ready_timeout;
    s
}

/// Backups to try, newest first, as the scenario selects them. An empty
/// location is an unrecoverable situation, not an empty success.
fn select(location: &std::path::Path, plan: &Plan) -> Result<Vec<Candidate>> {
    let all = list::scan(location, plan.backups.name_prefix.as_deref())?;
    let chosen: Vec<Candidate> = match plan.backups.select {
        Select::Latest => all,
        Select::LatestBefore(t) => all
            .into_iter()
            .filter(|c| c.time.is_some_and(|ct| ct < t))
            .collect(),
    };
    if chosen.is_empty() {
        return Err(Error::Unrecoverable(format!(
            "no backup found in {}{}: nothing can be restored. Check the backup job and the location (--backups DIR)",
            location.display(),
            match plan.backups.select {
                Select::Latest => String::new(),
                Select::LatestBefore(t) => format!(" before {}", t.to_rfc3339()),
            }
        )));
    }
    Ok(chosen)
}

/// Size and SHA-256 against the manifest, before anything is decrypted: a cut
/// at a zstd frame boundary or a swapped file shows here and nowhere else.
async fn verify_artifact(c: &Candidate) -> std::result::Result<String, String> {
    if let Some(e) = &c.manifest_error {
        return Err(format!("its manifest cannot be read: {e}"));
    }
    let path = c.path.clone();
    let (sha, bytes) = tokio::task::spawn_blocking(move || crate::pipeline::sha256_file(&path))
        .await
        .map_err(|e| format!("internal error: {e}"))?
        .map_err(|e| format!("cannot read it: {e}"))?;
    if let Some(m) = &c.manifest {
        if bytes != m.artifact.bytes {
            return Err(format!(
                "it does not match its manifest: {bytes} bytes on disk, {} in the manifest (truncated or replaced)",
                m.artifact.bytes
            ));
        }
        if sha != m.artifact.sha256 {
            return Err(format!(
                "it does not match its manifest: SHA-256 {sha} on disk, {} in the manifest (damaged or replaced)",
                m.artifact.sha256
            ));
        }
    }
    Ok(sha)
}

fn unusable(c: &Candidate, reason: &str) -> Attempt {
    Attempt {
        path: c.path.display().to_string(),
        location: "primary".into(),
        outcome: AttemptOutcome::Unusable,
        reason: Some(reason.to_string()),
    }
}

fn objectives(plan: &Plan, rto: Option<f64>, rpo: Option<f64>) -> Vec<Objective> {
    let judge = |target: f64, actual: Option<f64>| match actual {
        None => Status::Unknown,
        Some(a) if a <= target => Status::Passed,
        Some(_) => Status::Failed,
    };
    let mut out = Vec::new();
    if let Some(t) = plan.objectives.rto_seconds {
        out.push(Objective {
            name: "RTO".into(),
            target_seconds: t,
            actual_seconds: rto,
            status: judge(t, rto),
        });
    }
    if let Some(t) = plan.objectives.rpo_seconds {
        out.push(Objective {
            name: "RPO (backup age)".into(),
            target_seconds: t,
            actual_seconds: rpo,
            status: judge(t, rpo),
        });
    }
    out
}
