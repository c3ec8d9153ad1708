//! Running the application's queries on each target: the answer as a row
//! count and fingerprints of the rows as text (under the session settings
//! every connection of ours sets), and the time, as the median of three runs
//! after a warm-up. The targets take turns, run by run, so that neither is
//! timed while the other works on the same two cores. The engines differ
//! in the session's time limit, how a row becomes text and how an error is
//! told apart (the engine's `AnyConnection` says); the runs and the judging
//! are the same.

use super::model::{NamedRun, QueryRun};
use crate::engine::{AnyConnection, EngineKind, QueryFailure, QueryPlace, RowSum};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::redact::Redacted;
use crate::scenario::{AppQuery, Compare};
use std::time::{Duration, Instant};

/// Timed runs per query and target, after one warm-up.
const TIMED_RUNS: usize = 3;
/// Past the server's own statement timeout, how long the client waits for
/// the cancelled query to come back before it gives up on the connection.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// A read-only connection per target (the checks' role), with the query
/// time limit set for the session.
pub async fn connect(engine: EngineKind, reader_url: &str, c: &Compare) -> Result<AnyConnection> {
    let mut conn = AnyConnection::connect(engine, reader_url).await?;
    let secs = c.query_timeout.as_secs();
    let limit = engine.statement_timeout_sql(secs);
    conn.execute(&limit)
        .await
        .map_err(|e| Error::db("setting the query time limit", e))?;
    Ok(conn)
}

/// Every query on every connection (None: the target has none, as it did not
/// restore). Returns each target's runs in the queries' order.
pub async fn run_all(
    conns: &mut [Option<AnyConnection>],
    c: &Compare,
    events: &Events,
) -> Vec<Vec<NamedRun>> {
    let mut out: Vec<Vec<NamedRun>> = conns.iter().map(|_| Vec::new()).collect();
    for q in &c.queries {
        let runs = one_query(conns, q, c).await;
        let words: Vec<String> = runs.iter().map(QueryRun::short).collect();
        events.event(Event::note(format!(
            "query {}: {}",
            q.name,
            words.join(" | ")
        )));
        for (t, run) in runs.into_iter().enumerate() {
            out[t].push(NamedRun {
                name: q.name.clone(),
                run,
            });
        }
    }
    out
}

/// One query on every target: a warm-up each (its answer is the one
/// compared), then the timed runs, the targets taking turns.
async fn one_query(
    conns: &mut [Option<AnyConnection>],
    q: &AppQuery,
    c: &Compare,
) -> Vec<QueryRun> {
    let mut answers: Vec<Option<Answer>> = Vec::new();
    let mut runs: Vec<QueryRun> = Vec::new();
    for conn in conns.iter_mut() {
        let Some(conn) = conn.as_mut() else {
            answers.push(None);
            runs.push(QueryRun::NotRun);
            continue;
        };
        match once(conn, q, c).await {
            Ok(a) => {
                answers.push(Some(a));
                runs.push(QueryRun::NotRun);
            }
            Err(stopped) => {
                answers.push(None);
                runs.push(stopped);
            }
        }
    }
    let mut timings: Vec<Vec<f64>> = conns.iter().map(|_| Vec::new()).collect();
    for _ in 0..TIMED_RUNS {
        for (t, conn) in conns.iter_mut().enumerate() {
            let (Some(conn), Some(_)) = (conn.as_mut(), &answers[t]) else {
                continue;
            };
            match once(conn, q, c).await {
                Ok(a) => timings[t].push(a.ms),
                Err(stopped) => {
                    answers[t] = None;
                    runs[t] = stopped;
                }
            }
        }
    }
    for (t, a) in answers.into_iter().enumerate() {
        if let Some(a) = a {
            runs[t] = QueryRun::Answered {
                rows: a.rows.rows,
                fingerprint: a.rows.hex(),
                order_fingerprint: format!("{:032x}", a.order),
                median_ms: median(&timings[t]),
                runs_ms: timings[t].clone(),
            };
        }
    }
    runs
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

struct Answer {
    rows: RowSum,
    /// The rows' hash in the order they came.
    order: u128,
    ms: f64,
}

/// One run: every row fetched (in text, by the simple protocol), hashed as
/// COPY would print it. A failure or the time limit ends it as a `QueryRun`.
async fn once(conn: &mut AnyConnection, q: &AppQuery, c: &Compare) -> Result<Answer, QueryRun> {
    let started = Instant::now();
    let limit = c.query_timeout + CANCEL_GRACE;
    let mut rows = RowSum::default();
    let mut ordered = xxhash_rust::xxh3::Xxh3::new();
    let mut each = |line: &[u8]| {
        rows.add(line);
        ordered.update(line);
        ordered.update(b"\n");
    };
    let run = conn.each_row_text(&q.sql, &mut each);
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(())) => Ok(Answer {
            rows,
            order: ordered.digest128(),
            ms: started.elapsed().as_secs_f64() * 1000.0,
        }),
        Ok(Err(e)) => Err(failed(conn.failure(&e), q, c, &e)),
        Err(_) => Err(QueryRun::TimedOut {
            after_seconds: limit.as_secs(),
        }),
    }
}

/// What a failed run was, from the engine's reading of its error: the time
/// limit, or an error located in the query file where the server says it is.
fn failed(f: QueryFailure, q: &AppQuery, c: &Compare, e: &sqlx::Error) -> QueryRun {
    if f.timed_out {
        return QueryRun::TimedOut {
            after_seconds: c.query_timeout.as_secs(),
        };
    }
    let at = match f.at {
        Some(QueryPlace::Char(pos)) => q.origin_of(pos),
        Some(QueryPlace::Line(line)) => q.origin_of_line(line),
        None => q.origin(),
    };
    QueryRun::Failed {
        refused_write: f.refused_write,
        sqlstate: f.sqlstate,
        message: message(e),
        at,
    }
}

/// The error as its typed parts: a failing query's message can quote a value.
fn message(e: &sqlx::Error) -> Redacted {
    Redacted::said(&crate::redact::Said::of_sqlx(e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_median_is_the_middle_run() {
        assert_eq!(super::median(&[9.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0]), 2.5);
        assert!(super::median(&[]).is_nan());
    }
}
