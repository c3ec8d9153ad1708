//! Page 1, for a reader who is not technical: who and which period, the
//! headline, the big figures, and the chart of each restore drill's recovery
//! time against its objective.

use super::layout::{
    cells_rows, fit, rule, text_op, tone_color, Cell, Layout, Op, Row, Style, BODY, INK, LEFT,
    MUTED, PANEL, RED, RULE, SMALL, WIDTH,
};
use crate::evidence::chart::Chart;
use crate::evidence::pack::Pack;
use crate::evidence::wording::{
    duration, figures, methods, period_line, sites, who, Figure, LEGEND_FAIL, NO_RESTORE,
};

pub(super) fn page_one(l: &mut Layout, pack: &Pack) {
    l.paragraph(
        "RESTORE DRILL EVIDENCE",
        SMALL.bold().sized(8.5).colored(MUTED),
    );
    l.gap(4.0);
    // One line: several sites' names get a smaller size rather than a
    // second line.
    let title = sites(pack);
    let size = if l.wrap(&title, BODY.bold().sized(22.0), WIDTH).len() > 1 {
        15.0
    } else {
        22.0
    };
    l.paragraph(&title, BODY.bold().sized(size));
    l.paragraph(&period_line(pack), BODY.sized(12.0).colored(MUTED));
    l.gap(10.0);
    boxed(l, None, &who(pack));
    l.gap(12.0);
    if pack.summary.restores_tested == 0 {
        l.paragraph(NO_RESTORE, BODY.bold().sized(18.0).colored(RED));
        l.gap(6.0);
    }
    for said in &pack.summary.four {
        let rows = pairs_rows(l, &said.question, &said.answer, BODY.sized(10.0));
        l.place(rows, true);
        l.gap(3.0);
    }
    l.gap(10.0);
    figure_grid(l, &figures(pack));
    l.gap(6.0);
    boxed(l, Some("How these drills were run"), &methods(pack));
}

/// Label and value pairs on a panel, with an optional title: who the pack
/// is about, and how its drills were run.
fn boxed(l: &mut Layout, title: Option<&str>, pairs: &[(&str, String)]) {
    let mut rows = Vec::new();
    rows.push(Row::gap(6.0));
    if let Some(t) = title {
        rows.extend(l.text_rows(t, BODY.bold().sized(10.0), LEFT + 10.0, WIDTH - 20.0));
        rows.push(Row::gap(2.0));
    }
    for (label, value) in pairs {
        rows.extend(pairs_rows(l, label, value, BODY.sized(9.0)));
    }
    rows.push(Row::gap(6.0));
    let h = rows.iter().map(|r| r.height).sum();
    let panel = Row {
        height: 0.0,
        ops: vec![Op::Rect {
            x: LEFT,
            y: 0.0,
            w: WIDTH,
            h,
            color: PANEL,
        }],
    };
    rows.insert(0, panel);
    l.place(rows, true);
}

/// A label in bold on the left, its wrapped value beside it.
fn pairs_rows(l: &Layout, label: &str, value: &str, style: Style) -> Vec<Row> {
    let label_w = 125.0;
    cells_rows(
        l,
        &[
            Cell {
                text: label,
                style: style.bold(),
                x: LEFT + 10.0,
                width: label_w - 16.0,
            },
            Cell {
                text: value,
                style,
                x: LEFT + label_w,
                width: WIDTH - label_w - 10.0,
            },
        ],
    )
}

pub(super) const CARD_H: f32 = 92.0;
pub(super) const CARD_GAP: f32 = 10.0;

pub(super) fn figure_grid(l: &mut Layout, figures: &[Figure]) {
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
pub(super) fn card(l: &Layout, f: &Figure, x: f32, w: f32) -> Vec<Op> {
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
    // Two lines of detail at most: a miss list longer than that is in full
    // under Failures.
    let lines = l.wrap(&f.detail, label, inner);
    for (i, line) in lines.iter().take(2).enumerate() {
        let last = i == 1 && lines.len() > 2;
        let text = if last {
            fit(l, &format!("{line} …"), label, inner)
        } else {
            line.clone()
        };
        ops.push(text_op(x + pad, y + i as f32 * 11.0, label, text));
    }
    ops
}

// The chart, drawn from `evidence::chart`'s scales.

pub(super) const CHART_H: f32 = 200.0;
pub(super) const PLOT_LEFT: f32 = 46.0;
pub(super) const PLOT_TOP: f32 = 30.0;
/// The dates, their caption, and the row of drills with no time.
pub(super) const PLOT_BOTTOM: f32 = 48.0;

pub(super) fn chart_block(l: &mut Layout, c: &Chart) {
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

pub(super) fn chart_ops(l: &Layout, c: &Chart) -> Vec<Op> {
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
    let lane = y0 + h + 40.0;
    if c.points.iter().any(|p| p.seconds.is_none()) {
        let label = "no time";
        let lw = l.fonts.regular.width(label, 7.5);
        ops.push(text_op(
            x0 - 6.0 - lw,
            lane + 2.5,
            SMALL.sized(7.5),
            label.into(),
        ));
        ops.push(rule(x0, lane, w, RULE, 0.5));
    }
    for p in &c.points {
        let x = x0 + p.x as f32 * w;
        let y = p.seconds.map_or(lane, ys);
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

pub(super) fn axes_ops(l: &Layout, c: &Chart, x0: f32, w: f32, y0: f32, h: f32) -> Vec<Op> {
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
    let caption = "date of the drill (UTC)";
    let cw = l.fonts.regular.width(caption, tick.size);
    ops.push(text_op(x0 + w - cw, y0 + h + 27.0, tick, caption.into()));
    ops
}

pub(super) fn trim_number(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").unwrap_or(&s).to_string()
}

/// Right-aligned at `right`: disc = passed, triangle = did not pass. The
/// objective line is labelled where it is drawn.
pub(super) fn legend_ops(l: &Layout, right: f32, y: f32) -> Vec<Op> {
    let st = SMALL.sized(7.5);
    let items = [(true, "passed"), (false, LEGEND_FAIL)];
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
