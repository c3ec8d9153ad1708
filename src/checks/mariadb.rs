//! The same checks on a restored MariaDB database, through sqlx's MySQL driver
//! as the user that can only SELECT. The judging is shared with PostgreSQL's
//! (pure functions in the parent module); what differs is how each is asked.

use super::bound::{Bound, Bounded};
use super::{
    compare, judge_foreign_keys, judge_freshness, judge_rules, judge_sql, known_backup_time,
    manifest_to_compare, orphans_query, timed, CheckResult, Context, ForeignKey, Job, Session,
    Status, CLINIC_INVARIANTS_MARIADB,
};
use crate::catalog::Manifest;
use crate::engine::{mariadb, EngineKind};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::scenario::{Checks, Freshness, SqlCheck};
use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlConnection;
use sqlx::Executor;
use std::time::Duration;

/// Runs every check the plan asks for on two sessions, each its own user of
/// `logins` (each query runs on one core: two keep both of a sandbox's
/// busy); the manifest and the foreign keys first, the longest, then the
/// plan's order; results in the plan's order.
pub(super) async fn run_all(
    logins: &[String],
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
    b: &Bound<'_>,
) -> Result<Vec<CheckResult>> {
    let jobs = super::jobs_with(plan, CLINIC_INVARIANTS_MARIADB, false)?;
    let mut conns = Vec::new();
    for url in logins.iter().take(jobs.len().max(1)) {
        conns.push(Bounded::<MySqlConnection>::open(url.clone(), ctx.session).await?);
    }
    let order = super::schedule(jobs, &[]);
    Ok(super::run_queued(conns, order, plan, ctx, events, b).await)
}

/// A read-only session sized to the sandbox.
async fn check_session(url: &str, session: Session) -> Result<MySqlConnection> {
    let mut conn = mariadb::connect(url, Duration::from_secs(10)).await?;
    conn.execute("SET SESSION TRANSACTION READ ONLY")
        .await
        .map_err(|e| Error::db("making the check session read-only", e))?;
    conn.execute(sqlx::raw_sql(&session.mariadb_sql()))
        .await
        .map_err(|e| Error::db("sizing the check session", e))?;
    Ok(conn)
}

impl super::CheckSession for MySqlConnection {
    fn run<'a>(
        &'a mut self,
        job: Job,
        plan: &'a Checks,
        ctx: &'a Context<'a>,
    ) -> impl std::future::Future<Output = Vec<CheckResult>> + Send + 'a {
        run_job(self, job, plan, ctx)
    }

    fn open(url: &str, session: Session) -> impl std::future::Future<Output = Result<Self>> + Send {
        check_session(url, session)
    }

    async fn id(&mut self) -> Result<u64> {
        let row = self
            .fetch_one(sqlx::raw_sql("SELECT CONNECTION_ID()"))
            .await
            .map_err(|e| Error::db("reading the check session's id", e))?;
        mariadb::text(&row, 0)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| Error::Failed("the server did not say the check session's id".into()))
    }
}

async fn run_job(
    conn: &mut MySqlConnection,
    job: Job,
    plan: &Checks,
    ctx: &Context<'_>,
) -> Vec<CheckResult> {
    let one = match job {
        Job::Manifest => {
            let check = manifest_check(conn, ctx.manifest, plan.manifest);
            timed("manifest comparison", check).await
        }
        Job::ForeignKeys => timed("referential integrity", foreign_key_check(conn)).await,
        Job::Invariant(names, query, _) => return rules_check(conn, &names, query).await,
        Job::Sql(k) => {
            let c = &plan.sql[k];
            timed(&format!("sql: {}", c.name), sql_check(conn, c)).await
        }
        Job::Freshness(k) => {
            let f = &plan.freshness[k];
            let check = freshness_check(conn, f, ctx.backup_time);
            timed(&format!("freshness: {}.{}", f.table, f.column), check).await
        }
    };
    vec![one]
}

fn detail(e: &sqlx::Error) -> String {
    crate::redact::Said::of_sqlx(e).text()
}

/// The first column of the first row, as text (`None`: no row).
async fn first_value(
    conn: &mut MySqlConnection,
    query: &str,
) -> std::result::Result<Option<Option<String>>, sqlx::Error> {
    let row = conn.fetch_optional(sqlx::raw_sql(query)).await?;
    Ok(row.map(|r| mariadb::text(&r, 0)))
}

/// Every table fingerprinted in the restored database: a plain SQL dump is
/// not read on its way in.
async fn manifest_check(
    conn: &mut MySqlConnection,
    manifest: Option<&Manifest>,
    policy: crate::scenario::ManifestPolicy,
) -> (Status, String) {
    let m = match manifest_to_compare(manifest, policy) {
        Ok(m) => m,
        Err(decided) => return decided,
    };
    let tables: Vec<String> = m.tables.iter().map(|t| t.name.clone()).collect();
    let present = match mariadb::list_tables(conn).await {
        Ok(p) => p,
        Err(e) => return (Status::Failed, e.to_string()),
    };
    // A table the restore lacks is reported missing by `compare`, not an error.
    let readable: Vec<String> = tables.into_iter().filter(|t| present.contains(t)).collect();
    match mariadb::fingerprint_tables(conn, &readable).await {
        Ok(restored) => {
            let (status, d) = compare(&m.tables, &restored);
            (
                status,
                format!("{d} (every table fingerprinted in the restored database)"),
            )
        }
        Err(e) => (Status::Failed, e.to_string()),
    }
}

/// Every foreign key the restored schema declares, from information_schema,
/// its orphans counted: a dump restores with FOREIGN_KEY_CHECKS=0, and
/// MariaDB never checks the rows that were already there.
async fn foreign_key_check(conn: &mut MySqlConnection) -> (Status, String) {
    let rows = match conn
        .fetch_all(sqlx::raw_sql(
            "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, \
                    GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR '\\n'), \
                    GROUP_CONCAT(REFERENCED_COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR '\\n') \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
             GROUP BY CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME",
        ))
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            return (
                Status::Failed,
                format!("cannot list foreign keys: {}", detail(&e)),
            )
        }
    };
    let text = |r: &sqlx::mysql::MySqlRow, i| mariadb::text(r, i).unwrap_or_default();
    let fks: Vec<ForeignKey> = rows
        .iter()
        .map(|r| ForeignKey {
            name: text(r, 0),
            child: text(r, 1),
            parent: text(r, 2),
            child_columns: text(r, 3).split('\n').map(String::from).collect(),
            parent_columns: text(r, 4).split('\n').map(String::from).collect(),
            validated: false,
        })
        .collect();
    let mut counts = Vec::with_capacity(fks.len());
    for fk in &fks {
        let q = orphans_query(fk, mariadb::quote_ident, super::AntiJoin::LeftJoin);
        let n = match first_value(conn, &q).await {
            Ok(v) => v
                .flatten()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| "no count".to_string()),
            Err(e) => Err(detail(&e)),
        };
        counts.push(Some(n));
    }
    judge_foreign_keys(EngineKind::Mariadb, &fks, &counts)
}

/// One query deciding one or more rules, a count per rule in its columns.
async fn rules_check(
    conn: &mut MySqlConnection,
    names: &[String],
    query: String,
) -> Vec<CheckResult> {
    let t = std::time::Instant::now();
    let q = query.trim().trim_end_matches(';').to_string();
    let counts = match conn.fetch_one(sqlx::raw_sql(&q)).await {
        Ok(row) => Ok((0..names.len())
            .map(|k| {
                let text = mariadb::text(&row, k).ok_or_else(|| "no count".to_string())?;
                // SUM gives a DECIMAL: "3", never a fraction for counts.
                text.parse::<f64>()
                    .map(|n| n as i64)
                    .map_err(|_| format!("{text:?} is not a count"))
            })
            .collect()),
        Err(e) => Err(detail(&e)),
    };
    judge_rules(names, counts, t.elapsed().as_secs_f64())
}

async fn sql_check(conn: &mut MySqlConnection, c: &SqlCheck) -> (Status, String) {
    let first = first_value(conn, &c.query).await;
    if let Some(refused) = first
        .as_ref()
        .err()
        .and_then(|e| super::refusal::refused(EngineKind::Mariadb, e, c))
    {
        return refused;
    }
    match first {
        Ok(first) => judge_sql(c, first),
        // ER_TABLEACCESS_DENIED_ERROR, ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
        Err(e) if matches!(mariadb::error_number(&e), Some(1142 | 1792 | 1044)) => (
            Status::Error,
            format!(
                "the check {} at {} tried to change the restored database, and checks can only read: {}. Make it a query that only reads (SELECT)",
                c.name,
                c.origin,
                detail(&e)
            ),
        ),
        Err(e) => (
            Status::Error,
            format!("the query at {} failed: {}", c.origin, detail(&e)),
        ),
    }
}

async fn freshness_check(
    conn: &mut MySqlConnection,
    f: &Freshness,
    backup_time: Option<DateTime<Utc>>,
) -> (Status, String) {
    let backup_time = match known_backup_time(backup_time) {
        Ok(t) => t,
        Err(unknown) => return unknown,
    };
    // The session is in UTC, as the clinic's DATETIMEs are.
    let q = format!(
        "SELECT UNIX_TIMESTAMP(MAX({})) FROM {}",
        mariadb::quote_ident(&f.column),
        crate::engine::quote_parts(&f.table, mariadb::quote_ident)
    );
    match first_value(conn, &q).await {
        Ok(v) => judge_freshness(f, backup_time, v.flatten().and_then(|s| s.parse().ok())),
        Err(e) => (Status::Error, format!("cannot read it: {}", detail(&e))),
    }
}
