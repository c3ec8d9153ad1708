//! The folders the scheduled service does not share with the machine. The
//! unit sets `PrivateTmp=yes`: systemd gives the service its own empty /tmp
//! and /var/tmp, and removes them when the run ends. A scenario there is not
//! seen by the service; a history, report or metrics file written there is
//! gone before anyone reads it.

use std::path::{Component, Path, PathBuf};

/// A temporary folder that is private to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateFolder {
    Tmp,
    VarTmp,
}

impl PrivateFolder {
    pub fn path(self) -> &'static str {
        match self {
            PrivateFolder::Tmp => "/tmp",
            PrivateFolder::VarTmp => "/var/tmp",
        }
    }

    /// Why the service does not share it, for the refusal.
    pub fn why(self) -> &'static str {
        match self {
            PrivateFolder::Tmp => {
                "the scheduled service runs with PrivateTmp=yes, which gives it a private /tmp of its own"
            }
            // PrivateTmp= covers /var/tmp too, though its name does not say so.
            PrivateFolder::VarTmp => {
                "the scheduled service runs with PrivateTmp=yes, which gives it its own /tmp and its own /var/tmp"
            }
        }
    }
}

/// The private folder an absolute, resolved path lies in, if any.
pub fn folder_of(abs: &Path) -> Option<PrivateFolder> {
    [PrivateFolder::VarTmp, PrivateFolder::Tmp]
        .into_iter()
        .find(|f| abs.starts_with(f.path()))
}

/// `abs` as the service would reach it: its longest existing part with
/// links and `..` resolved, then the part still to be made, so a link into
/// /tmp or a `/srv/../tmp` is seen for what it is.
pub fn resolved(abs: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut base = abs;
    loop {
        if let Ok(real) = base.canonicalize() {
            return rest.iter().rev().fold(real, |mut p, c: &Component| {
                match c {
                    Component::ParentDir => {
                        p.pop();
                    }
                    Component::Normal(n) => p.push(n),
                    _ => {}
                }
                p
            });
        }
        match (base.parent(), base.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                base = parent;
            }
            _ => return abs.to_path_buf(),
        }
    }
}

/// Something the scheduled drill writes, named by its flag in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    History,
    Reports,
    Metrics,
}

impl Written {
    pub fn flag(self) -> &'static str {
        match self {
            Written::History => "--history",
            Written::Reports => "--report-dir",
            Written::Metrics => "--metrics",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Written::History => "the drill history",
            Written::Reports => "every report",
            Written::Metrics => "the metrics file",
        }
    }

    /// What leaving the flag out gives.
    pub fn default_text(self) -> &'static str {
        match self {
            Written::History => "the state folder's history",
            Written::Reports => "`reports` beside the history",
            Written::Metrics => "no metrics file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_and_var_tmp_are_private_and_their_look_alikes_are_not() {
        for (path, want) in [
            ("/tmp", Some(PrivateFolder::Tmp)),
            ("/tmp/drill/history.sqlite", Some(PrivateFolder::Tmp)),
            ("/var/tmp/reports", Some(PrivateFolder::VarTmp)),
            ("/tmpfs/reports", None),
            ("/var/tmpx/reports", None),
            ("/var/lib/restore-drill/reports", None),
            ("/srv/tmp/reports", None),
        ] {
            assert_eq!(folder_of(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn a_path_through_dot_dot_or_a_link_is_judged_where_it_leads() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The temporary folder may itself be under /tmp: compare with where
        // it really is.
        let real = dir.path().canonicalize().expect("canonical");
        let link = real.join("link");
        std::os::unix::fs::symlink("/var/tmp", &link).expect("symlink");
        assert_eq!(
            resolved(&link.join("new/history.sqlite")),
            Path::new("/var/tmp/new/history.sqlite")
        );
        assert_eq!(
            resolved(&real.join("a/../b/reports")),
            real.join("b/reports")
        );
        assert_eq!(
            resolved(Path::new("/srv/../tmp/x")),
            Path::new("/tmp/x"),
            "/srv may not exist: resolved from the root up"
        );
    }
}
