//! The one place that builds text leaving the process. What a database, a
//! restore tool or a dump says may quote a value (a surname, a health card, a
//! whole row), and no filter over such text is safe: a quote inside a name ends
//! it early, a name after `relation` is kept. So that text never becomes output.
//! It is reduced to typed parts ([`Said`]: SQLSTATE or error number, the
//! condition's standard name, the dump line or archive entry) and the outward
//! words are built from those parts here. Everything else in a `Redacted` is
//! the program's own wording and the user's own input ([`Redacted::ours`]),
//! shown as typed so a typo can be fixed. The raw text, where a user needs it
//! to debug, goes only to the `--debug-log` file ([`debug_log`]).

mod codes;
pub mod debug_log;
pub mod tool;

pub use tool::ToolSaid;

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Text fit to leave the process: built by this module from typed parts, or
/// written by the program itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redacted(String);

impl Redacted {
    /// The program's own words, with the user's own input (paths, scenario
    /// values, flag values) as typed. Never text a database, a restore tool
    /// or a dump wrote: that goes through [`Said`] or [`ToolSaid`].
    pub fn ours(text: impl Into<String>) -> Self {
        Redacted(text.into())
    }
    /// What a database said, as its typed parts.
    pub fn said(said: &Said) -> Self {
        Redacted(said.text())
    }
    /// What a restore tool wrote, as its typed parts.
    pub fn tool(said: &ToolSaid) -> Self {
        Redacted(said.text())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Redacted {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Read back from a report this program wrote: the text passed the redactor
/// on its way in, so it is the program's own words now.
impl<'de> Deserialize<'de> for Redacted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Redacted)
    }
}

/// A database error reduced to parts that cannot carry a value: codes the
/// server picks from a fixed list, and positions in the dump.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Said {
    /// Five characters of `[0-9A-Z]`, checked when parsed.
    pub sqlstate: Option<String>,
    /// MariaDB's error number.
    pub number: Option<u32>,
    /// The dump's line the tool stopped at (psql, mariadb).
    pub line: Option<u64>,
    /// The archive entry being restored (pg_restore's TOC entry).
    pub toc_entry: Option<u64>,
    /// When there is no code: what kind of failure it was, in our words.
    pub kind: Option<&'static str>,
}

impl Said {
    /// A SQLSTATE as a server sent it, kept only if it has the standard's shape.
    pub fn sqlstate(code: &str) -> Option<String> {
        let ok = code.len() == 5
            && code
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
        ok.then(|| code.to_string())
    }

    /// What sqlx reports, as parts. The server's message, detail and hint are
    /// dropped (kept only in the debug log); so is the text of client-side
    /// errors, which can quote a decoded value.
    pub fn of_sqlx(e: &sqlx::Error) -> Said {
        debug_log::keep("database error", &e.to_string());
        match e {
            sqlx::Error::Database(d) => {
                let number = d
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|m| u32::from(m.number()));
                Said {
                    sqlstate: d.code().as_deref().and_then(Said::sqlstate),
                    number,
                    ..Said::default()
                }
            }
            other => Said {
                kind: Some(client_kind(other)),
                ..Said::default()
            },
        }
    }

    /// The condition's standard name: PostgreSQL's for a SQLSTATE, MariaDB's
    /// symbol for an error number.
    pub fn condition(&self) -> Option<&'static str> {
        if let Some(name) = self.number.and_then(codes::mariadb_symbol) {
            return Some(name);
        }
        let code = self.sqlstate.as_deref()?;
        // An unlisted code is named by its class (`23xxx`: integrity_...).
        // `get`: a Said built by hand may hold a short or non-ASCII code.
        let class = || codes::sqlstate_name(&format!("{}000", code.get(..2)?));
        codes::sqlstate_name(code).or_else(class)
    }

    /// Out of disk space, by the code alone: PostgreSQL's disk_full, MariaDB's
    /// ER_RECORD_FILE_FULL and ER_DISK_FULL.
    pub fn is_disk_full(&self) -> bool {
        self.sqlstate.as_deref() == Some("53100")
            || matches!(self.number, Some(1114 | 1021))
            || self.kind == Some(tool::NO_SPACE)
    }

    /// The outward words: `unique_violation (SQLSTATE 23505) at line 12`.
    pub fn text(&self) -> String {
        let mut codes = Vec::new();
        if let Some(n) = self.number {
            codes.push(format!("error {n}"));
        }
        if let Some(s) = &self.sqlstate {
            codes.push(format!("SQLSTATE {s}"));
        }
        let mut out = match (self.condition().or(self.kind), codes.is_empty()) {
            (Some(name), false) => format!("{name} ({})", codes.join(", ")),
            (Some(name), true) => name.to_string(),
            (None, false) => codes.join(", "),
            (None, true) => "an error without a code".to_string(),
        };
        if let Some(l) = self.line {
            out.push_str(&format!(" at line {l}"));
        }
        if let Some(t) = self.toc_entry {
            out.push_str(&format!(" in archive entry {t}"));
        }
        out
    }
}

/// Why a connection failed: the operating system's words for a network
/// error (they name no value: "Connection refused"), else the typed parts.
pub fn connect_words(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => format!("the connection failed: {io}"),
        other => Said::of_sqlx(other).text(),
    }
}

/// A client-side failure in our words: sqlx's own text can quote a value it
/// failed to decode.
fn client_kind(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::Io(_) => "the connection to the database failed",
        sqlx::Error::Tls(_) => "the database connection's TLS failed",
        sqlx::Error::Protocol(_) => "the database broke its protocol",
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            "no database connection could be had in time"
        }
        sqlx::Error::RowNotFound => "the query returned no row",
        sqlx::Error::ColumnNotFound(_) | sqlx::Error::ColumnIndexOutOfBounds { .. } => {
            "the query did not return the expected column"
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            "a value the query returned is not of the expected type"
        }
        sqlx::Error::TypeNotFound { .. } => "a type the query uses is unknown",
        _ => "the database client failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_or_non_ascii_sqlstate_built_by_hand_names_nothing_and_does_not_panic() {
        for code in ["", "2", "é", "é1000"] {
            let said = Said {
                sqlstate: Some(code.to_string()),
                ..Said::default()
            };
            assert_eq!(said.condition(), None, "{code:?}");
        }
    }

    #[test]
    fn a_code_is_named_by_its_standard_word() {
        let s = Said {
            sqlstate: Said::sqlstate("23505"),
            line: Some(12),
            ..Said::default()
        };
        assert_eq!(s.text(), "unique_violation (SQLSTATE 23505) at line 12");
        let m = Said {
            sqlstate: Said::sqlstate("23000"),
            number: Some(1062),
            ..Said::default()
        };
        assert_eq!(m.text(), "ER_DUP_ENTRY (error 1062, SQLSTATE 23000)");
        // Unlisted in its class: the class's name.
        let c = Said {
            sqlstate: Said::sqlstate("23ZZZ"),
            ..Said::default()
        };
        assert_eq!(c.text(), "integrity_constraint_violation (SQLSTATE 23ZZZ)");
    }

    #[test]
    fn an_unknown_code_is_shown_as_its_code_alone() {
        let s = Said {
            sqlstate: Said::sqlstate("ZZ999"),
            ..Said::default()
        };
        assert_eq!(s.condition(), None);
        assert_eq!(s.text(), "SQLSTATE ZZ999");
        let m = Said {
            number: Some(999),
            ..Said::default()
        };
        assert_eq!(m.condition(), None);
        assert_eq!(m.text(), "error 999");
    }

    #[test]
    fn a_sqlstate_of_another_shape_is_not_kept() {
        assert_eq!(Said::sqlstate("O'Brien"), None);
        assert_eq!(Said::sqlstate("2350"), None);
        assert_eq!(Said::sqlstate("P0001").as_deref(), Some("P0001"));
    }

    #[test]
    fn the_codes_are_sorted_for_binary_search() {
        assert!(codes::SQLSTATES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(codes::MARIADB.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn the_users_own_words_are_shown_as_typed() {
        let r = Redacted::ours("unknown fault \"ransomwear\": use \"ransomware\"");
        assert!(r.as_str().contains("ransomwear"), "{r}");
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            format!("{:?}", r.as_str())
        );
    }
}
