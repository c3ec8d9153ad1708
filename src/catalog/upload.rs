//! An upload bounded by its progress, not its length: the body is counted
//! as the connection takes it in, and the request ends as stuck when
//! nothing was taken for `STALL`, or when no answer came `REQUEST_TIMEOUT`
//! after the last byte. A total bound would cut off a large backup on a
//! slow line; the SDK's own read timeout (which covers the whole upload)
//! is off for it, and so is its stalled-stream check, ours stands instead.

use super::s3::{S3Failure, REQUEST_TIMEOUT, STALL};
use crate::error::{Error, Result};
use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use bytes::Bytes;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How far an upload got, as the connection took its body in.
#[derive(Debug)]
pub struct Progress {
    sent: AtomicU64,
    of: u64,
    finished: AtomicBool,
    last: Mutex<Instant>,
}

/// Whether an upload may go on waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    Fine,
    /// Nothing taken in for `STALL`, after this many bytes.
    Stalled {
        sent: u64,
    },
    /// The body went out whole and no answer came.
    NoAnswer,
}

/// The judgement, pure: `quiet` is how long since the last byte went (or
/// the body ended).
pub fn waiting(quiet: Duration, finished: bool, sent: u64) -> Waiting {
    match (finished, quiet) {
        (false, q) if q > STALL => Waiting::Stalled { sent },
        (true, q) if q > REQUEST_TIMEOUT => Waiting::NoAnswer,
        _ => Waiting::Fine,
    }
}

impl Progress {
    pub fn new(of: u64) -> Progress {
        Progress {
            sent: AtomicU64::new(0),
            of,
            finished: AtomicBool::new(false),
            last: Mutex::new(Instant::now()),
        }
    }

    fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
    }

    /// A new attempt (the SDK retries with a fresh body) starts from zero.
    fn restart(&self) {
        self.sent.store(0, Ordering::Relaxed);
        self.finished.store(false, Ordering::Relaxed);
        self.touch();
    }

    fn now(&self) -> Waiting {
        let quiet = self.last.lock().map(|l| l.elapsed()).unwrap_or_default();
        waiting(
            quiet,
            self.finished.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
        )
    }
}

/// A body that tells `Progress` what the connection took.
struct Counted {
    inner: Pin<Box<SdkBody>>,
    progress: Arc<Progress>,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<http_body::Frame<Bytes>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.progress.sent.fetch_add(n, Ordering::Relaxed);
                self.progress.touch();
            }
            Poll::Ready(None) => {
                self.progress.finished.store(true, Ordering::Relaxed);
                self.progress.touch();
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::Body::size_hint(self.inner.as_ref().get_ref())
    }
}

/// `file` as a body the SDK can send again on a retry, each attempt counted
/// afresh.
pub async fn body(file: &Path, progress: Arc<Progress>) -> Result<ByteStream> {
    let base = ByteStream::from_path(file)
        .await
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", file.display())))?
        .into_inner();
    Ok(ByteStream::new(SdkBody::retryable(move || {
        progress.restart();
        let fresh = base.try_clone().unwrap_or_else(SdkBody::taken);
        SdkBody::from_body_1_x(Counted {
            inner: Box::pin(fresh),
            progress: progress.clone(),
        })
    })))
}

/// Waits for the upload's answer while it makes progress; its end as an
/// S3 failure when it stalls or gets no answer.
pub async fn watched<T, E>(
    send: impl std::future::Future<Output = std::result::Result<T, aws_sdk_s3::error::SdkError<E>>>,
    progress: &Progress,
) -> std::result::Result<T, S3Failure>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    tokio::pin!(send);
    loop {
        tokio::select! {
            r = &mut send => return r.map_err(|e| S3Failure::of(&e)),
            _ = tokio::time::sleep(Duration::from_millis(500)) => match progress.now() {
                Waiting::Fine => {}
                Waiting::Stalled { sent } => {
                    return Err(S3Failure::Stalled { sent, of: progress.of })
                }
                Waiting::NoAnswer => return Err(S3Failure::Stuck),
            },
        }
    }
}

/// The SDK's read timeout covers a whole upload (it waits for the answer's
/// first byte), so for an upload it is off; `watched` bounds it instead.
pub fn unhurried() -> aws_sdk_s3::config::Builder {
    use aws_sdk_s3::config::{timeout::TimeoutConfig, StalledStreamProtectionConfig};
    aws_sdk_s3::config::Builder::default()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(super::s3::CONNECT_TIMEOUT)
                .disable_read_timeout()
                .build(),
        )
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_judged_by_its_silence_not_its_length() {
        let s = Duration::from_secs;
        assert_eq!(waiting(s(29), false, 5), Waiting::Fine);
        assert_eq!(waiting(s(31), false, 5), Waiting::Stalled { sent: 5 });
        // Once the body is out, the server has REQUEST_TIMEOUT to answer.
        assert_eq!(waiting(s(31), true, 9), Waiting::Fine);
        assert_eq!(waiting(s(61), true, 9), Waiting::NoAnswer);
    }
}
