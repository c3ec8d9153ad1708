//! The speed benchmark: `cargo bench --bench restore [-- --engine E --patients N]`.
//!
//! Generates a synthetic clinic (200,000 patients by default, about 1 GB once
//! restored) in the engine's dump format, then measures side by side, in the
//! same run:
//!
//! 1. restore-drill's restore phase (`restore-drill run` of the engine's
//!    monthly drill, from its JSON report) against the hand pipeline
//!    `age -d | zstd -dc | docker exec -i TOOL` into a container of the same
//!    image with the same limits, TOOL being pg_restore (PostgreSQL, target
//!    <= 0.85x) or the mariadb client (MariaDB, target <= 1.05x); and the
//!    whole drill, restore plus every check, against it (PostgreSQL: <= 1.0x;
//!    MariaDB: for information);
//! 2. restore-drill's decrypt + decompress path, in process, against
//!    `age -d | zstd -dc > /dev/null` (target >= 0.95x of the CLI's throughput);
//! 3. all checks against the restore phase (PostgreSQL: target <= 0.2x;
//!    MariaDB: for information);
//! 4. the peak resident memory of the restore-drill process (target < 64 MiB);
//! 5. a cost curve: one drill and one hand restore at each further size
//!    (--curve; PostgreSQL's default about 250 MB and 2.5 GB restored,
//!    MariaDB's none), time per GB restored within 15 % across the sizes.
//!
//! The hand pipeline's container is the crate's own sandbox (`Sandbox::start`
//! with the scenario's target limits), its restore command is the crate's
//! (`restore::restore_command`) and its clean-up is the crate's: when the
//! sandbox or the restore changes, both sides of the comparison change with it.
//!
//! Needs Docker, `age` and `zstd` on the PATH, and the engine's image,
//! restore-drill/postgres:15 or restore-drill/mariadb:10.11 (MariaDB's
//! fixture is generated in PostgreSQL, so it needs both); a missing image is
//! built with `restore-drill images build`. With 200,000 patients or more
//! the results are written to benches/RESULTS.md (PostgreSQL) or
//! benches/RESULTS-mariadb.md (MariaDB). Options (after `--`):
//!
//!   --engine E          postgres or mariadb (default postgres)
//!   --patients N        clinic size (default 200000)
//!   --rounds N          restores of each kind, alternating (default 3)
//!   --decode-rounds N   decode measurements of each kind, alternating (default 5)
//!   --curve N,N         further clinic sizes for the cost curve (default
//!                       40000,420000 on PostgreSQL, none on MariaDB; "none"
//!                       for none)
//!   --fixture-dir DIR   keep the keys and the backups in DIR and reuse them
//!                       on the next run (default: a temporary directory)
//!   --no-write          print only; leave the results file alone

use bollard::Docker;
use restore_drill::engine::{Credentials, EngineKind};
use restore_drill::keys::{self, IdentitySource};
use restore_drill::pipeline::{self, DumpFormat};
use restore_drill::restore::{self, read_full, CHUNK};
use restore_drill::sandbox::run::process_start;
use restore_drill::sandbox::{docker, exec, gc, images, ExecRequest, RunId, Sandbox, SandboxSpec};
use restore_drill::scenario;
use serde_json::Value;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

#[path = "common/mod.rs"]
mod common;
use common::{
    checked, cpu_model, generate, kernel, median, mem_gib, named_seconds, or_unknown, phase,
    restore_start, restored_as, runnable, say, the_backup, vm_hwm_kib, work_dir, Res, BIN,
    FULL_SIZE, INTERRUPTED, SEED,
};

const TARGET_DECODE: f64 = 0.95;
const TARGET_MEMORY_MIB: f64 = 64.0;
/// Slowest over fastest time per GB across the curve's sizes.
const TARGET_CURVE_SPREAD: f64 = 1.15;

/// What the benchmark does differently for each engine: the drill it runs,
/// the hand pipeline's tool, the targets, and how the results describe them.
struct Engine {
    kind: EngineKind,
    /// The --engine value, and `fixtures generate --engine`'s.
    flag: &'static str,
    image: &'static str,
    /// Relative to the crate's root, as the results quote it.
    scenario: &'static str,
    results: &'static str,
    /// The images the run needs: the sandbox's, and the fixture generator's.
    images: &'static [&'static str],
    format: DumpFormat,
    /// Who runs the restore tool in the container, as the drill does (the
    /// crate's `restore::tool_user`, which it keeps private).
    tool_user: &'static str,
    tool: &'static str,
    target_restore: f64,
    /// The whole drill and the checks: targets on PostgreSQL, for
    /// information on MariaDB (its issue sets none).
    target_whole: Option<f64>,
    target_checks: Option<f64>,
    curve: &'static [u64],
    generate_time: &'static str,
    dump: &'static str,
    /// The restored database's size in bytes, and what the results call it.
    size_sql: &'static str,
    size_name: &'static str,
    /// How each side's restore phase goes, for the results.
    how_restored: &'static str,
    after_stream: &'static str,
    drill_restore: &'static str,
}

const POSTGRES: Engine = Engine {
    kind: EngineKind::Postgres,
    flag: "postgres",
    image: "restore-drill/postgres:15",
    scenario: "scenarios/monthly-drill.toml",
    results: "benches/RESULTS.md",
    images: &["restore-drill/postgres:15"],
    format: DumpFormat::PostgresCustom,
    tool_user: "postgres",
    tool: "pg_restore",
    target_restore: 0.85,
    target_whole: Some(1.0),
    target_checks: Some(0.2),
    curve: &[40_000, 420_000],
    generate_time: "2-3 minutes",
    dump: "pg_dump custom format",
    size_sql: "SELECT pg_database_size(current_database())",
    size_name: "`pg_database_size`",
    how_restored: "restore-drill decodes the dump into a tmpfs inside the sandbox, then runs \
        `pg_restore --jobs` on it: tables load and indexes build side by side. From stdin, the \
        hand pipeline's pg_restore loads the data (COPY) while the stream lasts, one table at a \
        time, then builds the indexes and constraints one at a time",
    after_stream: "both wait for the same pg_restore to build indexes and constraints",
    drill_restore: "decoding it through `docker exec` into a staging tmpfs the sandbox has on top \
        of its limits, `pg_restore --jobs`, its exit",
};

const MARIADB: Engine = Engine {
    kind: EngineKind::Mariadb,
    flag: "mariadb",
    image: "restore-drill/mariadb:10.11",
    scenario: "scenarios/mariadb/monthly-drill.toml",
    results: "benches/RESULTS-mariadb.md",
    images: &["restore-drill/mariadb:10.11", "restore-drill/postgres:15"],
    format: DumpFormat::MysqlSql,
    tool_user: "root",
    tool: "mariadb",
    target_restore: 1.05,
    target_whole: None,
    target_checks: None,
    curve: &[],
    generate_time: "about 4 minutes",
    dump: "mariadb-dump SQL",
    size_sql: "SELECT SUM(data_length + index_length) FROM information_schema.TABLES \
        WHERE table_schema = DATABASE()",
    size_name: "data and index length in `information_schema.TABLES`",
    how_restored: "A SQL dump can only be read in order, so restore-drill streams it too: it \
        decodes the backup in process and writes the dump through `docker exec` (the Engine API) \
        into the mariadb client's stdin, as the hand pipeline does through the docker CLI. The \
        client runs each statement as it arrives, one table at a time, its indexes built as \
        the rows go in; what is left after the stream is the last statements in flight",
    after_stream: "both wait for the same mariadb client to finish its last statements",
    drill_restore: "decoding it in process and streaming it through `docker exec` into the \
        mariadb client, the client's exit",
};

impl Engine {
    fn named(flag: &str) -> Res<&'static Engine> {
        [&POSTGRES, &MARIADB]
            .into_iter()
            .find(|e| e.flag == flag)
            .ok_or_else(|| format!("--engine {flag:?}: use postgres or mariadb").into())
    }

    fn path(&self, relative: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }

    /// A client command that prints the value `sql` selects and nothing else.
    fn query(&self, c: &Credentials, sql: &str) -> Vec<String> {
        let (client, flags, user, db, run) = match self.kind {
            EngineKind::Postgres => ("psql", "-XtAq", "--username", "--dbname", "-c"),
            EngineKind::Mariadb => ("mariadb", "-NB", "--user", "--database", "-e"),
        };
        vec![
            client.into(),
            flags.into(),
            format!("{user}={}", c.user),
            format!("{db}={}", c.database),
            run.into(),
            sql.into(),
        ]
    }
}

struct Args {
    engine: &'static Engine,
    patients: u64,
    rounds: usize,
    decode_rounds: usize,
    curve: Vec<u64>,
    fixture_dir: Option<PathBuf>,
    write: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        engine: &POSTGRES,
        patients: FULL_SIZE,
        rounds: 3,
        decode_rounds: 5,
        curve: Vec::new(),
        fixture_dir: None,
        write: true,
    };
    let mut curve = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--engine" => a.engine = Engine::named(&value("--engine")?)?,
            "--patients" => a.patients = value("--patients")?.parse()?,
            "--rounds" => a.rounds = value("--rounds")?.parse()?,
            "--decode-rounds" => a.decode_rounds = value("--decode-rounds")?.parse()?,
            "--curve" => curve = Some(parse_sizes(&value("--curve")?)?),
            "--fixture-dir" => a.fixture_dir = Some(PathBuf::from(value("--fixture-dir")?)),
            "--no-write" => a.write = false,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo bench --bench restore -- \
                     [--engine postgres|mariadb] [--patients N] [--rounds N] [--decode-rounds N] \
                     [--curve N,N|none] [--fixture-dir DIR] [--no-write]"
                )
                .into())
            }
        }
    }
    if a.patients == 0 || a.rounds == 0 || a.decode_rounds == 0 {
        return Err("--patients, --rounds and --decode-rounds must be at least 1".into());
    }
    a.curve = curve.unwrap_or_else(|| a.engine.curve.to_vec());
    Ok(a)
}

fn parse_sizes(list: &str) -> Res<Vec<u64>> {
    if list == "none" {
        return Ok(Vec::new());
    }
    let sizes: Vec<u64> = list
        .split(',')
        .map(|n| n.trim().parse::<u64>())
        .collect::<Result<_, _>>()?;
    if sizes.contains(&0) {
        return Err("--curve sizes must be at least 1 patient".into());
    }
    Ok(sizes)
}

fn main() {
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Into::into)
        .and_then(|rt| {
            let outcome = run(&rt);
            // The interrupt handler is a task on `rt`, removing what this run
            // created; it exits the process when done, so `rt` must outlive it.
            while INTERRUPTED.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_secs(1));
            }
            outcome
        });
    if let Err(e) = outcome {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run(rt: &Runtime) -> Res<()> {
    let args = parse_args()?;
    for tool in ["docker", "age", "zstd", "bash"] {
        if !on_path(tool) {
            return Err(format!(
                "{tool} is not on the PATH (Debian/Ubuntu: apt-get install age zstd; Docker must run)"
            )
            .into());
        }
    }
    let env = Env::new(rt, args.engine)?;
    let machine = Machine::probe(&env);
    say(format!(
        "restore-drill {BIN}; {} CPUs ({}), {:.1} GiB RAM, Docker {}",
        machine.cpus, machine.cpu_model, machine.mem_gib, machine.docker
    ));
    env.ensure_images()?;
    let (dir, tmp) = work_dir(args.fixture_dir.as_ref(), "restore-drill-bench")?;
    env.on_interrupt_clean_up(tmp.as_ref().map(|t| t.path().to_path_buf()))?;
    let fixture = sized_fixture(args.engine, &dir, args.patients)?;
    let (drills, hands) = restore_rounds(&env, args.rounds, &fixture, &dir)?;
    let decodes = decode_rounds(&args, &fixture)?;
    let mut curve = Vec::new();
    for &patients in &args.curve {
        let f = sized_fixture(args.engine, &dir, patients)?;
        let (mut d, mut h) = restore_rounds(&env, 1, &f, &dir.join(format!("curve-{patients}")))?;
        let (Some(drill), Some(hand)) = (d.pop(), h.pop()) else {
            return Err("a curve round measured nothing".into());
        };
        curve.push(CurvePoint {
            fixture: f,
            drill,
            hand,
        });
    }
    let results = Results {
        args: &args,
        machine,
        limits: env.limits(),
        fixture,
        drills,
        hands,
        decodes,
        curve,
    };
    publish(&args, &results.markdown())
}

/// The fixture of `patients` patients in its own folder of `dir`, read once
/// so that every restore starts with the backup in the page cache.
fn sized_fixture(engine: &'static Engine, dir: &Path, patients: u64) -> Res<Fixture> {
    // PostgreSQL's folder keeps its name from before there were two engines.
    let folder = match engine.kind {
        EngineKind::Postgres => format!("clinic-{patients}"),
        EngineKind::Mariadb => format!("clinic-{}-{patients}", engine.flag),
    };
    let fixture = Fixture::prepare(engine, &dir.join(folder), patients)?;
    say(format!(
        "{patients} patients: backup {:.1} MB on disk, {:.1} MB of dump, {} rows",
        fixture.file_bytes as f64 / 1e6,
        fixture.dump_bytes as f64 / 1e6,
        fixture.rows
    ));
    std::io::copy(&mut File::open(&fixture.backup)?, &mut std::io::sink())?;
    Ok(fixture)
}

/// One size of the cost curve: a drill and a hand restore of its fixture.
struct CurvePoint {
    fixture: Fixture,
    drill: Drill,
    hand: Hand,
}

fn publish(args: &Args, md: &str) -> Res<()> {
    println!("\n{md}");
    let results = args.engine.results;
    if !args.write {
        say(format!("--no-write: {results} left alone"));
    } else if args.patients < FULL_SIZE {
        say(format!(
            "fewer than {FULL_SIZE} patients: {results} left alone"
        ));
    } else {
        std::fs::write(args.engine.path(results), md)?;
        say(format!("written to {results}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The crate's sandbox, driven from this synchronous program

/// What the hand pipeline shares with restore-drill: the crate's Docker
/// client and sandbox, under one run id for this process, so the crate's
/// clean-up (and `restore-drill gc`, once this process is gone) finds them.
struct Env<'a> {
    rt: &'a Runtime,
    docker: Docker,
    run: RunId,
    engine: &'static Engine,
    spec: SandboxSpec,
}

impl<'a> Env<'a> {
    fn new(rt: &'a Runtime, engine: &'static Engine) -> Res<Env<'a>> {
        Ok(Env {
            docker: rt.block_on(docker::connect())?,
            run: RunId::new(),
            spec: scenario_spec(engine)?,
            engine,
            rt,
        })
    }

    /// For the report: the limits both restores ran under.
    fn limits(&self) -> String {
        format!(
            "{} GiB, {} CPUs",
            self.spec.memory_bytes as f64 / f64::from(1 << 30),
            self.spec.cpus
        )
    }

    /// Builds the images the way a user would if they are missing: no
    /// registry serves them, and the drill needs them too.
    fn ensure_images(&self) -> Res<()> {
        for &image in self.engine.images {
            let present = images::image_present(&self.docker, image);
            if self.rt.block_on(present)? {
                continue;
            }
            let target = images::build_target_for(image)
                .ok_or_else(|| format!("restore-drill does not know how to build {image}"))?;
            say(format!(
                "{image} is missing: restore-drill images build {target}"
            ));
            checked(Command::new(BIN).args(["images", "build", target]))?;
        }
        Ok(())
    }

    /// Ctrl-C or SIGTERM: remove this run's containers and networks and the
    /// temporary directory, then exit. (A restore-drill child in the same
    /// process group gets the signal too and cleans up after itself.)
    fn on_interrupt_clean_up(&self, temp_dir: Option<PathBuf>) -> Res<()> {
        use tokio::signal::unix::{signal, SignalKind};
        // Registered now rather than inside the task, so that from here on a
        // signal can't take its default action (dying with containers left).
        let _rt = self.rt.enter();
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (docker, run) = (self.docker.clone(), self.run.clone());
        self.rt.spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            say("interrupted: removing this run's containers and networks");
            if let Err(e) = gc::cleanup_run(&docker, &run).await {
                say(format!("clean-up failed: {e}"));
            }
            if let Some(d) = temp_dir {
                let _ = std::fs::remove_dir_all(d);
            }
            std::process::exit(130);
        });
        Ok(())
    }
}

/// The sandbox `restore-drill run` starts for the scenario (the drill's own
/// spec: engine and image, memory, CPUs, readiness timeout), so the hand
/// pipeline restores under the same limits.
fn scenario_spec(engine: &Engine) -> Res<SandboxSpec> {
    let plan = scenario::load(&engine.path(engine.scenario))?;
    if plan.target.engine != engine.kind || plan.target.image != engine.image {
        return Err(format!(
            "{} restores into {} ({}), the benchmark expects {}",
            engine.scenario, plan.target.image, plan.target.engine, engine.image
        )
        .into());
    }
    let mut spec = restore_drill::drill::attempt::spec(&plan, &Default::default());
    // Tells the benchmark's containers from the drill's in `docker ps`.
    spec.role = "bench";
    Ok(spec)
}

// ---------------------------------------------------------------------------
// The fixture

struct Fixture {
    key: PathBuf,
    backups: PathBuf,
    backup: PathBuf,
    patients: u64,
    file_bytes: u64,
    dump_bytes: u64,
    rows: u64,
    tables: usize,
    generate_seconds: Option<f64>,
}

impl Fixture {
    /// Reuses a fixture of the same size and seed in `dir` (with
    /// --fixture-dir), else makes the key and the backup.
    fn prepare(engine: &Engine, dir: &Path, patients: u64) -> Res<Fixture> {
        let key = dir.join("k");
        let backups = dir.join("b");
        let marker = dir.join("patients");
        let stamp = format!("{patients} {SEED}");
        let reusable = std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == stamp);
        let generate_seconds = if reusable {
            say(format!("reusing the fixture in {}", dir.display()));
            None
        } else {
            let _ = std::fs::remove_file(&marker);
            let secs = generate(engine.flag, engine.generate_time, &key, &backups, patients)?;
            std::fs::write(&marker, format!("{stamp}\n"))?;
            Some(secs)
        };
        let (backup, manifest) = the_backup(&backups, engine.kind, engine.format)?;
        Ok(Fixture {
            key,
            backups,
            backup: backup.path,
            patients,
            file_bytes: backup.bytes,
            dump_bytes: manifest.dump.bytes,
            rows: manifest.tables.iter().map(|t| t.rows).sum(),
            tables: manifest.tables.len(),
            generate_seconds,
        })
    }
}

// ---------------------------------------------------------------------------
// Restores: restore-drill run against the hand pipeline

/// Alternates which kind goes first, so that neither always restores on a
/// machine the other has just warmed up (or heated).
fn restore_rounds(
    env: &Env,
    rounds: usize,
    f: &Fixture,
    dir: &Path,
) -> Res<(Vec<Drill>, Vec<Hand>)> {
    let (mut drills, mut hands) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let drill_first = round.is_multiple_of(2);
        for drill in [drill_first, !drill_first] {
            if drill {
                say(format!("round {}: restore-drill run", round + 1));
                let d = run_drill(env.engine, f, &dir.join(format!("reports-{round}")))?;
                say(format!(
                    "  restore {:.1} s, checks {:.1} s, peak RSS {:.1} MiB, verdict {}",
                    d.restore,
                    d.checks,
                    d.peak_rss_kib as f64 / 1024.0,
                    d.verdict
                ));
                drills.push(d);
            } else {
                say(format!(
                    "round {}: age -d | zstd -dc | docker exec -i {}",
                    round + 1,
                    env.engine.tool
                ));
                let h = run_hand(env, f, round)?;
                say(format!(
                    "  restore {:.1} s (container ready in {:.1} s), database {:.0} MB",
                    h.restore,
                    h.startup,
                    h.db_bytes as f64 / 1e6
                ));
                hands.push(h);
            }
        }
    }
    Ok((drills, hands))
}

struct Drill {
    restore: f64,
    /// Seconds from the restore phase's start until the whole backup was read.
    stream_end: Option<f64>,
    checks: f64,
    /// Every phase of the report, in order.
    phases: Vec<(String, f64)>,
    check_times: Vec<(String, f64)>,
    wall: f64,
    peak_rss_kib: u64,
    verdict: String,
    /// The sandbox's staging tmpfs for a parallel restore (the database's
    /// memory, not restore-drill's), or why the restore was one stream.
    restored_as: String,
    staging_bytes: Option<u64>,
    /// The machine's mean run queue during the restore phase.
    run_queue: Option<f64>,
}

fn run_drill(engine: &Engine, f: &Fixture, report_dir: &Path) -> Res<Drill> {
    let t = Instant::now();
    let queue = RunQueue::start();
    let child = Command::new(BIN)
        .args(["--json", "run"])
        .arg(engine.path(engine.scenario))
        .arg("--backups")
        .arg(&f.backups)
        .arg("--identity")
        .arg(&f.key)
        .arg("--report-dir")
        .arg(report_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let watch = Watch::start(child.id(), std::fs::canonicalize(&f.backup)?);
    let out = child.wait_with_output()?;
    let wall = t.elapsed().as_secs_f64();
    let (peak_rss_kib, last_open) = watch.finish();
    let queue = queue.finish();
    let report = drill_report(&out)?;
    let verdict = report["verdict"].as_str().unwrap_or("?").to_string();
    if verdict != "passed" {
        say(format!(
            "warning: the drill's verdict is {verdict}: {}",
            serde_json::to_string(&report["checks"]).unwrap_or_default()
        ));
    }
    let phases = named_seconds(&report["phases"]);
    let restore = phase(&phases, "restore")?;
    let start = restore_start(&report);
    let delivery = &report["backup"]["restored_as"];
    Ok(Drill {
        restored_as: restored_as(delivery),
        staging_bytes: delivery["staging_bytes"].as_u64(),
        restore,
        stream_end: start.and_then(|s| Some(last_open?.duration_since(s).ok()?.as_secs_f64())),
        run_queue: start.and_then(|s| mean_queue(&queue, s, s + Duration::from_secs_f64(restore))),
        checks: phase(&phases, "checks")?,
        check_times: named_seconds(&report["checks"]),
        phases,
        wall,
        peak_rss_kib,
        verdict,
    })
}

/// The JSON report of a drill that restored the backup.
fn drill_report(out: &std::process::Output) -> Res<Value> {
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "restore-drill run printed no JSON report ({e}; {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let restored = report["attempts"]
        .as_array()
        .is_some_and(|a| a.iter().any(|a| a["outcome"] == "restored"));
    if !restored {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(10).collect();
        return Err(format!(
            "restore-drill run did not restore the backup: {}; it said, last first: {}",
            serde_json::to_string_pretty(&report["attempts"]).unwrap_or_default(),
            last.join(" / ")
        )
        .into());
    }
    Ok(report)
}

/// The machine's run queue (runnable tasks, from /proc/loadavg) sampled
/// every 50 ms: on a shared machine, how much else wanted the CPUs while a
/// restore ran (the restore itself keeps a couple of tasks runnable).
struct RunQueue {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(SystemTime, u32)>>,
}

impl RunQueue {
    fn start() -> RunQueue {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some(n) = runnable() {
                    samples.push((SystemTime::now(), n));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            samples
        });
        RunQueue { stop, thread }
    }

    fn finish(self) -> Vec<(SystemTime, u32)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The mean of the samples taken from `from` to `to`.
fn mean_queue(samples: &[(SystemTime, u32)], from: SystemTime, to: SystemTime) -> Option<f64> {
    let within: Vec<u32> = samples
        .iter()
        .filter(|(t, _)| (from..=to).contains(t))
        .map(|s| s.1)
        .collect();
    let n = within.len();
    (n > 0).then(|| within.iter().map(|&q| f64::from(q)).sum::<f64>() / n as f64)
}

/// Watches the restore-drill process: its peak resident set size, from the
/// kernel's high-water mark (VmHWM in /proc/PID/status) sampled every 5 ms
/// until it ends (the mark only rises, so a sample misses at most the last
/// few milliseconds; getrusage would need nix's "resource" feature or libc,
/// which this crate does not enable, and `unsafe` is forbidden), and the last
/// moment it held the backup file open: the restore stream closes the file
/// when the decoder has read it all, so this is when the whole dump had been
/// decoded (at most 16 chunks of 256 KiB were still on their way).
struct Watch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, Option<SystemTime>)>,
}

impl Watch {
    fn start(pid: u32, file: PathBuf) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // The start time tells the process apart from a later one with its PID.
        let started = process_start(pid);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            let mut last_open = None;
            let mut tick = 0u64;
            while !flag.load(Ordering::Relaxed) {
                if process_start(pid) == started {
                    if let Some(kib) = vm_hwm_kib(pid) {
                        peak = peak.max(kib);
                    }
                    // Listing the fds costs more than reading the mark: every 50 ms.
                    if tick.is_multiple_of(10) && holds_open(pid, &file) {
                        last_open = Some(SystemTime::now());
                    }
                }
                tick += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (peak, last_open)
        });
        Watch { stop, thread }
    }

    fn finish(self) -> (u64, Option<SystemTime>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, None))
    }
}

fn holds_open(pid: u32, file: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file))
}

struct Hand {
    restore: f64,
    /// Seconds from the start until zstd had written the whole dump.
    stream_end: Option<f64>,
    startup: f64,
    db_bytes: u64,
    /// The restore command inside the container, for the report's method.
    command: String,
    /// The machine's mean run queue during the restore.
    run_queue: Option<f64>,
}

/// One hand restore into a fresh sandbox of the crate's making. Afterwards
/// the run's containers and networks go, whatever happened: the crate's
/// clean-up works by the run's label, so it also finds a half-started sandbox.
fn run_hand(env: &Env, f: &Fixture, round: usize) -> Res<Hand> {
    let t = Instant::now();
    let started = env
        .rt
        .block_on(Sandbox::start(&env.docker, &env.run, &env.spec));
    let startup = t.elapsed().as_secs_f64();
    let hand = started
        .map_err(Into::into)
        .and_then(|sb| restore_by_hand(env, f, &sb, round, startup));
    // Once interrupted, the handler removes everything of this run.
    if INTERRUPTED.load(Ordering::SeqCst) {
        return hand;
    }
    let cleaned = env.rt.block_on(gc::cleanup_run(&env.docker, &env.run));
    // The restore's own error, if any, says more than the clean-up's.
    let hand = hand?;
    cleaned?;
    Ok(hand)
}

/// The pipeline as a person would type it, timed from outside; then proof
/// that it restored the whole clinic.
fn restore_by_hand(env: &Env, f: &Fixture, sb: &Sandbox, round: usize, startup: f64) -> Res<Hand> {
    let engine = env.engine;
    let args = restore::restore_command(&sb.creds, engine.format, sb.engine)?;
    // The clock read after zstd exits marks when the whole dump was handed
    // over: from stdin, pg_restore loads the data as it reads it, and builds
    // indexes and constraints after the end of the stream; the mariadb client
    // runs each statement as it reads it.
    let marker = f.backups.with_file_name(format!("stream-end-{round}"));
    let _ = std::fs::remove_file(&marker);
    let epoch = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let quoted: Vec<String> = args.iter().map(sh_quote).collect();
    let queue = RunQueue::start();
    let restore = time_shell(&format!(
        "age -d -i {} {} | {{ zstd -dc; date +%s.%N > {}; }} | docker exec -i -u {} {} {}",
        sh_quote(f.key.display()),
        sh_quote(f.backup.display()),
        sh_quote(marker.display()),
        engine.tool_user,
        sb.container,
        quoted.join(" ")
    ))?;
    let queue = queue.finish();
    let stream_end = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .map(|end| end - epoch.as_secs_f64());

    let patients: u64 = query(env, sb, "SELECT count(*) FROM patients")?.parse()?;
    if patients != f.patients {
        return Err(format!(
            "the hand pipeline restored {patients} patients, expected {}",
            f.patients
        )
        .into());
    }
    Ok(Hand {
        restore,
        stream_end,
        startup,
        db_bytes: query(env, sb, engine.size_sql)?.parse()?,
        command: args.join(" "),
        run_queue: mean_queue(&queue, UNIX_EPOCH, SystemTime::now()),
    })
}

/// One value from the restored database, through the crate's exec, as the
/// same user the restore ran as.
fn query(env: &Env, sb: &Sandbox, sql: &str) -> Res<String> {
    let cmd = env.engine.query(&sb.creds, sql);
    let client = cmd[0].clone();
    let req = ExecRequest::new(cmd).user(env.engine.tool_user);
    let out = env.rt.block_on(exec(&sb.docker, &sb.container, req))?;
    if !out.succeeded() {
        return Err(format!(
            "{client} {sql:?} failed (exit code {:?}): {}",
            out.exit_code(),
            out.stderr_text().trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

// ---------------------------------------------------------------------------
// Decrypt + decompress

#[derive(Default)]
struct DecodeRound {
    /// restore-drill's decode path, in process.
    ours: f64,
    /// The age layer alone, in process (the age crate, same buffers).
    ours_age: f64,
    /// `age -d | zstd -dc > /dev/null`.
    cli: f64,
    /// `age -d > /dev/null`.
    cli_age: f64,
}

/// Alternates which side goes first, as the restores do.
fn decode_rounds(args: &Args, f: &Fixture) -> Res<Vec<DecodeRound>> {
    let keys = vec![keys::load_identity_file(&f.key)?];
    let mb = f.dump_bytes as f64 / 1e6;
    let mut rounds = Vec::new();
    for round in 0..args.decode_rounds {
        let ours_first = round.is_multiple_of(2);
        let order = if ours_first {
            "restore-drill, then age | zstd"
        } else {
            "age | zstd, then restore-drill"
        };
        say(format!("decode round {}: {order}", round + 1));
        let mut d = DecodeRound::default();
        for ours in [ours_first, !ours_first] {
            if ours {
                (d.ours, d.ours_age) = decode_in_process(f, &keys)?;
            } else {
                (d.cli, d.cli_age) = decode_with_cli(f)?;
            }
        }
        say(format!(
            "  restore-drill {:.2} s ({:.0} MB/s; age alone {:.2} s), CLI {:.2} s ({:.0} MB/s; age alone {:.2} s)",
            d.ours,
            mb / d.ours,
            d.ours_age,
            d.cli,
            mb / d.cli,
            d.cli_age
        ));
        rounds.push(d);
    }
    Ok(rounds)
}

/// restore-drill's decode path as the restore drives it: the file through a
/// 1 MiB buffer into `open_layers`, the dump read in `CHUNK`s with
/// `read_full`, each chunk a fresh buffer. Then the age layer alone, for the
/// breakdown. Returns both times.
fn decode_in_process(f: &Fixture, keys: &[IdentitySource]) -> Res<(f64, f64)> {
    let t = Instant::now();
    let file = BufReader::with_capacity(1 << 20, File::open(&f.backup)?);
    let opened = pipeline::open_layers(Box::new(file), keys)?;
    let bytes = drain_in_chunks(opened.reader)?;
    let both = t.elapsed().as_secs_f64();
    if bytes != f.dump_bytes {
        return Err(format!(
            "restore-drill decoded {bytes} bytes, the manifest says {}",
            f.dump_bytes
        )
        .into());
    }
    // The crate has no entry point for the age layer alone: the age crate
    // directly, with the same buffers and the same identities.
    let t = Instant::now();
    let file = BufReader::with_capacity(1 << 20, File::open(&f.backup)?);
    let identities = keys[0].identities.iter().map(|i| i.as_ref() as _);
    drain_in_chunks(age::Decryptor::new_buffered(file)?.decrypt(identities)?)?;
    Ok((both, t.elapsed().as_secs_f64()))
}

fn drain_in_chunks(mut r: impl Read) -> Res<u64> {
    let mut total = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let filled = read_full(&mut r, &mut buf)?;
        if filled == 0 {
            return Ok(total);
        }
        buf.truncate(filled);
        total += std::hint::black_box(buf).len() as u64;
    }
}

/// `age -d | zstd -dc > /dev/null`, then `age -d > /dev/null`.
fn decode_with_cli(f: &Fixture) -> Res<(f64, f64)> {
    let age = format!(
        "age -d -i {} {}",
        sh_quote(f.key.display()),
        sh_quote(f.backup.display())
    );
    let both = time_shell(&format!("{age} | zstd -dc > /dev/null"))?;
    Ok((both, time_shell(&format!("{age} > /dev/null"))?))
}

// ---------------------------------------------------------------------------
// Helpers

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Times `bash -o pipefail -c SCRIPT`; any failing stage fails the benchmark.
fn time_shell(script: &str) -> Res<f64> {
    let t = Instant::now();
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "`{script}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(secs)
}

fn sh_quote(s: impl std::fmt::Display) -> String {
    format!("'{}'", s.to_string().replace('\'', r"'\''"))
}

fn min(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(f64::INFINITY, f64::min)
}

fn max(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(f64::NEG_INFINITY, f64::max)
}

/// The median over rounds of one named entry (a phase or a check).
fn median_named<'a>(lists: impl Iterator<Item = &'a [(String, f64)]>, name: &str) -> f64 {
    median(lists.filter_map(|l| l.iter().find(|(n, _)| n == name).map(|e| e.1)))
}

// ---------------------------------------------------------------------------
// The machine

struct Machine {
    cpus: usize,
    cpu_model: String,
    mem_gib: f64,
    docker: String,
    kernel: String,
    age: String,
    zstd: String,
}

impl Machine {
    fn probe(env: &Env) -> Machine {
        let docker = env.rt.block_on(env.docker.version()).ok();
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            mem_gib: mem_gib(),
            docker: docker
                .and_then(|v| v.version)
                .unwrap_or_else(|| "unknown".into()),
            kernel: kernel(),
            age: first_line("age", &["--version"]),
            zstd: first_line("zstd", &["--version"]),
        }
    }
}

fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            let out = String::from_utf8_lossy(&o.stdout);
            Some(out.lines().next()?.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------------------
// The report

struct Results<'a> {
    args: &'a Args,
    machine: Machine,
    /// Memory and CPUs of both restores' containers.
    limits: String,
    fixture: Fixture,
    drills: Vec<Drill>,
    hands: Vec<Hand>,
    decodes: Vec<DecodeRound>,
    curve: Vec<CurvePoint>,
}

/// The figures the report's sections quote (medians over the rounds).
struct Summary {
    engine: &'static Engine,
    /// MB of dump, MB of restored database.
    mb: f64,
    db_mb: f64,
    rd_restore: f64,
    hand_restore: f64,
    ours: f64,
    ours_age: f64,
    cli: f64,
    cli_age: f64,
    checks: f64,
    /// Restore plus checks, per round.
    whole: f64,
    /// The highest of the rounds, not the median.
    peak_mib: f64,
    rd_stream_end: f64,
    rd_post_data: f64,
    stream_end: f64,
    post_data: f64,
    /// Every check's median time, slowest first.
    slowest: Vec<(String, f64)>,
    /// The machine's median run queue during each kind of restore.
    rd_queue: f64,
    hand_queue: f64,
}

impl Summary {
    fn of(r: &Results) -> Summary {
        let (drills, hands, decodes) = (&r.drills, &r.hands, &r.decodes);
        let check_lists = || drills.iter().map(|d| d.check_times.as_slice());
        let mut slowest: Vec<(String, f64)> = drills.first().map_or_else(Vec::new, |d| {
            let named = |(n, _): &(String, f64)| (n.clone(), median_named(check_lists(), n));
            d.check_times.iter().map(named).collect()
        });
        slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
        let peak_kib = drills.iter().map(|d| d.peak_rss_kib).max().unwrap_or(0);
        // Hand-over and what follows it, for either kind of restore.
        let split = |v: Vec<(f64, Option<f64>)>| {
            let end = median(v.iter().filter_map(|r| r.1));
            let post = median(v.iter().filter_map(|r| r.1.map(|e| r.0 - e)));
            (end, post)
        };
        let (rd_stream_end, rd_post_data) =
            split(drills.iter().map(|d| (d.restore, d.stream_end)).collect());
        let (stream_end, post_data) =
            split(hands.iter().map(|h| (h.restore, h.stream_end)).collect());
        Summary {
            engine: r.args.engine,
            mb: r.fixture.dump_bytes as f64 / 1e6,
            db_mb: median(hands.iter().map(|h| h.db_bytes as f64 / 1e6)),
            rd_restore: median(drills.iter().map(|d| d.restore)),
            hand_restore: median(hands.iter().map(|h| h.restore)),
            ours: median(decodes.iter().map(|d| d.ours)),
            ours_age: median(decodes.iter().map(|d| d.ours_age)),
            cli: median(decodes.iter().map(|d| d.cli)),
            cli_age: median(decodes.iter().map(|d| d.cli_age)),
            checks: median(drills.iter().map(|d| d.checks)),
            whole: median(drills.iter().map(|d| d.restore + d.checks)),
            peak_mib: peak_kib as f64 / 1024.0,
            rd_stream_end,
            rd_post_data,
            stream_end,
            post_data,
            slowest,
            rd_queue: median(drills.iter().filter_map(|d| d.run_queue)),
            hand_queue: median(hands.iter().filter_map(|h| h.run_queue)),
        }
    }

    fn restore_ratio(&self) -> f64 {
        self.rd_restore / self.hand_restore
    }
    /// Throughput ratio: plaintext bytes per second, ours over the CLI's.
    fn decode_ratio(&self) -> f64 {
        self.cli / self.ours
    }
    fn checks_ratio(&self) -> f64 {
        self.checks / self.rd_restore
    }

    fn whole_ratio(&self) -> f64 {
        self.whole / self.hand_restore
    }
    /// None: no target on this engine.
    fn whole_met(&self) -> Option<bool> {
        let target = self.engine.target_whole?;
        Some(self.whole_ratio() <= target)
    }

    fn restore_met(&self) -> bool {
        self.restore_ratio() <= self.engine.target_restore
    }
    fn decode_met(&self) -> bool {
        self.decode_ratio() >= TARGET_DECODE
    }
    fn checks_met(&self) -> Option<bool> {
        let target = self.engine.target_checks?;
        Some(self.checks_ratio() <= target)
    }
    /// Zero means the process was never sampled: not a pass.
    fn memory_met(&self) -> bool {
        self.peak_mib > 0.0 && self.peak_mib < TARGET_MEMORY_MIB
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

/// A measure with a target is met or not; one without is for information.
fn judged(met: Option<bool>) -> &'static str {
    met.map_or("for information", verdict)
}

fn at_most(target: Option<f64>) -> String {
    target.map_or_else(|| "none".into(), |t| format!("at most {t}x"))
}

impl Results<'_> {
    fn markdown(&self) -> String {
        let mut w = String::new();
        // Writing to a String cannot fail.
        let _ = self.write(&mut w, &Summary::of(self));
        w
    }

    fn write(&self, w: &mut String, s: &Summary) -> std::fmt::Result {
        self.results_table(w, s)?;
        self.curve_section(w, s)?;
        let spread = self.spread(" s (restore-drill) and ", " s (hand)");
        w.push_str(&why_not_met(s, &spread));
        self.fixture_section(w, s)?;
        self.machine_section(w)?;
        self.time_section(w, s)?;
        self.stream_section(w, s)?;
        self.rounds_section(w)?;
        self.method_section(w)
    }

    fn results_table(&self, w: &mut String, s: &Summary) -> std::fmt::Result {
        let (n, k, e) = (self.args.rounds, self.args.decode_rounds, self.args.engine);
        let (engine, flag, tool) = (e.kind, e.flag, e.tool);
        let (mb, rd_restore, hand_restore, ours, cli) =
            (s.mb, s.rd_restore, s.hand_restore, s.ours, s.cli);
        let (restore_ratio, restore_target) = (s.restore_ratio(), e.target_restore);
        let (decode_ratio, checks, checks_ratio, peak_mib) =
            (s.decode_ratio(), s.checks, s.checks_ratio(), s.peak_mib);
        let (restore_met, decode_met) = (verdict(s.restore_met()), verdict(s.decode_met()));
        let (checks_met, memory_met) = (judged(s.checks_met()), verdict(s.memory_met()));
        let (checks_target, whole_target) = (at_most(e.target_checks), at_most(e.target_whole));
        let (ours_mbs, cli_mbs) = (mb / ours, mb / cli);
        let (whole, whole_ratio, whole_met) = (s.whole, s.whole_ratio(), judged(s.whole_met()));
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M");
        writeln!(
            w,
            "# restore-drill speed benchmark: {engine}\n\n\
             Produced by `cargo bench --bench restore -- --engine {flag}` (benches/restore.rs) on \
             {now} UTC; re-running it rewrites this file.\n\n\
             ## Results\n\n\
             | measure | restore-drill | reference | ratio | target | |\n|---|---|---|---|---|---|\n\
             | whole drill: restore + every check (median of {n}) | {whole:.1} s | {hand_restore:.1} s: the hand restore alone | {whole_ratio:.3}x | {whole_target} | {whole_met} |\n\
             | restore phase (median of {n}) | {rd_restore:.1} s | {hand_restore:.1} s: `age -d \\| zstd -dc \\| docker exec -i {tool}`, same image and limits | {restore_ratio:.3}x | at most {restore_target}x | {restore_met} |\n\
             | decrypt + decompress (median of {k}) | {ours_mbs:.0} MB/s ({ours:.2} s) | {cli_mbs:.0} MB/s ({cli:.2} s): `age -d \\| zstd -dc > /dev/null` | {decode_ratio:.3}x | at least {TARGET_DECODE}x | {decode_met} |\n\
             | all checks (median of {n}) | {checks:.1} s | restore phase {rd_restore:.1} s | {checks_ratio:.3}x | {checks_target} | {checks_met} |\n\
             | peak memory of restore-drill (max of {n} runs) | {peak_mib:.1} MiB | | | under {TARGET_MEMORY_MIB} MiB | {memory_met} |\n\n\
             MB/s counts plaintext dump bytes (10^6 bytes per MB) per second of wall time."
        )
    }

    /// The cost curve: every size's drill and hand restore, per GB restored.
    fn curve_section(&self, w: &mut String, s: &Summary) -> std::fmt::Result {
        if self.curve.is_empty() {
            return writeln!(
                w,
                "\n## Cost curve\n\n\
                 Not measured in this run (`--curve none`; the default on MariaDB, whose issue \
                 sets no target for the time per GB restored)."
            );
        }
        let mut rows: Vec<CurveRow> = self.curve.iter().map(CurveRow::of).collect();
        rows.push(CurveRow {
            patients: self.fixture.patients,
            dump_mb: s.mb,
            db_mb: s.db_mb,
            restore: s.rd_restore,
            checks: s.checks,
            hand: s.hand_restore,
            peak_mib: s.peak_mib,
            staging_mib: self
                .drills
                .iter()
                .filter_map(|d| d.staging_bytes)
                .max()
                .map(mib),
            restored_as: self
                .drills
                .first()
                .map_or("?".into(), |d| d.restored_as.clone()),
        });
        rows.sort_by_key(|r| r.patients);
        let per_gb: Vec<f64> = rows.iter().map(CurveRow::per_gb).collect();
        let spread = max(per_gb.iter().copied()) / min(per_gb.iter().copied());
        let flat = verdict(rows.len() > 1 && spread <= TARGET_CURVE_SPREAD);
        let small = rows
            .iter()
            .all(|r| r.peak_mib > 0.0 && r.peak_mib < TARGET_MEMORY_MIB);
        writeln!(
            w,
            "\n## Cost curve\n\n\
             Whole drill (restore + every check) per GB restored, and memory, at each size; one \
             drill and one hand restore at each size but {} (the medians above). The staging \
             tmpfs is inside the sandbox: the database's memory, on top of its limit, not \
             restore-drill's.\n\n\
             | patients | dump | restored | restore | checks | whole drill | s per GB restored | hand restore | whole / hand | restore-drill peak memory | sandbox staging tmpfs | restored as |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|",
            self.fixture.patients
        )?;
        for r in &rows {
            r.write(w)?;
        }
        writeln!(
            w,
            "\nTime per GB restored, slowest over fastest: {spread:.3} (target at most \
             {TARGET_CURVE_SPREAD}): {flat}. restore-drill's peak memory under {TARGET_MEMORY_MIB} \
             MiB at every size: {}.",
            verdict(small)
        )
    }

    /// "A to B{mid}C to D{end}": the fastest and slowest restore of each kind.
    fn spread(&self, mid: &str, end: &str) -> String {
        let rd = || self.drills.iter().map(|d| d.restore);
        let hand = || self.hands.iter().map(|h| h.restore);
        let (a, b, c, d) = (min(rd()), max(rd()), min(hand()), max(hand()));
        format!("{a:.1} to {b:.1}{mid}{c:.1} to {d:.1}{end}")
    }

    fn fixture_section(&self, w: &mut String, s: &Summary) -> std::fmt::Result {
        let (f, e) = (&self.fixture, self.args.engine);
        let (patients, tables, rows) = (f.patients, f.tables, f.rows);
        let file_mb = f.file_bytes as f64 / 1e6;
        let (mb, db_mb) = (s.mb, s.db_mb);
        let took = f
            .generate_seconds
            .map(|s| format!(" ({s:.0} s to generate)"));
        let took = took.unwrap_or_default();
        let (flag, dump, size) = (e.flag, e.dump, e.size_name);
        writeln!(
            w,
            "\n## Fixture\n\n\
             `restore-drill fixtures generate --engine {flag} --patients {patients} --seed {SEED}`{took}: \
             {tables} tables, {rows} rows; backup {file_mb:.1} MB (age, zstd level 3, {dump}), \
             dump {mb:.1} MB, {db_mb:.0} MB once restored ({size}, hand-pipeline container)."
        )
    }

    fn machine_section(&self, w: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        writeln!(w, "\n## Machine\n")?;
        writeln!(w, "| | |\n|---|---|")?;
        writeln!(w, "| CPUs (nproc) | {} |", m.cpus)?;
        writeln!(w, "| CPU model | {} |", m.cpu_model)?;
        writeln!(w, "| memory | {:.1} GiB |", m.mem_gib)?;
        writeln!(w, "| Docker engine | {} |", m.docker)?;
        writeln!(w, "| Linux kernel | {} |", m.kernel)?;
        writeln!(w, "| age CLI | {} |", m.age)?;
        writeln!(w, "| zstd CLI | {} |", m.zstd.replace('*', "").trim())?;
        let image = self.args.engine.image;
        writeln!(w, "| image | {image} ({} for both restores) |", self.limits)
    }

    /// Where the time goes: the drill's phases, its slowest checks, and the
    /// decode breakdown.
    fn time_section(&self, w: &mut String, s: &Summary) -> std::fmt::Result {
        let (n, k) = (self.args.rounds, self.args.decode_rounds);
        writeln!(w, "\n## Where the time goes\n")?;
        writeln!(
            w,
            "restore-drill run, phases (median of {n}; the restore phase starts once the sandbox is ready):\n"
        )?;
        writeln!(w, "| phase | seconds |\n|---|---|")?;
        let phase_lists = || self.drills.iter().map(|d| d.phases.as_slice());
        for (name, _) in self.drills.first().map_or(&[][..], |d| &d.phases) {
            writeln!(w, "| {name} | {:.2} |", median_named(phase_lists(), name))?;
        }
        let wall = median(self.drills.iter().map(|d| d.wall));
        writeln!(w, "| whole process (wall) | {wall:.2} |")?;

        writeln!(w, "\nThe slowest checks (median of {n}):\n")?;
        writeln!(w, "| check | seconds |\n|---|---|")?;
        let (shown, rest) = s.slowest.split_at(s.slowest.len().min(6));
        for (name, v) in shown {
            writeln!(w, "| {name} | {v:.2} |")?;
        }
        if !rest.is_empty() {
            let (others, sum) = (rest.len(), rest.iter().map(|c| c.1).sum::<f64>());
            writeln!(w, "| {others} other checks | {sum:.2} |")?;
        }

        let (ours, ours_age, cli, cli_age) = (s.ours, s.ours_age, s.cli, s.cli_age);
        writeln!(
            w,
            "\nDecrypt + decompress (median of {k}):\n\n\
             | | restore-drill (one thread) | CLI (two processes) |\n|---|---|---|\n\
             | age layer alone | {ours_age:.2} s | {cli_age:.2} s |\n\
             | age + zstd | {ours:.2} s | {cli:.2} s |"
        )
    }

    /// The restore phase split at the end of the stream: data loaded while
    /// it lasts, indexes and constraints after.
    fn stream_section(&self, w: &mut String, s: &Summary) -> std::fmt::Result {
        let n = self.args.rounds;
        let (mb, ours, rd_restore, hand_restore) = (s.mb, s.ours, s.rd_restore, s.hand_restore);
        let (rd_stream_end, rd_post_data, stream_end, post_data) =
            (s.rd_stream_end, s.rd_post_data, s.stream_end, s.post_data);
        let share = ours / rd_restore * 100.0;
        let (rd_mbs, hand_mbs) = (mb / rd_stream_end, mb / stream_end);
        let spread = self.spread(" s (restore-drill) and from ", " s (hand pipeline)");
        let (tool, how) = (self.args.engine.tool, self.args.engine.how_restored);
        writeln!(
            w,
            "\nThe restore phase is {tool}'s time. Decoding the whole backup takes {ours:.2} s \
             in process, {share:.1}% of restore-drill's restore phase. {how} (median of {n}):\n\n\
             | | restore-drill | hand pipeline |\n|---|---|---|\n\
             | whole dump handed over (restore-drill: the backup read to its end; hand: zstd exited) | {rd_stream_end:.1} s ({rd_mbs:.0} MB/s of dump) | {stream_end:.1} s ({hand_mbs:.0} MB/s of dump) |\n\
             | after the stream | {rd_post_data:.1} s | {post_data:.1} s |\n\
             | restore phase | {rd_restore:.1} s | {hand_restore:.1} s |\n\n\
             restore-drill's hand-over is when it closed the backup file (its decoder had read \
             it all; at most 4 MiB of dump were still on their way), sampled every 50 ms; the hand \
             pipeline's is when zstd exited. On this shared machine a restore varied between rounds \
             from {spread}."
        )
    }

    fn rounds_section(&self, w: &mut String) -> std::fmt::Result {
        writeln!(
            w,
            "\n## Rounds\n\n\
             Restores alternate (odd rounds restore-drill first, even rounds the hand pipeline first):\n\n\
             | round | restore-drill restore (hand-over) | hand pipeline (hand-over) | ratio | run queue (restore-drill / hand) | checks | peak RSS | verdict |\n|---|---|---|---|---|---|---|---|"
        )?;
        for (i, (d, h)) in self.drills.iter().zip(&self.hands).enumerate() {
            let queue = |q: Option<f64>| q.map_or_else(|| "?".into(), |q| format!("{q:.1}"));
            writeln!(
                w,
                "| {} | {:.1} s ({}) | {:.1} s ({}) | {:.3}x | {} / {} | {:.1} s | {:.1} MiB | {} |",
                i + 1,
                d.restore,
                or_unknown(d.stream_end),
                h.restore,
                or_unknown(h.stream_end),
                d.restore / h.restore,
                queue(d.run_queue),
                queue(h.run_queue),
                d.checks,
                d.peak_rss_kib as f64 / 1024.0,
                d.verdict
            )?;
        }
        writeln!(
            w,
            "\n| decode round | restore-drill | age alone (in process) | age \\| zstd | age alone (CLI) |\n|---|---|---|---|---|"
        )?;
        for (i, d) in self.decodes.iter().enumerate() {
            let (i, ours, ours_age, cli, cli_age) = (i + 1, d.ours, d.ours_age, d.cli, d.cli_age);
            writeln!(
                w,
                "| {i} | {ours:.2} s | {ours_age:.2} s | {cli:.2} s | {cli_age:.2} s |"
            )?;
        }
        Ok(())
    }

    fn method_section(&self, w: &mut String) -> std::fmt::Result {
        let (limits, e) = (&self.limits, self.args.engine);
        let (scenario, image, drill_restore, user) =
            (e.scenario, e.image, e.drill_restore, e.tool_user);
        let command = self.hands.first().map_or(e.tool, |h| &h.command);
        writeln!(
            w,
            "\n## Method\n\n\
             - Restore: `restore-drill --json run {scenario}` and the hand pipeline run \
             alternately, each into a fresh container of {image} with {limits} (the crate's \
             sandbox, with the scenario's limits); the restore-drill figure is the report's \
             `restore` phase (opening the backup, {drill_restore}), the hand figure the wall time \
             of `age -d -i KEY FILE | zstd -dc | docker exec -i -u {user} CONTAINER {command}` \
             once the container is ready. The backup is in the page cache for both.\n\
             - Decode: restore-drill's `pipeline::open_layers` in the benchmark process, read in \
             256 KiB chunks as `restore` does, against `age -d -i KEY FILE | zstd -dc > /dev/null`; \
             ratio = CLI time / restore-drill time (a throughput ratio).\n\
             - Checks: the report's `checks` phase over its `restore` phase, same runs.\n\
             - Run queue: the machine's runnable tasks (/proc/loadavg) sampled every 50 ms during \
             each restore and averaged; the machine is shared, and what else wanted its CPUs \
             slows either side.\n\
             - Memory: the kernel's high-water mark of the restore-drill process's resident set \
             (VmHWM), sampled every 5 ms for the whole run; the Docker engine and the database \
             are not restore-drill's memory."
        )
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

struct CurveRow {
    patients: u64,
    dump_mb: f64,
    db_mb: f64,
    restore: f64,
    checks: f64,
    hand: f64,
    peak_mib: f64,
    staging_mib: Option<f64>,
    restored_as: String,
}

impl CurveRow {
    fn of(p: &CurvePoint) -> CurveRow {
        CurveRow {
            patients: p.fixture.patients,
            dump_mb: p.fixture.dump_bytes as f64 / 1e6,
            db_mb: p.hand.db_bytes as f64 / 1e6,
            restore: p.drill.restore,
            checks: p.drill.checks,
            hand: p.hand.restore,
            peak_mib: p.drill.peak_rss_kib as f64 / 1024.0,
            staging_mib: p.drill.staging_bytes.map(mib),
            restored_as: p.drill.restored_as.clone(),
        }
    }

    fn per_gb(&self) -> f64 {
        (self.restore + self.checks) / (self.db_mb / 1000.0)
    }

    fn write(&self, w: &mut String) -> std::fmt::Result {
        let whole = self.restore + self.checks;
        let staging = self
            .staging_mib
            .map_or("none".into(), |m| format!("{m:.0} MiB"));
        writeln!(
            w,
            "| {} | {:.0} MB | {:.0} MB | {:.1} s | {:.1} s | {whole:.1} s | {:.1} | {:.1} s | {:.3}x | {:.1} MiB | {staging} | {} |",
            self.patients, self.dump_mb, self.db_mb, self.restore, self.checks,
            self.per_gb(), self.hand, whole / self.hand, self.peak_mib, self.restored_as
        )
    }
}

/// A paragraph per missed target, saying where the time or memory went;
/// `spread` is the range of the restores' times.
fn why_not_met(s: &Summary, spread: &str) -> String {
    let checks_missed = s
        .engine
        .target_checks
        .filter(|_| s.checks_met() == Some(false));
    let why = [
        (s.whole_met() == Some(false)).then(|| why_whole(s)),
        (!s.restore_met()).then(|| why_restore(s, spread)),
        (!s.decode_met()).then(|| why_decode(s)),
        checks_missed.map(|target| why_checks(s, target)),
        (!s.memory_met()).then(|| why_memory(s)),
    ];
    let mut text = String::new();
    for p in why.into_iter().flatten() {
        if text.is_empty() {
            text.push_str("\n## Targets not met: why\n");
        }
        text.push('\n');
        text.push_str(&p);
        text.push('\n');
    }
    text
}

fn why_whole(s: &Summary) -> String {
    let (ratio, restore, checks, hand) = (s.whole_ratio(), s.rd_restore, s.checks, s.hand_restore);
    format!(
        "**Whole drill ({ratio:.3}x).** Restore {restore:.1} s plus checks {checks:.1} s, against \
         {hand:.1} s for the hand restore alone."
    )
}

fn why_restore(s: &Summary, spread: &str) -> String {
    let (restore_ratio, ours, rd_restore, hand_restore) =
        (s.restore_ratio(), s.ours, s.rd_restore, s.hand_restore);
    let share = ours / rd_restore * 100.0;
    let difference = rd_restore - hand_restore;
    let handing_over = s.rd_stream_end - s.stream_end;
    let after = s.rd_post_data - s.post_data;
    let after_stream = s.engine.after_stream;
    let (rd_queue, hand_queue) = (s.rd_queue, s.hand_queue);
    format!(
        "**Restore phase ({restore_ratio:.3}x).** Decoding is not the cause: in process it takes \
         {ours:.2} s for the whole backup ({share:.1}% of the phase). Of the {difference:.1} s \
         difference, {handing_over:.1} s are in handing the dump over (restore-drill's `docker \
         exec` stream over the Engine API against the docker CLI's) and {after:.1} s after it, \
         where {after_stream} (there a difference is noise). The rounds range from {spread}; \
         the machine's run queue (median of the rounds' means) was {rd_queue:.1} tasks during \
         restore-drill's restores and {hand_queue:.1} during the hand restores."
    )
}

fn why_decode(s: &Summary) -> String {
    let (decode_ratio, ours, ours_age, cli_age) = (s.decode_ratio(), s.ours, s.ours_age, s.cli_age);
    let zstd = ours - ours_age;
    format!(
        "**Decrypt + decompress ({decode_ratio:.3}x).** restore-drill strips the layers one \
         after the other on one thread: age {ours_age:.2} s plus zstd about {zstd:.2} s. The CLI \
         pipeline runs age and zstd as two processes on two cores, so it takes about as long as \
         its slower stage, zstd (age alone: {cli_age:.2} s). Decrypting on a thread of its own, \
         handing chunks to the zstd decoder through a bounded channel, would save up to \
         {ours_age:.2} s."
    )
}

/// Only PostgreSQL has a target for the checks: the text is about its checks.
fn why_checks(s: &Summary, target: f64) -> String {
    let (checks_ratio, db_mb, checks, rd_restore) =
        (s.checks_ratio(), s.db_mb, s.checks, s.rd_restore);
    let top = &s.slowest[..s.slowest.len().min(3)];
    let top_sum: f64 = top.iter().map(|c| c.1).sum();
    let top: Vec<String> = top.iter().map(|(n, v)| format!("`{n}` {v:.1} s")).collect();
    let (count, top, needed) = (s.slowest.len(), top.join(", "), target * rd_restore);
    format!(
        "**Checks ({checks_ratio:.3}x).** {count} checks share two read-only connections (the \
         sandbox and this machine have two cores). The manifest comparison only counts rows \
         (the fingerprints were taken while the dump streamed) and PostgreSQL validated the \
         foreign keys during the restore; what is left is one query per business invariant \
         over the {db_mb:.0} MB database, most of them joins and aggregates over whole tables, \
         bound by the two cores: the three slowest, {top}, add up to {top_sum:.1} s of work \
         within the {checks:.1} s the phase took. To meet {target}x on this machine the \
         checks would have to finish in {needed:.1} s."
    )
}

fn why_memory(s: &Summary) -> String {
    format!(
        "**Memory ({:.1} MiB).** The peak resident set of the restore-drill process \
         reached the limit; the stream itself holds at most 16 chunks of 256 KiB.",
        s.peak_mib
    )
}
