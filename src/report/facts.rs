//! The plain data that the modules which act (checks, the pipeline, the
//! catalog, the restore) hand to the report: defined here, below them, so the
//! report, and everything that reads a report back, depends on no module
//! that touches a database, a file or a container. The acting modules
//! re-export these under their old names (`checks::Status`,
//! `pipeline::Layer`, `restore::Delivery` ...).
//!
//! What a value says about itself (a layer's name, a delivery's one-line
//! description) lives with it; how one is chosen stays with the module
//! that chooses it.

use crate::redact::Redacted;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// Not run, by the scenario's choice.
    Skipped,
    /// The check itself is broken (invalid SQL in the scenario).
    Error,
    /// The evidence to decide is missing: not passed. A status this version
    /// does not know (a record from another version) reads back as this.
    #[serde(other)]
    Unknown,
}

/// The site of a run that named none (no `--site`, site file or scenario
/// `site`): said as such in the history and the evidence pack, rather than
/// a host name that reads like a clinic's.
pub const UNNAMED_SITE: &str = "site not named";

/// What a recorded run was. Evidence counts drills and rehearsals; an
/// operator error (the run stopped on its own input before a backup was
/// chosen: a mistyped key file, a `--backups` folder that does not exist)
/// says nothing about the backups, so it is listed but never counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// A restore drill of the real backups.
    #[default]
    Drill,
    /// A failure scenario, rehearsed on scratch copies.
    Rehearsal,
    /// Stopped on the operator's own input before a backup was chosen.
    OperatorError,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Drill => "drill",
            RunKind::Rehearsal => "rehearsal",
            RunKind::OperatorError => "operator-error",
        }
    }
}

/// Who a site file names: the clinic and the contractor who runs its
/// drills, as an underwriter would want to reach them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinic: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractor: Option<Party>,
}

/// An organisation and the person to ask there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// The organisation (for the clinic: its legal or trading name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The person responsible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Party {
    /// One line: `Northside IT, Jo Bloggs, jo@example.com, 555-0100`.
    pub fn line(&self) -> String {
        [&self.name, &self.person, &self.email, &self.phone]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The manifest comparison's name in every report: written by the checks
/// and read back by the evidence pack (that a restore was an exact copy), so
/// it is spelt once.
pub const MANIFEST_CHECK: &str = "manifest comparison";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub status: Status,
    pub detail: Redacted,
    pub seconds: f64,
}

impl Status {
    /// As the report writes it: `passed`, `failed`, `unknown` ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }

    /// Passed, or not run by the scenario's choice: nothing against the backup.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Passed | Status::Skipped)
    }
}

/// One layer of a backup file, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    Age,
    AgeArmored,
    Zstd,
    Gzip,
    Dump(DumpFormat),
}

/// What is left once encryption and compression are stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DumpFormat {
    /// `pg_dump -Fc`: restored with pg_restore.
    PostgresCustom,
    /// `pg_dump` plain SQL: restored with psql.
    PostgresSql,
    /// `mysqldump` / `mariadb-dump` SQL.
    MysqlSql,
    /// Nothing this tool can restore: random bytes, a text file, a tar archive.
    /// (No catch-all when read back: a manifest naming a format this version
    /// does not know must stay unreadable, not become this.)
    Unknown,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::Age => f.write_str("age"),
            Layer::AgeArmored => f.write_str("age (armored)"),
            Layer::Zstd => f.write_str("zstd"),
            Layer::Gzip => f.write_str("gzip"),
            Layer::Dump(d) => d.fmt(f),
        }
    }
}

impl std::fmt::Display for DumpFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DumpFormat::PostgresCustom => "pg_dump custom format",
            DumpFormat::PostgresSql => "PostgreSQL plain SQL",
            DumpFormat::MysqlSql => "MySQL/MariaDB SQL",
            DumpFormat::Unknown => "unknown data",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSource {
    /// The manifest's `created_at`: when the dumped snapshot was taken.
    Manifest,
    /// `NAME-YYYYMMDDTHHMMSSZ...` in the file name.
    FileName,
    /// Nothing trustworthy; the file's modification time orders it only.
    #[serde(other)]
    Unknown,
}

/// What a file in a backup location is when it is not a backup: skipped at
/// selection, not tried, and listed together in the report and the terminal.
/// A backup that ransomware encrypted is not one of these: it is tried, and
/// found unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotABackup {
    /// Text that opens as no dump: a ransom note, a README, a log.
    Note,
    /// A manifest without its backup beside it, or one renamed (encrypted
    /// by ransomware, `*.manifest.json.locked`).
    Manifest,
    /// Read back only: a kind this version does not know.
    #[serde(other)]
    Unknown,
}

impl NotABackup {
    /// `note` / `notes`, as the grouped line counts them.
    pub fn noun(self, count: usize) -> &'static str {
        match (self, count == 1) {
            (NotABackup::Note, true) => "note",
            (NotABackup::Note, false) => "notes",
            (NotABackup::Manifest, true) => "manifest",
            (NotABackup::Manifest, false) => "manifests",
            (NotABackup::Unknown, true) => "other file",
            (NotABackup::Unknown, false) => "other files",
        }
    }
}

/// How the dump reaches the database, chosen before the sandbox starts (its
/// memory depends on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Delivery {
    /// Decoded into the sandbox's memory (`staging_bytes` of tmpfs, on top of
    /// the database's memory), then restored by `pg_restore --jobs`: tables
    /// load and indexes build `jobs` at a time.
    Parallel { jobs: u32, staging_bytes: u64 },
    /// Streamed into the restore tool's stdin: one table, then one index, at a time.
    Stream { reason: StreamReason },
}

/// Why a restore went as one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum StreamReason {
    /// psql reads a plain SQL dump in order; only archives can be split.
    PlainSql,
    /// One CPU: nothing to run side by side.
    OneCpu,
    /// The dump's size is unknown (no manifest, and it could not be decoded
    /// to count it), so its staging area could not be sized.
    SizeUnknown,
    /// The dump and the database's memory do not fit in what the host has free.
    MemoryShort { needed: u64, available: u64 },
    /// The restore-killed simulation holds the stream so that the kill lands
    /// mid-restore, which a restore from a file cannot promise.
    Simulation,
    /// The caller asked for one stream (comparisons, `restore`, simulations).
    Requested,
}

impl Delivery {
    pub fn stream() -> Delivery {
        Delivery::Stream {
            reason: StreamReason::Requested,
        }
    }

    /// The sandbox's extra memory for the staging area.
    pub fn staging_bytes(&self) -> Option<u64> {
        match self {
            Delivery::Parallel { staging_bytes, .. } => Some(*staging_bytes),
            Delivery::Stream { .. } => None,
        }
    }

    /// One line for reports and the terminal.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Parallel {
                jobs,
                staging_bytes,
            } => format!(
                "decoded into {} MiB of the sandbox's memory, then pg_restore --jobs={jobs}",
                staging_bytes.div_ceil(1 << 20)
            ),
            Delivery::Stream { reason } => format!("one stream: {}", reason.describe()),
        }
    }
}

impl StreamReason {
    fn describe(&self) -> String {
        match self {
            StreamReason::PlainSql => "a plain SQL dump is read in order by psql".into(),
            StreamReason::OneCpu => "the sandbox has one CPU".into(),
            StreamReason::SizeUnknown => {
                "the dump's size is unknown, so no staging area could be sized for it".into()
            }
            StreamReason::MemoryShort { needed, available } => format!(
                "a parallel restore needs {} MiB of memory and this machine has {} MiB free",
                needed >> 20,
                available >> 20
            ),
            StreamReason::Simulation => {
                "the restore-killed simulation holds the stream to kill the server mid-restore"
                    .into()
            }
            StreamReason::Requested => "as asked".into(),
        }
    }
}

/// Where the restored data went, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "place", rename_all = "snake_case")]
pub enum DataPlace {
    /// A tmpfs of `bound_bytes` in the sandbox's memory (added to its limit).
    Memory { bound_bytes: u64 },
    /// The container's writable layer on the Docker host's disk: the bound
    /// and the sandbox's memory do not fit in what the host has free.
    Disk {
        bound_bytes: u64,
        needed: u64,
        available: u64,
    },
}

impl DataPlace {
    pub fn bound_bytes(&self) -> u64 {
        match self {
            DataPlace::Memory { bound_bytes } | DataPlace::Disk { bound_bytes, .. } => *bound_bytes,
        }
    }

    /// The tmpfs to mount for the data directory, when in memory.
    pub fn tmpfs_bytes(&self) -> Option<u64> {
        match self {
            DataPlace::Memory { bound_bytes } => Some(*bound_bytes),
            DataPlace::Disk { .. } => None,
        }
    }

    /// One line for the report's summary.
    pub fn describe(&self, seconds: Option<f64>) -> String {
        match self {
            DataPlace::Memory { bound_bytes } => format!(
                "restored data in the sandbox's memory (tmpfs of {} MiB), never on the host's disk",
                bound_bytes.div_ceil(1 << 20)
            ),
            DataPlace::Disk { bound_bytes, .. } => format!(
                "restored data on the Docker host's disk{} (bounded at {} MiB; too big for the memory free), removed at teardown",
                seconds.map(|s| format!(" for {s:.0} s")).unwrap_or_default(),
                bound_bytes.div_ceil(1 << 20)
            ),
        }
    }
}

/// Reads a value a newer or older version may have shaped differently (a
/// delivery or data place this version does not know) as absent: missing
/// evidence, never a guess.
pub(crate) fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}
