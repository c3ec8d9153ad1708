//! What the checks ask a restored database, whatever its engine: a check
//! session ([`Reader`]) lists and fingerprints tables, discovers foreign keys
//! and counts their orphans, and runs the clinic's and the user's queries.
//! Each engine's folder implements it (`postgres/reader.rs`,
//! `mariadb/reader.rs`); `checks` schedules the jobs and judges the answers.

use crate::engine::TableFingerprint;
use crate::error::Result;
use crate::scenario::rules::PlanSwitch;
use futures_util::future::BoxFuture;

/// Settings of each check session, from the sandbox's size
/// (`checks::Session::for_sandbox` sizes them).
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

/// How the manifest comparison reads the restored tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestReading {
    /// From the fingerprints taken while the dump streamed, when there are
    /// some, else every restored table read back in the database.
    StreamedOrEveryTable,
    /// The manifest's tables, read back in the database: a plain SQL dump is
    /// not read on its way in.
    ManifestTables,
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

/// Every table of `tables` fingerprinted, in order, on any engine's session
/// (a backup's snapshot, a check's read-back).
pub async fn fingerprint_tables(
    conn: &mut dyn Reader,
    tables: &[String],
) -> Result<Vec<TableFingerprint>> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        out.push(conn.fingerprint(t).await?);
    }
    Ok(out)
}

/// A database error as check evidence: its code and condition, never the
/// server's message (a check's RAISE or a cast can quote any value).
pub fn detail(e: &sqlx::Error) -> String {
    crate::redact::Said::of_sqlx(e).text()
}

/// A count per column of a rule's first row, or why a column is not one.
pub type Counts = Vec<std::result::Result<i64, String>>;

/// One read-only check session of one engine, on its own login.
pub trait Reader: Send {
    /// The session's id on the server, by which the administrator stops it.
    fn id(&mut self) -> BoxFuture<'_, Result<u64>>;
    /// The planner's total cost of a query, where the engine estimates one
    /// without running it; `None` otherwise.
    fn cost<'a>(
        &'a mut self,
        query: &'a str,
        switches: &'a [PlanSwitch],
    ) -> BoxFuture<'a, Option<f64>>;
    /// The first column of the first row as text (`None`: no row;
    /// `Some(None)`: NULL or unreadable).
    #[allow(clippy::type_complexity)]
    fn first_text<'a>(
        &'a mut self,
        query: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Option<Option<String>>, sqlx::Error>>;
    /// The first row of a rule's query run under its planner switches, one
    /// count per column for `n` rules.
    fn counts<'a>(
        &'a mut self,
        query: &'a str,
        switches: &'a [PlanSwitch],
        n: usize,
    ) -> BoxFuture<'a, std::result::Result<Counts, sqlx::Error>>;
    /// Every table of the restored application, as the manifest names them.
    fn tables(&mut self) -> BoxFuture<'_, Result<Vec<String>>>;
    fn fingerprint<'a>(&'a mut self, table: &'a str) -> BoxFuture<'a, Result<TableFingerprint>>;
    fn count_rows<'a>(&'a mut self, table: &'a str) -> BoxFuture<'a, Result<u64>>;
    /// Every foreign key the restored schema declares.
    fn foreign_keys(&mut self) -> BoxFuture<'_, std::result::Result<Vec<ForeignKey>, sqlx::Error>>;
    /// The rows of `fk`'s child with no parent, or why they could not be
    /// counted (as evidence: no server message).
    fn orphans<'a>(
        &'a mut self,
        fk: &'a ForeignKey,
    ) -> BoxFuture<'a, std::result::Result<i64, String>>;
    /// The newest value of `table.column` in seconds since the epoch (`None`:
    /// no rows).
    fn newest<'a>(
        &'a mut self,
        table: &'a str,
        column: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Option<f64>, sqlx::Error>>;
}
