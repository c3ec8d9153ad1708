//! What a target's restored database holds and its server offers: objects per
//! kind, extensions installed and available, and the collation versions its
//! libraries provide. Catalog reads only. On MariaDB, whose databases have no
//! extensions, the storage engines the restored tables use stand in for them
//! (a server without one cannot hold those tables).

use super::model::{CollationFact, SchemaFacts};
use crate::engine::{mariadb, EngineKind};
use crate::error::{Error, Result};
use crate::sandbox::Sandbox;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::{Executor, Row};
use std::collections::BTreeMap;
use std::time::Duration;

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

/// The facts of one target, read the engine's way.
pub async fn schema(sb: &Sandbox) -> Result<SchemaFacts> {
    let patience = Duration::from_secs(10);
    match sb.engine {
        EngineKind::Postgres => {
            let mut conn = crate::engine::postgres::connect(&sb.reader_url(), patience).await?;
            postgres_schema(&mut conn).await
        }
        // As the administrator: information_schema shows a user only the
        // triggers and routines it may change, and the checks' user may
        // change nothing.
        EngineKind::Mariadb => {
            let mut conn = mariadb::connect(&sb.url(), patience).await?;
            mariadb_schema(&mut conn).await
        }
    }
}

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

/// The restored database's objects per kind, as PostgreSQL's are counted
/// (indexes include those of keys; constraints include keys and checks).
const MARIADB_OBJECTS: &str = "\
SELECT 'tables', COUNT(*) FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
UNION ALL SELECT 'views', COUNT(*) FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'VIEW'
UNION ALL SELECT 'sequences', COUNT(*) FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'SEQUENCE'
UNION ALL SELECT 'indexes', COUNT(DISTINCT TABLE_NAME, INDEX_NAME) FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE()
UNION ALL SELECT 'constraints', COUNT(*) FROM information_schema.TABLE_CONSTRAINTS
  WHERE CONSTRAINT_SCHEMA = DATABASE()
UNION ALL SELECT 'functions', COUNT(*) FROM information_schema.ROUTINES
  WHERE ROUTINE_SCHEMA = DATABASE()
UNION ALL SELECT 'triggers', COUNT(*) FROM information_schema.TRIGGERS
  WHERE TRIGGER_SCHEMA = DATABASE()
UNION ALL SELECT 'events', COUNT(*) FROM information_schema.EVENTS
  WHERE EVENT_SCHEMA = DATABASE()";

/// The storage engines of the restored tables, with how many tables each holds.
const MARIADB_ENGINES_USED: &str = "\
SELECT CONCAT('storage engine ', ENGINE), CONCAT(COUNT(*), ' tables')
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND ENGINE IS NOT NULL
GROUP BY ENGINE";

const MARIADB_ENGINES_OFFERED: &str = "\
SELECT CONCAT('storage engine ', ENGINE),
       IF(SUPPORT = 'DEFAULT', 'available, the default', 'available')
FROM information_schema.ENGINES WHERE SUPPORT IN ('YES', 'DEFAULT')";

/// The collations of the restored tables and columns, with the id the server
/// gives each. MariaDB never changes how a named collation sorts (a newer
/// Unicode version comes under a new name, such as uca1400), so what an
/// upgrade can change is whether the server has the collation and what it
/// means by the name: its id, kept in every table's definition. (MariaDB
/// 10.10 and later list `utf8mb4_uca1400_ai_ci` only in this view.)
const MARIADB_COLLATIONS: &str = "\
SELECT used.name, CONCAT('id ', a.ID)
FROM (SELECT COLLATION_NAME AS name FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL
      UNION SELECT TABLE_COLLATION FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_COLLATION IS NOT NULL) used
LEFT JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY a
  ON a.FULL_COLLATION_NAME = used.name";

async fn mariadb_schema(conn: &mut MySqlConnection) -> Result<SchemaFacts> {
    let objects = mariadb_pairs(
        conn,
        MARIADB_OBJECTS,
        "counting the restored schema's objects",
    )
    .await?
    .into_iter()
    .map(|(k, v)| (k, v.parse().unwrap_or(-1)))
    .collect();
    let extensions = mariadb_pairs(
        conn,
        MARIADB_ENGINES_USED,
        "listing the restored tables' storage engines",
    )
    .await?;
    let available = mariadb_pairs(
        conn,
        MARIADB_ENGINES_OFFERED,
        "listing the server's storage engines",
    )
    .await?;
    Ok(SchemaFacts {
        objects,
        extensions,
        available,
        collations: mariadb_collations(conn).await,
    })
}

/// Evidence, not a condition: a server without the view (before 10.10) has
/// the collations' ids unknown.
async fn mariadb_collations(conn: &mut MySqlConnection) -> Vec<CollationFact> {
    let mut out: Vec<CollationFact> = match conn.fetch_all(sqlx::raw_sql(MARIADB_COLLATIONS)).await
    {
        Ok(rows) => rows
            .iter()
            .map(|r| CollationFact {
                name: mariadb::text(r, 0).unwrap_or_default(),
                version: mariadb::text(r, 1),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Two text columns (the text protocol sends every value as text).
async fn mariadb_pairs(
    conn: &mut MySqlConnection,
    sql: &str,
    what: &str,
) -> Result<BTreeMap<String, String>> {
    let rows = conn
        .fetch_all(sqlx::raw_sql(sql))
        .await
        .map_err(|e| Error::db(what, e))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                mariadb::text(r, 0)?,
                mariadb::text(r, 1).unwrap_or_default(),
            ))
        })
        .collect())
}
