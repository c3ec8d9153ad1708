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

#[test]
fn a_key_of_another_fault_is_refused_at_its_line() {
    let cases = [
        (
            "lost-key",
            "flips = 3",
            "x.toml:9:1: \"flips\" does not apply to fault \"lost-key\", which takes no keys",
        ),
        (
            "corrupt-backup",
            "seed = 2\nfraction = 0.5",
            "x.toml:10:1: \"fraction\" does not apply to fault \"corrupt-backup\", which takes flips and seed",
        ),
        (
            "disk-full",
            "writes_per_second = 5",
            "x.toml:9:1: \"writes_per_second\" does not apply to fault \"disk-full\", which takes only tmpfs_mb",
        ),
        (
            "lost-server",
            "days = 3",
            "x.toml:9:1: \"days\" does not apply to fault \"lost-server\", which takes writes_per_second, seconds_before_backup and seconds_after_backup",
        ),
    ];
    for (fault, keys, want) in cases {
        assert_eq!(refused(&simulating(fault, keys)), want);
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

#[test]
fn fault_values_out_of_range_are_refused_at_the_value() {
    let cases = [
        ("truncated-backup", "fraction = 1.0", "x.toml:9:12: fraction = 1: the part kept must be at least 0 and below 1"),
        ("truncated-backup", "fraction = -0.1", "x.toml:9:12: fraction = -0.1: the part kept must be at least 0 and below 1"),
        ("truncated-backup", "fraction = nan", "x.toml:9:12: fraction = NaN: the part kept must be at least 0 and below 1"),
        ("restore-killed", "fraction = 0", "x.toml:9:12: fraction = 0: the part read before the kill must be above 0 and at most 1"),
        ("restore-killed", "fraction = 1.5", "x.toml:9:12: fraction = 1.5: the part read before the kill must be above 0 and at most 1"),
        ("corrupt-backup", "flips = 0", "x.toml:9:9: flips = 0: must be at least 1"),
        ("lost-server", "writes_per_second = 0", "x.toml:9:21: writes_per_second = 0: must be at least 1"),
        ("lost-server", "seconds_after_backup = -1", "x.toml:9:24: seconds_after_backup = -1: must be a finite number, 0 or more"),
        ("stale-backups", "days = inf", "x.toml:9:8: days = inf: must be a finite number, 0 or more"),
        ("disk-full", "tmpfs_mb = 0", "x.toml:9:12: tmpfs_mb = 0: must be at least 1"),
    ];
    for (fault, keys, want) in cases {
        assert_eq!(refused(&simulating(fault, keys)), want);
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

#[test]
fn before_needs_latest_before() {
    let want = "x.toml:4:10: `before` goes with select = \"latest-before\"";
    let m = refused(&good_with("backups", "before = \"2026-11-01T00:00:00Z\""));
    assert_eq!(m, want);
    let m = refused(&good_with(
        "backups",
        "before = \"2026-11-01T00:00:00Z\"\nselect = \"latest\"",
    ));
    assert_eq!(m, want);
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

#[test]
fn a_timeout_of_zero_is_refused() {
    let m = refused(&good_with("target", "stall_timeout_seconds = 0"));
    assert_eq!(
        m,
        "x.toml:6:25: stall_timeout_seconds = 0: a timeout must be at least 1"
    );
    let m = refused(&good_with("target", "restore_timeout_minutes = 0"));
    assert_eq!(
        m,
        "x.toml:6:27: restore_timeout_minutes = 0: a timeout must be at least 1"
    );
}

#[test]
fn the_database_to_check_is_read_and_bad_names_are_refused_at_the_value() {
    let text = good_with("target", "database = \"opendental\"");
    let plan = parse(Path::new("x.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.target.database.as_deref(), Some("opendental"));
    let m = refused(&good_with("target", "database = \"open dental\""));
    assert!(
        m.starts_with("x.toml:6:12: database: a database name of 1 to 63 letters"),
        "{m}"
    );
    assert!(refused(&good_with("target", "database = \"\"")).starts_with("x.toml:6:12:"));
    // Accounts and password hashes: the read-only role must never get them.
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

// ---------- [notify] ----------

/// `GOOD` followed by `[notify]` (at line 17) and `rest` (from line 18).
fn notifying(rest: &str) -> String {
    format!("{GOOD}[notify]\n{rest}\n")
}

const EMAIL: &str = "[notify.email]\nsmtp = \"smtp://mail.example.org\"\nfrom = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n";

#[test]
fn notify_defaults_to_failures_over_starttls() {
    let text = notifying(&format!(
        "webhook = \"https://chat.example/hooks/abc\"\n{EMAIL}user = \"drills\"\npassword_env = \"RESTORE_DRILL_SMTP_PASSWORD\"\n"
    ));
    let n = parse(Path::new("/s/x.toml"), &text)
        .expect("valid")
        .notify
        .expect("[notify]");
    assert_eq!(n.on, NotifyOn::Failure);
    assert!(n.is_due(1) && n.is_due(4) && !n.is_due(0));
    assert_eq!(
        n.webhook.map(|u| u.to_string()).as_deref(),
        Some("https://chat.example/hooks/abc")
    );
    let e = n.email.expect("email");
    assert_eq!(
        (e.host.as_str(), e.port, e.tls),
        ("mail.example.org", 587, SmtpTls::StartTls)
    );
    assert_eq!(e.to.len(), 1);
    let login = e.login.expect("login");
    assert_eq!(login.user, "drills");
    assert_eq!(
        login.password,
        PasswordSource::Env("RESTORE_DRILL_SMTP_PASSWORD".into())
    );
    let text = notifying(&format!(
        "on = \"always\"\n{EMAIL}tls = \"tls\"\nuser = \"d\"\npassword_file = \"smtp.password\"\n"
    ));
    let n = parse(Path::new("/s/x.toml"), &text)
        .expect("valid")
        .notify
        .expect("notify");
    assert!(n.is_due(0));
    let e = n.email.expect("email");
    assert_eq!((e.port, e.tls), (465, SmtpTls::Tls));
    assert_eq!(
        e.login.expect("login").password,
        PasswordSource::File(PathBuf::from("/s/smtp.password"))
    );
}

#[test]
fn a_password_in_the_scenario_is_refused_at_its_line_with_the_fix() {
    let m = refused(&notifying(&format!(
        "{EMAIL}user = \"d\"\npassword = \"hunter2\"\n"
    )));
    assert!(
        m.starts_with(
            "x.toml:23:12: `password`: never write a password in a scenario: use password_env"
        ),
        "{m}"
    );
    assert!(m.contains("password_file"), "{m}");
    assert!(!m.contains("hunter2"), "{m}");
}

#[test]
fn tls_none_is_only_for_a_relay_on_this_machine() {
    let none = |host: &str| {
        notifying(
            &EMAIL
                .replace("smtp://mail.example.org", host)
                .replace("to = [", "tls = \"none\"\nto = ["),
        )
    };
    let m = refused(&none("smtp://mail.example.org"));
    assert!(
        m.starts_with("x.toml:21:7: tls none sends the login and the alert in clear"),
        "{m}"
    );
    for host in ["smtp://localhost", "smtp://127.0.0.1:2525", "smtp://[::1]"] {
        let plan =
            parse(Path::new("x.toml"), &none(host)).unwrap_or_else(|e| panic!("{host}: {e}"));
        let e = plan.notify.and_then(|n| n.email).expect("email");
        assert_eq!(e.tls, SmtpTls::None);
        assert!(e.port == 25 || e.port == 2525, "{host}");
        assert!(!e.host.starts_with('['), "{}", e.host);
    }
}

#[test]
fn bad_notify_values_are_located() {
    let m = refused(&notifying(
        "on = \"allways\"\nwebhook = \"https://c.example/h\"",
    ));
    assert_eq!(
        m,
        "x.toml:18:6: unknown notify condition \"allways\": use \"failure\" or \"always\"; did you mean `always`?"
    );
    let m = refused(&notifying("webhook = \"chat.example/hooks/s3cr3t\""));
    assert!(m.starts_with("x.toml:18:11: invalid webhook URL: "), "{m}");
    assert!(!m.contains("s3cr3t"), "{m}");
    let m = refused(&notifying("webhook = \"ftp://chat.example/hooks\""));
    assert!(
        m.starts_with("x.toml:18:11: webhook URL with scheme \"ftp\""),
        "{m}"
    );
    let m = refused(&notifying(
        &EMAIL.replace("[\"it@contractor.example\"]", "[]"),
    ));
    assert!(m.starts_with("x.toml:21:6: `to` is empty"), "{m}");
    let m = refused(&notifying(
        &EMAIL.replace("it@contractor.example", "it at contractor"),
    ));
    assert!(
        m.starts_with("x.toml:21:7: invalid address \"it at contractor\" in `to`"),
        "{m}"
    );
    let m = refused(&notifying(
        &EMAIL.replace("drills@clinic.example", "drills@"),
    ));
    assert!(m.starts_with("x.toml:20:8: invalid address"), "{m}");
    let m = refused(&notifying(
        &EMAIL.replace("smtp://mail", "smtp://u:pw@mail"),
    ));
    assert!(
        m.starts_with("x.toml:19:8: the smtp URL holds a user name or password"),
        "{m}"
    );
    assert!(!m.contains("pw@"), "{m}");
    let m = refused(&notifying(&EMAIL.replace("smtp://", "smtps://")));
    assert!(m.contains("the scheme is smtp://"), "{m}");
    let m = refused(&notifying(
        &EMAIL.replace("to = [", "tls = \"ssl\"\nto = ["),
    ));
    assert!(
        m.contains("unknown tls mode \"ssl\": use \"starttls\", \"tls\" or \"none\""),
        "{m}"
    );
    let m =
        refused("name = \"t\"\n[backups]\n[target]\nimage = \"i\"\n[notify]\non = \"always\"\n");
    assert!(m.contains("[notify] sends nowhere"), "{m}");
}

#[test]
fn a_login_takes_exactly_one_password_source() {
    let m = refused(&notifying(&format!("{EMAIL}user = \"d\"\n")));
    assert!(
        m.starts_with("x.toml:22:8: `user` needs its password"),
        "{m}"
    );
    let m = refused(&notifying(&format!(
        "{EMAIL}user = \"d\"\npassword_env = \"P\"\npassword_file = \"f\"\n"
    )));
    assert!(m.starts_with("x.toml:24:17: give exactly one of"), "{m}");
    let m = refused(&notifying(&format!("{EMAIL}password_env = \"P\"\n")));
    assert!(
        m.starts_with("x.toml:22:16: a password goes with a login"),
        "{m}"
    );
}

/// A comparison scenario in a temporary folder with its query file.
fn comparing(targets: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("q.sql"), "-- query: a\nSELECT 1\n").expect("write");
    let text = format!(
        "name = \"t\"\n[backups]\nlocation = \"b\"\n[target]\nmemory_mb = 512\n[compare]\ntargets = {targets}\nqueries = \"q.sql\"\n{extra}"
    );
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn a_comparison_has_a_baseline_queries_and_defaults() {
    let (_d, path) = comparing(r#"["a:15", "a:17"]"#, "");
    let p = load(&path).expect("valid");
    let c = p.compare.expect("compare");
    assert_eq!(c.targets, ["a:15", "a:17"]);
    assert_eq!(p.target.image, "a:15", "the baseline is the first target");
    assert_eq!(c.queries.len(), 1);
    assert_eq!(c.queries[0].name, "a");
    assert_eq!(c.slower_than, 2.0);
    assert_eq!(c.query_timeout, Duration::from_secs(300));
    assert_eq!(p.target.memory_bytes, 512 << 20);
}

#[test]
fn fewer_than_two_targets_are_refused_at_the_list() {
    let (_d, path) = comparing(r#"["a:15"]"#, "");
    let m = load(&path).expect_err("one target").to_string();
    assert!(
        m.contains(
            "c.toml:7:11: [compare] targets names 1 image(s); a comparison needs at least two"
        ),
        "{m}"
    );
}

#[test]
fn comparison_values_out_of_range_are_refused_at_the_value() {
    for (extra, says) in [
        (
            "slower_than = 0.5",
            "c.toml:9:15: slower_than = 0.5: give a ratio above 1",
        ),
        (
            "query_timeout_seconds = 0",
            "c.toml:9:25: query_timeout_seconds = 0",
        ),
        (
            "ignore_below_ms = -1",
            "c.toml:9:19: ignore_below_ms must be 0 or more",
        ),
        (
            "queries_file = \"x\"",
            "c.toml:9:1: unknown field `queries_file`",
        ),
    ] {
        let (_d, path) = comparing(r#"["a:15", "a:17"]"#, extra);
        let m = load(&path).expect_err(extra).to_string();
        assert!(m.contains(says), "{extra}: {m}");
    }
}

#[test]
fn a_comparison_refuses_what_only_a_drill_means_and_an_image_in_target() {
    let (_d, path) = comparing(r#"["a:15", "a:17"]"#, "[objectives]\nrto_seconds = 5\n");
    let m = load(&path).expect_err("objectives").to_string();
    assert!(
        m.contains("c.toml:6:1: [compare] cannot go with [objectives]"),
        "{m}"
    );
    let (d, path) = comparing(r#"["a:15", "a:17"]"#, "");
    let text = std::fs::read_to_string(&path)
        .expect("file")
        .replace("memory_mb = 512", "image = \"x\"");
    std::fs::write(d.path().join("c.toml"), text).expect("file");
    let m = load(&path).expect_err("image").to_string();
    assert!(
        m.contains("c.toml:5:9: a comparison names its images in [compare] targets"),
        "{m}"
    );
}

#[test]
fn a_comparison_runs_on_mariadb_and_refuses_an_image_of_the_other_engine() {
    let mariadb = |targets: &str| {
        let (d, path) = comparing(targets, "");
        let text = std::fs::read_to_string(&path)
            .expect("file")
            .replace("memory_mb = 512", "engine = \"mariadb\"");
        std::fs::write(&path, text).expect("file");
        (d, path)
    };
    let (_d, path) = mariadb(r#"["restore-drill/mariadb:10.11", "restore-drill/mariadb:11"]"#);
    let p = load(&path).expect("a MariaDB comparison");
    assert_eq!(p.target.engine, EngineKind::Mariadb);
    assert_eq!(p.target.image, "restore-drill/mariadb:10.11");
    let (_d, path) = mariadb(r#"["restore-drill/mariadb:10.11", "restore-drill/postgres:17"]"#);
    let m = load(&path).expect_err("two engines").to_string();
    assert!(
        m.contains("c.toml:7:11: [compare] targets names restore-drill/postgres:17, a PostgreSQL image, but the scenario's engine is MariaDB"),
        "{m}"
    );
    // Without `engine`, PostgreSQL: a MariaDB image is the mistake, named.
    let (_d, path) = comparing(r#"["restore-drill/postgres:15", "mariadb:11"]"#, "");
    let m = load(&path).expect_err("two engines").to_string();
    assert!(
        m.contains("targets names mariadb:11, a MariaDB image, but the scenario's engine is PostgreSQL ([target] engine, default \"postgres\")"),
        "{m}"
    );
}

#[test]
fn a_missing_or_bad_query_file_is_refused_before_anything_starts() {
    let (d, path) = comparing(r#"["a:15", "a:17"]"#, "");
    std::fs::remove_file(d.path().join("q.sql")).expect("file");
    let m = load(&path).expect_err("missing").to_string();
    assert!(m.contains("c.toml:8:11: cannot read the query file"), "{m}");
    std::fs::write(d.path().join("q.sql"), "SELECT 1;\n").expect("file");
    let m = load(&path).expect_err("no header").to_string();
    assert!(
        m.contains("q.sql:1: SQL before the first `-- query: NAME` line"),
        "{m}"
    );
}

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
    let m = refused(&good_with("checks", "timeout_seconds = 0"));
    assert_eq!(
        m,
        "x.toml:11:19: timeout_seconds = 0: a timeout must be at least 1"
    );
}
