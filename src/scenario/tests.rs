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
    assert_eq!(
        p.backups.location,
        Some(crate::catalog::place::Place::Folder(PathBuf::from(
            "/s/backups"
        )))
    );
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
fn a_misspelt_value_is_located_with_a_suggestion() {
    let m = refused(&GOOD.replace("if-present", "if-presnt"));
    assert!(m.starts_with("x.toml:11:12:"), "{m}");
    assert!(m.contains("did you mean `if-present`?"), "{m}");
}

#[test]
fn two_expectations_on_one_check_are_refused_at_the_check() {
    let m = refused(&GOOD.replace("{ at_least = 1 }", "{ at_least = 1, at_most = 3 }"));
    assert!(m.contains("exactly one of"), "{m}");
    assert!(m.starts_with("x.toml:16:"), "{m}");
}

/// A scenario with `[simulate]` at line 7, `fault` at line 8 and `rest` from
/// line 9 on.
fn simulating(fault: &str, rest: &str) -> String {
    format!(
        "name = \"t\"\n[backups]\nlocation = \"b\"\n[target]\nimage = \"i\"\n\n\
         [simulate]\nfault = \"{fault}\"\n{rest}\n"
    )
}

/// The message of a scenario that must be refused, checked to be a usage error.
fn refused(text: &str) -> String {
    let e = parse(Path::new("x.toml"), text).expect_err("must be refused");
    assert_eq!(e.kind(), crate::ErrorKind::Usage, "{e}");
    e.to_string()
}

/// One `#[test]` per refused scenario, so a failure names its input. Each
/// asserts the whole message, and through [`refused`] that it is a usage
/// error (exit 2).
macro_rules! refusals {
    ($($name:ident: $text:expr => $want:expr;)+) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(refused(&$text), $want);
            }
        )+
    };
}

/// As [`refusals`], where part of the message is another library's words (a
/// URL's or an address's parser): each case names the parts that must hold,
/// as `starts`, `has` or `lacks` (what must never be echoed).
macro_rules! refusals_where {
    ($($name:ident: $text:expr => $($test:ident $part:expr),+;)+) => {
        $(
            #[test]
            fn $name() {
                let m = refused(&$text);
                $(assert!($test(&m, $part), "{} {:?}: {m}", stringify!($test), $part);)+
            }
        )+
    };
}

fn starts(m: &str, part: &str) -> bool {
    m.starts_with(part)
}

fn has(m: &str, part: &str) -> bool {
    m.contains(part)
}

fn lacks(m: &str, part: &str) -> bool {
    !m.contains(part)
}

fn fault_of(text: &str) -> Fault {
    let plan = parse(Path::new("x.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    plan.simulate.expect("a fault")
}

#[test]
fn every_fault_parses_with_its_defaults() {
    let defaults = [
        Fault::CorruptBackup { flips: 16, seed: 1 },
        Fault::TruncatedBackup { fraction: 0.5 },
        Fault::StaleBackups { days: 3.0 },
        Fault::LostKey,
        Fault::WrongKey,
        Fault::DiskFull { tmpfs_mb: None },
        Fault::RestoreKilled { fraction: 0.5 },
        Fault::Ransomware,
        Fault::LostServer {
            writes_per_second: 20,
            seconds_before_backup: 2.0,
            seconds_after_backup: 3.0,
        },
    ];
    for want in defaults {
        assert_eq!(fault_of(&simulating(want.name(), "")), want);
    }
}

#[test]
fn every_fault_parses_with_its_own_keys() {
    let cases = [
        (
            "flips = 3\nseed = 9",
            Fault::CorruptBackup { flips: 3, seed: 9 },
        ),
        ("fraction = 0", Fault::TruncatedBackup { fraction: 0.0 }),
        ("days = 0.5", Fault::StaleBackups { days: 0.5 }),
        ("", Fault::LostKey),
        ("", Fault::WrongKey),
        ("tmpfs_mb = 80", Fault::DiskFull { tmpfs_mb: Some(80) }),
        ("fraction = 1.0", Fault::RestoreKilled { fraction: 1.0 }),
        ("", Fault::Ransomware),
        (
            "writes_per_second = 5\nseconds_before_backup = 0\nseconds_after_backup = 1.5",
            Fault::LostServer {
                writes_per_second: 5,
                seconds_before_backup: 0.0,
                seconds_after_backup: 1.5,
            },
        ),
    ];
    for (keys, want) in cases {
        assert_eq!(fault_of(&simulating(want.name(), keys)), want, "{keys}");
    }
}

/// A key of another fault is refused at its line.
mod a_key_of_another_fault {
    use super::*;

    refusals! {
        on_a_fault_without_keys: simulating("lost-key", "flips = 3")
            => "x.toml:9:1: \"flips\" does not apply to fault \"lost-key\", which takes no keys";
        after_one_of_its_own: simulating("corrupt-backup", "seed = 2\nfraction = 0.5")
            => "x.toml:10:1: \"fraction\" does not apply to fault \"corrupt-backup\", which takes flips and seed";
        on_a_fault_with_one_key: simulating("disk-full", "writes_per_second = 5")
            => "x.toml:9:1: \"writes_per_second\" does not apply to fault \"disk-full\", which takes only tmpfs_mb";
        on_a_fault_with_three_keys: simulating("lost-server", "days = 3")
            => "x.toml:9:1: \"days\" does not apply to fault \"lost-server\", which takes writes_per_second, seconds_before_backup and seconds_after_backup";
    }
}

#[test]
fn a_foreign_key_before_the_fault_is_located_too() {
    let text = "name = \"t\"\n[backups]\n[target]\nimage = \"i\"\n[simulate]\n\
                tmpfs_mb = 80\nfault = \"ransomware\"\n";
    let m = refused(text);
    assert!(
        m.starts_with("x.toml:6:1: \"tmpfs_mb\" does not apply to fault \"ransomware\""),
        "{m}"
    );
}

#[test]
fn a_misspelt_fault_key_suggests_the_faults_own() {
    let m = refused(&simulating("corrupt-backup", "flip = 3"));
    assert_eq!(
        m,
        "x.toml:9:1: \"flip\" does not apply to fault \"corrupt-backup\", which takes flips and seed; did you mean `flips`?"
    );
}

#[test]
fn a_fault_key_of_the_wrong_type_is_located() {
    let m = refused(&simulating("corrupt-backup", "flips = \"many\""));
    assert!(m.starts_with("x.toml:9:9: invalid type: string"), "{m}");
}

#[test]
fn an_unknown_fault_suggests_the_nearest() {
    let m = refused(&simulating("lost-keys", ""));
    assert!(
        m.starts_with("x.toml:8:9: unknown fault \"lost-keys\": use \"corrupt-backup\", "),
        "{m}"
    );
    assert!(m.contains("\"ransomware\" or \"lost-server\""), "{m}");
    assert!(m.ends_with("; did you mean `lost-key`?"), "{m}");
}

/// A fault's value out of its range is refused at the value.
mod a_fault_value_out_of_range {
    use super::*;

    refusals! {
        truncated_backup_keeping_all: simulating("truncated-backup", "fraction = 1.0")
            => "x.toml:9:12: fraction = 1: the part kept must be at least 0 and below 1";
        truncated_backup_keeping_less_than_nothing: simulating("truncated-backup", "fraction = -0.1")
            => "x.toml:9:12: fraction = -0.1: the part kept must be at least 0 and below 1";
        truncated_backup_keeping_nan: simulating("truncated-backup", "fraction = nan")
            => "x.toml:9:12: fraction = NaN: the part kept must be at least 0 and below 1";
        restore_killed_before_reading: simulating("restore-killed", "fraction = 0")
            => "x.toml:9:12: fraction = 0: the part read before the kill must be above 0 and at most 1";
        restore_killed_past_the_end: simulating("restore-killed", "fraction = 1.5")
            => "x.toml:9:12: fraction = 1.5: the part read before the kill must be above 0 and at most 1";
        corrupt_backup_with_no_flips: simulating("corrupt-backup", "flips = 0")
            => "x.toml:9:9: flips = 0: must be at least 1";
        lost_server_with_no_writes: simulating("lost-server", "writes_per_second = 0")
            => "x.toml:9:21: writes_per_second = 0: must be at least 1";
        lost_server_with_negative_seconds: simulating("lost-server", "seconds_after_backup = -1")
            => "x.toml:9:24: seconds_after_backup = -1: must be a finite number, 0 or more";
        stale_backups_infinitely_old: simulating("stale-backups", "days = inf")
            => "x.toml:9:8: days = inf: must be a finite number, 0 or more";
        disk_full_with_no_room: simulating("disk-full", "tmpfs_mb = 0")
            => "x.toml:9:12: tmpfs_mb = 0: must be at least 1";
    }
}

/// `GOOD` with `line` first in `[table]`: at line 4 in `[backups]`, 6 in
/// `[target]`.
fn good_with(table: &str, line: &str) -> String {
    GOOD.replace(&format!("[{table}]\n"), &format!("[{table}]\n{line}\n"))
}

#[test]
fn an_unknown_engine_suggests_the_nearest() {
    let m = refused(&good_with("target", "engine = \"postgress\""));
    assert_eq!(
        m,
        "x.toml:6:10: unknown engine \"postgress\": use \"postgres\" or \"mariadb\"; did you mean `postgres`?"
    );
}

#[test]
fn an_image_of_the_other_engine_is_refused_at_the_image() {
    // good_with's [target] names restore-drill/postgres:15.
    let m = refused(&good_with("target", "engine = \"mariadb\""));
    assert!(
        m.contains("image restore-drill/postgres:15 is a PostgreSQL image, but the scenario's engine is MariaDB"),
        "{m}"
    );
    assert!(m.contains("set engine = \"postgres\""), "{m}");
}

/// (Comparisons on MariaDB: `a_comparison_runs_on_mariadb_and_refuses_...`.)
#[test]
fn mariadb_drills_are_accepted() {
    let ok = good_with("target", "engine = \"mariadb\"")
        .replace("restore-drill/postgres:15", "restore-drill/mariadb:10.11");
    assert!(parse(Path::new("x.toml"), &ok).is_ok(), "{ok}");
    let faulty = format!("{ok}\n[simulate]\nfault = \"restore-killed\"\n");
    assert!(parse(Path::new("x.toml"), &faulty).is_ok(), "{faulty}");
}

#[test]
fn an_unknown_select_suggests_the_nearest() {
    let m = refused(&good_with("backups", "select = \"latest-befor\""));
    assert_eq!(
        m,
        "x.toml:4:10: unknown select \"latest-befor\": use \"latest\" or \"latest-before\"; did you mean `latest-before`?"
    );
}

#[test]
fn an_unknown_manifest_policy_suggests_the_nearest() {
    let m = refused(&GOOD.replace("if-present", "of"));
    assert_eq!(
        m,
        "x.toml:11:12: unknown manifest policy \"of\": use \"required\", \"deep\", \"if-present\" or \"off\"; did you mean `off`?"
    );
}

#[test]
fn an_unknown_verdict_suggests_the_nearest() {
    let m = refused(&format!("{GOOD}[expect]\nverdict = \"eror\"\n"));
    assert_eq!(
        m,
        "x.toml:18:11: unknown verdict \"eror\": use \"passed\", \"failed\", \"unrecoverable\" or \"error\"; did you mean `error`?"
    );
}

#[test]
fn every_verdict_is_kept_as_written() {
    for v in ["passed", "failed", "unrecoverable", "error"] {
        let text = format!("{GOOD}[expect]\nverdict = \"{v}\"\n");
        let plan = parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.expect.and_then(|e| e.verdict).as_deref(), Some(v));
    }
}

#[test]
fn latest_before_needs_before() {
    let m = refused(&good_with("backups", "select = \"latest-before\""));
    assert_eq!(
        m,
        "x.toml:4:10: select = \"latest-before\" needs `before = \"2026-11-01T00:00:00Z\"`"
    );
}

#[test]
fn latest_before_with_before_is_read() {
    let text = good_with(
        "backups",
        "select = \"latest-before\"\nbefore = \"2026-11-01T00:00:00Z\"",
    );
    let plan = parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let t = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").expect("time");
    assert_eq!(
        plan.backups.select,
        Select::LatestBefore(t.with_timezone(&Utc))
    );
}

/// `before` goes with select = "latest-before" only.
mod before_without_latest_before {
    use super::*;

    refusals! {
        alone: good_with("backups", "before = \"2026-11-01T00:00:00Z\"")
            => "x.toml:4:10: `before` goes with select = \"latest-before\"";
        with_latest: good_with("backups", "before = \"2026-11-01T00:00:00Z\"\nselect = \"latest\"")
            => "x.toml:4:10: `before` goes with select = \"latest-before\"";
    }
}

#[test]
fn timeouts_have_defaults() {
    let plan = parse(Path::new("x.toml"), GOOD).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.target.stall_timeout, Duration::from_secs(120));
    assert_eq!(plan.target.restore_timeout, Duration::from_secs(240 * 60));
}

#[test]
fn timeouts_are_read() {
    let text = good_with(
        "target",
        "stall_timeout_seconds = 30\nrestore_timeout_minutes = 90",
    );
    let plan = parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.target.stall_timeout, Duration::from_secs(30));
    assert_eq!(plan.target.restore_timeout, Duration::from_secs(90 * 60));
}

/// A timeout of zero is refused at the value.
mod a_timeout_of_zero {
    use super::*;

    refusals! {
        for_a_stall: good_with("target", "stall_timeout_seconds = 0")
            => "x.toml:6:25: stall_timeout_seconds = 0: a timeout must be at least 1";
        for_the_restore: good_with("target", "restore_timeout_minutes = 0")
            => "x.toml:6:27: restore_timeout_minutes = 0: a timeout must be at least 1";
        for_the_checks: good_with("checks", "timeout_seconds = 0")
            => "x.toml:11:19: timeout_seconds = 0: a timeout must be at least 1";
    }
}

#[test]
fn the_database_to_check_is_read() {
    let text = good_with("target", "database = \"opendental\"");
    let plan = parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.target.database.as_deref(), Some("opendental"));
}

#[test]
fn a_database_name_with_a_space_is_refused_at_the_value() {
    let m = refused(&good_with("target", "database = \"open dental\""));
    assert!(
        m.starts_with("x.toml:6:12: database: a database name of 1 to 63 letters"),
        "{m}"
    );
}

#[test]
fn an_empty_database_name_is_refused_at_the_value() {
    let m = refused(&good_with("target", "database = \"\""));
    assert!(m.starts_with("x.toml:6:12:"), "{m}");
}

/// Accounts and password hashes: the read-only role must never get them.
#[test]
fn the_servers_own_database_is_refused_at_the_value() {
    let m = refused(&good_with("target", "database = \"MySQL\""));
    assert!(
        m.starts_with("x.toml:6:12: database = \"MySQL\" is the server's own database"),
        "{m}"
    );
}

#[test]
fn every_shipped_scenario_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            if let Err(e) = parse(&path, &text) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 12, "only {seen} scenarios");
}

mod compare;
mod notify;

#[test]
fn a_drill_without_an_image_is_refused_at_target() {
    let m = refused("name = \"t\"\n[backups]\nlocation = \"b\"\n[target]\nmemory_mb = 512\n");
    assert!(m.contains("x.toml:4:1: [target] needs `image`"), "{m}");
}

#[test]
fn a_checks_time_bound_has_a_default_and_is_read() {
    let plan = parse(Path::new("x.toml"), GOOD).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.checks.timeout, Duration::from_secs(3600));
    let text = good_with("checks", "timeout_seconds = 30");
    let plan = parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.checks.timeout, Duration::from_secs(30));
}

fn site_file(text: &str) -> Result<SiteFile> {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("site.toml");
    std::fs::write(&path, text).expect("write");
    load_site_file(&path)
}

#[test]
fn the_shipped_site_file_names_the_clinic_and_its_contractor() {
    let text = include_str!("../../packaging/site.toml");
    let s = site_file(text).expect("the example site file is valid");
    assert_eq!(s.site.as_deref(), Some("Main Street Eye Care"));
    let c = s.contacts.expect("contacts");
    let clinic = c.clinic.expect("clinic");
    assert_eq!(clinic.name.as_deref(), Some("Main Street Eye Care LLC"));
    assert_eq!(
        c.contractor.expect("contractor").line(),
        "Northside IT Services, Sam Lee, sam@northside-it.example, +1 555 0199"
    );
}

#[test]
fn a_contact_of_two_lines_is_refused_at_its_table() {
    let e = site_file("site = \"x\"\n\n[contractor]\nname = \"a\\nb\"\n")
        .expect_err("two lines")
        .to_string();
    assert!(e.contains("site.toml:3"), "{e}");
    assert!(
        e.contains("one line of 1 to 100 printable characters"),
        "{e}"
    );
}

#[test]
fn an_unknown_contact_key_is_refused_with_its_line() {
    let e = site_file("[clinic]\nname = \"a\"\nfax = \"1\"\n")
        .expect_err("unknown key")
        .to_string();
    assert!(e.contains("site.toml:3"), "{e}");
    assert!(e.contains("fax"), "{e}");
}
mod fleet;
