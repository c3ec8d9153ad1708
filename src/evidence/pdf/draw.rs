//! From the laid-out pages to PDF bytes with krilla: the document's
//! settings (PDF/A-2b) and metadata, and each drawing operation painted.

use super::fonts::Fonts;
use super::layout::{Op, Rgb, GREEN, PAGE_H, PAGE_W, RED};
use crate::error::{Error, Result};
use crate::evidence::pack::Pack;
use crate::evidence::wording::title;
use chrono::{Datelike, Timelike};
use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder, Validator};
use krilla::geom::{Path, PathBuilder, Point, Rect};
use krilla::metadata::{DateTime as PdfDateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, Stroke, StrokeDash};
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};

pub(super) fn write_pdf(pack: &Pack, fonts: &Fonts, pages: &[Vec<Op>]) -> Result<Vec<u8>> {
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

pub(super) fn metadata(pack: &Pack) -> Metadata {
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

pub(super) fn paint(color: Rgb) -> krilla::paint::Paint {
    rgb::Color::new(color.0, color.1, color.2).into()
}

pub(super) fn draw(s: &mut Surface, fonts: &Fonts, op: &Op) {
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

pub(super) fn fill(color: Rgb) -> Fill {
    Fill {
        paint: paint(color),
        ..Fill::default()
    }
}

pub(super) fn fill_path(s: &mut Surface, path: Option<Path>, color: Rgb) {
    if let Some(path) = path {
        s.set_stroke(None);
        s.set_fill(Some(fill(color)));
        s.draw_path(&path);
    }
}

pub(super) fn stroke_path(
    s: &mut Surface,
    path: Option<Path>,
    color: Rgb,
    width: f32,
    dashed: bool,
) {
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
pub(super) fn draw_mark(s: &mut Surface, x: f32, y: f32, passed: bool) {
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
