//! The pack's signed list of files (`evidence-….manifest.json`): each file's
//! name, size and SHA-256, written when the pack is made and signed with it.
//! Each file's own signature proves that file; only the list proves the pack
//! is whole, so that a deleted PDF (with its signature) or an unsigned file
//! added to the folder is found by `evidence verify`.

use serde::{Deserialize, Serialize};

/// 1: the first list format.
pub const MANIFEST_VERSION: u32 = 1;
/// `evidence-STEM` + this: the list's own name.
pub const SUFFIX: &str = ".manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    /// The pack's name stem (`evidence-SITE-SINCE-to-UNTIL`).
    pub pack: String,
    pub files: Vec<Listed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// A file name in the pack's folder, no directory.
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn new(pack: &str, files: &[(String, Vec<u8>)]) -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION,
            pack: pack.to_string(),
            files: files
                .iter()
                .map(|(name, bytes)| Listed {
                    name: name.clone(),
                    bytes: bytes.len() as u64,
                    sha256: crate::ledger::chain::sha256_hex(bytes),
                })
                .collect(),
        }
    }
}

/// A file of the folder as found: its name and, for a regular file, its
/// SHA-256 (None for anything else, such as a folder).
pub struct Present {
    pub name: String,
    pub sha256: Option<String>,
}

/// What is wrong with a folder against its lists: every listed file present
/// with its hash, and nothing else in the folder but the lists and the
/// signatures (`.minisig`) of listed files and lists. Signatures themselves
/// are checked by the caller.
pub fn judge(lists: &[(String, Manifest)], present: &[Present]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut allowed: Vec<String> = Vec::new();
    for (list_name, m) in lists {
        allowed.push(list_name.clone());
        for f in &m.files {
            allowed.push(f.name.clone());
            match present.iter().find(|p| p.name == f.name) {
                None => problems.push(format!(
                    "{} is listed in the signed list {list_name} but missing: the pack is incomplete",
                    f.name
                )),
                Some(p) if p.sha256.as_deref() != Some(f.sha256.as_str()) => problems.push(format!(
                    "{} does not match its SHA-256 in the signed list {list_name}: it was changed after the pack was made",
                    f.name
                )),
                Some(_) => {}
            }
        }
    }
    let signatures: Vec<String> = allowed.iter().map(|a| format!("{a}.minisig")).collect();
    for p in present {
        if !allowed.contains(&p.name) && !signatures.contains(&p.name) {
            problems.push(format!(
                "{} is not in any signed list of the folder: it was added after the pack was made (remove it, or keep it elsewhere)",
                p.name
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(name: &str, content: &[u8]) -> Present {
        Present {
            name: name.into(),
            sha256: Some(crate::ledger::chain::sha256_hex(content)),
        }
    }

    fn pack() -> (String, Manifest) {
        let files = [
            ("evidence-x.json".to_string(), b"{}".to_vec()),
            ("evidence-x.pdf".to_string(), b"%PDF".to_vec()),
        ];
        (
            "evidence-x.manifest.json".into(),
            Manifest::new("evidence-x", &files),
        )
    }

    fn whole() -> Vec<Present> {
        vec![
            present("evidence-x.json", b"{}"),
            present("evidence-x.json.minisig", b"s"),
            present("evidence-x.pdf", b"%PDF"),
            present("evidence-x.pdf.minisig", b"s"),
            present("evidence-x.manifest.json", b"m"),
            present("evidence-x.manifest.json.minisig", b"s"),
        ]
    }

    #[test]
    fn a_whole_pack_has_nothing_wrong() {
        assert_eq!(judge(&[pack()], &whole()), Vec::<String>::new());
    }

    #[test]
    fn a_missing_changed_or_added_file_is_each_named() {
        let mut p = whole();
        p.retain(|f| !f.name.starts_with("evidence-x.pdf"));
        p[0].sha256 = Some("0".repeat(64));
        p.push(present("notes.txt", b"x"));
        p.push(present("notes.txt.minisig", b"x"));
        let said = judge(&[pack()], &p);
        assert_eq!(said.len(), 4, "{said:#?}");
        assert!(
            said[0].starts_with("evidence-x.json does not match"),
            "{}",
            said[0]
        );
        assert!(
            said[1].starts_with("evidence-x.pdf is listed") && said[1].contains("missing"),
            "{}",
            said[1]
        );
        assert!(
            said[2].starts_with("notes.txt is not in any signed list"),
            "{}",
            said[2]
        );
        assert!(
            said[3].starts_with("notes.txt.minisig is not"),
            "{}",
            said[3]
        );
    }
}
