//! Reads a pg_dump custom-format archive as it streams past and fingerprints
//! each table's data the way the manifest does (`RowSum` over COPY's text
//! lines), so the manifest comparison happens while the backup restores
//! instead of re-reading the restored tables afterwards.
//!
//! Only what the fingerprints need is read: the header, the table of contents
//! (which dump id is which table) and the data blocks. Archives this reader
//! does not know (another format version, compression it does not decode,
//! INSERT-style data) give an error, and the manifest check then fingerprints
//! the restored tables instead: never a weaker comparison, only a slower one.

use crate::engine::{RowSum, TableFingerprint};
use std::collections::HashMap;
use std::io::Read;

/// Archive versions this reader knows: 1.12 (PostgreSQL 11) to 1.16 (17).
const MIN_VERSION: (u8, u8) = (1, 12);
const MAX_VERSION: (u8, u8) = (1, 16);
/// Data block kinds (pg_backup_custom.c).
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;
/// A TOC string longer than this is damage, not a definition.
const MAX_STRING: i64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Why an archive's data could not be fingerprinted from the stream.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a pg_dump custom-format archive")]
    NotCustom,
    #[error("archive version {0}.{1} is not one this reader knows")]
    Version(u8, u8),
    #[error("the archive's data is compressed with {0}, which this reader does not decode")]
    Compression(String),
    #[error("table {0} was dumped as INSERT statements, not COPY")]
    NotCopy(String),
    #[error("the archive is malformed: {0}")]
    Malformed(&'static str),
    #[error("reading the archive: {0}")]
    Io(#[from] std::io::Error),
}

struct Reader<R> {
    inner: R,
    int_size: usize,
    off_size: usize,
}

impl<R: Read> Reader<R> {
    fn byte(&mut self) -> Result<u8, ArchiveError> {
        let mut b = [0u8; 1];
        self.inner.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// pg_dump's integers: a sign byte, then `int_size` bytes, least
    /// significant first.
    fn int(&mut self) -> Result<i64, ArchiveError> {
        let negative = self.byte()? != 0;
        let mut v: i64 = 0;
        for i in 0..self.int_size {
            let b = i64::from(self.byte()?);
            if i < 8 {
                v |= b << (8 * i);
            }
        }
        Ok(if negative { -v } else { v })
    }

    /// A length-prefixed string; a negative length is SQL NULL.
    fn string(&mut self) -> Result<Option<String>, ArchiveError> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        if len > MAX_STRING {
            return Err(ArchiveError::Malformed("a TOC string is implausibly long"));
        }
        let mut buf = vec![0u8; len as usize];
        self.inner.read_exact(&mut buf)?;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// What the table of contents says about one table's data.
struct DataEntry {
    table: String,
    copy: bool,
}

/// Fingerprints every table's data in the archive, in the manifest's
/// `schema.table` naming. Tables whose data is empty appear with 0 rows.
pub fn fingerprint_archive(input: impl Read) -> Result<Vec<TableFingerprint>, ArchiveError> {
    let mut r = Reader {
        inner: input,
        int_size: 4,
        off_size: 8,
    };
    let (version, compression) = header(&mut r)?;
    let entries = toc(&mut r, version)?;
    let mut sums: HashMap<i64, RowSum> = HashMap::new();
    loop {
        let kind = match r.byte() {
            Ok(k) => k,
            Err(ArchiveError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        };
        let id = r.int()?;
        match kind {
            BLK_DATA => {
                let sum = match entries.get(&id) {
                    Some(e) if !e.copy => return Err(ArchiveError::NotCopy(e.table.clone())),
                    Some(_) => Some(sums.entry(id).or_default()),
                    None => None,
                };
                read_data(&mut r, compression, sum)?;
            }
            BLK_BLOBS => skip_blobs(&mut r, compression)?,
            _ => return Err(ArchiveError::Malformed("unknown data block type")),
        }
    }
    let mut out: Vec<TableFingerprint> = entries
        .into_iter()
        .map(|(id, e)| {
            let sum = sums.remove(&id).unwrap_or_default();
            TableFingerprint {
                name: e.table,
                rows: sum.rows,
                fingerprint: sum.hex(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn header<R: Read>(r: &mut Reader<R>) -> Result<((u8, u8), Compression), ArchiveError> {
    let mut magic = [0u8; 5];
    r.inner.read_exact(&mut magic)?;
    if &magic != b"PGDMP" {
        return Err(ArchiveError::NotCustom);
    }
    let version = (r.byte()?, r.byte()?);
    let _revision = r.byte()?;
    if version < MIN_VERSION || version > MAX_VERSION {
        return Err(ArchiveError::Version(version.0, version.1));
    }
    r.int_size = usize::from(r.byte()?);
    r.off_size = usize::from(r.byte()?);
    if !(1..=8).contains(&r.int_size) || !(1..=16).contains(&r.off_size) {
        return Err(ArchiveError::Malformed("integer sizes out of range"));
    }
    if r.byte()? != 1 {
        return Err(ArchiveError::NotCustom);
    }
    let compression = if version >= (1, 15) {
        match r.byte()? {
            0 => Compression::None,
            1 => Compression::Gzip,
            3 => Compression::Zstd,
            2 => return Err(ArchiveError::Compression("lz4".into())),
            _ => return Err(ArchiveError::Malformed("unknown compression")),
        }
    } else if r.int()? == 0 {
        Compression::None
    } else {
        Compression::Gzip
    };
    for _ in 0..7 {
        r.int()?; // creation time: sec, min, hour, day, month, year, dst
    }
    for _ in 0..3 {
        r.string()?; // database name, server version, pg_dump version
    }
    Ok((version, compression))
}

/// The TOC's data entries by dump id. pg_dump names a table's data entry
/// by the table (`tag`) in its schema (`namespace`).
fn toc<R: Read>(
    r: &mut Reader<R>,
    version: (u8, u8),
) -> Result<HashMap<i64, DataEntry>, ArchiveError> {
    let count = r.int()?;
    if !(0..10_000_000).contains(&count) {
        return Err(ArchiveError::Malformed("implausible TOC size"));
    }
    let mut entries = HashMap::new();
    for _ in 0..count {
        let id = r.int()?;
        let _had_dumper = r.int()?;
        let _tableoid = r.string()?;
        let _oid = r.string()?;
        let tag = r.string()?.unwrap_or_default();
        let desc = r.string()?.unwrap_or_default();
        let _section = r.int()?;
        let _defn = r.string()?;
        let _drop = r.string()?;
        let copy = r.string()?.unwrap_or_default();
        let namespace = r.string()?.unwrap_or_default();
        let _tablespace = r.string()?;
        if version >= (1, 14) {
            let _tableam = r.string()?;
        }
        if version >= (1, 16) {
            let _relkind = r.int()?;
        }
        let _owner = r.string()?;
        let _with_oids = r.string()?;
        while r.string()?.is_some() {} // dependencies, NULL-terminated
                                       // The custom format's extra: where the data lies (a flag byte and an offset).
        let _flag = r.byte()?;
        for _ in 0..r.off_size {
            r.byte()?;
        }
        if desc == "TABLE DATA" {
            entries.insert(
                id,
                DataEntry {
                    table: format!("{namespace}.{tag}"),
                    copy: copy.starts_with("COPY "),
                },
            );
        }
    }
    Ok(entries)
}

/// pg_dump's data framing: chunks of (length, bytes) ending with a zero
/// length; compressed archives compress the concatenation of the chunks.
struct Chunks<'a, R> {
    r: &'a mut Reader<R>,
    left: u64,
    done: bool,
}

impl<R: Read> Read for Chunks<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.left == 0 {
            if self.done {
                return Ok(0);
            }
            let n = self.r.int().map_err(std::io::Error::other)?;
            if n < 0 {
                return Err(std::io::Error::other("negative chunk length"));
            }
            if n == 0 {
                self.done = true;
            }
            self.left = n as u64;
        }
        let want = buf.len().min(self.left as usize);
        let n = self.r.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl<R: Read> Chunks<'_, R> {
    /// Reads to the end marker, so the next block starts where it should
    /// even if a decoder stopped early.
    fn finish(&mut self) -> std::io::Result<()> {
        std::io::copy(self, &mut std::io::sink()).map(|_| ())
    }
}

fn read_data<R: Read>(
    r: &mut Reader<R>,
    compression: Compression,
    sum: Option<&mut RowSum>,
) -> Result<(), ArchiveError> {
    let mut chunks = Chunks {
        r,
        left: 0,
        done: false,
    };
    if let Some(sum) = sum {
        match compression {
            Compression::None => add_lines(&mut chunks, sum)?,
            Compression::Gzip => add_lines(flate2::read::ZlibDecoder::new(&mut chunks), sum)?,
            Compression::Zstd => add_lines(zstd::stream::read::Decoder::new(&mut chunks)?, sum)?,
        }
    }
    chunks.finish()?;
    Ok(())
}

fn skip_blobs<R: Read>(r: &mut Reader<R>, compression: Compression) -> Result<(), ArchiveError> {
    // Large objects: (oid, data) pairs until oid 0; their data is not table rows.
    while r.int()? != 0 {
        read_data(r, compression, None)?;
    }
    Ok(())
}

/// Feeds each line (without its newline) to the sum: COPY text has one row
/// per line, with newlines inside values escaped. pg_dump ends each table's
/// data with COPY's end marker `\.` and blank lines, which are not rows (a
/// row that is a lone `\.` is written `\\.`).
fn add_lines(mut input: impl Read, sum: &mut RowSum) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 << 10];
    let mut rows = Lines {
        sum,
        carry: Vec::new(),
        ended: false,
    };
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        rows.push(&buf[..n]);
    }
    let last = std::mem::take(&mut rows.carry);
    if !last.is_empty() {
        rows.line(&last);
    }
    Ok(())
}

struct Lines<'a> {
    sum: &'a mut RowSum,
    carry: Vec<u8>,
    ended: bool,
}

impl Lines<'_> {
    fn push(&mut self, mut data: &[u8]) {
        while let Some(p) = data.iter().position(|&b| b == b'\n') {
            if self.carry.is_empty() {
                self.line(&data[..p]);
            } else {
                let mut whole = std::mem::take(&mut self.carry);
                whole.extend_from_slice(&data[..p]);
                self.line(&whole);
            }
            data = &data[p + 1..];
        }
        self.carry.extend_from_slice(data);
    }

    fn line(&mut self, line: &[u8]) {
        if line == b"\\." {
            self.ended = true;
        } else if !self.ended {
            self.sum.add(line);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_hash_like_whole_lines_up_to_the_end_marker() {
        let text = b"1\tAnn\n2\tBo\\nb\n3\t\\N\n\\.\n\n\n";
        let mut whole = RowSum::default();
        add_lines(&text[..], &mut whole).unwrap();
        let mut by_hand = RowSum::default();
        for l in [&b"1\tAnn"[..], b"2\tBo\\nb", b"3\t\\N"] {
            by_hand.add(l);
        }
        assert_eq!((whole.rows, whole.hex()), (3, by_hand.hex()));
    }

    #[test]
    fn not_an_archive_is_refused() {
        let got = fingerprint_archive(&b"--\n-- PostgreSQL database dump\n"[..]);
        assert!(matches!(got, Err(ArchiveError::NotCustom)), "{got:?}");
    }
}
