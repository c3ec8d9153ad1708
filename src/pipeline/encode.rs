//! Putting layers on: dump bytes -> zstd -> age (to every recipient) -> file,
//! hashed on the way out. One pass, so plaintext exists only in memory buffers.

use super::HashingWriter;
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// zstd level 3: the CLI's default, fast enough to keep up with pg_dump.
const ZSTD_LEVEL: i32 = 3;

type Sink = HashingWriter<BufWriter<File>>;

pub struct BackupWriter {
    inner: zstd::stream::write::Encoder<'static, age::stream::StreamWriter<Sink>>,
    plaintext_bytes: u64,
}

/// What a finished backup file is: its hash and size, as the file holds them.
pub struct Written {
    pub file: File,
    pub sha256: String,
    pub bytes: u64,
    pub plaintext_bytes: u64,
}

impl BackupWriter {
    pub fn new(file: File, recipients: &[age::x25519::Recipient]) -> io::Result<Self> {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| io::Error::other(format!("age: {e}")))?;
        let sink = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        let age = encryptor.wrap_output(sink)?;
        let inner = zstd::stream::write::Encoder::new(age, ZSTD_LEVEL)?;
        Ok(Self {
            inner,
            plaintext_bytes: 0,
        })
    }

    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.plaintext_bytes += buf.len() as u64;
        Ok(())
    }

    /// Ends the zstd frame and the age stream (its last chunk is what lets a reader
    /// tell a complete file from a cut one), then flushes to the file.
    pub fn finish(self) -> io::Result<Written> {
        let age = self.inner.finish()?;
        let mut sink = age.finish()?;
        sink.flush()?;
        let (buf, sha256, bytes) = sink.finish();
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        Ok(Written {
            file,
            sha256,
            bytes,
            plaintext_bytes: self.plaintext_bytes,
        })
    }
}
