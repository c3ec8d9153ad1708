//! A run of restore-drill in a mount namespace where every mount is
//! read-only but a 1 MiB tmpfs (its TMPDIR, HOME and report folder) and the
//! socket folder the Docker engine must see: a file over 1 MB written
//! anywhere on this host fails the run (no space, or a read-only file
//! system). Tests of remote locations prove with it that a backup is
//! streamed, never copied to disk. Needs root, as the suite runs.
#![allow(dead_code)] // each test uses only some of these

use std::ffi::OsStr;
use std::process::Command;

/// The marker line after which the jailed run's report is printed.
pub const REPORT_MARK: &str = "=== report ===\n";

/// `restore-drill run ARGS --report-dir <in the jail>`; (exit code, stdout
/// with the report after `REPORT_MARK`, stderr).
pub fn jailed_run<S: AsRef<OsStr>>(args: &[S]) -> (i32, String, String) {
    let jail = tempfile::Builder::new()
        .prefix("rd-jail-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("jail");
    let (small, sockets) = (jail.path().join("small"), jail.path().join("sockets"));
    std::fs::create_dir(&small).expect("mkdir");
    std::fs::create_dir(&sockets).expect("mkdir");
    let script = r#"set -e
mount --bind "$SOCKETS" "$SOCKETS"
findmnt -rn -o TARGET | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null || true; done
mount -o remount,bind,rw "$SOCKETS"
mount -t tmpfs -o size=1m jail-small "$SMALL"
set +e
"$@" --report-dir "$SMALL/reports"; code=$?
echo "=== report ==="; cat "$SMALL"/reports/*.json
exit $code"#;
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_restore-drill"))
        .args(["run", "--no-history"])
        .args(args)
        .env("SMALL", &small)
        .env("SOCKETS", &sockets)
        .env("TMPDIR", &small)
        .env("HOME", &small)
        .env("RUNTIME_DIRECTORY", &sockets)
        .output()
        .expect("run unshare");
    super::decode(out)
}

/// The report a jailed run printed.
pub fn jailed_report(out: &str) -> &str {
    out.split(REPORT_MARK)
        .nth(1)
        .expect("the report, printed from inside the jail")
}

/// The jail itself, proven: a file over 1 MB cannot be written in its small
/// folder, nor anything outside it.
pub fn jail_refuses_a_big_file() -> Option<i32> {
    let jail = tempfile::Builder::new()
        .prefix("rd-jail-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("jail");
    let small = jail.path().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    let script = r#"findmnt -rn -o TARGET | while read -r m; do mount -o remount,bind,ro "$m" 2>/dev/null || true; done
mount -t tmpfs -o size=1m jail-small "$SMALL"
head -c 2000000 /dev/zero > "$SMALL/big" && exit 0
head -c 10 /dev/zero > "$OUTSIDE/x" && exit 0
exit 7"#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("SMALL", &small)
        .env("OUTSIDE", jail.path())
        .output()
        .expect("unshare");
    out.status.code()
}
