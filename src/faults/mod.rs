//! Failure simulation. Everything acts on scratch copies: the backup set is
//! copied (reflinked where the file system can: `std::fs::copy` uses
//! copy_file_range, which clones on btrfs and XFS; never hard links, which
//! would let a simulation write through to the originals) and the faults are
//! applied there. The user's files and servers are never touched.
//!
//! `files` damages copies, `production` plays the clinic's server, `kill`
//! kills the recovery server mid-restore. `stage` returns what the fault
//! changes about the drill as a typed `Effect`, and the moment the disaster
//! happened, from which RTO and RPO are measured.

pub mod files;
pub mod kill;
pub mod production;

use crate::catalog::place::Place;
use crate::catalog::{list, Location};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::keys::IdentitySource;
use crate::measure::Moment;
use crate::redact::Redacted;
use crate::report::Simulation;
use crate::sandbox::RunId;
use crate::scenario::{Fault, Plan};
use crate::words::plural;
use files::{blocking, file_name};
use production::{Production, WorkloadLog};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use kill::{kill_container, wait_for_restore_activity, KillSwitch};

/// What a staged fault changes about the drill that follows.
#[derive(Debug, Clone, Default)]
pub enum Effect {
    /// Only the files (or keys) changed.
    #[default]
    None,
    /// The drill's "now" is this much later (a backup job that stopped).
    ClockAhead(Duration),
    /// The sandbox's data directory is a tmpfs of this many bytes.
    SmallDisk(u64),
    /// The sandbox is killed once this many bytes of the backup were read.
    KillAfter(u64),
    /// Production was lost while a workload wrote to it: count what is lost.
    ServerLost(WorkloadLog),
    /// These identity files were given but are lost (lost-key): a backup
    /// that nothing else opens says so, rather than "no identity was given".
    KeysLost(Vec<String>),
}

/// A staged failure: where the drill reads, with which keys, what else
/// changes, and when the disaster happened.
pub struct Staged {
    /// Removed when dropped: the scratch copies live as long as this.
    scratch: tempfile::TempDir,
    pub locations: Vec<Location>,
    pub keys: Arc<Vec<IdentitySource>>,
    pub simulation: Simulation,
    pub effect: Effect,
    /// When the disaster struck, and what it was.
    pub disaster: Disaster,
}

/// The moment RTO and RPO of a failure scenario count from.
#[derive(Debug, Clone, Copy)]
pub enum Disaster {
    /// A fault on files or keys: the end of the staging.
    Staged(Moment),
    /// Ransomware: the primary store was encrypted.
    StoreEncrypted(Moment),
    /// Lost server: production died.
    ServerLost(Moment),
}

impl Disaster {
    pub fn at(&self) -> Moment {
        match self {
            Disaster::Staged(m) | Disaster::StoreEncrypted(m) | Disaster::ServerLost(m) => *m,
        }
    }
    /// What the report says happened then.
    pub fn event(&self) -> &'static str {
        match self {
            Disaster::Staged(_) => "simulation staged",
            Disaster::StoreEncrypted(_) => "primary store encrypted",
            Disaster::ServerLost(_) => "server lost",
        }
    }
}

/// Copies the plan's locations into scratch space and applies the fault.
pub async fn stage(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    keys: Arc<Vec<IdentitySource>>,
    fault: &Fault,
    events: &Events,
) -> Result<Staged> {
    let (scratch, locations, copied) = scratch_copies(plan).await?;
    let mut staged = Staged {
        scratch,
        locations,
        keys,
        simulation: Simulation {
            fault: fault.name().into(),
            actions: vec![Redacted::ours(copied)],
            simulated_offsite: false,
        },
        effect: Effect::None,
        disaster: Disaster::Staged(Moment::now()),
    };
    let actions = match fault {
        Fault::CorruptBackup { flips, seed } => corrupt(&staged, *flips, *seed).await?,
        Fault::TruncatedBackup { fraction } => truncate(&staged, *fraction).await?,
        Fault::StaleBackups { days } => {
            staged.effect = Effect::ClockAhead(Duration::from_secs_f64(days * 86_400.0));
            vec![format!(
                "the backup job stopped silently: the drill runs as if {} had passed since the newest backup",
                plural(*days, "day", "days")
            )]
        }
        Fault::LostKey => lose_first_key(&mut staged)?,
        Fault::WrongKey => wrong_key(&mut staged),
        Fault::DiskFull { tmpfs_mb } => {
            small_disk(&mut staged, *tmpfs_mb, plan.target.engine).await?
        }
        Fault::RestoreKilled { fraction } => kill_part_way(&mut staged, *fraction).await?,
        Fault::Ransomware => ransomware(docker, run, plan, &mut staged, events).await?,
        Fault::LostServer {
            writes_per_second,
            seconds_before_backup,
            seconds_after_backup,
        } => {
            let timing = (*seconds_before_backup, *seconds_after_backup);
            lose_server(
                docker,
                run,
                plan,
                &mut staged,
                *writes_per_second,
                timing,
                events,
            )
            .await?
        }
    };
    staged
        .simulation
        .actions
        .extend(actions.into_iter().map(Redacted::ours));
    if let Disaster::Staged(_) = staged.disaster {
        staged.disaster = Disaster::Staged(Moment::now());
    }
    events.event(Event::note(format!("simulating {}", fault.name())));
    Ok(staged)
}

/// Scratch space holding copies of the primary and offsite locations.
async fn scratch_copies(plan: &Plan) -> Result<(tempfile::TempDir, Vec<Location>, String)> {
    let scratch = tempfile::Builder::new()
        .prefix("restore-drill-scratch-")
        .tempdir()
        .map_err(|e| Error::io("create scratch space in", std::env::temp_dir(), e))?;
    let primary = primary_folder(plan)?;
    let mut sources = vec![("primary", Place::Folder(primary.clone()))];
    if let Some(off) = &plan.backups.offsite {
        sources.push(("offsite", off.clone()));
    }
    let mut locations = Vec::new();
    for (name, src) in sources {
        // A bucket or repository offsite is only read, never copied: what
        // a simulation damages is on this machine.
        let place = match src {
            Place::Folder(src) => {
                let dst = scratch.path().join(name);
                Place::Folder(blocking(move || files::copy_dir(&src, &dst)).await?)
            }
            remote => remote,
        };
        locations.push(Location {
            name: name.into(),
            place,
        });
    }
    let said = format!(
        "copied the backups to scratch space; the originals in {} are not touched",
        primary.display()
    );
    Ok((scratch, locations, said))
}

fn primary(staged: &Staged) -> PathBuf {
    // `primary_folder` refused any other kind before the copies were made.
    staged.locations[0]
        .place
        .folder()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The primary location, which a simulation needs to be a folder (the
/// scenario's validation says so first).
fn primary_folder(plan: &Plan) -> Result<PathBuf> {
    match &plan.backups.location {
        Some(Place::Folder(p)) => Ok(p.clone()),
        Some(other) => Err(Error::Usage(format!(
            "a simulation needs a folder as the primary location, not {other}"
        ))),
        None => Err(Error::Usage("no backup location".into())),
    }
}

async fn corrupt(staged: &Staged, flips: u32, seed: u64) -> Result<Vec<String>> {
    let dir = primary(staged);
    let (target, offsets) = blocking(move || {
        let target = files::newest(&dir)?;
        let offsets = files::flip_bytes(&target, flips, seed)?;
        Ok((target, offsets))
    })
    .await?;
    let list: Vec<String> = offsets.iter().map(|o| o.to_string()).collect();
    Ok(vec![format!(
        "damaged the newest backup {}: {} bytes changed at offsets {}",
        file_name(&target),
        offsets.len(),
        list.join(", ")
    )])
}

async fn truncate(staged: &Staged, fraction: f64) -> Result<Vec<String>> {
    let dir = primary(staged);
    let (target, (len, keep)) = blocking(move || {
        let target = files::newest(&dir)?;
        let cut = files::truncate(&target, fraction)?;
        Ok((target, cut))
    })
    .await?;
    Ok(vec![format!(
        "cut the newest backup {} from {len} to {keep} bytes (the copy to the share stopped part-way)",
        file_name(&target)
    )])
}

/// The first identity is gone; the others are loaded again from their files
/// (keys can't be copied out of a shared set).
fn lose_first_key(staged: &mut Staged) -> Result<Vec<String>> {
    let mut said = Vec::new();
    let mut rest = Vec::new();
    for (i, k) in staged.keys.iter().enumerate() {
        if i == 0 {
            said.push(format!(
                "the day-to-day key {} is lost; only the keys after it remain",
                k.path.display()
            ));
            staged.effect = Effect::KeysLost(vec![k.path.display().to_string()]);
            continue;
        }
        let path = k.path.display().to_string();
        rest.push(match path.strip_prefix('$') {
            Some(var) => crate::keys::passphrase_identity(var)?,
            None => crate::keys::load_identity_file(&k.path)?,
        });
    }
    if rest.is_empty() {
        said.push("no escrow key was provided: nothing else can open the backups".into());
    }
    staged.keys = Arc::new(rest);
    Ok(said)
}

/// The name the wrong-key simulation's made-up key goes by in messages (no
/// such file exists).
const WRONG_KEY: &str = "someone-elses.key";

fn wrong_key(staged: &mut Staged) -> Vec<String> {
    let id = age::x25519::Identity::generate();
    let public = vec![id.to_public().to_string()];
    staged.keys = Arc::new(vec![IdentitySource {
        path: PathBuf::from(WRONG_KEY),
        identities: vec![Box::new(id)],
        public,
    }]);
    vec![format!(
        "the only key at hand is {WRONG_KEY}, made up by the simulation: it opens none of these backups"
    )]
}

async fn small_disk(
    staged: &mut Staged,
    tmpfs_mb: Option<u64>,
    engine: crate::engine::EngineKind,
) -> Result<Vec<String>> {
    // An initialised, empty data directory, with room.
    let empty: u64 = engine.empty_data_bytes();
    let bytes = match tmpfs_mb {
        Some(mb) => mb << 20,
        None => {
            // A quarter of the dump on top of an empty server cannot hold it.
            let dir = primary(staged);
            let newest = blocking(move || Ok(list::scan(&dir, None)?.into_iter().next())).await?;
            let dump = newest
                .map(|c| c.manifest.map_or(c.bytes * 4, |m| m.dump.bytes))
                .unwrap_or(0);
            empty + dump / 4
        }
    };
    staged.effect = Effect::SmallDisk(bytes);
    Ok(vec![format!(
        "the recovery server has only {:.1} MiB of storage for the database",
        bytes as f64 / f64::from(1u32 << 20)
    )])
}

async fn kill_part_way(staged: &mut Staged, fraction: f64) -> Result<Vec<String>> {
    let dir = primary(staged);
    let len = blocking(move || files::size(&files::newest(&dir)?)).await?;
    let after = (len as f64 * fraction) as u64;
    staged.effect = Effect::KillAfter(after);
    Ok(vec![format!(
        "the recovery server will be killed once {after} of the backup's {len} bytes have been read"
    )])
}

async fn start_production(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    staged: &Staged,
    events: &Events,
) -> Result<Production> {
    let dir = primary(staged);
    let prefix = plan.backups.name_prefix.as_deref();
    Production::start(
        docker,
        run,
        (plan.target.engine, &plan.target.image),
        (&dir, prefix),
        staged.keys.clone(),
        events,
    )
    .await
}

/// Production makes a newer backup, an older copy survives offsite, then the
/// primary store and the server are encrypted. The disaster is the moment the
/// store is encrypted.
async fn ransomware(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    staged: &mut Staged,
    events: &Events,
) -> Result<Vec<String>> {
    let mut said = Vec::new();
    let production = start_production(docker, run, plan, staged, events).await?;
    production.write_appointments(50).await?;
    let dir = primary(staged);
    let newer = production.backup_into(&dir, events).await?;
    said.push(format!(
        "production (restored from the newest backup, then 50 new appointments) made a newer backup {}",
        file_name(&newer)
    ));
    // The older copy survives offsite: the one the backup job shipped before
    // the attack.
    if !staged.locations.iter().any(|l| l.name == "offsite") {
        let original = primary_folder(plan)?;
        let offsite = staged.scratch.path().join("offsite");
        let path = blocking(move || files::copy_dir(&original, &offsite)).await?;
        staged.locations.push(Location {
            name: "offsite".into(),
            place: Place::Folder(path),
        });
        staged.simulation.simulated_offsite = true;
        said.push("an offsite copy holds the backups shipped before the attack".into());
    }
    let (count, bytes) = blocking(move || files::encrypt_like_ransomware(&dir)).await?;
    staged.disaster = Disaster::StoreEncrypted(Moment::now());
    said.push(format!(
        "ransomware encrypted {} ({bytes} bytes) of the primary backup store, renamed them *.locked and left a ransom note",
        plural(count, "file", "files")
    ));
    production.destroy().await?;
    said.push("ransomware encrypted the production server: it is gone".into());
    Ok(said)
}

/// Production runs a live workload, is backed up during it, then dies with
/// its storage. The disaster is the moment of the loss.
async fn lose_server(
    docker: &bollard::Docker,
    run: &RunId,
    plan: &Plan,
    staged: &mut Staged,
    writes_per_second: u32,
    (before, after): (f64, f64),
    events: &Events,
) -> Result<Vec<String>> {
    let production = start_production(docker, run, plan, staged, events).await?;
    let log_path = staged.scratch.path().join("workload.jsonl");
    let workload = production.workload(writes_per_second, log_path.clone());
    tokio::time::sleep(Duration::from_secs_f64(before)).await;
    let newer = production.backup_into(&primary(staged), events).await?;
    tokio::time::sleep(Duration::from_secs_f64(after)).await;
    let (lost_at, committed) = production.lose(workload).await?;
    let said = format!(
        "production (restored from the newest backup) ran a live workload of {writes_per_second} writes/s; \
         a backup {} was taken during it; then the server was lost with its storage, after {} committed writes",
        file_name(&newer),
        committed.len()
    );
    staged.disaster = Disaster::ServerLost(lost_at);
    staged.effect = Effect::ServerLost(WorkloadLog {
        path: log_path,
        committed,
    });
    Ok(vec![said])
}
