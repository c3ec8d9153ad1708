//! The drill's own bound on each check. A check's session can lift any bound
//! the server keeps for it (`SET statement_timeout = 0`, `SET SESSION
//! max_statement_time = 0`), so past `[checks] timeout_seconds` the drill
//! stops the check's statement itself, through the administrator's
//! connection, then ends the session with whatever the check SET or began;
//! the next check gets a fresh session. Waiting less is not enough: the
//! server would go on running the query.

use super::{CheckResult, Context, Job, Session, Status};
use crate::engine::reader::Reader;
use crate::engine::{self, EngineKind, Stop};
use crate::redact::Redacted;
use crate::scenario::Checks;
use std::time::{Duration, Instant};

/// How long a stopped check's session has to come back after each stop.
const GRACE: Duration = Duration::from_secs(5);

/// What stopping a check needs: the administrator's URL and the bound.
pub(super) struct Bound<'a> {
    pub engine: EngineKind,
    pub admin_url: &'a str,
    pub limit: Duration,
}

/// One check session: its own login, and the open connection with its id on
/// the server (its backend pid, its connection id) while it has one.
pub(super) struct Bounded {
    engine: EngineKind,
    url: String,
    open: Option<(Box<dyn Reader>, u64)>,
}

impl Bounded {
    /// Opens a session of the login at `url`.
    pub async fn open(
        engine: EngineKind,
        url: String,
        session: Session,
    ) -> crate::error::Result<Bounded> {
        let open = Some(connect(engine, &url, session).await?);
        Ok(Bounded { engine, url, open })
    }

    /// The open session, or a fresh one when the bound ended the last.
    async fn ready(
        &mut self,
        session: Session,
    ) -> crate::error::Result<(&mut (dyn Reader + 'static), u64)> {
        let open = match self.open.take() {
            Some(open) => open,
            None => connect(self.engine, &self.url, session).await?,
        };
        let (conn, id) = self.open.insert(open);
        Ok((conn.as_mut(), *id))
    }

    /// The open connection, for work done before the checks (estimates).
    pub fn conn(&mut self) -> Option<&mut (dyn Reader + 'static)> {
        self.open.as_mut().map(|(c, _)| c.as_mut())
    }

    /// Runs one job within the bound; past it the job's statement is
    /// cancelled and its session ended by the administrator, and each of
    /// its results is an error naming the bound.
    pub async fn run(
        &mut self,
        job: Job,
        plan: &Checks,
        ctx: &Context<'_>,
        b: &Bound<'_>,
    ) -> Vec<CheckResult> {
        let names = job_names(&job, plan);
        let (conn, id) = match self.ready(ctx.session).await {
            Ok(open) => open,
            Err(e) => {
                let why = format!("a fresh check session could not be opened after the drill's bound stopped the previous check: {e}");
                return errors(&names, &why, 0.0);
            }
        };
        let start = Instant::now();
        let mut work = Box::pin(super::run::run_job(b.engine.engine(), conn, job, plan, ctx));
        if let Ok(results) = tokio::time::timeout(b.limit, &mut work).await {
            return results;
        }
        let stopped = stop(b, id, &mut work).await;
        drop(work);
        self.open = None;
        let why = over_bound(b.limit, stopped);
        errors(&names, &why, start.elapsed().as_secs_f64())
    }
}

/// A session of the login at `url`, with its id on the server.
async fn connect(
    engine: EngineKind,
    url: &str,
    session: Session,
) -> crate::error::Result<(Box<dyn Reader>, u64)> {
    let mut conn = engine.open_reader(url, session).await?;
    let id = conn.id().await?;
    Ok((conn, id))
}

/// Cancels the statement, gives the check a moment to come back, then ends
/// the session, whose settings (a lifted timeout, an aborted transaction)
/// must not reach the next check.
async fn stop<F: std::future::Future + Unpin>(
    b: &Bound<'_>,
    id: u64,
    work: &mut F,
) -> crate::error::Result<()> {
    let cancelled = engine::stop_session(b.engine, b.admin_url, id, Stop::Query).await;
    let back = tokio::time::timeout(GRACE, &mut *work).await.is_ok();
    let ended = engine::stop_session(b.engine, b.admin_url, id, Stop::Session).await;
    if !back {
        let _ = tokio::time::timeout(GRACE, work).await;
    }
    cancelled.and(ended)
}

/// Pure: what a check stopped by the bound says.
pub fn over_bound(limit: Duration, stopped: crate::error::Result<()>) -> String {
    let secs = limit.as_secs();
    let how = match stopped {
        Ok(()) => "its statement was cancelled and its session ended by the drill's administrator connection".to_string(),
        Err(e) => format!("the drill could not confirm the server stopped it ({e})"),
    };
    format!(
        "stopped after {secs} s by the drill's bound ([checks] timeout_seconds = {secs}), whatever the check set: {how}. Make the check faster, or raise timeout_seconds"
    )
}

/// Pure: an error result for each name.
fn errors(names: &[String], why: &str, seconds: f64) -> Vec<CheckResult> {
    names
        .iter()
        .map(|name| CheckResult {
            name: name.clone(),
            status: Status::Error,
            detail: Redacted::ours(why),
            seconds,
        })
        .collect()
}

/// Pure: the names of the results a job gives, as the report lists them.
pub fn job_names(job: &Job, plan: &Checks) -> Vec<String> {
    match job {
        Job::Manifest => vec![super::MANIFEST_CHECK.into()],
        Job::ForeignKeys => vec!["referential integrity".into()],
        Job::Invariant(names, ..) => names.iter().map(|n| format!("invariant: {n}")).collect(),
        Job::Sql(k) => vec![format!("sql: {}", plan.sql[*k].name)],
        Job::Freshness(k) => {
            let f = &plan.freshness[*k];
            vec![format!("freshness: {}.{}", f.table, f.column)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_check_names_the_bound_and_how_to_raise_it() {
        let m = over_bound(Duration::from_secs(5), Ok(()));
        assert!(
            m.starts_with("stopped after 5 s by the drill's bound ([checks] timeout_seconds = 5)"),
            "{m}"
        );
        assert!(
            m.contains("cancelled") && m.contains("raise timeout_seconds"),
            "{m}"
        );
        let e = crate::error::Error::Environment("no answer".into());
        let m = over_bound(Duration::from_secs(7), Err(e));
        assert!(
            m.contains("could not confirm") && m.contains("no answer"),
            "{m}"
        );
    }
}
