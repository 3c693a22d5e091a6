//! ZooKeeper settings given as JVM system properties (issue 16): `-D` words of
//! `SERVER_JVMFLAGS`/`JVMFLAGS` and of `java.env` in the configuration directory configure
//! the real binary as they configure ZooKeeper, with zoo.cfg winning. Four-letter words and
//! a client nobody here wrote (the `zookeeper-client` crate) see the effect.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zookeeper_client as zk;

mod common;
use common::{four_letter, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_menagerie");

/// Kills the server when dropped (a failing test too) and keeps its stderr.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Stops the server and returns what it wrote on stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

/// `dir/conf/zoo.cfg` with a client port, no admin server and `extra` lines.
fn zoo_cfg(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).expect("conf dir");
    let path = conf.join("zoo.cfg");
    let cfg = format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n{extra}",
        dir.join("data").display()
    );
    std::fs::write(&path, cfg).expect("write zoo.cfg");
    path
}

/// Starts the binary on `cfg` with `SERVER_JVMFLAGS` set to `flags` (and no other JVM flag
/// variables) and waits until it answers a four-letter word.
fn start(cfg: &Path, port: u16, flags: &str) -> Server {
    let child = Command::new(BIN)
        .args(["server", "--config"])
        .arg(cfg)
        .env("SERVER_JVMFLAGS", flags)
        .env("RUST_LOG", "info")
        .env_remove("JVMFLAGS")
        .env_remove("ZOOCFGDIR")
        .env_remove("ZOO_LOG_DIR")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let server = Server { child };
    let deadline = Instant::now() + Duration::from_secs(15);
    while four_letter(port, "srvr").is_none_or(|s| s.is_empty()) {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

async fn connect(port: u16) -> zk::Client {
    tokio::time::timeout(
        Duration::from_secs(10),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(5))
            .connect(&format!("127.0.0.1:{port}")),
    )
    .await
    .expect("connect in time")
    .expect("connect")
}

fn refused(word: &str) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

#[tokio::test]
async fn properties_only_in_server_jvmflags_configure_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = zoo_cfg(dir.path(), port, "");
    let server = start(
        &cfg,
        port,
        "-Xmx512m -Djute.maxbuffer=2048 -Dzookeeper.4lw.commands.whitelist=srvr,conf \
         -Dzookeeper.unknownThing=1 -Dsome.other.property=2",
    );
    assert!(four_letter(port, "conf").is_some_and(|c| c.contains(&format!("clientPort={port}"))));
    assert_eq!(
        four_letter(port, "mntr").as_deref(),
        Some(refused("mntr").as_str())
    );
    // jute.maxbuffer (read without the zookeeper. prefix): a 4 KB request is too large.
    let client = connect(port).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client
        .create("/small", &[7; 100], &open)
        .await
        .expect("a small create");
    assert!(client.create("/large", &[7; 4000], &open).await.is_err());
    drop(client);
    let err = server.stop();
    assert!(
        !err.contains("unknownThing") && !err.contains("some.other.property"),
        "properties nothing reads are not reported as unused configuration: {err}"
    );
}

#[tokio::test]
async fn java_env_in_the_configuration_directory_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = zoo_cfg(dir.path(), port, "");
    std::fs::write(
        dir.path().join("conf/java.env"),
        "# as zkEnv.sh sources it\nexport SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS -Dznode.container.checkIntervalMs=100\"\n",
    )
    .expect("java.env");
    let _server = start(&cfg, port, "-Xmx512m");
    let client = connect(port).await;
    let container = zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client
        .create("/box", b"", &container)
        .await
        .expect("container");
    client.create("/box/item", b"", &open).await.expect("child");
    client
        .delete("/box/item", None)
        .await
        .expect("delete child");
    // ZooKeeper's default check interval is a minute; with 100 ms the empty container goes
    // within seconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.check_stat("/box").await.expect("exists").is_some() {
        assert!(
            Instant::now() < deadline,
            "the empty container was not reaped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn zoo_cfg_wins_over_the_jvm_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let cfg = zoo_cfg(dir.path(), port, "4lw.commands.whitelist=srvr,conf\n");
    let _server = start(&cfg, port, "-Dzookeeper.4lw.commands.whitelist=srvr,ruok");
    assert_eq!(
        four_letter(port, "ruok").as_deref(),
        Some(refused("ruok").as_str())
    );
    assert!(four_letter(port, "conf").is_some_and(|c| c.contains("clientPort=")));
}
