//! `[simulate]` in two passes: the first read `fault`; here the same table is
//! read again into that fault's own struct, so a key of another fault is an
//! error at its line, and each value is checked against its range.

use super::raw::{
    CorruptBackupKeys, DiskFullKeys, FaultName, FractionKeys, LostServerKeys, NoKeys,
    StaleBackupsKeys,
};
use super::source::{suggest, unknown_field, Source};
use super::Fault;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::fmt::Display;
use toml::Spanned;

/// The fault `name` with its keys read from `[simulate]`, defaults filled in.
pub(super) fn parse(src: &Source, name: FaultName) -> Result<Fault> {
    Ok(match name {
        FaultName::CorruptBackup => {
            let k: CorruptBackupKeys = own_keys(src, name)?;
            Fault::CorruptBackup {
                flips: value(src, "flips", k.flips, 16, |n| n >= 1, "must be at least 1")?,
                seed: k.seed.unwrap_or(1),
            }
        }
        FaultName::TruncatedBackup => {
            let k: FractionKeys = own_keys(src, name)?;
            let kept = |f: f64| (0.0..1.0).contains(&f);
            let rule = "the part kept must be at least 0 and below 1";
            Fault::TruncatedBackup {
                fraction: value(src, "fraction", k.fraction, 0.5, kept, rule)?,
            }
        }
        FaultName::StaleBackups => {
            let k: StaleBackupsKeys = own_keys(src, name)?;
            Fault::StaleBackups {
                days: value(src, "days", k.days, 3.0, non_negative, NON_NEGATIVE)?,
            }
        }
        FaultName::LostKey => no_keys(src, name, Fault::LostKey)?,
        FaultName::WrongKey => no_keys(src, name, Fault::WrongKey)?,
        FaultName::Ransomware => no_keys(src, name, Fault::Ransomware)?,
        FaultName::DiskFull => {
            let k: DiskFullKeys = own_keys(src, name)?;
            // A tmpfs of size 0 has no limit: the disk would never fill.
            let mb = k
                .tmpfs_mb
                .map(|m| checked(src, "tmpfs_mb", m, |n| n >= 1, "must be at least 1"));
            Fault::DiskFull {
                tmpfs_mb: mb.transpose()?,
            }
        }
        FaultName::RestoreKilled => {
            let k: FractionKeys = own_keys(src, name)?;
            let read = |f: f64| f > 0.0 && f <= 1.0;
            let rule = "the part read before the kill must be above 0 and at most 1";
            Fault::RestoreKilled {
                fraction: value(src, "fraction", k.fraction, 0.5, read, rule)?,
            }
        }
        FaultName::LostServer => lost_server(src, own_keys(src, name)?)?,
    })
}

fn lost_server(src: &Source, k: LostServerKeys) -> Result<Fault> {
    Ok(Fault::LostServer {
        writes_per_second: value(
            src,
            "writes_per_second",
            k.writes_per_second,
            20,
            |n| n >= 1,
            "must be at least 1",
        )?,
        seconds_before_backup: value(
            src,
            "seconds_before_backup",
            k.seconds_before_backup,
            2.0,
            non_negative,
            NON_NEGATIVE,
        )?,
        seconds_after_backup: value(
            src,
            "seconds_after_backup",
            k.seconds_after_backup,
            3.0,
            non_negative,
            NON_NEGATIVE,
        )?,
    })
}

/// Days and seconds become sleeps and clock offsets, which a negative or
/// infinite number would make panic.
fn non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}
const NON_NEGATIVE: &str = "must be a finite number, 0 or more";

fn no_keys(src: &Source, name: FaultName, fault: Fault) -> Result<Fault> {
    own_keys::<NoKeys>(src, name)?;
    Ok(fault)
}

/// The key's value, or its default; one outside `ok` is an error at the value.
fn value<T: Copy + Display>(
    src: &Source,
    key: &str,
    v: Option<Spanned<T>>,
    default: T,
    ok: impl Fn(T) -> bool,
    rule: &str,
) -> Result<T> {
    v.map_or(Ok(default), |v| checked(src, key, v, ok, rule))
}

/// The key's value if `ok`, else an error at the value saying the `rule`.
fn checked<T: Copy + Display>(
    src: &Source,
    key: &str,
    v: Spanned<T>,
    ok: impl Fn(T) -> bool,
    rule: &str,
) -> Result<T> {
    if ok(*v.get_ref()) {
        Ok(*v.get_ref())
    } else {
        Err(src.at(v.span(), format_args!("{key} = {}: {rule}", v.get_ref())))
    }
}

/// Reads `[simulate]` again, into the struct of the fault `name`.
fn own_keys<K: DeserializeOwned>(src: &Source, name: FaultName) -> Result<K> {
    // Everything but `simulate` was checked by the first pass.
    #[derive(Deserialize)]
    struct Only<K> {
        simulate: K,
    }
    toml::from_str::<Only<K>>(src.text)
        .map(|o| o.simulate)
        .map_err(|e| foreign_key(src, &e, name))
}

/// serde's "unknown field" in a fault's table means a key of another fault
/// (or a typo): say which keys this fault takes instead.
fn foreign_key(src: &Source, e: &toml::de::Error, name: FaultName) -> Error {
    let (Some((key, expected)), Some(span)) = (unknown_field(e.message()), e.span()) else {
        return src.toml_error(e);
    };
    let takes: Vec<&str> = expected.into_iter().filter(|k| *k != "fault").collect();
    let which = match takes.split_last() {
        None => "which takes no keys".to_string(),
        Some((last, [])) => format!("which takes only {last}"),
        Some((last, rest)) => format!("which takes {} and {last}", rest.join(", ")),
    };
    src.at(
        span,
        format_args!(
            "{key:?} does not apply to fault {:?}, {which}{}",
            name.as_str(),
            suggest(key, &takes)
        ),
    )
}
