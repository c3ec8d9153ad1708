//! The evidence pack as an A4 PDF for a person who is not technical (page 1)
//! and an auditor (the pages after it). Layout is done first into a list of
//! pages of simple drawing operations, then drawn with krilla: the page count
//! is known before any footer ("page N of M") is drawn.
//!
//! The wording helpers and the chart's scales are `pub(crate)` so the HTML
//! page says exactly the same thing.

use super::pack::{
    Answer, AnswerStatus, DrillRow, FailureRow, ObjectiveSummary, Pack, RecordRef, Rehearsal,
    RunKind,
};
use crate::error::{Error, Result};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder, Validator};
use krilla::geom::{Path, PathBuilder, Point, Rect};
use krilla::metadata::{DateTime as PdfDateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, Stroke, StrokeDash};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{charmap::Charmap, FontRef, MetadataProvider};

// ---------------------------------------------------------------------------
// Wording shared with the HTML page.

/// How a status reads: renderers colour it, but the words always carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Bad,
    Warn,
    Neutral,
}

/// "Restore drill evidence: SITE, SINCE to UNTIL": the document title.
pub(crate) fn title(pack: &Pack) -> String {
    format!(
        "Restore drill evidence: {}, {} to {}",
        sites(pack),
        pack.period.since,
        pack.period.until
    )
}

pub(crate) fn sites(pack: &Pack) -> String {
    if pack.sites.is_empty() {
        "no site".to_string()
    } else {
        pack.sites.join(", ")
    }
}

/// `42 s`, `3.5 min`, `2.1 h`, `1.5 d`: precise enough for an objective.
pub(crate) fn duration(seconds: f64) -> String {
    let one = |v: f64, unit: &str| {
        let s = format!("{v:.1}");
        format!("{} {unit}", s.strip_suffix(".0").unwrap_or(&s))
    };
    if seconds < 59.5 {
        format!("{seconds:.0} s")
    } else if seconds < 3570.0 {
        one(seconds / 60.0, "min")
    } else if seconds < 47.5 * 3600.0 {
        one(seconds / 3600.0, "h")
    } else {
        one(seconds / 86400.0, "d")
    }
}

pub(crate) fn datetime(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The first 12 hex digits: enough to find the record, short enough to read.
pub(crate) fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// `#42, 2025-03-01 09:00 UTC, 3f9a0c1d2e4b`: how a claim points at a record.
pub(crate) fn record(r: &RecordRef) -> String {
    format!("#{}, {}, {}", r.id, datetime(&r.date), short_hash(&r.hash))
}

pub(crate) fn status_word(status: AnswerStatus) -> (&'static str, Tone) {
    match status {
        AnswerStatus::Yes => ("YES", Tone::Good),
        AnswerStatus::No => ("NO", Tone::Bad),
        AnswerStatus::NotEvidenced => ("NOT EVIDENCED", Tone::Warn),
    }
}

pub(crate) fn verdict(v: &str) -> (String, Tone) {
    let tone = if v == "passed" { Tone::Good } else { Tone::Bad };
    (v.to_uppercase(), tone)
}

pub(crate) fn kind(row: &DrillRow) -> String {
    match (row.kind, &row.fault) {
        (RunKind::Drill, _) => "Restore drill".into(),
        (RunKind::Rehearsal, Some(f)) => format!("Rehearsal: {f}"),
        (RunKind::Rehearsal, None) => "Rehearsal".into(),
    }
}

/// A measured value against its objective, e.g. `18 min (over 15 min)`.
pub(crate) fn measured(value: Option<f64>, target: Option<f64>) -> (String, Tone) {
    match (value, target) {
        (None, _) => ("not measured".into(), Tone::Neutral),
        (Some(v), Some(t)) if v > t => {
            (format!("{} (over {})", duration(v), duration(t)), Tone::Bad)
        }
        (Some(v), _) => (duration(v), Tone::Neutral),
    }
}

/// One of page 1's big figures.
pub(crate) struct Figure {
    pub label: &'static str,
    pub value: String,
    pub status: Option<(String, Tone)>,
    pub detail: String,
}

pub(crate) fn figures(pack: &Pack) -> Vec<Figure> {
    let s = &pack.summary;
    vec![
        restores_figure(pack),
        last_restore_figure(s.last_successful_restore.as_ref()),
        objective_figure("Recovery time (RTO), worst", &s.rto),
        objective_figure("Data-loss window (RPO), worst", &s.rpo),
        rehearsal_figure(pack),
        Figure {
            label: "Runs in the period",
            value: s.runs.to_string(),
            status: None,
            detail: format!(
                "{} restore drills, {} failure rehearsals",
                s.restores_tested, s.rehearsals
            ),
        },
    ]
}

fn restores_figure(pack: &Pack) -> Figure {
    let s = &pack.summary;
    let status = if s.restores_tested == 0 {
        ("NONE TESTED".to_string(), Tone::Bad)
    } else if s.restores_passed == s.restores_tested {
        ("ALL PASSED".to_string(), Tone::Good)
    } else {
        let failed = s.restores_tested.saturating_sub(s.restores_passed);
        (format!("{failed} DID NOT PASS"), Tone::Bad)
    };
    Figure {
        label: "Restores tested",
        value: if s.restores_tested == 0 {
            "None".into()
        } else {
            format!("{} of {} passed", s.restores_passed, s.restores_tested)
        },
        status: Some(status),
        detail: "restore drills of the real backups".into(),
    }
}

fn last_restore_figure(last: Option<&RecordRef>) -> Figure {
    match last {
        Some(r) => Figure {
            label: "Last successful restore",
            value: r.date.format("%Y-%m-%d").to_string(),
            status: None,
            detail: format!("{} UTC, record #{}", r.date.format("%H:%M"), r.id),
        },
        None => Figure {
            label: "Last successful restore",
            value: "None".into(),
            status: Some(("NOT EVIDENCED".into(), Tone::Bad)),
            detail: "no restore passed in the period".into(),
        },
    }
}

fn objective_figure(label: &'static str, o: &ObjectiveSummary) -> Figure {
    let value = o.worst_seconds.map_or("Not measured".into(), duration);
    let status = match (o.target_seconds, o.met) {
        (None, _) => ("NO OBJECTIVE SET".to_string(), Tone::Neutral),
        (Some(_), Some(true)) => ("MET".to_string(), Tone::Good),
        (Some(_), Some(false)) => (
            format!("MISSED IN {} OF {} DRILLS", o.missed, o.measured),
            Tone::Bad,
        ),
        (Some(_), None) => ("NOT EVIDENCED".to_string(), Tone::Warn),
    };
    let detail = match o.target_seconds {
        Some(t) => format!("objective {} (the latest drill's)", duration(t)),
        None => "no objective was set".into(),
    };
    Figure {
        label,
        value,
        status: Some(status),
        detail,
    }
}

fn rehearsal_figure(pack: &Pack) -> Figure {
    let s = &pack.summary;
    let status = if s.rehearsals == 0 {
        ("NONE REHEARSED".to_string(), Tone::Warn)
    } else if s.rehearsals_as_expected == s.rehearsals {
        ("ALL AS EXPECTED".to_string(), Tone::Good)
    } else {
        let off = s.rehearsals.saturating_sub(s.rehearsals_as_expected);
        (format!("{off} NOT AS EXPECTED"), Tone::Bad)
    };
    Figure {
        label: "Failure rehearsals as expected",
        value: format!("{} of {}", s.rehearsals_as_expected, s.rehearsals),
        status: Some(status),
        detail: "simulated failures that turned out as planned".into(),
    }
}

/// Said in large type on page 1 when nothing was restored.
pub(crate) const NO_RESTORE: &str = "No restore was tested in this period.";

/// One line of the backup protection section: a status word, then why.
pub(crate) struct Protected {
    pub label: &'static str,
    pub status: &'static str,
    pub tone: Tone,
    pub detail: String,
}

pub(crate) fn protection(pack: &Pack) -> Vec<Protected> {
    let p = &pack.protection;
    let unknown = "no backup was restored in this period";
    let encrypted = match p.all_encrypted {
        Some(true) => (
            "YES",
            Tone::Good,
            "every restored backup was encrypted (age)".into(),
        ),
        Some(false) => (
            "NO",
            Tone::Bad,
            "at least one restored backup was not encrypted".into(),
        ),
        None => ("NOT EVIDENCED", Tone::Warn, unknown.into()),
    };
    let recipients = match p.min_recipients {
        Some(n) if n >= 2 => (
            "YES",
            Tone::Good,
            format!("every restored backup opens with {n} or more keys (day-to-day and escrow)"),
        ),
        Some(n) => (
            "NO",
            Tone::Bad,
            format!("a restored backup opens with {n} key only"),
        ),
        None => ("NOT EVIDENCED", Tone::Warn, unknown.into()),
    };
    let row = |label, (status, tone, detail): (&'static str, Tone, String)| Protected {
        label,
        status,
        tone,
        detail,
    };
    vec![
        row("Encrypted", encrypted),
        row("Escrow recipient", recipients),
        row(
            "Escrow key proven",
            proven(
                p.escrow_key_proven.as_ref(),
                "opened a backup with the escrow key alone",
            ),
        ),
        row(
            "Offsite copy proven",
            proven(
                p.offsite_copy_proven.as_ref(),
                "restored a real offsite copy",
            ),
        ),
    ]
}

fn proven(r: Option<&RecordRef>, what: &str) -> (&'static str, Tone, String) {
    match r {
        Some(r) => ("YES", Tone::Good, format!("record {}", record(r))),
        None => (
            "NOT EVIDENCED",
            Tone::Warn,
            format!("no run in this period {what}"),
        ),
    }
}

pub(crate) fn next_pass(f: &FailureRow) -> String {
    match &f.next_pass {
        Some(r) => format!("Next passing drill: record {}", record(r)),
        None => "Next passing drill: none since".into(),
    }
}

pub(crate) fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

// ---------------------------------------------------------------------------
// The RTO chart's scales, shared with the HTML page's SVG.

pub(crate) struct Chart {
    /// The y unit's name and length in seconds.
    pub unit: (&'static str, f64),
    /// Top of the y axis, in seconds.
    pub y_max: f64,
    /// Tick values in seconds, from 0.
    pub y_ticks: Vec<f64>,
    /// Tick positions (0..1 along the period) and labels.
    pub x_ticks: Vec<(f64, String)>,
    pub points: Vec<ChartPoint>,
    pub objective: Option<f64>,
}

pub(crate) struct ChartPoint {
    /// 0..1 along the period.
    pub x: f64,
    /// None: the drill failed before a recovery time could be measured.
    pub seconds: Option<f64>,
    pub passed: bool,
}

/// Plain restore drills only: a rehearsal's recovery time is that of a
/// simulated failure and would muddy the line an insurer plans with.
pub(crate) fn chart(pack: &Pack) -> Chart {
    let start = day_start(pack.period.since);
    let span = (day_start(pack.period.until) + Duration::days(1) - start)
        .num_seconds()
        .max(1) as f64;
    let points: Vec<ChartPoint> = pack
        .drills
        .iter()
        .filter(|d| d.kind == RunKind::Drill)
        .map(|d| ChartPoint {
            x: ((d.record.date - start).num_seconds() as f64 / span).clamp(0.0, 1.0),
            seconds: d.rto_seconds,
            passed: d.verdict == "passed",
        })
        .collect();
    let objective = pack.summary.rto.target_seconds;
    let top = points
        .iter()
        .filter_map(|p| p.seconds)
        .chain(objective)
        .fold(0.0_f64, f64::max);
    let unit = unit_for(top);
    let (y_max, y_ticks) = y_scale(top, unit.1);
    Chart {
        unit,
        y_max,
        y_ticks,
        x_ticks: x_ticks(pack.period.since, pack.period.until, start, span),
        points,
        objective,
    }
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn unit_for(top: f64) -> (&'static str, f64) {
    if top < 120.0 {
        ("seconds", 1.0)
    } else if top < 2.0 * 3600.0 {
        ("minutes", 60.0)
    } else if top < 3.0 * 86400.0 {
        ("hours", 3600.0)
    } else {
        ("days", 86400.0)
    }
}

/// Round ticks (1, 2, 2.5 or 5 times a power of ten), about four of them.
fn y_scale(top: f64, unit: f64) -> (f64, Vec<f64>) {
    let top_u = if top > 0.0 { top / unit } else { 1.0 };
    let raw = top_u / 4.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    let n = (top_u / step).ceil().max(1.0) as usize;
    let ticks: Vec<f64> = (0..=n).map(|i| i as f64 * step * unit).collect();
    (n as f64 * step * unit, ticks)
}

/// Month starts for long periods, week or day starts for short ones; at
/// most about seven labels so they never collide.
fn x_ticks(
    since: NaiveDate,
    until: NaiveDate,
    start: DateTime<Utc>,
    span: f64,
) -> Vec<(f64, String)> {
    let days = (until - since).num_days() + 1;
    let mut dates: Vec<NaiveDate> = Vec::new();
    if days > 62 {
        let first = NaiveDate::from_ymd_opt(since.year(), since.month(), 1).unwrap_or(since);
        let mut d = Some(first);
        while let Some(day) = d.filter(|day| *day <= until) {
            if day >= since {
                dates.push(day);
            }
            d = day.checked_add_months(chrono::Months::new(1));
        }
    } else {
        let step = if days > 14 { 7 } else { 1 };
        dates = since
            .iter_days()
            .step_by(step)
            .take_while(|d| *d <= until)
            .collect();
    }
    let keep = dates.len().div_ceil(7).max(1);
    let label = |d: &NaiveDate| {
        if days > 62 {
            d.format("%b %Y").to_string()
        } else {
            d.format("%d %b").to_string()
        }
    };
    dates
        .iter()
        .step_by(keep)
        .map(|d| {
            (
                (day_start(*d) - start).num_seconds() as f64 / span,
                label(d),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Fonts and measuring.

/// A font with the metrics used to measure and to place its glyphs: text is
/// laid out without kerning, so the measured width is exactly the drawn one.
struct Face {
    font: Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8], name: &str) -> Result<Face> {
        let bad = || Error::Failed(format!("the built-in font {name} cannot be read"));
        let font_ref = FontRef::new(data).map_err(|_| bad())?;
        let font = Font::new(data.into(), 0).ok_or_else(bad)?;
        let m = font_ref.metrics(Size::unscaled(), LocationRef::default());
        Ok(Face {
            font,
            charmap: font_ref.charmap(),
            metrics: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em: f32::from(m.units_per_em.max(1)),
        })
    }

    /// Control characters become spaces and characters the font lacks
    /// become `?`: an empty box in evidence would hide what was recorded.
    fn clean(&self, text: &str) -> String {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    ' '
                } else if self.charmap.map(c).is_some() {
                    c
                } else {
                    '?'
                }
            })
            .collect()
    }

    fn advance(&self, c: char) -> f32 {
        let gid = self.charmap.map(c).unwrap_or_default();
        self.metrics.advance_width(gid).unwrap_or(0.0) / self.units_per_em
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                let gid = self.charmap.map(c).unwrap_or_default();
                KrillaGlyph::new(
                    GlyphId::new(gid.to_u32()),
                    self.advance(c),
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn load() -> Result<Fonts> {
        Ok(Fonts {
            regular: Face::load(dejavu::sans::regular(), "DejaVu Sans")?,
            bold: Face::load(dejavu::sans::bold(), "DejaVu Sans Bold")?,
        })
    }

    fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

// ---------------------------------------------------------------------------
// Drawing operations and page layout.

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 56.0;
const WIDTH: f32 = PAGE_W - 2.0 * LEFT;
const TOP: f32 = 56.0;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = PAGE_H - 76.0;
const LEADING: f32 = 1.4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
}

#[derive(Clone, Copy)]
struct Rgb(u8, u8, u8);

const INK: Rgb = Rgb(0x1f, 0x29, 0x33);
const MUTED: Rgb = Rgb(0x5b, 0x67, 0x75);
const RULE: Rgb = Rgb(0xd3, 0xd9, 0xe0);
const PANEL: Rgb = Rgb(0xf3, 0xf5, 0xf7);
const GREEN: Rgb = Rgb(0x1d, 0x6f, 0x35);
const RED: Rgb = Rgb(0xa8, 0x23, 0x1b);
const AMBER: Rgb = Rgb(0x8a, 0x5a, 0x00);

fn tone_color(t: Tone) -> Rgb {
    match t {
        Tone::Good => GREEN,
        Tone::Bad => RED,
        Tone::Warn => AMBER,
        Tone::Neutral => INK,
    }
}

#[derive(Clone, Copy)]
struct Style {
    size: f32,
    weight: Weight,
    color: Rgb,
}

const BODY: Style = Style {
    size: 9.5,
    weight: Weight::Regular,
    color: INK,
};
const SMALL: Style = Style {
    size: 8.0,
    weight: Weight::Regular,
    color: MUTED,
};
const CELL: Style = Style {
    size: 8.0,
    weight: Weight::Regular,
    color: INK,
};

impl Style {
    fn bold(self) -> Style {
        Style {
            weight: Weight::Bold,
            ..self
        }
    }
    fn colored(self, color: Rgb) -> Style {
        Style { color, ..self }
    }
    fn sized(self, size: f32) -> Style {
        Style { size, ..self }
    }
    fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

#[derive(Clone)]
enum Op {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        style: Style,
        text: String,
    },
    Line {
        from: (f32, f32),
        to: (f32, f32),
        width: f32,
        color: Rgb,
        dashed: bool,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    /// A chart mark centred on (x, y): a disc when passed, a triangle when not.
    Mark { x: f32, y: f32, passed: bool },
}

impl Op {
    fn shifted(self, dy: f32) -> Op {
        match self {
            Op::Text { x, y, style, text } => Op::Text {
                x,
                y: y + dy,
                style,
                text,
            },
            Op::Line {
                from,
                to,
                width,
                color,
                dashed,
            } => Op::Line {
                from: (from.0, from.1 + dy),
                to: (to.0, to.1 + dy),
                width,
                color,
                dashed,
            },
            Op::Rect { x, y, w, h, color } => Op::Rect {
                x,
                y: y + dy,
                w,
                h,
                color,
            },
            Op::Mark { x, y, passed } => Op::Mark {
                x,
                y: y + dy,
                passed,
            },
        }
    }
}

fn rule(x: f32, y: f32, w: f32, color: Rgb, width: f32) -> Op {
    Op::Line {
        from: (x, y),
        to: (x + w, y),
        width,
        color,
        dashed: false,
    }
}

/// A horizontal strip placed as one piece; ops are relative to its top.
struct Row {
    height: f32,
    ops: Vec<Op>,
}

impl Row {
    fn gap(height: f32) -> Row {
        Row {
            height,
            ops: Vec::new(),
        }
    }
}

struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// Repeated at the top of each new page while a table is being laid out.
    header: Option<Vec<Row>>,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Layout<'f> {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            y: TOP,
            header: None,
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
        if let Some(header) = self.header.take() {
            for row in &header {
                self.put(Row {
                    height: row.height,
                    ops: row.ops.clone(),
                });
            }
            self.header = Some(header);
        }
    }

    fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    fn ensure(&mut self, height: f32) {
        if height > self.room() {
            self.new_page();
        }
    }

    fn put(&mut self, row: Row) {
        let y = self.y;
        if let Some(page) = self.pages.last_mut() {
            page.extend(row.ops.into_iter().map(|op| op.shifted(y)));
        }
        self.y += row.height;
    }

    /// Places rows, on a new page when they do not fit but would on a fresh
    /// one (`keep`); a block taller than a page breaks between rows.
    fn place(&mut self, rows: Vec<Row>, keep: bool) {
        let total: f32 = rows.iter().map(|r| r.height).sum();
        let header: f32 = self.header.iter().flatten().map(|r| r.height).sum();
        if keep && total > self.room() && total <= BOTTOM - TOP - header {
            self.new_page();
        }
        for row in rows {
            if row.height > self.room() {
                self.new_page();
            }
            self.put(row);
        }
    }

    /// Vertical space, dropped at the top of a page where it would only
    /// push content down.
    fn gap(&mut self, height: f32) {
        if self.y > TOP + 0.5 {
            self.y = (self.y + height).min(BOTTOM);
        }
    }

    /// Greedy word wrap measured with the font's advances; a word wider
    /// than the line (a hash, a path) is broken between characters.
    fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        let face = self.fonts.face(style.weight);
        let text = face.clean(text);
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if face.width(&candidate, style.size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line = self.break_word(word, style, width, &mut lines);
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Pushes full-width pieces of an over-long word; returns the remainder.
    fn break_word(&self, word: &str, style: Style, width: f32, lines: &mut Vec<String>) -> String {
        let face = self.fonts.face(style.weight);
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if face.width(&piece, style.size) > width && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        piece
    }

    /// Wrapped text as rows, one per line, starting at `x`.
    fn text_rows(&self, text: &str, style: Style, x: f32, width: f32) -> Vec<Row> {
        self.wrap(text, style, width)
            .into_iter()
            .map(|line| Row {
                height: style.line_height(),
                ops: vec![text_op(x, baseline(style), style, line)],
            })
            .collect()
    }

    fn paragraph(&mut self, text: &str, style: Style) {
        let rows = self.text_rows(text, style, LEFT, WIDTH);
        self.place(rows, false);
    }
}

/// Where the baseline sits in a line of `style`: centred in the leading.
fn baseline(style: Style) -> f32 {
    style.size * (LEADING - 1.16) / 2.0 + style.size * 0.93
}

fn text_op(x: f32, y: f32, style: Style, text: String) -> Op {
    Op::Text { x, y, style, text }
}

/// Cells side by side; row `i` holds line `i` of every cell.
struct Cell<'a> {
    text: &'a str,
    style: Style,
    x: f32,
    width: f32,
}

fn cells_rows(layout: &Layout, cells: &[Cell]) -> Vec<Row> {
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .map(|c| layout.wrap(c.text, c.style, c.width))
        .collect();
    let n = wrapped.iter().map(Vec::len).max().unwrap_or(0);
    let height = cells
        .iter()
        .map(|c| c.style.line_height())
        .fold(0.0, f32::max);
    (0..n)
        .map(|i| Row {
            height,
            ops: cells
                .iter()
                .zip(&wrapped)
                .filter_map(|(c, lines)| {
                    let line = lines.get(i)?.clone();
                    Some(text_op(c.x, baseline(c.style), c.style, line))
                })
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Page 1.

fn page_one(l: &mut Layout, pack: &Pack) {
    l.paragraph(
        "RESTORE DRILL EVIDENCE",
        SMALL.bold().sized(8.5).colored(MUTED),
    );
    l.gap(4.0);
    l.paragraph(&sites(pack), BODY.bold().sized(22.0));
    l.paragraph(
        &format!(
            "Backup restore tests from {} to {}",
            pack.period.since, pack.period.until
        ),
        BODY.sized(12.0).colored(MUTED),
    );
    l.gap(16.0);
    if pack.summary.restores_tested == 0 {
        l.paragraph(NO_RESTORE, BODY.bold().sized(20.0).colored(RED));
        l.gap(6.0);
    }
    let headline = l.text_rows(
        &pack.summary.headline,
        BODY.sized(12.5),
        LEFT + 12.0,
        WIDTH - 12.0,
    );
    let h: f32 = headline.iter().map(|r| r.height).sum();
    l.place(
        vec![Row {
            height: 0.0,
            ops: vec![Op::Rect {
                x: LEFT,
                y: 0.0,
                w: 3.0,
                h,
                color: RULE,
            }],
        }],
        false,
    );
    l.place(headline, true);
    l.gap(20.0);
    figure_grid(l, &figures(pack));
    l.gap(22.0);
    chart_block(l, &chart(pack));
}

const CARD_H: f32 = 84.0;
const CARD_GAP: f32 = 10.0;

fn figure_grid(l: &mut Layout, figures: &[Figure]) {
    let w = (WIDTH - CARD_GAP) / 2.0;
    for pair in figures.chunks(2) {
        let mut ops = Vec::new();
        for (i, f) in pair.iter().enumerate() {
            ops.extend(card(l, f, LEFT + i as f32 * (w + CARD_GAP), w));
        }
        l.place(
            vec![Row {
                height: CARD_H + CARD_GAP,
                ops,
            }],
            true,
        );
    }
}

/// Label, big value, then the status word and a line of detail.
fn card(l: &Layout, f: &Figure, x: f32, w: f32) -> Vec<Op> {
    let pad = 12.0;
    let inner = w - 2.0 * pad;
    let label = SMALL.sized(8.5);
    let value = BODY.bold().sized(19.0);
    let mut ops = vec![
        Op::Rect {
            x,
            y: 0.0,
            w,
            h: CARD_H,
            color: PANEL,
        },
        text_op(x + pad, 18.0, label, fit(l, f.label, label, inner)),
        text_op(x + pad, 43.0, value, fit(l, &f.value, value, inner)),
    ];
    let mut y = 60.0;
    if let Some((word, tone)) = &f.status {
        let st = SMALL.bold().sized(8.5).colored(tone_color(*tone));
        ops.push(text_op(x + pad, y, st, fit(l, word, st, inner)));
        y += 13.0;
    }
    ops.push(text_op(x + pad, y, label, fit(l, &f.detail, label, inner)));
    ops
}

/// One line that fits `width`, shortened with an ellipsis if it must be.
fn fit(l: &Layout, text: &str, style: Style, width: f32) -> String {
    let face = l.fonts.face(style.weight);
    let mut text = face.clean(text);
    if face.width(&text, style.size) <= width {
        return text;
    }
    while !text.is_empty() && face.width(&format!("{text}…"), style.size) > width {
        text.pop();
    }
    format!("{}…", text.trim_end())
}

// ---------------------------------------------------------------------------
// The chart.

const CHART_H: f32 = 185.0;
const PLOT_LEFT: f32 = 46.0;
const PLOT_TOP: f32 = 30.0;
const PLOT_BOTTOM: f32 = 30.0;

fn chart_block(l: &mut Layout, c: &Chart) {
    let title = l.text_rows(
        "Recovery time of each restore drill",
        BODY.bold().sized(11.0),
        LEFT,
        WIDTH,
    );
    let mut rows = title;
    rows.extend(l.text_rows(
        "One mark per restore drill of the real backups; failure rehearsals are listed on a later page.",
        SMALL,
        LEFT,
        WIDTH,
    ));
    rows.push(Row {
        height: CHART_H,
        ops: chart_ops(l, c),
    });
    l.place(rows, true);
}

fn chart_ops(l: &Layout, c: &Chart) -> Vec<Op> {
    let x0 = LEFT + PLOT_LEFT;
    let w = WIDTH - PLOT_LEFT - 8.0;
    let (y0, h) = (PLOT_TOP, CHART_H - PLOT_TOP - PLOT_BOTTOM);
    let ys = |s: f64| y0 + h - (s / c.y_max) as f32 * h;
    let mut ops = axes_ops(l, c, x0, w, y0, h);
    if let Some(t) = c.objective {
        let y = ys(t);
        ops.push(Op::Line {
            from: (x0, y),
            to: (x0 + w, y),
            width: 1.0,
            color: INK,
            dashed: true,
        });
        let label = format!("objective {}", duration(t));
        let lw = l.fonts.regular.width(&label, 7.5);
        ops.push(text_op(x0 + w - lw, y - 3.5, SMALL.sized(7.5), label));
    }
    for p in &c.points {
        let x = x0 + p.x as f32 * w;
        let y = p.seconds.map_or(y0 + h, ys);
        ops.push(Op::Mark {
            x,
            y,
            passed: p.passed,
        });
    }
    if c.points.is_empty() {
        let msg = NO_RESTORE.to_string();
        let mw = l.fonts.regular.width(&msg, 9.0);
        ops.push(text_op(
            x0 + (w - mw) / 2.0,
            y0 + h / 2.0,
            SMALL.sized(9.0),
            msg,
        ));
    }
    ops.extend(legend_ops(l, LEFT + WIDTH, 8.0));
    ops
}

fn axes_ops(l: &Layout, c: &Chart, x0: f32, w: f32, y0: f32, h: f32) -> Vec<Op> {
    let tick = SMALL.sized(7.5);
    let mut ops = vec![text_op(LEFT, y0 - 10.0, tick, c.unit.0.to_string())];
    for t in &c.y_ticks {
        let y = y0 + h - (t / c.y_max) as f32 * h;
        ops.push(rule(x0, y, w, if *t == 0.0 { MUTED } else { RULE }, 0.5));
        let label = trim_number(t / c.unit.1);
        let lw = l.fonts.regular.width(&label, tick.size);
        ops.push(text_op(x0 - 6.0 - lw, y + 2.5, tick, label));
    }
    for (fx, label) in &c.x_ticks {
        let x = x0 + *fx as f32 * w;
        ops.push(Op::Line {
            from: (x, y0 + h),
            to: (x, y0 + h + 4.0),
            width: 0.5,
            color: MUTED,
            dashed: false,
        });
        let lw = l.fonts.regular.width(label, tick.size);
        let lx = (x - lw / 2.0).clamp(x0 - 4.0, x0 + w - lw);
        ops.push(text_op(lx, y0 + h + 14.0, tick, label.clone()));
    }
    ops.push(text_op(
        x0,
        y0 + h + 27.0,
        tick,
        "date of the drill (UTC)".into(),
    ));
    ops
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").unwrap_or(&s).to_string()
}

/// Right-aligned at `right`: disc = passed, triangle = did not pass. The
/// objective line is labelled where it is drawn.
fn legend_ops(l: &Layout, right: f32, y: f32) -> Vec<Op> {
    let st = SMALL.sized(7.5);
    let items = [
        (true, "passed"),
        (false, "did not pass (no time: on the axis)"),
    ];
    let item_w = |t: &str| 10.0 + l.fonts.regular.width(t, st.size) + 14.0;
    let mut x = right - items.iter().map(|(_, t)| item_w(t)).sum::<f32>() + 14.0;
    let mut ops = Vec::new();
    for (passed, text) in items {
        ops.push(Op::Mark {
            x: x + 4.0,
            y: y - 2.5,
            passed,
        });
        ops.push(text_op(x + 10.0, y, st, text.to_string()));
        x += item_w(text);
    }
    ops
}

// ---------------------------------------------------------------------------
// The pages after page 1.

fn rows_height(rows: &[Row]) -> f32 {
    rows.iter().map(|r| r.height).sum()
}

/// A section title, kept on the page with the first `next` points of what
/// follows it (capped so a huge first block can still start here).
fn heading(l: &mut Layout, text: &str, next: f32) {
    let style = BODY.bold().sized(15.0);
    l.gap(22.0);
    let next = next.clamp(4.0 * BODY.line_height(), (BOTTOM - TOP) / 2.0);
    l.ensure(style.line_height() + 10.0 + next);
    let mut rows = l.text_rows(text, style, LEFT, WIDTH);
    rows.push(Row {
        height: 10.0,
        ops: vec![rule(LEFT, 3.0, WIDTH, RULE, 0.75)],
    });
    l.place(rows, true);
}

/// A section of blocks (one per item) kept whole on a page, its heading kept
/// with the first, or a plain note when there is none.
fn blocks<T>(
    l: &mut Layout,
    title: &str,
    items: &[T],
    rows: fn(&Layout, &T) -> Vec<Row>,
    empty: &str,
) {
    let first = items.first().map_or(0.0, |i| rows_height(&rows(l, i)));
    heading(l, title, first);
    if items.is_empty() {
        empty_note(l, empty);
    }
    for i in items {
        let r = rows(l, i);
        l.place(r, true);
    }
}

fn empty_note(l: &mut Layout, text: &str) {
    l.paragraph(text, BODY.colored(MUTED));
}

/// Width of the status column: the widest status word plus a gap.
fn status_column(l: &Layout) -> f32 {
    let st = BODY.bold().sized(9.0);
    l.fonts.bold.width("NOT EVIDENCED", st.size) + 14.0
}

fn questions(l: &mut Layout, pack: &Pack) {
    blocks(
        l,
        "Questions answered",
        &pack.questions,
        answer_rows,
        "No question was answered in this pack.",
    );
}

fn answer_rows(l: &Layout, a: &Answer) -> Vec<Row> {
    let gutter = status_column(l);
    let (x, w) = (LEFT + gutter, WIDTH - gutter);
    let mut rows = l.text_rows(&format!("{} · {}", a.source, a.reference), SMALL, x, w);
    let question = l.text_rows(&a.question, BODY.bold().sized(10.0), x, w);
    let (word, tone) = status_word(a.status);
    let st = BODY.bold().sized(9.0).colored(tone_color(tone));
    let mut question = question.into_iter();
    if let Some(mut first) = question.next() {
        first
            .ops
            .push(text_op(LEFT, baseline(BODY.sized(10.0)), st, word.into()));
        rows.push(first);
    }
    rows.extend(question);
    rows.push(Row::gap(2.0));
    rows.extend(l.text_rows(&a.answer, BODY, x, w));
    rows.push(Row::gap(2.0));
    let evidence = if a.evidence.is_empty() {
        "Evidence: no record in this period.".to_string()
    } else {
        let refs: Vec<String> = a.evidence.iter().map(record).collect();
        format!("Evidence: {}", refs.join("; "))
    };
    rows.extend(l.text_rows(&evidence, SMALL, x, w));
    rows.push(Row {
        height: 16.0,
        ops: vec![rule(LEFT, 8.0, WIDTH, RULE, 0.5)],
    });
    rows
}

/// A table: header repeated on every page it spans, rows kept whole.
fn table(l: &mut Layout, columns: &[(&str, f32)], rows: Vec<Vec<(String, Style)>>) {
    let xs = column_xs(l, columns, &rows);
    let head: Vec<Cell> = columns
        .iter()
        .zip(&xs)
        .map(|((name, _), (x, w))| Cell {
            text: name,
            style: TABLE_HEAD,
            x: *x,
            width: *w,
        })
        .collect();
    let mut header = cells_rows(l, &head);
    header.push(Row {
        height: 6.0,
        ops: vec![rule(LEFT, 2.0, WIDTH, MUTED, 0.75)],
    });
    let header_h: f32 = header.iter().map(|r| r.height).sum();
    l.ensure(header_h + 3.0 * CELL.line_height());
    l.place(header, false);
    l.header = Some(cells_rows(l, &head));
    if let Some(h) = l.header.as_mut() {
        h.push(Row {
            height: 6.0,
            ops: vec![rule(LEFT, 2.0, WIDTH, MUTED, 0.75)],
        });
    }
    for row in rows {
        let cells: Vec<Cell> = row
            .iter()
            .zip(&xs)
            .map(|((text, style), (x, w))| Cell {
                text,
                style: *style,
                x: *x,
                width: *w,
            })
            .collect();
        let mut lines = cells_rows(l, &cells);
        lines.push(Row {
            height: 8.0,
            ops: vec![rule(LEFT, 4.0, WIDTH, RULE, 0.5)],
        });
        l.place(lines, true);
    }
    l.header = None;
}

const TABLE_HEAD: Style = Style {
    size: 7.5,
    weight: Weight::Bold,
    color: MUTED,
};

/// Column x positions and widths, as browsers lay out automatic tables:
/// every column gets at least its longest word (so "UNRECOVERABLE" is never
/// split), then space goes where text would otherwise wrap most.
fn column_xs(
    l: &Layout,
    columns: &[(&str, f32)],
    rows: &[Vec<(String, Style)>],
) -> Vec<(f32, f32)> {
    let gutter = 8.0;
    let usable = WIDTH - gutter * (columns.len().saturating_sub(1)) as f32;
    let (min, max) = content_widths(l, columns, rows);
    let (sum_min, sum_max) = (min.iter().sum::<f32>(), max.iter().sum::<f32>());
    let total: f32 = columns.iter().map(|c| c.1).sum::<f32>().max(f32::EPSILON);
    let widths: Vec<f32> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, weight))| {
            if sum_max <= usable {
                max[i] + (usable - sum_max) * weight / total
            } else if sum_min <= usable {
                let stretch = (usable - sum_min) / (sum_max - sum_min).max(f32::EPSILON);
                min[i] + (max[i] - min[i]) * stretch
            } else {
                usable * weight / total
            }
        })
        .collect();
    let mut x = LEFT;
    widths
        .into_iter()
        .map(|w| {
            let at = (x, w);
            x += w + gutter;
            at
        })
        .collect()
}

/// Per column: the widest single word and the widest unwrapped cell.
fn content_widths(
    l: &Layout,
    columns: &[(&str, f32)],
    rows: &[Vec<(String, Style)>],
) -> (Vec<f32>, Vec<f32>) {
    let measure = |text: &str, style: Style| {
        let face = l.fonts.face(style.weight);
        let word = text
            .split_whitespace()
            .map(|w| face.width(w, style.size))
            .fold(0.0, f32::max);
        (word, face.width(text, style.size))
    };
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|(t, st)| measure(t, *st))
                .fold(measure(name, TABLE_HEAD), |a, b| {
                    (a.0.max(b.0), a.1.max(b.1))
                })
        })
        .unzip()
}

fn drills(l: &mut Layout, pack: &Pack) {
    heading(l, "Drills in the period", 6.0 * CELL.line_height());
    if pack.drills.is_empty() {
        empty_note(l, "No drill was run in this period.");
        return;
    }
    let single = single_site(pack);
    if let Some(site) = single {
        l.paragraph(&format!("Every run was at {site}."), BODY.colored(MUTED));
        l.gap(6.0);
    }
    let columns: Vec<(&str, f32)> = drill_columns()
        .into_iter()
        .filter(|(name, _)| single.is_none() || *name != "Site")
        .collect();
    let rows = pack
        .drills
        .iter()
        .map(|d| {
            let mut cells = drill_cells(d);
            if single.is_some() {
                cells.remove(1);
            }
            cells
        })
        .collect();
    table(l, &columns, rows);
}

/// The site every run was at, when there is one: the table then says it
/// once above rather than in a column squeezing the others.
pub(crate) fn single_site(pack: &Pack) -> Option<&str> {
    let first = pack.drills.first()?.site.as_str();
    pack.drills.iter().all(|d| d.site == first).then_some(first)
}

fn drill_columns() -> Vec<(&'static str, f32)> {
    vec![
        ("Date", 1.0),
        ("Site", 1.0),
        ("Scenario", 1.0),
        ("Kind", 1.0),
        ("Verdict", 1.0),
        ("RTO", 1.0),
        ("RPO", 1.0),
        ("Backup taken", 1.0),
    ]
}

fn drill_cells(d: &DrillRow) -> Vec<(String, Style)> {
    let (v, tone) = verdict(&d.verdict);
    let v = match d.as_expected {
        Some(true) => format!("{v} (as expected)"),
        Some(false) => format!("{v} (NOT as expected)"),
        None => v,
    };
    let (rto, rto_tone) = measured(d.rto_seconds, d.rto_target_seconds);
    let (rpo, rpo_tone) = measured(d.rpo_seconds, d.rpo_target_seconds);
    vec![
        (datetime(&d.record.date), CELL),
        (d.site.clone(), CELL),
        (d.scenario.clone(), CELL),
        (kind(d), CELL),
        (v, CELL.bold().colored(tone_color(tone))),
        (rto, CELL.colored(tone_color(rto_tone))),
        (rpo, CELL.colored(tone_color(rpo_tone))),
        (
            d.backup_taken_at
                .as_ref()
                .map_or("unknown".into(), datetime),
            CELL,
        ),
    ]
}

fn rehearsals(l: &mut Layout, pack: &Pack) {
    blocks(
        l,
        "Failure scenarios rehearsed",
        &pack.rehearsals,
        rehearsal_rows,
        "No failure scenario was rehearsed in this period.",
    );
}

fn rehearsal_rows(l: &Layout, r: &Rehearsal) -> Vec<Row> {
    let (word, tone) = if r.as_expected {
        ("AS EXPECTED", Tone::Good)
    } else {
        ("NOT AS EXPECTED", Tone::Bad)
    };
    let title = format!("{}: {}", r.fault, r.scenario);
    let mut rows = l.text_rows(&title, BODY.bold().sized(10.0), LEFT, WIDTH);
    rows.extend(l.text_rows(&format!("Record {}", record(&r.record)), SMALL, LEFT, WIDTH));
    rows.push(Row::gap(3.0));
    let value = Style { ..BODY };
    rows.extend(field_rows(
        l,
        "As expected",
        word,
        value.bold().colored(tone_color(tone)),
    ));
    rows.extend(field_rows(l, "Expected", &r.expected, value));
    rows.extend(field_rows(l, "Actual", &r.actual, value));
    rows.extend(field_rows(l, "What it shows", &r.shows, value));
    rows.push(Row {
        height: 16.0,
        ops: vec![rule(LEFT, 8.0, WIDTH, RULE, 0.5)],
    });
    rows
}

const LABEL_W: f32 = 110.0;

/// A label on the left, its wrapped value beside it.
fn field_rows(l: &Layout, label: &str, value: &str, style: Style) -> Vec<Row> {
    cells_rows(
        l,
        &[
            Cell {
                text: label,
                style: BODY.colored(MUTED),
                x: LEFT,
                width: LABEL_W - 10.0,
            },
            Cell {
                text: value,
                style,
                x: LEFT + LABEL_W,
                width: WIDTH - LABEL_W,
            },
        ],
    )
}

fn protection_section(l: &mut Layout, pack: &Pack) {
    heading(l, "Backup protection", 4.0 * BODY.line_height());
    let status_w = status_column(l);
    for p in protection(pack) {
        let st = BODY.bold().sized(9.0).colored(tone_color(p.tone));
        let cells = [
            Cell {
                text: p.label,
                style: BODY.colored(MUTED),
                x: LEFT,
                width: LABEL_W - 10.0,
            },
            Cell {
                text: p.status,
                style: st,
                x: LEFT + LABEL_W,
                width: status_w,
            },
            Cell {
                text: &p.detail,
                style: BODY,
                x: LEFT + LABEL_W + status_w,
                width: WIDTH - LABEL_W - status_w,
            },
        ];
        let rows = cells_rows(l, &cells);
        l.place(rows, true);
        l.gap(3.0);
    }
    l.gap(10.0);
    backup_ages(l, pack);
}

/// The newest backup's age at each run: how stale a restore would have been.
fn backup_ages(l: &mut Layout, pack: &Pack) {
    l.place(
        l.text_rows(
            "Newest backup's age when each run started",
            BODY.bold().sized(10.0),
            LEFT,
            WIDTH,
        ),
        true,
    );
    l.gap(4.0);
    if pack.protection.backup_age.is_empty() {
        empty_note(l, "No run in this period measured a backup's age.");
        return;
    }
    let columns = [
        ("Record", 2.2),
        ("Run started", 1.6),
        ("Encrypted", 1.0),
        ("Recipients", 1.0),
        ("Newest backup age", 1.4),
    ];
    let rows = pack
        .protection
        .backup_age
        .iter()
        .map(|b| {
            vec![
                (
                    format!("#{} {}", b.record.id, short_hash(&b.record.hash)),
                    CELL,
                ),
                (datetime(&b.record.date), CELL),
                (yes_no(b.encrypted).to_string(), CELL),
                (
                    b.recipients.map_or("unknown".into(), |n| n.to_string()),
                    CELL,
                ),
                (
                    b.newest_backup_age_seconds
                        .map_or("unknown".into(), duration),
                    CELL,
                ),
            ]
        })
        .collect();
    table(l, &columns, rows);
}

fn failures(l: &mut Layout, pack: &Pack) {
    blocks(
        l,
        "Failures",
        &pack.failures,
        failure_rows,
        "No run failed in this period.",
    );
}

fn failure_rows(l: &Layout, f: &FailureRow) -> Vec<Row> {
    let (v, tone) = verdict(&f.verdict);
    let mut rows = l.text_rows(&f.scenario, BODY.bold().sized(10.0), LEFT, WIDTH);
    rows.extend(l.text_rows(&format!("Record {}", record(&f.record)), SMALL, LEFT, WIDTH));
    rows.push(Row::gap(3.0));
    rows.extend(field_rows(
        l,
        "Verdict",
        &v,
        BODY.bold().colored(tone_color(tone)),
    ));
    let finding = f.finding.as_deref().unwrap_or("no finding was recorded");
    rows.extend(field_rows(l, "Finding", finding, BODY));
    let next = next_pass(f);
    let next = next.strip_prefix("Next passing drill: ").unwrap_or(&next);
    // Only the absence of a later pass is a status worth colour.
    let next_style = if f.next_pass.is_some() {
        BODY
    } else {
        BODY.bold().colored(RED)
    };
    rows.extend(field_rows(l, "Next passing drill", next, next_style));
    rows.push(Row {
        height: 16.0,
        ops: vec![rule(LEFT, 8.0, WIDTH, RULE, 0.5)],
    });
    rows
}

fn how_to_verify(l: &mut Layout, pack: &Pack) {
    heading(l, "How to verify", 0.0);
    if pack.how_to_verify.is_empty() {
        empty_note(l, "No verification steps were recorded.");
    }
    for line in &pack.how_to_verify {
        l.paragraph(line, BODY);
        l.gap(4.0);
    }
}

// ---------------------------------------------------------------------------
// Footer and output.

fn footer_ops(l: &Layout, pack: &Pack, page: usize, pages: usize) -> Vec<Op> {
    let st = SMALL.sized(7.0);
    let y = BOTTOM + 24.0;
    let head = format!("Ledger head {}", pack.ledger.head_hash);
    let records = format!(
        "{} records, head record {}",
        pack.ledger.records,
        pack.ledger
            .head_id
            .map_or("none".into(), |id| format!("#{id}"))
    );
    let page_label = format!("Page {page} of {pages}");
    let pw = l.fonts.regular.width(&page_label, st.size);
    let made = format!("{} · generated {}", pack.tool, datetime(&pack.generated_at));
    let made = fit(l, &made, st, WIDTH - pw - 12.0);
    let head = fit(l, &head, st, WIDTH);
    vec![
        rule(LEFT, y - 12.0, WIDTH, RULE, 0.5),
        text_op(LEFT, y, st, head),
        text_op(LEFT, y + 10.0, st, format!("{made} · {records}")),
        text_op(LEFT + WIDTH - pw, y + 10.0, st, page_label),
    ]
}

/// Renders the pack as an A4 PDF (PDF/A-2b: fonts embedded, no transparency).
pub fn render(pack: &Pack) -> Result<Vec<u8>> {
    let fonts = Fonts::load()?;
    let mut l = Layout::new(&fonts);
    page_one(&mut l, pack);
    l.new_page();
    questions(&mut l, pack);
    drills(&mut l, pack);
    rehearsals(&mut l, pack);
    protection_section(&mut l, pack);
    failures(&mut l, pack);
    how_to_verify(&mut l, pack);
    let n = l.pages.len();
    let pages: Vec<Vec<Op>> = l
        .pages
        .iter()
        .enumerate()
        .map(|(i, ops)| {
            let mut ops = ops.clone();
            ops.extend(footer_ops(&l, pack, i + 1, n));
            ops
        })
        .collect();
    write_pdf(pack, &fonts, &pages)
}

fn write_pdf(pack: &Pack, fonts: &Fonts, pages: &[Vec<Op>]) -> Result<Vec<u8>> {
    let configuration = ConfigurationBuilder::new()
        .set_validator(Validator::A(Archival::A2_B))
        .finish()
        .map_err(|e| Error::Failed(format!("cannot configure the PDF writer: {e:?}")))?;
    let settings = SerializeSettings {
        configuration,
        ..SerializeSettings::default()
    };
    let mut doc = Document::new_with(settings);
    doc.set_metadata(metadata(pack));
    let page_size = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| Error::Failed("invalid PDF page size".into()))?;
    for ops in pages {
        let mut page = doc.start_page_with(page_size.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, fonts, op);
        }
        surface.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| Error::Failed(format!("cannot write the evidence PDF: {e:?}")))
}

fn metadata(pack: &Pack) -> Metadata {
    let g = pack.generated_at;
    let date = PdfDateTime::new(u16::try_from(g.year()).unwrap_or(1970))
        .month(g.month() as u8)
        .day(g.day() as u8)
        .hour(g.hour() as u8)
        .minute(g.minute() as u8)
        .second(g.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    Metadata::new()
        .title(title(pack))
        .creator("restore-drill".into())
        .producer(pack.tool.clone())
        .language("en".into())
        .creation_date(date)
}

fn paint(color: Rgb) -> krilla::paint::Paint {
    rgb::Color::new(color.0, color.1, color.2).into()
}

fn draw(s: &mut Surface, fonts: &Fonts, op: &Op) {
    match op {
        Op::Text { x, y, style, text } => {
            let face = fonts.face(style.weight);
            // Layout already cleaned it; cleaning again guarantees no
            // .notdef glyph, which PDF/A forbids, whatever the caller passed.
            let text = face.clean(text);
            s.set_stroke(None);
            s.set_fill(Some(fill(style.color)));
            s.draw_glyphs(
                Point::from_xy(*x, *y),
                &face.glyphs(&text),
                face.font.clone(),
                &text,
                style.size,
                false,
            );
        }
        Op::Line {
            from,
            to,
            width,
            color,
            dashed,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(from.0, from.1);
            pb.line_to(to.0, to.1);
            stroke_path(s, pb.finish(), *color, *width, *dashed);
        }
        Op::Rect { x, y, w, h, color } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                pb.push_rect(r);
            }
            fill_path(s, pb.finish(), *color);
        }
        Op::Mark { x, y, passed } => draw_mark(s, *x, *y, *passed),
    }
}

fn fill(color: Rgb) -> Fill {
    Fill {
        paint: paint(color),
        ..Fill::default()
    }
}

fn fill_path(s: &mut Surface, path: Option<Path>, color: Rgb) {
    if let Some(path) = path {
        s.set_stroke(None);
        s.set_fill(Some(fill(color)));
        s.draw_path(&path);
    }
}

fn stroke_path(s: &mut Surface, path: Option<Path>, color: Rgb, width: f32, dashed: bool) {
    if let Some(path) = path {
        s.set_fill(None);
        s.set_stroke(Some(Stroke {
            paint: paint(color),
            width,
            line_cap: LineCap::Butt,
            dash: dashed.then(|| StrokeDash {
                array: vec![4.0, 3.0],
                offset: 0.0,
            }),
            ..Stroke::default()
        }));
        s.draw_path(&path);
    }
}

/// Passed: a green disc; not passed: a red triangle (shape, not only colour).
fn draw_mark(s: &mut Surface, x: f32, y: f32, passed: bool) {
    let mut pb = PathBuilder::new();
    if passed {
        // A circle from four cubic arcs (k = 0.5523 of the radius).
        let (r, k) = (3.4, 3.4 * 0.5523);
        pb.move_to(x + r, y);
        pb.cubic_to(x + r, y + k, x + k, y + r, x, y + r);
        pb.cubic_to(x - k, y + r, x - r, y + k, x - r, y);
        pb.cubic_to(x - r, y - k, x - k, y - r, x, y - r);
        pb.cubic_to(x + k, y - r, x + r, y - k, x + r, y);
        pb.close();
        fill_path(s, pb.finish(), GREEN);
    } else {
        pb.move_to(x, y - 4.6);
        pb.line_to(x + 4.4, y + 3.0);
        pb.line_to(x - 4.4, y + 3.0);
        pb.close();
        fill_path(s, pb.finish(), RED);
    }
}
