//! A sealed backup sent where it is kept: a bucket (one object beside its
//! manifest, as in a folder) or a restic repository (`restic backup
//! --stdin`, one snapshot each). The manifest goes last, so a listing never
//! shows a manifest whose backup is missing.

use super::place::Place;
use super::s3::{Bucket, Signer};
use super::upload;
use super::Reach;
use crate::error::{Error, Result};
use std::path::Path;

/// The largest object one PutObject takes; larger backups need a folder.
const MAX_OBJECT: u64 = 5 << 30;

/// Sends `files` (the backup, then its manifest) to `place`; returns where
/// each went.
pub async fn ship(place: &Place, reach: &Reach, files: &[&Path]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(match place {
            Place::Folder(_) => {
                return Err(Error::Failed(
                    "internal error: a folder is written in place".into(),
                ))
            }
            Place::S3 { bucket, prefix } => {
                let b = Bucket::open(&reach.s3, bucket, prefix, Signer::Drill)?;
                put(&b, &name, file).await?
            }
            Place::Restic(repo) => {
                let r = super::restic::Repo::new(repo, &reach.restic, &reach.s3)?;
                let (path, n) = (file.to_path_buf(), name.clone());
                tokio::task::spawn_blocking(move || {
                    let mut f =
                        std::fs::File::open(&path).map_err(|e| Error::io("read", &path, e))?;
                    r.store(&n, &mut f)
                })
                .await
                .map_err(|e| Error::Failed(format!("internal error: {e}")))??;
                format!("{place} ({name})")
            }
        });
    }
    Ok(out)
}

async fn put(b: &Bucket, name: &str, file: &Path) -> Result<String> {
    let bytes = std::fs::metadata(file)
        .map_err(|e| Error::io("read", file, e))?
        .len();
    if bytes > MAX_OBJECT {
        return Err(Error::Usage(format!(
            "{} is {bytes} bytes: one upload takes at most 5 GiB. Write the backup to a folder and copy it with the provider's own tool",
            file.display()
        )));
    }
    let progress = std::sync::Arc::new(upload::Progress::new(bytes));
    let body = upload::body(file, progress.clone()).await?;
    let key = b.key(name);
    let req = b.client.put_object().bucket(&b.bucket).key(&key).body(body);
    let send = req.customize().config_override(upload::unhurried()).send();
    upload::watched(send, &progress)
        .await
        .map_err(|f| f.into_error(b, "writing to"))?;
    Ok(b.object_url(&key))
}
