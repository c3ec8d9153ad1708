//! The hash chain, as pure functions: what a record's hash is, and whether a
//! sequence of stored records is intact. Anyone can recompute it with sqlite3
//! and sha256sum (the README shows how), so the tool is not the only judge.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row of the ledger as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub id: i64,
    pub recorded_at: String,
    pub site: String,
    pub tool: String,
    /// The report, byte for byte as written to the report file.
    pub report: String,
    pub report_sha256: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What a record's hash covers, one field per line: its id, time, site and
/// tool, its report's SHA-256, and the previous record's hash.
pub fn record_hash(
    id: i64,
    recorded_at: &str,
    site: &str,
    tool: &str,
    report_sha256: &str,
    prev: &str,
) -> String {
    let text = format!("{id}\n{recorded_at}\n{site}\n{tool}\n{report_sha256}\n{prev}\n");
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The newest record of an intact chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub records: u64,
    pub id: Option<i64>,
    pub hash: String,
}

/// A record named by its id and chain hash: the head of the chain as it
/// leaves the machine (in an alert, a metrics or JUnit file, the state
/// folder's marker), so that a history rewritten later no longer holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadRef {
    pub record: i64,
    pub hash: String,
}

impl Stored {
    pub fn head_ref(&self) -> HeadRef {
        HeadRef {
            record: self.id,
            hash: self.hash.clone(),
        }
    }
}

/// The first thing wrong in a chain, with the record it was found at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Broken {
    /// The report stored does not hash to the recorded SHA-256: it was edited.
    ReportChanged { id: i64 },
    /// The record's own fields do not hash to its recorded hash.
    RecordChanged { id: i64 },
    /// The record does not point at the one stored before it: records were
    /// deleted, inserted or reordered.
    LinkBroken { id: i64, previous: Option<i64> },
}

impl Broken {
    pub fn id(&self) -> i64 {
        match self {
            Broken::ReportChanged { id }
            | Broken::RecordChanged { id }
            | Broken::LinkBroken { id, .. } => *id,
        }
    }
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::ReportChanged { id } => write!(
                f,
                "record {id}: its report was changed after it was recorded (the content no longer matches its SHA-256)"
            ),
            Broken::RecordChanged { id } => write!(
                f,
                "record {id}: its fields (time, site, tool or hashes) were changed after it was recorded"
            ),
            Broken::LinkBroken { id, previous: Some(p) } => write!(
                f,
                "record {id}: it does not follow record {p} (records were deleted, inserted or reordered)"
            ),
            Broken::LinkBroken { id, previous: None } => write!(
                f,
                "record {id}: it is stored first but was not the first record (earlier records were deleted)"
            ),
        }
    }
}

/// Checks records in stored order (ascending id): each report against its
/// SHA-256, each record against its hash, each link against the record before.
pub fn verify(records: &[Stored]) -> Result<Head, Broken> {
    let mut prev: Option<&Stored> = None;
    for r in records {
        if sha256_hex(r.report.as_bytes()) != r.report_sha256 {
            return Err(Broken::ReportChanged { id: r.id });
        }
        let expect = record_hash(
            r.id,
            &r.recorded_at,
            &r.site,
            &r.tool,
            &r.report_sha256,
            &r.prev_hash,
        );
        if expect != r.hash {
            return Err(Broken::RecordChanged { id: r.id });
        }
        let want_prev = prev.map_or(GENESIS, |p| p.hash.as_str());
        let want_id = prev.map_or(1, |p| p.id + 1);
        if r.prev_hash != want_prev || r.id != want_id {
            return Err(Broken::LinkBroken {
                id: r.id,
                previous: prev.map(|p| p.id),
            });
        }
        prev = Some(r);
    }
    Ok(Head {
        records: records.len() as u64,
        id: prev.map(|p| p.id),
        hash: prev.map_or(GENESIS.to_string(), |p| p.hash.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Stored> {
        let mut out: Vec<Stored> = Vec::new();
        for id in 1..=n {
            let report = format!("{{\"verdict\": \"passed\", \"n\": {id}}}");
            let report_sha256 = sha256_hex(report.as_bytes());
            let prev_hash = out.last().map_or(GENESIS.to_string(), |p| p.hash.clone());
            let recorded_at = format!("2026-11-{id:02}T02:00:00Z");
            let hash = record_hash(id, &recorded_at, "clinic", "t", &report_sha256, &prev_hash);
            out.push(Stored {
                id,
                recorded_at,
                site: "clinic".into(),
                tool: "t".into(),
                report,
                report_sha256,
                prev_hash,
                hash,
            });
        }
        out
    }

    #[test]
    fn an_intact_chain_names_its_head() {
        let c = chain(4);
        let head = verify(&c).expect("intact");
        assert_eq!(head.records, 4);
        assert_eq!(head.id, Some(4));
        assert_eq!(head.hash, c[3].hash);
        assert_eq!(verify(&[]).expect("empty").hash, GENESIS);
    }

    #[test]
    fn an_edited_report_is_found_at_its_record() {
        let mut c = chain(4);
        c[2].report = c[2].report.replace("passed", "failed");
        assert_eq!(verify(&c), Err(Broken::ReportChanged { id: 3 }));
    }

    #[test]
    fn an_edited_report_with_its_hash_recomputed_breaks_the_record_hash() {
        let mut c = chain(4);
        c[1].report = c[1].report.replace("passed", "failed");
        c[1].report_sha256 = sha256_hex(c[1].report.as_bytes());
        assert_eq!(verify(&c), Err(Broken::RecordChanged { id: 2 }));
    }

    #[test]
    fn a_deleted_middle_record_breaks_the_next_link() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(
            verify(&c),
            Err(Broken::LinkBroken {
                id: 4,
                previous: Some(2)
            })
        );
    }

    #[test]
    fn two_swapped_records_are_found_at_the_first() {
        let mut c = chain(4);
        c.swap(1, 2);
        assert_eq!(
            verify(&c),
            Err(Broken::LinkBroken {
                id: 3,
                previous: Some(1)
            })
        );
    }

    #[test]
    fn a_deleted_first_record_is_found() {
        let mut c = chain(3);
        c.remove(0);
        assert_eq!(
            verify(&c),
            Err(Broken::LinkBroken {
                id: 2,
                previous: None
            })
        );
    }
}
