//! The clinic's production server, played by a throwaway container restored
//! from the newest backup: written to, backed up again, run under a live
//! workload, then lost (ransomware, lost-server). And afterwards, which of the
//! workload's committed writes the restore lost.

use super::kill::kill_container;
use crate::backup::{self, BackupRequest, DumpSource};
use crate::catalog::list;
use crate::engine::{AnyConnection, EngineKind};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::keys::IdentitySource;
use crate::measure::Moment;
use crate::report::LostWrites;
use crate::sandbox::{self, RunId, Sandbox, SandboxSpec};
use chrono::{DateTime, Utc};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The running workload: its task (yielding the committed writes) and its stop signal.
pub type Workload = (
    tokio::task::JoinHandle<Result<Vec<(i64, DateTime<Utc>)>>>,
    Arc<Notify>,
);

#[derive(Debug, Clone)]
pub struct WorkloadLog {
    pub path: PathBuf,
    /// (sequence number, commit time) of every write the workload saw commit.
    pub committed: Vec<(i64, DateTime<Utc>)>,
}

/// The clinic's production server, played by a container restored from the
/// newest backup of the primary location.
pub struct Production {
    docker: bollard::Docker,
    server: Sandbox,
    recipients: Vec<String>,
}

impl Production {
    /// Restores the newest backup of `primary` into a new server of `image`.
    pub async fn start(
        docker: &bollard::Docker,
        run: &RunId,
        (engine, image): (EngineKind, &str),
        (primary, name_prefix): (&Path, Option<&str>),
        keys: Arc<Vec<IdentitySource>>,
        events: &Events,
    ) -> Result<Production> {
        let newest = list::scan(primary, name_prefix)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::Unrecoverable(format!(
                    "no backup in {} to build the production server from",
                    primary.display()
                ))
            })?;
        let recipients = newest
            .manifest
            .as_ref()
            .map(|m| m.encryption.recipients.clone())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "this scenario plays the clinic's server and backs it up again, which needs the recipients \
                     from a manifest; {} has none. Use a fixture made by `restore-drill fixtures generate`",
                    newest.path.display()
                ))
            })?;
        let mut spec = SandboxSpec::new(engine, image);
        spec.role = "production";
        let server = Sandbox::start(docker, run, &spec).await?;
        crate::restore::restore_file(
            &server,
            &newest.origin,
            keys,
            events,
            Default::default(),
            &crate::restore::Delivery::stream(),
        )
        .await
        .map_err(|e| {
            Error::Failed(format!(
                "building the production server: {}",
                e.into_error(&newest.path)
            ))
        })?;
        Ok(Production {
            docker: docker.clone(),
            server,
            recipients,
        })
    }

    pub async fn write_appointments(&self, n: u32) -> Result<()> {
        // MariaDB's clinic keeps its times as UTC DATETIMEs.
        let now = self.server.engine.now_sql();
        let sql = format!(
            "INSERT INTO appointments (patient_id, starts_at, duration_minutes, kind, status, created_at) \
             SELECT p.id, {now} + INTERVAL '1' DAY, 30, 'follow_up', 'booked', {now} \
             FROM patients p ORDER BY p.id LIMIT {n}"
        );
        let url = self.server.url();
        crate::engine::execute_as_admin(self.server.engine, &url, &sql, "writing to production")
            .await
    }

    pub async fn backup_into(&self, dir: &Path, events: &Events) -> Result<PathBuf> {
        let r = backup::backup(
            BackupRequest {
                url: self.server.url(),
                out_dir: dir.to_path_buf(),
                recipients: self.recipients.clone(),
                name: "clinic".into(),
                source: DumpSource::Container {
                    docker: self.docker.clone(),
                    container: self.server.container.clone(),
                },
            },
            events,
        )
        .await?;
        Ok(r.artifact)
    }

    /// A writer at a set rate: each write a transaction with a new appointment
    /// and its sequence number, logged once committed.
    pub fn workload(&self, per_second: u32, log: PathBuf) -> Workload {
        let (url, engine) = (self.server.url(), self.server.engine);
        let stop = Arc::new(Notify::new());
        let stop2 = stop.clone();
        let handle = tokio::spawn(async move {
            let mut conn = AnyConnection::connect(engine, &url).await?;
            conn.execute(
                "CREATE TABLE drill_workload (seq bigint PRIMARY KEY, committed_at timestamp NOT NULL, \
                 appointment_id bigint NOT NULL REFERENCES appointments(id))",
            )
            .await
            .map_err(|e| Error::db("preparing the workload", e))?;
            let mut file = std::fs::File::create(&log).map_err(|e| Error::io("create", &log, e))?;
            let mut committed = Vec::new();
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second)));
            let mut seq: i64 = 0;
            loop {
                tokio::select! {
                    _ = stop2.notified() => break,
                    _ = tick.tick() => {}
                }
                seq += 1;
                // A write that fails (the server is going away) is not committed:
                // the workload stops there.
                if conn.execute(&workload_write(engine, seq)).await.is_err() {
                    break;
                }
                let at = Utc::now();
                committed.push((seq, at));
                let _ = writeln!(
                    file,
                    "{{\"seq\":{seq},\"committed_at\":\"{}\"}}",
                    at.to_rfc3339()
                );
            }
            let _ = file.sync_all();
            Ok(committed)
        });
        (handle, stop)
    }

    /// The server dies (SIGKILL) with the workload still writing, and its
    /// storage is removed. The killed server's connections drop, so the
    /// writer's next write fails and it stops; `stop` is the backstop.
    /// Returns the moment of the loss and the writes the workload saw commit.
    pub async fn lose(
        self,
        (workload, stop): Workload,
    ) -> Result<(Moment, Vec<(i64, DateTime<Utc>)>)> {
        let lost_at = Moment::now();
        kill_container(&self.docker, &self.server.container).await;
        let joined = tokio::time::timeout(Duration::from_secs(10), async {
            let mut workload = workload;
            tokio::select! {
                r = &mut workload => r,
                _ = tokio::time::sleep(Duration::from_secs(5)) => { stop.notify_one(); workload.await }
            }
        })
        .await
        .map_err(|_| Error::Failed("the workload did not stop within 10 s after the server was lost".into()))?;
        let committed =
            joined.map_err(|e| Error::Failed(format!("internal error in the workload: {e}")))??;
        self.destroy().await?;
        Ok((lost_at, committed))
    }

    /// The server is lost with its storage.
    pub async fn destroy(self) -> Result<()> {
        sandbox::gc::remove_container(&self.docker, &self.server.container)
            .await
            .map(|_| ())
    }
}

/// Pure: one write of the workload, one transaction: a new appointment and
/// its sequence number, with the commit's time (UTC).
pub fn workload_write(engine: EngineKind, seq: i64) -> String {
    engine.workload_write(seq)
}

/// After the restore: which of the workload's committed writes are missing.
pub async fn lost_writes(
    (engine, url): (EngineKind, &str),
    log: &WorkloadLog,
    backup_time: Option<DateTime<Utc>>,
    manifest: Option<&crate::catalog::Manifest>,
) -> Result<LostWrites> {
    let mut conn = AnyConnection::connect(engine, url).await?;
    let restored = conn
        .integers("SELECT seq FROM drill_workload")
        .await
        .map_err(|e| Error::db("reading the workload's writes", e))?;
    Ok(count_lost(
        log,
        &restored.into_iter().collect(),
        backup_time,
        manifest,
    ))
}

/// The committed writes missing from the restored set, and the time they span.
pub fn count_lost(
    log: &WorkloadLog,
    restored: &std::collections::HashSet<i64>,
    backup_time: Option<DateTime<Utc>>,
    manifest: Option<&crate::catalog::Manifest>,
) -> LostWrites {
    let lost: Vec<&(i64, DateTime<Utc>)> = log
        .committed
        .iter()
        .filter(|(s, _)| !restored.contains(s))
        .collect();
    let last_committed = log.committed.last().map(|(_, t)| *t);
    LostWrites {
        committed: log.committed.len() as u64,
        lost: lost.len() as u64,
        in_backup_per_manifest: manifest.and_then(|m| {
            m.tables
                .iter()
                .find(|t| t.name == "public.drill_workload" || t.name == "drill_workload")
                .map(|t| t.rows)
        }),
        first_lost_at: lost.first().map(|(_, t)| *t),
        last_lost_at: lost.last().map(|(_, t)| *t),
        span_seconds: match (lost.is_empty(), backup_time, last_committed) {
            (true, _, _) => Some(0.0),
            (false, Some(b), Some(l)) => Some((l - b).num_milliseconds() as f64 / 1000.0),
            _ => None,
        },
        log: log.path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_writes_are_the_committed_ones_not_restored() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-01T02:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let log = WorkloadLog {
            path: PathBuf::from("w.jsonl"),
            committed: (1..=5).map(|s| (s, at(s))).collect(),
        };
        let restored = [1, 2].into_iter().collect();
        let l = count_lost(&log, &restored, Some(t0), None);
        assert_eq!((l.committed, l.lost), (5, 3));
        assert_eq!(
            (l.first_lost_at, l.last_lost_at),
            (Some(at(3)), Some(at(5)))
        );
        assert_eq!(l.span_seconds, Some(5.0));
        let all = (1..=5).collect();
        assert_eq!(
            count_lost(&log, &all, Some(t0), None).span_seconds,
            Some(0.0)
        );
        assert_eq!(count_lost(&log, &restored, None, None).span_seconds, None);
    }
}
