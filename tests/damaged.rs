#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Every damaged stream ends promptly. A backup cut off while it was being
//! written has no manifest, so nothing checks its size before the restore: the
//! restore itself must notice, in whatever layer, and stop within seconds
//! instead of waiting forever for bytes that will never come.
//!
//! Five kinds of backup made with the real CLIs (age, armored age, zstd, gzip,
//! plain SQL) times four kinds of damage (cut at 10 %, 50 % and 90 %, 4 KiB of
//! garbage in the middle), each through `run` and through `restore`: one test
//! per case, so a failure names its case.

mod common;

use common::*;
use restore_drill::report::{AttemptOutcome, Verdict};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the brief promises: a damaged backup is known for what it is within
/// seconds. The hard stop is later, so a slow-but-finishing run is told apart
/// from a hung one.
const PROMPT: Duration = Duration::from_secs(30);
const HARD_STOP: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `zstd | age -r`: a nightly backup, but with no manifest beside it.
    Age,
    /// `zstd | age -a -r`.
    ArmoredAge,
    /// `zstd`, no encryption.
    Zstd,
    /// `gzip` of the custom-format dump.
    Gzip,
    /// pg_dump's plain SQL as is.
    PlainSql,
}

impl Kind {
    /// Named the way a backup job would name it, with the time stamp list.rs
    /// reads from names (no manifest here to date it).
    fn file_name(self) -> &'static str {
        match self {
            Kind::Age => "clinic-20261101T020000Z.dump.zst.age",
            Kind::ArmoredAge => "clinic-20261101T020000Z.dump.zst.age.asc",
            Kind::Zstd => "clinic-20261101T020000Z.dump.zst",
            Kind::Gzip => "clinic-20261101T020000Z.dump.gz",
            Kind::PlainSql => "clinic-20261101T020000Z.sql",
        }
    }

    /// The real CLIs that make it: $1 the dump, $2 the recipient, $3 the output.
    fn script(self) -> &'static str {
        match self {
            Kind::Age => "zstd -q -c \"$1\" | age -r \"$2\" > \"$3\"",
            Kind::ArmoredAge => "zstd -q -c \"$1\" | age -a -r \"$2\" > \"$3\"",
            Kind::Zstd => "zstd -q -c \"$1\" > \"$3\"",
            Kind::Gzip => "gzip -c \"$1\" > \"$3\"",
            Kind::PlainSql => "cp \"$1\" \"$3\"",
        }
    }

    fn dump(self, clinic: &SharedClinic) -> &Path {
        match self {
            Kind::PlainSql => &clinic.plain,
            _ => &clinic.custom,
        }
    }

    /// The layer the message must blame: the outermost one that can notice.
    /// Armor is only base64 around age, so its damage is age's.
    fn layer(self) -> &'static str {
        match self {
            Kind::Age | Kind::ArmoredAge => "age",
            Kind::Zstd => "zstd",
            Kind::Gzip => "gzip",
            Kind::PlainSql => "plain SQL",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Truncated to this percentage of its size.
    Cut(u64),
    /// 4 KiB of random bytes overwrite the middle; the size is unchanged.
    Garbage,
}

impl Damage {
    /// What the message must say happened.
    fn words(self) -> &'static str {
        match self {
            Damage::Cut(_) => "ends early",
            Damage::Garbage => "damaged",
        }
    }
}

/// Garbage in a plain SQL dump is not a layer error: the SQL still reads to
/// its end (completion line included) and psql itself refuses the bytes, so
/// the restore tool is blamed.
fn blames_the_restore_tool(kind: Kind, damage: Damage) -> bool {
    matches!((kind, damage), (Kind::PlainSql, Damage::Garbage))
}

/// Makes the damaged backup alone in `dir/b` and returns (that folder, the file).
fn damaged_backup(kind: Kind, damage: Damage, dir: &Path) -> (PathBuf, PathBuf) {
    let clinic = shared_clinic();
    let whole = dir.join("whole");
    shell(
        kind.script(),
        &[
            kind.dump(clinic).as_os_str(),
            clinic.key.public.as_ref(),
            whole.as_os_str(),
        ],
    );
    let mut bytes = std::fs::read(&whole).unwrap();
    std::fs::remove_file(&whole).unwrap();
    // Big enough that 10 % is well past every header: the damage is in the data.
    assert!(
        bytes.len() > 200_000,
        "{kind:?}: only {} bytes",
        bytes.len()
    );
    match damage {
        Damage::Cut(percent) => bytes.truncate(bytes.len() * percent as usize / 100),
        Damage::Garbage => {
            use rand::{RngCore, SeedableRng};
            // A fixed seed: a failing case fails the same way every time.
            let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_da7a);
            let start = bytes.len() / 2 - 2048;
            rng.fill_bytes(&mut bytes[start..start + 4096]);
        }
    }
    let backups = dir.join("b");
    std::fs::create_dir(&backups).unwrap();
    let file = backups.join(kind.file_name());
    std::fs::write(&file, &bytes).unwrap();
    (backups, file)
}

/// Whether `text` blames `layer`: "the zstd stream ...", "its zstd layer ...",
/// "its PostgreSQL plain SQL dump ...". Armor is age's own: "the age (armored)
/// stream" blames age. (A bare "age" would match "damaged" or the ".age" of
/// the file name.)
fn names_layer(text: &str, layer: &str) -> bool {
    ["", " (armored)"].iter().any(|armor| {
        [" stream", " layer", " dump"]
            .iter()
            .any(|what| text.contains(&format!("{layer}{armor}{what}")))
    })
}

/// The restore tool for plain SQL is psql; its own failure is named as such.
const PSQL_FAILED: &str = "restore tool psql failed";

/// `restore-drill run` on a folder holding only the damaged backup.
fn drill_case(kind: Kind, damage: Damage) {
    let tmp = tempdir();
    let (backups, _) = damaged_backup(kind, damage, tmp.path());
    let scenario = tmp.path().join("damaged.toml");
    // No manifest beside a cut-off backup: nothing can check its size first.
    std::fs::write(
        &scenario,
        "name = \"damaged backup\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n\
         [checks]\nmanifest = \"if-present\"\n",
    )
    .unwrap();
    let reports = tmp.path().join("reports");
    let key = &shared_clinic().key.path;
    let f = run_tracked_within(
        &[
            "--json".as_ref(),
            "run".as_ref(),
            scenario.as_os_str(),
            "--backups".as_ref(),
            backups.as_os_str(),
            "--identity".as_ref(),
            key.as_os_str(),
            "--report-dir".as_ref(),
            reports.as_os_str(),
        ],
        HARD_STOP,
    );
    let context = format!(
        "{kind:?} {damage:?}\nstdout:\n{}\nstderr:\n{}",
        f.stdout, f.stderr
    );
    assert_eq!(f.code, 4, "{context}");
    let r = report_of(&f.stdout);
    assert_eq!(r.verdict, Verdict::Unrecoverable, "{context}");
    let attempt = &r.attempts[0];
    assert_eq!(attempt.outcome, AttemptOutcome::Unusable, "{context}");
    let reason = attempt.reason.as_ref().unwrap().as_str();
    let finding = attempt.finding.as_ref().unwrap().as_str();
    if blames_the_restore_tool(kind, damage) {
        assert!(reason.contains(PSQL_FAILED), "{reason}");
    } else {
        assert!(names_layer(reason, kind.layer()), "{reason}");
        assert!(reason.contains(damage.words()), "{reason}");
        assert!(names_layer(finding, kind.layer()), "{finding}");
    }
    assert!(
        f.elapsed < PROMPT,
        "{kind:?} {damage:?}: took {:?}",
        f.elapsed
    );
}

/// `restore-drill restore FILE`: the same damage, the same promptness.
fn restore_case(kind: Kind, damage: Damage) {
    let tmp = tempdir();
    let (_, file) = damaged_backup(kind, damage, tmp.path());
    let key = &shared_clinic().key.path;
    let f = run_tracked_within(
        &[
            "restore".as_ref(),
            file.as_os_str(),
            "--identity".as_ref(),
            key.as_os_str(),
        ],
        HARD_STOP,
    );
    let err = &f.stderr;
    assert_eq!(f.code, 4, "{kind:?} {damage:?}\n{}\n{err}", f.stdout);
    if blames_the_restore_tool(kind, damage) {
        assert!(err.contains(PSQL_FAILED), "{err}");
    } else {
        assert!(names_layer(err, kind.layer()), "{err}");
        assert!(err.contains(damage.words()), "{err}");
    }
    assert!(
        f.elapsed < PROMPT,
        "{kind:?} {damage:?}: took {:?}",
        f.elapsed
    );
}

/// One module per damage, two tests in each: `zstd::cut_at_10_percent::run_...`.
macro_rules! damage {
    ($kind:expr, $name:ident, $damage:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn run_is_unrecoverable_within_30_s_naming_the_layer() {
                drill_case($kind, $damage)
            }

            #[test]
            fn restore_exits_4_within_30_s_naming_the_layer() {
                restore_case($kind, $damage)
            }
        }
    };
}

macro_rules! kind {
    ($name:ident, $kind:expr) => {
        mod $name {
            use super::*;
            damage!($kind, cut_at_10_percent, Damage::Cut(10));
            damage!($kind, cut_at_50_percent, Damage::Cut(50));
            damage!($kind, cut_at_90_percent, Damage::Cut(90));
            damage!($kind, garbage_in_the_middle, Damage::Garbage);
        }
    };
}

kind!(age, Kind::Age);
kind!(armored_age, Kind::ArmoredAge);
kind!(zstd, Kind::Zstd);
kind!(gzip, Kind::Gzip);
kind!(plain_sql, Kind::PlainSql);
