//! `restore-drill inspect`: what a backup file is, layer by layer, and with a
//! key what its dump holds, by streaming through it; no database is touched and
//! no plaintext is written anywhere.

use crate::error::{Error, Result};
use crate::keys::IdentitySource;
use crate::pipeline::{self, decode::OpenError, Counter, CountingReader, DumpFormat, Layer};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub file: String,
    pub bytes: u64,
    pub layers: Vec<Layer>,
    /// Present when the file could be read down to its dump.
    pub dump: Option<DumpSummary>,
    /// Why the dump was not read (no key given, damaged ...).
    pub stopped: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DumpSummary {
    pub format: DumpFormat,
    pub dump_bytes: u64,
    pub sha256: String,
    /// For a pg_dump custom archive: its header and table of contents.
    pub archive: Option<ArchiveToc>,
    /// For SQL dumps: tables created and loaded.
    pub sql_tables: Option<SqlTables>,
}

#[derive(Debug, Serialize)]
pub struct ArchiveToc {
    pub archive_version: String,
    pub database: String,
    pub server_version: String,
    pub pg_dump_version: String,
    /// (kind, schema, name) of each entry, e.g. ("TABLE DATA", "public", "patients").
    pub entries: Vec<TocEntry>,
}

#[derive(Debug, Serialize)]
pub struct TocEntry {
    pub kind: String,
    pub schema: String,
    pub name: String,
}

#[derive(Debug, Serialize, Default)]
pub struct SqlTables {
    pub created: Vec<String>,
    pub loaded: Vec<String>,
}

/// Sniffs only the outer layer without a key; with keys, reads to the end.
pub fn inspect(path: &Path, keys: &[IdentitySource]) -> Result<Inspection> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let file_bytes = Counter::default();
    let input = Box::new(CountingReader::new(
        BufReader::with_capacity(1 << 20, file),
        file_bytes.clone(),
    ));
    let mut inspection = Inspection {
        file: path.display().to_string(),
        bytes: size,
        layers: Vec::new(),
        dump: None,
        stopped: None,
    };
    let opened = match pipeline::open_layers(input, keys) {
        Ok(o) => o,
        Err(OpenError::NoIdentity) => {
            inspection.layers.push(Layer::Age);
            inspection.stopped = Some("encrypted: pass --identity KEYFILE to look inside".into());
            return Ok(inspection);
        }
        Err(e) => {
            return Err(Error::Unrecoverable(format!(
                "{} cannot be read: {e}",
                path.display()
            )))
        }
    };
    inspection.layers = opened.layers.clone();
    let format = opened.format;
    let mut reader = HashingReader {
        inner: opened.reader,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let stream_err = |e: io::Error| {
        Error::Unrecoverable(format!(
            "{} is damaged: {e} (after {} bytes of the file)",
            path.display(),
            file_bytes.get()
        ))
    };
    let (archive, sql_tables) = match format {
        DumpFormat::PostgresCustom => {
            let mut buffered = BufReader::with_capacity(1 << 16, &mut reader);
            let toc = read_toc(&mut buffered).ok();
            io::copy(&mut buffered, &mut io::sink()).map_err(stream_err)?;
            (toc, None)
        }
        DumpFormat::PostgresSql | DumpFormat::MysqlSql => {
            let mut buffered = BufReader::with_capacity(1 << 16, &mut reader);
            (None, Some(scan_sql(&mut buffered).map_err(stream_err)?))
        }
        DumpFormat::Unknown => (None, None),
    };
    inspection.dump = Some(DumpSummary {
        format,
        dump_bytes: reader.bytes,
        sha256: hex::encode(reader.hasher.finalize()),
        archive,
        sql_tables,
    });
    Ok(inspection)
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Table names from SQL dump statements; COPY data blocks are skipped, never
/// looked into (they are patient rows).
fn scan_sql<R: BufRead>(r: &mut R) -> io::Result<SqlTables> {
    let mut t = SqlTables::default();
    let mut in_copy = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if in_copy {
            if line.starts_with(b"\\.") {
                in_copy = false;
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(rest) = text.strip_prefix("CREATE TABLE ") {
            t.created
                .push(first_word(rest.trim_start_matches("IF NOT EXISTS ")));
        } else if let Some(rest) = text.strip_prefix("COPY ") {
            t.loaded.push(first_word(rest));
            in_copy = text.trim_end().ends_with("FROM stdin;");
        } else if let Some(rest) = text.strip_prefix("INSERT INTO ") {
            let name = first_word(rest);
            if t.loaded.last() != Some(&name) {
                t.loaded.push(name);
            }
        }
    }
    t.loaded.dedup();
    Ok(t)
}

fn first_word(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .trim_matches('`')
        .to_string()
}

/// Reads a pg_dump custom-format header and table of contents (see pg_dump's
/// pg_backup_archiver.c, ReadHead and ReadToc), archive versions 1.12 to 1.16.
fn read_toc<R: Read>(r: &mut R) -> io::Result<ArchiveToc> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut magic = [0u8; 5];
    r.read_exact(&mut magic)?;
    if &magic != b"PGDMP" {
        return Err(bad("not a custom archive"));
    }
    let mut v = [0u8; 3];
    r.read_exact(&mut v)?;
    let version = (u32::from(v[0]) << 16) | (u32::from(v[1]) << 8) | u32::from(v[2]);
    let ver = |maj: u32, min: u32| (maj << 16) | (min << 8);
    if version < ver(1, 12) || version > ver(1, 16) | 0xff {
        return Err(bad("unsupported archive version"));
    }
    let mut sizes = [0u8; 3];
    r.read_exact(&mut sizes)?;
    let (int_size, off_size, _format) = (sizes[0] as usize, sizes[1] as usize, sizes[2]);
    if !(1..=8).contains(&int_size) || !(1..=8).contains(&off_size) {
        return Err(bad("bad integer sizes"));
    }
    let mut rd = Toc { r, int_size };
    if version >= ver(1, 15) {
        let mut alg = [0u8; 1];
        rd.r.read_exact(&mut alg)?;
    } else {
        rd.int()?;
    }
    for _ in 0..7 {
        rd.int()?; // creation time fields
    }
    let database = rd.string()?.unwrap_or_default();
    let server_version = rd.string()?.unwrap_or_default();
    let pg_dump_version = rd.string()?.unwrap_or_default();
    let count = rd.int()?;
    if !(0..=10_000_000).contains(&count) {
        return Err(bad("implausible TOC size"));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        rd.int()?; // dump id
        rd.int()?; // had dumper
        rd.string()?; // table oid
        rd.string()?; // oid
        let tag = rd.string()?.unwrap_or_default();
        let desc = rd.string()?.unwrap_or_default();
        rd.int()?; // section
        rd.string()?; // definition (skipped: may quote defaults, never rows)
        rd.string()?; // drop statement
        rd.string()?; // copy statement
        let schema = rd.string()?.unwrap_or_default();
        rd.string()?; // tablespace
        if version >= ver(1, 14) {
            rd.string()?; // table access method
        }
        if version >= ver(1, 16) {
            rd.int()?; // relkind
        }
        rd.string()?; // owner
        rd.string()?; // "with oids" (always false today)
        while rd.string()?.is_some() {} // dependencies
                                        // custom format: data state byte + offset
        let mut skip = vec![0u8; 1 + off_size];
        rd.r.read_exact(&mut skip)?;
        entries.push(TocEntry {
            kind: desc,
            schema,
            name: tag,
        });
    }
    Ok(ArchiveToc {
        archive_version: format!("{}.{}.{}", v[0], v[1], v[2]),
        database,
        server_version,
        pg_dump_version,
        entries,
    })
}

struct Toc<'a, R> {
    r: &'a mut R,
    int_size: usize,
}

impl<R: Read> Toc<'_, R> {
    /// A sign byte, then int_size bytes little-endian.
    fn int(&mut self) -> io::Result<i64> {
        let mut sign = [0u8; 1];
        self.r.read_exact(&mut sign)?;
        let mut value: i64 = 0;
        for i in 0..self.int_size {
            let mut b = [0u8; 1];
            self.r.read_exact(&mut b)?;
            if i < 8 {
                value |= i64::from(b[0]) << (8 * i);
            }
        }
        Ok(if sign[0] != 0 { -value } else { value })
    }

    fn string(&mut self) -> io::Result<Option<String>> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        if len > 256 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "implausible string length",
            ));
        }
        let mut buf = vec![0u8; len as usize];
        self.r.read_exact(&mut buf)?;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
}
