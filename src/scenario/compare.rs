//! `[compare]`: the images to restore the same backup into (the first is the
//! baseline), the application's queries, and when a target counts as slower.
//! The query file is read and split here, so a missing file, a nameless or
//! empty query and a duplicate name are refused before anything starts.

use super::raw::RawCompare;
use super::source::Source;
use crate::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Compare {
    /// Images, the baseline first (the version in production today).
    pub targets: Vec<String>,
    pub queries: Vec<AppQuery>,
    /// A target whose median time is more than this many times the
    /// baseline's is slower.
    pub slower_than: f64,
    /// Differences below this are timer noise on a small database, never a
    /// regression, whatever the ratio.
    pub ignore_below: Duration,
    /// The longest one run of one query may take before it is cancelled.
    pub query_timeout: Duration,
}

/// One of the application's queries, from a `-- query: NAME` section.
#[derive(Debug, Clone, PartialEq)]
pub struct AppQuery {
    pub name: String,
    pub sql: String,
    /// The query file, as given.
    pub file: String,
    /// The line of the section's `-- query:` header; the SQL starts below it.
    pub line: usize,
    /// A top-level ORDER BY: the application relies on the order too.
    pub ordered: bool,
}

impl AppQuery {
    /// `file:line` of the header.
    pub fn origin(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// `file:line` of a 1-based character position in the query, as the
    /// server reports a syntax error's place.
    pub fn origin_of(&self, position: usize) -> String {
        let before: String = self.sql.chars().take(position.saturating_sub(1)).collect();
        let line = self.line + 1 + before.matches('\n').count();
        format!("{}:{line}", self.file)
    }

    /// `file:line` of a 1-based line of the query, as MariaDB reports a
    /// syntax error's place.
    pub fn origin_of_line(&self, line: usize) -> String {
        format!("{}:{}", self.file, self.line + line.max(1))
    }
}

pub(super) fn parse(src: &Source, raw: RawCompare) -> Result<Compare> {
    if raw.targets.get_ref().len() < 2 {
        return Err(src.at(
            raw.targets.span(),
            format_args!(
                "[compare] targets names {}; a comparison needs at least two: the baseline (today's version) first, then the version to upgrade to, e.g. [\"restore-drill/postgres:15\", \"restore-drill/postgres:17\"]",
                crate::words::plural(raw.targets.get_ref().len(), "image", "images")
            ),
        ));
    }
    if let Some(blank) = raw.targets.get_ref().iter().find(|t| t.trim().is_empty()) {
        return Err(src.at(
            raw.targets.span(),
            format_args!("[compare] targets holds an empty image name {blank:?}"),
        ));
    }
    let queries = match &raw.queries {
        None => Vec::new(),
        Some(q) => {
            let path = src.resolve(q.get_ref());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                src.at(
                    q.span(),
                    format_args!(
                        "cannot read the query file {}: {e}. Give the path of a file of `-- query: NAME` sections, relative to the scenario",
                        path.display()
                    ),
                )
            })?;
            parse_queries(&path, &text).map_err(Error::Usage)?
        }
    };
    let (slower_than, ignore_below_ms, timeout) = limits(src, &raw)?;
    Ok(Compare {
        targets: raw.targets.into_inner(),
        queries,
        slower_than,
        ignore_below: Duration::from_secs_f64(ignore_below_ms / 1000.0),
        query_timeout: Duration::from_secs(timeout),
    })
}

/// The slower-than ratio, the noise floor in ms and the query time limit in
/// seconds, each refused at its value when out of range.
fn limits(src: &Source, raw: &RawCompare) -> Result<(f64, f64, u64)> {
    let slower_than = match &raw.slower_than {
        None => 2.0,
        Some(s) if *s.get_ref() > 1.0 && s.get_ref().is_finite() => *s.get_ref(),
        Some(s) => {
            return Err(src.at(
                s.span(),
                format_args!(
                    "slower_than = {}: give a ratio above 1, e.g. 2.0 (twice the baseline's time)",
                    s.get_ref()
                ),
            ))
        }
    };
    let ignore_below_ms = match &raw.ignore_below_ms {
        None => 20.0,
        Some(v) if *v.get_ref() >= 0.0 && v.get_ref().is_finite() => *v.get_ref(),
        Some(v) => return Err(src.at(v.span(), "ignore_below_ms must be 0 or more milliseconds")),
    };
    let timeout = match &raw.query_timeout_seconds {
        None => 300,
        Some(t) if *t.get_ref() == 0 => {
            return Err(src.at(
                t.span(),
                "query_timeout_seconds = 0: a timeout must be at least 1",
            ))
        }
        Some(t) => *t.get_ref(),
    };
    Ok((slower_than, ignore_below_ms, timeout))
}

/// Splits a query file into its `-- query: NAME` sections. Errors are whole
/// messages naming `file:line`.
pub fn parse_queries(path: &Path, text: &str) -> std::result::Result<Vec<AppQuery>, String> {
    let file = path.display().to_string();
    let mut out: Vec<AppQuery> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(name) = line.trim().strip_prefix("-- query:") {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!(
                    "{file}:{n}: a `-- query:` line without a name: write `-- query: day sheet`"
                ));
            }
            if let Some(first) = out.iter().find(|q| q.name == name) {
                return Err(format!(
                    "{file}:{n}: the query name `{name}` is used twice (also at line {}): give each query its own name",
                    first.line
                ));
            }
            out.push(AppQuery {
                name: name.to_string(),
                sql: String::new(),
                file: file.clone(),
                line: n,
                ordered: false,
            });
        } else if let Some(q) = out.last_mut() {
            q.sql.push_str(line);
            q.sql.push('\n');
        } else if has_sql(line) {
            return Err(format!(
                "{file}:{n}: SQL before the first `-- query: NAME` line: put a `-- query: NAME` line above each query"
            ));
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{file}: no `-- query: NAME` section: write each of the application's queries below a line such as `-- query: day sheet`"
        ));
    }
    for q in &mut out {
        if !q.sql.lines().any(has_sql) {
            return Err(format!(
                "{}: the query `{}` has no SQL below its name",
                q.origin(),
                q.name
            ));
        }
        q.sql = q.sql.trim_end().to_string();
        q.ordered = top_level_order_by(&q.sql);
    }
    Ok(out)
}

fn has_sql(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with("--")
}

/// Whether the statement orders its result: an ORDER BY outside every
/// parenthesis (a window's or a subquery's ORDER BY orders nothing the
/// application sees), string, quoted name and comment.
pub fn top_level_order_by(sql: &str) -> bool {
    let mut top = String::with_capacity(sql.len());
    let mut depth = 0usize;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                top.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                top.push(' ');
            }
            '\'' | '"' => {
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                top.push(' ');
            }
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => top.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    let words: Vec<&str> = top
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).any(|w| w == ["order", "by"])
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "-- The practice's queries.\n\
        \n\
        -- query: day sheet\n\
        SELECT a.id\n\
        FROM appointments a\n\
        ORDER BY a.id;\n\
        \n\
        -- query: ranking\n\
        -- (a window's ORDER BY orders nothing the application sees)\n\
        SELECT rank() OVER (ORDER BY x) FROM t\n";

    #[test]
    fn sections_are_named_located_and_know_their_order() {
        let q = parse_queries(Path::new("q.sql"), FILE).expect("present");
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].name, "day sheet");
        assert_eq!(q[0].origin(), "q.sql:3");
        assert!(q[0].ordered);
        assert_eq!(q[1].name, "ranking");
        assert!(!q[1].ordered, "{}", q[1].sql);
        // FROM is the 2nd line of the SQL: position of 'F' is 12.
        let pos = q[0].sql.find("FROM").expect("present") + 1;
        assert_eq!(q[0].origin_of(pos), "q.sql:5");
        assert_eq!(q[0].origin_of_line(2), "q.sql:5");
    }

    #[test]
    fn order_by_in_strings_comments_and_subqueries_does_not_count() {
        assert!(!top_level_order_by(
            "SELECT 'order by' -- order by\n FROM (SELECT 1 ORDER BY 1) s /* order by */"
        ));
        assert!(top_level_order_by("select 1 union select 2 order\n by 1"));
        assert!(!top_level_order_by("SELECT \"order by\" FROM t"));
    }

    #[test]
    fn bad_files_are_refused_at_their_line() {
        let bad = |text: &str| parse_queries(Path::new("q.sql"), text).expect_err("refused");
        assert!(bad("SELECT 1;\n").starts_with("q.sql:1: SQL before"));
        assert!(bad("-- just a comment\n").contains("no `-- query: NAME` section"));
        assert!(
            bad("-- query:\nSELECT 1\n").starts_with("q.sql:1: a `-- query:` line without a name")
        );
        let twice = bad("-- query: a\nSELECT 1\n-- query: a\nSELECT 2\n");
        assert!(
            twice.starts_with("q.sql:3:") && twice.contains("also at line 1"),
            "{twice}"
        );
        let empty = bad("-- query: a\n-- nothing\n\n-- query: b\nSELECT 1\n");
        assert!(
            empty.starts_with("q.sql:1: the query `a` has no SQL"),
            "{empty}"
        );
    }
}
