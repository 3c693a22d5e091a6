//! The storage comes back by itself (issue 16, item 9). The real binary loses its log
//! (no file descriptor left for the next log file; a full disk), and gets it back without a
//! restart: the write that was waiting is answered, `isro` says `rw` again, new sessions
//! are accepted and new writes acknowledged. Before, the server stayed read-only until
//! restarted and the waiting write's connection was closed. A client nobody here wrote (the
//! `zookeeper-client` crate) does the writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zookeeper_client::{Acls, Client, CreateMode, CreateOptions};

mod common;
use common::{ChildGuard, four_letter, free_port, wait_until_serving};

const BIN: &str = env!("CARGO_BIN_EXE_menagerie");

/// A small tmpfs, unmounted when dropped (a failing test too).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` on `dir`; `None` (with the reason) where mounting is not
    /// permitted.
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "menagerie-test",
            ])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Starts the server on `data` with `extra` zoo.cfg lines; its log goes to
/// `dir/server.log`.
fn start(dir: &Path, data: &Path, port: u16, extra: &str) -> ChildGuard {
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         admin.enableServer=false\n4lw.commands.whitelist=*\n{extra}",
        data.display()
    );
    std::fs::write(&cfg, text).expect("write zoo.cfg");
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    let child = Command::new(BIN)
        .arg("server")
        .arg("--config")
        .arg(&cfg)
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the server");
    let guard = ChildGuard(child);
    wait_until_serving(port);
    guard
}

fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

async fn connect(port: u16) -> Client {
    Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .expect("connect")
}

fn mode() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

type Create = tokio::task::JoinHandle<Result<(), zookeeper_client::Error>>;

/// Creates `/w<i>` with `data` one after the other until one is not answered within a
/// second (the storage failed and it waits); returns that one, still running.
async fn write_until_one_waits(client: &Client, data: &[u8]) -> Option<Create> {
    for i in 0..400 {
        let (client, data) = (client.clone(), data.to_vec());
        let mut create: Create = tokio::spawn(async move {
            client.create(&format!("/w{i}"), &data, &mode()).await?;
            Ok(())
        });
        match tokio::time::timeout(Duration::from_secs(1), &mut create).await {
            Ok(Ok(Ok(()))) => {}
            Ok(other) => panic!("create /w{i} failed instead of waiting: {other:?}"),
            Err(_) => return Some(create),
        }
    }
    None
}

/// After the disk works again: the waiting write is answered, the server is `rw`, a new
/// session is accepted and writes. Returns how long until `isro` said `rw`.
async fn comes_back(dir: &Path, port: u16, waiting: Create) -> Duration {
    let t = Instant::now();
    let answered = tokio::time::timeout(Duration::from_secs(20), waiting).await;
    assert!(
        matches!(answered, Ok(Ok(Ok(())))),
        "the waiting write is answered once the disk works: {answered:?}\n{}",
        server_log(dir)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while four_letter(port, "isro").as_deref() != Some("rw") {
        assert!(
            Instant::now() < deadline,
            "still read-only:\n{}",
            server_log(dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = t.elapsed();
    let fresh = tokio::time::timeout(Duration::from_secs(10), connect(port))
        .await
        .expect("a new session is accepted");
    fresh.create("/after", b"x", &mode()).await.expect("write");
    let log = server_log(dir);
    assert!(log.contains("storage is back"), "logged:\n{log}");
    back
}

/// The descriptor limit is lowered under the running server (as if something else had
/// taken its descriptors), so the next log file cannot be opened (EMFILE); then raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_comes_back_by_itself_after_running_out_of_file_descriptors() {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let server = start(dir.path(), &dir.path().join("data"), port, "snapCount=4\n");
    let client = connect(port).await;
    client
        .create("/before", b"v", &mode())
        .await
        .expect("write");

    let pid = Pid::from_raw(server.0.id() as i32);
    let open = std::fs::read_dir(format!("/proc/{}/fd", server.0.id()))
        .expect("the server's descriptors")
        .count() as u64;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.0.id()))
        .expect("the server's limits");
    let hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse::<u64>().ok());
    let exhausted = Rlimit {
        current: Some(open.saturating_sub(4)),
        maximum: hard,
    };
    // Returns the limit in force before (the server raised its soft limit to the hard one).
    let original = prlimit(pid, Resource::Nofile, exhausted).expect("lower the limit");
    // A snapshot (and so a new log file) every few txns.
    let waiting = write_until_one_waits(&client, b"v").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    prlimit(pid, Resource::Nofile, original).expect("restore the limit");
    let waiting = waiting.expect("a write waits for the log");
    assert!(
        server_log(dir.path()).contains("transaction log write failed"),
        "{}",
        server_log(dir.path())
    );
    let back = comes_back(dir.path(), port, waiting).await;
    eprintln!("rw again {back:?} after descriptors were available again");
}

/// The data directory is a small tmpfs filled to the last byte, then emptied again. Needs
/// permission to mount (skipped, saying so, where there is none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_comes_back_by_itself_when_a_full_disk_has_room_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let _mount = match Tmpfs::mount(&data, "4m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the full-disk case: {why}");
            return;
        }
    };
    let port = free_port();
    let _server = start(
        dir.path(),
        &data,
        port,
        "preAllocSize=64\nsnapCount=100000\n",
    );
    let client = connect(port).await;
    client
        .create("/before", b"v", &mode())
        .await
        .expect("write");

    // Fill the disk.
    let filler = data.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    for size in [64 * 1024, 4096] {
        let chunk = vec![7u8; size];
        for _ in 0..(8 << 20) / size {
            if f.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    let _ = f.sync_all();
    drop(f);
    let waiting = write_until_one_waits(&client, &[1u8; 4096]).await;
    let waiting = waiting.expect("a write waits for the full disk");
    assert_eq!(four_letter(port, "isro").as_deref(), Some("ro"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    std::fs::remove_file(&filler).expect("make room");
    let back = comes_back(dir.path(), port, waiting).await;
    eprintln!("rw again {back:?} after the disk had room again");
}
