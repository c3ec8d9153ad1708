#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `schedule`: systemd units that systemd-analyze accepts, installed once
//! however often the command runs; a crontab line; and the refusals.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder the scheduled service could see: not under /tmp (the service
/// gets a private one), removed when dropped.
struct Visible(PathBuf);

impl Visible {
    fn new(tag: &str) -> Visible {
        let dir = PathBuf::from(format!(
            "/var/lib/restore-drill-tests/{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Visible(dir)
    }
}

impl Drop for Visible {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A scenario, key and backup folder where the service will find them.
fn setup(v: &Visible) -> (PathBuf, PathBuf, PathBuf) {
    let scenario = v.0.join("monthly-drill.toml");
    std::fs::copy(
        format!(
            "{}/scenarios/monthly-drill.toml",
            env!("CARGO_MANIFEST_DIR")
        ),
        &scenario,
    )
    .unwrap();
    let key = make_key(&v.0, "daily.key");
    let backups = v.0.join("backups");
    std::fs::create_dir(&backups).unwrap();
    (scenario, key.path, backups)
}

fn install(v: &Visible, extra: &[&str]) -> (i32, String, String) {
    install_recording_in(v, &v.0.join("state/history.sqlite"), extra)
}

/// `install` with the drill history at `history`.
fn install_recording_in(v: &Visible, history: &Path, extra: &[&str]) -> (i32, String, String) {
    let (scenario, key, backups) = (
        v.0.join("monthly-drill.toml"),
        v.0.join("daily.key"),
        v.0.join("backups"),
    );
    let units = v.0.join("units");
    let mut args = vec![
        "schedule",
        "install",
        scenario.to_str().unwrap(),
        "--backups",
        backups.to_str().unwrap(),
        "--identity",
        key.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
        "--unit-dir",
        units.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn verify(units: &Path) -> (i32, String) {
    let files: Vec<PathBuf> = files_in(units).iter().map(|f| units.join(f)).collect();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn installed_units_pass_systemd_analyze_and_a_second_install_replaces_them() {
    let v = Visible::new("units");
    setup(&v);
    let (code, out, err) = install(&v, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let units = v.0.join("units");
    assert_eq!(
        files_in(&units),
        [
            "restore-drill-monthly-drill.service",
            "restore-drill-monthly-drill.timer"
        ]
    );
    let (rc, said) = verify(&units);
    assert_eq!((rc, said.as_str()), (0, ""), "systemd-analyze verify");
    let timer = std::fs::read_to_string(units.join("restore-drill-monthly-drill.timer")).unwrap();
    for want in [
        "OnCalendar=*-*-01 03:00:00",
        "Persistent=true",
        "RandomizedDelaySec=",
    ] {
        assert!(timer.contains(want), "{want}:\n{timer}");
    }
    let service =
        std::fs::read_to_string(units.join("restore-drill-monthly-drill.service")).unwrap();
    for want in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        // The sockets where the engine sees them (see the private /tmp test).
        "RuntimeDirectory=restore-drill",
        "ReadWritePaths=",
        "--history",
    ] {
        assert!(service.contains(want), "{want}:\n{service}");
    }
    // The folders the drill writes exist, or systemd would refuse to start it.
    assert!(v.0.join("state").is_dir() && v.0.join("state/reports").is_dir());

    let (code, out, err) = install(&v, &["--every", "weekly", "--at", "04:30"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(files_in(&units).len(), 2, "{:?}", files_in(&units));
    let timer = std::fs::read_to_string(units.join("restore-drill-monthly-drill.timer")).unwrap();
    assert!(timer.contains("OnCalendar=Mon *-*-* 04:30:00"), "{timer}");
    assert_eq!(verify(&units).0, 0);
    let (code, out, _) = run(&["schedule", "list", "--unit-dir", units.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        out.contains("restore-drill-monthly-drill") && out.contains("1 schedule in"),
        "{out}"
    );

    let (code, out, err) = run(&[
        "schedule",
        "remove",
        "monthly-drill",
        "--unit-dir",
        units.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(files_in(&units).is_empty());
    let (code, _, err) = run(&[
        "schedule",
        "remove",
        "monthly-drill",
        "--unit-dir",
        units.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no schedule restore-drill-monthly-drill"),
        "{err}"
    );
}

#[test]
fn cron_prints_one_crontab_line_and_writes_nothing() {
    let v = Visible::new("cron");
    setup(&v);
    let (code, out, err) = install(&v, &["--cron", "--at", "02:45", "--every", "daily"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let line = out.trim();
    assert!(line.starts_with("45 2 * * * "), "{line}");
    assert!(
        line.contains(" run ") && line.contains("monthly-drill.toml"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1);
    assert!(!v.0.join("units").exists());
}

/// An invalid `--at`, one test each: exit 2, the value named.
mod an_invalid_at {
    use super::*;

    fn refused(tag: &str, bad: &str) {
        let v = Visible::new(tag);
        setup(&v);
        let (code, _, err) = install(&v, &["--at", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains(&format!("invalid --at {bad}")), "{err}");
    }

    #[test]
    fn past_the_last_hour() {
        refused("at-hour", "25:00");
    }

    #[test]
    fn in_12_hour_form() {
        refused("at-pm", "3pm");
    }

    #[test]
    fn with_one_minute_digit() {
        refused("at-minute", "12:7");
    }
}

/// A scenario the service could not read at run time, one test each: exit
/// 2, and no unit written.
mod a_scenario_the_service_would_not_see {
    use super::*;

    /// `schedule install` of `scenario` (a path in `v`'s folder made by
    /// `place`): exit code and stderr, once it is checked nothing was written.
    fn install_unseen(tag: &str, place: impl FnOnce(&Path) -> PathBuf) -> (i32, String) {
        let v = Visible::new(tag);
        let (_, key, backups) = setup(&v);
        let scenario = place(&v.0);
        let units = v.0.join("units");
        let (code, _, err) = run(&[
            "schedule",
            "install",
            scenario.to_str().unwrap(),
            "--backups",
            backups.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--unit-dir",
            units.to_str().unwrap(),
        ]);
        assert!(!units.exists(), "nothing is written for a refused schedule");
        (code, err)
    }

    /// Under /tmp: the service runs with a private /tmp.
    #[test]
    fn under_tmp() {
        let tmp = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        let (code, err) = install_unseen("unseen-tmp", |dir| {
            let hidden = tmp.path().join("drill.toml");
            std::fs::copy(dir.join("monthly-drill.toml"), &hidden).unwrap();
            hidden
        });
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("a private /tmp of its own"), "{err}");
    }

    /// Under /var/tmp: PrivateTmp= gives the service its own /var/tmp too,
    /// and the refusal says so (not "private /tmp").
    #[test]
    fn under_var_tmp() {
        let tmp = tempfile::Builder::new().tempdir_in("/var/tmp").unwrap();
        let (code, err) = install_unseen("unseen-var-tmp", |dir| {
            let hidden = tmp.path().join("drill.toml");
            std::fs::copy(dir.join("monthly-drill.toml"), &hidden).unwrap();
            hidden
        });
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("is under /var/tmp: the scheduled service runs with PrivateTmp=yes, which gives it its own /tmp and its own /var/tmp"),
            "{err}"
        );
        assert!(!err.contains("private /tmp"), "{err}");
    }

    #[test]
    fn missing() {
        let (code, err) = install_unseen("unseen-missing", |dir| dir.join("missing.toml"));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("cannot be found"), "{err}");
    }

    #[test]
    fn broken() {
        let (code, err) = install_unseen("unseen-broken", |dir| {
            let broken = dir.join("broken.toml");
            std::fs::write(&broken, "name = \"x\"\n[backups]\nselect = \"newest\"\n").unwrap();
            broken
        });
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("broken.toml:3"), "{err}");
    }
}

/// What the drill writes (history, reports, metrics) under /tmp or /var/tmp
/// would be removed with the service's private copies of them when each run
/// ends: refused, one test each, naming the flag, the path and why; nothing
/// is written and no folder is made.
mod a_written_path_in_a_private_temporary_folder {
    use super::*;

    #[derive(Clone, Copy)]
    enum Kind {
        History,
        Reports,
        Metrics,
    }

    fn refused(tag: &str, kind: Kind, temporary: &str) {
        let v = Visible::new(tag);
        setup(&v);
        let tmp = tempfile::Builder::new().tempdir_in(temporary).unwrap();
        let (flag, path) = match kind {
            Kind::History => ("--history", tmp.path().join("state/history.sqlite")),
            Kind::Reports => ("--report-dir", tmp.path().join("reports")),
            Kind::Metrics => ("--metrics", tmp.path().join("prom/drill.prom")),
        };
        let p = path.to_str().unwrap();
        let (code, out, err) = match kind {
            Kind::History => install_recording_in(&v, &path, &[]),
            _ => install(&v, &[flag, p]),
        };
        assert_eq!(code, 2, "{flag} under {temporary}: {out}\n{err}");
        let why = if temporary == "/tmp" {
            "which gives it a private /tmp of its own"
        } else {
            "which gives it its own /tmp and its own /var/tmp"
        };
        let said = format!(
            "{flag} {p} is under {temporary}: the scheduled service runs with PrivateTmp=yes, {why}, removed when each run ends"
        );
        assert!(err.contains(&said), "{flag} under {temporary}:\n{err}");
        if temporary == "/var/tmp" {
            assert!(!err.contains("private /tmp"), "{err}");
        }
        assert!(
            err.contains("Choose a folder outside /tmp and /var/tmp"),
            "{err}"
        );
        assert!(!v.0.join("units").exists(), "no unit is written");
        assert!(
            !v.0.join("state/reports").exists() && files_in(tmp.path()).is_empty(),
            "no folder is made"
        );
    }

    #[test]
    fn history_under_tmp() {
        refused("w-history-tmp", Kind::History, "/tmp");
    }

    #[test]
    fn history_under_var_tmp() {
        refused("w-history-var-tmp", Kind::History, "/var/tmp");
    }

    #[test]
    fn reports_under_tmp() {
        refused("w-reports-tmp", Kind::Reports, "/tmp");
    }

    #[test]
    fn reports_under_var_tmp() {
        refused("w-reports-var-tmp", Kind::Reports, "/var/tmp");
    }

    #[test]
    fn metrics_under_tmp() {
        refused("w-metrics-tmp", Kind::Metrics, "/tmp");
    }

    #[test]
    fn metrics_under_var_tmp() {
        refused("w-metrics-var-tmp", Kind::Metrics, "/var/tmp");
    }

    /// A link that leads into /tmp is judged where it leads.
    #[test]
    fn reports_through_a_link_into_tmp() {
        let v = Visible::new("w-reports-link");
        setup(&v);
        let tmp = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        let link = v.0.join("to-tmp");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        let reports = link.join("reports");
        let (code, _, err) = install(&v, &["--report-dir", reports.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is under /tmp"), "{err}");
        assert!(files_in(tmp.path()).is_empty(), "no folder is made");
    }
}

/// Regression: a newline in the scenario's path wrote an extra
/// `ExecStartPre=` line into the unit, run as root before every drill.
#[test]
fn a_newline_in_a_scheduled_path_is_refused_and_nothing_is_written() {
    let v = Visible::new("newline");
    let (_, key, backups) = setup(&v);
    // No slash in a file name: the injected line runs `touch` from PATH.
    let evil = v.0.join("x\nExecStartPre=touch pwned");
    std::fs::create_dir(&evil).unwrap();
    let scenario = evil.join("drill.toml");
    std::fs::copy(v.0.join("monthly-drill.toml"), &scenario).unwrap();
    let units = v.0.join("units");
    for cron in [false, true] {
        let mut args = vec![
            "schedule",
            "install",
            scenario.to_str().unwrap(),
            "--backups",
            backups.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--unit-dir",
            units.to_str().unwrap(),
        ];
        if cron {
            args.push("--cron");
        }
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            err.contains("the scenario `")
                && err.contains("x\\nExecStartPre=touch pwned")
                && err.contains("holds a line break"),
            "{err}"
        );
        assert!(err.contains("Rename the file or folder"), "{err}");
        assert!(out.is_empty(), "no crontab line printed: {out}");
    }
    assert!(!units.exists(), "nothing is written for a refused schedule");
}

#[test]
fn a_bidi_override_in_the_site_is_refused() {
    let v = Visible::new("bidi");
    setup(&v);
    let (code, _, err) = install(&v, &["--site", "Eye Care\u{202E}gpj.exe"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the site `Eye Care\\u{202E}gpj.exe` holds a bidirectional control character"),
        "{err}"
    );
    assert!(!v.0.join("units").exists());
}

/// A scheduled drill has a private /tmp (`PrivateTmp=yes`) that the Docker
/// engine, in its own mount namespace, does not see: a socket folder made
/// there cannot be mounted into the sandbox. Under a private /tmp of the
/// same kind (a mount namespace with its own tmpfs on the drill's TMPDIR), the drill
/// fails without the unit's runtime folder and passes with it, as
/// RUNTIME_DIRECTORY passes it from `RuntimeDirectory=`.
#[test]
fn a_drill_under_a_private_tmp_keeps_its_sockets_where_docker_sees_them() {
    let clinic = shared_clinic();
    let runtime = tempfile::Builder::new()
        .prefix("rd-run-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let reports = tempdir();
    // The drill's temporary folder, a tmpfs mounted in its own mount
    // namespace as PrivateTmp= mounts one: the engine sees the empty folder
    // under it. Not over /tmp itself, where the checkout may be.
    let private = tempfile::Builder::new()
        .prefix("rd-tmp-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let drill = |runtime_dir: Option<&Path>| {
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs private-tmp \"$TMPDIR\" && exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_restore-drill"))
            .args([
                "--quiet",
                "run",
                &repo_scenario(),
                "--no-history",
                "--site",
                "Private Tmp",
            ])
            .arg("--backups")
            .arg(&clinic.backups)
            .arg("--identity")
            .arg(&clinic.key.path)
            .arg("--report-dir")
            .arg(reports.path())
            .env("TMPDIR", private.path())
            .env_remove("RUNTIME_DIRECTORY");
        if let Some(d) = runtime_dir {
            c.env("RUNTIME_DIRECTORY", d);
        }
        decode(c.output().expect("run unshare"))
    };
    let (code, _, err) = drill(None);
    assert_eq!(code, 3, "a socket folder under the private /tmp: {err}");
    assert!(err.contains("bind source path does not exist"), "{err}");
    let (code, out, err) = drill(Some(runtime.path()));
    assert_eq!(code, 0, "{out}\n{err}");
}

fn repo_scenario() -> String {
    format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// One timer for a whole fleet: the service runs `fleet run` with the
/// fleet's history, daily by default (the fleet drills what is due), and
/// systemd finds nothing wrong in it.
#[test]
fn a_fleet_gets_one_daily_service_and_timer() {
    let v = Visible::new("fleet");
    let (scenario, key, backups) = setup(&v);
    let fleet = v.0.join("fleet.toml");
    let mut text = String::from("name = \"Northside IT\"\nhistory = \"state/history.sqlite\"\n\n[[engine]]\nname = \"local\"\nhost = \"unix:///var/run/docker.sock\"\nsandboxes = 2\nmemory_gb = 8\n");
    for site in ["Eastside Optometry", "Harbor Eye Care"] {
        text.push_str(&format!(
            "\n[[site]]\nname = \"{site}\"\nscenario = \"{}\"\nbackups = \"{}\"\nidentities = [\"{}\"]\n",
            scenario.display(),
            backups.display(),
            key.display()
        ));
    }
    std::fs::write(&fleet, text).unwrap();
    let units = v.0.join("units");
    let (code, out, err) = run(&[
        "fleet",
        "schedule",
        "install",
        fleet.to_str().unwrap(),
        "--unit-dir",
        units.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("restore-drill-fleet runs every day at 03:00"),
        "{out}"
    );
    let service = std::fs::read_to_string(units.join("restore-drill-fleet.service")).unwrap();
    let exec = service
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .unwrap();
    let history = v.0.join("state/history.sqlite");
    assert!(
        exec.ends_with(&format!(
            "fleet run {} --history {}",
            fleet.display(),
            history.display()
        )),
        "{exec}"
    );
    let timer = std::fs::read_to_string(units.join("restore-drill-fleet.timer")).unwrap();
    assert!(timer.contains("OnCalendar=*-*-* 03:00:00"), "{timer}");
    assert_eq!(
        std::fs::read_dir(&units).unwrap().count(),
        2,
        "one service, one timer"
    );
    let (rc, said) = verify(&units);
    assert_eq!((rc, said.as_str()), (0, ""), "systemd-analyze verify");
}
