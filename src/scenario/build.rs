//! The raw file turned into a `Plan`: defaults filled in, paths resolved, and
//! the rules serde cannot express (one key needing another, ranges) checked
//! at the offending value.

use super::compare::{self, Compare};
use super::raw::{
    RawBackups, RawChecks, RawCompare, RawManifest, RawOutcome, RawScenario, RawSelect,
    RawSqlCheck, RawTarget,
};
use super::source::Source;
use super::{
    fault, notify, BackupSource, Checks, Expect, Expectation, Freshness, Invariants, Keys,
    ManifestPolicy, Objectives, Plan, Select, SqlCheck, Target,
};
use crate::catalog::place::Place;
use crate::catalog::restic::ResticSettings;
use crate::catalog::s3::S3Settings;
use crate::catalog::Reach;
use crate::engine::EngineKind;
use crate::error::Result;
use chrono::{DateTime, Utc};
use std::time::Duration;
use toml::Spanned;

pub(super) fn plan(src: &Source, raw: RawScenario) -> Result<Plan> {
    let drill_sections = drill_only(&raw);
    let compare = comparison(
        src,
        raw.compare,
        drill_sections,
        raw.target.get_ref().image.as_ref(),
        raw.target.get_ref().engine.as_ref(),
    )?;
    let keys = raw.keys.map_or_else(Keys::default, |k| Keys {
        identities: k
            .identities
            .unwrap_or_default()
            .iter()
            .map(|p| src.resolve(p))
            .collect(),
        passphrase_env: k.passphrase_env,
    });
    let objectives = raw
        .objectives
        .as_ref()
        .map_or_else(Objectives::default, objectives);
    Ok(Plan {
        file: src.path.to_path_buf(),
        name: raw.name,
        site: raw.site,
        contacts: None,
        description: raw.description,
        backups: backups(src, raw.backups)?,
        keys,
        target: target(src, raw.target, compare.as_ref())?,
        objectives,
        checks: checks(src, raw.checks.unwrap_or_default())?,
        report_dir: raw
            .report
            .as_ref()
            .and_then(|r| r.dir.as_ref())
            .map(|d| src.resolve(d)),
        metrics: raw
            .report
            .as_ref()
            .and_then(|r| r.metrics.as_ref())
            .map(|m| src.resolve(m)),
        simulate: match raw.simulate {
            None => None,
            Some(sim) => Some(fault::parse(src, *sim.fault.get_ref())?),
        },
        expect: raw.expect.map(expectation),
        notify: raw.notify.map(|n| notify::parse(src, n)).transpose()?,
        compare,
    })
}

/// The sections only a drill means something for.
fn drill_only(raw: &RawScenario) -> Vec<&'static str> {
    [
        ("[objectives]", raw.objectives.is_some()),
        ("[simulate]", raw.simulate.is_some()),
        ("[expect]", raw.expect.is_some()),
        ("[notify]", raw.notify.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect()
}

/// `[compare]`, refused beside what only a drill means.
fn comparison(
    src: &Source,
    raw: Option<Spanned<RawCompare>>,
    drill_only: Vec<&str>,
    image: Option<&Spanned<String>>,
    engine: Option<&Spanned<EngineKind>>,
) -> Result<Option<Compare>> {
    let Some(c) = raw else {
        return Ok(None);
    };
    if !drill_only.is_empty() {
        return Err(src.at(
            c.span(),
            format_args!(
                "[compare] cannot go with {}: a comparison restores the real backup into each target and compares them; it judges no objective, simulates no failure and sends no alert. Keep those in a drill scenario of their own",
                drill_only.join(", ")
            ),
        ));
    }
    if let Some(image) = image {
        return Err(src.at(
            image.span(),
            "a comparison names its images in [compare] targets: remove `image` from [target] (its memory and CPU limits apply to every target)",
        ));
    }
    one_engine(src, &c.get_ref().targets, engine)?;
    compare::parse(src, c.into_inner()).map(Some)
}

/// The engine of `image`, when it is one of this tool's images built for
/// another engine than `engine`.
fn other_engine(image: &str, engine: EngineKind) -> Option<EngineKind> {
    crate::sandbox::images::ImageTarget::by_key(image)
        .map(|t| t.engine)
        .filter(|e| *e != engine)
}

/// `[target] engine`, PostgreSQL when absent.
fn engine_of(raw: Option<&Spanned<EngineKind>>) -> EngineKind {
    raw.map(|e| *e.get_ref()).unwrap_or_default()
}

/// A comparison restores one backup into versions of one engine: an image
/// this tool builds for the other engine is refused at `targets` (another
/// image's engine cannot be known before it runs).
fn one_engine(
    src: &Source,
    targets: &Spanned<Vec<String>>,
    engine: Option<&Spanned<EngineKind>>,
) -> Result<()> {
    let engine = engine_of(engine);
    let other = targets
        .get_ref()
        .iter()
        .find_map(|image| other_engine(image, engine).map(|e| (image, e)));
    let Some((image, theirs)) = other else {
        return Ok(());
    };
    Err(src.at(
        targets.span(),
        format_args!(
            "[compare] targets names {image}, a {theirs} image, but the scenario's engine is {engine} ([target] engine, default \"postgres\"): a comparison restores one backup into versions of one engine. Name only {engine} images, or set [target] engine to \"{}\" and name only {theirs} images",
            theirs.key()
        ),
    ))
}

/// `[objectives]` as written (a scenario's, or a fleet site's over it).
pub(super) fn objectives(o: &super::raw::RawObjectives) -> Objectives {
    Objectives {
        rto_seconds: o.rto_seconds,
        rpo_seconds: o.rpo_hours.map(|h| h * 3600.0),
    }
}

fn backups(src: &Source, raw: RawBackups) -> Result<BackupSource> {
    let place = |l: &toml::Spanned<String>| {
        Place::parse(l.get_ref(), |p| src.resolve(p)).map_err(|e| src.at(l.span(), e))
    };
    let location = raw.location.as_ref().map(place).transpose()?;
    let offsite = raw.offsite.as_ref().map(place).transpose()?;
    let reach = reach(src, &raw)?;
    let production_user = match &raw.production_user {
        Some(u)
            if nix::unistd::User::from_name(u.get_ref())
                .ok()
                .flatten()
                .is_none() =>
        {
            return Err(src.at(
                u.span(),
                format_args!(
                    "production_user {:?}: no such user on this machine",
                    u.get_ref()
                ),
            ))
        }
        u => u.as_ref().map(|u| u.get_ref().clone()),
    };
    Ok(BackupSource {
        select: select(src, &raw)?,
        location,
        offsite,
        fallback: raw.fallback.unwrap_or(true),
        name_prefix: raw.name,
        reach,
        production_user,
    })
}

/// `[backups.s3]` and `[backups.restic]`, paths resolved against the scenario.
fn reach(src: &Source, raw: &RawBackups) -> Result<Reach> {
    let mut r = Reach::default();
    if let Some(s) = &raw.s3 {
        if let Some(ep) = &s.endpoint {
            let ok = url::Url::parse(ep.get_ref())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(src.at(
                    ep.span(),
                    format_args!(
                        "endpoint {:?} is not an http:// or https:// URL",
                        ep.get_ref()
                    ),
                ));
            }
        }
        r.s3 = S3Settings {
            endpoint: s.endpoint.as_ref().map(|e| e.get_ref().clone()),
            region: s.region.clone(),
            credentials_file: s.credentials_file.as_deref().map(|f| src.resolve(f)),
            production_credentials_file: s
                .production_credentials_file
                .as_deref()
                .map(|f| src.resolve(f)),
        };
    }
    if let Some(rs) = &raw.restic {
        r.restic = ResticSettings {
            password_file: rs.password_file.as_deref().map(|f| src.resolve(f)),
            password_env: rs.password_env.clone(),
        };
    }
    Ok(r)
}

/// `before` is needed by "latest-before" and meaningless without it.
fn select(src: &Source, raw: &RawBackups) -> Result<Select> {
    let latest_before = raw
        .select
        .as_ref()
        .filter(|s| *s.get_ref() == RawSelect::LatestBefore);
    match (latest_before, &raw.before) {
        (None, None) => Ok(Select::Latest),
        (None, Some(b)) => Err(src.at(b.span(), "`before` goes with select = \"latest-before\"")),
        (Some(s), None) => Err(src.at(
            s.span(),
            "select = \"latest-before\" needs `before = \"2026-11-01T00:00:00Z\"`",
        )),
        (Some(_), Some(b)) => {
            let t = DateTime::parse_from_rfc3339(b.get_ref()).map_err(|e| {
                src.at(
                    b.span(),
                    format_args!(
                        "invalid `before` {:?}: {e}; expected a time such as 2026-11-01T00:00:00Z",
                        b.get_ref()
                    ),
                )
            })?;
            Ok(Select::LatestBefore(t.with_timezone(&Utc)))
        }
    }
}

fn target(src: &Source, raw: Spanned<RawTarget>, compare: Option<&Compare>) -> Result<Target> {
    let span = raw.span();
    let raw = raw.into_inner();
    let engine = engine_of(raw.engine.as_ref());
    let image = match (raw.image, compare) {
        (Some(i), _) => match other_engine(i.get_ref(), engine) {
            Some(theirs) => {
                return Err(src.at(
                    i.span(),
                    format_args!(
                        "image {} is a {theirs} image, but the scenario's engine is {engine} ([target] engine, default \"postgres\"): set engine = \"{}\", or name a {engine} image",
                        i.get_ref(),
                        theirs.key()
                    ),
                ))
            }
            None => i.into_inner(),
        },
        (None, Some(c)) => c.targets[0].clone(),
        (None, None) => {
            return Err(src.at(
                span,
                "[target] needs `image`, the database image to restore into, e.g. image = \"restore-drill/postgres:15\"",
            ))
        }
    };
    let stall = positive(src, "stall_timeout_seconds", raw.stall_timeout_seconds, 120)?;
    let restore = positive(
        src,
        "restore_timeout_minutes",
        raw.restore_timeout_minutes,
        240,
    )?;
    Ok(Target {
        engine,
        image,
        memory_bytes: (raw.memory_mb.unwrap_or(2048) as i64) << 20,
        cpus: raw.cpus.unwrap_or(2.0),
        ready_timeout: Duration::from_secs(raw.ready_timeout_seconds.unwrap_or(120)),
        stall_timeout: Duration::from_secs(stall),
        restore_timeout: Duration::from_secs(restore.saturating_mul(60)),
        database: raw.database.map(|d| database(src, d)).transpose()?,
        max_restored_bytes: raw
            .max_restored_gb
            .map(|g| max_restored(src, g))
            .transpose()?,
        docker_engine: None,
    })
}

/// `[target] max_restored_gb`: a positive number of GB (10^9 bytes).
fn max_restored(src: &Source, g: Spanned<f64>) -> Result<u64> {
    let gb = *g.get_ref();
    if !(gb.is_finite() && gb > 0.0) {
        return Err(src.at(
            g.span(),
            format_args!(
                "max_restored_gb = {gb}: the bound on the restored data must be more than 0 GB (e.g. 50)"
            ),
        ));
    }
    Ok((gb * 1e9) as u64)
}

/// The system's own databases hold accounts and server state, not the
/// clinic's data: the read-only role must never be granted them.
const SYSTEM_DATABASES: [&str; 7] = [
    "mysql",
    "information_schema",
    "performance_schema",
    "sys",
    "postgres",
    "template0",
    "template1",
];

/// A database name both engines take unquoted, refused at the value otherwise.
fn database(src: &Source, d: Spanned<String>) -> Result<String> {
    let name = d.get_ref();
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if name.is_empty() || name.len() > 63 || !plain {
        return Err(src.at(
            d.span(),
            "database: a database name of 1 to 63 letters, digits, `_` or `$` (as the dump names it in `CREATE DATABASE`), e.g. database = \"opendental\"",
        ));
    }
    if SYSTEM_DATABASES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(src.at(
            d.span(),
            format_args!("database = {name:?} is the server's own database, not the clinic's: name the clinic's database (the one its `CREATE DATABASE` line names)"),
        ));
    }
    Ok(d.into_inner())
}

/// A timeout of 0 would end every restore at once: refused at the value.
fn positive(src: &Source, key: &str, v: Option<Spanned<u64>>, default: u64) -> Result<u64> {
    match v {
        None => Ok(default),
        Some(v) if *v.get_ref() == 0 => Err(src.at(
            v.span(),
            format_args!("{key} = 0: a timeout must be at least 1"),
        )),
        Some(v) => Ok(*v.get_ref()),
    }
}

/// How long one check may run before the drill stops it: an hour, the
/// statement timeout the checks' role had before the drill bounded checks
/// itself. The clinic's checks take seconds; a deep fingerprint of a large
/// clinic takes minutes.
const DEFAULT_CHECK_TIMEOUT_SECONDS: u64 = 3600;

/// A rules file's planner switches, checked when the scenario loads rather
/// than after the restore; the file's line is not known here, its rule is
/// named instead.
fn rules_hold(src: &Source, at: &Spanned<String>, path: &std::path::Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::error::Error::io("read the invariants file", path, e))?;
    for (name, query) in super::rules::parse_invariants(&text) {
        if let Err(why) = super::rules::plan_switches(&query) {
            let path = path.display();
            return Err(src.at(
                at.span(),
                format_args!("invariants file {path}, rule {name:?}: {why}"),
            ));
        }
    }
    Ok(())
}

fn checks(src: &Source, raw: RawChecks) -> Result<Checks> {
    let manifest = match raw.manifest.as_ref().map(|m| *m.get_ref()) {
        None | Some(RawManifest::Required) => ManifestPolicy::Required,
        Some(RawManifest::Deep) => ManifestPolicy::Deep,
        Some(RawManifest::IfPresent) => ManifestPolicy::IfPresent,
        Some(RawManifest::Off) => ManifestPolicy::Off,
    };
    let invariants = match raw.invariants.as_ref() {
        None => None,
        Some(i) if i.get_ref() == "clinic" => Some(Invariants::Clinic),
        Some(i) => {
            let p = src.resolve(i.get_ref());
            if !p.is_file() {
                return Err(src.at(
                    i.span(),
                    format_args!(
                        "invariants file {} not found: use \"clinic\" for the built-in clinic rules, or a path to a SQL file",
                        p.display()
                    ),
                ));
            }
            rules_hold(src, i, &p)?;
            Some(Invariants::File(p))
        }
    };
    let freshness = raw
        .freshness
        .into_iter()
        .map(|f| Freshness {
            table: f.table,
            column: f.column,
            max_lag_seconds: f.max_lag_hours * 3600.0,
        })
        .collect();
    let timeout = positive(
        src,
        "timeout_seconds",
        raw.timeout_seconds,
        DEFAULT_CHECK_TIMEOUT_SECONDS,
    )?;
    Ok(Checks {
        manifest,
        foreign_keys: raw.foreign_keys.unwrap_or(true),
        timeout: Duration::from_secs(timeout),
        invariants,
        freshness,
        sql: raw
            .sql
            .into_iter()
            .map(|c| sql_check(src, c))
            .collect::<Result<_>>()?,
    })
}

fn sql_check(src: &Source, c: RawSqlCheck) -> Result<SqlCheck> {
    let name = c.name.get_ref();
    let e = c.expect.get_ref();
    let set = [
        e.equals.is_some(),
        e.at_most.is_some(),
        e.at_least.is_some(),
        e.between.is_some(),
        e.no_rows == Some(true),
    ];
    if set.iter().filter(|b| **b).count() != 1 {
        return Err(src.at(
            c.expect.span(),
            format_args!(
                "check {name:?}: `expect` takes exactly one of equals, at_most, at_least, between = [low, high], no_rows = true"
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
            return Err(src.at(
                c.expect.span(),
                format_args!("check {name:?}: between = [{a}, {b}] has low > high"),
            ));
        }
        Expect::Between(a, b)
    } else {
        Expect::NoRows
    };
    if c.query.trim().is_empty() {
        return Err(src.at(
            c.name.span(),
            format_args!("check {name:?} has an empty query"),
        ));
    }
    Ok(SqlCheck {
        origin: src.origin(c.name.span().start),
        name: c.name.into_inner(),
        query: c.query,
        expect,
    })
}

fn expectation(raw: RawOutcome) -> Expectation {
    Expectation {
        verdict: raw.verdict.map(|v| v.get_ref().as_str().to_string()),
        recovered_from: raw.recovered_from,
        detection: raw.detection,
        decrypted_with: raw.decrypted_with,
    }
}
