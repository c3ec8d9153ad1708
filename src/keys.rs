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

/// Creates a new age identity file (mode 600, never overwriting) and returns
/// its public key: what `age-keygen -o FILE` does, for machines without age.
pub fn generate_identity_file(path: &Path) -> Result<String> {
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Usage(format!(
                "{} already exists; not overwriting a key (a lost key is a lost backup). Choose another --out",
                path.display()
            )),
            _ => Error::io("create the key file", path, e),
        })?;
    let text = format!(
        "# created: {}\n# public key: {public}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_string().expose_secret()
    );
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io("write the key file", path, e))?;
    Ok(public)
}

/// The public keys of an identity file (`age-keygen -y`).
pub fn public_keys(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("read the key file", path, e))?;
    let keys: Vec<String> = text
        .lines()
        .filter_map(|l| age::x25519::Identity::from_str(l.trim()).ok())
        .map(|i| i.to_public().to_string())
        .collect();
    if keys.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no age X25519 identity (a line starting AGE-SECRET-KEY-1)",
            path.display()
        )));
    }
    Ok(keys)
}

/// A passphrase from an environment variable, for backups made with `age -p`.
/// The variable's name goes into reports, never its value.
pub fn passphrase_identity(var: &str) -> Result<IdentitySource> {
    let value = std::env::var(var).map_err(|_| {
        Error::Environment(format!(
            "the scenario takes the backup passphrase from ${var}, which is not set. Fix: export {var}=..."
        ))
    })?;
    Ok(IdentitySource {
        path: PathBuf::from(format!("${var}")),
        identities: vec![Box::new(age::scrypt::Identity::new(value.into()))],
    })
}
