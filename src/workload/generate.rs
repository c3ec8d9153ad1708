//! `restore-drill fixtures generate`: a throwaway server of the generator's
//! engine loaded with a deterministic clinic (the same seed and date give the
//! same rows), then backed up the way a clinic would; for another engine, the
//! same rows loaded into a throwaway server of that engine, and that one
//! backed up.

use crate::backup::{self, BackupRequest, BackupResult, DumpSource};
use crate::engine::{
    AnyConnection, ClinicGenerator, DemoClinic, DemoClinicHere, EngineKind, GeneratedTable,
    ToolCommand,
};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::sandbox::{exec, ExecRequest, RunId, Sandbox, SandboxSpec};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// The engine whose server runs the generator (PL/pgSQL), whatever the
/// clinic's engine; the rows are then loaded into that one.
const GENERATOR: EngineKind = EngineKind::Postgres;

pub struct GenerateRequest {
    pub out_dir: PathBuf,
    pub patients: u32,
    pub seed: i64,
    /// The clinic's "now": every generated time is at or before it.
    pub as_of: DateTime<Utc>,
    pub recipients: Vec<String>,
    pub name: String,
    /// The clinic's engine, and the image of its server.
    pub engine: EngineKind,
    pub image: String,
}

/// The generator's engine's own part.
fn generator() -> Result<&'static dyn ClinicGenerator> {
    match GENERATOR.demo_clinic() {
        DemoClinicHere::Generated(g) => Ok(g),
        DemoClinicHere::Loaded { .. } => Err(Error::Failed(format!(
            "{GENERATOR} has no clinic generator"
        ))),
    }
}

/// Generates the clinic into `url` (an empty database of the generator's engine).
pub async fn load_clinic(url: &str, patients: u32, seed: i64, as_of: DateTime<Utc>) -> Result<()> {
    let clinic = DemoClinic {
        patients,
        seed,
        as_of,
    };
    generator()?.generate(url, clinic).await
}

/// Creates the clinic's tables in `target` and loads every row of the
/// generated clinic at `source_url` into them, each table streamed from one
/// server to the other without touching the host's disk. Returns the rows.
pub async fn copy_clinic(
    docker: &bollard::Docker,
    source_url: &str,
    target: &Sandbox,
) -> Result<u64> {
    let DemoClinicHere::Loaded { schema, load } = target.engine.demo_clinic() else {
        return Err(Error::Failed(format!(
            "{} generates its clinic and takes no rows from another server",
            target.engine
        )));
    };
    let mut admin = AnyConnection::connect(target.engine, &target.url()).await?;
    admin
        .execute(schema)
        .await
        .map_err(|e| Error::db(format!("creating the clinic's {} schema", target.engine), e))?;
    let generator = generator()?;
    let mut rows = 0;
    for table in generator.tables(source_url).await? {
        let tool = load(&target.creds, &table.name, &column_names(&table));
        rows += copy_table(docker, (generator, source_url), target, &table, tool).await?;
    }
    Ok(rows)
}

fn column_names(table: &GeneratedTable) -> Vec<String> {
    table.columns.iter().map(|(n, _)| n.clone()).collect()
}

/// One table: the generator's rows fed to `tool`'s stdin in the target's
/// container. The tool prints only what went wrong (a refusal, a warning
/// for a value cut or changed), so anything it says fails the copy.
async fn copy_table(
    docker: &bollard::Docker,
    (generator, source_url): (&dyn ClinicGenerator, &str),
    target: &Sandbox,
    table: &GeneratedTable,
    tool: ToolCommand,
) -> Result<u64> {
    let said_by = tool.command.first().cloned().unwrap_or_default();
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(16);
    let load = exec(
        docker,
        &target.container,
        ExecRequest::new(tool.command).user(tool.user).stdin(rx),
    );
    let feed = generator.send_rows(source_url, table, tx);
    let (loaded, fed) = tokio::join!(load, feed);
    let (loaded, lines) = (loaded?, fed?);
    let said = format!(
        "{}{}",
        loaded.stderr_text(),
        String::from_utf8_lossy(&loaded.stdout)
    );
    if !loaded.succeeded() || !said.trim().is_empty() {
        return Err(load_failed(target, &table.name, &said_by, &said));
    }
    Ok(lines)
}

/// What the client said, its first lines only: thousands more would bury
/// them. Its words pass through the redactor: a warning can quote a value.
fn load_failed(target: &Sandbox, table: &str, tool: &str, said: &str) -> Error {
    let lines: Vec<&str> = said.trim().lines().collect();
    let more = lines.len().saturating_sub(6);
    Error::Failed(format!(
        "loading {table} into {} failed: {}{}",
        target.engine,
        crate::redact::ToolSaid::parse(tool, &lines[..lines.len().min(6)].join("\n")).text(),
        if more > 0 {
            format!("\n({more} more lines)")
        } else {
            String::new()
        }
    ))
}

pub async fn generate(
    docker: &bollard::Docker,
    run: &RunId,
    req: GenerateRequest,
    events: &Events,
) -> Result<BackupResult> {
    if req.patients == 0 {
        return Err(Error::Usage("--patients must be at least 1".into()));
    }
    // Cheap checks before a container starts.
    crate::keys::parse_recipients(&req.recipients)?;
    crate::catalog::validate_name(&req.name).map_err(Error::Usage)?;
    // Before minutes of generation, not after.
    crate::backup::check_out_dir(&req.out_dir)?;

    let mut phase = crate::measure::Clock::new(events);
    phase.begin(format!("fixtures: start {GENERATOR}"));
    let generator_image = if req.engine == GENERATOR {
        req.image.as_str()
    } else {
        GENERATOR.default_image()
    };
    let mut spec = SandboxSpec::new(GENERATOR, generator_image);
    spec.role = "source";
    let generator = Sandbox::start(docker, run, &spec).await?;
    phase.end();

    phase.begin(format!(
        "fixtures: generate {}",
        crate::words::plural(req.patients, "patient", "patients")
    ));
    load_clinic(&generator.url(), req.patients, req.seed, req.as_of).await?;
    phase.end();

    let server = if req.engine == GENERATOR {
        generator
    } else {
        phase.begin(format!("fixtures: copy the clinic into {}", req.engine));
        let mut spec = SandboxSpec::new(req.engine, &req.image);
        spec.role = "source";
        let server = Sandbox::start(docker, run, &spec).await?;
        copy_clinic(docker, &generator.url(), &server).await?;
        // Its memory is the backup's now.
        crate::sandbox::gc::remove_container(docker, &generator.container).await?;
        phase.end();
        server
    };

    backup::backup(
        BackupRequest {
            url: server.url(),
            out_dir: req.out_dir,
            recipients: req.recipients,
            name: req.name,
            source: DumpSource::Container {
                docker: docker.clone(),
                container: server.container.clone(),
            },
        },
        events,
    )
    .await
}
