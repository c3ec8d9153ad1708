//! Each check asked of a restored database through the engine's check
//! session (`engine::reader::Reader`), then judged (`judge`): what differs
//! between engines is in the session, what a result means is here.

use super::judge::{
    compare, judge_foreign_keys, judge_freshness, judge_rules, judge_sql, judge_streamed,
    known_backup_time, manifest_to_compare, read_back,
};
use super::{refusal, timed, CheckResult, Context, Job, PlanSwitch, Status};
use crate::catalog::Manifest;
use crate::engine::reader::{detail, fingerprint_tables, ManifestReading, Reader};
use crate::engine::{Engine, TableFingerprint};
use crate::error::Result;
use crate::restore::Streamed;
use crate::scenario::{Checks, Freshness, ManifestPolicy, SqlCheck};
use chrono::{DateTime, Utc};
use std::time::Instant;

/// Runs one job on one session; a job may decide several rules (a result each).
pub(super) async fn run_job(
    engine: &dyn Engine,
    conn: &mut dyn Reader,
    job: Job,
    plan: &Checks,
    ctx: &Context<'_>,
) -> Vec<CheckResult> {
    let one = match job {
        Job::Manifest => {
            let check = manifest_check(engine, conn, ctx.manifest, plan.manifest, ctx.streamed);
            timed(super::MANIFEST_CHECK, check).await
        }
        Job::ForeignKeys => timed("referential integrity", foreign_key_check(engine, conn)).await,
        Job::Invariant(names, query, switches) => {
            return rules_check(conn, &names, query, &switches).await
        }
        Job::Sql(k) => {
            let c = &plan.sql[k];
            timed(&format!("sql: {}", c.name), sql_check(engine, conn, c)).await
        }
        Job::Freshness(k) => {
            let f = &plan.freshness[k];
            let check = freshness_check(conn, f, ctx.backup_time);
            timed(&format!("freshness: {}.{}", f.table, f.column), check).await
        }
    };
    vec![one]
}

/// One query deciding one or more rules, a count per rule in its columns.
async fn rules_check(
    conn: &mut dyn Reader,
    names: &[String],
    query: String,
    switches: &[PlanSwitch],
) -> Vec<CheckResult> {
    let t = Instant::now();
    let q = query.trim().trim_end_matches(';').to_string();
    let counts = conn
        .counts(&q, switches, names.len())
        .await
        .map_err(|e| detail(&e));
    judge_rules(names, counts, t.elapsed().as_secs_f64())
}

/// The restored tables against the manifest, read the engine's way.
async fn manifest_check(
    engine: &dyn Engine,
    conn: &mut dyn Reader,
    manifest: Option<&Manifest>,
    policy: ManifestPolicy,
    streamed: Option<&Streamed>,
) -> (Status, String) {
    let m = match manifest_to_compare(manifest, policy) {
        Ok(m) => m,
        Err(decided) => return decided,
    };
    match engine.manifest_reading() {
        ManifestReading::StreamedOrEveryTable => {
            streamed_or_every_table(conn, m, policy, streamed).await
        }
        ManifestReading::ManifestTables => manifest_tables(conn, m).await,
    }
}

/// The fingerprints taken as the dump streamed, when the scenario allows
/// and there are some; otherwise every restored table read back.
async fn streamed_or_every_table(
    conn: &mut dyn Reader,
    m: &Manifest,
    policy: ManifestPolicy,
    streamed: Option<&Streamed>,
) -> (Status, String) {
    let streamed = match (policy, streamed) {
        (ManifestPolicy::Deep, _) => Err("the scenario asks for it (manifest = \"deep\")".into()),
        (_, Some(Streamed::Tables(t))) => Ok(t.as_slice()),
        (_, Some(Streamed::NotRead(why))) => Err(why.clone()),
        (_, None) => Err("no fingerprints were taken on the way".into()),
    };
    match streamed {
        Ok(streamed) => match by_stream(conn, &m.tables, streamed).await {
            Ok(r) => r,
            Err(e) => (Status::Failed, e.to_string()),
        },
        Err(why) => match in_database(conn, &m.tables).await {
            Ok((status, detail)) if status == Status::Passed => (
                status,
                format!("{detail} (every table fingerprinted in the restored database: {why})"),
            ),
            Ok(r) => r,
            Err(e) => (Status::Failed, e.to_string()),
        },
    }
}

/// The deep comparison: every restored table read back and fingerprinted.
async fn in_database(
    conn: &mut dyn Reader,
    expected: &[TableFingerprint],
) -> Result<(Status, String)> {
    let tables = conn.tables().await?;
    let restored = fingerprint_tables(conn, &tables).await?;
    Ok(compare(expected, &restored))
}

/// The comparison made while the dump streamed: each table's rows were
/// fingerprinted on their way to the database, and the restored database
/// only has to show it holds as many rows. A table whose streamed
/// fingerprint differs from the manifest's is read back and fingerprinted
/// in the database before anything is called different.
async fn by_stream(
    conn: &mut dyn Reader,
    expected: &[TableFingerprint],
    streamed: &[TableFingerprint],
) -> Result<(Status, String)> {
    let tables = conn.tables().await?;
    let mut counted = Vec::with_capacity(tables.len());
    for t in &tables {
        counted.push((t.clone(), conn.count_rows(t).await?));
    }
    let mut deep = Vec::new();
    for t in read_back(expected, streamed, &tables) {
        deep.push(conn.fingerprint(&t).await?);
    }
    Ok(judge_streamed(expected, streamed, &counted, &deep))
}

/// Every table of the manifest fingerprinted in the restored database.
async fn manifest_tables(conn: &mut dyn Reader, m: &Manifest) -> (Status, String) {
    let tables: Vec<String> = m.tables.iter().map(|t| t.name.clone()).collect();
    let present = match conn.tables().await {
        Ok(p) => p,
        Err(e) => return (Status::Failed, e.to_string()),
    };
    // A table the restore lacks is reported missing by `compare`, not an error.
    let readable: Vec<String> = tables.into_iter().filter(|t| present.contains(t)).collect();
    match fingerprint_tables(conn, &readable).await {
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

/// Every foreign key the restored schema declares, and its orphans. Rows
/// with a NULL in the key are not orphans (MATCH SIMPLE). A key the
/// database validated as the restore added it is not counted again.
async fn foreign_key_check(engine: &dyn Engine, conn: &mut dyn Reader) -> (Status, String) {
    let fks = match conn.foreign_keys().await {
        Ok(fks) => fks,
        Err(e) => {
            return (
                Status::Failed,
                format!("cannot list foreign keys: {}", detail(&e)),
            )
        }
    };
    let mut counts = Vec::with_capacity(fks.len());
    for fk in &fks {
        counts.push(if fk.validated {
            None
        } else {
            Some(conn.orphans(fk).await)
        });
    }
    judge_foreign_keys(engine, &fks, &counts)
}

async fn sql_check(engine: &dyn Engine, conn: &mut dyn Reader, c: &SqlCheck) -> (Status, String) {
    let first = conn.first_text(&c.query).await;
    if let Some(refused) = first
        .as_ref()
        .err()
        .and_then(|e| refusal::refused(engine, e, c))
    {
        return refused;
    }
    match first {
        Ok(first) => judge_sql(c, first),
        Err(e) if engine.tried_to_write(&e) => (
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
    conn: &mut dyn Reader,
    f: &Freshness,
    backup_time: Option<DateTime<Utc>>,
) -> (Status, String) {
    let backup_time = match known_backup_time(backup_time) {
        Ok(t) => t,
        Err(unknown) => return unknown,
    };
    match conn.newest(&f.table, &f.column).await {
        Ok(newest) => judge_freshness(f, backup_time, newest),
        Err(e) => (Status::Error, format!("cannot read it: {}", detail(&e))),
    }
}
