//! `restore-drill history` and `restore-drill evidence`: the drill history
//! read back, checked, and turned into signed evidence packs.

use super::{exit, Output};
use crate::error::{Error, Result};
use crate::evidence;
use crate::ledger::{self, anchor, chain, Ledger, Verified};
use crate::report::facts::RunKind;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct HistoryFile {
    /// The drill history (SQLite). Default: /var/lib/restore-drill/history.sqlite
    /// as root, else the XDG state directory.
    #[arg(long = "history", env = "RESTORE_DRILL_HISTORY", global = true)]
    pub file: Option<PathBuf>,
}

impl HistoryFile {
    pub fn path(&self) -> PathBuf {
        self.file.clone().unwrap_or_else(ledger::default_path)
    }
}

#[derive(clap::Subcommand)]
pub enum HistoryCommand {
    /// Every recorded run: date, site, scenario, verdict, RTO, RPO, backup time.
    List,
    /// One record: its hashes and the report it holds.
    Show {
        /// The record's number, as `history list` shows it.
        id: i64,
    },
    /// Recompute the hash chain; with --against, also check a head that left the machine.
    Verify {
        /// A file that carries the history's head: an evidence pack's JSON, an
        /// alert (the webhook's JSON or the email's text), a metrics or JUnit
        /// file. The history must still hold that head with the same hash.
        #[arg(long)]
        against: Option<PathBuf>,
        /// Check the pack's signature (PACK.json.minisig) with this public key
        /// first; a pack checked without one is unverified (exit 1).
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub verify: Option<EvidenceCommand>,
    /// Directory the pack is written to (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// First day of the period (YYYY-MM-DD); default: 12 months before --until.
    #[arg(long, value_parser = parse_day)]
    pub since: Option<NaiveDate>,
    /// Last day of the period (YYYY-MM-DD); default: today (UTC).
    #[arg(long, value_parser = parse_day)]
    pub until: Option<NaiveDate>,
    /// The site whose runs the pack covers, exactly as `history list` shows
    /// it; needed when the history holds several sites.
    #[arg(long, conflicts_with = "all_sites")]
    pub site: Option<String>,
    /// One pack over every site the history holds (each run's site is shown).
    #[arg(long)]
    pub all_sites: bool,
    /// The provider's own summary over a fleet file's sites, as of now: each
    /// site's name and status only (no backups, checks, contacts or figures).
    #[arg(long, value_name = "FLEET", conflicts_with_all = ["site", "all_sites", "since", "until"])]
    pub fleet: Option<PathBuf>,
    /// minisign secret key (restore-drill keys generate-signing): signs every file.
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    #[command(flatten)]
    pub history: HistoryFile,
}

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// Check every file of the packs in DIR against its .minisig.
    Verify {
        /// The folder holding the packs (evidence-*.json, .pdf, .html and their .minisig).
        dir: PathBuf,
        /// The minisign public key (KEY.pub from `keys generate-signing`) the packs were signed for.
        #[arg(long)]
        public_key: PathBuf,
    },
}

fn parse_day(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| format!("{e}; expected YYYY-MM-DD"))
}

pub async fn history(cmd: HistoryCommand, file: &HistoryFile) -> Result<Output> {
    let path = file.path();
    let mut ledger = Ledger::open(&path).await?;
    match cmd {
        HistoryCommand::List => list(&mut ledger).await,
        HistoryCommand::Show { id } => show(&mut ledger, id).await,
        HistoryCommand::Verify {
            against,
            public_key,
        } => verify(&mut ledger, against.as_deref(), public_key.as_deref()).await,
    }
}

async fn list(ledger: &mut Ledger) -> Result<Output> {
    let stored = ledger.stored().await?;
    let mut text = format!(
        "{:>4}  {:<16} {:<20} {:<22} {:<14} {:<8} {:>8} {:>8}  {}\n",
        "id", "date (UTC)", "site", "scenario", "verdict", "expected", "RTO", "RPO", "backup taken"
    );
    let mut rows = Vec::new();
    for s in &stored {
        let v: Option<ledger::view::ReportView> = serde_json::from_str(&s.report).ok();
        let row = serde_json::json!({
            "id": s.id,
            "date": v.as_ref().map(|v| v.started_at),
            "site": s.site,
            "scenario": v.as_ref().map(|v| v.scenario.name.clone()),
            "verdict": v.as_ref().map(|v| v.verdict),
            "kind": v.as_ref().map(|v| v.run_kind()),
            "as_expected": v.as_ref().and_then(|v| v.as_expected()),
            "rto_seconds": v.as_ref().and_then(|v| v.rto_seconds),
            "rpo_seconds": v.as_ref().and_then(|v| v.rpo_seconds),
            "backup_taken_at": v.as_ref().and_then(|v| v.backup.as_ref()).and_then(|b| b.created_at),
            "hash": s.hash,
        });
        text.push_str(&list_line(s, v.as_ref()));
        rows.push(row);
    }
    text.push_str(&format!(
        "{} in {}",
        crate::words::plural(stored.len(), "record", "records"),
        ledger.path().display()
    ));
    Ok(Output::new(text, serde_json::Value::Array(rows)))
}

fn list_line(s: &chain::Stored, v: Option<&ledger::view::ReportView>) -> String {
    let Some(v) = v else {
        return format!(
            "{:>4}  (its report cannot be read: run history verify)\n",
            s.id
        );
    };
    let secs = |x: Option<f64>| x.map_or("unknown".into(), crate::report::human_seconds);
    let verdict = match v.run_kind() {
        RunKind::OperatorError => RunKind::OperatorError.as_str(),
        _ => v.verdict.as_str(),
    };
    let expected = match v.as_expected() {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "",
    };
    format!(
        "{:>4}  {:<16} {:<20} {:<22} {:<14} {:<8} {:>8} {:>8}  {}\n",
        s.id,
        v.started_at.format("%Y-%m-%d %H:%M"),
        clip(&s.site, 20),
        clip(&v.scenario.name, 22),
        verdict,
        expected,
        secs(v.rto_seconds),
        secs(v.rpo_seconds),
        v.backup
            .as_ref()
            .and_then(|b| b.created_at)
            .map_or("unknown".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    )
}

pub(super) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

async fn show(ledger: &mut Ledger, id: i64) -> Result<Output> {
    let stored = ledger.stored().await?;
    let Some(s) = stored.iter().find(|s| s.id == id) else {
        return Err(Error::Usage(format!(
            "the drill history {} holds no record {id} ({} records): see restore-drill history list",
            ledger.path().display(),
            stored.len()
        )));
    };
    let report: serde_json::Value =
        serde_json::from_str(&s.report).unwrap_or(serde_json::Value::Null);
    let text = format!(
        "record        {}\nrecorded at   {}\nsite          {}\ntool          {}\nreport sha256 {}\nprevious hash {}\nhash          {}\n\n{}",
        s.id, s.recorded_at, s.site, s.tool, s.report_sha256, s.prev_hash, s.hash, s.report
    );
    let json = serde_json::json!({
        "id": s.id, "recorded_at": s.recorded_at, "site": s.site, "tool": s.tool,
        "report_sha256": s.report_sha256, "prev_hash": s.prev_hash, "hash": s.hash,
        "report": report,
    });
    Ok(Output::new(text, json))
}

async fn verify(ledger: &mut Ledger, against: Option<&Path>, key: Option<&Path>) -> Result<Output> {
    let path = ledger.path().to_path_buf();
    let (head, records) = match ledger.verified().await? {
        Verified::Intact { head, records } => (head, records),
        Verified::Broken(b) => {
            let mut out = Output::new(
                format!("BROKEN: {b}"),
                serde_json::json!({"intact": false, "broken": b, "history": path}),
            );
            out.code = exit::FAILED;
            out.error = Some(crate::redact::Redacted::ours(
                ledger::broken_error(&path, &b).to_string(),
            ));
            return Ok(out);
        }
    };
    let text = format!(
        "{}, chain intact, head {}",
        crate::words::plural(head.records, "record", "records"),
        head.hash
    );
    let json = serde_json::json!({"intact": true, "records": head.records, "head_id": head.id, "head_hash": head.hash});
    let out = Output::new(text, json);
    match against {
        Some(file) => {
            let stored: Vec<chain::Stored> = records.into_iter().map(|r| r.stored).collect();
            against_anchor(out, &path, &stored, file, key)
        }
        None => Ok(out),
    }
}

/// `--against FILE`: the head the file carries must still be in the history.
/// A pack is checked against its signature first; without a key it is
/// unverified, which is said and fails the command whatever else holds.
fn against_anchor(
    mut out: Output,
    history: &Path,
    stored: &[chain::Stored],
    file: &Path,
    key: Option<&Path>,
) -> Result<Output> {
    let raw = std::fs::read_to_string(file).map_err(|e| Error::io("read", file, e))?;
    let a = anchor::parse(&raw).map_err(|why| {
        Error::Usage(format!(
            "{} cannot be checked against: {why}",
            file.display()
        ))
    })?;
    let unverified = signature(&a, file, key)?;
    let mut json: serde_json::Value = serde_json::from_str(&out.json).unwrap_or_default();
    json["anchor"] = a.kind.what().into();
    json["anchor_signature_checked"] =
        (a.kind == anchor::Kind::Pack && unverified.is_none()).into();
    let mut errors = Vec::new();
    match anchor::judge(stored, &a) {
        Ok(line) => {
            out.text.push_str(&format!("\n{line}"));
            json["anchor_head_held"] = true.into();
        }
        Err(why) => {
            out.text.push_str(&format!("\nCUT OFF OR REWRITTEN: {why}"));
            json["anchor_head_held"] = false.into();
            errors.push(format!(
                "the drill history {} does not hold what {} {} recorded: {why}",
                history.display(),
                a.named(),
                file.display()
            ));
        }
    }
    if let Some(u) = unverified {
        out.text
            .push_str("\nUNVERIFIED: the pack's signature was not checked");
        errors.push(u);
    }
    out.json = serde_json::to_string_pretty(&json).unwrap_or_default();
    if !errors.is_empty() {
        out.code = exit::FAILED;
        out.error = Some(crate::redact::Redacted::ours(errors.join("\nerror: ")));
    }
    Ok(out)
}

/// A pack's signature checked with the key (an error when it fails); Some
/// when a pack was given without a key: unverified, said and exit 1. A key
/// for an anchor that carries no signature is a usage error.
fn signature(a: &anchor::Anchor, file: &Path, key: Option<&Path>) -> Result<Option<String>> {
    Ok(match (a.kind, key) {
        (anchor::Kind::Pack, Some(k)) => {
            evidence::sign::verify_file(&evidence::sign::load_public(k)?, file)?;
            None
        }
        (anchor::Kind::Pack, None) => Some(format!(
            "the evidence pack {} is unsigned or its signature was not checked (no --public-key): anyone who can edit the pack can make it agree with a rewritten history. Check it with the clinic's public key: --public-key KEY.pub",
            file.display()
        )),
        (kind, Some(_)) => {
            return Err(Error::Usage(format!(
                "--public-key checks an evidence pack's signature, but {} is a {}, which carries none: leave --public-key out",
                file.display(),
                kind.what()
            )))
        }
        (_, None) => None,
    })
}

pub async fn evidence(a: EvidenceArgs) -> Result<Output> {
    if let Some(EvidenceCommand::Verify { dir, public_key }) = a.verify {
        let files = evidence::verify_dir(&dir, &public_key)?;
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let text = format!(
            "{} files verified against {}, each with its signature and as the signed list of the pack's files has it (nothing missing, nothing added):\n  {}",
            files.len(),
            public_key.display(),
            names.join("\n  ")
        );
        return Ok(Output::new(text, serde_json::json!({"verified": names})));
    }
    let Some(out) = a.out else {
        return Err(Error::Usage(
            "restore-drill evidence needs --out DIR (where the pack is written), or `evidence verify DIR --public-key KEY.pub`".into(),
        ));
    };
    if let Some(fleet) = a.fleet {
        let req = evidence::fleet::Request {
            fleet,
            history: a.history.file,
            out,
            signing_key: a.signing_key,
        };
        return Ok(fleet_output(&evidence::fleet::make(&req).await?));
    }
    let req = evidence::Request {
        history: a.history.path(),
        out,
        since: a.since,
        until: a.until,
        site: a.site,
        all_sites: a.all_sites,
        signing_key: a.signing_key,
    };
    let made = evidence::make(&req).await?;
    let mut out = made_output(&made);
    if made.signatures.is_empty() {
        out.warnings.push(crate::redact::Redacted::ours(UNSIGNED));
    }
    Ok(out)
}

/// Said loudly: a pack without a signature proves nothing to its reader.
const UNSIGNED: &str = "THIS PACK IS NOT SIGNED: anyone who holds its files can change them, and a reader cannot tell. \
Sign it with the clinic's key: restore-drill keys generate-signing --out FILE (once), then evidence --signing-key FILE";

fn made_output(m: &evidence::Made) -> Output {
    let s = &m.pack.summary;
    let mut text = format!(
        "evidence pack {} to {}: {}\n",
        m.pack.period.since, m.pack.period.until, s.headline
    );
    for f in m.files.iter().chain(&m.signatures) {
        text.push_str(&format!("  {}\n", f.display()));
    }
    text.push_str(&format!(
        "history head: record {} {}",
        m.pack.ledger.head_id.unwrap_or(0),
        m.pack.ledger.head_hash
    ));
    let json = serde_json::json!({
        "files": m.files, "signatures": m.signatures, "summary": s, "ledger": m.pack.ledger,
    });
    let mut out = Output::new(text, json);
    if s.restores_tested == 0 {
        out.code = exit::FAILED;
        out.error = Some(crate::redact::Redacted::ours(format!(
            "no restore was tested between {} and {}: the pack says so; run a drill (restore-drill run) or choose another period",
            m.pack.period.since, m.pack.period.until
        )));
    }
    out
}

/// The fleet summary's files; exit 1 when a site is stale or failing, as
/// `fleet status` (the summary says which).
fn fleet_output(m: &evidence::fleet::Made) -> Output {
    let s = &m.summary;
    let bad = s.sites.iter().filter(|x| x.status != "current").count();
    let mut text = format!(
        "fleet summary of {}: {}, {bad} stale or failing\n",
        s.provider,
        crate::words::plural(s.sites.len(), "site", "sites")
    );
    for f in m.files.iter().chain(&m.signatures) {
        text.push_str(&format!("  {}\n", f.display()));
    }
    text.push_str(&format!(
        "history head: record {} {}",
        s.ledger.head_id.unwrap_or(0),
        s.ledger.head_hash
    ));
    let json = serde_json::json!({
        "files": m.files, "signatures": m.signatures, "sites": s.sites, "ledger": s.ledger,
    });
    let mut out = Output::new(text, json);
    if m.signatures.is_empty() {
        out.warnings.push(crate::redact::Redacted::ours(UNSIGNED));
    }
    if bad > 0 {
        out.code = exit::FAILED;
        out.error = Some(crate::redact::Redacted::ours(format!(
            "{} of {} stale or failing: the summary says which; see restore-drill fleet status",
            crate::words::plural(bad, "site", "sites"),
            s.sites.len()
        )));
    }
    out
}

/// `keys generate-signing`.
pub fn generate_signing(out: &Path) -> Result<Output> {
    let (secret, public) = evidence::sign::generate(out)?;
    let text = format!(
        "signing key: {} (mode 600; keep it on the machine that makes packs)\npublic key:  {} (give it to whoever checks the packs: minisign -V -p {} -m FILE)",
        secret.display(),
        public.display(),
        public.display()
    );
    Ok(Output::new(
        text,
        serde_json::json!({"secret_key": secret, "public_key": public}),
    ))
}
