//! Driving a fleet's drills: each due site placed on an engine with room, at
//! most `max_parallel` at once. A drill that ends with an environment error
//! has its engine pinged; an engine that no longer answers is lost, takes no
//! more drills, and that drill starts again on another engine. Every drill
//! is its own run (its own run id and labels), and what a run created is
//! removed when it ends, on whichever engine it ran.
//!
//! The runner knows nothing of reports or histories: the caller's `Drill`
//! runs one site's drill on one engine and says whether it ended in an
//! environment error, which is all the runner needs to decide.

use super::engines;
use super::place::{place, Load, Need, Placement};
use crate::events::{Event, Events};
use crate::sandbox::{gc, RunId};
use crate::scenario::fleet::{EngineSpec, Site};
use bollard::Docker;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::task::JoinSet;

/// One attempt of a site's drill, as the caller ran it.
pub struct Attempt<T> {
    pub done: T,
    /// The drill ended in an environment error: perhaps its engine is gone.
    pub environment_error: bool,
}

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What runs one site's drill on one engine (the CLI's `run`): `attempt`
/// drills and writes the report; `settle` records it in the history and
/// alerts, only for the attempt that counts (not one whose engine was lost).
pub trait Drill: Send + Sync + 'static {
    type Tried: Send + 'static;
    type Done: Send + 'static;
    fn attempt(
        &self,
        site: usize,
        engine: &EngineSpec,
        docker: Docker,
        run: RunId,
    ) -> Boxed<Attempt<Self::Tried>>;
    /// Runs in the runner's own loop, one site at a time: the history's
    /// appends and the alerts never race.
    fn settle<'a>(
        &'a self,
        site: usize,
        engine: &'a EngineSpec,
        tried: Self::Tried,
    ) -> Pin<Box<dyn Future<Output = Self::Done> + 'a>>;
}

/// An engine of the pool, once contacted.
struct Engine {
    spec: EngineSpec,
    docker: Option<Docker>,
}

/// How one site ended.
pub enum SiteEnd<T> {
    /// Its drill ran to an end on `engine` (whatever the verdict).
    Ran { engine: String, done: T },
    /// No engine that answers can take it (they were all lost).
    NoEngine,
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
    pub why: String,
    /// Runs that were on it when it was lost: their containers may be left
    /// there until it comes back (`restore-drill fleet gc`).
    pub runs_left: Vec<String>,
}

pub struct FleetOutcome<T> {
    /// In the order of the sites given.
    pub sites: Vec<SiteOutcome<T>>,
    pub lost: Vec<LostEngine>,
}

/// A drill under way.
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
) -> FleetOutcome<D::Done> {
    let (engines, mut lost) = contact(specs).await;
    let mut r = Runner {
        loads: engines
            .iter()
            .map(|e| Load {
                lost: e.docker.is_none(),
                ..Load::default()
            })
            .collect(),
        engines,
        queue: sites.iter().map(|&s| (s, Vec::new())).collect(),
        running: JoinSet::new(),
        ends: Vec::new(),
        max_parallel: max_parallel.max(1),
    };
    loop {
        r.start_what_fits(all, drill.clone(), events);
        let Some(joined) = r.running.join_next().await else {
            break;
        };
        let Ok((started, done)) = joined else {
            // A drill task that panicked: its site cannot be told apart
            // here, so the panic itself is the bug to report.
            continue;
        };
        let done = match done {
            Some(tried) => {
                let spec = &r.engines[started.engine].spec;
                Some(drill.settle(started.site, spec, tried).await)
            }
            None => None,
        };
        r.finished(started, done, &mut lost, events);
    }
    r.ends
        .sort_by_key(|o| sites.iter().position(|&s| s == o.site));
    FleetOutcome {
        sites: r.ends,
        lost,
    }
}

struct Runner<D: Drill> {
    engines: Vec<Engine>,
    loads: Vec<Load>,
    /// Sites waiting for an engine, with the engines they were moved from.
    queue: VecDeque<(usize, Vec<String>)>,
    running: JoinSet<Finished<D::Tried>>,
    ends: Vec<SiteOutcome<D::Done>>,
    max_parallel: usize,
}

impl<D: Drill> Runner<D> {
    /// Starts queued drills while places are free; a site no engine can
    /// take ends now, one whose engines are busy waits for a drill to end.
    fn start_what_fits(&mut self, all: &[Site], drill: Arc<D>, events: &Events) {
        let specs: Vec<EngineSpec> = self.engines.iter().map(|e| e.spec.clone()).collect();
        let mut waiting = VecDeque::new();
        while let Some((site, moved_from)) = self.queue.pop_front() {
            if self.running.len() >= self.max_parallel {
                waiting.push_back((site, moved_from));
                continue;
            }
            let need_of = need(&all[site]);
            let n = Need {
                memory_bytes: need_of.1,
                require: &all[site].require,
            };
            match place(&specs, &self.loads, &n) {
                Placement::On(engine) => {
                    let at = (site, engine, moved_from);
                    self.start(at, need_of, drill.clone(), events, &all[site].name)
                }
                Placement::Wait => waiting.push_back((site, moved_from)),
                Placement::Nowhere => self.ends.push(SiteOutcome {
                    site,
                    moved_from,
                    end: SiteEnd::NoEngine,
                }),
            }
        }
        self.queue = waiting;
        if self.running.is_empty() {
            // Nothing runs, so nothing will free a place: what still waits
            // can never start (it needs more than an empty engine holds).
            for (site, moved_from) in self.queue.drain(..) {
                self.ends.push(SiteOutcome {
                    site,
                    moved_from,
                    end: SiteEnd::NoEngine,
                });
            }
        }
    }

    fn start(
        &mut self,
        (site, engine, moved_from): (usize, usize, Vec<String>),
        need: (usize, u64),
        drill: Arc<D>,
        events: &Events,
        name: &str,
    ) {
        let Some(docker) = self.engines[engine].docker.clone() else {
            return;
        };
        self.loads[engine].sandboxes += need.0;
        self.loads[engine].memory_bytes += need.1;
        let spec = self.engines[engine].spec.clone();
        events.event(Event::note(format!(
            "{name}: drilling on engine {}",
            spec.name
        )));
        let run = RunId::new();
        let started = Started {
            site,
            engine,
            run: run.clone(),
            need,
            moved_from,
        };
        self.running.spawn(async move {
            let attempt = drill
                .attempt(site, &spec, docker.clone(), run.clone())
                .await;
            // Whatever happened, the run's containers go (an engine that is
            // gone keeps them until it is back: `lost` names the run).
            let _ = gc::cleanup_run(&docker, &run).await;
            let lost = attempt.environment_error && !engines::answers(&docker).await;
            (started, (!lost).then_some(attempt.done))
        });
    }
}

impl<D: Drill> Runner<D> {
    /// A drill ended: its places are free again; one whose engine was lost
    /// under it is queued again for another engine.
    fn finished(
        &mut self,
        s: Started,
        done: Option<D::Done>,
        lost: &mut Vec<LostEngine>,
        events: &Events,
    ) {
        let load = &mut self.loads[s.engine];
        load.sandboxes -= s.need.0;
        load.memory_bytes -= s.need.1;
        let engine = &self.engines[s.engine];
        let name = engine.spec.name.clone();
        if let Some(done) = done {
            self.ends.push(SiteOutcome {
                site: s.site,
                moved_from: s.moved_from,
                end: SiteEnd::Ran { engine: name, done },
            });
            return;
        }
        if !self.loads[s.engine].lost {
            self.loads[s.engine].lost = true;
            events.event(Event::note(format!(
                "engine {name} stopped answering: its drills move to the other engines"
            )));
            lost.push(LostEngine {
                name: name.clone(),
                host: engine.spec.host.url(),
                why: "stopped answering during a drill".into(),
                runs_left: Vec::new(),
            });
        }
        if let Some(l) = lost.iter_mut().find(|l| l.name == name) {
            l.runs_left.push(s.run.id.clone());
        }
        let mut moved_from = s.moved_from;
        moved_from.push(name);
        self.queue.push_front((s.site, moved_from));
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

/// Connects to every engine at once; one that does not answer is lost from
/// the start.
async fn contact(specs: &[EngineSpec]) -> (Vec<Engine>, Vec<LostEngine>) {
    let tries = specs
        .iter()
        .map(|s| async move { (s, engines::connect(s).await) });
    let mut engines = Vec::new();
    let mut lost = Vec::new();
    for (spec, result) in futures_util::future::join_all(tries).await {
        let docker = match result {
            Ok(d) => Some(d),
            Err(e) => {
                lost.push(LostEngine {
                    name: spec.name.clone(),
                    host: spec.host.url(),
                    why: e.to_string(),
                    runs_left: Vec::new(),
                });
                None
            }
        };
        engines.push(Engine {
            spec: spec.clone(),
            docker,
        });
    }
    (engines, lost)
}
