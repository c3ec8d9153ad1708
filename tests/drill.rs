#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `restore-drill run`: the monthly drill on a fresh
//! fixture, a hand-made backup of a schema the tool never saw, a changed value
//! caught by its fingerprint, and every bad input with its exit code.

mod common;

use chrono::Datelike;
use common::*;
use restore_drill::checks::Status;
use restore_drill::report::facts::{Delivery, NotABackup, RunKind};
use restore_drill::report::Verdict;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A fresh fixture: DIR/b holds the backup, DIR/k the key.
fn fixture(patients: u32) -> (tempfile::TempDir, PathBuf, Key) {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("b");
    generate_fixture(&backups, patients, &[&key]);
    (tmp, backups, key)
}

fn drill(scenario: &str, backups: &Path, key: &Path, extra: &[&str]) -> (i32, String, String) {
    let reports = backups.parent().unwrap().join("reports");
    let mut args = vec![
        "--json",
        "run",
        scenario,
        "--backups",
        backups.to_str().unwrap(),
        "--identity",
        key.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_tracked(&args)
}

fn scenario_path(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_monthly_drill_passes_on_a_fresh_fixture_with_a_complete_report() {
    let (tmp, backups, key) = fixture(2000);
    let (code, out, err) = drill(
        &scenario_path("monthly-drill.toml"),
        &backups,
        &key.path,
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let r = report_of(&out);
    assert_eq!(r.report_version, 4);
    assert_eq!(r.verdict, Verdict::Passed);
    assert_eq!(r.kind, RunKind::Drill);
    // No --site, no site file, none in the scenario: said, and not the host name.
    assert_eq!(r.site, restore_drill::report::UNNAMED_SITE);
    assert!(err.contains("no site named"), "{err}");
    assert!(r.host.as_deref().is_some_and(|h| !h.is_empty()), "{r:?}");
    assert_eq!(r.target.engine.as_deref(), Some("PostgreSQL"));
    let rto = r.rto_seconds.unwrap();
    let rpo = r.rpo_seconds.unwrap();
    assert!(rto > 0.0 && rto < 900.0, "{rto}");
    assert!((0.0..3600.0).contains(&rpo), "{rpo}");
    let phases: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        phases,
        [
            "select",
            "verify artifact",
            "start sandbox",
            "restore",
            "checks",
            "teardown"
        ]
    );
    assert!(r.phases.iter().all(|p| p.seconds >= 0.0));
    let checks = &r.checks;
    for name in [
        "manifest comparison",
        "referential integrity",
        "invariant: invoice_total_equals_lines",
        "sql: there are patients",
        "freshness: public.payments.paid_at",
    ] {
        let c = checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"));
        assert_eq!(c.status, Status::Passed, "{c:?}");
        assert!(c.detail.as_str().len() > 3);
    }
    let manifest_detail = checks[0].detail.as_str();
    assert!(manifest_detail.contains("10 tables"), "{manifest_detail}");
    // Compared while the dump streamed, with no table read back.
    assert!(
        manifest_detail.contains("fingerprinted as they streamed from the backup")
            && !manifest_detail.contains("fingerprinted again"),
        "{manifest_detail}"
    );
    let backup = r.backup.as_ref().unwrap();
    assert!(
        matches!(backup.restored_as, Some(Delivery::Parallel { .. })),
        "{out}"
    );
    let fk = checks
        .iter()
        .find(|c| c.name == "referential integrity")
        .unwrap();
    assert!(
        fk.detail.as_str().contains("validated by PostgreSQL"),
        "{fk:?}"
    );
    let artifact = files_in(&backups)
        .into_iter()
        .find(|f| f.ends_with(".age"))
        .unwrap();
    assert!(backup.path.ends_with(&artifact));
    assert_eq!(backup.sha256.as_ref().unwrap().len(), 64);
    // Written as `20..-..-..T..`: a time of this century.
    assert!((2000..2100).contains(&backup.created_at.unwrap().year()));
    assert_eq!(
        r.recovered_from.as_deref(),
        Some(format!("primary: {artifact}").as_str())
    );
    // The report file holds the same verdict. (Whether patient data reaches
    // any report, log or terminal is tests/phi.rs's job, with values read
    // from the backup itself.)
    let reports = tmp.path().join("reports");
    let file = files_in(&reports).pop().unwrap();
    let text = std::fs::read_to_string(reports.join(file)).unwrap();
    assert!(text.contains("\"verdict\": \"passed\""));
}

/// A schema restore-drill has never seen, dumped by hand with the real CLIs
/// and no manifest: it restores, its foreign keys are found and checked, its
/// custom checks run, and the report says nothing was compared to a manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_backup_of_an_unknown_schema_restores_and_is_checked() {
    let source = Source::start(PG15).await;
    let mut conn =
        restore_drill::engine::postgres::connect(&source.url(), std::time::Duration::from_secs(5))
            .await
            .unwrap();
    // The last two statements make an orphan the source itself tolerates: a
    // foreign key added NOT VALID over a row that breaks it.
    sqlx::Executor::execute(
        &mut conn,
        "CREATE SCHEMA lab; \
         CREATE TABLE lab.owners (code text PRIMARY KEY, since date NOT NULL); \
         CREATE TABLE lab.pets (id int, owner_code text REFERENCES lab.owners(code), kg numeric(5,2), PRIMARY KEY (id)); \
         CREATE TABLE lab.visits (pet int, at timestamptz, owner_code text, FOREIGN KEY (pet) REFERENCES lab.pets(id)); \
         INSERT INTO lab.owners SELECT 'o' || g, date '2020-01-01' + g FROM generate_series(1, 300) g; \
         INSERT INTO lab.pets SELECT g, 'o' || (1 + g % 300), g / 7.0 FROM generate_series(1, 900) g; \
         INSERT INTO lab.visits SELECT 1 + g % 900, timestamptz '2026-01-01' + g * interval '1 hour', NULL FROM generate_series(1, 2000) g; \
         INSERT INTO lab.visits VALUES (NULL, now(), 'nobody'); \
         ALTER TABLE lab.visits ADD CONSTRAINT visits_owner_fkey FOREIGN KEY (owner_code) REFERENCES lab.owners(code) NOT VALID;",
    )
    .await
    .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("b");
    std::fs::create_dir(&backups).unwrap();
    let status = Command::new("bash")
        .arg("-c")
        .arg("set -euo pipefail; pg_dump -Fc \"$1\" | zstd -q | age -r \"$2\" > \"$3/lab-nightly.dump.zst.age\"")
        .arg("sh")
        .arg(source.url())
        .arg(&key.public)
        .arg(&backups)
        .status()
        .unwrap();
    assert!(status.success());
    source.remove().await;

    let scenario = tmp.path().join("lab.toml");
    std::fs::write(
        &scenario,
        r#"name = "lab drill"
[backups]
[target]
image = "restore-drill/postgres:15"
[checks]
manifest = "if-present"
[[checks.sql]]
name = "pets restored"
query = "SELECT count(*) FROM lab.pets"
expect = { equals = 900 }
[[checks.sql]]
name = "weights plausible"
query = "SELECT max(kg) FROM lab.pets"
expect = { between = [100, 200] }
"#,
    )
    .unwrap();
    let (s2, b2, k2) = (scenario.clone(), backups.clone(), key.path.clone());
    let (code, out, err) =
        tokio::task::spawn_blocking(move || drill(s2.to_str().unwrap(), &b2, &k2, &[]))
            .await
            .unwrap();
    // The orphan fails the drill, as it should: named, counted.
    assert_eq!(code, 1, "{out}\n{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Failed);
    let check = |name: &str| r.checks.iter().find(|c| c.name == name).unwrap();
    let m = check("manifest comparison");
    assert_eq!(m.status, Status::Skipped);
    assert!(
        m.detail.as_str().contains("not compared to a manifest"),
        "{m:?}"
    );
    let fk = check("referential integrity");
    assert_eq!(fk.status, Status::Failed, "{fk:?}");
    let d = fk.detail.as_str();
    assert!(
        d.contains("visits_owner_fkey (lab.visits -> lab.owners): 1 orphan"),
        "{d}"
    );
    assert!(
        !d.contains("1 orphans"),
        "one orphan is counted as one: {d}"
    );
    assert!(d.contains("of 3 foreign keys"), "{d}");
    assert_eq!(check("sql: pets restored").status, Status::Passed);
    assert_eq!(check("sql: weights plausible").status, Status::Passed);
    assert!(!r.backup.as_ref().unwrap().manifest);
    assert_eq!(r.rpo_seconds, None, "no evidence of the backup's time");
}

/// A value altered after the restore (the test hook) is caught by the deep
/// manifest check, which reads every restored table back, naming the table.
/// (The default check fingerprints the rows as they stream into the database
/// and counts them once restored: a change made after the restore is the deep
/// check's job.)
/// The monthly drill on a fresh 300-patient fixture, with `sql` run as the
/// administrator between the restore and the checks (the test hook). The
/// clean-up guard comes back so that the caller checks, before it drops,
/// that the drill itself left nothing.
async fn drill_altered(
    manifest: restore_drill::scenario::ManifestPolicy,
    sql: &str,
) -> (
    restore_drill::drill::DrillOutcome,
    bollard::Docker,
    restore_drill::sandbox::RunId,
    Cleanup,
) {
    let (_tmp, backups, key) = tokio::task::spawn_blocking(|| fixture(300)).await.unwrap();
    let mut plan = restore_drill::scenario::load(Path::new(&scenario_path("monthly-drill.toml")))
        .unwrap()
        .with_overrides(restore_drill::scenario::Overrides {
            site: None,
            backups: Some(backups.display().to_string()),
            identities: vec![key.path.clone()],
            report_dir: None,
        })
        .unwrap();
    plan.checks.manifest = manifest;
    let keys = std::sync::Arc::new(vec![
        restore_drill::keys::load_identity_file(&key.path).unwrap()
    ]);
    let docker = docker().await;
    let run = restore_drill::sandbox::RunId::new();
    let cleanup = Cleanup::new(&run);
    let options = restore_drill::drill::DrillOptions {
        keep: false,
        before_checks_sql: Some(sql.into()),
    };
    let events = restore_drill::events::silent();
    let outcome = restore_drill::drill::run(&docker, &run, &plan, keys, options, &events).await;
    (outcome, docker, run, cleanup)
}

/// The clinic's rules catch one broken record each, also those that run
/// under planner switches (merge joins, `SET LOCAL` in the rules file), and
/// every other rule holds: the switches change how a rule runs, never what
/// it counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clinic_rules_catch_a_broken_record_each_under_their_planner_switches() {
    let (outcome, docker, run, _cleanup) = drill_altered(
        restore_drill::scenario::ManifestPolicy::Off,
        "UPDATE invoices SET total_cents = total_cents + 1 \
           WHERE id = (SELECT min(id) FROM invoices WHERE status = 'issued'); \
         ALTER TABLE eye_exams DROP CONSTRAINT eye_exams_od_sphere_check; \
         UPDATE eye_exams SET od_sphere = 0.30 WHERE id = (SELECT min(id) FROM eye_exams); \
         UPDATE eye_exams SET examined_at = examined_at - interval '1 day' \
           WHERE id = (SELECT max(id) FROM eye_exams); \
         UPDATE payments SET paid_at = paid_at - interval '10 years' \
           WHERE id = (SELECT min(id) FROM payments); \
         UPDATE stock_moves SET quantity = quantity - 1 \
           WHERE id = (SELECT min(id) FROM stock_moves WHERE reason = 'sale');",
    )
    .await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let r = outcome.report;
    assert_eq!(r.verdict, restore_drill::report::Verdict::Failed);
    let broken = [
        "invoice_total_equals_lines",
        "refraction_in_clinical_range",
        "exam_matches_appointment",
        "payment_not_before_invoice",
        "sales_match_invoice_lines",
        "stock_equals_moves",
    ];
    let rules: Vec<_> = r
        .checks
        .iter()
        .filter_map(|c| Some((c.name.strip_prefix("invariant: ")?, c)))
        .collect();
    assert_eq!(rules.len(), 18, "{:?}", r.checks);
    for (name, c) in rules {
        let (status, detail) = match broken.contains(&name) {
            true => (restore_drill::checks::Status::Failed, "1 row violates it"),
            false => (restore_drill::checks::Status::Passed, "0 violations"),
        };
        assert_eq!(c.status, status, "{name}: {}", c.detail);
        assert!(
            c.detail.as_str().starts_with(detail),
            "{name}: {}",
            c.detail
        );
    }
    assert_eq!(labelled(&docker, Some(&run.id)).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_value_fails_the_deep_fingerprint_check_naming_the_table() {
    // One cent on one invoice line, and the line's total to match, so no
    // CHECK constraint or invariant notices: only the fingerprint can.
    let (outcome, docker, run, _cleanup) = drill_altered(
        restore_drill::scenario::ManifestPolicy::Deep,
        "UPDATE invoice_lines SET unit_price_cents = unit_price_cents + 1, \
         line_total_cents = line_total_cents + quantity \
         WHERE id = (SELECT min(id) FROM invoice_lines WHERE quantity = 1); \
         UPDATE invoices i SET total_cents = total_cents + 1 \
         WHERE id = (SELECT invoice_id FROM invoice_lines WHERE id = (SELECT min(id) FROM invoice_lines WHERE quantity = 1));",
    )
    .await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let r = outcome.report;
    assert_eq!(r.verdict, restore_drill::report::Verdict::Failed);
    let m = &r.checks[0];
    assert_eq!(m.name, "manifest comparison");
    assert_eq!(m.status, restore_drill::checks::Status::Failed);
    assert!(
        m.detail
            .as_str()
            .contains("public.invoice_lines: content fingerprint differs"),
        "{}",
        m.detail
    );
    assert!(
        m.detail
            .as_str()
            .contains("public.invoices: content fingerprint differs"),
        "{}",
        m.detail
    );
    assert!(
        !m.detail.as_str().contains("public.patients"),
        "{}",
        m.detail
    );
    assert_eq!(r.rto_seconds, None, "an unverified restore has no RTO");
    assert_eq!(labelled(&docker, Some(&run.id)).await, (0, 0));
}

/// A drill writes nothing large to this machine's disk: the decoded dump
/// goes to the database, through a tmpfs inside the sandbox for a parallel
/// restore, never to a file here. Measured by the kernel's count of what the
/// process sent to block storage (`ru_oublock`, 512-byte units), which counts
/// a temporary file even when it is deleted before the run ends.
#[test]
fn a_drill_writes_nothing_over_1_mb_to_the_hosts_disk() {
    // On disk, not in a tmpfs: the measure must be able to see writes here.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let key = make_key(tmp.path(), "k");
    let backups = tmp.path().join("b");
    generate_fixture(&backups, 4000, &[&key]);
    let manifest = files_in(&backups)
        .into_iter()
        .find(|f| f.ends_with(".manifest.json"))
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join(manifest)).unwrap()).unwrap();
    let dump = m["dump"]["bytes"].as_u64().unwrap();
    assert!(dump > 8 << 20, "the dump must be far over 1 MB: {dump}");

    // The measure sees a 4 MiB file written where the drill writes.
    let probe = tmp.path().join("probe");
    let (probed, _) = disk_writes(Command::new("dd").args([
        "if=/dev/zero".to_string(),
        format!("of={}", probe.display()),
        "bs=1M".into(),
        "count=4".into(),
        "conv=fsync".into(),
        "status=none".into(),
    ]));
    assert!(
        probed >= 4 << 20,
        "the measure is blind here: {probed} bytes"
    );
    std::fs::remove_file(probe).unwrap();

    let reports = tmp.path().join("reports");
    let (written, out) = disk_writes(
        bin()
            .env("TMPDIR", tmp.path())
            .args(["--json", "run", &scenario_path("monthly-drill.toml")])
            .arg("--backups")
            .arg(&backups)
            .arg("--identity")
            .arg(&key.path)
            .arg("--report-dir")
            .arg(&reports),
    );
    let (code, out, err) = decode(out);
    assert_eq!(code, 0, "{out}\n{err}");
    let r = report_of(&out);
    let restored_as = r.backup.as_ref().and_then(|b| b.restored_as.as_ref());
    assert!(
        matches!(restored_as, Some(Delivery::Parallel { .. })),
        "{out}"
    );
    eprintln!("the drill wrote {written} bytes to this machine's disk for a {dump}-byte dump");
    assert!(
        written < 1 << 20,
        "the drill wrote {written} bytes to this machine's disk for a {dump}-byte dump"
    );
}

/// Bytes the command's process tree sent to block storage while it ran.
fn disk_writes(cmd: &mut Command) -> (u64, std::process::Output) {
    use nix::sys::resource::{getrusage, UsageWho};
    let blocks = || getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().block_writes();
    let before = blocks();
    let out = cmd.output().unwrap();
    let after = blocks();
    ((after - before).max(0) as u64 * 512, out)
}

// ---- bad input: message, exit code, nothing left running ----

#[test]
fn a_missing_scenario_is_exit_2() {
    let (code, _, err) = run(&["run", "/nonexistent/drill.toml", "--backups", "/tmp"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read the scenario /nonexistent/drill.toml"),
        "{err}"
    );
}

#[test]
fn an_unreadable_scenario_is_exit_2() {
    let tmp = tempdir();
    let secret = tmp.path().join("secret.toml");
    std::fs::copy(scenario_path("monthly-drill.toml"), &secret).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_restore-drill"))
        .args(["validate", secret.to_str().unwrap()])
        .output()
        .unwrap();
    let (code, _, err) = decode(out);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read the scenario"), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
}

/// Without --report-dir or `[report] dir` (the shipped scenarios name none),
/// the report goes to the state folder beside the history: for a user,
/// $XDG_STATE_HOME/restore-drill/reports, not a folder beside the scenario or
/// the current one.
#[test]
fn a_report_goes_to_the_state_folder_by_default() {
    let tmp = tempdir();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let state = tmp.path().join("state");
    let backups = tmp.path().join("b");
    std::fs::create_dir(&backups).unwrap();
    // A key that is not there: the run stops before any container, with a
    // report that says why.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_restore-drill"))
        .env("XDG_STATE_HOME", &state)
        .env("HOME", tmp.path())
        .current_dir(tmp.path())
        .args(["run", &scenario_path("monthly-drill.toml"), "--no-history"])
        .args(["--backups", backups.to_str().unwrap()])
        .args([
            "--identity",
            tmp.path().join("missing.key").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (code, out, err) = decode(out);
    assert_ne!(code, 0, "{out}\n{err}");
    let reports = state.join("restore-drill/reports");
    let written = files_in(&reports);
    assert!(
        written.iter().any(|f| f.ends_with(".json")),
        "{written:?}\n{out}\n{err}"
    );
    assert!(!tmp.path().join("restore-drill-reports").exists());
}

/// `[expect] detection` in the old display spelling is still valid (exit 0),
/// with a warning naming the stable kind to write; the new spelling has none.
#[test]
fn validate_warns_of_the_old_detection_spelling_and_names_the_kind() {
    let tmp = tempdir();
    let text = std::fs::read_to_string(scenario_path("stale-backups.toml")).unwrap();
    assert!(
        text.contains("detection = \"rpo-objective-failed\""),
        "{text}"
    );
    let old = tmp.path().join("old.toml");
    let spelt = "detection = \"RPO (backup age) objective Failed\"";
    std::fs::write(
        &old,
        text.replace("detection = \"rpo-objective-failed\"", spelt),
    )
    .unwrap();
    let (code, out, err) = run(&["validate", old.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid"), "{out}");
    assert!(
        err.contains("warning: [expect] detection = \"RPO (backup age) objective Failed\""),
        "{err}"
    );
    assert!(
        err.contains("write \"rpo-objective-failed\" instead"),
        "{err}"
    );
    let (code, _, err) = run(&["validate", &scenario_path("stale-backups.toml")]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

/// `validate` before the first run: the images the scenario restores into,
/// where its alerts go, the site file it runs with. One case each.
mod validate_before_the_first_run {
    use super::*;

    /// The monthly drill with `edit` applied, written into `dir`.
    fn monthly_with(dir: &Path, edit: impl FnOnce(String) -> String) -> PathBuf {
        let text = std::fs::read_to_string(scenario_path("monthly-drill.toml")).unwrap();
        let path = dir.join("drill.toml");
        std::fs::write(&path, edit(text)).unwrap();
        path
    }

    #[test]
    fn a_present_image_is_said_present_and_no_notify_is_said_too() {
        let (code, out, err) = run(&["validate", &scenario_path("monthly-drill.toml")]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains("image    restore-drill/postgres:15: present"),
            "{out}"
        );
        assert!(out.contains("notify   none: no alert is sent"), "{out}");
    }

    #[test]
    fn a_missing_image_is_named_with_the_next_step_and_exit_3() {
        let tmp = tempdir();
        let path = monthly_with(tmp.path(), |t| {
            t.replace("restore-drill/postgres:15", "clinic/postgres:15-missing")
        });
        let (code, out, err) = run(&["validate", path.to_str().unwrap()]);
        assert_eq!(code, 3, "{out}\n{err}");
        assert!(
            out.contains(": valid."),
            "the scenario itself is valid: {out}"
        );
        assert!(
            out.contains("image    clinic/postgres:15-missing: MISSING, and not an image restore-drill builds"),
            "{out}"
        );
        assert!(
            out.contains("docker pull clinic/postgres:15-missing"),
            "{out}"
        );
        assert!(
            err.contains("this Docker engine lacks 1 image: clinic/postgres:15-missing"),
            "{err}"
        );
    }

    #[test]
    fn each_target_of_a_comparison_is_checked() {
        let tmp = tempdir();
        let text = std::fs::read_to_string(scenario_path("upgrade-check.toml")).unwrap();
        let path = tmp.path().join("upgrade.toml");
        // The queries file is found beside the scenario.
        let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let text = text
            .replace("restore-drill/postgres:17", "restore-drill/postgres:99")
            .replace("../fixtures/", &format!("{}/", queries.display()));
        std::fs::write(&path, text).unwrap();
        let (code, out, err) = run(&["validate", path.to_str().unwrap()]);
        assert_eq!(code, 3, "{out}\n{err}");
        assert!(
            out.contains("image    restore-drill/postgres:15: present"),
            "{out}"
        );
        assert!(
            out.contains("image    restore-drill/postgres:99: MISSING"),
            "{out}"
        );
    }

    #[test]
    fn docker_out_of_reach_is_not_checked_and_not_valid_silently() {
        let (code, out, err) = decode(
            bin()
                .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
                .args(["validate", &scenario_path("monthly-drill.toml")])
                .output()
                .unwrap(),
        );
        assert_eq!(code, 3, "{out}\n{err}");
        assert!(
            out.contains("image    restore-drill/postgres:15: NOT CHECKED, Docker could not be asked: Docker is not reachable at unix:///nonexistent/docker.sock"),
            "{out}"
        );
        assert!(err.contains("its images could not be checked"), "{err}");
    }

    #[test]
    fn the_scenarios_notify_is_shown_with_no_secret() {
        let tmp = tempdir();
        let path = monthly_with(tmp.path(), |t| {
            format!(
                "{t}\n[notify]\non = \"always\"\nwebhook = \"https://chat.example/hooks/T0001/aVeryLongSecretToken123?token=s3cret\"\n\
                 [notify.email]\nsmtp = \"smtp://mail.example.org\"\nfrom = \"drills@clinic.example\"\n\
                 to = [\"it@contractor.example\"]\nuser = \"drills\"\npassword_env = \"SMTP_PASSWORD\"\n"
            )
        });
        let (code, out, err) = run(&["validate", path.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains("notify   after every run, from the scenario: webhook https://chat.example:443/hooks/T0001/aVer…; email smtp://mail.example.org:587 (from drills@clinic.example to it@contractor.example; starttls; login drills, password from $SMTP_PASSWORD)"),
            "{out}"
        );
        assert!(
            !out.contains("SecretToken") && !out.contains("s3cret"),
            "{out}"
        );
    }

    #[test]
    fn the_site_file_is_read_and_shown_and_its_notify_is_the_runs() {
        let tmp = tempdir();
        let site = tmp.path().join("site.toml");
        std::fs::write(
            &site,
            "site = \"Main Street Eye Care\"\n[notify]\nwebhook = \"https://chat.example/hooks/abc\"\n\
             [contractor]\nname = \"Northside IT\"\nemail = \"sam@northside-it.example\"\n",
        )
        .unwrap();
        let (code, out, err) = run(&[
            "validate",
            &scenario_path("monthly-drill.toml"),
            "--site-file",
            site.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "site     {}: site \"Main Street Eye Care\"; [notify] when a run does not end as expected (exit code not 0): webhook https://chat.example:443/hooks/abc",
                site.display()
            )),
            "{out}"
        );
        assert!(
            out.contains("notify   when a run does not end as expected (exit code not 0), from the site file: webhook https://chat.example:443/hooks/abc"),
            "{out}"
        );
        assert!(
            out.contains("contractor: Northside IT, sam@northside-it.example"),
            "{out}"
        );
        assert!(
            out.contains("clinic: not named (the evidence pack will say so)"),
            "{out}"
        );
    }

    #[test]
    fn a_site_file_that_cannot_be_read_is_exit_2() {
        let (code, out, err) = run(&[
            "validate",
            &scenario_path("monthly-drill.toml"),
            "--site-file",
            "/nonexistent/site.toml",
        ]);
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            err.contains("cannot read the site file /nonexistent/site.toml"),
            "{err}"
        );
    }
}

#[test]
fn a_misspelt_key_is_exit_2_at_its_line_with_the_suggestion() {
    let tmp = tempdir();
    let text = std::fs::read_to_string(scenario_path("monthly-drill.toml")).unwrap();
    let typo = tmp.path().join("typo.toml");
    std::fs::write(&typo, text.replace("rpo_hours = 26", "rpo_hrs = 26")).unwrap();
    let (code, _, err) = run(&["validate", typo.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let line = text
        .lines()
        .position(|l| l.starts_with("rpo_hours"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("typo.toml:{line}:1: unknown field `rpo_hrs`")),
        "{err}"
    );
    assert!(err.contains("did you mean `rpo_hours`?"), "{err}");
    let (code, _, err) = run_tracked(&["run", typo.to_str().unwrap(), "--backups", "/tmp"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_empty_backup_directory_is_unrecoverable() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let empty = tmp.path().join("b");
    std::fs::create_dir(&empty).unwrap();
    let (code, _, err) = drill(&scenario_path("monthly-drill.toml"), &empty, &key.path, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no backup found in"), "{err}");
    assert!(err.contains("Check the backup job"), "{err}");
}

#[test]
fn a_file_that_does_not_match_its_manifest_is_refused_before_restoring() {
    let (_tmp, backups, key) = fixture(100);
    let artifact = backups.join(
        files_in(&backups)
            .into_iter()
            .find(|f| f.ends_with(".age"))
            .unwrap(),
    );
    let mut bytes = std::fs::read(&artifact).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&artifact, &bytes).unwrap();
    let (code, out, err) = drill(
        &scenario_path("monthly-drill.toml"),
        &backups,
        &key.path,
        &[],
    );
    assert_eq!(code, 4, "{out}{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    let reason = r.attempts[0].reason.as_ref().unwrap().as_str();
    assert!(
        reason.contains("does not match its manifest: SHA-256"),
        "{reason}"
    );
    let phases: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert!(
        !phases.contains(&"restore"),
        "nothing is restored from a mismatching file: {phases:?}"
    );
}

/// A wrong key names the file tried with its public key, and the
/// recipients the manifest lists, shortened: what tells the operator which
/// key to fetch.
#[test]
fn a_key_of_other_recipients_is_unrecoverable_naming_the_key_tried_and_the_recipients() {
    let (tmp, backups, key) = fixture(100);
    let wrong = make_key(tmp.path(), "wrong");
    let (code, out, err) = drill(
        &scenario_path("monthly-drill.toml"),
        &backups,
        &wrong.path,
        &[],
    );
    assert_eq!(code, 4, "{out}{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    assert_eq!(r.attempts[0].kind.as_deref(), Some("wrong-key"));
    let reason = r.attempts[0].reason.as_ref().unwrap().as_str();
    let short = restore_drill::keys::abbreviate;
    for said in [
        "none of the identity files tried opens it",
        &format!("tried {} ({})", wrong.path.display(), short(&wrong.public)),
        &format!(
            "encrypted to {} (the recipients its manifest lists)",
            short(&key.public)
        ),
        "keys generate",
    ] {
        assert!(reason.contains(said), "{said:?} not in: {reason}");
    }
    assert!(!reason.contains(&key.public), "a whole key: {reason}");
}

/// No --identity at all: said as such, with the recipients that would open it.
#[test]
fn no_identity_given_is_unrecoverable_naming_the_recipients() {
    let (tmp, backups, key) = fixture(100);
    let reports = backups.parent().unwrap().join("reports");
    // The shipped scenarios name identity files of their own: one without.
    let scenario = tmp.path().join("no-keys.toml");
    std::fs::write(
        &scenario,
        "name = \"x\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n",
    )
    .unwrap();
    let (code, out, err) = run_tracked(&[
        "--json",
        "run",
        scenario.to_str().unwrap(),
        "--backups",
        backups.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{out}{err}");
    let r = report_of(&out);
    assert_eq!(r.attempts[0].kind.as_deref(), Some("no-identity"));
    let reason = r.attempts[0].reason.as_ref().unwrap().as_str();
    let to = format!(
        "encrypted with age to {} (the recipients its manifest lists), but no identity file was given: pass",
        restore_drill::keys::abbreviate(&key.public)
    );
    assert!(reason.contains(&to), "{reason}");
    assert!(reason.contains("with --identity"), "{reason}");
}

/// A public key (`age1...`) passed as --identity is named for what it is,
/// not "non-identity data on line 1", and not refused for its mode first
/// (a public key is readable by all, and chmod 600 would be the wrong fix).
#[test]
fn a_public_key_given_as_the_identity_is_exit_2_named_as_a_public_key() {
    let (tmp, backups, key) = fixture(10);
    let public = tmp.path().join("daily.pub");
    std::fs::write(&public, format!("{}\n", key.public)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = drill(&scenario_path("monthly-drill.toml"), &backups, &public, &[]);
    assert_eq!(code, 2, "{err}");
    let short = restore_drill::keys::abbreviate(&key.public);
    assert!(
        err.contains(&format!(
            "holds a public key ({short}), a recipient, not an identity"
        )),
        "{err}"
    );
    assert!(
        err.contains("made by `restore-drill keys generate`"),
        "{err}"
    );
    assert!(err.contains("AGE-SECRET-KEY-1"), "{err}");
    assert!(
        !err.contains("non-identity") && !err.contains("chmod"),
        "{err}"
    );
}

#[test]
fn a_key_readable_by_others_is_exit_3_with_the_fix() {
    let (_tmp, backups, key) = fixture(100);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = drill(
        &scenario_path("monthly-drill.toml"),
        &backups,
        &key.path,
        &[],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("readable by other users"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

/// A drill over a folder holding only `name`, of `content`: the reason it
/// gives, once it is checked to be unrecoverable (exit 4).
fn unrecoverable_because(name: &str, content: &[u8]) -> String {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let dir = tmp.path().join("b");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join(name), content).unwrap();
    let scenario = tmp.path().join("hand.toml");
    std::fs::write(&scenario, "name = \"x\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n[checks]\nmanifest = \"if-present\"\n").unwrap();
    let (code, out, err) = drill(scenario.to_str().unwrap(), &dir, &key.path, &[]);
    assert_eq!(code, 4, "{name}: {out}{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    r.attempts[0].reason.as_ref().unwrap().as_str().to_string()
}

#[test]
fn random_bytes_named_like_a_backup_are_unrecoverable() {
    let random: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let reason = unrecoverable_because("random.dump.zst.age", &random);
    assert!(reason.contains("it is not a backup"), "{reason}");
}

#[test]
fn an_empty_file_named_like_a_backup_is_unrecoverable() {
    let reason = unrecoverable_because("empty.dump.zst.age", b"");
    assert!(reason.contains("the file is empty"), "{reason}");
}

/// A note in the backup folder is not tried as a backup: it is skipped and
/// said to be, and with nothing else there nothing can be restored.
#[test]
fn a_text_file_is_skipped_as_a_note_and_alone_is_unrecoverable() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let dir = tmp.path().join("b");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("notes.txt"),
        b"the backup job moved to the new NAS\n",
    )
    .unwrap();
    let (code, out, err) = drill(&scenario_path("monthly-drill.toml"), &dir, &key.path, &[]);
    assert_eq!(code, 4, "{out}{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Unrecoverable);
    assert!(r.attempts.is_empty(), "a note was tried: {out}");
    assert_eq!(r.skipped.len(), 1, "{out}");
    assert_eq!(r.skipped[0].kind, NotABackup::Note);
    assert!(
        err.contains("(skipped 1 file that is not a backup: 1 note)"),
        "{err}"
    );
}

#[test]
fn a_custom_check_with_invalid_sql_is_a_scenario_error_naming_its_line() {
    let (tmp, backups, key) = fixture(100);
    let scenario = tmp.path().join("bad-sql.toml");
    std::fs::write(
        &scenario,
        "name = \"x\"\n[backups]\n[target]\nimage = \"restore-drill/postgres:15\"\n\n[[checks.sql]]\nname = \"typo\"\nquery = \"SELEC count(*) FROM patients\"\nexpect = { at_least = 1 }\n",
    )
    .unwrap();
    let (code, out, err) = drill(scenario.to_str().unwrap(), &backups, &key.path, &[]);
    assert_eq!(code, 2, "{out}{err}");
    let r = report_of(&out);
    let c = r.checks.iter().find(|c| c.name == "sql: typo").unwrap();
    assert_eq!(c.status, Status::Error);
    let d = c.detail.as_str();
    assert!(d.contains(&format!("{}:7", scenario.display())), "{d}");
    assert!(d.contains("syntax_error"), "{d}");
    assert!(d.contains("SQLSTATE 42601"), "{d}");
}

#[test]
fn list_shows_backups_newest_first_with_their_manifest_state() {
    let (_tmp, backups, key) = fixture(50);
    std::fs::write(backups.join("notes.txt"), "hello").unwrap();
    let (code, out, err) = run(&["--json", "list", backups.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let l: serde_json::Value = serde_json::from_str(&out).unwrap();
    let l = l.as_array().unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["outer_layer"], "age");
    assert_eq!(l[0]["sha256_matches"], true);
    assert_eq!(l[0]["time_source"], "manifest");
    assert_eq!(l[1]["file"], "notes.txt");
    assert_eq!(l[1]["manifest"], false);
    assert_eq!(l[1]["not_a_backup"], "note");
    let _ = key;
}

#[test]
fn every_shipped_scenario_is_valid() {
    let mut n = 0;
    for sub in ["scenarios", "scenarios/mariadb"] {
        let dir = format!("{}/{sub}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let (code, out, err) = run(&["validate", path.to_str().unwrap()]);
                assert_eq!(code, 0, "{}: {out}{err}", path.display());
                n += 1;
            }
        }
    }
    assert!(n >= 4, "scenarios found: {n}");
}

/// A custom check that turns read-only off and deletes every payment: the
/// checks' role cannot write, so the check fails naming itself, and the
/// restored table still holds every row the manifest counted (read afterwards
/// as the administrator, on the kept sandbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writing_custom_check_fails_and_changes_nothing() {
    let (tmp, backups, key) = tokio::task::spawn_blocking(|| fixture(300)).await.unwrap();
    let scenario = tmp.path().join("writes.toml");
    std::fs::write(
        &scenario,
        r#"name = "a check that writes"
[backups]
location = "b"
[target]
image = "restore-drill/postgres:15"
[[checks.sql]]
name = "sneaky delete"
query = "SET default_transaction_read_only = off; SET transaction_read_only = off; DELETE FROM payments; SELECT count(*) FROM payments"
expect = { at_least = 0 }
"#,
    )
    .unwrap();
    let plan = restore_drill::scenario::load(&scenario).unwrap();
    let keys = std::sync::Arc::new(vec![
        restore_drill::keys::load_identity_file(&key.path).unwrap()
    ]);
    let docker = docker().await;
    let run = restore_drill::sandbox::RunId::new();
    let _cleanup = Cleanup::new(&run);
    let opts = restore_drill::drill::DrillOptions {
        keep: true,
        before_checks_sql: None,
    };
    let silent = restore_drill::events::silent();
    let outcome = restore_drill::drill::run(&docker, &run, &plan, keys, opts, &silent).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let r = outcome.report;
    let sneaky = r
        .checks
        .iter()
        .find(|c| c.name == "sql: sneaky delete")
        .unwrap();
    assert_eq!(sneaky.status, restore_drill::checks::Status::Error);
    assert!(
        sneaky.detail.as_str().contains("sneaky delete")
            && sneaky
                .detail
                .as_str()
                .contains("tried to change the restored database")
            && sneaky.detail.as_str().contains("insufficient_privilege"),
        "{}",
        sneaky.detail
    );
    assert_eq!(r.checks[0].status, restore_drill::checks::Status::Passed);
    let manifest_path = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest_path).unwrap()).unwrap();
    let expected = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "public.payments")
        .unwrap()["rows"]
        .as_i64()
        .unwrap();
    let kept = outcome.kept.expect("the sandbox is kept");
    let mut conn = restore_drill::engine::postgres::connect(&kept.url(), Duration::from_secs(10))
        .await
        .unwrap();
    let now: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(expected > 0);
    assert_eq!(now, expected, "the check deleted payments");
}

/// An infrastructure error still leaves a report: verdict `error`, the phase
/// it happened in, the reason, and the exit code of the error (here a missing
/// image: 3).
#[test]
fn a_drill_whose_sandbox_cannot_start_reports_the_error_verdict() {
    let (tmp, backups, key) = fixture(100);
    let scenario = tmp.path().join("missing-image.toml");
    std::fs::write(
        &scenario,
        "name = \"missing image\"\n[backups]\nlocation = \"b\"\n[target]\nimage = \"restore-drill/postgres:99\"\n",
    )
    .unwrap();
    let (code, out, err) = drill(scenario.to_str().unwrap(), &backups, &key.path, &[]);
    assert_eq!(code, 3, "{out}\n{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Error);
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.phase, "start sandbox", "{out}");
    assert_eq!(e.kind, "environment");
    assert_eq!(e.exit_code, Some(3));
    assert!(
        e.reason
            .as_str()
            .contains("restore-drill/postgres:99 is not present"),
        "{out}"
    );
    assert!(
        err.contains("error: the image restore-drill/postgres:99"),
        "{err}"
    );
    let phases: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, ["select", "verify artifact", "start sandbox"]);
    let reports = tmp.path().join("reports");
    let file = files_in(&reports).pop().unwrap();
    let on_disk = report_of(&std::fs::read_to_string(reports.join(file)).unwrap());
    assert_eq!(on_disk.verdict, Verdict::Error);
}

/// Docker unreachable before anything starts: still a report, exit 3.
#[test]
fn a_drill_without_docker_reports_the_error_verdict() {
    let (tmp, backups, key) = fixture(100);
    let reports = tmp.path().join("reports");
    let out = bin()
        .args([
            "--json",
            "run",
            &scenario_path("monthly-drill.toml"),
            "--backups",
            backups.to_str().unwrap(),
            "--identity",
            key.path.to_str().unwrap(),
            "--report-dir",
            reports.to_str().unwrap(),
        ])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let (code, out, err) = decode(out);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(err.contains("Docker is not reachable"), "{err}");
    let r = report_of(&out);
    assert_eq!(r.verdict, Verdict::Error);
    assert_eq!(r.error.as_ref().unwrap().exit_code, Some(3));
    assert_eq!(files_in(&reports).len(), 1);
}

/// A drill that passed fits one screen (verdict, backup, RTO and RPO
/// against their objectives, the checks as a count, report and history);
/// `--verbose` adds every phase and check after it.
#[test]
fn a_passing_drill_fits_one_screen_and_verbose_adds_every_phase_and_check() {
    let (tmp, backups, key) = fixture(100);
    let reports = tmp.path().join("reports");
    let history = tmp.path().join("history.sqlite");
    let scenario = scenario_path("monthly-drill.toml");
    let (code, out, err) = run_tracked(&[
        "run",
        &scenario,
        "--backups",
        backups.to_str().unwrap(),
        "--identity",
        key.path.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
        "--verbose",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (summary, details) = out
        .split_once("\n\nphase ")
        .expect("the details after the summary");
    let lines: Vec<&str> = summary.lines().collect();
    assert!(lines.len() <= 12, "{} lines:\n{summary}", lines.len());
    assert!(
        lines[0]
            .starts_with("monthly restore drill: PASSED (restored from the primary copy, backup "),
        "{summary}"
    );
    let checks = lines
        .iter()
        .find(|l| l.starts_with("checks   "))
        .expect("the checks' count");
    assert!(
        checks.ends_with("passed (--verbose lists each)"),
        "{checks}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("RTO      ") && l.ends_with(": met")),
        "{summary}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("report   ")),
        "{summary}"
    );
    assert!(
        !summary.contains("ok       "),
        "a passed check in the summary:\n{summary}"
    );
    for row in [
        "restore ",
        "ok       manifest comparison: ",
        "ok       referential integrity: ",
        "ok       objective RTO: ",
    ] {
        assert!(
            details.contains(row),
            "{row:?} not in the details:\n{details}"
        );
    }
}
