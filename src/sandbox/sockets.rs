//! The one way into a sandbox from this host: the database's unix socket, in
//! a folder shared with the container. The sandbox has no network at all
//! (`network_mode = none`: loopback only), so nothing in a backup can reach
//! the host, its gateway or anything else; the drill connects through this
//! socket and runs the restore tools through Docker's API (exec).
//!
//! Each run's folder is private to the user who runs the drill (mode 700);
//! each sandbox's folder inside it is writable by the container's database
//! user, whatever its uid (mode 777 under the private parent). The folder
//! holds only the socket and the server's pid file, no data, and goes when
//! the run's containers are removed (`cleanup_run`, `gc`).

use crate::error::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The run's folder of sockets on this host.
pub fn run_folder(run_id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("restore-drill-{run_id}"))
}

/// A new folder for one sandbox's socket, under the run's private folder.
pub fn create(run_id: &str, name: &str) -> Result<PathBuf> {
    let parent = run_folder(run_id);
    let made = |p: &PathBuf, mode: u32| -> Result<()> {
        match std::fs::create_dir(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create the sandbox's socket folder", p, e)),
        }
        // Set after creation: the umask would narrow the mode.
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set the mode of the sandbox's socket folder", p, e))
    };
    made(&parent, 0o700)?;
    let dir = parent.join(name);
    made(&dir, 0o777)?;
    Ok(dir)
}

/// Removes the run's folder; one already gone is fine.
pub fn remove(run_id: &str) {
    // Run ids are ours (hex); anything else in a label is not a folder of ours.
    if run_id.is_empty() || !run_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return;
    }
    let _ = std::fs::remove_dir_all(run_folder(run_id));
}
