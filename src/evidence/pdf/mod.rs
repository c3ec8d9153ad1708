//! The evidence pack as an A4 PDF for a person who is not technical (page 1)
//! and an auditor (the pages after it). Layout is done first into a list of
//! pages of simple drawing operations, then drawn with krilla: the page count
//! is known before any footer ("page N of M") is drawn.
//!
//! `fonts` measures text, `layout` places it, `cover` and `pages` say what
//! goes on the pages (in words from `evidence::wording`), `draw` writes the
//! PDF.

mod cover;
mod draw;
mod fonts;
mod layout;
mod pages;

use crate::error::Result;
use crate::evidence::pack::Pack;
use cover::{chart_block, page_one};
use draw::write_pdf;
use fonts::Fonts;
use layout::{Layout, Op};
use pages::{
    drills, failures, footer_ops, how_to_verify, operator_errors, protection_section, questions,
    rehearsals,
};

/// Renders the pack as an A4 PDF (PDF/A-2b: fonts embedded, no transparency).
pub fn render(pack: &Pack) -> Result<Vec<u8>> {
    let fonts = Fonts::load()?;
    let mut l = Layout::new(&fonts);
    page_one(&mut l, pack);
    l.new_page();
    chart_block(&mut l, &crate::evidence::chart::chart(pack));
    questions(&mut l, pack);
    drills(&mut l, pack);
    rehearsals(&mut l, pack);
    protection_section(&mut l, pack);
    failures(&mut l, pack);
    operator_errors(&mut l, pack);
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
