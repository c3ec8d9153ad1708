//! `restore-drill fleet status`: how every clinic of a fleet file stands,
//! from the fleet's one history: a table worst first, its JSON, and with
//! `--html` a page to open or send. Exit 0 when every site is current and
//! its last drill passed, 1 when any is stale or failing (as `doctor`'s
//! cadence warning), so a monitoring check can run it as it is.

use super::history::clip;
use super::{exit, Output};
use crate::error::Result;
use crate::fleet::status::{self, FleetStatus, SiteStatus, Terms};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The fleet file (TOML): the sites whose status is shown.
    fleet: PathBuf,
    /// The drill history (default: the fleet file's `history`, else as for `run`; RESTORE_DRILL_HISTORY, like this flag, wins over the file's).
    #[arg(long = "history", env = "RESTORE_DRILL_HISTORY")]
    history: Option<PathBuf>,
    /// Also write the status as a self-contained HTML page to FILE
    /// (replaced atomically: a page open in a browser is never half-written).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub async fn status(a: StatusArgs) -> Result<Output> {
    let fleet = crate::scenario::fleet::load_fleet(&a.fleet)?;
    let history = crate::fleet::history_of(a.history, &fleet);
    let read = crate::fleet::verified_history(&history).await?;
    let (head, records) = match &read {
        Some((h, r)) => (Some(h), r.as_slice()),
        None => (None, &[][..]),
    };
    let s = status::status(
        &fleet.name,
        &Terms::of(&fleet),
        records,
        head,
        chrono::Utc::now(),
    );
    if let Some(page) = &a.html {
        let html = crate::fleet::status_html::render(&s);
        crate::catalog::atomic::replace_file(page, html.as_bytes(), 0o644)?;
    }
    Ok(output(&s, &history, a.html.as_deref()))
}

fn output(s: &FleetStatus, history: &Path, page: Option<&Path>) -> Output {
    let mut text = table(s);
    text.push_str(&tail(s, history));
    if let Some(p) = page {
        text.push_str(&format!("\npage: {}", p.display()));
    }
    let mut json = serde_json::to_value(s).unwrap_or_default();
    json["history"] = serde_json::json!(history);
    json["html"] = serde_json::json!(page);
    let mut out = Output::new(text, json);
    if !s.all_ok() {
        out.code = exit::FAILED;
    }
    out
}

const SITE: usize = 24;

/// One line per site, within 100 columns: the last drill's outcome is the
/// status's (FAILING) and the last failure's; the JSON and the page say it
/// on its own.
fn table(s: &FleetStatus) -> String {
    let mut text = format!(
        "{:<12} {:<SITE$} {:<10} {:>7}  {:<7} {:<7} {}\n",
        "status", "site", "last pass", "age", "RTO", "RPO", "last failure"
    );
    for site in &s.sites {
        text.push_str(&line(site));
    }
    text
}

fn line(s: &SiteStatus) -> String {
    let pass = s
        .last_pass
        .map_or("never".into(), |t| t.format("%Y-%m-%d").to_string());
    let age = match s.age_days {
        Some(a) => format!("{:.0}/{} d", a.floor(), s.cadence_days),
        None => format!("-/{} d", s.cadence_days),
    };
    let failure = s.last_failure.as_ref().map_or("none".into(), |f| {
        format!("{} {}", f.outcome.word(), f.at.format("%Y-%m-%d"))
    });
    format!(
        "{:<12} {:<SITE$} {:<10} {:>7}  {:<7} {:<7} {}\n",
        s.word(),
        clip(&s.site, SITE),
        pass,
        age,
        s.rto.word(),
        s.rpo.word(),
        failure
    )
}

/// The counts, the sites the fleet file no longer names, and the history read.
fn tail(s: &FleetStatus, history: &Path) -> String {
    let stale = s.count("NEVER PASSED") + s.count("OVERDUE");
    let mut text = format!(
        "fleet {}: {}: {stale} stale (never passed or overdue), {} failing, {} current\n",
        s.fleet,
        crate::words::plural(s.sites.len(), "site", "sites"),
        s.count("FAILING"),
        s.count("current")
    );
    for u in &s.unlisted {
        text.push_str(&format!(
            "not in the fleet file: {} ({}, last {}): renamed or no longer drilled?\n",
            u.site,
            crate::words::plural(u.records, "record", "records"),
            u.last_record.format("%Y-%m-%d")
        ));
    }
    match &s.head {
        Some(h) => text.push_str(&format!(
            "history {}: {}, chain intact, head {} {}",
            history.display(),
            crate::words::plural(h.records, "record", "records"),
            h.id.map_or("none".into(), |id| format!("#{id}")),
            h.short()
        )),
        None => text.push_str(&format!(
            "history {}: none yet, so no site has been drilled",
            history.display()
        )),
    }
    text
}
