//! MariaDB's backup dump: mariadb-dump --single-transaction, with the
//! manifest's fingerprints taken in a snapshot that sees exactly what the
//! dump's snapshot sees (`backup` layers it: zstd, age).
//!
//! MariaDB cannot hand a snapshot to another session (PostgreSQL's
//! `pg_export_snapshot`). So commits are held for the moment both snapshots
//! start: `BACKUP STAGE BLOCK_COMMIT` (MariaDB 10.4 and later; it blocks only
//! commits and DDL, never reads) or, on a server without it (MySQL),
//! `FLUSH TABLES WITH READ LOCK`. The dump's snapshot exists once it writes
//! its first table: mariadb-dump starts its transaction before it lists or
//! writes any table.

use super::{self as mariadb, dump_args};
use crate::engine::dump::{percent_decode, DumpSink, DumpTool, Dumped};
use crate::engine::TableFingerprint;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::pipeline::DumpFormat;
use bytes::Bytes;
use chrono::Utc;
use sqlx::mysql::MySqlConnection;
use sqlx::Executor;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The line mariadb-dump writes before each table's definition.
const TABLE_MARKER: &[u8] = b"\n-- Table structure for table `";

/// How long commits may stay held while the dump starts.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Chunks in flight between mariadb-dump and the watcher of its start.
const CHANNEL_CHUNKS: usize = 16;

pub async fn dump(url: &str, sink: &dyn DumpSink, events: &Events) -> Result<Dumped> {
    let mut phase = crate::measure::Clock::new(events);
    phase.begin("backup: connect");
    let mut lock = mariadb::connect(url, Duration::from_secs(5)).await?;
    let server_version = mariadb::server_version(&mut lock).await?;
    refuse_non_transactional(&mut lock).await?;
    let mut snap = mariadb::connect(url, Duration::from_secs(5)).await?;
    let created_at = Utc::now();
    phase.end();

    let tx = sink.open(created_at)?;
    phase.begin("backup: dump, compress, encrypt, fingerprint");
    let (dump_tx, dump_rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let (started_tx, started_rx) = oneshot::channel();
    let watcher = tokio::spawn(watch_start(dump_rx, tx, started_tx));
    let held = hold_commits(&mut lock).await?;
    let dump = async {
        let tool = mariadb_dump(url)?;
        sink.run(tool, dump_tx).await
    };
    let fingerprints = fingerprint_alongside(&mut lock, held, &mut snap, started_rx, events);
    let (dump_result, fp_result) = tokio::join!(dump, fingerprints);
    let _ = watcher.await;
    sink.written().await?;
    dump_result?;
    let (tables, paused): (Vec<TableFingerprint>, Duration) = fp_result?;
    phase.end();
    Ok(Dumped {
        created_at,
        server_version,
        format: DumpFormat::MysqlSql,
        tool: "mariadb-dump",
        fingerprint_algorithm: mariadb::FINGERPRINT_ALGORITHM,
        tables,
        commits_held: Some(paused),
    })
}

/// Once the dump's snapshot exists, starts ours, lists the tables (DDL is
/// still held), lets commits go on, and fingerprints every table in our
/// snapshot while the dump reads its own. Returns how long commits were held.
async fn fingerprint_alongside(
    lock: &mut MySqlConnection,
    held: Held,
    snap: &mut MySqlConnection,
    started: oneshot::Receiver<()>,
    events: &Events,
) -> Result<(Vec<TableFingerprint>, Duration)> {
    // Err from `started`: the dump's output ended without a table (an empty
    // database, or a dump that failed, which its own result reports).
    let _ = tokio::time::timeout(START_LIMIT, started)
        .await
        .map_err(|_| {
            Error::Failed(format!(
                "mariadb-dump had not begun its first table {} s after it started, while the clinic's \
                 commits were held: the server is overloaded or the dump is stuck. The backup was not written",
                START_LIMIT.as_secs()
            ))
        })?;
    mariadb::start_snapshot(snap).await?;
    let tables = mariadb::list_tables(snap).await?;
    let paused = release(lock, held).await?;
    events.event(Event::note(format!(
        "commits held {} ms while the dump's and the fingerprints' snapshots started",
        paused.as_millis()
    )));
    let fingerprints = crate::engine::reader::fingerprint_tables(snap, &tables).await?;
    Ok((fingerprints, paused))
}

/// Tables of an engine without transactions (MyISAM, Aria) are not in the
/// dump's snapshot: they would be dumped as they are at that moment, not as
/// the rest. Refused before anything is written.
async fn refuse_non_transactional(conn: &mut MySqlConnection) -> Result<()> {
    let rows = conn
        .fetch_all(sqlx::raw_sql(
            "SELECT TABLE_NAME, COALESCE(ENGINE, '?') FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND ENGINE <> 'InnoDB' \
             ORDER BY TABLE_NAME",
        ))
        .await
        .map_err(|e| Error::db("listing the tables' engines", e))?;
    let found: Vec<String> = rows
        .iter()
        .map(|r| {
            let text = |i| mariadb::text(r, i).unwrap_or_default();
            format!("{} ({})", text(0), text(1))
        })
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "the backup would not be consistent: {} not InnoDB, and mariadb-dump --single-transaction only takes \
         InnoDB tables in its snapshot. Convert them (ALTER TABLE name ENGINE=InnoDB) and back up again",
        found.join(", ")
    )))
}

/// How commits are being held.
enum Held {
    BackupStage(Instant),
    ReadLock(Instant),
}

/// Holds every commit (and DDL) on the server; reads go on.
async fn hold_commits(conn: &mut MySqlConnection) -> Result<Held> {
    conn.execute("SET SESSION lock_wait_timeout = 10")
        .await
        .map_err(|e| Error::db("setting the lock wait", e))?;
    let start = Instant::now();
    let staged = conn
        .execute(sqlx::raw_sql(
            "BACKUP STAGE START; BACKUP STAGE FLUSH; BACKUP STAGE BLOCK_DDL; BACKUP STAGE BLOCK_COMMIT",
        ))
        .await;
    match staged {
        Ok(_) => Ok(Held::BackupStage(start)),
        // ER_PARSE_ERROR: a server without BACKUP STAGE (MySQL).
        Err(e) if mariadb::error_number(&e) == Some(1064) => {
            let start = Instant::now();
            conn.execute("FLUSH TABLES WITH READ LOCK")
                .await
                .map_err(hold_error)?;
            Ok(Held::ReadLock(start))
        }
        Err(e) => Err(hold_error(e)),
    }
}

fn hold_error(e: sqlx::Error) -> Error {
    match mariadb::error_number(&e) {
        // ER_SPECIFIC_ACCESS_DENIED_ERROR
        Some(1227) => Error::Usage(
            "the user in --url may not hold commits for the moment the backup's snapshots start: \
             it needs the RELOAD privilege (GRANT RELOAD ON *.* TO the user)"
                .into(),
        ),
        // ER_LOCK_WAIT_TIMEOUT
        Some(1205) => Error::Failed(
            "could not hold commits within 10 s: a long statement or transaction holds the tables. \
             Try again when the server is quieter"
                .into(),
        ),
        _ => Error::db("holding commits for the backup's snapshots", e),
    }
}

/// Lets commits go on; returns how long they were held.
async fn release(conn: &mut MySqlConnection, held: Held) -> Result<Duration> {
    let (sql, start) = match held {
        Held::BackupStage(s) => ("BACKUP STAGE END", s),
        Held::ReadLock(s) => ("UNLOCK TABLES", s),
    };
    // Instant on a live server; a stuck one is said, and dropping this
    // connection then lets the commits go on anyway.
    tokio::time::timeout(Duration::from_secs(30), conn.execute(sql))
        .await
        .map_err(|_| {
            Error::Failed(
                "letting the clinic's commits go on took over 30 s: the server is stuck".into(),
            )
        })?
        .map_err(|e| Error::db("letting commits go on", e))?;
    Ok(start.elapsed())
}

/// Forwards the dump's output to the writer, and says once its first table
/// begins (or its output ends).
async fn watch_start(
    mut rx: mpsc::Receiver<Bytes>,
    tx: mpsc::Sender<Bytes>,
    started: oneshot::Sender<()>,
) {
    let mut started = Some(started);
    let mut tail = Vec::new();
    while let Some(chunk) = rx.recv().await {
        if started.is_some() && found_marker(&mut tail, &chunk) {
            if let Some(s) = started.take() {
                let _ = s.send(());
            }
        }
        if tx.send(chunk).await.is_err() {
            break;
        }
    }
}

/// Pure: whether `TABLE_MARKER` ends within the stream so far, `tail` holding
/// the bytes of earlier chunks a marker may begin in.
pub fn found_marker(tail: &mut Vec<u8>, chunk: &[u8]) -> bool {
    tail.extend_from_slice(chunk);
    if tail.windows(TABLE_MARKER.len()).any(|w| w == TABLE_MARKER) {
        tail.clear();
        return true;
    }
    let keep = TABLE_MARKER.len() - 1;
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
    false
}

/// mariadb-dump, inside the database's container (root logs in by the
/// socket as root) or this host's, against the URL's socket or host.
fn mariadb_dump(url: &str) -> Result<DumpTool> {
    let opts = mariadb::parse_url(url)?;
    let database = opts.get_database().unwrap_or_default().to_string();
    let mut in_container = vec!["mariadb-dump".to_string(), "--user=root".into()];
    in_container.extend(dump_args());
    in_container.push(database.clone());
    let url =
        url::Url::parse(url).map_err(|e| Error::Usage(format!("invalid database URL: {e}")))?;
    let mut local_args = match url.query_pairs().find(|(k, _)| k == "socket") {
        Some((_, socket)) => vec![
            "--protocol=SOCKET".to_string(),
            format!("--socket={socket}"),
        ],
        None => vec![
            "--protocol=TCP".to_string(),
            format!("--host={}", url.host_str().unwrap_or("localhost")),
            format!("--port={}", url.port().unwrap_or(3306)),
        ],
    };
    local_args.push(format!("--user={}", percent_decode(url.username())));
    local_args.extend(dump_args());
    local_args.push(database);
    Ok(DumpTool {
        name: "mariadb-dump",
        in_container,
        container_user: None,
        local_args,
        local_password: url.password().map(|p| ("MYSQL_PWD", percent_decode(p))),
        install_hint: "Install the MariaDB client (Debian: apt-get install mariadb-client)",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_table_is_seen_wherever_the_chunks_split_it() {
        let dump = b"-- MariaDB dump 10.19\n-- Host: x    Database: clinic\n--\n-- Table structure for table `patients`\n--\n";
        for split in 0..dump.len() {
            let mut tail = Vec::new();
            let first = found_marker(&mut tail, &dump[..split]);
            let second = found_marker(&mut tail, &dump[split..]);
            assert!(first || second, "split at {split}");
        }
        let mut tail = Vec::new();
        assert!(!found_marker(
            &mut tail,
            b"-- MariaDB dump 10.19\n-- Table data"
        ));
        assert!(tail.len() < TABLE_MARKER.len());
    }

    #[test]
    fn every_backup_is_one_snapshot_with_its_routines() {
        let args = dump_args();
        for a in [
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
        ] {
            assert!(args.iter().any(|x| x == a), "{a}");
        }
    }
}
