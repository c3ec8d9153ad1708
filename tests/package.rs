#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! What the Debian package ships beside the binary: completion scripts that
//! the shells accept and man pages that man renders. No Docker needed.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn bash_completion_is_valid_bash_and_knows_the_commands() {
    let (code, script, err) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let tmp = tempdir();
    let file = tmp.path().join("restore-drill.bash");
    std::fs::write(&file, &script).unwrap();
    let checked = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for command in ["run", "evidence", "history", "completions"] {
        assert!(script.contains(command), "{command} missing:\n{script}");
    }
}

#[test]
fn every_shell_the_package_ships_gets_a_script() {
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(script.contains("restore-drill"), "{shell}: {script}");
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("possible values"), "{err}");
}

/// The page as a person reads it: groff's plain-text rendering.
fn rendered(page: &Path) -> String {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-P-c", "-P-b", "-P-u"])
        .arg(page)
        .output()
        .expect("groff (groff-base) is installed by tests/run");
    assert!(out.status.success(), "groff failed on {}", page.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn manpage_writes_a_page_holding_every_command_and_flag() {
    let tmp = tempdir();
    // A folder that does not exist yet is made.
    let out = tmp.path().join("man").join("man1");
    let (code, listed, err) = run(&["manpage", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let pages = files_in(&out);
    for page in [
        "restore-drill.1",
        "restore-drill-run.1",
        "restore-drill-keys-generate.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} missing: {pages:?}");
        assert!(listed.contains(page), "{listed}");
    }
    assert!(!pages.iter().any(|p| p.contains("manpage")), "{pages:?}");

    let text = rendered(&out.join("restore-drill.1"));
    // Words only: groff justifies lines with extra spaces.
    assert!(
        text.contains("DESCRIPTION") && text.contains("Proves"),
        "{text}"
    );
    for said in [
        "restore-drill run",
        "restore-drill evidence",
        "restore-drill keys generate-signing",
        "restore-drill completions",
        "--report-dir",
        "--history",
        "--recipient",
        "--json",
        "EXIT STATUS",
        "/usr/share/restore-drill/scenarios/",
    ] {
        assert!(text.contains(said), "{said} missing:\n{text}");
    }
}

#[test]
fn man_renders_a_command_page() {
    let tmp = tempdir();
    let (code, _, err) = run(&["manpage", "--out", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // man -l: the reader a user has, on the file the package gzips.
    let out = Command::new("man")
        .arg("-l")
        .arg(tmp.path().join("restore-drill-run.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man (man-db) is installed by tests/run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("restore-drill-run"), "{text}");
    assert!(text.contains("--report-dir"), "{text}");
}
