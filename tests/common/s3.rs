//! S3-compatible servers of the test's own on 127.0.0.1, for bucket
//! locations:
//!
//! - [`S3Server`]: moto, with IAM enforced, so that a wrong key, a wrong
//!   secret and a user without a permission are refused as a real bucket
//!   would refuse them, and with versioning and object lock, whose retention
//!   the drill reports. tests/s3/setup.py makes its users, buckets and
//!   objects with boto3.
//! - [`DroppingServer`]: tests/s3/dropping.py, a look-alike whose connection
//!   drops halfway through every backup it sends.
//!
//! Both run with the python of target/tools/moto, the virtual environment
//! tests/run installs moto[server] (and with it boto3) into. Without it these
//! tests fail, they never skip.
#![allow(dead_code)] // each test uses only some of these

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long moto may take to accept connections (it imports a lot).
const MOTO_READY_WITHIN: Duration = Duration::from_secs(30);
/// How long dropping.py may take to print its port.
const DROPPING_READY_WITHIN: Duration = Duration::from_secs(15);
/// The users tests/s3/setup.py makes, each with DIR/USER.credentials.
pub const USERS: [&str; 4] = ["admin", "drill", "production", "writer"];

/// The virtual environment tests/run installs moto into.
fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/moto")
}

/// The moto venv's python: it has boto3, which tests/s3/setup.py needs.
pub fn moto_python() -> PathBuf {
    let python = venv().join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tests/run once: it installs moto",
        python.display()
    );
    python
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/s3")
        .join(name)
}

/// A port nothing listens on now (the kernel's choice; the server binds it
/// next).
fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    l.local_addr().expect("its address").port()
}

/// The last lines of a log, for a panic message.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A moto server on 127.0.0.1 with the users admin (everything), drill
/// (read-only), production (a clinic server's backup job) and writer (the
/// same rights, another identity), each with an AWS shared-credentials file
/// in `creds`. Killed when dropped.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`, path-style, region us-east-1.
    pub endpoint: String,
    /// The folder holding admin.credentials, drill.credentials,
    /// production.credentials and writer.credentials.
    pub creds: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// moto on a free port, with IAM enforced after the first three
    /// requests (setup.py's `users` makes admin with them), its users made.
    ///
    /// moto's server is started by `setup.py serve`, not by moto_server:
    /// it mends two places where moto 5.1.22 answers otherwise than S3 (a
    /// signed query with a `/` in it, such as a listing's `prefix=clinic/`,
    /// refused as SignatureDoesNotMatch; a multipart upload left unlocked
    /// in a bucket with a default retention).
    pub fn start() -> S3Server {
        let python = moto_python();
        let dir = tempfile::Builder::new()
            .prefix("rd-s3-")
            .tempdir()
            .expect("make the S3 server's folder");
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).expect("make the credentials folder");
        let log_path = dir.path().join("moto.log");
        let log = std::fs::File::create(&log_path).expect("create moto.log");
        let port = free_port();
        let port_arg = port.to_string();
        let child = Command::new(&python)
            .arg(script("setup.py"))
            .args(["serve", "-H", "127.0.0.1", "-p", port_arg.as_str()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log's handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {} ({e}): run tests/run once: it installs moto",
                    python.display()
                )
            });
        // Made before waiting, so that a panic below still kills moto.
        let mut server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            creds,
            child,
            _dir: dir,
        };
        server.wait_ready(port, &log_path);
        let out = server.creds.display().to_string();
        setup(&[
            "users",
            "--endpoint",
            server.endpoint.as_str(),
            "--out",
            out.as_str(),
        ]);
        server
    }

    fn wait_ready(&mut self, port: u16, log: &Path) {
        let started = Instant::now();
        let to = (Ipv4Addr::LOCALHOST, port);
        while TcpStream::connect_timeout(&to.into(), Duration::from_secs(1)).is_err() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > MOTO_READY_WITHIN {
                let why = match exited {
                    Some(s) => format!("moto's server exited ({s})"),
                    None => format!("port {port} not accepting within {MOTO_READY_WITHIN:?}"),
                };
                panic!(
                    "the test's S3 server did not come up: {why}. The end of {}:\n{}",
                    log.display(),
                    tail(log, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The AWS shared-credentials file of `user` (one of [`USERS`]).
    pub fn creds(&self, user: &str) -> PathBuf {
        let path = self.creds.join(format!("{user}.credentials"));
        assert!(path.exists(), "no user {user} on the test's S3 server");
        path
    }

    /// Runs setup.py's `command` against this server as admin.
    fn as_admin(&self, command: &str, args: &[&str]) -> String {
        let admin = self.creds("admin").display().to_string();
        let mut all: Vec<&str> = vec![
            command,
            "--endpoint",
            self.endpoint.as_str(),
            "--creds",
            admin.as_str(),
        ];
        all.extend_from_slice(args);
        setup(&all)
    }

    /// A bucket: `mode` is `locked` (object lock, default retention
    /// COMPLIANCE 30 days), `versioned` (versioning, no lock) or `plain`.
    pub fn bucket(&self, name: &str, mode: &str) {
        self.as_admin("bucket", &[name, "--mode", mode]);
    }

    /// A locked bucket with a default retention of `days`, GOVERNANCE
    /// (which a user with s3:BypassGovernanceRetention can lift) or
    /// COMPLIANCE (which nobody can).
    pub fn locked_bucket(&self, name: &str, days: u32, governance: bool) {
        let days = days.to_string();
        let mut args: Vec<&str> = vec![name, "--mode", "locked", "--days", days.as_str()];
        if governance {
            args.push("--governance");
        }
        self.as_admin("bucket", &args);
    }

    /// Uploads `file` as `key` (multipart when large, as a backup job's).
    pub fn put(&self, bucket: &str, key: &str, file: &Path) {
        let file = file.display().to_string();
        self.as_admin("put", &[bucket, key, file.as_str()]);
    }

    /// Every file directly in `dir` (not its subfolders) as `prefix/NAME`, or
    /// `NAME` when `prefix` is empty.
    pub fn upload_dir(&self, bucket: &str, prefix: &str, dir: &Path) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("a folder entry"))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect();
        files.sort();
        let prefix = prefix.trim_end_matches('/');
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a file name in UTF-8");
            let key = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            self.put(bucket, &key, &file);
        }
    }

    /// The objects under `prefix` ("" for all): (key, size, lock mode),
    /// the lock mode `COMPLIANCE`, `GOVERNANCE` or `-` for none.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<(String, u64, String)> {
        let out = self.as_admin("list", &[bucket, prefix]);
        out.lines()
            .map(|line| {
                let mut fields = line.split('\t');
                let (Some(key), Some(size), Some(mode), None) =
                    (fields.next(), fields.next(), fields.next(), fields.next())
                else {
                    panic!("setup.py list printed {line:?}, not key, size and lock mode");
                };
                let size = size
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("setup.py list printed size {size:?}"));
                (key.to_string(), size, mode.to_string())
            })
            .collect()
    }

    /// Replaces `key` by its first `bytes` bytes: a new version where the
    /// bucket keeps versions, so a locked original stays as it was.
    pub fn truncate(&self, bucket: &str, key: &str, bytes: u64) {
        let bytes = bytes.to_string();
        self.as_admin("truncate", &[bucket, key, bytes.as_str()]);
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs tests/s3/setup.py with `args`; its stdout, or a panic with its
/// stderr.
fn setup(args: &[&str]) -> String {
    let out = Command::new(moto_python())
        .arg(script("setup.py"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tests/s3/setup.py");
    assert!(
        out.status.success(),
        "tests/s3/setup.py {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("setup.py prints UTF-8")
}

/// tests/s3/dropping.py on 127.0.0.1: the files of a folder as a bucket's
/// objects, every backup (`*.age`) cut off halfway by a closed connection,
/// manifests served whole. Killed when dropped.
pub struct DroppingServer {
    /// `http://127.0.0.1:PORT`, path-style; any credentials are accepted.
    pub endpoint: String,
    child: Child,
    /// Kept open: dropping.py's stdout, which it never writes to again.
    _stdout: BufReader<ChildStdout>,
}

impl DroppingServer {
    /// Serves the files of `dir` as the objects of `bucket`.
    pub fn start(dir: &Path, bucket: &str) -> DroppingServer {
        Self::start_with(dir, bucket, &[])
    }

    /// The same, with dropping.py's options for writes (`--writes hang`,
    /// `--writes slow --rate R`).
    pub fn start_with(dir: &Path, bucket: &str, writes: &[&str]) -> DroppingServer {
        let mut child = Command::new(moto_python())
            .arg(script("dropping.py"))
            .args(["--port", "0", "--dir"])
            .arg(dir)
            .args(["--bucket", bucket])
            .args(writes)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run tests/s3/dropping.py");
        let stdout = child.stdout.take().expect("dropping.py's stdout");
        // Read on a thread of its own, so that a server that never prints
        // fails the test in bounded time.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let _ = tx.send((read.map(|_| line), reader));
        });
        let (line, reader) = match rx.recv_timeout(DROPPING_READY_WITHIN) {
            Ok((Ok(line), reader)) => (line, reader),
            Ok((Err(e), _)) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("read dropping.py's port: {e}");
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("dropping.py printed no port within {DROPPING_READY_WITHIN:?}");
            }
        };
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let status = child.wait();
            panic!("dropping.py printed no port ({line:?}); it ended with {status:?}");
        };
        DroppingServer {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            _stdout: reader,
        }
    }
}

impl Drop for DroppingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
