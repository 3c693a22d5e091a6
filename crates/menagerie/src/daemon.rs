//! `menagerie server start|stop|status|restart|print-cmd`: zkServer.sh's verbs.
//!
//! `start` runs `menagerie server` as a background process (its own process group, stdin
//! from /dev/null, stdout and stderr appended to `menagerie-server.out` in the log directory)
//! and writes its pid to `zookeeper_server.pid` in the data directory, as zkServer.sh does.
//! It waits until the server reports ready (the same `sd_notify` message systemd gets, on a
//! socket of its own) or fails, and then prints `STARTED` or the error. `stop` sends SIGTERM
//! and waits for the process to end. `status` asks the server `srvr` and prints its `Mode:`
//! line; it exits 1 when no server answers. The log directory is `zookeeper.log.dir` /
//! `ZOO_LOG_DIR` if set, else `logs` under the data directory.

use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::serve::{Loaded, ServerArgs};

/// What to do with the background server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verb {
    /// Start the server in the background; the pid goes to the data directory.
    Start,
    /// Stop the server started by `start` (SIGTERM; waits until it has ended).
    Stop,
    /// Print the server's mode (standalone, leader, follower, observer); exit 1 when it does
    /// not answer.
    Status,
    /// `stop`, then `start`.
    Restart,
    /// Print the command line `start` runs.
    PrintCmd,
}

/// The pid file, in the data directory (zkServer.sh's `ZOOPIDFILE`).
pub const PID_FILE: &str = "zookeeper_server.pid";
/// The file the background server's stdout and stderr go to, in the log directory.
pub const OUT_FILE: &str = "menagerie-server.out";
/// How long `start` waits for the server to report ready (recovering a large data
/// directory takes a while).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `stop` waits for the server to end.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a verb; the exit status follows zkServer.sh.
pub fn run(verb: Verb, args: &ServerArgs) -> anyhow::Result<ExitCode> {
    let loaded = args.load()?;
    let plan = Plan::new(args, &loaded)?;
    match &loaded.config_path {
        Some(p) => eprintln!("Using config: {}", p.display()),
        None => eprintln!("Using config: built-in defaults"),
    }
    match verb {
        Verb::Start => plan.start(),
        Verb::Stop => plan.stop(),
        Verb::Status => Ok(status(&loaded)),
        Verb::Restart => {
            let stopped = plan.stop()?;
            if stopped != ExitCode::SUCCESS {
                return Ok(stopped);
            }
            plan.start()
        }
        Verb::PrintCmd => {
            println!("{}", plan.command_line());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Where things go for one server.
struct Plan {
    exe: PathBuf,
    /// The arguments after the executable.
    args: Vec<String>,
    pid_file: PathBuf,
    log_dir: PathBuf,
    /// `ZOO_LOG_DIR` for the child, unless the configuration names a log directory itself.
    set_log_dir: bool,
}

impl Plan {
    fn new(args: &ServerArgs, loaded: &Loaded) -> anyhow::Result<Plan> {
        let exe = std::env::current_exe().context("cannot find the menagerie executable")?;
        let mut argv = vec!["server".to_string()];
        if let Some(p) = &loaded.config_path {
            argv.extend(["--config".into(), p.display().to_string()]);
        }
        if let Some(port) = args.port {
            argv.extend(["--port".into(), port.to_string()]);
        }
        if loaded.config_path.is_none() {
            argv.extend([
                "--data-dir".into(),
                loaded.config.data_dir.display().to_string(),
            ]);
        }
        argv.push("--daemon-child".into());
        let data_dir = &loaded.config.data_dir;
        Ok(Plan {
            exe,
            args: argv,
            pid_file: data_dir.join(PID_FILE),
            log_dir: loaded
                .log
                .dir
                .clone()
                .unwrap_or_else(|| data_dir.join("logs")),
            set_log_dir: loaded.log.dir.is_none(),
        })
    }

    fn out_file(&self) -> PathBuf {
        self.log_dir.join(OUT_FILE)
    }

    fn command_line(&self) -> String {
        let mut s = String::new();
        if self.set_log_dir {
            s.push_str(&format!(
                "ZOO_LOG_DIR={} ",
                quote(&self.log_dir.display().to_string())
            ));
        }
        s.push_str(&quote(&self.exe.display().to_string()));
        for a in &self.args {
            s.push(' ');
            s.push_str(&quote(a));
        }
        s.push_str(&format!(
            " >> {} 2>&1 < /dev/null",
            quote(&self.out_file().display().to_string())
        ));
        s
    }

    fn start(&self) -> anyhow::Result<ExitCode> {
        eprint!("Starting menagerie ... ");
        if let Some(pid) = read_pid(&self.pid_file)
            && is_menagerie(pid)
        {
            eprintln!("already running as process {pid}.");
            return Ok(ExitCode::FAILURE);
        }
        std::fs::create_dir_all(&self.log_dir).with_context(|| {
            format!("cannot create the log directory {}", self.log_dir.display())
        })?;
        if let Some(dir) = self.pid_file.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create dataDir {}", dir.display()))?;
        }
        let ready = ReadySocket::bind()?;
        let mut child = self.spawn(&ready)?;
        std::fs::write(&self.pid_file, child.id().to_string())
            .with_context(|| format!("cannot write the pid file {}", self.pid_file.display()))?;
        match ready.wait(&mut child, START_TIMEOUT) {
            Ok(()) => {
                eprintln!(
                    "STARTED (process {}, pid file {})",
                    child.id(),
                    self.pid_file.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(Failure::Exited) => {
                let _ = std::fs::remove_file(&self.pid_file);
                eprintln!("FAILED TO START");
                eprint!("{}", tail(&self.out_file(), 10));
                Ok(ExitCode::FAILURE)
            }
            Err(Failure::TimedOut) => {
                eprintln!(
                    "not ready after {} s (process {} is still starting; see {})",
                    START_TIMEOUT.as_secs(),
                    child.id(),
                    self.out_file().display()
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }

    fn spawn(&self, ready: &ReadySocket) -> anyhow::Result<Child> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.out_file())
            .with_context(|| format!("cannot write {}", self.out_file().display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .env("NOTIFY_SOCKET", &ready.path)
            .process_group(0);
        if self.set_log_dir {
            cmd.env("ZOO_LOG_DIR", &self.log_dir);
        }
        cmd.spawn()
            .with_context(|| format!("cannot run {}", self.exe.display()))
    }

    fn stop(&self) -> anyhow::Result<ExitCode> {
        eprint!("Stopping menagerie ... ");
        let Some(pid) = read_pid(&self.pid_file) else {
            eprintln!(
                "no menagerie server to stop (could not find file {})",
                self.pid_file.display()
            );
            return Ok(ExitCode::SUCCESS);
        };
        if !is_menagerie(pid) {
            let _ = std::fs::remove_file(&self.pid_file);
            eprintln!("process {pid} is not running (stale pid file removed)");
            return Ok(ExitCode::SUCCESS);
        }
        kill(Pid::from_raw(pid), Signal::SIGTERM)
            .with_context(|| format!("cannot signal process {pid}"))?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while is_menagerie(pid) {
            if Instant::now() >= deadline {
                eprintln!(
                    "process {pid} did not stop within {} s",
                    STOP_TIMEOUT.as_secs()
                );
                return Ok(ExitCode::FAILURE);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(&self.pid_file);
        eprintln!("STOPPED");
        Ok(ExitCode::SUCCESS)
    }
}

/// `status`: zkServer.sh's lines, from the server's own `srvr` answer.
fn status(loaded: &Loaded) -> ExitCode {
    let addr = reachable(loaded.config.client_addr);
    println!(
        "Client port found: {}. Client address: {}. Client SSL: false.",
        addr.port(),
        addr.ip()
    );
    let answer = srvr(addr);
    match answer.as_deref().and_then(mode_line) {
        Some(mode) => {
            println!("Mode: {mode}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("Error contacting service. It is probably not running.");
            if let Some(text) = answer.filter(|t| t.contains("not currently serving")) {
                // zkServer.sh's line stays as it is for scripts; this says why.
                eprintln!(
                    "(it is running but answered \"{}\": an ensemble member that has not joined a serving quorum yet)",
                    text.trim()
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// The address to contact a server listening on `addr` (a wildcard address means loopback).
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The answer to `srvr`, if the server gives one within 5 s.
fn srvr(addr: SocketAddr) -> Option<String> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// `standalone` from `srvr`'s `Mode: standalone` line.
pub fn mode_line(srvr: &str) -> Option<String> {
    srvr.lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(|m| m.trim().to_string())
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live (not zombie) process running a `menagerie` executable. Guards
/// `stop` against a pid file left behind and reused by an unrelated process.
fn is_menagerie(pid: i32) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    if !proc_dir.exists() {
        return true; // no /proc: trust the signal check
    }
    let zombie = std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true);
    let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    !zombie && String::from_utf8_lossy(argv0).contains("menagerie")
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let Ok(f) = std::fs::File::open(path) else {
        return String::new();
    };
    let lines: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .collect();
    let mut out = String::new();
    for l in &lines[lines.len().saturating_sub(n)..] {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// A word for a POSIX shell, quoted if it needs to be.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Why the server did not become ready.
enum Failure {
    Exited,
    TimedOut,
}

/// The socket the child's `READY=1` arrives on (its path is the child's `NOTIFY_SOCKET`).
struct ReadySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl ReadySocket {
    fn bind() -> anyhow::Result<ReadySocket> {
        let path =
            std::env::temp_dir().join(format!("menagerie-start-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(ReadySocket { socket, path })
    }

    /// Waits until the child says `READY=1`, exits, or `timeout` passes.
    fn wait(&self, child: &mut Child, timeout: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == "READY=1")
            {
                return Ok(());
            }
            if !matches!(child.try_wait(), Ok(None)) {
                return Err(Failure::Exited);
            }
        }
        Err(Failure::TimedOut)
    }
}

impl Drop for ReadySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_addresses() {
        let srvr = "Zookeeper version: 3.9.3-menagerie-0.1.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(mode_line(srvr).as_deref(), Some("follower"));
        assert_eq!(
            mode_line("srvr is not executed because it is not in the whitelist.\n"),
            None
        );
        assert_eq!(
            reachable("0.0.0.0:2181".parse().expect("addr")).to_string(),
            "127.0.0.1:2181"
        );
        assert_eq!(
            reachable("10.1.2.3:2181".parse().expect("addr")).to_string(),
            "10.1.2.3:2181"
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(quote("/usr/bin/menagerie"), "/usr/bin/menagerie");
        assert_eq!(quote("/a b/zoo.cfg"), "'/a b/zoo.cfg'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
