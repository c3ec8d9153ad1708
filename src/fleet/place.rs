//! Placing a drill: which engine has room for it now. Pure: the runner
//! keeps the engines' loads and asks; nothing here waits or connects.

use crate::scenario::fleet::EngineSpec;
use std::collections::{BTreeMap, BTreeSet};

/// What an engine holds now, as the runner counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Load {
    /// Sandboxes of this fleet's drills running or starting on it.
    pub sandboxes: usize,
    /// Their memory limits, together.
    pub memory_bytes: u64,
    /// False once the engine stopped answering: nothing more goes there.
    pub lost: bool,
}

/// What one drill needs of an engine.
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    pub sandboxes: usize,
    pub memory_bytes: u64,
    pub require: &'a BTreeMap<String, String>,
    /// The image the sandbox starts from: an engine without it cannot run it.
    pub image: &'a str,
}

/// Where a drill can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On this engine (its index), now.
    On(usize),
    /// Engines that could take it are full: after a drill ends, ask again.
    Wait,
    /// No engine can take it, and why.
    Nowhere(Nowhere),
}

/// Why no engine can take a drill, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nowhere {
    /// Engines that carry its labels and hold its memory were all lost.
    AllLost,
    /// Those that answer lack its image.
    NoImage,
}

/// Whether `e` could ever run the drill: its labels, and its memory when empty.
pub fn suits(e: &EngineSpec, need: &Need) -> bool {
    need.require.iter().all(|(k, v)| e.labels.get(k) == Some(v))
        && e.memory_bytes >= need.memory_bytes
        && e.sandboxes >= need.sandboxes
}

/// Whether `e` has room for the drill beside what it holds now.
fn has_room(e: &EngineSpec, load: &Load, need: &Need) -> bool {
    load.sandboxes + need.sandboxes <= e.sandboxes
        && load.memory_bytes + need.memory_bytes <= e.memory_bytes
}

/// The suitable engine with room and the most free sandbox places (then
/// the most free memory, then the first in the file): drills spread out
/// rather than stacking on the first engine.
/// `images`: the images each engine holds.
pub fn place(
    engines: &[EngineSpec],
    loads: &[Load],
    images: &[BTreeSet<String>],
    need: &Need,
) -> Placement {
    let answering = || {
        engines
            .iter()
            .zip(loads)
            .enumerate()
            .filter(|(_, (e, l))| !l.lost && suits(e, need))
    };
    let alive = || answering().filter(|(i, _)| images[*i].contains(need.image));
    let best = alive()
        .filter(|(_, (e, l))| has_room(e, l, need))
        .max_by_key(|(i, (e, l))| {
            let free_places = e.sandboxes - l.sandboxes;
            let free_memory = e.memory_bytes - l.memory_bytes;
            (free_places, free_memory, std::cmp::Reverse(*i))
        });
    match best {
        Some((i, _)) => Placement::On(i),
        None if alive().next().is_some() => Placement::Wait,
        None if answering().next().is_some() => Placement::Nowhere(Nowhere::NoImage),
        None => Placement::Nowhere(Nowhere::AllLost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::fleet::EngineHost;

    fn engine(name: &str, sandboxes: usize, gib: u64, labels: &[(&str, &str)]) -> EngineSpec {
        EngineSpec {
            name: name.into(),
            host: EngineHost::Unix(format!("{name}.sock").into()),
            sandboxes,
            memory_bytes: gib << 30,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            origin: "fleet.toml:1".into(),
        }
    }

    const GIB: u64 = 1 << 30;

    fn need(memory_bytes: u64, require: &BTreeMap<String, String>) -> Need<'_> {
        Need {
            sandboxes: 1,
            memory_bytes,
            require,
            image: "pg",
        }
    }

    fn images(n: usize) -> Vec<BTreeSet<String>> {
        vec![["pg".to_string()].into(); n]
    }

    #[test]
    fn spreads_drills_over_engines_with_room() {
        let engines = [engine("a", 2, 8, &[]), engine("b", 2, 8, &[])];
        let none = BTreeMap::new();
        let mut loads = [Load::default(); 2];
        let mut placed = Vec::new();
        for _ in 0..4 {
            let Placement::On(i) = place(
                &engines,
                &loads,
                &images(engines.len()),
                &need(2 * GIB, &none),
            ) else {
                panic!("expected room for four drills");
            };
            loads[i].sandboxes += 1;
            loads[i].memory_bytes += 2 * GIB;
            placed.push(i);
        }
        assert_eq!(placed, [0, 1, 0, 1]);
        assert_eq!(
            place(&engines, &loads, &images(engines.len()), &need(GIB, &none)),
            Placement::Wait
        );
    }

    #[test]
    fn memory_limits_a_full_engine_before_its_places_do() {
        let engines = [engine("a", 4, 4, &[])];
        let none = BTreeMap::new();
        let loads = [Load {
            sandboxes: 1,
            memory_bytes: 3 * GIB,
            lost: false,
        }];
        assert_eq!(
            place(
                &engines,
                &loads,
                &images(engines.len()),
                &need(2 * GIB, &none)
            ),
            Placement::Wait
        );
        assert_eq!(
            place(&engines, &loads, &images(engines.len()), &need(GIB, &none)),
            Placement::On(0)
        );
    }

    #[test]
    fn a_lost_engine_takes_nothing_and_labels_are_required() {
        let engines = [
            engine("a", 2, 8, &[("region", "east")]),
            engine("b", 2, 8, &[]),
        ];
        let east: BTreeMap<_, _> = [("region".to_string(), "east".to_string())].into();
        let mut loads = [Load::default(); 2];
        assert_eq!(
            place(&engines, &loads, &images(engines.len()), &need(GIB, &east)),
            Placement::On(0)
        );
        loads[0].lost = true;
        assert_eq!(
            place(&engines, &loads, &images(engines.len()), &need(GIB, &east)),
            Placement::Nowhere(Nowhere::AllLost)
        );
        let none = BTreeMap::new();
        assert_eq!(
            place(&engines, &loads, &images(engines.len()), &need(GIB, &none)),
            Placement::On(1)
        );
        assert_eq!(
            place(
                &engines,
                &loads,
                &images(engines.len()),
                &need(16 * GIB, &none)
            ),
            Placement::Nowhere(Nowhere::AllLost)
        );
        let without = vec![BTreeSet::new(); 2];
        assert_eq!(
            place(&engines, &loads, &without, &need(GIB, &none)),
            Placement::Nowhere(Nowhere::NoImage)
        );
    }
}
