//! Condition names for the codes a database reports, so an error is named
//! by the standard word for its code rather than by the server's message (which
//! may quote a value).
//!
//! The tables are data, not code: each is the upstream list as it stands, one
//! code a line, in the text files beside this one (`codes/postgres-15.txt`
//! from PostgreSQL 15's `errcodes.txt`, `codes/mariadb-10.11.txt` from MariaDB
//! 10.11's `mysqld_error.h`). Following a newer server is then a diff of a
//! list, not of Rust. They are built into the binary and read once, on the
//! first code that needs a name, into sorted tables for binary search.

use std::sync::LazyLock;

/// SQLSTATE -> PostgreSQL condition name, sorted by code.
pub(super) static SQLSTATES: LazyLock<Vec<(&'static str, &'static str)>> =
    LazyLock::new(|| table(include_str!("codes/postgres-15.txt"), Some));

/// MariaDB error number -> its symbol, sorted by number.
pub(super) static MARIADB: LazyLock<Vec<(u32, &'static str)>> =
    LazyLock::new(|| table(include_str!("codes/mariadb-10.11.txt"), |n| n.parse().ok()));

/// PostgreSQL's condition name for a SQLSTATE it lists (`23505`:
/// `unique_violation`); `None` for a code not in the list.
pub(super) fn sqlstate_name(code: &str) -> Option<&'static str> {
    let i = SQLSTATES.binary_search_by_key(&code, |(k, _)| k).ok()?;
    Some(SQLSTATES[i].1)
}

/// MariaDB's symbol for an error number it lists (`1062`: `ER_DUP_ENTRY`);
/// `None` for a number not in the list.
pub(super) fn mariadb_symbol(number: u32) -> Option<&'static str> {
    let i = MARIADB.binary_search_by_key(&number, |(k, _)| *k).ok()?;
    Some(MARIADB[i].1)
}

/// The `CODE NAME` lines of a list, sorted by key. A line whose code does not
/// read as a key is left out rather than failing a drill over an error's name;
/// the tests below prove no line of the shipped lists is.
fn table<K: Ord>(
    text: &'static str,
    key: impl Fn(&'static str) -> Option<K>,
) -> Vec<(K, &'static str)> {
    let mut rows: Vec<_> = lines(text)
        .filter_map(|(code, name)| Some((key(code)?, name)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The `(code, name)` pairs of a list: blank lines and `#` comments skipped.
fn lines(text: &'static str) -> impl Iterator<Item = (&'static str, &'static str)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of a list that is not a comment, counted.
    fn data_lines(text: &str) -> usize {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
            .count()
    }

    #[test]
    fn every_line_of_the_lists_is_read_and_no_code_is_listed_twice() {
        let pg = include_str!("codes/postgres-15.txt");
        let maria = include_str!("codes/mariadb-10.11.txt");
        assert_eq!(SQLSTATES.len(), data_lines(pg));
        assert_eq!(MARIADB.len(), data_lines(maria));
        // PostgreSQL 15 lists 260 codes; MariaDB 10.11, 1,219 error numbers.
        assert_eq!((SQLSTATES.len(), MARIADB.len()), (260, 1219));
        assert!(SQLSTATES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(MARIADB.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(SQLSTATES.iter().all(|(c, _)| c.len() == 5));
    }

    #[test]
    fn known_codes_are_named_on_each_engine() {
        assert_eq!(sqlstate_name("23505"), Some("unique_violation"));
        assert_eq!(sqlstate_name("P0001"), Some("raise_exception"));
        assert_eq!(sqlstate_name("40P01"), Some("deadlock_detected"));
        assert_eq!(sqlstate_name("53100"), Some("disk_full"));
        assert_eq!(sqlstate_name("00000"), Some("successful_completion"));
        assert_eq!(sqlstate_name("XX002"), Some("index_corrupted"));
        assert_eq!(mariadb_symbol(1062), Some("ER_DUP_ENTRY"));
        assert_eq!(mariadb_symbol(1146), Some("ER_NO_SUCH_TABLE"));
        assert_eq!(mariadb_symbol(1021), Some("ER_DISK_FULL"));
        assert_eq!(mariadb_symbol(1000), Some("ER_ERROR_FIRST"));
        assert_eq!(mariadb_symbol(4192), Some("ER_SLAVE_STATEMENT_TIMEOUT"));
    }

    #[test]
    fn an_unknown_code_stays_unknown() {
        for code in ["23ZZZ", "ZZZZZ", "99999", "", "2350", "unique_violation"] {
            assert_eq!(sqlstate_name(code), None, "{code}");
        }
        for number in [0, 999, 4193, 5000, u32::MAX] {
            assert_eq!(mariadb_symbol(number), None, "{number}");
        }
    }
}
