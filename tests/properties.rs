//! Property tests for the two parsers that read what a user hands the tool:
//! the scenario parser (any text: no panic, and every refusal says where in
//! the file) and the sniffer that tells what a backup file is (any bytes,
//! bare or inside real gzip and zstd layers, whole, cut or flipped: no panic,
//! a typed answer). No Docker. The number of cases is bounded so this file
//! runs in seconds in CI; `PROPTEST_CASES=100000` hunts longer by hand.

use proptest::prelude::*;
use restore_drill::pipeline::sniff::{sniff, SNIFF_LEN};
use restore_drill::pipeline::{open_layers, DumpFormat, Layer};
use restore_drill::scenario;
use std::io::Read;
use std::path::{Path, PathBuf};

/// 2,048 cases a property (a few seconds for the file in a debug build),
/// unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2048);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------- the scenario parser ----------

/// In a folder that does not exist, so a `queries` file named by a generated
/// scenario is never read from the machine running the test.
const SCENARIO: &str = "/nonexistent-restore-drill/s.toml";

/// Parses `text`; a refusal must start with `file:line:col: `.
fn parse_located(text: &str) -> Result<(), TestCaseError> {
    let Err(e) = scenario::parse(Path::new(SCENARIO), text) else {
        return Ok(());
    };
    let m = e.to_string();
    prop_assert!(
        located(&m),
        "refused without a place in the file: {m:?}\n{text}"
    );
    prop_assert_eq!(e.kind(), restore_drill::error::ErrorKind::Usage, "{}", m);
    Ok(())
}

/// Whether `m` starts with `SCENARIO:LINE:COL: ` (line and column from 1).
fn located(m: &str) -> bool {
    let Some(rest) = m.strip_prefix(SCENARIO).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number = |p: Option<&str>| {
        p.and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|n| n >= 1)
    };
    number(parts.next()) && number(parts.next()) && parts.next().is_some_and(|t| t.starts_with(' '))
}

const TABLES: &[&str] = &[
    "",
    "[backups]",
    "[target]",
    "[objectives]",
    "[checks]",
    "[[checks.sql]]",
    "[[checks.freshness]]",
    "[simulate]",
    "[expect]",
    "[notify]",
    "[notify.email]",
    "[compare]",
    "[keys]",
    "[report]",
    "[target.x]",
    "[[backups]]",
];

/// Every key the scenario format knows, in whatever table, and one it does not.
const KEYS: &[&str] = &[
    "name",
    "site",
    "description",
    "location",
    "select",
    "before",
    "offsite",
    "engine",
    "image",
    "database",
    "memory_mb",
    "cpus",
    "stall_timeout_seconds",
    "restore_timeout_minutes",
    "ready_timeout_seconds",
    "max_restored_gb",
    "rto_seconds",
    "rpo_hours",
    "manifest",
    "invariants",
    "timeout_seconds",
    "query",
    "expect",
    "at_least",
    "at_most",
    "equals",
    "between",
    "table",
    "column",
    "max_lag_hours",
    "foreign_keys",
    "fault",
    "flips",
    "seed",
    "fraction",
    "days",
    "tmpfs_mb",
    "writes_per_second",
    "seconds_before_backup",
    "seconds_after_backup",
    "verdict",
    "detection",
    "recovered_from",
    "decrypted_with",
    "on",
    "webhook",
    "smtp",
    "from",
    "to",
    "tls",
    "user",
    "password",
    "password_env",
    "password_file",
    "targets",
    "queries",
    "slower_than",
    "query_timeout_seconds",
    "ignore_below_ms",
    "identities",
    "passphrase_env",
    "dir",
    "metrics",
    "no_rows",
    "fallback",
    "sql",
    "email",
    "rto_secnds",
];

/// Values of every type, at and past the edges the parser checks.
const VALUES: &[&str] = &[
    "\"t\"",
    "\"\"",
    "0",
    "1",
    "-1",
    "0.5",
    "1.0",
    "1.5",
    "2",
    "600",
    "26",
    "nan",
    "inf",
    "-inf",
    "-0.0",
    "true",
    "18446744073709551616",
    "9223372036854775807",
    "[]",
    "[\"a:15\"]",
    "[\"a:15\", \"a:17\"]",
    "[\"restore-drill/mariadb:10.11\", \"restore-drill/postgres:17\"]",
    "{ at_least = 1 }",
    "{ at_least = 1, at_most = 3 }",
    "{ between = [1, 2] }",
    "{}",
    "\"latest\"",
    "\"latest-before\"",
    "\"2026-11-01T00:00:00Z\"",
    "2026-11-01T00:00:00Z",
    "\"restore-drill/postgres:15\"",
    "\"restore-drill/mariadb:10.11\"",
    "\"postgres\"",
    "\"mariadb\"",
    "\"postgress\"",
    "\"if-present\"",
    "\"required\"",
    "\"deep\"",
    "\"off\"",
    "\"clinic\"",
    "\"corrupt-backup\"",
    "\"truncated-backup\"",
    "\"lost-server\"",
    "\"disk-full\"",
    "\"ransomware\"",
    "\"lost-key\"",
    "\"passed\"",
    "\"failed\"",
    "\"unrecoverable\"",
    "\"always\"",
    "\"failure\"",
    "\"none\"",
    "\"tls\"",
    "\"starttls\"",
    "\"smtp://localhost\"",
    "\"smtp://u:pw@mail.example\"",
    "\"https://c.example/h\"",
    "\"ftp://x\"",
    "\"it@clinic.example\"",
    "[\"it@clinic.example\"]",
    "\"MySQL\"",
    "\"open dental\"",
    "\"q.sql\"",
    "\"SELECT count(*) FROM patients\"",
    "\"\\u00e9\"",
    "\"\\u202e\"",
    "\"a\\nb\"",
    "'''x'''",
];

/// One line of a scenario: a table header or a key with a value.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(TABLES).prop_map(str::to_string),
        4 => pair(),
    ]
}

/// A known key with a value of any type.
fn pair() -> impl Strategy<Value = String> {
    (prop::sample::select(KEYS), prop::sample::select(VALUES))
        .prop_map(|(k, v)| format!("{k} = {v}"))
}

/// A line that is rarely TOML.
fn noise() -> impl Strategy<Value = String> {
    "[ -~]{0,24}"
}

/// Up to `max` different known keys, each with a value of any type.
fn pairs(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(KEYS, 0..max)
        .prop_flat_map(|keys| {
            let values = prop::collection::vec(prop::sample::select(VALUES), keys.len());
            (Just(keys), values)
        })
        .prop_map(|(keys, values)| {
            keys.iter()
                .zip(values)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect()
        })
}

/// A named scenario of different known tables, each with different known
/// keys and values: TOML most of the time, so the checks after the TOML
/// parser are reached.
fn assembled() -> impl Strategy<Value = String> {
    let tables = prop::sample::subsequence(TABLES, 0..7)
        .prop_flat_map(|t| (Just(t.clone()), prop::collection::vec(pairs(5), t.len())));
    (pairs(3), tables).prop_map(|(top, (headers, bodies))| {
        let mut lines = vec!["name = \"t\"".to_string()];
        lines.extend(top);
        for (header, body) in headers.iter().zip(bodies) {
            lines.push(header.to_string());
            lines.extend(body);
        }
        lines.join("\n")
    })
}

/// The shipped scenarios, which the edits below start from.
fn shipped() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut texts = Vec::new();
    for dir in [root.clone(), root.join("mariadb")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("scenarios/")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        texts.extend(
            paths
                .iter()
                .map(|p| std::fs::read_to_string(p).expect("readable")),
        );
    }
    texts
}

/// One edit of a scenario's lines.
#[derive(Debug, Clone)]
enum Edit {
    /// The value of a `key = value` line replaced.
    Value(prop::sample::Index, &'static str),
    Delete(prop::sample::Index),
    Insert(prop::sample::Index, String),
    Replace(prop::sample::Index, String),
    /// A character inserted inside a line, at a character boundary.
    Splice(prop::sample::Index, prop::sample::Index, char),
    /// Everything from a byte (backed off to a boundary) on is lost.
    Cut(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<prop::sample::Index>;
    prop_oneof![
        6 => (i(), prop::sample::select(VALUES)).prop_map(|(at, v)| Edit::Value(at, v)),
        1 => i().prop_map(Edit::Delete),
        2 => (i(), line()).prop_map(|(at, l)| Edit::Insert(at, l)),
        1 => (i(), noise()).prop_map(|(at, l)| Edit::Replace(at, l)),
        1 => (i(), i(), any::<char>()).prop_map(|(l, c, ch)| Edit::Splice(l, c, ch)),
        1 => i().prop_map(Edit::Cut),
    ]
}

/// Sets the value of the `at`th `key = value` line, if there is one.
fn set_value(lines: &mut [String], at: &prop::sample::Index, value: &str) {
    let pairs: Vec<usize> = (0..lines.len())
        .filter(|&n| lines[n].contains(" = ") && !lines[n].trim_start().starts_with('#'))
        .collect();
    if pairs.is_empty() {
        return;
    }
    let n = pairs[at.index(pairs.len())];
    let key = lines[n].split(" = ").next().unwrap_or_default().to_string();
    lines[n] = format!("{key} = {value}");
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    match edit {
        Edit::Value(at, v) => set_value(&mut lines, at, v),
        Edit::Delete(at) => {
            lines.remove(at.index(lines.len()));
        }
        Edit::Insert(at, l) => lines.insert(at.index(lines.len() + 1), l.clone()),
        Edit::Replace(at, l) => {
            let at = at.index(lines.len());
            lines[at] = l.clone();
        }
        Edit::Splice(l, c, ch) => {
            let n = l.index(lines.len());
            let line = &mut lines[n];
            let at = line
                .char_indices()
                .map(|(i, _)| i)
                .chain([line.len()])
                .collect::<Vec<_>>();
            line.insert(at[c.index(at.len())], *ch);
        }
        Edit::Cut(at) => {
            let joined = lines.join("\n");
            let mut end = at.index(joined.len() + 1);
            while !joined.is_char_boundary(end) {
                end -= 1;
            }
            return joined[..end].to_string();
        }
    }
    lines.join("\n")
}

/// A shipped scenario with one to four edits.
fn edited() -> impl Strategy<Value = String> {
    (
        prop::sample::select(shipped()),
        prop::collection::vec(edit(), 1..5),
    )
        .prop_map(|(text, edits)| edits.iter().fold(text, |t, e| apply(&t, e)))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_scenario_parser_takes_any_text(text in any::<String>()) {
        parse_located(&text)?;
    }

    #[test]
    fn the_scenario_parser_takes_any_bytes_read_as_text(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        parse_located(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn the_scenario_parser_locates_what_it_refuses_in_assembled_scenarios(text in assembled()) {
        parse_located(&text)?;
    }

    #[test]
    fn the_scenario_parser_locates_what_it_refuses_in_edited_scenarios(text in edited()) {
        parse_located(&text)?;
    }
}

// ---------- the sniffer and the layers ----------

/// The first bytes of each kind of file the sniffer knows.
const MAGICS: &[&[u8]] = &[
    b"age-encryption.org/v1\n",
    b"  \n-----BEGIN AGE ENCRYPTED FILE-----\n",
    &[0x28, 0xb5, 0x2f, 0xfd],
    &[0x1f, 0x8b],
    b"PGDMP",
    b"-- MariaDB dump 10.19\n",
    b"-- MySQL dump 10.13\n",
    b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n",
    b"--\n-- PostgreSQL database dump\n",
    b"\xef\xbb\xbf-- PostgreSQL database dump\n",
    b"\\restrict abc\n",
    b"",
];

/// A file's content before any layer: random bytes, or random bytes after a
/// known kind's first bytes.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(MAGICS),
        prop::collection::vec(any::<u8>(), 0..2048),
    )
        .prop_map(|(magic, tail)| [magic, &tail[..]].concat())
}

#[derive(Debug, Clone, Copy)]
enum Wrap {
    Gzip,
    Zstd,
}

fn wrap(bytes: &[u8], w: Wrap) -> Vec<u8> {
    match w {
        Wrap::Zstd => zstd::encode_all(bytes, 1).expect("zstd"),
        Wrap::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, bytes).expect("gzip");
            e.finish().expect("gzip")
        }
    }
}

/// What happens to the file once written.
#[derive(Debug, Clone)]
enum Damage {
    None,
    Cut(prop::sample::Index),
    Flip(prop::sample::Index, u8),
}

/// A payload inside zero to seven real compression layers (past the six the
/// opener allows), then perhaps cut short or with a byte flipped.
fn file() -> impl Strategy<Value = Vec<u8>> {
    let wraps = prop::collection::vec(prop_oneof![Just(Wrap::Gzip), Just(Wrap::Zstd)], 0..8);
    let damage = prop_oneof![
        Just(Damage::None),
        any::<prop::sample::Index>().prop_map(Damage::Cut),
        (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(at, x)| Damage::Flip(at, x)),
    ];
    (payload(), wraps, damage).prop_map(|(payload, wraps, damage)| {
        let mut bytes = wraps.iter().fold(payload, |b, w| wrap(&b, *w));
        match damage {
            Damage::None => {}
            Damage::Cut(at) => bytes.truncate(at.index(bytes.len() + 1)),
            Damage::Flip(at, x) if !bytes.is_empty() => {
                let at = at.index(bytes.len());
                bytes[at] ^= x;
            }
            Damage::Flip(..) => {}
        }
        bytes
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_sniffer_names_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..=SNIFF_LEN)) {
        let layer = sniff(&bytes);
        // A layer is named only from its own first bytes.
        match layer {
            Layer::Zstd => prop_assert!(bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])),
            Layer::Gzip => prop_assert!(bytes.starts_with(&[0x1f, 0x8b])),
            Layer::Dump(DumpFormat::PostgresCustom) => prop_assert!(bytes.starts_with(b"PGDMP")),
            _ => {}
        }
    }

    #[test]
    fn the_sniffer_names_each_kind_by_its_first_bytes_whatever_follows(
        tail in prop::collection::vec(any::<u8>(), 0..SNIFF_LEN)
    ) {
        let head = |magic: &[u8]| {
            let mut h = [magic, &tail[..]].concat();
            h.truncate(SNIFF_LEN);
            sniff(&h)
        };
        prop_assert_eq!(head(MAGICS[0]), Layer::Age);
        prop_assert_eq!(head(MAGICS[1]), Layer::AgeArmored);
        prop_assert_eq!(head(MAGICS[2]), Layer::Zstd);
        prop_assert_eq!(head(MAGICS[3]), Layer::Gzip);
        prop_assert_eq!(head(MAGICS[4]), Layer::Dump(DumpFormat::PostgresCustom));
    }

    /// Opening reads through every layer to the dump, or says why it cannot
    /// (a typed error with a message); reading the dump after it never panics.
    #[test]
    fn any_file_opens_to_a_dump_or_a_reason(bytes in file()) {
        match open_layers(Box::new(std::io::Cursor::new(bytes)), &[]) {
            Ok(opened) => {
                prop_assert!(!opened.layers.is_empty());
                prop_assert!(opened.format != DumpFormat::Unknown);
                let mut sink = Vec::new();
                // Errors while streaming are the restore's to report: only no panic here.
                let _ = opened.reader.take(8 << 20).read_to_end(&mut sink);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}
