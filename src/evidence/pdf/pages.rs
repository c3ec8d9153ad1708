//! The pages after page 1, for an auditor: the questions answered, every
//! drill, the rehearsals, backup protection, the failures and how to verify
//! the pack; and the footer every page carries.

use super::layout::{
    baseline, cells_rows, fit, rows_height, rule, table, text_op, tone_color, Cell, Layout, Op,
    Row, Style, BODY, BOTTOM, CELL, CODE, LEFT, MUTED, PANEL, RED, RULE, SMALL, TOP, WIDTH,
};
use crate::evidence::pack::{Answer, DrillRow, FailureRow, Pack, Rehearsal};
use crate::evidence::wording::{
    datetime, duration, kind, measured, next_pass, protection, record, rehearsal_title,
    run_verdict, short_hash, single_site, status_word, verdict, yes_no, Tone, OPERATOR_ERRORS,
};

/// A section title, kept on the page with the first `next` points of what
/// follows it (capped so a huge first block can still start here).
pub(super) fn heading(l: &mut Layout, text: &str, next: f32) {
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
pub(super) fn blocks<T>(
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

pub(super) fn empty_note(l: &mut Layout, text: &str) {
    l.paragraph(text, BODY.colored(MUTED));
}

/// Width of the status column: the widest status word plus a gap.
pub(super) fn status_column(l: &Layout) -> f32 {
    let st = BODY.bold().sized(9.0);
    l.fonts.bold.width("NOT EVIDENCED", st.size) + 14.0
}

pub(super) fn questions(l: &mut Layout, pack: &Pack) {
    blocks(
        l,
        "Questions answered",
        &pack.questions,
        answer_rows,
        "No question was answered in this pack.",
    );
}

pub(super) fn answer_rows(l: &Layout, a: &Answer) -> Vec<Row> {
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

pub(super) fn drills(l: &mut Layout, pack: &Pack) {
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

pub(super) fn drill_columns() -> Vec<(&'static str, f32)> {
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

pub(super) fn drill_cells(d: &DrillRow) -> Vec<(String, Style)> {
    let (v, tone) = run_verdict(d);
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

pub(super) fn rehearsals(l: &mut Layout, pack: &Pack) {
    blocks(
        l,
        "Failure scenarios rehearsed",
        &pack.rehearsals,
        rehearsal_rows,
        "No failure scenario was rehearsed in this period.",
    );
}

pub(super) fn rehearsal_rows(l: &Layout, r: &Rehearsal) -> Vec<Row> {
    let (word, tone) = if r.as_expected {
        ("AS EXPECTED", Tone::Neutral)
    } else {
        ("NOT AS EXPECTED", Tone::Bad)
    };
    let title = rehearsal_title(r);
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

pub(super) const LABEL_W: f32 = 110.0;

/// A label on the left, its wrapped value beside it.
pub(super) fn field_rows(l: &Layout, label: &str, value: &str, style: Style) -> Vec<Row> {
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

pub(super) fn protection_section(l: &mut Layout, pack: &Pack) {
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
pub(super) fn backup_ages(l: &mut Layout, pack: &Pack) {
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

pub(super) fn failures(l: &mut Layout, pack: &Pack) {
    blocks(
        l,
        "Failures",
        &pack.failures,
        failure_rows,
        "No run failed in this period.",
    );
}

pub(super) fn failure_rows(l: &Layout, f: &FailureRow) -> Vec<Row> {
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

/// The last section, kept whole with its heading: a last page never holds
/// a few stray lines of it.
pub(super) fn how_to_verify(l: &mut Layout, pack: &Pack) {
    let mut rows = Vec::new();
    if pack.how_to_verify.is_empty() {
        rows.extend(l.text_rows(
            "No verification steps were recorded.",
            BODY.colored(MUTED),
            LEFT,
            WIDTH,
        ));
    }
    for step in &pack.how_to_verify {
        rows.extend(l.text_rows(&step.say, BODY, LEFT, WIDTH));
        if let Some(c) = &step.command {
            rows.extend(command_rows(l, c));
        }
        rows.push(Row::gap(6.0));
    }
    heading(l, "How to verify", rows_height(&rows));
    l.place(rows, true);
}

/// A command in monospace on a panel, broken only between words: a line
/// that must wrap continues on the next, indented.
pub(super) fn command_rows(l: &Layout, command: &str) -> Vec<Row> {
    let pad = 8.0;
    let lines = l.wrap(command, CODE, WIDTH - 2.0 * pad - 12.0);
    let h = CODE.line_height();
    let mut rows = vec![Row::gap(3.0)];
    for (i, line) in lines.into_iter().enumerate() {
        let indent = if i == 0 { 0.0 } else { 12.0 };
        rows.push(Row {
            height: h,
            ops: vec![
                Op::Rect {
                    x: LEFT,
                    y: 0.0,
                    w: WIDTH,
                    h,
                    color: PANEL,
                },
                text_op(LEFT + pad + indent, baseline(CODE), CODE, line),
            ],
        });
    }
    rows.push(Row::gap(3.0));
    rows
}

/// Runs that stopped on the operator's own input: listed so that nothing
/// recorded is hidden, and said to count in no answer.
pub(super) fn operator_errors(l: &mut Layout, pack: &Pack) {
    if pack.operator_errors.is_empty() {
        return;
    }
    heading(
        l,
        "Appendix: operator errors (not counted)",
        5.0 * CELL.line_height(),
    );
    l.paragraph(OPERATOR_ERRORS, BODY.colored(MUTED));
    l.gap(6.0);
    let columns = [
        ("Date", 1.0),
        ("Site", 1.0),
        ("Scenario", 1.0),
        ("Step", 1.0),
        ("What was wrong", 3.0),
    ];
    let rows = pack
        .operator_errors
        .iter()
        .map(|e| {
            vec![
                (datetime(&e.record.date), CELL),
                (e.site.clone(), CELL),
                (e.scenario.clone(), CELL),
                (e.step.clone(), CELL),
                (e.reason.clone(), CELL),
            ]
        })
        .collect();
    table(l, &columns, rows);
}

/// Ledger head, tool, date and "Page N of M" under the content.
pub(super) fn footer_ops(l: &Layout, pack: &Pack, page: usize, pages: usize) -> Vec<Op> {
    let st = SMALL.sized(7.0);
    let y = BOTTOM + 24.0;
    let head = format!("Ledger head {}", pack.ledger.head_hash);
    let records = format!(
        "{}, head record {}",
        crate::words::plural(pack.ledger.records, "record", "records"),
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
