#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `fleet run` on two real Docker engines: this machine's, and a second
//! dockerd the test starts on a unix socket of its own (for the `tcp://`
//! tests also on a port of 127.0.0.1 with TLS; nothing listens beyond
//! loopback). Each site's drill is a real drill with its own report and
//! history record; a sampler proves no engine held more sandboxes than its
//! capacity; an engine stopped mid-fleet has its drills moved. An `ssh://`
//! engine is this machine's own reached through an sshd of the test's own.

mod common;

use common::engine::{SandboxSampler, SecondEngine, TlsFiles};
use common::sshd::{ClientKey, Sshd};
use common::*;
use restore_drill::sandbox::run::LABEL_ROLE;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const LOCAL: &str = "unix:///var/run/docker.sock";
const MARIADB: &str = "restore-drill/mariadb:10.11";

fn repo(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

/// A `[[site]]` of the fleet file.
struct SiteSpec<'a> {
    name: &'a str,
    scenario: String,
    backups: PathBuf,
    identity: PathBuf,
}

/// A fleet of two engines of two places (and 4 GiB: two 2 GiB sandboxes) each.
fn fleet_file(dir: &Path, second: &str, sites: &[SiteSpec]) -> PathBuf {
    let mut text = format!(
        "name = \"Northside IT\"\nhistory = \"history.sqlite\"\nreport_dir = \"reports\"\nmax_parallel = 4\n\n\
         [[engine]]\nname = \"local\"\nhost = \"{LOCAL}\"\nsandboxes = 2\nmemory_gb = 4\n\n\
         [[engine]]\nname = \"second\"\nhost = \"{second}\"\nsandboxes = 2\nmemory_gb = 4\n"
    );
    for s in sites {
        text.push_str(&format!(
            "\n[[site]]\nname = \"{}\"\nscenario = \"{}\"\nbackups = \"{}\"\nidentities = [\"{}\"]\n",
            s.name,
            s.scenario,
            s.backups.display(),
            s.identity.display()
        ));
    }
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A fleet run's end, what the sampler saw on each engine, and its pid.
type Fleeted = (
    Finished,
    std::collections::BTreeMap<String, common::engine::Sampled>,
    u32,
);

/// `fleet run` as a child: its pid (the label on what it creates) for the
/// sampler, then its end within `limit`.
fn fleet_run(
    args: &[&str],
    hosts: &[String],
    limit: Duration,
    during: impl FnOnce(&SandboxSampler, u32),
) -> Fleeted {
    fleet_run_with(args, &[], hosts, limit, during)
}

/// `fleet_run` with `env` added to the child's environment.
fn fleet_run_with(
    args: &[&str],
    env: &[(String, std::ffi::OsString)],
    hosts: &[String],
    limit: Duration,
    during: impl FnOnce(&SandboxSampler, u32),
) -> Fleeted {
    let start = Instant::now();
    // The fleet file names its history: the harness's own is not wanted.
    let child = bin()
        .env_remove("RESTORE_DRILL_HISTORY")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let sampler = SandboxSampler::start_for_pid(hosts, pid);
    during(&sampler, pid);
    let waited = wait_within(child, limit);
    let seen = sampler.finish();
    let (code, stdout, stderr) = decode(waited);
    let finished = Finished {
        code,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    };
    (finished, seen, pid)
}

/// Waits for the child; after `limit` it is killed and the test fails.
fn wait_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "fleet run did not end within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// The docker CLI's output for `args` on the engine at `host`.
fn docker_at(host: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", host)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Labelled containers (all states) the process `pid` left on an engine.
fn left_by(host: &str, pid: u32) -> usize {
    let by_pid = format!("label=org.restore-drill.pid={pid}");
    docker_at(host, &["ps", "-aq", "--filter", &by_pid])
        .lines()
        .count()
}

/// The shared clinic's backups, with a newer copy of its backup damaged in
/// the middle: the newest backup of this folder cannot be restored.
fn damaged_newest(dir: &Path) -> PathBuf {
    let clinic = shared_clinic();
    let out = dir.join("damaged");
    std::fs::create_dir(&out).unwrap();
    for f in files_in(&clinic.backups) {
        std::fs::copy(clinic.backups.join(&f), out.join(&f)).unwrap();
    }
    let original = clinic.backup();
    let name = original.file_name().unwrap().to_string_lossy().into_owned();
    // clinic-YYYYMMDDTHHMMSSZ: one second later is the newest.
    let stamp = &name["clinic-".len()..name.find(".dump").unwrap()];
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").unwrap();
    let newer = format!(
        "clinic-{}.dump.zst.age",
        (t + chrono::Duration::seconds(1)).format("%Y%m%dT%H%M%SZ")
    );
    let mut bytes = std::fs::read(&original).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0xa5;
    }
    std::fs::write(out.join(newer), bytes).unwrap();
    out
}

/// The six clinics of the fleet: two PostgreSQL, two MariaDB, one whose
/// newest backup is damaged, one whose key file is missing.
fn six_sites<'a>(dir: &Path, maria: &Path, maria_key: &Key) -> Vec<SiteSpec<'a>> {
    let pg = shared_clinic();
    let pg_site = |name: &'a str, backups: PathBuf, identity: PathBuf| SiteSpec {
        name,
        scenario: repo("scenarios/monthly-drill.toml"),
        backups,
        identity,
    };
    let maria_site = |name: &'a str| SiteSpec {
        name,
        scenario: repo("scenarios/mariadb/monthly-drill.toml"),
        backups: maria.to_path_buf(),
        identity: maria_key.path.clone(),
    };
    vec![
        pg_site(
            "Eastside Optometry",
            pg.backups.clone(),
            pg.key.path.clone(),
        ),
        maria_site("Harbor Eye Care"),
        pg_site("Lakeview Vision", pg.backups.clone(), pg.key.path.clone()),
        maria_site("Maple Street Optics"),
        pg_site(
            "Riverside Eye Clinic",
            damaged_newest(dir),
            pg.key.path.clone(),
        ),
        pg_site(
            "Westgate Optometry",
            pg.backups.clone(),
            dir.join("no-such-key.txt"),
        ),
    ]
}

/// Six clinics on two engines of two places each: every drill ends in bounded
/// time with its own verdict, report and history record; no engine ever held
/// more than two of the fleet's sandboxes; both engines drilled; the exit
/// code is the worst site's (the damaged backup's failed drill); one line per site.
#[test]
fn six_clinics_on_two_engines_each_end_with_their_own_verdict() {
    let second = SecondEngine::start();
    second.load_images(&[PG15, MARIADB]);
    let dir = tempdir();
    let maria_key = make_key(dir.path(), "maria.key");
    let maria = dir.path().join("maria");
    generate_fixture_on("mariadb", &maria, 500, &[&maria_key]);
    let sites = six_sites(dir.path(), &maria, &maria_key);
    let fleet = fleet_file(dir.path(), &second.host(), &sites);
    let hosts = [LOCAL.to_string(), second.host()];
    let args = ["fleet", "run", fleet.to_str().unwrap()];
    let (done, seen, pid) = fleet_run(&args, &hosts, Duration::from_secs(600), |_, _| {});
    eprintln!(
        "{}\n{}\nin {:?}; sampled {seen:?}",
        done.stdout, done.stderr, done.elapsed
    );
    for host in &hosts {
        let s = seen[host];
        assert!(s.max <= 2, "{host} held {} sandboxes at once", s.max);
        assert!(s.max >= 1, "{host} drilled nothing: {s:?}");
        assert_eq!(left_by(host, pid), 0, "left on {host}");
    }
    // A damaged newest backup fails its drill (1), which outranks the
    // missing key's drill that could not run (3): proven trouble first.
    assert_eq!(done.code, 1, "the worst site's code");
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert!(
        lines[0].starts_with("fleet Northside IT: 5 sites drilled, 1 not drilled, 0 not due"),
        "{}",
        done.stdout
    );
    for (site, outcome) in [
        (
            "Eastside Optometry",
            "PASSED (restored from the primary copy",
        ),
        ("Harbor Eye Care", "PASSED (restored from the primary copy"),
        ("Lakeview Vision", "PASSED (restored from the primary copy"),
        (
            "Maple Street Optics",
            "PASSED (restored from the primary copy",
        ),
        (
            "Westgate Optometry",
            "OPERATOR ERROR (stopped during load keys)",
        ),
    ] {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(site))
            .unwrap();
        assert!(line.contains(outcome), "{site}: {line}");
    }
    let damaged = lines
        .iter()
        .find(|l| l.trim_start().starts_with("Riverside Eye Clinic"))
        .unwrap();
    assert!(
        damaged.contains("FAILED (restored from the primary copy")
            && damaged.contains("1 newer backup unusable"),
        "{damaged}"
    );
    recorded_apart(dir.path(), &sites);
}

/// Each site has its own report folder with one report, and one record in
/// the fleet's history under its own name.
fn recorded_apart(dir: &Path, sites: &[SiteSpec]) {
    let (code, out, err) = run(&[
        "--json",
        "history",
        "--history",
        dir.join("history.sqlite").to_str().unwrap(),
        "list",
    ]);
    assert_eq!(code, 0, "{err}");
    let records: serde_json::Value = serde_json::from_str(&out).unwrap();
    let text = records.to_string();
    for s in sites {
        let folder: String = s
            .name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        let reports = files_in(&dir.join("reports").join(&folder));
        assert_eq!(reports.len(), 1, "{}: {reports:?}", s.name);
        let report =
            std::fs::read_to_string(dir.join("reports").join(&folder).join(&reports[0])).unwrap();
        assert!(
            report.contains(&format!("\"site\": \"{}\"", s.name)),
            "{}",
            s.name
        );
        assert_eq!(
            text.matches(&format!("\"{}\"", s.name)).count(),
            1,
            "{}: {text}",
            s.name
        );
    }
}

const FOUR: [&str; 4] = [
    "Alder Eye Care",
    "Birch Vision",
    "Cedar Optometry",
    "Dogwood Optics",
];

/// Four PostgreSQL clinics on the shared clinic's backups.
fn four_pg_sites() -> Vec<SiteSpec<'static>> {
    let pg = shared_clinic();
    FOUR.iter()
        .map(|&name| SiteSpec {
            name,
            scenario: repo("scenarios/monthly-drill.toml"),
            backups: pg.backups.clone(),
            identity: pg.key.path.clone(),
        })
        .collect()
}

/// The second engine stopped while it runs drills: they start again on the
/// first, every site passes once and is recorded once, the summary names
/// the lost engine, and nothing of the fleet is left on either engine (on
/// the stopped one, once it is back and `fleet gc` has swept it).
#[test]
fn an_engine_stopped_mid_fleet_has_its_drills_moved_to_the_other() {
    let mut second = SecondEngine::start();
    second.load_images(&[PG15]);
    let dir = tempdir();
    let sites = four_pg_sites();
    let names = FOUR;
    let fleet = fleet_file(dir.path(), &second.host(), &sites);
    let hosts = [LOCAL.to_string(), second.host()];
    let args = ["fleet", "run", fleet.to_str().unwrap()];
    let second_host = second.host();
    let (done, _, pid) = fleet_run(&args, &hosts, Duration::from_secs(600), |sampler, _| {
        sampler.wait_for_sandbox(&second_host, Duration::from_secs(120));
        second.stop();
    });
    eprintln!("{}\n{}\nin {:?}", done.stdout, done.stderr, done.elapsed);
    assert_eq!(done.code, 0, "every site passed in the end");
    let lines: Vec<&str> = done.stdout.lines().collect();
    for name in names {
        let line = lines
            .iter()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap();
        assert!(
            line.contains("PASSED") && line.contains("[engine local]"),
            "{line}"
        );
    }
    let moved = lines
        .iter()
        .filter(|l| l.contains("(moved from second)"))
        .count();
    assert!(moved >= 1, "no drill moved:\n{}", done.stdout);
    let lost = lines
        .iter()
        .find(|l| l.starts_with("engine second"))
        .unwrap();
    assert!(
        lost.contains("lost: it stopped answering during a drill"),
        "{lost}"
    );
    assert!(lost.contains(&format!("{moved} drill")), "{lost}");
    assert!(lost.contains("restore-drill fleet gc"), "{lost}");
    assert_eq!(left_by(LOCAL, pid), 0, "left on this machine's engine");
    // Back, the stopped engine still holds what the stopped drills left;
    // `fleet gc` removes it.
    second.restart();
    let left = left_by(&second.host(), pid);
    eprintln!("left on the stopped engine until swept: {left}");
    let (code, out, err) = run(&["fleet", "gc", fleet.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(left_by(&second.host(), pid), 0, "{out}");
    let (_, list, _) = run(&[
        "--json",
        "history",
        "--history",
        dir.path().join("history.sqlite").to_str().unwrap(),
        "list",
    ]);
    let records: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    assert_eq!(records.len(), names.len(), "one record per site: {list}");
}

/// SIGTERM while drills run (a systemd stop, a shutdown): the drills under
/// way stop, what they created is removed, each leaves a report saying it
/// was interrupted, the sites not started are said, and the fleet exits in
/// bounded time with a failure's code.
#[test]
fn sigterm_stops_the_fleet_and_removes_what_its_drills_created() {
    let dir = tempdir();
    let sites = four_pg_sites();
    // One engine that answers: the second is an address nothing listens on.
    let nowhere = format!("unix://{}", dir.path().join("no-engine.sock").display());
    let fleet = fleet_file(dir.path(), &nowhere, &sites);
    let args = [
        "fleet",
        "run",
        fleet.to_str().unwrap(),
        "--max-parallel",
        "2",
    ];
    let hosts = [LOCAL.to_string()];
    let (done, _, pid) = fleet_run(&args, &hosts, Duration::from_secs(120), |sampler, pid| {
        sampler.wait_for_sandbox(LOCAL, Duration::from_secs(120));
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    });
    eprintln!("{}\n{}\nin {:?}", done.stdout, done.stderr, done.elapsed);
    assert_eq!(left_by(LOCAL, pid), 0, "left on the engine");
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(
        done.stdout.contains("stopped by SIGTERM"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("not started"), "{}", done.stdout);
    let interrupted = done
        .stdout
        .lines()
        .filter(|l| l.contains("ERROR (interrupted)"))
        .count();
    assert!((1..=2).contains(&interrupted), "{}", done.stdout);
    let lost = done
        .stdout
        .lines()
        .find(|l| l.starts_with("engine \"second\""))
        .unwrap();
    assert!(
        lost.contains("is not reachable") && lost.contains("fleet.toml:12"),
        "{lost}"
    );
}

// ---- One engine over TCP with TLS, on loopback ----

/// The name of the TLS engine in the fleet file.
const TLS_ENGINE: &str = "loopback-tls";
const TLS_SITE: &str = "Summit Eye Care";

/// A fleet of one engine at `host` (`tcp://…`) reached with `tls`, and
/// one PostgreSQL site: the shared clinic.
fn tls_fleet(dir: &Path, host: &str, tls: &TlsFiles) -> PathBuf {
    let pg = shared_clinic();
    let text = format!(
        "name = \"Loopback\"\nhistory = \"history.sqlite\"\nreport_dir = \"reports\"\n\n\
         [[engine]]\nname = \"{TLS_ENGINE}\"\nhost = \"{host}\"\nsandboxes = 1\nmemory_gb = 4\n\
         tls_ca = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\n\
         [[site]]\nname = \"{TLS_SITE}\"\nscenario = \"{}\"\nbackups = \"{}\"\nidentities = [\"{}\"]\n",
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display(),
        repo("scenarios/monthly-drill.toml"),
        pg.backups.display(),
        pg.key.path.display(),
    );
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `docker inspect` of the one sandbox running on the engine at `host`
/// (a unix socket: the test's own way in, beside the fleet's TCP one).
fn running_sandbox(host: &str) -> serde_json::Value {
    let docker = |args: &[&str]| docker_at(host, args);
    let role = format!("label={LABEL_ROLE}=sandbox");
    let ids = docker(&["ps", "-q", "--filter", &role]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 1, "sandboxes running on {host}: {ids:?}");
    let inspected: serde_json::Value = serde_json::from_str(&docker(&["inspect", ids[0]])).unwrap();
    inspected[0].clone()
}

/// An engine reached over TCP with a client certificate: the drill passes
/// on it, its report names it, and its sandbox holds no folder of this
/// host (no mount at all, no network): the database was reached through
/// the relay in the Docker API's connection. Nothing is left on it.
#[test]
fn a_tls_engine_on_loopback_drills_through_the_relay_with_no_folder_of_this_host() {
    let (engine, tls) = SecondEngine::start_tls();
    engine.load_images(&[PG15]);
    let dir = tempdir();
    let fleet = tls_fleet(dir.path(), &engine.tcp_host(), &tls);
    let unix = engine.host();
    let args = ["fleet", "run", fleet.to_str().unwrap()];
    let mut sandbox = serde_json::Value::Null;
    let (done, seen, pid) = fleet_run(
        &args,
        std::slice::from_ref(&unix),
        Duration::from_secs(600),
        |sampler, _| {
            sampler.wait_for_sandbox(&unix, Duration::from_secs(120));
            sandbox = running_sandbox(&unix);
        },
    );
    eprintln!(
        "{}\n{}\nin {:?}; sampled {seen:?}",
        done.stdout, done.stderr, done.elapsed
    );
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    let line = done
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with(TLS_SITE))
        .unwrap();
    assert!(
        line.contains("PASSED") && line.contains(&format!("[engine {TLS_ENGINE}]")),
        "{line}"
    );
    let host_config = &sandbox["HostConfig"];
    assert_eq!(
        sandbox["Mounts"],
        serde_json::json!([]),
        "the sandbox {} holds a folder",
        sandbox["Name"]
    );
    assert!(host_config["Binds"].is_null(), "{host_config:#}");
    assert!(host_config["Mounts"].is_null(), "{host_config:#}");
    assert_eq!(host_config["NetworkMode"], "none", "{host_config:#}");
    assert_eq!(
        the_report(dir.path())["target"]["docker_engine"],
        TLS_ENGINE
    );
    assert_eq!(left_by(&unix, pid), 0, "left on the TLS engine");
}

/// The one report of the TLS fleet's site.
fn the_report(dir: &Path) -> serde_json::Value {
    let folder = dir.join("reports").join("summit-eye-care");
    let reports = files_in(&folder);
    assert_eq!(reports.len(), 1, "{reports:?}");
    serde_json::from_str(&std::fs::read_to_string(folder.join(&reports[0])).unwrap()).unwrap()
}

/// The engine refuses a client certificate its CA did not sign: the fleet
/// says the engine is not reachable and why, drills nothing, and ends with
/// exit 3 within seconds, not when a drill's timeouts run out.
#[test]
fn a_tls_engine_refusing_the_client_certificate_is_not_reachable_and_nothing_is_drilled() {
    let (engine, _) = SecondEngine::start_tls();
    let foreign = engine.foreign_client();
    let dir = tempdir();
    let fleet = tls_fleet(dir.path(), &engine.tcp_host(), &foreign);
    let args = ["fleet", "run", fleet.to_str().unwrap()];
    // No image on the engine: the fleet must stop at the handshake, before
    // it looks for one (the messages below tell the two apart).
    let (done, _, pid) = fleet_run(&args, &[engine.host()], Duration::from_secs(120), |_, _| {});
    eprintln!("{}\n{}\nin {:?}", done.stdout, done.stderr, done.elapsed);
    assert_eq!(done.code, 3, "{}\n{}", done.stdout, done.stderr);
    assert!(
        done.elapsed < Duration::from_secs(30),
        "took {:?}",
        done.elapsed
    );
    let unreachable = format!(
        "engine {TLS_ENGINE:?} ({}, {}:5) is not reachable: ",
        engine.tcp_host(),
        fleet.display()
    );
    assert!(done.stderr.contains(&unreachable), "{}", done.stderr);
    // The cause, not just the HTTP client's "client error": rustls's
    // "received fatal alert: BadCertificate", the engine's refusal.
    let why = done.stderr.split(&unreachable).nth(1).unwrap_or_default();
    assert!(why.contains("BadCertificate"), "{}", done.stderr);
    let lines: Vec<&str> = done.stdout.lines().collect();
    let site = lines
        .iter()
        .find(|l| l.trim_start().starts_with(TLS_SITE))
        .unwrap();
    assert!(
        site.contains("NOT DRILLED (no engine that could take it answers)"),
        "{site}"
    );
    let lost = lines
        .iter()
        .find(|l| l.starts_with(&format!("engine \"{TLS_ENGINE}\" ")))
        .unwrap();
    assert!(lost.contains(&unreachable), "{lost}");
    assert!(!dir.path().join("reports").join("summit-eye-care").exists());
    assert_eq!(left_by(&engine.host(), pid), 0);
}

// ---- An engine reached over ssh ----

/// A fleet of one engine, `host`, and one PostgreSQL site on the shared clinic.
fn one_engine_fleet(dir: &Path, host: &str) -> PathBuf {
    let pg = shared_clinic();
    let text = format!(
        "name = \"Northside IT\"\nhistory = \"history.sqlite\"\nreport_dir = \"reports\"\n\n\
         [[engine]]\nname = \"over-ssh\"\nhost = \"{host}\"\nsandboxes = 1\nmemory_gb = 4\n\n\
         [[site]]\nname = \"Eastside Optometry\"\nscenario = \"{}\"\nbackups = \"{}\"\nidentities = [\"{}\"]\n",
        repo("scenarios/monthly-drill.toml"),
        pg.backups.display(),
        pg.key.path.display()
    );
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits (at most `limit`) until a sandbox runs on this machine's engine;
/// false as soon as the fleet process `pid` has ended without one.
fn sandbox_started(sampler: &SandboxSampler, pid: u32, limit: Duration) -> bool {
    let started = Instant::now();
    while sampler.seen(LOCAL).last.unwrap_or(0) == 0 {
        // Ended: gone, or a zombie its parent (this test) has not reaped.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next());
        if matches!(state, None | Some('Z')) || started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// How the running sandboxes of the restore-drill process `pid` on this
/// machine's engine are made: (their mounts as JSON, their network mode).
fn sandboxes_made(pid: u32) -> Vec<(String, String)> {
    let docker = |args: &[&str]| docker_at(LOCAL, args);
    let by_pid = format!("label=org.restore-drill.pid={pid}");
    let ids = docker(&[
        "ps",
        "-q",
        "--filter",
        &by_pid,
        "--filter",
        "label=org.restore-drill.role=sandbox",
    ]);
    ids.lines()
        .map(|id| {
            let made = docker(&[
                "inspect",
                "-f",
                "{{json .Mounts}} {{.HostConfig.NetworkMode}}",
                id,
            ]);
            let (mounts, network) = made.trim().rsplit_once(' ').unwrap();
            (mounts.to_string(), network.to_string())
        })
        .collect()
}

/// An `ssh://USER@HOST` engine: this machine's own Docker, reached
/// through an sshd of the test's own and `docker system dial-stdio`, as a
/// machine elsewhere would be. The site passes on it; its sandbox mounts
/// nothing of this host and has no network (the database is reached through
/// the relay exec'd in it, over the ssh connection); the login was the
/// test's key's; nothing is left, neither containers nor ssh clients.
#[test]
fn ssh_engine_drills_through_the_relay_with_nothing_of_this_host_mounted() {
    let sshd = Sshd::start();
    let dir = tempdir();
    let host = sshd.engine_url();
    let fleet = one_engine_fleet(dir.path(), &host);
    let args = ["fleet", "run", fleet.to_str().unwrap()];
    let hosts = [LOCAL.to_string()];
    let mut made = Vec::new();
    let (done, seen, pid) = fleet_run_with(
        &args,
        &sshd.client_env(),
        &hosts,
        Duration::from_secs(300),
        |sampler, pid| {
            if sandbox_started(sampler, pid, Duration::from_secs(120)) {
                made = sandboxes_made(pid);
            }
        },
    );
    eprintln!(
        "{}\n{}\nin {:?}; sampled {seen:?}; sandboxes {made:?}",
        done.stdout, done.stderr, done.elapsed
    );
    assert_eq!(
        done.code,
        0,
        "{}\n{}\nsshd:\n{}",
        done.stdout,
        done.stderr,
        sshd.log()
    );
    let line = site_line(&done.stdout, "Eastside Optometry");
    assert!(
        line.contains("PASSED (restored from the primary copy")
            && line.contains("[engine over-ssh]"),
        "{line}"
    );
    assert_eq!(made.len(), 1, "one sandbox of the fleet ran: {made:?}");
    assert_eq!(
        made[0],
        ("[]".to_string(), "none".to_string()),
        "no mounts, no network"
    );
    // The engine was reached through the test's sshd, with the test's key,
    // its host key learnt on first contact.
    assert!(
        sshd.log().contains("Accepted publickey for root"),
        "{}",
        sshd.log()
    );
    let known = std::fs::read_to_string(sshd.known_hosts()).unwrap();
    assert!(
        known.contains(&format!("[127.0.0.1]:{}", sshd.port())),
        "{known}"
    );
    nothing_left(&sshd, pid);
}

/// An `ssh://` engine whose sshd refuses the key: the fleet says the engine
/// is not reachable and why, drills nothing, exits 3 (nothing could run),
/// and does so in seconds, not when a drill's timeouts run out.
#[test]
fn ssh_engine_that_refuses_the_key_is_not_reachable_and_nothing_is_drilled() {
    let sshd = Sshd::start();
    sshd.use_key(ClientKey::Stranger);
    let dir = tempdir();
    let host = sshd.engine_url();
    let fleet = one_engine_fleet(dir.path(), &host);
    let args = ["fleet", "run", fleet.to_str().unwrap()];
    let hosts = [LOCAL.to_string()];
    let (done, seen, pid) = fleet_run_with(
        &args,
        &sshd.client_env(),
        &hosts,
        Duration::from_secs(120),
        |_, _| {},
    );
    eprintln!(
        "{}\n{}\nin {:?}; sampled {seen:?}",
        done.stdout, done.stderr, done.elapsed
    );
    assert_eq!(done.code, 3, "{}\n{}", done.stdout, done.stderr);
    assert_eq!(seen[LOCAL].max, 0, "a sandbox ran: {seen:?}");
    assert!(
        sshd.log()
            .contains("Connection closed by authenticating user root"),
        "{}",
        sshd.log()
    );
    let output = format!("{}{}", done.stdout, done.stderr);
    let lost = output
        .lines()
        .find(|l| l.starts_with("engine \"over-ssh\""))
        .unwrap_or_else(|| panic!("the engine is not named:\n{output}"));
    assert!(
        lost.contains(&format!("({host}, "))
            && lost.contains("fleet.toml:5) is not reachable")
            && lost.contains("Permission denied (publickey). Start it, or fix its address or this machine's ssh access to it"),
        "{lost}"
    );
    let site = site_line(&done.stdout, "Eastside Optometry");
    assert!(
        site.contains("NOT DRILLED (no engine that could take it answers)"),
        "{site}"
    );
    // Under the 15 s the first contact may take: the refusal is found out,
    // not waited out (an ssh asking for a password would hang until then).
    assert!(
        done.elapsed < Duration::from_secs(10),
        "took {:?}",
        done.elapsed
    );
    nothing_left(&sshd, pid);
}

/// The line of `site` in a fleet's summary.
fn site_line<'a>(stdout: &'a str, site: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(site))
        .unwrap_or_else(|| panic!("{site} is not named:\n{stdout}"))
}

/// No container of the fleet process `pid` on the engine, and no ssh client
/// (a ControlMaster) still running for it.
fn nothing_left(sshd: &Sshd, pid: u32) {
    assert_eq!(left_by(LOCAL, pid), 0, "left on the engine");
    assert_eq!(
        sshd.clients_left(),
        Vec::<String>::new(),
        "ssh clients left running"
    );
}
