//! The byte path of a backup: layers recognised by their magic bytes, stripped
//! one after the other (age -> zstd / gzip -> dump) on the way to a restore, and
//! put on (dump -> zstd -> age) on the way to a backup file.

pub mod decode;
pub mod encode;
pub mod psql_guard;
pub mod sniff;

pub use decode::{open_layers, Opened};

/// Why a backup file could not be opened: the file itself, or its layers.
#[derive(Debug)]
pub enum FileOpenError {
    Io(std::io::Error),
    Layers(decode::OpenError),
}

/// Opens the backup file at `path` and its layers with `keys` (age
/// identities tried file by file): the one place a backup file is opened.
/// `counted` counts the file's bytes as they are read. Blocking: it reads
/// and may decrypt.
pub fn open_file(
    path: &std::path::Path,
    keys: &[crate::keys::IdentitySource],
    counted: Option<Counter>,
) -> Result<Opened, FileOpenError> {
    open_origin(
        &crate::catalog::origin::Origin::File(path.into()),
        keys,
        counted,
    )
}

/// As `open_file`, for a backup wherever it is (a bucket's object is read
/// as a stream from here).
pub fn open_origin(
    origin: &crate::catalog::origin::Origin,
    keys: &[crate::keys::IdentitySource],
    counted: Option<Counter>,
) -> Result<Opened, FileOpenError> {
    let file = origin.open().map_err(FileOpenError::Io)?;
    let input: Box<dyn Read + Send> = match counted {
        Some(c) => Box::new(CountingReader::new(file, c)),
        None => Box::new(file),
    };
    open_layers(Box::new(io::BufReader::with_capacity(1 << 20, input)), keys)
        .map_err(FileOpenError::Layers)
}
/// The layers of a backup opened on its first `head` bytes only: enough to
/// know its format and whether a key fits, without reading (or, for a
/// remote backup, downloading) it all.
pub fn open_head(
    origin: &crate::catalog::origin::Origin,
    keys: &[crate::keys::IdentitySource],
    head: u64,
) -> Result<Opened, FileOpenError> {
    let input = origin.open_head(head).map_err(FileOpenError::Io)?;
    open_layers(Box::new(io::BufReader::new(input)), keys).map_err(FileOpenError::Layers)
}

pub use sniff::{DumpFormat, Layer};

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A shared byte counter, readable from another thread while a stream runs
/// (progress bars read it; the stream stage bumps it).
#[derive(Clone, Default, Debug)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Counts the bytes that pass through a reader.
pub struct CountingReader<R> {
    inner: R,
    counter: Counter,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R, counter: Counter) -> Self {
        Self { inner, counter }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.add(n);
        Ok(n)
    }
}

/// Hashes and counts the bytes written through it: the backup's SHA-256 is taken
/// from the very bytes that reach the file, so no second read is needed.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 and size of a file, read in large blocks.
pub fn sha256_file(path: &std::path::Path) -> io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}
