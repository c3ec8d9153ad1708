//! The restore stream: backup file -> age -> zstd / gzip -> exec stdin of
//! pg_restore (or psql) inside the sandbox. Decoding runs on a blocking thread
//! and hands bounded chunks to the async side, so memory stays flat whatever
//! the backup's size and the database sets the pace.

use crate::error::Error;
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::pipeline::decode::LayerError;
use crate::pipeline::{self, Counter, CountingReader, DumpFormat, Layer};
use crate::redact::Redacted;
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
    pub stderr: Redacted,
}

pub async fn restore_file(
    sandbox: &Sandbox,
    path: &Path,
    keys: Arc<Vec<IdentitySource>>,
    events: &Events,
    limits: Limits,
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
    let cmd = restore_command(&sandbox.creds, format).map_err(RestoreError::Unusable)?;
    let tool = cmd[0].clone();

    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    let dump_bytes = Counter::default();
    let reader = CountingReader::new(opened.reader, dump_bytes.clone());
    let progress = (file_bytes.clone(), total, events.clone());
    let producer = tokio::task::spawn_blocking(move || produce(reader, format, tx, progress));
    let out = exec(
        &sandbox.docker,
        &sandbox.container,
        ExecRequest::new(cmd)
            .user("postgres")
            .stdin(rx)
            .limits(limits),
    )
    .await?;
    let produced = producer
        .await
        .map_err(|e| Error::Failed(format!("internal error in the restore stream: {e}")))?;
    let run = ToolRun {
        tool,
        stderr: Redacted::new(out.stderr_text().trim()),
        ended: out.ended,
        stdin_error: out.stdin_error,
    };
    judge(&produced, &run, format, dump_bytes.get(), limits).map_err(RestoreError::Unusable)?;
    Ok(Restored {
        layers,
        format,
        file_bytes: file_bytes.get(),
        dump_bytes: dump_bytes.get(),
        decrypted_by,
        messages: run.stderr,
    })
}

/// Reads the decoded dump in whole chunks and hands them to the exec; the
/// first error is sent on too, which closes the tool's input at once.
fn produce(
    mut reader: impl Read,
    format: DumpFormat,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    (file_bytes, total, events): (Counter, Option<u64>, Events),
) -> Produced {
    let mut tail = Tail::default();
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
            return Produced::Complete {
                completed: tail.completes(format),
            };
        }
        buf.truncate(n);
        tail.push(&buf);
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
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
                error: Redacted::new(m),
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
        Ended::Exited(_) if out_of_space(run.stderr.as_str()) => Err(Unusable::DiskFull {
            tool: run.tool.clone(),
            at,
            stderr: run.stderr.clone(),
        }),
        Ended::Exited(exit_code) => Err(Unusable::ToolFailed {
            tool: run.tool.clone(),
            exit_code,
            at,
            stderr: run.stderr.clone(),
        }),
    }
}

/// The restore tool's words for a full disk (PostgreSQL's "could not extend
/// file", the OS's ENOSPC): read once, here, where the tool's output becomes a
/// typed outcome.
fn out_of_space(stderr: &str) -> bool {
    stderr.contains("could not extend file") || stderr.contains("No space left on device")
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
pub fn restore_command(
    c: &crate::engine::Credentials,
    format: DumpFormat,
) -> Result<Vec<String>, Unusable> {
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
        other => Err(Unusable::WrongEngine { format: other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(ended: Ended, stdin_error: Option<StdinError>, stderr: &str) -> ToolRun {
        ToolRun {
            tool: "pg_restore".into(),
            ended,
            stdin_error,
            stderr: Redacted::new(stderr),
        }
    }

    const FORMAT: DumpFormat = DumpFormat::PostgresCustom;

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
            exit_code, stderr, ..
        }) = got
        else {
            panic!("{got:?}")
        };
        assert_eq!(exit_code, 1);
        assert!(!stderr.as_str().contains("1234"), "{stderr}");
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
