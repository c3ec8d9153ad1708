//! Where a backup's bytes come from when it is read: a file, an object in a
//! bucket or a file in a restic snapshot. A remote backup is read as a
//! stream, never copied to the host's disk; what the stream saw (bytes over
//! the network, the SHA-256 of the whole, or where it broke) is kept in
//! `Seen`, which the drill judges once the restore has read it all.

use super::place::PlaceKind;
use super::s3::{self, Bucket};
use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub enum Origin {
    File(PathBuf),
    Object {
        bucket: Arc<Bucket>,
        key: String,
        bytes: u64,
        seen: Arc<Seen>,
    },
    Restic {
        repo: Arc<super::restic::Repo>,
        snapshot: String,
        path: String,
        bytes: u64,
        seen: Arc<Seen>,
    },
}

/// What reads of a remote backup saw.
#[derive(Debug, Default)]
pub struct Seen {
    inner: Mutex<SeenInner>,
}

#[derive(Debug, Default, Clone)]
struct SeenInner {
    network_bytes: u64,
    end: Option<End>,
}

/// How the last whole read ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Complete { sha256: String, bytes: u64 },
    Broke(Broke),
}

/// A download that stopped before its end, in our words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the download of {what} broke after {after} of {of} bytes ({why}){}", retried_text(*.retries))]
pub struct Broke {
    pub what: String,
    pub after: u64,
    pub of: u64,
    pub why: io::ErrorKind,
    pub retries: u32,
}

fn retried_text(retries: u32) -> String {
    match retries {
        0 => String::new(),
        n => format!(", {n} times resumed"),
    }
}

impl Seen {
    pub fn network_bytes(&self) -> u64 {
        self.lock().network_bytes
    }
    pub fn end(&self) -> Option<End> {
        self.lock().end.clone()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, SeenInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn add(&self, n: usize) {
        self.lock().network_bytes += n as u64;
    }
    fn ended(&self, end: End) {
        self.lock().end = Some(end);
    }
}

impl Origin {
    pub fn kind(&self) -> PlaceKind {
        match self {
            Origin::File(_) => PlaceKind::Folder,
            Origin::Object { .. } => PlaceKind::S3,
            Origin::Restic { .. } => PlaceKind::Restic,
        }
    }

    pub fn seen(&self) -> Option<&Arc<Seen>> {
        match self {
            Origin::File(_) => None,
            Origin::Object { seen, .. } | Origin::Restic { seen, .. } => Some(seen),
        }
    }

    /// A reader of the whole backup. Blocking (call it on a blocking
    /// thread): a remote read drives the runtime's network from here.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.open_head(u64::MAX)
    }

    /// A reader of the backup's first `head` bytes (all of it when it is
    /// shorter): a bucket is asked for those bytes only.
    pub fn open_head(&self, head: u64) -> io::Result<Box<dyn Read + Send>> {
        match self {
            Origin::File(p) => Ok(Box::new(std::fs::File::open(p)?.take(head))),
            Origin::Object {
                bucket,
                key,
                bytes,
                seen,
            } => {
                let part = (*bytes > head).then_some(head);
                let inner =
                    ObjectReader::new(bucket.clone(), key.clone(), (*bytes, part), seen.clone())?;
                Ok(Box::new(Watched::new(inner, seen.clone(), part.is_none())))
            }
            Origin::Restic {
                repo,
                snapshot,
                path,
                bytes,
                seen,
            } => {
                let inner = repo.dump(snapshot, path, *bytes)?.take(head);
                let counted = Counted {
                    inner,
                    seen: seen.clone(),
                };
                Ok(Box::new(Watched::new(
                    counted,
                    seen.clone(),
                    head == u64::MAX,
                )))
            }
        }
    }
}

/// Hashes a whole read and records how it ended (a head's read records
/// only where it broke: its end is not the backup's).
struct Watched<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    seen: Arc<Seen>,
    whole: bool,
}

impl<R> Watched<R> {
    fn new(inner: R, seen: Arc<Seen>, whole: bool) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            seen,
            whole,
        }
    }
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() && self.whole => {
                let sha256 = hex::encode(self.hasher.clone().finalize());
                let bytes = self.bytes;
                self.seen.ended(End::Complete { sha256, bytes });
                Ok(0)
            }
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                if let Some(b) = e.get_ref().and_then(|i| i.downcast_ref::<Broke>()) {
                    self.seen.ended(End::Broke(b.clone()));
                }
                Err(e)
            }
        }
    }
}

/// Counts what a restic dump brings over.
struct Counted<R> {
    inner: R,
    seen: Arc<Seen>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.add(n);
        Ok(n)
    }
}

/// How many times a broken download is resumed from where it broke.
const RESUMES: u32 = 3;

/// An object read from start to end; a connection that drops or stalls is
/// resumed with a ranged request (on the same ETag, so two versions are
/// never spliced), at most `RESUMES` times.
struct ObjectReader {
    bucket: Arc<Bucket>,
    key: String,
    /// Where the read ends: the object's length, or the head asked for.
    len: u64,
    /// Set when only a head is read: the last byte asked of the server.
    until: Option<u64>,
    pos: u64,
    etag: Option<String>,
    body: Option<std::pin::Pin<Box<dyn tokio::io::AsyncBufRead + Send>>>,
    rt: tokio::runtime::Handle,
    resumed: u32,
    seen: Arc<Seen>,
}

impl ObjectReader {
    fn new(
        bucket: Arc<Bucket>,
        key: String,
        (bytes, head): (u64, Option<u64>),
        seen: Arc<Seen>,
    ) -> io::Result<Self> {
        let rt = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let etag = rt
            .block_on(bucket.etag(&key))
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self {
            bucket,
            key,
            len: head.unwrap_or(bytes),
            until: head.map(|h| h.saturating_sub(1)),
            pos: 0,
            etag,
            body: None,
            rt,
            resumed: 0,
            seen,
        })
    }

    fn broke(&self, why: io::ErrorKind) -> io::Error {
        io::Error::new(
            why,
            Broke {
                what: self.bucket.object_url(&self.key),
                after: self.pos,
                of: self.len,
                why,
                retries: self.resumed,
            },
        )
    }

    /// One read of the current body, bounded by `s3::STALL`.
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        if self.body.is_none() {
            let range = (self.pos, self.until);
            let fut = self
                .bucket
                .body_from(&self.key, range, self.etag.as_deref());
            let stream = self
                .rt
                .block_on(fut)
                .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            self.body = Some(Box::pin(stream.into_async_read()));
        }
        let body = self.body.as_mut().expect("a body was just set");
        let read = self
            .rt
            .block_on(async { tokio::time::timeout(s3::STALL, body.read(buf)).await });
        match read {
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
            Ok(Ok(0)) if self.pos < self.len => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(r) => r,
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.read_body(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    self.seen.add(n);
                    return Ok(n);
                }
                Err(e) if self.resumed < RESUMES => {
                    let _ = e;
                    self.resumed += 1;
                    self.body = None;
                }
                Err(e) => return Err(self.broke(e.kind())),
            }
        }
    }
}
