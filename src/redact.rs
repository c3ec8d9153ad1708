//! The one choke point for text that leaves the process. Database messages,
//! tool stderr and error chains quote the values they choke on (a health card
//! number, a name, a whole row); `Redacted` is the only way such text reaches a
//! report, a log line, an alert or the terminal, and only `Redacted::new` (which
//! runs the redactor) can build one, so the compiler proves nothing bypasses it.

use serde::{Serialize, Serializer};
use std::fmt;

/// What replaces a value.
pub const MARKER: &str = "[value removed]";
/// What replaces a line that exists to show data (DETAIL, CONTEXT, HINT ...).
pub const LINE_MARKER: &str = "[detail removed: may hold patient data]";

/// Text that went through the redactor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(raw: impl AsRef<str>) -> Self {
        Redacted(redact(raw.as_ref()))
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

/// Lines whose purpose is to show data or the SQL that carried it.
const DATA_LINES: [&str; 8] = [
    "DETAIL:",
    "CONTEXT:",
    "HINT:",
    "Command was:",
    "QUERY:",
    "LINE ",
    "WHERE:",
    "STATEMENT:",
];

/// Words after which PostgreSQL quotes the name of a schema object, not a
/// value: `relation "patients"`, `constraint "patients_email_check"`. Those
/// names are what makes an error useful and they are not patient data. Words
/// whose quoted name can come from data (`column "ann" does not exist` when a
/// damaged dump's data is parsed as SQL) are left out: their names go too.
const NAME_WORDS: [&str; 12] = [
    "relation",
    "constraint",
    "table",
    "index",
    "schema",
    "sequence",
    "encoding",
    "database",
    "view",
    "trigger",
    "extension",
    "collation",
];

/// Replaces values by a marker: lines that show data (`DETAIL:`, `CONTEXT:`,
/// `HINT:`, COPY context, the SQL of a failed command) whole, and in other
/// lines every `(...)=(...)`, `Failing row contains (...)`, and quoted text
/// (`"..."`, `'...'`) unless it names a schema object.
pub fn redact(text: &str) -> String {
    text.lines().map(redact_line).collect::<Vec<_>>().join("\n")
}

fn redact_line(line: &str) -> String {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    // psql prefixes its lines: `psql:<stdin>:12: DETAIL:  ...`.
    let tail = body
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("psql:") || head.starts_with("pg_restore"))
        .map_or(body, |(_, t)| t.trim_start());
    if is_data_line(body) || is_data_line(tail) || body.starts_with('^') {
        return format!("{indent}{LINE_MARKER}");
    }
    let line = redact_key_values(line);
    let line = redact_after(&line, "Failing row contains ");
    redact_quotes(&line)
}

fn is_data_line(s: &str) -> bool {
    DATA_LINES.iter().any(|p| s.starts_with(p)) || (s.starts_with("COPY ") && s.contains(", line "))
}

/// `Key (health_card)=(ABC123)` -> `Key (health_card)=([value removed])`.
fn redact_key_values(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(pos) = rest.find(")=(") {
        out.push_str(&rest[..pos + 3]);
        out.push_str(MARKER);
        rest = &rest[pos + 3..];
        rest = match closing_paren(rest) {
            Some(end) => &rest[end..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Index of the `)` that closes a group whose `(` was just consumed.
fn closing_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Everything after `prefix` to the end of the line.
fn redact_after(line: &str, prefix: &str) -> String {
    match line.find(prefix) {
        Some(p) => format!("{}{MARKER}", &line[..p + prefix.len()]),
        None => line.to_string(),
    }
}

/// Quoted text becomes the marker unless the word before it says it names a
/// schema object. A `'` inside a word (pg_dump's) is an apostrophe, not a quote.
fn redact_quotes(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = (c == '"' || c == '\'')
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && i + 1 < chars.len();
        if !opens {
            out.push(c);
            i += 1;
            continue;
        }
        let end = closing_quote(&chars, i + 1, c);
        let quoted: String = chars[i + 1..end.min(chars.len())].iter().collect();
        out.push(c);
        if names_object(&out) && is_identifier(&quoted) {
            out.push_str(&quoted);
        } else {
            out.push_str(MARKER);
        }
        if end < chars.len() {
            out.push(c);
        }
        i = end + 1;
    }
    out
}

/// Index of the quote that closes one opened before `from` (a doubled quote is
/// an escaped one); the line's length when it never closes.
fn closing_quote(chars: &[char], from: usize, q: char) -> usize {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == q {
            if chars.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j;
        }
        j += 1;
    }
    chars.len()
}

/// Whether the text before an opening quote ends with a word that introduces
/// an object name (`relation "`, `for encoding "`).
fn names_object(before: &str) -> bool {
    let head = before[..before.len() - 1].trim_end();
    let word = head
        .rsplit(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    NAME_WORDS.contains(&word.to_ascii_lowercase().as_str())
}

/// A schema object's name as PostgreSQL prints it: no spaces, no `@`, short.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$' || c == '-')
        && !s.chars().all(|c| c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_and_their_detail_line_are_removed() {
        let raw = "pg_restore: error: could not execute query: ERROR:  duplicate key value violates unique constraint \"patients_health_card_number_key\"\n\
                   DETAIL:  Key (health_card_number)=(1234-567-890-AB) already exists.\n\
                   Command was: INSERT INTO patients VALUES ('Jane', 'Doe');";
        let r = redact(raw);
        assert!(!r.contains("1234-567-890-AB"), "{r}");
        assert!(!r.contains("Jane"), "{r}");
        assert!(r.contains("patients_health_card_number_key"), "{r}");
        assert_eq!(
            redact("x Key (a, b)=(1, (2)) y"),
            format!("x Key (a, b)=({MARKER}) y")
        );
    }

    #[test]
    fn quoted_values_go_object_names_stay() {
        let r = redact("invalid input syntax for type bigint: \"5142-331-876-QC\"");
        assert_eq!(
            r,
            format!("invalid input syntax for type bigint: \"{MARKER}\"")
        );
        let r = redact("value \"5145550123\" is out of range for type integer");
        assert!(!r.contains("5145550123"), "{r}");
        let r = redact(
            "new row for relation \"patients\" violates check constraint \"patients_email_check\"",
        );
        assert!(
            r.contains("\"patients\"") && r.contains("\"patients_email_check\""),
            "{r}"
        );
        let r = redact("relation \"Jean Tremblay\" does not exist");
        assert!(!r.contains("Tremblay"), "{r}");
        let r = redact("column \"tremblay\" does not exist");
        assert!(!r.contains("tremblay"), "{r}");
    }

    #[test]
    fn single_quotes_are_values_but_apostrophes_are_not() {
        let r = redact("near 'O''Brien' in pg_dump's output");
        assert!(!r.contains("Brien"), "{r}");
        assert!(r.contains("pg_dump's output"), "{r}");
    }

    #[test]
    fn failing_rows_and_copy_context_are_removed() {
        let r = redact("ERROR:  new row violates it\nDETAIL:  Failing row contains (1, Ann, Lee).\nCONTEXT:  COPY patients, line 3: \"1\tAnn\tLee\"");
        assert!(!r.contains("Ann") && !r.contains("Lee"), "{r}");
        assert_eq!(
            r.lines().filter(|l| l.contains(LINE_MARKER)).count(),
            2,
            "{r}"
        );
        let r =
            redact("psql:<stdin>:42: CONTEXT:  COPY patients, line 3, column last_name: \"Lee\"");
        assert!(!r.contains("Lee"), "{r}");
        let r = redact("ERROR: x Failing row contains (1, Ann).");
        assert!(!r.contains("Ann"), "{r}");
    }

    #[test]
    fn an_unclosed_quote_hides_the_rest_of_the_line() {
        let r = redact("syntax error at or near \"Tremblay");
        assert!(!r.contains("Tremblay"), "{r}");
    }

    #[test]
    fn the_type_is_the_only_way_in() {
        let r = Redacted::new("Key (email)=(a@b.org) exists");
        assert!(!r.as_str().contains("a@b.org"));
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            format!("\"{}\"", r)
        );
    }
}
