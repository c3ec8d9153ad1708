//! What a backup location holds: every file that could be a backup, with the
//! best evidence of its time, newest first. Hidden files (temporaries) and
//! the manifest beside each backup are not candidates. Files that are not
//! backups (a ransom note, a README, a manifest whose backup is gone or that
//! was renamed) are skipped as such and returned beside the candidates, so a
//! drill lists them in one line instead of trying each; anything else is a
//! candidate, so a backup that ransomware encrypted is tried and found
//! unusable, which is the finding.

use super::manifest::Manifest;
use crate::error::{Error, Result};
use crate::pipeline::sniff::{sniff, SNIFF_LEN};
use crate::pipeline::{DumpFormat, Layer};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use crate::report::facts::{NotABackup, TimeSource};

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub path: PathBuf,
    pub bytes: u64,
    pub time: Option<DateTime<Utc>>,
    pub time_source: TimeSource,
    #[serde(skip)]
    pub manifest: Option<Manifest>,
    pub manifest_path: Option<PathBuf>,
    /// A manifest that exists but cannot be read.
    pub manifest_error: Option<String>,
    #[serde(skip)]
    modified: Option<std::time::SystemTime>,
    /// Where its bytes are read from.
    #[serde(skip)]
    pub origin: super::origin::Origin,
}

impl Candidate {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What a location holds: its candidates, newest first, and the files
/// skipped as not backups.
#[derive(Debug, Default)]
pub struct Scanned {
    pub candidates: Vec<Candidate>,
    pub skipped: Vec<Skipped>,
}

/// A file skipped as not a backup.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub kind: NotABackup,
}

/// Candidates in `dir`, newest first (undated ones last, newest mtime first).
pub fn scan(dir: &Path, name_prefix: Option<&str>) -> Result<Vec<Candidate>> {
    Ok(scan_all(dir, name_prefix)?.candidates)
}

/// Candidates in `dir`, newest first, and the files that are not backups.
pub fn scan_all(dir: &Path, name_prefix: Option<&str>) -> Result<Scanned> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::Environment(format!(
            "cannot read the backup location {}: {e}. Check the path (--backups DIR)",
            dir.display()
        ))
    })?;
    let mut out = Scanned::default();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !in_view(&name, name_prefix) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let path = entry.path();
        let backup_beside = |artifact: &str| dir.join(artifact).is_file();
        match not_a_backup(&name, &head_of(&path), backup_beside) {
            Some(Verdict::PartOfABackup) => {}
            Some(Verdict::Skip(kind)) => out.skipped.push(Skipped { path, kind }),
            None => out.candidates.push(candidate(dir, &name, path, &meta)),
        }
    }
    newest_first(&mut out.candidates);
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Whether a name in a location is looked at: not hidden (temporaries, the
/// protection probe's scratch object) and with the scenario's name prefix.
pub fn in_view(name: &str, name_prefix: Option<&str>) -> bool {
    !name.starts_with('.') && name_prefix.is_none_or(|p| name.starts_with(p))
}

/// Dated ones first, newest first; undated ones by modification time.
fn newest_first(candidates: &mut [Candidate]) {
    candidates.sort_by(|a, b| match (a.time, b.time) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.modified.cmp(&a.modified),
    });
}

/// A file that could be a backup, with its manifest and its time.
fn candidate(dir: &Path, name: &str, path: PathBuf, meta: &std::fs::Metadata) -> Candidate {
    let manifest_path = dir.join(super::manifest_name(name));
    let (manifest, manifest_error, manifest_path) = if manifest_path.exists() {
        match Manifest::read(&manifest_path) {
            Ok(m) => (Some(m), None, Some(manifest_path)),
            Err(e) => (None, Some(e.to_string()), Some(manifest_path)),
        }
    } else {
        (None, None, None)
    };
    let (time, time_source) = match (&manifest, time_from_name(name)) {
        (Some(m), _) => (Some(m.created_at), TimeSource::Manifest),
        (None, Some(t)) => (Some(t), TimeSource::FileName),
        (None, None) => (None, TimeSource::Unknown),
    };
    let path_for_origin = path.clone();
    Candidate {
        path,
        bytes: meta.len(),
        time,
        time_source,
        manifest,
        manifest_path,
        manifest_error,
        modified: meta.modified().ok(),
        origin: super::origin::Origin::File(path_for_origin),
    }
}

/// An object or file of a remote location, as its listing gives it.
pub struct Listing {
    pub name: String,
    pub bytes: u64,
    pub modified: Option<DateTime<Utc>>,
    pub origin: super::origin::Origin,
}

/// The candidates among a remote location's listing, newest first, with
/// their manifests (read by `manifest_of`, one small read each). Nothing is
/// sniffed there: reading each object's first bytes would cost a request
/// apiece, so a note in a bucket is tried and found not a backup.
pub async fn remote_candidates<F, Fut>(
    listing: Vec<Listing>,
    where_: &str,
    manifest_of: F,
) -> Scanned
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Manifest>>,
{
    use futures_util::StreamExt;
    let names: std::collections::HashSet<String> = listing.iter().map(|l| l.name.clone()).collect();
    let mut out = Scanned::default();
    let mut backups = Vec::new();
    for l in listing {
        let beside = |artifact: &str| names.contains(artifact);
        match not_a_backup(&l.name, b"", beside) {
            Some(Verdict::PartOfABackup) => continue,
            Some(Verdict::Skip(kind)) => out.skipped.push(Skipped {
                path: format!("{where_}/{}", l.name).into(),
                kind,
            }),
            None => backups.push(l),
        }
    }
    // A few manifests read at once: each read is a request's round trip
    // (a bucket) or a restic call that derives the key first.
    let read = |l: Listing| {
        let manifest_name = super::manifest_name(&l.name);
        let read = names
            .contains(&manifest_name)
            .then(|| manifest_of(manifest_name.clone()));
        async move {
            let read = match read {
                Some(r) => Some(r.await),
                None => None,
            };
            remote_candidate(l, where_, &manifest_name, read)
        }
    };
    out.candidates = futures_util::stream::iter(backups.into_iter().map(read))
        .buffered(MANIFESTS_AT_ONCE)
        .collect()
        .await;
    newest_first(&mut out.candidates);
    out
}

/// How many manifests of a remote location are read at once.
const MANIFESTS_AT_ONCE: usize = 4;

fn remote_candidate(
    l: Listing,
    where_: &str,
    manifest_name: &str,
    read: Option<Result<Manifest>>,
) -> Candidate {
    let (manifest, manifest_error) = match read {
        Some(Ok(m)) => (Some(m), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let (time, time_source) = match (&manifest, time_from_name(&l.name)) {
        (Some(m), _) => (Some(m.created_at), TimeSource::Manifest),
        (None, Some(t)) => (Some(t), TimeSource::FileName),
        (None, None) => (None, TimeSource::Unknown),
    };
    Candidate {
        path: format!("{where_}/{}", l.name).into(),
        bytes: l.bytes,
        time,
        time_source,
        manifest_path: (manifest.is_some() || manifest_error.is_some())
            .then(|| format!("{where_}/{manifest_name}").into()),
        manifest,
        manifest_error,
        modified: l.modified.map(std::time::SystemTime::from),
        origin: l.origin,
    }
}

/// Enough of a file's start to sniff it and to tell text from binary.
const HEAD_LEN: usize = 512;

fn head_of(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(HEAD_LEN as u64).read_to_end(&mut head);
    }
    head
}

/// Why a file is not a candidate.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// The manifest beside its backup: read with the backup.
    PartOfABackup,
    /// Not a backup at all.
    Skip(NotABackup),
}

/// Whether a file is not a backup: a manifest by its name (whether its
/// backup is beside it decides whether it belongs to one), a note by its
/// first bytes (text that the sniffer knows as no dump). None: a candidate,
/// whatever its bytes, so a damaged or encrypted backup is tried.
fn not_a_backup(name: &str, head: &[u8], backup_beside: impl Fn(&str) -> bool) -> Option<Verdict> {
    if let Some(artifact) = name.strip_suffix(super::manifest::SUFFIX) {
        return Some(match backup_beside(artifact) {
            true => Verdict::PartOfABackup,
            false => Verdict::Skip(NotABackup::Manifest),
        });
    }
    if name.contains(super::manifest::SUFFIX) {
        return Some(Verdict::Skip(NotABackup::Manifest));
    }
    let sniffed = sniff(&head[..head.len().min(SNIFF_LEN)]);
    (sniffed == Layer::Dump(DumpFormat::Unknown) && is_text(head))
        .then_some(Verdict::Skip(NotABackup::Note))
}

/// Printable text (UTF-8, cut anywhere): no backup layer or binary dump is.
fn is_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A character cut by the end of the head is still text.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(t) => t,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !text.trim().is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

/// The `YYYYMMDDTHHMMSSZ` stamp restore-drill puts in names (UTC).
pub fn time_from_name(name: &str) -> Option<DateTime<Utc>> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(15)).find_map(|i| {
        let s = name.get(i..i + 16)?;
        if s.as_bytes()[8] != b'T' || s.as_bytes()[15] != b'Z' {
            return None;
        }
        NaiveDateTime::parse_from_str(&s[..15], "%Y%m%dT%H%M%S")
            .ok()
            .map(|t| t.and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Manifests are read a few at once, never more, each paired with its
    /// own backup.
    #[tokio::test]
    async fn remote_manifests_are_read_four_at_once_each_with_its_backup() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listing: Vec<Listing> = (0..10)
            .flat_map(|i| {
                [
                    format!("c{i}.dump.zst.age"),
                    format!("c{i}.dump.zst.age.manifest.json"),
                ]
            })
            .map(|name| Listing {
                origin: super::super::origin::Origin::File(PathBuf::from(&name)),
                name,
                bytes: 1,
                modified: None,
            })
            .collect();
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let read = |name: String| {
            let (now, most) = (&now, &most);
            async move {
                most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Err(crate::error::Error::Failed(format!("read {name}")))
            }
        };
        let scanned = remote_candidates(listing, "s3://b", read).await;
        assert_eq!(scanned.candidates.len(), 10);
        for c in &scanned.candidates {
            let name = c.path.file_name().expect("a name").to_string_lossy();
            let said = c.manifest_error.as_deref().unwrap_or_default();
            assert!(
                said.ends_with(&format!("read {name}.manifest.json")),
                "{said}"
            );
        }
        assert_eq!(most.load(Ordering::SeqCst), MANIFESTS_AT_ONCE);
    }

    #[test]
    fn notes_and_stray_manifests_are_not_backups_and_encrypted_backups_are() {
        let none = |_: &str| false;
        let note = b"All your files are encrypted. Pay 2 BTC.\n";
        assert_eq!(
            not_a_backup("README-RESTORE-YOUR-FILES.txt", note, none),
            Some(Verdict::Skip(NotABackup::Note))
        );
        // A backup that ransomware encrypted: random bytes, tried as a candidate.
        let random: Vec<u8> = (0..512u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(
            not_a_backup("clinic-x.dump.zst.age.locked", &random, none),
            None
        );
        assert_eq!(
            not_a_backup("clinic-x.dump.zst.age.manifest.json.locked", &random, none),
            Some(Verdict::Skip(NotABackup::Manifest))
        );
        assert_eq!(
            not_a_backup("clinic-x.dump.zst.age.manifest.json", b"{}", none),
            Some(Verdict::Skip(NotABackup::Manifest))
        );
        assert_eq!(
            not_a_backup("clinic-x.dump.zst.age.manifest.json", b"{}", |_| true),
            Some(Verdict::PartOfABackup)
        );
        // Dumps that are text are backups, and so is an empty file (found empty).
        let sql = b"--\n-- PostgreSQL database dump\n--\n";
        assert_eq!(not_a_backup("clinic.sql", sql, none), None);
        assert_eq!(not_a_backup("clinic.sql", b"", none), None);
        assert_eq!(
            not_a_backup("x.age", b"age-encryption.org/v1\n-> X25519", none),
            None
        );
    }

    #[test]
    fn reads_our_time_stamp_from_names() {
        let t = time_from_name("clinic-20261129T020304Z.dump.zst.age").expect("stamp");
        assert_eq!(t.to_rfc3339(), "2026-11-29T02:03:04+00:00");
        assert_eq!(time_from_name("clinic.dump"), None);
        assert_eq!(time_from_name("x-20261329T020304Z"), None);
    }
}

/// One line of `restore-drill list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub file: String,
    pub time: Option<DateTime<Utc>>,
    pub time_source: TimeSource,
    pub bytes: u64,
    /// What the first bytes say, without a key (`age`, `zstd`, ...).
    pub outer_layer: String,
    pub manifest: bool,
    /// Whether the file's SHA-256 equals its manifest's (None: no readable manifest).
    pub sha256_matches: Option<bool>,
    /// Set for a file skipped as not a backup (a note, a stray manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_a_backup: Option<NotABackup>,
}

/// Every backup in `dir`, then the files skipped as not backups, as
/// `restore-drill list` shows them.
pub fn describe(dir: &Path) -> Result<Vec<Listed>> {
    let scanned = scan_all(dir, None)?;
    let mut out: Vec<Listed> = scanned.candidates.iter().map(listed).collect();
    out.extend(scanned.skipped.iter().map(|s| {
        Listed {
            file: s
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            time: None,
            time_source: TimeSource::Unknown,
            bytes: std::fs::metadata(&s.path).map(|m| m.len()).unwrap_or(0),
            outer_layer: outer_layer(&s.path),
            manifest: false,
            sha256_matches: None,
            not_a_backup: Some(s.kind),
        }
    }));
    Ok(out)
}

fn listed(c: &Candidate) -> Listed {
    let sha256_matches = match &c.manifest {
        Some(m) => crate::pipeline::sha256_file(&c.path)
            .ok()
            .map(|(sha, bytes)| sha == m.artifact.sha256 && bytes == m.artifact.bytes),
        None => None,
    };
    Listed {
        file: c.file_name(),
        time: c.time,
        time_source: c.time_source,
        bytes: c.bytes,
        outer_layer: outer_layer(&c.path),
        manifest: c.manifest_path.is_some(),
        sha256_matches,
        not_a_backup: None,
    }
}

/// What the first bytes say, without a key (`age`, `zstd`, ...).
fn outer_layer(path: &Path) -> String {
    let head = head_of(path);
    if head.is_empty() {
        "empty".to_string()
    } else {
        sniff(&head[..head.len().min(SNIFF_LEN)]).to_string()
    }
}
