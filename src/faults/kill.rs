//! restore-killed: the recovery server dies part-way through a restore. The
//! kill lands mid-restore however fast the restore would otherwise finish.

use crate::events::{Event, Events, Observer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// An observer that fires once the restore has read `after` bytes of the
/// backup file, then holds the stream (progress is reported from the stream's
/// own thread) until the drill has killed the sandbox: the kill lands
/// mid-restore however fast the restore would otherwise finish.
pub struct KillSwitch {
    pub after: u64,
    pub fired: Notify,
    inner: Events,
    state: std::sync::Mutex<KillState>,
    killed: std::sync::Condvar,
}

#[derive(Default)]
struct KillState {
    fired: bool,
    killed: bool,
}

impl KillSwitch {
    pub fn new(after: u64, inner: Events) -> Arc<KillSwitch> {
        Arc::new(KillSwitch {
            after,
            fired: Notify::new(),
            inner,
            state: std::sync::Mutex::new(KillState::default()),
            killed: std::sync::Condvar::new(),
        })
    }

    /// Called once the sandbox is dead: lets the stream go on (into nothing).
    pub fn release(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.killed = true;
        }
        self.killed.notify_all();
    }
}

impl Observer for KillSwitch {
    fn event(&self, event: Event) {
        if let Event::BackupRead { bytes } = &event {
            if *bytes >= self.after {
                if let Ok(mut st) = self.state.lock() {
                    if !st.fired {
                        st.fired = true;
                        self.fired.notify_one();
                        // Bounded: a kill that never comes must not hang the drill.
                        let _ = self
                            .killed
                            .wait_timeout_while(st, Duration::from_secs(30), |s| !s.killed);
                    }
                }
            }
        }
        self.inner.event(event);
    }
}

/// Waits until the restore tool is connected to the sandbox and has created
/// at least one table: from then on a kill lands in the middle of the restore.
pub async fn wait_for_restore_activity(engine: crate::engine::EngineKind, url: &str) {
    // One bound for the whole wait, a query that hangs included: after it
    // the kill lands wherever the restore is.
    let watched = engine.until_restore_busy(url);
    let _ = tokio::time::timeout(Duration::from_secs(20), watched).await;
}

/// Kills a container (the recovery server dying mid-restore).
pub async fn kill_container(docker: &bollard::Docker, id: &str) {
    let _ = docker
        .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
        .await;
}
