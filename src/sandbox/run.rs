//! A run's identity, carried as labels on everything it creates, so that what a
//! killed run left behind can be found and told apart from a live run's.

use std::collections::HashMap;

pub const LABEL_RUN: &str = "org.restore-drill.run";
pub const LABEL_HOST: &str = "org.restore-drill.host";
pub const LABEL_PID: &str = "org.restore-drill.pid";
/// The process start time (clock ticks since boot, from /proc), so a recycled
/// PID is not mistaken for the run that created a container.
pub const LABEL_PID_START: &str = "org.restore-drill.pid-start";
pub const LABEL_ROLE: &str = "org.restore-drill.role";
/// Set on what a `--keep` run creates: the user asked for it to outlive the
/// run, so the next run's sweep of dead runs leaves it (`gc --all` removes it).
pub const LABEL_KEEP: &str = "org.restore-drill.keep";

#[derive(Debug, Clone)]
pub struct RunId {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub pid_start: Option<u64>,
    /// The run was asked to leave its sandbox running (`--keep`).
    pub keep: bool,
    /// The run's engine is not this machine: its sandboxes are reached
    /// through a relay (`relay`), not a folder shared with this host.
    pub relayed: bool,
}

impl RunId {
    pub fn new() -> Self {
        let id: String = {
            use rand::Rng;
            let mut rng = rand::rng();
            (0..12)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect()
        };
        let pid = std::process::id();
        Self {
            id,
            host: hostname(),
            pid,
            pid_start: process_start(pid),
            keep: false,
            relayed: false,
        }
    }

    /// This run's sandbox is to outlive it (`--keep`).
    pub fn kept(self) -> Self {
        Self { keep: true, ..self }
    }

    /// This run's engine is elsewhere: its sandboxes are reached by relay.
    pub fn relayed(self) -> Self {
        Self {
            relayed: true,
            ..self
        }
    }

    pub fn labels(&self, role: &str) -> HashMap<String, String> {
        let mut l = HashMap::new();
        l.insert(LABEL_RUN.into(), self.id.clone());
        l.insert(LABEL_HOST.into(), self.host.clone());
        l.insert(LABEL_PID.into(), self.pid.to_string());
        if let Some(s) = self.pid_start {
            l.insert(LABEL_PID_START.into(), s.to_string());
        }
        l.insert(LABEL_ROLE.into(), role.into());
        if self.keep {
            l.insert(LABEL_KEEP.into(), "true".into());
        }
        l
    }

    /// Short name prefix for containers and networks of this run.
    pub fn name(&self, what: &str) -> String {
        format!("restore-drill-{}-{what}", self.id)
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after
    // the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether what carries these labels was kept on purpose (`--keep`).
pub fn was_kept(labels: &HashMap<String, String>) -> bool {
    labels.get(LABEL_KEEP).is_some_and(|v| v == "true")
}

/// Whether the run that set these labels is still alive. Runs of another host
/// can't be checked from here, so they count as alive (never swept by accident).
pub fn run_is_alive(labels: &HashMap<String, String>) -> bool {
    let Some(host) = labels.get(LABEL_HOST) else {
        return false;
    };
    if *host != hostname() {
        return true;
    }
    let Some(pid) = labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    match (process_start(pid), labels.get(LABEL_PID_START)) {
        (None, _) => false,
        (Some(now), Some(then)) => then.parse::<u64>().ok() == Some(now),
        (Some(_), None) => true,
    }
}
