//! The command line: parses flags, runs the core, prints. The only module that
//! writes to stdout or stderr; exit codes come from `exit`.

mod after;
mod alert;
mod commands;
mod compare;
pub mod exit;
mod fleet;
mod fleet_status;
#[cfg(test)]
mod help_tests;
mod history;
mod install;
mod progress;
#[cfg(test)]
mod render_tests;
mod run;
mod saved;
mod schedule;
mod validate;

use crate::error::{Error, Result};
use crate::events::Events;
use crate::sandbox::{self, docker, gc, RunId, Sandbox};
use crate::words::{self, plural};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "restore-drill",
    version,
    about = "Proves a clinic's backups restore, and measures how fast and how completely."
)]
struct Cli {
    /// Print results as JSON on stdout (progress stays on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// No progress output on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// After a drill's summary, list every phase and every check (the
    /// summary itself lists only the checks that did not pass).
    #[arg(long, short, global = true)]
    verbose: bool,
    /// Write what databases and restore tools said, word for word, to FILE
    /// (mode 600). It may hold patient data: reports, alerts and the history
    /// never carry it, and this file is for debugging only.
    #[arg(long, global = true, value_name = "FILE")]
    debug_log: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a restore drill: select, verify, restore into a throwaway container, check, report.
    /// A scenario with [compare] restores the backup into several images and compares them.
    Run(run::RunArgs),
    /// Check a scenario without running it, and what its first run needs here:
    /// the images it restores into, where its alerts go, the site file.
    Validate(validate::ValidateArgs),
    /// List the backups in a location, newest first.
    List {
        /// The backup location (folder) to list.
        dir: PathBuf,
    },
    /// Back up a PostgreSQL or MariaDB/MySQL database (the URL's scheme says which):
    /// its own dump tool | zstd | age, plus a manifest.
    Backup {
        /// postgres://USER:PASSWORD@HOST:PORT/DATABASE, or mariadb:// (mysql://)
        /// for MariaDB or MySQL.
        #[arg(long)]
        url: String,
        /// Where the backup and its manifest go: a directory, s3://BUCKET/PREFIX
        /// or restic:REPO.
        #[arg(long)]
        out: String,
        /// age public key (age1...); repeat for an escrow key.
        #[arg(long = "recipient", required = true)]
        recipients: Vec<String>,
        /// File name stem: NAME-YYYYMMDDTHHMMSSZ.dump.zst.age
        #[arg(long, default_value = "clinic")]
        name: String,
        #[command(flatten)]
        reach: commands::ReachArgs,
    },
    /// Show a backup's layers; with a key, stream through it and list its contents.
    Inspect {
        /// The backup file to look into.
        file: PathBuf,
        /// age identity file; repeat to try several in order.
        #[arg(long = "identity")]
        identities: Vec<PathBuf>,
    },
    /// Restore one backup file into a throwaway database container (the engine of its dump).
    Restore {
        /// The backup file to restore.
        file: PathBuf,
        /// age identity file; repeat to try several in order.
        #[arg(long = "identity")]
        identities: Vec<PathBuf>,
        /// Image to restore into [default: restore-drill/postgres:15, or
        /// restore-drill/mariadb:10.11 for a MariaDB/MySQL dump].
        #[arg(long)]
        image: Option<String>,
        /// Leave the container running and print how to connect to it.
        #[arg(long)]
        keep: bool,
    },
    /// age keys for backups: a day-to-day key and an escrow key kept elsewhere.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The drill history: every run, hash-chained.
    History {
        #[command(flatten)]
        file: history::HistoryFile,
        #[command(subcommand)]
        command: history::HistoryCommand,
    },
    /// A signed evidence pack (PDF, HTML, JSON) of a period's drills, for an insurer or auditor.
    Evidence(history::EvidenceArgs),
    /// Many clinics' drills on a pool of Docker engines, from a fleet file.
    Fleet {
        #[command(subcommand)]
        command: fleet::FleetCommand,
    },
    /// Run a drill on a schedule: systemd service and timer (or a crontab line).
    Schedule {
        #[command(subcommand)]
        command: schedule::ScheduleCommand,
    },
    /// Synthetic clinics for tests and demos.
    Fixtures {
        #[command(subcommand)]
        command: FixturesCommand,
    },
    /// Database images built from Debian packages (no registry needed).
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Remove containers and networks left by killed runs (found by label).
    Gc {
        /// Also remove those of runs that still look alive.
        #[arg(long)]
        all: bool,
    },
    /// Check that this machine is ready for drills, and that drills still pass often enough.
    Doctor(DoctorArgs),
    /// Print the shell completion script for SHELL on stdout.
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (restore-drill.1, restore-drill-run.1 ...) into a folder.
    // Hidden: packagers need it, a clinic's contractor does not.
    #[command(hide = true)]
    Manpage {
        /// Folder the pages go to (made when missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct DoctorArgs {
    /// age identity file a drill will use: checked readable, private (mode 600)
    /// and holding a key; repeat for each.
    #[arg(long = "identity")]
    identities: Vec<PathBuf>,
    /// Directories whose free space matters (backups, reports).
    #[arg(long = "dir")]
    dirs: Vec<PathBuf>,
    /// The drill history to judge the cadence by (default as for `run`).
    #[arg(long = "history", env = "RESTORE_DRILL_HISTORY")]
    history: Option<PathBuf>,
    /// Do not judge the cadence (a machine being prepared, before any drill).
    #[arg(long)]
    no_history: bool,
    /// Warn (exit 1) when the last passing drill is older than this.
    #[arg(long, default_value_t = 35)]
    max_age_days: u32,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an identity file (mode 600) and print its public key.
    Generate {
        /// The identity file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of each identity in an identity file.
    Public {
        /// The identity file to read.
        file: PathBuf,
    },
    /// Create a minisign key pair for signing evidence packs: FILE (mode 600) and FILE.pub.
    GenerateSigning {
        /// The secret key file to create; the public key goes to FILE.pub (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum FixturesCommand {
    /// Generate a clinic of N patients (on PostgreSQL or MariaDB, --engine) and back it up into DIR.
    Generate(commands::FixtureArgs),
}

#[derive(Subcommand)]
enum ImagesCommand {
    /// Build postgres:15, postgres:17, mariadb:10.11, mariadb:11 (all when none is named).
    Build {
        /// The images to build, by name (postgres:15 ...); all when none is named.
        targets: Vec<String>,
        /// Build even when the image is present.
        #[arg(long)]
        rebuild: bool,
        /// Debian mirror URL (default: this machine's apt sources).
        #[arg(long)]
        mirror: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    if let Some(path) = &cli.debug_log {
        if let Err(e) = crate::redact::debug_log::open(path) {
            eprintln!(
                "error: cannot write the debug log {}: {e}. Choose a writable path for --debug-log",
                path.display()
            );
            return ExitCode::from(exit::USAGE);
        }
        eprintln!(
            "warning: --debug-log {} keeps the databases' and tools' own words, which may quote patient data; delete it when done",
            path.display()
        );
    }
    let events: Events = Arc::new(progress::Progress::new(cli.quiet));
    let (json, verbose) = (cli.json, cli.verbose);
    match runtime.block_on(dispatch(cli, events)) {
        Ok(output) => {
            if json {
                println!("{}", output.json);
            } else if !output.text.is_empty() {
                println!("{}", output.text);
            }
            if let Some(details) = output.details.as_ref().filter(|_| verbose && !json) {
                println!("\n{}", details.trim_end());
            }
            for w in &output.warnings {
                eprintln!("warning: {w}");
            }
            if let Some(e) = &output.error {
                eprintln!("error: {e}");
            }
            ExitCode::from(output.code)
        }
        Err(e) => {
            // An error's text is built from typed parts (database errors show
            // codes, never messages) and the user's own input, as typed.
            eprintln!("error: {e}");
            ExitCode::from(exit::code_for(&e))
        }
    }
}

/// What a command prints: a human rendering and a JSON one of the same result.
struct Output {
    text: String,
    json: String,
    code: u8,
    /// An error the work ended with although it produced a result (a drill
    /// whose report says why it stopped): also said on stderr.
    error: Option<crate::redact::Redacted>,
    /// What went wrong beside the work without changing its exit code (an
    /// alert not delivered): said on stderr, one line each.
    warnings: Vec<crate::redact::Redacted>,
    /// What `--verbose` adds after the text (a drill's every phase and check).
    details: Option<String>,
}

impl Output {
    fn new(text: String, json: serde_json::Value) -> Self {
        Self {
            text,
            json: serde_json::to_string_pretty(&json).unwrap_or_default(),
            code: exit::OK,
            error: None,
            warnings: Vec::new(),
            details: None,
        }
    }
}

async fn dispatch(cli: Cli, events: Events) -> Result<Output> {
    match cli.command {
        Command::Backup {
            url,
            out,
            recipients,
            name,
            reach,
        } => commands::backup(url, (out, reach), recipients, name, &events).await,
        Command::Run(args) => run::run(args, events).await,
        Command::Validate(args) => validate::validate(args).await,
        Command::List { dir } => commands::list(dir).await,
        Command::Inspect { file, identities } => commands::inspect(file, &identities).await,
        Command::Restore {
            file,
            identities,
            image,
            keep,
        } => commands::restore(file, &identities, image, keep, events).await,
        Command::Keys {
            command: KeysCommand::Generate { out },
        } => commands::keys_generate(&out),
        Command::Keys {
            command: KeysCommand::Public { file },
        } => commands::keys_public(&file),
        Command::Keys {
            command: KeysCommand::GenerateSigning { out },
        } => history::generate_signing(&out),
        Command::History { file, command } => history::history(command, &file).await,
        Command::Evidence(args) => history::evidence(args).await,
        Command::Schedule { command } => schedule::schedule(command).await,
        Command::Fleet { command } => fleet::fleet(command, events).await,
        Command::Fixtures {
            command: FixturesCommand::Generate(args),
        } => commands::fixtures(args, events).await,
        Command::Images {
            command:
                ImagesCommand::Build {
                    targets,
                    rebuild,
                    mirror,
                },
        } => commands::images(&targets, rebuild, mirror.as_deref(), &events).await,
        Command::Gc { all } => commands::gc(all).await,
        Command::Doctor(args) => Ok(commands::doctor(&args).await),
        Command::Completions { shell } => Ok(install::completions(shell)),
        Command::Manpage { out } => install::manpages(&out),
    }
}

/// The plan's keys: its identity files, and its passphrase if it names one.
fn run_keys(plan: &crate::scenario::Plan) -> Result<Vec<crate::keys::IdentitySource>> {
    let mut keys = load_keys(&plan.keys.identities)?;
    if let Some(var) = &plan.keys.passphrase_env {
        keys.push(crate::keys::passphrase_identity(var)?);
    }
    Ok(keys)
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<crate::keys::IdentitySource>> {
    paths
        .iter()
        .map(|p| crate::keys::load_identity_file(p))
        .collect()
}

fn parse_as_of(s: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>> {
    let date = match s {
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| {
            Error::Usage(format!("invalid --as-of {s:?}: {e}; expected YYYY-MM-DD"))
        })?,
        None => chrono::Utc::now().date_naive(),
    };
    Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

fn layers_text(layers: &[crate::pipeline::Layer]) -> String {
    layers
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn backup_output(r: &crate::backup::BackupResult) -> Output {
    let m = &r.manifest;
    let mut text = format!(
        "backup:   {}\nmanifest: {}\nsha256:   {}\ndumped:   {} {} with {} ({})\n\
         size:     {}; the dump {} before compression\ncontents: {}, {}",
        r.artifact.display(),
        r.manifest_path.display(),
        m.artifact.sha256,
        m.engine,
        m.server_version,
        m.dump.tool,
        m.dump.format,
        words::bytes(m.artifact.bytes),
        words::bytes(m.dump.bytes),
        plural(m.tables.len(), "table", "tables"),
        plural(m.tables.iter().map(|t| t.rows).sum::<u64>(), "row", "rows")
    );
    if let Some(held) = r.commits_held {
        text.push_str(&format!(
            "\ncommits held: {} ms, while the dump's and the fingerprints' snapshots started",
            held.as_millis()
        ));
    }
    let json = serde_json::json!({
        "artifact": r.artifact,
        "manifest_path": r.manifest_path,
        "manifest": r.manifest,
        "commits_held_ms": r.commits_held.map(|d| d.as_millis() as u64),
    });
    Output::new(text, json)
}

fn inspect_output(i: &crate::inspect::Inspection) -> Output {
    let mut text = format!(
        "file:   {}, {}\nlayers: {}",
        i.file,
        words::bytes(i.bytes),
        layers_text(&i.layers)
    );
    if let Some(stop) = &i.stopped {
        text.push_str(&format!("\n{stop}"));
    }
    if let Some(d) = &i.dump {
        text.push_str(&format!(
            "\ndump:   {}, {}, sha256 {}",
            d.format,
            words::bytes(d.dump_bytes),
            d.sha256
        ));
        if let Some(a) = &d.archive {
            text.push_str(&format!(
                "\narchive {} of database {:?}, server {}, pg_dump {}; {}",
                a.archive_version,
                a.database,
                a.server_version,
                a.pg_dump_version,
                plural(a.entries.len(), "entry", "entries")
            ));
            for e in &a.entries {
                text.push_str(&format!("\n  {:<16} {}.{}", e.kind, e.schema, e.name));
            }
        }
        if let Some(t) = &d.sql_tables {
            text.push_str(&format!(
                "\ntables created: {}\ntables loaded:  {}",
                t.created.join(", "),
                t.loaded.join(", ")
            ));
        }
    }
    Output::new(text, serde_json::to_value(i).unwrap_or_default())
}

fn keep_text(s: &Sandbox) -> String {
    let (client, from_host) = s.engine.client_commands(&s.creds, &s.socket_dir, &s.url());
    if s.relay.is_some() {
        // On an engine elsewhere the way in from this host was the run's
        // relay, which ended with the run.
        return format!(
            "\nkept: container {} on the engine at DOCKER_HOST (no network, no folder of this host)\n  connect: docker exec -it {} {client}\n  remove it: docker rm -f {}   (or restore-drill gc --all, against that engine)",
            s.container, s.container, s.container
        );
    }
    format!(
        "\nkept: container {} (no network; its socket is in {})\n  connect: docker exec -it {} {client}\n  from this host: {from_host}\n  remove it: docker rm -f {}   (or restore-drill gc --all)",
        s.container,
        s.socket_dir.display(),
        s.container,
        s.container
    )
}

/// Runs work that creates containers: sweeps dead runs' leftovers first, and
/// removes everything this run created afterwards, whether the work succeeded,
/// failed, panicked, or was interrupted by Ctrl-C or SIGTERM (unless `keep`).
async fn with_run<F, Fut, T>(events: Events, keep: bool, work: F) -> Result<T>
where
    F: FnOnce(bollard::Docker, RunId, Events) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    with_run_as(RunId::new(), events, keep, work).await
}

/// `with_run` under a run id the caller chose (the drill names its report by it).
async fn with_run_as<F, Fut, T>(run: RunId, events: Events, keep: bool, work: F) -> Result<T>
where
    F: FnOnce(bollard::Docker, RunId, Events) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let run = if keep { run.kept() } else { run };
    // An engine reached over TCP or ssh is another machine: no folder of
    // this one is there to share a socket through.
    let run = match docker::docker_host().starts_with("unix://") {
        true => run,
        false => run.relayed(),
    };
    let docker = docker::connect().await?;
    if let Ok(swept) = gc::gc(&docker, false, Some(&run)).await {
        if swept.containers + swept.networks > 0 {
            events.event(crate::events::Event::note(format!(
                "removed {} and {} left by {}",
                plural(swept.containers, "container", "containers"),
                plural(swept.networks, "network", "networks"),
                plural(swept.runs.len(), "dead run", "dead runs")
            )));
        }
    }
    let mut task = tokio::spawn(work(docker.clone(), run.clone(), events.clone()));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Environment(format!("cannot watch for SIGTERM: {e}")))?;
    let mut finished = false;
    let outcome = tokio::select! {
        joined = &mut task => { finished = true; match joined {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(Error::Failed(
                "internal error (a bug in restore-drill; please report it); everything this run created was removed".into(),
            )),
            Err(e) => Err(Error::Failed(format!("internal error: {e}"))),
        }},
        _ = tokio::signal::ctrl_c() => { task.abort(); Err(Error::Interrupted("Ctrl-C")) }
        _ = sigterm.recv() => { task.abort(); Err(Error::Interrupted("SIGTERM")) }
    };
    let keep_now = keep && outcome.is_ok();
    if !keep_now {
        // Give the aborted task a moment to drop its connections first.
        if !finished {
            let _ = (&mut task).await;
        }
        if let Err(e) = sandbox::gc::cleanup_run(&docker, &run).await {
            events.event(crate::events::Event::note(format!(
                "could not remove everything this run created ({e}); run: restore-drill gc"
            )));
        }
    }
    outcome
}
