//! How far out of reach each backup location is, measured rather than
//! asked: what the clinic server's own credentials (or account) could do to
//! a copy there, tried on a scratch object or file the drill writes and
//! removes, never on a backup. The report's `protection` section; the
//! evidence pack's offline/segregated answer is judged from it.

mod folder;
mod s3;

use crate::catalog::place::{Place, PlaceKind};
use crate::catalog::Reach;
use serde::{Deserialize, Serialize};

/// One location's measured reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    /// "primary" or "offsite".
    pub location: String,
    /// The location as the scenario names it (a folder, s3://..., restic:...).
    pub place: String,
    pub kind: PlaceKind,
    /// S3: whether the bucket keeps every version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<bool>,
    /// S3: the bucket's object-lock default, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<LockRule>,
    /// S3: each backup object's retention, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retention: Vec<Retention>,
    /// What the production credentials (or account) did to the scratch copy.
    pub probe: Probe,
    /// Whose credentials were tried: "production" (named in the scenario),
    /// "drill" (only the drill's own), or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tried_as: Option<String>,
    pub verdict: Segregation,
}

/// A bucket's default retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockRule {
    /// "COMPLIANCE" or "GOVERNANCE"; None: lock enabled with no default.
    pub mode: Option<String>,
    pub days: Option<i32>,
    pub years: Option<i32>,
}

/// One backup object's lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    pub object: String,
    pub mode: Option<String>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub legal_hold: bool,
}

/// What the scratch-copy probe found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Probe {
    /// The delete (or write) was refused: the copy is out of their reach.
    Refused { what: String },
    /// The scratch copy was deleted (or written): a backup there could be.
    Deleted { what: String },
    /// Not tried, and why.
    NotTried { why: String },
    /// Tried, and the answer says nothing either way.
    Unknown { why: String },
}

/// The judgement: can whoever holds the clinic's server destroy this copy?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Segregation {
    /// The production credentials could not delete it: segregated.
    OutOfReach,
    /// They could: not segregated.
    InReach,
    /// Not measured, or not by the production credentials.
    Unknown,
}

/// Only a refusal to the production credentials shows segregation; a
/// deletion by any credentials shows the copy is in their reach.
pub fn judge(probe: &Probe, tried_as: Option<&str>) -> Segregation {
    match (probe, tried_as) {
        (Probe::Refused { .. }, Some("production")) => Segregation::OutOfReach,
        (Probe::Deleted { .. }, Some("production")) => Segregation::InReach,
        _ => Segregation::Unknown,
    }
}

/// Measures every location that can be: a bucket always, a folder (or a
/// restic repository in a folder) when the scenario names the production
/// user. `backups` are each location's backup object keys, newest first.
pub async fn measure(
    locations: &[crate::catalog::Location],
    reach: &Reach,
    production_user: Option<&str>,
    run: &str,
) -> Vec<Protection> {
    let mut out = Vec::new();
    for loc in locations {
        let (facts, probe, tried_as) = match &loc.place {
            Place::S3 { bucket, prefix } => s3::measure(&reach.s3, bucket, prefix, run).await,
            Place::Folder(dir) => match production_user {
                Some(user) => folder::measure(dir, user).await,
                None => continue,
            },
            Place::Restic(repo) => match (production_user, Place::parse(repo, |p| std::path::PathBuf::from(p))) {
                (Some(user), Ok(Place::Folder(dir))) => folder::measure(&dir, user).await,
                _ => (
                    s3::Facts::default(),
                    Probe::NotTried {
                        why: "the reach of a restic repository is measured only in a folder with production_user named; an append-only rest-server is not probed".into(),
                    },
                    None,
                ),
            },
        };
        let verdict = judge(&probe, tried_as);
        out.push(Protection {
            location: loc.name.clone(),
            place: loc.place.to_string(),
            kind: loc.place.kind(),
            versioning: facts.versioning,
            object_lock: facts.object_lock,
            retention: facts.retention,
            probe,
            tried_as: tried_as.map(str::to_string),
            verdict,
        });
    }
    out
}

impl Protection {
    /// One line for the run's summary.
    pub fn line(&self) -> String {
        let what = match &self.probe {
            Probe::Refused { what } | Probe::Deleted { what } => what.clone(),
            Probe::NotTried { why } | Probe::Unknown { why } => why.clone(),
        };
        let verdict = match self.verdict {
            Segregation::OutOfReach => "out of the production credentials' reach",
            Segregation::InReach => "IN the production credentials' reach",
            Segregation::Unknown => "reach not proven",
        };
        format!("{} ({}): {verdict}: {what}", self.location, self.place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_to_production_credentials_is_segregation() {
        let refused = Probe::Refused { what: "x".into() };
        let deleted = Probe::Deleted { what: "x".into() };
        assert_eq!(judge(&refused, Some("production")), Segregation::OutOfReach);
        assert_eq!(judge(&refused, Some("drill")), Segregation::Unknown);
        assert_eq!(judge(&deleted, Some("production")), Segregation::InReach);
        assert_eq!(judge(&deleted, Some("drill")), Segregation::Unknown);
        let unknown = Probe::Unknown { why: "x".into() };
        assert_eq!(judge(&unknown, Some("production")), Segregation::Unknown);
    }
}
