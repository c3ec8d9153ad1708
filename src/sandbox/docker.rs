//! Reaching the Docker engine: `DOCKER_HOST` is honoured (so drills can run on a
//! remote engine), and the API version is negotiated down to what the engine
//! speaks, since clinic servers run whatever Docker their distribution ships.

use crate::error::{Error, Result};
use bollard::Docker;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Where we are connecting, for messages.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string())
}

/// Connects and negotiates the API version; every failure is an environment
/// error with the fix.
pub async fn connect() -> Result<Docker> {
    let host = docker_host();
    if let Some(path) = host.strip_prefix("unix://") {
        probe_socket(&host, path)?;
    }
    let docker = Docker::connect_with_defaults().map_err(|e| {
        Error::Environment(format!(
            "cannot use DOCKER_HOST={host}: {e}. Fix DOCKER_HOST (e.g. unix:///var/run/docker.sock or tcp://HOST:2375) or unset it"
        ))
    })?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable_error(&host, &e))
}

/// A plain connect to a local socket tells "not running" from "permission
/// denied" far more clearly than the HTTP client's wrapped errors do.
fn probe_socket(host: &str, path: &str) -> Result<()> {
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Ok(()),
        Err(e) => match e.kind() {
            std::io::ErrorKind::PermissionDenied => Err(Error::Environment(format!(
                "permission denied on the Docker socket ({host}). Fix: run as a member of the docker group \
                 (sudo usermod -aG docker $USER, then log in again) or as root"
            ))),
            _ => Err(Error::Environment(format!(
                "Docker is not reachable at {host} ({e}). Fix: start the engine (sudo systemctl start docker) \
                 or point DOCKER_HOST at a running one"
            ))),
        },
    }
}

/// Whether the engine still answers a ping, within 5 seconds.
pub async fn answers(docker: &Docker) -> bool {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(5), docker.ping());
    matches!(ping.await, Ok(Ok(_)))
}

/// Turns a failed first contact into the message a user can act on.
pub fn unreachable_error(host: &str, e: &bollard::errors::Error) -> Error {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("permission denied") {
        Error::Environment(format!(
            "permission denied on the Docker socket ({host}). Fix: run as a member of the docker group \
             (sudo usermod -aG docker $USER, then log in again) or as root"
        ))
    } else {
        Error::Environment(format!(
            "Docker is not reachable at {host} ({text}). Fix: start the engine (sudo systemctl start docker) \
             or point DOCKER_HOST at a running one"
        ))
    }
}
