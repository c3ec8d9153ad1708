//! The drill history: an append-only, hash-chained ledger in SQLite. Every
//! run appends its report (PHI-free, exactly as written to the report file),
//! the report's SHA-256 and the previous record's hash; `verify` recomputes
//! the chain, so an edited verdict, a deleted or reordered record is found.
//! Cutting off the newest records leaves an intact shorter chain: that is
//! found against the head a signed evidence pack recorded.

pub mod anchor;
pub mod chain;
pub mod marker;
pub mod view;

use crate::error::{Error, Result};
use chain::{Broken, Head, Stored};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The ledger format this build reads and writes.
pub const LEDGER_VERSION: u32 = 1;
const FORMAT: &str = "restore-drill drill history";
/// How long a writer waits for another one (a drill finishing at the same
/// moment) before giving up with "locked".
const BUSY_WAIT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE drills (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    site TEXT NOT NULL,
    tool TEXT NOT NULL,
    report TEXT NOT NULL,
    report_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Append-only against mistakes; against tampering, the chain.
CREATE TRIGGER drills_no_update BEFORE UPDATE ON drills
    BEGIN SELECT RAISE(ABORT, 'the drill history is append-only'); END;
CREATE TRIGGER drills_no_delete BEFORE DELETE ON drills
    BEGIN SELECT RAISE(ABORT, 'the drill history is append-only'); END;
";

/// Alerts sent after a run: operational, not evidence, so outside the chain.
const DELIVERIES: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    record_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    delivered INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT
);
";

/// A `deliveries` row as SQLite returns it.
type DeliveryTuple = (i64, String, String, String, bool, u32, Option<String>);

/// One alert's fate, as the history keeps it for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRow {
    pub record_id: i64,
    pub at: String,
    /// `webhook` or `email`.
    pub channel: String,
    /// Where it went, without credentials.
    pub target: String,
    pub delivered: bool,
    pub attempts: u32,
    /// Why it failed (redacted when it was recorded).
    pub reason: Option<String>,
}

/// One record, with its report read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub stored: Stored,
    pub report: view::ReportView,
}

/// `--history`, else `RESTORE_DRILL_HISTORY` (clap reads it), else the
/// state folder: the system's as root, the user's XDG one otherwise.
pub fn default_path() -> PathBuf {
    crate::state::dir().join("history.sqlite")
}

pub struct Ledger {
    path: PathBuf,
    conn: SqliteConnection,
}

impl Ledger {
    /// Opens the ledger to append to it, creating it (and its directory) on
    /// first use.
    pub async fn open_or_create(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::catalog::atomic::create_dir(
                dir,
                crate::catalog::atomic::DirMode::Shared,
                "drill history's folder",
                "--history",
            )?;
        }
        let mut ledger = Self::connect(path, true).await?;
        ledger.init().await?;
        // WAL only once the file is known to be ours: readers never wait for
        // a drill appending, and a foreign file is never changed.
        ledger.wal().await?;
        Ok(ledger)
    }

    /// Opens an existing ledger to read it; a missing file is an error, not
    /// an empty history.
    pub async fn open(path: &Path) -> Result<Ledger> {
        if !path.exists() {
            return Err(Error::Environment(format!(
                "no drill history at {}: run a drill first, or name the history with --history FILE (or RESTORE_DRILL_HISTORY)",
                path.display()
            )));
        }
        let mut ledger = Self::connect(path, false).await?;
        ledger.check_meta().await?;
        Ok(ledger)
    }

    async fn connect(path: &Path, create: bool) -> Result<Ledger> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .busy_timeout(BUSY_WAIT)
            .disable_statement_logging();
        let conn = tokio::time::timeout(BUSY_WAIT + Duration::from_secs(5), opts.connect())
            .await
            .map_err(|_| locked(path))?
            .map_err(|e| sqlite_error(path, "open", e))?;
        Ok(Ledger {
            path: path.to_path_buf(),
            conn,
        })
    }

    /// Creates the tables in a new file; checks the format of an existing one.
    async fn init(&mut self) -> Result<()> {
        let path = self.path.clone();
        let mut tx = self
            .conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| sqlite_error(&path, "lock", e))?;
        let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| sqlite_error(&path, "read", e))?;
        if tables == 0 {
            sqlx::raw_sql(SCHEMA)
                .execute(&mut *tx)
                .await
                .map_err(|e| sqlite_error(&path, "create", e))?;
            sqlx::query("INSERT INTO ledger_meta (key, value) VALUES ('format', ?), ('ledger_version', ?), ('created_by', ?)")
                .bind(FORMAT)
                .bind(LEDGER_VERSION.to_string())
                .bind(tool())
                .execute(&mut *tx)
                .await
                .map_err(|e| sqlite_error(&path, "create", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| sqlite_error(&path, "create", e))?;
        self.check_meta().await?;
        // In a write transaction of its own: as a bare statement it would
        // read first and then ask for the write lock, and SQLite answers
        // "busy" at once (no waiting) when another drill opening the same new
        // history holds it, to avoid a deadlock.
        let mut tx = self
            .conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| sqlite_error(&path, "lock", e))?;
        sqlx::raw_sql(DELIVERIES)
            .execute(&mut *tx)
            .await
            .map_err(|e| sqlite_error(&path, "create", e))?;
        tx.commit()
            .await
            .map_err(|e| sqlite_error(&path, "create", e))
    }

    /// Switches the file to WAL. The switch needs the file to itself and
    /// SQLite does not wait for that (the busy timeout does not apply), so a
    /// second drill opening the history at the same moment is waited for here,
    /// within the same bound.
    async fn wal(&mut self) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            match sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&mut self.conn)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(sqlite_error(&self.path, "open", e)),
            }
        }
    }

    /// Refuses a file that is not a drill history, or one a newer version wrote.
    async fn check_meta(&mut self) -> Result<()> {
        let path = self.path.clone();
        let ours: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('ledger_meta', 'drills')",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| sqlite_error(&path, "read", e))?;
        if ours != 2 {
            return Err(foreign(&path));
        }
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM ledger_meta")
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| sqlite_error(&path, "read", e))?;
        let get = |k: &str| {
            rows.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        if get("format").as_deref() != Some(FORMAT) {
            return Err(foreign(&self.path));
        }
        let version: u32 = get("ledger_version")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| foreign(&self.path))?;
        if version > LEDGER_VERSION {
            return Err(Error::Environment(format!(
                "the drill history {} was written by a newer restore-drill (ledger format {version}; this one reads up to {LEDGER_VERSION}): upgrade restore-drill, it is left untouched",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Appends one report. The transaction takes the write lock before it
    /// reads the head, so two drills finishing at once land one after the
    /// other with the chain intact.
    pub async fn append(&mut self, report_json: &str, site: &str) -> Result<Stored> {
        let path = self.path.clone();
        let err = |e| sqlite_error(&path, "append to", e);
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT id, hash FROM drills ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
        let id = last.as_ref().map_or(1, |(id, _)| id + 1);
        let prev_hash = last.map_or(chain::GENESIS.to_string(), |(_, h)| h);
        let recorded_at = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let report_sha256 = chain::sha256_hex(report_json.as_bytes());
        let tool = tool();
        let hash = chain::record_hash(id, &recorded_at, site, &tool, &report_sha256, &prev_hash);
        sqlx::query("INSERT INTO drills (id, recorded_at, site, tool, report, report_sha256, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(id)
            .bind(&recorded_at)
            .bind(site)
            .bind(&tool)
            .bind(report_json)
            .bind(&report_sha256)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Stored {
            id,
            recorded_at,
            site: site.to_string(),
            tool,
            report: report_json.to_string(),
            report_sha256,
            prev_hash,
            hash,
        })
    }

    /// Every record, in order, as stored (nothing checked).
    pub async fn stored(&mut self) -> Result<Vec<Stored>> {
        let rows = sqlx::query("SELECT id, recorded_at, site, tool, report, report_sha256, prev_hash, hash FROM drills ORDER BY id")
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| sqlite_error(&self.path, "read", e))?;
        rows.iter()
            .map(|r| {
                Ok(Stored {
                    id: r.try_get(0)?,
                    recorded_at: r.try_get(1)?,
                    site: r.try_get(2)?,
                    tool: r.try_get(3)?,
                    report: r.try_get(4)?,
                    report_sha256: r.try_get(5)?,
                    prev_hash: r.try_get(6)?,
                    hash: r.try_get(7)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| sqlite_error(&self.path, "read", e))
    }

    /// The chain checked; on success every record with its report read back.
    pub async fn verified(&mut self) -> Result<Verified> {
        let stored = self.stored().await?;
        match chain::verify(&stored) {
            Err(broken) => Ok(Verified::Broken(broken)),
            Ok(head) => {
                let records = stored
                    .into_iter()
                    .map(|s| read_back(&self.path, s))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Verified::Intact { head, records })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the history and waits until SQLite has let go of the file.
    /// Dropping the ledger closes it later, on SQLite's own thread (its last
    /// WAL checkpoint holds the file's lock a moment): whoever opens the
    /// file next in this process must not find it still held.
    pub async fn close(self) -> Result<()> {
        let path = self.path;
        self.conn
            .close()
            .await
            .map_err(|e| sqlite_error(&path, "close", e))
    }

    /// The chain hash of record `id`, if the history holds it.
    pub async fn hash_of(&mut self, id: i64) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT hash FROM drills WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut self.conn)
            .await
            .map_err(|e| sqlite_error(&self.path, "read", e))
    }

    /// Records the alerts sent for a record.
    pub async fn record_deliveries(&mut self, rows: &[DeliveryRow]) -> Result<()> {
        let path = self.path.clone();
        for r in rows {
            sqlx::query("INSERT INTO deliveries (record_id, at, channel, target, delivered, attempts, reason) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(r.record_id)
                .bind(&r.at)
                .bind(&r.channel)
                .bind(&r.target)
                .bind(r.delivered)
                .bind(r.attempts)
                .bind(&r.reason)
                .execute(&mut self.conn)
                .await
                .map_err(|e| sqlite_error(&path, "append to", e))?;
        }
        Ok(())
    }

    /// The alerts of the newest record that sent any (none in a history
    /// written before alerts existed).
    pub async fn last_deliveries(&mut self) -> Result<Vec<DeliveryRow>> {
        let path = self.path.clone();
        let has: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'deliveries'",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| sqlite_error(&path, "read", e))?;
        if has == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<DeliveryTuple> = sqlx::query_as(
            "SELECT record_id, at, channel, target, delivered, attempts, reason FROM deliveries \
             WHERE record_id = (SELECT max(record_id) FROM deliveries) ORDER BY rowid",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| sqlite_error(&path, "read", e))?;
        Ok(rows
            .into_iter()
            .map(
                |(record_id, at, channel, target, delivered, attempts, reason)| DeliveryRow {
                    record_id,
                    at,
                    channel,
                    target,
                    delivered,
                    attempts,
                    reason,
                },
            )
            .collect())
    }
}

/// The outcome of checking the chain: a broken chain is a finding, not an error.
#[derive(Debug)]
pub enum Verified {
    Intact { head: Head, records: Vec<Record> },
    Broken(Broken),
}

impl Verified {
    /// The records of an intact chain; a broken one is refused naming the record.
    pub fn into_intact(self, path: &Path) -> Result<(Head, Vec<Record>)> {
        match self {
            Verified::Intact { head, records } => Ok((head, records)),
            Verified::Broken(b) => Err(broken_error(path, &b)),
        }
    }
}

pub fn broken_error(path: &Path, b: &Broken) -> Error {
    Error::Failed(format!(
        "the drill history {} has been tampered with: {b}. Nothing in it can be trusted as evidence; restore the history from a copy, or keep it as evidence of tampering",
        path.display()
    ))
}

fn read_back(path: &Path, s: Stored) -> Result<Record> {
    let report = serde_json::from_str(&s.report).map_err(|e| {
        Error::Failed(format!(
            "record {} of the drill history {} holds a report this version cannot read ({e}); upgrade restore-drill",
            s.id,
            path.display()
        ))
    })?;
    Ok(Record { stored: s, report })
}

fn tool() -> String {
    format!("restore-drill {}", env!("CARGO_PKG_VERSION"))
}

/// The time a record was appended, as stored.
pub fn recorded_at(s: &Stored) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&s.recorded_at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn foreign(path: &Path) -> Error {
    Error::Usage(format!(
        "{} is an SQLite database but not a restore-drill drill history: pass the history's file with --history FILE (or RESTORE_DRILL_HISTORY)",
        path.display()
    ))
}

fn locked(path: &Path) -> Error {
    Error::Environment(format!(
        "the drill history {} is locked by another process (waited {} s): wait for the other drill to finish, or look for a stuck process holding it",
        path.display(),
        BUSY_WAIT.as_secs()
    ))
}

/// SQLite's result codes, primary part: which of them are the user's to fix.
/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock.
fn is_busy(e: &sqlx::Error) -> bool {
    matches!(primary_code(e), Some(5) | Some(6))
}

fn primary_code(e: &sqlx::Error) -> Option<i64> {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .map(|c| c & 0xff),
        _ => None,
    }
}

fn sqlite_error(path: &Path, action: &str, e: sqlx::Error) -> Error {
    let code = primary_code(&e);
    let p = path.display();
    match code {
        Some(5) | Some(6) => locked(path),
        Some(11) | Some(26) => Error::Environment(format!(
            "cannot {action} the drill history {p}: it is damaged or not an SQLite file ({e}). Restore it from a copy, or name another file with --history"
        )),
        Some(8) | Some(3) | Some(14) => Error::Environment(format!(
            "cannot {action} the drill history {p}: {e}. Check the file's and its directory's owner and permissions, or name another file with --history"
        )),
        Some(13) => Error::Environment(format!(
            "cannot {action} the drill history {p}: the disk is full. Free space, then run again"
        )),
        _ => Error::Environment(format!("cannot {action} the drill history {p}: {e}")),
    }
}
