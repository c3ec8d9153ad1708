//! Driving a fleet's drills: each due site placed on an engine with room, at
//! most `max_parallel` at once. A drill that does not pass has its engine
//! pinged; an engine that no longer answers is lost, takes no
//! more drills, and that drill starts again on another engine. Every drill
//! is its own run (its own run id and labels), and what a run created is
//! removed when it ends, on whichever engine it ran; Ctrl-C or SIGTERM stops
//! every drill under way and removes what they created.
//!
//! The runner knows nothing of reports or histories: the caller's `Drill`
//! runs one site's drill on one engine and says whether it passed, which
//! is all the runner needs to decide.

use super::engines;
use super::place::{place, Load, Need, Nowhere, Placement};
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::sandbox::{gc, RunId};
use crate::scenario::fleet::{EngineSpec, Site};
use bollard::Docker;
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::task::JoinSet;

/// One attempt of a site's drill, as the caller ran it.
pub struct Attempt<T> {
    pub done: T,
    /// The drill did not pass: perhaps because its engine died under it
    /// (a killed sandbox can look like a failed restore), so the engine is
    /// asked before the verdict stands.
    pub check_engine: bool,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Local<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What runs one site's drill on one engine (the CLI's `run`): `attempt`
/// drills and writes the report; `settle` records it in the history and
/// alerts, only for the attempt that counts (not one whose engine was lost).
pub trait Drill: Send + Sync + 'static {
    type Tried: Send + 'static;
    type Done;
    fn attempt(
        &self,
        site: usize,
        engine: &EngineSpec,
        docker: Docker,
        run: RunId,
    ) -> Boxed<'static, Attempt<Self::Tried>>;
    /// A drill stopped before its end (Ctrl-C, SIGTERM): its report says so.
    fn stopped(&self, site: usize, run: &RunId, why: Error) -> Self::Tried;
    /// Runs in the runner's own loop, one site at a time: the history's
    /// appends and the alerts never race.
    fn settle<'a>(
        &'a self,
        site: usize,
        engine: &'a EngineSpec,
        tried: Self::Tried,
    ) -> Local<'a, Self::Done>;
}

/// The pool once contacted, by engine index: its client (None: lost from
/// the start) and the images it holds of those the drills need.
struct Contacted {
    dockers: Vec<Option<Docker>>,
    images: Vec<BTreeSet<String>>,
}

/// How one site ended.
pub enum SiteEnd<T> {
    /// Its drill ran to an end on `engine` (whatever the verdict).
    Ran { engine: String, done: T },
    /// No engine can take it.
    NoEngine(Nowhere),
}

pub struct SiteOutcome<T> {
    pub site: usize,
    /// Engines its drill was moved away from, lost while it ran there.
    pub moved_from: Vec<String>,
    pub end: SiteEnd<T>,
}

/// An engine that stopped answering (or never did), and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LostEngine {
    pub name: String,
    pub host: String,
    pub why: Lost,
    /// Runs that were on it when it was lost: their containers may be left
    /// there until it comes back (`restore-drill fleet gc`).
    pub runs_left: Vec<String>,
}

/// Why an engine was lost.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lost {
    /// It could not be reached when the fleet started: the error says why.
    Unreachable { error: String },
    /// It stopped answering while it ran drills.
    StoppedAnswering,
}

pub struct FleetOutcome<T> {
    /// In the order of the sites given.
    pub sites: Vec<SiteOutcome<T>>,
    pub lost: Vec<LostEngine>,
    /// Set when a signal stopped the fleet: sites not started are not drilled.
    pub interrupted: Option<&'static str>,
}

/// A drill under way.
#[derive(Clone)]
struct Started {
    site: usize,
    engine: usize,
    run: RunId,
    need: (usize, u64),
    moved_from: Vec<String>,
}

/// A drill that ended: `None` when its engine was lost under it.
type Finished<T> = (Started, Option<T>);

/// Runs the drills of `sites` (indices into `all`) on `specs`.
pub async fn run<D: Drill>(
    specs: &[EngineSpec],
    all: &[Site],
    sites: &[usize],
    max_parallel: usize,
    drill: Arc<D>,
    events: &Events,
) -> Result<FleetOutcome<D::Done>> {
    let images: BTreeSet<String> = sites
        .iter()
        .map(|&s| all[s].plan.target.image.clone())
        .collect();
    let (pool, lost) = contact(specs, &images, events).await;
    let mut r = Runner::new(specs.to_vec(), pool, sites, max_parallel, lost);
    let interrupted = r.drive(all, &drill, events).await?;
    if let Some(why) = interrupted {
        r.stop_all(&drill, why).await;
    }
    r.ends
        .sort_by_key(|o| sites.iter().position(|&s| s == o.site));
    Ok(FleetOutcome {
        sites: r.ends,
        lost: r.lost,
        interrupted,
    })
}

struct Runner<D: Drill> {
    specs: Vec<EngineSpec>,
    pool: Contacted,
    loads: Vec<Load>,
    /// Sites waiting for an engine, with the engines they were moved from.
    queue: VecDeque<(usize, Vec<String>)>,
    running: JoinSet<Finished<D::Tried>>,
    /// The drills under way, to stop and clean up after a signal.
    in_flight: Vec<Started>,
    ends: Vec<SiteOutcome<D::Done>>,
    lost: Vec<LostEngine>,
    max_parallel: usize,
}

impl<D: Drill> Runner<D> {
    fn new(
        specs: Vec<EngineSpec>,
        pool: Contacted,
        sites: &[usize],
        max_parallel: usize,
        lost: Vec<LostEngine>,
    ) -> Self {
        Runner {
            loads: pool
                .dockers
                .iter()
                .map(|d| Load {
                    lost: d.is_none(),
                    ..Load::default()
                })
                .collect(),
            specs,
            pool,
            queue: sites.iter().map(|&s| (s, Vec::new())).collect(),
            running: JoinSet::new(),
            in_flight: Vec::new(),
            ends: Vec::new(),
            lost,
            max_parallel: max_parallel.max(1),
        }
    }

    /// Starts what fits and settles what ends until nothing is left; returns
    /// the signal that stopped it early, if one did.
    async fn drive(
        &mut self,
        all: &[Site],
        drill: &Arc<D>,
        events: &Events,
    ) -> Result<Option<&'static str>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut sigterm = signal(SignalKind::terminate())
            .map_err(|e| Error::Environment(format!("cannot watch for SIGTERM: {e}")))?;
        loop {
            self.start_what_fits(all, drill, events);
            let joined = tokio::select! {
                j = self.running.join_next() => j,
                _ = tokio::signal::ctrl_c() => return Ok(Some("Ctrl-C")),
                _ = sigterm.recv() => return Ok(Some("SIGTERM")),
            };
            let Some(joined) = joined else {
                return Ok(None);
            };
            // A drill task that panicked cannot be told apart here; the rest
            // of the fleet goes on.
            if let Ok((started, tried)) = joined {
                self.finished(started, tried, drill, events).await;
            }
        }
    }

    /// Starts queued drills while places are free; a site no engine can
    /// take ends now, one whose engines are busy waits for a drill to end.
    fn start_what_fits(&mut self, all: &[Site], drill: &Arc<D>, events: &Events) {
        let mut waiting = VecDeque::new();
        while let Some((site, moved_from)) = self.queue.pop_front() {
            if self.running.len() >= self.max_parallel {
                waiting.push_back((site, moved_from));
                continue;
            }
            let (sandboxes, memory_bytes) = need(&all[site]);
            let n = Need {
                sandboxes,
                memory_bytes,
                require: &all[site].require,
                image: &all[site].plan.target.image,
            };
            match place(&self.specs, &self.loads, &self.pool.images, &n) {
                Placement::On(engine) => {
                    let at = (site, engine, moved_from);
                    self.start(
                        at,
                        (sandboxes, memory_bytes),
                        drill,
                        events,
                        &all[site].name,
                    )
                }
                Placement::Wait => waiting.push_back((site, moved_from)),
                Placement::Nowhere(why) => self.ends.push(SiteOutcome {
                    site,
                    moved_from,
                    end: SiteEnd::NoEngine(why),
                }),
            }
        }
        self.queue = waiting;
    }

    fn start(
        &mut self,
        (site, engine, moved_from): (usize, usize, Vec<String>),
        need: (usize, u64),
        drill: &Arc<D>,
        events: &Events,
        name: &str,
    ) {
        let Some(docker) = self.pool.dockers[engine].clone() else {
            return;
        };
        self.loads[engine].sandboxes += need.0;
        self.loads[engine].memory_bytes += need.1;
        let spec = self.specs[engine].clone();
        events.event(Event::note(format!(
            "{name}: drilling on engine {}",
            spec.name
        )));
        let run = match spec.host.shares_this_host() {
            true => RunId::new(),
            false => RunId::new().relayed(),
        };
        let started = Started {
            site,
            engine,
            run: run.clone(),
            need,
            moved_from,
        };
        self.in_flight.push(started.clone());
        let drill = drill.clone();
        self.running.spawn(async move {
            let attempt = drill
                .attempt(site, &spec, docker.clone(), run.clone())
                .await;
            // Whatever happened, the run's containers go (an engine that is
            // gone keeps them until it is back: `lost` names the run).
            let _ = gc::cleanup_run(&docker, &run).await;
            let lost = attempt.check_engine && !crate::sandbox::docker::answers(&docker).await;
            (started, (!lost).then_some(attempt.done))
        });
    }
}

impl<D: Drill> Runner<D> {
    /// A drill ended: its places are free again; it is settled, or, when its
    /// engine was lost under it, queued again for another engine.
    async fn finished(
        &mut self,
        s: Started,
        tried: Option<D::Tried>,
        drill: &Arc<D>,
        events: &Events,
    ) {
        self.in_flight.retain(|f| f.run.id != s.run.id);
        let load = &mut self.loads[s.engine];
        load.sandboxes -= s.need.0;
        load.memory_bytes -= s.need.1;
        let spec = &self.specs[s.engine];
        if let Some(tried) = tried {
            let done = drill.settle(s.site, spec, tried).await;
            let engine = spec.name.clone();
            self.ends.push(SiteOutcome {
                site: s.site,
                moved_from: s.moved_from,
                end: SiteEnd::Ran { engine, done },
            });
            return;
        }
        let name = spec.name.clone();
        self.engine_lost(s.engine, &s.run, events);
        let mut moved_from = s.moved_from;
        moved_from.push(name);
        self.queue.push_front((s.site, moved_from));
    }

    /// Marks an engine lost (once) and notes the run left on it.
    fn engine_lost(&mut self, engine: usize, run: &RunId, events: &Events) {
        let spec = &self.specs[engine];
        if !self.loads[engine].lost {
            self.loads[engine].lost = true;
            events.event(Event::note(format!(
                "engine {} stopped answering: its drills move to the other engines",
                spec.name
            )));
            self.lost.push(LostEngine {
                name: spec.name.clone(),
                host: spec.host.url(),
                why: Lost::StoppedAnswering,
                runs_left: Vec::new(),
            });
        }
        if let Some(l) = self.lost.iter_mut().find(|l| l.name == spec.name) {
            l.runs_left.push(run.id.clone());
        }
    }

    /// After a signal: every drill under way is stopped, what it created is
    /// removed, and each leaves a report that says it was interrupted.
    async fn stop_all(&mut self, drill: &Arc<D>, why: &'static str) {
        self.running.abort_all();
        while self.running.join_next().await.is_some() {}
        for s in std::mem::take(&mut self.in_flight) {
            if let Some(docker) = &self.pool.dockers[s.engine] {
                let _ = gc::cleanup_run(docker, &s.run).await;
            }
            let tried = drill.stopped(s.site, &s.run, Error::Interrupted(why));
            let spec = &self.specs[s.engine];
            let done = drill.settle(s.site, spec, tried).await;
            self.ends.push(SiteOutcome {
                site: s.site,
                moved_from: s.moved_from,
                end: SiteEnd::Ran {
                    engine: spec.name.clone(),
                    done,
                },
            });
        }
    }
}

/// Places and memory one drill holds: a rehearsal that plays the clinic's
/// own server (ransomware, lost server) runs a second container beside the
/// sandbox.
pub fn need(site: &Site) -> (usize, u64) {
    use crate::scenario::Fault;
    let plays_production = matches!(
        site.plan.simulate,
        Some(Fault::Ransomware) | Some(Fault::LostServer { .. })
    );
    let places = if plays_production { 2 } else { 1 };
    (places, site.memory_bytes() * places as u64)
}

/// Connects to every engine at once, sweeps what killed runs left on it, and
/// notes which of `images` it holds; one that does not answer is lost from
/// the start.
async fn contact(
    specs: &[EngineSpec],
    images: &BTreeSet<String>,
    events: &Events,
) -> (Contacted, Vec<LostEngine>) {
    let tries = specs
        .iter()
        .map(|s| async move { (s, prepare(s, images).await) });
    let mut pool = Contacted {
        dockers: Vec::new(),
        images: Vec::new(),
    };
    let mut lost = Vec::new();
    for (spec, result) in futures_util::future::join_all(tries).await {
        let (docker, held) = match result {
            Ok((d, held)) => (Some(d), held),
            Err(e) => {
                events.event(Event::note(e.to_string()));
                lost.push(LostEngine {
                    name: spec.name.clone(),
                    host: spec.host.url(),
                    why: Lost::Unreachable {
                        error: e.to_string(),
                    },
                    runs_left: Vec::new(),
                });
                (None, BTreeSet::new())
            }
        };
        pool.dockers.push(docker);
        pool.images.push(held);
    }
    (pool, lost)
}

async fn prepare(
    spec: &EngineSpec,
    images: &BTreeSet<String>,
) -> Result<(Docker, BTreeSet<String>)> {
    let docker = engines::connect(spec).await?;
    // Leftovers of killed runs go first, as `run` sweeps them.
    let _ = gc::gc(&docker, false, None).await;
    let mut held = BTreeSet::new();
    for image in images {
        if crate::sandbox::images::image_present(&docker, image).await? {
            held.insert(image.clone());
        }
    }
    Ok((docker, held))
}
