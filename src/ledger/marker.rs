//! The marker of the history's last head, kept in the state folder beside it
//! (`history.sqlite.head`). A history that was deleted would otherwise be
//! recreated by the next drill as a new, intact chain, with nothing to say
//! that records were lost; the marker says how many there were and which
//! head they ended on, for `doctor` and the next run to name.

use super::chain::{HeadRef, Stored};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The history's file name (the marker sits beside it).
    pub history: String,
    /// The newest record when the marker was written, and its chain hash.
    pub head: HeadRef,
    pub recorded_at: String,
}

/// `DIR/history.sqlite` -> `DIR/history.sqlite.head`.
pub fn path(history: &Path) -> PathBuf {
    let mut s = history.as_os_str().to_owned();
    s.push(".head");
    PathBuf::from(s)
}

/// The marker, if there is one. One that cannot be read is said as such:
/// it is evidence that a history existed.
pub fn read(history: &Path) -> Result<Option<Marker>> {
    let p = path(history);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read the drill history's marker", &p, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Environment(format!(
            "the drill history's marker {} cannot be read ({e}): it was edited or damaged. Compare it with the history (restore-drill history verify), then move it away",
            p.display()
        ))
    })
}

/// Records `newest` as the last head, replacing the marker atomically.
pub fn write(history: &Path, newest: &Stored) -> Result<PathBuf> {
    let m = Marker {
        history: history
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        head: newest.head_ref(),
        recorded_at: newest.recorded_at.clone(),
    };
    let text = serde_json::to_string_pretty(&m)
        .map_err(|e| Error::Failed(format!("cannot serialise the history's marker: {e}")))?;
    crate::catalog::atomic::replace_file(&path(history), text.as_bytes(), 0o644)
}

/// Refuses to start a new history where the marker says one with records
/// existed: the drill is then not recorded, and says why and what to do.
pub fn refuse_new_chain(history: &Path) -> Result<()> {
    if history.exists() {
        return Ok(());
    }
    match read(history)? {
        Some(m) if m.head.record > 0 => Err(Error::Environment(missing(history, &m))),
        _ => Ok(()),
    }
}

/// Refuses to append to a history that no longer holds the marker's head
/// with its hash (`held`: what the history holds at that record): emptied,
/// cut short, rewritten or an older copy put back. Appending would start, or
/// go on with, a chain that hides it.
pub fn refuse_lost_head(history: &Path, m: &Marker, held: Option<&str>) -> Result<()> {
    if held == Some(m.head.hash.as_str()) {
        return Ok(());
    }
    let what = match held {
        None => "no longer holds that record (emptied, cut short, or an older copy put back)",
        Some(_) => "holds that record with another hash (rewritten)",
    };
    Err(Error::Environment(format!(
        "the drill history {} {what}: its marker {} names record {} (hash {}, written {}) as the last head. Check the history against an alert, metrics file or pack (restore-drill history verify --against FILE) and put back the right copy; if you put back an older copy on purpose, move the marker away first (keep it). This run was not recorded",
        history.display(),
        path(history).display(),
        m.head.record,
        &m.head.hash[..m.head.hash.len().min(16)],
        m.recorded_at
    )))
}

/// The history is gone but its marker is not.
pub fn missing(history: &Path, m: &Marker) -> String {
    format!(
        "the drill history {} is missing, but its marker {} says it held {} (head record {}, hash {}, written {}): it was deleted or moved. Restore the history from a copy to that path; to start a new history on purpose, move the marker away first (keep it: it names the lost history's head). No new history was started",
        history.display(),
        path(history).display(),
        crate::words::plural(m.head.record, "record", "records"),
        m.head.record,
        &m.head.hash[..m.head.hash.len().min(16)],
        m.recorded_at
    )
}

/// Whether an intact chain still holds the marker's head.
pub fn judge(history: &Path, m: &Marker, records: &[Stored]) -> Result<(), String> {
    let p = path(history);
    match records.iter().find(|r| r.id == m.head.record) {
        Some(r) if r.hash == m.head.hash => Ok(()),
        Some(_) => Err(format!(
            "record {} has a different hash than its marker {} recorded: the history was rewritten since {}. Check it against an alert, metrics file or pack (restore-drill history verify --against FILE)",
            m.head.record,
            p.display(),
            m.recorded_at
        )),
        None => Err(format!(
            "its marker {} says it held {} on {}, but it ends at record {}: records were cut off, or an older copy was put back. If you put back a copy on purpose, move the marker away",
            p.display(),
            crate::words::plural(m.head.record, "record", "records"),
            m.recorded_at,
            records.last().map_or(0, |r| r.id)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, hash: &str) -> Stored {
        Stored {
            id,
            recorded_at: "2026-12-01T02:00:00Z".into(),
            site: String::new(),
            tool: String::new(),
            report: String::new(),
            report_sha256: String::new(),
            prev_hash: String::new(),
            hash: hash.into(),
        }
    }

    #[test]
    fn a_deleted_history_with_its_marker_is_not_started_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = dir.path().join("history.sqlite");
        assert!(refuse_new_chain(&history).is_ok(), "no marker: a first run");
        write(&history, &stored(3, &"a".repeat(64))).expect("marker");
        let err = refuse_new_chain(&history).expect_err("refused");
        let said = err.to_string();
        assert!(
            said.contains("held 3 records") && said.contains("history.sqlite.head"),
            "{said}"
        );
        assert!(said.contains("move the marker away"), "{said}");
        std::fs::write(&history, b"").expect("a history again");
        assert!(refuse_new_chain(&history).is_ok());
    }

    #[test]
    fn an_edited_marker_is_said_and_still_stops_a_new_chain() {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = dir.path().join("history.sqlite");
        std::fs::write(path(&history), b"{\"head\": 3}").expect("an edited marker");
        let err = refuse_new_chain(&history).expect_err("refused");
        assert_eq!(err.kind(), crate::error::ErrorKind::Environment);
        assert!(
            err.to_string()
                .contains("history.sqlite.head cannot be read"),
            "{err}"
        );
        assert!(err.to_string().contains("move it away"), "{err}");
    }

    /// The marker of a history `h.sqlite` whose head was record 2, hash `b...`.
    fn marker() -> Marker {
        Marker {
            history: "h.sqlite".into(),
            head: HeadRef {
                record: 2,
                hash: "b".repeat(64),
            },
            recorded_at: "2026-12-01T02:00:00Z".into(),
        }
    }

    const H: &str = "/srv/h.sqlite";

    #[test]
    fn a_history_that_kept_the_markers_head_is_appended_to() {
        assert!(refuse_lost_head(Path::new(H), &marker(), Some(&"b".repeat(64))).is_ok());
    }

    #[test]
    fn an_emptied_history_is_not_appended_to() {
        let said = refuse_lost_head(Path::new(H), &marker(), None)
            .expect_err("emptied")
            .to_string();
        assert!(
            said.contains("no longer holds that record")
                && said.contains("h.sqlite.head names record 2"),
            "{said}"
        );
    }

    #[test]
    fn a_history_whose_head_was_rewritten_is_not_appended_to() {
        let said = refuse_lost_head(Path::new(H), &marker(), Some("c"))
            .expect_err("rewritten")
            .to_string();
        assert!(said.contains("another hash (rewritten)"), "{said}");
    }

    #[test]
    fn a_marker_is_held_by_its_chain() {
        let chain = [stored(1, &"a".repeat(64)), stored(2, &"b".repeat(64))];
        assert!(judge(Path::new(H), &marker(), &chain).is_ok());
    }

    #[test]
    fn a_chain_cut_below_the_marker_is_named() {
        let chain = [stored(1, &"a".repeat(64))];
        let said = judge(Path::new(H), &marker(), &chain).expect_err("cut");
        assert!(
            said.contains("held 2 records") && said.contains("ends at record 1"),
            "{said}"
        );
    }

    #[test]
    fn a_chain_rewritten_under_the_marker_is_named() {
        let rewritten = [stored(1, &"a".repeat(64)), stored(2, &"c".repeat(64))];
        assert!(judge(Path::new(H), &marker(), &rewritten)
            .expect_err("rewritten")
            .contains("rewritten"));
    }
}
