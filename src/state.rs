//! Where restore-drill keeps what outlives a run when no flag or scenario
//! says otherwise: the drill history and the reports, side by side in one
//! state folder, so a scenario copied anywhere (a checkout, /etc) never
//! writes next to itself.

#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

/// `/var/lib/restore-drill` as root; otherwise `$XDG_STATE_HOME/restore-drill`
/// (an absolute one only, as the XDG specification asks), else
/// `~/.local/state/restore-drill`.
pub fn dir() -> PathBuf {
    if nix::unistd::Uid::effective().is_root() {
        return PathBuf::from("/var/lib/restore-drill");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    state.join("restore-drill")
}

/// The reports' folder when neither `--report-dir` nor `[report] dir` names one.
pub fn reports_dir() -> PathBuf {
    dir().join("reports")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_go_beside_the_history_in_the_state_folder() {
        assert_eq!(reports_dir().parent(), Some(dir().as_path()));
        assert_eq!(
            crate::ledger::default_path().parent(),
            Some(dir().as_path())
        );
        if nix::unistd::Uid::effective().is_root() {
            assert_eq!(reports_dir(), Path::new("/var/lib/restore-drill/reports"));
        }
    }
}
