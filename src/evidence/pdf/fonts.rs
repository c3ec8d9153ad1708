//! The built-in fonts and how text is measured with them. Text is laid out
//! without kerning, so the width measured here is exactly the width drawn.

use crate::error::{Error, Result};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{charmap::Charmap, FontRef, MetadataProvider};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
    /// Commands, set apart so that they are copied whole.
    Mono,
}

/// A font with the metrics used to measure and to place its glyphs: text is
/// laid out without kerning, so the measured width is exactly the drawn one.
pub(super) struct Face {
    pub(super) font: Font,
    pub(super) charmap: Charmap<'static>,
    pub(super) metrics: GlyphMetrics<'static>,
    pub(super) units_per_em: f32,
}

impl Face {
    pub(super) fn load(data: &'static [u8], name: &str) -> Result<Face> {
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
    pub(super) fn clean(&self, text: &str) -> String {
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

    pub(super) fn advance(&self, c: char) -> f32 {
        let gid = self.charmap.map(c).unwrap_or_default();
        self.metrics.advance_width(gid).unwrap_or(0.0) / self.units_per_em
    }

    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }

    pub(super) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
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

pub(super) struct Fonts {
    pub(super) regular: Face,
    pub(super) bold: Face,
    pub(super) mono: Face,
}

impl Fonts {
    pub(super) fn load() -> Result<Fonts> {
        Ok(Fonts {
            regular: Face::load(dejavu::sans::regular(), "DejaVu Sans")?,
            bold: Face::load(dejavu::sans::bold(), "DejaVu Sans Bold")?,
            mono: Face::load(dejavu::sans_mono::regular(), "DejaVu Sans Mono")?,
        })
    }

    pub(super) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
            Weight::Mono => &self.mono,
        }
    }
}
