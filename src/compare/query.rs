//! Running the application's queries on each target: the answer as a row
//! count and fingerprints of the rows as text (under the session settings
//! every connection of ours sets), and the time, as the median of three runs
//! after a warm-up. The targets take turns, run by run, so that neither is
//! timed while the other works on the same two cores.

use super::model::{NamedRun, QueryRun};
use crate::engine::{postgres, RowSum};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::redact::Redacted;
use crate::scenario::{AppQuery, Compare};
use futures_util::StreamExt;
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};
use sqlx::{Executor, Row, ValueRef};
use std::time::{Duration, Instant};

/// Timed runs per query and target, after one warm-up.
const TIMED_RUNS: usize = 3;
/// Past the server's own statement timeout, how long the client waits for
/// the cancelled query to come back before it gives up on the connection.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// A read-only connection per target (the checks' role), with the query
/// time limit set for the session.
pub async fn connect(reader_url: &str, c: &Compare) -> Result<PgConnection> {
    let mut conn = postgres::connect(reader_url, Duration::from_secs(10)).await?;
    let limit = format!("SET statement_timeout = '{}s'", c.query_timeout.as_secs());
    conn.execute(limit.as_str())
        .await
        .map_err(|e| Error::db("setting the query time limit", e))?;
    Ok(conn)
}

/// Every query on every connection (None: the target has none, as it did not
/// restore). Returns each target's runs in the queries' order.
pub async fn run_all(
    conns: &mut [Option<PgConnection>],
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
async fn one_query(conns: &mut [Option<PgConnection>], q: &AppQuery, c: &Compare) -> Vec<QueryRun> {
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
async fn once(conn: &mut PgConnection, q: &AppQuery, c: &Compare) -> Result<Answer, QueryRun> {
    let started = Instant::now();
    let run = hashed(conn, &q.sql);
    let limit = c.query_timeout + CANCEL_GRACE;
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(mut a)) => {
            a.ms = started.elapsed().as_secs_f64() * 1000.0;
            Ok(a)
        }
        Ok(Err(e)) => Err(failed(q, c, &e)),
        Err(_) => Err(QueryRun::TimedOut {
            after_seconds: limit.as_secs(),
        }),
    }
}

/// Every row of the query's answer, counted and hashed.
async fn hashed(conn: &mut PgConnection, sql: &str) -> Result<Answer, sqlx::Error> {
    let mut stream = sqlx::raw_sql(sql).fetch(conn);
    let mut a = Answer {
        rows: RowSum::default(),
        order: 0,
        ms: 0.0,
    };
    let mut ordered = xxhash_rust::xxh3::Xxh3::new();
    while let Some(row) = stream.next().await {
        let line = row_text(&row?);
        a.rows.add(&line);
        ordered.update(&line);
        ordered.update(b"\n");
    }
    a.order = ordered.digest128();
    Ok(a)
}

/// A row as COPY's text format would print it: columns joined by tabs, NULL
/// as `\N`.
fn row_text(row: &sqlx::postgres::PgRow) -> Vec<u8> {
    let mut line = Vec::new();
    for i in 0..row.len() {
        if i > 0 {
            line.push(b'\t');
        }
        match row.try_get_raw(i) {
            Ok(v) if v.is_null() => line.extend_from_slice(b"\\N"),
            Ok(v) => line.extend_from_slice(v.as_bytes().unwrap_or_default()),
            Err(_) => line.extend_from_slice(b"\\?"),
        }
    }
    line
}

/// 57014 query_canceled is the statement timeout; anything else is an error
/// located in the query file where the server says it is.
fn failed(q: &AppQuery, c: &Compare, e: &sqlx::Error) -> QueryRun {
    let db = e.as_database_error();
    let code = db.and_then(|d| d.code()).map(|c| c.into_owned());
    if code.as_deref() == Some("57014") {
        return QueryRun::TimedOut {
            after_seconds: c.query_timeout.as_secs(),
        };
    }
    let pg = db.and_then(|d| d.try_downcast_ref::<PgDatabaseError>());
    let at = match pg.and_then(|p| p.position()) {
        Some(PgErrorPosition::Original(pos)) => q.origin_of(pos),
        _ => q.origin(),
    };
    let message = match db {
        Some(d) => Redacted::new(d.message()),
        None => Redacted::new(e.to_string()),
    };
    QueryRun::Failed {
        sqlstate: code,
        message,
        at,
    }
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
