//! Every command but `run`: parse what the flags say, call the core, render.

use super::{
    backup_output, inspect_output, keep_text, layers_text, load_keys, parse_as_of, with_run, Output,
};
use crate::catalog::place::Place;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::sandbox::{docker, gc, images, Sandbox, SandboxSpec};
use crate::words::plural;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How `backup --out` reaches a bucket or a restic repository (a scenario
/// says the same in `[backups.s3]` and `[backups.restic]`).
#[derive(clap::Args, Debug, Default)]
pub struct ReachArgs {
    /// S3 endpoint for --out s3://... (default: AWS_ENDPOINT_URL, else AWS).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 region (default: AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// AWS shared-credentials file (mode 600) for --out s3://... or a restic
    /// s3: repository (default: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "FILE")]
    s3_credentials: Option<PathBuf>,
    /// File holding the restic repository's password, for --out restic:...
    #[arg(long, value_name = "FILE", env = "RESTIC_PASSWORD_FILE")]
    restic_password_file: Option<PathBuf>,
}

impl ReachArgs {
    fn reach(self) -> crate::catalog::Reach {
        crate::catalog::Reach {
            s3: crate::catalog::s3::S3Settings {
                endpoint: self.s3_endpoint,
                region: self.s3_region,
                credentials_file: self.s3_credentials,
                production_credentials_file: None,
            },
            restic: crate::catalog::restic::ResticSettings {
                password_file: self.restic_password_file,
                password_env: None,
            },
        }
    }
}

/// A backup into a folder, or into a private scratch folder first and then
/// sent to a bucket or repository (the file is encrypted before it is
/// written; the scratch folder is removed whatever happens).
pub async fn backup(
    url: String,
    (out, reach): (String, ReachArgs),
    recipients: Vec<String>,
    name: String,
    events: &Events,
) -> Result<Output> {
    let place = Place::parse(&out, |p| PathBuf::from(p))
        .map_err(|e| Error::Usage(format!("--out {out}: {e}")))?;
    let (out_dir, scratch) = match &place {
        Place::Folder(p) => (p.clone(), None),
        _ => {
            let s = tempfile::Builder::new()
                .prefix("restore-drill-backup-")
                .tempdir()
                .map_err(|e| Error::io("create scratch space in", std::env::temp_dir(), e))?;
            (s.path().to_path_buf(), Some(s))
        }
    };
    let request = crate::backup::BackupRequest {
        url,
        out_dir,
        recipients,
        name,
        source: crate::backup::DumpSource::Local,
    };
    let mut r = crate::backup::backup(request, events).await?;
    if scratch.is_some() {
        let files = [r.artifact.as_path(), r.manifest_path.as_path()];
        let sent = crate::catalog::ship::ship(&place, &reach.reach(), &files).await?;
        r.artifact = PathBuf::from(&sent[0]);
        r.manifest_path = PathBuf::from(&sent[1]);
    }
    Ok(backup_output(&r))
}

pub async fn list(dir: PathBuf) -> Result<Output> {
    let entries = tokio::task::spawn_blocking(move || crate::catalog::list::describe(&dir))
        .await
        .map_err(|e| Error::Failed(format!("internal error: {e}")))??;
    let mut text = format!(
        "{:<22} {:>12}  {:<14} {:<9} {}\n",
        "time (UTC)", "bytes", "outer layer", "manifest", "file"
    );
    for e in &entries {
        text.push_str(&format!(
            "{:<22} {:>12}  {:<14} {:<9} {}\n",
            e.time
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "unknown".into()),
            e.bytes,
            e.outer_layer,
            match (e.manifest, e.sha256_matches) {
                (false, _) => "none",
                (true, Some(true)) => "matches",
                (true, Some(false)) => "MISMATCH",
                (true, None) => "unreadable",
            },
            e.file
        ));
    }
    if entries.is_empty() {
        text.push_str("(no backups)");
    }
    Ok(Output::new(
        text.trim_end().to_string(),
        serde_json::to_value(&entries).unwrap_or_default(),
    ))
}

/// The kind of dump inside a backup, if its layers open with these keys (the
/// restore itself then says what is wrong when they do not).
async fn dump_format(
    file: &std::path::Path,
    keys: Arc<Vec<crate::keys::IdentitySource>>,
) -> Option<crate::pipeline::DumpFormat> {
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crate::pipeline::open_file(&file, &keys, None)
            .ok()
            .map(|o| o.format)
    })
    .await
    .ok()
    .flatten()
}

pub async fn inspect(file: PathBuf, identities: &[PathBuf]) -> Result<Output> {
    let keys = load_keys(identities)?;
    let i = tokio::task::spawn_blocking(move || crate::inspect::inspect(&file, &keys))
        .await
        .map_err(|e| Error::Failed(format!("internal error: {e}")))??;
    Ok(inspect_output(&i))
}

pub async fn restore(
    file: PathBuf,
    identities: &[PathBuf],
    image: Option<String>,
    keep: bool,
    events: Events,
) -> Result<Output> {
    use crate::engine::EngineKind;
    let keys = Arc::new(load_keys(identities)?);
    // The dump says which engine restores it: its layers are opened once
    // here, before any container starts (a wrong key fails here too).
    let engine = EngineKind::for_dump(dump_format(&file, keys.clone()).await);
    let image = image.unwrap_or_else(|| engine.default_image().to_string());
    with_run(events, keep, move |docker, run, events| async move {
        let spec = SandboxSpec::new(engine, &image);
        let sandbox = Sandbox::start(&docker, &run, &spec).await?;
        let r = crate::restore::restore_file(
            &sandbox,
            &crate::catalog::origin::Origin::File(file.clone()),
            keys,
            &events,
            Default::default(),
            &crate::restore::Delivery::stream(),
        )
        .await
        .map_err(|e| e.into_error(&file))?;
        let mut text = format!(
            "restored {} ({}) into {}: {} file bytes, {} dump bytes",
            file.display(),
            layers_text(&r.layers),
            image,
            r.file_bytes,
            r.dump_bytes
        );
        if keep {
            text.push_str(&keep_text(&sandbox));
        }
        Ok(Output::new(
            text,
            serde_json::to_value(&r).unwrap_or_default(),
        ))
    })
    .await
}

pub fn keys_generate(out: &Path) -> Result<Output> {
    let public = crate::keys::generate_identity_file(out)?;
    Ok(Output::new(
        public.clone(),
        serde_json::json!({"identity_file": out, "public_key": public}),
    ))
}

pub fn keys_public(file: &Path) -> Result<Output> {
    let keys = crate::keys::public_keys(file)?;
    Ok(Output::new(keys.join("\n"), serde_json::json!(keys)))
}

#[derive(clap::Args)]
pub struct FixtureArgs {
    /// Directory the clinic's backup and its manifest go to.
    #[arg(long)]
    out: PathBuf,
    /// How many patients the clinic has (exams, invoices ... follow from it).
    #[arg(long, default_value_t = 2000)]
    patients: u32,
    /// age public key (age1...) the backup is encrypted to; repeat for an escrow key.
    #[arg(long = "recipient", required = true)]
    recipients: Vec<String>,
    /// Seed of the generator: the same seed and --as-of give the same clinic.
    #[arg(long, default_value_t = 1)]
    seed: i64,
    /// The clinic's "today" (YYYY-MM-DD, UTC midnight); default today. Same seed and date, same data.
    #[arg(long)]
    as_of: Option<String>,
    /// File name stem of the backup: NAME-YYYYMMDDTHHMMSSZ.dump.zst.age
    #[arg(long, default_value = "clinic")]
    name: String,
    /// The clinic's database engine: postgres or mariadb.
    #[arg(long, value_enum, default_value_t)]
    engine: crate::engine::EngineKind,
    /// The image of the clinic's server [default: restore-drill/postgres:15, or
    /// restore-drill/mariadb:10.11 with --engine mariadb].
    #[arg(long)]
    image: Option<String>,
}

pub async fn fixtures(a: FixtureArgs, events: Events) -> Result<Output> {
    let as_of = parse_as_of(a.as_of.as_deref())?;
    let engine = a.engine;
    with_run(events, false, move |docker, run, events| async move {
        let r = crate::workload::generate::generate(
            &docker,
            &run,
            crate::workload::generate::GenerateRequest {
                out_dir: a.out,
                patients: a.patients,
                seed: a.seed,
                as_of,
                recipients: a.recipients,
                name: a.name,
                engine,
                image: a
                    .image
                    .unwrap_or_else(|| engine.default_image().to_string()),
            },
            &events,
        )
        .await?;
        Ok(backup_output(&r))
    })
    .await
}

pub async fn images(
    targets: &[String],
    rebuild: bool,
    mirror: Option<&str>,
    events: &Events,
) -> Result<Output> {
    let chosen: Vec<&'static images::ImageTarget> = if targets.is_empty() {
        images::TARGETS.iter().collect()
    } else {
        targets
            .iter()
            .map(|t| {
                images::ImageTarget::by_key(t).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown image {t:?}: choose from {}",
                        images::TARGETS
                            .iter()
                            .map(|t| t.key)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?
    };
    let mirrors = images::Mirrors::detect(mirror)?;
    let docker = docker::connect().await?;
    let built = images::build_all(&docker, &chosen, &mirrors, rebuild, events).await?;
    let text = built
        .iter()
        .map(|b| {
            if b.built {
                format!("{}: built in {:.0} s", b.image, b.seconds)
            } else {
                format!("{}: present, kept (use --rebuild to build again)", b.image)
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let json = serde_json::json!(built
        .iter()
        .map(|b| serde_json::json!({"image": b.image, "built": b.built, "seconds": b.seconds}))
        .collect::<Vec<_>>());
    Ok(Output::new(text, json))
}

pub async fn gc(all: bool) -> Result<Output> {
    let docker = docker::connect().await?;
    let removed = gc::gc(&docker, all, None).await?;
    let mut text = removed_text(&removed);
    if !removed.live_runs.is_empty() {
        text.push_str(" (use --all to remove them too)");
    }
    let json = serde_json::json!({
        "containers": removed.containers,
        "networks": removed.networks,
        "runs": removed.runs,
        "live_runs_kept": removed.live_runs,
    });
    Ok(Output::new(text, json))
}

/// What a sweep removed, and which runs it left as alive: `gc`'s and each of
/// a fleet's engines' (`fleet gc`).
pub(super) fn removed_text(removed: &gc::Removed) -> String {
    let mut text = format!(
        "removed {} and {} of {}",
        plural(removed.containers, "container", "containers"),
        plural(removed.networks, "network", "networks"),
        plural(removed.runs.len(), "run", "runs")
    );
    if !removed.live_runs.is_empty() {
        text.push_str(&format!(
            "; kept {} still alive or kept with --keep",
            plural(removed.live_runs.len(), "run", "runs")
        ));
    }
    text
}

pub async fn doctor(a: &super::DoctorArgs) -> Output {
    let mut checks = crate::doctor::run(&a.identities, &a.dirs).await;
    if !a.no_history {
        let history = a
            .history
            .clone()
            .unwrap_or_else(crate::ledger::default_path);
        checks.extend(crate::doctor::cadence(&history, a.max_age_days).await);
    }
    let text = checks
        .iter()
        .map(|c| {
            format!(
                "{:<4} {}: {}",
                match (c.ok, c.area) {
                    (true, _) => "ok",
                    (false, crate::doctor::Area::Cadence) => "WARN",
                    (false, crate::doctor::Area::Machine) => "FIX",
                },
                c.name,
                c.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Output::new(text, serde_json::to_value(&checks).unwrap_or_default());
    out.code = super::exit::for_doctor(&checks);
    out
}
