//! The evidence pack as one self-contained HTML page: the same content and
//! order as the PDF (wording from `wording`, chart scales from `chart`), inline CSS
//! and an inline SVG chart, no script and no external reference of any kind,
//! so the file opens identically offline, years later, on any machine.

use super::chart::{chart, Chart};
use super::pack::{Answer, DrillRow, FailureRow, Pack, Rehearsal};
use super::wording::{
    datetime, duration, figures, kind, measured, methods, next_pass, period_line, protection,
    record, rehearsal_title, run_verdict, short_hash, single_site, sites, status_word, title,
    verdict, who, yes_no, Figure, Tone, LEGEND_FAIL, NO_RESTORE, OPERATOR_ERRORS,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Renders the pack as a self-contained HTML page (maud escapes all text).
pub fn render(pack: &Pack) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(pack.tool);
                title { (title(pack)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    (cover(pack))
                    (chart_figure(&chart(pack)))
                    (questions(pack))
                    (drills(pack))
                    (rehearsals(pack))
                    (protection_section(pack))
                    (failures(pack))
                    (operator_errors(pack))
                    (how_to_verify(pack))
                }
                (footer(pack))
            }
        }
    };
    page.into_string()
}

fn tone_class(t: Tone) -> &'static str {
    match t {
        Tone::Good => "good",
        Tone::Bad => "bad",
        Tone::Warn => "warn",
        Tone::Neutral => "neutral",
    }
}

fn cover(pack: &Pack) -> Markup {
    html! {
        section.cover {
            p.eyebrow { "Restore drill evidence" }
            h1 { (sites(pack)) }
            p.period { (period_line(pack)) }
            (pairs(None, &who(pack)))
            @if pack.summary.restores_tested == 0 {
                p.none-tested { (NO_RESTORE) }
            }
            dl.four {
                @for said in &pack.summary.four {
                    dt { (said.question) }
                    dd { (said.answer) }
                }
            }
            div.figures {
                @for f in figures(pack) { (card(&f)) }
            }
            (pairs(Some("How these drills were run"), &methods(pack)))
        }
    }
}

/// Label and value pairs on a panel: who, and how the drills were run.
fn pairs(title: Option<&str>, pairs: &[(&str, String)]) -> Markup {
    html! {
        div.box {
            @if let Some(t) = title { h3 { (t) } }
            dl {
                @for (label, value) in pairs {
                    dt { (label) }
                    dd { (value) }
                }
            }
        }
    }
}

fn operator_errors(pack: &Pack) -> Markup {
    html! {
        @if !pack.operator_errors.is_empty() {
            section #operator-errors {
                h2 { "Appendix: operator errors (not counted)" }
                p.note { (OPERATOR_ERRORS) }
                table {
                    thead { tr { th { "Date" } th { "Site" } th { "Scenario" } th { "Step" } th { "What was wrong" } } }
                    tbody {
                        @for e in &pack.operator_errors {
                            tr {
                                td.nowrap { (datetime(&e.record.date)) }
                                td { (e.site) }
                                td { (e.scenario) }
                                td { (e.step) }
                                td { (e.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn card(f: &Figure) -> Markup {
    html! {
        div.card {
            p.label { (f.label) }
            p.value { (f.value) }
            @if let Some((word, tone)) = &f.status {
                p class={ "status " (tone_class(*tone)) } { (word) }
            }
            p.detail { (f.detail) }
        }
    }
}

// The chart, drawn in a 640 x 250 box scaled to the page width.
const SVG_W: f64 = 640.0;
const SVG_H: f64 = 270.0;
const PX0: f64 = 48.0;
const PY0: f64 = 34.0;
const PW: f64 = SVG_W - PX0 - 10.0;
const PH: f64 = SVG_H - PY0 - 60.0;
/// The row of drills that measured no time, under the dates.
const LANE: f64 = PY0 + PH + 48.0;

fn chart_figure(c: &Chart) -> Markup {
    let y = |s: f64| PY0 + PH - s / c.y_max * PH;
    html! {
        figure.chart {
            figcaption {
                strong { "Recovery time of each restore drill" }
                br;
                span.small { "One mark per restore drill of the real backups; failure rehearsals are listed further down." }
            }
            svg viewBox={ "0 0 " (SVG_W) " " (SVG_H) }
                role="img" aria-label="Recovery time of each restore drill over the period" {
                (axes(c, &y))
                @if let Some(t) = c.objective {
                    line.objective x1=(PX0) x2=(PX0 + PW) y1=(fmt(y(t))) y2=(fmt(y(t))) {}
                    text.tick x=(PX0 + PW) y=(fmt(y(t) - 4.0)) text-anchor="end" {
                        "objective " (duration(t))
                    }
                }
                @if c.points.iter().any(|p| p.seconds.is_none()) {
                    line.grid x1=(PX0) x2=(PX0 + PW) y1=(LANE) y2=(LANE) {}
                    text.tick x=(PX0 - 6.0) y=(LANE + 3.5) text-anchor="end" { "no time" }
                }
                @for p in &c.points {
                    (mark(PX0 + p.x * PW, p.seconds.map_or(LANE, y), p.passed, p.seconds))
                }
                @if c.points.is_empty() {
                    text.tick x=(PX0 + PW / 2.0) y=(PY0 + PH / 2.0) text-anchor="middle" { (NO_RESTORE) }
                }
                (legend())
            }
        }
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

fn axes(c: &Chart, y: &dyn Fn(f64) -> f64) -> Markup {
    let trim = |v: f64| {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").unwrap_or(&s).to_string()
    };
    html! {
        text.tick x="0" y=(PY0 - 12.0) { (c.unit.0) }
        @for t in &c.y_ticks {
            line class=(if *t == 0.0 { "axis" } else { "grid" })
                x1=(PX0) x2=(PX0 + PW) y1=(fmt(y(*t))) y2=(fmt(y(*t))) {}
            text.tick x=(PX0 - 6.0) y=(fmt(y(*t) + 3.5)) text-anchor="end" { (trim(t / c.unit.1)) }
        }
        @for (fx, label) in &c.x_ticks {
            line.axis x1=(fmt(PX0 + fx * PW)) x2=(fmt(PX0 + fx * PW)) y1=(PY0 + PH) y2=(PY0 + PH + 4.0) {}
            text.tick x=(fmt(PX0 + fx * PW)) y=(PY0 + PH + 16.0)
                text-anchor=(if *fx < 0.05 { "start" } else if *fx > 0.95 { "end" } else { "middle" }) { (label) }
        }
        text.tick x=(PX0 + PW) y=(PY0 + PH + 31.0) text-anchor="end" { "date of the drill (UTC)" }
    }
}

/// Passed: a disc; did not pass: a triangle (shape as well as colour).
fn mark(x: f64, y: f64, passed: bool, seconds: Option<f64>) -> Markup {
    let what = match (passed, seconds) {
        (true, Some(s)) => format!("passed, {}", duration(s)),
        (false, Some(s)) => format!("did not pass, {}", duration(s)),
        (_, None) => "did not pass, no recovery time".to_string(),
    };
    html! {
        @if passed {
            circle.pass cx=(fmt(x)) cy=(fmt(y)) r="4" { title { (what) } }
        } @else {
            polygon.fail points={ (fmt(x)) "," (fmt(y - 5.5)) " " (fmt(x + 5.2)) "," (fmt(y + 3.5)) " " (fmt(x - 5.2)) "," (fmt(y + 3.5)) } {
                title { (what) }
            }
        }
    }
}

/// Laid out for DejaVu Sans at 11px, the widest of the fonts likely used.
/// The objective line is labelled where it is drawn.
fn legend() -> Markup {
    let x = SVG_W - 360.0;
    html! {
        circle.pass cx=(x) cy="12" r="4" {}
        text.tick x=(x + 9.0) y="15.5" { "passed" }
        polygon.fail points={ (x + 70.0) ",6.5 " (x + 75.2) ",15.5 " (x + 64.8) ",15.5" } {}
        text.tick x=(x + 80.0) y="15.5" { (LEGEND_FAIL) }
    }
}

fn status(word: &str, tone: Tone) -> Markup {
    html! { strong class={ "status " (tone_class(tone)) } { (word) } }
}

fn questions(pack: &Pack) -> Markup {
    html! {
        section #questions {
            h2 { "Questions answered" }
            @if pack.questions.is_empty() {
                p.empty { "No question was answered in this pack." }
            }
            @for a in &pack.questions { (answer(a)) }
        }
    }
}

fn answer(a: &Answer) -> Markup {
    let (word, tone) = status_word(a.status);
    html! {
        article.answer id=(a.id) {
            div.verdict { (status(word, tone)) }
            div {
                p.source { (a.source) " · " (a.reference) }
                h3 { (a.question) }
                p { (a.answer) }
                p.evidence {
                    "Evidence: "
                    @if a.evidence.is_empty() { "no record in this period." }
                    @for (i, r) in a.evidence.iter().enumerate() {
                        @if i > 0 { "; " }
                        (record(r))
                    }
                }
            }
        }
    }
}

fn drills(pack: &Pack) -> Markup {
    let single = single_site(pack);
    html! {
        section #drills {
            h2 { "Drills in the period" }
            @if pack.drills.is_empty() {
                p.empty { "No drill was run in this period." }
            } @else {
                @if let Some(site) = single { p.note { "Every run was at " (site) "." } }
                table {
                    thead { tr {
                        th { "Date" }
                        @if single.is_none() { th { "Site" } }
                        th { "Scenario" } th { "Kind" } th { "Verdict" }
                        th { "RTO" } th { "RPO" } th { "Backup taken" }
                    } }
                    tbody { @for d in &pack.drills { (drill_row(d, single.is_none())) } }
                }
            }
        }
    }
}

fn drill_row(d: &DrillRow, show_site: bool) -> Markup {
    let (v, tone) = run_verdict(d);
    let (rto, rto_tone) = measured(d.rto_seconds, d.rto_target_seconds);
    let (rpo, rpo_tone) = measured(d.rpo_seconds, d.rpo_target_seconds);
    html! {
        tr {
            td { (datetime(&d.record.date)) }
            @if show_site { td { (d.site) } }
            td { (d.scenario) }
            td { (kind(d)) }
            td { (status(&v, tone)) }
            td class=(tone_class(rto_tone)) { (rto) }
            td class=(tone_class(rpo_tone)) { (rpo) }
            td { (d.backup_taken_at.as_ref().map_or("unknown".into(), datetime)) }
        }
    }
}

fn rehearsals(pack: &Pack) -> Markup {
    html! {
        section #rehearsals {
            h2 { "Failure scenarios rehearsed" }
            @if pack.rehearsals.is_empty() {
                p.empty { "No failure scenario was rehearsed in this period." }
            }
            @for r in &pack.rehearsals { (rehearsal(r)) }
        }
    }
}

fn rehearsal(r: &Rehearsal) -> Markup {
    let (word, tone) = if r.as_expected {
        ("AS EXPECTED", Tone::Good)
    } else {
        ("NOT AS EXPECTED", Tone::Bad)
    };
    html! {
        article.block {
            h3 { (rehearsal_title(r)) }
            p.source { "Record " (record(&r.record)) }
            dl {
                dt { "As expected" } dd { (status(word, tone)) }
                dt { "Expected" } dd { (r.expected) }
                dt { "Actual" } dd { (r.actual) }
                dt { "What it shows" } dd { (r.shows) }
            }
        }
    }
}

fn protection_section(pack: &Pack) -> Markup {
    html! {
        section #protection {
            h2 { "Backup protection" }
            dl.protection {
                @for p in protection(pack) {
                    dt { (p.label) }
                    dd { (status(p.status, p.tone)) " " (p.detail) }
                }
            }
            h3 { "Newest backup's age when each run started" }
            @if pack.protection.backup_age.is_empty() {
                p.empty { "No run in this period measured a backup's age." }
            } @else {
                table {
                    thead { tr {
                        th { "Record" } th { "Run started" } th { "Encrypted" }
                        th { "Recipients" } th { "Newest backup age" }
                    } }
                    tbody { @for b in &pack.protection.backup_age { tr {
                        td { "#" (b.record.id) " " code { (short_hash(&b.record.hash)) } }
                        td.nowrap { (datetime(&b.record.date)) }
                        td { (yes_no(b.encrypted)) }
                        td { (b.recipients.map_or("unknown".into(), |n| n.to_string())) }
                        td { (b.newest_backup_age_seconds.map_or("unknown".into(), duration)) }
                    } } }
                }
            }
        }
    }
}

fn failures(pack: &Pack) -> Markup {
    html! {
        section #failures {
            h2 { "Failures" }
            @if pack.failures.is_empty() {
                p.empty { "No run failed in this period." }
            }
            @for f in &pack.failures { (failure(f)) }
        }
    }
}

fn failure(f: &FailureRow) -> Markup {
    let (v, tone) = verdict(&f.verdict);
    let next = next_pass(f);
    let next = next
        .strip_prefix("Next passing drill: ")
        .unwrap_or(&next)
        .to_string();
    html! {
        article.block {
            h3 { (f.scenario) }
            p.source { "Record " (record(&f.record)) }
            dl {
                dt { "Verdict" } dd { (status(&v, tone)) }
                dt { "Finding" } dd { (f.finding.as_deref().unwrap_or("no finding was recorded")) }
                dt { "Next passing drill" }
                dd {
                    @if f.next_pass.is_some() { (next) } @else { (status(&next, Tone::Bad)) }
                }
            }
        }
    }
}

fn how_to_verify(pack: &Pack) -> Markup {
    html! {
        section #verify {
            h2 { "How to verify" }
            @if pack.how_to_verify.is_empty() {
                p.empty { "No verification steps were recorded." }
            }
            @for step in &pack.how_to_verify {
                p.verify { (step.say) }
                @if let Some(c) = &step.command { pre { code { (c) } } }
            }
        }
    }
}

fn footer(pack: &Pack) -> Markup {
    html! {
        footer {
            p { "Ledger head " code.hash { (pack.ledger.head_hash) } }
            p {
                (pack.tool) " · generated " (datetime(&pack.generated_at)) " · "
                (crate::words::plural(pack.ledger.records, "record", "records")) ", head record "
                (pack.ledger.head_id.map_or("none".into(), |id| format!("#{id}")))
            }
        }
    }
}

/// System fonts only: a web font would be an external reference.
const CSS: &str = r#"
:root { --ink:#1f2933; --muted:#5b6775; --rule:#d3d9e0; --panel:#f3f5f7;
  --good:#1d6f35; --bad:#a8231b; --warn:#8a5a00; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main, body > footer { max-width: 860px; margin: 0 auto; padding: 0 28px; }
main { padding-top: 40px; }
h1 { font-size: 32px; line-height: 1.2; margin: 4px 0 2px; }
h2 { font-size: 22px; margin: 44px 0 14px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 0 0 2px; }
p { margin: 0 0 6px; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
.eyebrow { text-transform: uppercase; letter-spacing: .04em; font-weight: bold; font-size: 12px; color: var(--muted); }
.period { font-size: 17px; color: var(--muted); }
.none-tested { font-size: 28px; font-weight: bold; color: var(--bad); margin: 22px 0 8px; }
.headline { font-size: 18px; margin: 24px 0; padding-left: 14px; border-left: 4px solid var(--rule); }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin: 22px 0 30px; }
.card { background: var(--panel); padding: 14px 16px; }
.card .label, .card .detail { font-size: 12.5px; color: var(--muted); margin: 0; }
.card .value { font-size: 27px; font-weight: bold; margin: 2px 0 4px; line-height: 1.2; }
.card .status { display: block; font-size: 12.5px; }
.status { font-weight: bold; }
.good { color: var(--good); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.neutral { color: var(--ink); }
.chart { margin: 0; }
.chart svg { width: 100%; height: auto; display: block; margin-top: 6px; }
.small, .source, .evidence, .note, .empty { font-size: 13px; color: var(--muted); }
.empty { font-size: 15px; }
svg .tick { font-size: 11px; fill: var(--muted); font-family: inherit; }
svg .grid { stroke: var(--rule); stroke-width: .7; }
svg .axis { stroke: var(--muted); stroke-width: .8; }
svg .objective { stroke: var(--ink); stroke-width: 1.3; stroke-dasharray: 6 4; }
svg .pass { fill: var(--good); } svg .fail { fill: var(--bad); }
.answer { display: grid; grid-template-columns: 130px 1fr; gap: 12px;
  padding: 12px 0; border-bottom: 1px solid var(--rule); }
.answer .verdict { padding-top: 22px; font-size: 13px; }
.block { padding: 12px 0; border-bottom: 1px solid var(--rule); }
dl { display: grid; grid-template-columns: 170px 1fr; gap: 3px 12px; margin: 8px 0 0; }
dt { color: var(--muted); } dd { margin: 0; }
table { width: 100%; border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th { text-align: left; font-size: 11.5px; color: var(--muted); border-bottom: 1.5px solid var(--muted); padding: 6px 8px 6px 0; }
td { border-bottom: 1px solid var(--rule); padding: 6px 8px 6px 0; vertical-align: top; }
.nowrap { white-space: nowrap; }
.verify { overflow-wrap: anywhere; margin-top: 8px; }
pre { background: var(--panel); padding: 6px 10px; margin: 2px 0 8px; white-space: pre-wrap; }
pre code { font-size: 13px; }
.box { background: var(--panel); padding: 10px 16px; margin: 14px 0; }
.box h3 { margin: 2px 0 4px; }
.box dl { margin-top: 2px; }
dl.four { grid-template-columns: 210px 1fr; margin: 18px 0; }
dl.four dt { color: var(--ink); font-weight: bold; }
body > footer { margin-top: 48px; padding-top: 10px; padding-bottom: 32px;
  border-top: 1px solid var(--rule); font-size: 12px; color: var(--muted); }
.hash { overflow-wrap: anywhere; }
@media (max-width: 640px) {
  .figures { grid-template-columns: 1fr; }
  .answer, dl { grid-template-columns: 1fr; }
  .answer .verdict { padding-top: 0; }
}
@media print {
  @page { size: A4; margin: 16mm 15mm 18mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 10pt; }
  main, body > footer { max-width: none; padding: 0; }
  main { padding-top: 0; }
  h1 { font-size: 22pt; } h2 { font-size: 15pt; margin-top: 24pt; }
  .cover { break-after: page; }
  h2, h3 { break-after: avoid; }
  .answer, .block, tr, .card, .chart { break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 8.5pt; } th { font-size: 8pt; }
  .headline { font-size: 12.5pt; }
  .card .value { font-size: 18pt; }
  .none-tested { font-size: 20pt; }
  .answer { grid-template-columns: 118px 1fr; }
  body > footer { font-size: 7.5pt; }
}
"#;
