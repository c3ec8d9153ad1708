#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Backups made by hand with the real CLIs are first class: every layer is
//! recognised by its magic bytes, inspected, and restored. Files that are not
//! backups, and keys that don't fit, get a clear message and exit code.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a shell pipeline with PGURL, KEY_PUB and OUT set; fails the test if it fails.
fn sh(script: &str, url: &str, public: &str, out: &Path) {
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail; {script}"))
        .env("PGURL", url)
        .env("KEY_PUB", public)
        .env("OUT", out)
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

struct Case {
    file: &'static str,
    script: &'static str,
    layers: &'static str,
    encrypted: bool,
}

const CASES: [Case; 6] = [
    Case {
        file: "custom.zst.age",
        script: "pg_dump -Fc \"$PGURL\" | zstd -q | age -r \"$KEY_PUB\" > \"$OUT\"",
        layers: "age -> zstd -> pg_dump custom format",
        encrypted: true,
    },
    Case {
        file: "custom.zst.age.armored",
        script: "pg_dump -Fc \"$PGURL\" | zstd -q | age -a -r \"$KEY_PUB\" > \"$OUT\"",
        layers: "age (armored) -> zstd -> pg_dump custom format",
        encrypted: true,
    },
    Case {
        file: "plain.sql.gz.age",
        script: "pg_dump \"$PGURL\" | gzip | age -r \"$KEY_PUB\" > \"$OUT\"",
        layers: "age -> gzip -> PostgreSQL plain SQL",
        encrypted: true,
    },
    Case {
        file: "plain.sql.age",
        script: "pg_dump \"$PGURL\" | age -r \"$KEY_PUB\" > \"$OUT\"",
        layers: "age -> PostgreSQL plain SQL",
        encrypted: true,
    },
    Case {
        file: "custom.gz",
        script: "pg_dump -Fc \"$PGURL\" | gzip > \"$OUT\"",
        layers: "gzip -> pg_dump custom format",
        encrypted: false,
    },
    Case {
        // A misleading name: layers come from the bytes, not the file name.
        file: "backup.sql.zst",
        script: "pg_dump -Fc -Z0 \"$PGURL\" > \"$OUT\"",
        layers: "pg_dump custom format",
        encrypted: false,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_made_backups_are_inspected_and_restored() {
    let source = Source::start(PG15).await;
    restore_drill::workload::generate::load_clinic(
        &source.url(),
        60,
        5,
        chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .into(),
    )
    .await
    .unwrap();
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let key_arg = key.path.to_str().unwrap().to_string();
    for case in &CASES {
        let file: PathBuf = tmp.path().join(case.file);
        sh(case.script, &source.url(), &key.public, &file);
        let f = file.to_str().unwrap();

        let (code, out, err) = run(&["inspect", f, "--identity", &key_arg]);
        assert_eq!(code, 0, "{}: {err}", case.file);
        assert!(
            out.contains(&format!("layers: {}", case.layers)),
            "{}: {out}",
            case.file
        );
        if case.layers.ends_with("custom format") {
            assert!(
                out.contains("TABLE DATA       public.patients"),
                "{}: {out}",
                case.file
            );
        } else {
            assert!(
                out.contains("tables created: public.patients") || out.contains("public.patients"),
                "{}: {out}",
                case.file
            );
        }
        if case.encrypted {
            let (code, out, _) = run(&["inspect", f]);
            assert_eq!(code, 0);
            assert!(out.contains("encrypted: pass --identity KEYFILE"), "{out}");
        }

        // And it restores, byte for byte of its dump.
        let (code, out, err) = run(&["--json", "restore", f, "--identity", &key_arg]);
        assert_eq!(code, 0, "{}: {err}", case.file);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            json["dump_bytes"].as_u64().unwrap() > 10_000,
            "{}: {out}",
            case.file
        );
    }
    source.remove().await;
}

fn inspect_error(file: &Path, identity: Option<&Path>) -> (i32, String) {
    let mut args = vec!["inspect".to_string(), file.display().to_string()];
    if let Some(i) = identity {
        args.push("--identity".into());
        args.push(i.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run(&args);
    (code, err)
}

/// Inspects a file holding `bytes`, named `name`: exit code and stderr.
fn inspect_bytes(name: &str, bytes: &[u8], identity: Option<&Path>) -> (i32, String) {
    let tmp = tempdir();
    let file = tmp.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    inspect_error(&file, identity)
}

#[test]
fn random_bytes_named_like_a_backup_are_not_a_backup() {
    let tmp = tempdir();
    let key = make_key(tmp.path(), "k");
    let mut bytes = vec![0u8; 4096];
    let mut x: u32 = 12345;
    for b in bytes.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let (code, err) = inspect_bytes("random.dump.zst.age", &bytes, Some(&key.path));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("it is not a backup"), "{err}");
}

#[test]
fn an_empty_file_is_named_empty() {
    let (code, err) = inspect_bytes("empty.dump", b"", None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("the file is empty"), "{err}");
}

#[test]
fn a_text_file_is_not_a_backup() {
    let text = b"Backups are copied to the NAS every night.\n";
    let (code, err) = inspect_bytes("README.txt", text, None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("it is not a backup"), "{err}");
}

/// zstd around text is still not a backup, and the message says where it stopped.
#[test]
fn compressed_text_is_not_a_backup_after_zstd() {
    let compressed = zstd::encode_all(&b"just some notes, no database here"[..], 3).unwrap();
    let (code, err) = inspect_bytes("notes.zst", &compressed, None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("after zstd"), "{err}");
}

fn encrypt_to(public: &str, plaintext: &[u8], out: &Path) {
    let recipient: age::x25519::Recipient = public.parse().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .unwrap();
    let mut w = enc
        .wrap_output(std::fs::File::create(out).unwrap())
        .unwrap();
    std::io::Write::write_all(&mut w, plaintext).unwrap();
    w.finish().unwrap();
}

/// A tiny pg_dump custom-format head, zstd-compressed and encrypted to
/// `public`, in `dir`.
fn small_backup(dir: &Path, public: &str) -> PathBuf {
    let file = dir.join("b.age");
    let dump = zstd::encode_all(&b"PGDMP\x01\x0e\x00\x04\x08\x01"[..], 3).unwrap();
    encrypt_to(public, &dump, &file);
    file
}

#[test]
fn a_key_of_other_recipients_is_named() {
    let tmp = tempdir();
    let right = make_key(tmp.path(), "right");
    let wrong = make_key(tmp.path(), "wrong");
    let file = small_backup(tmp.path(), &right.public);
    let (code, err) = inspect_error(&file, Some(&wrong.path));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("none of the identities given can decrypt it"),
        "{err}"
    );
}

/// Several identities: tried in order; the second one opens it.
#[test]
fn identities_are_tried_in_order() {
    let tmp = tempdir();
    let right = make_key(tmp.path(), "right");
    let wrong = make_key(tmp.path(), "wrong");
    let file = small_backup(tmp.path(), &right.public);
    let (code, out, err) = run(&[
        "--json",
        "inspect",
        file.to_str().unwrap(),
        "--identity",
        wrong.path.to_str().unwrap(),
        "--identity",
        right.path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"zstd\""), "{out}");
}

#[test]
fn a_key_readable_by_others_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let right = make_key(tmp.path(), "right");
    let file = small_backup(tmp.path(), &right.public);
    std::fs::set_permissions(&right.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, err) = inspect_error(&file, Some(&right.path));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("readable by other users"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", right.path.display())),
        "{err}"
    );
}

/// A real backup of 12 MB encrypted to `public`, its bytes.
fn big_encrypted(dir: &Path, public: &str) -> Vec<u8> {
    let big: Vec<u8> = (0..3_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let mut payload = b"PGDMP".to_vec();
    payload.extend_from_slice(&big);
    let full = dir.join("full.age");
    encrypt_to(public, &payload, &full);
    std::fs::read(&full).unwrap()
}

/// A real backup cut short: age notices while streaming.
#[test]
fn a_backup_cut_short_is_damaged_in_its_age_layer() {
    let tmp = tempdir();
    let right = make_key(tmp.path(), "right");
    let bytes = big_encrypted(tmp.path(), &right.public);
    let (code, err) = inspect_bytes("cut.age", &bytes[..bytes.len() * 2 / 3], Some(&right.path));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("is damaged"), "{err}");
    assert!(err.contains("age layer"), "{err}");
}

#[test]
fn a_backup_cut_inside_its_header_names_the_age_header() {
    let tmp = tempdir();
    let right = make_key(tmp.path(), "right");
    let bytes = big_encrypted(tmp.path(), &right.public);
    let (code, err) = inspect_bytes("header.age", &bytes[..40], Some(&right.path));
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("age header"), "{err}");
}
