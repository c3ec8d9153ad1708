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
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

const PREFIX: &str = "restore-drill-";

/// How old a run's folder with no container must be before `gc` takes it:
/// a run makes its folder just before its first container.
const ORPHAN_AFTER: Duration = Duration::from_secs(60);

/// The run's folder of sockets on this host.
pub fn run_folder(run_id: &str) -> PathBuf {
    base().join(format!("{PREFIX}{run_id}"))
}

/// Where runs' socket folders go: the Docker engine must see them at the
/// same path. A scheduled service has a private /tmp the engine cannot see
/// (`PrivateTmp=yes`), so its unit gives it a runtime directory under /run
/// (`RuntimeDirectory=`, passed as RUNTIME_DIRECTORY), which the engine sees.
fn base() -> PathBuf {
    std::env::var_os("RUNTIME_DIRECTORY")
        .map(PathBuf::from)
        .and_then(|d| {
            // systemd passes several as a colon-separated list: the first.
            let first = d.to_string_lossy().split(':').next().map(PathBuf::from);
            first.filter(|p| p.is_absolute())
        })
        .unwrap_or_else(std::env::temp_dir)
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
    // Run ids are ours (12 hex digits); anything else in a label names no
    // folder of ours.
    if !is_run_id(run_id) {
        return;
    }
    let _ = std::fs::remove_dir_all(run_folder(run_id));
}

/// A run id as `RunId::new` makes them.
fn is_run_id(s: &str) -> bool {
    s.len() == 12
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// Whether a socket in one of the run folder's sandbox folders accepts a
/// connection (closed at once): the run is alive, whichever engine it is on.
fn answers(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let sockets = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|sandbox| std::fs::read_dir(sandbox.path()).ok())
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()));
    sockets
        .into_iter()
        .any(|s| std::os::unix::net::UnixStream::connect(s.path()).is_ok())
}

/// Whether every entry of a run folder is a sandbox's socket folder
/// (`ROLE-xxxxxx`): a folder of someone else's that happens to be named like
/// ours is left alone.
fn holds_only_socket_folders(dir: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let suffix = name.rsplit_once('-').map(|(_, s)| s).unwrap_or("");
        e.file_type().is_ok_and(|t| t.is_dir())
            && suffix.len() == 6
            && suffix.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// Removes the socket folders of runs that have no container left (their
/// containers removed by hand, or a run killed before its first container),
/// except those of `spared` runs, any younger than a minute, and any whose
/// socket still answers: a run whose containers are on another engine (a
/// fleet's) is not in this engine's labels, but its database or relay
/// listens.
pub fn remove_orphans(spared: &BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(base()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ORPHAN_AFTER);
        if old
            && !spared.contains(run)
            && is_run_id(run)
            && holds_only_socket_folders(&entry.path())
            && !answers(&entry.path())
        {
            remove(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_id_is_twelve_lowercase_hex_digits() {
        assert!(is_run_id("d466dc412c67"));
    }

    /// One test per folder name that is not a run's, so a failure names it.
    macro_rules! not_a_run {
        ($($name:ident: $folder:expr;)+) => {
            $(
                #[test]
                fn $name() {
                    assert!(!is_run_id($folder), "{:?}", $folder);
                }
            )+
        };
    }

    not_a_run! {
        a_word_is_not_a_run: "reports";
        a_test_folder_is_not_a_run: "test-EmCkZ7";
        uppercase_hex_is_not_a_run: "D466DC412C67";
        eleven_digits_are_not_a_run: "d466dc412c6";
        an_empty_name_is_not_a_run: "";
    }

    #[test]
    fn only_folders_holding_only_socket_folders_are_ever_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sandbox-ea9c62")).expect("mkdir");
        assert!(holds_only_socket_folders(dir.path()));
        std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
        assert!(!holds_only_socket_folders(dir.path()));
    }
}
