//! Where backups are kept, as a scenario or `--backups` names it: a folder, an
//! S3-compatible bucket (`s3://BUCKET/PREFIX`) or a restic repository
//! (`restic:REPO`, the repository spelt as restic spells it).

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Folder(PathBuf),
    S3 { bucket: String, prefix: String },
    Restic(String),
}

/// A place's kind, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    Folder,
    S3,
    Restic,
}

impl PlaceKind {
    pub fn word(self) -> &'static str {
        match self {
            PlaceKind::Folder => "folder",
            PlaceKind::S3 => "S3 bucket",
            PlaceKind::Restic => "restic repository",
        }
    }
}

impl Place {
    /// Reads a location as written; a relative folder is resolved by
    /// `resolve` (against the scenario's folder, or the working directory).
    pub fn parse(text: &str, resolve: impl Fn(&str) -> PathBuf) -> Result<Place, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket)?;
            let prefix = prefix.trim_end_matches('/').to_string();
            return Ok(Place::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(repo) = text.strip_prefix("restic:") {
            if repo.is_empty() {
                return Err("restic: needs a repository, such as restic:/srv/restic-repo, restic:rest:http://nas:8000/clinic or restic:s3:https://host/bucket/path".into());
            }
            return Ok(Place::Restic(repo.to_string()));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            if !scheme.contains('/') {
                return Err(format!(
                    "{scheme}:// is not a backup location this tool reads: give a folder, s3://BUCKET/PREFIX or restic:REPO"
                ));
            }
        }
        Ok(Place::Folder(resolve(text)))
    }

    pub fn kind(&self) -> PlaceKind {
        match self {
            Place::Folder(_) => PlaceKind::Folder,
            Place::S3 { .. } => PlaceKind::S3,
            Place::Restic(_) => PlaceKind::Restic,
        }
    }

    pub fn folder(&self) -> Option<&Path> {
        match self {
            Place::Folder(p) => Some(p),
            _ => None,
        }
    }

    /// The object key of `name` under an S3 place's prefix.
    pub fn key_of(prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Folder(p) => write!(f, "{}", p.display()),
            Place::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Place::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Place::Restic(repo) => write!(f, "restic:{}", shown_repo(repo)),
        }
    }
}

/// A repository as messages and reports show it: a password in a URL
/// (`rest:https://user:PASSWORD@nas:8000/clinic`, as restic allows) masked.
pub fn shown_repo(repo: &str) -> String {
    let Some((scheme, rest)) = repo.split_once("://") else {
        return repo.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or("");
            format!("{scheme}://{name}:***@{host}{}", &rest[host_end..])
        }
        _ => repo.to_string(),
    }
}

/// Bucket names as S3 allows them (3 to 63 lowercase letters, digits, dots
/// and hyphens): a typo here would otherwise come back as the server's
/// "bucket not found" after a network round trip.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid bucket name {bucket:?} in s3://{bucket}: 3 to 63 lowercase letters, digits, '.' or '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Place, String> {
        Place::parse(t, |p| Path::new("/scen").join(p))
    }

    #[test]
    fn reads_each_kind() {
        assert_eq!(
            parse("s3://clinic-backups/nightly/").expect("s3"),
            Place::S3 {
                bucket: "clinic-backups".into(),
                prefix: "nightly".into()
            }
        );
        assert_eq!(
            parse("s3://clinic-backups").expect("s3").to_string(),
            "s3://clinic-backups"
        );
        assert_eq!(
            parse("restic:rest:http://nas:8000/c").expect("restic"),
            Place::Restic("rest:http://nas:8000/c".into())
        );
        assert_eq!(
            parse("backups").expect("folder"),
            Place::Folder("/scen/backups".into())
        );
    }

    #[test]
    fn a_password_in_a_repository_url_is_never_shown() {
        let p = parse("restic:rest:https://clinic:s3cret@nas:8000/backups").expect("restic");
        assert_eq!(
            p.to_string(),
            "restic:rest:https://clinic:***@nas:8000/backups"
        );
        assert_eq!(shown_repo("/srv/restic"), "/srv/restic");
        assert_eq!(
            shown_repo("rest:http://nas:8000/x@y"),
            "rest:http://nas:8000/x@y"
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse("s3://Clinic_Backups/x")
            .expect_err("refused")
            .contains("invalid bucket name"));
        assert!(parse("restic:")
            .expect_err("refused")
            .contains("needs a repository"));
        assert!(parse("gs://bucket/x")
            .expect_err("refused")
            .contains("gs:// is not a backup location"));
    }
}
