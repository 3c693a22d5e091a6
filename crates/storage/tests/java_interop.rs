//! Interoperability with Apache ZooKeeper 3.8 (Debian's `zookeeper` package) in both
//! directions:
//!
//! 1. A real Java server, driven by kazoo (`tests/java/drive.py`), logs every txn type a
//!    standalone server writes and takes snapshots (snapCount=20); it is then killed and
//!    restarted once so that it writes a quiescent snapshot. Our readers must parse every log
//!    entry and every snapshot, see the expected tree and sessions, and compute the same tree
//!    digest as the one stored in the snapshot and in the last TxnDigest.
//! 2. Our writers re-encode what Java wrote: snapshots must come out byte-identical, log
//!    entries too; a Java server started on the re-encoded directory must load it, replay our
//!    log and arrive at the same tree (same digest), and serve it (`tests/java/check.py`).
//!
//! Skipped, with a message, when `java`, the ZooKeeper jars, `python3` or kazoo are missing.
//! Every Java process started here is killed when its guard drops, even on panic.

#[path = "java/server.rs"]
mod java_server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use java_server::{JavaServer, START_TIMEOUT, missing_prerequisite, python};

use menagerie_proto::SessionId;
use menagerie_storage::datadir::list_snapshot_files;
use menagerie_storage::snapshot::looks_valid;
use menagerie_storage::txn::TxnBody;
use menagerie_storage::*;

const DRIVE: &str = include_str!("java/drive.py");
const CHECK: &str = include_str!("java/check.py");

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .to_owned()
}

/// Waits until the server has written a complete `snapshot.<zxid>`.
fn wait_snapshot(fs: &dyn Fs, snap_dir: &Path, zxid: i64) -> PathBuf {
    let path = snap_dir.join(format!("snapshot.{zxid:x}"));
    let deadline = Instant::now() + START_TIMEOUT;
    while !(fs.exists(&path)
        && looks_valid(fs, &path).unwrap_or(false)
        && read_snapshot(fs, &path).is_ok())
    {
        assert!(Instant::now() < deadline, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    path
}

fn all_entries(fs: Arc<dyn Fs>, log_dir: &Path) -> Vec<LogEntry> {
    TxnIterator::open(fs, log_dir, 0, DEFAULT_MAX_RECORD_LEN)
        .expect("open logs")
        .map(|e| e.expect("log entry"))
        .collect()
}

fn by_path(snap: &Snapshot) -> BTreeMap<&str, &OwnedSnapshotNode> {
    snap.nodes.iter().map(|n| (n.path.as_str(), n)).collect()
}

fn digest_of(snap: &Snapshot) -> u64 {
    tree_digest(
        snap.nodes
            .iter()
            .map(|n| (n.path.as_str(), n.data.as_deref(), &n.stat)),
    )
}

/// Rewrites `snap` with our writer into `dir`.
fn rewrite_snapshot(fs: Arc<dyn Fs>, dir: &Path, snap: &Snapshot) -> PathBuf {
    write_snapshot(
        fs,
        dir,
        snap.zxid,
        snap.sessions.iter().copied(),
        snap.acls.iter().map(|(i, l)| (*i, l.as_slice())),
        snap.nodes.iter().map(OwnedSnapshotNode::as_node),
        &snap.trailer,
    )
    .expect("write snapshot")
}

#[test]
fn java_zookeeper_files_round_trip() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("skipping java_zookeeper_files_round_trip: {why}");
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path();
    let fs: Arc<dyn Fs> = Arc::new(StdFs);
    let java_dirs = DataDirs::new(fs.clone(), &work.join("java"), None);

    // --- 1. Java writes. ---
    let out = {
        let server = JavaServer::start(work, &work.join("java"));
        python(DRIVE, &server.hostport())
    }; // killed here, with session 2 still open
    assert!(out.contains("DONE"), "{out}");
    let session1: i64 = field(&out, "SESSION1").parse().expect("session id");
    let session2: i64 = field(&out, "SESSION2").parse().expect("session id");

    let entries = all_entries(fs.clone(), java_dirs.log_dir());
    let last = entries.last().expect("entries").zxid();
    // A snapCount snapshot may already carry the last zxid; remove it so that the one we wait
    // for is the restart's quiescent snapshot (the log still holds everything).
    let _ = std::fs::remove_file(java_dirs.snap_dir().join(format!("snapshot.{last:x}")));
    {
        let _restarted = JavaServer::start(work, &work.join("java"));
        wait_snapshot(fs.as_ref(), java_dirs.snap_dir(), last);
    }

    // Every log entry parses; zxids are consecutive; every txn type is there.
    let mut types = BTreeSet::new();
    let mut sub_types = BTreeSet::new();
    let mut last_digest = None;
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.zxid(), i as i64 + 1, "consecutive zxids");
        let txn = e
            .decode()
            .unwrap_or_else(|err| panic!("zxid {}: {err}", e.zxid()));
        types.insert(txn.header.txn_type);
        assert_eq!(txn.body.txn_type(), txn.header.txn_type);
        match &txn.body {
            TxnBody::Multi(subs) => sub_types.extend(subs.iter().map(TxnBody::txn_type)),
            TxnBody::CloseSession(body) => {
                assert_eq!(txn.header.client_id, SessionId(session1));
                let paths = &body
                    .as_ref()
                    .expect("3.8 logs a CloseSessionTxn")
                    .paths_to_delete;
                assert_eq!(paths, &["/e".to_string()]);
            }
            TxnBody::CreateTtl(t) => assert_eq!((t.path.as_str(), t.ttl), ("/ttl", 1)),
            TxnBody::DeleteContainer(_) => assert_eq!(txn.header.client_id, SessionId(0)),
            TxnBody::Error(_) => assert_eq!(txn.digest, None),
            _ => assert!(txn.digest.is_some(), "zxid {} has no digest", e.zxid()),
        }
        if let Some(d) = &txn.digest {
            assert_eq!(d.version, 2);
            last_digest = Some(d.tree_digest);
        }
        // Our encoder reproduces Java's body byte for byte.
        assert_eq!(txn.to_bytes(), e.body, "zxid {}", e.zxid());
    }
    assert_eq!(
        types,
        BTreeSet::from([-11, -10, -1, 1, 2, 5, 7, 14, 15, 19, 20, 21]),
        "txn types"
    );
    assert_eq!(
        sub_types,
        BTreeSet::from([-1, 1, 5, 13]),
        "multi sub-txn types"
    );

    // Every snapshot parses with valid seals; the quiescent one has the expected tree.
    let snap_files = list_snapshot_files(fs.as_ref(), java_dirs.snap_dir()).expect("list");
    assert!(snap_files.len() >= 3, "{snap_files:?}");
    let snaps: Vec<Snapshot> = snap_files
        .iter()
        .map(|f| read_snapshot(fs.as_ref(), &f.path).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let newest = &snaps[0];
    assert_eq!(newest.zxid, last);
    let nodes = by_path(newest);
    let data = |p: &str| {
        nodes[p]
            .data
            .as_deref()
            .unwrap_or_else(|| panic!("{p}: null"))
    };
    assert_eq!(newest.nodes[0].path, "", "the root comes first, as \"\"");
    assert_eq!(data("/a"), b"world");
    assert_eq!(data("/m1"), b"2");
    assert_eq!(data("/c2"), b"c2");
    for gone in ["/e", "/m2", "/cont", "/ttl", "/seq/s-0000000001"] {
        assert!(!nodes.contains_key(gone), "{gone}");
    }
    assert_eq!(nodes["/e2"].stat.ephemeral_owner, session2);
    let seq = nodes.keys().filter(|p| p.starts_with("/seq/")).count();
    assert_eq!(seq, 29);
    assert_eq!(nodes.len(), 4 + 5 + 1 + 29); // root, /zookeeper*, /a /acl /e2 /c2 /m1, /seq
    assert_eq!(newest.sessions.len(), 1);
    assert_eq!(newest.sessions[0], (session2, 10_000));
    let acl_of = |p: &str| {
        let idx = nodes[p].acl;
        &newest
            .acls
            .iter()
            .find(|(i, _)| *i == idx)
            .expect("acl index")
            .1
    };
    let acl = acl_of("/acl");
    assert_eq!(acl.len(), 1);
    assert_eq!((acl[0].perms, acl[0].id.scheme.as_str()), (17, "digest"));
    assert_eq!(acl_of("/zookeeper/config")[0].perms, 1);
    // Client-supplied world:anyone lists are interned like any other; only the built-in
    // nodes use the "no ACL" index -1.
    assert_eq!(acl_of("/a"), &menagerie_proto::records::Acl::open_unsafe());
    assert_eq!((nodes[""].acl, nodes["/zookeeper"].acl), (-1, -1));

    // Our digest of the tree equals Java's, in the snapshot and in the log.
    let stored = newest.trailer.digest.expect("3.8 writes a digest block");
    assert_eq!(stored.version, 2);
    // Java's snapshot is fuzzy: the digest it records belongs to the last zxid its digest
    // log had reached, which may (rarely, on a loaded machine) trail the snapshot's own.
    assert!(
        stored.zxid <= menagerie_proto::Zxid(last),
        "digest zxid {:#x} > {last:#x}",
        stored.zxid
    );
    if stored.zxid == menagerie_proto::Zxid(last) {
        assert_eq!(digest_of(newest), stored.digest as u64);
        assert_eq!(Some(stored.digest), last_digest);
    }
    assert_eq!(
        newest.trailer.last_processed_zxid, None,
        "3.8 has no such block"
    );

    // --- 2. We write, Java reads. ---
    let ours_dirs = DataDirs::new(fs.clone(), &work.join("ours"), None);
    ours_dirs.create(true).expect("mkdir");
    let scratch = work.join("scratch");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    for (file, snap) in snap_files.iter().zip(&snaps) {
        let ours = rewrite_snapshot(fs.clone(), &scratch, snap);
        let (a, b) = (std::fs::read(&file.path), std::fs::read(&ours));
        assert_eq!(
            a.expect("read"),
            b.expect("read"),
            "{} differs",
            file.path.display()
        );
    }
    // Start from an older, fuzzy snapshot and the logs after it, all written by us.
    let base = &snaps[snaps.len() / 2];
    rewrite_snapshot(fs.clone(), ours_dirs.snap_dir(), base);
    let mut log = ours_dirs
        .open_txn_log(TxnLogOptions::default())
        .expect("open log");
    let mut file = None;
    for e in &entries {
        if file.is_some() && file != Some(&e.file) {
            log.roll().expect("roll");
        }
        file = Some(&e.file);
        log.append(e.zxid(), &e.body).expect("append");
    }
    log.commit().expect("commit");
    drop(log);
    for (java, ours) in java_dirs
        .logs()
        .expect("logs")
        .iter()
        .zip(ours_dirs.logs().expect("logs"))
    {
        assert_eq!(java.zxid, ours.zxid);
        let used = entries
            .iter()
            .filter(|e| e.file == java.path)
            .map(LogEntry::end_offset)
            .max()
            .expect("entries in file") as usize;
        let (a, b) = (
            std::fs::read(&java.path).expect("read"),
            std::fs::read(&ours.path).expect("read"),
        );
        assert_eq!(
            a.len(),
            b.len(),
            "preallocated size of {}",
            ours.path.display()
        );
        assert!(a[..used] == b[..used], "{} differs", ours.path.display());
    }
    let check = {
        let server = JavaServer::start(work, &work.join("ours"));
        let path = wait_snapshot(fs.as_ref(), ours_dirs.snap_dir(), last);
        let replayed = read_snapshot(fs.as_ref(), &path).expect("read");
        // Java's recorded digest is what its digest log last reached: empty (zxid 0) when
        // it replayed from a fuzzy snapshot whose digest was the last txn's (the log
        // restarts only after that comparison), or trailing on a loaded machine. So the
        // two Java snapshots' trailers are compared only where this one reached `last`.
        let digest = replayed.trailer.digest.expect("3.8 writes a digest block");
        if digest.zxid == menagerie_proto::Zxid(last) {
            assert_eq!(digest.digest as u64, digest_of(newest));
        }
        assert_eq!(digest_of(&replayed), digest_of(newest));
        assert_eq!(by_path(&replayed), nodes);
        assert_eq!(replayed.sessions, newest.sessions);
        python(CHECK, &server.hostport())
    };
    assert_eq!(field(&check, "A"), "world");
    assert_eq!(field(&check, "M1"), "2");
    assert_eq!(field(&check, "SEQ"), "29");
    assert_eq!(field(&check, "E2"), session2.to_string());
    eprintln!("java interop test took {:?}", started.elapsed());
}
