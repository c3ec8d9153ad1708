//! The fleet benchmark: `cargo bench --bench fleet [-- --rounds N --no-write]`.
//!
//! Twelve small clinics (2,000 patients each, all drilling the same backup
//! with scenarios/monthly-drill.toml, 2 GiB sandboxes) on this machine's
//! Docker engine, measured alternately in the same run:
//!
//! 1. `restore-drill fleet run FLEET --all --max-parallel 2` on one engine
//!    of two sandboxes, wall time, against the same twelve drills as twelve
//!    `restore-drill run`s one after another (each with its `--site`, a fresh
//!    history and report folder): target at most 0.6x, the sandboxes' start
//!    and the checks of one drill overlapping the other's;
//! 2. the peak resident memory of the `fleet run` process itself (target
//!    under 100 MiB).
//!
//! A round counts only if every process exited 0 and the fleet drilled all
//! twelve sites; otherwise the benchmark fails rather than report a void
//! figure. Every drill's report is read back: the phases alone and in the
//! fleet, how many drills the fleet had under way over its wall time and
//! which phases ran beside which say where the time went; the CPU the
//! Docker containers got on each side says whether the machine had any to
//! spare for a second sandbox (on a busy machine it has not, and the fleet
//! cannot gain). Needs Docker and restore-drill/postgres:15.
//! With the defaults the results are written to benches/RESULTS-fleet.md.
//! Options (after `--`):
//!
//!   --rounds N     fleet runs and sequential runs, alternating (default 3)
//!   --sites N      clinics (default 12)
//!   --patients N   clinic size (default 2000)
//!   --no-write     print only; leave the results file alone

use restore_drill::catalog;
use restore_drill::keys;
use restore_drill::sandbox::run::process_start;
use restore_drill::scenario::fleet::load_fleet;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

#[path = "common/mod.rs"]
mod common;
use common::{
    checked, cpu_model, kernel, load_average, median, mem_gib, repo, runnable, say, verdict,
    vm_hwm_kib, Res, BIN, IMAGE, SCENARIO, SEED,
};

const RESULTS: &str = "benches/RESULTS-fleet.md";
/// The fleet: the results file holds only this size.
const FULL_SITES: usize = 12;
const FULL_PATIENTS: u64 = 2000;
const MAX_PARALLEL: usize = 2;
/// Two 2 GiB sandboxes fit: the engine never makes the second drill wait.
const ENGINE_MEMORY_GB: u32 = 4;
const TARGET_RATIO: f64 = 0.6;
const TARGET_MEMORY_MIB: f64 = 100.0;
/// Bounds on the processes measured: a drill of 2,000 patients takes
/// seconds, so these only stop a hang.
const RUN_LIMIT: Duration = Duration::from_secs(180);
const FLEET_LIMIT: Duration = Duration::from_secs(900);
/// After SIGTERM a drill removes its sandbox; then it is killed.
const TERM_GRACE: Duration = Duration::from_secs(30);

struct Args {
    rounds: usize,
    sites: usize,
    patients: u64,
    write: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        rounds: 3,
        sites: FULL_SITES,
        patients: FULL_PATIENTS,
        write: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--rounds" => a.rounds = value("--rounds")?.parse()?,
            "--sites" => a.sites = value("--sites")?.parse()?,
            "--patients" => a.patients = value("--patients")?.parse()?,
            "--no-write" => a.write = false,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo bench --bench fleet -- \
                     [--rounds N] [--sites N] [--patients N] [--no-write]"
                )
                .into())
            }
        }
    }
    if a.rounds == 0 || a.sites == 0 || a.patients == 0 {
        return Err("--rounds, --sites and --patients must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args = parse_args()?;
    let machine = Machine::probe();
    say(format!(
        "restore-drill {BIN}; {} CPUs, {:.1} GiB RAM, Docker {}",
        machine.cpus, machine.mem_gib, machine.docker
    ));
    checked(Command::new("docker").args(["image", "inspect", IMAGE]))
        .map_err(|e| format!("{IMAGE} is needed (restore-drill images build): {e}"))?;
    let tmp = tempfile::Builder::new()
        .prefix("restore-drill-bench-fleet")
        .tempdir()?;
    let fixture = Fixture::make(tmp.path(), args.patients)?;
    let sites: Vec<String> = (1..=args.sites).map(|i| format!("Clinic {i:02}")).collect();
    let load_before = load_average();
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        rounds.push(one_round(round, tmp.path(), &fixture, &sites)?);
    }
    let results = Results {
        args: &args,
        machine,
        fixture,
        rounds,
        load: (load_before, load_average()),
    };
    publish(&args, &results.markdown())
}

fn publish(args: &Args, md: &str) -> Res<()> {
    println!("\n{md}");
    let full = args.sites == FULL_SITES && args.patients == FULL_PATIENTS;
    if !args.write {
        say(format!("--no-write: {RESULTS} left alone"));
    } else if !full {
        say(format!(
            "not the issue's {FULL_SITES} sites of {FULL_PATIENTS} patients: {RESULTS} left alone"
        ));
    } else {
        std::fs::write(repo(RESULTS), md)?;
        say(format!("written to {RESULTS}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The fixture: one clinic, one key, twelve sites

struct Fixture {
    key: PathBuf,
    backups: PathBuf,
    patients: u64,
    file_bytes: u64,
    dump_bytes: u64,
    rows: u64,
    tables: usize,
}

impl Fixture {
    /// A fresh key and one backup encrypted to it, as a user makes them,
    /// read once so that every drill starts with it in the page cache.
    fn make(dir: &Path, patients: u64) -> Res<Fixture> {
        let key = dir.join("k");
        let backups = dir.join("b");
        std::fs::create_dir_all(&backups)?;
        let public = keys::generate_identity_file(&key)?;
        say(format!("generating a clinic of {patients} patients"));
        checked(
            Command::new(BIN)
                .args(["--quiet", "fixtures", "generate", "--engine", "postgres"])
                .arg("--out")
                .arg(&backups)
                .args(["--patients", &patients.to_string(), "--seed", SEED])
                .args(["--recipient", &public]),
        )?;
        let found = catalog::list::scan(&backups, None)?;
        let [backup] = <[_; 1]>::try_from(found)
            .map_err(|f| format!("expected one backup, the generator made {}", f.len()))?;
        let manifest = backup
            .manifest
            .ok_or("the generated backup has no manifest")?;
        std::io::copy(
            &mut std::fs::File::open(&backup.path)?,
            &mut std::io::sink(),
        )?;
        Ok(Fixture {
            key,
            backups,
            patients,
            file_bytes: backup.bytes,
            dump_bytes: manifest.dump.bytes,
            rows: manifest.tables.iter().map(|t| t.rows).sum(),
            tables: manifest.tables.len(),
        })
    }

    /// The fleet file of one round: one engine (this machine's, two
    /// sandboxes) and every site on the same backup and key.
    fn fleet_file(&self, dir: &Path, sites: &[String]) -> Res<PathBuf> {
        let mut text = format!(
            "name = \"bench\"\nreport_dir = \"reports\"\n\n[[engine]]\nname = \"local\"\n\
             host = \"unix:///var/run/docker.sock\"\nsandboxes = {MAX_PARALLEL}\n\
             memory_gb = {ENGINE_MEMORY_GB}\n"
        );
        for s in sites {
            write!(
                text,
                "\n[[site]]\nname = {s:?}\nscenario = {:?}\nbackups = {:?}\nidentities = [{:?}]\n",
                repo(SCENARIO).display().to_string(),
                self.backups.display().to_string(),
                self.key.display().to_string()
            )?;
        }
        std::fs::create_dir_all(dir)?;
        let path = dir.join("fleet.toml");
        std::fs::write(&path, text)?;
        // Read as `fleet run` reads it, so a mistake here fails now, plainly.
        let fleet = load_fleet(&path)?;
        let need: u64 = fleet
            .sites
            .iter()
            .map(|s| s.memory_bytes())
            .max()
            .unwrap_or(0);
        if need * MAX_PARALLEL as u64 > fleet.engines[0].memory_bytes {
            return Err(
                format!("{ENGINE_MEMORY_GB} GB cannot hold {MAX_PARALLEL} sandboxes").into(),
            );
        }
        Ok(path)
    }
}

// ---------------------------------------------------------------------------
// Rounds: the fleet against the same drills one after another

/// One phase of a drill, as its report tells it.
struct Phase {
    name: String,
    start: SystemTime,
    secs: f64,
}

impl Phase {
    fn end(&self) -> SystemTime {
        self.start + Duration::from_secs_f64(self.secs)
    }

    /// Seconds this phase and `other` ran at the same time.
    fn alongside(&self, other: &Phase) -> f64 {
        secs_between(self.start.max(other.start), self.end().min(other.end()))
    }
}

/// One drill: its phases, when it started and ended (first phase's start,
/// last phase's end).
struct DrillTimes {
    phases: Vec<Phase>,
    start: SystemTime,
    end: SystemTime,
}

impl DrillTimes {
    fn span(&self) -> f64 {
        secs_between(self.start, self.end)
    }
}

struct Side {
    wall: f64,
    drills: Vec<DrillTimes>,
    /// The measured process's peak resident set (the fleet's; for the
    /// sequential side the largest of its runs').
    peak_kib: u64,
    machine: Conditions,
}

struct Round {
    fleet_first: bool,
    fleet: Side,
    sequential: Side,
}

/// Alternates which side goes first, so that neither always drills on a
/// machine the other has just warmed up (or heated).
fn one_round(round: usize, dir: &Path, f: &Fixture, sites: &[String]) -> Res<Round> {
    let fleet_first = round.is_multiple_of(2);
    let dir = dir.join(format!("round-{}", round + 1));
    let (mut fleet, mut sequential) = (None, None);
    for fleet_now in [fleet_first, !fleet_first] {
        if fleet_now {
            say(format!(
                "round {}: fleet run, {} sites",
                round + 1,
                sites.len()
            ));
            let s = fleet_side(&dir.join("fleet"), f, sites)?;
            say(format!(
                "  {:.1} s, peak RSS {:.1} MiB",
                s.wall,
                s.peak_kib as f64 / 1024.0
            ));
            fleet = Some(s);
        } else {
            say(format!(
                "round {}: {} runs one after another",
                round + 1,
                sites.len()
            ));
            let s = sequential_side(&dir.join("sequential"), f, sites)?;
            say(format!("  {:.1} s", s.wall));
            sequential = Some(s);
        }
    }
    let (Some(fleet), Some(sequential)) = (fleet, sequential) else {
        return Err("a round measured only one side".into());
    };
    Ok(Round {
        fleet_first,
        fleet,
        sequential,
    })
}

/// `fleet run --all --max-parallel 2` with a fresh history; void unless it
/// exits 0 having drilled every site.
fn fleet_side(dir: &Path, f: &Fixture, sites: &[String]) -> Res<Side> {
    let file = f.fleet_file(dir, sites)?;
    let machine = Watching::start();
    let mut cmd = Command::new(BIN);
    cmd.args(["--json", "fleet", "run"])
        .arg(&file)
        .args(["--all", "--max-parallel", &MAX_PARALLEL.to_string()])
        .arg("--history")
        .arg(dir.join("history.sqlite"));
    let m = measured(&mut cmd, FLEET_LIMIT)?;
    let machine = machine.finish();
    let summary: Value = serde_json::from_slice(&m.out.stdout)
        .map_err(|e| format!("fleet run printed no JSON summary ({e}): {}", m.stderr()))?;
    let rows = summary["sites"].as_array().cloned().unwrap_or_default();
    if rows.len() != sites.len() {
        return Err(format!(
            "fleet run drilled {} sites of {}: {}",
            rows.len(),
            sites.len(),
            m.stderr()
        )
        .into());
    }
    let mut drills = Vec::new();
    for row in &rows {
        if row["exit_code"] != 0 {
            return Err(format!("fleet run: {} ended {}", row["site"], row["outcome"]).into());
        }
        let path = row["report"].as_str().ok_or("a site without a report")?;
        drills.push(drill_times(&serde_json::from_slice(&std::fs::read(
            path,
        )?)?)?);
    }
    Ok(Side {
        wall: m.wall,
        drills,
        peak_kib: m.peak_kib,
        machine,
    })
}

/// The same drills as `restore-drill run`s, one after another, each with
/// its site's name, a fresh history and a report folder of its own.
fn sequential_side(dir: &Path, f: &Fixture, sites: &[String]) -> Res<Side> {
    let history = dir.join("history.sqlite");
    std::fs::create_dir_all(dir)?;
    let machine = Watching::start();
    let t = Instant::now();
    let (mut drills, mut peak_kib) = (Vec::new(), 0);
    for (i, site) in sites.iter().enumerate() {
        let mut cmd = Command::new(BIN);
        cmd.args(["--json", "run"])
            .arg(repo(SCENARIO))
            .arg("--backups")
            .arg(&f.backups)
            .arg("--identity")
            .arg(&f.key)
            .args(["--site", site])
            .arg("--history")
            .arg(&history)
            .arg("--report-dir")
            .arg(dir.join(format!("reports-{}", i + 1)));
        let m = measured(&mut cmd, RUN_LIMIT)?;
        let report: Value = serde_json::from_slice(&m.out.stdout)
            .map_err(|e| format!("run printed no JSON report ({e}): {}", m.stderr()))?;
        drills.push(drill_times(&report)?);
        peak_kib = peak_kib.max(m.peak_kib);
    }
    let wall = t.elapsed().as_secs_f64();
    Ok(Side {
        wall,
        drills,
        peak_kib,
        machine: machine.finish(),
    })
}

/// A report's phases.
fn drill_times(report: &Value) -> Res<DrillTimes> {
    let raw = report["phases"]
        .as_array()
        .ok_or("a report without phases")?;
    let mut phases = Vec::new();
    for p in raw {
        let at = p["started_at"]
            .as_str()
            .ok_or("a phase without started_at")?;
        phases.push(Phase {
            name: p["name"].as_str().unwrap_or("?").to_string(),
            start: chrono::DateTime::parse_from_rfc3339(at)?.into(),
            secs: p["seconds"].as_f64().ok_or("a phase without seconds")?,
        });
    }
    let start = phases.iter().map(|p| p.start).min();
    let end = phases.iter().map(Phase::end).max();
    let (Some(start), Some(end)) = (start, end) else {
        return Err("a report with no phase".into());
    };
    Ok(DrillTimes { phases, start, end })
}

// ---------------------------------------------------------------------------
// One measured process

struct Measured {
    out: Output,
    wall: f64,
    peak_kib: u64,
}

impl Measured {
    fn stderr(&self) -> String {
        let s = String::from_utf8_lossy(&self.out.stderr);
        let last: Vec<&str> = s.lines().rev().take(10).collect();
        format!(
            "({}) it said, last first: {}",
            self.out.status,
            last.join(" / ")
        )
    }
}

/// Runs `cmd` to its end within `limit` (then SIGTERM, which stops its
/// drills and removes their sandboxes, then SIGKILL): its wall time and the
/// peak of its own resident set. Anything but exit 0 voids the measurement.
fn measured(cmd: &mut Command, limit: Duration) -> Res<Measured> {
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let watch = Watch::start(pid);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out?,
        Err(_) => {
            stop(pid, &rx);
            return Err(format!("`{}` did not end within {limit:?}", shown(cmd)).into());
        }
    };
    let wall = t.elapsed().as_secs_f64();
    let m = Measured {
        out,
        wall,
        peak_kib: watch.finish(),
    };
    if !m.out.status.success() {
        return Err(format!("`{}` failed {}", shown(cmd), m.stderr()).into());
    }
    Ok(m)
}

/// A command as a shell would show it, for messages.
fn shown(cmd: &Command) -> String {
    let args = cmd.get_args().map(|a| a.to_string_lossy().into_owned());
    let mut words = vec!["restore-drill".to_string()];
    words.extend(args);
    words.join(" ")
}

type Waited = mpsc::Receiver<std::io::Result<Output>>;

fn stop(pid: u32, rx: &Waited) {
    use nix::sys::signal::{kill, Signal};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    let _ = kill(pid, Signal::SIGTERM);
    if rx.recv_timeout(TERM_GRACE).is_err() {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = rx.recv_timeout(TERM_GRACE);
    }
}

/// The peak resident set of one process, from the kernel's high-water mark
/// (VmHWM in /proc/PID/status) sampled every 5 ms until it ends: the mark
/// only rises, so a sample misses at most the last few milliseconds. The
/// process's own memory, not its children's (it has none: Docker is asked
/// over its API).
struct Watch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Watch {
    fn start(pid: u32) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // The start time tells the process apart from a later one with its PID.
        let started = process_start(pid);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                if process_start(pid) == started {
                    peak = vm_hwm_kib(pid).map_or(peak, |kib| peak.max(kib));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        Watch { stop, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// The machine's run queue (runnable tasks, from /proc/loadavg) sampled
/// every 100 ms: on a shared machine, how much else wanted the CPUs (the
/// drills themselves keep a few tasks runnable).
struct RunQueue {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u32>>,
}

impl RunQueue {
    fn start() -> RunQueue {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.extend(runnable());
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        });
        RunQueue { stop, thread }
    }

    fn finish(self) -> Vec<u32> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The machine while one side ran: what else wanted its CPUs, and how much
/// CPU the Docker containers got.
struct Conditions {
    started: SystemTime,
    /// The one-minute load average as the side started.
    load: f64,
    /// The mean run queue while it ran.
    queue: Option<f64>,
    /// CPUs the Docker containers used on average (cgroup v1's cpuacct of
    /// the `docker` group; None elsewhere).
    containers: Option<f64>,
    /// The share of the machine's CPU time that was busy, with anything.
    busy: Option<f64>,
}

struct Watching {
    started: SystemTime,
    t: Instant,
    load: f64,
    queue: RunQueue,
    containers_ns: Option<u64>,
    stat: Option<(u64, u64)>,
}

impl Watching {
    fn start() -> Watching {
        Watching {
            started: SystemTime::now(),
            t: Instant::now(),
            load: load_average(),
            queue: RunQueue::start(),
            containers_ns: containers_cpu_ns(),
            stat: busy_and_total(),
        }
    }

    fn finish(self) -> Conditions {
        let secs = self.t.elapsed().as_secs_f64();
        let (ns, stat) = (containers_cpu_ns(), busy_and_total());
        let containers = self
            .containers_ns
            .zip(ns)
            .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9 / secs);
        let busy = self.stat.zip(stat).map(|((b0, t0), (b1, t1))| {
            b1.saturating_sub(b0) as f64 / t1.saturating_sub(t0).max(1) as f64
        });
        Conditions {
            started: self.started,
            load: self.load,
            queue: mean(&self.queue.finish()),
            containers,
            busy,
        }
    }
}

/// CPU time used by every Docker container so far, in nanoseconds.
fn containers_cpu_ns() -> Option<u64> {
    let usage = std::fs::read_to_string("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage").ok()?;
    usage.trim().parse().ok()
}

/// The machine's busy and total CPU time so far (/proc/stat, in ticks):
/// busy is all but idle and iowait.
fn busy_and_total() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle, total))
}

fn mean(v: &[u32]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().map(|&q| f64::from(q)).sum::<f64>() / v.len() as f64)
}

fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from).map_or(0.0, |d| d.as_secs_f64())
}

// ---------------------------------------------------------------------------
// The machine

struct Machine {
    cpus: usize,
    cpu_model: String,
    mem_gib: f64,
    docker: String,
    kernel: String,
    /// The CPU priority restore-drill's processes ran at (they inherit the
    /// benchmark's), against the Docker containers'.
    priority: String,
}

impl Machine {
    fn probe() -> Machine {
        let docker =
            checked(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]));
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            mem_gib: mem_gib(),
            docker: docker.map_or_else(|_| "unknown".into(), |v| v.trim().to_string()),
            kernel: kernel(),
            priority: priority(),
        }
    }
}

/// This process's nice value and, on cgroup v1, its CPU group's weight
/// beside the Docker containers': a benchmark started at low priority
/// measures restore-drill starved by its own sandboxes whenever the CPUs
/// are short, the fleet (one process, two sandboxes) more than a `run`.
fn priority() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let nice = stat
        .rfind(')')
        .and_then(|i| stat[i + 2..].split_whitespace().nth(16).map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let group = cgroups.lines().find_map(|l| {
        let (controllers, path) = l.split_once(':')?.1.split_once(':')?;
        controllers
            .split(',')
            .any(|c| c == "cpu")
            .then(|| path.to_string())
    });
    let shares = |group: &str| {
        let file = format!(
            "/sys/fs/cgroup/cpu{}/cpu.shares",
            group.trim_end_matches('/')
        );
        std::fs::read_to_string(file)
            .ok()
            .map(|s| s.trim().to_string())
    };
    match (group.as_deref().and_then(shares), shares("/docker")) {
        (Some(own), Some(docker)) => {
            format!("nice {nice}; CPU cgroup weight (cpu.shares) {own}, the Docker containers' {docker}")
        }
        _ => format!("nice {nice}"),
    }
}

// ---------------------------------------------------------------------------
// The report

struct Results<'a> {
    args: &'a Args,
    machine: Machine,
    fixture: Fixture,
    rounds: Vec<Round>,
    /// The one-minute load average before the first round and after the last.
    load: (f64, f64),
}

/// How many drills a fleet run had under way over its wall time: seconds
/// with none (the process's start and end, gaps between drills), one, and
/// two or more, from the reports' phase times.
struct Overlap {
    none: f64,
    one: f64,
    more: f64,
}

impl Overlap {
    fn of(side: &Side) -> Overlap {
        let end = side.machine.started + Duration::from_secs_f64(side.wall);
        let mut edges: Vec<(SystemTime, i32)> = side
            .drills
            .iter()
            .flat_map(|d| [(d.start, 1), (d.end, -1)])
            .collect();
        edges.push((end, 0));
        edges.sort_by_key(|e| (e.0, e.1));
        let (mut at, mut n, mut o) = (
            side.machine.started,
            0,
            Overlap {
                none: 0.0,
                one: 0.0,
                more: 0.0,
            },
        );
        for (t, step) in edges {
            let secs = secs_between(at, t.min(end));
            match n {
                0 => o.none += secs,
                1 => o.one += secs,
                _ => o.more += secs,
            }
            at = at.max(t.min(end));
            n += step;
        }
        o
    }
}

/// The figures the report quotes (medians over the rounds).
struct Summary {
    fleet: f64,
    sequential: f64,
    /// The highest of the rounds, not the median.
    peak_mib: f64,
    run_peak_mib: f64,
    /// Per drill, first phase to last: alone and in the fleet.
    drill_alone: f64,
    drill_in_fleet: f64,
    /// Sequential wall time outside the drills' phases (each process's own
    /// start, engine contact, history), per run.
    run_overhead: f64,
    overlap: Overlap,
}

impl Summary {
    fn of(r: &Results) -> Summary {
        let rounds = &r.rounds;
        let all = |f: fn(&Round) -> &Side| rounds.iter().flat_map(move |x| &f(x).drills);
        let overlaps: Vec<Overlap> = rounds.iter().map(|x| Overlap::of(&x.fleet)).collect();
        let sites = r.args.sites as f64;
        Summary {
            fleet: median(rounds.iter().map(|x| x.fleet.wall)),
            sequential: median(rounds.iter().map(|x| x.sequential.wall)),
            peak_mib: rounds.iter().map(|x| x.fleet.peak_kib).max().unwrap_or(0) as f64 / 1024.0,
            run_peak_mib: rounds
                .iter()
                .map(|x| x.sequential.peak_kib)
                .max()
                .unwrap_or(0) as f64
                / 1024.0,
            drill_alone: median(all(|x| &x.sequential).map(DrillTimes::span)),
            drill_in_fleet: median(all(|x| &x.fleet).map(DrillTimes::span)),
            run_overhead: median(rounds.iter().map(|x| {
                let spans: f64 = x.sequential.drills.iter().map(DrillTimes::span).sum();
                (x.sequential.wall - spans) / sites
            })),
            overlap: Overlap {
                none: median(overlaps.iter().map(|o| o.none)),
                one: median(overlaps.iter().map(|o| o.one)),
                more: median(overlaps.iter().map(|o| o.more)),
            },
        }
    }

    fn ratio(&self) -> f64 {
        self.fleet / self.sequential
    }
    fn ratio_met(&self) -> bool {
        self.ratio() <= TARGET_RATIO
    }
    /// Zero means the process was never sampled: not a pass.
    fn memory_met(&self) -> bool {
        self.peak_mib > 0.0 && self.peak_mib < TARGET_MEMORY_MIB
    }
}

impl Results<'_> {
    fn markdown(&self) -> String {
        let s = Summary::of(self);
        let mut md = String::new();
        self.write_all(&s, &mut md)
            .expect("writing to a String cannot fail");
        md
    }

    fn write_all(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        self.write_head(s, w)?;
        self.write_fixture(w)?;
        self.write_machine(w)?;
        self.write_where(s, w)?;
        self.write_rounds(w)?;
        write_method(w)
    }

    fn write_head(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        let n = self.rounds.len();
        let sites = self.args.sites;
        writeln!(w, "# restore-drill fleet benchmark\n")?;
        writeln!(
            w,
            "Produced by `cargo bench --bench fleet` (benches/fleet.rs) on {}; re-running it rewrites this file.\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        )?;
        writeln!(w, "## Results\n")?;
        writeln!(
            w,
            "| measure | restore-drill | reference | ratio | target | |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|")?;
        writeln!(
            w,
            "| {sites} drills: `fleet run --all --max-parallel {MAX_PARALLEL}`, one engine of {MAX_PARALLEL} sandboxes (median of {n}) | {:.1} s | {:.1} s: {sites} `restore-drill run`s one after another | {:.3}x | at most {TARGET_RATIO}x | {} |",
            s.fleet, s.sequential, s.ratio(), verdict(s.ratio_met())
        )?;
        writeln!(
            w,
            "| peak memory of the `fleet run` process (max of {n} runs) | {:.1} MiB | {:.1} MiB: the largest `run` | | under {TARGET_MEMORY_MIB:.0} MiB | {} |\n",
            s.peak_mib, s.run_peak_mib, verdict(s.memory_met())
        )?;
        writeln!(
            w,
            "One-minute load average of the machine ({} CPUs): {:.2} before the first round, {:.2} after the last; per side and round in Rounds below.\n",
            self.machine.cpus, self.load.0, self.load.1
        )
    }

    fn write_fixture(&self, w: &mut String) -> std::fmt::Result {
        let f = &self.fixture;
        writeln!(w, "## Fixture\n")?;
        writeln!(
            w,
            "`restore-drill fixtures generate --engine postgres --patients {} --seed {SEED}`: {} tables, {} rows; backup {:.2} MB (age, zstd, pg_dump custom format), dump {:.2} MB. {} sites (`Clinic 01` ...) drill this one backup with `{SCENARIO}` ({IMAGE}, 2 GiB, 2 CPUs per sandbox); the fleet's one engine is this machine's, `sandboxes = {MAX_PARALLEL}`, `memory_gb = {ENGINE_MEMORY_GB}`.\n",
            f.patients, f.tables, f.rows, f.file_bytes as f64 / 1e6, f.dump_bytes as f64 / 1e6,
            self.args.sites
        )
    }

    fn write_machine(&self, w: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        writeln!(w, "## Machine\n")?;
        writeln!(w, "| | |\n|---|---|")?;
        writeln!(w, "| CPUs (nproc) | {} |", m.cpus)?;
        writeln!(w, "| CPU model | {} |", m.cpu_model)?;
        writeln!(w, "| memory | {:.1} GiB |", m.mem_gib)?;
        writeln!(w, "| Docker engine | {} |", m.docker)?;
        writeln!(w, "| Linux kernel | {} |", m.kernel)?;
        writeln!(w, "| restore-drill's CPU priority | {} |", m.priority)?;
        writeln!(w, "| image | {IMAGE} |\n")
    }
}

/// The median of one phase over drills.
fn phase_median<'a>(drills: impl Iterator<Item = &'a DrillTimes>, name: &str) -> f64 {
    median(drills.filter_map(|d| d.phases.iter().find(|p| p.name == name).map(|p| p.secs)))
}

/// In one fleet run, the seconds each phase (summed over its drills) ran
/// beside each phase of another drill, `[phase][other's phase]`, and in the
/// last column beside no other drill. With two drills at once at most one
/// other is under way, so a row adds up to the phase's time.
fn beside(side: &Side, names: &[String]) -> Vec<Vec<f64>> {
    let at = |n: &str| names.iter().position(|x| x == n);
    let mut m = vec![vec![0.0; names.len() + 1]; names.len()];
    for (i, d) in side.drills.iter().enumerate() {
        let others: Vec<&Phase> = (side.drills.iter().enumerate())
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, e)| &e.phases)
            .collect();
        for p in &d.phases {
            let Some(row) = at(&p.name) else { continue };
            let mut shared = 0.0;
            for q in &others {
                let secs = p.alongside(q);
                if let Some(col) = at(&q.name) {
                    m[row][col] += secs;
                    shared += secs;
                }
            }
            m[row][names.len()] += (p.secs - shared).max(0.0);
        }
    }
    m
}

impl Results<'_> {
    /// The phases' names, in a drill's order.
    fn phase_names(&self) -> Vec<String> {
        let first = self
            .rounds
            .first()
            .and_then(|r| r.sequential.drills.first());
        first.map_or_else(Vec::new, |d| {
            d.phases.iter().map(|p| p.name.clone()).collect()
        })
    }

    fn write_where(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        let rounds = &self.rounds;
        let alone = || rounds.iter().flat_map(|x| &x.sequential.drills);
        let fleet = || rounds.iter().flat_map(|x| &x.fleet.drills);
        writeln!(w, "## Where the time goes\n")?;
        writeln!(
            w,
            "Each drill's phases from its report, median over every drill of every round: alone (the `run`s one after another) and in the fleet ({MAX_PARALLEL} at once).\n"
        )?;
        writeln!(w, "| phase | alone | in the fleet | in the fleet / alone |")?;
        writeln!(w, "|---|---|---|---|")?;
        for name in &self.phase_names() {
            let (a, f) = (phase_median(alone(), name), phase_median(fleet(), name));
            writeln!(w, "| {name} | {a:.2} s | {f:.2} s | {:.2}x |", f / a)?;
        }
        writeln!(
            w,
            "| drill, first phase's start to last phase's end | {:.2} s | {:.2} s | {:.2}x |\n",
            s.drill_alone,
            s.drill_in_fleet,
            s.drill_in_fleet / s.drill_alone
        )?;
        self.write_overlap(s, w)?;
        self.write_beside(w)
    }

    fn write_overlap(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        let o = &s.overlap;
        writeln!(
            w,
            "A fleet run's wall time (median of {} rounds): {:.1} s with {MAX_PARALLEL} drills under way, {:.1} s with one, {:.1} s with none (the process's start and end, and between one drill's end and the next's start). The `run`s one after another spend {:.2} s per run outside the drill's phases (the process's start, the engine's contact, the history).\n",
            self.rounds.len(), o.more, o.one, o.none, s.run_overhead
        )?;
        let sites = self.args.sites as f64;
        let ideal = (s.drill_alone * sites / MAX_PARALLEL as f64 + o.none) / s.sequential;
        writeln!(
            w,
            "Had every drill in the fleet taken as long as alone ({:.2} s), {MAX_PARALLEL} at a time, with the fleet's time outside drills, the ratio would be {ideal:.3}x. A drill beside another took {:.2}x as long as alone (on {} CPUs, each sandbox allowed 2), and the ratio is {:.3}x.\n",
            s.drill_alone,
            s.drill_in_fleet / s.drill_alone,
            self.machine.cpus,
            s.ratio()
        )?;
        let cpus = |side: fn(&Round) -> &Side| {
            let v: Vec<f64> = (self.rounds.iter())
                .filter_map(|r| side(r).machine.containers)
                .collect();
            (!v.is_empty()).then(|| median(v))
        };
        let (Some(fleet), Some(alone)) = (cpus(|r| &r.fleet), cpus(|r| &r.sequential)) else {
            return Ok(());
        };
        writeln!(
            w,
            "The Docker containers used {fleet:.2} CPUs on average while a fleet ran and {alone:.2} while the `run`s ran one after another (median of the rounds): two sandboxes at once got {:.2}x the CPU time per second that one got alone. A fleet gains only what the machine has to spare beside one drill.\n",
            fleet / alone
        )
    }

    /// Which phases ran beside which, per fleet run (median of the rounds).
    fn write_beside(&self, w: &mut String) -> std::fmt::Result {
        let names = self.phase_names();
        let per_round: Vec<Vec<Vec<f64>>> = self
            .rounds
            .iter()
            .map(|r| beside(&r.fleet, &names))
            .collect();
        writeln!(
            w,
            "Which phases overlapped: per fleet run (median of the rounds), the seconds each phase, summed over the {} drills, ran beside each phase of the other drill under way, or beside none.\n",
            self.args.sites
        )?;
        writeln!(
            w,
            "| phase | total | {} | no other drill |",
            names.join(" | ")
        )?;
        writeln!(w, "|---|---|{}---|", "---|".repeat(names.len()))?;
        for (row, name) in names.iter().enumerate() {
            let cell = |col: usize| median(per_round.iter().map(|m| m[row][col]));
            let total = median(per_round.iter().map(|m| m[row].iter().sum::<f64>()));
            let cells: Vec<String> = (0..=names.len())
                .map(|c| format!("{:.1} s", cell(c)))
                .collect();
            writeln!(w, "| {name} | {total:.1} s | {} |", cells.join(" | "))?;
        }
        writeln!(w)
    }

    fn write_rounds(&self, w: &mut String) -> std::fmt::Result {
        writeln!(w, "## Rounds\n")?;
        writeln!(
            w,
            "Odd rounds run the fleet first, even rounds the `run`s first. Load: the one-minute load average as the side started; run queue: the machine's runnable tasks, sampled every 100 ms while it ran, averaged (the drills' own included); containers' CPU: the CPUs the Docker containers used on average while it ran (the sandboxes, and any other container on the engine); busy: the share of the machine's CPU time used by anything.\n"
        )?;
        writeln!(w, "| round | first | fleet run | runs one after another | ratio | fleet peak RSS | load (fleet / runs) | run queue | containers' CPU | busy |")?;
        writeln!(w, "|---|---|---|---|---|---|---|---|---|---|")?;
        for (i, r) in self.rounds.iter().enumerate() {
            let (f, q) = (&r.fleet.machine, &r.sequential.machine);
            let pair = |a: Option<f64>, b: Option<f64>, pct: bool| {
                let one = |x: Option<f64>| match (x, pct) {
                    (None, _) => "?".to_string(),
                    (Some(v), true) => format!("{:.0}%", v * 100.0),
                    (Some(v), false) => format!("{v:.2}"),
                };
                format!("{} / {}", one(a), one(b))
            };
            writeln!(
                w,
                "| {} | {} | {:.1} s | {:.1} s | {:.3}x | {:.1} MiB | {:.2} / {:.2} | {} | {} | {} |",
                i + 1,
                if r.fleet_first { "fleet" } else { "runs" },
                r.fleet.wall,
                r.sequential.wall,
                r.fleet.wall / r.sequential.wall,
                r.fleet.peak_kib as f64 / 1024.0,
                f.load,
                q.load,
                pair(f.queue, q.queue, false),
                pair(f.containers, q.containers, false),
                pair(f.busy, q.busy, true)
            )?;
        }
        writeln!(w)
    }
}

fn write_method(w: &mut String) -> std::fmt::Result {
    writeln!(w, "## Method\n")?;
    writeln!(
        w,
        "- Fleet: `restore-drill --json fleet run FLEET --all --max-parallel {MAX_PARALLEL} --history FRESH`, wall time from its start to its exit; void (the benchmark fails) unless it exits 0 and its summary lists every site with exit code 0. Each site's report is read from the path the summary gives."
    )?;
    writeln!(
        w,
        "- Reference: `restore-drill --json run {SCENARIO} --backups B --identity K --site NAME --history FRESH --report-dir DIR` for each site in turn, the wall time from the first's start to the last's exit; void unless each exits 0."
    )?;
    writeln!(
        w,
        "- Memory: the kernel's high-water mark of the `fleet run` process's resident set (VmHWM in /proc/PID/status), sampled every 5 ms while it runs; the Docker engine and the databases are not its memory, and it starts no process of its own."
    )?;
    writeln!(
        w,
        "- Containers' CPU: the Docker cgroup's CPU time (cgroup v1 cpuacct) over each side's wall time; busy: /proc/stat's non-idle time over the same span. A second sandbox can only shorten the fleet if the containers get more CPU beside it than one drill used alone."
    )?;
    writeln!(
        w,
        "- The backup is in the page cache for both sides. The machine is shared: the load, run queue and busy columns say what else wanted its CPUs; only ratios from one run mean anything."
    )
}
