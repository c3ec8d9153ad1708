//! One target of a comparison: its sandbox, the restore of the shared backup
//! into it, and the drill's checks there. The targets run this at the same
//! time when the machine's memory allows.

use super::model::RestoreOutcome;
use crate::catalog::list::Candidate;
use crate::checks::{self, CheckResult};
use crate::drill::attempt;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, Events, Observer};
use crate::faults::Effect;
use crate::keys::IdentitySource;
use crate::measure::{Clock, Phase};
use crate::restore::{restore_file, RestoreError};
use crate::sandbox::{RunId, Sandbox};
use crate::scenario::Plan;
use std::sync::Arc;

pub struct Ctx<'a> {
    pub docker: &'a bollard::Docker,
    pub run: &'a RunId,
    pub plan: &'a Plan,
    pub keys: Arc<Vec<IdentitySource>>,
    pub candidate: &'a Candidate,
    /// Concurrent targets start their restores together, once every sandbox
    /// is up: the restores share the machine alike, and they overlap.
    pub together: Option<tokio::sync::Barrier>,
}

/// A target made ready for the queries: restored and checked, or not
/// restored with the reason (its sandbox still answers about extensions).
pub struct Prepared {
    pub sandbox: Sandbox,
    pub phases: Vec<Phase>,
    pub restore: RestoreOutcome,
    pub checks: Vec<CheckResult>,
    pub server_version: Option<String>,
}

pub async fn prepare(ctx: &Ctx<'_>, image: &str, events: Events) -> Result<Prepared> {
    let mut clock = Clock::new(&events);
    clock.begin("start sandbox");
    let mut spec = attempt::spec(ctx.plan, &Effect::None);
    spec.image = image.to_string();
    let sandbox = Sandbox::start(ctx.docker, ctx.run, &spec)
        .await
        .map_err(|e| in_target(image, e))?;
    clock.end();
    if let Some(b) = &ctx.together {
        b.wait().await;
    }
    clock.begin("restore");
    let limits = attempt::limits(ctx.plan);
    let restored = restore_file(
        &sandbox,
        &ctx.candidate.origin,
        ctx.keys.clone(),
        &events,
        limits,
        &crate::restore::Delivery::stream(),
    )
    .await;
    let seconds = clock.end();
    let restore = match restored {
        Ok(r) => RestoreOutcome::Restored {
            seconds,
            messages: r
                .messages
                .as_str()
                .split("; ")
                .filter(|l| !l.trim().is_empty())
                .map(crate::redact::Redacted::ours)
                .collect(),
        },
        Err(RestoreError::Unusable(u)) => RestoreOutcome::Failed {
            kind: u.kind(),
            reason: crate::redact::Redacted::ours(u.reason()),
        },
        Err(RestoreError::Infra(e)) => return Err(in_target(image, e)),
    };
    let mut prepared = Prepared {
        sandbox,
        phases: Vec::new(),
        restore,
        checks: Vec::new(),
        server_version: None,
    };
    clock.begin("checks");
    check(ctx, &mut prepared, &events)
        .await
        .map_err(|e| in_target(image, e))?;
    prepared.phases = clock.finish();
    Ok(prepared)
}

/// The server's version always; the drill's checks when it restored.
async fn check(ctx: &Ctx<'_>, p: &mut Prepared, events: &Events) -> Result<()> {
    let engine = p.sandbox.engine;
    p.server_version = crate::engine::server_version_within(engine, &p.sandbox.url()).await;
    if !matches!(p.restore, RestoreOutcome::Restored { .. }) {
        return Ok(());
    }
    // Every target's tables are read back and fingerprinted the same way.
    let deep = crate::restore::Streamed::NotRead(
        "a comparison reads every target's tables back the same way".into(),
    );
    let cc = checks::Context {
        manifest: ctx.candidate.manifest.as_ref(),
        backup_time: ctx.candidate.time,
        streamed: Some(&deep),
        session: checks::Session::for_sandbox(
            ctx.plan.target.cpus,
            ctx.plan.target.memory_bytes,
            None,
        ),
    };
    let url = p.sandbox.url();
    p.checks = checks::run_for(engine, &url, &ctx.plan.checks, &cc, events).await?;
    Ok(())
}

/// The error, naming the target it happened on, of the same kind.
pub fn in_target(image: &str, e: Error) -> Error {
    let msg = format!("{image}: {e}");
    match e.kind() {
        ErrorKind::Usage => Error::Usage(msg),
        ErrorKind::Environment => Error::Environment(msg),
        ErrorKind::Unrecoverable => Error::Unrecoverable(msg),
        ErrorKind::Failed => Error::Failed(msg),
    }
}

/// Events of one target among several: phase names carry its image, and only
/// the first target moves the byte counter (two restores in one bar would
/// make neither readable).
pub struct Tagged {
    pub inner: Events,
    pub tag: String,
    pub progress: bool,
}

impl Observer for Tagged {
    fn event(&self, event: Event) {
        let event = match event {
            Event::PhaseStarted { name } => Event::PhaseStarted {
                name: format!("{}: {name}", self.tag),
            },
            Event::PhaseFinished { name, seconds } => Event::PhaseFinished {
                name: format!("{}: {name}", self.tag),
                seconds,
            },
            Event::Progress { .. } if !self.progress => return,
            other => other,
        };
        self.inner.event(event);
    }
}
