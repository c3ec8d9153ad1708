//! MariaDB's part of the failure rehearsals: when a restore is busy.

use sqlx::Executor;
use std::time::Duration;

/// Another connection than ours, and a table in the restored database: from
/// then on a kill lands in the middle of the restore.
pub async fn until_restore_busy(url: &str) {
    let patience = Duration::from_secs(5);
    let Ok(mut conn) = super::connect(url, patience).await else {
        return;
    };
    let asked = "SELECT (SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                         WHERE ID <> CONNECTION_ID() AND USER = 'root' AND COMMAND <> 'Daemon') \
                      * (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE())";
    loop {
        let busy = conn.fetch_one(sqlx::raw_sql(asked)).await;
        let n = busy
            .ok()
            .and_then(|r| super::text(&r, 0))
            .and_then(|t| t.parse::<i64>().ok());
        if n.is_some_and(|n| n > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
