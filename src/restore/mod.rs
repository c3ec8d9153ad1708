//! The restore stream: backup file -> age -> zstd / gzip -> exec stdin of
//! pg_restore (or psql) inside the sandbox. Decoding runs on a blocking thread
//! and hands bounded chunks to the async side, so memory stays flat whatever
//! the backup's size and the database sets the pace.

pub mod data;

use crate::engine::postgres::archive::{self, ArchiveError};
use crate::engine::{EngineKind, TableFingerprint, ToolCommand};
use crate::error::Error;
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::pipeline::decode::LayerError;
use crate::pipeline::psql_guard::PsqlGuard;
use crate::pipeline::{self, Counter, CountingReader, DumpFormat, Layer};
use crate::redact::{Redacted, ToolSaid};
use crate::sandbox::{exec, Ended, ExecRequest, Limits, Sandbox, StdinError};
use crate::unusable::{Stall, Unusable};
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

/// Where a parallel restore decodes the dump: a tmpfs inside the sandbox,
/// so the plaintext lives in the sandbox's memory and never on the host's disk.
pub const STAGING_DIR: &str = "/restore-drill-staging";
const STAGED_DUMP: &str = "/restore-drill-staging/dump";

/// How the dump reaches the database, chosen before the sandbox starts (its
/// memory depends on it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Delivery {
    /// Decoded into the sandbox's memory (`staging_bytes` of tmpfs, on top of
    /// the database's memory), then restored by `pg_restore --jobs`: tables
    /// load and indexes build `jobs` at a time.
    Parallel { jobs: u32, staging_bytes: u64 },
    /// Streamed into the restore tool's stdin: one table, then one index, at a time.
    Stream { reason: StreamReason },
}

/// Why a restore went as one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum StreamReason {
    /// psql reads a plain SQL dump in order; only archives can be split.
    PlainSql,
    /// One CPU: nothing to run side by side.
    OneCpu,
    /// The dump's size is unknown (no manifest, and it could not be decoded
    /// to count it), so its staging area could not be sized.
    SizeUnknown,
    /// The dump and the database's memory do not fit in what the host has free.
    MemoryShort { needed: u64, available: u64 },
    /// The restore-killed simulation holds the stream so that the kill lands
    /// mid-restore, which a restore from a file cannot promise.
    Simulation,
    /// The caller asked for one stream (comparisons, `restore`, simulations).
    Requested,
}

impl Delivery {
    pub fn stream() -> Delivery {
        Delivery::Stream {
            reason: StreamReason::Requested,
        }
    }

    /// The sandbox's extra memory for the staging area.
    pub fn staging_bytes(&self) -> Option<u64> {
        match self {
            Delivery::Parallel { staging_bytes, .. } => Some(*staging_bytes),
            Delivery::Stream { .. } => None,
        }
    }

    /// One line for reports and the terminal.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Parallel {
                jobs,
                staging_bytes,
            } => format!(
                "decoded into {} MiB of the sandbox's memory, then pg_restore --jobs={jobs}",
                staging_bytes.div_ceil(1 << 20)
            ),
            Delivery::Stream { reason } => format!("one stream: {}", reason.describe()),
        }
    }
}

impl StreamReason {
    fn describe(&self) -> String {
        match self {
            StreamReason::PlainSql => "a plain SQL dump is read in order by psql".into(),
            StreamReason::OneCpu => "the sandbox has one CPU".into(),
            StreamReason::SizeUnknown => {
                "the dump's size is unknown, so no staging area could be sized for it".into()
            }
            StreamReason::MemoryShort { needed, available } => format!(
                "a parallel restore needs {} MiB of memory and this machine has {} MiB free",
                needed >> 20,
                available >> 20
            ),
            StreamReason::Simulation => {
                "the restore-killed simulation holds the stream to kill the server mid-restore"
                    .into()
            }
            StreamReason::Requested => "as asked".into(),
        }
    }
}

/// Chooses how to deliver a dump (pure): in parallel when it is an archive,
/// the sandbox has CPUs to share, its size is known and the sandbox's memory
/// plus the dump fit in three quarters of the host's free memory.
pub fn plan_delivery(
    format: DumpFormat,
    dump_bytes: Option<u64>,
    cpus: f64,
    memory_bytes: u64,
    host_available: Option<u64>,
) -> Delivery {
    let stream = |reason| Delivery::Stream { reason };
    if format != DumpFormat::PostgresCustom {
        return stream(StreamReason::PlainSql);
    }
    let jobs = cpus.ceil().max(1.0) as u32;
    if jobs < 2 {
        return stream(StreamReason::OneCpu);
    }
    let Some(dump) = dump_bytes else {
        return stream(StreamReason::SizeUnknown);
    };
    // tmpfs rounds to pages; a little slack costs nothing until written.
    let staging_bytes = dump + (dump >> 8) + (4 << 20);
    let needed = memory_bytes + staging_bytes;
    match host_available {
        Some(a) if needed <= a / 4 * 3 => Delivery::Parallel {
            jobs,
            staging_bytes,
        },
        Some(available) => stream(StreamReason::MemoryShort { needed, available }),
        None => stream(StreamReason::MemoryShort {
            needed,
            available: 0,
        }),
    }
}

/// The host's free memory (MemAvailable), if it can be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

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

/// How the producer (file -> layers -> chunks) ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Produced {
    /// The whole dump was sent. `completed`: a plain SQL dump ended with its
    /// tool's completion line (archive formats carry their own ending).
    Complete { completed: bool },
    /// A layer's decoder failed; `at_end` when it had read all of its input.
    LayerFailed {
        layer: Layer,
        at_end: bool,
        message: String,
    },
    /// Reading the file itself failed.
    ReadFailed(String),
    /// The restore tool stopped taking input.
    ConsumerGone,
}

/// What the restore tool's run showed, reduced to what the judgement needs.
pub struct ToolRun {
    pub tool: String,
    pub ended: Ended,
    pub stdin_error: Option<StdinError>,
    pub said: ToolSaid,
}

impl ToolRun {
    /// What an exec of `tool` showed, its stderr reduced to typed parts.
    fn of(tool: String, out: crate::sandbox::ExecOutput) -> ToolRun {
        ToolRun {
            said: ToolSaid::parse(&tool, &out.stderr_text()),
            tool,
            ended: out.ended,
            stdin_error: out.stdin_error,
        }
    }
}

pub async fn restore_file(
    sandbox: &Sandbox,
    path: &Path,
    keys: Arc<Vec<IdentitySource>>,
    events: &Events,
    limits: Limits,
    delivery: &Delivery,
) -> Result<Restored, RestoreError> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open the backup", path, e))?;
    let total = file.metadata().map(|m| m.len()).ok();
    let file_bytes = Counter::default();
    let counted = CountingReader::new(file, file_bytes.clone());
    // Open the layers first (on a blocking thread: it reads and may decrypt) so
    // a wrong key or a non-backup fails before any restore tool starts.
    let opened = tokio::task::spawn_blocking(move || {
        pipeline::open_layers(
            Box::new(std::io::BufReader::with_capacity(1 << 20, counted)),
            &keys,
        )
    })
    .await
    .map_err(|e| Error::Failed(format!("internal error opening the backup: {e}")))?
    .map_err(|e| RestoreError::Unusable(e.into()))?;
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
    let (tap, reading) = tap(format);
    let progress = (file_bytes.clone(), total, events.clone());
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

/// A MariaDB dump of several databases (`--databases`, `--all-databases`)
/// restores into the databases it names, whatever database the client
/// started in: the checks would then read an empty one. Its tables must have
/// reached `wanted`; an empty restore is left to the checks to describe.
pub fn database_in_dump(wanted: &str, databases: &[(String, u64)]) -> Result<(), Unusable> {
    let found: Vec<String> = databases
        .iter()
        .filter(|(_, tables)| *tables > 0)
        .map(|(name, _)| name.clone())
        .collect();
    if found.is_empty() || found.iter().any(|f| f == wanted) {
        return Ok(());
    }
    Err(Unusable::DatabaseNotInDump {
        wanted: wanted.to_string(),
        found,
    })
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
            "decoding the dump into the sandbox's memory failed ({:?}): {}. The staging area is sized from the manifest; re-run, and report it if it repeats",
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
type Reading = Option<tokio::task::JoinHandle<Result<Vec<TableFingerprint>, ArchiveError>>>;

fn tap(format: DumpFormat) -> (Tap, Reading) {
    if format != DumpFormat::PostgresCustom {
        return (None, None);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(IN_FLIGHT);
    let reading = tokio::task::spawn_blocking(move || {
        archive::fingerprint_archive(ChannelReader {
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

/// Reads the decoded dump in whole chunks and hands them to the exec; the
/// first error is sent on too, which closes the tool's input at once.
fn produce(
    mut reader: impl Read,
    format: DumpFormat,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    (file_bytes, total, events): (Counter, Option<u64>, Events),
    mut tap: Tap,
) -> Produced {
    let mut tail = Tail::default();
    let mut guard = (format == DumpFormat::PostgresSql).then(PsqlGuard::new);
    let mut next_report = 0u64;
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
        let done = file_bytes.get();
        if done >= next_report {
            events.event(Event::Progress { done, total });
            next_report = done + (1 << 20);
        }
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

/// Whether the restore happened, from how the stream and the tool ended. A
/// stream error wins over the tool's exit: the tool may have restored a prefix
/// and called that success, or failed only because its input ended.
pub fn judge(
    produced: &Produced,
    run: &ToolRun,
    format: DumpFormat,
    at: u64,
    limits: Limits,
) -> Result<(), Unusable> {
    match produced {
        Produced::LayerFailed {
            layer,
            at_end,
            message,
        } => return Err(Unusable::layer_failed(*layer, *at_end, message, at)),
        Produced::ReadFailed(m) => {
            return Err(Unusable::FileUnreadable {
                error: Redacted::ours(m.as_str()),
            })
        }
        Produced::Complete { completed: false } => return Err(Unusable::SqlCut { format, at }),
        Produced::Complete { .. } | Produced::ConsumerGone => {}
    }
    let stuck = |what, limit| Unusable::Stuck {
        tool: run.tool.clone(),
        what,
        limit,
        at,
    };
    if run.stdin_error == Some(StdinError::Stalled) {
        return Err(stuck(Stall::Input, limits.stall));
    }
    match run.ended {
        Ended::Abandoned if run.stdin_error.is_some() => {
            Err(stuck(Stall::ExitAfterAbort, limits.exit_after_abort))
        }
        Ended::Abandoned => Err(stuck(Stall::Finish, limits.finish)),
        Ended::Exited(0) if *produced == Produced::ConsumerGone || run.stdin_error.is_some() => {
            Err(Unusable::ToolStoppedEarly {
                tool: run.tool.clone(),
                at,
            })
        }
        Ended::Exited(0) => Ok(()),
        Ended::Exited(_) if run.said.runs_programs() => Err(Unusable::DumpRunsPrograms {
            tool: run.tool.clone(),
            line: run.said.first_refused_line(),
        }),
        Ended::Exited(_) if run.said.is_disk_full() => Err(Unusable::DiskFull {
            tool: run.tool.clone(),
            at,
            said: run.said.clone(),
        }),
        Ended::Exited(_) if run.said.accounts_view => Err(Unusable::ServerAccountsView {
            tool: run.tool.clone(),
            at,
            said: run.said.clone(),
        }),
        Ended::Exited(exit_code) => Err(Unusable::ToolFailed {
            tool: run.tool.clone(),
            exit_code,
            at,
            said: run.said.clone(),
        }),
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
mod tests {
    use super::*;

    fn tool(ended: Ended, stdin_error: Option<StdinError>, stderr: &str) -> ToolRun {
        ToolRun {
            tool: "pg_restore".into(),
            ended,
            stdin_error,
            said: ToolSaid::parse("pg_restore", stderr),
        }
    }

    const FORMAT: DumpFormat = DumpFormat::PostgresCustom;

    fn dbs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(n, t)| (n.to_string(), *t)).collect()
    }

    #[test]
    fn a_dump_of_several_databases_must_fill_the_one_checked() {
        // `--databases opendental`: the sandbox's own database stays empty.
        let got = database_in_dump("clinic", &dbs(&[("clinic", 0), ("opendental", 12)]));
        assert_eq!(
            got,
            Err(Unusable::DatabaseNotInDump {
                wanted: "clinic".into(),
                found: vec!["opendental".into()],
            })
        );
        let why = got.map_or_else(|u| u.reason(), |()| String::new());
        assert!(why.contains("went into opendental. Name the one"), "{why}");
        // The one named, among others: restored where the checks look.
        let two = dbs(&[("billing", 3), ("opendental", 12)]);
        assert_eq!(database_in_dump("opendental", &two), Ok(()));
        // A dump with no tables at all is the checks' to describe.
        assert_eq!(database_in_dump("clinic", &dbs(&[("clinic", 0)])), Ok(()));
    }

    fn judged(p: Produced, run: ToolRun) -> Result<(), Unusable> {
        judge(&p, &run, FORMAT, 42, Limits::default())
    }

    #[test]
    fn a_layer_failing_at_the_end_of_its_input_is_a_cut() {
        let p = Produced::LayerFailed {
            layer: Layer::Zstd,
            at_end: true,
            message: "incomplete frame".into(),
        };
        // pg_restore also failed, because its input ended: the cut is the cause.
        let got = judged(
            p,
            tool(
                Ended::Exited(1),
                Some(StdinError::Producer("x".into())),
                "unexpected EOF",
            ),
        );
        assert_eq!(
            got,
            Err(Unusable::StreamCut {
                layer: Layer::Zstd,
                at: 42
            })
        );
    }

    #[test]
    fn a_layer_failing_in_the_middle_is_damage() {
        let p = Produced::LayerFailed {
            layer: Layer::Age,
            at_end: false,
            message: "decryption error".into(),
        };
        let got = judged(p, tool(Ended::Exited(0), None, ""));
        assert!(
            matches!(
                got,
                Err(Unusable::StreamDamaged {
                    layer: Layer::Age,
                    at: 42,
                    ..
                })
            ),
            "{got:?}"
        );
    }

    #[test]
    fn a_plain_dump_without_its_completion_line_is_cut_though_psql_exited_0() {
        let run = tool(Ended::Exited(0), None, "");
        let got = judge(
            &Produced::Complete { completed: false },
            &run,
            DumpFormat::PostgresSql,
            7,
            Limits::default(),
        );
        assert_eq!(
            got,
            Err(Unusable::SqlCut {
                format: DumpFormat::PostgresSql,
                at: 7
            })
        );
        let mut tail = Tail::default();
        tail.push(b"COPY x;\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n");
        assert!(tail.completes(DumpFormat::PostgresSql));
        let mut cut = Tail::default();
        cut.push(b"COPY x FROM stdin;\n1\tAnn\n");
        assert!(!cut.completes(DumpFormat::PostgresSql));
        assert!(
            cut.completes(DumpFormat::PostgresCustom),
            "archives end themselves"
        );
    }

    #[test]
    fn the_tool_failing_is_named_with_its_exit_code_and_redacted_stderr() {
        let got = judged(
            Produced::ConsumerGone,
            tool(
                Ended::Exited(1),
                Some(StdinError::NotRead("gone".into())),
                "ERROR: x\nDETAIL: Key (card)=(1234) exists",
            ),
        );
        let Err(Unusable::ToolFailed {
            exit_code, said, ..
        }) = got
        else {
            panic!("{got:?}")
        };
        assert_eq!(exit_code, 1);
        assert!(!said.text().contains("1234"), "{said:?}");
    }

    #[test]
    fn a_full_disk_is_told_apart_from_other_tool_failures() {
        let got = judged(
            Produced::ConsumerGone,
            tool(
                Ended::Exited(1),
                None,
                "ERROR: could not extend file \"base/1/2\": No space left on device",
            ),
        );
        assert!(matches!(got, Err(Unusable::DiskFull { .. })), "{got:?}");
    }

    #[test]
    fn a_tool_that_stops_reading_or_never_ends_is_stuck() {
        let got = judged(
            Produced::ConsumerGone,
            tool(Ended::Abandoned, Some(StdinError::Stalled), ""),
        );
        assert!(
            matches!(
                got,
                Err(Unusable::Stuck {
                    what: Stall::Input,
                    ..
                })
            ),
            "{got:?}"
        );
        let got = judged(
            Produced::Complete { completed: true },
            tool(Ended::Abandoned, None, ""),
        );
        assert!(
            matches!(
                got,
                Err(Unusable::Stuck {
                    what: Stall::Finish,
                    ..
                })
            ),
            "{got:?}"
        );
    }

    #[test]
    fn a_parallel_restore_needs_an_archive_cpus_a_known_size_and_memory() {
        const GIB: u64 = 1 << 30;
        let plan = |format, size, cpus, free| plan_delivery(format, size, cpus, 2 * GIB, free);
        let Delivery::Parallel {
            jobs,
            staging_bytes,
        } = plan(FORMAT, Some(GIB), 2.0, Some(8 * GIB))
        else {
            panic!("expected a parallel restore")
        };
        assert_eq!(jobs, 2);
        assert!(
            staging_bytes > GIB && staging_bytes < GIB + GIB / 64,
            "{staging_bytes}"
        );
        assert!(matches!(
            plan(FORMAT, Some(GIB), 2.5, Some(8 * GIB)),
            Delivery::Parallel { jobs: 3, .. }
        ));
        let why = |d: Delivery| match d {
            Delivery::Stream { reason } => reason,
            d => panic!("expected one stream, got {d:?}"),
        };
        assert_eq!(
            why(plan(DumpFormat::PostgresSql, Some(GIB), 2.0, Some(8 * GIB))),
            StreamReason::PlainSql
        );
        assert_eq!(
            why(plan(FORMAT, Some(GIB), 1.0, Some(8 * GIB))),
            StreamReason::OneCpu
        );
        assert_eq!(
            why(plan(FORMAT, None, 2.0, Some(8 * GIB))),
            StreamReason::SizeUnknown
        );
        // 2 GiB for the database plus 1 GiB of dump: more than 3/4 of 3 GiB free.
        assert!(matches!(
            why(plan(FORMAT, Some(GIB), 2.0, Some(3 * GIB))),
            StreamReason::MemoryShort { .. }
        ));
        assert!(matches!(
            why(plan(FORMAT, Some(GIB), 2.0, None)),
            StreamReason::MemoryShort { .. }
        ));
    }

    #[test]
    fn exit_0_before_the_end_of_the_backup_is_not_a_restore() {
        let got = judged(Produced::ConsumerGone, tool(Ended::Exited(0), None, ""));
        assert!(
            matches!(got, Err(Unusable::ToolStoppedEarly { .. })),
            "{got:?}"
        );
        assert_eq!(
            judged(
                Produced::Complete { completed: true },
                tool(Ended::Exited(0), None, "")
            ),
            Ok(())
        );
    }
}
