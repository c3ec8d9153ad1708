//! What a restore tool wrote on stderr, reduced to typed parts. psql runs with
//! `VERBOSITY=sqlstate`, so its error lines carry the code and no message;
//! MariaDB's client prints `ERROR 1062 (23000) at line 45: ...`, whose head is
//! all that is kept. pg_restore prints the server's message only, so its
//! message is classified into a SQLSTATE by the server's fixed wording (the
//! message itself is never kept). Every other line is counted, not shown.

use super::{debug_log, Said};

/// The tool's own words for a disk that is full (ENOSPC), as a kind.
pub const NO_SPACE: &str = "disk_full (the restore tool: no space left on device)";

/// A restore tool refusing a command of the dump that would run a program
/// or touch a file (psql's restricted mode, the mariadb client's sandbox).
pub const RUNS_PROGRAMS: &str = "a command that runs a program or writes a file, refused";

/// pg_dump refusing a server of a newer major version.
pub const VERSION_MISMATCH: &str = "pg_dump: server version mismatch";

/// The most errors a report lists; the count says how many there were.
const SHOWN: usize = 3;

/// A restore tool's stderr as typed parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolSaid {
    /// The first errors, in order.
    pub errors: Vec<Said>,
    /// How many error lines there were in all.
    pub error_count: usize,
    /// Warnings and notices (counted only).
    pub warnings: usize,
    /// Lines that are neither (not shown).
    pub other_lines: usize,
    /// MariaDB refused to recreate `mysql.user`, a view since 10.4
    /// (MDEV-22127): a whole-server dump restored into a new server.
    pub accounts_view: bool,
}

impl ToolSaid {
    /// Parses `raw` as `tool` writes it; the raw text goes to the debug log only.
    pub fn parse(tool: &str, raw: &str) -> ToolSaid {
        debug_log::keep(&format!("{tool} stderr"), raw);
        let mut out = ToolSaid::default();
        let mut toc: Option<u64> = None;
        for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match classify(line) {
                Line::Error(mut said) => {
                    said.toc_entry = said.toc_entry.or(toc.take());
                    out.accounts_view |=
                        said.number == Some(1050) && line.contains("Table 'user' already exists");
                    out.push(said);
                }
                Line::TocEntry(n) => {
                    // pg_restore names the entry after its error: attach it.
                    match out.errors.last_mut() {
                        Some(last) if last.toc_entry.is_none() => last.toc_entry = Some(n),
                        _ => toc = Some(n),
                    }
                }
                Line::Warning => out.warnings += 1,
                Line::Other => out.other_lines += 1,
            }
        }
        out
    }

    fn push(&mut self, said: Said) {
        self.error_count += 1;
        if self.errors.len() < SHOWN {
            self.errors.push(said);
        }
    }

    pub fn is_disk_full(&self) -> bool {
        self.errors.iter().any(Said::is_disk_full)
    }

    /// The tool refused a command of the dump that runs programs.
    pub fn runs_programs(&self) -> bool {
        self.errors.iter().any(|e| e.kind == Some(RUNS_PROGRAMS))
    }

    /// The dump's line of the first refused command.
    pub fn first_refused_line(&self) -> Option<u64> {
        self.errors
            .iter()
            .find(|e| e.kind == Some(RUNS_PROGRAMS))
            .and_then(|e| e.line)
    }

    pub fn is_empty(&self) -> bool {
        self.error_count == 0 && self.warnings == 0 && self.other_lines == 0
    }

    /// The outward words: the errors by their codes, then what was not shown.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self.errors.iter().map(Said::text).collect();
        if self.error_count > self.errors.len() {
            parts.push(format!(
                "{} more errors",
                self.error_count - self.errors.len()
            ));
        }
        if self.warnings > 0 {
            parts.push(plural(
                self.warnings,
                "warning or notice",
                "warnings or notices",
            ));
        }
        if self.other_lines > 0 {
            parts.push(format!(
                "{} not shown (they may quote the data; --debug-log FILE keeps them)",
                plural(self.other_lines, "other line", "other lines")
            ));
        }
        parts.join("; ")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

enum Line {
    Error(Said),
    TocEntry(u64),
    Warning,
    Other,
}

fn classify(line: &str) -> Line {
    if let Some(said) = psql_error(line).or_else(|| mariadb_error(line)) {
        return Line::Error(said);
    }
    if let Some(rest) = line
        .strip_prefix("pg_restore: ")
        .or_else(|| line.strip_prefix("pg_dump: "))
    {
        return pg_tool_line(rest);
    }
    let upper = line.to_ascii_uppercase();
    if upper.contains("WARNING:") || upper.contains("NOTICE:") {
        return Line::Warning;
    }
    if line.contains("No space left on device") {
        return Line::Error(Said {
            kind: Some(NO_SPACE),
            ..Said::default()
        });
    }
    Line::Other
}

/// `psql:<stdin>:12: ERROR:  23505` (VERBOSITY=sqlstate), or psql's own
/// refusal of a meta-command in restricted mode at a line.
fn psql_error(line: &str) -> Option<Said> {
    let rest = line.strip_prefix("psql:")?;
    let (_, rest) = rest.split_once(':')?; // the file name, `<stdin>`
    let (num, rest) = rest.split_once(':')?;
    let line_no = num.trim().parse().ok();
    let rest = rest.trim();
    for sev in ["ERROR:", "FATAL:", "PANIC:"] {
        if let Some(code) = rest.strip_prefix(sev) {
            return Some(Said {
                sqlstate: Said::sqlstate(code.trim()),
                line: line_no,
                kind: Some("a server error"),
                ..Said::default()
            });
        }
    }
    // Lines that show data or where it was (never errors of their own).
    const CONTEXT: [&str; 9] = [
        "WARNING:",
        "NOTICE:",
        "DETAIL:",
        "HINT:",
        "CONTEXT:",
        "QUERY:",
        "LINE ",
        "STATEMENT:",
        "WHERE:",
    ];
    if CONTEXT
        .iter()
        .any(|c| rest.to_ascii_uppercase().starts_with(c))
    {
        return None;
    }
    if rest.contains("backslash commands are restricted") {
        return Some(Said {
            line: line_no,
            kind: Some(RUNS_PROGRAMS),
            ..Said::default()
        });
    }
    // psql's own error at a line (a meta-command it refused, a bad command):
    // its words quote the dump, so only the line is kept.
    Some(Said {
        line: line_no,
        kind: Some("psql refused a command of the dump"),
        ..Said::default()
    })
}

/// `ERROR 1062 (23000) at line 45: ...` and `ERROR at line 3: ...`.
fn mariadb_error(line: &str) -> Option<Said> {
    let rest = line.strip_prefix("ERROR ")?;
    let (head, message) = rest.split_once(": ").unwrap_or((rest, ""));
    let mut said = Said::default();
    let mut words = head.split_whitespace().peekable();
    if let Some(n) = words.peek().and_then(|w| w.parse::<u32>().ok()) {
        said.number = Some(n);
        words.next();
    }
    if let Some(w) = words.peek() {
        if let Some(code) = w.strip_prefix('(').and_then(|w| w.strip_suffix(')')) {
            said.sqlstate = Said::sqlstate(code);
            words.next();
        }
    }
    let tail: Vec<&str> = words.collect();
    if let ["at", "line", n] = tail.as_slice() {
        said.line = n.parse().ok();
    }
    if said.number.is_none() {
        // The client's own words, fixed: `Not allowed in the sandbox mode`.
        said.kind = Some(if message.contains("sandbox mode") {
            RUNS_PROGRAMS
        } else {
            "the mariadb client refused a command of the dump"
        });
    }
    Some(said)
}

/// pg_restore's and pg_dump's own lines: their errors (the server's message classified, never
/// kept), the archive entry it was restoring, its warnings.
fn pg_tool_line(rest: &str) -> Line {
    if let Some(entry) = rest.strip_prefix("from TOC entry ") {
        let n = entry.split(|c: char| !c.is_ascii_digit()).next();
        if let Some(n) = n.and_then(|n| n.parse().ok()) {
            return Line::TocEntry(n);
        }
    }
    if rest.starts_with("warning:") {
        return Line::Warning;
    }
    let Some(error) = rest.strip_prefix("error: ") else {
        return Line::Other;
    };
    let server = ["ERROR:", "FATAL:"]
        .iter()
        .find_map(|sev| error.split_once(sev).map(|(_, m)| m.trim()));
    Line::Error(match server {
        Some(message) => Said {
            sqlstate: classify_server_message(message).map(str::to_string),
            kind: Some("a server error"),
            ..Said::default()
        },
        None if error.contains("No space left on device") => Said {
            kind: Some(NO_SPACE),
            ..Said::default()
        },
        None => Said {
            kind: Some(pg_restore_own(error)),
            ..Said::default()
        },
    })
}

/// PostgreSQL's fixed wording of the errors a restore meets, to their
/// SQLSTATE: pg_restore has no way to print the code itself.
const SERVER_WORDING: [(&str, &str); 18] = [
    ("duplicate key value violates unique constraint", "23505"),
    ("violates foreign key constraint", "23503"),
    ("violates not-null constraint", "23502"),
    ("violates check constraint", "23514"),
    ("could not extend file", "53100"),
    ("No space left on device", "53100"),
    ("out of memory", "53200"),
    ("invalid input syntax", "22P02"),
    ("invalid byte sequence", "22021"),
    ("is out of range", "22003"),
    ("value too long", "22001"),
    ("extra data after last expected column", "22P04"),
    ("missing data for column", "22P04"),
    ("syntax error", "42601"),
    ("permission denied", "42501"),
    ("already exists", "42710"),
    ("does not exist", "42704"),
    ("is not available", "0A000"),
];

fn classify_server_message(message: &str) -> Option<&'static str> {
    SERVER_WORDING
        .iter()
        .find(|(words, _)| message.contains(words))
        .map(|(_, code)| *code)
}

/// pg_restore's and pg_dump's own errors (not the server's), by their fixed
/// wording.
fn pg_restore_own(error: &str) -> &'static str {
    const OWN: [(&str, &str); 7] = [
        ("server version mismatch", VERSION_MISMATCH),
        (
            "could not read input file",
            "pg_restore could not read the archive",
        ),
        (
            "unexpected end of file",
            "pg_restore: the archive ends early",
        ),
        ("did not find magic string", "pg_restore: not an archive"),
        (
            "unsupported version",
            "pg_restore: an archive version it does not read",
        ),
        (
            "connection to server",
            "pg_restore could not connect to the server",
        ),
        ("COPY failed", "pg_restore: COPY failed"),
    ];
    OWN.iter()
        .find(|(words, _)| error.contains(words))
        .map_or("pg_restore failed", |(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values a clinic's names and numbers hold, quotes included.
    const VALUES: [&str; 5] = ["O'Brien-Hartley", "Bob", "Smith", "Hartley", "5142-331"];

    fn shows_no_value(text: &str) {
        for v in VALUES {
            assert!(!text.contains(v), "{v:?} in {text:?}");
        }
    }

    #[test]
    fn psql_lines_keep_the_code_and_the_line() {
        let t = ToolSaid::parse(
            "psql",
            "psql:<stdin>:1204: ERROR:  23505\npsql:<stdin>:1204: DETAIL:  Key (last_name)=(O'Brien-Hartley) already exists.",
        );
        assert_eq!(t.error_count, 1);
        assert_eq!(t.other_lines, 1);
        assert_eq!(t.errors[0].line, Some(1204));
        assert_eq!(t.errors[0].sqlstate.as_deref(), Some("23505"));
        assert!(t
            .text()
            .starts_with("unique_violation (SQLSTATE 23505) at line 1204"));
        shows_no_value(&t.text());
    }

    #[test]
    fn pg_restore_messages_are_classified_never_kept() {
        let raw = "pg_restore: error: could not execute query: ERROR:  invalid input syntax for type integer: \"Robert \"Bob\" Smith\"\n\
                   pg_restore: from TOC entry 3391; 0 16390 TABLE DATA patients postgres\n\
                   Command was: COPY public.patients (id, last_name) FROM stdin;\n\
                   pg_restore: warning: errors ignored on restore: 1";
        let t = ToolSaid::parse("pg_restore", raw);
        assert_eq!(t.errors[0].sqlstate.as_deref(), Some("22P02"));
        assert_eq!(t.errors[0].toc_entry, Some(3391));
        assert_eq!(t.warnings, 1);
        assert_eq!(t.other_lines, 1);
        shows_no_value(&t.text());
        let disk = ToolSaid::parse(
            "pg_restore",
            "pg_restore: error: could not execute query: ERROR:  could not extend file \"base/1/2\": No space left on device",
        );
        assert!(disk.is_disk_full(), "{disk:?}");
    }

    #[test]
    fn mariadb_lines_keep_number_state_and_line() {
        let raw = "ERROR 1062 (23000) at line 45: Duplicate entry 'O'Brien-Hartley' for key 'uq'";
        let t = ToolSaid::parse("mariadb", raw);
        assert_eq!(t.errors[0].number, Some(1062));
        assert_eq!(t.errors[0].line, Some(45));
        assert_eq!(
            t.text(),
            "ER_DUP_ENTRY (error 1062, SQLSTATE 23000) at line 45"
        );
        let signal = ToolSaid::parse("mariadb", "ERROR 1644 (45000) at line 3: O'Brien-Hartley");
        shows_no_value(&signal.text());
        let full = ToolSaid::parse(
            "mariadb",
            "ERROR 1114 (HY000) at line 9: The table 'x' is full",
        );
        assert!(full.is_disk_full());
        let sandboxed = ToolSaid::parse(
            "mariadb",
            "ERROR at line 2: Not allowed in the sandbox mode",
        );
        assert!(sandboxed.runs_programs());
        assert_eq!(sandboxed.first_refused_line(), Some(2));
        let view = ToolSaid::parse(
            "mariadb",
            "ERROR 1050 (42S01) at line 20: Table 'user' already exists",
        );
        assert!(view.accounts_view);
    }

    #[test]
    fn lines_that_fit_no_shape_are_counted_not_shown() {
        let t = ToolSaid::parse("psql", "Robert \"Bob\" Smith\nx\" Hartley");
        assert_eq!(t.other_lines, 2);
        shows_no_value(&t.text());
    }
}

#[cfg(test)]
mod archive_entry {
    use super::*;

    #[test]
    fn the_archive_entry_named_before_its_error_is_attached() {
        let raw = "pg_restore: while PROCESSING TOC:\n\
                   pg_restore: from TOC entry 2; 3079 16385 EXTENSION citext (no owner)\n\
                   pg_restore: error: could not execute query: ERROR:  extension \"citext\" is not available\n\
                   DETAIL:  Could not open extension control file.\n\
                   Command was: CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;";
        let t = ToolSaid::parse("pg_restore", raw);
        assert_eq!(t.errors[0].toc_entry, Some(2), "{t:?}");
        assert_eq!(
            t.text(),
            "feature_not_supported (SQLSTATE 0A000) in archive entry 2; 3 other lines not shown (they may quote the data; --debug-log FILE keeps them)"
        );
    }
}
