//! The checks' questions, asked of a restored PostgreSQL as a login that can
//! only read.

use super::{connect, quote_ident, quote_qualified};
use crate::engine::reader::{detail, orphans_query, AntiJoin, Counts, ForeignKey, Reader, Session};
use crate::engine::TableFingerprint;
use crate::error::{Error, Result};
use crate::scenario::rules::PlanSwitch;
use futures_util::future::BoxFuture;
use sqlx::postgres::PgConnection;
use sqlx::{Executor, Row};

/// One read-only connection of the checks, sized to the sandbox.
pub async fn open(url: &str, session: Session) -> Result<Box<dyn Reader>> {
    let mut conn = connect(url, std::time::Duration::from_secs(10)).await?;
    // The role can only read; this makes an honest mistake fail early too.
    conn.execute("SET default_transaction_read_only = on")
        .await
        .map_err(|e| Error::db("making the check session read-only", e))?;
    conn.execute(sqlx::raw_sql(&session_sql(session)))
        .await
        .map_err(|e| Error::db("sizing the check session", e))?;
    Ok(Box::new(conn))
}

fn session_sql(s: Session) -> String {
    format!(
        "SET max_parallel_workers_per_gather = {}; SET work_mem = '{}MB'",
        s.parallel_workers, s.work_mem_mib
    )
}

/// Every foreign key with its columns in order, and whether the restore
/// validated it.
const FOREIGN_KEYS: &str = "SELECT c.conname, \
        cn.nspname || '.' || cl.relname, pn.nspname || '.' || pl.relname, \
        array_agg(ca.attname::text ORDER BY k.ord), array_agg(pa.attname::text ORDER BY k.ord), \
        c.convalidated \
 FROM pg_constraint c \
 JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_namespace cn ON cn.oid = cl.relnamespace \
 JOIN pg_class pl ON pl.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pl.relnamespace \
 CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ck, pk, ord) \
 JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.ck \
 JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pk \
 WHERE c.contype = 'f' \
 GROUP BY c.oid, c.conname, cn.nspname, cl.relname, pn.nspname, pl.relname, c.convalidated \
 ORDER BY cn.nspname, cl.relname, c.conname";

/// Pure: the total cost in EXPLAIN's first line, `Node  (cost=1.00..19260.67 rows=1 width=8)`.
pub fn plan_cost(line: &str) -> Option<f64> {
    let after = line.split_once("cost=")?.1;
    let total = after.split_once("..")?.1;
    total.split_whitespace().next()?.parse().ok()
}

/// A read-only transaction with a rule's planner switches set in it; they
/// end with it (it rolls back when dropped: it wrote nothing).
async fn switched<'c>(
    conn: &'c mut PgConnection,
    switches: &[PlanSwitch],
) -> std::result::Result<sqlx::Transaction<'c, sqlx::Postgres>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    for s in switches {
        tx.execute(s.sql().as_str()).await?;
    }
    Ok(tx)
}

impl Reader for PgConnection {
    fn id(&mut self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut *self)
                .await
                .map_err(|e| Error::db("reading the check session's id", e))?;
            Ok(pid.max(0) as u64)
        })
    }

    /// EXPLAIN plans it without running it, in about a millisecond; `None`
    /// when it cannot be planned, and running it will then say why.
    /// Planned under the rule's switches, as it will run.
    fn cost<'a>(&'a mut self, query: &'a str, s: &'a [PlanSwitch]) -> BoxFuture<'a, Option<f64>> {
        Box::pin(async move {
            let q = format!("EXPLAIN {}", query.trim().trim_end_matches(';'));
            let mut tx = switched(self, s).await.ok()?;
            let line: String = sqlx::query_scalar(&q).fetch_one(&mut *tx).await.ok()?;
            plan_cost(&line)
        })
    }

    /// Simple protocol: every column arrives as text, whatever its type
    /// (numeric, bigint, float), and is read as a number from there.
    /// (RawSql::fetch_optional in sqlx 0.8 calls fetch_one; the executor's
    /// own fetch_optional is the real thing.)
    fn first_text<'a>(
        &'a mut self,
        query: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Option<Option<String>>, sqlx::Error>> {
        Box::pin(async move {
            let row = self.fetch_optional(sqlx::raw_sql(query)).await?;
            Ok(row.map(|row| row.try_get_unchecked::<Option<String>, _>(0).ok().flatten()))
        })
    }

    fn counts<'a>(
        &'a mut self,
        query: &'a str,
        switches: &'a [PlanSwitch],
        n: usize,
    ) -> BoxFuture<'a, std::result::Result<Counts, sqlx::Error>> {
        Box::pin(async move {
            let mut tx = switched(self, switches).await?;
            let row = sqlx::query(query).fetch_one(&mut *tx).await?;
            Ok((0..n)
                .map(|k| row.try_get::<i64, _>(k).map_err(|e| detail(&e)))
                .collect())
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

    fn foreign_keys(&mut self) -> BoxFuture<'_, std::result::Result<Vec<ForeignKey>, sqlx::Error>> {
        Box::pin(async move {
            let rows = sqlx::query(FOREIGN_KEYS).fetch_all(&mut *self).await?;
            Ok(rows
                .iter()
                .map(|r| ForeignKey {
                    name: r.get(0),
                    child: r.get(1),
                    parent: r.get(2),
                    child_columns: r.get(3),
                    parent_columns: r.get(4),
                    validated: r.get(5),
                })
                .collect())
        })
    }

    fn orphans<'a>(
        &'a mut self,
        fk: &'a ForeignKey,
    ) -> BoxFuture<'a, std::result::Result<i64, String>> {
        Box::pin(async move {
            let q = orphans_query(fk, quote_ident, AntiJoin::NotExists);
            sqlx::query_scalar::<_, i64>(&q)
                .fetch_one(&mut *self)
                .await
                .map_err(|e| detail(&e))
        })
    }

    fn newest<'a>(
        &'a mut self,
        table: &'a str,
        column: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Option<f64>, sqlx::Error>> {
        Box::pin(async move {
            let q = format!(
                "SELECT extract(epoch FROM max({}))::float8 FROM {}",
                quote_ident(column),
                quote_qualified(table)
            );
            sqlx::query_scalar::<_, Option<f64>>(&q)
                .fetch_one(&mut *self)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plans_total_cost_is_read_from_explains_first_line() {
        let line = "Aggregate  (cost=19260.66..19260.67 rows=1 width=8)";
        assert_eq!(plan_cost(line), Some(19260.67));
        assert_eq!(
            plan_cost("Result  (cost=0.00..0.01 rows=1 width=4)"),
            Some(0.01)
        );
        assert_eq!(plan_cost("ERROR: syntax error"), None);
        assert_eq!(plan_cost("Seq Scan (cost=1.00..x rows=1)"), None);
    }
}
