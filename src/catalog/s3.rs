//! An S3-compatible bucket as a backup location, through the AWS SDK (see the
//! README for why this client): list the backups under a prefix, read one as
//! a stream that resumes where a dropped connection left it, write one in
//! parts. What the server says comes back as typed parts (its error code and
//! HTTP status), never as its message text.

use crate::error::{Error, Result};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[backups.s3]`: how to reach every `s3://` location of a scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// None: AWS itself (or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// An AWS shared-credentials file; None: the environment's
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub credentials_file: Option<PathBuf>,
    /// The clinic server's own credentials (what ransomware on it would
    /// hold), tried against a scratch object to measure the copy's reach.
    pub production_credentials_file: Option<PathBuf>,
}

/// Which credentials a client signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Drill,
    Production,
}

/// A bucket and prefix, with a client signed by one set of credentials.
#[derive(Clone)]
pub struct Bucket {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub prefix: String,
    /// The endpoint as messages name it.
    pub endpoint: String,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket(s3://{}/{})", self.bucket, self.prefix)
    }
}

/// A listed object.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub bytes: u64,
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// How long one request may wait for the server before it is a stuck step.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a download may receive nothing before the read is retried.
pub const STALL: Duration = Duration::from_secs(30);
/// How long opening a connection to the endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Bucket {
    pub fn open(s: &S3Settings, bucket: &str, prefix: &str, signer: Signer) -> Result<Bucket> {
        let creds = credentials(s, signer)?;
        let endpoint = s
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let region = s
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(creds)
            .http_client(http_client())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(STALL)
                    .build(),
            )
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(3));
        if let Some(ep) = &endpoint {
            // Self-hosted and most S3-compatible services address buckets by path.
            conf = conf.endpoint_url(ep).force_path_style(true);
        }
        Ok(Bucket {
            client: aws_sdk_s3::Client::from_conf(conf.build()),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint: endpoint.unwrap_or_else(|| "AWS S3".into()),
        })
    }

    pub fn url(&self) -> String {
        super::place::Place::S3 {
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
        }
        .to_string()
    }

    pub fn key(&self, name: &str) -> String {
        super::place::Place::key_of(&self.prefix, name)
    }

    /// Every object directly under the prefix (not in deeper "folders").
    pub async fn list(&self) -> Result<Vec<Object>> {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let req = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token.take());
            let page = bounded(req.send(), "listing", self).await?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(Object {
                    key: key.to_string(),
                    bytes: o.size().unwrap_or(0).max(0) as u64,
                    modified: o.last_modified().and_then(to_chrono),
                });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// A small object read whole (a manifest), refused past `max` bytes.
    pub async fn read_small(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        let got = bounded(req.send(), "reading", self).await?;
        if got.content_length().unwrap_or(0).max(0) as u64 > max {
            return Err(Error::Failed(format!(
                "{} is larger than {max} bytes: not a manifest",
                self.object_url(key)
            )));
        }
        let body = tokio::time::timeout(REQUEST_TIMEOUT, got.body.collect())
            .await
            .map_err(|_| S3Failure::Stuck.into_error(self, "reading"))?
            .map_err(|e| S3Failure::from_io(&e).into_error(self, "reading"))?;
        Ok(body.into_bytes().to_vec())
    }

    /// The body of `key` from byte `from` on (up to byte `until`, inclusive,
    /// when given), only if the object is still the one whose ETag is `etag`.
    pub async fn body_from(
        &self,
        key: &str,
        (from, until): (u64, Option<u64>),
        etag: Option<&str>,
    ) -> Result<aws_sdk_s3::primitives::ByteStream> {
        let mut req = self.client.get_object().bucket(&self.bucket).key(key);
        match until {
            Some(end) => req = req.range(format!("bytes={from}-{end}")),
            None if from > 0 => req = req.range(format!("bytes={from}-")),
            None => {}
        }
        if let Some(e) = etag {
            req = req.if_match(e);
        }
        Ok(bounded(req.send(), "downloading", self).await?.body)
    }

    /// The object's ETag, so that a resumed read cannot splice two objects.
    pub async fn etag(&self, key: &str) -> Result<Option<String>> {
        let req = self.client.head_object().bucket(&self.bucket).key(key);
        Ok(bounded(req.send(), "reading", self)
            .await?
            .e_tag()
            .map(str::to_string))
    }

    pub fn object_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// A request bounded by `REQUEST_TIMEOUT`, its failure typed (for callers
/// that judge the failure themselves, such as the protection probe).
pub async fn attempt<T, E>(
    fut: impl std::future::Future<Output = std::result::Result<T, SdkError<E>>>,
) -> std::result::Result<T, S3Failure>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Err(_) => Err(S3Failure::Stuck),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(S3Failure::of(&e)),
    }
}

/// A request bounded in time, its failure an error saying what was done.
pub async fn bounded<T, E>(
    fut: impl std::future::Future<Output = std::result::Result<T, SdkError<E>>>,
    doing: &str,
    b: &Bucket,
) -> Result<T>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    attempt(fut).await.map_err(|f| f.into_error(b, doing))
}

/// What went wrong with a request, in the server's typed terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Failure {
    /// The access key is unknown or the signature does not match its secret.
    Credentials {
        code: String,
    },
    NoBucket,
    NoObject,
    Denied,
    /// No connection, or it broke.
    Unreachable {
        why: std::io::ErrorKind,
    },
    /// The SDK's own timeouts (connecting, reading).
    Timeout,
    /// No answer within `REQUEST_TIMEOUT`.
    Stuck,
    /// An upload the connection took nothing of for `STALL`.
    Stalled {
        sent: u64,
        of: u64,
    },
    Other {
        code: Option<String>,
        status: Option<u16>,
    },
}

impl S3Failure {
    pub fn of<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &SdkError<E>) -> Self {
        match e {
            SdkError::TimeoutError(_) => return S3Failure::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => return S3Failure::Timeout,
            SdkError::DispatchFailure(_) => {
                return S3Failure::Unreachable {
                    why: io_kind(e).unwrap_or(std::io::ErrorKind::ConnectionRefused),
                }
            }
            _ => {}
        }
        let status = e.raw_response().map(|r| r.status().as_u16());
        match (e.code(), status) {
            (
                Some(
                    c @ ("InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "InvalidToken"
                    | "ExpiredToken"),
                ),
                _,
            ) => S3Failure::Credentials {
                code: c.to_string(),
            },
            (Some("NoSuchBucket"), _) => S3Failure::NoBucket,
            // HeadObject has no body to carry a code: the SDK says NotFound.
            (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => S3Failure::NoObject,
            (Some("AccessDenied"), _) | (None, Some(403)) => S3Failure::Denied,
            (code, status) => S3Failure::Other {
                code: code.map(str::to_string),
                status,
            },
        }
    }

    fn from_io(e: &(dyn std::error::Error + 'static)) -> Self {
        S3Failure::Unreachable {
            why: first_io_kind(e).unwrap_or(std::io::ErrorKind::Other),
        }
    }

    /// The one place an S3 failure becomes a message.
    pub fn into_error(self, b: &Bucket, doing: &str) -> Error {
        let url = b.url();
        let ep = &b.endpoint;
        Error::Environment(match self {
            S3Failure::Credentials { code } => format!(
                "{doing} {url} at {ep}: the server refused the credentials ({code}). Check the access key and secret in [backups.s3] credentials_file or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            ),
            S3Failure::NoBucket => format!(
                "{doing} {url} at {ep}: no such bucket ({}). Check the bucket name in the location and the endpoint",
                b.bucket
            ),
            S3Failure::NoObject => format!(
                "{doing} {url} at {ep}: the object is gone (NoSuchKey): it was removed while the drill ran. Run the drill again"
            ),
            S3Failure::Denied => format!(
                "{doing} {url} at {ep}: access denied (AccessDenied). A drill's credentials need s3:ListBucket and s3:GetObject on this bucket; backup --out's need s3:PutObject"
            ),
            S3Failure::Unreachable { why } => format!(
                "{doing} {url}: cannot reach {ep} ({why}). Check the endpoint and the network, then run the drill again"
            ),
            S3Failure::Stuck => format!(
                "{doing} {url} at {ep} got no answer within {} s: check the network to the endpoint, then run the drill again",
                REQUEST_TIMEOUT.as_secs()
            ),
            S3Failure::Stalled { sent, of } => format!(
                "{doing} {url} at {ep}: the upload stalled after {sent} of {of} bytes: nothing was taken in for {} s. Check the network to the endpoint, then run the backup again",
                STALL.as_secs()
            ),
            S3Failure::Timeout => format!(
                "{doing} {url} at {ep}: the server did not answer in time. Check the network to the endpoint, then run the drill again"
            ),
            S3Failure::Other { code, status } => format!(
                "{doing} {url} at {ep}: the server refused the request ({}{}). Check the endpoint and the bucket's settings",
                code.as_deref().unwrap_or("no error code"),
                status.map(|s| format!(", HTTP {s}")).unwrap_or_default()
            ),
        })
    }
}

/// The io::ErrorKind deepest in an SDK error's causes, if any.
fn io_kind<E: std::error::Error + 'static>(e: &SdkError<E>) -> Option<std::io::ErrorKind> {
    first_io_kind(e)
}

fn first_io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// HTTPS with rustls on ring: the TLS stack reqwest and lettre already use
/// here, no second crypto library to build.
fn http_client() -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The credentials for `signer`: a file named in the scenario (mode 600,
/// AWS's shared-credentials format), else the environment's for the drill.
fn credentials(s: &S3Settings, signer: Signer) -> Result<Credentials> {
    let file = match signer {
        Signer::Drill => s.credentials_file.as_deref(),
        Signer::Production => s.production_credentials_file.as_deref(),
    };
    if let Some(f) = file {
        return credentials_file(f);
    }
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(k), Some(secret)) if signer == Signer::Drill => Ok(Credentials::new(
            k,
            secret,
            var("AWS_SESSION_TOKEN"),
            None,
            "environment",
        )),
        _ => Err(Error::Environment(
            "no S3 credentials: name a credentials file in [backups.s3] credentials_file, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
        )),
    }
}

/// `[default]` (or the file's only profile) of a shared-credentials file.
pub fn credentials_file(path: &Path) -> Result<Credentials> {
    let text = crate::keys::read_private_file(
        path,
        "the S3 credentials file",
        "the path in [backups.s3] or --s3-credentials",
        "can reach the backups",
    )?;
    let found = parse_credentials(&text).ok_or_else(|| {
        Error::Usage(format!(
            "{} holds no aws_access_key_id and aws_secret_access_key under [default]: write them as AWS's credentials file does",
            path.display()
        ))
    })?;
    Ok(Credentials::new(found.0, found.1, found.2, None, "file"))
}

/// (key, secret, token) of `[default]`, or of the first profile when the
/// file has no `[default]`.
fn parse_credentials(text: &str) -> Option<(String, String, Option<String>)> {
    let mut profiles: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            profiles.push((name.trim().to_string(), Vec::new()));
        } else if let (Some((k, v)), Some(p)) = (line.split_once('='), profiles.last_mut()) {
            p.1.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let chosen = profiles
        .iter()
        .find(|p| p.0 == "default")
        .or(profiles.first())?;
    let get = |k: &str| {
        chosen
            .1
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    Some((
        get("aws_access_key_id")?,
        get("aws_secret_access_key")?,
        get("aws_session_token"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_profile() {
        let text = "[other]\naws_access_key_id=A\naws_secret_access_key=B\n\n[default]\n# note\naws_access_key_id = K\naws_secret_access_key = S/x+y=\n";
        assert_eq!(
            parse_credentials(text),
            Some(("K".into(), "S/x+y=".into(), None))
        );
        assert_eq!(
            parse_credentials(
                "[p]\naws_access_key_id=A\naws_secret_access_key=B\naws_session_token=T"
            ),
            Some(("A".into(), "B".into(), Some("T".into())))
        );
        assert_eq!(parse_credentials("[default]\naws_access_key_id=A\n"), None);
    }
}
