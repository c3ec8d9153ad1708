//! `restore-drill schedule`: the monthly drill run by systemd (or cron), so
//! that "monthly" happens without anyone typing a command. Plan (every path
//! checked as the service will see it), then write the units.

pub mod fleet;
mod private;
pub mod units;

use crate::catalog::atomic::{create_dir, DirMode};
use crate::error::{Error, Result};
use crate::plain_text::refuse_controls_in_path;
use private::Written;
use std::path::{Path, PathBuf};
use std::time::Duration;
use units::{At, Every, Job};

/// systemd's place for units the administrator installs.
pub const SYSTEM_UNIT_DIR: &str = "/etc/systemd/system";
const PREFIX: &str = "restore-drill-";

#[derive(Debug, Clone)]
pub struct Request {
    pub scenario: PathBuf,
    pub every: Every,
    pub at: At,
    pub name: Option<String>,
    pub backups: Option<PathBuf>,
    pub identities: Vec<PathBuf>,
    pub site: Option<String>,
    pub site_file: Option<PathBuf>,
    pub history: PathBuf,
    pub report_dir: PathBuf,
    pub metrics: Option<PathBuf>,
}

/// Checks everything the service will need, as the service will see it.
pub fn plan(r: &Request, program: &Path) -> Result<Job> {
    let scenario = visible(&r.scenario, "scenario")?;
    let backups = r
        .backups
        .as_deref()
        .map(|b| visible(b, "backup location"))
        .transpose()?;
    let site_file = r
        .site_file
        .as_deref()
        .map(|f| visible(f, "site file"))
        .transpose()?;
    if let Some(f) = &site_file {
        crate::scenario::load_site_file(f)?;
    }
    let identities = r
        .identities
        .iter()
        .map(|i| visible(i, "identity file"))
        .collect::<Result<Vec<_>>>()?;
    // The scenario must be valid as it will run: an invalid one is refused now.
    let drill = crate::scenario::load(&scenario)?.with_overrides(crate::scenario::Overrides {
        site: r.site.clone(),
        backups: backups.as_ref().map(|b| b.display().to_string()),
        identities: identities.clone(),
        report_dir: None,
    })?;
    // Every text the units, the crontab line and the drill's reports will
    // hold; the paths are checked as they are found, below and in `visible`.
    crate::plain_text::refuse_in_drill(&scenario, &drill.name, drill.site_name())?;
    let writes = written_folders(r)?;
    let checked = Checked {
        scenario: &scenario,
        backups: backups.as_deref(),
        identities: &identities,
        site_file: site_file.as_deref(),
    };
    let command = command(r, &checked, program)?;
    Ok(Job {
        name: name(r.name.as_deref(), &scenario)?,
        scenario,
        every: r.every,
        at: r.at,
        command,
        writes,
    })
}

/// The paths `plan` checked, as the service will see them.
struct Checked<'a> {
    scenario: &'a Path,
    backups: Option<&'a Path>,
    identities: &'a [PathBuf],
    site_file: Option<&'a Path>,
}

/// The command the service runs: every path absolute.
fn command(r: &Request, c: &Checked, program: &Path) -> Result<Vec<String>> {
    let mut command: Vec<String> = vec![
        program.display().to_string(),
        "--quiet".into(),
        "run".into(),
    ];
    command.push(c.scenario.display().to_string());
    let mut flag = |f: &str, v: &Path| {
        command.push(f.into());
        command.push(v.display().to_string());
    };
    if let Some(b) = c.backups {
        flag("--backups", b);
    }
    for i in c.identities {
        flag("--identity", i);
    }
    for (kind, path) in written_paths(r) {
        flag(kind.flag(), &written(kind, path)?);
    }
    if let Some(f) = c.site_file {
        flag("--site-file", f);
    }
    if let Some(s) = &r.site {
        command.extend(["--site".to_string(), s.clone()]);
    }
    Ok(command)
}

/// An existing path, absolute, outside the private temporary folders the
/// service gets, and plain text (it is written into the units).
pub(super) fn visible(p: &Path, what: &str) -> Result<PathBuf> {
    refuse_controls_in_path(&format!("the {what}"), p)?;
    let abs = p.canonicalize().map_err(|e| {
        Error::Usage(format!(
            "the {what} {} cannot be found ({e}): the scheduled drill needs it at run time. Give an existing path",
            p.display()
        ))
    })?;
    if let Some(tmp) = private::folder_of(&abs) {
        return Err(Error::Usage(format!(
            "the {what} {} is under {}: {}, so the service would not see it. Move it (for example under /etc/restore-drill/ or /srv/)",
            abs.display(),
            tmp.path(),
            tmp.why()
        )));
    }
    // Through a link, the target is what the unit names.
    refuse_controls_in_path(&format!("the {what} (where its links lead)"), &abs)?;
    Ok(abs)
}

/// What the drill writes: the history, the reports' folder, the metrics file.
fn written_paths(r: &Request) -> Vec<(Written, &Path)> {
    let mut paths = vec![
        (Written::History, r.history.as_path()),
        (Written::Reports, r.report_dir.as_path()),
    ];
    paths.extend(r.metrics.as_deref().map(|m| (Written::Metrics, m)));
    paths
}

/// An absolute path of something the drill writes, as plain text (it is
/// written into the units too), and outside the service's private temporary
/// folders, where what it wrote would be removed when each run ends.
pub(super) fn written(kind: Written, p: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(p).map_err(|e| Error::io("resolve", p, e))?;
    refuse_controls_in_path(&format!("the path {}", kind.flag()), &abs)?;
    if let Some(tmp) = private::folder_of(&private::resolved(&abs)) {
        return Err(Error::Usage(format!(
            "{} {} is under {}: {}, removed when each run ends, and {} with it. \
             Choose a folder outside /tmp and /var/tmp, or leave {} out for {}",
            kind.flag(),
            abs.display(),
            tmp.path(),
            tmp.why(),
            kind.what(),
            kind.flag(),
            kind.default_text()
        )));
    }
    Ok(abs)
}

/// The folders the drill writes (history, reports, metrics), created now:
/// systemd refuses to start a service whose ReadWritePaths are missing.
/// Every path is checked before any folder is made.
fn written_folders(r: &Request) -> Result<Vec<PathBuf>> {
    folders_of(&written_paths(r))
}

/// The folders that the written `paths` need (a history's and a metrics
/// file's folder, the reports' folder itself), checked and created.
pub(super) fn folders_of(paths: &[(Written, &Path)]) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for &(kind, path) in paths {
        let abs = written(kind, path)?;
        match kind {
            Written::Reports => dirs.push(abs),
            Written::History | Written::Metrics => dirs.extend(abs.parent().map(Path::to_path_buf)),
        }
    }
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        create_dir(
            d,
            DirMode::Shared,
            "folder",
            "--history, --report-dir or --metrics",
        )?;
    }
    Ok(dirs)
}

/// `restore-drill-<scenario file stem>` unless named: letters, digits, dashes.
pub(super) fn name(given: Option<&str>, scenario: &Path) -> Result<String> {
    let raw = match given {
        Some(n) => n.to_string(),
        None => scenario
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let clean = crate::evidence::slug(raw.strip_prefix(PREFIX).unwrap_or(&raw));
    if clean.is_empty() || clean.len() > 64 {
        return Err(Error::Usage(format!(
            "invalid schedule name {raw}: use 1 to 64 letters, digits or dashes (--name)"
        )));
    }
    Ok(format!("{PREFIX}{clean}"))
}

/// What `install` did.
#[derive(Debug, serde::Serialize)]
pub struct Installed {
    pub name: String,
    pub service: PathBuf,
    pub timer: PathBuf,
    /// Whether systemd was told (reloaded, timer enabled and started).
    pub enabled: bool,
    /// What is left for the administrator to run, when systemd was not told.
    pub next: Option<String>,
}

/// Writes (or replaces) the service and timer. systemd is told only for its
/// own unit folder on a machine where it runs.
pub async fn install(job: &Job, unit_dir: &Path) -> Result<Installed> {
    create_dir(unit_dir, DirMode::Shared, "unit folder", "--unit-dir")?;
    let service = unit_dir.join(format!("{}.service", job.name));
    let timer = unit_dir.join(format!("{}.timer", job.name));
    crate::catalog::atomic::replace_file(&service, units::service(job).as_bytes(), 0o644)?;
    crate::catalog::atomic::replace_file(&timer, units::timer(job).as_bytes(), 0o644)?;
    let enable = format!(
        "systemctl daemon-reload && systemctl enable --now {}.timer",
        job.name
    );
    let enabled = if tells_systemd(unit_dir) {
        systemctl(&["daemon-reload"]).await?;
        systemctl(&["enable", "--now", &format!("{}.timer", job.name)]).await?;
        true
    } else {
        false
    };
    Ok(Installed {
        name: job.name.clone(),
        service,
        timer,
        enabled,
        next: (!enabled).then_some(enable),
    })
}

fn tells_systemd(unit_dir: &Path) -> bool {
    unit_dir == Path::new(SYSTEM_UNIT_DIR) && Path::new("/run/systemd/system").is_dir()
}

/// systemctl, bounded: a hung bus does not hang the command.
async fn systemctl(args: &[&str]) -> Result<()> {
    let run = tokio::process::Command::new("systemctl")
        .args(args)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| {
            Error::Environment(format!(
                "systemctl {} did not answer within 60 s",
                args.join(" ")
            ))
        })?
        .map_err(|e| Error::Environment(format!("cannot run systemctl: {e}")))?;
    if !out.status.success() {
        return Err(Error::Environment(format!(
            "systemctl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// One installed schedule, read back from its units.
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub calendar: String,
    pub scenario: String,
}

pub fn list(unit_dir: &Path) -> Result<Vec<Listed>> {
    let entries = match std::fs::read_dir(unit_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read the unit folder", unit_dir, e)),
    };
    let mut out: Vec<Listed> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let name = file
                .strip_suffix(".timer")
                .filter(|n| n.starts_with(PREFIX))?
                .to_string();
            let text = std::fs::read_to_string(e.path()).ok()?;
            let value = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or("")
                    .to_string()
            };
            let scenario = value("Description=")
                .split_once(": ")
                .map(|(_, s)| s.to_string())
                .unwrap_or_default();
            Some(Listed {
                name,
                calendar: value("OnCalendar="),
                scenario,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes a schedule's units (disabling the timer first where systemd runs).
pub async fn remove(unit_dir: &Path, given: &str) -> Result<Vec<PathBuf>> {
    let name = if given.starts_with(PREFIX) {
        given.to_string()
    } else {
        format!("{PREFIX}{given}")
    };
    let files = [
        unit_dir.join(format!("{name}.timer")),
        unit_dir.join(format!("{name}.service")),
    ];
    if !files.iter().any(|f| f.exists()) {
        return Err(Error::Usage(format!(
            "no schedule {name} in {}: see restore-drill schedule list",
            unit_dir.display()
        )));
    }
    if tells_systemd(unit_dir) {
        systemctl(&["disable", "--now", &format!("{name}.timer")]).await?;
    }
    let mut removed = Vec::new();
    for f in files.iter().filter(|f| f.exists()) {
        std::fs::remove_file(f).map_err(|e| Error::io("remove", f, e))?;
        removed.push(f.clone());
    }
    if tells_systemd(unit_dir) {
        systemctl(&["daemon-reload"]).await?;
    }
    Ok(removed)
}
