//! `restore-drill schedule install | list | remove`.

use super::Output;
use crate::error::Result;
use crate::schedule::{self, units};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ScheduleCommand {
    /// Write a systemd service and timer that run the drill (or print a crontab line).
    Install(Box<InstallArgs>),
    /// The schedules installed in the unit folder.
    List {
        /// Where the units are.
        #[arg(long, default_value = schedule::SYSTEM_UNIT_DIR)]
        unit_dir: PathBuf,
    },
    /// Remove a schedule's service and timer.
    Remove {
        /// The schedule's name, as `schedule list` shows it (the restore-drill- prefix may be left out).
        name: String,
        /// Where the units are.
        #[arg(long, default_value = schedule::SYSTEM_UNIT_DIR)]
        unit_dir: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct InstallArgs {
    /// The scenario the scheduled runs drill (it must stay where it is, outside /tmp).
    scenario: PathBuf,
    /// How often the drill runs.
    #[arg(long, value_enum, default_value = "monthly")]
    every: units::Every,
    /// Time of day, HH:MM (24-hour, the machine's time zone); the monthly run is on the 1st.
    #[arg(long, default_value = "03:00")]
    at: String,
    /// Name of the units (default: from the scenario file's name).
    #[arg(long)]
    name: Option<String>,
    /// Backup location each run drills (overrides the scenario's).
    #[arg(long)]
    backups: Option<PathBuf>,
    /// age identity file the runs use (overrides the scenario's); repeat to try several in order.
    #[arg(long = "identity")]
    identities: Vec<PathBuf>,
    /// The practice or server drilled, as the reports and the history name it.
    #[arg(long)]
    site: Option<String>,
    /// A site file (`site`, `[notify]`) the runs use.
    #[arg(long)]
    site_file: Option<PathBuf>,
    /// The drill history the runs are recorded in (default as for `run`).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Where the runs' reports go (default: `reports` beside the history).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// A Prometheus textfile-collector file each run replaces.
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Where the units are written.
    #[arg(long, default_value = schedule::SYSTEM_UNIT_DIR)]
    unit_dir: PathBuf,
    /// Print a crontab line instead of writing systemd units.
    #[arg(long)]
    cron: bool,
}

pub async fn schedule(cmd: ScheduleCommand) -> Result<Output> {
    match cmd {
        ScheduleCommand::Install(a) => install(*a).await,
        ScheduleCommand::List { unit_dir } => {
            let listed = schedule::list(&unit_dir)?;
            let mut text = format!("{:<40} {:<24} scenario\n", "name", "when (OnCalendar)");
            for l in &listed {
                text.push_str(&format!(
                    "{:<40} {:<24} {}\n",
                    l.name, l.calendar, l.scenario
                ));
            }
            text.push_str(&format!(
                "{} in {}",
                crate::words::plural(listed.len(), "schedule", "schedules"),
                unit_dir.display()
            ));
            Ok(Output::new(text, json!(listed)))
        }
        ScheduleCommand::Remove { name, unit_dir } => {
            let removed = schedule::remove(&unit_dir, &name).await?;
            let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
            Ok(Output::new(
                format!("removed {}", names.join(", ")),
                json!({"removed": names}),
            ))
        }
    }
}

async fn install(a: InstallArgs) -> Result<Output> {
    // Reports beside a history named with --history; else both in the
    // state folder, as `run` puts them.
    let report_dir = match (a.report_dir, &a.history) {
        (Some(dir), _) => dir,
        (None, Some(h)) => h
            .parent()
            .map_or_else(|| PathBuf::from("reports"), |d| d.join("reports")),
        (None, None) => crate::state::reports_dir(),
    };
    let history = a.history.unwrap_or_else(crate::ledger::default_path);
    let req = schedule::Request {
        scenario: a.scenario,
        every: a.every,
        at: units::parse_at(&a.at)?,
        name: a.name,
        backups: a.backups,
        identities: a.identities,
        site: a.site,
        site_file: a.site_file,
        history,
        report_dir,
        metrics: a.metrics,
    };
    let program = std::env::current_exe().map_err(|e| {
        crate::error::Error::Environment(format!("cannot find this program's path: {e}"))
    })?;
    let job = schedule::plan(&req, &program)?;
    installed(job, a.cron, &a.unit_dir, a.every, &a.at).await
}

/// Writes a planned job's units (or prints its crontab line) and says so:
/// a scenario's schedule and a fleet's alike.
pub(super) async fn installed(
    job: units::Job,
    cron: bool,
    unit_dir: &std::path::Path,
    every: units::Every,
    at: &str,
) -> Result<Output> {
    if cron {
        let line = units::cron(&job);
        return Ok(Output::new(line.clone(), json!({"cron": line})));
    }
    let done = schedule::install(&job, unit_dir).await?;
    let mut text = format!(
        "{} runs every {} at {} (a run missed while the machine was off runs at boot; up to 30 min random delay)\n  {}\n  {}",
        done.name,
        every.word(),
        at,
        done.service.display(),
        done.timer.display()
    );
    match &done.next {
        Some(next) => text.push_str(&format!("\nnext: {next}")),
        None => text.push_str("\nenabled and started: systemctl list-timers shows its next run"),
    }
    Ok(Output::new(text, json!(done)))
}
