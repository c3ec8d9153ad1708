//! Scenario files: TOML as written (`raw`: unknown keys refused, every choice
//! a serde enum) turned into a validated `Plan` (`build`, `fault`) where paths
//! are resolved and every choice is explicit. Errors name the file, line and
//! column, and suggest the key or word meant (`source`).

mod build;
mod compare;
mod fault;
pub mod fleet;
mod notify;
mod raw;
pub mod rules;
mod source;
#[cfg(test)]
mod tests;

pub use crate::catalog::place::Place;
pub use compare::{parse_queries, top_level_order_by, AppQuery, Compare};
pub use notify::{Email, Notify, NotifyOn, PasswordSource, SmtpLogin, SmtpTls};

use crate::engine::EngineKind;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------- the validated plan ----------

#[derive(Debug, Clone)]
pub struct Plan {
    pub file: PathBuf,
    pub name: String,
    /// The practice drilled (`site` in the file, a site file's, `--site`):
    /// recorded in the report and the drill history; None: not named, and
    /// recorded as such (`report::UNNAMED_SITE`).
    pub site: Option<String>,
    /// The clinic and its contractor, from a site file.
    pub contacts: Option<crate::report::facts::Contacts>,
    pub description: Option<String>,
    pub backups: BackupSource,
    pub keys: Keys,
    pub target: Target,
    pub objectives: Objectives,
    pub checks: Checks,
    pub report_dir: Option<PathBuf>,
    /// A Prometheus textfile-collector file replaced after every run.
    pub metrics: Option<PathBuf>,
    pub simulate: Option<Fault>,
    pub expect: Option<Expectation>,
    /// Alerts after the drill (`[notify]`).
    pub notify: Option<Notify>,
    /// Before an upgrade: the backup restored into each of several images
    /// and compared (`[compare]`); `target.image` is then the baseline.
    pub compare: Option<Compare>,
}

/// A failure to rehearse, always on scratch copies of the backups.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Bytes flipped at random offsets of the newest backup.
    CorruptBackup { flips: u32, seed: u64 },
    /// The newest backup cut to this fraction of its size.
    TruncatedBackup { fraction: f64 },
    /// The backup job stopped `days` ago: the drill runs as if that much later.
    StaleBackups { days: f64 },
    /// The first (day-to-day) identity is lost.
    LostKey,
    /// Only a key that matches no recipient is at hand.
    WrongKey,
    /// The sandbox's data directory is a tmpfs of this size (default: an empty
    /// cluster's 64 MiB plus a quarter of the dump: smaller than the restore).
    DiskFull { tmpfs_mb: Option<u64> },
    /// The sandbox is killed once this fraction of the backup file was read.
    RestoreKilled { fraction: f64 },
    /// Production (restored from the newest backup, then written to) makes a
    /// newer backup; ransomware then encrypts the primary store and the server.
    Ransomware,
    /// Production runs a live workload, is backed up during it, then lost.
    LostServer {
        writes_per_second: u32,
        seconds_before_backup: f64,
        seconds_after_backup: f64,
    },
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::CorruptBackup { .. } => "corrupt-backup",
            Fault::TruncatedBackup { .. } => "truncated-backup",
            Fault::StaleBackups { .. } => "stale-backups",
            Fault::LostKey => "lost-key",
            Fault::WrongKey => "wrong-key",
            Fault::DiskFull { .. } => "disk-full",
            Fault::RestoreKilled { .. } => "restore-killed",
            Fault::Ransomware => "ransomware",
            Fault::LostServer { .. } => "lost-server",
        }
    }
}

/// What the clinic expects of a failure scenario; the drill passes when the
/// outcome matches.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Expectation {
    /// "passed", "failed", "unrecoverable" or "error" (the drill died of an
    /// infrastructure error).
    pub verdict: Option<String>,
    /// A location name: "primary" or "offsite".
    pub recovered_from: Option<String>,
    /// Text that must appear in what the drill detected (an unusable backup's
    /// reason, a failed check or objective).
    pub detection: Option<String>,
    /// Text that must appear in the name of the identity file that decrypted it.
    pub decrypted_with: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BackupSource {
    /// None when the scenario leaves it to `--backups`.
    pub location: Option<Place>,
    /// A second location, tried after the primary.
    pub offsite: Option<Place>,
    /// How to reach buckets and restic repositories.
    pub reach: crate::catalog::Reach,
    /// The clinic server's account (a folder location's reach is measured
    /// for it).
    pub production_user: Option<String>,
    /// When the chosen backup is unusable, try the previous one, then the next
    /// location (default true: a clinic wants the newest backup that works).
    pub fallback: bool,
    pub select: Select,
    /// Only files whose name starts with this.
    pub name_prefix: Option<String>,
}

impl BackupSource {
    /// How many of `candidates` backups to try: all of them in turn with
    /// `fallback`, else only the newest.
    pub fn tries(&self, candidates: usize) -> usize {
        if self.fallback {
            candidates
        } else {
            candidates.min(1)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Latest,
    LatestBefore(DateTime<Utc>),
}

#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// Tried in order (day-to-day first, then escrow).
    pub identities: Vec<PathBuf>,
    /// An environment variable holding a passphrase (scrypt-encrypted backups).
    pub passphrase_env: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub engine: EngineKind,
    pub image: String,
    pub memory_bytes: i64,
    pub cpus: f64,
    pub ready_timeout: Duration,
    /// How long the restore tool may stop reading its input before the
    /// restore is ended as stuck.
    pub stall_timeout: Duration,
    /// The longest a restore may take.
    pub restore_timeout: Duration,
    /// The database restored into and checked (`[target] database`; the
    /// sandbox's default when absent).
    pub database: Option<String>,
    /// `[target] max_restored_gb`, in bytes; absent, the bound follows the
    /// dump (`restore::data::bound`).
    pub max_restored_bytes: Option<u64>,
    /// The fleet's engine the drill runs on, by its name in the fleet file
    /// (None: `run`'s one engine).
    pub docker_engine: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Objectives {
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestPolicy {
    /// No manifest is a failure to prove completeness (unknown is not passed).
    /// Tables are fingerprinted as the dump streams, and counted once restored.
    Required,
    /// As `Required`, and every restored table is read back and fingerprinted
    /// in the database too (slower; catches a change made after the restore).
    Deep,
    /// Hand-made backups: compared when a manifest exists, skipped otherwise.
    IfPresent,
    Off,
}

#[derive(Debug, Clone)]
pub struct Checks {
    pub manifest: ManifestPolicy,
    pub foreign_keys: bool,
    pub invariants: Option<Invariants>,
    pub freshness: Vec<Freshness>,
    pub sql: Vec<SqlCheck>,
    /// How long one check may run: past it, the drill stops the check's
    /// query through the administrator's connection, whatever the check SET.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum Invariants {
    /// The clinic rules shipped with restore-drill.
    Clinic,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Freshness {
    pub table: String,
    pub column: String,
    pub max_lag_seconds: f64,
}

#[derive(Debug, Clone)]
pub struct SqlCheck {
    pub name: String,
    pub query: String,
    pub expect: Expect,
    /// `file:line` of the check, for messages about it.
    pub origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    Equals(f64),
    AtMost(f64),
    AtLeast(f64),
    Between(f64, f64),
    NoRows,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Equals(v) => write!(f, "= {v}"),
            Expect::AtMost(v) => write!(f, "<= {v}"),
            Expect::AtLeast(v) => write!(f, ">= {v}"),
            Expect::Between(a, b) => write!(f, "between {a} and {b}"),
            Expect::NoRows => write!(f, "no rows"),
        }
    }
}

/// Command-line overrides: one scenario serves many sites and months.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub site: Option<String>,
    /// As typed: a folder, s3://BUCKET/PREFIX or restic:REPO.
    pub backups: Option<String>,
    pub identities: Vec<PathBuf>,
    pub report_dir: Option<PathBuf>,
}

/// A site names a practice in reports, the history and evidence packs.
fn check_site(site: &str) -> Result<()> {
    let bad = site.trim().is_empty() || site.len() > 100 || site.chars().any(char::is_control);
    if bad {
        return Err(Error::Usage(format!(
            "invalid site name {site}: give the practice's name in 1 to 100 printable characters (--site, RESTORE_DRILL_SITE or `site` in the scenario)"
        )));
    }
    Ok(())
}

/// "; did you mean `c`?" for the word in `choices` nearest `got`, if near.
pub fn suggest_word(got: &str, choices: &[&str]) -> String {
    source::suggest(got, choices)
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read the scenario {}: {e}. Check the path",
            path.display()
        ))
    })?;
    parse(path, &text)
}

/// A site file, validated: `site`, `[clinic]`, `[contractor]` and
/// `[notify]` for every scenario run with it (`run --site-file`).
#[derive(Debug, Clone, Default)]
pub struct SiteFile {
    pub site: Option<String>,
    pub contacts: Option<crate::report::facts::Contacts>,
    pub notify: Option<Notify>,
}

pub fn load_site_file(path: &Path) -> Result<SiteFile> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read the site file {}: {e}. Check the path given with --site-file",
            path.display()
        ))
    })?;
    let src = source::Source { path, text: &text };
    let raw: raw::RawSiteFile = toml::from_str(&text).map_err(|e| src.toml_error(&e))?;
    let party =
        |p: Option<toml::Spanned<raw::RawParty>>| p.map(|p| site_party(&src, p)).transpose();
    let (clinic, contractor) = (party(raw.clinic)?, party(raw.contractor)?);
    let contacts = (clinic.is_some() || contractor.is_some())
        .then_some(crate::report::facts::Contacts { clinic, contractor });
    Ok(SiteFile {
        site: raw.site,
        contacts,
        notify: raw.notify.map(|n| notify::parse(&src, n)).transpose()?,
    })
}

/// `[clinic]` or `[contractor]`: printed on the evidence pack's first page,
/// so each value is one line of at most 100 printable characters.
fn site_party(
    src: &source::Source,
    p: toml::Spanned<raw::RawParty>,
) -> Result<crate::report::facts::Party> {
    let span = p.span();
    let p = p.into_inner();
    for v in [&p.name, &p.person, &p.email, &p.phone]
        .into_iter()
        .flatten()
    {
        if v.trim().is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) {
            return Err(src.at(
                span.clone(),
                "each of name, person, email and phone is one line of 1 to 100 printable characters",
            ));
        }
    }
    Ok(crate::report::facts::Party {
        name: p.name,
        person: p.person,
        email: p.email,
        phone: p.phone,
    })
}

/// Validates a scenario's text; `path` names it in messages and anchors its
/// relative paths.
pub fn parse(path: &Path, text: &str) -> Result<Plan> {
    let src = source::Source { path, text };
    let raw: raw::RawScenario = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    build::plan(&src, raw)
}

impl Plan {
    /// Applies command-line overrides and checks that what a run needs is there.
    /// The site as reports and the history record it.
    pub fn site_name(&self) -> &str {
        self.site
            .as_deref()
            .unwrap_or(crate::report::facts::UNNAMED_SITE)
    }

    pub fn with_overrides(mut self, o: Overrides) -> Result<Plan> {
        if let Some(s) = o.site {
            self.site = Some(s);
        }
        if let Some(site) = &self.site {
            check_site(site)?;
        }
        if let Some(b) = o.backups {
            let place = Place::parse(&b, |p| PathBuf::from(p))
                .map_err(|e| Error::Usage(format!("--backups {b}: {e}")))?;
            self.backups.location = Some(place);
        }
        if !o.identities.is_empty() {
            self.keys.identities = o.identities;
        }
        if let Some(r) = o.report_dir {
            self.report_dir = Some(r);
        }
        let Some(location) = &self.backups.location else {
            return Err(Error::Usage(format!(
                "{}: no backup location: set [backups] location, or pass --backups DIR",
                self.file.display()
            )));
        };
        if let (Some(f), None) = (&self.simulate, location.folder()) {
            return Err(Error::Usage(format!(
                "{}: [simulate] {} rehearses on scratch copies of a folder, and the primary location {location} is a {}. Give a folder as the primary location (the offsite may be a bucket or a restic repository)",
                self.file.display(),
                f.name(),
                location.kind().word()
            )));
        }
        Ok(self)
    }
}
