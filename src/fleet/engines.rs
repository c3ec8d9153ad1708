//! Reaching a fleet's engines: each by its own address (a local socket, TCP
//! with a client certificate, or ssh), the API version negotiated, and every
//! contact bounded so that an engine that stopped answering is found out in
//! seconds, not when a drill's own timeouts run out.

use crate::error::{Error, Result};
use crate::scenario::fleet::{EngineHost, EngineSpec};
use bollard::Docker;
use std::time::Duration;

/// How long the first contact with an engine may take.
const CONNECT: Duration = Duration::from_secs(15);
/// bollard's per-request timeout, in seconds, as for the local engine.
const REQUEST_TIMEOUT_S: u64 = 120;

/// Connects to `spec`'s engine and negotiates the API version.
pub async fn connect(spec: &EngineSpec) -> Result<Docker> {
    let docker = client(&spec.host).map_err(|e| unreachable(spec, &crate::error::chain(&e)))?;
    match tokio::time::timeout(CONNECT, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(unreachable(spec, &crate::error::chain(&e))),
        Err(_) => Err(unreachable(
            spec,
            &format!("no answer within {} s", CONNECT.as_secs()),
        )),
    }
}

fn client(host: &EngineHost) -> std::result::Result<Docker, bollard::errors::Error> {
    let version = bollard::API_DEFAULT_VERSION;
    match host {
        EngineHost::Unix(path) => {
            Docker::connect_with_unix(&path.to_string_lossy(), REQUEST_TIMEOUT_S, version)
        }
        EngineHost::Tcp { address, tls } => Docker::connect_with_ssl(
            address,
            &tls.key,
            &tls.cert,
            &tls.ca,
            REQUEST_TIMEOUT_S,
            version,
        ),
        EngineHost::Ssh(target) => {
            Docker::connect_with_ssh(&format!("ssh://{target}"), REQUEST_TIMEOUT_S, version, None)
        }
    }
}

/// An engine that cannot be reached: which one, and what to do.
pub fn unreachable(spec: &EngineSpec, why: &str) -> Error {
    let fix = match &spec.host {
        EngineHost::Unix(_) => "Start it or fix its address",
        EngineHost::Tcp { .. } => {
            "Start it, or fix its address or its certificates (tls_ca, tls_cert, tls_key: the engine's CA, and a client certificate it signed)"
        }
        EngineHost::Ssh(_) => {
            "Start it, or fix its address or this machine's ssh access to it (ssh USER@HOST docker version must work)"
        }
    };
    Error::Environment(format!(
        "engine {:?} ({}, {}) is not reachable: {}. {fix}; its drills go to the other engines",
        spec.name,
        spec.host.url(),
        spec.origin,
        // The ssh client's own message ends with one.
        why.trim_end_matches('.')
    ))
}
