//! What a check session's role was refused, as typed parts: the SQLSTATE or
//! error number, what it means, and the name of the function or table
//! refused, which the program knows (it revoked or withheld it) and finds in
//! the check's own query. Nothing of the server's message is used. Each
//! engine's file says which of its errors are refusals (`refusal`).

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
    use crate::engine::{mariadb, postgres};

    #[test]
    fn a_refused_name_is_found_in_the_checks_own_query() {
        let f = &postgres::REFUSED_FUNCTIONS;
        let lo = "SELECT lo_from_bytea(0, 'x')";
        assert_eq!(named(lo, f, true), Some("lo_from_bytea"));
        let quoted = "select PG_CATALOG.\"lo_creat\"(-1)";
        assert_eq!(named(quoted, f, true), Some("lo_creat"));
        assert_eq!(named("SELECT dblink_exec('x')", f, true), Some("dblink"));
        // A longer name is not a shorter one.
        assert_eq!(named("SELECT lo_create_thing()", f, true), None);
        let t = &postgres::SECRET_CATALOGS;
        let authid = "SELECT rolpassword FROM pg_catalog.pg_authid";
        assert_eq!(named(authid, t, false), Some("pg_authid"));
        let m = &mariadb::SECRET_TABLES;
        let user = "SELECT * FROM `mysql`.`user`";
        assert_eq!(named(user, m, false), Some("mysql.user"));
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
