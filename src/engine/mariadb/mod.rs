//! MariaDB (and MySQL): connecting, the checks' read-only user, and listing and
//! fingerprinting tables with the same `RowSum` as PostgreSQL's COPY lines.

mod contract;
mod dump;
mod faults;
mod fixture;
mod reader;
mod restore;
mod schema;

pub use contract::Mariadb;

use super::{RowSum, TableFingerprint};
use crate::error::{Error, Result};
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::{ConnectOptions, Executor, Row};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How a MariaDB manifest's fingerprints are computed (its `fingerprint_algorithm`).
pub const FINGERPRINT_ALGORITHM: &str =
    "xxh3-128, wrapping sum over the rows of SELECT * as text (UTC), tab-separated, COPY escapes";

/// Session settings that make the text of every value the same on every server
/// version and configuration: TIMESTAMP columns in UTC.
const STABLE_OUTPUT: &str = "SET time_zone = '+00:00'";

/// Whether a URL names a MariaDB or MySQL server.
pub fn is_url(url: &str) -> bool {
    url.starts_with("mariadb://") || url.starts_with("mysql://")
}

pub fn parse_url(url: &str) -> Result<MySqlConnectOptions> {
    let expected = "Expected mariadb://USER:PASSWORD@HOST:PORT/DATABASE (or mysql://)";
    let redacted = super::postgres::redact_url(url);
    let Some(rest) = url
        .strip_prefix("mariadb://")
        .or_else(|| url.strip_prefix("mysql://"))
    else {
        return Err(Error::Usage(format!(
            "invalid database URL {redacted}. {expected}"
        )));
    };
    let opts = MySqlConnectOptions::from_str(&format!("mysql://{rest}"))
        .map_err(|e| Error::Usage(format!("invalid database URL {redacted}: {e}. {expected}")))?;
    if opts.get_database().is_none_or(str::is_empty) {
        return Err(Error::Usage(format!(
            "the database URL {redacted} names no database. {expected}"
        )));
    }
    Ok(opts.disable_statement_logging())
}

/// Connects, retrying until `patience` is spent (a just-started server may log
/// ready a moment before it accepts TCP).
pub async fn connect(url: &str, patience: Duration) -> Result<MySqlConnection> {
    let opts = parse_url(url)?;
    let start = Instant::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), opts.connect()).await {
            Ok(Ok(mut c)) => {
                c.execute(STABLE_OUTPUT)
                    .await
                    .map_err(|e| Error::db("setting up the session", e))?;
                return Ok(c);
            }
            Ok(Err(e)) if start.elapsed() < patience && matches!(e, sqlx::Error::Io(_)) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(Err(e)) => return Err(connect_error(url, e)),
            Err(_) => {
                return Err(Error::Environment(format!(
                    "connecting to the database at {} took over 10 s: check that the server is running and reachable",
                    super::postgres::redact_url(url)
                )))
            }
        }
    }
}

/// The server's error number (1045, 1049...), which says more than SQLSTATE.
pub fn error_number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(|m| m.number()),
        _ => None,
    }
}

fn connect_error(url: &str, e: sqlx::Error) -> Error {
    let target = super::postgres::redact_url(url);
    match error_number(&e) {
        // ER_ACCESS_DENIED_ERROR
        Some(1045) => Error::Usage(format!(
            "the database at {target} refused the user or password: check them in the URL"
        )),
        // ER_BAD_DB_ERROR
        Some(1049) => Error::Usage(format!(
            "the database named in {target} does not exist: check the URL's database name"
        )),
        _ => Error::Environment(format!(
            "cannot connect to the database at {target}: {}. Check that the server is running and reachable, and the URL",
            crate::redact::connect_words(&e)
        )),
    }
}

pub async fn server_version(conn: &mut MySqlConnection) -> Result<String> {
    let row = conn
        .fetch_one(sqlx::raw_sql("SELECT VERSION()"))
        .await
        .map_err(|e| Error::db("reading the server version", e))?;
    text(&row, 0).ok_or_else(|| Error::Failed("the server did not say its version".into()))
}

/// Column `i` of a text-protocol row as a string (every value is text there).
pub fn text(row: &MySqlRow, i: usize) -> Option<String> {
    let bytes = row.try_get_unchecked::<Option<&[u8]>, _>(i).ok()??;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// Starts a repeatable-read, read-only transaction whose snapshot is taken
/// now (not at its first read).
pub async fn start_snapshot(conn: &mut MySqlConnection) -> Result<()> {
    conn.execute(sqlx::raw_sql(
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
         START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    ))
    .await
    .map_err(|e| Error::db("starting the snapshot transaction", e))?;
    Ok(())
}

/// Creates the user the checks connect as: SELECT on the restored database and
/// nothing else (no other database, no writes, no temporary tables), its
/// statements bounded by `limit`. Runs as root.
pub async fn create_reader(admin_url: &str, c: &super::Credentials, limit: Duration) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let sql = format!(
        "CREATE USER {user}@'%' IDENTIFIED BY {password} WITH MAX_STATEMENT_TIME {secs}; \
         GRANT SELECT, SHOW VIEW ON {db}.* TO {user}@'%'",
        user = quote_literal(&c.reader),
        password = quote_literal(&c.reader_password),
        secs = limit.as_secs().max(1),
        db = quote_ident(&c.database),
    );
    tokio::time::timeout(Duration::from_secs(30), conn.execute(sqlx::raw_sql(&sql)))
        .await
        .map_err(|_| {
            Error::Environment(
                "creating the read-only user for the checks took over 30 s: the sandbox is stuck or overloaded".into(),
            )
        })?
        .map_err(|e| Error::db("creating the read-only user for the checks", e))?;
    Ok(())
}

/// Creates the user one check session connects as: SELECT on the restored
/// database and nothing else (no FILE, PROCESS or SUPER, nothing of `mysql`),
/// its own so that no session may KILL another's (a user may kill its own
/// threads), its statements bounded by the server a little past the drill's
/// own bound (`limit`), which holds even when a check lifts this.
pub async fn create_check_login(
    admin_url: &str,
    user: &str,
    password: &str,
    database: &str,
    limit: Duration,
) -> Result<()> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let sql = format!(
        "CREATE USER {user}@'%' IDENTIFIED BY {password} WITH MAX_STATEMENT_TIME {secs}; \
         GRANT SELECT, SHOW VIEW ON {db}.* TO {user}@'%'",
        user = quote_literal(user),
        password = quote_literal(password),
        secs = limit.as_secs().max(1),
        db = quote_ident(database),
    );
    tokio::time::timeout(Duration::from_secs(30), conn.execute(sqlx::raw_sql(&sql)))
        .await
        .map_err(|_| {
            Error::Environment(
                "creating a check session's user took over 30 s: the sandbox is stuck or overloaded".into(),
            )
        })?
        .map_err(|e| Error::db("creating a check session's user", e))?;
    Ok(())
}

/// Tables of the server's own database that hold its accounts and password
/// hashes: named when a check is refused them.
pub const SECRET_TABLES: [&str; 4] = [
    "mysql.user",
    "mysql.global_priv",
    "mysql.db",
    "mysql.tables_priv",
];

/// The refusal in `e` when it is one of the privileges the checks' user is
/// not given: KILL of another user's session, or the server's own tables
/// when the check's `query` names one; `None` otherwise.
pub fn refusal(e: &sqlx::Error, query: &str) -> Option<super::refusal::Refusal> {
    let number = error_number(e)?;
    let meaning = match number {
        1095 => "not the owner of the session it tried to KILL",
        1227 => "a privilege the checks' user does not hold",
        1142 => "command denied on a table",
        1044 => "access denied to a database",
        _ => return None,
    };
    let object = super::refusal::named(query, &SECRET_TABLES, false).map(|t| format!("table {t}"));
    // A table or database refused that is not the server's own: another
    // path says what was refused.
    if matches!(number, 1142 | 1044) && object.is_none() {
        return None;
    }
    Some(super::refusal::Refusal {
        code: format!("error {number}"),
        meaning,
        object,
    })
}

/// The server's own databases: what a restore leaves beside the clinic's.
const SYSTEM_SCHEMAS: &str = "'mysql', 'information_schema', 'performance_schema', 'sys'";

/// Every database of the server but its own, with the tables and views in
/// each, as the administrator at `admin_url` (the reader sees only its own).
pub async fn databases_with_tables(admin_url: &str) -> Result<Vec<(String, u64)>> {
    let mut conn = connect(admin_url, Duration::from_secs(10)).await?;
    let sql = format!(
        "SELECT s.SCHEMA_NAME, COUNT(t.TABLE_NAME) FROM information_schema.SCHEMATA s \
         LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME \
         WHERE s.SCHEMA_NAME NOT IN ({SYSTEM_SCHEMAS}) GROUP BY s.SCHEMA_NAME ORDER BY 1"
    );
    let rows = tokio::time::timeout(Duration::from_secs(60), conn.fetch_all(sqlx::raw_sql(&sql)))
        .await
        .map_err(|_| {
            Error::Environment(
                "listing the restored databases took over 60 s: the sandbox is stuck or overloaded"
                    .into(),
            )
        })?
        .map_err(|e| Error::db("listing the restored databases", e))?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((text(r, 0)?, text(r, 1)?.parse().ok()?)))
        .collect())
}

/// Every base table of the connection's database, sorted (names without the
/// database: a dump restores into a database of another name).
pub async fn list_tables(conn: &mut MySqlConnection) -> Result<Vec<String>> {
    let rows = conn
        .fetch_all(sqlx::raw_sql(
            "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        ))
        .await
        .map_err(|e| Error::db("listing tables", e))?;
    Ok(rows.iter().filter_map(|r| text(r, 0)).collect())
}

pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Row count and order-independent fingerprint of one table: each row's values
/// as the server's text, in column order, made into one line as COPY would.
pub async fn fingerprint_table(
    conn: &mut MySqlConnection,
    table: &str,
) -> Result<TableFingerprint> {
    let q = format!("SELECT * FROM {}", quote_ident(table));
    let reading = |e| Error::db(format!("reading table {table}"), e);
    let mut rows = conn.fetch(sqlx::raw_sql(&q));
    let mut sum = RowSum::default();
    let mut line = Vec::new();
    while let Some(row) = rows.try_next().await.map_err(reading)? {
        line.clear();
        for i in 0..row.len() {
            let value = row
                .try_get_unchecked::<Option<&[u8]>, _>(i)
                .map_err(reading)?;
            push_value(&mut line, i, value);
        }
        sum.add(&line);
    }
    Ok(TableFingerprint {
        name: table.to_string(),
        rows: sum.rows,
        fingerprint: sum.hex(),
    })
}

/// Pure: appends one value to a row's line the way COPY's text format writes
/// it: a tab before every value but the first, `\N` for NULL, and backslash,
/// tab, newline and carriage return escaped, so no two rows share a line.
pub fn push_value(line: &mut Vec<u8>, index: usize, value: Option<&[u8]>) {
    if index > 0 {
        line.push(b'\t');
    }
    let Some(v) = value else {
        line.extend_from_slice(b"\\N");
        return;
    };
    for &b in v {
        match b {
            b'\\' => line.extend_from_slice(b"\\\\"),
            b'\t' => line.extend_from_slice(b"\\t"),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            _ => line.push(b),
        }
    }
}

/// The mariadb-dump options of every backup: one consistent snapshot, the
/// routines, triggers and events with the tables, binary values as hex (a
/// dump stays valid text), utf8mb4 whatever the server's default.
pub fn dump_args() -> Vec<String> {
    [
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--default-character-set=utf8mb4",
    ]
    .map(String::from)
    .to_vec()
}

/// The same line from MariaDB's text protocol, as its table fingerprints
/// make it (COPY's escapes included).
pub fn row_text(row: &MySqlRow) -> Vec<u8> {
    let mut line = Vec::new();
    for i in 0..row.len() {
        match row.try_get_unchecked::<Option<&[u8]>, _>(i) {
            Ok(v) => push_value(&mut line, i, v),
            Err(_) => {
                push_value(&mut line, i, Some(b""));
                line.extend_from_slice(b"\\?");
            }
        }
    }
    line
}

/// What a failed query was. MariaDB's error numbers say what its SQLSTATEs
/// do not: 1969 ER_STATEMENT_TIMEOUT is the time limit; 1142
/// ER_TABLEACCESS_DENIED_ERROR, 1044 ER_DBACCESS_DENIED_ERROR and 1792
/// ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION are the reader refusing a change
/// (its SQLSTATE, 42000, is also every syntax error's). A syntax error says
/// its line ("... at line 3").
pub fn query_failure(e: &sqlx::Error) -> super::QueryFailure {
    let number = error_number(e);
    let db = e.as_database_error();
    super::QueryFailure {
        timed_out: number == Some(1969),
        refused_write: matches!(number, Some(1142 | 1044 | 1792)),
        sqlstate: db.and_then(|d| d.code()).map(|c| c.into_owned()),
        at: db
            .and_then(|d| error_line(d.message()))
            .map(super::QueryPlace::Line),
    }
}

/// The line of the statement MariaDB's message ends with: `... at line N`.
pub fn error_line(message: &str) -> Option<usize> {
    let (_, n) = message.rsplit_once(" at line ")?;
    n.trim().parse().ok().filter(|n| *n > 0)
}

/// The exact number of rows in a table.
pub async fn count_rows(conn: &mut MySqlConnection, table: &str) -> Result<u64> {
    let row = conn
        .fetch_one(sqlx::raw_sql(&format!(
            "SELECT COUNT(*) FROM {}",
            quote_ident(table)
        )))
        .await
        .map_err(|e| Error::db(format!("counting the rows of {table}"), e))?;
    text(&row, 0)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Failed(format!("counting the rows of {table} gave no number")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line(values: &[Option<&str>]) -> String {
        let mut l = Vec::new();
        for (i, v) in values.iter().enumerate() {
            push_value(&mut l, i, v.map(str::as_bytes));
        }
        String::from_utf8(l).unwrap()
    }

    #[test]
    fn a_rows_line_is_copys_text_format() {
        assert_eq!(
            line(&[Some("1"), None, Some("a\tb\\c\nd\re")]),
            "1\t\\N\ta\\tb\\\\c\\nd\\re"
        );
        // A value that looks like NULL is not NULL, and an empty one is empty.
        assert_ne!(line(&[Some("\\N")]), line(&[None]));
        assert_eq!(line(&[Some(""), Some("")]), "\t");
    }

    #[test]
    fn a_syntax_error_says_its_line() {
        let m = "You have an error in your SQL syntax; check the manual that corresponds to \
                 your MariaDB server version for the right syntax to use near 'appointments' at line 2";
        assert_eq!(error_line(m), Some(2));
        assert_eq!(error_line("Unknown column 'x' in 'field list'"), None);
    }

    #[test]
    fn urls_name_the_engine_and_a_database() {
        assert!(parse_url("mariadb://u:p@h:3306/clinic").is_ok());
        assert!(parse_url("mysql://u:p@h/clinic").is_ok());
        let e = parse_url("mariadb://u:secret@h:3306")
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no database"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let e = parse_url("postgres://u:p@h/clinic")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mariadb://"), "{e}");
    }
}
