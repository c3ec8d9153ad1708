//! Running the application's queries on each target: the answer as a row
//! count and fingerprints of the rows as text (under the session settings
//! every connection of ours sets), and the time, as the median of three runs
//! after a warm-up. The targets take turns, run by run, so that neither is
//! timed while the other works on the same two cores. PostgreSQL and MariaDB
//! differ in the session's time limit, how a row becomes text and how an
//! error is told apart; the runs and the judging are the same.

use super::model::{NamedRun, QueryRun};
use crate::engine::{mariadb, AnyConnection, EngineKind, RowSum};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::redact::Redacted;
use crate::scenario::{AppQuery, Compare};
use futures_util::StreamExt;
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{Row, ValueRef};
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
    let run = async {
        match conn {
            AnyConnection::Postgres(pg) => {
                hashed(sqlx::raw_sql(&q.sql).fetch(pg), pg_row_text).await
            }
            AnyConnection::Mariadb(my) => {
                hashed(sqlx::raw_sql(&q.sql).fetch(my), mariadb_row_text).await
            }
        }
    };
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(mut a)) => {
            a.ms = started.elapsed().as_secs_f64() * 1000.0;
            Ok(a)
        }
        Ok(Err(e)) => Err(match conn {
            AnyConnection::Postgres(_) => pg_failed(q, c, &e),
            AnyConnection::Mariadb(_) => mariadb_failed(q, c, &e),
        }),
        Err(_) => Err(QueryRun::TimedOut {
            after_seconds: limit.as_secs(),
        }),
    }
}

/// Every row of the query's answer, counted and hashed.
async fn hashed<R>(
    mut stream: futures_util::stream::BoxStream<'_, Result<R, sqlx::Error>>,
    row_text: fn(&R) -> Vec<u8>,
) -> Result<Answer, sqlx::Error> {
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
fn pg_row_text(row: &sqlx::postgres::PgRow) -> Vec<u8> {
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

/// The same line from MariaDB's text protocol, as its table fingerprints
/// make it (COPY's escapes included).
fn mariadb_row_text(row: &sqlx::mysql::MySqlRow) -> Vec<u8> {
    let mut line = Vec::new();
    for i in 0..row.len() {
        match row.try_get_unchecked::<Option<&[u8]>, _>(i) {
            Ok(v) => mariadb::push_value(&mut line, i, v),
            Err(_) => {
                mariadb::push_value(&mut line, i, Some(b""));
                line.extend_from_slice(b"\\?");
            }
        }
    }
    line
}

/// 57014 query_canceled is the statement timeout; anything else is an error
/// located in the query file where the server says it is.
fn pg_failed(q: &AppQuery, c: &Compare, e: &sqlx::Error) -> QueryRun {
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
    QueryRun::Failed {
        // 25006 read_only_sql_transaction, 42501 insufficient_privilege.
        refused_write: matches!(code.as_deref(), Some("25006" | "42501")),
        sqlstate: code,
        message: message(e),
        at,
    }
}

/// MariaDB's error numbers say what its SQLSTATEs do not: 1969
/// ER_STATEMENT_TIMEOUT is the time limit; 1142 ER_TABLEACCESS_DENIED_ERROR,
/// 1044 ER_DBACCESS_DENIED_ERROR and 1792 ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
/// are the reader refusing a change (its SQLSTATE, 42000, is also every
/// syntax error's). A syntax error says its line ("... at line 3").
fn mariadb_failed(q: &AppQuery, c: &Compare, e: &sqlx::Error) -> QueryRun {
    let number = mariadb::error_number(e);
    if number == Some(1969) {
        return QueryRun::TimedOut {
            after_seconds: c.query_timeout.as_secs(),
        };
    }
    let db = e.as_database_error();
    let at = db
        .and_then(|d| error_line(d.message()))
        .map_or_else(|| q.origin(), |line| q.origin_of_line(line));
    QueryRun::Failed {
        sqlstate: db.and_then(|d| d.code()).map(|c| c.into_owned()),
        refused_write: matches!(number, Some(1142 | 1044 | 1792)),
        message: message(e),
        at,
    }
}

/// The line of the statement MariaDB's message ends with: `... at line N`.
pub fn error_line(message: &str) -> Option<usize> {
    let (_, n) = message.rsplit_once(" at line ")?;
    n.trim().parse().ok().filter(|n| *n > 0)
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

    #[test]
    fn a_mariadb_syntax_error_says_its_line() {
        let m = "You have an error in your SQL syntax; check the manual that corresponds to \
                 your MariaDB server version for the right syntax to use near 'appointments' at line 2";
        assert_eq!(super::error_line(m), Some(2));
        assert_eq!(
            super::error_line("Unknown column 'x' in 'field list'"),
            None
        );
    }
}
