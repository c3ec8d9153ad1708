//! `restore-drill fleet run`: every due clinic of a fleet file drilled on
//! the fleet's engines. Each site's drill is `run`'s own (the same report,
//! the same exit code), recorded in the fleet's one history with its site:
//! one chain to keep and anchor, while `evidence --site` still makes each
//! clinic's pack from its own records alone.

use super::run::{drill_on, error_output, operator_inputs};
use super::saved::{create_dir, Ran};
use super::{exit, Output};
use crate::error::{Error, Result};
use crate::events::{Event, Events, Silent};
use crate::fleet::due::{self, Standing};
use crate::fleet::runner::{self, Attempt, SiteEnd};
use crate::keys::IdentitySource;
use crate::report::facts::RunKind;
use crate::sandbox::RunId;
use crate::scenario::fleet::{EngineSpec, Fleet, Site};
use bollard::Docker;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum FleetCommand {
    /// Drill every due site of a fleet file on its engines, at most
    /// --max-parallel at once; one line per site, exit code the worst site's.
    Run(FleetRunArgs),
    /// How every site stands: last passing drill against its cadence, RTO and RPO, last failure; worst first.
    Status(super::fleet_status::StatusArgs),
    /// One systemd service and timer for the whole fleet (`fleet run`, daily
    /// by default: the fleet drills the sites that are due). `schedule list`
    /// and `schedule remove` list and remove it.
    Schedule {
        #[command(subcommand)]
        command: FleetScheduleCommand,
    },
    /// Remove what drills left on the fleet's engines: containers of runs
    /// that were killed, or that ran on an engine lost mid-drill.
    Gc {
        /// The fleet file whose engines are swept.
        fleet: PathBuf,
    },
}

#[derive(clap::Subcommand)]
pub enum FleetScheduleCommand {
    /// Write the fleet's service and timer (or print a crontab line).
    Install(FleetScheduleArgs),
}

#[derive(clap::Args)]
pub struct FleetScheduleArgs {
    /// The fleet file (it must stay where it is, outside /tmp).
    fleet: PathBuf,
    /// How often the fleet runs; each run drills only the sites that are due.
    #[arg(long, value_enum, default_value = "daily")]
    every: crate::schedule::units::Every,
    /// Time of day, HH:MM (24-hour, the machine's time zone).
    #[arg(long, default_value = "03:00")]
    at: String,
    /// Name of the units (default: from the fleet file's name).
    #[arg(long)]
    name: Option<String>,
    /// The drill history the service records in (default: the fleet file's `history`, else as for `run`).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Where the units are written.
    #[arg(long, default_value = crate::schedule::SYSTEM_UNIT_DIR)]
    unit_dir: PathBuf,
    /// Print a crontab line instead of writing systemd units.
    #[arg(long)]
    cron: bool,
}

#[derive(clap::Args)]
pub struct FleetRunArgs {
    /// The fleet file (TOML): its sites and the Docker engines they run on.
    fleet: PathBuf,
    /// Only these sites, by name (comma-separated); named sites are drilled
    /// whether due or not.
    #[arg(long, value_delimiter = ',')]
    sites: Vec<String>,
    /// Every site, due or not.
    #[arg(long, conflicts_with = "sites")]
    all: bool,
    /// Drills at once across the fleet (default: the fleet file's
    /// `max_parallel`, else 2).
    #[arg(long)]
    max_parallel: Option<usize>,
    /// The drill history (default: the fleet file's `history`, else as for `run`; RESTORE_DRILL_HISTORY, like this flag, wins over the file's).
    #[arg(long = "history", env = "RESTORE_DRILL_HISTORY")]
    history: Option<PathBuf>,
}

pub async fn fleet(cmd: FleetCommand, events: Events) -> Result<Output> {
    match cmd {
        FleetCommand::Run(a) => run(a, events).await,
        FleetCommand::Status(a) => super::fleet_status::status(a).await,
        FleetCommand::Schedule {
            command: FleetScheduleCommand::Install(a),
        } => schedule(a).await,
        FleetCommand::Gc { fleet } => gc(&fleet).await,
    }
}

async fn run(a: FleetRunArgs, events: Events) -> Result<Output> {
    let fleet = crate::scenario::fleet::load_fleet(&a.fleet)?;
    if a.max_parallel == Some(0) {
        return Err(Error::Usage(
            "--max-parallel 0 would drill nothing: give 1 or more".into(),
        ));
    }
    let chosen = chosen_sites(&fleet, &a.sites)?;
    let history = crate::fleet::history_of(a.history, &fleet);
    let now = chrono::Utc::now();
    let standings = standings(&fleet, &history, now).await?;
    let forced = a.all || !a.sites.is_empty();
    let due: Vec<usize> = chosen
        .into_iter()
        .filter(|&i| forced || standings[i].is_due())
        .collect();
    let max_parallel = a.max_parallel.unwrap_or(fleet.max_parallel);
    let fleet = Arc::new(fleet);
    let (operator, ready) = operator_errors(&fleet, &due, &history, &events).await;
    let drill = Arc::new(SiteDrill {
        fleet: fleet.clone(),
        keys: ready.iter().map(|(i, k)| (*i, k.clone())).collect(),
        history: history.clone(),
        events: events.clone(),
    });
    let order: Vec<usize> = ready.iter().map(|(i, _)| *i).collect();
    let outcome = runner::run(
        &fleet.engines,
        &fleet.sites,
        &order,
        max_parallel,
        drill,
        &events,
    )
    .await?;
    Ok(summary(&fleet, &standings, &due, operator, outcome))
}

/// `--sites`, each checked against the fleet's names; all sites when none.
fn chosen_sites(fleet: &Fleet, names: &[String]) -> Result<Vec<usize>> {
    if names.is_empty() {
        return Ok((0..fleet.sites.len()).collect());
    }
    names
        .iter()
        .map(|n| {
            fleet
                .sites
                .iter()
                .position(|s| &s.name == n)
                .ok_or_else(|| {
                    let known: Vec<&str> = fleet.sites.iter().map(|s| s.name.as_str()).collect();
                    Error::Usage(format!(
                        "--sites: no site {n:?} in {}{}. Its sites: {}",
                        fleet.file.display(),
                        crate::scenario::suggest_word(n, &known),
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// Each site's standing against its cadence, from the history (none yet:
/// every site never passed). A history that fails its chain check stops
/// the fleet: what is due cannot be told from records that were changed.
async fn standings(
    fleet: &Fleet,
    history: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Standing>> {
    let passes = match crate::fleet::verified_history(history).await? {
        Some((_, records)) => due::last_passes(&records),
        None => Default::default(),
    };
    Ok(fleet
        .sites
        .iter()
        .map(|s| due::standing(passes.get(&s.name).copied(), s.cadence_days, now))
        .collect())
}

type SiteKeys = Arc<Vec<IdentitySource>>;

/// Sites whose operator inputs (keys, alert password) fail end here as
/// operator errors, recorded and reported, before any engine is asked;
/// the others come back with their keys.
async fn operator_errors(
    fleet: &Fleet,
    due: &[usize],
    history: &Path,
    events: &Events,
) -> (Vec<(usize, SiteDone)>, Vec<(usize, SiteKeys)>) {
    let mut ended = Vec::new();
    let mut ready = Vec::new();
    for &i in due {
        let site = &fleet.sites[i];
        match operator_inputs(&site.plan, None) {
            Ok(keys) => ready.push((i, Arc::new(keys))),
            Err((step, e)) => {
                let dir = report_dir(fleet, site);
                let run = RunId::new();
                let kind = Some(RunKind::OperatorError);
                let tried = error_output(&site.plan, &run, &dir, (step, kind), e);
                ended.push((i, settled(tried, site, history, events).await));
            }
        }
    }
    (ended, ready)
}

/// A site's reports: `<fleet report_dir>/<site>/`, else the state folder's.
fn report_dir(fleet: &Fleet, site: &Site) -> PathBuf {
    let base = fleet
        .report_dir
        .clone()
        .unwrap_or_else(crate::state::reports_dir);
    base.join(folder_name(&site.name))
}

/// A site's name as a folder: letters and digits kept, the rest `-`. Not
/// `evidence::slug`, which keeps ASCII only: a clinic named in another
/// script still gets a folder of its own.
fn folder_name(site: &str) -> String {
    let s: String = site
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.trim_matches('-').to_string()
}

/// The history, metrics and alerts after a site's drill, as `run` leaves them.
async fn leave(ran: Ran, site: &Site, history: &Path, events: &Events) -> Output {
    let extras = super::after::Extras {
        metrics: site.plan.metrics.clone(),
        junit: None,
        history: Some(history.to_path_buf()),
        notify: site.plan.notify.clone(),
    };
    super::after::leave(ran, &extras, &site.name, events).await
}

fn failed_output(e: Error) -> Output {
    let mut out = Output::new(String::new(), json!({ "error": e.to_string() }));
    out.code = exit::code_for(&e);
    out.error = Some(crate::redact::Redacted::ours(e.to_string()));
    out
}

/// One site's drill on one engine, for the runner.
struct SiteDrill {
    fleet: Arc<Fleet>,
    keys: std::collections::HashMap<usize, SiteKeys>,
    history: PathBuf,
    events: Events,
}

/// A site's end, as the summary tells it.
struct SiteDone {
    out: Output,
    /// `PASSED (restored from the primary copy, backup 5 hours old)`.
    outcome: String,
    report: Option<PathBuf>,
}

type Boxed<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl runner::Drill for SiteDrill {
    type Tried = Result<Ran>;
    type Done = SiteDone;

    fn attempt(
        &self,
        i: usize,
        engine: &EngineSpec,
        docker: Docker,
        run: RunId,
    ) -> Boxed<Attempt<Result<Ran>>> {
        let site = &self.fleet.sites[i];
        let mut plan = site.plan.clone();
        plan.target.docker_engine = Some(engine.name.clone());
        let dir = report_dir(&self.fleet, site);
        let keys = self.keys.get(&i).cloned().unwrap_or_default();
        Box::pin(async move {
            // Many drills at once: their own progress would interleave; the
            // fleet says when each starts and ends.
            let quiet: Events = Arc::new(Silent);
            let drilled = match create_dir(&dir) {
                Ok(()) => drill_on(&docker, &run, &plan, keys, false, &dir, &quiet).await,
                Err(e) => Err(e),
            };
            // As `run`: a drill that died around its start still leaves a report.
            let ran = drilled.or_else(|e| error_output(&plan, &run, &dir, ("start", None), e));
            let check_engine = ran.as_ref().map_or(true, |r| r.out.code != exit::OK);
            Attempt {
                done: ran,
                check_engine,
            }
        })
    }

    fn stopped(&self, i: usize, run: &RunId, why: Error) -> Result<Ran> {
        let site = &self.fleet.sites[i];
        let dir = report_dir(&self.fleet, site);
        error_output(&site.plan, run, &dir, ("interrupted", None), why)
    }

    fn settle<'a>(
        &'a self,
        i: usize,
        engine: &'a EngineSpec,
        tried: Result<Ran>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = SiteDone> + 'a>> {
        Box::pin(async move {
            let site = &self.fleet.sites[i];
            let done = settled(tried, site, &self.history, &self.events).await;
            self.events.event(Event::note(format!(
                "{}: {} on engine {}",
                site.name, done.outcome, engine.name
            )));
            done
        })
    }
}

/// A site's drill recorded, or the error that kept it from a report.
async fn settled(tried: Result<Ran>, site: &Site, history: &Path, events: &Events) -> SiteDone {
    match tried {
        Ok(ran) => {
            let mut outcome = crate::report::outcome(&ran.report);
            if ran.report.kind == RunKind::OperatorError {
                // Not a drill of the backups: said as what it is.
                outcome = outcome.replacen("ERROR", "OPERATOR ERROR", 1);
            }
            let report = Some(ran.report_path.clone());
            SiteDone {
                out: leave(ran, site, history, events).await,
                outcome,
                report,
            }
        }
        Err(e) => SiteDone {
            outcome: format!("ERROR ({e})"),
            out: failed_output(e),
            report: None,
        },
    }
}

/// The fleet's summary: one line per site drilled, the engines lost, the
/// sites not due; exit code the worst site's.
fn summary(
    fleet: &Fleet,
    standings: &[Standing],
    due: &[usize],
    operator: Vec<(usize, SiteDone)>,
    outcome: runner::FleetOutcome<SiteDone>,
) -> Output {
    let mut rows: Vec<SiteRow> = operator
        .into_iter()
        .map(|(i, done)| SiteRow {
            site: i,
            engine: None,
            moved_from: Vec::new(),
            done: Some(done),
        })
        .collect();
    for o in outcome.sites {
        let (engine, done) = match o.end {
            SiteEnd::Ran { engine, done } => (Some(engine), Some(done)),
            SiteEnd::NoEngine(why) => (None, Some(no_engine(why))),
        };
        rows.push(SiteRow {
            site: o.site,
            engine,
            moved_from: o.moved_from,
            done,
        });
    }
    rows.sort_by_key(|r| due.iter().position(|&d| d == r.site));
    let not_due: Vec<usize> = (0..fleet.sites.len())
        .filter(|i| !due.contains(i))
        .collect();
    let mut text = summary_text(fleet, &rows, &outcome.lost, &not_due, standings);
    if let Some(why) = outcome.interrupted {
        let left = due.len() - rows.len();
        text.push_str(&format!(
            "\nstopped by {why}: drills under way were stopped and removed; {} not started",
            crate::words::plural(left, "site", "sites")
        ));
    }
    let json = json!({
        "fleet": fleet.name,
        "sites": rows.iter().map(|r| r.json(fleet)).collect::<Vec<_>>(),
        "engines_lost": outcome.lost,
        "not_due": not_due.iter().map(|&i| json!({
            "site": fleet.sites[i].name,
            "due_at": match standings[i] { Standing::Current { due_at, .. } => Some(due_at), _ => None },
        })).collect::<Vec<_>>(),
    });
    let mut out = Output::new(text, json);
    out.code = exit::worst(rows.iter().map(SiteRow::code));
    if let Some(why) = outcome.interrupted {
        out.code = exit::worst([out.code, exit::code_for(&Error::Interrupted(why))]);
    }
    out
}

/// A site no engine could take: not drilled, no report (nothing ran), and
/// an environment error's exit code.
fn no_engine(why: crate::fleet::place::Nowhere) -> SiteDone {
    use crate::fleet::place::Nowhere;
    let reason = match why {
        Nowhere::AllLost => "no engine that could take it answers",
        Nowhere::NoImage => "no engine that answers holds its image: load it there (docker save | docker load) or run restore-drill images build on it",
    };
    // Said once, in the site's line: nothing ran, so there is no error to add.
    let mut out = Output::new(String::new(), json!({ "error": reason }));
    out.code = exit::ENVIRONMENT;
    SiteDone {
        out,
        outcome: format!("NOT DRILLED ({reason})"),
        report: None,
    }
}

struct SiteRow {
    site: usize,
    engine: Option<String>,
    moved_from: Vec<String>,
    /// None: no engine could take it.
    done: Option<SiteDone>,
}

impl SiteRow {
    fn code(&self) -> u8 {
        self.done.as_ref().map_or(exit::ENVIRONMENT, |d| d.out.code)
    }

    fn outcome(&self) -> String {
        self.done
            .as_ref()
            .map(|d| d.outcome.clone())
            .unwrap_or_default()
    }

    fn json(&self, fleet: &Fleet) -> serde_json::Value {
        json!({
            "site": fleet.sites[self.site].name,
            "outcome": self.outcome(),
            "exit_code": self.code(),
            "engine": self.engine,
            "moved_from": self.moved_from,
            "report": self.done.as_ref().and_then(|d| d.report.clone()),
            "error": self.done.as_ref().and_then(|d| d.out.error.as_ref().map(|e| e.to_string())),
        })
    }
}

fn summary_text(
    fleet: &Fleet,
    rows: &[SiteRow],
    lost: &[runner::LostEngine],
    not_due: &[usize],
    standings: &[Standing],
) -> String {
    let width = rows
        .iter()
        .map(|r| fleet.sites[r.site].name.chars().count())
        .max()
        .unwrap_or(0);
    let drilled = rows.iter().filter(|r| r.engine.is_some()).count();
    let mut text = format!(
        "fleet {}: {} drilled, {} not drilled, {} not due\n",
        fleet.name,
        crate::words::plural(drilled, "site", "sites"),
        rows.len() - drilled,
        not_due.len()
    );
    for r in rows {
        let name = &fleet.sites[r.site].name;
        let mut line = format!("  {name:<width$}  {}", r.outcome());
        if let Some(e) = &r.engine {
            line.push_str(&format!("  [engine {e}]"));
        }
        if !r.moved_from.is_empty() {
            line.push_str(&format!("  (moved from {})", r.moved_from.join(", ")));
        }
        text.push_str(&line);
        text.push('\n');
        if let Some(e) = r.done.as_ref().and_then(|d| d.out.error.as_ref()) {
            text.push_str(&format!("  {:width$}  {e}\n", ""));
        }
    }
    for l in lost {
        text.push_str(&lost_line(l, &fleet.file));
    }
    for &i in not_due {
        if let Standing::Current { due_at, .. } = standings[i] {
            text.push_str(&format!(
                "  not due: {} (passed within {} days; due {})\n",
                fleet.sites[i].name,
                fleet.sites[i].cadence_days,
                due_at.format("%Y-%m-%d")
            ));
        }
    }
    text.trim_end().to_string()
}

fn lost_line(l: &runner::LostEngine, file: &Path) -> String {
    let mut s = match &l.why {
        runner::Lost::Unreachable { error } => error.clone(),
        runner::Lost::StoppedAnswering => format!(
            "engine {} ({}) lost: it stopped answering during a drill",
            l.name, l.host
        ),
    };
    if !l.runs_left.is_empty() {
        s.push_str(&format!(
            "; {} moved to other engines. What they left there is removed when it answers again: restore-drill fleet gc {}",
            crate::words::plural(l.runs_left.len(), "drill", "drills"),
            file.display()
        ));
    }
    s.push('\n');
    s
}

async fn schedule(a: FleetScheduleArgs) -> Result<Output> {
    let req = crate::schedule::fleet::FleetRequest {
        fleet: a.fleet,
        every: a.every,
        at: crate::schedule::units::parse_at(&a.at)?,
        name: a.name,
        history: a.history,
    };
    let program = std::env::current_exe()
        .map_err(|e| Error::Environment(format!("cannot find this program's path: {e}")))?;
    let job = crate::schedule::fleet::plan_fleet(&req, &program)?;
    super::schedule::installed(job, a.cron, &a.unit_dir, a.every, &a.at).await
}

/// Sweeps every engine of the fleet that answers; one that does not is said.
async fn gc(file: &Path) -> Result<Output> {
    let fleet = crate::scenario::fleet::load_fleet(file)?;
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    let mut code = exit::OK;
    for spec in &fleet.engines {
        let swept = match crate::fleet::engines::connect(spec).await {
            Ok(docker) => crate::sandbox::gc::gc(&docker, false, None).await,
            Err(e) => Err(e),
        };
        match swept {
            Ok(r) => {
                lines.push(format!(
                    "engine {}: {}",
                    spec.name,
                    super::commands::removed_text(&r)
                ));
                rows.push(json!({"engine": spec.name, "containers": r.containers, "networks": r.networks}));
            }
            Err(e) => {
                code = exit::ENVIRONMENT;
                lines.push(format!("engine {}: not swept: {e}", spec.name));
                rows.push(json!({"engine": spec.name, "error": e.to_string()}));
            }
        }
    }
    let mut out = Output::new(lines.join("\n"), json!({ "engines": rows }));
    out.code = code;
    Ok(out)
}
