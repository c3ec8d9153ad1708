//! The file as written: unknown keys refused, every choice a serde enum, each
//! value kept with its span so that later rules can point at it.

use super::source::{either, suggest};
use crate::engine::EngineKind;
use serde::de::value::StrDeserializer;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub name: String,
    pub description: Option<String>,
    pub site: Option<String>,
    pub backups: RawBackups,
    pub keys: Option<RawKeys>,
    pub target: Spanned<RawTarget>,
    pub objectives: Option<RawObjectives>,
    pub checks: Option<RawChecks>,
    pub report: Option<RawReport>,
    pub simulate: Option<RawSimulate>,
    pub expect: Option<RawOutcome>,
    pub notify: Option<Spanned<RawNotify>>,
    pub compare: Option<Spanned<RawCompare>>,
}

/// Before an upgrade: the same backup restored into several images, side by side.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCompare {
    pub targets: Spanned<Vec<String>>,
    pub queries: Option<Spanned<String>>,
    pub slower_than: Option<Spanned<f64>>,
    pub ignore_below_ms: Option<Spanned<f64>>,
    pub query_timeout_seconds: Option<Spanned<u64>>,
}

/// A site file: what differs from one practice to the next (its name, where
/// alerts go), kept out of the scenarios so that one scenario serves many.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSiteFile {
    pub site: Option<String>,
    pub clinic: Option<Spanned<RawParty>>,
    pub contractor: Option<Spanned<RawParty>>,
    pub notify: Option<Spanned<RawNotify>>,
}

/// `[clinic]` or `[contractor]` in a site file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParty {
    pub name: Option<String>,
    pub person: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Only the fault: which other keys `[simulate]` may hold depends on it, so
/// they are read in a second pass into the fault's own struct (see `fault`).
/// An internally tagged enum would do it in one pass but buffers the table,
/// and its errors lose the line of the offending key.
#[derive(Debug, Deserialize)]
pub(super) struct RawSimulate {
    #[serde(deserialize_with = "choice")]
    pub fault: Spanned<FaultName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum FaultName {
    CorruptBackup,
    TruncatedBackup,
    StaleBackups,
    LostKey,
    WrongKey,
    DiskFull,
    RestoreKilled,
    Ransomware,
    LostServer,
}

impl Choice for FaultName {
    const WHAT: &'static str = "fault";
}

impl FaultName {
    /// As written in the file (the same as `Fault::name`).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultName::CorruptBackup => "corrupt-backup",
            FaultName::TruncatedBackup => "truncated-backup",
            FaultName::StaleBackups => "stale-backups",
            FaultName::LostKey => "lost-key",
            FaultName::WrongKey => "wrong-key",
            FaultName::DiskFull => "disk-full",
            FaultName::RestoreKilled => "restore-killed",
            FaultName::Ransomware => "ransomware",
            FaultName::LostServer => "lost-server",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutcome {
    #[serde(default, deserialize_with = "some_choice")]
    pub verdict: Option<Spanned<RawVerdict>>,
    pub recovered_from: Option<String>,
    pub detection: Option<String>,
    pub decrypted_with: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawVerdict {
    Passed,
    Failed,
    Unrecoverable,
    /// The drill died of an infrastructure error (Docker, disk, permissions).
    Error,
}

impl Choice for RawVerdict {
    const WHAT: &'static str = "verdict";
}

impl RawVerdict {
    /// As written in the file and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RawVerdict::Passed => "passed",
            RawVerdict::Failed => "failed",
            RawVerdict::Unrecoverable => "unrecoverable",
            RawVerdict::Error => "error",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackups {
    pub location: Option<Spanned<String>>,
    pub offsite: Option<Spanned<String>>,
    /// The clinic server's account, whose reach over a folder location the
    /// drill measures.
    pub production_user: Option<Spanned<String>>,
    pub s3: Option<RawS3>,
    pub restic: Option<RawRestic>,
    pub fallback: Option<bool>,
    #[serde(default, deserialize_with = "some_choice")]
    pub select: Option<Spanned<RawSelect>>,
    pub before: Option<Spanned<String>>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawS3 {
    pub endpoint: Option<Spanned<String>>,
    pub region: Option<String>,
    pub credentials_file: Option<String>,
    pub production_credentials_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRestic {
    pub password_file: Option<String>,
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawSelect {
    Latest,
    LatestBefore,
}

impl Choice for RawSelect {
    const WHAT: &'static str = "select";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeys {
    pub identities: Option<Vec<String>>,
    pub passphrase_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    #[serde(default, deserialize_with = "some_choice")]
    pub engine: Option<Spanned<EngineKind>>,
    /// Absent in a comparison, whose images are `[compare] targets`.
    pub image: Option<Spanned<String>>,
    pub memory_mb: Option<u64>,
    pub cpus: Option<f64>,
    pub ready_timeout_seconds: Option<u64>,
    pub stall_timeout_seconds: Option<Spanned<u64>>,
    pub restore_timeout_minutes: Option<Spanned<u64>>,
    /// The most restored data the drill lets a backup become.
    pub max_restored_gb: Option<Spanned<f64>>,
    /// The database restored into and checked; for MariaDB also the one to
    /// check in a dump of several (`--databases`, `--all-databases`).
    pub database: Option<Spanned<String>>,
}

/// The engine's words are the engine module's own (`EngineKind`), so a new
/// engine is a word here with nothing written twice.
impl Choice for EngineKind {
    const WHAT: &'static str = "engine";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObjectives {
    pub rto_seconds: Option<f64>,
    pub rpo_hours: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecks {
    #[serde(default, deserialize_with = "some_choice")]
    pub manifest: Option<Spanned<RawManifest>>,
    pub foreign_keys: Option<bool>,
    /// "clinic" or a path: not a closed set of words.
    pub invariants: Option<Spanned<String>>,
    #[serde(default)]
    pub freshness: Vec<RawFreshness>,
    #[serde(default)]
    pub sql: Vec<RawSqlCheck>,
    pub timeout_seconds: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawManifest {
    Required,
    Deep,
    IfPresent,
    Off,
}

impl Choice for RawManifest {
    const WHAT: &'static str = "manifest policy";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFreshness {
    pub table: String,
    pub column: String,
    pub max_lag_hours: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSqlCheck {
    pub name: Spanned<String>,
    pub query: String,
    pub expect: Spanned<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    pub equals: Option<f64>,
    pub at_most: Option<f64>,
    pub at_least: Option<f64>,
    pub between: Option<[f64; 2]>,
    pub no_rows: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub dir: Option<String>,
    pub metrics: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    #[serde(default, deserialize_with = "some_choice")]
    pub on: Option<Spanned<RawNotifyOn>>,
    pub webhook: Option<Spanned<String>>,
    pub email: Option<Spanned<RawEmail>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawNotifyOn {
    Failure,
    Always,
}

impl Choice for RawNotifyOn {
    const WHAT: &'static str = "notify condition";
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub smtp: Spanned<String>,
    #[serde(default, deserialize_with = "some_choice")]
    pub tls: Option<Spanned<RawTls>>,
    pub from: Spanned<String>,
    pub to: Spanned<Vec<Spanned<String>>>,
    pub user: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    /// Read only to be refused at its line with the fix; its value is never
    /// kept, so no message or debug print can show it.
    pub password: Option<Spanned<IgnoredAny>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawTls {
    Starttls,
    Tls,
    None,
}

impl Choice for RawTls {
    const WHAT: &'static str = "tls mode";
}

// ---------- the keys of each fault ----------

/// Every fault's table holds `fault` itself, read in the first pass.
type FaultKey = IgnoredAny;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CorruptBackupKeys {
    #[serde(rename = "fault")]
    _fault: FaultKey,
    pub flips: Option<Spanned<u32>>,
    pub seed: Option<u64>,
}

/// truncated-backup and restore-killed: the same key, different ranges.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FractionKeys {
    #[serde(rename = "fault")]
    _fault: FaultKey,
    pub fraction: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StaleBackupsKeys {
    #[serde(rename = "fault")]
    _fault: FaultKey,
    pub days: Option<Spanned<f64>>,
}

/// lost-key, wrong-key, ransomware.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoKeys {
    #[serde(rename = "fault")]
    _fault: FaultKey,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DiskFullKeys {
    #[serde(rename = "fault")]
    _fault: FaultKey,
    pub tmpfs_mb: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LostServerKeys {
    #[serde(rename = "fault")]
    _fault: FaultKey,
    pub writes_per_second: Option<Spanned<u32>>,
    pub seconds_before_backup: Option<Spanned<f64>>,
    pub seconds_after_backup: Option<Spanned<f64>>,
}

// ---------- choices ----------

/// A key that takes one word of a closed set, the set being the variants of a
/// kebab-case serde enum (one place spells them).
pub(super) trait Choice: DeserializeOwned {
    /// What the key chooses, as messages name it.
    const WHAT: &'static str;
    /// Words accepted only to be refused with a better reason; not offered.
    const UNOFFERED: &'static [&'static str] = &[];
}

/// Reads a choice with its span. serde alone would say "unknown variant",
/// which means nothing to whoever keeps the clinic's backups: the message
/// names what the key chooses, the words it takes and the nearest one. The
/// toml deserializer puts the value's span on the error.
pub(super) fn choice<'de, D, T>(d: D) -> Result<Spanned<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Choice,
{
    let word = Spanned::<String>::deserialize(d)?;
    let span = word.span();
    match T::deserialize(StrDeserializer::<WordError>::new(word.get_ref())) {
        Ok(v) => Ok(Spanned::new(span, v)),
        Err(WordError::Unknown(words)) => {
            let offered: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !T::UNOFFERED.contains(w))
                .collect();
            Err(serde::de::Error::custom(format_args!(
                "unknown {} {:?}: use {}{}",
                T::WHAT,
                word.get_ref(),
                either(&offered),
                suggest(word.get_ref(), words)
            )))
        }
        Err(WordError::Other(msg)) => Err(serde::de::Error::custom(msg)),
    }
}

/// `choice` for an optional key (with `#[serde(default)]`: absent is None).
pub(super) fn some_choice<'de, D, T>(d: D) -> Result<Option<Spanned<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Choice,
{
    choice(d).map(Some)
}

/// Catches serde's list of variant names when a word is unknown, so that the
/// names are never written twice.
#[derive(Debug)]
enum WordError {
    Unknown(&'static [&'static str]),
    Other(String),
}

impl fmt::Display for WordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WordError::Unknown(words) => write!(f, "expected one of {words:?}"),
            WordError::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for WordError {}

impl serde::de::Error for WordError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        WordError::Other(msg.to_string())
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        WordError::Unknown(expected)
    }
}
