//! The clinic on MariaDB: its schema in MariaDB's dialect, then the very rows
//! the PostgreSQL generator made, table by table. COPY's text format (tabs,
//! `\N` for NULL, backslash escapes) is also LOAD DATA's default, so each table
//! streams from one server to the other without touching the host's disk.

use crate::engine::{mariadb, postgres};
use crate::error::{Error, Result};
use crate::sandbox::{exec, ExecRequest, Sandbox};
use bytes::Bytes;
use futures_util::StreamExt;
use sqlx::postgres::PgConnection;
use sqlx::{Executor, Row};
use std::time::Duration;
use tokio::sync::mpsc;

pub const SCHEMA_SQL: &str = include_str!("../../fixtures/clinic-schema-mariadb.sql");

/// Creates the clinic's tables in `target` and copies every row of the
/// generated PostgreSQL clinic at `source_url` into them. Returns the rows copied.
pub async fn copy_clinic(
    docker: &bollard::Docker,
    source_url: &str,
    target: &Sandbox,
) -> Result<u64> {
    let mut admin = mariadb::connect(&target.url(), Duration::from_secs(10)).await?;
    admin
        .execute(sqlx::raw_sql(SCHEMA_SQL))
        .await
        .map_err(|e| Error::db("creating the clinic's MariaDB schema", e))?;
    let mut source = postgres::connect(source_url, Duration::from_secs(10)).await?;
    let mut rows = 0;
    for table in postgres::list_tables(&mut source).await? {
        let name = table.strip_prefix("public.").unwrap_or(&table).to_string();
        let columns = columns(&mut source, &name).await?;
        rows += copy_table(docker, &mut source, target, &name, &columns).await?;
    }
    Ok(rows)
}

/// The table's columns in order, each with its PostgreSQL type.
async fn columns(conn: &mut PgConnection, table: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::db(format!("listing the columns of {table}"), e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Pure: the SELECT list that writes each column as MariaDB reads it back:
/// a timestamptz as a UTC DATETIME with microseconds, the rest as COPY does.
pub fn select_list(columns: &[(String, String)]) -> String {
    columns
        .iter()
        .map(|(name, ty)| {
            let q = postgres::quote_ident(name);
            if ty == "timestamp with time zone" {
                format!("to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
            } else {
                q
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pure: the statements the `mariadb` client runs inside the container. Keys
/// are checked once the clinic is whole (the tables arrive in name order), and
/// any warning (a value cut or changed on the way in) is printed, and refused.
pub fn load_statement(table: &str, columns: &[(String, String)]) -> String {
    let names: Vec<String> = columns
        .iter()
        .map(|(n, _)| mariadb::quote_ident(n))
        .collect();
    format!(
        "SET foreign_key_checks = 0; \
         LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE {} CHARACTER SET utf8mb4 ({}); \
         SHOW WARNINGS",
        mariadb::quote_ident(table),
        names.join(", ")
    )
}

async fn copy_table(
    docker: &bollard::Docker,
    source: &mut PgConnection,
    target: &Sandbox,
    table: &str,
    columns: &[(String, String)],
) -> Result<u64> {
    let copy = format!(
        "COPY (SELECT {} FROM public.{}) TO STDOUT",
        select_list(columns),
        postgres::quote_ident(table)
    );
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(16);
    let load = exec(
        docker,
        &target.container,
        ExecRequest::new([
            "mariadb".to_string(),
            "--local-infile=1".into(),
            "--user=root".into(),
            format!("--database={}", target.creds.database),
            format!("--execute={}", load_statement(table, columns)),
        ])
        .stdin(rx),
    );
    let feed = async move {
        let mut stream = source
            .copy_out_raw(&copy)
            .await
            .map_err(|e| Error::db(format!("reading {table} from the generator"), e))?;
        let mut lines = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Error::db(format!("reading {table}"), e))?;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            if tx.send(Ok(chunk)).await.is_err() {
                break;
            }
        }
        Ok::<_, Error>(lines)
    };
    let (loaded, fed) = tokio::join!(load, feed);
    let (loaded, lines) = (loaded?, fed?);
    let said = format!(
        "{}{}",
        loaded.stderr_text(),
        String::from_utf8_lossy(&loaded.stdout)
    );
    if !loaded.succeeded() || !said.trim().is_empty() {
        return Err(load_failed(table, &said));
    }
    Ok(lines)
}

/// What the client said, its first lines only: thousands more would bury them.
fn load_failed(table: &str, said: &str) -> Error {
    let lines: Vec<&str> = said.trim().lines().collect();
    let more = lines.len().saturating_sub(6);
    Error::Failed(format!(
        "loading {table} into MariaDB failed: {}{}",
        crate::redact::ToolSaid::parse("mariadb", &lines[..lines.len().min(6)].join("\n")).text(),
        if more > 0 {
            format!("\n({more} more lines)")
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_leave_postgresql_as_utc_datetimes_and_the_rest_as_is() {
        let cols = [
            ("id".to_string(), "bigint".to_string()),
            (
                "paid_at".to_string(),
                "timestamp with time zone".to_string(),
            ),
        ];
        assert_eq!(
            select_list(&cols),
            "\"id\", to_char(\"paid_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        );
        let load = load_statement("payments", &cols);
        assert!(
            load.contains("INTO TABLE `payments` CHARACTER SET utf8mb4 (`id`, `paid_at`)"),
            "{load}"
        );
        assert!(load.ends_with("SHOW WARNINGS"), "{load}");
    }
}
