//! What the core tells the outside while it works. The core never prints: the
//! CLI turns events into progress bars on a terminal and plain lines elsewhere.

use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Event {
    /// A phase of the work began (`backup: dumping`, `images: postgres:15` ...).
    PhaseStarted { name: String },
    /// It ended, with its monotonic duration.
    PhaseFinished { name: String, seconds: f64 },
    /// Bytes moved so far in the current phase (a restore: dump bytes
    /// streamed into the restore tool), out of `total` when known. A phase
    /// that sends none moved no bytes, and shows none.
    Progress { done: u64, total: Option<u64> },
    /// How far a restore has read its backup file (what restore-killed
    /// waits for); not shown.
    BackupRead { bytes: u64 },
    /// A line worth showing (never patient data: counts, names of tables,
    /// paths), redacted like everything else that leaves the process.
    Note(crate::redact::Redacted),
}

impl Event {
    pub fn note(text: impl AsRef<str>) -> Self {
        Event::Note(crate::redact::Redacted::ours(text.as_ref()))
    }
}

pub trait Observer: Send + Sync {
    fn event(&self, event: Event);
}

/// Drops everything: for tests and library callers that don't care.
pub struct Silent;
impl Observer for Silent {
    fn event(&self, _: Event) {}
}

pub type Events = Arc<dyn Observer>;

pub fn silent() -> Events {
    Arc::new(Silent)
}
