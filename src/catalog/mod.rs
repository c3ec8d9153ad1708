//! Backups at rest: file names, the manifest beside each backup, and writing
//! both so that a file under a final name is always complete.

pub mod atomic;
pub mod list;
pub mod manifest;

pub use manifest::Manifest;

use chrono::{DateTime, Utc};

/// `NAME-YYYYMMDDTHHMMSSZ.dump.zst.age`: sorts by time, says its layers.
pub fn artifact_name(name: &str, at: DateTime<Utc>) -> String {
    format!("{name}-{}.dump.zst.age", at.format("%Y%m%dT%H%M%SZ"))
}

/// The manifest sits beside its backup under the backup's name plus a suffix,
/// so hand-named backups can have one too.
pub fn manifest_name(artifact: &str) -> String {
    format!("{artifact}{}", manifest::SUFFIX)
}

/// A backup name must be a plain file-name stem: no path separators, no
/// leading dot (hidden files are where temporaries live).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains('/')
        || name.contains('\0')
        || name.len() > 100
    {
        return Err(format!(
            "invalid backup name {name:?}: use letters, digits, '-' or '_' (no '/', not starting with '.')"
        ));
    }
    Ok(())
}

/// A backup location the drill reads: a name for reports ("primary",
/// "offsite") and a folder.
#[derive(Debug, Clone)]
pub struct Location {
    pub name: String,
    pub path: std::path::PathBuf,
}
