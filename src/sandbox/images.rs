//! Building database images without a registry: mmdebstrap makes a Debian root
//! file system from the machine's own mirror, its tar output streams straight
//! into the engine's image import (`POST /images/create?fromSrc=-`), and only a
//! complete, checked import gets the final tag.

use crate::engine::EngineKind;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use futures_util::TryStreamExt;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// An image this tool knows how to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageTarget {
    /// What the user types: `postgres:15`.
    pub key: &'static str,
    pub repo: &'static str,
    pub tag: &'static str,
    pub engine: EngineKind,
    pub suite: &'static str,
    pub packages: &'static str,
    /// The PostgreSQL major version (empty for MariaDB).
    pub pg_major: &'static str,
}

pub const TARGETS: [ImageTarget; 4] = [
    ImageTarget {
        key: "postgres:15",
        repo: "restore-drill/postgres",
        tag: "15",
        engine: EngineKind::Postgres,
        suite: "bookworm",
        packages: "postgresql-15,iproute2",
        pg_major: "15",
    },
    ImageTarget {
        key: "postgres:17",
        repo: "restore-drill/postgres",
        tag: "17",
        engine: EngineKind::Postgres,
        suite: "trixie",
        packages: "postgresql-17,iproute2",
        pg_major: "17",
    },
    ImageTarget {
        key: "mariadb:10.11",
        repo: "restore-drill/mariadb",
        tag: "10.11",
        engine: EngineKind::Mariadb,
        suite: "bookworm",
        packages: "mariadb-server,iproute2",
        pg_major: "",
    },
    // The MariaDB of Debian's next release (11.8 in trixie), for a clinic's
    // upgrade check from 10.11: the same entrypoint and settings.
    ImageTarget {
        key: "mariadb:11",
        repo: "restore-drill/mariadb",
        tag: "11",
        engine: EngineKind::Mariadb,
        suite: "trixie",
        packages: "mariadb-server,iproute2",
        pg_major: "",
    },
];

impl ImageTarget {
    pub fn image(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }

    pub fn by_key(key: &str) -> Option<&'static ImageTarget> {
        TARGETS.iter().find(|t| t.key == key || t.image() == key)
    }
}

/// For an error about a missing image: the `images build` argument that makes it.
pub fn build_target_for(image: &str) -> Option<&'static str> {
    TARGETS.iter().find(|t| t.image() == image).map(|t| t.key)
}

/// Debian mirrors to build from: the machine's own apt sources unless the user
/// names one, since that is the mirror known to be reachable here.
#[derive(Debug, Clone)]
pub struct Mirrors {
    pub debian: String,
    pub security: Option<String>,
}

impl Mirrors {
    pub fn detect(user: Option<&str>) -> Result<Mirrors> {
        if let Some(m) = user {
            let m = m.trim_end_matches('/').to_string();
            if !(m.starts_with("http://") || m.starts_with("https://") || m.starts_with("file:/")) {
                return Err(Error::Usage(format!(
                    "invalid --mirror {m:?}: expected a Debian mirror URL such as http://HOST/debian"
                )));
            }
            let security = m
                .strip_suffix("/debian")
                .map(|base| format!("{base}/debian-security"));
            return Ok(Mirrors {
                debian: m,
                security,
            });
        }
        let mut uris = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
            let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                if p.extension().is_some_and(|e| e == "sources") {
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        uris.extend(parse_deb822_uris(&text));
                    }
                } else if p.extension().is_some_and(|e| e == "list") {
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        uris.extend(parse_list_uris(&text));
                    }
                }
            }
        }
        if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
            uris.extend(parse_list_uris(&text));
        }
        let security = uris.iter().find(|u| u.contains("security")).cloned();
        let debian = uris.iter().find(|u| !u.contains("security")).cloned();
        match debian {
            Some(debian) => Ok(Mirrors {
                debian: debian.trim_end_matches('/').into(),
                security: security.map(|s| s.trim_end_matches('/').into()),
            }),
            None => Err(Error::Environment(
                "no Debian mirror found in this machine's apt sources. Fix: pass --mirror http://HOST/debian".into(),
            )),
        }
    }
}

fn parse_deb822_uris(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("URIs:"))
        .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn parse_list_uris(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("deb "))
        .filter_map(|l| {
            l.split_whitespace()
                .skip(1)
                .find(|w| w.contains("://"))
                .map(str::to_string)
        })
        .collect()
}

pub async fn image_present(docker: &Docker, image: &str) -> Result<bool> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(Error::docker(format!("looking up {image}"), e)),
    }
}

/// Whether an image a scenario names is on the Docker engine, and if not,
/// whether this tool can build it. A drill never builds or pulls an image:
/// `Sandbox::start` stops with an environment error (exit 3) when it is
/// missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Availability {
    Present,
    /// Missing; `restore-drill images build TARGET` makes it.
    Buildable {
        target: &'static str,
    },
    /// Missing, and not one of the images this tool builds.
    Missing,
    /// The engine could not be asked (not reachable, permission denied).
    Unchecked {
        reason: String,
    },
}

/// Asks the engine about `image`; never fails: what could not be found out
/// is `Unchecked`, with why.
pub async fn availability(docker: &Docker, image: &str) -> Availability {
    match image_present(docker, image).await {
        Ok(true) => Availability::Present,
        Ok(false) => match build_target_for(image) {
            Some(target) => Availability::Buildable { target },
            None => Availability::Missing,
        },
        Err(e) => Availability::Unchecked {
            reason: e.to_string(),
        },
    }
}

#[derive(Debug, Clone)]
pub struct Built {
    pub image: String,
    /// False when it was already present and kept.
    pub built: bool,
    pub seconds: f64,
}

pub fn check_mmdebstrap() -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("mmdebstrap").is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(Error::Environment(
            "mmdebstrap is not installed; it builds the database images from Debian packages. \
             Fix: apt-get install mmdebstrap"
                .into(),
        ))
    }
}

/// The longest an image import may stream.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Builds one image, unless it is present and `rebuild` is false.
pub async fn build(
    docker: &Docker,
    target: &ImageTarget,
    mirrors: &Mirrors,
    rebuild: bool,
    events: &Events,
) -> Result<Built> {
    let image = target.image();
    if !rebuild && image_present(docker, &image).await? {
        return Ok(Built {
            image,
            built: false,
            seconds: 0.0,
        });
    }
    check_mmdebstrap()?;
    let mut phase = crate::measure::Clock::new(events);
    phase.begin(format!("images: {image}"));
    let files = tempfile::tempdir()
        .map_err(|e| Error::io("create a temporary directory", std::env::temp_dir(), e))?;
    let args = mmdebstrap_args(target, mirrors, files.path())?;

    // Imported under a temporary tag: a failed build must not leave anything
    // under the name a drill would use.
    let temp_tag = format!("{}-building-{:08x}", target.tag, rand::random::<u32>());
    let (mut child, mut filter, stdout, stderr_task) = spawn_rootfs(&args)?;
    let import = import_stream(docker, target, &temp_tag, stdout).await;
    let status = rootfs_status(&mut child, &mut filter).await?;
    let stderr = String::from_utf8_lossy(&stderr_task.await.unwrap_or_default()).into_owned();
    let temp_image = format!("{}:{}", target.repo, temp_tag);
    let result = match (status.success(), import) {
        (true, Ok(_)) => finish_import(docker, target, &temp_image).await,
        (false, _) => Err(mmdebstrap_failed(&stderr, mirrors)),
        (true, Err(e)) => Err(Error::docker(format!("importing {image}"), e)),
    };
    // Drop the temporary tag in every case; on success the final tag keeps the
    // image alive.
    let _ = docker
        .remove_image(
            &temp_image,
            Some(RemoveImageOptionsBuilder::new().force(true).build()),
            None,
        )
        .await;
    result?;
    let seconds = phase.end();
    events.event(Event::note(format!("built {image} in {seconds:.0} s")));
    Ok(Built {
        image,
        built: true,
        seconds,
    })
}

/// Streams the tar into the engine's image import under `temp_tag`.
async fn import_stream(
    docker: &Docker,
    target: &ImageTarget,
    temp_tag: &str,
    tar: tokio::process::ChildStdout,
) -> std::result::Result<Vec<bollard::models::CreateImageInfo>, bollard::errors::Error> {
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::with_capacity(tar, 1 << 20));
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(target.repo)
        .tag(temp_tag)
        .changes(image_changes(target))
        .build();
    // The engine client's default timeout (120 s) would end an import that
    // is still streaming: mmdebstrap takes longer than that for MariaDB on a
    // busy two-core machine, and the cut stream then looks like its failure.
    // The build is bounded by mmdebstrap itself, which ends or fails.
    docker
        .clone()
        .with_timeout(IMPORT_TIMEOUT)
        .create_image(Some(options), Some(body), None)
        .try_collect::<Vec<_>>()
        .await
}

/// How the rootfs pipeline ended: mmdebstrap's status, or mmtarfilter's
/// when only the filter failed.
async fn rootfs_status(
    child: &mut tokio::process::Child,
    filter: &mut tokio::process::Child,
) -> Result<std::process::ExitStatus> {
    let status = child
        .wait()
        .await
        .map_err(|e| Error::Failed(format!("waiting for mmdebstrap: {e}")))?;
    let filter_status = filter
        .wait()
        .await
        .map_err(|e| Error::Failed(format!("waiting for mmtarfilter: {e}")))?;
    Ok(if status.success() && !filter_status.success() {
        filter_status
    } else {
        status
    })
}

/// The root file system as a tar stream: mmdebstrap | mmtarfilter. Returns
/// both children, the tar stream, and a task collecting mmdebstrap's stderr.
#[allow(clippy::type_complexity)]
fn spawn_rootfs(
    args: &[String],
) -> Result<(
    tokio::process::Child,
    tokio::process::Child,
    tokio::process::ChildStdout,
    tokio::task::JoinHandle<Vec<u8>>,
)> {
    let mut child = tokio::process::Command::new("mmdebstrap")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Error::Environment(format!(
                "cannot run mmdebstrap: {e}. Fix: apt-get install mmdebstrap"
            ))
        })?;
    let tar: std::process::Stdio = child
        .stdout
        .take()
        .ok_or_else(|| Error::Failed("mmdebstrap has no stdout".into()))?
        .try_into()
        .map_err(|e| Error::Failed(format!("cannot pipe mmdebstrap's output: {e}")))?;
    // Device nodes are dropped: rootless and some storage drivers refuse them,
    // and Docker makes its own /dev anyway.
    let mut filter = tokio::process::Command::new("mmtarfilter")
        .arg("--path-exclude=/dev/*")
        .stdin(tar)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Error::Environment(format!(
                "cannot run mmtarfilter (part of mmdebstrap): {e}. Fix: apt-get install mmdebstrap"
            ))
        })?;
    let stdout = filter
        .stdout
        .take()
        .ok_or_else(|| Error::Failed("mmtarfilter has no stdout".into()))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::Failed("mmdebstrap has no stderr".into()))?;
    let stderr_task = tokio::spawn(async move {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s).await;
        s
    });
    Ok((child, filter, stdout, stderr_task))
}

/// Checks the imported image really holds the database, then tags it.
async fn finish_import(docker: &Docker, target: &ImageTarget, temp_image: &str) -> Result<()> {
    let info = docker
        .inspect_image(temp_image)
        .await
        .map_err(|e| Error::docker(format!("inspecting {temp_image}"), e))?;
    // A rootfs of a few MB means the tar stream was cut short.
    if info.size.unwrap_or(0) < 50 << 20 {
        return Err(Error::Failed(format!(
            "the imported image is only {} bytes: the build output was incomplete; retry with --rebuild",
            info.size.unwrap_or(0)
        )));
    }
    docker
        .tag_image(
            temp_image,
            Some(
                TagImageOptionsBuilder::new()
                    .repo(target.repo)
                    .tag(target.tag)
                    .build(),
            ),
        )
        .await
        .map_err(|e| Error::docker(format!("tagging {}", target.image()), e))
}

fn mmdebstrap_failed(stderr: &str, mirrors: &Mirrors) -> Error {
    let tail: Vec<&str> = stderr
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("could not resolve")
        || lower.contains("failed to fetch")
        || lower.contains("temporary failure resolving")
        || lower.contains("unable to connect")
        || lower.contains("connection refused")
        || lower.contains("connection timed out")
    {
        return Error::Environment(format!(
            "the Debian mirror {} is unreachable. Fix: check the network or pass --mirror URL with a reachable mirror.\n{}",
            mirrors.debian,
            tail.join("\n")
        ));
    }
    Error::Environment(format!(
        "mmdebstrap failed; no image was tagged. Its last lines:\n{}",
        tail.join("\n")
    ))
}

fn write_file(dir: &Path, name: &str, content: &str) -> Result<String> {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).map_err(|e| Error::io("write", &path, e))?;
    f.write_all(content.as_bytes())
        .map_err(|e| Error::io("write", &path, e))?;
    Ok(path.to_string_lossy().into_owned())
}

fn sources(target: &ImageTarget, mirrors: &Mirrors) -> Vec<String> {
    let mut s = vec![
        format!("deb {} {} main", mirrors.debian, target.suite),
        format!("deb {} {}-updates main", mirrors.debian, target.suite),
    ];
    if let Some(sec) = &mirrors.security {
        s.push(format!("deb {sec} {}-security main", target.suite));
    }
    s
}

/// Image configuration, the same contract as the official images. `docker
/// import` refuses STOPSIGNAL: the sandbox sets it at container creation.
fn image_changes(target: &ImageTarget) -> Vec<String> {
    target.engine.image_recipe(target.pg_major).changes
}

fn mmdebstrap_args(target: &ImageTarget, mirrors: &Mirrors, dir: &Path) -> Result<Vec<String>> {
    let hook = |h: &str| format!("--customize-hook={h}");
    let mut args: Vec<String> = [
        "--variant=essential",
        "--format=tar",
        // dpkg path patterns don't expand braces: one option per directory.
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--include={}", target.packages));
    let recipe = target.engine.image_recipe(target.pg_major);
    let entrypoint = write_file(dir, "entrypoint.sh", recipe.entrypoint)?;
    let (conf_name, conf_text, conf_path) = recipe.config;
    let conf = write_file(dir, conf_name, conf_text)?;
    for p in recipe.excluded {
        args.push(format!("--dpkgopt=path-exclude={p}"));
    }
    args.push(hook(&format!(
        "upload {entrypoint} /usr/local/bin/docker-entrypoint.sh"
    )));
    args.push(hook("chmod 755 \"$1/usr/local/bin/docker-entrypoint.sh\""));
    if let Some(d) = recipe.config_dir {
        args.push(hook(&format!("mkdir -p \"$1{d}\"")));
    }
    args.push(hook(&format!("upload {conf} {conf_path}")));
    // The entrypoint's build mode creates the cluster / data directory now, so
    // a container starts in well under a second.
    args.push(hook(
        "chroot \"$1\" /usr/local/bin/docker-entrypoint.sh restore-drill-build",
    ));
    args.push(hook(
        "rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*",
    ));
    args.push(target.suite.into());
    args.push("-".into());
    args.extend(sources(target, mirrors));
    Ok(args)
}

/// How long a build may take before it is called stuck.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub async fn build_all(
    docker: &Docker,
    targets: &[&'static ImageTarget],
    mirrors: &Mirrors,
    rebuild: bool,
    events: &Events,
) -> Result<Vec<Built>> {
    let mut out = Vec::new();
    for t in targets {
        let built = tokio::time::timeout(BUILD_TIMEOUT, build(docker, t, mirrors, rebuild, events))
            .await
            .map_err(|_| {
                Error::Environment(format!(
                    "building {} took longer than {} minutes; the mirror may be too slow. Retry, or pass --mirror",
                    t.image(),
                    BUILD_TIMEOUT.as_secs() / 60
                ))
            })??;
        out.push(built);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mirrors_from_both_apt_formats() {
        let deb822 = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n\
                      Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            parse_deb822_uris(deb822),
            vec![
                "http://mirror.example/debian",
                "http://mirror.example/debian-security"
            ]
        );
        let list = "# comment\ndeb [arch=amd64] http://m.example/debian bookworm main\ndeb-src http://x/ y z\n";
        assert_eq!(parse_list_uris(list), vec!["http://m.example/debian"]);
    }

    #[test]
    fn user_mirror_implies_security_mirror() {
        let m = Mirrors::detect(Some("http://m.example/debian/")).expect("valid");
        assert_eq!(m.debian, "http://m.example/debian");
        assert_eq!(
            m.security.as_deref(),
            Some("http://m.example/debian-security")
        );
        let e = Mirrors::detect(Some("m.example")).expect_err("no scheme");
        assert!(e.to_string().contains("--mirror"), "{e}");
    }
}
