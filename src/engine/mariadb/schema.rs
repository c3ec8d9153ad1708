//! What a restored MariaDB holds and its server offers, for a comparison
//! before an upgrade. MariaDB's databases have no extensions: the storage
//! engines the restored tables use stand in for them (a server without one
//! cannot hold those tables).

use super::text;
use crate::engine::schema::{CollationFact, SchemaFacts};
use crate::error::{Error, Result};
use sqlx::mysql::MySqlConnection;
use sqlx::Executor;
use std::collections::BTreeMap;
use std::time::Duration;

/// The facts of the restored database, as the administrator at
/// `admin_url`: information_schema shows a user only the triggers and
/// routines it may change, and the checks' user may change nothing.
pub async fn facts(admin_url: &str) -> Result<SchemaFacts> {
    let mut conn = super::connect(admin_url, Duration::from_secs(10)).await?;
    mariadb_schema(&mut conn).await
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
                name: text(r, 0).unwrap_or_default(),
                version: text(r, 1),
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
        .filter_map(|r| Some((text(r, 0)?, text(r, 1).unwrap_or_default())))
        .collect())
}
