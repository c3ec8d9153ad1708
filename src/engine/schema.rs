//! What a restored database holds and its server offers, as a comparison
//! before an upgrade reports it: each engine reads it its own way
//! (`postgres/schema.rs`, `mariadb/schema.rs`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the restored database holds and the server offers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SchemaFacts {
    /// Objects per kind (tables, indexes ...), extension members left out.
    pub objects: BTreeMap<String, i64>,
    /// Installed extensions and their versions (MariaDB: the storage
    /// engines the restored tables use, with their numbers of tables).
    pub extensions: BTreeMap<String, String>,
    /// Extensions the server offers, with their default version (only those
    /// some target has installed are kept in the report).
    pub available: BTreeMap<String, String>,
    pub collations: Vec<CollationFact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollationFact {
    /// e.g. `default (libc, en_US.UTF-8)`.
    pub name: String,
    /// The version the target's library provides now ("none (code-point
    /// order)" for a locale without one); null when the server cannot say.
    pub version: Option<String>,
}
