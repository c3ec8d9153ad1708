//! PostgreSQL's part of the failure rehearsals: when a restore is busy.

use std::time::Duration;

/// pg_restore connected and a table created: from then on a kill lands in
/// the middle of the restore.
pub async fn until_restore_busy(url: &str) {
    let Ok(mut conn) = super::connect(url, Duration::from_secs(5)).await else {
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
