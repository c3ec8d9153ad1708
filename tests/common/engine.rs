//! A second Docker engine for the tests that need more than one (a fleet's
//! pool of engines): its own dockerd, containerd, data and socket in a temp
//! folder of this test, started and stopped by it, and gone with it. Also
//! the sampler that watches how many sandboxes run on each engine.
//!
//! Needs root and dockerd on PATH, as the rest of the suite needs Docker.
//! A unix-only engine (`start`) runs in a network namespace of its own: no
//! TCP, no bridge, no iptables rules, so it touches nothing of the host's
//! networking (with no bridge, a dockerd in the host's namespace deletes the
//! host's docker0, which the first engine's builds use). One started with
//! `start_tls` also listens on a port of 127.0.0.1 with TLS and client
//! certificates (made here with the `openssl` CLI), so it stays in the host's
//! namespace with a bridge of its own, made for it and deleted with it.

use restore_drill::sandbox::run::{LABEL_PID, LABEL_ROLE};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Folders of this module's engines start with this, under the temp folder.
const PREFIX: &str = "rd-engine-";
/// How long dockerd may take to answer its first ping (10 s seen when it
/// restarts over a container a killed engine left running).
const READY_WITHIN: Duration = Duration::from_secs(40);
/// How long a stop may take before dockerd is killed.
const STOP_WITHIN: Duration = Duration::from_secs(20);
/// How long one image may take to copy from the first engine.
const LOAD_WITHIN: Duration = Duration::from_secs(300);

/// A dockerd of this test's own.
pub struct SecondEngine {
    /// Short on purpose: a unix socket's path must fit in 108 bytes.
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    socket: PathBuf,
    /// The loopback port it also listens on with TLS (`start_tls`).
    tcp: Option<u16>,
    daemon: Option<Child>,
}

/// A client's side of a TLS engine: the CA it trusts the engine by, and the
/// certificate (with its key) it shows the engine. The fleet file's
/// `tls_ca`, `tls_cert` and `tls_key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl SecondEngine {
    /// Starts a fresh engine and waits until it answers.
    pub fn start() -> SecondEngine {
        Self::starting(None)
    }

    /// Starts a fresh engine that also listens on `tcp_host()`, where it
    /// speaks TLS and lets in only clients whose certificate its own CA
    /// signed; returns it with such a client's files.
    pub fn start_tls() -> (SecondEngine, TlsFiles) {
        let engine = Self::starting(Some(free_loopback_port()));
        let client = engine.client_files("client", &engine.tls_dir().join("ca"));
        (engine, client)
    }

    fn starting(tcp: Option<u16>) -> SecondEngine {
        sweep_abandoned();
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in(std::env::temp_dir())
            .expect("make the second engine's folder");
        // Its own (empty) configuration: without it dockerd reads the host's
        // /etc/docker/daemon.json, whose data-root would clash with the flag.
        std::fs::write(dir.path().join("daemon.json"), "{}\n").expect("write daemon.json");
        let mut engine = SecondEngine {
            root: dir.path().to_path_buf(),
            socket: dir.path().join("docker.sock"),
            tcp,
            dir: Some(dir),
            daemon: None,
        };
        if tcp.is_some() {
            engine.make_server_certificate();
        }
        engine.launch();
        engine
    }

    /// The folder holding its data, state, socket and log.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What `DOCKER_HOST` is set to to reach it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `tcp://127.0.0.1:PORT`: the address a fleet file names it by.
    /// Only for an engine started by `start_tls`.
    pub fn tcp_host(&self) -> String {
        let port = self
            .tcp
            .expect("tcp_host: this engine was not started with start_tls");
        format!("tcp://127.0.0.1:{port}")
    }

    pub fn log(&self) -> PathBuf {
        self.dir().join("dockerd.log")
    }

    /// Starts dockerd on this folder and waits until it answers `/_ping`.
    fn launch(&mut self) {
        let started = Instant::now();
        let dir = self.dir().to_path_buf();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open the second engine's log");
        let child = Command::new("setpriv")
            // If the test process dies without unwinding (a runner's timeout),
            // dockerd still gets SIGTERM and stops its containers. The signal
            // comes when the thread that started it ends: start, stop and
            // drop an engine on the same thread.
            .args(["--pdeathsig", "TERM"])
            .args(namespace(self.tcp))
            .arg("dockerd")
            .args(dockerd_flags(&dir, self.tcp))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log's handle"))
            .stderr(log)
            .spawn()
            .expect("start dockerd (needs root, and dockerd and setpriv on PATH)");
        self.daemon = Some(child);
        self.wait_ready(started);
        self.listens_on_loopback_only();
        eprintln!(
            "second engine: {} answered in {:.1} s",
            self.host(),
            started.elapsed().as_secs_f64()
        );
    }

    fn wait_ready(&mut self, started: Instant) {
        let socket = self.socket().to_path_buf();
        loop {
            if ping(&socket) {
                return;
            }
            let exited = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || started.elapsed() > READY_WITHIN {
                let why = match exited {
                    Some(s) => format!("dockerd exited ({s})"),
                    None => format!("no answer to GET /_ping within {READY_WITHIN:?}"),
                };
                panic!(
                    "the second Docker engine did not come up: {why}. Last lines of {}:\n{}",
                    self.log().display(),
                    tail(&self.log(), 15)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Copies each image from the first engine (`docker save | docker load`).
    pub fn load_images(&self, images: &[&str]) {
        for image in images {
            let started = Instant::now();
            let mut save = Command::new("docker")
                .args(["save", image])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run docker save");
            let pipe = save.stdout.take().expect("docker save's output");
            let mut load = Command::new("docker")
                .arg("load")
                .env("DOCKER_HOST", self.host())
                .stdin(pipe)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run docker load");
            let saved = wait_within(&mut save, LOAD_WITHIN);
            let loaded = wait_within(&mut load, LOAD_WITHIN);
            if !(saved.is_some_and(|s| s.success()) && loaded.is_some_and(|s| s.success())) {
                panic!(
                    "could not copy the image {image} to the second engine within {LOAD_WITHIN:?} \
                     (save: {saved:?}, load: {loaded:?}). Is it on the first engine (docker images)? \
                     save said: {}\nload said: {}",
                    stderr_of(&mut save),
                    stderr_of(&mut load)
                );
            }
            eprintln!(
                "second engine: {image} loaded in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }

    /// Containers in any state carrying `filter_label` (`KEY` or `KEY=VALUE`).
    pub fn count(&self, filter_label: &str) -> usize {
        let mut ps = Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label={filter_label}"))
            .env("DOCKER_HOST", self.host())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker ps");
        // docker ps never prints enough to fill a pipe before it exits.
        let status = wait_within(&mut ps, Duration::from_secs(30));
        let mut out = String::new();
        let _ = ps.stdout.take().map(|mut o| o.read_to_string(&mut out));
        assert!(
            status.is_some_and(|s| s.success()),
            "docker ps on the second engine failed ({status:?}): {}",
            stderr_of(&mut ps)
        );
        out.lines().filter(|l| !l.trim().is_empty()).count()
    }

    /// SIGTERM, as a host's shutdown would: dockerd stops its containers and
    /// containerd. After `STOP_WITHIN`, SIGKILL. Does nothing when stopped.
    pub fn stop(&mut self) {
        let Some(mut child) = self.daemon.take() else {
            return;
        };
        let started = Instant::now();
        signal(&child, nix::sys::signal::Signal::SIGTERM);
        if wait_within(&mut child, STOP_WITHIN).is_none() {
            eprintln!("second engine: no exit within {STOP_WITHIN:?} of SIGTERM, killed");
            let _ = child.kill();
            let _ = child.wait();
        }
        eprintln!(
            "second engine: stopped in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    /// SIGKILL, as a crash would: containerd goes with dockerd, the
    /// containers' shims and processes stay (`restart` finds them).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the engine if it runs, then starts it again on the same data,
    /// to see what was left on it.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        self.stop();
        if let Some(port) = self.tcp {
            let _ = Command::new("ip")
                .args(["link", "del", &bridge_name(port)])
                .status();
        }
        let Some(dir) = self.dir.take() else { return };
        // Drop cannot fail a test: what it cannot remove it says.
        let (pids, mounts) = clear_out(dir.path());
        if !pids.is_empty() || !mounts.is_empty() {
            eprintln!(
                "second engine: left {} behind: processes {pids:?}, mounts {mounts:?}",
                dir.path().display()
            );
            // Removing files under a live mount would reach into it.
            let _ = dir.keep();
            return;
        }
        if let Err(e) = dir.close() {
            eprintln!("second engine: could not remove its folder: {e}");
        }
    }
}

/// The flags that work on a host whose own engine has a daemon.json: a
/// separate configuration, data, state and pid file; the socket in the
/// folder; no default bridge and no iptables rules (sandboxes run with no
/// network). The storage driver is dockerd's own choice (overlay2 where the
/// filesystem allows it).
fn dockerd_flags(dir: &Path, tcp: Option<u16>) -> Vec<String> {
    let at = |name: &str| dir.join(name).display().to_string();
    let mut flags = vec![
        format!("--config-file={}", at("daemon.json")),
        format!("--data-root={}", at("data")),
        format!("--exec-root={}", at("exec")),
        format!("--pidfile={}", at("pid")),
        format!("--host=unix://{}", at("docker.sock")),
        match tcp {
            None => "--bridge=none".into(),
            Some(port) => format!("--bridge={}", bridge_name(port)),
        },
        "--iptables=false".into(),
        "--ip6tables=false".into(),
        "--ip-masq=false".into(),
    ];
    if let Some(port) = tcp {
        // With --tlsverify dockerd asks every TCP client for a certificate
        // its CA signed; the unix socket stays as it is (plain, root only).
        flags.extend([
            format!("--host=tcp://127.0.0.1:{port}"),
            "--tlsverify".into(),
            format!("--tlscacert={}", at("tls/ca.pem")),
            format!("--tlscert={}", at("tls/server.pem")),
            format!("--tlskey={}", at("tls/server-key.pem")),
        ]);
    }
    flags
}

/// How dockerd is started: in a network namespace of its own, unless it
/// listens on the host's loopback (TLS), when its own bridge is made first.
fn namespace(tcp: Option<u16>) -> Vec<String> {
    match tcp {
        None => vec!["unshare".into(), "--net".into()],
        Some(port) => {
            let name = bridge_name(port);
            // Already there when the engine is restarted.
            let _ = Command::new("ip")
                .args(["link", "add", &name, "type", "bridge"])
                .stderr(Stdio::null())
                .status();
            Vec::new()
        }
    }
}

/// The bridge of a TLS engine listening on `port`.
fn bridge_name(port: u16) -> String {
    format!("rd-br{port}")
}

/// Whether the engine at `socket` answers `GET /_ping` with OK.
fn ping(socket: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains(" 200 ") && answer.ends_with("OK")
}

/// Waits for `child` at most `limit`; kills it if it did not exit.
fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut text));
    text
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = i32::try_from(child.id()).expect("a pid fits in i32");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

fn tail(file: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---- TLS on loopback ----

/// How long one `openssl` or `ss` call may take.
const TOOL_WITHIN: Duration = Duration::from_secs(30);

impl SecondEngine {
    /// Where its certificates are.
    fn tls_dir(&self) -> PathBuf {
        self.dir().join("tls")
    }

    /// A CA of its own and the engine's certificate from it, for the
    /// address a client dials (a client checks the IP against the name).
    fn make_server_certificate(&self) {
        let tls = self.tls_dir();
        std::fs::create_dir(&tls).expect("make the engine's tls folder");
        make_ca(&tls.join("ca"), "restore-drill test engine CA");
        issue(
            &tls.join("server"),
            &tls.join("ca"),
            "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
        );
    }

    /// A client certificate named `name`, signed by the CA at `ca` (its
    /// `.pem` and `-key.pem`), with the engine's CA to check the engine by.
    fn client_files(&self, name: &str, ca: &Path) -> TlsFiles {
        let base = self.tls_dir().join(name);
        issue(&base, ca, "extendedKeyUsage = clientAuth\n");
        TlsFiles {
            ca: pem(&self.tls_dir().join("ca"), ".pem"),
            cert: pem(&base, ".pem"),
            key: pem(&base, "-key.pem"),
        }
    }

    /// A client certificate from a CA the engine does not trust: everything
    /// else right (the engine's own CA to check the engine by), so only the
    /// client's certificate is refused.
    pub fn foreign_client(&self) -> TlsFiles {
        let other = self.tls_dir().join("other-ca");
        make_ca(&other, "a CA the engine does not trust");
        self.client_files("foreign-client", &other)
    }

    /// The engine's processes listen on no port but `tcp_host()`'s, and on
    /// none at all without TLS: what the module promises, checked.
    fn listens_on_loopback_only(&self) {
        let ours = processes_of(self.dir());
        let ss = tool("ss", &["-Hltunp"], self.dir());
        let listening: Vec<&str> = ss
            .lines()
            .filter(|l| ours.iter().any(|p| l.contains(&format!("pid={p},"))))
            .filter_map(|l| l.split_whitespace().nth(4))
            .collect();
        let expected: Vec<String> = self
            .tcp
            .map(|p| format!("127.0.0.1:{p}"))
            .into_iter()
            .collect();
        assert_eq!(
            listening, expected,
            "the second engine (processes {ours:?}) listens where it should not:\n{ss}"
        );
    }
}

/// A port of 127.0.0.1 free a moment ago: the kernel's pick, released for
/// dockerd to take (dockerd cannot say which port it took for port 0).
fn free_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("the bound port").port()
}

/// `BASE` + `suffix`: `BASE.pem`, `BASE-key.pem`.
fn pem(base: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", base.display()))
}

/// `fixed`'s words, then each flag with its value (a path may hold spaces).
fn argv(fixed: &str, pairs: &[(&str, String)]) -> Vec<String> {
    let mut args: Vec<String> = fixed.split_whitespace().map(String::from).collect();
    for (flag, value) in pairs {
        args.extend([flag.to_string(), value.clone()]);
    }
    args
}

/// A new P-256 key: quick to make, and both dockerd and rustls take it.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
/// What makes a certificate a CA's, for Go's checks and rustls's alike.
const CA_EXTENSIONS: &str =
    "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign";

/// A self-signed CA at `BASE.pem`, its key at `BASE-key.pem`.
fn make_ca(base: &Path, name: &str) {
    let p = |suffix| pem(base, suffix).display().to_string();
    let args = argv(
        &format!("req -x509 {NEW_KEY} -days 2 {CA_EXTENSIONS}"),
        &[
            ("-subj", format!("/CN={name}")),
            ("-keyout", p("-key.pem")),
            ("-out", p(".pem")),
        ],
    );
    tool("openssl", &args, base.parent().expect("a folder"));
}

/// A certificate at `BASE.pem` (key `BASE-key.pem`) signed by the CA at
/// `ca`, with `extensions` (lines of an openssl extension file).
fn issue(base: &Path, ca: &Path, extensions: &str) {
    let dir = base.parent().expect("a folder");
    let p = |at: &Path, suffix| pem(at, suffix).display().to_string();
    std::fs::write(pem(base, ".ext"), extensions).expect("write the extension file");
    let name = base.file_name().unwrap_or_default().to_string_lossy();
    let request = argv(
        &format!("req -new {NEW_KEY}"),
        &[
            ("-subj", format!("/CN={name}")),
            ("-keyout", p(base, "-key.pem")),
            ("-out", p(base, ".csr")),
        ],
    );
    tool("openssl", &request, dir);
    let sign = argv(
        "x509 -req -days 2 -CAcreateserial",
        &[
            ("-in", p(base, ".csr")),
            ("-CA", p(ca, ".pem")),
            ("-CAkey", p(ca, "-key.pem")),
            ("-extfile", p(base, ".ext")),
            ("-out", p(base, ".pem")),
        ],
    );
    tool("openssl", &sign, dir);
}

/// Runs `program` in `dir`; its output, or the test fails saying why.
fn tool<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    program: &str,
    args: &[S],
    dir: &Path,
) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program} (is it on PATH?): {e}"));
    // Its output is a few lines: it fits the pipe before the exit.
    let status = wait_within(&mut child, TOOL_WITHIN);
    let mut out = String::new();
    let _ = child.stdout.take().map(|mut o| o.read_to_string(&mut out));
    assert!(
        status.is_some_and(|s| s.success()),
        "{program} {args:?} failed ({status:?}, limit {TOOL_WITHIN:?}): {}",
        stderr_of(&mut child)
    );
    out
}

// ---- What an engine leaves on the host ----

/// Processes and mounts of the engine in `dir` still on the host.
pub fn leftovers(dir: &Path) -> (Vec<i32>, Vec<String>) {
    (processes_of(dir), mounts_under(dir))
}

/// Kills what still runs for `dir` and unmounts what is mounted under it;
/// returns what is left after that (nothing, normally).
fn clear_out(dir: &Path) -> (Vec<i32>, Vec<String>) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_of(dir).is_empty() && Instant::now() < deadline {
        for pid in processes_of(dir) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut mounts = mounts_under(dir);
    // Deepest first; lazily, so a busy one still goes.
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in &mounts {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
    leftovers(dir)
}

/// Processes of the engine in `dir`: its dockerd, containerd and the
/// containers' shims (their command lines name the folder), and the
/// containers' own processes. Those name nothing, and outlive a killed shim;
/// they are the ones with a mount from the folder at a place outside it
/// (/etc/hostname and the like are bound from it).
///
/// Not every process whose mounts merely name the folder: while the engine
/// has mounts, each mount namespace cloned from this one shows them, at
/// their place in the folder. That is init's, and another engine's
/// container between its start and its pivot_root; killing that one ends
/// another test's drill in runc's "error during container init".
fn processes_of(dir: &Path) -> Vec<i32> {
    let path = dir.display().to_string();
    // Also where the folder sits on a filesystem of its own (a tmpfs temp folder),
    // as a mount's root shows it.
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let Some(name) = name else { return Vec::new() };
    let mine = i32::try_from(std::process::id()).unwrap_or(-1);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let read = |pid: i32, file: &str| {
        let bytes = std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != mine)
        .filter(|pid| {
            read(*pid, "cmdline").contains(&path)
                || bound_elsewhere(&read(*pid, "mountinfo"), &name)
        })
        .collect()
}

/// Whether a mount of `mountinfo` comes from the folder `name` (its root,
/// field 4, names it) to a place outside it (its mount point, field 5).
fn bound_elsewhere(mountinfo: &str, name: &str) -> bool {
    mountinfo.lines().any(|l| {
        let mut fields = l.split(' ').skip(3);
        let (root, point) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        root.contains(name) && !point.contains(name)
    })
}

/// Mount points at or under `dir` (the data root's bind mount, overlays,
/// network namespaces).
fn mounts_under(dir: &Path) -> Vec<String> {
    let root = dir.display().to_string();
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| *m == root || m.starts_with(&format!("{root}/")))
        .map(String::from)
        .collect()
}

/// Removes the folders of engines whose test died without unwinding (a
/// runner's SIGKILL): nothing runs for them any more and they are over an
/// hour old, so no test being set up now owns them.
fn sweep_abandoned() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        let ours = e.file_name().to_string_lossy().starts_with(PREFIX);
        let abandoned = ours && old && path.is_dir() && processes_of(&path).is_empty();
        // Unmounted first: removing files under a live mount would reach into it.
        if abandoned && clear_out(&path) == (Vec::new(), Vec::new()) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

// ---- Watching sandboxes ----

/// What the sampler saw on one engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sampled {
    /// The most running sandboxes seen at one moment.
    pub max: usize,
    /// Samples answered by the engine.
    pub samples: usize,
    /// Samples the engine did not answer (stopped, or slower than 2 s).
    pub failed: usize,
    /// The latest answered count; None while the engine does not answer.
    pub last: Option<usize>,
}

/// Counts, every 200 ms on a thread of its own, the running containers
/// labelled as sandboxes on each engine: the proof that at no moment more
/// than so many ran on one engine.
pub struct SandboxSampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, Sampled>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SandboxSampler {
    /// Every sandbox on each of `hosts` (`unix://...` addresses).
    pub fn start(hosts: &[String]) -> SandboxSampler {
        Self::sampling(hosts, None)
    }

    /// Only the sandboxes of the restore-drill process `pid`: on an engine
    /// other tests share, another test's sandboxes are not counted.
    pub fn start_for_pid(hosts: &[String], pid: u32) -> SandboxSampler {
        Self::sampling(hosts, Some(pid))
    }

    fn sampling(hosts: &[String], pid: Option<u32>) -> SandboxSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(
            hosts
                .iter()
                .map(|h| (h.clone(), Sampled::default()))
                .collect(),
        ));
        let mut labels = vec![format!("{LABEL_ROLE}=sandbox")];
        labels.extend(pid.map(|p| format!("{LABEL_PID}={p}")));
        let (hosts, stop2, seen2) = (hosts.to_vec(), stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(sample_until(hosts, labels, stop2, seen2));
        });
        SandboxSampler {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// What was seen on `host` so far.
    pub fn seen(&self, host: &str) -> Sampled {
        self.seen.lock().expect("sampler state")[host]
    }

    /// Waits until a sandbox runs on `host`; fails the test after `limit`.
    pub fn wait_for_sandbox(&self, host: &str, limit: Duration) {
        let started = Instant::now();
        while self.seen(host).last.unwrap_or(0) == 0 {
            assert!(
                started.elapsed() < limit,
                "no sandbox ran on {host} within {limit:?}: {:?}",
                self.seen(host)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops sampling; what was seen, per host.
    pub fn finish(mut self) -> BTreeMap<String, Sampled> {
        self.halt();
        self.seen.lock().expect("sampler state").clone()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SandboxSampler {
    fn drop(&mut self) {
        self.halt();
    }
}

async fn sample_until(
    hosts: Vec<String>,
    labels: Vec<String>,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, Sampled>>>,
) {
    let mut engines: Vec<Option<bollard::Docker>> = vec![None; hosts.len()];
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for (host, engine) in hosts.iter().zip(engines.iter_mut()) {
            let count = running_sandboxes(host, engine, &labels).await;
            let mut seen = seen.lock().expect("sampler state");
            let s = seen.get_mut(host).expect("a sampled host");
            match count {
                Some(n) => {
                    s.max = s.max.max(n);
                    s.samples += 1;
                }
                None => s.failed += 1,
            }
            s.last = count;
        }
    }
}

/// Running containers with all of `labels` on `host`; None if the engine
/// did not answer within 2 s (the connection is then made anew next time:
/// the engine may have been restarted).
async fn running_sandboxes(
    host: &str,
    engine: &mut Option<bollard::Docker>,
    labels: &[String],
) -> Option<usize> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let limit = Duration::from_secs(2);
    if engine.is_none() {
        let d = bollard::Docker::connect_with_unix(host, 2, bollard::API_DEFAULT_VERSION).ok()?;
        // The API version is negotiated: engines older than bollard speak less.
        *engine = tokio::time::timeout(limit, d.negotiate_version())
            .await
            .ok()?
            .ok();
    }
    let filters = std::collections::HashMap::from([
        ("label".to_string(), labels.to_vec()),
        ("status".to_string(), vec!["running".to_string()]),
    ]);
    let options = ListContainersOptionsBuilder::new()
        .filters(&filters)
        .build();
    let listed = tokio::time::timeout(limit, engine.as_ref()?.list_containers(Some(options))).await;
    match listed {
        Ok(Ok(list)) => Some(list.len()),
        _ => {
            *engine = None;
            None
        }
    }
}
