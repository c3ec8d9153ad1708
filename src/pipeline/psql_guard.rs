//! A plain SQL dump runs in psql's restricted mode: the drill starts psql with
//! `\restrict KEY` (a key of its own, never in the dump), after which psql
//! refuses every meta-command (`\!`, `\o`, `\copy ... to`, `\setenv`,
//! `\gexec` ...) and stops at its line. pg_dump 15.14+ and 17.6+ write a
//! `\restrict KEY` line of their own in the header and `\unrestrict KEY` at the
//! end; psql would refuse those too, so exactly those two lines (the first
//! `\restrict` in the header and the `\unrestrict` with the same key) are
//! blanked on the way, keeping the line count so psql's line numbers stay the
//! dump's. Nothing else in the stream is touched.

use bytes::Bytes;

/// How far into the dump pg_dump's own `\restrict` line may be: it follows
/// the header comments.
const HEADER: u64 = 64 << 10;

/// The longest line this stage holds back across a chunk boundary: a
/// `\unrestrict` line is about 80 bytes.
const LONGEST_KEY_LINE: usize = 256;

#[derive(Debug, Default)]
pub struct PsqlGuard {
    /// pg_dump's key, once its `\restrict` line was seen.
    key: Option<Vec<u8>>,
    /// Bytes already passed on.
    seen: u64,
    /// The start of a line that began with `\` at the end of the last chunk.
    carry: Vec<u8>,
    /// The next byte starts a line.
    at_line_start: bool,
}

impl PsqlGuard {
    pub fn new() -> Self {
        PsqlGuard {
            at_line_start: true,
            ..Default::default()
        }
    }

    /// The chunk as psql should get it.
    pub fn pass(&mut self, chunk: Vec<u8>) -> Bytes {
        let mut data = std::mem::take(&mut self.carry);
        let carried = data.len();
        if data.is_empty() {
            data = chunk;
        } else {
            data.extend_from_slice(&chunk);
        }
        let mut from = if carried > 0 || self.at_line_start {
            0
        } else {
            match memchr::memchr(b'\n', &data) {
                Some(p) => p + 1,
                None => data.len(),
            }
        };
        let mut cut = data.len();
        while from < data.len() {
            let end = memchr::memchr(b'\n', &data[from..]).map(|p| from + p);
            if data[from] == b'\\' {
                match end {
                    Some(end) => self.blank_own_line(&mut data[from..end], from),
                    None if data.len() - from <= LONGEST_KEY_LINE => {
                        cut = from;
                        break;
                    }
                    None => {}
                }
            }
            match end {
                Some(end) => from = end + 1,
                None => break,
            }
        }
        self.carry = data.split_off(cut);
        self.at_line_start = data.last().is_none_or(|b| *b == b'\n') && self.carry.is_empty();
        self.seen += data.len() as u64;
        Bytes::from(data)
    }

    /// What is held back at the end of the stream.
    /// A dump's last line may lack its newline: it is judged as a whole line.
    pub fn finish(&mut self) -> Option<Bytes> {
        let mut last = std::mem::take(&mut self.carry);
        if last.is_empty() {
            return None;
        }
        self.blank_own_line(&mut last, 0);
        Some(Bytes::from(last))
    }

    fn blank_own_line(&mut self, line: &mut [u8], offset: usize) {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        let own = match &self.key {
            None if self.seen + (offset as u64) < HEADER => {
                key_of(text, b"\\restrict ").inspect(|k| self.key = Some(k.to_vec()))
            }
            Some(key) => key_of(text, b"\\unrestrict ").filter(|k| k == key),
            None => None,
        };
        if own.is_some() {
            line.fill(b' ');
        }
    }
}

/// The key of a `\restrict KEY` line as pg_dump writes it (letters and digits).
fn key_of<'a>(line: &'a [u8], command: &[u8]) -> Option<&'a [u8]> {
    let key = line.strip_prefix(command)?;
    (!key.is_empty() && key.iter().all(u8::is_ascii_alphanumeric)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> String {
        let mut g = PsqlGuard::new();
        let mut out: Vec<u8> = Vec::new();
        for c in chunks {
            out.extend_from_slice(&g.pass(c.as_bytes().to_vec()));
        }
        if let Some(rest) = g.finish() {
            out.extend_from_slice(&rest);
        }
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn pg_dumps_own_key_lines_are_blanked_keeping_the_line_count() {
        let dump = "-- dump\n\\restrict Ab12\nSELECT 1;\n\\unrestrict Ab12\n";
        let out = run(&[dump]);
        assert_eq!(out.lines().count(), dump.lines().count());
        assert!(!out.contains("restrict"), "{out}");
        assert!(out.contains("SELECT 1;"));
    }

    #[test]
    fn every_other_meta_command_reaches_psql_unchanged() {
        let dump =
            "\\restrict K1\n\\! id > /tmp/x\n\\unrestrict OTHER\n\\copy (select 1) to '/tmp/y'\n";
        let out = run(&[dump]);
        assert!(out.contains("\\! id > /tmp/x"), "{out}");
        assert!(out.contains("\\unrestrict OTHER"), "{out}");
        assert!(out.contains("\\copy"), "{out}");
    }

    #[test]
    fn a_key_line_split_across_chunks_is_still_found() {
        let out = run(&["\\restrict K9\nSELECT 1;\n\\unres", "trict K9\n"]);
        assert!(!out.contains("restrict"), "{out}");
        let out = run(&["\\restr", "ict K9\nx\n\\unrestrict K9"]);
        assert!(!out.contains("restrict"), "{out}");
    }

    #[test]
    fn a_restrict_line_after_the_header_is_not_pg_dumps() {
        let late = format!("{}\n\\restrict K\n", "-".repeat(HEADER as usize));
        let out = run(&[&late]);
        assert!(out.contains("\\restrict K"));
    }
}
