//! `restore-drill backup`: pg_dump in a snapshot -> zstd -> age -> temp file ->
//! fsync -> rename, with the manifest's counts and fingerprints taken inside
//! the same snapshot while the dump runs.

use crate::catalog::{self, atomic::DirMode, atomic::TempFile, manifest};
pub mod db_url;
mod mariadb_dump;

use crate::engine::{mariadb, postgres, EngineKind, TableFingerprint};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::pipeline::encode::{BackupWriter, Written};
use crate::pipeline::{DumpFormat, Layer};
use crate::redact::tool::VERSION_MISMATCH;
use crate::redact::ToolSaid;
use crate::sandbox::{exec, ExecRequest};
use bytes::Bytes;
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// Where pg_dump runs.
pub enum DumpSource {
    /// The host's pg_dump, against the URL.
    Local,
    /// pg_dump inside the database's own container (ours), over its unix
    /// socket: the client always matches the server's version.
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

/// Chunks in flight between pg_dump and the encoder: bounded, so a slow disk
/// slows pg_dump instead of filling memory.
const CHANNEL_CHUNKS: usize = 16;

pub async fn backup(req: BackupRequest, events: &Events) -> Result<BackupResult> {
    // Everything that can be checked without a database is checked first.
    let recipients = crate::keys::parse_recipients(&req.recipients)?;
    catalog::validate_name(&req.name).map_err(Error::Usage)?;
    if mariadb::is_url(&req.url) {
        // MYSQL_PWD, as the MariaDB clients read it: the password then need
        // not be on restore-drill's own command line either.
        let url = db_url::with_password_from(&req.url, |v| std::env::var(v).ok());
        let req = BackupRequest { url, ..req };
        mariadb::parse_url(&req.url)?;
        check_out_dir(&req.out_dir)?;
        return mariadb_dump::backup(req, recipients, events).await;
    }
    let opts = postgres::parse_url(&req.url)?;
    check_out_dir(&req.out_dir)?;

    let mut phase = crate::measure::Clock::new(events);
    phase.begin("backup: connect");
    let mut conn = postgres::connect(&req.url, Duration::from_secs(5)).await?;
    let server_version = postgres::server_version(&mut conn).await?;
    let mut snapshot = postgres::export_snapshot(conn).await?;
    // Listed inside the exported snapshot: a table created or dropped while the
    // backup starts is in both the dump and the manifest, or in neither.
    let tables = postgres::list_tables(&mut snapshot.conn).await?;
    let created_at = Utc::now();
    phase.end();

    let final_name = catalog::artifact_name(&req.name, created_at);
    let (temp, file) = TempFile::create(&req.out_dir, &final_name)?;

    phase.begin("backup: dump, compress, encrypt, fingerprint");
    let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let writer = spawn_writer(file, recipients.clone(), rx, events.clone());
    let snapshot_id = snapshot.id.clone();
    let dump = run_pg_dump(&req, &opts, &snapshot_id, tx);
    let fingerprints = postgres::fingerprint_tables(&mut snapshot.conn, &tables);
    let (dump_result, fp_result) = tokio::join!(dump, fingerprints);
    let written = writer_done(writer, &temp).await?;
    dump_result?;
    let fingerprints: Vec<TableFingerprint> = fp_result?;
    snapshot.finish().await?;
    phase.end();

    seal(
        &req,
        &recipients,
        temp,
        written,
        Taken {
            created_at,
            final_name,
            engine: EngineKind::Postgres,
            server_version,
            format: DumpFormat::PostgresCustom,
            tool: "pg_dump",
            fingerprint_algorithm: manifest::FINGERPRINT_ALGORITHM,
            tables: fingerprints,
        },
        events,
    )
}

/// What a backup took, for its manifest.
struct Taken {
    created_at: chrono::DateTime<Utc>,
    final_name: String,
    engine: EngineKind,
    server_version: String,
    format: DumpFormat,
    tool: &'static str,
    fingerprint_algorithm: &'static str,
    tables: Vec<TableFingerprint>,
}

/// Renames the written backup to its final name and writes its manifest
/// beside it (or neither).
fn seal(
    req: &BackupRequest,
    recipients: &[age::x25519::Recipient],
    temp: TempFile,
    written: Written,
    taken: Taken,
    events: &Events,
) -> Result<BackupResult> {
    let Written {
        file,
        sha256,
        bytes,
        plaintext_bytes,
    } = written;
    let artifact = temp.commit(file, &taken.final_name)?;
    let manifest = manifest::Manifest {
        manifest_version: manifest::MANIFEST_VERSION,
        created_by: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        created_at: taken.created_at,
        name: req.name.clone(),
        engine: taken.engine,
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
            file: taken.final_name.clone(),
            layers: vec![Layer::Age, Layer::Zstd, Layer::Dump(taken.format)],
            bytes,
            sha256,
        },
        fingerprint_algorithm: taken.fingerprint_algorithm.into(),
        tables: taken.tables,
    };
    let manifest_file = catalog::manifest_name(&taken.final_name);
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
        commits_held: None,
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
    temp: &TempFile,
) -> Result<Written> {
    writer
        .await
        .map_err(|e| Error::Failed(format!("the backup writer stopped: {e}")))?
        .map_err(|e| Error::io("write the backup to", &temp.path, e))
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

/// Runs pg_dump and sends its stdout to `tx`. Returns an error if pg_dump
/// failed, whatever it managed to send first.
async fn run_pg_dump(
    req: &BackupRequest,
    opts: &sqlx::postgres::PgConnectOptions,
    snapshot: &str,
    tx: mpsc::Sender<Bytes>,
) -> Result<()> {
    let user = opts.get_username().to_string();
    let database = opts.get_database().unwrap_or(&user).to_string();
    let mut args = postgres::dump_args(snapshot);
    match &req.source {
        DumpSource::Container { docker, container } => {
            let mut cmd = vec![
                "pg_dump".to_string(),
                format!("--username={user}"),
                format!("--dbname={database}"),
            ];
            cmd.append(&mut args);
            let out = exec(
                docker,
                container,
                ExecRequest::new(cmd).user("postgres").stream_stdout(tx),
            )
            .await?;
            check_dump_output(
                "pg_dump",
                out.succeeded() && !out.stdout_closed,
                out.exit_code().unwrap_or(-1),
                &out.stderr_text(),
            )
        }
        DumpSource::Local => {
            let parsed = url::Url::parse(&req.url)
                .map_err(|e| Error::Usage(format!("invalid database URL: {e}")))?;
            // Out of the user part and the query string (`?password=`) both.
            let (url, password) = db_url::split_password(&parsed);
            let mut cmd = tokio::process::Command::new("pg_dump");
            cmd.arg(format!("--dbname={url}")).args(&args);
            if let Some(p) = password {
                // The environment, not the command line: ps shows arguments to
                // every user of the machine.
                cmd.env("PGPASSWORD", p);
            }
            let hint = "Install the PostgreSQL client of the server's major version \
                        (Debian: apt-get install postgresql-client-NN)";
            let ended = run_local(cmd, "pg_dump", hint, tx).await?;
            check_dump_output("pg_dump", ended.succeeded(), ended.code, &ended.stderr)
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

pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
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
