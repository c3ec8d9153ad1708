//! What `backup` and `inspect` print: the engine that was dumped, sizes with
//! their binary units beside the exact count, counts that agree.

use super::{backup_output, inspect_output};
use crate::backup::BackupResult;
use crate::report::facts::{DumpFormat, Layer};
use std::path::PathBuf;

fn backup_of(engine: &str, server: &str, tool: &str, format: &str, tables: usize) -> BackupResult {
    let tables: Vec<serde_json::Value> = (0..tables)
        .map(|k| serde_json::json!({"name": format!("t{k}"), "rows": 1, "fingerprint": "f"}))
        .collect();
    let manifest = serde_json::from_value(serde_json::json!({
        "manifest_version": 1,
        "created_by": "restore-drill 0.1.0",
        "created_at": "2026-11-01T00:00:00Z",
        "name": "clinic",
        "engine": engine,
        "server_version": server,
        "dump": {"format": format, "tool": tool, "bytes": 31_000_000u64, "consistent_snapshot": true},
        "compression": "zstd",
        "encryption": {"scheme": "age", "recipients": ["age1x"]},
        "artifact": {"file": "clinic.dump.zst.age", "layers": ["age", "zstd"], "bytes": 6_106_306u64, "sha256": "ab"},
        "fingerprint_algorithm": "x",
        "tables": tables,
    }))
    .expect("a manifest");
    BackupResult {
        artifact: PathBuf::from("/b/clinic.dump.zst.age"),
        manifest_path: PathBuf::from("/b/clinic.dump.zst.age.manifest.json"),
        manifest,
        commits_held: None,
    }
}

#[test]
fn a_mariadb_backup_names_mariadb_and_its_tool_not_postgresql() {
    let r = backup_of(
        "mariadb",
        "10.11.11-MariaDB",
        "mariadb-dump 10.11.11",
        "mysql-sql",
        1,
    );
    let text = backup_output(&r).text;
    assert!(
        text.contains(
            "dumped:   MariaDB 10.11.11-MariaDB with mariadb-dump 10.11.11 (MySQL/MariaDB SQL)"
        ),
        "{text}"
    );
    assert!(
        !text.contains("PostgreSQL") && !text.contains("pg_dump"),
        "{text}"
    );
    assert!(text.contains("contents: 1 table, 1 row"), "{text}");
}

#[test]
fn a_postgresql_backup_names_postgresql_and_sizes_in_binary_units() {
    let r = backup_of("postgres", "15.8", "pg_dump 15.8", "postgres-custom", 10);
    let text = backup_output(&r).text;
    assert!(
        text.contains("dumped:   PostgreSQL 15.8 with pg_dump 15.8 (pg_dump custom format)"),
        "{text}"
    );
    assert!(
        text.contains("size:     6106306 bytes (5.82 MiB); the dump 31000000 bytes (29.56 MiB) before compression"),
        "{text}"
    );
    assert!(text.contains("contents: 10 tables, 10 rows"), "{text}");
}

#[test]
fn inspect_has_no_stray_space_before_the_comma_and_says_the_size() {
    let i = crate::inspect::Inspection {
        file: "/b/clinic.dump.zst.age".into(),
        bytes: 6_106_306,
        layers: vec![
            Layer::Age,
            Layer::Zstd,
            Layer::Dump(DumpFormat::PostgresCustom),
        ],
        dump: Some(crate::inspect::DumpSummary {
            format: DumpFormat::PostgresCustom,
            dump_bytes: 6_106_306,
            sha256: "ab".into(),
            archive: None,
            sql_tables: None,
        }),
        stopped: None,
    };
    let text = inspect_output(&i).text;
    assert!(
        text.contains("file:   /b/clinic.dump.zst.age, 6106306 bytes (5.82 MiB)\n"),
        "{text}"
    );
    assert!(
        text.contains("dump:   pg_dump custom format, 6106306 bytes (5.82 MiB), sha256 ab"),
        "{text}"
    );
    assert!(!text.contains(" ,"), "{text}");
}
