//! What the benchmarks share: the binary, the fixture's seed and sizes, the
//! machine's load, running a command, the median, and reading a drill's
//! report. Each benchmark takes what it uses (`#[path]`).
#![allow(dead_code)] // each benchmark uses only some of these

use restore_drill::catalog::{self, list::Candidate, Manifest};
use restore_drill::engine::EngineKind;
use restore_drill::keys;
use restore_drill::pipeline::DumpFormat;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime};

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub const BIN: &str = env!("CARGO_BIN_EXE_restore-drill");

pub const SEED: &str = "20261129";

pub const SCENARIO: &str = "scenarios/monthly-drill.toml";

pub const IMAGE: &str = "restore-drill/postgres:15";

/// The size the issue asks for; smaller runs don't overwrite the results.
pub const FULL_SIZE: u64 = 200_000;

/// Set by the Ctrl-C / SIGTERM handler, which then owns the clean-up and the exit.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn say(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// Runnable tasks but the sampler itself: the "R/T" field's R.
pub fn runnable() -> Option<u32> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let (running, _) = loadavg.split_whitespace().nth(3)?.split_once('/')?;
    Some(running.parse::<u32>().ok()?.saturating_sub(1))
}

/// Runs a command, fails with its stderr if it fails, returns its stdout.
pub fn checked(cmd: &mut Command) -> Res<String> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn median(v: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.into_iter().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The report's `backup.restored_as`, in a few words.
pub fn restored_as(delivery: &Value) -> String {
    match delivery["mode"].as_str() {
        Some("parallel") => format!("pg_restore --jobs={}", delivery["jobs"]),
        Some(_) => format!(
            "one stream ({})",
            delivery["reason"]["why"].as_str().unwrap_or("?")
        ),
        None => "?".into(),
    }
}

/// The report's `[{name, seconds}]` lists (phases, checks) as pairs.
pub fn named_seconds(v: &Value) -> Vec<(String, f64)> {
    let pair = |p: &Value| {
        let name = p["name"].as_str().unwrap_or("?").to_string();
        (name, p["seconds"].as_f64().unwrap_or(f64::NAN))
    };
    v.as_array()
        .map(|a| a.iter().map(pair).collect())
        .unwrap_or_default()
}

pub fn phase(phases: &[(String, f64)], name: &str) -> Res<f64> {
    let found = phases.iter().find(|(n, _)| n == name).map(|(_, s)| *s);
    Ok(found.ok_or_else(|| format!("the report has no {name:?} phase"))?)
}

/// When the restore phase started (wall clock, from the report).
pub fn restore_start(report: &Value) -> Option<SystemTime> {
    let phase = report["phases"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == "restore")?;
    let start = chrono::DateTime::parse_from_rfc3339(phase["started_at"].as_str()?).ok()?;
    Some(start.into())
}

pub fn or_unknown(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "?".into(), |e| format!("{e:.1} s"))
}

pub fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The one-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

/// The CPU's model name, from /proc/cpuinfo.
pub fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, m)| m.trim().to_string())
}

/// The machine's memory in GiB, from /proc/meminfo.
pub fn mem_gib() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / (1024.0 * 1024.0))
}

/// The running kernel's release.
pub fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_string())
}

/// Where a benchmark's files live: `dir` (kept for the next run), or a
/// temporary directory named `prefix...`, removed when the guard drops.
pub fn work_dir(dir: Option<&PathBuf>, prefix: &str) -> Res<(PathBuf, Option<tempfile::TempDir>)> {
    if let Some(d) = dir {
        std::fs::create_dir_all(d)?;
        return Ok((d.clone(), None));
    }
    let tmp = tempfile::Builder::new().prefix(prefix).tempdir()?;
    Ok((tmp.path().to_path_buf(), Some(tmp)))
}

/// The backup and its manifest as the drill's catalog sees them; the manifest
/// must be of `kind`, in the format its restore command reads.
pub fn the_backup(
    backups: &Path,
    kind: EngineKind,
    format: DumpFormat,
) -> Res<(Candidate, Manifest)> {
    let found: Vec<_> = catalog::list::scan(backups, None)?
        .into_iter()
        .filter(|c| c.file_name().ends_with(".zst.age"))
        .collect();
    let [mut backup] = <[_; 1]>::try_from(found).map_err(|f| {
        let n = f.len();
        format!("expected one backup in {}, found {n}", backups.display())
    })?;
    let manifest = backup.manifest.take().ok_or_else(|| {
        let why = backup.manifest_error.as_deref().unwrap_or("missing");
        format!("the backup's manifest: {why}")
    })?;
    if manifest.engine != kind || manifest.dump.format != format {
        return Err(format!(
            "{} is a {} backup in {:?}, the benchmark expects {} in {:?}",
            backup.file_name(),
            manifest.engine,
            manifest.dump.format,
            kind,
            format
        )
        .into());
    }
    Ok((backup, manifest))
}

/// A fresh key and one backup of `patients` patients of `engine` (the
/// `--engine` value) encrypted to it, as a user makes them; `takes`: how
/// long 200,000 take. Returns the seconds the backup took.
pub fn generate(engine: &str, takes: &str, key: &Path, backups: &Path, patients: u64) -> Res<f64> {
    let _ = std::fs::remove_file(key);
    if backups.exists() {
        std::fs::remove_dir_all(backups)?;
    }
    std::fs::create_dir_all(backups)?;
    let public = keys::generate_identity_file(key)?;
    say(format!(
        "generating the fixture: {patients} patients (seed {SEED}); 200,000 take {takes}"
    ));
    let t = Instant::now();
    checked(
        Command::new(BIN)
            .args(["--quiet", "fixtures", "generate", "--engine", engine])
            .arg("--out")
            .arg(backups)
            .args(["--patients", &patients.to_string(), "--seed", SEED])
            .args(["--recipient", &public]),
    )?;
    let secs = t.elapsed().as_secs_f64();
    say(format!("fixture generated in {secs:.1} s"));
    Ok(secs)
}
