//! Throwaway containers: a database container with no network at all
//! (loopback only), no capabilities beyond what its entrypoint needs,
//! `no-new-privileges`, no password in its environment, resource limits, a
//! readiness wait, and exec with streamed stdin. The drill reaches the
//! database through its unix socket in a folder shared with this host
//! (`sockets`) and runs tools through Docker's API. Everything carries the
//! run's labels; `cleanup` removes a run's things whatever happened, `gc` what
//! killed runs left.

pub mod docker;
pub mod exec;
pub mod gc;
pub mod images;
pub mod relay;
pub mod run;
pub mod sockets;

pub use exec::{exec, Ended, ExecOutput, ExecRequest, Limits, StdinError, StdoutMode};
pub use run::RunId;

/// Where a parallel restore decodes the dump: a tmpfs inside the sandbox,
/// so the plaintext lives in the sandbox's memory and never on the host's
/// disk. The sandbox mounts it; the restore writes there.
pub const STAGING_DIR: &str = "/restore-drill-staging";

use crate::engine::{Credentials, EngineKind};
use crate::error::{Error, Result};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to start.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub image: String,
    pub engine: EngineKind,
    /// Memory limit in bytes (the database and the restore tool share it).
    pub memory_bytes: i64,
    /// CPU limit in cores.
    pub cpus: f64,
    /// Size limit of a tmpfs holding the database's data directory, if any.
    pub tmpfs_bytes: Option<u64>,
    /// A tmpfs for a parallel restore's decoded dump (`STAGING_DIR`),
    /// added to the memory limit: the database keeps `memory_bytes`.
    pub staging_bytes: Option<u64>,
    pub ready_timeout: Duration,
    /// The longest one statement of the read-only role (the checks) may run.
    pub query_timeout: Duration,
    /// `sandbox` (a drill's restore target) or `source` (a clinic server we play).
    pub role: &'static str,
    /// The database restored into and checked, when not the default.
    pub database: Option<String>,
}

impl SandboxSpec {
    pub fn new(engine: EngineKind, image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            engine,
            memory_bytes: 2 << 30,
            cpus: 2.0,
            tmpfs_bytes: None,
            staging_bytes: None,
            ready_timeout: Duration::from_secs(60),
            query_timeout: Duration::from_secs(3600),
            role: "sandbox",
            database: None,
        }
    }
}

/// A running database container with no network, reached by its socket.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub docker: Docker,
    pub container: String,
    /// The folder on this host that holds the database's unix socket: the
    /// drill's only way to the database.
    pub socket_dir: PathBuf,
    pub engine: EngineKind,
    pub creds: Credentials,
    /// On an engine that is not this machine: the relay that carries
    /// connections to the socket folder into the sandbox (`relay`). It
    /// stops when the last clone of the sandbox is dropped.
    pub relay: Option<std::sync::Arc<relay::Relay>>,
}

/// What the entrypoints need of root's powers, and no more: switching to the
/// database's user (SETUID, SETGID), owning its folders (CHOWN, FOWNER,
/// DAC_OVERRIDE), and passing a stop signal on to it (KILL). No NET_RAW, no
/// NET_BIND_SERVICE: the database listens on no port.
const CAPABILITIES: [&str; 6] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "KILL",
];

impl Sandbox {
    /// Creates the container, starts it and waits until the database says it
    /// is ready. On any failure what was created stays labelled for the
    /// caller's cleanup of the run.
    pub async fn start(docker: &Docker, run: &RunId, spec: &SandboxSpec) -> Result<Sandbox> {
        ensure_image(docker, &spec.image).await?;
        let name = format!("{}-{}", spec.role, short_random());
        let socket_dir = sockets::create(&run.id, &name)?;
        let mut creds = Credentials::random(spec.engine);
        if let Some(d) = &spec.database {
            creds.database.clone_from(d);
        }
        let created = docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::new()
                        .name(&run.name(&name))
                        .build(),
                ),
                container_body(run, spec, &creds, &socket_dir),
            )
            .await
            .map_err(|e| Error::docker(format!("creating a container from {}", spec.image), e))?;
        docker
            .start_container(&created.id, None)
            .await
            .map_err(|e| Error::docker("starting the sandbox container", e))?;
        let relay = match run.relayed {
            true => Some(std::sync::Arc::new(relay::serve(
                docker,
                &created.id,
                format!(
                    "{}/{}",
                    spec.engine.socket_mount(),
                    spec.engine.socket_file()
                ),
                &socket_dir.join(spec.engine.socket_file()),
            )?)),
            false => None,
        };
        wait_ready(docker, &created.id, spec).await?;
        let sandbox = Sandbox {
            relay,
            docker: docker.clone(),
            container: created.id,
            socket_dir,
            engine: spec.engine,
            creds,
        };
        spec.engine
            .create_reader(&sandbox.url(), &sandbox.creds, spec.query_timeout)
            .await?;
        Ok(sandbox)
    }

    /// A URL for sqlx (and for humans with `--keep`): the administrator's.
    pub fn url(&self) -> String {
        self.engine.url(&self.socket_dir, &self.creds)
    }

    /// The read-only role's URL: what the checks connect with.
    pub fn reader_url(&self) -> String {
        self.engine.reader_url(&self.socket_dir, &self.creds)
    }
}

/// The container: no network, the socket folder mounted, capabilities cut to
/// the entrypoint's needs, limits on memory, CPU and processes.
fn container_body(
    run: &RunId,
    spec: &SandboxSpec,
    creds: &Credentials,
    socket_dir: &Path,
) -> ContainerCreateBody {
    let tmpfs = tmpfs_folders(run, spec);
    let socket = Mount {
        target: Some(spec.engine.socket_mount().into()),
        source: Some(socket_dir.display().to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(false),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.engine.container_env(creds, spec.tmpfs_bytes.is_some())),
        cmd: spec.engine.server_command(spec.memory_bytes),
        labels: Some(run.labels(spec.role)),
        // `docker import` can't carry STOPSIGNAL; PostgreSQL's fast shutdown is SIGINT.
        stop_signal: Some(spec.engine.stop_signal().into()),
        host_config: Some(HostConfig {
            // Loopback only: no route to the host, its gateway or anywhere.
            network_mode: Some("none".into()),
            mounts: (!run.relayed).then(|| vec![socket]),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(CAPABILITIES.iter().map(|c| c.to_string()).collect()),
            security_opt: Some(vec!["no-new-privileges".into()]),
            // A tmpfs is charged to the container's memory as it fills: the
            // database keeps `memory_bytes` beside its data and staging.
            memory: Some(
                spec.memory_bytes
                    + spec.staging_bytes.unwrap_or(0) as i64
                    + spec.tmpfs_bytes.unwrap_or(0) as i64,
            ),
            nano_cpus: Some((spec.cpus * 1e9) as i64),
            pids_limit: Some(512),
            // Docker's default 64 MiB /dev/shm is too small for PostgreSQL's
            // parallel queries over a restored database of some size.
            shm_size: Some(512 << 20),
            init: Some(true),
            tmpfs: if tmpfs.is_empty() { None } else { Some(tmpfs) },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The sandbox's tmpfs folders: the data directory and the staging folder
/// where asked for, and on an engine elsewhere the socket's folder.
fn tmpfs_folders(run: &RunId, spec: &SandboxSpec) -> HashMap<String, String> {
    let mut tmpfs = HashMap::new();
    if let Some(bytes) = spec.tmpfs_bytes {
        tmpfs.insert(
            spec.engine.data_dir().to_string(),
            format!("rw,size={bytes},mode=0700"),
        );
    }
    if let Some(bytes) = spec.staging_bytes {
        // Sticky and world-writable like /tmp: the restore tool's user
        // writes the dump there with umask 077.
        tmpfs.insert(
            STAGING_DIR.to_string(),
            format!("rw,size={bytes},mode=1777,noexec,nosuid,nodev"),
        );
    }
    if run.relayed {
        // No folder of this host on the engine's machine: the socket stays
        // inside the sandbox, reached through the relay.
        tmpfs.insert(
            spec.engine.socket_mount().to_string(),
            "rw,size=1m,mode=1777,noexec,nosuid,nodev".to_string(),
        );
    }
    tmpfs
}

/// The state of a container whose log ended before it was ready. The log
/// also ends when the engine goes away (stopped, crashed): that is then the
/// cause to name, not the image.
async fn exited_state(
    docker: &Docker,
    id: &str,
) -> Result<Option<bollard::models::ContainerState>> {
    match docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => Ok(c.state),
        Err(e) if !matches!(e, bollard::errors::Error::DockerResponseServerError { .. }) => Err(
            self::docker::unreachable_error(&self::docker::docker_host(), &e),
        ),
        Err(_) => Ok(None),
    }
}

fn short_random() -> String {
    use rand::Rng;
    format!("{:06x}", rand::rng().random_range(0..0xff_ffff))
}

pub async fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(Error::Environment(format!(
            "the image {image} is not present on this Docker engine. Fix: restore-drill images build{}",
            images::build_target_for(image)
                .map(|t| format!(" {t}"))
                .unwrap_or_else(|| format!(" (or docker pull {image} where a registry is reachable)"))
        ))),
        Err(e) => Err(Error::docker(format!("looking up the image {image}"), e)),
    }
}

/// Follows the container's log until the engine's ready line, the container's
/// exit, or the timeout; the last log lines go into the error so the cause shows.
async fn wait_ready(docker: &Docker, id: &str, spec: &SandboxSpec) -> Result<()> {
    let ready = spec.engine.ready_line();
    let mut logs = docker.logs(
        id,
        Some(
            LogsOptionsBuilder::new()
                .follow(true)
                .stdout(true)
                .stderr(true)
                .build(),
        ),
    );
    let mut tail: Vec<String> = Vec::new();
    let mut partial = String::new();
    let outcome = tokio::time::timeout(spec.ready_timeout, async {
        while let Some(item) = logs.next().await {
            let Ok(out) = item else { break };
            partial.push_str(&String::from_utf8_lossy(&out.into_bytes()));
            while let Some(pos) = partial.find('\n') {
                let line: String = partial.drain(..=pos).collect();
                let line = line.trim_end().to_string();
                if line.contains(ready) {
                    return true;
                }
                tail.push(line);
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
        }
        false
    })
    .await;
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => {
            let state = exited_state(docker, id).await?;
            let code = state.and_then(|s| s.exit_code).unwrap_or(-1);
            Err(Error::Environment(format!(
                "the {} container exited during startup (exit code {code}). Last log lines:\n{}\n\
                 Fix: check the image ({}) and the memory limit",
                spec.engine,
                indent(&tail),
                spec.image
            )))
        }
        Err(_) => Err(Error::Environment(format!(
            "the {} container was not ready after {} s (no \"{ready}\" in its log). Last log lines:\n{}\n\
             Fix: the machine may be overloaded; raise the readiness timeout or check the image ({})",
            spec.engine,
            spec.ready_timeout.as_secs(),
            indent(&tail),
            spec.image
        ))),
    }
}

fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "  (none)".into();
    }
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
