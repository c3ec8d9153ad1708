//! The demo clinic's generator (`fixtures generate`, the tests' and the
//! benchmark's clinics): PL/pgSQL that makes the same rows for the same seed
//! and date, run in a throwaway PostgreSQL server; and each generated table
//! read back out as text, for loading into another engine.

use super::{connect, list_tables, quote_ident};
use crate::engine::{ClinicGenerator, DemoClinic, GeneratedTable};
use crate::error::{Error, Result};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use sqlx::{Executor, Row};
use std::time::Duration;
use tokio::sync::mpsc;

const SCHEMA_SQL: &str = include_str!("../../../fixtures/clinic-schema.sql");
const GENERATOR_SQL: &str = include_str!("../../../fixtures/clinic-generate.sql");

/// PostgreSQL's generator, through `Engine::demo_clinic`.
pub struct Generator;

impl ClinicGenerator for Generator {
    fn generate<'a>(&'a self, url: &'a str, clinic: DemoClinic) -> BoxFuture<'a, Result<()>> {
        Box::pin(generate(url, clinic))
    }

    fn tables<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Vec<GeneratedTable>>> {
        Box::pin(tables(url))
    }

    fn send_rows<'a>(
        &'a self,
        url: &'a str,
        table: &'a GeneratedTable,
        rows: mpsc::Sender<std::io::Result<Bytes>>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(send_rows(url, table, rows))
    }
}

async fn generate(url: &str, clinic: DemoClinic) -> Result<()> {
    let mut conn = connect(url, Duration::from_secs(10)).await?;
    conn.execute(sqlx::raw_sql(SCHEMA_SQL))
        .await
        .map_err(|e| Error::db("creating the clinic schema", e))?;
    // The generator's functions live in pg_temp: they vanish with this session
    // and never reach a dump.
    conn.execute(sqlx::raw_sql(GENERATOR_SQL))
        .await
        .map_err(|e| Error::db("loading the generator", e))?;
    sqlx::query("SELECT pg_temp.rd_generate($1, $2, $3)")
        .bind(i32::try_from(clinic.patients).unwrap_or(i32::MAX))
        .bind(clinic.seed)
        .bind(clinic.as_of)
        .execute(&mut conn)
        .await
        .map_err(|e| Error::db("generating the clinic", e))?;
    Ok(())
}

/// The generated tables in name order, each with its columns and their types.
async fn tables(url: &str) -> Result<Vec<GeneratedTable>> {
    let mut conn = connect(url, Duration::from_secs(10)).await?;
    let mut tables = Vec::new();
    for qualified in list_tables(&mut conn).await? {
        let name = qualified.strip_prefix("public.").unwrap_or(&qualified);
        let rows = sqlx::query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(name)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| Error::db(format!("listing the columns of {name}"), e))?;
        tables.push(GeneratedTable {
            name: name.to_string(),
            columns: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        });
    }
    Ok(tables)
}

/// Streams the table's rows into `rows` until it ends or the receiver hangs
/// up; returns the rows sent.
async fn send_rows(
    url: &str,
    table: &GeneratedTable,
    rows: mpsc::Sender<std::io::Result<Bytes>>,
) -> Result<u64> {
    let name = &table.name;
    let mut conn = connect(url, Duration::from_secs(10)).await?;
    let copy = format!(
        "COPY (SELECT {} FROM public.{}) TO STDOUT",
        select_list(&table.columns),
        quote_ident(name)
    );
    let mut stream = conn
        .copy_out_raw(&copy)
        .await
        .map_err(|e| Error::db(format!("reading {name} from the generator"), e))?;
    let mut lines = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::db(format!("reading {name}"), e))?;
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        if rows.send(Ok(chunk)).await.is_err() {
            break;
        }
    }
    Ok(lines)
}

/// Pure: the SELECT list that writes each column as another engine reads it
/// back: a timestamptz as a UTC date and time with microseconds and no zone,
/// the rest as COPY does.
pub fn select_list(columns: &[(String, String)]) -> String {
    columns
        .iter()
        .map(|(name, ty)| {
            let q = quote_ident(name);
            if ty == "timestamp with time zone" {
                format!("to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
            } else {
                q
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_leave_as_utc_date_times_and_the_rest_as_copy_writes_them() {
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
    }
}
