//! A custom check refused what its role may not do (write a large object,
//! read the server's accounts, signal or kill another session), as typed
//! evidence: the SQLSTATE or error number, and the name of the function or
//! table refused, which the program knows (it revoked it) and finds in the
//! check's own query. Nothing of the server's message is used.

use super::Status;
use crate::engine::{mariadb, postgres, EngineKind};
use crate::scenario::SqlCheck;

/// What a check's role was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `SQLSTATE 42501`, `error 1142`.
    pub code: String,
    /// What the code means, in words.
    pub meaning: &'static str,
    /// `function lo_from_bytea`, `table mysql.user`; none when the query
    /// names nothing the program refused.
    pub object: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.meaning, self.code)?;
        match &self.object {
            Some(o) => write!(f, " on {o}"),
            None => Ok(()),
        }
    }
}

/// The check's result when its query was refused for its role's lack of a
/// privilege the drill withholds; `None` for any other error.
pub fn refused(engine: EngineKind, e: &sqlx::Error, c: &SqlCheck) -> Option<(Status, String)> {
    let r = classify(engine, e, &c.query)?;
    Some((
        Status::Error,
        format!(
            "the check {} at {} was refused: {r}. Checks run as a role that can only read the restored application's tables: no large objects, no server accounts, no signals to other sessions. Make it a query that only reads those tables",
            c.name, c.origin
        ),
    ))
}

/// The refusal in `e`, from its code and the names `query` holds.
fn classify(engine: EngineKind, e: &sqlx::Error, query: &str) -> Option<Refusal> {
    match engine {
        EngineKind::Postgres => {
            let sqlx::Error::Database(d) = e else {
                return None;
            };
            // 42501 insufficient_privilege
            if d.code().as_deref() != Some("42501") {
                return None;
            }
            let function = named(query, &postgres::REFUSED_FUNCTIONS, true);
            let object = function.map(|f| format!("function {f}")).or_else(|| {
                named(query, &postgres::SECRET_CATALOGS, false).map(|t| format!("table {t}"))
            });
            // Without a name the program knows, another path says what was refused.
            object.as_ref()?;
            Some(Refusal {
                code: "SQLSTATE 42501".into(),
                meaning: "permission denied",
                object,
            })
        }
        EngineKind::Mariadb => {
            let (number, meaning) = match mariadb::error_number(e)? {
                1095 => (1095, "not the owner of the session it tried to KILL"),
                1142 => (1142, "command denied on a table"),
                1044 => (1044, "access denied to a database"),
                1227 => (1227, "a privilege the checks' user does not hold"),
                _ => return None,
            };
            let object = named(query, &mariadb::SECRET_TABLES, false).map(|t| format!("table {t}"));
            if number != 1095 && number != 1227 && object.is_none() {
                return None;
            }
            Some(Refusal {
                code: format!("error {number}"),
                meaning,
                object,
            })
        }
    }
}

/// Pure: the first of `names` that the query names as a word (quotes
/// dropped; a schema-qualified name matches by any part or whole), or as the
/// start of one when `prefixes` (`dblink` for `dblink_exec`).
pub fn named(query: &str, names: &[&'static str], prefixes: bool) -> Option<&'static str> {
    let lower = query.to_ascii_lowercase().replace(['"', '`'], "");
    let words: Vec<&str> = lower
        .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let matches = |w: &str, n: &str| w == n || (prefixes && n == "dblink" && w.starts_with(n));
    words.iter().find_map(|w| {
        names
            .iter()
            .copied()
            .find(|n| matches(w, n) || w.split('.').any(|part| matches(part, n)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_name_is_found_in_the_checks_own_query() {
        let f = &postgres::REFUSED_FUNCTIONS;
        assert_eq!(
            named("SELECT lo_from_bytea(0, 'x')", f, true),
            Some("lo_from_bytea")
        );
        assert_eq!(
            named("select PG_CATALOG.\"lo_creat\"(-1)", f, true),
            Some("lo_creat")
        );
        assert_eq!(named("SELECT dblink_exec('x')", f, true), Some("dblink"));
        // A longer name is not a shorter one.
        assert_eq!(named("SELECT lo_create_thing()", f, true), None);
        let t = &postgres::SECRET_CATALOGS;
        assert_eq!(
            named("SELECT rolpassword FROM pg_catalog.pg_authid", t, false),
            Some("pg_authid")
        );
        let m = &mariadb::SECRET_TABLES;
        assert_eq!(
            named("SELECT * FROM `mysql`.`user`", m, false),
            Some("mysql.user")
        );
        assert_eq!(named("SELECT * FROM user", m, false), None);
    }

    #[test]
    fn a_refusal_reads_as_its_code_and_the_refused_name() {
        let r = Refusal {
            code: "SQLSTATE 42501".into(),
            meaning: "permission denied",
            object: Some("function lo_from_bytea".into()),
        };
        assert_eq!(
            r.to_string(),
            "permission denied (SQLSTATE 42501) on function lo_from_bytea"
        );
    }
}
