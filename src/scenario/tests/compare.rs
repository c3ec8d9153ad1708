//! `[compare]`: a comparison's targets, queries and limits.

use super::*;

/// A comparison scenario in a temporary folder with its query file.
fn comparing(targets: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("q.sql"), "-- query: a\nSELECT 1\n").expect("write");
    let text = format!(
        "name = \"t\"\n[backups]\nlocation = \"b\"\n[target]\nmemory_mb = 512\n[compare]\ntargets = {targets}\nqueries = \"q.sql\"\n{extra}"
    );
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

#[test]
fn a_comparison_has_a_baseline_queries_and_defaults() {
    let (_d, path) = comparing(r#"["a:15", "a:17"]"#, "");
    let p = load(&path).expect("valid");
    let c = p.compare.expect("compare");
    assert_eq!(c.targets, ["a:15", "a:17"]);
    assert_eq!(p.target.image, "a:15", "the baseline is the first target");
    assert_eq!(c.queries.len(), 1);
    assert_eq!(c.queries[0].name, "a");
    assert_eq!(c.slower_than, 2.0);
    assert_eq!(c.query_timeout, Duration::from_secs(300));
    assert_eq!(p.target.memory_bytes, 512 << 20);
}

/// The message of a comparison scenario that must be refused, checked to be a
/// usage error (exit 2).
fn load_refused(path: &Path) -> String {
    let e = load(path).expect_err("must be refused");
    assert_eq!(e.kind(), crate::ErrorKind::Usage, "{e}");
    e.to_string()
}

/// [`comparing`] with `extra` after `queries`, refused: its message.
fn refused_with(extra: &str) -> String {
    let (_d, path) = comparing(r#"["a:15", "a:17"]"#, extra);
    load_refused(&path)
}

/// [`comparing`] with `[target]`'s `memory_mb = 512` line replaced by `line`.
fn comparing_with_target(targets: &str, line: &str) -> (tempfile::TempDir, PathBuf) {
    let (d, path) = comparing(targets, "");
    let text = std::fs::read_to_string(&path)
        .expect("file")
        .replace("memory_mb = 512", line);
    std::fs::write(&path, text).expect("file");
    (d, path)
}

#[test]
fn fewer_than_two_targets_are_refused_at_the_list() {
    let (_d, path) = comparing(r#"["a:15"]"#, "");
    let m = load_refused(&path);
    assert!(
        m.contains("c.toml:7:11: [compare] targets names 1 image; a comparison needs at least two"),
        "{m}"
    );
}

/// A comparison's value out of its range, one test each, refused at the value.
mod a_comparison_value_out_of_range {
    use super::*;

    macro_rules! cases {
        ($($name:ident: $extra:expr => $says:expr;)+) => {
            $(
                #[test]
                fn $name() {
                    let m = refused_with($extra);
                    assert!(m.contains($says), "{m}");
                }
            )+
        };
    }

    cases! {
        slower_than_below_one: "slower_than = 0.5"
            => "c.toml:9:15: slower_than = 0.5: give a ratio above 1";
        query_timeout_of_zero: "query_timeout_seconds = 0"
            => "c.toml:9:25: query_timeout_seconds = 0";
        negative_ignore_below: "ignore_below_ms = -1"
            => "c.toml:9:19: ignore_below_ms must be 0 or more";
        misspelt_queries_key: "queries_file = \"x\""
            => "c.toml:9:1: unknown field `queries_file`";
    }
}

#[test]
fn a_comparison_refuses_objectives() {
    let m = refused_with("[objectives]\nrto_seconds = 5\n");
    assert!(
        m.contains("c.toml:6:1: [compare] cannot go with [objectives]"),
        "{m}"
    );
}

#[test]
fn a_comparison_refuses_an_image_in_target() {
    let (_d, path) = comparing_with_target(r#"["a:15", "a:17"]"#, "image = \"x\"");
    let m = load_refused(&path);
    assert!(
        m.contains("c.toml:5:9: a comparison names its images in [compare] targets"),
        "{m}"
    );
}

#[test]
fn a_comparison_runs_on_mariadb() {
    let (_d, path) = comparing_with_target(
        r#"["restore-drill/mariadb:10.11", "restore-drill/mariadb:11"]"#,
        "engine = \"mariadb\"",
    );
    let p = load(&path).expect("a MariaDB comparison");
    assert_eq!(p.target.engine, EngineKind::Mariadb);
    assert_eq!(p.target.image, "restore-drill/mariadb:10.11");
}

#[test]
fn a_mariadb_comparison_refuses_a_postgres_image() {
    let (_d, path) = comparing_with_target(
        r#"["restore-drill/mariadb:10.11", "restore-drill/postgres:17"]"#,
        "engine = \"mariadb\"",
    );
    let m = load_refused(&path);
    assert!(
        m.contains("c.toml:7:11: [compare] targets names restore-drill/postgres:17, a PostgreSQL image, but the scenario's engine is MariaDB"),
        "{m}"
    );
}

/// Without `engine`, PostgreSQL: a MariaDB image is the mistake, named.
#[test]
fn a_comparison_without_an_engine_refuses_a_mariadb_image() {
    let (_d, path) = comparing(r#"["restore-drill/postgres:15", "mariadb:11"]"#, "");
    let m = load_refused(&path);
    assert!(
        m.contains("targets names mariadb:11, a MariaDB image, but the scenario's engine is PostgreSQL ([target] engine, default \"postgres\")"),
        "{m}"
    );
}

#[test]
fn a_missing_query_file_is_refused_before_anything_starts() {
    let (d, path) = comparing(r#"["a:15", "a:17"]"#, "");
    std::fs::remove_file(d.path().join("q.sql")).expect("file");
    let m = load_refused(&path);
    assert!(m.contains("c.toml:8:11: cannot read the query file"), "{m}");
}

#[test]
fn a_query_file_without_a_header_is_refused_before_anything_starts() {
    let (d, path) = comparing(r#"["a:15", "a:17"]"#, "");
    std::fs::write(d.path().join("q.sql"), "SELECT 1;\n").expect("file");
    let m = load_refused(&path);
    assert!(
        m.contains("q.sql:1: SQL before the first `-- query: NAME` line"),
        "{m}"
    );
}
