//! `fleet schedule install`: one timer for a whole fleet. It runs `fleet run`
//! daily by default; the fleet itself decides which sites are due, so forty
//! clinics are one service and one timer, not forty.

use super::private::Written;
use super::units::{At, Every, Job};
use super::{name, visible, written};
use crate::error::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FleetRequest {
    pub fleet: PathBuf,
    pub every: Every,
    pub at: At,
    pub name: Option<String>,
    /// `--history`; else the fleet file's, else the state folder's.
    pub history: Option<PathBuf>,
}

/// Checks the fleet as the service will see it: the file, every site's
/// scenario, backups and keys, and where the runs write.
pub fn plan_fleet(r: &FleetRequest, program: &Path) -> Result<Job> {
    let file = visible(&r.fleet, "fleet file")?;
    let fleet = crate::scenario::fleet::load_fleet(&file)?;
    for site in &fleet.sites {
        let p = &site.plan;
        visible(&p.file, "scenario")?;
        for location in [&p.backups.location, &p.backups.offsite]
            .into_iter()
            .flatten()
            .filter_map(|l| l.folder())
        {
            visible(location, "backup location")?;
        }
        for key in &p.keys.identities {
            visible(key, "identity file")?;
        }
        crate::plain_text::refuse_in_drill(&p.file, &p.name, p.site_name())?;
    }
    let history = crate::fleet::history_of(r.history.clone(), &fleet);
    let reports = fleet
        .report_dir
        .clone()
        .unwrap_or_else(crate::state::reports_dir);
    let mut paths = vec![
        (Written::History, history.as_path()),
        (Written::Reports, reports.as_path()),
    ];
    let metrics = fleet.sites.iter().filter_map(|s| s.plan.metrics.as_deref());
    paths.extend(metrics.map(|m| (Written::Metrics, m)));
    let writes = super::folders_of(&paths)?;
    let history = written(Written::History, &history)?;
    let mut command: Vec<String> = vec![program.display().to_string(), "--quiet".into()];
    command.extend(["fleet", "run"].map(String::from));
    command.push(file.display().to_string());
    command.extend(["--history".into(), history.display().to_string()]);
    Ok(Job {
        name: name(r.name.as_deref(), &file)?,
        scenario: file,
        every: r.every,
        at: r.at,
        command,
        writes,
    })
}
