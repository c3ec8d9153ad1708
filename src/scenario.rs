//! Scenario files: TOML as written (`Raw*`, unknown keys refused) turned into a
//! validated `Plan` where paths are resolved and every choice is explicit.
//! Errors name the file, line and column, and suggest the key meant.

use crate::engine::EngineKind;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

// ---------- the file as written ----------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    description: Option<String>,
    backups: RawBackups,
    keys: Option<RawKeys>,
    target: RawTarget,
    objectives: Option<RawObjectives>,
    checks: Option<RawChecks>,
    report: Option<RawReport>,
    simulate: Option<RawSimulate>,
    expect: Option<RawOutcome>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimulate {
    fault: Spanned<String>,
    flips: Option<u32>,
    seed: Option<u64>,
    fraction: Option<Spanned<f64>>,
    days: Option<f64>,
    tmpfs_mb: Option<u64>,
    writes_per_second: Option<u32>,
    seconds_before_backup: Option<f64>,
    seconds_after_backup: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    verdict: Option<Spanned<String>>,
    recovered_from: Option<String>,
    detection: Option<String>,
    decrypted_with: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackups {
    location: Option<Spanned<String>>,
    offsite: Option<String>,
    fallback: Option<bool>,
    select: Option<Spanned<String>>,
    before: Option<Spanned<String>>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    identities: Option<Vec<String>>,
    passphrase_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    engine: Option<Spanned<String>>,
    image: String,
    memory_mb: Option<u64>,
    cpus: Option<f64>,
    ready_timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjectives {
    rto_seconds: Option<f64>,
    rpo_hours: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    manifest: Option<Spanned<String>>,
    foreign_keys: Option<bool>,
    invariants: Option<Spanned<String>>,
    #[serde(default)]
    freshness: Vec<RawFreshness>,
    #[serde(default)]
    sql: Vec<RawSqlCheck>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFreshness {
    table: String,
    column: String,
    max_lag_hours: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSqlCheck {
    name: Spanned<String>,
    query: String,
    expect: Spanned<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    equals: Option<f64>,
    at_most: Option<f64>,
    at_least: Option<f64>,
    between: Option<[f64; 2]>,
    no_rows: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    dir: Option<String>,
}

// ---------- the validated plan ----------

#[derive(Debug, Clone)]
pub struct Plan {
    pub file: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub backups: BackupSource,
    pub keys: Keys,
    pub target: Target,
    pub objectives: Objectives,
    pub checks: Checks,
    pub report_dir: Option<PathBuf>,
    pub simulate: Option<Fault>,
    pub expect: Option<Expectation>,
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
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Expectation {
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
    pub location: Option<PathBuf>,
    /// A second location, tried after the primary.
    pub offsite: Option<PathBuf>,
    /// When the chosen backup is unusable, try the previous one, then the next
    /// location (default true: a clinic wants the newest backup that works).
    pub fallback: bool,
    pub select: Select,
    /// Only files whose name starts with this.
    pub name_prefix: Option<String>,
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
    /// How long the restore tool may stop reading before it is called stuck.
    pub stall_timeout: Duration,
    /// The longest a restore may take.
    pub restore_timeout: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Objectives {
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestPolicy {
    /// No manifest is a failure to prove completeness (unknown is not passed).
    Required,
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
    pub backups: Option<PathBuf>,
    pub identities: Vec<PathBuf>,
    pub report_dir: Option<PathBuf>,
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

pub fn parse(path: &Path, text: &str) -> Result<Plan> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let at = |span: std::ops::Range<usize>, msg: String| {
        let (line, col) = line_col(text, span.start);
        Error::Usage(format!("{}:{line}:{col}: {msg}", path.display()))
    };
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };

    let select = match (&raw.backups.select, &raw.backups.before) {
        (None, None) => Select::Latest,
        (Some(s), before) if s.get_ref() == "latest" => {
            if let Some(b) = before {
                return Err(at(
                    b.span(),
                    "`before` goes with select = \"latest-before\"".into(),
                ));
            }
            Select::Latest
        }
        (Some(s), Some(b)) if s.get_ref() == "latest-before" => {
            let t = DateTime::parse_from_rfc3339(b.get_ref()).map_err(|e| {
                at(
                    b.span(),
                    format!(
                        "invalid `before` {:?}: {e}; expected a time such as 2026-11-01T00:00:00Z",
                        b.get_ref()
                    ),
                )
            })?;
            Select::LatestBefore(t.with_timezone(&Utc))
        }
        (Some(s), None) if s.get_ref() == "latest-before" => {
            return Err(at(
                s.span(),
                "select = \"latest-before\" needs `before = \"2026-11-01T00:00:00Z\"`".into(),
            ))
        }
        (Some(s), _) => {
            return Err(at(
                s.span(),
                format!(
                    "unknown select {:?}: use \"latest\" or \"latest-before\"{}",
                    s.get_ref(),
                    suggest(s.get_ref(), &["latest", "latest-before"])
                ),
            ))
        }
        (None, Some(b)) => {
            return Err(at(
                b.span(),
                "`before` needs select = \"latest-before\"".into(),
            ))
        }
    };

    let engine = match raw.target.engine.as_ref() {
        None => EngineKind::Postgres,
        Some(e) if e.get_ref() == "postgres" => EngineKind::Postgres,
        Some(e) if e.get_ref() == "mariadb" => {
            return Err(at(
                e.span(),
                "engine \"mariadb\": MariaDB images build, but MariaDB drills are not supported yet; use \"postgres\"".into(),
            ))
        }
        Some(e) => {
            return Err(at(
                e.span(),
                format!(
                    "unknown engine {:?}: use \"postgres\"{}",
                    e.get_ref(),
                    suggest(e.get_ref(), &["postgres", "mariadb"])
                ),
            ))
        }
    };
    let target = Target {
        engine,
        image: raw.target.image,
        memory_bytes: (raw.target.memory_mb.unwrap_or(2048) as i64) << 20,
        cpus: raw.target.cpus.unwrap_or(2.0),
        ready_timeout: Duration::from_secs(raw.target.ready_timeout_seconds.unwrap_or(120)),
        stall_timeout: Duration::from_secs(120),
        restore_timeout: Duration::from_secs(240 * 60),
    };

    let objectives = raw
        .objectives
        .map_or_else(Objectives::default, |o| Objectives {
            rto_seconds: o.rto_seconds,
            rpo_seconds: o.rpo_hours.map(|h| h * 3600.0),
        });

    let raw_checks = raw.checks.unwrap_or(RawChecks {
        manifest: None,
        foreign_keys: None,
        invariants: None,
        freshness: Vec::new(),
        sql: Vec::new(),
    });
    let manifest = match raw_checks.manifest.as_ref() {
        None => ManifestPolicy::Required,
        Some(m) => match m.get_ref().as_str() {
            "required" => ManifestPolicy::Required,
            "if-present" => ManifestPolicy::IfPresent,
            "off" => ManifestPolicy::Off,
            other => {
                return Err(at(
                    m.span(),
                    format!(
                        "unknown manifest policy {other:?}: use \"required\", \"if-present\" or \"off\"{}",
                        suggest(other, &["required", "if-present", "off"])
                    ),
                ))
            }
        },
    };
    let invariants = match raw_checks.invariants.as_ref() {
        None => None,
        Some(i) if i.get_ref() == "clinic" => Some(Invariants::Clinic),
        Some(i) => {
            let p = resolve(i.get_ref());
            if !p.is_file() {
                return Err(at(
                    i.span(),
                    format!(
                        "invariants file {} not found: use \"clinic\" for the built-in clinic rules, or a path to a SQL file",
                        p.display()
                    ),
                ));
            }
            Some(Invariants::File(p))
        }
    };
    let mut sql = Vec::new();
    for c in raw_checks.sql {
        let (line, _) = line_col(text, c.name.span().start);
        let origin = format!("{}:{line}", path.display());
        let e = c.expect.get_ref();
        let set = [
            e.equals.is_some(),
            e.at_most.is_some(),
            e.at_least.is_some(),
            e.between.is_some(),
            e.no_rows == Some(true),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            return Err(at(
                c.expect.span(),
                format!(
                    "check {:?}: `expect` takes exactly one of equals, at_most, at_least, between = [low, high], no_rows = true",
                    c.name.get_ref()
                ),
            ));
        }
        let expect = if let Some(v) = e.equals {
            Expect::Equals(v)
        } else if let Some(v) = e.at_most {
            Expect::AtMost(v)
        } else if let Some(v) = e.at_least {
            Expect::AtLeast(v)
        } else if let Some([a, b]) = e.between {
            if a > b {
                return Err(at(
                    c.expect.span(),
                    format!(
                        "check {:?}: between = [{a}, {b}] has low > high",
                        c.name.get_ref()
                    ),
                ));
            }
            Expect::Between(a, b)
        } else {
            Expect::NoRows
        };
        if c.query.trim().is_empty() {
            return Err(at(
                c.name.span(),
                format!("check {:?} has an empty query", c.name.get_ref()),
            ));
        }
        sql.push(SqlCheck {
            name: c.name.into_inner(),
            query: c.query,
            expect,
            origin,
        });
    }
    let freshness = raw_checks
        .freshness
        .into_iter()
        .map(|f| Freshness {
            table: f.table,
            column: f.column,
            max_lag_seconds: f.max_lag_hours * 3600.0,
        })
        .collect();

    let keys = raw.keys.map_or_else(Keys::default, |k| Keys {
        identities: k
            .identities
            .unwrap_or_default()
            .iter()
            .map(|p| resolve(p))
            .collect(),
        passphrase_env: k.passphrase_env,
    });

    Ok(Plan {
        file: path.to_path_buf(),
        name: raw.name,
        description: raw.description,
        simulate: match raw.simulate {
            None => None,
            Some(sim) => Some(parse_fault(&sim, &at)?),
        },
        expect: match raw.expect {
            None => None,
            Some(e) => {
                if let Some(v) = &e.verdict {
                    if !["passed", "failed", "unrecoverable"].contains(&v.get_ref().as_str()) {
                        return Err(at(
                            v.span(),
                            format!(
                                "unknown verdict {:?}: use \"passed\", \"failed\" or \"unrecoverable\"{}",
                                v.get_ref(),
                                suggest(v.get_ref(), &["passed", "failed", "unrecoverable"])
                            ),
                        ));
                    }
                }
                Some(Expectation {
                    verdict: e.verdict.map(|v| v.into_inner()),
                    recovered_from: e.recovered_from,
                    detection: e.detection,
                    decrypted_with: e.decrypted_with,
                })
            }
        },
        backups: BackupSource {
            location: raw.backups.location.map(|l| resolve(l.get_ref())),
            offsite: raw.backups.offsite.as_deref().map(resolve),
            fallback: raw.backups.fallback.unwrap_or(true),
            select,
            name_prefix: raw.backups.name,
        },
        keys,
        target,
        objectives,
        checks: Checks {
            manifest,
            foreign_keys: raw_checks.foreign_keys.unwrap_or(true),
            invariants,
            freshness,
            sql,
        },
        report_dir: raw.report.and_then(|r| r.dir).map(|d| resolve(&d)),
    })
}

fn parse_fault(
    sim: &RawSimulate,
    at: &dyn Fn(std::ops::Range<usize>, String) -> Error,
) -> Result<Fault> {
    const FAULTS: [&str; 9] = [
        "corrupt-backup",
        "truncated-backup",
        "stale-backups",
        "lost-key",
        "wrong-key",
        "disk-full",
        "restore-killed",
        "ransomware",
        "lost-server",
    ];
    Ok(match sim.fault.get_ref().as_str() {
        "corrupt-backup" => Fault::CorruptBackup {
            flips: sim.flips.unwrap_or(16).max(1),
            seed: sim.seed.unwrap_or(1),
        },
        "truncated-backup" => {
            let fraction = sim.fraction.as_ref().map_or(0.5, |f| *f.get_ref());
            if !(0.0..1.0).contains(&fraction) {
                let span = sim
                    .fraction
                    .as_ref()
                    .map_or_else(|| sim.fault.span(), |f| f.span());
                return Err(at(
                    span,
                    format!("fraction = {fraction}: the part kept must be at least 0 and below 1"),
                ));
            }
            Fault::TruncatedBackup { fraction }
        }
        "stale-backups" => Fault::StaleBackups {
            days: sim.days.unwrap_or(3.0),
        },
        "lost-key" => Fault::LostKey,
        "wrong-key" => Fault::WrongKey,
        "disk-full" => Fault::DiskFull {
            tmpfs_mb: sim.tmpfs_mb,
        },
        "restore-killed" => Fault::RestoreKilled {
            fraction: sim
                .fraction
                .as_ref()
                .map_or(0.5, |f| *f.get_ref())
                .clamp(0.0, 1.0),
        },
        "ransomware" => Fault::Ransomware,
        "lost-server" => Fault::LostServer {
            writes_per_second: sim.writes_per_second.unwrap_or(20).max(1),
            seconds_before_backup: sim.seconds_before_backup.unwrap_or(2.0),
            seconds_after_backup: sim.seconds_after_backup.unwrap_or(3.0),
        },
        other => {
            return Err(at(
                sim.fault.span(),
                format!(
                    "unknown fault {other:?}: use one of {}{}",
                    FAULTS.join(", "),
                    suggest(other, &FAULTS)
                ),
            ))
        }
    })
}

impl Plan {
    /// Applies command-line overrides and checks that what a run needs is there.
    pub fn with_overrides(mut self, o: Overrides) -> Result<Plan> {
        if let Some(b) = o.backups {
            self.backups.location = Some(b);
        }
        if !o.identities.is_empty() {
            self.keys.identities = o.identities;
        }
        if let Some(r) = o.report_dir {
            self.report_dir = Some(r);
        }
        if self.backups.location.is_none() {
            return Err(Error::Usage(format!(
                "{}: no backup location: set [backups] location, or pass --backups DIR",
                self.file.display()
            )));
        }
        Ok(self)
    }
}

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let msg = e.message().trim().to_string();
    let suggestion = unknown_field_suggestion(&msg);
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            Error::Usage(format!(
                "{}:{line}:{col}: {msg}{suggestion}",
                path.display()
            ))
        }
        None => Error::Usage(format!("{}: {msg}{suggestion}", path.display())),
    }
}

/// serde's "unknown field `x`, expected one of `a`, `b`" -> "; did you mean `a`?"
fn unknown_field_suggestion(msg: &str) -> String {
    let Some(rest) = msg.strip_prefix("unknown field `") else {
        return String::new();
    };
    let Some(end) = rest.find('`') else {
        return String::new();
    };
    let field = &rest[..end];
    let expected: Vec<&str> = rest[end + 1..]
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    suggest(field, &expected)
}

fn suggest(got: &str, choices: &[&str]) -> String {
    choices
        .iter()
        .map(|c| (levenshtein(got, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |p| before.len() - p - 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[backups]
location = "backups"
[target]
image = "restore-drill/postgres:15"
[objectives]
rto_seconds = 600
rpo_hours = 26
[checks]
manifest = "if-present"
invariants = "clinic"
[[checks.sql]]
name = "patients"
query = "SELECT count(*) FROM patients"
expect = { at_least = 1 }
"#;

    #[test]
    fn a_good_scenario_becomes_a_plan() {
        let p = parse(Path::new("/s/x.toml"), GOOD).expect("valid");
        assert_eq!(p.backups.location, Some(PathBuf::from("/s/backups")));
        assert_eq!(p.objectives.rpo_seconds, Some(26.0 * 3600.0));
        assert_eq!(p.checks.manifest, ManifestPolicy::IfPresent);
        assert_eq!(p.checks.sql[0].expect, Expect::AtLeast(1.0));
        assert_eq!(p.checks.sql[0].origin, "/s/x.toml:14");
    }

    #[test]
    fn misspelt_keys_name_line_column_and_suggestion() {
        let text = GOOD.replace("rto_seconds", "rto_secnds");
        let e = parse(Path::new("x.toml"), &text).expect_err("unknown key");
        let m = e.to_string();
        assert!(
            m.starts_with("x.toml:8:1: unknown field `rto_secnds`"),
            "{m}"
        );
        assert!(m.contains("did you mean `rto_seconds`?"), "{m}");
        assert_eq!(e.kind(), crate::ErrorKind::Usage);
    }

    #[test]
    fn bad_values_are_located() {
        let text = GOOD.replace("if-present", "if-presnt");
        let m = parse(Path::new("x.toml"), &text)
            .expect_err("bad")
            .to_string();
        assert!(m.starts_with("x.toml:11:12:"), "{m}");
        assert!(m.contains("did you mean `if-present`?"), "{m}");
        let text = GOOD.replace("{ at_least = 1 }", "{ at_least = 1, at_most = 3 }");
        let m = parse(Path::new("x.toml"), &text)
            .expect_err("two")
            .to_string();
        assert!(m.contains("exactly one of"), "{m}");
        assert!(m.starts_with("x.toml:16:"), "{m}");
    }
}
