use super::*;
use crate::compare::model::{NamedRun, SchemaFacts};
use std::time::Duration;

fn compare(queries: Vec<AppQuery>) -> Compare {
    Compare {
        targets: vec!["a:15".into(), "a:17".into()],
        queries,
        slower_than: 2.0,
        ignore_below: Duration::from_millis(20),
        query_timeout: Duration::from_secs(5),
    }
}

fn query(name: &str, ordered: bool) -> AppQuery {
    AppQuery {
        name: name.into(),
        sql: "SELECT 1\nFORM x".into(),
        file: "q.sql".into(),
        line: 4,
        ordered,
    }
}

fn answered(rows: u64, fp: &str, order: &str, ms: f64) -> QueryRun {
    QueryRun::Answered {
        rows,
        fingerprint: fp.into(),
        order_fingerprint: order.into(),
        median_ms: ms,
        runs_ms: vec![ms; 3],
    }
}

fn target(image: &str, runs: Vec<QueryRun>) -> TargetReport {
    TargetReport {
        image: image.into(),
        server_version: None,
        restore: RestoreOutcome::Restored {
            seconds: 1.0,
            messages: Vec::new(),
        },
        phases: Vec::new(),
        checks: Vec::new(),
        queries: runs
            .into_iter()
            .map(|run| NamedRun {
                name: "q".into(),
                run,
            })
            .collect(),
        schema: Some(SchemaFacts::default()),
    }
}

/// The status and detail of the one query compared between two targets.
fn judged(q: AppQuery, base: QueryRun, other: QueryRun) -> (ItemStatus, String) {
    let c = compare(vec![q]);
    let targets = [target("a:15", vec![base]), target("a:17", vec![other])];
    let it = items(&targets, &c)
        .into_iter()
        .find(|i| i.kind == ItemKind::Query)
        .expect("a query item");
    (it.status, it.detail.to_string())
}

#[test]
fn the_same_answer_in_about_the_same_time_is_equal_and_compatible() {
    let c = compare(vec![query("day sheet", true)]);
    let targets = [
        target("a:15", vec![answered(5, "f", "o", 3.0)]),
        target("a:17", vec![answered(5, "f", "o", 4.0)]),
    ];
    let items = items(&targets, &c);
    assert!(items.iter().all(|i| !i.status.is_difference()), "{items:?}");
    assert_eq!(verdict(&targets, &items, None), CompareVerdict::Compatible);
}

#[test]
fn other_rows_or_content_are_different_with_the_counts() {
    let base = answered(5, "f", "o", 3.0);
    let (s, d) = judged(query("q", false), base.clone(), answered(4, "f", "o", 3.0));
    assert_eq!(s, ItemStatus::Different);
    assert!(d.contains("a:17: 4 rows, the baseline 5"), "{d}");
    let (s, d) = judged(query("q", false), base, answered(5, "g", "o", 3.0));
    assert_eq!(s, ItemStatus::Different);
    assert!(d.contains("different content"), "{d}");
}

#[test]
fn the_order_counts_only_for_a_query_that_orders() {
    let (base, other) = (answered(5, "f", "o", 3.0), answered(5, "f", "p", 3.0));
    let (s, _) = judged(query("q", false), base.clone(), other.clone());
    assert_eq!(s, ItemStatus::Equal);
    let (s, d) = judged(query("q", true), base, other);
    assert_eq!(s, ItemStatus::Different);
    assert!(d.contains("different order"), "{d}");
}

#[test]
fn slower_needs_both_the_ratio_and_the_noise_floor() {
    let c = compare(Vec::new());
    assert_eq!(slower(1.0, 5.0, &c), None, "5x, but 4 ms is noise");
    assert_eq!(slower(100.0, 190.0, &c), None, "under 2x");
    assert_eq!(slower(100.0, 250.0, &c), Some(2.5));
    let (s, d) = judged(
        query("q", false),
        answered(5, "f", "o", 100.0),
        answered(5, "f", "o", 250.0),
    );
    assert_eq!(s, ItemStatus::Slower);
    assert!(d.contains("2.5x the baseline's time"), "{d}");
}

#[test]
fn a_time_limit_is_slower_on_a_target_and_unknown_on_the_baseline() {
    let cancelled = QueryRun::TimedOut { after_seconds: 5 };
    let (s, d) = judged(
        query("q", false),
        answered(1, "f", "o", 3.0),
        cancelled.clone(),
    );
    assert_eq!(s, ItemStatus::Slower);
    assert!(
        d.contains("cancelled after 5 s; the baseline answered in 3.0 ms"),
        "{d}"
    );
    let (s, d) = judged(query("q", false), cancelled, answered(1, "f", "o", 3.0));
    assert_eq!(s, ItemStatus::Unknown);
    assert!(
        d.starts_with("q.sql:4: cancelled after 5 s on the baseline"),
        "{d}"
    );
}

#[test]
fn a_query_failing_on_the_baseline_is_the_query_files_mistake() {
    let failed = |code: &str| QueryRun::Failed {
        sqlstate: Some(code.into()),
        refused_write: code == "25006",
        message: Redacted::ours("syntax error at or near \"FORM\""),
        at: "q.sql:6".into(),
    };
    let q = vec![query("day sheet", false)];
    let e = broken_query(&q, &target("a:15", vec![failed("42601")])).expect("broken");
    assert_eq!(e.kind(), crate::ErrorKind::Usage);
    let m = e.to_string();
    assert!(
        m.starts_with("q.sql:6: the query `day sheet` fails on the baseline"),
        "{m}"
    );
    assert!(m.contains("(SQLSTATE 42601)"), "{m}");
    let m = broken_query(&q, &target("a:15", vec![failed("25006")]))
        .expect("broken")
        .to_string();
    assert!(m.contains("tries to change the restored database"), "{m}");
    assert!(broken_query(&q, &target("a:15", vec![answered(1, "f", "o", 1.0)])).is_none());
}

#[test]
fn an_extension_a_target_does_not_offer_is_named_with_the_fix() {
    let mut base = target("a:15", Vec::new());
    let mut other = target("a:17", Vec::new());
    other.restore = RestoreOutcome::Failed {
        kind: "tool-failed",
        reason: Redacted::ours("pg_restore: extension citext is not available"),
    };
    base.schema.as_mut().expect("schema").extensions =
        [("citext".to_string(), "1.6".to_string())].into();
    let targets = [base, other];
    let it = items(&targets, &compare(Vec::new()))
        .into_iter()
        .find(|i| i.kind == ItemKind::Extension)
        .expect("an extension item");
    assert_eq!(it.status, ItemStatus::Different);
    assert_eq!(it.values, ["1.6", "not available"]);
    assert!(
        it.detail.as_str().contains("a:17 does not offer it"),
        "{it:?}"
    );
    let all = items(&targets, &compare(Vec::new()));
    assert_eq!(verdict(&targets, &all, None), CompareVerdict::Unrecoverable);
}

#[test]
fn concurrency_follows_the_memory_available_and_overlap_is_measured() {
    let gib: i64 = 1 << 30;
    assert!(crate::compare::concurrency(2, 2 * gib, Some(16 << 30)).concurrent);
    assert!(!crate::compare::concurrency(2, 2 * gib, Some(4 << 30)).concurrent);
    assert!(!crate::compare::concurrency(2, 2 * gib, None).concurrent);
    let at = |s: i64, secs: f64| crate::measure::Phase {
        name: "restore".into(),
        seconds: secs,
        started_at: chrono::DateTime::from_timestamp(s, 0).expect("time"),
    };
    let mut a = target("a", Vec::new());
    let mut b = target("b", Vec::new());
    a.phases = vec![at(100, 10.0)];
    b.phases = vec![at(104, 10.0)];
    let o = crate::compare::overlap(&[a.clone(), b.clone()], "restore").expect("overlap");
    assert!((o - 6.0).abs() < 1e-6, "{o}");
    b.phases = vec![at(120, 1.0)];
    assert_eq!(crate::compare::overlap(&[a, b], "restore"), Some(0.0));
}

/// A target's part of the report reads back as written (the tests read
/// comparison reports typed); a failure kind outside `unusable::KINDS` is
/// refused, not guessed.
#[test]
fn a_target_reads_back_as_written_and_an_unknown_failure_kind_is_refused() {
    let mut t = target(
        "a:17",
        vec![
            answered(3, "f", "o", 2.0),
            QueryRun::TimedOut { after_seconds: 1 },
        ],
    );
    t.restore = RestoreOutcome::Failed {
        kind: "tool-failed",
        reason: Redacted::ours("pg_restore: extension citext is not available"),
    };
    let written = serde_json::to_value(&t).expect("serialise");
    let read: TargetReport = serde_json::from_value(written.clone()).expect("read back");
    assert_eq!(serde_json::to_value(&read).expect("serialise"), written);
    let mut other = written;
    other["restore"]["kind"] = "tool-exploded".into();
    let e = serde_json::from_value::<TargetReport>(other).expect_err("unknown kind");
    assert!(e.to_string().contains("tool-exploded"), "{e}");
}
