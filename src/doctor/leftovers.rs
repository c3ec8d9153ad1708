//! Sandboxes a killed run left behind. A run removes its sandbox whatever
//! happens to the drill, but not when the process itself is killed (SIGKILL,
//! power loss, the service's timeout): the container then keeps the restored
//! database, patient data included, until someone removes it. Judged from the
//! containers' labels with the same rule as `gc`, so what doctor names is
//! exactly what `restore-drill gc` removes.

use super::{Area, Check};
use crate::sandbox::run::{run_is_alive, was_kept, LABEL_ROLE, LABEL_RUN};
use crate::words::plural;
use bollard::query_parameters::ListContainersOptionsBuilder;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// One labelled container, as Docker lists it.
pub struct Seen {
    pub name: String,
    pub labels: HashMap<String, String>,
    pub created: Option<DateTime<Utc>>,
}

/// Lists the containers of every run (any state: a stopped one still holds
/// its data on the host's disk).
pub async fn list(docker: &bollard::Docker) -> crate::Result<Vec<Seen>> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_RUN.to_string()])]);
    let found = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| crate::Error::docker("listing the sandboxes of earlier runs", e))?;
    Ok(found
        .into_iter()
        .map(|c| Seen {
            name: c
                .names
                .and_then(|n| n.first().cloned())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_else(|| c.id.clone().unwrap_or_default()),
            labels: c.labels.unwrap_or_default(),
            created: c.created.and_then(|t| DateTime::from_timestamp(t, 0)),
        })
        .collect())
}

/// One check per container a killed run left (to fix: `restore-drill gc`),
/// and one that says how many were kept on purpose with `--keep`. A sandbox
/// of a drill running now is neither: `gc` leaves it, and so does this.
pub fn judge(seen: &[Seen], now: DateTime<Utc>) -> Vec<Check> {
    let (mut killed, mut kept) = (Vec::new(), 0);
    for s in seen {
        if was_kept(&s.labels) {
            kept += 1;
        } else if !run_is_alive(&s.labels) {
            killed.push(s);
        }
    }
    let mut checks: Vec<Check> = killed.iter().map(|s| left_by_killed_run(s, now)).collect();
    if killed.is_empty() {
        checks.push(check(
            "leftover sandboxes",
            true,
            "none: no killed run left a container".into(),
        ));
    }
    if kept > 0 {
        checks.push(check(
            "kept sandboxes",
            true,
            format!(
                "{} kept with --keep {} restored patient data; remove them when done: restore-drill gc --all",
                plural(kept, "container", "containers"),
                if kept == 1 { "holds" } else { "hold" }
            ),
        ));
    }
    checks
}

fn left_by_killed_run(s: &Seen, now: DateTime<Utc>) -> Check {
    let run = s.labels.get(LABEL_RUN).map_or("?", String::as_str);
    let role = s.labels.get(LABEL_ROLE).map_or("sandbox", String::as_str);
    let age = s.created.map_or(String::new(), |t| {
        format!(
            ", created {} ({} ago)",
            t.format("%Y-%m-%d %H:%M UTC"),
            crate::report::human_seconds((now - t).num_seconds() as f64)
        )
    });
    check(
        &format!("leftover sandbox {}", s.name),
        false,
        format!(
            "left by run {run} ({role}{age}), which was killed before it could remove it; it holds the restored database, patient data included. Fix: restore-drill gc"
        ),
    )
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        name: name.into(),
        ok,
        detail,
        area: Area::Machine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::run::{hostname, LABEL_HOST, LABEL_KEEP, LABEL_PID, LABEL_PID_START};

    fn seen(name: &str, pid: u32, start: Option<u64>, keep: bool) -> Seen {
        let mut labels = HashMap::from([
            (LABEL_RUN.to_string(), format!("run-{name}")),
            (LABEL_HOST.to_string(), hostname()),
            (LABEL_PID.to_string(), pid.to_string()),
            (LABEL_ROLE.to_string(), "sandbox".to_string()),
        ]);
        if let Some(s) = start {
            labels.insert(LABEL_PID_START.to_string(), s.to_string());
        }
        if keep {
            labels.insert(LABEL_KEEP.to_string(), "true".to_string());
        }
        Seen {
            name: name.into(),
            labels,
            created: Some(Utc::now() - chrono::Duration::hours(2)),
        }
    }

    #[test]
    fn a_killed_run_is_named_a_running_or_kept_one_is_not() {
        let me = std::process::id();
        let my_start = crate::sandbox::run::process_start(me);
        let list = [
            // A pid far above any kernel's limit: that process is gone.
            seen("dead", 99_999_999, Some(1), false),
            seen("running", me, my_start, false),
            seen("kept", 99_999_999, Some(1), true),
        ];
        let checks = judge(&list, Utc::now());
        let named: Vec<&str> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(named, ["leftover sandbox dead"]);
        let c = &checks[0];
        assert!(
            c.detail.contains("run-dead") && c.detail.contains("patient data"),
            "{}",
            c.detail
        );
        assert!(c.detail.ends_with("Fix: restore-drill gc"), "{}", c.detail);
        assert!(checks
            .iter()
            .any(|c| c.ok && c.detail.starts_with("1 container kept with --keep holds")));
        assert!(judge(&list[1..2], Utc::now()).iter().all(|c| c.ok));
    }
}
