//! The manifest: what a backup is and what it holds, written beside it. Its
//! table counts and fingerprints were taken inside the very snapshot that was
//! dumped, so a restore can be compared to it row for row.

use crate::engine::{EngineKind, TableFingerprint};
use crate::error::{Error, Result};
use crate::pipeline::{DumpFormat, Layer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const MANIFEST_VERSION: u32 = 1;
/// What a backup's name is followed by in its manifest's (`catalog::manifest_name`).
pub const SUFFIX: &str = ".manifest.json";
pub const FINGERPRINT_ALGORITHM: &str =
    "xxh3-128, wrapping sum over the rows of COPY TO STDOUT (text, UTC, ISO dates)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    /// `restore-drill X.Y.Z`
    pub created_by: String,
    /// When the dumped snapshot was taken (UTC).
    pub created_at: DateTime<Utc>,
    pub name: String,
    pub engine: EngineKind,
    pub server_version: String,
    pub dump: DumpInfo,
    pub compression: String,
    pub encryption: Encryption,
    pub artifact: Artifact,
    pub fingerprint_algorithm: String,
    pub tables: Vec<TableFingerprint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpInfo {
    pub format: DumpFormat,
    pub tool: String,
    /// Bytes of the dump before compression and encryption.
    pub bytes: u64,
    /// The fingerprints were taken in the snapshot the dump used.
    pub consistent_snapshot: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    pub scheme: String,
    /// Public keys only.
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub file: String,
    /// Outermost first.
    pub layers: Vec<Layer>,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read(path).map_err(|e| Error::io("read the manifest", path, e))?;
        Manifest::from_bytes(&text, &path.display().to_string())
    }

    /// A manifest's bytes, wherever they were read from (`named` in messages).
    pub fn from_bytes(text: &[u8], named: &str) -> Result<Manifest> {
        let probe: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
            Error::Failed(format!(
                "the manifest {named} is not valid JSON ({e}); it may be damaged"
            ))
        })?;
        let version = probe
            .get("manifest_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version != u64::from(MANIFEST_VERSION) {
            return Err(Error::Failed(format!(
                "the manifest {named} has version {version}; this restore-drill reads version {MANIFEST_VERSION}. \
                 Use a restore-drill that matches the one that wrote it"
            )));
        }
        serde_json::from_value(probe)
            .map_err(|e| Error::Failed(format!("the manifest {named} cannot be read: {e}")))
    }
}
