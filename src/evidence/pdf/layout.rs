//! The PDF's layout engine: page geometry, type styles and colours, the
//! drawing operations a page is made of, and the `Layout` that places rows
//! of them down the pages (word wrap, keeping blocks whole, page breaks,
//! table headers repeated on each page a table spans, column widths).

use super::fonts::{Fonts, Weight};
use crate::evidence::wording::Tone;

pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
pub(super) const LEFT: f32 = 56.0;
pub(super) const WIDTH: f32 = PAGE_W - 2.0 * LEFT;
pub(super) const TOP: f32 = 56.0;
/// Content stops here; the footer lives below.
pub(super) const BOTTOM: f32 = PAGE_H - 76.0;
pub(super) const LEADING: f32 = 1.4;

#[derive(Clone, Copy)]
pub(super) struct Rgb(pub(super) u8, pub(super) u8, pub(super) u8);

pub(super) const INK: Rgb = Rgb(0x1f, 0x29, 0x33);
pub(super) const MUTED: Rgb = Rgb(0x5b, 0x67, 0x75);
pub(super) const RULE: Rgb = Rgb(0xd3, 0xd9, 0xe0);
pub(super) const PANEL: Rgb = Rgb(0xf3, 0xf5, 0xf7);
pub(super) const GREEN: Rgb = Rgb(0x1d, 0x6f, 0x35);
pub(super) const RED: Rgb = Rgb(0xa8, 0x23, 0x1b);
pub(super) const AMBER: Rgb = Rgb(0x8a, 0x5a, 0x00);

pub(super) fn tone_color(t: Tone) -> Rgb {
    match t {
        Tone::Good => GREEN,
        Tone::Bad => RED,
        Tone::Warn => AMBER,
        Tone::Neutral => INK,
    }
}

#[derive(Clone, Copy)]
pub(super) struct Style {
    pub(super) size: f32,
    pub(super) weight: Weight,
    pub(super) color: Rgb,
}

pub(super) const BODY: Style = Style {
    size: 9.5,
    weight: Weight::Regular,
    color: INK,
};
pub(super) const SMALL: Style = Style {
    size: 8.0,
    weight: Weight::Regular,
    color: MUTED,
};
pub(super) const CELL: Style = Style {
    size: 8.0,
    weight: Weight::Regular,
    color: INK,
};

/// A command line: monospace on a light panel.
pub(super) const CODE: Style = Style {
    size: 7.5,
    weight: Weight::Mono,
    color: INK,
};

impl Style {
    pub(super) fn bold(self) -> Style {
        Style {
            weight: Weight::Bold,
            ..self
        }
    }
    pub(super) fn colored(self, color: Rgb) -> Style {
        Style { color, ..self }
    }
    pub(super) fn sized(self, size: f32) -> Style {
        Style { size, ..self }
    }
    pub(super) fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

#[derive(Clone)]
pub(super) enum Op {
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
    pub(super) fn shifted(self, dy: f32) -> Op {
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

pub(super) fn rule(x: f32, y: f32, w: f32, color: Rgb, width: f32) -> Op {
    Op::Line {
        from: (x, y),
        to: (x + w, y),
        width,
        color,
        dashed: false,
    }
}

/// A horizontal strip placed as one piece; ops are relative to its top.
pub(super) struct Row {
    pub(super) height: f32,
    pub(super) ops: Vec<Op>,
}

impl Row {
    pub(super) fn gap(height: f32) -> Row {
        Row {
            height,
            ops: Vec::new(),
        }
    }
}

pub(super) struct Layout<'f> {
    pub(super) fonts: &'f Fonts,
    pub(super) pages: Vec<Vec<Op>>,
    pub(super) y: f32,
    /// Repeated at the top of each new page while a table is being laid out.
    pub(super) header: Option<Vec<Row>>,
}

impl<'f> Layout<'f> {
    pub(super) fn new(fonts: &'f Fonts) -> Layout<'f> {
        Layout {
            fonts,
            pages: vec![Vec::new()],
            y: TOP,
            header: None,
        }
    }

    pub(super) fn new_page(&mut self) {
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

    pub(super) fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    pub(super) fn ensure(&mut self, height: f32) {
        if height > self.room() {
            self.new_page();
        }
    }

    pub(super) fn put(&mut self, row: Row) {
        let y = self.y;
        if let Some(page) = self.pages.last_mut() {
            page.extend(row.ops.into_iter().map(|op| op.shifted(y)));
        }
        self.y += row.height;
    }

    /// Places rows, on a new page when they do not fit but would on a fresh
    /// one (`keep`); a block taller than a page breaks between rows.
    pub(super) fn place(&mut self, rows: Vec<Row>, keep: bool) {
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
    pub(super) fn gap(&mut self, height: f32) {
        if self.y > TOP + 0.5 {
            self.y = (self.y + height).min(BOTTOM);
        }
    }

    /// Greedy word wrap measured with the font's advances; a word wider
    /// than the line (a hash, a path) is broken between characters.
    pub(super) fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
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
    pub(super) fn break_word(
        &self,
        word: &str,
        style: Style,
        width: f32,
        lines: &mut Vec<String>,
    ) -> String {
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
    pub(super) fn text_rows(&self, text: &str, style: Style, x: f32, width: f32) -> Vec<Row> {
        self.wrap(text, style, width)
            .into_iter()
            .map(|line| Row {
                height: style.line_height(),
                ops: vec![text_op(x, baseline(style), style, line)],
            })
            .collect()
    }

    pub(super) fn paragraph(&mut self, text: &str, style: Style) {
        let rows = self.text_rows(text, style, LEFT, WIDTH);
        self.place(rows, false);
    }
}

/// Where the baseline sits in a line of `style`: centred in the leading.
pub(super) fn baseline(style: Style) -> f32 {
    style.size * (LEADING - 1.16) / 2.0 + style.size * 0.93
}

pub(super) fn text_op(x: f32, y: f32, style: Style, text: String) -> Op {
    Op::Text { x, y, style, text }
}

/// Cells side by side; row `i` holds line `i` of every cell.
pub(super) struct Cell<'a> {
    pub(super) text: &'a str,
    pub(super) style: Style,
    pub(super) x: f32,
    pub(super) width: f32,
}

pub(super) fn cells_rows(layout: &Layout, cells: &[Cell]) -> Vec<Row> {
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

/// One line that fits `width`, shortened with an ellipsis if it must be.
pub(super) fn fit(l: &Layout, text: &str, style: Style, width: f32) -> String {
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

pub(super) fn rows_height(rows: &[Row]) -> f32 {
    rows.iter().map(|r| r.height).sum()
}

/// A table: header repeated on every page it spans, rows kept whole.
pub(super) fn table(l: &mut Layout, columns: &[(&str, f32)], rows: Vec<Vec<(String, Style)>>) {
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

pub(super) const TABLE_HEAD: Style = Style {
    size: 7.5,
    weight: Weight::Bold,
    color: MUTED,
};

/// Column x positions and widths, as browsers lay out automatic tables:
/// every column gets at least its longest word (so "UNRECOVERABLE" is never
/// split), then space goes where text would otherwise wrap most.
pub(super) fn column_xs(
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
pub(super) fn content_widths(
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
