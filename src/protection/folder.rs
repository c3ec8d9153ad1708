//! A folder's reach, measured as the clinic server's account: whether that
//! user can create and remove a scratch file in it (so delete or replace a
//! backup) and write to the backups themselves. Tried as the user with
//! setpriv, which needs root; otherwise the reach is not measured.

use super::s3::Facts;
use super::Probe;
use std::path::Path;
use std::time::Duration;

/// A shell line of our own: the folder comes as an argument, never as text
/// in the script. Exit 0: the scratch file was made and removed; 10: not.
const SCRIPT: &str = r#"f="$1/.restore-drill-probe-$$"; if ( : > "$f" ) 2>/dev/null; then rm -f "$f"; exit 0; fi; for b in "$1"/*; do [ -f "$b" ] && [ -w "$b" ] && exit 11; done; exit 10"#;

pub async fn measure(dir: &Path, user: &str) -> (Facts, Probe, Option<&'static str>) {
    if !nix::unistd::geteuid().is_root() {
        let why =
            format!("acting as {user} needs root (setpriv): the folder's reach is not measured");
        return (Facts::default(), Probe::NotTried { why }, None);
    }
    let Ok(Some(u)) = nix::unistd::User::from_name(user) else {
        let why = format!("no user {user} on this machine");
        return (Facts::default(), Probe::NotTried { why }, None);
    };
    let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
    let mut c = tokio::process::Command::new("setpriv");
    c.args(["--reuid", &uid, "--regid", &gid, "--init-groups", "--"])
        .args(["sh", "-c", SCRIPT, "probe"])
        .arg(dir)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let ran = tokio::time::timeout(Duration::from_secs(30), c.status()).await;
    let probe = match ran {
        Ok(Ok(s)) if s.code() == Some(0) => Probe::Deleted {
            what: format!("{user} created and removed a scratch file in {}: it can delete or replace the backups", dir.display()),
        },
        Ok(Ok(s)) if s.code() == Some(11) => Probe::Deleted {
            what: format!("{user} can write to the backup files in {}", dir.display()),
        },
        Ok(Ok(s)) if s.code() == Some(10) => Probe::Refused {
            what: format!("{user} could neither create a file in {} nor write to its backups", dir.display()),
        },
        _ => Probe::Unknown {
            why: format!("could not act as {user} (setpriv)"),
        },
    };
    (Facts::default(), probe, Some("production"))
}
