use std::path::PathBuf;

use menagerie_proto::records::{Acl, StatPersisted};

use super::*;
use crate::digest::tree_digest;
use crate::fs::{CrashMode, FaultKind, FaultOp, MemFs};

fn dir() -> PathBuf {
    PathBuf::from("/data/version-2")
}

fn setup() -> (MemFs, Arc<dyn Fs>) {
    let mem = MemFs::new();
    mem.create_dir_all(&dir()).unwrap();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    (mem, fs)
}

/// The tree of a fresh ZooKeeper 3.8.0 server (spec 10.4).
fn fresh_tree() -> (Vec<(i64, Vec<Acl>)>, Vec<OwnedSnapshotNode>) {
    let node = |path: &str, acl, aversion| OwnedSnapshotNode {
        path: path.into(),
        data: Some(Vec::new()),
        acl,
        stat: StatPersisted {
            aversion,
            ..StatPersisted::default()
        },
    };
    (
        vec![(1, Acl::read_unsafe())],
        vec![
            node("", -1, 0),
            node("/zookeeper", -1, 0),
            node("/zookeeper/config", 1, -1),
            node("/zookeeper/quota", -1, 0),
        ],
    )
}

fn write_fresh(fs: Arc<dyn Fs>, trailer: &SnapshotTrailer) -> PathBuf {
    let (acls, nodes) = fresh_tree();
    write_snapshot(
        fs,
        &dir(),
        0,
        Vec::<(i64, i32)>::new(),
        acls.iter().map(|(i, l)| (*i, l.as_slice())),
        nodes.iter().map(OwnedSnapshotNode::as_node),
        trailer,
    )
    .unwrap()
}

fn naive_adler32(data: &[u8]) -> u64 {
    let (mut a, mut b) = (1u64, 0u64);
    for &x in data {
        a = (a + u64::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn fresh_server_snapshot_is_457_bytes_with_two_seals() {
    let (mem, fs) = setup();
    let trailer = SnapshotTrailer {
        digest: Some(ZxidDigest {
            zxid: menagerie_proto::Zxid(0),
            version: 2,
            digest: 0,
        }),
        last_processed_zxid: None,
    };
    let path = write_fresh(fs.clone(), &trailer);
    assert_eq!(path, dir().join("snapshot.0"));
    let bytes = mem.contents(&path).unwrap();
    assert_eq!(bytes.len(), 457, "spec 10.4");
    assert_eq!(&bytes[0..4], b"ZKSN");
    assert_eq!(
        &bytes[4..16],
        &[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(&bytes[16..20], &[0, 0, 0, 0], "no sessions");
    // Seal 1 follows the "/" terminator, seal 2 the digest block; each covers every byte
    // before it (the earlier seals included).
    let seal1 = 457 - 13 - 20 - 13;
    assert_eq!(&bytes[seal1 - 5..seal1], &[0, 0, 0, 1, b'/']);
    assert_eq!(
        u64::from_be_bytes(bytes[seal1..seal1 + 8].try_into().unwrap()),
        naive_adler32(&bytes[..seal1])
    );
    let seal2 = 457 - 13;
    assert_eq!(
        u64::from_be_bytes(bytes[seal2..seal2 + 8].try_into().unwrap()),
        naive_adler32(&bytes[..seal2])
    );
    assert_eq!(&bytes[452..], &[0, 0, 0, 1, b'/']);
    assert!(looks_valid(fs.as_ref(), &path).unwrap());

    let snap = read_snapshot(fs.as_ref(), &path).unwrap();
    let (acls, nodes) = fresh_tree();
    assert_eq!(snap.zxid, 0);
    assert_eq!(snap.sessions, []);
    assert_eq!(snap.acls, acls);
    assert_eq!(snap.nodes, nodes);
    assert_eq!(snap.trailer, trailer);
    // Spec 10.9: the fresh tree's digest.
    let digest = tree_digest(
        snap.nodes
            .iter()
            .map(|n| (n.path.as_str(), n.data.as_deref(), &n.stat)),
    );
    assert_eq!(digest, 0x51c6d660);
}

#[test]
fn round_trips_sessions_acls_nodes_and_every_trailer() {
    let trailers = [
        SnapshotTrailer::default(),
        SnapshotTrailer {
            digest: Some(ZxidDigest {
                zxid: menagerie_proto::Zxid(0x500000007),
                version: 2,
                digest: -12345,
            }),
            last_processed_zxid: None,
        },
        SnapshotTrailer {
            digest: Some(ZxidDigest {
                zxid: menagerie_proto::Zxid(9),
                version: 1,
                digest: -2,
            }),
            last_processed_zxid: Some(0x500000009),
        },
    ];
    for trailer in trailers {
        let (_, fs) = setup();
        let sessions = vec![(0x100000763740000, 30000), (-5, 4000)];
        let acls = vec![
            (3, Acl::open_unsafe()),
            (1, Acl::read_unsafe()),
            (7, vec![]),
        ];
        let stat = StatPersisted {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 0x100000763740000,
            pzxid: 9,
        };
        let nodes = vec![
            OwnedSnapshotNode {
                path: String::new(),
                data: Some(vec![]),
                acl: -1,
                stat: StatPersisted::default(),
            },
            OwnedSnapshotNode {
                path: "/null".into(),
                data: None,
                acl: 3,
                stat: stat.clone(),
            },
            OwnedSnapshotNode {
                path: "/null/δ".into(),
                data: Some(vec![0xff; 3000]),
                acl: 7,
                stat,
            },
        ];
        let path = write_snapshot(
            fs.clone(),
            &dir(),
            0x500000007,
            sessions.iter().copied(),
            acls.iter().map(|(i, l)| (*i, l.as_slice())),
            nodes.iter().map(OwnedSnapshotNode::as_node),
            &trailer,
        )
        .unwrap();
        assert_eq!(path, dir().join("snapshot.500000007"));
        let snap = read_snapshot(fs.as_ref(), &path).unwrap();
        assert_eq!(
            (
                snap.zxid,
                snap.sessions,
                snap.acls,
                snap.nodes,
                snap.trailer
            ),
            (0x500000007, sessions, acls, nodes, trailer)
        );
    }
}

#[test]
fn streaming_reader_yields_nodes_then_checks_seals() {
    let (mem, fs) = setup();
    let path = write_fresh(fs.clone(), &SnapshotTrailer::default());
    let mut r = SnapshotReader::open(fs.as_ref(), &path).unwrap();
    assert_eq!(r.zxid(), 0);
    assert_eq!(r.acls().len(), 1);
    let paths: Vec<String> = r.by_ref().map(|n| n.unwrap().path).collect();
    assert_eq!(
        paths,
        ["", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]
    );
    assert_eq!(r.finish().unwrap(), SnapshotTrailer::default());
    // Flip a data-free byte inside a stat: the nodes still parse, the seal does not match.
    mem.corrupt(&path, 16 + 4 + 39 + 20, 0x10).unwrap();
    let r = SnapshotReader::open(fs.as_ref(), &path).unwrap();
    let err = r.finish().unwrap_err();
    assert!(matches!(err, Error::SealMismatch { .. }), "{err}");
    assert!(err.to_string().contains("snapshot.0"), "{err}");
}

#[test]
fn damaged_snapshots_are_errors_never_panics() {
    let (mem, fs) = setup();
    let trailer = SnapshotTrailer {
        digest: Some(ZxidDigest {
            zxid: menagerie_proto::Zxid(3),
            version: 2,
            digest: 4,
        }),
        last_processed_zxid: Some(3),
    };
    let path = write_fresh(fs.clone(), &trailer);
    let bytes = mem.contents(&path).unwrap();
    assert_eq!(bytes.len(), 478);
    let cut = dir().join("snapshot.1");
    for len in 0..bytes.len() {
        mem.put_file(&cut, &bytes[..len]).unwrap();
        match read_snapshot(fs.as_ref(), &cut) {
            // Cutting inside an optional block (but not inside its seal) leaves an older,
            // still valid snapshot, as ZooKeeper's EOF detection does.
            Ok(s) => {
                let seal1_end = 478 - 13 - 8 - 13 - 20;
                let digest_end = seal1_end + 20;
                let zxid_start = digest_end + 13;
                let ok = (seal1_end..digest_end).contains(&len)
                    || (zxid_start..zxid_start + 8).contains(&len);
                assert!(ok, "accepted a cut at {len}: {s:?}");
                assert_eq!(s.trailer.last_processed_zxid, None);
            }
            Err(_) => assert!(len < bytes.len()),
        }
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x80;
        mem.put_file(&cut, &b).unwrap();
        let _ = read_snapshot(fs.as_ref(), &cut);
    }
    mem.put_file(&cut, b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0")
        .unwrap();
    assert!(matches!(
        read_snapshot(fs.as_ref(), &cut),
        Err(Error::BadMagic { .. })
    ));
    mem.put_file(&cut, &bytes[..bytes.len() - 1]).unwrap();
    assert!(!looks_valid(fs.as_ref(), &cut).unwrap());
}

#[test]
fn writes_are_atomic_and_durable() {
    let (mem, fs) = setup();
    let mut w = SnapshotWriter::create(fs.clone(), &dir(), 5).unwrap();
    w.sessions([(1, 2)]).unwrap();
    w.acls(std::iter::empty()).unwrap();
    // Crash mid-write: no snapshot.5, only (maybe) the temporary file.
    mem.crash(CrashMode::ProcessOnly);
    drop(w);
    assert!(!mem.exists(&dir().join("snapshot.5")));
    assert!(
        crate::datadir::list_snapshot_files(&mem, &dir())
            .unwrap()
            .is_empty()
    );

    let path = write_fresh(fs.clone(), &SnapshotTrailer::default());
    mem.crash(CrashMode::LoseUnsynced);
    assert!(read_snapshot(fs.as_ref(), &path).is_ok());
    assert!(!mem.exists(&crate::fs::tmp_path(&path)));
}

#[test]
fn disk_full_fails_the_write_and_removes_the_temporary_file() {
    let (mem, fs) = setup();
    mem.inject(FaultOp::Write, FaultKind::NoSpace, None, None);
    let (acls, nodes) = fresh_tree();
    let err = write_snapshot(
        fs.clone(),
        &dir(),
        9,
        [(1i64, 1i32)],
        acls.iter().map(|(i, l)| (*i, l.as_slice())),
        nodes.iter().map(OwnedSnapshotNode::as_node),
        &SnapshotTrailer::default(),
    )
    .unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert!(mem.list_dir(&dir()).unwrap().is_empty());
}

#[test]
fn writer_rejects_misuse() {
    let (_, fs) = setup();
    let stat = StatPersisted::default();
    let node = SnapshotNode {
        path: "/",
        data: None,
        acl: -1,
        stat: &stat,
    };
    let mut w = SnapshotWriter::create(fs.clone(), &dir(), 1).unwrap();
    assert!(matches!(w.node(node), Err(Error::InvalidInput(_))));
    w.sessions([]).unwrap();
    assert!(w.sessions([]).is_err());
    w.acls(std::iter::empty()).unwrap();
    assert!(matches!(w.node(node), Err(Error::InvalidInput(_))));
    let w = SnapshotWriter::create(fs, &dir(), 2).unwrap();
    assert!(w.finish(&SnapshotTrailer::default()).is_err());
}

#[test]
fn compressed_snapshots_are_recognised_but_unsupported() {
    let (mem, fs) = setup();
    let gz = dir().join("snapshot.10.gz");
    mem.put_file(&gz, &[0x1f, 0x8b, 8, 0]).unwrap();
    assert!(looks_valid(fs.as_ref(), &gz).unwrap());
    assert!(matches!(
        SnapshotReader::open(fs.as_ref(), &gz),
        Err(Error::UnsupportedCompression { .. })
    ));
}
