//! The restore stream: backup file -> age -> zstd / gzip -> exec stdin of
//! pg_restore (or psql) inside the sandbox. Decoding runs on a blocking thread
//! and hands bounded chunks to the async side, so memory stays flat whatever
//! the backup's size and the database sets the pace.

use crate::engine::redact_tool_output;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::pipeline::{self, Counter, CountingReader, DumpFormat, Layer};
use crate::sandbox::{exec, ExecRequest, Sandbox};
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
}

pub async fn restore_file(
    sandbox: &Sandbox,
    path: &Path,
    keys: Arc<Vec<IdentitySource>>,
    events: &Events,
) -> Result<Restored> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open the backup", path, e))?;
    let total = file.metadata().map(|m| m.len()).ok();
    let file_bytes = Counter::default();
    let counted = CountingReader::new(file, file_bytes.clone());

    // Open the layers first (on a blocking thread: it reads and may decrypt) so
    // a wrong key or a non-backup fails before any restore tool starts.
    let display = path.display().to_string();
    let keys2 = keys.clone();
    let opened = tokio::task::spawn_blocking(move || {
        pipeline::open_layers(
            Box::new(std::io::BufReader::with_capacity(1 << 20, counted)),
            &keys2,
        )
    })
    .await
    .map_err(|e| Error::Failed(format!("internal error opening the backup: {e}")))?
    .map_err(|e| Error::Unrecoverable(format!("{display} cannot be restored: {e}")))?;
    let layers = opened.layers.clone();
    let format = opened.format;
    let decrypted_by = opened.decrypted_by;
    let cmd = restore_command(&sandbox.creds, format)?;

    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    let dump_bytes = Counter::default();
    let producer = {
        let mut reader = CountingReader::new(opened.reader, dump_bytes.clone());
        let file_bytes = file_bytes.clone();
        let events = events.clone();
        // Err(Some(why)): the backup is damaged; Err(None): the tool stopped reading.
        tokio::task::spawn_blocking(move || -> std::result::Result<(), Option<String>> {
            let mut next_report = 0u64;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = match read_full(&mut reader, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = tx.blocking_send(Err(e));
                        return Err(Some(msg));
                    }
                };
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    return Err(None);
                }
                let done = file_bytes.get();
                if done >= next_report {
                    events.event(Event::Progress { done, total });
                    next_report = done + (1 << 20);
                }
            }
        })
    };
    let out = exec(
        &sandbox.docker,
        &sandbox.container,
        ExecRequest::new(cmd).user("postgres").stdin(rx),
    )
    .await?;
    let produced = producer
        .await
        .map_err(|e| Error::Failed(format!("internal error in the restore stream: {e}")))?;
    // A stream error fails the restore even if the tool exited 0: it may have
    // restored a prefix of the data and called that success.
    if let Err(Some(msg)) = &produced {
        return Err(Error::Unrecoverable(format!(
            "{display} is damaged: {msg} (after {} bytes of the file, {} bytes of dump restored). \
             The restore was aborted",
            file_bytes.get(),
            out.stdin_bytes
        )));
    }
    if out.exit_code != 0 || produced.is_err() {
        return Err(Error::Failed(format!(
            "the restore tool failed (exit code {}) after {} bytes of dump: {}",
            out.exit_code,
            out.stdin_bytes,
            redact_tool_output(out.stderr_text().trim())
        )));
    }
    if let Some(e) = out.stdin_error {
        return Err(Error::Failed(format!("the restore stream was cut: {e}")));
    }
    Ok(Restored {
        layers,
        format,
        file_bytes: file_bytes.get(),
        dump_bytes: dump_bytes.get(),
        decrypted_by,
    })
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

/// The command that reads a dump of `format` on stdin and restores it, run as
/// the `postgres` user inside the sandbox (the benchmark's hand pipeline uses
/// the same arguments, so both restore alike).
pub fn restore_command(c: &crate::engine::Credentials, format: DumpFormat) -> Result<Vec<String>> {
    match format {
        // --exit-on-error: a restore that skips a failed table is not a restore.
        // --no-owner/--no-privileges: the clinic's roles don't exist in a sandbox.
        DumpFormat::PostgresCustom => Ok(vec![
            "pg_restore".into(),
            "--exit-on-error".into(),
            "--no-owner".into(),
            "--no-privileges".into(),
            format!("--username={}", c.user),
            format!("--dbname={}", c.database),
        ]),
        DumpFormat::PostgresSql => Ok(vec![
            "psql".into(),
            "--quiet".into(),
            "--no-psqlrc".into(),
            "--set=ON_ERROR_STOP=1".into(),
            "--output=/dev/null".into(),
            format!("--username={}", c.user),
            format!("--dbname={}", c.database),
        ]),
        DumpFormat::MysqlSql => Err(Error::Usage(
            "this backup is a MySQL/MariaDB dump; restore it into a MariaDB target".into(),
        )),
        DumpFormat::Unknown => Err(Error::Unrecoverable("not a backup".into())),
    }
}
