//! The restore stream: backup file -> age -> zstd / gzip -> exec stdin of
//! the engine's restore tool (pg_restore, psql, mariadb) inside the sandbox,
//! or into the sandbox's staging tmpfs for a parallel `pg_restore --jobs`.
//! Decoding runs on a blocking thread and hands bounded chunks to the async
//! side, so memory stays flat whatever the backup's size and the database
//! sets the pace; the engine may fingerprint the dump on its way (a tap).

pub mod data;
mod delivery;
mod judge;

pub use delivery::{available_memory, plan_delivery, Delivery, StreamReason};
pub use judge::{database_in_dump, judge, Produced, ToolRun};

use crate::catalog::origin::Origin;
use crate::engine::{EngineKind, TableFingerprint, ToolCommand};
use crate::error::Error;
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::pipeline::decode::LayerError;
use crate::pipeline::psql_guard::PsqlGuard;
use crate::pipeline::{self, Counter, CountingReader, DumpFormat, FileOpenError, Layer};
use crate::redact::Redacted;
use crate::sandbox::{exec, Ended, ExecRequest, Limits, Sandbox};
use crate::unusable::{KeysAtHand, Unusable};
use bytes::Bytes;
use serde::Serialize;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Chunk size and how many may wait between the decoder and the database: 16 x
/// 256 KiB bounds the stream's memory at 4 MiB.
pub const CHUNK: usize = 256 << 10;
const IN_FLIGHT: usize = 16;

/// The decoded dump of a parallel restore, in the sandbox's staging tmpfs
/// (`sandbox::STAGING_DIR`).
const STAGED_DUMP: &str = "/restore-drill-staging/dump";

#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub layers: Vec<Layer>,
    pub format: DumpFormat,
    /// Bytes read from the backup file.
    pub file_bytes: u64,
    /// Dump bytes delivered to the restore tool.
    pub dump_bytes: u64,
    /// Index of the identity file that decrypted it.
    pub decrypted_by: Option<usize>,
    /// What the restore tool printed though it succeeded (warnings,
    /// notices), redacted: a comparison lists them per target.
    pub messages: Redacted,
    /// How the dump reached the database.
    pub delivery: Delivery,
    /// Each table's rows as they streamed past, fingerprinted like the
    /// manifest (archives only), or why they could not be.
    #[serde(skip)]
    pub streamed: Streamed,
}

/// The tables' fingerprints read from the dump on its way to the database.
#[derive(Debug, Clone)]
pub enum Streamed {
    Tables(Vec<TableFingerprint>),
    NotRead(String),
}

/// Why a restore did not happen: the backup's fault (evidence for the report)
/// or the machine's (Docker, an internal error).
#[derive(Debug)]
pub enum RestoreError {
    Unusable(Unusable),
    Infra(Error),
}

impl From<Error> for RestoreError {
    fn from(e: Error) -> Self {
        RestoreError::Infra(e)
    }
}

impl RestoreError {
    /// For commands that restore one file: an unusable backup is exit 4, a
    /// full disk or an unreadable file is the machine's (exit 3).
    pub fn into_error(self, file: &Path) -> Error {
        match self {
            RestoreError::Infra(e) => e,
            RestoreError::Unusable(u) if u.blames_the_machine() => Error::Environment(format!(
                "{} cannot be restored here: {}",
                file.display(),
                u.reason()
            )),
            RestoreError::Unusable(u) => Error::Unrecoverable(format!(
                "{} cannot be restored: {}. {}",
                file.display(),
                u.reason(),
                u.finding()
            )),
        }
    }
}

pub async fn restore_file(
    sandbox: &Sandbox,
    source: &Origin,
    keys: Arc<Vec<IdentitySource>>,
    events: &Events,
    limits: Limits,
    delivery: &Delivery,
) -> Result<Restored, RestoreError> {
    let file_bytes = Counter::default();
    let opened = open(source, keys, file_bytes.clone()).await?;
    let (layers, format, decrypted_by) =
        (opened.layers.clone(), opened.format, opened.decrypted_by);
    let tool =
        restore_tool(&sandbox.creds, format, sandbox.engine).map_err(RestoreError::Unusable)?;
    // The plan was made from the manifest; the archive itself has the last word.
    let delivery = match delivery {
        Delivery::Parallel { .. } if format != DumpFormat::PostgresCustom => Delivery::Stream {
            reason: StreamReason::PlainSql,
        },
        d => d.clone(),
    };

    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    let dump_bytes = Counter::default();
    let reader = CountingReader::new(opened.reader, dump_bytes.clone());
    let (tap, reading) = tap(sandbox.engine, format);
    let progress = Told::new(file_bytes.clone(), events.clone());
    let producer = tokio::task::spawn_blocking(move || produce(reader, format, tx, progress, tap));
    let (produced, run) = match &delivery {
        Delivery::Parallel { jobs, .. } => {
            staged(sandbox, tool, *jobs, rx, producer, limits).await?
        }
        Delivery::Stream { .. } => feed(sandbox, tool, rx, producer, limits).await?,
    };
    let streamed = finish_tap(reading).await;
    judge(&produced, &run, format, dump_bytes.get(), limits).map_err(RestoreError::Unusable)?;
    if let Some(found) = sandbox.engine.restored_databases(&sandbox.url()).await? {
        database_in_dump(&sandbox.creds.database, &found).map_err(RestoreError::Unusable)?;
    }
    Ok(Restored {
        layers,
        format,
        file_bytes: file_bytes.get(),
        dump_bytes: dump_bytes.get(),
        decrypted_by,
        messages: Redacted::tool(&run.said),
        delivery,
        streamed,
    })
}

/// Opens the backup's layers (on a blocking thread: it reads and may
/// decrypt) before any restore tool starts, so a wrong key or a file that is
/// not a backup fails first; a key that does not fit is told with the keys
/// tried and the recipients the manifest beside it lists.
async fn open(
    source: &Origin,
    keys: Arc<Vec<IdentitySource>>,
    counted: Counter,
) -> Result<pipeline::Opened, RestoreError> {
    let beside = match source {
        Origin::File(path) => recipients_beside(path),
        _ => None,
    };
    let at_hand = KeysAtHand::new(&keys, beside, Vec::new());
    let at = source.clone();
    tokio::task::spawn_blocking(move || pipeline::open_origin(&at, &keys, Some(counted)))
        .await
        .map_err(|e| Error::Failed(format!("internal error opening the backup: {e}")))?
        .map_err(|e| match e {
            FileOpenError::Io(e) => RestoreError::Infra(opening_failed(source, e)),
            FileOpenError::Layers(e) => RestoreError::Unusable(Unusable::from(e).knowing(at_hand)),
        })
}

/// Why a backup could not even be opened, naming where it is.
fn opening_failed(source: &Origin, e: std::io::Error) -> Error {
    match source {
        Origin::File(path) => Error::io("open the backup", path, e),
        remote => Error::Environment(format!(
            "cannot open the backup in the {}: {e}. Check the location and its credentials, then run the drill again",
            remote.kind().word()
        )),
    }
}

/// The recipients the manifest beside a backup lists, if it has a readable
/// one: what a key that does not fit is told with.
fn recipients_beside(path: &Path) -> Option<Vec<String>> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let manifest = path.with_file_name(crate::catalog::manifest_name(&name));
    crate::catalog::Manifest::read(&manifest)
        .ok()
        .map(|m| m.encryption.recipients)
}

type Producer = tokio::task::JoinHandle<Produced>;

/// Runs the tool's command with the decoded dump on its stdin, as the
/// engine's tool user.
async fn feed(
    sandbox: &Sandbox,
    tool: ToolCommand,
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    producer: Producer,
    limits: Limits,
) -> Result<(Produced, ToolRun), Error> {
    let ToolCommand { command, user } = tool;
    let tool = command[0].clone();
    let out = exec(
        &sandbox.docker,
        &sandbox.container,
        ExecRequest::new(command)
            .user(user)
            .stdin(rx)
            .limits(limits),
    )
    .await?;
    let produced = producer
        .await
        .map_err(|e| Error::Failed(format!("internal error in the restore stream: {e}")))?;
    Ok((produced, ToolRun::of(tool, out)))
}

/// A parallel restore: the dump is decoded into the sandbox's staging tmpfs,
/// then `pg_restore --jobs` reads it from there (it needs a file it can seek
/// in), and the copy is removed to give its memory back to the database.
async fn staged(
    sandbox: &Sandbox,
    tool: ToolCommand,
    jobs: u32,
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    producer: Producer,
    limits: Limits,
) -> Result<(Produced, ToolRun), Error> {
    let stage = vec![
        "sh".to_string(),
        "-c".into(),
        format!("umask 077 && exec cat > {STAGED_DUMP}"),
    ];
    let stage = ToolCommand {
        command: stage,
        user: tool.user,
    };
    let (produced, staging) = feed(sandbox, stage, rx, producer, limits).await?;
    if !matches!(produced, Produced::Complete { .. }) {
        // The backup's fault (a damaged or cut layer): judged as in a stream.
        remove_staged(sandbox, tool.user).await;
        return Ok((produced, staging));
    }
    if staging.ended != Ended::Exited(0) || staging.stdin_error.is_some() {
        remove_staged(sandbox, tool.user).await;
        return Err(Error::Failed(format!(
            "decoding the dump into the sandbox's memory failed ({}): {}. The staging area is sized from the manifest; re-run, and report it if it repeats",
            staging.ended, staging.said.text()
        )));
    }
    let ToolCommand { mut command, user } = tool;
    command.push(format!("--jobs={jobs}"));
    command.push(STAGED_DUMP.into());
    let tool = command[0].clone();
    let out = exec(
        &sandbox.docker,
        &sandbox.container,
        ExecRequest::new(command).user(user).limits(limits),
    )
    .await?;
    remove_staged(sandbox, user).await;
    Ok((produced, ToolRun::of(tool, out)))
}

/// Frees the staging area's memory for the checks; the container's removal
/// frees it anyway, so a failure here costs memory, not evidence.
async fn remove_staged(sandbox: &Sandbox, user: &str) {
    let limits = Limits {
        finish: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let _ = exec(
        &sandbox.docker,
        &sandbox.container,
        ExecRequest::new(["rm", "-f", STAGED_DUMP])
            .user(user)
            .limits(limits),
    )
    .await;
}

/// A copy of the stream for the archive reader, which fingerprints the
/// tables on another thread while the dump goes to the database.
type Tap = Option<std::sync::mpsc::SyncSender<Bytes>>;
type Reading = Option<tokio::task::JoinHandle<Result<Vec<TableFingerprint>, String>>>;

fn tap(engine: EngineKind, format: DumpFormat) -> (Tap, Reading) {
    let Some(fingerprint) = engine.stream_fingerprinter(format) else {
        return (None, None);
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(IN_FLIGHT);
    let reading = tokio::task::spawn_blocking(move || {
        fingerprint(&mut ChannelReader {
            rx,
            current: Bytes::new(),
        })
    });
    (Some(tx), Some(reading))
}

async fn finish_tap(reading: Reading) -> Streamed {
    let Some(reading) = reading else {
        return Streamed::NotRead("a plain SQL dump is not read on its way".into());
    };
    match reading.await {
        Ok(Ok(tables)) => Streamed::Tables(tables),
        Ok(Err(e)) => Streamed::NotRead(format!("the dump could not be read on its way: {e}")),
        Err(e) => Streamed::NotRead(format!("internal error: {e}")),
    }
}

/// The tap's receiving end as a reader; the stream's end (its sender
/// dropped) is the end of input.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.current = b,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// What the stream tells as it goes, every MiB: the dump bytes that went
/// into the restore (the progress a person watches: the file's own counter
/// moves in steps of the file's 1 MiB read buffer, which a backup compressed
/// ten times over fills once for ten MiB of dump, and stood still for most of
/// a restore), and how far the file was read (what restore-killed waits for).
struct Told {
    events: Events,
    file_bytes: Counter,
    streamed: u64,
    next_shown: u64,
    next_read: u64,
}

impl Told {
    fn new(file_bytes: Counter, events: Events) -> Self {
        Told {
            events,
            file_bytes,
            streamed: 0,
            next_shown: 0,
            next_read: 0,
        }
    }

    /// `n` more dump bytes went into the restore.
    fn sent(&mut self, n: usize) {
        self.streamed += n as u64;
        if self.streamed >= self.next_shown {
            self.shown();
            self.next_shown = self.streamed + (1 << 20);
        }
        let read = self.file_bytes.get();
        if read >= self.next_read {
            self.events.event(Event::BackupRead { bytes: read });
            self.next_read = read + (1 << 20);
        }
    }

    /// The count so far; at the end, the last bytes too, so the counter ends
    /// at the dump's size.
    fn shown(&self) {
        self.events.event(Event::Progress {
            done: self.streamed,
            total: None,
        });
    }
}

/// Reads the decoded dump in whole chunks and hands them to the exec; the
/// first error is sent on too, which closes the tool's input at once.
fn produce(
    mut reader: impl Read,
    format: DumpFormat,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    mut told: Told,
    mut tap: Tap,
) -> Produced {
    let mut tail = Tail::default();
    let mut guard = (format == DumpFormat::PostgresSql).then(PsqlGuard::new);
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = match read_full(&mut reader, &mut buf) {
            Ok(n) => n,
            Err(e) => {
                let produced = match LayerError::find(&e) {
                    Some(l) => Produced::LayerFailed {
                        layer: l.layer,
                        at_end: l.at_end,
                        message: l.message.clone(),
                    },
                    None => Produced::ReadFailed(e.to_string()),
                };
                let _ = tx.blocking_send(Err(e));
                return produced;
            }
        };
        if n == 0 {
            told.shown();
            let held = guard.as_mut().and_then(PsqlGuard::finish);
            if held.is_some_and(|b| tx.blocking_send(Ok(b)).is_err()) {
                return Produced::ConsumerGone;
            }
            return Produced::Complete {
                completed: tail.completes(format),
            };
        }
        buf.truncate(n);
        tail.push(&buf);
        let chunk = match guard.as_mut() {
            Some(g) => g.pass(buf),
            None => Bytes::from(buf),
        };
        // A reader that gave up (an archive it does not know) stops the copy.
        if tap.as_ref().is_some_and(|t| t.send(chunk.clone()).is_err()) {
            tap = None;
        }
        if tx.blocking_send(Ok(chunk)).is_err() {
            return Produced::ConsumerGone;
        }
        told.sent(n);
    }
}

/// The last bytes of the dump: where a plain SQL dump says it is complete.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    const KEEP: usize = 1024;
    fn push(&mut self, chunk: &[u8]) {
        let from = chunk.len().saturating_sub(Self::KEEP);
        self.0.extend_from_slice(&chunk[from..]);
        let excess = self.0.len().saturating_sub(Self::KEEP);
        self.0.drain(..excess);
    }
    /// pg_dump and mariadb-dump end their output with a completion comment
    /// (pg_dump may add an `\unrestrict` line after it); a SQL dump without
    /// one was cut off, though no layer noticed and psql may exit 0.
    fn completes(&self, format: DumpFormat) -> bool {
        let marker: &[u8] = match format {
            DumpFormat::PostgresSql => b"-- PostgreSQL database dump complete",
            DumpFormat::MysqlSql => b"-- Dump completed",
            _ => return true,
        };
        self.0.windows(marker.len()).any(|w| w == marker)
    }
}

/// Fills `buf` unless the stream ends first: whole chunks for the restore tool
/// (and for the benchmark, which must read exactly as the restore does).
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The engine's restore tool for a dump of `format`: its command (which
/// reads the dump on stdin) and the container user it runs as.
pub fn restore_tool(
    c: &crate::engine::Credentials,
    format: DumpFormat,
    engine: EngineKind,
) -> Result<crate::engine::ToolCommand, Unusable> {
    engine.restore_tool(c, format).ok_or(Unusable::WrongEngine {
        format,
        target: engine,
    })
}

/// The command that reads a dump of `format` on stdin and restores it, run
/// inside the sandbox (the benchmark's hand pipeline uses the same
/// arguments, so both restore alike).
pub fn restore_command(
    c: &crate::engine::Credentials,
    format: DumpFormat,
    engine: EngineKind,
) -> Result<Vec<String>, Unusable> {
    restore_tool(c, format, engine).map(|t| t.command)
}

#[cfg(test)]
mod tests;
