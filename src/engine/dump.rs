//! A backup's dump, engine by engine: each engine's `dump.rs` takes its
//! snapshot, runs its dump tool and fingerprints the same data for the
//! manifest; `backup` (through a [`DumpSink`]) opens the file, layers it
//! (zstd, age), runs the tool where it runs (in the database's container or
//! on this host) and seals the file with its manifest.

use crate::error::Result;
use crate::pipeline::DumpFormat;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use std::time::Duration;
use tokio::sync::mpsc;

/// A dump tool, as it runs inside the database's container or on this host.
pub struct DumpTool {
    /// Its name, as its failures are told.
    pub name: &'static str,
    /// Inside the container: the command and its user (`None`: the
    /// container's own).
    pub in_container: Vec<String>,
    pub container_user: Option<&'static str>,
    /// On this host: the arguments after the program's name.
    pub local_args: Vec<String>,
    /// The password, handed in the environment (`ps` shows arguments to
    /// every user of the machine): the variable and its value.
    pub local_password: Option<(&'static str, String)>,
    /// How to install the tool when it is missing here.
    pub install_hint: &'static str,
}

/// Where a backup's dump goes: its file and the tool's runner.
pub trait DumpSink: Send + Sync {
    /// Opens the backup's temporary file, named by the backup's time, and
    /// its writer; the dump's bytes go to the returned sender.
    fn open(&self, created_at: DateTime<Utc>) -> Result<mpsc::Sender<Bytes>>;
    /// Waits for the writer, whatever the dump did; its error comes before
    /// the dump's (when the disk fills, the tool only sees its reader go away).
    fn written(&self) -> BoxFuture<'_, Result<()>>;
    /// Runs the dump tool where the backup runs it, its output to `tx`.
    fn run(&self, tool: DumpTool, tx: mpsc::Sender<Bytes>) -> BoxFuture<'_, Result<()>>;
}

/// What a dump took, for the manifest.
pub struct Dumped {
    pub created_at: DateTime<Utc>,
    pub server_version: String,
    pub format: DumpFormat,
    pub tool: &'static str,
    pub fingerprint_algorithm: &'static str,
    pub tables: Vec<crate::engine::TableFingerprint>,
    /// How long the clinic's commits were held while the snapshots started
    /// (`None`: the engine shares its snapshot and holds nothing).
    pub commits_held: Option<Duration>,
}

/// A URL's user or password part, decoded.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
