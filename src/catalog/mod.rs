//! Backups at rest: file names, the manifest beside each backup, and writing
//! both so that a file under a final name is always complete.

pub mod atomic;
pub mod list;
pub mod manifest;
pub mod origin;
pub mod place;
pub mod restic;
pub mod s3;
pub mod ship;
pub mod upload;

pub use manifest::Manifest;

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};

/// `NAME-YYYYMMDDTHHMMSSZ.dump.zst.age`: sorts by time, says its layers.
pub fn artifact_name(name: &str, at: DateTime<Utc>) -> String {
    format!("{name}-{}.dump.zst.age", at.format("%Y%m%dT%H%M%SZ"))
}

/// The manifest sits beside its backup under the backup's name plus a suffix,
/// so hand-named backups can have one too.
pub fn manifest_name(artifact: &str) -> String {
    format!("{artifact}{}", manifest::SUFFIX)
}

/// A backup name must be a plain file-name stem: no path separators, no
/// leading dot (hidden files are where temporaries live).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || name.contains('/')
        || name.contains('\0')
        || name.len() > 100
    {
        return Err(format!(
            "invalid backup name {name:?}: use letters, digits, '-' or '_' (no '/', not starting with '.')"
        ));
    }
    Ok(())
}

/// A backup location the drill reads: a name for reports ("primary",
/// "offsite") and where it is.
#[derive(Debug, Clone)]
pub struct Location {
    pub name: String,
    pub place: place::Place,
}

/// How to reach remote locations: `[backups.s3]` and `[backups.restic]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub s3: s3::S3Settings,
    pub restic: restic::ResticSettings,
}

/// What a location holds, whatever its kind: a folder is read on a
/// blocking thread, a bucket or repository listed over the network.
pub async fn scan(
    place: &place::Place,
    reach: &Reach,
    prefix: Option<&str>,
) -> Result<list::Scanned> {
    let keep = |name: &str| list::in_view(name, prefix);
    match place {
        place::Place::Folder(dir) => {
            let (dir, prefix) = (dir.clone(), prefix.map(str::to_string));
            tokio::task::spawn_blocking(move || list::scan_all(&dir, prefix.as_deref()))
                .await
                .map_err(|e| Error::Failed(format!("internal error: {e}")))?
        }
        place::Place::S3 { bucket, prefix: p } => {
            let b = std::sync::Arc::new(s3::Bucket::open(&reach.s3, bucket, p, s3::Signer::Drill)?);
            let listing = b
                .list()
                .await?
                .into_iter()
                .filter_map(|o| object_listing(&b, o))
                .filter(|l| keep(&l.name))
                .collect();
            let read = |name: String| {
                let b = b.clone();
                async move {
                    let key = b.key(&name);
                    let bytes = b.read_small(&key, 1 << 20).await?;
                    Manifest::from_bytes(&bytes, &b.object_url(&key))
                }
            };
            Ok(list::remote_candidates(listing, &place.to_string(), read).await)
        }
        place::Place::Restic(repo) => {
            let r = std::sync::Arc::new(restic::Repo::new(repo, &reach.restic, &reach.s3)?);
            // Shared by every manifest read, not copied for each.
            let files = std::sync::Arc::new(r.files().await?);
            let listing: Vec<list::Listing> = files
                .iter()
                .filter(|f| keep(&f.name))
                .map(|f| restic_listing(&r, f))
                .collect();
            let read = |name: String| {
                let (r, files) = (r.clone(), files.clone());
                async move { restic_manifest(&r, &files, &name).await }
            };
            Ok(list::remote_candidates(listing, &place.to_string(), read).await)
        }
    }
}

fn object_listing(b: &std::sync::Arc<s3::Bucket>, o: s3::Object) -> Option<list::Listing> {
    let name = o.key.rsplit('/').next()?.to_string();
    Some(list::Listing {
        name,
        bytes: o.bytes,
        modified: o.modified,
        origin: origin::Origin::Object {
            bucket: b.clone(),
            key: o.key,
            bytes: o.bytes,
            seen: Default::default(),
        },
    })
}

fn restic_listing(r: &std::sync::Arc<restic::Repo>, f: &restic::Found) -> list::Listing {
    list::Listing {
        name: f.name.clone(),
        bytes: f.bytes,
        modified: f.time,
        origin: origin::Origin::Restic {
            repo: r.clone(),
            snapshot: f.snapshot.clone(),
            path: f.path.clone(),
            bytes: f.bytes,
            seen: Default::default(),
        },
    }
}

/// The newest snapshot's copy of a manifest, read whole (bounded).
async fn restic_manifest(
    r: &restic::Repo,
    files: &[restic::Found],
    name: &str,
) -> Result<Manifest> {
    let f = files.iter().find(|f| f.name == name).ok_or_else(|| {
        Error::Failed(format!(
            "{name} is not in {}",
            place::Place::Restic(r.repo.clone())
        ))
    })?;
    let repo = place::shown_repo(&r.repo);
    let (r, snap, path, bytes) = (r.clone(), f.snapshot.clone(), f.path.clone(), f.bytes);
    let bytes = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut out = Vec::new();
        r.dump(&snap, &path, bytes)?
            .take(1 << 20)
            .read_to_end(&mut out)?;
        Ok::<_, std::io::Error>(out)
    })
    .await
    .map_err(|e| Error::Failed(format!("internal error: {e}")))?
    .map_err(|e| Error::Failed(format!("cannot read {name} from restic:{repo}: {e}")))?;
    Manifest::from_bytes(&bytes, &format!("restic:{repo}/{name}"))
}
