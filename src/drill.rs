//! `restore-drill run`: select a backup, verify it against its manifest,
//! restore it into a throwaway container, check the data, measure RTO and RPO,
//! and say whether the clinic could recover. Phases are timed on the monotonic
//! clock; wall-clock times are kept as evidence.

use crate::catalog::list::{self, Candidate};
use crate::checks::{self, Status};
use crate::engine::postgres;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, Events};
use crate::faults;
use crate::keys::IdentitySource;
use crate::report::{
    Attempt, AttemptOutcome, BackupEvidence, ExpectationResult, Objective, Phase, Report,
    ScenarioInfo, TargetInfo, Verdict, REPORT_VERSION,
};
use crate::sandbox::{self, RunId, Sandbox, SandboxSpec};
use crate::scenario::{Expectation, Plan, Select};
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
    /// Lost-server: the workload's own log (sequence numbers and commit times),
    /// to be kept beside the report; the scratch space it was written in is gone.
    pub workload_log: Option<Vec<u8>>,
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
    let mut started_at = Utc::now();
    let mut sw = Stopwatch {
        start: Instant::now(),
        phases: Vec::new(),
        events: events.clone(),
    };
    let primary = plan
        .backups
        .location
        .clone()
        .ok_or_else(|| Error::Usage("no backup location".into()))?;

    // Failure scenarios act on scratch copies, staged before the clock starts
    // (lost-server restarts it at the moment of the loss).
    let staged = match &plan.simulate {
        Some(fault) => {
            let p = sw.begin("simulate");
            let staged = faults::stage(docker, run, plan, keys.clone(), fault, events).await?;
            sw.end(p);
            Some(staged)
        }
        None => None,
    };
    let (locations, keys) = match &staged {
        Some(s) => (s.locations.clone(), s.keys.clone()),
        None => {
            let mut l = vec![faults::Location {
                name: "primary".into(),
                path: primary.clone(),
            }];
            if let Some(off) = &plan.backups.offsite {
                l.push(faults::Location {
                    name: "offsite".into(),
                    path: off.clone(),
                });
            }
            (l, keys)
        }
    };
    if let Some(s) = &staged {
        if let Some(lost) = s.lost_at {
            // RTO of a lost server runs from the loss.
            sw.start = lost;
            started_at =
                Utc::now() - chrono::Duration::from_std(lost.elapsed()).unwrap_or_default();
        }
        started_at += chrono::Duration::from_std(s.clock_offset).unwrap_or_default();
    }

    let p = sw.begin("select");
    let candidates = select(&locations, plan)?;
    sw.end(p);
    // Every backup the run could have used: the newest one sets the RPO that a
    // fallback to an older copy is measured against.
    let newest_time = candidates.iter().filter_map(|(_, c)| c.time).max();
    let order: Vec<&(String, Candidate)> = if plan.backups.fallback {
        candidates.iter().collect()
    } else {
        candidates.iter().take(1).collect()
    };

    let mut attempts = Vec::new();
    let mut evidence: Option<BackupEvidence> = None;
    let mut restored: Option<(Sandbox, String, Candidate)> = None;
    for (location, c) in order {
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
        let verified = verify_artifact(c, keys.clone()).await;
        sw.end(p);
        let sha = match verified {
            Err(reason) => {
                attempts.push(unusable(location, c, &reason));
                evidence = Some(ev);
                continue;
            }
            Ok(sha) => sha,
        };
        ev.sha256 = Some(sha);
        let p = sw.begin("start sandbox");
        let mut sandbox_spec = spec(plan);
        sandbox_spec.tmpfs_bytes = staged.as_ref().and_then(|s| s.sandbox_tmpfs);
        let sb = Sandbox::start(docker, run, &sandbox_spec).await;
        sw.end(p);
        let sb = sb?;
        let p = sw.begin("restore");
        let kill_after = staged.as_ref().and_then(|s| s.kill_after);
        let r = match kill_after {
            None => crate::restore::restore_file(&sb, &c.path, keys.clone(), events).await,
            Some(after) => {
                // restore-killed: the recovery server dies part-way.
                let switch = faults::KillSwitch::new(after, events.clone());
                let observer: Events = switch.clone();
                let restore = crate::restore::restore_file(&sb, &c.path, keys.clone(), &observer);
                tokio::pin!(restore);
                let killer = async {
                    switch.fired.notified().await;
                    faults::wait_for_restore_activity(&sb.url()).await;
                    faults::kill_container(docker, &sb.container).await;
                    switch.release();
                    std::future::pending::<()>().await;
                };
                tokio::select! {
                    r = &mut restore => r,
                    _ = killer => unreachable_pending(),
                }
                .map_err(|e| {
                    Error::Unrecoverable(format!(
                        "the recovery server stopped during the restore: {e}"
                    ))
                })
            }
        };
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
                    location: location.clone(),
                    outcome: AttemptOutcome::Restored,
                    reason: None,
                    finding: None,
                });
                evidence = Some(ev);
                restored = Some((sb, location.clone(), c.clone()));
                break;
            }
            Err(e)
                if kill_after.is_some()
                    || matches!(e.kind(), ErrorKind::Unrecoverable | ErrorKind::Failed) =>
            {
                attempts.push(unusable(location, c, &e.to_string()));
                evidence = Some(ev);
                sandbox::gc::cleanup_run(docker, run).await?;
            }
            Err(e) => return Err(e),
        }
    }

    let mut checks = Vec::new();
    let mut rto = None;
    let mut server_version = None;
    let mut kept = None;
    let mut lost_writes = None;
    let recovered_from = restored
        .as_ref()
        .map(|(_, loc, c)| format!("{loc}: {}", c.file_name()));
    let restored_time = restored.as_ref().and_then(|(_, _, c)| c.time);
    if let Some((sb, _, c)) = restored {
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
        if let Some(log) = staged.as_ref().and_then(|s| s.workload.as_ref()) {
            lost_writes =
                Some(faults::lost_writes(&sb.url(), log, c.time, c.manifest.as_ref()).await?);
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
    let rpo = match &lost_writes {
        // Measured, not estimated: from the snapshot to the last write lost.
        Some(l) => l.span_seconds,
        None => backup_time.map(|t| (started_at - t).num_milliseconds() as f64 / 1000.0),
    };
    let rpo_cost = match (newest_time, restored_time) {
        (Some(n), Some(r)) if n > r => Some((n - r).num_milliseconds() as f64 / 1000.0),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let objectives = objectives(plan, rto, rpo);
    // Passed means the backup the clinic would reach for first restored and
    // proved complete: recovering from an older copy is a recovery, but the
    // newest backup failed, and the drill must not hide that.
    let fell_back = attempts
        .iter()
        .any(|a| a.outcome == AttemptOutcome::Unusable);
    let verdict = if recovered_from.is_none() {
        Verdict::Unrecoverable
    } else if !fell_back
        && checks
            .iter()
            .all(|c| matches!(c.status, Status::Passed | Status::Skipped))
        && objectives.iter().all(|o| o.status == Status::Passed)
    {
        Verdict::Passed
    } else {
        Verdict::Failed
    };
    let mut report = Report {
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
        rpo_cost_seconds: rpo_cost,
        target: TargetInfo {
            image: plan.target.image.clone(),
            server_version,
        },
        simulation: staged.as_ref().map(|s| s.simulation.clone()),
        lost_writes,
        expectation: None,
    };
    if let Some(expected) = &plan.expect {
        report.expectation = Some(judge(expected, &report));
    }
    let workload_log = staged
        .as_ref()
        .and_then(|s| s.workload.as_ref())
        .and_then(|w| std::fs::read(&w.path).ok());
    drop(staged); // scratch space removed here
    Ok(DrillOutcome {
        report,
        kept,
        workload_log,
    })
}

/// `select!` arm that can never complete (the killer waits forever once it has
/// fired); kept separate so the types line up.
fn unreachable_pending() -> Result<crate::restore::Restored> {
    Err(Error::Failed(
        "internal error: the kill switch returned".into(),
    ))
}

/// Compares what the scenario expects with what happened.
fn judge(expected: &Expectation, r: &Report) -> ExpectationResult {
    let verdict = match r.verdict {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Unrecoverable => "unrecoverable",
    };
    // Everything the drill detected: unusable backups, failed checks and objectives.
    let mut detections: Vec<String> = r
        .attempts
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Unusable)
        .filter_map(|a| a.reason.clone())
        .collect();
    detections.extend(
        r.checks
            .iter()
            .filter(|c| !matches!(c.status, Status::Passed | Status::Skipped))
            .map(|c| format!("{}: {}", c.name, c.detail)),
    );
    detections.extend(
        r.objectives
            .iter()
            .filter(|o| o.status != Status::Passed)
            .map(|o| format!("{} objective {:?}", o.name, o.status)),
    );
    let recovered_location = r
        .recovered_from
        .as_ref()
        .and_then(|f| f.split(':').next())
        .map(str::to_string);
    let decrypted = r.backup.as_ref().and_then(|b| b.decrypted_with.clone());
    let actual = Expectation {
        verdict: Some(verdict.into()),
        recovered_from: recovered_location.clone(),
        detection: if detections.is_empty() {
            None
        } else {
            Some(detections.join(" | "))
        },
        decrypted_with: if r.recovered_from.is_some() {
            decrypted.clone()
        } else {
            None
        },
    };
    let mut mismatches = Vec::new();
    if let Some(v) = &expected.verdict {
        if v != verdict {
            mismatches.push(format!("verdict: expected {v}, got {verdict}"));
        }
    }
    if let Some(l) = &expected.recovered_from {
        if recovered_location.as_deref() != Some(l.as_str()) {
            mismatches.push(format!(
                "recovered from: expected {l}, got {}",
                recovered_location.as_deref().unwrap_or("nothing")
            ));
        }
    }
    if let Some(d) = &expected.detection {
        if !detections.iter().any(|x| x.contains(d.as_str())) {
            mismatches.push(format!("detection: nothing detected mentions {d:?}"));
        }
    }
    if let Some(k) = &expected.decrypted_with {
        if !actual
            .decrypted_with
            .as_deref()
            .is_some_and(|d| d.contains(k.as_str()))
        {
            mismatches.push(format!(
                "decrypted with: expected a key matching {k:?}, got {}",
                actual.decrypted_with.as_deref().unwrap_or("none")
            ));
        }
    }
    ExpectationResult {
        expected: expected.clone(),
        actual,
        met: mismatches.is_empty(),
        mismatches,
    }
}

fn spec(plan: &Plan) -> SandboxSpec {
    let mut s = SandboxSpec::new(plan.target.engine, &plan.target.image);
    s.memory_bytes = plan.target.memory_bytes;
    s.cpus = plan.target.cpus;
    s.ready_timeout = plan.target.ready_timeout;
    s
}

/// Backups to try, in order: each location's newest first, the primary
/// location before the next. No backup anywhere is an unrecoverable situation,
/// not an empty success.
fn select(locations: &[faults::Location], plan: &Plan) -> Result<Vec<(String, Candidate)>> {
    let mut out = Vec::new();
    for loc in locations {
        let all = list::scan(&loc.path, plan.backups.name_prefix.as_deref())?;
        out.extend(
            all.into_iter()
                .filter(|c| match plan.backups.select {
                    Select::Latest => true,
                    Select::LatestBefore(t) => c.time.is_some_and(|ct| ct < t),
                })
                .map(|c| (loc.name.clone(), c)),
        );
    }
    if out.is_empty() {
        let where_ = locations
            .iter()
            .map(|l| l.path.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(Error::Unrecoverable(format!(
            "no backup found in {where_}{}: nothing can be restored. Check the backup job and the location (--backups DIR)",
            match plan.backups.select {
                Select::Latest => String::new(),
                Select::LatestBefore(t) => format!(" before {}", t.to_rfc3339()),
            }
        )));
    }
    Ok(out)
}

/// Size and SHA-256 against the manifest, before anything is decrypted: a cut
/// at a zstd frame boundary or a swapped file shows here and nowhere else.
async fn verify_artifact(
    c: &Candidate,
    keys: Arc<Vec<IdentitySource>>,
) -> std::result::Result<String, String> {
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
    // Not a backup, or no key fits: known before any container starts.
    let path = c.path.clone();
    let display = c.path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        crate::pipeline::open_layers(Box::new(std::io::BufReader::new(f)), &keys)
            .map(|_| ())
            .map_err(|e| format!("{display} cannot be restored: {e}"))
    })
    .await
    .map_err(|e| format!("internal error: {e}"))??;
    Ok(sha)
}

fn unusable(location: &str, c: &Candidate, reason: &str) -> Attempt {
    Attempt {
        path: c.path.display().to_string(),
        location: location.to_string(),
        outcome: AttemptOutcome::Unusable,
        reason: Some(reason.to_string()),
        finding: Some(finding(reason)),
    }
}

/// The technical reason, said the way a clinic manager would say it.
pub fn finding(reason: &str) -> String {
    let r = reason.to_ascii_lowercase();
    let plain = if r.contains("does not match its manifest: sha-256") {
        "The backup file was altered or damaged after it was made: its checksum no longer matches the one recorded when it was taken."
    } else if r.contains("does not match its manifest") {
        "The backup file is incomplete or was replaced: its size differs from when it was taken."
    } else if r.contains("manifest cannot be read") {
        "The record that describes this backup is damaged, so the backup cannot be trusted."
    } else if r.contains("the file is empty") {
        "The backup file is empty: the backup job wrote nothing."
    } else if r.contains("not a backup") {
        "This file is not a usable backup: it may have been encrypted by ransomware, replaced, or it was never a backup."
    } else if r.contains("none of the identities") || r.contains("no identity was given") {
        "None of the keys at hand can unlock this backup: without the right key (or the escrow key) it is lost."
    } else if r.contains("no space left") || r.contains("could not extend file") {
        "The recovery server ran out of disk space while restoring."
    } else if r.contains("recovery server stopped") {
        "The recovery server stopped in the middle of the restore; the restore did not finish."
    } else if r.contains("is damaged") || r.contains("age header") {
        "The backup is damaged inside: it could not be decrypted or decompressed to the end."
    } else if r.contains("restore tool failed") {
        "The database refused the backup's contents part-way through the restore."
    } else {
        "This backup could not be restored."
    };
    plain.to_string()
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
