//! restore-killed: the recovery server dies part-way through a restore. The
//! kill lands mid-restore however fast the restore would otherwise finish.

use crate::engine::postgres;
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
        if let Event::Progress { done, .. } = &event {
            if *done >= self.after {
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
    let watched = async {
        match engine {
            crate::engine::EngineKind::Postgres => until_pg_restore_busy(url).await,
            crate::engine::EngineKind::Mariadb => until_mariadb_restore_busy(url).await,
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), watched).await;
}

/// pg_restore connected and a table created.
async fn until_pg_restore_busy(url: &str) {
    let Ok(mut conn) = postgres::connect(url, Duration::from_secs(5)).await else {
        return;
    };
    loop {
        let busy: Result<(i64, i64), _> = sqlx::query_as(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore'), \
                    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema'))",
        )
        .fetch_one(&mut conn)
        .await;
        if matches!(busy, Ok((a, t)) if a > 0 && t > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Another connection than ours, and a table in the restored database.
async fn until_mariadb_restore_busy(url: &str) {
    use sqlx::Executor;
    let patience = Duration::from_secs(5);
    let Ok(mut conn) = crate::engine::mariadb::connect(url, patience).await else {
        return;
    };
    let asked = "SELECT (SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                         WHERE ID <> CONNECTION_ID() AND USER = 'root' AND COMMAND <> 'Daemon') \
                      * (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE())";
    loop {
        let busy = conn.fetch_one(sqlx::raw_sql(asked)).await;
        let n = busy
            .ok()
            .and_then(|r| crate::engine::mariadb::text(&r, 0))
            .and_then(|t| t.parse::<i64>().ok());
        if n.is_some_and(|n| n > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Kills a container (the recovery server dying mid-restore).
pub async fn kill_container(docker: &bollard::Docker, id: &str) {
    let _ = docker
        .kill_container(id, None::<bollard::query_parameters::KillContainerOptions>)
        .await;
}
