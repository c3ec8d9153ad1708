//! Signing evidence packs with minisign, in the standard format: an auditor
//! checks a pack with the stock `minisign -V -p KEY.pub -m FILE`, without
//! restore-drill and without trusting the machine that made it.

use crate::catalog::atomic::write_file;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::Cursor;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The command that makes a signing key, named in every error about one.
const GENERATE_COMMAND: &str = "restore-drill keys generate-signing --out FILE";

const SECRET_COMMENT: &str =
    "restore-drill evidence signing key (secret, no password: protect it by file mode 0600)";

const SIGNATURE_COMMENT: &str = "signature from a restore-drill evidence signing key";

/// The variable that holds a password-protected signing key's passphrase.
pub const PASSPHRASE_ENV: &str = "RESTORE_DRILL_SIGNING_PASSPHRASE";

/// An encrypted minisign secret key's base64 starts with "Ed" then the KDF
/// name "Sc" (scrypt); an unencrypted one has two zero bytes there. The first
/// four base64 characters encode "EdS" for encrypted keys.
const ENCRYPTED_KEY_PREFIX: &str = "RWRT";

/// A loaded secret key, ready to sign packs.
pub struct SigningKey {
    secret: minisign::SecretKey,
    public: minisign::PublicKey,
}

/// A minisign public key, as auditors receive it in `KEY.pub`.
pub struct PublicKey(minisign::PublicKey);

impl PublicKey {
    /// The key id minisign prints (16 upper-case hex digits).
    pub fn key_id(&self) -> String {
        key_id(self.0.keynum())
    }
}

/// Makes a minisign key pair: the secret key at `out` (mode 0600) and the
/// public key at `out.pub`.
///
/// The secret key has **no password**: packs are signed by unattended,
/// scheduled drills, and nobody is there to type one. The key is protected by
/// its file mode alone, so `load_secret` refuses it once group or others can
/// read it. Never overwrites: an existing key may already vouch for packs an
/// auditor holds.
pub fn generate(out: &Path) -> Result<(PathBuf, PathBuf)> {
    let pub_path = public_path(out);
    for path in [out, pub_path.as_path()] {
        if path.symlink_metadata().is_ok() {
            return Err(Error::Usage(format!(
                "{} already exists; not overwriting a signing key (packs it signed would no longer verify against a new one). Choose another --out, or remove it yourself if you are sure",
                path.display()
            )));
        }
    }
    let (dir, name) = split(out)?;
    let (_, pub_name) = split(&pub_path)?;
    let pair = minisign::KeyPair::generate_unencrypted_keypair()
        .map_err(|e| Error::Failed(format!("cannot generate a signing key: {e}")))?;
    let secret_box = pair
        .sk
        .to_box(Some(SECRET_COMMENT))
        .map_err(|e| Error::Failed(format!("cannot encode the signing key: {e}")))?;
    let public_text = format!(
        "untrusted comment: restore-drill evidence signing public key {}\n{}\n",
        key_id(pair.pk.keynum()),
        pair.pk.to_base64()
    );
    // Public first: if the secret key then fails to write, nothing can sign
    // with a key whose public half is missing.
    let pub_written = write_file(dir, &pub_name, public_text.as_bytes())?;
    // The public key is meant to be handed out; the atomic writer made it 0600.
    let _ = std::fs::set_permissions(&pub_written, std::fs::Permissions::from_mode(0o644));
    let secret_written = write_file(dir, &name, secret_box.to_string().as_bytes())?;
    Ok((secret_written, pub_written))
}

/// Loads a minisign secret key (password-less, or protected with the
/// passphrase in `PASSPHRASE_ENV`), refusing one others can read.
pub fn load_secret(path: &Path) -> Result<SigningKey> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Environment(format!(
            "signing key {} does not exist. Make one with `{GENERATE_COMMAND}`",
            path.display()
        )),
        _ => Error::io("read the signing key", path, e),
    })?;
    if meta.mode() & 0o077 != 0 {
        return Err(Error::Environment(format!(
            "signing key {} is readable or writable by group or others (mode {:o}); anyone who can read it can forge evidence. Fix: chmod 600 {}",
            path.display(),
            meta.mode() & 0o777,
            path.display()
        )));
    }
    let text = std::fs::read(path).map_err(|e| Error::io("read the signing key", path, e))?;
    let text = String::from_utf8(text).map_err(|_| not_a_secret_key(path, "it is not text"))?;
    parse_secret(path, &text)
}

fn parse_secret(path: &Path, text: &str) -> Result<SigningKey> {
    let mut lines = text.lines();
    let comment = lines.next().unwrap_or_default();
    let encoded = lines.next().unwrap_or_default().trim();
    if !comment.starts_with("untrusted comment:") {
        return Err(not_a_secret_key(path, &describe_foreign(comment)));
    }
    if encoded.starts_with(ENCRYPTED_KEY_PREFIX) {
        return decrypt_secret(path, text);
    }
    let secret = minisign::SecretKeyBox::from_string(text)
        .and_then(|b| b.into_unencrypted_secret_key())
        .map_err(|_| {
            not_a_secret_key(
                path,
                "it looks like a minisign public key or a damaged file",
            )
        })?;
    let public = minisign::PublicKey::from_secret_key(&secret)
        .map_err(|_| not_a_secret_key(path, "its key material is damaged"))?;
    Ok(SigningKey { secret, public })
}

/// A password-protected key in minisign's own format (scrypt, as `minisign
/// -G` writes it), opened with the passphrase from `PASSPHRASE_ENV`: never
/// from a prompt, since packs are made by scheduled drills too.
fn decrypt_secret(path: &Path, text: &str) -> Result<SigningKey> {
    let passphrase = std::env::var(PASSPHRASE_ENV).map_err(|_| {
        Error::Environment(format!(
            "{} is a password-protected minisign key and ${PASSPHRASE_ENV} is not set. Fix: export {PASSPHRASE_ENV}=... (for a scheduled drill, in the service's environment, e.g. an EnvironmentFile= of mode 600)",
            path.display()
        ))
    })?;
    // Some(..) always: with None the minisign crate would prompt on the terminal.
    let secret = minisign::SecretKeyBox::from_string(text)
        .and_then(|b| b.into_secret_key(Some(passphrase)))
        .map_err(|e| {
            Error::Environment(format!(
                "cannot open the password-protected signing key {} with the passphrase in ${PASSPHRASE_ENV} ({e}): check the passphrase",
                path.display()
            ))
        })?;
    let public = minisign::PublicKey::from_secret_key(&secret)
        .map_err(|_| not_a_secret_key(path, "its key material is damaged"))?;
    Ok(SigningKey { secret, public })
}

/// Names what was given instead, when recognisable, to make the mistake obvious.
fn describe_foreign(first_line: &str) -> String {
    if first_line.trim_start().starts_with("AGE-SECRET-KEY-") || first_line.starts_with("# created")
    {
        "it is an age encryption key, not a signing key".into()
    } else if first_line.starts_with("age1") {
        "it is an age public key, not a signing key".into()
    } else {
        "it does not start with minisign's `untrusted comment:` line".into()
    }
}

fn not_a_secret_key(path: &Path, why: &str) -> Error {
    Error::Usage(format!(
        "{} is not a minisign secret key ({why}). Expected the secret half of a minisign key pair; make one with `{GENERATE_COMMAND}`",
        path.display()
    ))
}

/// Signs `file`, writing `FILE.minisig` beside it; returns that path.
/// `trusted_comment` is signed too and shown by `minisign -V`; line breaks
/// are replaced by spaces since the format holds one line.
pub fn sign_file(key: &SigningKey, file: &Path, trusted_comment: &str) -> Result<PathBuf> {
    let data = File::open(file).map_err(|e| Error::io("read the file to sign", file, e))?;
    let comment = trusted_comment.replace(['\r', '\n'], " ");
    let sig = minisign::sign(
        Some(&key.public),
        &key.secret,
        data,
        Some(&comment),
        Some(SIGNATURE_COMMENT),
    )
    .map_err(|e| Error::Failed(format!("cannot sign {}: {e}", file.display())))?;
    let sig_path = signature_path(file);
    let (dir, name) = split(&sig_path)?;
    write_file(dir, &name, sig.to_string().as_bytes())
}

/// Loads a minisign public key file (`KEY.pub`).
pub fn load_public(path: &Path) -> Result<PublicKey> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Environment(format!(
            "public key {} does not exist; it is written beside the signing key as KEY.pub",
            path.display()
        )),
        _ => Error::io("read the public key", path, e),
    })?;
    minisign::PublicKey::from_box(minisign::PublicKeyBox::from(text))
        .map(PublicKey)
        .map_err(|e| {
            Error::Usage(format!(
                "{} is not a minisign public key ({e}); expected the KEY.pub file written by `{GENERATE_COMMAND}`",
                path.display()
            ))
        })
}

/// Checks `FILE.minisig` against `file` and `pk`.
pub fn verify_file(pk: &PublicKey, file: &Path) -> Result<(), Error> {
    let sig_path = signature_path(file);
    let sig_text = std::fs::read_to_string(&sig_path).map_err(|e| {
        Error::Failed(format!(
            "{} has no readable signature {} ({e}); it cannot be trusted as evidence",
            file.display(),
            sig_path.display()
        ))
    })?;
    let sig = minisign::SignatureBox::from_string(&sig_text).map_err(|e| {
        Error::Failed(format!(
            "{} is not a minisign signature ({e}); {} cannot be trusted as evidence",
            sig_path.display(),
            file.display()
        ))
    })?;
    let data = std::fs::read(file).map_err(|e| Error::io("read the signed file", file, e))?;
    minisign::verify(&pk.0, &sig, Cursor::new(data), true, false, false).map_err(|e| {
        Error::Failed(format!(
            "{} does not match its signature {} for key {} ({e}): it was changed after signing or signed with another key",
            file.display(),
            sig_path.display(),
            pk.key_id()
        ))
    })
}

/// `KEY` → `KEY.pub`, keeping the directory.
fn public_path(out: &Path) -> PathBuf {
    append(out, ".pub")
}

/// `FILE` → `FILE.minisig`, the name the minisign tool looks for.
fn signature_path(file: &Path) -> PathBuf {
    append(file, minisign::SIG_SUFFIX)
}

fn append(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Splits a path into the directory and file name the atomic writer takes.
fn split(path: &Path) -> Result<(&Path, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Usage(format!("{} is not a file name", path.display())))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name.to_string()))
}

fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    for (b, k) in bytes.iter_mut().zip(keynum) {
        *b = *k;
    }
    format!("{:016X}", u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn fresh_key(dir: &Path) -> (PathBuf, PathBuf) {
        generate(&dir.join("evidence.key")).expect("should succeed")
    }

    #[test]
    fn generate_sign_verify() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sk, pk) = fresh_key(dir.path());
        assert_eq!(pk, dir.path().join("evidence.key.pub"));
        let mode = std::fs::metadata(&sk).expect("should succeed").mode() & 0o777;
        assert_eq!(mode, 0o600);
        let file =
            write_file(dir.path(), "pack.pdf", b"%PDF-1.7 evidence").expect("should succeed");
        let key = load_secret(&sk).expect("should succeed");
        let sig =
            sign_file(&key, &file, "restore-drill pack\nsecond line").expect("should succeed");
        assert_eq!(sig, dir.path().join("pack.pdf.minisig"));
        let text = std::fs::read_to_string(&sig).expect("should succeed");
        assert!(text.contains("trusted comment: restore-drill pack second line"));
        verify_file(&load_public(&pk).expect("should succeed"), &file).expect("should succeed");
    }

    #[test]
    fn one_changed_byte_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sk, pk) = fresh_key(dir.path());
        let file = write_file(dir.path(), "pack.json", b"{\"runs\": 14}").expect("should succeed");
        sign_file(&load_secret(&sk).expect("should succeed"), &file, "t").expect("should succeed");
        std::fs::write(&file, b"{\"runs\": 15}").expect("should succeed");
        let err = verify_file(&load_public(&pk).expect("should succeed"), &file)
            .expect_err("should fail");
        assert_eq!(err.kind(), ErrorKind::Failed);
        assert!(err.to_string().contains("pack.json"));
    }

    #[test]
    fn missing_signature_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, pk) = fresh_key(dir.path());
        let file = write_file(dir.path(), "pack.html", b"<html>").expect("should succeed");
        let err = verify_file(&load_public(&pk).expect("should succeed"), &file)
            .expect_err("should fail");
        assert_eq!(err.kind(), ErrorKind::Failed);
    }

    #[test]
    fn existing_key_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sk, pk) = fresh_key(dir.path());
        let before = std::fs::read(&sk).expect("should succeed");
        let err = generate(&sk).expect_err("should fail");
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert_eq!(std::fs::read(&sk).expect("should succeed"), before);
        // Only the public half left behind: still refused.
        std::fs::remove_file(&sk).expect("should succeed");
        assert_eq!(
            generate(&sk).expect_err("should fail").kind(),
            ErrorKind::Usage
        );
        assert!(!sk.exists() && pk.exists());
    }

    #[test]
    fn loose_mode_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sk, _) = fresh_key(dir.path());
        std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o640))
            .expect("should succeed");
        let err = load_secret(&sk).err().expect("should be refused");
        assert_eq!(err.kind(), ErrorKind::Environment);
        assert!(err.to_string().contains("chmod 600"));
        assert!(err.to_string().contains("forge"));
    }

    #[test]
    fn missing_key_is_environment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = load_secret(&dir.path().join("nope.key"))
            .err()
            .expect("should be refused");
        assert_eq!(err.kind(), ErrorKind::Environment);
        assert!(err.to_string().contains("nope.key"));
    }

    #[test]
    fn age_key_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = "# created: 2025-01-01T00:00:00Z\n# public key: age1qqq\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n";
        let path = write_file(dir.path(), "age.key", text.as_bytes()).expect("should succeed");
        let err = load_secret(&path).err().expect("should be refused");
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert!(err.to_string().contains("age"));
        assert!(err.to_string().contains("generate-signing"));
    }

    #[test]
    fn public_key_as_secret_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, pk) = fresh_key(dir.path());
        std::fs::set_permissions(&pk, std::fs::Permissions::from_mode(0o600))
            .expect("should succeed");
        let err = load_secret(&pk).err().expect("should be refused");
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert!(err.to_string().contains("not a minisign secret key"));
    }

    /// One test for the three cases: the variable is process-wide, and tests
    /// run on threads of one process.
    #[test]
    fn an_encrypted_key_opens_with_the_passphrase_from_its_variable_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pair = minisign::KeyPair::generate_encrypted_keypair(Some("s3cret pass".into()))
            .expect("should succeed");
        let text = pair.sk.to_box(None).expect("should succeed").to_string();
        let path = write_file(dir.path(), "enc.key", text.as_bytes()).expect("should succeed");
        std::env::remove_var(PASSPHRASE_ENV);
        let err = load_secret(&path).err().expect("should be refused");
        assert_eq!(err.kind(), ErrorKind::Environment);
        assert!(
            err.to_string()
                .contains("RESTORE_DRILL_SIGNING_PASSPHRASE is not set"),
            "{err}"
        );
        std::env::set_var(PASSPHRASE_ENV, "not-the-passphrase-x9");
        let err = load_secret(&path).err().expect("should be refused");
        assert_eq!(err.kind(), ErrorKind::Environment);
        assert!(err.to_string().contains("check the passphrase"), "{err}");
        assert!(
            !err.to_string().contains("x9"),
            "the passphrase is never said: {err}"
        );
        std::env::set_var(PASSPHRASE_ENV, "s3cret pass");
        let key = load_secret(&path).expect("opens");
        std::env::remove_var(PASSPHRASE_ENV);
        let file = write_file(dir.path(), "pack.json", b"{}").expect("should succeed");
        sign_file(&key, &file, "t").expect("signs");
        verify_file(&PublicKey(pair.pk), &file).expect("verifies");
    }
}
