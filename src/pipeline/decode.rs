//! Stripping layers: the file is read once, front to back, through a chain of
//! readers built from what each layer's first bytes say. Nothing is written to disk.

use super::sniff::{sniff, DumpFormat, Layer, SNIFF_LEN};
use crate::keys::IdentitySource;
use std::fmt;
use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How deep layers may nest before the input is called hostile: a real backup
/// has at most encryption, armor and compression.
const MAX_LAYERS: usize = 6;

type Boxed = Box<dyn Read + Send>;
/// The sniffed bytes put back in front of the rest of the stream.
type Replay = Chain<Cursor<Vec<u8>>, Boxed>;

/// A backup opened down to its dump: the layers seen, and a reader of the dump.
pub struct Opened {
    pub layers: Vec<Layer>,
    pub format: DumpFormat,
    pub reader: Boxed,
    /// Which identity file decrypted it (index into the slice given), if encrypted.
    pub decrypted_by: Option<usize>,
}

/// Why a backup could not be opened; the message names the layer.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the file is empty")]
    Empty,
    #[error("it is not a backup: after {after} it holds neither a dump nor a layer this tool knows (first bytes are not age, zstd, gzip, pg_dump custom format or SQL)")]
    NotABackup { after: String },
    #[error("it is encrypted with age but no identity was given: pass --identity KEYFILE")]
    NoIdentity,
    #[error("none of the identities given can decrypt it (it was encrypted to other recipients): use the identity that matches one of its recipients, or the escrow key")]
    WrongKey,
    #[error("its age header is damaged or cut short: {0}")]
    AgeHeader(String),
    #[error("its {layer} layer cannot be read: {source}")]
    Layer {
        layer: Layer,
        #[source]
        source: io::Error,
    },
    #[error("layers nest deeper than {MAX_LAYERS}: refusing a hostile input")]
    TooDeep,
}

/// An error met while streaming, tagged with the layer whose reader raised it, so
/// "age: truncated" and "zstd: corrupted block" read as what they are.
#[derive(Debug)]
pub struct LayerError {
    pub layer: Layer,
    pub message: String,
    /// Whether the layer had already read to the end of its input: an error
    /// there means the data stops too soon (the file was cut off), an error
    /// before it means the data in the middle is damaged.
    pub at_end: bool,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} layer: {}", self.layer, self.message)
    }
}
impl std::error::Error for LayerError {}

impl LayerError {
    /// The layer error inside an I/O error raised by a decoded stream, if any.
    pub fn find(e: &io::Error) -> Option<&LayerError> {
        e.get_ref().and_then(|r| r.downcast_ref::<LayerError>())
    }
}

/// Remembers whether a reader has returned end-of-file.
struct EofWatch<R> {
    inner: R,
    ended: Arc<AtomicBool>,
}

impl<R: Read> Read for EofWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Tags the first error a layer raises; errors already tagged by an inner layer
/// pass through unchanged.
struct Tagged<R> {
    inner: R,
    layer: Layer,
    input_ended: Arc<AtomicBool>,
}

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if LayerError::find(&e).is_some() {
                e
            } else {
                io::Error::new(
                    e.kind(),
                    LayerError {
                        layer: self.layer,
                        message: e.to_string(),
                        at_end: self.input_ended.load(Ordering::Relaxed),
                    },
                )
            }
        })
    }
}

/// Wraps a layer's input so its decoder's errors can say whether they came at
/// the end of the input; returns the watched input and the tagger for the output.
fn watched(input: Replay) -> (EofWatch<Replay>, Arc<AtomicBool>) {
    let ended = Arc::new(AtomicBool::new(false));
    (
        EofWatch {
            inner: input,
            ended: ended.clone(),
        },
        ended,
    )
}

fn tagged(inner: impl Read + Send + 'static, layer: Layer, ended: Arc<AtomicBool>) -> Boxed {
    Box::new(Tagged {
        inner,
        layer,
        input_ended: ended,
    })
}

/// Reads up to SNIFF_LEN bytes and hands back a reader that replays them.
fn peek(mut r: Boxed) -> io::Result<(Vec<u8>, Replay)> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut r).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    let replay = Cursor::new(head.clone()).chain(r);
    Ok((head, replay))
}

/// Opens `input` layer by layer until a dump (or garbage) is reached.
/// Age identities are tried file by file, in the order given.
pub fn open_layers(input: Boxed, keys: &[IdentitySource]) -> Result<Opened, OpenError> {
    let mut layers = Vec::new();
    let mut reader = input;
    let mut decrypted_by = None;
    loop {
        if layers.len() >= MAX_LAYERS {
            return Err(OpenError::TooDeep);
        }
        let outer = layers.last().copied();
        let (head, replay) = peek(reader).map_err(|source| match outer {
            Some(layer) => OpenError::Layer { layer, source },
            None => OpenError::Layer {
                layer: Layer::Dump(DumpFormat::Unknown),
                source,
            },
        })?;
        if head.is_empty() && layers.is_empty() {
            return Err(OpenError::Empty);
        }
        let layer = sniff(&head);
        layers.push(layer);
        reader = match layer {
            Layer::Age | Layer::AgeArmored => {
                let (r, idx) = decrypt(replay, layer, keys)?;
                decrypted_by = Some(idx);
                read_ahead(r)
            }
            Layer::Zstd => {
                let (input, ended) = watched(replay);
                let d =
                    zstd::stream::read::Decoder::new(input).map_err(|source| OpenError::Layer {
                        layer: Layer::Zstd,
                        source,
                    })?;
                tagged(d, Layer::Zstd, ended)
            }
            Layer::Gzip => {
                let (input, ended) = watched(replay);
                tagged(flate2::read::MultiGzDecoder::new(input), Layer::Gzip, ended)
            }
            Layer::Dump(DumpFormat::Unknown) => {
                let after = if layers.len() == 1 {
                    "the start of the file".to_string()
                } else {
                    layers[..layers.len() - 1]
                        .iter()
                        .map(|l| l.to_string())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                };
                return Err(OpenError::NotABackup { after });
            }
            Layer::Dump(format) => {
                return Ok(Opened {
                    layers,
                    format,
                    reader: Box::new(replay),
                    decrypted_by,
                })
            }
        };
    }
}

fn decrypt(
    replay: Replay,
    layer: Layer,
    keys: &[IdentitySource],
) -> Result<(Boxed, usize), OpenError> {
    if keys.is_empty() {
        return Err(OpenError::NoIdentity);
    }
    // Armor is just base64 around the binary format: undo it first, then treat
    // both alike.
    let (input, ended) = watched(replay);
    let binary: Boxed = if layer == Layer::AgeArmored {
        Box::new(age::armor::ArmoredReader::new(BufReader::new(input)))
    } else {
        Box::new(input)
    };
    // Each identity file is tried on its own, on a copy of the header, so the
    // report can say which key (day-to-day or escrow) opened the backup.
    let mut buffered = BufReader::with_capacity(1 << 16, binary);
    let header = read_age_header(&mut buffered)?;
    for (idx, key) in keys.iter().enumerate() {
        let decryptor =
            age::Decryptor::new_buffered(Cursor::new(header.clone())).map_err(age_header_error)?;
        match decryptor.decrypt(identities(key)) {
            Ok(_) => {
                let full: Boxed = Box::new(Cursor::new(header).chain(buffered));
                let d = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 16, full))
                    .map_err(age_header_error)?;
                let r = d.decrypt(identities(key)).map_err(age_header_error)?;
                return Ok((tagged(r, layer, ended), idx));
            }
            Err(age::DecryptError::NoMatchingKeys) => continue,
            Err(e) => return Err(age_header_error(e)),
        }
    }
    Err(OpenError::WrongKey)
}

/// Chunks decrypted ahead of the decompressor: 4 of 256 KiB, 1 MiB at most.
const AHEAD_CHUNKS: usize = 4;
const AHEAD_CHUNK: usize = 256 << 10;

/// Reads `inner` on a thread of its own, a few chunks ahead of its consumer,
/// so that decryption runs beside decompression on another core, as
/// `age -d | zstd -dc` does. What `inner` returns arrives in order, an error
/// after the data before it. Its end is said explicitly: a thread that died
/// (a panic) is an error, never a clean end of the stream.
pub fn read_ahead(mut inner: Boxed) -> Boxed {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Ahead>(AHEAD_CHUNKS);
    std::thread::spawn(move || loop {
        let mut buf = vec![0u8; AHEAD_CHUNK];
        let (n, error) = read_some(&mut inner, &mut buf);
        buf.truncate(n);
        let last = match error {
            Some(e) => Some(Ahead::Failed(e)),
            None if n < AHEAD_CHUNK => Some(Ahead::End),
            None => None,
        };
        if n > 0 && tx.send(Ahead::Data(buf)).is_err() {
            break;
        }
        if let Some(last) = last {
            let _ = tx.send(last);
            break;
        }
    });
    Box::new(AheadReader {
        rx,
        current: Vec::new(),
        at: 0,
        ended: false,
    })
}

/// Fills `buf` until it is full or `inner` ends or fails (fewer messages
/// than one per small read of the age reader); the bytes read come with the
/// error, which must not be lost.
fn read_some(inner: &mut Boxed, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match inner.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// One message of `read_ahead`.
enum Ahead {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// The consumer's end of `read_ahead`.
struct AheadReader {
    rx: std::sync::mpsc::Receiver<Ahead>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for AheadReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ahead::Data(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Ahead::End) => self.ended = true,
                Ok(Ahead::Failed(e)) => return Err(e),
                Err(_) => {
                    return Err(io::Error::other(
                        "the decrypting thread stopped before the end of the stream (a bug in restore-drill; please report it)",
                    ))
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn identities(key: &IdentitySource) -> impl Iterator<Item = &dyn age::Identity> {
    key.identities
        .iter()
        .map(|i| i.as_ref() as &dyn age::Identity)
}

/// The binary age header: text lines up to the `--- MAC` line, then the 16-byte
/// payload nonce. A few hundred bytes; bounded so garbage can't grow it.
fn read_age_header<R: io::BufRead>(r: &mut R) -> Result<Vec<u8>, OpenError> {
    const LIMIT: usize = 64 * 1024;
    let cut = || OpenError::AgeHeader("the file ends inside the age header".into());
    let mut out = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut *r)
            .take((LIMIT - out.len()) as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| OpenError::AgeHeader(e.to_string()))?;
        if n == 0 {
            return Err(cut());
        }
        out.extend_from_slice(&line);
        if line.starts_with(b"--- ") {
            break;
        }
        if out.len() >= LIMIT {
            return Err(OpenError::AgeHeader("the age header is too long".into()));
        }
    }
    let mut nonce = [0u8; 16];
    r.read_exact(&mut nonce).map_err(|_| cut())?;
    out.extend_from_slice(&nonce);
    Ok(out)
}

fn age_header_error(e: age::DecryptError) -> OpenError {
    match e {
        age::DecryptError::NoMatchingKeys => OpenError::WrongKey,
        other => OpenError::AgeHeader(other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Gives `data` in pieces of 1000 bytes, then `then`.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        then: fn() -> io::Result<usize>,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return (self.then)();
            }
            let n = buf.len().min(1000).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn pieces(len: usize, then: fn() -> io::Result<usize>) -> (Vec<u8>, Boxed) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let reader = Pieces {
            data: data.clone(),
            at: 0,
            then,
        };
        (data, Box::new(reader))
    }

    #[test]
    fn read_ahead_hands_on_every_byte_in_order() {
        for len in [0, 1, AHEAD_CHUNK, 3 * AHEAD_CHUNK + 17] {
            let (data, inner) = pieces(len, || Ok(0));
            let mut out = Vec::new();
            read_ahead(inner).read_to_end(&mut out).unwrap();
            assert!(out == data, "{len} bytes");
        }
    }

    #[test]
    fn an_error_after_data_arrives_after_that_data_and_is_not_an_end() {
        let (data, inner) = pieces(AHEAD_CHUNK + 300, || {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "age file is truncated",
            ))
        });
        let mut reader = read_ahead(inner);
        let mut out = vec![0u8; data.len()];
        reader.read_exact(&mut out).unwrap();
        assert!(out == data);
        let e = reader.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.to_string(), "age file is truncated");
    }

    #[test]
    fn a_reader_that_dies_is_an_error_not_the_end_of_the_stream() {
        let (_, inner) = pieces(10, || panic!("the reader died"));
        let mut out = Vec::new();
        let e = read_ahead(inner).read_to_end(&mut out).unwrap_err();
        assert!(e.to_string().contains("stopped before the end"), "{e}");
    }
}
