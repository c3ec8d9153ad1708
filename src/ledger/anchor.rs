//! Anchors: the chain's head as it left this machine, read back from what
//! carried it (an evidence pack's JSON, an alert's webhook JSON or email
//! text, a metrics file, a JUnit file). Whoever can write the history can
//! drop its triggers and recompute every hash, and the chain alone then says
//! "intact"; a head that was already out of reach when it was written cannot
//! be recomputed, so a history that no longer holds it was rewritten or cut.
//! Pure functions: parse a text, judge a chain against it.

use super::chain::{HeadRef, Stored};

/// The metric that carries the head in a metrics file: its value is the
/// record, its `hash` label the record's chain hash.
pub const METRIC: &str = "restore_drill_history_head_record";
/// The JUnit properties that carry the head.
pub const JUNIT_RECORD: &str = "history_head_record";
pub const JUNIT_HASH: &str = "history_head_hash";
/// Hex digits of the hash an alert's chat line shows: enough that no
/// rewritten history can be made to match it by trying.
pub const SHORT_HASH: usize = 16;

/// What an anchor was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pack,
    AlertJson,
    AlertText,
    Metrics,
    Junit,
}

impl Kind {
    pub fn what(self) -> &'static str {
        match self {
            Kind::Pack => "evidence pack",
            Kind::AlertJson => "alert (webhook JSON)",
            Kind::AlertText => "alert text",
            Kind::Metrics => "metrics file",
            Kind::Junit => "JUnit file",
        }
    }
}

/// A head read from a file. `head` is None for a pack made from an empty
/// history; `hash` may be a prefix (an alert's chat line shows 16 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub kind: Kind,
    pub head: Option<HeadRef>,
    /// When the carrier was made, as it says (a pack's `generated_at`).
    pub made: Option<String>,
}

impl Anchor {
    /// `the evidence pack made on 2026-12-01`, `the metrics file`.
    pub fn named(&self) -> String {
        match &self.made {
            Some(d) => format!("the {} made on {d}", self.kind.what()),
            None => format!("the {}", self.kind.what()),
        }
    }
}

/// The line an alert's text carries: `history record 3, head 6b72...`.
pub fn text_line(head: &HeadRef, digits: usize) -> String {
    let hash = &head.hash[..head.hash.len().min(digits)];
    format!("record {}, head {hash}", head.record)
}

/// Reads the head a file carries, whichever of the carriers it is; Err says
/// why the text is none of them.
pub fn parse(text: &str) -> Result<Anchor, String> {
    if text.trim_start().starts_with('{') {
        return parse_json(text);
    }
    if text.contains(&format!("{METRIC}{{")) {
        return from_metrics(text).map(|head| anchor(Kind::Metrics, head));
    }
    if text.contains(&format!("name=\"{JUNIT_HASH}\"")) {
        return from_junit(text).map(|head| anchor(Kind::Junit, head));
    }
    // A mail client may have saved the body quoted-printable: soft breaks out.
    let unfolded = text.replace("=\r\n", "").replace("=\n", "");
    match unfolded.lines().find_map(from_text_line) {
        Some(head) => Ok(anchor(Kind::AlertText, head)),
        None => Err(NOT_AN_ANCHOR.into()),
    }
}

const NOT_AN_ANCHOR: &str = "it carries no drill history head: name an evidence pack's JSON, an alert (the webhook's JSON or the email's text), a metrics file or a JUnit file that a drill of this version wrote";

fn anchor(kind: Kind, head: HeadRef) -> Anchor {
    Anchor {
        kind,
        head: Some(head),
        made: None,
    }
}

fn parse_json(text: &str) -> Result<Anchor, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("it is not valid JSON ({e})"))?;
    if v.get("pack_version").is_some() {
        let ledger = &v["ledger"];
        let hash = ledger["head_hash"]
            .as_str()
            .ok_or("the pack names no head_hash")?;
        let head = ledger["head_id"].as_i64().map(|record| HeadRef {
            record,
            hash: hash.to_string(),
        });
        let made = v["generated_at"]
            .as_str()
            .map(|t| t.chars().take(10).collect());
        return Ok(Anchor {
            kind: Kind::Pack,
            head,
            made,
        });
    }
    let h = &v["history_head"];
    match (
        h["record"].as_i64(),
        h["hash"].as_str().filter(|s| is_hash(s)),
    ) {
        (Some(record), Some(hash)) => Ok(anchor(
            Kind::AlertJson,
            HeadRef {
                record,
                hash: hash.to_string(),
            },
        )),
        _ => Err(NOT_AN_ANCHOR.into()),
    }
}

/// `restore_drill_history_head_record{site="..",scenario="..",hash="H"} N`.
fn from_metrics(text: &str) -> Result<HeadRef, String> {
    let bad = || {
        format!("its {METRIC} line cannot be read: it was edited, or not written by restore-drill")
    };
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{METRIC}{{")))
        .ok_or_else(bad)?;
    let (labels, value) = line.rsplit_once("} ").ok_or_else(bad)?;
    let hash = labels
        .rsplit_once(",hash=\"")
        .map(|(_, h)| h.trim_end_matches('"'))
        .filter(|h| is_hash(h))
        .ok_or_else(bad)?;
    let record = value.trim().parse::<f64>().map_err(|_| bad())?;
    Ok(HeadRef {
        record: record as i64,
        hash: hash.to_string(),
    })
}

/// `<property name="history_head_record" value="N"/>` and its hash.
fn from_junit(text: &str) -> Result<HeadRef, String> {
    let value = |name: &str| {
        let start = format!("name=\"{name}\" value=\"");
        let at = text.find(&start)? + start.len();
        text[at..].split('"').next().map(str::to_string)
    };
    let bad = || {
        "its history head properties cannot be read: it was edited, or not written by restore-drill"
            .to_string()
    };
    let record = value(JUNIT_RECORD)
        .and_then(|r| r.parse().ok())
        .ok_or_else(bad)?;
    let hash = value(JUNIT_HASH).filter(|h| is_hash(h)).ok_or_else(bad)?;
    Ok(HeadRef { record, hash })
}

/// `... record 3, head 6b72ef09...` anywhere in a line.
fn from_text_line(line: &str) -> Option<HeadRef> {
    let at = line.find("record ")?;
    let rest = &line[at + "record ".len()..];
    let (record, rest) = rest.split_once(", head ")?;
    let hash: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    Some(HeadRef {
        record: record.trim().parse().ok()?,
        hash: Some(hash).filter(|h| is_hash(h))?,
    })
}

/// Lower-case hex, from the short form an alert shows to a full SHA-256.
fn is_hash(s: &str) -> bool {
    (SHORT_HASH..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// Whether an intact chain still holds the anchor's head with the same hash:
/// Ok says so, Err says how it does not (rewritten, or cut off).
pub fn judge(records: &[Stored], a: &Anchor) -> Result<String, String> {
    let named = a.named();
    let Some(head) = &a.head else {
        return Ok(format!(
            "{named} was made from an empty history: nothing to compare"
        ));
    };
    let id = head.record;
    match records.iter().find(|r| r.id == id) {
        Some(r) if r.hash.starts_with(&head.hash) => Ok(format!(
            "{named} names record {id} as the head, and the history holds it with the same hash: nothing it recorded was cut off or rewritten since"
        )),
        Some(r) => Err(format!(
            "record {id} has a different hash ({}) than {named} recorded ({}): the history was rewritten since",
            &r.hash[..SHORT_HASH],
            &head.hash[..head.hash.len().min(SHORT_HASH)]
        )),
        None => Err(format!(
            "{named} names record {id} as the head, but the history ends at record {}: the newest records were cut off",
            records.last().map_or(0, |r| r.id)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "6b72ef09aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff";

    fn stored(id: i64, hash: &str) -> Stored {
        Stored {
            id,
            recorded_at: String::new(),
            site: String::new(),
            tool: String::new(),
            report: String::new(),
            report_sha256: String::new(),
            prev_hash: String::new(),
            hash: hash.into(),
        }
    }

    fn head(record: i64, hash: &str) -> Option<HeadRef> {
        Some(HeadRef {
            record,
            hash: hash.into(),
        })
    }

    #[test]
    fn each_carrier_gives_its_head() {
        let metrics =
            format!("# HELP x\n{METRIC}{{site=\"a,hash=\\\"b\",scenario=\"m\",hash=\"{H}\"}} 3\n");
        assert_eq!(
            parse(&metrics).map(|a| (a.kind, a.head)),
            Ok((Kind::Metrics, head(3, H)))
        );
        let junit = format!("<property name=\"{JUNIT_RECORD}\" value=\"3\"/>\n<property name=\"{JUNIT_HASH}\" value=\"{H}\"/>");
        assert_eq!(parse(&junit).map(|a| a.head), Ok(head(3, H)));
        let json =
            format!("{{\"text\": \"x\", \"history_head\": {{\"record\": 3, \"hash\": \"{H}\"}}}}");
        assert_eq!(
            parse(&json).map(|a| (a.kind, a.head)),
            Ok((Kind::AlertJson, head(3, H)))
        );
        let mail = format!(
            "subject\n\nhistory    record 3, head {}=\n{}\n",
            &H[..40],
            &H[40..]
        );
        assert_eq!(parse(&mail).map(|a| a.head), Ok(head(3, H)));
        let chat = format!(
            "restore-drill: FAILED x\nRTO 1 s; history record 3, head {}",
            &H[..16]
        );
        assert_eq!(parse(&chat).map(|a| a.head), Ok(head(3, &H[..16])));
        let pack = format!("{{\"pack_version\": 1, \"generated_at\": \"2026-12-01T02:00:00Z\", \"ledger\": {{\"records\": 3, \"head_id\": 3, \"head_hash\": \"{H}\"}}}}");
        let a = parse(&pack).expect("a pack");
        assert_eq!(
            (a.kind, a.head.clone(), a.named()),
            (
                Kind::Pack,
                head(3, H),
                "the evidence pack made on 2026-12-01".into()
            )
        );
    }

    #[test]
    fn a_text_file_without_a_head_is_refused() {
        assert!(parse("hello\n").is_err());
    }

    #[test]
    fn a_report_without_a_head_is_refused() {
        assert!(parse("{\"verdict\": \"failed\"}").is_err());
    }

    #[test]
    fn a_head_with_a_short_hash_is_refused() {
        assert!(parse("history record 3, head 6b72ef09").is_err());
    }

    #[test]
    fn an_edited_metrics_hash_is_refused_as_edited() {
        let edited = format!("{METRIC}{{site=\"a\",hash=\"XYZ\"}} 3\n");
        assert!(parse(&edited).expect_err("refused").contains("edited"));
    }

    #[test]
    fn an_anchor_naming_a_record_of_the_chain_holds() {
        let chain = [stored(1, &H.replace('6', "7")), stored(2, H)];
        let a = Anchor {
            kind: Kind::Metrics,
            head: head(2, &H[..16]),
            made: None,
        };
        assert!(judge(&chain, &a).is_ok());
    }

    #[test]
    fn a_rewritten_record_is_named_rewritten() {
        let chain = [stored(1, &H.replace('6', "7")), stored(2, H)];
        let a = Anchor {
            kind: Kind::Metrics,
            head: head(1, H),
            made: None,
        };
        let said = judge(&chain, &a).expect_err("rewritten");
        assert!(
            said.contains("record 1 has a different hash") && said.contains("rewritten"),
            "{said}"
        );
    }

    #[test]
    fn a_cut_history_is_named_cut() {
        let chain = [stored(1, &H.replace('6', "7")), stored(2, H)];
        let a = Anchor {
            kind: Kind::Junit,
            head: head(3, H),
            made: None,
        };
        let said = judge(&chain, &a).expect_err("cut");
        assert!(
            said.contains(
                "the JUnit file names record 3 as the head, but the history ends at record 2"
            ),
            "{said}"
        );
    }
}
