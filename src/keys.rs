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
    /// The public keys (`age1...`) of its X25519 identities: what a message
    /// about a backup that would not open names beside the file (none for
    /// a passphrase or a plugin's identity).
    pub public: Vec<String>,
}

impl std::fmt::Debug for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySource")
            .field("path", &self.path)
            .field("identities", &self.identities.len())
            .field("public", &self.public)
            .finish()
    }
}

/// A secret's file read whole, refused when other users may read it: `what`
/// names it ("the SMTP password file"), `setting` where it is set, `harm`
/// what a reader of it could do.
pub fn read_private_file(path: &Path, what: &str, setting: &str, harm: &str) -> Result<String> {
    let unreadable = |e: std::io::Error| {
        Error::Environment(format!(
            "cannot read {what} {}: {e}. Check {setting}",
            path.display()
        ))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Environment(format!(
            "{what} {} is readable by other users (mode {mode:03o}); anyone who can read it {harm}. Fix: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    std::fs::read_to_string(path).map_err(unreadable)
}

/// Loads an age identity file (`age-keygen` output), refusing group- or
/// world-readable files, and a file of public keys given in its place.
pub fn load_identity_file(path: &Path) -> Result<IdentitySource> {
    let unreadable = |e: std::io::Error| {
        Error::Environment(format!(
            "cannot read the age identity file {}: {e}. Check the path given with --identity",
            path.display()
        ))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    // Before the mode: a public key file is usually readable by all, and
    // "chmod 600" would be the wrong fix for it.
    let text = std::fs::read_to_string(path).ok();
    if let Some(public) = text.as_deref().and_then(public_key_instead) {
        return Err(public_key_given(path, public));
    }
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
            "{} is not a usable age identity file: {e}. Make one with `restore-drill keys generate`",
            path.display()
        ))
    })?;
    if identities.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no age identity (expected a line starting AGE-SECRET-KEY-1). Make one with `restore-drill keys generate`",
            path.display()
        )));
    }
    Ok(IdentitySource {
        path: path.to_path_buf(),
        identities,
        public: text.as_deref().map(publics_of).unwrap_or_default(),
    })
}

/// The first public key (`age1...`) of a file that holds public keys and no
/// identity: the commonest mix-up, named as such rather than as age's
/// "non-identity data on line 1".
pub fn public_key_instead(text: &str) -> Option<&str> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    // AGE-SECRET-KEY-1... or AGE-PLUGIN-...: an identity is there.
    if lines
        .iter()
        .any(|l| l.to_ascii_uppercase().starts_with("AGE-"))
    {
        return None;
    }
    lines.iter().find(|l| l.starts_with("age1")).copied()
}

fn public_key_given(path: &Path, public: &str) -> Error {
    Error::Usage(format!(
        "{} holds a public key ({}), a recipient, not an identity: --identity takes the secret identity file made by `restore-drill keys generate` (a line starting AGE-SECRET-KEY-1), kept on this machine with mode 600. The public key is what backups are encrypted to (backup --recipient)",
        path.display(),
        abbreviate(public)
    ))
}

/// The public keys of the X25519 identities in an identity file's text.
fn publics_of(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| age::x25519::Identity::from_str(l.trim()).ok())
        .map(|i| i.to_public().to_string())
        .collect()
}

/// A public key as messages show it, `age1abcd…wxyz`: enough to tell keys
/// apart and to find the right file, short enough for a line.
pub fn abbreviate(public: &str) -> String {
    let chars: Vec<char> = public.trim().chars().collect();
    if chars.len() <= 16 {
        return chars.into_iter().collect();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// `a`, `a and b`, `a, b and c`.
pub fn listing(items: &[String]) -> String {
    match items {
        [] => "none".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
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
    let keys = publics_of(&text);
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
        public: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_is_told_from_an_identity() {
        let public = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        assert_eq!(
            public_key_instead(&format!("# public key\n{public}\n")),
            Some(public)
        );
        assert_eq!(
            public_key_instead("# public key: age1xyz\nAGE-SECRET-KEY-1ABC\n"),
            None
        );
        assert_eq!(public_key_instead("hello\n"), None);
        assert_eq!(abbreviate(public), "age1ql3z…ac8p");
    }

    #[test]
    fn lists_read_as_words() {
        let l = |v: &[&str]| listing(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["a"]), "a");
        assert_eq!(l(&["a", "b"]), "a and b");
        assert_eq!(l(&["a", "b", "c"]), "a, b and c");
    }
}
