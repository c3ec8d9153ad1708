//! The fleet's status as one self-contained HTML page: one row per site,
//! worst first, each stale or failing site marked by a word as well as a
//! colour; the columns sort by a click on their header (a small inline
//! script). The Content-Security-Policy allows nothing but this page's own
//! style and script, by their hashes: no request leaves the page, and no
//! other script could run in it. maud escapes every value.

use super::status::{FleetStatus, Judged, Measure, RunRef, SiteStatus, StandingKind, Unlisted};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sha2::{Digest, Sha256};

pub fn render(s: &FleetStatus) -> String {
    let title = format!("Fleet status: {}", s.fleet);
    html! {
        (DOCTYPE)
        html lang="en" {
            (page_head(&title, CSS, Some(SCRIPT)))
            body {
                main {
                    (header(s))
                    (table(s))
                    (unlisted(&s.unlisted))
                }
                (footer(s))
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

fn header(s: &FleetStatus) -> Markup {
    let stale = s.count("NEVER PASSED") + s.count("OVERDUE");
    html! {
        header {
            p.eyebrow { "Restore drills · fleet status" }
            h1 { (s.fleet) }
            p.counts {
                (crate::words::plural(s.sites.len(), "site", "sites")) ": "
                span.stale { (stale) " stale" } " (never passed or overdue), "
                span.failing { (s.count("FAILING")) " failing" } ", "
                span.current { (s.count("current")) " current" } "."
            }
            p.note {
                "Worst first. A site is stale when no drill has passed within its cadence; "
                "failing when its last drill did not pass. RTO and RPO are the last passing "
                "drill's, against the objectives the fleet file sets today. Click a column's "
                "title to sort by it. Times in UTC."
            }
        }
    }
}

/// Each column: its key (for `#sort=KEY` in the address), title and
/// whether its values sort as numbers.
const COLUMNS: [(&str, &str, bool); 10] = [
    ("status", "Status", true),
    ("site", "Site", false),
    ("last-pass", "Last pass", true),
    ("age", "Age / cadence", true),
    ("due", "Next due", true),
    ("last-drill", "Last drill", true),
    ("rto", "RTO", true),
    ("rpo", "RPO", true),
    ("last-failure", "Last failure", true),
    ("records", "Runs", true),
];

fn table(s: &FleetStatus) -> Markup {
    html! {
        @if s.sites.is_empty() {
            p.empty { "The fleet file names no site." }
        } @else {
            div.scroll { table #sites {
                thead { tr {
                    @for (i, (key, title, num)) in COLUMNS.iter().enumerate() {
                        th data-key=(key) data-type=(if *num { "num" } else { "text" })
                            aria-sort=(if i == 0 { "ascending" } else { "none" }) {
                            button type="button" { (title) }
                        }
                    }
                } }
                tbody {
                    @for (i, site) in s.sites.iter().enumerate() { (row(i, site, s.generated_at)) }
                }
            } }
        }
    }
}

fn row(rank: usize, s: &SiteStatus, now: DateTime<Utc>) -> Markup {
    let class = match (s.standing, s.failing()) {
        (StandingKind::Current, None) => "current",
        (StandingKind::Current, Some(_)) => "failing",
        _ => "stale",
    };
    let ts = |t: Option<DateTime<Utc>>| t.map_or(0, |t| t.timestamp());
    let age = s
        .age_days
        .map_or(f64::MAX, |a| a / f64::from(s.cadence_days));
    let cadence = format!("cadence {} days", s.cadence_days);
    html! {
        tr class=(class) data-site=(s.site) {
            td data-sort=(rank) { span class={ "badge " (class) } { (s.word()) } }
            td.site data-sort=(s.site) { (s.site) }
            td data-sort=(ts(s.last_pass)) { (when(s.last_pass.as_ref())) }
            td data-sort=(age) {
                (s.age_days.map_or("never passed".into(), |a| crate::words::days(a.floor())))
                br; span.when { (cadence) }
            }
            td data-sort=(ts(s.due_at)) { (due(s.due_at, now)) }
            td data-sort=(ts(s.last_drill.as_ref().map(|d| d.at))) { (run(s.last_drill.as_ref(), "none")) }
            (measure(&s.rto))
            (measure(&s.rpo))
            td data-sort=(ts(s.last_failure.as_ref().map(|d| d.at))) { (run(s.last_failure.as_ref(), "none recorded")) }
            td.num data-sort=(s.records) { (s.records) }
        }
    }
}

/// The day, and the time under it.
fn when(t: Option<&DateTime<Utc>>) -> Markup {
    html! {
        @match t {
            None => "never",
            Some(t) => { span.nowrap { (t.format("%Y-%m-%d")) } br; span.when { (t.format("%H:%M UTC")) } },
        }
    }
}

/// The day a drill is due, and how far off (or how long ago) that is.
fn due(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Markup {
    let days =
        |d: chrono::Duration| crate::words::days((d.num_seconds() as f64 / 86_400.0).floor());
    html! {
        @match due {
            None => strong.bad { "now" },
            Some(d) if d <= now => {
                strong.bad.nowrap { (d.format("%Y-%m-%d")) }
                br; span.when { (days(now - d)) " ago" }
            },
            Some(d) => { span.nowrap { (d.format("%Y-%m-%d")) } br; span.when { "in " (days(d - now)) } },
        }
    }
}

fn run(r: Option<&RunRef>, none: &str) -> Markup {
    html! {
        @match r {
            None => span.muted { (none) },
            Some(r) => {
                @let word = r.outcome.word();
                @if r.outcome == super::status::Outcome::Passed { span.ok { (word) } }
                @else { strong.bad { (word.to_uppercase()) } }
                @if let Some(f) = &r.fault { " (rehearsal " (f) ")" }
                br;
                span.when { (r.at.format("%Y-%m-%d %H:%M")) " · #" (r.record) }
            }
        }
    }
}

fn measure(m: &Measure) -> Markup {
    let (class, order) = match m.judged {
        Judged::Missed => ("bad", 0),
        Judged::Unknown => ("warn", 1),
        Judged::Met => ("ok", 2),
    };
    html! {
        td data-sort=(order) {
            strong class=(class) { (m.word()) }
            br;
            span.when { (m.text()) }
        }
    }
}

fn unlisted(u: &[Unlisted]) -> Markup {
    html! {
        @if !u.is_empty() {
            section #unlisted {
                h2 { "In the history, not in the fleet file" }
                p.note { "Sites with records that no site of the fleet file is named: a clinic renamed, or one the provider no longer drills. Their records stay in the history." }
                table {
                    thead { tr { th { "Site" } th.num { "Records" } th { "Last record" } th { "Last passing drill" } } }
                    tbody { @for x in u { tr {
                        td { (x.site) }
                        td.num { (x.records) }
                        td { (datetime(&x.last_record)) }
                        td { (x.last_pass.as_ref().map_or("never".into(), datetime)) }
                    } } }
                }
            }
        }
    }
}

fn footer(s: &FleetStatus) -> Markup {
    html! {
        footer {
            @match &s.head {
                Some(h) => p {
                    "Drill history: " (crate::words::plural(h.records, "record", "records"))
                    ", chain intact, head record "
                    (h.id.map_or("none".into(), |id| format!("#{id}")))
                    " " code.hash title=(h.hash) { (h.short()) }
                },
                None => p { "No drill history yet: no site has been drilled." },
            }
            p { "restore-drill " (env!("CARGO_PKG_VERSION")) " · generated " (datetime(&s.generated_at)) }
        }
    }
}

fn datetime(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A self-contained page's head: its Content-Security-Policy lets in
/// nothing but the page's own `css` and `script`, by their hashes.
pub(crate) fn page_head(title: &str, css: &str, script: Option<&str>) -> Markup {
    let script_src = script
        .map(|js| format!(" script-src '{}';", csp_hash(js)))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src '{}';{script_src} base-uri 'none'; form-action 'none'",
        csp_hash(css)
    );
    html! {
        head {
            meta charset="utf-8";
            meta http-equiv="Content-Security-Policy" content=(csp);
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="generator" content={ "restore-drill " (env!("CARGO_PKG_VERSION")) };
            title { (title) }
            style { (PreEscaped(css)) }
        }
    }
}

/// `sha256-BASE64`: a CSP source that allows exactly this inline text.
pub fn csp_hash(text: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Sorts the table by a header's column: numbers as numbers, names as
/// text, ties kept in the worst-first order; `#sort=KEY` (or `KEY-desc`)
/// in the address sorts on opening, so a sorted view can be bookmarked.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('sites');
  if (!table) { return; }
  var heads = table.tHead.rows[0].cells;
  function sortBy(col, dir) {
    var num = heads[col].getAttribute('data-type') === 'num';
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    rows.forEach(function (r, i) { r.setAttribute('data-at', i); });
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var d = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return d !== 0 ? dir * d : a.getAttribute('data-at') - b.getAttribute('data-at');
    });
    rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
    for (var i = 0; i < heads.length; i++) {
      heads[i].setAttribute('aria-sort', i !== col ? 'none' : dir > 0 ? 'ascending' : 'descending');
    }
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    th.querySelector('button').addEventListener('click', function () {
      sortBy(col, th.getAttribute('aria-sort') === 'ascending' ? -1 : 1);
    });
  });
  var m = /^#sort=([a-z-]+?)(-desc)?$/.exec(window.location.hash);
  if (m) {
    Array.prototype.forEach.call(heads, function (th, col) {
      if (th.getAttribute('data-key') === m[1]) { sortBy(col, m[2] ? -1 : 1); }
    });
  }
})();
"#;

/// System fonts only: a web font would be an external request.
const CSS: &str = r#"
:root { --ink:#1f2933; --muted:#5b6775; --rule:#d3d9e0; --panel:#f3f5f7;
  --good:#1d6f35; --bad:#a8231b; --warn:#8a5a00; --stale-bg:#fbe9e7; --failing-bg:#fff4e0; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 13.5px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main, body > footer { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
main { padding-top: 28px; }
h1 { font-size: 28px; line-height: 1.2; margin: 2px 0 6px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
p { margin: 0 0 6px; }
.eyebrow { text-transform: uppercase; letter-spacing: .04em; font-weight: bold; font-size: 12px; color: var(--muted); }
.counts { font-size: 17px; }
.counts .stale { color: var(--bad); font-weight: bold; }
.counts .failing { color: var(--warn); font-weight: bold; }
.counts .current { color: var(--good); font-weight: bold; }
.note, .empty { color: var(--muted); font-size: 13px; max-width: 900px; }
table { width: 100%; border-collapse: collapse; margin: 16px 0 8px; }
.scroll { overflow-x: auto; }
th { text-align: left; border-bottom: 2px solid var(--muted); padding: 6px 8px 6px 6px; vertical-align: bottom;
  font-size: 12px; color: var(--muted); }
#sites th { padding: 0; }
th.num { text-align: right; }
th button { all: unset; cursor: pointer; display: block; padding: 6px 8px 6px 6px;
  font-size: 12px; font-weight: bold; color: var(--muted); }
th button:focus-visible { outline: 2px solid var(--ink); }
th[aria-sort="ascending"] button::after { content: " \25B2"; }
th[aria-sort="descending"] button::after { content: " \25BC"; }
td { border-bottom: 1px solid var(--rule); padding: 7px 8px 7px 6px; vertical-align: top; }
tr.stale td { background: var(--stale-bg); }
tr.failing td { background: var(--failing-bg); }
tr.stale td:first-child { box-shadow: inset 5px 0 var(--bad); }
tr.failing td:first-child { box-shadow: inset 5px 0 var(--warn); }
tr.current td:first-child { box-shadow: inset 5px 0 var(--good); }
#sites td:first-child { padding-left: 14px; white-space: nowrap; }
#sites th:first-child button { padding-left: 14px; }
.site { font-weight: bold; min-width: 11em; }
.badge { display: inline-block; font-weight: bold; font-size: 12px; letter-spacing: .03em; text-transform: uppercase;
  padding: 2px 7px; border-radius: 3px; color: #fff; }
.badge.stale { background: var(--bad); }
.badge.failing { background: var(--warn); }
.badge.current { background: var(--good); }
.ok { color: var(--good); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.muted, .when { color: var(--muted); }
.nowrap { white-space: nowrap; }
.when { font-size: 12px; white-space: nowrap; }
.num { text-align: right; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .95em; }
body > footer { margin-top: 36px; padding-top: 10px; padding-bottom: 28px;
  border-top: 1px solid var(--rule); font-size: 12px; color: var(--muted); }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  th button::after { content: none !important; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csp_hash_is_the_texts_sha256_in_base64() {
        // SHA-256 of "" and of "abc" (FIPS 180-2), base64 with padding.
        assert_eq!(
            csp_hash(""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            csp_hash("abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn the_policy_names_the_page_own_script_and_style_only() {
        let s = FleetStatus {
            fleet: "North <Clinics>".into(),
            generated_at: Utc::now(),
            sites: Vec::new(),
            unlisted: Vec::new(),
            head: None,
        };
        let page = render(&s);
        assert!(page.contains("default-src 'none'"));
        assert!(page.contains(&csp_hash(SCRIPT)) && page.contains(&csp_hash(CSS)));
        assert!(!page.contains("unsafe-inline"));
        assert!(page.contains("North &lt;Clinics&gt;"), "escaped");
    }
}
