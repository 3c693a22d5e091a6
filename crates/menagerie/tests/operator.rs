//! Operating the `menagerie` binary as ZooKeeper operators do: zkServer.sh's verbs, rotated
//! log files, systemd readiness, the startup banner and one-line startup errors. Every test
//! runs the real binary; a client nobody here wrote (the `zookeeper-client` crate) checks
//! that the server serves. Processes left running by a failing test are stopped by pid.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_menagerie");

/// A port free right now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn menagerie(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ZOO_LOG_DIR")
        .env_remove("NOTIFY_SOCKET")
        .output()
        .expect("run menagerie")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A zoo.cfg in `dir` with a client port and no admin server, plus `extra` lines.
fn zoo_cfg(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let path = dir.join("zoo.cfg");
    let cfg = format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n{extra}",
        dir.join("data").display()
    );
    std::fs::write(&path, cfg).expect("write zoo.cfg");
    path
}

/// Stops the background server of a data directory when dropped (a failing test too).
struct PidFileGuard(PathBuf);

impl Drop for PidFileGuard {
    fn drop(&mut self) {
        let Ok(pid) = std::fs::read_to_string(&self.0) else {
            return;
        };
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Kills a child process when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn create_node(port: u16, path: &str) {
    let client = tokio::time::timeout(
        Duration::from_secs(10),
        zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(5))
            .connect(&format!("127.0.0.1:{port}")),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    client
        .create(
            path,
            b"v",
            &zookeeper_client::CreateMode::Persistent
                .with_acls(zookeeper_client::Acls::anyone_all()),
        )
        .await
        .expect("create");
}

async fn node_exists(port: u16, path: &str) -> bool {
    let client = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(5))
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .expect("connect");
    client.check_stat(path).await.expect("exists").is_some()
}

#[tokio::test]
async fn daemon_verbs_start_status_restart_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = zoo_cfg(dir.path(), port, "");
    let cfg = cfg.to_str().expect("utf-8 path");
    let pid_file = dir.path().join("data/zookeeper_server.pid");
    let _guard = PidFileGuard(pid_file.clone());

    let out = menagerie(&["server", "status", "--config", cfg]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "status of a stopped server: {out:?}"
    );
    assert!(
        text(&out.stderr).contains("It is probably not running"),
        "{out:?}"
    );

    let out = menagerie(&["server", "start", "--config", cfg]);
    assert!(out.status.success(), "start: {out:?}");
    assert!(text(&out.stderr).contains("STARTED"), "{out:?}");
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    let out = menagerie(&["server", "status", "--config", cfg]);
    assert!(out.status.success(), "status: {out:?}");
    assert!(text(&out.stdout).contains("Mode: standalone"), "{out:?}");
    create_node(port, "/kept").await;

    let out = menagerie(&["server", "start", "--config", cfg]);
    assert_eq!(out.status.code(), Some(1), "second start: {out:?}");
    assert!(text(&out.stderr).contains(&format!("already running as process {}", pid.trim())));

    let out = menagerie(&["server", "restart", "--config", cfg]);
    assert!(out.status.success(), "restart: {out:?}");
    let new_pid = std::fs::read_to_string(&pid_file).expect("pid file after restart");
    assert_ne!(pid, new_pid, "restart runs a new process");
    assert!(node_exists(port, "/kept").await, "data survives a restart");

    let out = menagerie(&["server", "stop", "--config", cfg]);
    assert!(out.status.success(), "stop: {out:?}");
    assert!(text(&out.stderr).contains("STOPPED"), "{out:?}");
    assert!(!pid_file.exists(), "stop removes the pid file");
    let pid: i32 = new_pid.trim().parse().expect("pid");
    assert!(
        kill(Pid::from_raw(pid), None).is_err() || is_zombie(pid),
        "the server process has ended"
    );
    let out = menagerie(&["server", "status", "--config", cfg]);
    assert_eq!(out.status.code(), Some(1), "status after stop: {out:?}");
    let out = menagerie(&["server", "stop", "--config", cfg]);
    assert!(
        text(&out.stderr).contains("no menagerie server to stop"),
        "{out:?}"
    );
    let cmd = text(&menagerie(&["server", "print-cmd", "--config", cfg]).stdout);
    assert!(
        cmd.contains("server --config") && cmd.contains(cfg),
        "{cmd}"
    );
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn start_reports_a_server_that_cannot_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The port is taken: the server fails after the configuration was read.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let cfg = zoo_cfg(dir.path(), port, "");
    let out = menagerie(&["server", "start", "--config", cfg.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("FAILED TO START") && err.contains("cannot start the server"),
        "{err}"
    );
    assert!(!dir.path().join("data/zookeeper_server.pid").exists());
}

#[tokio::test]
async fn log_files_rotate_by_size_without_colours() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let logs = dir.path().join("logs");
    // Warnings of refused connections are rate-limited (issue 16), so the volume comes from
    // debug lines: one per connection that closes.
    let cfg = zoo_cfg(
        dir.path(),
        port,
        &format!(
            "zookeeper.log.dir={}\nzookeeper.log.maxfilesize=4KB\nzookeeper.log.maxbackupindex=2\n",
            logs.display()
        ),
    );
    let cfg = cfg.to_str().expect("utf-8 path");
    let _guard = PidFileGuard(dir.path().join("data/zookeeper_server.pid"));
    let out = Command::new(BIN)
        .args(["server", "start", "--config", cfg])
        .env_remove("ZOO_LOG_DIR")
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "debug")
        .output()
        .expect("run menagerie");
    assert!(out.status.success(), "start: {out:?}");
    for _ in 0..200 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // A length prefix over jute.maxbuffer: the server closes the connection.
        s.write_all(&[0x7f, 0xff, 0xff, 0xff]).expect("write");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = s.read(&mut [0u8; 16]); // closed by the server
    }
    let out = menagerie(&["server", "stop", "--config", cfg]);
    assert!(out.status.success(), "stop: {out:?}");
    let names: Vec<String> = std::fs::read_dir(&logs)
        .expect("log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for name in ["zookeeper.log", "zookeeper.log.1", "zookeeper.log.2"] {
        assert!(names.contains(&name.to_string()), "{name} in {names:?}");
    }
    assert!(!names.contains(&"zookeeper.log.3".to_string()), "{names:?}");
    for name in ["zookeeper.log.1", "zookeeper.log.2"] {
        let body = std::fs::read_to_string(logs.join(name)).expect("read log");
        assert!(body.len() < 4096 + 1024, "{name}: {} bytes", body.len());
        assert!(!body.contains('\u{1b}'), "{name} has ANSI escapes");
        assert!(body.contains("DEBUG"), "{name}: {body}");
    }
    // The banner is at the start of the log.
    let out = std::fs::read_to_string(logs.join("menagerie-server.out")).unwrap_or_default();
    assert!(!out.contains("panicked"), "{out}");
}

/// Waits up to 30 s for a datagram containing `line` on `socket`.
fn expect_notify(socket: &UnixDatagram, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf)
            && text(&buf[..n]).lines().any(|l| l == line)
        {
            return;
        }
    }
    panic!("no {line} within 30 s");
}

#[tokio::test]
async fn foreground_quick_start_notifies_readiness_and_prints_a_banner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let sock_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let data = dir.path().join("quick");
    let child = Command::new(BIN)
        .args(["server", "--port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("RUST_LOG", "info")
        .env_remove("ZOO_LOG_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut child = ChildGuard(child);
    expect_notify(&socket, "READY=1");
    create_node(port, "/quick").await;
    assert!(data.join("version-2").is_dir(), "data under --data-dir");
    kill(Pid::from_raw(child.0.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    expect_notify(&socket, "STOPPING=1");
    let status = child.0.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert!(!err.contains('\u{1b}'), "ANSI escapes on a pipe: {err}");
    let data_abs = data.display().to_string();
    for needle in [
        "menagerie starting",
        "version=\"0.1.0\"",
        "built-in defaults",
        data_abs.as_str(),
        &format!("127.0.0.1:{port}"),
        "logging to stderr",
    ] {
        assert!(err.contains(needle), "banner lacks {needle:?}: {err}");
    }
}

#[test]
fn startup_errors_are_one_line_naming_key_value_and_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(&cfg, "tickTime=2O00\ndataDir=/tmp/x\nclientPort=2181\n").expect("write");
    let out = Command::new(BIN)
        .args(["server", "--config"])
        .arg(&cfg)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for needle in ["tickTime", "2O00", &cfg.display().to_string()] {
        assert!(err.contains(needle), "{needle:?} missing: {err}");
    }
    let out = menagerie(&["server", "--config", "/nonexistent/zoo.cfg"]);
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/zoo.cfg"), "{err}");
}

/// The shipped unit: a notify service running `menagerie server --config`, stopped with
/// SIGTERM. (CI also runs `systemd-analyze verify` on it: scripts/check_systemd_unit.sh.)
#[test]
fn unit_file_runs_the_server_with_readiness() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/systemd/menagerie.service"),
    )
    .expect("unit file");
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (k, v) = line.split_once('=').expect("key=value line");
        keys.push((section.clone(), k.to_string(), v.to_string()));
    }
    let get = |s: &str, k: &str| {
        keys.iter()
            .find(|(sec, key, _)| sec == s && key == k)
            .map(|(_, _, v)| v.as_str())
    };
    assert_eq!(get("Service", "Type"), Some("notify"));
    assert_eq!(get("Service", "KillSignal"), Some("SIGTERM"));
    let exec = get("Service", "ExecStart").expect("ExecStart");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert!(words[0].ends_with("/menagerie"), "{exec}");
    assert_eq!(&words[1..3], ["server", "--config"], "{exec}");
    assert_eq!(get("Install", "WantedBy"), Some("multi-user.target"));
    // The flags it uses are the binary's.
    let help = text(&menagerie(&["server", "--help"]).stdout);
    assert!(help.contains("--config"), "{help}");
}

#[test]
fn inspect_of_a_missing_file_says_so_and_not_damaged() {
    let out = menagerie(&["inspect", "/nonexistent/log.1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot read /nonexistent/log.1"), "{err}");
    assert!(!err.contains("damaged"), "{err}");
}

fn snapshots(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("version-2"))
        .expect("version-2")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("snapshot."))
        })
        .count()
}

#[tokio::test]
async fn purge_keeps_the_newest_snapshots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = zoo_cfg(dir.path(), port, "snapCount=2\n");
    let cfg = cfg.to_str().expect("utf-8 path");
    let _guard = PidFileGuard(dir.path().join("data/zookeeper_server.pid"));
    assert!(
        menagerie(&["server", "start", "--config", cfg])
            .status
            .success()
    );
    for i in 0..40 {
        create_node(port, &format!("/n{i}")).await;
    }
    // Let the last snapshot the creates asked for finish (a busy machine may still be
    // writing it; one cut short by the stop is not a complete snapshot to keep or count).
    let data = dir.path().join("data");
    let mut seen = snapshots(&data);
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let now = snapshots(&data);
        if now == seen {
            break;
        }
        seen = now;
    }
    assert!(
        menagerie(&["server", "stop", "--config", cfg])
            .status
            .success()
    );
    let before = snapshots(&data);
    assert!(before > 3, "{before} snapshots");
    let out = menagerie(&["purge", "--config", cfg, "-n", "2"]);
    assert!(!out.status.success(), "fewer than 3 refused: {out:?}");
    let out = menagerie(&["purge", "--config", cfg]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(snapshots(&data), 3, "{out:?}");
    assert!(
        text(&out.stdout).contains(&format!("removed {} snapshots", before - 3)),
        "{out:?}"
    );
    // The server starts on what is left, with every node.
    assert!(
        menagerie(&["server", "start", "--config", cfg])
            .status
            .success()
    );
    assert!(node_exists(port, "/n39").await);
    assert!(
        menagerie(&["server", "stop", "--config", cfg])
            .status
            .success()
    );
}
