//! `restore-drill doctor`: is this machine ready for a drill? Each check is ok,
//! or says what to do.

use crate::sandbox::{docker, images};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was found, or the fix.
    pub detail: String,
}

/// Below this much free space a drill of a typical clinic may not fit.
const MIN_FREE_BYTES: u64 = 5 << 30;

pub async fn run(identities: &[PathBuf], dirs: &[PathBuf]) -> Vec<Check> {
    let mut checks = Vec::new();
    match docker::connect().await {
        Ok(d) => {
            let version = d.version().await.ok();
            checks.push(Check {
                name: "docker".into(),
                ok: true,
                detail: format!(
                    "reachable at {}: engine {}, API {}",
                    docker::docker_host(),
                    version
                        .as_ref()
                        .and_then(|v| v.version.clone())
                        .unwrap_or_default(),
                    d.client_version()
                ),
            });
            for t in &images::TARGETS {
                let image = t.image();
                let present = images::image_present(&d, &image).await.unwrap_or(false);
                checks.push(Check {
                    name: format!("image {image}"),
                    ok: present,
                    detail: if present {
                        "present".into()
                    } else {
                        format!("missing. Fix: restore-drill images build {}", t.key)
                    },
                });
            }
        }
        Err(e) => checks.push(Check {
            name: "docker".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
    checks.push(match images::check_mmdebstrap() {
        Ok(()) => Check {
            name: "mmdebstrap".into(),
            ok: true,
            detail: "installed (needed only to build images)".into(),
        },
        Err(e) => Check {
            name: "mmdebstrap".into(),
            ok: false,
            detail: e.to_string(),
        },
    });
    let mut dirs: Vec<PathBuf> = dirs.to_vec();
    if dirs.is_empty() {
        dirs.push(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
    }
    for dir in &dirs {
        checks.push(free_space(dir));
    }
    for key in identities {
        checks.push(match crate::keys::load_identity_file(key) {
            Ok(_) => Check {
                name: format!("key {}", key.display()),
                ok: true,
                detail: "readable by its owner only".into(),
            },
            Err(e) => Check {
                name: format!("key {}", key.display()),
                ok: false,
                detail: e.to_string(),
            },
        });
    }
    checks
}

fn free_space(dir: &Path) -> Check {
    let name = format!("free disk at {}", dir.display());
    match nix::sys::statvfs::statvfs(dir) {
        Ok(s) => {
            let free = s.blocks_available() * s.fragment_size();
            Check {
                name,
                ok: free >= MIN_FREE_BYTES,
                detail: if free >= MIN_FREE_BYTES {
                    format!("{:.1} GiB free", free as f64 / (1u64 << 30) as f64)
                } else {
                    format!(
                        "only {:.1} GiB free; a drill needs room for the restored database in Docker's storage. Fix: free space",
                        free as f64 / (1u64 << 30) as f64
                    )
                },
            }
        }
        Err(e) => Check {
            name,
            ok: false,
            detail: format!("cannot read: {e}"),
        },
    }
}
