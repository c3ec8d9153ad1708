//! PostgreSQL: connecting, exporting a snapshot so the dump and the manifest's
//! fingerprints describe the same data, and fingerprinting tables from COPY.

pub mod archive;
mod contract;
mod dump;
mod faults;
mod generator;
mod reader;
mod restore;
mod schema;

pub use contract::Postgres;

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
/// The URL with its passwords hidden (the user part's and a `?password=`),
/// for messages.
pub fn redact_url(url: &str) -> String {
    super::db_url::masked(url)
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

/// Creates the login role a comparison's queries use, before anything is
/// restored: it can log in and read nothing yet (`grant_reading` gives it
/// the restored application's tables). Temporary tables and objects in
/// `public` are refused to everyone, and its statements are bounded in time.
pub async fn create_reader(admin_url: &str, c: &super::Credentials, limit: Duration) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let reader = quote_ident(&c.reader);
    let database = quote_ident(&c.database);
    let sql = format!(
        "CREATE ROLE {reader} LOGIN PASSWORD '{}' NOSUPERUSER NOCREATEDB NOCREATEROLE; \
         ALTER ROLE {reader} SET default_transaction_read_only = on; \
         ALTER ROLE {reader} SET statement_timeout = '{}s'; \
         REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC; \
         REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        c.reader_password.replace('\'', "''"),
        limit.as_secs().max(1)
    );
    run_admin(
        &mut conn,
        &sql,
        "creating the read-only role for the checks",
    )
    .await
}

/// Runs administrator statements that a server that just said it is ready
/// answers in milliseconds (a restored catalog of thousands of tables, in
/// seconds).
async fn run_admin(conn: &mut PgConnection, sql: &str, doing: &str) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(60), conn.execute(sqlx::raw_sql(sql)))
        .await
        .map_err(|_| {
            Error::Environment(format!(
                "{doing} took over 60 s: the sandbox is stuck or overloaded"
            ))
        })?
        .map_err(|e| Error::db(doing, e))?;
    Ok(())
}

/// The group role holding what the checks may read; each check login and
/// the comparison's reader are its members.
pub const READERS: &str = "drill_readers";

/// Functions of the server that write (large objects, notifications) or
/// signal another session. EXECUTE is granted to PUBLIC by default, and a
/// read-only transaction does not stop them: `lo_from_bytea` wrote 64 MB
/// inside `BEGIN READ ONLY`. `set_config` stays: `SET` does what it does and
/// cannot be revoked, so the bound that holds is the drill's own (the
/// checks' client-side timeout). Advisory locks stay: they only make a
/// session wait that asks for the same lock, which the drill's checks never do.
pub const REFUSED_FUNCTIONS: [&str; 14] = [
    "lo_from_bytea",
    "lo_import",
    "lo_export",
    "lo_create",
    "lo_creat",
    "lowrite",
    "lo_put",
    "lo_truncate",
    "lo_truncate64",
    "lo_unlink",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_notify",
    "dblink",
];

/// Catalogs that hold secrets, which only `pg_read_all_data` (not granted)
/// or a superuser can read: named when a check is refused them.
pub const SECRET_CATALOGS: [&str; 4] =
    ["pg_authid", "pg_shadow", "pg_user_mapping", "pg_statistic"];

/// The refusal in `e` (42501 insufficient_privilege) when the check's
/// `query` names a function or catalog the checks' role is refused; `None`
/// otherwise (the caller's other paths say what was refused).
pub fn refusal(e: &sqlx::Error, query: &str) -> Option<super::refusal::Refusal> {
    use super::refusal::named;
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    if d.code().as_deref() != Some("42501") {
        return None;
    }
    let function = named(query, &REFUSED_FUNCTIONS, true).map(|f| format!("function {f}"));
    let object =
        function.or_else(|| named(query, &SECRET_CATALOGS, false).map(|t| format!("table {t}")))?;
    Some(super::refusal::Refusal {
        code: "SQLSTATE 42501".into(),
        meaning: "permission denied",
        object: Some(object),
    })
}

/// Every function EXECUTE is revoked on, as `regprocedure` text: the
/// writers and signals above (every overload), anything of dblink, and the
/// restored application's own `SECURITY DEFINER` functions, which would run
/// with their owner's rights.
const REVOKED_FUNCTIONS: &str = "SELECT p.oid::regprocedure::text FROM pg_proc p \
     JOIN pg_namespace n ON n.oid = p.pronamespace \
     WHERE (n.nspname = 'pg_catalog' AND p.proname = ANY($1)) \
        OR p.proname LIKE 'dblink%' \
        OR (p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')) \
     ORDER BY 1";

/// The restored application's schemas: every schema but the server's own.
const APP_SCHEMAS: &str = "SELECT nspname::text FROM pg_namespace \
     WHERE nspname NOT IN ('pg_catalog', 'information_schema') \
       AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%' ORDER BY 1";

/// Gives the group `READERS` USAGE on the restored application's schemas and
/// SELECT on their tables and sequences, and nothing of the server's own;
/// takes from PUBLIC every grant on those tables and sequences (a dump may
/// grant PUBLIC writes, or MAINTAIN on 17, which refreshes materialized
/// views; the group's SELECT is all the drill needs) and EXECUTE on the
/// functions that write or signal. Run after the
/// restore (the schemas are the restored ones) and before any check; again
/// is harmless.
pub async fn grant_reading(admin_url: &str, database: &str) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let doing = "granting the checks' roles the restored application's tables";
    let schemas: Vec<String> = sqlx::query_scalar(APP_SCHEMAS)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| Error::db(doing, e))?;
    let functions: Vec<String> = sqlx::query_scalar(REVOKED_FUNCTIONS)
        .bind(REFUSED_FUNCTIONS.to_vec())
        .fetch_all(&mut conn)
        .await
        .map_err(|e| Error::db(doing, e))?;
    let sql = reading_grants(database, &schemas, &functions);
    run_admin(&mut conn, &sql, doing).await
}

/// Pure: the statements of `grant_reading`, for these schemas and functions
/// (each function as `regprocedure` text, quoted where it needs to be).
pub fn reading_grants(database: &str, schemas: &[String], functions: &[String]) -> String {
    let group = quote_ident(READERS);
    let mut sql = format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READERS}') \
         THEN CREATE ROLE {group} NOLOGIN; END IF; END $$; \
         REVOKE CREATE, TEMPORARY ON DATABASE {} FROM PUBLIC; ",
        quote_ident(database)
    );
    for s in schemas.iter().map(|s| quote_ident(s)) {
        sql.push_str(&format!(
            "REVOKE CREATE ON SCHEMA {s} FROM PUBLIC; \
             REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC; \
             REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC; \
             GRANT USAGE ON SCHEMA {s} TO {group}; \
             GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {group}; \
             GRANT SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {group}; "
        ));
    }
    for f in functions {
        sql.push_str(&format!("REVOKE EXECUTE ON FUNCTION {f} FROM PUBLIC; "));
    }
    sql
}

/// Creates a login role for one check session, a member of `READERS` and of
/// nothing else: its own, so that no session may signal or read another's,
/// read-only by default, its statements bounded by the server a little past
/// the drill's own bound (`limit`), which holds even when a check lifts this.
pub async fn create_check_login(
    admin_url: &str,
    user: &str,
    password: &str,
    limit: Duration,
) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let role = quote_ident(user);
    let sql = format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS \
           IN ROLE {}; \
         ALTER ROLE {role} SET default_transaction_read_only = on; \
         ALTER ROLE {role} SET statement_timeout = '{}s'",
        password.replace('\'', "''"),
        quote_ident(READERS),
        limit.as_secs().max(1)
    );
    run_admin(&mut conn, &sql, "creating a check session's role").await
}

/// Adds `member` to `READERS` (the comparison's reader, after the restore).
pub async fn join_readers(admin_url: &str, member: &str) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let sql = format!("GRANT {} TO {}", quote_ident(READERS), quote_ident(member));
    run_admin(
        &mut conn,
        &sql,
        "letting the comparison's role read the restored tables",
    )
    .await
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

/// A row as COPY's text format would print it: columns joined by tabs, NULL
/// as `\N`.
pub fn row_text(row: &sqlx::postgres::PgRow) -> Vec<u8> {
    use sqlx::ValueRef;
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

/// What a failed query was: 57014 query_canceled is the statement timeout;
/// 25006 read_only_sql_transaction and 42501 insufficient_privilege a
/// refused change; the server says the character it failed at.
pub fn query_failure(e: &sqlx::Error) -> super::QueryFailure {
    use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
    let db = e.as_database_error();
    let code = db.and_then(|d| d.code()).map(|c| c.into_owned());
    let pg = db.and_then(|d| d.try_downcast_ref::<PgDatabaseError>());
    let at = match pg.and_then(|p| p.position()) {
        Some(PgErrorPosition::Original(pos)) => Some(super::QueryPlace::Char(pos)),
        _ => None,
    };
    super::QueryFailure {
        timed_out: code.as_deref() == Some("57014"),
        refused_write: matches!(code.as_deref(), Some("25006" | "42501")),
        sqlstate: code,
        at,
    }
}

/// The exact number of rows in a table.
pub async fn count_rows(conn: &mut PgConnection, table: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", quote_qualified(table)))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::db(format!("counting the rows of {table}"), e))?;
    Ok(n.max(0) as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_group_reads_each_restored_schema_and_nothing_that_writes_or_signals() {
        let schemas = ["public".to_string(), "Billing".to_string()];
        let functions = [
            "lo_from_bytea(oid,bytea)".to_string(),
            "\"Billing\".close_month()".to_string(),
        ];
        let sql = reading_grants("clinic", &schemas, &functions);
        for s in ["\"public\"", "\"Billing\""] {
            assert!(sql.contains(&format!("GRANT USAGE ON SCHEMA {s} TO \"drill_readers\"")));
            assert!(sql.contains(&format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO \"drill_readers\""
            )));
            assert!(sql.contains(&format!(
                "REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC"
            )));
            assert!(sql.contains(&format!("REVOKE CREATE ON SCHEMA {s} FROM PUBLIC")));
        }
        assert!(sql.contains("REVOKE EXECUTE ON FUNCTION lo_from_bytea(oid,bytea) FROM PUBLIC"));
        assert!(sql.contains("REVOKE EXECUTE ON FUNCTION \"Billing\".close_month() FROM PUBLIC"));
        assert!(sql.contains("REVOKE CREATE, TEMPORARY ON DATABASE \"clinic\" FROM PUBLIC"));
        assert!(!sql.contains("pg_read_all_data"), "{sql}");
        assert!(
            !sql.contains("GRANT INSERT") && !sql.contains("GRANT UPDATE"),
            "{sql}"
        );
    }
}
