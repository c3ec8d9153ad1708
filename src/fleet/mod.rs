//! Many clinics on a pool of Docker engines: which sites are due (`due`),
//! where each drill goes (`place`), and the runner that drives them (`runner`)
//! with at most so many at once, moving a drill whose engine stopped
//! answering to another engine. Each site's drill is the same as `run`'s.
//! `status` and `status_html` tell how every site stands, from the history.

pub mod due;
pub mod engines;
pub mod place;
pub mod runner;
pub mod status;
pub mod status_html;

use crate::error::Result;
use crate::ledger::{chain::Head, Ledger, Record};
use std::path::{Path, PathBuf};

/// The fleet's history, verified: None when there is none yet (a fleet
/// never drilled). A history whose chain is broken is refused, as
/// `evidence` refuses it: what stands cannot be told from changed records.
/// The history a fleet's commands read and write: `--history` (or
/// RESTORE_DRILL_HISTORY, as everywhere), else the fleet file's `history`,
/// else the state folder's.
pub fn history_of(given: Option<PathBuf>, fleet: &crate::scenario::fleet::Fleet) -> PathBuf {
    given
        .or_else(|| fleet.history.clone())
        .unwrap_or_else(crate::ledger::default_path)
}

pub async fn verified_history(path: &Path) -> Result<Option<(Head, Vec<Record>)>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut ledger = Ledger::open(path).await?;
    ledger.verified().await?.into_intact(path).map(Some)
}
