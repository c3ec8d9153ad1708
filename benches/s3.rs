//! The bucket benchmark: `cargo bench --bench s3 [-- --patients N --rounds N]`.
//!
//! The speed benchmark's clinic (200,000 PostgreSQL patients by default, the
//! same `fixtures generate` command and seed) restored by the same drill from
//! an S3-compatible bucket and from a local folder, alternately in the same
//! run. The two scenarios are scenarios/monthly-drill.toml with its
//! `[backups] location` set (and `[backups.s3]` for the bucket), nothing else
//! changed: manifest required, foreign keys, the clinic's invariants, the same
//! `[target]`. Measured:
//!
//! 1. the drill's RTO (the report's `rto_seconds`) from the bucket against
//!    from the folder: target at most 1.1x;
//! 2. the restore phase (the report's `restore` phase: the backup streamed,
//!    decrypted and decompressed into the sandbox, then pg_restore) likewise:
//!    target at most 1.1x;
//! 3. the peak resident memory of the restore-drill process reading from the
//!    bucket (the folder's beside it, for comparison);
//! 4. the bytes that came over the network (the report's
//!    `backup.network_bytes`) against the object's size;
//! 5. where the difference comes from: each drill's phases, when it had
//!    read the backup to its end, and, in this process with no sandbox, the
//!    crate's bucket reader against the file (read whole; decrypted and
//!    decompressed) and how many read() calls the download took.
//!
//! The bucket is on moto on 127.0.0.1, started as the tests start it
//! (tests/common/s3.rs: tests/s3/setup.py serve, IAM enforced), with the
//! python of target/tools/moto that tests/run installs; a plain bucket holds
//! the backup and its manifest, read with the read-only `drill` user's
//! credentials. moto and its folder are gone when the benchmark ends, the
//! drills remove their own sandboxes. Needs Docker and
//! restore-drill/postgres:15. With 200,000 patients or more the results are
//! written to benches/RESULTS-s3.md. Options (after `--`):
//!
//!   --patients N        clinic size (default 200000)
//!   --rounds N          drills from each place, alternating (default 3)
//!   --decode-rounds N   in-process measurements of each place, alternating
//!                       (default 5)
//!   --fixture-dir DIR   keep the key and the backup in DIR and reuse them on
//!                       the next run; the layout is benches/restore.rs's, so
//!                       one folder serves both (default: a temporary directory)
//!   --no-write          print only; leave the results file alone

#[path = "../tests/common/s3.rs"]
mod s3;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use restore_drill::catalog::{self, origin::Origin};
use restore_drill::engine::EngineKind;
use restore_drill::keys::{self, IdentitySource};
use restore_drill::pipeline::{self, DumpFormat};
use restore_drill::restore::{read_full, CHUNK};
use restore_drill::sandbox::run::process_start;
use restore_drill::scenario;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

#[path = "common/mod.rs"]
mod common;
use common::{
    checked, cpu_model, generate, kernel, load_average, median, mem_gib, named_seconds, or_unknown,
    phase, repo, restore_start, restored_as, runnable, say, the_backup, verdict, vm_hwm_kib,
    work_dir, Res, BIN, FULL_SIZE, IMAGE, INTERRUPTED, SCENARIO, SEED,
};

const RESULTS: &str = "benches/RESULTS-s3.md";
const TARGET_RATIO: f64 = 1.1;
const BUCKET: &str = "clinic-backups";
const PREFIX: &str = "nightly";
const REGION: &str = "us-east-1";

struct Args {
    patients: u64,
    rounds: usize,
    decode_rounds: usize,
    fixture_dir: Option<PathBuf>,
    write: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        patients: FULL_SIZE,
        rounds: 3,
        decode_rounds: 5,
        fixture_dir: None,
        write: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--patients" => a.patients = value("--patients")?.parse()?,
            "--rounds" => a.rounds = value("--rounds")?.parse()?,
            "--decode-rounds" => a.decode_rounds = value("--decode-rounds")?.parse()?,
            "--fixture-dir" => a.fixture_dir = Some(PathBuf::from(value("--fixture-dir")?)),
            "--no-write" => a.write = false,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: cargo bench --bench s3 -- \
                     [--patients N] [--rounds N] [--decode-rounds N] [--fixture-dir DIR] \
                     [--no-write]"
                )
                .into())
            }
        }
    }
    if a.patients == 0 || a.rounds == 0 || a.decode_rounds == 0 {
        return Err("--patients, --rounds and --decode-rounds must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    // The runtime drives the signal handler and the in-process downloads.
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Into::into)
        .and_then(|rt| on_interrupt(&rt).and_then(|()| run(&rt)));
    if let Err(e) = outcome {
        eprintln!("benchmark failed: {e}");
        let interrupted = INTERRUPTED.load(Ordering::SeqCst);
        std::process::exit(if interrupted { 130 } else { 1 });
    }
}

/// Ctrl-C or SIGTERM is passed on to this process's children (a drill then
/// removes its sandbox, moto stops); their failure ends the benchmark by its
/// ordinary error path, which removes moto's folder and the temporary
/// directories. Registered before anything starts, so that a signal cannot
/// take its default action and leave them behind.
fn on_interrupt(rt: &tokio::runtime::Runtime) -> Res<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let _rt = rt.enter();
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    rt.spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            INTERRUPTED.store(true, Ordering::SeqCst);
            say("interrupted: stopping the drill under way and moto");
            for pid in children() {
                let _ = kill(pid, Signal::SIGTERM);
            }
        }
    });
    Ok(())
}

/// This process's children, by their pids (the parent in /proc/PID/stat).
fn children() -> Vec<Pid> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let child = |e: std::fs::DirEntry| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // The command name may hold spaces and parentheses: after the last ')'.
        let ppid = stat
            .get(stat.rfind(')')? + 2..)?
            .split_whitespace()
            .nth(1)?;
        (ppid == me).then(|| Pid::from_raw(pid))
    };
    entries.flatten().filter_map(child).collect()
}

fn run(rt: &tokio::runtime::Runtime) -> Res<()> {
    let args = parse_args()?;
    let machine = Machine::probe();
    say(format!(
        "restore-drill {BIN}; {} CPUs ({}), {:.1} GiB RAM, Docker {}, {}",
        machine.cpus, machine.cpu_model, machine.mem_gib, machine.docker, machine.moto
    ));
    checked(Command::new("docker").args(["image", "inspect", IMAGE]))
        .map_err(|e| format!("{IMAGE} is needed (restore-drill images build): {e}"))?;
    let (dir, _fixture_tmp) =
        work_dir(args.fixture_dir.as_ref(), "restore-drill-bench-s3-fixture")?;
    let scratch = tempfile::Builder::new()
        .prefix("restore-drill-bench-s3")
        .tempdir()?;
    let fixture = Fixture::prepare(
        &dir.join(format!("clinic-{}", args.patients)),
        args.patients,
    )?;
    let server = s3::S3Server::start();
    let upload = fill_bucket(&server, &fixture)?;
    let scenarios = Scenarios::write(scratch.path(), &fixture, &server)?;
    let load_before = load_average();
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        rounds.push(one_round(round, scratch.path(), &scenarios, &fixture)?);
    }
    let load = (load_before, load_average());
    let decodes = decode_rounds(rt, args.decode_rounds, &fixture, &server)?;
    // moto stops, and its folder goes, before the results are written.
    drop(server);
    let results = Results {
        machine,
        limits: scenarios.limits,
        fixture,
        upload,
        rounds,
        decodes,
        load,
    };
    publish(&args, &results.markdown())
}

fn publish(args: &Args, md: &str) -> Res<()> {
    println!("\n{md}");
    if !args.write {
        say(format!("--no-write: {RESULTS} left alone"));
    } else if args.patients < FULL_SIZE {
        say(format!(
            "fewer than {FULL_SIZE} patients: {RESULTS} left alone"
        ));
    } else {
        std::fs::write(repo(RESULTS), md)?;
        say(format!("written to {RESULTS}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The fixture: benches/restore.rs's, in the same folder layout

struct Fixture {
    key: PathBuf,
    backups: PathBuf,
    backup: PathBuf,
    manifest: PathBuf,
    patients: u64,
    file_bytes: u64,
    dump_bytes: u64,
    rows: u64,
    tables: usize,
    generate_seconds: Option<f64>,
}

impl Fixture {
    /// Reuses a fixture of the same size and seed in `dir` (with
    /// --fixture-dir), else makes the key and the backup; then reads the
    /// backup once, so that the folder's drills read it from the page cache
    /// as moto serves it from memory.
    fn prepare(dir: &Path, patients: u64) -> Res<Fixture> {
        let (key, backups, marker) = (dir.join("k"), dir.join("b"), dir.join("patients"));
        let stamp = format!("{patients} {SEED}");
        let reusable = std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == stamp);
        let generate_seconds = if reusable {
            say(format!("reusing the fixture in {}", dir.display()));
            None
        } else {
            let _ = std::fs::remove_file(&marker);
            let secs = generate("postgres", "2-3 minutes", &key, &backups, patients)?;
            std::fs::write(&marker, format!("{stamp}\n"))?;
            Some(secs)
        };
        let (backup, manifest) =
            the_backup(&backups, EngineKind::Postgres, DumpFormat::PostgresCustom)?;
        std::io::copy(
            &mut std::fs::File::open(&backup.path)?,
            &mut std::io::sink(),
        )?;
        let f = Fixture {
            key,
            backups,
            manifest: backup
                .manifest_path
                .ok_or("the backup has no manifest file")?,
            backup: backup.path,
            patients,
            file_bytes: backup.bytes,
            dump_bytes: manifest.dump.bytes,
            rows: manifest.tables.iter().map(|t| t.rows).sum(),
            tables: manifest.tables.len(),
            generate_seconds,
        };
        say(format!(
            "{patients} patients: backup {:.1} MB, dump {:.1} MB, {} rows",
            f.file_bytes as f64 / 1e6,
            f.dump_bytes as f64 / 1e6,
            f.rows
        ));
        Ok(f)
    }

    fn name(&self) -> String {
        let name = self.backup.file_name().map(|n| n.to_string_lossy());
        name.unwrap_or_default().into_owned()
    }
}

// ---------------------------------------------------------------------------
// The bucket and the two scenarios

/// The backup and its manifest uploaded under PREFIX (multipart, as a
/// backup job's would be), checked by listing; returns the upload's seconds.
fn fill_bucket(server: &s3::S3Server, f: &Fixture) -> Res<f64> {
    server.bucket(BUCKET, "plain");
    say(format!("uploading the backup to s3://{BUCKET}/{PREFIX}"));
    let t = Instant::now();
    server.upload_dir(BUCKET, PREFIX, &f.backups);
    let secs = t.elapsed().as_secs_f64();
    let key = format!("{PREFIX}/{}", f.name());
    let listed = server.list(BUCKET, PREFIX);
    let size = listed.iter().find(|o| o.0 == key).map(|o| o.1);
    if size != Some(f.file_bytes) {
        return Err(format!(
            "the bucket lists {key} as {size:?} bytes, the file has {}",
            f.file_bytes
        )
        .into());
    }
    let manifest = f.manifest.file_name().map(|n| n.to_string_lossy());
    let manifest = format!("{PREFIX}/{}", manifest.unwrap_or_default());
    if !listed.iter().any(|o| o.0 == manifest) {
        return Err(format!("the manifest {manifest} is not in the bucket").into());
    }
    say(format!("uploaded in {secs:.1} s"));
    Ok(secs)
}

struct Scenarios {
    folder: PathBuf,
    bucket: PathBuf,
    /// Memory and CPUs of the sandbox both restore into.
    limits: String,
    /// moto's port on 127.0.0.1.
    port: u16,
}

impl Scenarios {
    /// scenarios/monthly-drill.toml twice, its backups' location the only
    /// difference (plus `[backups.s3]`, which a folder does not read), and
    /// the fixture's key; then loaded as `run` loads them, so that a mistake
    /// fails here, and checked to restore into the same sandbox.
    fn write(dir: &Path, f: &Fixture, server: &s3::S3Server) -> Res<Scenarios> {
        let folder = dir.join("folder.toml");
        let bucket = dir.join("bucket.toml");
        let mut base: toml::Table = toml::from_str(&std::fs::read_to_string(repo(SCENARIO))?)?;
        set(
            &mut base,
            &["keys", "identities"],
            vec![path_str(&f.key)?].into(),
        )?;
        let mut local = base.clone();
        set(
            &mut local,
            &["backups", "location"],
            path_str(&f.backups)?.into(),
        )?;
        std::fs::write(&folder, toml::to_string(&local)?)?;
        // Copied beside the scenario, which names it relative to itself;
        // the copy keeps the file's mode 600.
        std::fs::copy(server.creds("drill"), dir.join("drill.credentials"))?;
        let mut s3 = toml::Table::new();
        s3.insert("endpoint".into(), server.endpoint.clone().into());
        s3.insert("region".into(), REGION.into());
        s3.insert("credentials_file".into(), "drill.credentials".into());
        let location = format!("s3://{BUCKET}/{PREFIX}");
        set(&mut base, &["backups", "location"], location.into())?;
        set(&mut base, &["backups", "s3"], s3.into())?;
        std::fs::write(&bucket, toml::to_string(&base)?)?;
        let limits = same_sandbox(&folder, &bucket)?;
        let port = (server.endpoint.rsplit_once(':').map(|p| p.1.parse()))
            .ok_or("moto's endpoint has no port")??;
        Ok(Scenarios {
            folder,
            bucket,
            limits,
            port,
        })
    }
}

/// Sets `table.path` (the tables on the way must exist) to `value`.
fn set(table: &mut toml::Table, path: &[&str], value: toml::Value) -> Res<()> {
    let (last, tables) = path.split_last().ok_or("an empty key path")?;
    let mut t = table;
    for name in tables {
        t = t
            .get_mut(*name)
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| format!("{SCENARIO} has no [{name}]"))?;
    }
    t.insert((*last).to_string(), value);
    Ok(())
}

fn path_str(p: &Path) -> Res<String> {
    let s = p
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()))?;
    Ok(s.to_string())
}

/// Both scenarios as `run` reads them: a folder and a bucket, restoring
/// into the same sandbox; its limits, for the results.
fn same_sandbox(folder: &Path, bucket: &Path) -> Res<String> {
    let (f, b) = (scenario::load(folder)?, scenario::load(bucket)?);
    let kind = |p: &scenario::Plan| p.backups.location.as_ref().map(|l| l.kind());
    if kind(&f) != Some(catalog::place::PlaceKind::Folder)
        || kind(&b) != Some(catalog::place::PlaceKind::S3)
    {
        return Err("the scenarios do not read a folder and a bucket".into());
    }
    let (fs, bs) = (&f.target, &b.target);
    let same = fs.image == bs.image && fs.memory_bytes == bs.memory_bytes && fs.cpus == bs.cpus;
    if !same || fs.image != IMAGE {
        return Err(format!("the scenarios must both restore into {IMAGE}").into());
    }
    Ok(format!(
        "{} GiB, {} CPUs",
        fs.memory_bytes as f64 / f64::from(1 << 30),
        fs.cpus
    ))
}

// ---------------------------------------------------------------------------
// Rounds: the same drill from the folder and from the bucket

struct Round {
    folder_first: bool,
    folder: Drill,
    bucket: Drill,
}

/// Alternates which place goes first, so that neither always drills on a
/// machine the other has just warmed up (or heated).
fn one_round(round: usize, dir: &Path, s: &Scenarios, f: &Fixture) -> Res<Round> {
    let folder_first = round.is_multiple_of(2);
    let dir = dir.join(format!("round-{}", round + 1));
    let (mut folder, mut bucket) = (None, None);
    for from_folder in [folder_first, !folder_first] {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        let (place, scenario, source) = if from_folder {
            ("folder", &s.folder, Source::File)
        } else {
            ("bucket", &s.bucket, Source::Port(s.port))
        };
        say(format!(
            "round {}: restore-drill run, from the {place}",
            round + 1
        ));
        let d = run_drill(scenario, &dir.join(place), f.file_bytes, source)?;
        say(d.line());
        if from_folder {
            folder = Some(d);
        } else {
            bucket = Some(d);
        }
    }
    let (Some(folder), Some(bucket)) = (folder, bucket) else {
        return Err("a round measured only one place".into());
    };
    if bucket.network_bytes.is_none() {
        return Err("the bucket's drill reports no bytes over the network".into());
    }
    Ok(Round {
        folder_first,
        folder,
        bucket,
    })
}

struct Drill {
    rto: f64,
    restore: f64,
    /// Every phase of the report, in order.
    phases: Vec<(String, f64)>,
    /// From the restore phase's start until the process had read as many
    /// bytes as the backup has, from the file or from moto.
    read_end: Option<f64>,
    wall: f64,
    peak_kib: u64,
    network_bytes: Option<u64>,
    verdict: String,
    restored_as: String,
    /// The one-minute load average as it started.
    load: f64,
    /// The machine's mean run queue during the restore phase.
    queue: Option<f64>,
}

impl Drill {
    fn line(&self) -> String {
        let net = self
            .network_bytes
            .map_or_else(String::new, |n| format!(", {n} bytes over the network"));
        format!(
            "  RTO {:.1} s, restore {:.1} s (backup read in {}), peak RSS {:.1} MiB{net}, verdict {}",
            self.rto,
            self.restore,
            or_unknown(self.read_end),
            self.peak_kib as f64 / 1024.0,
            self.verdict
        )
    }
}

/// `restore-drill --json run SCENARIO` with a fresh history and report
/// folder, watched from outside.
fn run_drill(scenario: &Path, dir: &Path, file_bytes: u64, source: Source) -> Res<Drill> {
    std::fs::create_dir_all(dir)?;
    let load = load_average();
    let t = Instant::now();
    let child = Command::new(BIN)
        .args(["--json", "run"])
        .arg(scenario)
        .arg("--history")
        .arg(dir.join("history.sqlite"))
        .arg("--report-dir")
        .arg(dir.join("reports"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let watch = Watch::start(child.id(), source);
    let out = child.wait_with_output()?;
    let wall = t.elapsed().as_secs_f64();
    let seen = watch.finish();
    let report = drill_report(&out)?;
    let phases = named_seconds(&report["phases"]);
    let restore = phase(&phases, "restore")?;
    let start = restore_start(&report);
    let during = start.map(|s| (s, s + Duration::from_secs_f64(restore)));
    Ok(Drill {
        rto: report["rto_seconds"]
            .as_f64()
            .ok_or("the report has no rto_seconds")?,
        read_end: start.and_then(|s| seen.read_end(s, restore, file_bytes)),
        queue: during.and_then(|(from, to)| seen.mean_queue(from, to)),
        network_bytes: report["backup"]["network_bytes"].as_u64(),
        verdict: report["verdict"].as_str().unwrap_or("?").to_string(),
        restored_as: restored_as(&report["backup"]["restored_as"]),
        peak_kib: seen.peak_kib,
        restore,
        phases,
        wall,
        load,
    })
}

/// The JSON report of a drill that restored the backup.
fn drill_report(out: &std::process::Output) -> Res<Value> {
    let stderr = || {
        let s = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = s.lines().rev().take(10).collect();
        format!("({}) it said, last first: {}", out.status, last.join(" / "))
    };
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "restore-drill run printed no JSON report ({e}) {}",
            stderr()
        )
    })?;
    let restored = report["attempts"]
        .as_array()
        .is_some_and(|a| a.iter().any(|a| a["outcome"] == "restored"));
    if !restored {
        let attempts = serde_json::to_string(&report["attempts"]).unwrap_or_default();
        return Err(format!("restore-drill run did not restore: {attempts} {}", stderr()).into());
    }
    if report["verdict"] != "passed" {
        say(format!(
            "warning: the drill's verdict is {}: {}",
            report["verdict"],
            serde_json::to_string(&report["checks"]).unwrap_or_default()
        ));
    }
    Ok(report)
}

// ---------------------------------------------------------------------------
// In process: the drill's bucket reader against the file, no sandbox

/// One round of reading and decoding the backup in this process, through
/// the crate's own readers (`Origin::open`, `pipeline::open_origin`).
#[derive(Default)]
struct Decode {
    /// The backup read whole in 1 MiB reads: the file, and the object
    /// through the drill's bucket reader (downloaded and hashed as it goes).
    file_read: f64,
    bucket_read: Whole,
    /// Decrypted and decompressed to the end, read in the restore's chunks.
    file_decode: f64,
    bucket_decode: f64,
}

/// Alternates which place goes first, as the drills do.
fn decode_rounds(
    rt: &tokio::runtime::Runtime,
    n: usize,
    f: &Fixture,
    server: &s3::S3Server,
) -> Res<Vec<Decode>> {
    // The bucket reader drives this runtime's network from the calling
    // thread, as the drill's does from its blocking thread.
    let _rt = rt.enter();
    let keys = vec![keys::load_identity_file(&f.key)?];
    let reach = catalog::Reach {
        s3: catalog::s3::S3Settings {
            endpoint: Some(server.endpoint.clone()),
            region: Some(REGION.into()),
            credentials_file: Some(server.creds("drill")),
            production_credentials_file: None,
        },
        ..Default::default()
    };
    let mut rounds = Vec::new();
    for round in 0..n {
        let file = Origin::File(f.backup.clone());
        let mut d = Decode::default();
        let file_first = round.is_multiple_of(2);
        for from_file in [file_first, !file_first] {
            if from_file {
                d.file_read = read_whole(&file, f)?.secs;
                d.file_decode = decode_whole(&file, &keys, f)?;
            } else {
                d.bucket_read = read_whole(&bucket_origin(rt, &reach)?, f)?;
                d.bucket_decode = decode_whole(&bucket_origin(rt, &reach)?, &keys, f)?;
            }
        }
        say(format!(
            "decode round {}: read {:.2} s from the bucket (first bytes after {:.2} s, {} calls), \
             {:.2} s from the file; decoded {:.2} s from the bucket, {:.2} s from the file",
            round + 1,
            d.bucket_read.secs,
            d.bucket_read.first,
            d.bucket_read.calls,
            d.file_read,
            d.bucket_decode,
            d.file_decode
        ));
        rounds.push(d);
    }
    Ok(rounds)
}

/// The backup in the bucket as the drill's catalog lists it.
fn bucket_origin(rt: &tokio::runtime::Runtime, reach: &catalog::Reach) -> Res<Origin> {
    let place = catalog::place::Place::S3 {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
    };
    let scanned = rt.block_on(catalog::scan(&place, reach, None))?;
    let backup = (scanned.candidates.into_iter())
        .find(|c| c.file_name().ends_with(".zst.age"))
        .ok_or("the bucket lists no backup")?;
    Ok(backup.origin)
}

/// The backup read to its end in 1 MiB reads.
#[derive(Default)]
struct Whole {
    secs: f64,
    /// Until the first read returned: opening, and the server's answer.
    first: f64,
    /// The read() calls the source answered.
    calls: u64,
}

fn read_whole(origin: &Origin, f: &Fixture) -> Res<Whole> {
    let t = Instant::now();
    let mut r = Calls {
        inner: origin.open()?,
        calls: 0,
        bytes: 0,
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut first = None;
    while r.read(&mut buf)? > 0 {
        first = first.or(Some(t.elapsed().as_secs_f64()));
    }
    let secs = t.elapsed().as_secs_f64();
    if r.bytes != f.file_bytes {
        return Err(format!("read {} bytes of {}", r.bytes, f.file_bytes).into());
    }
    Ok(Whole {
        secs,
        first: first.unwrap_or(secs),
        calls: r.calls,
    })
}

/// Seconds to decrypt and decompress the backup to its end, read as the
/// restore reads it: `CHUNK`s filled by `read_full`.
fn decode_whole(origin: &Origin, keys: &[IdentitySource], f: &Fixture) -> Res<f64> {
    let t = Instant::now();
    let opened = pipeline::open_origin(origin, keys, None)
        .map_err(|e| format!("opening the backup: {e:?}"))?;
    let mut reader = opened.reader;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut reader, &mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    if total != f.dump_bytes {
        return Err(format!("decoded {total} bytes, the manifest says {}", f.dump_bytes).into());
    }
    Ok(secs)
}

/// Counts the read() calls a reader answers, and their bytes.
struct Calls<R> {
    inner: R,
    calls: u64,
    bytes: u64,
}

impl<R: Read> Read for Calls<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.calls += 1;
        self.bytes += n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------
// Watching the restore-drill process

/// Where a drill reads the backup from, for telling when it had read it
/// all: the file (read(2) calls, which /proc/PID/io's rchar counts) or
/// moto's port (recv(2) calls, which rchar does not count).
#[derive(Clone, Copy)]
enum Source {
    File,
    Port(u16),
}

/// What the watcher saw of one process: the peak of its resident set, and
/// every 50 ms what it had read and the machine's run queue.
struct Seen {
    peak_kib: u64,
    samples: Vec<Sample>,
}

struct Sample {
    at: SystemTime,
    /// From the folder: the bytes the process had read (rchar).
    read: Option<u64>,
    /// From the bucket: its open connections to moto, by socket inode.
    moto: Vec<u64>,
    queue: Option<u32>,
}

impl Seen {
    /// Seconds from `start` until the backup had been read to its end, in
    /// the restore phase (`start`, `secs`): from the folder, the first
    /// sample at which the process had read `bytes` more than at `start` (a
    /// file read by something else would add a few KB); from the bucket,
    /// the last at which a connection to moto had closed: the download's,
    /// which the drill drops once it has read the object's last byte. Idle
    /// connections stay open until the drill ends, or close earlier: the
    /// last close is the download's.
    fn read_end(&self, start: SystemTime, secs: f64, bytes: u64) -> Option<f64> {
        let end = start + Duration::from_secs_f64(secs);
        let during = || {
            self.samples
                .iter()
                .filter(move |s| (start..=end).contains(&s.at))
        };
        let end = match self.samples.iter().rev().find(|s| s.at <= start)?.read {
            Some(at_start) => during().find(|s| s.read.is_some_and(|r| r >= at_start + bytes)),
            None => last_close(during()),
        }?;
        Some(end.at.duration_since(start).ok()?.as_secs_f64())
    }

    fn mean_queue(&self, from: SystemTime, to: SystemTime) -> Option<f64> {
        let within: Vec<u32> = (self.samples.iter())
            .filter(|s| (from..=to).contains(&s.at))
            .filter_map(|s| s.queue)
            .collect();
        let n = within.len();
        (n > 0).then(|| within.iter().map(|&q| f64::from(q)).sum::<f64>() / n as f64)
    }
}

/// The last sample from which a connection open in the sample before is
/// gone.
fn last_close<'a>(samples: impl Iterator<Item = &'a Sample>) -> Option<&'a Sample> {
    let mut last = None;
    let mut before: Option<&Sample> = None;
    for s in samples {
        if before.is_some_and(|b| b.moto.iter().any(|c| !s.moto.contains(c))) {
            last = Some(s);
        }
        before = Some(s);
    }
    last
}

/// Samples one process until it ends: VmHWM (the kernel's high-water mark of
/// its resident set, which only rises, so a 5 ms sample misses at most the
/// last few milliseconds) every 5 ms; what it read and the run queue every
/// 50 ms, from /proc files alone, so that the watching costs both sides
/// the same little CPU.
struct Watch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Seen>,
}

impl Watch {
    fn start(pid: u32, source: Source) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // The start time tells the process apart from a later one with its PID.
        let started = process_start(pid);
        let thread = std::thread::spawn(move || {
            let mut seen = Seen {
                peak_kib: 0,
                samples: Vec::new(),
            };
            let mut moto = match source {
                Source::File => None,
                Source::Port(port) => Some(MotoSockets::new(port)),
            };
            for tick in 0u64.. {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if process_start(pid) == started {
                    seen.peak_kib = vm_hwm_kib(pid).map_or(seen.peak_kib, |k| seen.peak_kib.max(k));
                    if tick % 10 == 0 {
                        seen.samples.push(sample(pid, moto.as_mut()));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            seen
        });
        Watch { stop, thread }
    }

    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(Seen {
            peak_kib: 0,
            samples: Vec::new(),
        })
    }
}

fn sample(pid: u32, moto: Option<&mut MotoSockets>) -> Sample {
    let (read, moto) = match moto {
        None => (rchar(pid), Vec::new()),
        Some(m) => (None, m.open(pid)),
    };
    Sample {
        at: SystemTime::now(),
        read,
        moto,
        queue: runnable(),
    }
}

/// A `Name:   N kB`-style field of a /proc file.
fn proc_field(file: &str, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let value = text.lines().find_map(|l| l.strip_prefix(name))?;
    value.trim().trim_end_matches("kB").trim().parse().ok()
}

fn rchar(pid: u32) -> Option<u64> {
    proc_field(&format!("/proc/{pid}/io"), "rchar:")
}

/// A process's connections to moto, by socket inode.
struct MotoSockets {
    port: u16,
    /// Every socket the process has held, and whether it goes to moto.
    known: HashMap<u64, bool>,
}

impl MotoSockets {
    fn new(port: u16) -> MotoSockets {
        MotoSockets {
            port,
            known: HashMap::new(),
        }
    }

    /// The process's open sockets to moto. Where a socket goes is read from
    /// /proc/net/tcp, a slow read (the kernel walks every TCP socket:
    /// milliseconds, which every 50 ms would take CPU from the restore
    /// measured), so only when the process holds a socket not seen before.
    fn open(&mut self, pid: u32) -> Vec<u64> {
        let sockets = socket_inodes(pid);
        if sockets.iter().any(|s| !self.known.contains_key(s)) {
            let to_moto = inodes_to(self.port);
            for &s in &sockets {
                self.known.entry(s).or_insert(to_moto.contains(&s));
            }
        }
        let is_moto = |s: &u64| self.known.get(s) == Some(&true);
        sockets.into_iter().filter(is_moto).collect()
    }
}

/// The inodes of the sockets a process holds (its fds' `socket:[N]`).
fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inode = |fd: std::fs::DirEntry| {
        let target = std::fs::read_link(fd.path()).ok()?;
        let n = target
            .to_str()?
            .strip_prefix("socket:[")?
            .strip_suffix(']')?;
        n.parse().ok()
    };
    fds.flatten().filter_map(inode).collect()
}

/// The inodes of the IPv4 TCP sockets connected to `port`, from
/// /proc/net/tcp (moto listens on 127.0.0.1).
fn inodes_to(port: u16) -> Vec<u64> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let peer = format!(":{port:04X}");
    let to_port = |line: &str| {
        // sl, local address, remote address, state, queues, timer,
        // retransmits, uid, timeout, inode.
        let f: Vec<&str> = line.split_whitespace().take(10).collect();
        f.get(2)?.ends_with(&peer).then_some(())?;
        f.get(9)?.parse().ok()
    };
    tcp.lines().skip(1).filter_map(to_port).collect()
}

// ---------------------------------------------------------------------------
// Helpers

/// The median over drills of one phase.
fn phase_median<'a>(drills: impl Iterator<Item = &'a Drill>, name: &str) -> f64 {
    let of = |d: &Drill| d.phases.iter().find(|(n, _)| n == name).map(|p| p.1);
    median(drills.filter_map(of))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------
// The machine

struct Machine {
    cpus: usize,
    cpu_model: String,
    mem_gib: f64,
    docker: String,
    kernel: String,
    moto: String,
    /// The nice value restore-drill ran at (it inherits the benchmark's).
    nice: String,
}

impl Machine {
    fn probe() -> Machine {
        let docker =
            checked(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]));
        let moto = checked(Command::new(s3::moto_python()).args([
            "-c",
            "import moto, platform; print('moto', moto.__version__, 'on Python', platform.python_version())",
        ]));
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let nice = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..)?.split_whitespace().nth(16));
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpu_model(),
            mem_gib: mem_gib(),
            docker: docker.map_or_else(|_| "unknown".into(), |v| v.trim().to_string()),
            kernel: kernel(),
            moto: moto.map_or_else(|_| "unknown".into(), |v| v.trim().to_string()),
            nice: nice.unwrap_or("?").to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// The report

struct Results {
    machine: Machine,
    limits: String,
    fixture: Fixture,
    /// Seconds the backup and its manifest took to upload.
    upload: f64,
    rounds: Vec<Round>,
    decodes: Vec<Decode>,
    /// The one-minute load average before the first round and after the last.
    load: (f64, f64),
}

/// One place's figures: medians over the rounds, the peak the highest.
struct PlaceSummary {
    rto: f64,
    restore: f64,
    read_end: f64,
    peak_mib: f64,
    queue: f64,
}

impl PlaceSummary {
    fn of<'a>(drills: impl Iterator<Item = &'a Drill> + Clone) -> PlaceSummary {
        PlaceSummary {
            rto: median(drills.clone().map(|d| d.rto)),
            restore: median(drills.clone().map(|d| d.restore)),
            read_end: median(drills.clone().filter_map(|d| d.read_end)),
            peak_mib: mib(drills.clone().map(|d| d.peak_kib).max().unwrap_or(0)),
            queue: median(drills.filter_map(|d| d.queue)),
        }
    }
}

struct Summary {
    folder: PlaceSummary,
    bucket: PlaceSummary,
    network_bytes: f64,
}

impl Summary {
    fn of(r: &Results) -> Summary {
        let rounds = &r.rounds;
        Summary {
            folder: PlaceSummary::of(rounds.iter().map(|x| &x.folder)),
            bucket: PlaceSummary::of(rounds.iter().map(|x| &x.bucket)),
            network_bytes: median(
                (rounds.iter())
                    .filter_map(|x| x.bucket.network_bytes)
                    .map(|n| n as f64),
            ),
        }
    }

    fn rto_ratio(&self) -> f64 {
        self.bucket.rto / self.folder.rto
    }
    fn restore_ratio(&self) -> f64 {
        self.bucket.restore / self.folder.restore
    }
}

impl Results {
    fn markdown(&self) -> String {
        let s = Summary::of(self);
        let mut md = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_all(&s, &mut md);
        md
    }

    fn write_all(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        self.write_head(s, w)?;
        self.write_why(s, w)?;
        self.write_fixture(w)?;
        self.write_machine(w)?;
        self.write_where(s, w)?;
        self.write_decode(w)?;
        self.write_rounds(w)?;
        self.write_method(w)
    }

    fn write_head(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        let n = self.rounds.len();
        let (b, f) = (&s.bucket, &s.folder);
        let (rto, restore) = (s.rto_ratio(), s.restore_ratio());
        let object = self.fixture.file_bytes as f64;
        writeln!(
            w,
            "# restore-drill bucket benchmark\n\n\
             Produced by `cargo bench --bench s3` (benches/s3.rs) on {} UTC; re-running it \
             rewrites this file.\n\n\
             ## Results\n\n\
             | measure | from the bucket | from the folder | ratio | target | |\n\
             |---|---|---|---|---|---|\n\
             | RTO, the report's `rto_seconds` (median of {n}) | {:.1} s | {:.1} s | {rto:.3}x | at most {TARGET_RATIO}x | {} |\n\
             | restore phase (median of {n}) | {:.1} s | {:.1} s | {restore:.3}x | at most {TARGET_RATIO}x | {} |\n\
             | peak memory of restore-drill (max of {n} runs) | {:.1} MiB | {:.1} MiB | {:.3}x | | for information |\n\
             | bytes over the network, `backup.network_bytes` (median of {n}) | {:.0} | the object: {object:.0} | {:.4}x | | for information |\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M"),
            b.rto, f.rto, verdict(rto <= TARGET_RATIO),
            b.restore, f.restore, verdict(restore <= TARGET_RATIO),
            b.peak_mib, f.peak_mib, b.peak_mib / f.peak_mib,
            s.network_bytes, s.network_bytes / object,
        )?;
        writeln!(
            w,
            "One-minute load average of the machine ({} CPUs): {:.2} before the first round, \
             {:.2} after the last; per drill in Rounds below. The bucket is moto on 127.0.0.1: \
             the figures say what restore-drill's bucket path costs beside a folder's with \
             no network in the way, not what a clinic's link to its provider allows.",
            self.machine.cpus, self.load.0, self.load.1
        )
    }

    /// When a target is missed: where the bucket's extra time went, from
    /// this run's figures.
    fn write_why(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        if s.rto_ratio() <= TARGET_RATIO && s.restore_ratio() <= TARGET_RATIO {
            return Ok(());
        }
        let (b, f) = (&s.bucket, &s.folder);
        let mb = self.fixture.file_bytes as f64 / 1e6;
        let restore_extra = b.restore - f.restore;
        let read_extra = b.read_end - f.read_end;
        let after = restore_extra - read_extra;
        let others = (b.rto - f.rto) - restore_extra;
        let decode = |f: fn(&Decode) -> f64| median(self.decodes.iter().map(f));
        let decode_extra = decode(|d| d.bucket_decode) - decode(|d| d.file_decode);
        writeln!(
            w,
            "\n## Targets not met: why\n\n\
             The bucket's RTO is {:.1} s longer than the folder's: {restore_extra:.1} s in \
             the restore phase and {others:.1} s in the phases before and after it (listing, \
             reading the manifest, opening the backup's first bytes; medians per phase in \
             Where the time goes). Within the restore phase, {read_extra:.1} s are in reading \
             the backup to its end ({:.1} s from the bucket, {:.0} MB/s of the {mb:.1} MB \
             object, against {:.1} s from the folder) and {after:.1} s after it, where both \
             wait for the same pg_restore. In this process, with no sandbox beside it, the \
             bucket reader decodes the whole backup {decode_extra:+.2} s slower than the file \
             (Reading and decoding in process). The run queue during the restore phases was \
             {:.1} (bucket) and {:.1} (folder) tasks: a difference after the stream is the \
             shared machine's, not the bucket's.",
            b.rto - f.rto,
            b.read_end,
            mb / b.read_end,
            f.read_end,
            b.queue,
            f.queue
        )
    }

    fn write_fixture(&self, w: &mut String) -> std::fmt::Result {
        let f = &self.fixture;
        let took = (f.generate_seconds)
            .map(|s| format!(" ({s:.0} s to generate)"))
            .unwrap_or_default();
        writeln!(
            w,
            "\n## Fixture\n\n\
             `restore-drill fixtures generate --engine postgres --patients {} --seed {SEED}`{took}: \
             {} tables, {} rows; backup {:.1} MB (age, zstd, pg_dump custom format), dump \
             {:.1} MB. In the folder as generated; in the bucket as `s3://{BUCKET}/{PREFIX}/NAME` \
             and `NAME.manifest.json` beside it, uploaded by boto3 (multipart) in {:.1} s.",
            f.patients,
            f.tables,
            f.rows,
            f.file_bytes as f64 / 1e6,
            f.dump_bytes as f64 / 1e6,
            self.upload
        )
    }

    fn write_machine(&self, w: &mut String) -> std::fmt::Result {
        let m = &self.machine;
        writeln!(w, "\n## Machine\n")?;
        writeln!(w, "| | |\n|---|---|")?;
        writeln!(w, "| CPUs (nproc) | {} |", m.cpus)?;
        writeln!(w, "| CPU model | {} |", m.cpu_model)?;
        writeln!(w, "| memory | {:.1} GiB |", m.mem_gib)?;
        writeln!(w, "| Docker engine | {} |", m.docker)?;
        writeln!(w, "| Linux kernel | {} |", m.kernel)?;
        writeln!(w, "| S3 server | {}, on 127.0.0.1 |", m.moto)?;
        writeln!(w, "| restore-drill's CPU priority | nice {} |", m.nice)?;
        writeln!(w, "| image | {IMAGE} ({} for both) |", self.limits)
    }

    fn write_where(&self, s: &Summary, w: &mut String) -> std::fmt::Result {
        let n = self.rounds.len();
        let folder = || self.rounds.iter().map(|r| &r.folder);
        let bucket = || self.rounds.iter().map(|r| &r.bucket);
        writeln!(w, "\n## Where the time goes\n")?;
        writeln!(
            w,
            "Each drill's phases from its report (median of {n}):\n\n\
             | phase | from the bucket | from the folder | difference |\n|---|---|---|---|"
        )?;
        let names = self
            .rounds
            .first()
            .map_or(&[][..], |r| &r.bucket.phases[..]);
        for (name, _) in names {
            let (b, f) = (phase_median(bucket(), name), phase_median(folder(), name));
            writeln!(w, "| {name} | {b:.2} s | {f:.2} s | {:+.2} s |", b - f)?;
        }
        let (b, f) = (
            median(bucket().map(|d| d.wall)),
            median(folder().map(|d| d.wall)),
        );
        writeln!(
            w,
            "| whole process (wall) | {b:.2} s | {f:.2} s | {:+.2} s |",
            b - f
        )?;
        let (b, f) = (&s.bucket, &s.folder);
        let mb = self.fixture.file_bytes as f64 / 1e6;
        writeln!(
            w,
            "\nThe restore phase split where the backup had been read to its end (median of \
             {n}; restored as {}):\n\n\
             | | from the bucket | from the folder |\n|---|---|---|\n\
             | backup read to its end | {:.1} s ({:.0} MB/s) | {:.1} s ({:.0} MB/s) |\n\
             | after it | {:.1} s | {:.1} s |\n\
             | restore phase | {:.1} s | {:.1} s |",
            self.rounds
                .first()
                .map_or("?", |r| r.bucket.restored_as.as_str()),
            b.read_end,
            mb / b.read_end,
            f.read_end,
            mb / f.read_end,
            b.restore - b.read_end,
            f.restore - f.read_end,
            b.restore,
            f.restore
        )?;
        let extra = s.network_bytes - self.fixture.file_bytes as f64;
        writeln!(
            w,
            "\nOver the network: {:.0} bytes per drill, the object's {} and {extra:.0} more: \
             before the restore the drill opens the backup's layers on the first bytes of a \
             download it then drops, so that a wrong key fails before a sandbox starts.",
            s.network_bytes, self.fixture.file_bytes
        )
    }

    /// The readers alone, in this process: what the bucket path costs
    /// without Docker or pg_restore beside it.
    fn write_decode(&self, w: &mut String) -> std::fmt::Result {
        let d = &self.decodes;
        let k = d.len();
        let mb = self.fixture.file_bytes as f64 / 1e6;
        let m = |f: fn(&Decode) -> f64| median(d.iter().map(f));
        let (br, fr) = (m(|x| x.bucket_read.secs), m(|x| x.file_read));
        let first = m(|x| x.bucket_read.first);
        let (bd, fd) = (m(|x| x.bucket_decode), m(|x| x.file_decode));
        let calls = m(|x| x.bucket_read.calls as f64);
        writeln!(
            w,
            "\n## Reading and decoding in process\n\n\
             The crate's own readers in the benchmark process, no sandbox (median of {k}, \
             alternating): the backup read whole in 1 MiB reads (`Origin::open`: the file, or \
             the drill's bucket reader, which downloads and hashes the object), and decrypted \
             and decompressed to its end in the restore's 256 KiB chunks \
             (`pipeline::open_origin`).\n\n\
             | | from the bucket | from the file | difference |\n|---|---|---|---|\n\
             | backup read whole | {br:.2} s ({:.0} MB/s) | {fr:.2} s ({:.0} MB/s) | {:+.2} s |\n\
             | decrypted and decompressed | {bd:.2} s | {fd:.2} s | {:+.2} s |\n\n\
             Of the bucket's read, {first:.2} s pass before the first bytes arrive (the \
             request for the object's ETag, then the download's, which moto answers once it \
             has the whole object in hand); the other {:.2} s stream the {mb:.1} MB at \
             {:.0} MB/s, SHA-256 included, in {calls:.0} read() calls ({:.0} KiB a call on \
             average: the reader returns what the HTTP body holds at that moment, one \
             `Handle::block_on` a call).",
            mb / br,
            mb / fr,
            br - fr,
            bd - fd,
            br - first,
            mb / (br - first),
            self.fixture.file_bytes as f64 / calls / 1024.0,
        )
    }

    fn write_rounds(&self, w: &mut String) -> std::fmt::Result {
        writeln!(
            w,
            "\n## Rounds\n\n\
             Odd rounds drill from the folder first, even rounds from the bucket first. Load: \
             the one-minute load average as the drill started; run queue: the machine's \
             runnable tasks during its restore phase, sampled every 50 ms and averaged.\n\n\
             | round | first | RTO bucket / folder | ratio | restore bucket / folder | ratio | read to end bucket / folder | network bytes | peak RSS bucket / folder | load | run queue | verdicts |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|"
        )?;
        for (i, r) in self.rounds.iter().enumerate() {
            let (b, f) = (&r.bucket, &r.folder);
            let queue = |q: Option<f64>| q.map_or_else(|| "?".into(), |q| format!("{q:.1}"));
            writeln!(
                w,
                "| {} | {} | {:.1} s / {:.1} s | {:.3}x | {:.1} s / {:.1} s | {:.3}x | {} / {} | {} | {:.1} / {:.1} MiB | {:.2} / {:.2} | {} / {} | {} / {} |",
                i + 1,
                if r.folder_first { "folder" } else { "bucket" },
                b.rto, f.rto, b.rto / f.rto,
                b.restore, f.restore, b.restore / f.restore,
                or_unknown(b.read_end), or_unknown(f.read_end),
                b.network_bytes.map_or_else(|| "?".into(), |n| n.to_string()),
                mib(b.peak_kib), mib(f.peak_kib),
                b.load, f.load,
                queue(b.queue), queue(f.queue),
                b.verdict, f.verdict
            )?;
        }
        Ok(())
    }

    fn write_method(&self, w: &mut String) -> std::fmt::Result {
        writeln!(
            w,
            "\n## Method\n\n\
             - Both sides: `restore-drill --json run SCENARIO --history FRESH --report-dir DIR`, \
             SCENARIO being `{SCENARIO}` with `[backups] location` the fixture's folder, or \
             `s3://{BUCKET}/{PREFIX}` with `[backups.s3]` endpoint, region {REGION} and the \
             read-only `drill` user's credentials file; `[keys]` the fixture's key. A round \
             counts only if the drill restored the backup, and the bucket's only if its report \
             has `backup.network_bytes`.\n\
             - RTO and the restore phase are the report's; the restore phase starts once the \
             sandbox is ready. The backup is in the page cache for the folder and in moto's \
             memory for the bucket.\n\
             - Backup read to its end, sampled every 50 ms from cheap /proc files (no \
             process started, no walk of the machine's sockets, so the watching takes both \
             sides alike next to no CPU): from the folder, the first sample at which the \
             restore-drill process had read (/proc/PID/io `rchar`) the backup's size more than \
             at the restore phase's start; from the bucket, whose bytes arrive by recv(2), \
             which `rchar` does not count, the last sample in the restore phase at which a \
             connection to moto had closed (its fds in /proc/PID/fd, told apart by \
             /proc/net/tcp once each): the download's, which the drill drops once it has read \
             the object's last byte, while idle connections stay open.\n\
             - Memory: the kernel's high-water mark of the restore-drill process's resident \
             set (VmHWM), sampled every 5 ms for the whole run; moto, the Docker engine and the \
             database are not restore-drill's memory.\n\
             - The machine is shared: only ratios from one run mean anything."
        )
    }
}
