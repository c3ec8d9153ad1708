//! What a backup location holds: every file that could be a backup, with the
//! best evidence of its time, newest first. Manifests and temporaries are not
//! candidates; everything else is, so a README or a ransom note in the backup
//! share shows up as "not a backup" rather than being silently skipped.

use super::manifest::Manifest;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use crate::report::facts::TimeSource;

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
}

impl Candidate {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Candidates in `dir`, newest first (undated ones last, newest mtime first).
pub fn scan(dir: &Path, name_prefix: Option<&str>) -> Result<Vec<Candidate>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::Environment(format!(
            "cannot read the backup location {}: {e}. Check the path (--backups DIR)",
            dir.display()
        ))
    })?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".manifest.json") {
            continue;
        }
        if let Some(p) = name_prefix {
            if !name.starts_with(p) {
                continue;
            }
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let path = entry.path();
        let manifest_path = dir.join(super::manifest_name(&name));
        let (manifest, manifest_error, manifest_path) = if manifest_path.exists() {
            match Manifest::read(&manifest_path) {
                Ok(m) => (Some(m), None, Some(manifest_path)),
                Err(e) => (None, Some(e.to_string()), Some(manifest_path)),
            }
        } else {
            (None, None, None)
        };
        let (time, time_source) = match (&manifest, time_from_name(&name)) {
            (Some(m), _) => (Some(m.created_at), TimeSource::Manifest),
            (None, Some(t)) => (Some(t), TimeSource::FileName),
            (None, None) => (None, TimeSource::Unknown),
        };
        out.push(Candidate {
            path,
            bytes: meta.len(),
            time,
            time_source,
            manifest,
            manifest_path,
            manifest_error,
            modified: meta.modified().ok(),
        });
    }
    out.sort_by(|a, b| match (a.time, b.time) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.modified.cmp(&a.modified),
    });
    Ok(out)
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
}

pub fn describe(dir: &Path) -> Result<Vec<Listed>> {
    use std::io::Read;
    let mut out = Vec::new();
    for c in scan(dir, None)? {
        let mut head = Vec::new();
        if let Ok(f) = std::fs::File::open(&c.path) {
            let _ = f
                .take(crate::pipeline::sniff::SNIFF_LEN as u64)
                .read_to_end(&mut head);
        }
        let outer_layer = if head.is_empty() {
            "empty".to_string()
        } else {
            crate::pipeline::sniff::sniff(&head).to_string()
        };
        let sha256_matches = match &c.manifest {
            Some(m) => crate::pipeline::sha256_file(&c.path)
                .ok()
                .map(|(sha, bytes)| sha == m.artifact.sha256 && bytes == m.artifact.bytes),
            None => None,
        };
        out.push(Listed {
            file: c.file_name(),
            time: c.time,
            time_source: c.time_source,
            bytes: c.bytes,
            outer_layer,
            manifest: c.manifest_path.is_some(),
            sha256_matches,
        });
    }
    Ok(out)
}
