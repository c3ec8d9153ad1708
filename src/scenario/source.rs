//! The scenario file being read: every message about it starts with
//! `file:line:col`, and misspelt words get the nearest valid one.

use crate::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario's path and text, to locate messages and resolve relative paths.
pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// A usage error at the byte `span` of the file.
    pub fn at(&self, span: Range<usize>, msg: impl std::fmt::Display) -> Error {
        let (line, col) = line_col(self.text, span.start);
        Error::Usage(format!("{}:{line}:{col}: {msg}", self.path.display()))
    }

    /// `file:line` of a byte offset, for checks that quote where they come from.
    pub fn origin(&self, offset: usize) -> String {
        let (line, _) = line_col(self.text, offset);
        format!("{}:{line}", self.path.display())
    }

    /// Paths in a scenario are relative to the scenario, not to where it runs.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    /// A TOML or serde error, located, with a suggestion for a misspelt key.
    pub fn toml_error(&self, e: &toml::de::Error) -> Error {
        let msg = e.message().trim();
        let suggestion = unknown_field(msg)
            .map(|(field, expected)| suggest(field, &expected))
            .unwrap_or_default();
        match e.span() {
            Some(span) => self.at(span, format_args!("{msg}{suggestion}")),
            None => Error::Usage(format!("{}: {msg}{suggestion}", self.path.display())),
        }
    }
}

/// serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`",
/// "expected `a` or `b`", "there are no fields") as ("x", ["a", "b"]).
pub(super) fn unknown_field(msg: &str) -> Option<(&str, Vec<&str>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    let expected = rest[end + 1..].split('`').skip(1).step_by(2).collect();
    Some((&rest[..end], expected))
}

/// "; did you mean `c`?" for the choice nearest `got`, if one is near enough
/// to be a typo rather than another word.
pub(super) fn suggest(got: &str, choices: &[&str]) -> String {
    choices
        .iter()
        .map(|c| (levenshtein(got, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`: the words a key takes, as written.
pub(super) fn either(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |p| before.len() - p - 1)
        + 1;
    (line, col)
}
