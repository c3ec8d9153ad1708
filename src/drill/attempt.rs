//! One attempt: verify one candidate against its manifest, start a sandbox,
//! restore into it. What comes back is typed: restored, or unusable with the
//! evidence why; an `Err` is the machine's failure, not the backup's.

use crate::catalog::list::Candidate;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::faults::{self, Effect, KillSwitch};
use crate::keys::IdentitySource;
use crate::measure::Clock;
use crate::pipeline::FileOpenError;
use crate::redact::Redacted;
use crate::restore::data::{self, DataPlace};
use crate::restore::{self, restore_file, Delivery, RestoreError, Restored, StreamReason};
use crate::sandbox::{self, Limits, RunId, Sandbox, SandboxSpec};
use crate::scenario::Plan;
use crate::unusable::{KeysAtHand, Unusable};
use std::sync::Arc;
use std::time::Duration;

/// What the drill works with for every attempt.
pub struct Ctx<'a> {
    pub docker: &'a bollard::Docker,
    pub run: &'a RunId,
    pub plan: &'a Plan,
    pub keys: Arc<Vec<IdentitySource>>,
    pub events: &'a Events,
    pub effect: &'a Effect,
}

pub enum Tried {
    Restored {
        sandbox: Box<Sandbox>,
        restored: Restored,
        sha256: String,
        /// Where the restored data is (none under the disk-full simulation).
        data: Option<DataPlace>,
    },
    Unusable {
        unusable: Unusable,
        /// The file's SHA-256, when it was read to the end.
        sha256: Option<String>,
    },
}

pub async fn attempt(ctx: &Ctx<'_>, clock: &mut Clock, c: &Candidate) -> Result<Tried> {
    clock.begin("verify artifact");
    let lost = match ctx.effect {
        Effect::KeysLost(lost) => lost.clone(),
        _ => Vec::new(),
    };
    let verified = match verify(c, ctx.keys.clone(), lost).await? {
        Ok(v) => v,
        Err(unusable) => {
            return Ok(Tried::Unusable {
                unusable,
                sha256: None,
            })
        }
    };
    let delivery = delivery(ctx, c, &verified).await?;
    let data = data_place(ctx, c, verified.bytes, &delivery);
    let sha256 = verified.sha256;
    clock.begin("start sandbox");
    let mut spec = spec(ctx.plan, ctx.effect);
    spec.staging_bytes = delivery.staging_bytes();
    if let Some(d) = &data {
        spec.tmpfs_bytes = d.tmpfs_bytes();
    }
    let sandbox = Sandbox::start(ctx.docker, ctx.run, &spec).await?;
    clock.begin("restore");
    let restored = match data {
        Some(d) => super::bound::within(&sandbox, d, restore(ctx, &sandbox, c, &delivery)).await?,
        None => restore(ctx, &sandbox, c, &delivery).await?,
    };
    clock.end();
    let (restored, sha256) = downloaded(c, restored, sha256)?;
    match restored {
        Ok(restored) => Ok(Tried::Restored {
            sandbox: Box::new(sandbox),
            restored,
            sha256,
            data,
        }),
        Err(unusable) => {
            // The next candidate gets a fresh sandbox.
            sandbox::gc::cleanup_run(ctx.docker, ctx.run).await?;
            Ok(Tried::Unusable {
                unusable,
                sha256: Some(sha256),
            })
        }
    }
}

/// How this candidate's dump will reach the database. Without a manifest
/// the dump is decoded once to learn its size (about 2 s per GB, against the
/// tens of seconds a parallel restore saves).
async fn delivery(ctx: &Ctx<'_>, c: &Candidate, v: &Verified) -> Result<Delivery> {
    if matches!(ctx.effect, Effect::KillAfter(_)) {
        // The kill must land mid-restore: only a stream can be held for it.
        return Ok(Delivery::Stream {
            reason: StreamReason::Simulation,
        });
    }
    let mut dump_bytes = c.manifest.as_ref().map(|m| m.dump.bytes);
    // A remote backup is not downloaded twice to learn its size.
    let local = c.origin.seen().is_none();
    if local && dump_bytes.is_none() && v.format == crate::pipeline::DumpFormat::PostgresCustom {
        let (path, keys) = (c.path.clone(), ctx.keys.clone());
        dump_bytes = tokio::task::spawn_blocking(move || decoded_size(&path, &keys))
            .await
            .map_err(|e| Error::Failed(format!("internal error: {e}")))?;
    }
    let t = &ctx.plan.target;
    Ok(restore::plan_delivery(
        v.format,
        dump_bytes,
        t.cpus,
        t.memory_bytes.max(0) as u64,
        restore::available_memory(),
    ))
}

/// Where the restored data goes and its bound; none under the disk-full
/// simulation, whose small disk is the point.
fn data_place(
    ctx: &Ctx<'_>,
    c: &Candidate,
    file_bytes: u64,
    delivery: &Delivery,
) -> Option<DataPlace> {
    if matches!(ctx.effect, Effect::SmallDisk(_)) {
        return None;
    }
    let t = &ctx.plan.target;
    let dump_bytes = c.manifest.as_ref().map(|m| m.dump.bytes);
    let bound = data::bound(t.engine, t.max_restored_bytes, dump_bytes, file_bytes);
    let memory = t.memory_bytes.max(0) as u64 + delivery.staging_bytes().unwrap_or(0);
    Some(data::place(bound, memory, restore::available_memory()))
}

/// The dump's size, by decoding it (None if it cannot be decoded: the
/// restore will say why).
fn decoded_size(path: &std::path::Path, keys: &[IdentitySource]) -> Option<u64> {
    let opened = crate::pipeline::open_file(path, keys, None).ok()?;
    std::io::copy(&mut { opened.reader }, &mut std::io::sink()).ok()
}

/// The sandbox a drill restores into: the scenario's image and limits (the
/// benchmark's hand pipeline uses the same).
pub fn spec(plan: &Plan, effect: &Effect) -> SandboxSpec {
    let mut s = SandboxSpec::new(plan.target.engine, &plan.target.image);
    s.memory_bytes = plan.target.memory_bytes;
    s.cpus = plan.target.cpus;
    s.ready_timeout = plan.target.ready_timeout;
    s.database.clone_from(&plan.target.database);
    if let Effect::SmallDisk(bytes) = effect {
        s.tmpfs_bytes = Some(*bytes);
    }
    s
}

pub fn limits(plan: &Plan) -> Limits {
    Limits {
        stall: plan.target.stall_timeout,
        finish: plan.target.restore_timeout,
        ..Limits::default()
    }
}

/// Restores `c`, or says why it could not be (the outer `Err` is the
/// machine's failure). A restore-killed scenario kills the sandbox part-way,
/// and whatever the restore then says, the cause is the kill.
async fn restore(
    ctx: &Ctx<'_>,
    sb: &Sandbox,
    c: &Candidate,
    delivery: &Delivery,
) -> Result<Result<Restored, Unusable>> {
    let limits = limits(ctx.plan);
    let Effect::KillAfter(after) = ctx.effect else {
        let restored = restore_file(
            sb,
            &c.origin,
            ctx.keys.clone(),
            ctx.events,
            limits,
            delivery,
        );
        return match restored.await {
            Ok(r) => Ok(Ok(r)),
            Err(RestoreError::Unusable(u)) => Ok(Err(u)),
            Err(RestoreError::Infra(e)) => Err(e),
        };
    };
    let switch = KillSwitch::new(*after, ctx.events.clone());
    let observer: Events = switch.clone();
    let restore = restore_file(sb, &c.origin, ctx.keys.clone(), &observer, limits, delivery);
    tokio::pin!(restore);
    let killer = async {
        switch.fired.notified().await;
        faults::wait_for_restore_activity(sb.engine, &sb.url()).await;
        faults::kill_container(ctx.docker, &sb.container).await;
        switch.release();
        // Holds the select until the restore ends, as it must once the
        // server is dead.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    };
    let outcome = tokio::select! {
        r = &mut restore => r,
        _ = killer => return Err(Error::Failed("the restore did not end within an hour of killing its server".into())),
    };
    Ok(match outcome {
        Ok(r) => Ok(r),
        Err(e) => Err(Unusable::ServerKilled {
            at: *after,
            error: Redacted::ours(describe(e)),
        }),
    })
}

fn describe(e: RestoreError) -> String {
    match e {
        RestoreError::Unusable(u) => u.reason(),
        RestoreError::Infra(e) => e.to_string(),
    }
}

/// Size and SHA-256 against the manifest, before anything is decrypted: a cut
/// at a zstd frame boundary or a swapped file shows here and nowhere else.
/// Then the layers are opened, so "not a backup" and "wrong key" are known
/// before any container starts; a key that does not fit is told with the
/// files tried (and `lost`, those a simulation took away) and the
/// recipients the manifest lists.
pub(crate) async fn verify(
    c: &Candidate,
    keys: Arc<Vec<IdentitySource>>,
    lost: Vec<String>,
) -> Result<Result<Verified, Unusable>> {
    if let Some(e) = &c.manifest_error {
        return Ok(Err(Unusable::ManifestUnreadable {
            error: Redacted::ours(e),
        }));
    }
    if c.origin.seen().is_some() {
        return verify_remote(c, keys, lost).await;
    }
    let path = c.path.clone();
    let read = tokio::task::spawn_blocking(move || crate::pipeline::sha256_file(&path))
        .await
        .map_err(|e| Error::Failed(format!("internal error: {e}")))?;
    let (sha, bytes) = match read {
        Ok(r) => r,
        Err(e) => {
            return Ok(Err(Unusable::FileUnreadable {
                error: Redacted::ours(e.to_string()),
            }))
        }
    };
    if let Err(u) = against_manifest(c, &sha, bytes) {
        return Ok(Err(u));
    }
    let recipients = c.manifest.as_ref().map(|m| m.encryption.recipients.clone());
    let at_hand = KeysAtHand::new(&keys, recipients, lost);
    let path = c.path.clone();
    let opened = tokio::task::spawn_blocking(move || {
        crate::pipeline::open_file(&path, &keys, None).map(|o| o.format)
    })
    .await
    .map_err(|e| Error::Failed(format!("internal error: {e}")))?;
    Ok(opened_or_unusable(opened, at_hand, sha, bytes))
}

/// The opening of a backup's layers, judged: unreadable, a layer's finding
/// (told with the keys at hand), or verified with `sha256` and `bytes`.
fn opened_or_unusable(
    opened: std::result::Result<crate::pipeline::DumpFormat, FileOpenError>,
    at_hand: KeysAtHand,
    sha256: String,
    bytes: u64,
) -> std::result::Result<Verified, Unusable> {
    match opened {
        Err(FileOpenError::Io(e)) => Err(Unusable::FileUnreadable {
            error: Redacted::ours(e.to_string()),
        }),
        Err(FileOpenError::Layers(e)) => Err(Unusable::from(e).knowing(at_hand)),
        Ok(format) => Ok(Verified {
            sha256,
            bytes,
            format,
        }),
    }
}

/// A remote backup before its download: its listed size against the
/// manifest's, then its layers opened on the first bytes of a stream (read
/// and dropped). Its SHA-256 is taken as the restore streams it, and judged
/// by `downloaded` once the stream has ended.
async fn verify_remote(
    c: &Candidate,
    keys: Arc<Vec<IdentitySource>>,
    lost: Vec<String>,
) -> Result<Result<Verified, Unusable>> {
    if let Some(m) = &c.manifest {
        if c.bytes != m.artifact.bytes {
            return Ok(Err(Unusable::SizeMismatch {
                on_disk: c.bytes,
                manifest: m.artifact.bytes,
            }));
        }
    }
    let recipients = c.manifest.as_ref().map(|m| m.encryption.recipients.clone());
    let at_hand = KeysAtHand::new(&keys, recipients, lost);
    let origin = c.origin.clone();
    let opened = tokio::task::spawn_blocking(move || {
        crate::pipeline::open_head(&origin, &keys, HEAD).map(|o| o.format)
    })
    .await
    .map_err(|e| Error::Failed(format!("internal error: {e}")))?;
    if let Some(broke) = broke(c) {
        return Err(broke);
    }
    let claimed = c.manifest.as_ref().map(|m| m.artifact.sha256.clone());
    Ok(opened_or_unusable(
        opened,
        at_hand,
        claimed.unwrap_or_default(),
        c.bytes,
    ))
}

/// What is read of a remote backup to open its layers: a few of age's 64 KiB
/// chunks, far more than its header and the dump's first bytes need.
const HEAD: u64 = 256 << 10;

/// A download that broke is the network's failure, not the backup's: the
/// drill ends as an environment error saying where it broke.
fn broke(c: &Candidate) -> Option<Error> {
    match c.origin.seen()?.end()? {
        crate::catalog::origin::End::Broke(b) => Some(Error::Environment(format!(
            "{b}. Check the network to the {}, then run the drill again",
            c.origin.kind().word()
        ))),
        _ => None,
    }
}

/// A remote backup's restore, judged on what its stream saw: when it was
/// read to its end, its size and SHA-256 must be the manifest's. Returns the
/// outcome and the SHA-256 to record (the stream's own, for a remote backup).
fn downloaded(
    c: &Candidate,
    restored: std::result::Result<Restored, Unusable>,
    sha256: String,
) -> Result<(std::result::Result<Restored, Unusable>, String)> {
    use crate::catalog::origin::End;
    if let Some(e) = broke(c) {
        return Err(e);
    }
    let Some(End::Complete { sha256: got, bytes }) = c.origin.seen().and_then(|s| s.end()) else {
        return Ok((restored, sha256));
    };
    match against_manifest(c, &got, bytes) {
        Err(u) => Ok((Err(u), got)),
        Ok(()) => Ok((restored, got)),
    }
}

/// A candidate that matched its manifest and opened with the keys given.
pub struct Verified {
    pub sha256: String,
    /// The file's size, as read for its SHA-256.
    pub bytes: u64,
    pub format: crate::pipeline::DumpFormat,
}

/// The file's size and SHA-256 against its manifest's; a backup without a
/// manifest has nothing to compare here.
pub fn against_manifest(c: &Candidate, sha: &str, bytes: u64) -> Result<(), Unusable> {
    let Some(m) = &c.manifest else { return Ok(()) };
    if bytes != m.artifact.bytes {
        return Err(Unusable::SizeMismatch {
            on_disk: bytes,
            manifest: m.artifact.bytes,
        });
    }
    if sha != m.artifact.sha256 {
        return Err(Unusable::ShaMismatch {
            on_disk: sha.to_string(),
            manifest: m.artifact.sha256.clone(),
        });
    }
    Ok(())
}
