//! Evidence packs: the verified drill history of a period, turned into what
//! an insurer or auditor reads (PDF), a page anyone can open (HTML) and the
//! JSON both are made from, each signed with minisign when a key is given.
//! Plan (period, key, output), act (read and verify the history, write), and
//! the judging in between is pure functions: `run` (what a recorded run
//! counts as), `build` (the pack) and `questions` (the answers).

pub mod build;
pub mod chart;
pub mod fleet;
mod four;
pub mod html;
pub mod manifest;
pub mod pack;
pub mod pdf;
pub mod questions;
pub mod run;
pub mod sign;
#[cfg(test)]
mod tests;
pub mod wording;

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
    /// One pack over every site the history holds.
    pub all_sites: bool,
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
    Ok(Period {
        since,
        until,
        records_from: None,
    })
}

/// Makes the pack. Everything that can be refused (period, key, output
/// directory, a tampered history) is refused before a file is written.
pub async fn make(req: &Request) -> Result<Made> {
    let period = period(req.since, req.until)?;
    if let Some(site) = &req.site {
        crate::plain_text::refuse_controls(
            "--site",
            site,
            "Give the site as the history names it (restore-drill history list)",
        )?;
    }
    let key = req
        .signing_key
        .as_deref()
        .map(sign::load_secret)
        .transpose()?;
    prepare_out(&req.out)?;
    let mut ledger = Ledger::open(&req.history).await?;
    let (head, records) = ledger.verified().await?.into_intact(&req.history)?;
    let site = build::choose_site(&records, req.site.as_deref(), req.all_sites)
        .map_err(|refusal| Error::Usage(refusal.message(&req.history)))?;
    let first = build::first_record(&records, site.as_deref());
    let scope = Scope {
        period: build::honest_period(period, req.since.is_some(), first),
        site,
    };
    let mut pack = build::build(&records, &head, &scope, Utc::now());
    let stem = stem(&pack);
    pack.how_to_verify = how_to_verify(&stem, key.is_some());
    let json = serde_json::to_vec_pretty(&pack)
        .map_err(|e| Error::Failed(format!("cannot serialise the evidence pack: {e}")))?;
    let contents = vec![
        (format!("{stem}.json"), json),
        (format!("{stem}.html"), html::render(&pack).into_bytes()),
        (format!("{stem}.pdf"), pdf::render(&pack)?),
    ];
    let comment = trusted_comment(&pack);
    let (files, signatures) = write_pack(&req.out, &stem, contents, key.as_ref(), &comment)?;
    Ok(Made {
        pack,
        files,
        signatures,
    })
}

/// Writes the pack's files and, last, the list of them with their hashes;
/// with a key, signs each and the list. Nothing is written when any of the
/// names exists.
pub(crate) fn write_pack(
    out: &Path,
    stem: &str,
    mut contents: Vec<(String, Vec<u8>)>,
    key: Option<&sign::SigningKey>,
    comment: &str,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let list = manifest::Manifest::new(stem, &contents);
    let list_json = serde_json::to_vec_pretty(&list)
        .map_err(|e| Error::Failed(format!("cannot serialise the pack's list of files: {e}")))?;
    contents.push((format!("{stem}{}", manifest::SUFFIX), list_json));
    refuse_existing(out, &contents)?;
    let mut files = Vec::new();
    for (name, bytes) in &contents {
        files.push(crate::catalog::atomic::write_file(out, name, bytes)?);
    }
    let mut signatures = Vec::new();
    if let Some(key) = key {
        for f in &files {
            signatures.push(sign::sign_file(key, f, comment)?);
        }
    }
    Ok((files, signatures))
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

fn how_to_verify(stem: &str, signed: bool) -> Vec<pack::VerifyStep> {
    let step = |say: String, command: Option<String>| pack::VerifyStep { say, command };
    let mut v = Vec::new();
    if signed {
        v.push(step(
            format!(
                "Each file is signed, and so is the list of the pack's files with their SHA-256 ({stem}{}). With the clinic's public key (KEY.pub), all at once, a missing or added file included:",
                manifest::SUFFIX
            ),
            Some("restore-drill evidence verify DIR --public-key KEY.pub".into()),
        ));
        v.push(step(
            "Or one file at a time with minisign (the same for the HTML, the JSON and the list):"
                .into(),
            Some(format!("minisign -V -p KEY.pub -m {stem}.pdf")),
        ));
    } else {
        v.push(step("This pack is not signed: it was made without --signing-key, so its files can be checked against the history but not against a key.".into(), None));
    }
    v.push(step(
        "On the machine that keeps the drill history, this checks that the history is intact and still holds the head record this pack names (nothing was cut off or rewritten since):".into(),
        Some(format!("restore-drill history verify --against {stem}.json")),
    ));
    v.push(step(
        "Each drill's report file hashes (sha256sum) to the report SHA-256 its history record holds; this prints both:".into(),
        Some("restore-drill history show ID".into()),
    ));
    v
}

/// The output directory exists (it is created) and takes files.
pub(crate) fn prepare_out(out: &Path) -> Result<()> {
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

/// The files of the packs in a directory: each pack's signed list checked
/// against its signature, every listed file present with its hash and its
/// own signature, and nothing in the folder that no signed list names.
/// Returns the pack files verified.
pub fn verify_dir(dir: &Path, public_key: &Path) -> Result<Vec<PathBuf>> {
    let pk = sign::load_public(public_key)?;
    let present = folder(dir)?;
    let list_names: Vec<&str> = present
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| n.starts_with("evidence-") && n.ends_with(manifest::SUFFIX))
        .collect();
    if list_names.is_empty() {
        return Err(no_list(dir, &present));
    }
    let mut problems = Vec::new();
    let mut lists = Vec::new();
    for name in list_names {
        match read_list(&pk, &dir.join(name)) {
            Ok(m) => lists.push((name.to_string(), m)),
            Err(e) => problems.push(e.to_string()),
        }
    }
    problems.extend(manifest::judge(&lists, &present));
    let mut files: Vec<PathBuf> = lists
        .iter()
        .flat_map(|(_, m)| m.files.iter().map(|f| dir.join(&f.name)))
        .filter(|f| f.is_file())
        .collect();
    files.sort();
    for f in &files {
        if let Err(e) = sign::verify_file(&pk, f) {
            problems.push(e.to_string());
        }
    }
    if !problems.is_empty() {
        return Err(Error::Failed(format!(
            "the evidence in {} is not whole or not as signed: {}. It cannot be trusted as evidence as it is; ask the clinic for the pack again",
            dir.display(),
            problems.join("; ")
        )));
    }
    Ok(files)
}

/// Every entry of the folder, with the SHA-256 of each regular file.
fn folder(dir: &Path) -> Result<Vec<manifest::Present>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("read the evidence directory", dir, e))?;
    let mut present = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io("read the evidence directory", dir, e))?;
        let path = e.path();
        let sha256 = if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
            Some(crate::ledger::chain::sha256_hex(&bytes))
        } else {
            None
        };
        let name = e.file_name().to_string_lossy().into_owned();
        present.push(manifest::Present { name, sha256 });
    }
    present.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(present)
}

/// A list is trusted only once its signature is.
fn read_list(pk: &sign::PublicKey, path: &Path) -> Result<manifest::Manifest> {
    sign::verify_file(pk, path)?;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Failed(format!(
            "{} is signed but is not a list of a pack's files ({e})",
            path.display()
        ))
    })
}

/// A folder without a signed list: no pack at all, or one whose wholeness
/// cannot be shown.
fn no_list(dir: &Path, present: &[manifest::Present]) -> Error {
    if !present.iter().any(|p| is_pack_file(&p.name)) {
        return Error::Usage(format!(
            "{} holds no evidence pack (evidence-*.json, .html, .pdf): name the directory restore-drill evidence --out wrote",
            dir.display()
        ));
    }
    Error::Failed(format!(
        "{} holds no signed list of the pack's files (evidence-*{}): a missing or added file cannot be found without it. A pack made by an older restore-drill has none: check each file with minisign -V, or make the pack again",
        dir.display(),
        manifest::SUFFIX
    ))
}

fn is_pack_file(name: &str) -> bool {
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
