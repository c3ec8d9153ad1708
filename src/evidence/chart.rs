//! The RTO chart's scales: where each restore drill sits along the period,
//! the y axis's unit and round ticks, the x axis's date labels. Pure numbers,
//! drawn by the PDF (`pdf::cover`) and the HTML page's SVG alike.

use super::pack::{Pack, RunKind};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

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
    /// None: the drill failed before a recovery time could be measured;
    /// drawn in a row of its own under the dates, never on the axis, where
    /// it would read as a very fast restore.
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
    let mut points = points;
    dodge(&mut points);
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

/// The least distance between two marks, as a share of the width: drills a
/// few hours apart would otherwise draw one mark over the other, and a
/// passed drill's disc could hide under a failed one's triangle.
pub(crate) const MARK_GAP: f64 = 0.018;

/// Moves marks apart along x, keeping their order, so none hides another;
/// marks pushed past the right edge are pulled back from it.
fn dodge(points: &mut [ChartPoint]) {
    points.sort_by(|a, b| a.x.total_cmp(&b.x));
    for i in 1..points.len() {
        points[i].x = points[i].x.max(points[i - 1].x + MARK_GAP);
    }
    let n = points.len();
    for (i, p) in points.iter_mut().enumerate() {
        p.x = p.x.min(1.0 - (n - 1 - i) as f64 * MARK_GAP).max(0.0);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f64) -> ChartPoint {
        ChartPoint {
            x,
            seconds: Some(1.0),
            passed: true,
        }
    }

    #[test]
    fn marks_at_the_same_moment_are_drawn_apart_and_inside_the_plot() {
        let mut p = vec![at(1.0), at(0.5), at(0.5), at(1.0), at(0.5)];
        dodge(&mut p);
        for w in p.windows(2) {
            assert!(w[1].x - w[0].x >= MARK_GAP - 1e-9, "{} {}", w[0].x, w[1].x);
        }
        assert!(p.iter().all(|q| (0.0..=1.0).contains(&q.x)));
    }
}
