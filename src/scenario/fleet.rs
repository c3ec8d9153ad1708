//! A fleet file: the clinics a contractor drills and the Docker engines the
//! drills run on. Read like a scenario (unknown keys refused with a "did you
//! mean", every message at `file:line:col`), and turned into one `Plan` per
//! site: the site's scenario with the site's own backups, keys, objectives,
//! contacts and alerts laid over it.

use super::raw::{RawNotify, RawObjectives, RawParty};
use super::source::{suggest, Source};
use super::Plan;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A validated fleet.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub file: PathBuf,
    /// The provider, as its own summary names it.
    pub name: String,
    pub engines: Vec<EngineSpec>,
    pub sites: Vec<Site>,
    /// How many drills run at once across the fleet (`--max-parallel` wins).
    pub max_parallel: usize,
    /// Each site's reports go to `report_dir/<site folder>`; None: the state folder's.
    pub report_dir: Option<PathBuf>,
    /// The one drill history of the fleet (a record per drill, with its site).
    pub history: Option<PathBuf>,
}

/// A Docker engine drills may run on.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    pub name: String,
    pub host: EngineHost,
    /// Sandboxes at once on this engine.
    pub sandboxes: usize,
    /// Memory the sandboxes on this engine may hold together, in bytes.
    pub memory_bytes: u64,
    pub labels: BTreeMap<String, String>,
    /// `file:line` of the `[[engine]]`, for messages.
    pub origin: String,
}

/// How an engine is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineHost {
    /// A socket on this machine: `unix:///var/run/docker.sock`.
    Unix(PathBuf),
    /// `tcp://HOST:PORT`, always with TLS and a client certificate: an engine
    /// that accepts anyone on a port accepts a backup's reader too.
    Tcp { address: String, tls: Tls },
    /// `ssh://USER@HOST`: the engine's socket through ssh (a port other than
    /// 22 is set in the ssh client's configuration).
    Ssh(String),
}

/// The client certificate for a `tcp://` engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl EngineHost {
    /// As written (`unix:///…`, `tcp://…`, `ssh://…`), for messages and reports.
    pub fn url(&self) -> String {
        match self {
            EngineHost::Unix(p) => format!("unix://{}", p.display()),
            EngineHost::Tcp { address, .. } => format!("tcp://{address}"),
            EngineHost::Ssh(target) => format!("ssh://{target}"),
        }
    }

    /// Whether a folder on this machine is a folder on the engine's machine
    /// too: only for a local socket. Elsewhere the drill reaches the database
    /// through the Docker API alone.
    pub fn shares_this_host(&self) -> bool {
        matches!(self, EngineHost::Unix(_))
    }
}

/// One clinic of the fleet.
#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    /// The site's scenario with its backups, keys, objectives, contacts and
    /// alerts laid over.
    pub plan: Plan,
    /// Labels an engine must carry to run this site's drills.
    pub require: BTreeMap<String, String>,
    /// A site is due when its last passing drill is older than this.
    pub cadence_days: u32,
    /// `file:line` of the `[[site]]`, for messages.
    pub origin: String,
}

impl Site {
    /// The memory one drill of this site holds on its engine: the sandbox's
    /// limit, which covers its tmpfs folders too.
    pub fn memory_bytes(&self) -> u64 {
        u64::try_from(self.plan.target.memory_bytes).unwrap_or(u64::MAX)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    name: String,
    max_parallel: Option<Spanned<usize>>,
    cadence_days: Option<Spanned<u32>>,
    report_dir: Option<String>,
    history: Option<String>,
    contractor: Option<Spanned<RawParty>>,
    #[serde(default)]
    engine: Vec<Spanned<RawEngine>>,
    #[serde(default)]
    site: Vec<Spanned<RawSite>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    name: String,
    host: Spanned<String>,
    sandboxes: Spanned<usize>,
    memory_gb: Spanned<f64>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    tls_ca: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    name: Spanned<String>,
    scenario: Spanned<String>,
    backups: Option<String>,
    offsite: Option<String>,
    identities: Option<Vec<String>>,
    require: Option<Spanned<BTreeMap<String, String>>>,
    cadence_days: Option<Spanned<u32>>,
    objectives: Option<RawObjectives>,
    clinic: Option<Spanned<RawParty>>,
    notify: Option<Spanned<RawNotify>>,
}

/// The cadence a site is drilled at when neither it nor the fleet says: monthly.
pub const DEFAULT_CADENCE_DAYS: u32 = 30;
/// Drills at once when neither the fleet file nor `--max-parallel` says.
pub const DEFAULT_MAX_PARALLEL: usize = 2;

/// Reads and validates a fleet file and every scenario it names.
pub fn load_fleet(path: &Path) -> Result<Fleet> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read the fleet file {}: {e}. Check the path",
            path.display()
        ))
    })?;
    parse_fleet(path, &text)
}

/// Validates a fleet file's text; `path` names it and anchors relative paths.
pub fn parse_fleet(path: &Path, text: &str) -> Result<Fleet> {
    let src = Source { path, text };
    let raw: RawFleet = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let max_parallel = at_least_one(&src, "max_parallel", raw.max_parallel.as_ref())?
        .unwrap_or(DEFAULT_MAX_PARALLEL);
    let cadence = at_least_one(&src, "cadence_days", raw.cadence_days.as_ref())?
        .unwrap_or(DEFAULT_CADENCE_DAYS);
    let contractor = raw
        .contractor
        .map(|p| super::site_party(&src, p))
        .transpose()?;
    let engines = engines(&src, raw.engine)?;
    if engines.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no [[engine]]: name at least one Docker engine the drills run on, e.g.\n[[engine]]\nname = \"local\"\nhost = \"unix:///var/run/docker.sock\"\nsandboxes = 2\nmemory_gb = 8",
            path.display()
        )));
    }
    let defaults = SiteDefaults {
        cadence,
        contractor,
        engines: &engines,
    };
    let sites = sites(&src, raw.site, &defaults)?;
    Ok(Fleet {
        file: path.to_path_buf(),
        name: raw.name,
        engines,
        sites,
        max_parallel,
        report_dir: raw.report_dir.map(|d| src.resolve(&d)),
        history: raw.history.map(|h| src.resolve(&h)),
    })
}

/// A count that must be 1 or more, where it is given.
fn at_least_one<T: Copy + PartialEq + Default>(
    src: &Source,
    key: &str,
    v: Option<&Spanned<T>>,
) -> Result<Option<T>> {
    match v {
        Some(s) if *s.get_ref() == T::default() => {
            Err(src.at(s.span(), format_args!("`{key}` is 0: give 1 or more")))
        }
        other => Ok(other.map(|s| *s.get_ref())),
    }
}

fn engines(src: &Source, raw: Vec<Spanned<RawEngine>>) -> Result<Vec<EngineSpec>> {
    let mut out: Vec<EngineSpec> = Vec::new();
    for r in raw {
        let span = r.span();
        let e = engine(src, r.into_inner(), src.origin(span.start))?;
        if out.iter().any(|o| o.name == e.name) {
            return Err(src.at(
                span,
                format_args!(
                    "a second engine named {:?}: give each engine its own name",
                    e.name
                ),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

fn engine(src: &Source, r: RawEngine, origin: String) -> Result<EngineSpec> {
    let sandboxes = at_least_one(src, "sandboxes", Some(&r.sandboxes))?.unwrap_or(1);
    let gb = *r.memory_gb.get_ref();
    if !(gb.is_finite() && gb > 0.0) {
        return Err(src.at(
            r.memory_gb.span(),
            "`memory_gb` is the memory the engine's sandboxes may hold together: a number above 0",
        ));
    }
    let host = engine_host(src, &r)?;
    Ok(EngineSpec {
        name: r.name,
        host,
        sandboxes,
        memory_bytes: (gb * f64::from(1u32 << 30)) as u64,
        labels: r.labels,
        origin,
    })
}

/// `unix://PATH`, `tcp://HOST:PORT` with its three TLS files, or `ssh://USER@HOST`.
fn engine_host(src: &Source, r: &RawEngine) -> Result<EngineHost> {
    let text = r.host.get_ref();
    let tls_given = r.tls_ca.is_some() || r.tls_cert.is_some() || r.tls_key.is_some();
    let at = |msg: &str| src.at(r.host.span(), msg);
    if let Some(path) = text.strip_prefix("unix://") {
        if tls_given {
            return Err(at(
                "tls_ca, tls_cert and tls_key are for a tcp:// engine, not a unix:// socket",
            ));
        }
        return Ok(EngineHost::Unix(PathBuf::from(path)));
    }
    if let Some(address) = text.strip_prefix("tcp://") {
        let (Some(ca), Some(cert), Some(key)) = (&r.tls_ca, &r.tls_cert, &r.tls_key) else {
            return Err(at("a tcp:// engine needs tls_ca, tls_cert and tls_key (the engine's CA and this machine's client certificate and key): an engine open without TLS lets anyone on the network run containers"));
        };
        let tls = Tls {
            ca: src.resolve(ca),
            cert: src.resolve(cert),
            key: src.resolve(key),
        };
        return Ok(EngineHost::Tcp {
            address: address.trim_end_matches('/').to_string(),
            tls,
        });
    }
    if let Some(target) = text.strip_prefix("ssh://") {
        return ssh_target(target).map_err(|m| at(&m));
    }
    Err(at(&format!(
        "host {text:?} is not an engine address: write unix:///var/run/docker.sock, tcp://HOST:2376 (with TLS) or ssh://USER@HOST{}",
        suggest(text.split("://").next().unwrap_or(""), &["unix", "tcp", "ssh"])
    )))
}

/// `USER@HOST`, without a port: bollard hands the address to the ssh client
/// as one destination, which takes `HOST:PORT` for a host name (and then
/// cannot resolve it), so a port written here could never work.
fn ssh_target(target: &str) -> std::result::Result<EngineHost, String> {
    let host = target.rsplit_once('@').map_or(target, |(_, h)| h);
    let port = host
        .rsplit_once(':')
        .filter(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if let Some((name, port)) = port {
        return Err(format!(
            "ssh://{target}: an ssh:// engine takes no port (the ssh client would read {host:?} as a host name). Give the port in the ssh configuration of the user running restore-drill (~/.ssh/config: Host {name}, Port {port}) and write ssh://USER@{name}"
        ));
    }
    Ok(EngineHost::Ssh(target.to_string()))
}

/// What a site takes from the fleet when it does not say.
struct SiteDefaults<'a> {
    cadence: u32,
    contractor: Option<crate::report::facts::Party>,
    engines: &'a [EngineSpec],
}

fn sites(src: &Source, raw: Vec<Spanned<RawSite>>, d: &SiteDefaults) -> Result<Vec<Site>> {
    let mut out: Vec<Site> = Vec::new();
    for r in raw {
        let span = r.span();
        let name_span = r.get_ref().name.span();
        let s = site(src, r.into_inner(), d, src.origin(span.start))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(src.at(
                name_span,
                format_args!(
                    "a second site named {:?}: each clinic is one [[site]]",
                    s.name
                ),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

fn site(src: &Source, r: RawSite, d: &SiteDefaults, origin: String) -> Result<Site> {
    let name = r.name.get_ref().clone();
    super::check_site(&name).map_err(|_| {
        src.at(
            r.name.span(),
            "a site's name is the clinic's, in 1 to 100 printable characters",
        )
    })?;
    let name_span = r.name.span();
    let require_span = r.require.as_ref().map_or(name_span.clone(), |q| q.span());
    let cadence = at_least_one(src, "cadence_days", r.cadence_days.as_ref())?;
    let require = r
        .require
        .as_ref()
        .map(|q| q.get_ref().clone())
        .unwrap_or_default();
    let plan = site_plan(src, r, d)?;
    let fits = |e: &EngineSpec| {
        require.iter().all(|(k, v)| e.labels.get(k) == Some(v))
            && e.memory_bytes >= u64::try_from(plan.target.memory_bytes).unwrap_or(u64::MAX)
    };
    if !d.engines.iter().any(fits) {
        return Err(src.at(
            require_span.start.min(name_span.start)..name_span.end,
            format_args!(
                "no engine can run site {name:?}: none carries the labels it requires ({}) and holds its sandbox's {} MiB. Add such an engine, or change `require`",
                labels_text(&require),
                plan.target.memory_bytes >> 20
            ),
        ));
    }
    Ok(Site {
        name,
        plan,
        require,
        cadence_days: cadence.unwrap_or(d.cadence),
        origin,
    })
}

/// The site's scenario, with what the site says laid over it.
fn site_plan(src: &Source, r: RawSite, d: &SiteDefaults) -> Result<Plan> {
    let scenario = src.resolve(r.scenario.get_ref());
    let mut plan = super::load(&scenario).map_err(|e| {
        src.at(
            r.scenario.span(),
            format_args!("site {:?}: {e}", r.name.get_ref()),
        )
    })?;
    if plan.compare.is_some() {
        return Err(src.at(
            r.scenario.span(),
            "a fleet drills sites; a scenario with [compare] is run on its own with `restore-drill run`",
        ));
    }
    let overrides = super::Overrides {
        site: Some(r.name.get_ref().clone()),
        backups: r.backups.as_deref().map(|b| match b.contains(':') {
            true => b.to_string(),
            false => src.resolve(b).display().to_string(),
        }),
        identities: r
            .identities
            .iter()
            .flatten()
            .map(|p| src.resolve(p))
            .collect(),
        report_dir: None,
    };
    if let Some(o) = &r.offsite {
        let place = super::Place::parse(o, |p| src.resolve(p))
            .map_err(|e| Error::Usage(format!("{}: offsite {o}: {e}", src.path.display())))?;
        plan.backups.offsite = Some(place);
    }
    if let Some(o) = &r.objectives {
        plan.objectives = super::build::objectives(o);
    }
    if let Some(n) = r.notify {
        plan.notify = Some(super::notify::parse(src, n)?);
    }
    let clinic = r.clinic.map(|p| super::site_party(src, p)).transpose()?;
    if clinic.is_some() || d.contractor.is_some() {
        plan.contacts = Some(crate::report::facts::Contacts {
            clinic,
            contractor: d.contractor.clone(),
        });
    }
    plan.with_overrides(overrides).map_err(|e| {
        src.at(
            r.name.span(),
            format_args!("site {:?}: {e}", r.name.get_ref()),
        )
    })
}

/// `region = "east", disk = "ssd"`, or "none".
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "none".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
