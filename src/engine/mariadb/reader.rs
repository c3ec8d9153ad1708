//! The checks' questions, asked of a restored MariaDB through sqlx's MySQL
//! driver as the user that can only SELECT (the text protocol: every value
//! arrives as text).

use super::{connect, quote_ident, text};
use crate::engine::reader::{detail, orphans_query, AntiJoin, Counts, ForeignKey, Reader, Session};
use crate::engine::TableFingerprint;
use crate::error::{Error, Result};
use crate::scenario::rules::PlanSwitch;
use futures_util::future::BoxFuture;
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::Executor;
use std::time::Duration;

/// A read-only session sized to the sandbox.
pub async fn open(url: &str, session: Session) -> Result<Box<dyn Reader>> {
    let mut conn = connect(url, Duration::from_secs(10)).await?;
    conn.execute("SET SESSION TRANSACTION READ ONLY")
        .await
        .map_err(|e| Error::db("making the check session read-only", e))?;
    conn.execute(sqlx::raw_sql(&session_sql(session)))
        .await
        .map_err(|e| Error::db("sizing the check session", e))?;
    Ok(Box::new(conn))
}

/// The session's settings (no parallel query in MariaDB).
fn session_sql(s: Session) -> String {
    let bytes = s.tmp_table_mib << 20;
    format!("SET SESSION tmp_table_size = {bytes}, max_heap_table_size = {bytes}")
}

/// Every foreign key the restored schema declares, its columns in order.
const FOREIGN_KEYS: &str = "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, \
        GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR '\\n'), \
        GROUP_CONCAT(REFERENCED_COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR '\\n') \
 FROM information_schema.KEY_COLUMN_USAGE \
 WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
 GROUP BY CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME \
 ORDER BY TABLE_NAME, CONSTRAINT_NAME";

/// The first column of the first row, as text (`None`: no row).
async fn first_value(
    conn: &mut MySqlConnection,
    query: &str,
) -> std::result::Result<Option<Option<String>>, sqlx::Error> {
    let row = conn.fetch_optional(sqlx::raw_sql(query)).await?;
    Ok(row.map(|r| text(&r, 0)))
}

/// Pure: a rule's count from its column's text. SUM gives a DECIMAL: "3",
/// never a fraction for counts.
fn count_in(row: &MySqlRow, k: usize) -> std::result::Result<i64, String> {
    let text = text(row, k).ok_or_else(|| "no count".to_string())?;
    text.parse::<f64>()
        .map(|n| n as i64)
        .map_err(|_| format!("{text:?} is not a count"))
}

impl Reader for MySqlConnection {
    fn id(&mut self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let row = self
                .fetch_one(sqlx::raw_sql("SELECT CONNECTION_ID()"))
                .await
                .map_err(|e| Error::db("reading the check session's id", e))?;
            text(&row, 0).and_then(|t| t.parse().ok()).ok_or_else(|| {
                Error::Failed("the server did not say the check session's id".into())
            })
        })
    }

    /// The rules run in the plan's order.
    fn cost<'a>(&'a mut self, _query: &'a str, _: &'a [PlanSwitch]) -> BoxFuture<'a, Option<f64>> {
        Box::pin(async { None })
    }

    fn first_text<'a>(
        &'a mut self,
        query: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Option<Option<String>>, sqlx::Error>> {
        Box::pin(first_value(self, query))
    }

    /// A rule's planner switches are refused before MariaDB's checks start
    /// (`Engine::planner_switches`).
    fn counts<'a>(
        &'a mut self,
        query: &'a str,
        _: &'a [PlanSwitch],
        n: usize,
    ) -> BoxFuture<'a, std::result::Result<Counts, sqlx::Error>> {
        Box::pin(async move {
            let row = self.fetch_one(sqlx::raw_sql(query)).await?;
            Ok((0..n).map(|k| count_in(&row, k)).collect())
        })
    }

    fn tables(&mut self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(super::list_tables(self))
    }

    fn fingerprint<'a>(&'a mut self, table: &'a str) -> BoxFuture<'a, Result<TableFingerprint>> {
        Box::pin(super::fingerprint_table(self, table))
    }

    fn count_rows<'a>(&'a mut self, table: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(super::count_rows(self, table))
    }

    /// A dump restores with FOREIGN_KEY_CHECKS=0, and MariaDB never checks
    /// the rows that were already there: none is validated.
    fn foreign_keys(&mut self) -> BoxFuture<'_, std::result::Result<Vec<ForeignKey>, sqlx::Error>> {
        Box::pin(async move {
            let rows = self.fetch_all(sqlx::raw_sql(FOREIGN_KEYS)).await?;
            let text = |r: &MySqlRow, i| text(r, i).unwrap_or_default();
            Ok(rows
                .iter()
                .map(|r| ForeignKey {
                    name: text(r, 0),
                    child: text(r, 1),
                    parent: text(r, 2),
                    child_columns: text(r, 3).split('\n').map(String::from).collect(),
                    parent_columns: text(r, 4).split('\n').map(String::from).collect(),
                    validated: false,
                })
                .collect())
        })
    }

    fn orphans<'a>(
        &'a mut self,
        fk: &'a ForeignKey,
    ) -> BoxFuture<'a, std::result::Result<i64, String>> {
        Box::pin(async move {
            let q = orphans_query(fk, quote_ident, AntiJoin::LeftJoin);
            match first_value(self, &q).await {
                Ok(v) => v
                    .flatten()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| "no count".to_string()),
                Err(e) => Err(detail(&e)),
            }
        })
    }

    /// The session is in UTC, as the clinic's DATETIMEs are.
    fn newest<'a>(
        &'a mut self,
        table: &'a str,
        column: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Option<f64>, sqlx::Error>> {
        Box::pin(async move {
            let q = format!(
                "SELECT UNIX_TIMESTAMP(MAX({})) FROM {}",
                quote_ident(column),
                crate::engine::quote_parts(table, quote_ident)
            );
            let v = first_value(self, &q).await?;
            Ok(v.flatten().and_then(|s| s.parse().ok()))
        })
    }
}
