//! PostgreSQL: connecting, exporting a snapshot so the dump and the manifest's
//! fingerprints describe the same data, and fingerprinting tables from COPY.

use super::TableFingerprint;
use crate::error::{Error, Result};
use futures_util::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Session settings that make COPY's text output the same on every server
/// version and configuration, so fingerprints compare across an upgrade.
const STABLE_OUTPUT: &str = "SET datestyle = 'ISO, YMD'; SET timezone = 'UTC'; \
     SET intervalstyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'";

/// The URL with its password hidden, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable URL>".into(),
    }
}

pub fn parse_url(url: &str) -> Result<PgConnectOptions> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::Usage(format!(
            "invalid database URL {}: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            redact_url(url)
        )));
    }
    PgConnectOptions::from_str(url)
        .map(|o| o.disable_statement_logging())
        .map_err(|e| {
            Error::Usage(format!(
                "invalid database URL {}: {e}. Expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                redact_url(url)
            ))
        })
}

/// Connects, retrying until `patience` is spent (a just-started server may log
/// ready a moment before it accepts TCP).
pub async fn connect(url: &str, patience: Duration) -> Result<PgConnection> {
    let opts = parse_url(url)?;
    let start = Instant::now();
    loop {
        match opts.connect().await {
            Ok(mut c) => {
                c.execute(STABLE_OUTPUT)
                    .await
                    .map_err(|e| Error::db("setting up the session", e))?;
                return Ok(c);
            }
            Err(e) if start.elapsed() < patience && retryable(&e) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(connect_error(url, e)),
        }
    }
}

fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // 57P03: the database system is starting up
        sqlx::Error::Database(d) => d.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

fn connect_error(url: &str, e: sqlx::Error) -> Error {
    let target = redact_url(url);
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("28P01") => Error::Usage(format!(
            "the database at {target} refused the password: check the user and password in the URL"
        )),
        sqlx::Error::Database(d) if d.code().as_deref() == Some("3D000") => Error::Usage(format!(
            "the database named in {target} does not exist: check the URL's database name"
        )),
        _ => Error::Environment(format!(
            "cannot connect to the database at {target}: {}. Check that the server is running and reachable, and the URL",
            crate::redact::connect_words(&e)
        )),
    }
}

/// Creates the login role the checks use: it reads every table
/// (`pg_read_all_data`) and nothing else, so a custom check cannot change the
/// evidence whatever it SETs. Temporary tables and objects in `public` are
/// refused to it too, and its statements are bounded in time.
pub async fn create_reader(admin_url: &str, c: &super::Credentials, limit: Duration) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let reader = quote_ident(&c.reader);
    let database = quote_ident(&c.database);
    let sql = format!(
        "CREATE ROLE {reader} LOGIN PASSWORD '{}' NOSUPERUSER NOCREATEDB NOCREATEROLE; \
         GRANT pg_read_all_data TO {reader}; \
         ALTER ROLE {reader} SET default_transaction_read_only = on; \
         ALTER ROLE {reader} SET statement_timeout = '{}s'; \
         REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC; \
         REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        c.reader_password.replace('\'', "''"),
        limit.as_secs().max(1)
    );
    // A server that just said it is ready answers this in milliseconds.
    tokio::time::timeout(Duration::from_secs(30), conn.execute(sqlx::raw_sql(&sql)))
        .await
        .map_err(|_| {
            Error::Environment(
                "creating the read-only role for the checks took over 30 s: the sandbox is stuck or overloaded".into(),
            )
        })?
        .map_err(|e| Error::db("creating the read-only role for the checks", e))?;
    Ok(())
}

pub async fn server_version(conn: &mut PgConnection) -> Result<String> {
    let row = sqlx::query("SHOW server_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::db("reading the server version", e))?;
    Ok(row.get::<String, _>(0))
}

/// The server's version as evidence, not a condition: a server too slow to
/// say it within 30 s leaves it unknown.
pub async fn server_version_within(conn: &mut PgConnection) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), server_version(conn))
        .await
        .ok()
        .and_then(|v| v.ok())
}

/// Every ordinary table (partitions included, each on its own) outside the
/// system schemas, as `schema.table`, sorted.
pub async fn list_tables(conn: &mut PgConnection) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' \
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::db("listing tables", e))?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

pub fn quote_qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((s, t)) => format!("{}.{}", quote_ident(s), quote_ident(t)),
        None => quote_ident(name),
    }
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Row count and order-independent fingerprint (`RowSum`) of one table, from
/// COPY's text output: each row is one line.
pub async fn fingerprint_table(conn: &mut PgConnection, table: &str) -> Result<TableFingerprint> {
    let statement = format!("COPY {} TO STDOUT", quote_qualified(table));
    let mut stream = conn
        .copy_out_raw(&statement)
        .await
        .map_err(|e| Error::db(format!("reading table {table}"), e))?;
    let mut sum = super::RowSum::default();
    let mut carry: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::db(format!("reading table {table}"), e))?;
        let mut data: &[u8] = &chunk;
        if !carry.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    carry.extend_from_slice(&data[..p]);
                    sum.add(&carry);
                    carry.clear();
                    data = &data[p + 1..];
                }
                None => {
                    carry.extend_from_slice(data);
                    continue;
                }
            }
        }
        while let Some(p) = data.iter().position(|&b| b == b'\n') {
            sum.add(&data[..p]);
            data = &data[p + 1..];
        }
        carry.extend_from_slice(data);
    }
    if !carry.is_empty() {
        sum.add(&carry);
    }
    Ok(TableFingerprint {
        name: table.to_string(),
        rows: sum.rows,
        fingerprint: sum.hex(),
    })
}

/// The exact number of rows in a table.
pub async fn count_rows(conn: &mut PgConnection, table: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", quote_qualified(table)))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::db(format!("counting the rows of {table}"), e))?;
    Ok(n.max(0) as u64)
}

pub async fn fingerprint_tables(
    conn: &mut PgConnection,
    tables: &[String],
) -> Result<Vec<TableFingerprint>> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        out.push(fingerprint_table(conn, t).await?);
    }
    Ok(out)
}

/// A repeatable-read transaction whose snapshot was exported: pg_dump
/// `--snapshot` sees exactly what this connection sees, however many writes the
/// clinic makes meanwhile. Dropping it ends the transaction.
pub struct Snapshot {
    pub conn: PgConnection,
    pub id: String,
}

pub async fn export_snapshot(mut conn: PgConnection) -> Result<Snapshot> {
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(|e| Error::db("starting the snapshot transaction", e))?;
    let row = sqlx::query("SELECT pg_export_snapshot()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| Error::db("exporting a snapshot", e))?;
    let id: String = row.get(0);
    Ok(Snapshot { conn, id })
}

impl Snapshot {
    pub async fn finish(mut self) -> Result<()> {
        self.conn
            .execute("COMMIT")
            .await
            .map_err(|e| Error::db("ending the snapshot transaction", e))?;
        self.conn
            .close()
            .await
            .map_err(|e| Error::db("closing the connection", e))
    }
}

/// The pg_dump arguments of a backup: custom format (pg_restore can list and
/// select from it) without pg_dump's own compression, since zstd does that job
/// better one layer up.
pub fn dump_args(snapshot: &str) -> Vec<String> {
    vec![
        "--format=custom".into(),
        "--compress=0".into(),
        format!("--snapshot={snapshot}"),
        "--no-password".into(),
    ]
}
