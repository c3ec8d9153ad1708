//! A bucket's reach, measured: versioning, the object-lock default, each
//! backup object's retention (read with the drill's credentials), then a
//! scratch object written under the same lock mode with a retention of a few
//! seconds, which the production credentials try to delete by version with
//! governance bypass, as ransomware holding them would. Once its retention
//! has passed, the scratch object is removed.

use super::{LockRule, Probe, Retention};
use crate::catalog::s3::{attempt, bounded, Bucket, S3Failure, S3Settings, Signer};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{BucketVersioningStatus, ObjectLockMode};
use std::time::Duration;

/// How long the scratch object is held: long enough for the delete to be
/// tried inside it, short enough to be removed before the drill ends.
const HOLD: Duration = Duration::from_secs(4);
/// Backup objects whose retention is read (newest first).
const RETENTION_READS: usize = 10;

#[derive(Debug, Default)]
pub struct Facts {
    pub versioning: Option<bool>,
    pub object_lock: Option<LockRule>,
    pub retention: Vec<Retention>,
}

pub async fn measure(
    s: &S3Settings,
    bucket: &str,
    prefix: &str,
    run: &str,
) -> (Facts, Probe, Option<&'static str>) {
    let drill = match Bucket::open(s, bucket, prefix, Signer::Drill) {
        Ok(b) => b,
        Err(e) => return (Facts::default(), unknown(e), None),
    };
    let facts = facts(&drill).await;
    let (writer, tried_as) = match &s.production_credentials_file {
        Some(_) => match Bucket::open(s, bucket, prefix, Signer::Production) {
            Ok(b) => (b, "production"),
            Err(e) => return (facts, unknown(e), None),
        },
        None => (drill.clone(), "drill"),
    };
    let probe = probe(&writer, &facts, run, tried_as).await;
    (facts, probe, Some(tried_as))
}

fn unknown(e: crate::Error) -> Probe {
    Probe::Unknown { why: e.to_string() }
}

async fn facts(b: &Bucket) -> Facts {
    let versioning = bounded(
        b.client.get_bucket_versioning().bucket(&b.bucket).send(),
        "reading the versioning of",
        b,
    )
    .await
    .ok()
    .map(|v| v.status() == Some(&BucketVersioningStatus::Enabled));
    let lock = attempt(
        b.client
            .get_object_lock_configuration()
            .bucket(&b.bucket)
            .send(),
    )
    .await;
    let object_lock = match lock {
        Ok(l) => l.object_lock_configuration().map(|c| {
            let d = c.rule().and_then(|r| r.default_retention());
            LockRule {
                mode: d.and_then(|d| d.mode()).map(|m| m.as_str().to_string()),
                days: d.and_then(|d| d.days()),
                years: d.and_then(|d| d.years()),
            }
        }),
        Err(_) => None,
    };
    Facts {
        versioning,
        object_lock,
        retention: retention(b).await,
    }
}

/// Each backup object's lock, from its headers (newest names first).
async fn retention(b: &Bucket) -> Vec<Retention> {
    let Ok(mut objects) = b.list().await else {
        return Vec::new();
    };
    objects.retain(|o| {
        let name = o.key.rsplit('/').next().unwrap_or("");
        !name.starts_with('.') && !name.ends_with(crate::catalog::manifest::SUFFIX)
    });
    objects.sort_by(|x, y| y.key.cmp(&x.key));
    let mut out = Vec::new();
    for o in objects.into_iter().take(RETENTION_READS) {
        let head = b.client.head_object().bucket(&b.bucket).key(&o.key);
        let Ok(h) = bounded(head.send(), "reading the retention of", b).await else {
            continue;
        };
        out.push(Retention {
            object: b.object_url(&o.key),
            mode: h.object_lock_mode().map(|m| m.as_str().to_string()),
            until: h
                .object_lock_retain_until_date()
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0)),
            legal_hold: h
                .object_lock_legal_hold_status()
                .is_some_and(|s| s.as_str() == "ON"),
        });
    }
    out
}

/// Writes the scratch object, tries to destroy it as `writer`, removes it.
async fn probe(writer: &Bucket, facts: &Facts, run: &str, tried_as: &str) -> Probe {
    let key = writer.key(&format!(".restore-drill-probe-{run}"));
    let mode = lock_mode(facts);
    let mut put = writer
        .client
        .put_object()
        .bucket(&writer.bucket)
        .key(&key)
        .body(ByteStream::from_static(b"restore-drill protection probe\n"));
    if let Some(m) = &mode {
        let until = chrono::Utc::now() + HOLD;
        put = put
            .object_lock_mode(m.clone())
            .object_lock_retain_until_date(DateTime::from_secs(until.timestamp()));
    }
    let version = match attempt(put.send()).await {
        Ok(p) => p.version_id().map(str::to_string),
        Err(f) => return not_written(f, tried_as),
    };
    let probe = try_delete(writer, &key, version.as_deref()).await;
    if matches!(probe, Probe::Refused { .. }) {
        tokio::time::sleep(HOLD + Duration::from_secs(1)).await;
        let _ = try_delete(writer, &key, version.as_deref()).await;
    }
    probe
}

/// The scratch object could not be written: with the drill's own
/// (read-only, as they should be) credentials that is no finding; with the
/// production ones it says they are not the backup job's.
fn not_written(f: S3Failure, tried_as: &str) -> Probe {
    match (f, tried_as) {
        (S3Failure::Denied, "drill") => Probe::NotTried {
            why: "no production credentials named ([backups.s3] production_credentials_file), and the drill's own may not write (as they should not)".into(),
        },
        (S3Failure::Denied, _) => Probe::Unknown {
            why: "the production credentials may not write a scratch object (AccessDenied): they do not look like the backup job's".into(),
        },
        (other, _) => Probe::Unknown {
            why: format!("writing the scratch object failed: {other:?}"),
        },
    }
}

/// The lock a new object gets: the bucket's default mode, else the mode
/// the newest backup carries.
fn lock_mode(facts: &Facts) -> Option<ObjectLockMode> {
    let mode = facts
        .object_lock
        .as_ref()
        .and_then(|l| l.mode.clone())
        .or_else(|| facts.retention.first().and_then(|r| r.mode.clone()))?;
    Some(ObjectLockMode::from(mode.as_str()))
}

/// Deletes the scratch version as ransomware would (bypassing governance),
/// then looks whether it is really gone.
async fn try_delete(b: &Bucket, key: &str, version: Option<&str>) -> Probe {
    let del = b
        .client
        .delete_object()
        .bucket(&b.bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .bypass_governance_retention(true);
    let what = match version {
        Some(_) => "deleting the scratch object's version (with governance bypass)",
        None => "deleting the scratch object",
    };
    match attempt(del.send()).await {
        Err(S3Failure::Stuck) => Probe::Unknown {
            why: format!("{what}: no answer in time"),
        },
        Err(S3Failure::Denied) => Probe::Refused {
            what: format!("{what} was refused (AccessDenied)"),
        },
        Err(other) => Probe::Unknown {
            why: format!("{what} failed: {other:?}"),
        },
        Ok(_) => still_there(b, key, version, what).await,
    }
}

async fn still_there(b: &Bucket, key: &str, version: Option<&str>, what: &str) -> Probe {
    let head = b
        .client
        .head_object()
        .bucket(&b.bucket)
        .key(key)
        .set_version_id(version.map(str::to_string));
    match attempt(head.send()).await {
        Ok(_) => Probe::Refused {
            what: format!("{what} answered, and the object is still there"),
        },
        Err(S3Failure::NoObject) => Probe::Deleted {
            what: format!("{what} succeeded: the object is gone"),
        },
        _ => Probe::Unknown {
            why: format!("{what} answered, and whether the object is gone could not be read"),
        },
    }
}
