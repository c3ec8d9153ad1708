//! restore-drill: proves a clinic's backups restore, and measures how fast and
//! how completely. The data path, in module order: `scenario` (a TOML file
//! into a validated plan), `keys` and `pipeline` (the layers of a backup
//! file), `catalog` (backups at rest and their manifests), `faults` (failure
//! rehearsals on scratch copies), `sandbox` (throwaway containers), `engine`
//! (everything that differs between database engines, behind one trait),
//! `restore` (the stream into the engine's restore tool), `checks`, `drill`
//! (one restore, checked and judged: `unusable`, `measure`), `report`; after
//! the report, `ledger`, `evidence`, `notify` and `export`; beside them
//! `backup` and `workload` (making backups and the synthetic clinic),
//! `compare` (one backup restored into several targets before an upgrade),
//! `schedule`, `inspect`, `doctor`, `state` (where the history and reports
//! go by default), `words` (counts and sizes in messages), and `redact` (the
//! one place outward text is built). `cli` is the only part that prints.

pub mod backup;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod compare;
pub mod doctor;
pub mod drill;
pub mod engine;
pub mod error;
pub mod events;
pub mod evidence;
pub mod export;
pub mod faults;
pub mod fleet;
pub mod inspect;
pub mod keys;
pub mod ledger;
pub mod measure;
pub mod notify;
pub mod pipeline;
pub mod plain_text;
pub mod protection;
pub mod redact;
pub mod report;
pub mod restore;
pub mod sandbox;
pub mod scenario;
pub mod schedule;
pub mod state;
pub mod unusable;
pub mod words;
pub mod workload;

pub use error::{Error, ErrorKind, Result};
