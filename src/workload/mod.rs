//! The synthetic clinic: a deterministic clinic generated for fixtures, tests
//! and benchmarks, in any engine (the engine's parts: `Engine::demo_clinic`).

pub mod generate;
