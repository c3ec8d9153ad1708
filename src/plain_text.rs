//! Text the user gives that is written where a line break or a reordering
//! character changes its meaning: a path or site in a systemd unit (a newline
//! adds a directive run as root) or a crontab, a scenario's name or site in a
//! report's title, an evidence pack. Such text is refused, naming the field,
//! rather than escaped: no reader of those files undoes an escape, and no
//! clinic names its site with a control character. The value is shown in
//! backticks, not quotes: the redactor takes quoted text for a database's.

use crate::error::{Error, Result};

/// Why a character cannot be written, or None when it can.
fn harmful(c: char) -> Option<&'static str> {
    match c {
        '\n' => Some("a line break"),
        '\r' => Some("a carriage return"),
        '\t' => Some("a tab"),
        // Bidi embeddings, overrides and isolates: the text reads in another
        // order than it is written (U+202E makes `exe.txt` show as `txt.exe`).
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
            Some("a bidirectional control character")
        }
        c if c.is_control() => Some("a control character"),
        _ => None,
    }
}

/// The text with every harmful character shown as an escape, so the message
/// that refuses it can be read, and the character found, in a terminal.
pub fn shown(s: &str) -> String {
    s.chars()
        .map(|c| match (c, harmful(c)) {
            ('\n', _) => "\\n".to_string(),
            ('\r', _) => "\\r".to_string(),
            ('\t', _) => "\\t".to_string(),
            (c, Some(_)) => format!("\\u{{{:04X}}}", c as u32),
            (c, None) => c.to_string(),
        })
        .collect()
}

/// Refuses `value` when it holds a character that would change what a unit
/// file, crontab, report title or pack says. `field` names where the value
/// came from (`the scenario path`, `--site`), `fix` the next step.
pub fn refuse_controls(field: &str, value: &str, fix: &str) -> Result<()> {
    let Some((at, why)) = value
        .chars()
        .enumerate()
        .find_map(|(i, c)| harmful(c).map(|w| (i + 1, w)))
    else {
        return Ok(());
    };
    Err(Error::Usage(format!(
        "{field} `{}` holds {why} (character {at}): written into a unit file, a crontab, a report or an evidence pack it would change what they say. {fix}",
        shown(value)
    )))
}

/// `refuse_controls` for a path.
pub fn refuse_controls_in_path(field: &str, path: &std::path::Path) -> Result<()> {
    refuse_controls(
        field,
        &path.to_string_lossy(),
        "Rename the file or folder (or link it from a plain name), then give that path",
    )
}

/// What a drill writes into its report's title and a pack: the scenario's
/// file, name and site (after `--site`, the site file and the host name).
pub fn refuse_in_drill(scenario: &std::path::Path, name: &str, site: &str) -> Result<()> {
    refuse_controls_in_path("the scenario path", scenario)?;
    refuse_controls(
        "the scenario's name",
        name,
        &format!(
            "Fix: write `name` in {} as one line of plain text",
            shown(&scenario.to_string_lossy())
        ),
    )?;
    refuse_controls(
        "the site",
        site,
        "Fix: give the site (--site, RESTORE_DRILL_SITE, the site file's or the scenario's `site`) as one line of plain text",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_and_accents_are_plain() {
        for ok in [
            "Main Street Eye Care",
            "/etc/restore-drill/monthly drill.toml",
            "Clínica Óptica São João",
            "50% \"Eye\" $Care",
        ] {
            assert!(refuse_controls("--site", ok, "x").is_ok(), "{ok}");
        }
    }

    /// One test per harmful character: refused as a usage error (exit 2),
    /// shown escaped, with the fix given.
    macro_rules! refused {
        ($($name:ident: $bad:expr => $shows:expr;)+) => {
            $(
                #[test]
                fn $name() {
                    let err = refuse_controls("the scenario's site", $bad, "Fix: edit `site`.")
                        .expect_err("refused");
                    let said = err.to_string();
                    assert_eq!(err.kind(), crate::error::ErrorKind::Usage);
                    assert!(
                        said.starts_with(&format!("the scenario's site `{}` holds ", $shows)),
                        "{said}"
                    );
                    assert!(said.ends_with("Fix: edit `site`."), "{said}");
                }
            )+
        };
    }

    refused! {
        a_line_feed_is_refused_and_shown: "a\nExecStartPre=/bin/sh" => "a\\nExecStartPre=/bin/sh";
        a_carriage_return_is_refused_and_shown: "a\rb" => "a\\rb";
        a_tab_is_refused_and_shown: "a\tb" => "a\\tb";
        a_right_to_left_override_is_refused_and_shown: "eye\u{202E}txt.exe" => "eye\\u{202E}txt.exe";
        a_left_to_right_isolate_is_refused_and_shown: "eye\u{2066}x" => "eye\\u{2066}x";
        a_bell_is_refused_and_shown: "a\u{7}b" => "a\\u{0007}b";
    }
}
