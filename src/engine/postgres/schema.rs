//! What a restored PostgreSQL holds and its server offers, for a
//! comparison before an upgrade: objects per kind, extensions installed and
//! available, and the collation versions its libraries provide. Catalog
//! reads only.

use crate::engine::schema::{CollationFact, SchemaFacts};
use crate::error::{Error, Result};
use sqlx::postgres::PgConnection;
use sqlx::{Executor, Row};
use std::collections::BTreeMap;
use std::time::Duration;

/// The facts of the restored database, read as the checks' role at `reader_url`.
pub async fn facts(reader_url: &str) -> Result<SchemaFacts> {
    let mut conn = super::connect(reader_url, Duration::from_secs(10)).await?;
    postgres_schema(&mut conn).await
}

/// Objects of the restored schemas, extension members left out (an
/// extension's own functions are the extension's, compared on its line).
const OBJECTS: &str = "\
WITH user_ns AS (
  SELECT oid FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema')
    AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'
), rel AS (
  SELECT c.relkind FROM pg_class c
  WHERE c.relnamespace IN (SELECT oid FROM user_ns)
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT 'tables', count(*) FROM rel WHERE relkind IN ('r', 'p')
UNION ALL SELECT 'indexes', count(*) FROM rel WHERE relkind IN ('i', 'I')
UNION ALL SELECT 'views', count(*) FROM rel WHERE relkind IN ('v', 'm')
UNION ALL SELECT 'sequences', count(*) FROM rel WHERE relkind = 'S'
UNION ALL SELECT 'constraints', count(*) FROM pg_constraint
  WHERE connamespace IN (SELECT oid FROM user_ns)
UNION ALL SELECT 'functions', count(*) FROM pg_proc p
  WHERE p.pronamespace IN (SELECT oid FROM user_ns)
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                    AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL SELECT 'triggers', count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE NOT t.tgisinternal AND c.relnamespace IN (SELECT oid FROM user_ns)";

/// The database's default collation, with the version its library provides
/// (PostgreSQL 15 and later say it; older servers leave it unknown).
const DEFAULT_COLLATION: &str = "\
SELECT 'default (' || CASE datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc, ' || datcollate END || ')',
       pg_database_collation_actual_version(oid)
FROM pg_database WHERE datname = current_database()";

/// Collations the restored tables' columns name explicitly. (A library's
/// version matters only through a collation the data uses: ICU's own
/// version is not listed when nothing uses ICU.)
const OTHER_COLLATIONS: &str = "\
SELECT DISTINCT co.collname || ' (' || CASE co.collprovider WHEN 'i' THEN 'icu' WHEN 'c' THEN 'libc' ELSE 'builtin' END || ')',
       pg_collation_actual_version(co.oid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND co.collname NOT IN ('default', 'C', 'POSIX')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')";

async fn postgres_schema(conn: &mut PgConnection) -> Result<SchemaFacts> {
    let objects = pairs(conn, OBJECTS, "counting the restored schema's objects")
        .await?
        .into_iter()
        .map(|(k, v)| (k, v.parse().unwrap_or(-1)))
        .collect();
    let extensions = pairs(
        conn,
        "SELECT extname, extversion FROM pg_extension",
        "listing installed extensions",
    )
    .await?
    .into_iter()
    .collect();
    let available = pairs(
        conn,
        "SELECT name, coalesce(default_version, '') FROM pg_available_extensions",
        "listing available extensions",
    )
    .await?
    .into_iter()
    .collect();
    Ok(SchemaFacts {
        objects,
        extensions,
        available,
        collations: collations(conn).await,
    })
}

/// Collations are evidence, not a condition: a server that cannot say (an
/// old version) has them unknown.
async fn collations(conn: &mut PgConnection) -> Vec<CollationFact> {
    let mut out = Vec::new();
    for sql in [DEFAULT_COLLATION, OTHER_COLLATIONS] {
        match conn.fetch_all(sqlx::raw_sql(sql)).await {
            // No version: the locale has none (C, POSIX, C.UTF-8 sort by
            // code point, which no library update changes).
            Ok(rows) => out.extend(rows.iter().map(|r| CollationFact {
                name: text(r, 0).unwrap_or_default(),
                version: Some(text(r, 1).unwrap_or_else(|| "none (code-point order)".into())),
            })),
            Err(_) if sql == DEFAULT_COLLATION => out.push(CollationFact {
                name: "default".into(),
                version: None,
            }),
            Err(_) => {}
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn text(r: &sqlx::postgres::PgRow, i: usize) -> Option<String> {
    r.try_get_unchecked::<Option<String>, _>(i).ok().flatten()
}

/// Two text columns (the simple protocol sends every value as text).
async fn pairs(conn: &mut PgConnection, sql: &str, what: &str) -> Result<BTreeMap<String, String>> {
    let rows = conn
        .fetch_all(sqlx::raw_sql(sql))
        .await
        .map_err(|e| Error::db(what, e))?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((text(r, 0)?, text(r, 1).unwrap_or_default())))
        .collect())
}
