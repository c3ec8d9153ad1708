//! `restore-drill backup`: the engine's dump (its snapshot, its tool, the
//! manifest's fingerprints taken in the same snapshot: `engine::dump`) ->
//! zstd -> age -> temp file -> fsync -> rename, with the manifest beside it.
//! This module opens and layers the file, runs the dump tool where it runs,
//! and seals the file with its manifest.

use crate::catalog::{self, atomic::DirMode, atomic::TempFile, manifest};
use crate::engine::dump::{DumpSink, DumpTool, Dumped};
use crate::engine::{db_url, EngineKind};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::pipeline::encode::{BackupWriter, Written};
use crate::pipeline::Layer;
use crate::redact::tool::VERSION_MISMATCH;
use crate::redact::ToolSaid;
use crate::sandbox::{exec, ExecRequest};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// Where the dump tool runs.
pub enum DumpSource {
    /// The host's dump tool, against the URL.
    Local,
    /// The dump tool inside the database's own container (ours), over its
    /// unix socket: the client always matches the server's version.
    Container {
        docker: bollard::Docker,
        container: String,
    },
}

pub struct BackupRequest {
    pub url: String,
    pub out_dir: PathBuf,
    pub recipients: Vec<String>,
    pub name: String,
    pub source: DumpSource,
}

#[derive(Debug)]
pub struct BackupResult {
    pub artifact: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: manifest::Manifest,
    /// How long the clinic's commits were held while the snapshots started
    /// (MariaDB; PostgreSQL shares its snapshot and holds nothing).
    pub commits_held: Option<Duration>,
}

/// Chunks in flight between the dump tool and the encoder: bounded, so a
/// slow disk slows the dump instead of filling memory.
const CHANNEL_CHUNKS: usize = 16;

pub async fn backup(req: BackupRequest, events: &Events) -> Result<BackupResult> {
    // Everything that can be checked without a database is checked first.
    let recipients = crate::keys::parse_recipients(&req.recipients)?;
    catalog::validate_name(&req.name).map_err(Error::Usage)?;
    let engine = EngineKind::for_url(&req.url);
    // MYSQL_PWD, as the MariaDB clients read it: the password then need
    // not be on restore-drill's own command line either.
    let req = if engine.password_from_env() {
        let url = db_url::with_password_from(&req.url, |v| std::env::var(v).ok());
        BackupRequest { url, ..req }
    } else {
        req
    };
    engine.check_url(&req.url)?;
    check_out_dir(&req.out_dir)?;
    let sink = Sink {
        req: &req,
        recipients: &recipients,
        events,
        open: Mutex::new(None),
    };
    let dumped = engine.dump(&req.url, &sink, events).await?;
    let Some(Open {
        temp,
        final_name,
        writer: Writer::Done(written),
    }) = sink.open.into_inner().ok().flatten()
    else {
        return Err(Error::Failed(
            "internal error: the dump ended without its file written".into(),
        ));
    };
    seal(
        &req,
        &recipients,
        temp,
        written,
        final_name,
        (engine, dumped),
        events,
    )
}

/// The backup's file while the dump runs.
struct Open {
    temp: TempFile,
    final_name: String,
    writer: Writer,
}

enum Writer {
    Running(tokio::task::JoinHandle<std::io::Result<Written>>),
    Done(Written),
    Taken,
}

/// Where an engine's dump goes: the backup's file, layered, and the tool's
/// runner for `req.source`.
struct Sink<'a> {
    req: &'a BackupRequest,
    recipients: &'a [age::x25519::Recipient],
    events: &'a Events,
    open: Mutex<Option<Open>>,
}

impl DumpSink for Sink<'_> {
    fn open(&self, created_at: chrono::DateTime<chrono::Utc>) -> Result<mpsc::Sender<Bytes>> {
        let final_name = catalog::artifact_name(&self.req.name, created_at);
        let (temp, file) = TempFile::create(&self.req.out_dir, &final_name)?;
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
        let writer = spawn_writer(file, self.recipients.to_vec(), rx, self.events.clone());
        if let Ok(mut o) = self.open.lock() {
            *o = Some(Open {
                temp,
                final_name,
                writer: Writer::Running(writer),
            });
        }
        Ok(tx)
    }

    fn written(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let taken = self.open.lock().ok().and_then(|mut o| {
                let o = o.as_mut()?;
                Some((
                    std::mem::replace(&mut o.writer, Writer::Taken),
                    o.temp.path.clone(),
                ))
            });
            let Some((Writer::Running(handle), path)) = taken else {
                return Err(Error::Failed(
                    "internal error: no backup writer running".into(),
                ));
            };
            let written = writer_done(handle, &path).await?;
            if let Some(o) = self
                .open
                .lock()
                .ok()
                .as_deref_mut()
                .and_then(Option::as_mut)
            {
                o.writer = Writer::Done(written);
            }
            Ok(())
        })
    }

    fn run(&self, tool: DumpTool, tx: mpsc::Sender<Bytes>) -> BoxFuture<'_, Result<()>> {
        Box::pin(run_tool(&self.req.source, tool, tx))
    }
}

/// Renames the written backup to its final name and writes its manifest
/// beside it (or neither).
fn seal(
    req: &BackupRequest,
    recipients: &[age::x25519::Recipient],
    temp: TempFile,
    written: Written,
    final_name: String,
    (engine, taken): (EngineKind, Dumped),
    events: &Events,
) -> Result<BackupResult> {
    let Written {
        file,
        sha256,
        bytes,
        plaintext_bytes,
    } = written;
    let artifact = temp.commit(file, &final_name)?;
    let manifest = manifest::Manifest {
        manifest_version: manifest::MANIFEST_VERSION,
        created_by: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        created_at: taken.created_at,
        name: req.name.clone(),
        engine,
        server_version: taken.server_version,
        dump: manifest::DumpInfo {
            format: taken.format,
            tool: taken.tool.into(),
            bytes: plaintext_bytes,
            consistent_snapshot: true,
        },
        compression: "zstd".into(),
        encryption: manifest::Encryption {
            scheme: "age (X25519)".into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
        },
        artifact: manifest::Artifact {
            file: final_name.clone(),
            layers: vec![Layer::Age, Layer::Zstd, Layer::Dump(taken.format)],
            bytes,
            sha256,
        },
        fingerprint_algorithm: taken.fingerprint_algorithm.into(),
        tables: taken.tables,
    };
    let manifest_file = catalog::manifest_name(&final_name);
    let manifest_path =
        match catalog::atomic::write_file(&req.out_dir, &manifest_file, &manifest.to_json()) {
            Ok(p) => p,
            Err(e) => {
                // A backup without its manifest would pass for a hand-made one;
                // the user asked for both, so leave neither.
                let _ = std::fs::remove_file(&artifact);
                return Err(e);
            }
        };
    events.event(Event::note(format!(
        "backup {} ({} bytes, {} tables)",
        artifact.display(),
        manifest.artifact.bytes,
        manifest.tables.len()
    )));
    Ok(BackupResult {
        artifact,
        manifest_path,
        manifest,
        commits_held: taken.commits_held,
    })
}

pub(crate) fn check_out_dir(dir: &Path) -> Result<()> {
    if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return Err(Error::Usage(format!(
            "{} is not a directory: --out takes a directory",
            dir.display()
        )));
    }
    // A missing folder is made, owner-only like the backups it will hold.
    catalog::atomic::create_dir(dir, DirMode::OwnerOnly, "output directory", "--out")?;
    // A probe file proves we may write there before a database is touched.
    let (probe, _file) = TempFile::create(dir, "write-probe").map_err(|_| {
        Error::Environment(format!(
            "the output directory {} is not writable. Fix its permissions or choose another --out",
            dir.display()
        ))
    })?;
    drop(probe);
    Ok(())
}

/// Waits for the writer, whatever the dump did, so the temp file is closed
/// before it is removed; its error comes before the dump's: when the disk
/// fills, the dump tool only sees its reader go away, and "disk full" is the
/// message the user needs.
async fn writer_done(
    writer: tokio::task::JoinHandle<std::io::Result<Written>>,
    temp: &Path,
) -> Result<Written> {
    writer
        .await
        .map_err(|e| Error::Failed(format!("the backup writer stopped: {e}")))?
        .map_err(|e| Error::io("write the backup to", temp, e))
}

fn spawn_writer(
    file: std::fs::File,
    recipients: Vec<age::x25519::Recipient>,
    mut rx: mpsc::Receiver<Bytes>,
    events: Events,
) -> tokio::task::JoinHandle<std::io::Result<Written>> {
    tokio::task::spawn_blocking(move || {
        let mut w = BackupWriter::new(file, &recipients)?;
        let mut done = 0u64;
        let mut next_report = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            w.write_all(&chunk)?;
            done += chunk.len() as u64;
            if done >= next_report {
                events.event(Event::Progress { done, total: None });
                next_report = done + (16 << 20);
            }
        }
        w.finish()
    })
}

/// Runs the dump tool where `source` says and sends its stdout to `tx`.
/// Returns an error if it failed, whatever it managed to send first.
async fn run_tool(source: &DumpSource, tool: DumpTool, tx: mpsc::Sender<Bytes>) -> Result<()> {
    match source {
        DumpSource::Container { docker, container } => {
            let mut req = ExecRequest::new(tool.in_container).stream_stdout(tx);
            if let Some(user) = tool.container_user {
                req = req.user(user);
            }
            let out = exec(docker, container, req).await?;
            check_dump_output(
                tool.name,
                out.succeeded() && !out.stdout_closed,
                out.exit_code().unwrap_or(-1),
                &out.stderr_text(),
            )
        }
        DumpSource::Local => {
            let mut cmd = tokio::process::Command::new(tool.name);
            cmd.args(&tool.local_args);
            if let Some((var, p)) = tool.local_password {
                // The environment, not the command line: ps shows arguments to
                // every user of the machine.
                cmd.env(var, p);
            }
            let ended = run_local(cmd, tool.name, tool.install_hint, tx).await?;
            check_dump_output(tool.name, ended.succeeded(), ended.code, &ended.stderr)
        }
    }
}

/// How a dump tool run on this host ended.
pub(crate) struct LocalEnd {
    pub code: i64,
    pub stderr: String,
    /// The reader of its output went away first (the tool was killed).
    pub consumer_gone: bool,
}

impl LocalEnd {
    pub fn succeeded(&self) -> bool {
        self.code == 0 && !self.consumer_gone
    }
}

/// Runs a dump tool on this host and sends its stdout to `tx`, killing it if
/// the reader goes away; `hint` says how to install it when it is missing.
pub(crate) async fn run_local(
    mut cmd: tokio::process::Command,
    tool: &str,
    hint: &str,
    tx: mpsc::Sender<Bytes>,
) -> Result<LocalEnd> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Environment(format!("cannot run {tool}: {e}. {hint}")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Failed(format!("no {tool} stdout")))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::Failed(format!("no {tool} stderr")))?;
    let err_task = tokio::spawn(async move {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s).await;
        s
    });
    let mut buf = vec![0u8; 1 << 18];
    let mut consumer_gone = false;
    loop {
        let n = stdout
            .read(&mut buf)
            .await
            .map_err(|e| Error::Failed(format!("reading {tool}'s output: {e}")))?;
        if n == 0 {
            break;
        }
        if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
            consumer_gone = true;
            let _ = child.kill().await;
            break;
        }
    }
    drop(tx);
    let status = child
        .wait()
        .await
        .map_err(|e| Error::Failed(format!("waiting for {tool}: {e}")))?;
    let stderr = String::from_utf8_lossy(&err_task.await.unwrap_or_default()).into_owned();
    Ok(LocalEnd {
        code: status.code().unwrap_or(-1).into(),
        stderr,
        consumer_gone,
    })
}

/// Ok when the dump tool succeeded; otherwise what it said, redacted.
fn check_dump_output(tool: &str, succeeded: bool, code: i64, stderr: &str) -> Result<()> {
    if succeeded {
        return Ok(());
    }
    let said = ToolSaid::parse(tool, stderr);
    let detail = said.text();
    let hint = if said.errors.iter().any(|e| e.kind == Some(VERSION_MISMATCH)) {
        "Use a pg_dump of the server's major version (or back up from inside the database container)"
    } else {
        "Check the database server's log; the backup was not written"
    };
    Err(Error::Failed(format!(
        "{tool} failed (exit code {code}): {}. {hint}",
        if detail.is_empty() {
            "no message"
        } else {
            &detail
        }
    )))
}
