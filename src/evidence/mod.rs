//! Evidence packs: the verified drill history of a period, turned into what
//! an insurer or auditor reads (PDF), a page anyone can open (HTML) and the
//! JSON both are made from, each signed with minisign when a key is given.
//! Plan (period, key, output), act (read and verify the history, write), and
//! the judging in between is `build`'s and `questions`' pure functions.

pub mod build;
pub mod html;
pub mod pack;
pub mod pdf;
pub mod questions;
pub mod sign;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use build::Scope;
use chrono::{NaiveDate, Utc};
use pack::{Pack, Period};
use std::path::{Path, PathBuf};

/// What `restore-drill evidence` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub history: PathBuf,
    pub out: PathBuf,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub site: Option<String>,
    pub signing_key: Option<PathBuf>,
}

/// A pack on disk.
#[derive(Debug)]
pub struct Made {
    pub pack: Pack,
    pub files: Vec<PathBuf>,
    pub signatures: Vec<PathBuf>,
}

/// The period asked for: by default the twelve months up to today.
pub fn period(since: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<Period> {
    let until = until.unwrap_or_else(|| Utc::now().date_naive());
    let since = since.unwrap_or_else(|| build::default_since(until));
    if since > until {
        return Err(Error::Usage(format!(
            "--since {since} is after --until {until}: the period would be empty"
        )));
    }
    Ok(Period { since, until })
}

/// Makes the pack. Everything that can be refused (period, key, output
/// directory, a tampered history) is refused before a file is written.
pub async fn make(req: &Request) -> Result<Made> {
    let period = period(req.since, req.until)?;
    let key = req
        .signing_key
        .as_deref()
        .map(sign::load_secret)
        .transpose()?;
    prepare_out(&req.out)?;
    let mut ledger = Ledger::open(&req.history).await?;
    let (head, records) = ledger.verified().await?.into_intact(&req.history)?;
    let scope = Scope {
        period,
        site: req.site.clone(),
    };
    let mut pack = build::build(&records, &head, &scope, Utc::now());
    let stem = stem(&pack);
    pack.how_to_verify = how_to_verify(&stem, key.is_some());
    let json = serde_json::to_vec_pretty(&pack)
        .map_err(|e| Error::Failed(format!("cannot serialise the evidence pack: {e}")))?;
    let contents = [
        (format!("{stem}.json"), json),
        (format!("{stem}.html"), html::render(&pack).into_bytes()),
        (format!("{stem}.pdf"), pdf::render(&pack)?),
    ];
    refuse_existing(&req.out, &contents)?;
    let mut files = Vec::new();
    for (name, bytes) in &contents {
        files.push(crate::catalog::atomic::write_file(&req.out, name, bytes)?);
    }
    let mut signatures = Vec::new();
    if let Some(key) = &key {
        let comment = trusted_comment(&pack);
        for f in &files {
            signatures.push(sign::sign_file(key, f, &comment)?);
        }
    }
    Ok(Made {
        pack,
        files,
        signatures,
    })
}

/// `evidence-SITE-SINCE-to-UNTIL`: one pack per period and site in a folder.
pub fn stem(pack: &Pack) -> String {
    let site = match pack.sites.as_slice() {
        [one] => format!("{}-", slug(one)),
        _ => String::new(),
    };
    format!(
        "evidence-{site}{}-to-{}",
        pack.period.since, pack.period.until
    )
}

/// Lower-case letters, digits and single dashes: a name fit for a file or a
/// unit (`Main Street Eye Care` -> `main-street-eye-care`).
pub(crate) fn slug(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    cleaned
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn trusted_comment(pack: &Pack) -> String {
    format!(
        "restore-drill evidence pack {} to {}, history head record {} {}",
        pack.period.since,
        pack.period.until,
        pack.ledger.head_id.unwrap_or(0),
        pack.ledger.head_hash
    )
}

fn how_to_verify(stem: &str, signed: bool) -> Vec<String> {
    let mut v = Vec::new();
    if signed {
        v.push(format!(
            "Each file is signed. With the clinic's public key (KEY.pub): minisign -V -p KEY.pub -m {stem}.pdf (and the same for {stem}.html and {stem}.json), or all at once: restore-drill evidence verify DIR --public-key KEY.pub"
        ));
    } else {
        v.push("This pack is not signed: it was made without --signing-key, so its files can be checked against the history but not against a key.".into());
    }
    v.push(format!(
        "On the machine that keeps the drill history: restore-drill history verify --against {stem}.json checks that the history is intact and still holds the head record this pack names (nothing was cut off or rewritten since)."
    ));
    v.push("Each drill's report file hashes (sha256sum) to the report SHA-256 its history record holds; restore-drill history show ID prints both.".into());
    v
}

/// The output directory exists (it is created) and takes files.
fn prepare_out(out: &Path) -> Result<()> {
    crate::catalog::atomic::create_dir(
        out,
        crate::catalog::atomic::DirMode::Shared,
        "evidence directory",
        "--out",
    )?;
    let probe = tempfile::Builder::new()
        .prefix(".restore-drill-probe")
        .tempfile_in(out)
        .map_err(|e| Error::io("write into the evidence directory", out, e))?;
    drop(probe);
    Ok(())
}

/// A pack is evidence: an existing one is never replaced.
fn refuse_existing(out: &Path, contents: &[(String, Vec<u8>)]) -> Result<()> {
    for (name, _) in contents {
        let p = out.join(name);
        if p.exists() {
            return Err(Error::Usage(format!(
                "{} already exists: an evidence pack is never overwritten. Choose another --out directory, or move the old pack away",
                p.display()
            )));
        }
    }
    Ok(())
}

/// The files of the packs in a directory, each checked against its signature.
pub fn verify_dir(dir: &Path, public_key: &Path) -> Result<Vec<PathBuf>> {
    let pk = sign::load_public(public_key)?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("read the evidence directory", dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_pack_file(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no evidence pack (evidence-*.json, .html, .pdf): name the directory restore-drill evidence --out wrote",
            dir.display()
        )));
    }
    for f in &files {
        sign::verify_file(&pk, f)?;
    }
    Ok(files)
}

fn is_pack_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.starts_with("evidence-") && [".json", ".html", ".pdf"].iter().any(|e| name.ends_with(e))
}

/// Reads a pack's JSON (for `history verify --against`).
pub fn read_pack(path: &Path) -> Result<Pack> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("read the evidence pack", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{} is not an evidence pack's JSON ({e}): name the evidence-*.json file of a pack",
            path.display()
        ))
    })
}
