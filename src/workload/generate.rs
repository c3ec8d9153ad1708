//! `restore-drill fixtures generate`: a throwaway PostgreSQL server loaded with
//! a deterministic clinic (the same seed and date give the same rows), then
//! backed up the way a clinic would; for MariaDB, the same rows copied into a
//! throwaway MariaDB server, and that one backed up.

use crate::backup::{self, BackupRequest, BackupResult, DumpSource};
use crate::engine::{postgres, EngineKind};
use crate::error::{Error, Result};
use crate::events::Events;
use crate::sandbox::{RunId, Sandbox, SandboxSpec};
use chrono::{DateTime, Utc};
use sqlx::Executor;
use std::path::PathBuf;
use std::time::Duration;

/// The clinic is generated on PostgreSQL (its generator is PL/pgSQL),
/// whatever the clinic's engine, then copied.
const GENERATOR: EngineKind = EngineKind::Postgres;

pub const SCHEMA_SQL: &str = include_str!("../../fixtures/clinic-schema.sql");
pub const GENERATOR_SQL: &str = include_str!("../../fixtures/clinic-generate.sql");

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

/// Loads the clinic into `url` (an empty database).
pub async fn load_clinic(url: &str, patients: u32, seed: i64, as_of: DateTime<Utc>) -> Result<()> {
    let mut conn = postgres::connect(url, Duration::from_secs(10)).await?;
    conn.execute(sqlx::raw_sql(SCHEMA_SQL))
        .await
        .map_err(|e| Error::db("creating the clinic schema", e))?;
    // The generator's functions live in pg_temp: they vanish with this session
    // and never reach a dump.
    conn.execute(sqlx::raw_sql(GENERATOR_SQL))
        .await
        .map_err(|e| Error::db("loading the generator", e))?;
    sqlx::query("SELECT pg_temp.rd_generate($1, $2, $3)")
        .bind(i32::try_from(patients).unwrap_or(i32::MAX))
        .bind(seed)
        .bind(as_of)
        .execute(&mut conn)
        .await
        .map_err(|e| Error::db("generating the clinic", e))?;
    Ok(())
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
    phase.begin("fixtures: start PostgreSQL");
    let generator_image = if req.engine == GENERATOR {
        req.image.as_str()
    } else {
        GENERATOR.default_image()
    };
    let mut spec = SandboxSpec::new(GENERATOR, generator_image);
    spec.role = "source";
    let generator = Sandbox::start(docker, run, &spec).await?;
    phase.end();

    phase.begin(format!("fixtures: generate {} patients", req.patients));
    load_clinic(&generator.url(), req.patients, req.seed, req.as_of).await?;
    phase.end();

    let server = match req.engine {
        GENERATOR => generator,
        // The one other engine today: the rows copied into MariaDB.
        _ => {
            phase.begin("fixtures: copy the clinic into MariaDB");
            let mut spec = SandboxSpec::new(req.engine, &req.image);
            spec.role = "source";
            let server = Sandbox::start(docker, run, &spec).await?;
            super::mariadb::copy_clinic(docker, &generator.url(), &server).await?;
            // Its memory is the backup's now.
            crate::sandbox::gc::remove_container(docker, &generator.container).await?;
            phase.end();
            server
        }
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
