//! A real Java ZooKeeper for interoperability tests (Debian's `zookeeper` package), shared by
//! the storage and host tests (`#[path]`): prerequisites, start/kill, and kazoo scripts.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const JARS: &[&str] = &[
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
    // Netty: a quorum TLS member's accept side (UnifiedServerSocket) needs it.
    "/usr/share/java/netty-common.jar",
    "/usr/share/java/netty-buffer.jar",
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-handler.jar",
    "/usr/share/java/netty-transport.jar",
    "/usr/share/java/netty-resolver.jar",
];

/// How long a Java server may take to open its client port.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the Java interoperability tests cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    let ok = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(Command::new("java").arg("-version")) {
        return Some("java not found".into());
    }
    if !Path::new(JARS[0]).exists() {
        return Some(format!("{} not found", JARS[0]));
    }
    if !ok(Command::new("python3").args(["-c", "import kazoo"])) {
        return Some("python3 with kazoo not found".into());
    }
    None
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running Java ZooKeeper; killed (SIGKILL) and reaped on drop.
pub struct JavaServer {
    child: Child,
    /// Its client port.
    pub port: u16,
    log: PathBuf,
}

impl Drop for JavaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl JavaServer {
    /// A standalone server on `data_dir` (snapCount=20).
    pub fn start(work: &Path, data_dir: &Path) -> JavaServer {
        let port = free_port();
        let cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\nsnapCount=20\n",
            data_dir.display()
        );
        JavaServer::run(
            work,
            &cfg,
            port,
            "org.apache.zookeeper.server.ZooKeeperServerMain",
        )
    }

    /// `QuorumPeerMain` on the configuration file `cfg` (which names client port `port`).
    pub fn start_quorum(work: &Path, cfg: &Path, port: u16) -> JavaServer {
        JavaServer::start_quorum_with(work, cfg, port, &[])
    }

    /// [`JavaServer::start_quorum`] with extra JVM flags (`-Dname=value`).
    pub fn start_quorum_with(work: &Path, cfg: &Path, port: u16, flags: &[String]) -> JavaServer {
        let text = std::fs::read_to_string(cfg).expect("read zoo.cfg");
        JavaServer::run_with(
            work,
            &text,
            port,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            flags,
        )
    }

    fn run(work: &Path, cfg_text: &str, port: u16, main: &str) -> JavaServer {
        JavaServer::run_with(work, cfg_text, port, main, &[])
    }

    fn run_with(
        work: &Path,
        cfg_text: &str,
        port: u16,
        main: &str,
        flags: &[String],
    ) -> JavaServer {
        let cfg = work.join(format!("zoo-{port}.cfg"));
        std::fs::write(&cfg, cfg_text).expect("write zoo.cfg");
        let log = work.join(format!("server-{port}.log"));
        let log4j = work.join("log4j.properties");
        std::fs::write(
            &log4j,
            format!(
                "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n\
                 log4j.appender.F.File={}\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.F.layout.ConversionPattern=%d{{ISO8601}} %-5p [%t] %c{{1}}: %m%n\n",
                work.join("server.log").display()
            ),
        )
        .expect("write log4j.properties");
        let cp: Vec<&str> = JARS
            .iter()
            .copied()
            .filter(|j| Path::new(j).exists())
            .collect();
        let child = Command::new("java")
            .args([
                "-Xms64m",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.extendedTypesEnabled=true",
                "-Dznode.container.checkIntervalMs=100",
                "-Dzookeeper.admin.enableServer=false",
                "-Djava.net.preferIPv4Stack=true",
            ])
            .arg(format!("-Dlog4j.configuration=file:{}", log4j.display()))
            .args(flags)
            .arg("-cp")
            .arg(cp.join(":"))
            .arg(main)
            .arg(&cfg)
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("stdout log"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start java");
        let server = JavaServer { child, port, log };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Java ZooKeeper did not start; see {}",
                server.log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The log file its stdout goes to.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `127.0.0.1:<port>`.
    pub fn hostport(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Runs a kazoo script (`python3 -c SCRIPT HOST:PORT`); fails the test if it fails.
pub fn python(script: &str, hostport: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script, hostport])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
