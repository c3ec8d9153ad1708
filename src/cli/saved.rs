//! What a drill or a comparison leaves on disk, and where one that never
//! started stopped: shared by `run`, `compare` and what follows a run
//! (`after`), below all three.

use super::Output;
use crate::error::{Error, Result};
use crate::report::Report;
use std::path::{Path, PathBuf};

/// What a run produced: the output, the report, its JSON exactly as written,
/// and where.
pub(super) struct Ran {
    pub(super) out: Output,
    pub(super) report: Report,
    pub(super) report_json: String,
    pub(super) report_path: PathBuf,
}

/// Where a run that never reached its work stopped: interrupted, or at
/// its start (Docker unreachable).
pub(super) fn stopped_in(e: &Error) -> &'static str {
    match e {
        Error::Interrupted(_) => "interrupted",
        _ => "start",
    }
}

/// Writes a report's JSON as `name` in `dir` and returns its path with the
/// summary a person reads, ending on where the report is.
pub(super) fn save_report(
    dir: &Path,
    name: &str,
    json: &str,
    mut summary: String,
) -> Result<(PathBuf, String)> {
    create_dir(dir)?;
    let path = crate::catalog::atomic::write_file(dir, name, json.as_bytes())?;
    summary.push_str(&format!("report   {}", path.display()));
    Ok((path, summary))
}

pub(super) fn create_dir(dir: &Path) -> Result<()> {
    crate::catalog::atomic::create_dir(
        dir,
        crate::catalog::atomic::DirMode::Shared,
        "report directory",
        "--report-dir (or the scenario's [report] dir)",
    )
}
