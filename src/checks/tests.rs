//! The job list, the scheduler and the pure judges, without a database.

use super::judge::read_back;
use super::*;
use crate::engine::{EngineKind, TableFingerprint};

fn fp(name: &str, rows: u64, f: &str) -> TableFingerprint {
    TableFingerprint {
        name: name.into(),
        rows,
        fingerprint: f.into(),
    }
}

#[test]
fn comparison_names_each_difference() {
    let want = vec![
        fp("public.a", 2, "x"),
        fp("public.b", 3, "y"),
        fp("public.c", 1, "z"),
    ];
    let got = vec![
        fp("public.a", 2, "x"),
        fp("public.b", 3, "Y"),
        fp("public.d", 1, "w"),
    ];
    let (s, d) = compare(&want, &got);
    assert_eq!(s, Status::Failed);
    assert!(d.contains("public.b: content fingerprint differs"), "{d}");
    assert!(d.contains("public.c: missing"), "{d}");
    assert!(d.contains("public.d: not in the manifest"), "{d}");
    assert!(!d.contains("public.a"), "{d}");
    assert_eq!(compare(&want, &want).0, Status::Passed);
}

#[test]
fn streamed_fingerprints_and_restored_counts_are_judged_table_by_table() {
    let manifest = vec![fp("public.a", 2, "x"), fp("public.b", 3, "y")];
    let counted = |a, b| vec![("public.a".to_string(), a), ("public.b".to_string(), b)];
    // The stream matched the manifest and the database holds every row.
    let (s, d) = judge_streamed(&manifest, &manifest, &counted(2, 3), &[]);
    assert_eq!(s, Status::Passed, "{d}");
    assert!(
        d.contains("as they streamed") && !d.contains("again"),
        "{d}"
    );
    // A row lost in the database: named, whatever the stream said.
    let (s, d) = judge_streamed(&manifest, &manifest, &counted(2, 2), &[]);
    assert_eq!(s, Status::Failed);
    assert!(
        d.contains("public.b: 2 rows restored, 3 in the manifest"),
        "{d}"
    );
    // The stream differed; the table read back decides.
    let streamed = vec![fp("public.a", 2, "x"), fp("public.b", 3, "other")];
    let (s, d) = judge_streamed(
        &manifest,
        &streamed,
        &counted(2, 3),
        &[fp("public.b", 3, "y")],
    );
    assert_eq!(s, Status::Passed, "{d}");
    assert!(d.contains("1 of them fingerprinted again"), "{d}");
    let (s, d) = judge_streamed(
        &manifest,
        &streamed,
        &counted(2, 3),
        &[fp("public.b", 3, "z")],
    );
    assert_eq!(s, Status::Failed);
    assert!(d.contains("public.b: content fingerprint differs"), "{d}");
    // A table the manifest does not know, and one the database lacks.
    let (s, d) = judge_streamed(
        &manifest,
        &manifest,
        &[("public.a".into(), 2), ("public.c".into(), 1)],
        &[],
    );
    assert_eq!(s, Status::Failed);
    assert!(
        d.contains("public.b: missing") && d.contains("public.c: not in the manifest"),
        "{d}"
    );
    // Only tables the stream does not vouch for are read back.
    let tables = ["public.a".to_string(), "public.b".into(), "public.c".into()];
    assert_eq!(read_back(&manifest, &streamed, &tables), ["public.b"]);
    assert_eq!(read_back(&manifest, &manifest[..1], &tables), ["public.b"]);
}

#[test]
fn check_sessions_share_the_sandboxs_cpus_and_memory() {
    let gib = 1i64 << 30;
    assert_eq!(
        Session::for_sandbox(2.0, 2 * gib, None),
        Session {
            parallel_workers: 0,
            work_mem_mib: 64,
            tmp_table_mib: 256,
        }
    );
    // The staging area is freed before the checks: theirs to use.
    let staged = Some(1259u64 << 20);
    assert_eq!(Session::for_sandbox(2.0, 2 * gib, staged).work_mem_mib, 103);
    assert_eq!(
        Session::for_sandbox(8.0, 16 * gib, None).parallel_workers,
        3
    );
    assert_eq!(Session::for_sandbox(8.0, 16 * gib, None).work_mem_mib, 256);
    assert_eq!(Session::for_sandbox(1.0, 512 << 20, None).work_mem_mib, 16);
    assert_eq!(Session::for_sandbox(0.5, 64 << 20, None).work_mem_mib, 4);
}

#[test]
fn orphans_are_counted_with_either_anti_join() {
    let fk = ForeignKey {
        name: "lines_invoice_fk".into(),
        child: "invoice_lines".into(),
        parent: "invoices".into(),
        child_columns: vec!["invoice_id".into(), "clinic_id".into()],
        parent_columns: vec!["id".into(), "clinic_id".into()],
        validated: false,
    };
    let q = |s: &str| format!("`{s}`");
    assert_eq!(
        orphans_query(&fk, q, AntiJoin::NotExists),
        "SELECT count(*) FROM `invoice_lines` c WHERE c.`invoice_id` IS NOT NULL AND c.`clinic_id` IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM `invoices` p WHERE p.`id` = c.`invoice_id` AND p.`clinic_id` = c.`clinic_id`)"
    );
    assert_eq!(
        orphans_query(&fk, q, AntiJoin::LeftJoin),
        "SELECT count(*) FROM `invoice_lines` c LEFT JOIN `invoices` p ON p.`id` = c.`invoice_id` AND p.`clinic_id` = c.`clinic_id` \
         WHERE c.`invoice_id` IS NOT NULL AND c.`clinic_id` IS NOT NULL AND p.`id` IS NULL"
    );
}

#[test]
fn costly_rules_run_first_and_keep_their_place_in_the_report() {
    let rule = |n: &str| Job::Invariant(vec![n.into()], String::new(), vec![]);
    let jobs = vec![
        Job::Manifest,
        Job::ForeignKeys,
        rule("cheap"),
        rule("dear"),
        rule("unplannable"),
        rule("middling"),
        Job::Sql(0),
        Job::Freshness(0),
    ];
    let costs = [
        None,
        None,
        Some(10.0),
        Some(9000.0),
        None,
        Some(500.0),
        None,
        None,
    ];
    let order: Vec<usize> = schedule(jobs, &costs).into_iter().map(|(i, _)| i).collect();
    assert_eq!(order, vec![0, 1, 3, 5, 2, 4, 6, 7]);
}

#[test]
fn one_query_may_decide_several_rules_each_with_its_own_result() {
    let names = rule_names(" a, b ,");
    assert_eq!(names, ["a", "b"]);
    let r = judge_rules(&names, Ok(vec![Ok(0), Ok(3)]), 0.5);
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].name.as_str(), r[0].status),
        ("invariant: a", Status::Passed)
    );
    assert_eq!(
        (r[1].name.as_str(), r[1].status),
        ("invariant: b", Status::Failed)
    );
    assert!(r[1]
        .detail
        .as_str()
        .starts_with("3 rows violate it (one query decides a, b)"));
    assert!(r.iter().all(|c| c.seconds == 0.5));
    // A column missing or not a count is an error of that rule alone.
    let r = judge_rules(&names, Ok(vec![Ok(0)]), 0.1);
    assert_eq!((r[0].status, r[1].status), (Status::Passed, Status::Error));
    let r = judge_rules(&names, Err("syntax error".into()), 0.1);
    assert!(r.iter().all(|c| c.status == Status::Error));
    // One name: the detail says nothing of other rules.
    let one = judge_rules(&["x".to_string()], Ok(vec![Ok(0)]), 0.1);
    assert_eq!(one[0].detail.as_str(), "0 violations");
}

#[test]
fn both_dialects_state_the_same_clinic_rules() {
    let names = |text| {
        parse_invariants(text)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(EngineKind::Mariadb.clinic_rules()),
        names(EngineKind::Postgres.clinic_rules())
    );
}

#[test]
fn the_clinic_rules_parse() {
    let rules = parse_invariants(EngineKind::Postgres.clinic_rules());
    assert!(rules.len() >= 5, "{}", rules.len());
    assert!(rules.iter().any(|(n, _)| n == "invoice_total_equals_lines"));
    assert!(rules
        .iter()
        .all(|(_, q)| q.to_lowercase().contains("select")));
}

#[test]
fn only_postgresql_rules_carry_planner_switches_and_each_parses() {
    let switched = |text: &str| {
        parse_invariants(text)
            .iter()
            .filter(|(_, q)| !plan_switches(q).expect("parses").0.is_empty())
            .count()
    };
    assert!(switched(EngineKind::Postgres.clinic_rules()) > 0);
    assert_eq!(switched(EngineKind::Mariadb.clinic_rules()), 0);
}

#[test]
fn a_mariadb_rule_with_planner_switches_is_refused_before_the_checks_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rules.sql");
    let rule = "-- check: r\nSET LOCAL enable_hashjoin = off;\nSELECT 0";
    std::fs::write(&file, rule).expect("write");
    let plan = Checks {
        manifest: crate::scenario::ManifestPolicy::Off,
        foreign_keys: false,
        invariants: Some(Invariants::File(file)),
        freshness: vec![],
        sql: vec![],
        timeout: std::time::Duration::from_secs(1),
    };
    let err = jobs(&plan, &*EngineKind::Mariadb)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("PostgreSQL's; a MariaDB rule"), "{err}");
    assert!(err.contains("rule \"r\""), "{err}");
    let ok = jobs(&plan, &*EngineKind::Postgres).expect("PostgreSQL takes them");
    assert!(matches!(&ok[1], Job::Invariant(_, q, s) if q == "SELECT 0" && s.len() == 1));
}
