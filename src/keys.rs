//! age keys: recipients a backup is encrypted to, identities that decrypt it.
//! A key file that others can read is refused: it is the one secret that opens
//! every patient record in every backup.

use crate::error::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One identity file, loaded, with where it came from (for reports: the path,
/// never the key).
pub struct IdentitySource {
    pub path: PathBuf,
    pub identities: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl std::fmt::Debug for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySource")
            .field("path", &self.path)
            .field("identities", &self.identities.len())
            .finish()
    }
}

/// Loads an age identity file (`age-keygen` output), refusing group- or
/// world-readable files.
pub fn load_identity_file(path: &Path) -> Result<IdentitySource> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::Environment(format!(
            "cannot read the age identity file {}: {e}. Check the path given with --identity",
            path.display()
        ))
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Environment(format!(
            "the age identity file {} is readable by other users (mode {mode:03o}); \
             anyone who can read it can decrypt every backup. Fix: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    let file = age::IdentityFile::from_file(path.to_string_lossy().into_owned()).map_err(|e| {
        Error::Environment(format!(
            "cannot read the age identity file {}: {e}",
            path.display()
        ))
    })?;
    let identities = file.into_identities().map_err(|e| {
        Error::Usage(format!(
            "{} is not a usable age identity file: {e}. Make one with age-keygen",
            path.display()
        ))
    })?;
    if identities.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no age identity (expected a line starting AGE-SECRET-KEY-1). Make one with age-keygen",
            path.display()
        )));
    }
    Ok(IdentitySource {
        path: path.to_path_buf(),
        identities,
    })
}

/// Parses `age1...` recipients; every one must be valid, so a typo can't silently
/// leave the escrow key out of a backup.
pub fn parse_recipients(keys: &[String]) -> Result<Vec<age::x25519::Recipient>> {
    if keys.is_empty() {
        return Err(Error::Usage(
            "at least one --recipient is needed: backups are always encrypted. \
             Make a key with age-keygen and pass its public key (age1...)"
                .into(),
        ));
    }
    keys.iter()
        .map(|k| {
            age::x25519::Recipient::from_str(k.trim()).map_err(|e| {
                Error::Usage(format!(
                    "invalid age recipient {:?}: {e}. A recipient is the public key age-keygen prints, \
                     starting with age1",
                    shorten(k)
                ))
            })
        })
        .collect()
}

/// Enough of a key to recognise it in an error, never a whole secret.
fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.to_ascii_uppercase().starts_with("AGE-SECRET-KEY") {
        return "AGE-SECRET-KEY-… (that is a secret key; pass the public key instead)".into();
    }
    if s.chars().count() > 24 {
        format!("{}…", s.chars().take(20).collect::<String>())
    } else {
        s.to_string()
    }
}
