//! `restore-drill doctor`: is this machine ready for a drill, and do drills
//! still happen? Each check is ok, or says what to do.

pub mod cadence;
pub mod leftovers;

use crate::sandbox::{docker, images};
use crate::words::plural;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was found, or the fix.
    pub detail: String,
    pub area: Area,
}

/// Which question a check answers; the exit code follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Is the machine ready (Docker, images, keys, disk)?
    Machine,
    /// Do drills still happen, and pass, as often as they should?
    Cadence,
}

/// Below this much free space a drill of a typical clinic may not fit.
const MIN_FREE_BYTES: u64 = 5 << 30;

pub async fn run(identities: &[PathBuf], dirs: &[PathBuf]) -> Vec<Check> {
    let mut checks = Vec::new();
    match docker::connect().await {
        Ok(d) => {
            let version = d.version().await.ok();
            checks.push(Check {
                name: "docker".into(),
                area: Area::Machine,
                ok: true,
                detail: format!(
                    "reachable at {}: engine {}, API {}",
                    docker::docker_host(),
                    version
                        .as_ref()
                        .and_then(|v| v.version.clone())
                        .unwrap_or_default(),
                    d.client_version()
                ),
            });
            checks.extend(sandboxes(&d).await);
            checks.extend(image_checks(&d).await);
        }
        Err(e) => checks.push(Check {
            name: "docker".into(),
            area: Area::Machine,
            ok: false,
            detail: e.to_string(),
        }),
    }
    checks.push(match images::check_mmdebstrap() {
        Ok(()) => Check {
            name: "mmdebstrap".into(),
            area: Area::Machine,
            ok: true,
            detail: "installed (needed only to build images)".into(),
        },
        Err(e) => Check {
            name: "mmdebstrap".into(),
            area: Area::Machine,
            ok: false,
            detail: e.to_string(),
        },
    });
    let mut dirs: Vec<PathBuf> = dirs.to_vec();
    if dirs.is_empty() {
        dirs.push(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
    }
    for dir in &dirs {
        checks.push(free_space(dir));
    }
    for key in identities {
        checks.push(match crate::keys::load_identity_file(key) {
            Ok(_) => Check {
                name: format!("key {}", key.display()),
                area: Area::Machine,
                ok: true,
                detail: "readable by its owner only".into(),
            },
            Err(e) => Check {
                name: format!("key {}", key.display()),
                area: Area::Machine,
                ok: false,
                detail: e.to_string(),
            },
        });
    }
    checks
}

/// Each image a drill may use: present, or the command that builds it.
async fn image_checks(d: &bollard::Docker) -> Vec<Check> {
    let mut checks = Vec::new();
    for t in &images::TARGETS {
        let image = t.image();
        let present = images::image_present(d, &image).await.unwrap_or(false);
        checks.push(Check {
            name: format!("image {image}"),
            area: Area::Machine,
            ok: present,
            detail: if present {
                "present".into()
            } else {
                format!("missing. Fix: restore-drill images build {}", t.key)
            },
        });
    }
    checks
}

/// Sandboxes left by killed runs, named with the command that removes them.
async fn sandboxes(d: &bollard::Docker) -> Vec<Check> {
    match leftovers::list(d).await {
        Ok(seen) => leftovers::judge(&seen, chrono::Utc::now()),
        Err(e) => vec![Check {
            name: "leftover sandboxes".into(),
            area: Area::Machine,
            ok: false,
            detail: format!("cannot list them: {e}"),
        }],
    }
}

/// The cadence: read the drill history (chain checked) and the last drill's
/// backup location, then judge.
pub async fn cadence(history: &Path, max_age_days: u32) -> Vec<Check> {
    let history_check = |ok, detail| Check {
        name: format!("drill history {}", history.display()),
        ok,
        detail,
        area: Area::Cadence,
    };
    let marker = crate::ledger::marker::read(history);
    if let (false, Ok(Some(m))) = (history.exists(), &marker) {
        return vec![history_check(
            false,
            crate::ledger::marker::missing(history, m),
        )];
    }
    let (verified, last_alerts) = match crate::ledger::Ledger::open(history).await {
        Ok(mut l) => {
            let v = l.verified().await;
            (v, l.last_deliveries().await.unwrap_or_default())
        }
        Err(e) => (Err(e), Vec::new()),
    };
    let (first, records) = match verified {
        Err(e) => return vec![history_check(false, e.to_string())],
        Ok(crate::ledger::Verified::Broken(b)) => {
            let said = crate::ledger::broken_error(history, &b).to_string();
            return vec![history_check(false, said)];
        }
        Ok(crate::ledger::Verified::Intact { head, records }) => {
            let stored: Vec<_> = records.iter().map(|r| r.stored.clone()).collect();
            let held = match &marker {
                Ok(Some(m)) => crate::ledger::marker::judge(history, m, &stored),
                Ok(None) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            let records_text = plural(head.records, "record", "records");
            let check = match held {
                Ok(()) => history_check(true, format!("{records_text}, chain intact")),
                Err(why) => {
                    history_check(false, format!("{records_text}, chain intact, but {why}"))
                }
            };
            (check, records)
        }
    };
    let runs: Vec<(i64, crate::ledger::view::ReportView)> = records
        .into_iter()
        .map(|r| (r.stored.id, r.report))
        .collect();
    let seen = cadence::Seen {
        now: chrono::Utc::now(),
        max_age_days,
        newest_backup: newest_backup(&runs).await,
        runs: &runs,
        last_alerts: &last_alerts,
    };
    let mut checks = vec![first];
    checks.extend(cadence::judge(&seen));
    checks
}

/// The newest backup in the folder the last restore drill restored from.
async fn newest_backup(
    runs: &[(i64, crate::ledger::view::ReportView)],
) -> Option<cadence::NewestBackup> {
    let path = runs
        .iter()
        .rev()
        .find_map(|(_, v)| v.backup.as_ref().filter(|_| v.simulation.is_none()))
        .map(|b| PathBuf::from(&b.path))?;
    let dir = path.parent()?.to_path_buf();
    let scan = dir.clone();
    let found = tokio::task::spawn_blocking(move || crate::catalog::list::scan(&scan, None))
        .await
        .ok()?;
    Some(cadence::NewestBackup {
        location: dir.display().to_string(),
        taken_at: found
            .ok()
            .and_then(|f| f.iter().filter_map(|c| c.time).max()),
    })
}

fn free_space(dir: &Path) -> Check {
    let name = format!("free disk at {}", dir.display());
    match nix::sys::statvfs::statvfs(dir) {
        Ok(s) => {
            let free = s.blocks_available() * s.fragment_size();
            Check {
                name,
                area: Area::Machine,
                ok: free >= MIN_FREE_BYTES,
                detail: if free >= MIN_FREE_BYTES {
                    format!("{:.1} GiB free", free as f64 / (1u64 << 30) as f64)
                } else {
                    format!(
                        "only {:.1} GiB free; a drill needs room for the restored database in Docker's storage. Fix: free space",
                        free as f64 / (1u64 << 30) as f64
                    )
                },
            }
        }
        Err(e) => Check {
            name,
            area: Area::Machine,
            ok: false,
            detail: format!("cannot read: {e}"),
        },
    }
}
