//! The provider's own summary (`evidence --fleet FLEET`): every clinic of a
//! fleet file by name and status alone (stale or current, the last pass's
//! day, the last drill's outcome, RTO and RPO met or not), signed like a
//! pack. What a provider shows its own auditor or insurer about the fleet
//! without handing over any clinic's details: no backup, check, scenario,
//! host, contact or figure of a site is in the model, so none can reach a
//! file. Each clinic's own pack is `evidence --site`.

use super::pack::{LedgerHead, VerifyStep};
use crate::error::{Error, Result};
use crate::fleet::status::{FleetStatus, Judged, Outcome, StandingKind};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// 1: the first summary format. Named `pack_version` as a pack's is, so
/// `history verify --against` reads the head it carries.
pub const SUMMARY_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetSummary {
    pub pack_version: u32,
    /// Always `fleet-summary`: not one clinic's evidence pack.
    pub pack: String,
    pub tool: String,
    pub generated_at: DateTime<Utc>,
    /// The provider, as the fleet file names it.
    pub provider: String,
    /// Worst first, as `fleet status` orders them.
    pub sites: Vec<SiteLine>,
    /// Sites the history holds that the fleet file no longer names.
    pub not_in_fleet_file: Vec<String>,
    /// The verified history the summary was made from.
    pub ledger: LedgerHead,
    pub how_to_verify: Vec<VerifyStep>,
}

/// A site's name and status, and nothing else of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteLine {
    pub site: String,
    /// `NEVER PASSED`, `OVERDUE`, `FAILING` or `current`.
    pub status: String,
    pub standing: StandingKind,
    pub last_pass: Option<NaiveDate>,
    pub last_drill: Option<Outcome>,
    pub rto: Judged,
    pub rpo: Judged,
}

/// The summary of a fleet's status: only names and statuses are taken.
pub fn summary(s: &FleetStatus) -> FleetSummary {
    FleetSummary {
        pack_version: SUMMARY_VERSION,
        pack: "fleet-summary".into(),
        tool: format!("restore-drill {}", env!("CARGO_PKG_VERSION")),
        generated_at: s.generated_at,
        provider: s.fleet.clone(),
        sites: s
            .sites
            .iter()
            .map(|x| SiteLine {
                site: x.site.clone(),
                status: x.word().to_string(),
                standing: x.standing,
                last_pass: x.last_pass.map(|t| t.date_naive()),
                last_drill: x.last_drill.as_ref().map(|d| d.outcome),
                rto: x.rto.judged,
                rpo: x.rpo.judged,
            })
            .collect(),
        not_in_fleet_file: s.unlisted.iter().map(|u| u.site.clone()).collect(),
        ledger: match &s.head {
            Some(h) => LedgerHead {
                records: h.records,
                head_id: h.id,
                head_hash: h.hash.clone(),
            },
            None => LedgerHead {
                records: 0,
                head_id: None,
                head_hash: crate::ledger::chain::GENESIS.into(),
            },
        },
        how_to_verify: Vec::new(),
    }
}

/// What `evidence --fleet` was asked for.
pub struct Request {
    pub fleet: PathBuf,
    pub history: Option<PathBuf>,
    pub out: PathBuf,
    pub signing_key: Option<PathBuf>,
}

/// A summary on disk.
pub struct Made {
    pub summary: FleetSummary,
    pub files: Vec<PathBuf>,
    pub signatures: Vec<PathBuf>,
}

/// Makes the summary's files (JSON, HTML, the signed list), refusing
/// before any is written what `evidence` refuses.
pub async fn make(req: &Request) -> Result<Made> {
    let fleet = crate::scenario::fleet::load_fleet(&req.fleet)?;
    let history = crate::fleet::history_of(req.history.clone(), &fleet);
    let key = req
        .signing_key
        .as_deref()
        .map(super::sign::load_secret)
        .transpose()?;
    super::prepare_out(&req.out)?;
    let read = crate::fleet::verified_history(&history).await?;
    let (head, records) = match &read {
        Some((h, r)) => (Some(h), r.as_slice()),
        None => (None, &[][..]),
    };
    let terms = crate::fleet::status::Terms::of(&fleet);
    let status = crate::fleet::status::status(&fleet.name, &terms, records, head, Utc::now());
    let mut s = summary(&status);
    let stem = format!(
        "evidence-fleet-{}-{}",
        super::slug(&s.provider),
        s.generated_at.format("%Y-%m-%d")
    );
    s.how_to_verify = how_to_verify(&stem, key.is_some());
    let json = serde_json::to_vec_pretty(&s)
        .map_err(|e| Error::Failed(format!("cannot serialise the fleet summary: {e}")))?;
    let contents = vec![
        (format!("{stem}.json"), json),
        (format!("{stem}.html"), render(&s).into_bytes()),
    ];
    let comment = format!(
        "restore-drill fleet summary of {} on {}, history head record {} {}",
        crate::plain_text::shown(&s.provider),
        s.generated_at.format("%Y-%m-%d"),
        s.ledger.head_id.unwrap_or(0),
        s.ledger.head_hash
    );
    let (files, signatures) = super::write_pack(&req.out, &stem, contents, key.as_ref(), &comment)?;
    Ok(Made {
        summary: s,
        files,
        signatures,
    })
}

fn how_to_verify(stem: &str, signed: bool) -> Vec<VerifyStep> {
    let step = |say: &str, command: Option<String>| VerifyStep {
        say: say.into(),
        command,
    };
    let mut v = Vec::new();
    if signed {
        v.push(step("Each file is signed, and so is the list of the summary's files with their SHA-256. With the provider's public key (KEY.pub), all at once:", Some("restore-drill evidence verify DIR --public-key KEY.pub".into())));
    } else {
        v.push(step("This summary is not signed: it was made without --signing-key, so its files can be checked against the history but not against a key.", None));
    }
    v.push(step(
        "On the machine that keeps the drill history, this checks that the history is intact and still holds the head record this summary names:",
        Some(format!("restore-drill history verify --against {stem}.json")),
    ));
    v
}

/// The summary as one self-contained page: inline style (allowed by its
/// hash), no script, no external reference.
pub fn render(s: &FleetSummary) -> String {
    let title = format!("Fleet summary: {}", s.provider);
    html! {
        (DOCTYPE)
        html lang="en" {
            (crate::fleet::status_html::page_head(&title, CSS, None))
            body { main {
                p.eyebrow { "Restore drills · provider's summary" }
                h1 { (s.provider) }
                p.note { "Each clinic by name and status only, as of " (s.generated_at.format("%Y-%m-%d %H:%M UTC")) ". A site is stale when no drill passed within its cadence; RTO and RPO are the last passing drill's against the site's objectives. Each clinic's own evidence pack holds its details." }
                (rows(s))
                @if !s.not_in_fleet_file.is_empty() {
                    p.note { "In the history but not in the fleet file: " (s.not_in_fleet_file.join(", ")) "." }
                }
                h2 { "How to verify" }
                @for step in &s.how_to_verify {
                    p { (step.say) }
                    @if let Some(c) = &step.command { pre { code { (c) } } }
                }
                footer {
                    "Drill history: " (crate::words::plural(s.ledger.records, "record", "records"))
                    ", head record " (s.ledger.head_id.map_or("none".into(), |i| format!("#{i}")))
                    " " code { (s.ledger.head_hash) } br;
                    (s.tool) " · generated " (s.generated_at.format("%Y-%m-%d %H:%M UTC"))
                }
            } }
        }
    }
    .into_string()
}

fn rows(s: &FleetSummary) -> Markup {
    let met = |j: Judged| match j {
        Judged::Met => "met",
        Judged::Missed => "MISSED",
        Judged::Unknown => "unknown",
    };
    html! {
        table {
            thead { tr { th { "Site" } th { "Status" } th { "Last passing drill" } th { "Last drill" } th { "RTO" } th { "RPO" } } }
            tbody { @for x in &s.sites { tr {
                td { (x.site) }
                td { strong class=(if x.status == "current" { "ok" } else { "bad" }) { (x.status) } }
                td { (x.last_pass.map_or("never".into(), |d| d.to_string())) }
                td { (x.last_drill.map_or("none", |o| o.word())) }
                td { (met(x.rto)) }
                td { (met(x.rpo)) }
            } } }
        }
    }
}

const CSS: &str = r#"
body { margin: 0; color: #1f2933; font: 14px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 28px 24px; }
h1 { font-size: 26px; margin: 2px 0 8px; } h2 { font-size: 17px; margin-top: 28px; }
.eyebrow { text-transform: uppercase; font-weight: bold; font-size: 12px; color: #5b6775; }
.note { color: #5b6775; font-size: 13px; }
table { width: 100%; border-collapse: collapse; margin: 14px 0; }
th { text-align: left; font-size: 12px; color: #5b6775; border-bottom: 2px solid #5b6775; padding: 6px 8px 6px 0; }
td { border-bottom: 1px solid #d3d9e0; padding: 6px 8px 6px 0; }
.ok { color: #1d6f35; } .bad { color: #a8231b; }
pre { background: #f3f5f7; padding: 6px 10px; white-space: pre-wrap; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
footer { margin-top: 28px; padding-top: 8px; border-top: 1px solid #d3d9e0; font-size: 12px; color: #5b6775; }
"#;
