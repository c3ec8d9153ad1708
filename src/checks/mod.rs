//! Checks on a restored database, each with its own result: the manifest's
//! counts and fingerprints, referential integrity discovered from the restored
//! schema itself, business invariants, custom SQL expectations, freshness.
//! Results hold counts, names and timings, never row values.

use crate::catalog::Manifest;
use crate::engine::{postgres, EngineKind, TableFingerprint};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::redact::{Redacted, Said};
use crate::restore::Streamed;
pub use crate::scenario::rules::{parse_invariants, plan_switches, rule_names, PlanSwitch};
use crate::scenario::{Checks, Expect, Freshness, Invariants, ManifestPolicy, SqlCheck};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{Executor, Row};
use std::collections::BTreeMap;
use std::time::Instant;

mod bound;
mod mariadb;
mod refusal;

pub use crate::report::facts::{CheckResult, Status};

pub const CLINIC_INVARIANTS: &str = include_str!("../../fixtures/clinic-invariants.sql");
/// The same rules in MariaDB's dialect.
pub const CLINIC_INVARIANTS_MARIADB: &str =
    include_str!("../../fixtures/clinic-invariants-mariadb.sql");

/// What the checks need to know about the backup and the sandbox.
pub struct Context<'a> {
    pub manifest: Option<&'a Manifest>,
    pub backup_time: Option<DateTime<Utc>>,
    /// The tables' fingerprints read from the dump while it restored.
    pub streamed: Option<&'a Streamed>,
    /// How each check session may use the sandbox's CPUs and memory.
    pub session: Session,
}

/// Settings of each check session, from the sandbox's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Parallel workers per query: the checks already run `CHECK_WORKERS`
    /// queries side by side, and workers beyond the CPUs only add overhead
    /// (on 2 CPUs, none: the invariants took 30 % less time without).
    pub parallel_workers: u32,
    /// Memory per sort or hash before it spills to disk: the business rules
    /// aggregate whole tables, which spill at PostgreSQL's default 4 MB (and
    /// at 64 MB on a 2.5 GB clinic: 192 MB took 15 % off its rules).
    pub work_mem_mib: u64,
    /// MariaDB's in-memory temporary tables (a derived table, a GROUP BY)
    /// before they go to disk: at its default 16 MB the clinic's rules over
    /// a 1.2 GB clinic wrote theirs to disk, 25.4 s for one that takes 2.1 s
    /// in memory. The buffer pool holds half the sandbox's memory.
    pub tmp_table_mib: u64,
}

impl Session {
    /// Pure: the CPUs shared among the check sessions, and 1/32 of the
    /// memory the sandbox has while they run for each sort or hash (a query
    /// holds a few at once, each up to twice that for a hash, and two run side
    /// by side), between 4 and 256 MiB. That memory is its limit plus the
    /// staging area a parallel restore used and freed before the checks:
    /// 64 MiB in a 2 GiB sandbox that streamed, 82 MiB after staging 600 MB.
    pub fn for_sandbox(cpus: f64, memory_bytes: i64, staging_bytes: Option<u64>) -> Session {
        let per_session = (cpus / CHECK_WORKERS as f64).floor() as u32;
        let memory = memory_bytes.max(0) as u64 + staging_bytes.unwrap_or(0);
        Session {
            parallel_workers: per_session.saturating_sub(1),
            work_mem_mib: (memory >> 25).clamp(4, 256),
            tmp_table_mib: (memory >> 23).clamp(16, 1024),
        }
    }

    /// The MariaDB session's settings (no parallel query there).
    fn mariadb_sql(&self) -> String {
        let bytes = self.tmp_table_mib << 20;
        format!("SET SESSION tmp_table_size = {bytes}, max_heap_table_size = {bytes}")
    }

    fn sql(&self) -> String {
        format!(
            "SET max_parallel_workers_per_gather = {}; SET work_mem = '{}MB'",
            self.parallel_workers, self.work_mem_mib
        )
    }
}

/// How many read-only connections the checks share: the sandbox has two
/// cores, and the manifest's COPY streams, the orphan counts and the business
/// rules are independent queries.
pub(crate) const CHECK_WORKERS: usize = 2;

/// One check to run, in the order the report lists them.
enum Job {
    Manifest,
    ForeignKeys,
    /// One query deciding one or more rules, a count column per rule, and
    /// the planner switches it runs under.
    Invariant(Vec<String>, String, Vec<PlanSwitch>),
    Sql(usize),
    Freshness(usize),
}

/// Runs every check the plan asks for, two at a time, each session on a
/// login of its own (`logins`, their URLs); results come back in the plan's
/// order.
async fn run_all(
    logins: &[String],
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
    b: &bound::Bound<'_>,
) -> Result<Vec<CheckResult>> {
    let jobs = jobs(plan)?;
    let total = jobs.len();
    let mut conns = Vec::with_capacity(CHECK_WORKERS);
    for url in logins.iter().take(total.max(1)) {
        conns.push(bound::Bounded::<PgConnection>::open(url.clone(), ctx.session).await?);
    }
    let mut costs = Vec::with_capacity(total);
    for job in &jobs {
        costs.push(match (job, conns[0].conn()) {
            (Job::Invariant(_, q, s), Some(c)) => estimated_cost(c, q, s).await,
            _ => None,
        });
    }
    Ok(run_queued(conns, schedule(jobs, &costs), plan, ctx, events, b).await)
}

/// A check session of one engine: it runs one job, which may decide several
/// rules (a result each).
trait CheckSession: Send + Sized {
    fn run<'a>(
        &'a mut self,
        job: Job,
        plan: &'a Checks,
        ctx: &'a Context<'a>,
    ) -> impl std::future::Future<Output = Vec<CheckResult>> + Send + 'a;

    /// A read-only session of the login at `url`, sized to the sandbox.
    fn open(url: &str, session: Session) -> impl std::future::Future<Output = Result<Self>> + Send;

    /// The session's id on the server, by which the administrator stops it.
    fn id(&mut self) -> impl std::future::Future<Output = Result<u64>> + Send;
}

impl CheckSession for PgConnection {
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
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *self)
            .await
            .map_err(|e| Error::db("reading the check session's id", e))?;
        Ok(pid.max(0) as u64)
    }
}

/// Each session takes the next job of `order` when it is free (a list
/// schedule: with the longest first, no session ends up running a long job
/// alone); the results come back in the report's order.
async fn run_queued<C: CheckSession>(
    conns: Vec<bound::Bounded<C>>,
    order: Vec<(usize, Job)>,
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
    b: &bound::Bound<'_>,
) -> Vec<CheckResult> {
    let queue = std::sync::Mutex::new(order.into_iter());
    let queue = &queue;
    let worker = |mut conn: bound::Bounded<C>| async move {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.next());
            let Some((i, job)) = next else { break };
            for r in conn.run(job, plan, ctx, b).await {
                events.event(Event::note(format!(
                    "check {}: {:?} ({:.1} s)",
                    r.name, r.status, r.seconds
                )));
                done.push((i, r));
            }
        }
        done
    };
    let runs = futures_util::future::join_all(conns.into_iter().map(worker)).await;
    // A stable sort: the rules of one query keep their order.
    let mut results: Vec<(usize, CheckResult)> = runs.into_iter().flatten().collect();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// One read-only connection of the checks, sized to the sandbox.
async fn check_session(url: &str, session: Session) -> Result<PgConnection> {
    let mut conn = postgres::connect(url, std::time::Duration::from_secs(10)).await?;
    // The role can only read; this makes an honest mistake fail early too.
    conn.execute("SET default_transaction_read_only = on")
        .await
        .map_err(|e| Error::db("making the check session read-only", e))?;
    conn.execute(sqlx::raw_sql(&session.sql()))
        .await
        .map_err(|e| Error::db("sizing the check session", e))?;
    Ok(conn)
}

/// The planner's total cost of a rule's query under its switches (EXPLAIN
/// plans it without running it, in about a millisecond); `None` when it
/// cannot be planned, and running it will then say why.
async fn estimated_cost(conn: &mut PgConnection, query: &str, s: &[PlanSwitch]) -> Option<f64> {
    let q = format!("EXPLAIN {}", query.trim().trim_end_matches(';'));
    let mut tx = switched(conn, s).await.ok()?;
    let line: String = sqlx::query_scalar(&q).fetch_one(&mut *tx).await.ok()?;
    plan_cost(&line)
}

/// A read-only transaction with the rule's planner switches set in it; the
/// switches end with it (it rolls back when dropped: it wrote nothing).
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

/// A rule's counts, a column each, from its query run under its switches.
async fn rule_counts(
    conn: &mut PgConnection,
    query: &str,
    switches: &[PlanSwitch],
    rules: usize,
) -> std::result::Result<Vec<std::result::Result<i64, String>>, String> {
    let q = query.trim().trim_end_matches(';');
    let mut tx = switched(conn, switches).await.map_err(|e| db_detail(&e))?;
    let row = sqlx::query(q)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db_detail(&e))?;
    Ok((0..rules)
        .map(|k| row.try_get::<i64, _>(k).map_err(|e| db_detail(&e)))
        .collect())
}

/// Pure: the total cost in EXPLAIN's first line, `Node  (cost=1.00..19260.67 rows=1 width=8)`.
pub fn plan_cost(line: &str) -> Option<f64> {
    let after = line.split_once("cost=")?.1;
    let total = after.split_once("..")?.1;
    total.split_whitespace().next()?.parse().ok()
}

/// Pure: the order the check sessions take the jobs in, each with its place in
/// the report. The manifest and foreign keys first, then the costliest rules
/// first (longest-first keeps one session from running a long rule alone at
/// the end while the other idles), then everything else in the plan's order.
fn schedule(jobs: Vec<Job>, costs: &[Option<f64>]) -> Vec<(usize, Job)> {
    let mut order: Vec<(usize, Job)> = jobs.into_iter().enumerate().collect();
    let rank = |i: usize, job: &Job| match job {
        Job::Manifest | Job::ForeignKeys => (0, 0.0),
        _ => match costs.get(i).copied().flatten() {
            Some(c) => (1, -c),
            None => (2, 0.0),
        },
    };
    // A stable sort: equal ranks keep the plan's order.
    order.sort_by(|(a, ja), (b, jb)| {
        let (ra, rb) = (rank(*a, ja), rank(*b, jb));
        ra.0.cmp(&rb.0).then(ra.1.total_cmp(&rb.1))
    });
    order
}

/// Runs the checks on a restored database of `engine`, as the administrator
/// at `admin_url` makes each session a login that can only read the
/// restored application's tables; the administrator also stops any check
/// past the plan's bound.
pub async fn run_for(
    engine: EngineKind,
    admin_url: &str,
    plan: &Checks,
    ctx: &Context<'_>,
    events: &Events,
) -> Result<Vec<CheckResult>> {
    let logins =
        crate::engine::check_logins(engine, admin_url, CHECK_WORKERS, plan.timeout).await?;
    let b = bound::Bound {
        engine,
        admin_url,
        limit: plan.timeout,
    };
    match engine {
        EngineKind::Postgres => run_all(&logins, plan, ctx, events, &b).await,
        EngineKind::Mariadb => mariadb::run_all(&logins, plan, ctx, events, &b).await,
    }
}

/// The checks the plan asks for, in the order the report lists them.
fn jobs(plan: &Checks) -> Result<Vec<Job>> {
    jobs_with(plan, CLINIC_INVARIANTS, true)
}

/// The same, with the clinic's rules in the engine's dialect; `switches`:
/// whether its rules may carry planner switches (PostgreSQL's alone).
fn jobs_with(plan: &Checks, clinic_rules: &str, switches: bool) -> Result<Vec<Job>> {
    let mut jobs = vec![Job::Manifest];
    if plan.foreign_keys {
        jobs.push(Job::ForeignKeys);
    }
    if let Some(inv) = &plan.invariants {
        let text = match inv {
            Invariants::Clinic => clinic_rules.to_string(),
            Invariants::File(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::io("read the invariants file", p, e))?,
        };
        for (name, text) in parse_invariants(&text) {
            let (set, query) = plan_switches(&text)
                .and_then(|(set, q)| match set.is_empty() || switches {
                    true => Ok((set, q)),
                    false => Err("planner switches (SET LOCAL) are PostgreSQL's; \
                        a MariaDB rule cannot carry them"
                        .to_string()),
                })
                .map_err(|why| {
                    Error::Usage(format!("{}, rule {name:?}: {why}", rules_label(inv)))
                })?;
            jobs.push(Job::Invariant(rule_names(&name), query, set));
        }
    }
    jobs.extend((0..plan.sql.len()).map(Job::Sql));
    jobs.extend((0..plan.freshness.len()).map(Job::Freshness));
    Ok(jobs)
}

async fn run_job(
    conn: &mut PgConnection,
    job: Job,
    plan: &Checks,
    ctx: &Context<'_>,
) -> Vec<CheckResult> {
    let one = match job {
        Job::Manifest => {
            let check = manifest_check(conn, ctx.manifest, plan.manifest, ctx.streamed);
            timed("manifest comparison", check).await
        }
        Job::ForeignKeys => timed("referential integrity", foreign_key_check(conn)).await,
        Job::Invariant(names, query, switches) => {
            let t = Instant::now();
            let counts = rule_counts(conn, &query, &switches, names.len()).await;
            return judge_rules(&names, counts, t.elapsed().as_secs_f64());
        }
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

/// Pure: each rule's result from its count (column k for the k-th name), or
/// from the query's failure; every rule of a query shares its time.
pub fn judge_rules(
    names: &[String],
    counts: std::result::Result<Vec<std::result::Result<i64, String>>, String>,
    seconds: f64,
) -> Vec<CheckResult> {
    let shared = match names {
        [_] => String::new(),
        _ => format!(" (one query decides {})", names.join(", ")),
    };
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let (status, detail) = match &counts {
                Err(e) => (Status::Error, format!("the rule's query failed: {e}")),
                Ok(c) => match c.get(k) {
                    Some(Ok(0)) => (Status::Passed, format!("0 violations{shared}")),
                    Some(Ok(n)) => (Status::Failed, format!("{n} rows violate it{shared}")),
                    Some(Err(e)) => (
                        Status::Error,
                        format!(
                            "the rule's query must return a count in column {}: {e}",
                            k + 1
                        ),
                    ),
                    None => (
                        Status::Error,
                        format!("the rule's query returns no column {} for it", k + 1),
                    ),
                },
            };
            CheckResult {
                name: format!("invariant: {name}"),
                status,
                detail: Redacted::ours(detail),
                seconds,
            }
        })
        .collect()
}

async fn timed(name: &str, f: impl std::future::Future<Output = (Status, String)>) -> CheckResult {
    let t = Instant::now();
    let (status, detail) = f.await;
    CheckResult {
        name: name.to_string(),
        status,
        detail: Redacted::ours(detail),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// A database error as check evidence: its code and condition, never the
/// server's message (a check's RAISE or a cast can quote any value).
fn db_detail(e: &sqlx::Error) -> String {
    Said::of_sqlx(e).text()
}

/// 42501 insufficient_privilege, 25006 read_only_sql_transaction: the query
/// tried to change the restored database.
fn tried_to_write(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("42501" | "25006")))
}

/// Pure: the manifest to compare the restored database with, or the result
/// when there is none or the scenario turned the comparison off.
pub fn manifest_to_compare(
    manifest: Option<&Manifest>,
    policy: ManifestPolicy,
) -> Result<&Manifest, (Status, String)> {
    match (manifest, policy) {
        (_, ManifestPolicy::Off) => Err((Status::Skipped, "disabled by the scenario".into())),
        (None, ManifestPolicy::IfPresent) => Err((
            Status::Skipped,
            "no manifest beside the backup: the content was not compared to a manifest".into(),
        )),
        (None, ManifestPolicy::Required | ManifestPolicy::Deep) => Err((
            Status::Unknown,
            "no manifest beside the backup: the content was not compared to a manifest, so it cannot be shown complete".into(),
        )),
        (Some(m), _) => Ok(m),
    }
}

pub async fn manifest_check(
    conn: &mut PgConnection,
    manifest: Option<&Manifest>,
    policy: ManifestPolicy,
    streamed: Option<&Streamed>,
) -> (Status, String) {
    let m = match manifest_to_compare(manifest, policy) {
        Ok(m) => m,
        Err(decided) => return decided,
    };
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

/// The deep comparison: every restored table read back (COPY) and fingerprinted.
async fn in_database(
    conn: &mut PgConnection,
    expected: &[TableFingerprint],
) -> Result<(Status, String)> {
    let tables = postgres::list_tables(conn).await?;
    let restored = postgres::fingerprint_tables(conn, &tables).await?;
    Ok(compare(expected, &restored))
}

/// The comparison made while the dump streamed: each table's rows were
/// fingerprinted on their way to the database, and the restored database
/// only has to show it holds as many rows. A table whose streamed
/// fingerprint differs from the manifest's is read back and fingerprinted
/// in the database before anything is called different.
async fn by_stream(
    conn: &mut PgConnection,
    expected: &[TableFingerprint],
    streamed: &[TableFingerprint],
) -> Result<(Status, String)> {
    let tables = postgres::list_tables(conn).await?;
    let mut counted = Vec::with_capacity(tables.len());
    for t in &tables {
        counted.push((t.clone(), postgres::count_rows(conn, t).await?));
    }
    let mut deep = Vec::new();
    for t in read_back(expected, streamed, &tables) {
        deep.push(postgres::fingerprint_table(conn, &t).await?);
    }
    Ok(judge_streamed(expected, streamed, &counted, &deep))
}

/// The restored tables whose streamed fingerprint does not vouch for them:
/// missing from the stream, or different from the manifest.
fn read_back(
    expected: &[TableFingerprint],
    streamed: &[TableFingerprint],
    tables: &[String],
) -> Vec<String> {
    tables
        .iter()
        .filter(|t| {
            let want = expected.iter().find(|e| &e.name == *t);
            let got = streamed.iter().find(|s| &s.name == *t);
            match (want, got) {
                (Some(w), Some(g)) => w.rows != g.rows || w.fingerprint != g.fingerprint,
                (Some(_), None) => true,
                (None, _) => false,
            }
        })
        .cloned()
        .collect()
}

/// Pure: what the restored database holds, per table, as the manifest
/// comparison sees it (a streamed fingerprint with the database's own row
/// count, or the database's own fingerprint), then judged like the deep check.
pub fn judge_streamed(
    expected: &[TableFingerprint],
    streamed: &[TableFingerprint],
    counted: &[(String, u64)],
    deep: &[TableFingerprint],
) -> (Status, String) {
    let restored: Vec<TableFingerprint> = counted
        .iter()
        .map(|(name, rows)| match deep.iter().find(|d| &d.name == name) {
            Some(d) => d.clone(),
            None => TableFingerprint {
                name: name.clone(),
                rows: *rows,
                fingerprint: streamed
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| s.fingerprint.clone())
                    .unwrap_or_default(),
            },
        })
        .collect();
    let (status, detail) = compare(expected, &restored);
    if status != Status::Passed {
        return (status, detail);
    }
    let how = match deep.len() {
        0 => String::new(),
        n => format!("; {n} of them fingerprinted again in the restored database, their stream differing from the manifest"),
    };
    (
        status,
        format!("{detail} (each table's rows fingerprinted as they streamed from the backup into the database, and counted in the restored database{how})"),
    )
}

/// Names every difference between what the manifest recorded and what was restored.
pub fn compare(expected: &[TableFingerprint], restored: &[TableFingerprint]) -> (Status, String) {
    let want: BTreeMap<&str, &TableFingerprint> =
        expected.iter().map(|t| (t.name.as_str(), t)).collect();
    let got: BTreeMap<&str, &TableFingerprint> =
        restored.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut problems = Vec::new();
    for (name, w) in &want {
        match got.get(name) {
            None => problems.push(format!("{name}: missing ({} rows expected)", w.rows)),
            Some(g) if g.rows != w.rows => problems.push(format!(
                "{name}: {} rows restored, {} in the manifest",
                g.rows, w.rows
            )),
            Some(g) if g.fingerprint != w.fingerprint => problems.push(format!(
                "{name}: content fingerprint differs ({} rows in both)",
                g.rows
            )),
            Some(_) => {}
        }
    }
    for name in got.keys() {
        if !want.contains_key(name) {
            problems.push(format!("{name}: not in the manifest"));
        }
    }
    if problems.is_empty() {
        let rows: u64 = expected.iter().map(|t| t.rows).sum();
        (
            Status::Passed,
            format!(
                "{} tables, {rows} rows: every count and fingerprint equals the manifest's",
                expected.len()
            ),
        )
    } else {
        (Status::Failed, problems.join("; "))
    }
}

/// Every foreign key the restored schema declares, and its orphans. Rows with
/// a NULL in the key are not orphans (MATCH SIMPLE, PostgreSQL's default).
///
/// A key the restore added as valid was checked by PostgreSQL itself: `ALTER
/// TABLE ... ADD FOREIGN KEY` reads every row and fails on an orphan, and the
/// restore stops on the first error. Only keys that are NOT VALID (added so in
/// the clinic's database, or restored so) can hide orphans; those are counted
/// here by an anti-join.
pub async fn foreign_key_check(conn: &mut PgConnection) -> (Status, String) {
    let rows = match sqlx::query(
        "SELECT c.conname, \
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
         ORDER BY cn.nspname, cl.relname, c.conname",
    )
    .fetch_all(&mut *conn)
    .await
    {
        Ok(rows) => rows,
        Err(e) => return (Status::Failed, format!("cannot list foreign keys: {}", db_detail(&e))),
    };
    let fks: Vec<ForeignKey> = rows
        .iter()
        .map(|r| ForeignKey {
            name: r.get(0),
            child: r.get(1),
            parent: r.get(2),
            child_columns: r.get(3),
            parent_columns: r.get(4),
            validated: r.get(5),
        })
        .collect();
    let mut counts = Vec::with_capacity(fks.len());
    for fk in &fks {
        counts.push(if fk.validated {
            None
        } else {
            let q = orphans_query(fk, postgres::quote_ident, AntiJoin::NotExists);
            Some(
                sqlx::query_scalar::<_, i64>(&q)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| db_detail(&e)),
            )
        });
    }
    judge_foreign_keys(EngineKind::Postgres, &fks, &counts)
}

/// One foreign key as the restored schema declares it.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub name: String,
    /// `schema.table` (PostgreSQL) or `table` (MariaDB).
    pub child: String,
    pub parent: String,
    pub child_columns: Vec<String>,
    pub parent_columns: Vec<String>,
    /// Checked over every row by the database as the restore added it.
    pub validated: bool,
}

/// How an engine counts orphans fastest. PostgreSQL plans `NOT EXISTS` as a
/// hash anti-join. MariaDB turns it into a materialised `NOT IN` (6.4 s over
/// 1.4 million invoice lines), where a `LEFT JOIN ... IS NULL` stops at each
/// row's first match ("Not exists", 0.9 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AntiJoin {
    NotExists,
    LeftJoin,
}

/// Pure: the query counting the child's rows whose key is set and has no
/// parent row.
pub fn orphans_query(fk: &ForeignKey, quote: fn(&str) -> String, how: AntiJoin) -> String {
    let not_null = fk
        .child_columns
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", quote(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let join = fk
        .child_columns
        .iter()
        .zip(&fk.parent_columns)
        .map(|(c, p)| format!("p.{} = c.{}", quote(p), quote(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let table = |t: &str| crate::engine::quote_parts(t, quote);
    let (child, parent) = (table(&fk.child), table(&fk.parent));
    match how {
        AntiJoin::NotExists => format!(
            "SELECT count(*) FROM {child} c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {join})"
        ),
        // A matched parent's key equals the child's, which is not NULL: a
        // NULL there means no parent.
        AntiJoin::LeftJoin => format!(
            "SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON {join} WHERE {not_null} AND p.{} IS NULL",
            quote(&fk.parent_columns[0])
        ),
    }
}

/// Pure: referential integrity from each key's orphan count (`None` for a
/// key the database validated itself; `Err` when it could not be counted).
pub fn judge_foreign_keys(
    engine: EngineKind,
    fks: &[ForeignKey],
    counts: &[Option<std::result::Result<i64, String>>],
) -> (Status, String) {
    if fks.is_empty() {
        return (
            Status::Skipped,
            "the restored schema declares no foreign keys".into(),
        );
    }
    let mut orphaned = Vec::new();
    let mut total = 0i64;
    for (fk, count) in fks.iter().zip(counts) {
        match count {
            None | Some(Ok(0)) => {}
            Some(Ok(n)) => {
                total += n;
                orphaned.push(format!(
                    "{} ({} -> {}): {n} orphans",
                    fk.name, fk.child, fk.parent
                ));
            }
            Some(Err(e)) => orphaned.push(format!("{}: cannot be checked: {e}", fk.name)),
        }
    }
    if !orphaned.is_empty() {
        return (
            Status::Failed,
            format!(
                "{total} orphans across {} of {} foreign keys: {}",
                orphaned.len(),
                fks.len(),
                orphaned.join("; ")
            ),
        );
    }
    let validated = fks.iter().filter(|f| f.validated).count();
    let how = match engine {
        EngineKind::Postgres => format!(
            "{validated} validated by PostgreSQL over every row as the restore added them, {} NOT VALID counted here",
            fks.len() - validated
        ),
        EngineKind::Mariadb => "every one counted here: a dump restores with FOREIGN_KEY_CHECKS=0, so MariaDB validated none".into(),
    };
    (
        Status::Passed,
        format!("{} foreign keys, 0 orphans ({how})", fks.len()),
    )
}

/// Where a rule came from, for an error about it.
fn rules_label(inv: &Invariants) -> String {
    match inv {
        Invariants::Clinic => "the clinic rules".into(),
        Invariants::File(p) => format!("invariants file {}", p.display()),
    }
}

async fn sql_check(conn: &mut PgConnection, c: &SqlCheck) -> (Status, String) {
    // Simple protocol: every column arrives as text, whatever its type (numeric,
    // bigint, float), and is read as a number from there.
    // (RawSql::fetch_optional in sqlx 0.8 calls fetch_one; the executor's own
    // fetch_optional is the real thing.)
    let row = conn.fetch_optional(sqlx::raw_sql(&c.query)).await;
    if let Some(refused) = row
        .as_ref()
        .err()
        .and_then(|e| refusal::refused(EngineKind::Postgres, e, c))
    {
        return refused;
    }
    let row = match row {
        Ok(r) => r,
        Err(e) if tried_to_write(&e) => {
            return (
                Status::Error,
                format!(
                    "the check {} at {} tried to change the restored database, and checks can only read: {}. Make it a query that only reads (SELECT)",
                    c.name, c.origin, db_detail(&e)
                ),
            )
        }
        Err(e) => {
            return (
                Status::Error,
                format!("the query at {} failed: {}", c.origin, db_detail(&e)),
            )
        }
    };
    let first = row.map(|row| row.try_get_unchecked::<Option<String>, _>(0).ok().flatten());
    judge_sql(c, first)
}

/// Pure: a custom check's result from the first column of its first row as
/// text (`None`: no row; `Some(None)`: NULL or unreadable).
pub fn judge_sql(c: &SqlCheck, first: Option<Option<String>>) -> (Status, String) {
    if c.expect == Expect::NoRows {
        return match first {
            None => (Status::Passed, "no rows, as expected".into()),
            Some(_) => (Status::Failed, "returned rows; expected none".into()),
        };
    }
    let Some(text) = first else {
        return (
            Status::Failed,
            format!("returned no rows; expected a value {}", c.expect),
        );
    };
    let value: Option<f64> = text.and_then(|s| s.trim().parse().ok());
    let Some(v) = value else {
        return (
            Status::Error,
            format!(
                "the query at {} must return a number in its first column",
                c.origin
            ),
        );
    };
    let ok = match c.expect {
        Expect::Equals(x) => v == x,
        Expect::AtMost(x) => v <= x,
        Expect::AtLeast(x) => v >= x,
        Expect::Between(a, b) => v >= a && v <= b,
        // Handled above, before a value is read.
        Expect::NoRows => false,
    };
    let detail = format!("{v} (expected {})", c.expect);
    (if ok { Status::Passed } else { Status::Failed }, detail)
}

async fn freshness_check(
    conn: &mut PgConnection,
    f: &Freshness,
    backup_time: Option<DateTime<Utc>>,
) -> (Status, String) {
    let backup_time = match known_backup_time(backup_time) {
        Ok(t) => t,
        Err(unknown) => return unknown,
    };
    let q = format!(
        "SELECT extract(epoch FROM max({}))::float8 FROM {}",
        postgres::quote_ident(&f.column),
        postgres::quote_qualified(&f.table)
    );
    match sqlx::query_scalar::<_, Option<f64>>(&q)
        .fetch_one(&mut *conn)
        .await
    {
        Ok(newest) => judge_freshness(f, backup_time, newest),
        Err(e) => (Status::Error, format!("cannot read it: {}", db_detail(&e))),
    }
}

/// Pure: the backup's time, or the freshness result when it is unknown
/// (nothing to measure the lag from, and nothing is asked of the database).
pub fn known_backup_time(
    backup_time: Option<DateTime<Utc>>,
) -> std::result::Result<DateTime<Utc>, (Status, String)> {
    backup_time.ok_or_else(|| {
        (
            Status::Unknown,
            "the backup's time is unknown (no manifest, no time in its name)".into(),
        )
    })
}

/// Pure: freshness from the newest value's time (seconds since the epoch;
/// `None` when the table is empty).
pub fn judge_freshness(
    f: &Freshness,
    backup_time: DateTime<Utc>,
    newest: Option<f64>,
) -> (Status, String) {
    match newest {
        None => (Status::Failed, format!("{} has no rows", f.table)),
        Some(newest) => {
            let lag = backup_time.timestamp_millis() as f64 / 1000.0 - newest;
            let hours = lag / 3600.0;
            let limit = f.max_lag_seconds / 3600.0;
            let detail = format!(
                "the newest {}.{} is {hours:.1} h older than the backup (limit {limit:.1} h)",
                f.table, f.column
            );
            (
                if lag <= f.max_lag_seconds {
                    Status::Passed
                } else {
                    Status::Failed
                },
                detail,
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    fn fp(name: &str, rows: u64, f: &str) -> TableFingerprint {
        TableFingerprint {
            name: name.into(),
            rows,
            fingerprint: f.into(),
        }
    }

    #[test]
    fn comparison_names_each_difference() {
        let want = vec![
            fp("public.a", 2, "x"),
            fp("public.b", 3, "y"),
            fp("public.c", 1, "z"),
        ];
        let got = vec![
            fp("public.a", 2, "x"),
            fp("public.b", 3, "Y"),
            fp("public.d", 1, "w"),
        ];
        let (s, d) = compare(&want, &got);
        assert_eq!(s, Status::Failed);
        assert!(d.contains("public.b: content fingerprint differs"), "{d}");
        assert!(d.contains("public.c: missing"), "{d}");
        assert!(d.contains("public.d: not in the manifest"), "{d}");
        assert!(!d.contains("public.a"), "{d}");
        assert_eq!(compare(&want, &want).0, Status::Passed);
    }

    #[test]
    fn streamed_fingerprints_and_restored_counts_are_judged_table_by_table() {
        let manifest = vec![fp("public.a", 2, "x"), fp("public.b", 3, "y")];
        let counted = |a, b| vec![("public.a".to_string(), a), ("public.b".to_string(), b)];
        // The stream matched the manifest and the database holds every row.
        let (s, d) = judge_streamed(&manifest, &manifest, &counted(2, 3), &[]);
        assert_eq!(s, Status::Passed, "{d}");
        assert!(
            d.contains("as they streamed") && !d.contains("again"),
            "{d}"
        );
        // A row lost in the database: named, whatever the stream said.
        let (s, d) = judge_streamed(&manifest, &manifest, &counted(2, 2), &[]);
        assert_eq!(s, Status::Failed);
        assert!(
            d.contains("public.b: 2 rows restored, 3 in the manifest"),
            "{d}"
        );
        // The stream differed; the table read back decides.
        let streamed = vec![fp("public.a", 2, "x"), fp("public.b", 3, "other")];
        let (s, d) = judge_streamed(
            &manifest,
            &streamed,
            &counted(2, 3),
            &[fp("public.b", 3, "y")],
        );
        assert_eq!(s, Status::Passed, "{d}");
        assert!(d.contains("1 of them fingerprinted again"), "{d}");
        let (s, d) = judge_streamed(
            &manifest,
            &streamed,
            &counted(2, 3),
            &[fp("public.b", 3, "z")],
        );
        assert_eq!(s, Status::Failed);
        assert!(d.contains("public.b: content fingerprint differs"), "{d}");
        // A table the manifest does not know, and one the database lacks.
        let (s, d) = judge_streamed(
            &manifest,
            &manifest,
            &[("public.a".into(), 2), ("public.c".into(), 1)],
            &[],
        );
        assert_eq!(s, Status::Failed);
        assert!(
            d.contains("public.b: missing") && d.contains("public.c: not in the manifest"),
            "{d}"
        );
        // Only tables the stream does not vouch for are read back.
        let tables = ["public.a".to_string(), "public.b".into(), "public.c".into()];
        assert_eq!(read_back(&manifest, &streamed, &tables), ["public.b"]);
        assert_eq!(read_back(&manifest, &manifest[..1], &tables), ["public.b"]);
    }

    #[test]
    fn check_sessions_share_the_sandboxs_cpus_and_memory() {
        let gib = 1i64 << 30;
        assert_eq!(
            Session::for_sandbox(2.0, 2 * gib, None),
            Session {
                parallel_workers: 0,
                work_mem_mib: 64,
                tmp_table_mib: 256,
            }
        );
        // The staging area is freed before the checks: theirs to use.
        let staged = Some(1259u64 << 20);
        assert_eq!(Session::for_sandbox(2.0, 2 * gib, staged).work_mem_mib, 103);
        assert_eq!(
            Session::for_sandbox(8.0, 16 * gib, None).parallel_workers,
            3
        );
        assert_eq!(Session::for_sandbox(8.0, 16 * gib, None).work_mem_mib, 256);
        assert_eq!(Session::for_sandbox(1.0, 512 << 20, None).work_mem_mib, 16);
        assert_eq!(Session::for_sandbox(0.5, 64 << 20, None).work_mem_mib, 4);
    }

    #[test]
    fn orphans_are_counted_with_either_anti_join() {
        let fk = ForeignKey {
            name: "lines_invoice_fk".into(),
            child: "invoice_lines".into(),
            parent: "invoices".into(),
            child_columns: vec!["invoice_id".into(), "clinic_id".into()],
            parent_columns: vec!["id".into(), "clinic_id".into()],
            validated: false,
        };
        let q = |s: &str| format!("`{s}`");
        assert_eq!(
            orphans_query(&fk, q, AntiJoin::NotExists),
            "SELECT count(*) FROM `invoice_lines` c WHERE c.`invoice_id` IS NOT NULL AND c.`clinic_id` IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM `invoices` p WHERE p.`id` = c.`invoice_id` AND p.`clinic_id` = c.`clinic_id`)"
        );
        assert_eq!(
            orphans_query(&fk, q, AntiJoin::LeftJoin),
            "SELECT count(*) FROM `invoice_lines` c LEFT JOIN `invoices` p ON p.`id` = c.`invoice_id` AND p.`clinic_id` = c.`clinic_id` \
             WHERE c.`invoice_id` IS NOT NULL AND c.`clinic_id` IS NOT NULL AND p.`id` IS NULL"
        );
    }

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

    #[test]
    fn costly_rules_run_first_and_keep_their_place_in_the_report() {
        let rule = |n: &str| Job::Invariant(vec![n.into()], String::new(), vec![]);
        let jobs = vec![
            Job::Manifest,
            Job::ForeignKeys,
            rule("cheap"),
            rule("dear"),
            rule("unplannable"),
            rule("middling"),
            Job::Sql(0),
            Job::Freshness(0),
        ];
        let costs = [
            None,
            None,
            Some(10.0),
            Some(9000.0),
            None,
            Some(500.0),
            None,
            None,
        ];
        let order: Vec<usize> = schedule(jobs, &costs).into_iter().map(|(i, _)| i).collect();
        assert_eq!(order, vec![0, 1, 3, 5, 2, 4, 6, 7]);
    }

    #[test]
    fn one_query_may_decide_several_rules_each_with_its_own_result() {
        let names = rule_names(" a, b ,");
        assert_eq!(names, ["a", "b"]);
        let r = judge_rules(&names, Ok(vec![Ok(0), Ok(3)]), 0.5);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].name.as_str(), r[0].status),
            ("invariant: a", Status::Passed)
        );
        assert_eq!(
            (r[1].name.as_str(), r[1].status),
            ("invariant: b", Status::Failed)
        );
        assert!(r[1]
            .detail
            .as_str()
            .starts_with("3 rows violate it (one query decides a, b)"));
        assert!(r.iter().all(|c| c.seconds == 0.5));
        // A column missing or not a count is an error of that rule alone.
        let r = judge_rules(&names, Ok(vec![Ok(0)]), 0.1);
        assert_eq!((r[0].status, r[1].status), (Status::Passed, Status::Error));
        let r = judge_rules(&names, Err("syntax error".into()), 0.1);
        assert!(r.iter().all(|c| c.status == Status::Error));
        // One name: the detail says nothing of other rules.
        let one = judge_rules(&["x".to_string()], Ok(vec![Ok(0)]), 0.1);
        assert_eq!(one[0].detail.as_str(), "0 violations");
    }

    #[test]
    fn both_dialects_state_the_same_clinic_rules() {
        let names = |text| {
            parse_invariants(text)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(CLINIC_INVARIANTS_MARIADB), names(CLINIC_INVARIANTS));
    }

    #[test]
    fn the_clinic_rules_parse() {
        let rules = parse_invariants(CLINIC_INVARIANTS);
        assert!(rules.len() >= 5, "{}", rules.len());
        assert!(rules.iter().any(|(n, _)| n == "invoice_total_equals_lines"));
        assert!(rules
            .iter()
            .all(|(_, q)| q.to_lowercase().contains("select")));
        // Each rule's switches parse, and only PostgreSQL's rules have any.
        let switched = |text: &str| {
            parse_invariants(text)
                .iter()
                .filter(|(_, q)| !plan_switches(q).unwrap().0.is_empty())
                .count()
        };
        assert!(switched(CLINIC_INVARIANTS) > 0);
        assert_eq!(switched(CLINIC_INVARIANTS_MARIADB), 0);
    }

    #[test]
    fn a_mariadb_rule_with_planner_switches_is_refused_at_plan_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.sql");
        std::fs::write(
            &file,
            "-- check: r\nSET LOCAL enable_hashjoin = off;\nSELECT 0",
        )
        .unwrap();
        let plan = Checks {
            manifest: ManifestPolicy::Off,
            foreign_keys: false,
            invariants: Some(Invariants::File(file.clone())),
            freshness: vec![],
            sql: vec![],
            timeout: std::time::Duration::from_secs(1),
        };
        let err = jobs_with(&plan, "", false).err().unwrap().to_string();
        assert!(err.contains("PostgreSQL's"), "{err}");
        assert!(err.contains("rule \"r\""), "{err}");
        assert!(jobs_with(&plan, "", true).is_ok());
    }
}
