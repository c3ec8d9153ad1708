//! Running a command inside a container with its stdin fed from a stream: how a
//! restore reaches pg_restore without a port or a file. Stdout is captured or
//! streamed out (how pg_dump's output leaves a container); stderr keeps a tail.

use crate::error::{Error, Result};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io;
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
    /// `Err` chunk means the producer failed: the stream is cut without a clean
    /// EOF and the exec reports `stdin_error`.
    pub stdin: Option<mpsc::Receiver<io::Result<Bytes>>>,
    pub stdout: StdoutMode,
    pub privileged: bool,
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
}

#[derive(Debug)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdin_bytes: u64,
    /// Why feeding stdin stopped early, if it did (producer error or the
    /// command closed its stdin).
    pub stdin_error: Option<String>,
    /// Set when the stdout consumer went away before the command finished.
    pub stdout_closed: bool,
}

impl ExecOutput {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

pub async fn exec(docker: &Docker, container: &str, req: ExecRequest) -> Result<ExecOutput> {
    let ExecRequest {
        cmd,
        user,
        env,
        stdin,
        stdout,
        privileged,
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
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(Error::Failed("exec started detached".into()));
    };

    // Counted outside the feeder, so the count survives if it is cut off.
    let sent_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sent_counter = sent_bytes.clone();
    let feed = async move {
        let mut sent = 0u64;
        let Some(mut rx) = stdin else {
            return (0, None);
        };
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Ok(bytes) => {
                    if let Err(e) = input.write_all(&bytes).await {
                        return (
                            sent,
                            Some(format!("the command stopped reading its input: {e}")),
                        );
                    }
                    sent += bytes.len() as u64;
                    sent_counter.store(sent, std::sync::atomic::Ordering::Relaxed);
                }
                // Drop `input` without shutdown: the command sees its input end,
                // and the caller sees the error and fails the work.
                Err(e) => return (sent, Some(e.to_string())),
            }
        }
        // Half-close: the command reads EOF, and its output keeps flowing back.
        if let Err(e) = input.shutdown().await {
            return (
                sent,
                Some(format!("could not close the command's input: {e}")),
            );
        }
        (sent, None)
    };

    let drain = async move {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut stdout_closed = false;
        let mut failure = None;
        while let Some(item) = output.next().await {
            match item {
                Ok(bollard::container::LogOutput::StdOut { message }) => match &stdout {
                    StdoutMode::Capture => {
                        let room = STDOUT_CAPTURE.saturating_sub(out.len());
                        out.extend_from_slice(&message[..message.len().min(room)]);
                    }
                    StdoutMode::Stream(tx) => {
                        if !stdout_closed && tx.send(message).await.is_err() {
                            stdout_closed = true;
                        }
                    }
                },
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    err.extend_from_slice(&message);
                    if err.len() > 2 * STDERR_TAIL {
                        err.drain(..err.len() - STDERR_TAIL);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        (out, err, stdout_closed, failure)
    };

    // The feeder runs on its own: when the command exits without reading all
    // its input (pg_restore stopping at an error), the engine may stop reading
    // the connection without closing it, and a write would wait forever.
    let mut feeder = tokio::spawn(feed);
    let (stdout_buf, stderr_buf, stdout_closed, failure) = drain.await;
    let (stdin_bytes, stdin_error) =
        match tokio::time::timeout(std::time::Duration::from_secs(2), &mut feeder).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => (
                sent_bytes.load(std::sync::atomic::Ordering::Relaxed),
                Some(format!("internal error feeding the command: {e}")),
            ),
            Err(_) => {
                feeder.abort();
                (
                    sent_bytes.load(std::sync::atomic::Ordering::Relaxed),
                    Some("the command exited before reading all of its input".to_string()),
                )
            }
        };
    if let Some(e) = failure {
        return Err(Error::docker(
            format!("reading the output of `{}`", cmd[0]),
            e,
        ));
    }
    let exit_code = exit_code(docker, &created.id).await?;
    let mut stderr = stderr_buf;
    if stderr.len() > STDERR_TAIL {
        stderr.drain(..stderr.len() - STDERR_TAIL);
    }
    Ok(ExecOutput {
        exit_code,
        stdout: stdout_buf,
        stderr,
        stdin_bytes,
        stdin_error,
        stdout_closed,
    })
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
