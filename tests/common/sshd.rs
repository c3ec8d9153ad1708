//! An ssh server of the test's own on 127.0.0.1, for a fleet's `ssh://`
//! engine: this machine's Docker reached as another machine's would be,
//! through sshd and `docker system dial-stdio`. Everything it reads and
//! writes is in a temp folder: its host key, its configuration, the client's
//! keys, configuration and known hosts.
//!
//! The client side is a folder holding an `ssh` that runs the real one with
//! that configuration: put first on the drill's PATH, it is the `ssh` that
//! bollard drives, and root's own ssh configuration, keys, agent and known
//! hosts are never read or written.
//!
//! Needs root (sshd drops privileges to the sshd user), /usr/sbin/sshd and
//! ssh-keygen (Debian's openssh-server and openssh-client).

use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";
/// The name the client's configuration gives the server (with its address
/// and port): an ssh:// engine takes no port of its own.
pub const ALIAS: &str = "sshd-under-test";
/// How long sshd may take to accept connections on its port.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Which key the client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKey {
    /// The one in the server's authorized_keys.
    Authorized,
    /// A key the server has never seen: it refuses the login.
    Stranger,
}

/// A running sshd and the client configuration that reaches it.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    daemon: Child,
}

impl Sshd {
    /// Keys, configuration and sshd on a free port; waits until it accepts.
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("rd-sshd-")
            .tempdir()
            .expect("make the sshd's folder");
        let at = |name: &str| dir.path().join(name);
        keygen(&at("host_key"));
        keygen(&at("client_key"));
        keygen(&at("stranger_key"));
        std::fs::copy(at("client_key.pub"), at("authorized_keys")).expect("authorize the key");
        let port = free_port();
        std::fs::write(at("sshd_config"), server_config(dir.path(), port))
            .expect("write sshd_config");
        privilege_separation_dir();
        let daemon = launch(dir.path());
        let mut sshd = Sshd { dir, port, daemon };
        sshd.wait_ready();
        sshd.use_key(ClientKey::Authorized);
        std::fs::create_dir(sshd.wrapper()).expect("make the ssh wrapper's folder");
        write_wrapper(&sshd.wrapper().join("ssh"), &sshd.dir().join("ssh_config"));
        sshd
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The fleet file's `host` for this machine's engine through this server.
    pub fn engine_url(&self) -> String {
        format!("ssh://root@{ALIAS}")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The folder whose `ssh` reaches this server with the test's keys.
    pub fn wrapper(&self) -> PathBuf {
        self.dir().join("bin")
    }

    /// The client's known hosts: empty until the first login adds the key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// What a child's environment needs to reach this server through the
    /// wrapper: PATH with it first, and XDG_STATE_HOME in the temp folder
    /// (the openssh crate keeps its ControlMaster socket there, by default
    /// under the user's home).
    pub fn client_env(&self) -> Vec<(String, OsString)> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.wrapper()];
        paths.extend(std::env::split_paths(&path));
        let state = self.dir().join("state");
        std::fs::create_dir_all(&state).expect("make the client's state folder");
        vec![
            ("PATH".into(), std::env::join_paths(paths).expect("a PATH")),
            ("XDG_STATE_HOME".into(), state.into_os_string()),
        ]
    }

    /// Points the client at `key` (the wrapper reads its configuration at
    /// each run).
    pub fn use_key(&self, key: ClientKey) {
        let file = match key {
            ClientKey::Authorized => "client_key",
            ClientKey::Stranger => "stranger_key",
        };
        let text = client_config(self.port, &self.dir().join(file), &self.known_hosts());
        std::fs::write(self.dir().join("ssh_config"), text).expect("write ssh_config");
    }

    /// ssh clients still running with this server's client configuration:
    /// ControlMasters the drill left behind, say.
    pub fn clients_left(&self) -> Vec<String> {
        let ours = self.dir().join("ssh_config").display().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|p| p.parse::<u32>().is_ok())
            })
            .filter_map(|e| {
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                cmd.contains(&ours).then_some(cmd)
            })
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("sshd.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        let to = (Ipv4Addr::LOCALHOST, self.port);
        while TcpStream::connect_timeout(&to.into(), Duration::from_secs(1)).is_err() {
            let exited = self.daemon.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > READY_WITHIN {
                let why = match exited {
                    Some(s) => format!("sshd exited ({s})"),
                    None => format!("port {} not accepting within {READY_WITHIN:?}", self.port),
                };
                panic!(
                    "the test's sshd did not come up: {why}. Its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "restore-drill-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen (openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port nothing listens on now (the kernel's choice; sshd binds it next).
fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    l.local_addr().expect("its address").port()
}

fn server_config(dir: &Path, port: u16) -> String {
    let at = |name: &str| dir.join(name).display().to_string();
    format!(
        "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
         PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM no\n\
         # The key files sit under the temp folder, world-writable and sticky: strict modes refuse that.\n\
         StrictModes no\n",
        at("host_key"),
        at("authorized_keys"),
        at("sshd.pid"),
    )
}

fn client_config(port: u16, key: &Path, known_hosts: &Path) -> String {
    format!(
        "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n\
         Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  \
         UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
         StrictHostKeyChecking accept-new\n  BatchMode yes\n",
        key.display(),
        known_hosts.display()
    )
}

/// sshd refuses to start without its privilege separation folder, which
/// the package's service (not run here) would create.
fn privilege_separation_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.is_dir() {
        std::fs::create_dir_all(dir).expect("create /run/sshd");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod /run/sshd");
    }
}

fn launch(dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("sshd.log")).expect("create sshd.log");
    // -D: stays in the foreground, a child of the test; -e: logs to stderr.
    Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log's handle"))
        .stderr(log)
        .spawn()
        .expect("start /usr/sbin/sshd (needs root and openssh-server)")
}

fn write_wrapper(path: &Path, config: &Path) {
    let script = format!(
        "#!/bin/sh\n# The test's ssh: its own keys and known hosts, none of the user's.\nexec {SSH} -F {} \"$@\"\n",
        config.display()
    );
    std::fs::write(path, script).expect("write the ssh wrapper");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the ssh wrapper");
}
