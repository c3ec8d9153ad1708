#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Throwaway containers: readiness, streamed exec stdin, no network, and
//! cleanup whatever happens (including SIGKILL of the tool, then `gc`).

mod common;

use common::*;
use restore_drill::engine::{AnyConnection, EngineKind};
use restore_drill::sandbox::{self, exec, ExecRequest, RunId, Sandbox, SandboxSpec};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The sandbox is a sealed box: from inside, loopback is its only interface
/// and it has no route at all; Docker says it has no network, no capability
/// beyond the entrypoint's, `no-new-privileges`, and no password in its
/// environment. Nothing is sent anywhere to find this out.
#[tokio::test]
async fn sandbox_is_ready_quickly_with_no_network_and_no_powers() {
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    let spec = SandboxSpec::new(EngineKind::Postgres, PG15);
    let started = Instant::now();
    let sb = Sandbox::start(&docker, &run, &spec).await.expect("start");
    // Ready means a restore can begin: prove it with a real login, through
    // the socket folder shared with this host.
    let mut conn = restore_drill::engine::postgres::connect(&sb.url(), Duration::from_secs(5))
        .await
        .expect("login through the socket");
    let ready = started.elapsed();
    eprintln!(
        "sandbox ready to accept a restore after {:.2} s",
        ready.as_secs_f64()
    );
    let v = restore_drill::engine::postgres::server_version(&mut conn)
        .await
        .expect("version");
    assert!(v.starts_with("15."), "{v}");

    let inside = |cmd: &'static [&'static str]| {
        let docker = docker.clone();
        let container = sb.container.clone();
        async move {
            let out = exec(&docker, &container, ExecRequest::new(cmd.to_vec()))
                .await
                .expect("exec");
            assert_eq!(out.exit_code(), Some(0), "{cmd:?}: {}", out.stderr_text());
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let links = inside(&["ip", "-o", "link"]).await;
    let names: Vec<&str> = links.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"], "{links}");
    let routes = inside(&["ip", "route"]).await;
    assert!(routes.trim().is_empty(), "routes: {routes}");
    let routes6 = inside(&["ip", "-6", "route"]).await;
    assert!(!routes6.contains("default"), "routes: {routes6}");

    let info = docker
        .inspect_container(&sb.container, None)
        .await
        .expect("inspect");
    let host = info.host_config.unwrap_or_default();
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    let mut added = host.cap_add.unwrap_or_default();
    added.sort();
    assert_eq!(
        added,
        [
            "CHOWN",
            "DAC_OVERRIDE",
            "FOWNER",
            "KILL",
            "SETGID",
            "SETUID"
        ],
        "no capability beyond the entrypoint's (no NET_RAW)"
    );
    assert!(
        host.security_opt
            .unwrap_or_default()
            .iter()
            .any(|o| o.starts_with("no-new-privileges")),
        "no-new-privileges"
    );
    assert_eq!(host.pids_limit, Some(512));
    let env = info.config.and_then(|c| c.env).unwrap_or_default();
    assert!(
        env.iter()
            .all(|e| !e.to_ascii_uppercase().contains("PASSWORD=")),
        "{env:?}"
    );
    let networks = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    assert!(networks.keys().all(|n| n == "none"), "{networks:?}");
    // Nothing published on the host.
    assert!(
        host.port_bindings
            .unwrap_or_default()
            .values()
            .all(|b| b.is_none()),
        "ports published"
    );
    // The socket folder is private to this user.
    use std::os::unix::fs::PermissionsExt;
    let parent = sb.socket_dir.parent().unwrap();
    let mode = std::fs::metadata(parent).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", parent.display());

    sandbox::gc::cleanup_run(&docker, &run)
        .await
        .expect("cleanup");
    assert_eq!(labelled(&docker, Some(&run.id)).await, (0, 0));
    assert!(
        !sb.socket_dir.exists(),
        "the socket folder goes with the run"
    );
}

#[tokio::test]
async fn a_100_mb_stream_reaches_exec_stdin_whole_and_ends_with_eof() {
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    let sb = Sandbox::start(&docker, &run, &SandboxSpec::new(EngineKind::Postgres, PG15))
        .await
        .expect("start");
    const TOTAL: usize = 100 << 20;
    let (tx, rx) = mpsc::channel(8);
    // Deterministic, incompressible-looking bytes, hashed as they are sent.
    let producer = tokio::spawn(async move {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut sent = 0usize;
        while sent < TOTAL {
            let n = (TOTAL - sent).min(1 << 20);
            let mut chunk = Vec::with_capacity(n);
            while chunk.len() < n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.extend_from_slice(&state.to_le_bytes());
            }
            chunk.truncate(n);
            hasher.update(&chunk);
            sent += n;
            tx.send(Ok(bytes::Bytes::from(chunk))).await.expect("send");
        }
        hex::encode(hasher.finalize())
    });
    // sha256sum prints only after EOF: the exec completing with the hash proves
    // EOF arrived. dd counts the bytes on the way.
    let out = exec(
        &docker,
        &sb.container,
        ExecRequest::new([
            "sh",
            "-c",
            "dd bs=65536 2>/tmp/dd.log | sha256sum && cat /tmp/dd.log",
        ])
        .stdin(rx),
    )
    .await
    .expect("exec");
    let expected = producer.await.expect("producer");
    assert_eq!(out.exit_code(), Some(0), "{}", out.stderr_text());
    assert_eq!(out.stdin_bytes, TOTAL as u64);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.split_whitespace().next(),
        Some(expected.as_str()),
        "{text}"
    );
    assert!(
        text.contains(&format!("{TOTAL} bytes")),
        "dd inside the container counted otherwise: {text}"
    );
    sandbox::gc::cleanup_run(&docker, &run)
        .await
        .expect("cleanup");
}

/// A command that stops reading its input and never exits (here: it never
/// reads at all) must not hang its caller: the stalled write ends the feeding,
/// and the command is abandoned once its short grace is over.
#[tokio::test]
async fn a_command_that_stops_reading_and_never_exits_is_ended_by_its_limits() {
    let docker = docker().await;
    let run = RunId::new();
    let _cleanup = Cleanup::new(&run);
    let sb = Sandbox::start(&docker, &run, &SandboxSpec::new(EngineKind::Postgres, PG15))
        .await
        .expect("sandbox");
    let (tx, rx) = mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    // Far more than any pipe holds, sent as long as anyone takes it.
    tokio::spawn(async move {
        for _ in 0..1024 {
            if tx
                .send(Ok(bytes::Bytes::from(vec![7u8; 1 << 20])))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let limits = sandbox::Limits {
        stall: Duration::from_secs(2),
        finish: Duration::from_secs(60),
        exit_after_abort: Duration::from_secs(2),
    };
    let t = Instant::now();
    let out = exec(
        &docker,
        &sb.container,
        ExecRequest::new(["sleep", "3600"]).stdin(rx).limits(limits),
    )
    .await
    .expect("exec");
    let took = t.elapsed();
    assert_eq!(out.stdin_error, Some(sandbox::StdinError::Stalled));
    assert_eq!(out.ended, sandbox::Ended::Abandoned);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    sandbox::gc::cleanup_run(&docker, &run)
        .await
        .expect("cleanup");
}

/// On an engine that is not this machine there is no folder to share: the
/// sandbox mounts nothing of this host, keeps no network, and both engines'
/// databases are reached through the relay exec'd inside it, by the
/// administrator and by the read-only role alike.
#[tokio::test]
async fn a_relayed_sandbox_shares_no_folder_and_is_reached_through_docker() {
    let docker = docker().await;
    let run = RunId::new().relayed();
    let _cleanup = Cleanup::new(&run);
    for (engine, image) in [
        (EngineKind::Postgres, PG15),
        (EngineKind::Mariadb, "restore-drill/mariadb:10.11"),
    ] {
        let sb = Sandbox::start(&docker, &run, &SandboxSpec::new(engine, image))
            .await
            .expect("start");
        let info = docker.inspect_container(&sb.container, None).await.unwrap();
        let mounts = info.mounts.unwrap_or_default();
        assert!(mounts.is_empty(), "{engine:?}: mounts {mounts:?}");
        let host = info.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        // Several connections at once, each its own relay.
        let (admin_url, reader_url) = (sb.url(), sb.reader_url());
        let (admin, reader) = tokio::join!(
            AnyConnection::connect(engine, &admin_url),
            AnyConnection::connect(engine, &reader_url),
        );
        let (mut admin, mut reader) = (admin.expect("admin"), reader.expect("reader"));
        admin
            .execute("CREATE TABLE t (n INT)")
            .await
            .expect("create");
        admin
            .execute("INSERT INTO t VALUES (41), (1)")
            .await
            .expect("insert");
        assert_eq!(admin.integers("SELECT SUM(n) FROM t").await.unwrap(), [42]);
        assert_eq!(reader.integers("SELECT 6 * 7").await.unwrap(), [42]);
    }
}
