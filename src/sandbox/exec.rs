//! Running a command inside a container with its stdin fed from a stream: how a
//! restore reaches pg_restore without a port or a file. Stdout is captured or
//! streamed out (how pg_dump's output leaves a container); stderr keeps a tail.

use crate::error::{Error, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// How much of stderr is kept (the end: that is where the error is).
const STDERR_TAIL: usize = 64 * 1024;
/// How much stdout is kept in `Capture` mode.
const STDOUT_CAPTURE: usize = 4 << 20;

pub enum StdoutMode {
    Capture,
    /// Chunks are sent as they come; a full channel slows the command down
    /// (backpressure) rather than growing memory.
    Stream(mpsc::Sender<Bytes>),
}

pub struct ExecRequest {
    pub cmd: Vec<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    /// Chunks for the command's stdin, ended by closing the channel (EOF). An
    /// `Err` chunk means the producer failed: the command's stdin is closed at
    /// once (so a tool waiting for more input ends) and the exec reports
    /// `stdin_error`.
    pub stdin: Option<mpsc::Receiver<io::Result<Bytes>>>,
    pub stdout: StdoutMode,
    pub privileged: bool,
    pub limits: Limits,
}

/// Bounds on every wait of an exec: nothing in it waits forever.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest one write to the command's stdin may wait (the command
    /// stopped reading without exiting).
    pub stall: Duration,
    /// The longest the whole command may run.
    pub finish: Duration,
    /// After the input failed or stalled, how long the command gets to exit.
    pub exit_after_abort: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            stall: Duration::from_secs(120),
            finish: Duration::from_secs(4 * 3600),
            exit_after_abort: Duration::from_secs(10),
        }
    }
}

impl ExecRequest {
    pub fn new<S: Into<String>>(cmd: impl IntoIterator<Item = S>) -> Self {
        Self {
            cmd: cmd.into_iter().map(Into::into).collect(),
            user: None,
            env: Vec::new(),
            stdin: None,
            stdout: StdoutMode::Capture,
            privileged: false,
            limits: Limits::default(),
        }
    }
    /// Full capabilities for this one process (the container keeps its own).
    pub fn privileged(mut self) -> Self {
        self.privileged = true;
        self
    }
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
    pub fn env(mut self, kv: impl Into<String>) -> Self {
        self.env.push(kv.into());
        self
    }
    pub fn stdin(mut self, rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        self.stdin = Some(rx);
        self
    }
    pub fn stream_stdout(mut self, tx: mpsc::Sender<Bytes>) -> Self {
        self.stdout = StdoutMode::Stream(tx);
        self
    }
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Why feeding stdin stopped before a clean EOF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinError {
    /// The producer sent an error; the command's input was closed.
    Producer(String),
    /// The command closed its input or exited before reading all of it.
    NotRead(String),
    /// One write waited longer than `Limits::stall`.
    Stalled,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i64),
    /// Still running when its limit ran out (`Limits::finish`, or
    /// `exit_after_abort` after a failed input): the caller must remove the
    /// container, which ends it.
    Abandoned,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exited(c) => write!(f, "exit code {c}"),
            Ended::Abandoned => f.write_str("still running when its time ran out"),
        }
    }
}

#[derive(Debug)]
pub struct ExecOutput {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdin_bytes: u64,
    /// Why feeding stdin stopped early, if it did.
    pub stdin_error: Option<StdinError>,
    /// Set when the stdout consumer went away before the command finished.
    pub stdout_closed: bool,
}

impl ExecOutput {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// The exit code, when the command exited.
    pub fn exit_code(&self) -> Option<i64> {
        match self.ended {
            Ended::Exited(c) => Some(c),
            Ended::Abandoned => None,
        }
    }
    pub fn succeeded(&self) -> bool {
        self.ended == Ended::Exited(0)
    }
}

type Input = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;
type Output = std::pin::Pin<
    Box<
        dyn futures_util::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>>
            + Send,
    >,
>;

pub async fn exec(docker: &Docker, container: &str, req: ExecRequest) -> Result<ExecOutput> {
    let ExecRequest {
        cmd,
        user,
        env,
        stdin,
        stdout,
        privileged,
        limits,
    } = req;
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.clone()),
                user,
                env: if env.is_empty() { None } else { Some(env) },
                attach_stdin: Some(stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(false),
                privileged: Some(privileged),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::docker(format!("preparing `{}` in the container", cmd[0]), e))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                output_capacity: Some(1 << 18),
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| Error::docker(format!("starting `{}` in the container", cmd[0]), e))?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(Error::Failed("exec started detached".into()));
    };
    let sent = Arc::new(AtomicU64::new(0));
    // The feeder runs on its own: when the command exits without reading all
    // its input (pg_restore stopping at an error), the engine may stop reading
    // the connection without closing it, and a write would wait forever.
    let feeder = tokio::spawn(feed(input, stdin, sent.clone(), limits.stall));
    let drained = drain(output, stdout, feeder, limits).await;
    if let Some(e) = drained.failure {
        return Err(Error::docker(
            format!("reading the output of `{}`", cmd[0]),
            e,
        ));
    }
    let ended = if drained.abandoned {
        Ended::Abandoned
    } else {
        Ended::Exited(exit_code(docker, &created.id).await?)
    };
    Ok(ExecOutput {
        ended,
        stdout: drained.stdout,
        stderr: drained.stderr,
        stdin_bytes: sent.load(Ordering::Relaxed),
        stdin_error: drained.stdin_error,
        stdout_closed: drained.stdout_closed,
    })
}

/// Writes the producer's chunks to the command's stdin. Every write is bounded
/// by `stall`; on a producer error or a stall the input is shut down, so the
/// command reads EOF instead of waiting for bytes that will never come.
async fn feed(
    mut input: Input,
    stdin: Option<mpsc::Receiver<io::Result<Bytes>>>,
    sent: Arc<AtomicU64>,
    stall: Duration,
) -> Option<StdinError> {
    let mut rx = stdin?;
    let error = loop {
        match rx.recv().await {
            None => break None,
            Some(Err(e)) => break Some(StdinError::Producer(e.to_string())),
            Some(Ok(bytes)) => match tokio::time::timeout(stall, input.write_all(&bytes)).await {
                Err(_) => break Some(StdinError::Stalled),
                Ok(Err(e)) => {
                    return Some(StdinError::NotRead(format!(
                        "the command stopped reading its input: {e}"
                    )))
                }
                Ok(Ok(())) => {
                    sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            },
        }
    };
    // Half-close: the command reads EOF, and its output keeps flowing back.
    match tokio::time::timeout(Duration::from_secs(5), input.shutdown()).await {
        Ok(Ok(())) => error,
        _ if error.is_some() => error,
        Ok(Err(e)) => Some(StdinError::NotRead(format!(
            "could not close the command's input: {e}"
        ))),
        Err(_) => Some(StdinError::Stalled),
    }
}

#[derive(Default)]
struct Drained {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_closed: bool,
    failure: Option<bollard::errors::Error>,
    stdin_error: Option<StdinError>,
    /// The command was still running when its limit ran out.
    abandoned: bool,
}

/// Collects the command's output until it ends, within `limits.finish`; once
/// the input failed, the command gets only `limits.exit_after_abort` more.
async fn drain(
    mut output: Output,
    stdout: StdoutMode,
    mut feeder: tokio::task::JoinHandle<Option<StdinError>>,
    limits: Limits,
) -> Drained {
    let mut d = Drained::default();
    let mut deadline = tokio::time::Instant::now() + limits.finish;
    let mut fed = false;
    loop {
        tokio::select! {
            item = output.next() => match item {
                None => break,
                Some(Ok(LogOutput::StdOut { message })) => keep_stdout(&mut d, &stdout, message).await,
                Some(Ok(LogOutput::StdErr { message })) => keep_stderr(&mut d.stderr, &message),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    d.failure = Some(e);
                    break;
                }
            },
            joined = &mut feeder, if !fed => {
                fed = true;
                d.stdin_error = joined.unwrap_or_else(|e| Some(StdinError::Producer(format!("internal error feeding the command: {e}"))));
                if d.stdin_error.is_some() {
                    deadline = deadline.min(tokio::time::Instant::now() + limits.exit_after_abort);
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                d.abandoned = true;
                break;
            }
        }
    }
    if !fed && d.abandoned {
        // Still running at its limit: that is the story, not its input.
        feeder.abort();
    } else if !fed {
        d.stdin_error = match tokio::time::timeout(Duration::from_secs(2), &mut feeder).await {
            Ok(joined) => joined.unwrap_or(None),
            Err(_) => {
                feeder.abort();
                Some(StdinError::NotRead(
                    "the command exited before reading all of its input".into(),
                ))
            }
        };
    }
    if d.stderr.len() > STDERR_TAIL {
        d.stderr.drain(..d.stderr.len() - STDERR_TAIL);
    }
    d
}

async fn keep_stdout(d: &mut Drained, mode: &StdoutMode, message: Bytes) {
    match mode {
        StdoutMode::Capture => {
            let room = STDOUT_CAPTURE.saturating_sub(d.stdout.len());
            d.stdout
                .extend_from_slice(&message[..message.len().min(room)]);
        }
        StdoutMode::Stream(tx) => {
            if !d.stdout_closed && tx.send(message).await.is_err() {
                d.stdout_closed = true;
            }
        }
    }
}

/// Keeps the end of stderr: that is where the error is.
fn keep_stderr(err: &mut Vec<u8>, message: &[u8]) {
    err.extend_from_slice(message);
    if err.len() > 2 * STDERR_TAIL {
        err.drain(..err.len() - STDERR_TAIL);
    }
}

/// The exit code appears once the engine has reaped the process, a moment after
/// its output ends.
async fn exit_code(docker: &Docker, exec_id: &str) -> Result<i64> {
    for _ in 0..200 {
        let info = docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| Error::docker("reading a command's exit code", e))?;
        if info.running != Some(true) {
            if let Some(code) = info.exit_code {
                return Ok(code);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Err(Error::Failed(
        "the command's output ended but it did not exit within 5 s".into(),
    ))
}
