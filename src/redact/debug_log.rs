//! `--debug-log FILE`: the raw words of databases and restore tools, for the
//! user who needs them to debug a failed drill. They may hold patient data, so
//! the file is created with mode 600, never enters a report or the history,
//! and the CLI warns on stderr when it is in use. Without the flag nothing is
//! kept.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

static SINK: OnceLock<Mutex<File>> = OnceLock::new();

/// Opens the file (created or truncated, mode 600) as this process's debug
/// log. A second call keeps the first file.
pub fn open(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through open(): tighten it.
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let _ = SINK.set(Mutex::new(file));
    Ok(())
}

/// Appends raw text under a heading, when a debug log is open.
pub fn keep(what: &str, raw: &str) {
    let Some(sink) = SINK.get() else { return };
    if raw.trim().is_empty() {
        return;
    }
    if let Ok(mut f) = sink.lock() {
        let _ = writeln!(f, "--- {what}\n{}", raw.trim_end());
    }
}
