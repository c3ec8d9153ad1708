//! The way into a sandbox on an engine that is not this machine: there is no
//! folder to share a socket through, so the drill listens on a socket of its
//! own (in the run's private folder, where a shared one would be) and, for
//! each connection, runs a relay inside the sandbox through Docker's exec
//! API that joins the exec's stdin and stdout to the database's socket.
//! The sandbox keeps `network_mode = none`: the bytes travel in the Docker
//! API's connection, as the backup itself does. Nothing is written on the
//! engine's machine beyond the sandbox.
//!
//! The relay is Perl from the image's own perl-base (Essential in every
//! Debian image): nothing is added to the images and nothing from the
//! backup runs.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::error::{Error, Result};

/// Joins stdin/stdout to the unix socket named by its argument, both ways,
/// until either side closes.
const RELAY: &str = r#"use IO::Socket::UNIX; use IO::Select;
my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 3;
binmode STDIN; binmode STDOUT; $| = 1;
my $sel = IO::Select->new(\*STDIN, $s);
while (1) { for my $h ($sel->can_read) {
  my $n = sysread($h, my $buf, 65536);
  exit 0 unless $n;
  my $to = ($h == $s) ? \*STDOUT : $s;
  my $off = 0; while ($off < $n) { my $w = syswrite($to, $buf, $n - $off, $off); exit 0 unless $w; $off += $w; }
} }"#;

/// How long one relay may take to start in the sandbox.
const START: Duration = Duration::from_secs(15);

/// The listener's task: it ends (and its connections with it) when dropped.
#[derive(Debug)]
pub struct Relay {
    task: tokio::task::JoinHandle<()>,
    pub socket: PathBuf,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Listens on `local` and relays each connection to `inside` (a socket
/// path in `container`).
pub fn serve(docker: &Docker, container: &str, inside: String, local: &Path) -> Result<Relay> {
    let listener = UnixListener::bind(local)
        .map_err(|e| Error::io("listen on the sandbox's relay socket", local, e))?;
    let (docker, container) = (docker.clone(), container.to_string());
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (d, c, i) = (docker.clone(), container.clone(), inside.clone());
            tokio::spawn(async move {
                let _ = relay_one(&d, &c, &i, client).await;
            });
        }
    });
    Ok(Relay {
        task,
        socket: local.to_path_buf(),
    })
}

/// One connection: an exec of the relay, its streams joined to the client's.
async fn relay_one(
    docker: &Docker,
    container: &str,
    inside: &str,
    client: UnixStream,
) -> Result<()> {
    let started = start_relay(docker, container, inside).await?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(Error::Failed("the relay's exec started detached".into()));
    };
    let (mut from_client, mut to_client) = client.into_split();
    let upstream = async {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = from_client.read(&mut buf).await.unwrap_or(0);
            if n == 0 || input.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = input.shutdown().await;
    };
    let downstream = async {
        while let Some(Ok(chunk)) = output.next().await {
            if to_client.write_all(&chunk.into_bytes()).await.is_err() {
                break;
            }
        }
        let _ = to_client.shutdown().await;
    };
    // Either side closing ends the connection: the database's (the relay
    // exits) or the client's (its input closes, and the relay with it).
    tokio::select! {
        _ = upstream => {},
        _ = downstream => {},
    }
    Ok(())
}

/// The relay's exec, started with its stdin and stdout attached.
async fn start_relay(docker: &Docker, container: &str, inside: &str) -> Result<StartExecResults> {
    let cmd = vec!["perl".to_string(), "-e".into(), RELAY.into(), inside.into()];
    tokio::time::timeout(START, async {
        let created = docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(false),
                    tty: Some(false),
                    ..Default::default()
                },
            )
            .await?;
        let options = StartExecOptions {
            detach: false,
            output_capacity: Some(1 << 16),
            ..Default::default()
        };
        docker.start_exec(&created.id, Some(options)).await
    })
    .await
    .map_err(|_| Error::Environment("the sandbox's relay did not start within 15 s".into()))?
    .map_err(|e| Error::docker("starting the sandbox's relay", e))
}
