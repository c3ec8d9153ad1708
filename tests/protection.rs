//! A folder location's reach, measured as the clinic server's account
//! (`[backups] production_user`): a folder that account can write is in its
//! reach, one it cannot is not. Tried as the user with setpriv (these tests
//! run as root, as tests/run says).
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A copy of the shared clinic's backups in a folder of `mode`, under a
/// parent every user may pass through.
fn folder_of_mode(mode: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    for f in files_in(&shared_clinic().backups) {
        std::fs::copy(shared_clinic().backups.join(&f), backups.join(&f)).expect("copy");
    }
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(mode)).expect("chmod");
    (dir, backups)
}

fn drill_as_nobody(dir: &Path, backups: &Path) -> serde_json::Value {
    let scenario = dir.join("scenario.toml");
    let text = format!(
        "name = \"reach\"\nsite = \"Folder Optometry\"\n\n[backups]\nlocation = \"{}\"\nproduction_user = \"nobody\"\n\n[keys]\nidentities = [\"{}\"]\n\n[target]\nengine = \"postgres\"\nimage = \"{PG15}\"\n",
        backups.display(),
        shared_clinic().key.path.display()
    );
    std::fs::write(&scenario, text).expect("write the scenario");
    let reports = dir.join("reports");
    let (code, out, err) = run_tracked(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--no-history",
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let file = files_in(&reports).into_iter().next().expect("a report");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join(file)).expect("read")).expect("json");
    v["protection"][0].clone()
}

#[test]
fn a_folder_the_production_user_cannot_write_is_out_of_its_reach() {
    let (dir, backups) = folder_of_mode(0o755);
    let p = drill_as_nobody(dir.path(), &backups);
    assert_eq!(p["kind"], "folder", "{p}");
    assert_eq!(p["probe"]["outcome"], "refused", "{p}");
    assert_eq!(p["verdict"], "out-of-reach", "{p}");
}

#[test]
fn a_folder_the_production_user_can_write_is_in_its_reach_and_left_as_it_was() {
    let (dir, backups) = folder_of_mode(0o777);
    let before = files_in(&backups);
    let p = drill_as_nobody(dir.path(), &backups);
    assert_eq!(p["probe"]["outcome"], "deleted", "{p}");
    assert_eq!(p["verdict"], "in-reach", "{p}");
    assert_eq!(files_in(&backups), before, "the scratch file was removed");
}
