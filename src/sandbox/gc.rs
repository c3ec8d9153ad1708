//! Removing what runs created: `cleanup_run` for our own run (called whatever
//! happened), `gc` for leftovers of runs that were killed before they could.

use super::run::{run_is_alive, was_kept, RunId, LABEL_RUN};
use crate::error::{Error, Result};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub containers: usize,
    pub networks: usize,
    /// Runs whose leftovers were removed.
    pub runs: BTreeSet<String>,
    /// Runs left alone because they are still alive (here or on another host).
    pub live_runs: BTreeSet<String>,
}

fn label_filter(value: String) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![value])])
}

/// Removes every container and network labelled with this run's id.
pub async fn cleanup_run(docker: &Docker, run: &RunId) -> Result<Removed> {
    let removed = remove_matching(docker, &format!("{LABEL_RUN}={}", run.id), |_| true).await;
    // Also when no container was made (its folder is made first).
    super::sockets::remove(&run.id);
    removed
}

/// Removes leftovers of dead runs (all labelled runs with `include_live`).
/// A sandbox kept on purpose (`--keep`) counts as live: it is the user's until
/// `gc --all`.
/// `except` is the caller's own run, never swept.
pub async fn gc(docker: &Docker, include_live: bool, except: Option<&RunId>) -> Result<Removed> {
    let own = except.map(|r| r.id.clone());
    let mut live = BTreeSet::new();
    let mut removed = remove_matching(docker, LABEL_RUN, |labels| {
        let run = labels.get(LABEL_RUN).cloned().unwrap_or_default();
        if Some(&run) == own.as_ref() {
            return false;
        }
        if !include_live && (run_is_alive(labels) || was_kept(labels)) {
            live.insert(run);
            return false;
        }
        true
    })
    .await?;
    let mut spared = live.clone();
    spared.extend(own);
    super::sockets::remove_orphans(&spared);
    removed.live_runs = live;
    Ok(removed)
}

async fn remove_matching(
    docker: &Docker,
    filter: &str,
    mut keep_going: impl FnMut(&HashMap<String, String>) -> bool,
) -> Result<Removed> {
    let mut removed = Removed::default();
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&label_filter(filter.to_string()))
                .build(),
        ))
        .await
        .map_err(|e| Error::docker("listing containers to clean up", e))?;
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        if !keep_going(&labels) {
            continue;
        }
        let Some(id) = c.id else { continue };
        if remove_container(docker, &id).await? {
            removed.containers += 1;
        }
        if let Some(run) = labels.get(LABEL_RUN) {
            // The run's socket folder on this host goes with its containers.
            super::sockets::remove(run);
            removed.runs.insert(run.clone());
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new()
                .filters(&label_filter(filter.to_string()))
                .build(),
        ))
        .await
        .map_err(|e| Error::docker("listing networks to clean up", e))?;
    for n in networks {
        let labels = n.labels.unwrap_or_default();
        if !keep_going(&labels) {
            continue;
        }
        let Some(id) = n.id else { continue };
        match docker.remove_network(&id).await {
            Ok(()) => removed.networks += 1,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(Error::docker(format!("removing network {id}"), e)),
        }
        if let Some(run) = labels.get(LABEL_RUN) {
            removed.runs.insert(run.clone());
        }
    }
    Ok(removed)
}

/// Removes a container with its anonymous volumes (its storage), even if it
/// runs. Returns false when it was already gone, which reaches the same goal.
pub async fn remove_container(docker: &Docker, id: &str) -> Result<bool> {
    match docker
        .remove_container(
            id,
            Some(
                RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        )
        .await
    {
        Ok(()) => Ok(true),
        // Gone, or being removed by another sweep at this moment (409):
        // either way it goes, which is the goal.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(false),
        Err(e) => Err(Error::docker(format!("removing container {id}"), e)),
    }
}
