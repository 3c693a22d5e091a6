//! Inspecting files written by this repository's own writers, and every kind of damage.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use menagerie_proto::records::{Acl, Id, StatPersisted};
use menagerie_proto::txn::{
    CloseSessionTxn, CreateSessionTxn, CreateTtlTxn, CreateTxn, DeleteTxn, ErrorTxn, LoggedTxn,
    SetDataTxn, TxnDigest,
};
use menagerie_proto::{SessionId, Zxid};
use menagerie_storage::{
    SnapshotNode, SnapshotTrailer, StdFs, TreeDigest, TxnBody, TxnLog, TxnLogOptions, ZxidDigest,
    write_snapshot,
};
use serde_json::Value;

use super::*;

const SESSION: i64 = 0x0100_0007_6374_0000;

fn opts() -> InspectOptions {
    InspectOptions {
        max_record_len: menagerie_storage::DEFAULT_MAX_RECORD_LEN,
        ..InspectOptions::default()
    }
}

fn create(path: &str, data: &[u8], ephemeral: bool) -> TxnBody {
    TxnBody::Create(CreateTxn {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        ephemeral,
        parent_cversion: 1,
    })
}

/// A log with one txn of most types; returns the directory, file and the txns' zxids.
fn write_log(dir: &Path, pre_alloc: u64) -> PathBuf {
    let mut log = TxnLog::open(
        Arc::new(StdFs),
        dir,
        TxnLogOptions {
            pre_alloc_size: pre_alloc,
            ..TxnLogOptions::default()
        },
    )
    .expect("open log");
    let records = [
        TxnBody::CreateSession(CreateSessionTxn { timeout: 30000 }),
        create("/a", b"hello", false),
        create("/a/e", b"\x00\x01binary", true),
        TxnBody::SetData(SetDataTxn {
            path: "/a".into(),
            data: Some(b"changed".to_vec()),
            version: 1,
        }),
        TxnBody::CreateTtl(CreateTtlTxn {
            path: "/t".into(),
            data: None,
            acl: vec![Acl {
                perms: 1,
                id: Id {
                    scheme: "digest".into(),
                    id: "u:x".into(),
                },
            }],
            parent_cversion: 2,
            ttl: 5000,
        }),
        TxnBody::Multi(vec![
            create("/m", b"m", false),
            TxnBody::Delete(DeleteTxn { path: "/t".into() }),
        ]),
        TxnBody::Error(ErrorTxn { err: -101 }),
        TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: vec!["/a/e".into()],
        })),
    ];
    for (i, rec) in records.iter().enumerate() {
        let zxid = i as i64 + 1;
        let digest = (!matches!(rec, TxnBody::Error(_))).then_some(TxnDigest {
            version: 2,
            tree_digest: 0x1000 + zxid,
        });
        let txn = LoggedTxn::new(
            SessionId(SESSION),
            i as i32,
            Zxid(zxid),
            1_795_274_139_084 + zxid,
            rec.clone(),
            digest,
        );
        log.append_txn(&txn).expect("append");
    }
    log.commit().expect("commit");
    log.close().expect("close");
    dir.join("log.1")
}

fn run(path: &Path, o: &InspectOptions) -> (String, FileReport) {
    let mut out = Vec::new();
    let r = inspect_file(&StdFs, path, o, &mut out).expect("output to a Vec");
    (String::from_utf8(out).expect("utf-8 output"), r)
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[test]
fn txn_log_text_follows_txn_log_toolkit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write_log(tmp.path(), 64 * 1024);
    let (text, r) = run(&file, &opts());
    assert!(r.is_ok(), "{:?}", r.problems);
    assert_eq!(r.kind, FileKind::TxnLog);
    assert_eq!((r.items, r.zxid_range), (8, Some((1, 8))));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ZooKeeper Transactional Log File with dbid 0 txnlog format version 2"
    );
    assert_eq!(
        lines[1],
        "2026-11-21 15:15:39.085 UTC session 0x100000763740000 cxid 0x0 zxid 0x1 createSession 30000"
    );
    assert!(lines[2].ends_with(
        "zxid 0x2 create /a \"hello\" [world:anyone:cdrwa] ephemeral=false parentCVersion=1"
    ));
    assert!(
        lines[3].contains("create /a/e 0x000162696e617279 "),
        "{}",
        lines[3]
    );
    assert!(lines[5].ends_with("createTtl /t null [digest:u:x:r] parentCVersion=2 ttl=5000"));
    assert!(lines[6].contains(
        "multi [create /m \"m\" [world:anyone:cdrwa] ephemeral=false parentCVersion=1; delete /t]"
    ));
    assert!(lines[7].ends_with("error err=-101 (NoNode)"));
    assert!(lines[8].ends_with("closeSession [/a/e]"));
    assert_eq!(lines[9], "EOF reached after 8 txns.");
    assert_eq!(lines.len(), 10);
    // Verbose adds offsets and digests.
    let (text, _) = run(
        &file,
        &InspectOptions {
            verbose: true,
            ..opts()
        },
    );
    assert!(
        text.contains("createSession 30000 (offset 16, digest 0x1001)"),
        "{text}"
    );
}

#[test]
fn txn_log_json_and_summary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write_log(tmp.path(), 64 * 1024);
    let o = InspectOptions {
        json: true,
        ..opts()
    };
    let (text, r) = run(&file, &o);
    assert!(r.is_ok());
    let v = json_lines(&text);
    assert_eq!(v.len(), 10);
    assert_eq!(v[0]["kind"], "header");
    assert_eq!(v[0]["version"], 2);
    let txns: Vec<&Value> = v.iter().filter(|x| x["kind"] == "txn").collect();
    assert_eq!(txns.len(), 8);
    let zxids: Vec<i64> = txns.iter().filter_map(|t| t["zxid"].as_i64()).collect();
    assert_eq!(zxids, (1..=8).collect::<Vec<_>>());
    assert_eq!(txns[1]["txn"]["path"], "/a");
    assert_eq!(txns[1]["file"], file.display().to_string());
    // createSession: checksum, length, 32-byte header + 4-byte timeout + 12-byte digest, B.
    assert_eq!(txns[1]["offset"].as_u64(), Some(16 + 8 + 4 + 48 + 1));
    assert_eq!(txns[1]["txn"]["data"], "aGVsbG8=");
    assert_eq!(txns[1]["txn"]["data_utf8"], "hello");
    assert_eq!(txns[1]["digest"]["tree_digest"], "0x1002");
    assert_eq!(txns[5]["paths"], serde_json::json!(["/m", "/t"]));
    assert_eq!(txns[5]["txn"]["txns"][1]["type"], "delete");
    assert_eq!(txns[6]["digest"], Value::Null);
    assert_eq!(txns[6]["txn"]["err_name"], "NoNode");
    let s = &v[9];
    assert_eq!(s["kind"], "summary");
    assert_eq!(s["txns"], 8);
    assert_eq!(
        (s["first_zxid"].as_i64(), s["last_zxid"].as_i64()),
        (Some(1), Some(8))
    );
    assert_eq!(s["types"]["create"], 2);
    assert_eq!(
        s["sessions_created"],
        serde_json::json!(["0x100000763740000"])
    );
    assert_eq!(
        s["sessions_closed"],
        serde_json::json!(["0x100000763740000"])
    );
    assert_eq!(s["txns_with_digest"], 7);
    assert_eq!(s["end"]["reason"], "preallocated");
    assert_eq!(s["ok"], true);
    // --summary --json: header and summary only.
    let (text, _) = run(&file, &InspectOptions { summary: true, ..o });
    let v = json_lines(&text);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1]["txns"], 8);
    // Text summary.
    let (text, _) = run(
        &file,
        &InspectOptions {
            summary: true,
            ..opts()
        },
    );
    assert!(text.contains("Txns: 8 (zxid 0x1 .. 0x8)"), "{text}");
    assert!(
        text.contains("Sessions: 1 seen, 1 created, 1 closed"),
        "{text}"
    );
    assert!(
        text.contains("Digests: 7 of 8 txns carry a TxnDigest"),
        "{text}"
    );
    assert!(
        text.contains("End: preallocated zeros from offset"),
        "{text}"
    );
}

#[test]
fn every_truncation_and_bit_flip_of_a_log_is_reported_without_panicking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // No preallocation: the file ends right after its last entry.
    let file = write_log(tmp.path(), 0);
    let good = std::fs::read(&file).expect("read");
    let (_, r) = run(&file, &opts());
    assert!(r.is_ok());
    // Entry boundaries: truncating exactly there is a clean (shorter) file.
    let mut bounds = vec![16u64];
    {
        let mut rd =
            menagerie_storage::txnlog::LogFileReader::open(&StdFs, &file, 1 << 20).expect("open");
        while let Ok(menagerie_storage::txnlog::Step::Entry(e)) = rd.next_step() {
            bounds.push(e.end_offset());
        }
    }
    let damaged = tmp.path().join("damaged");
    for cut in 0..good.len() {
        std::fs::write(&damaged, &good[..cut]).expect("write");
        let (_, r) = run(&damaged, &opts());
        let clean = bounds.contains(&(cut as u64));
        assert_eq!(r.is_ok(), clean, "cut at {cut}: {:?}", r.problems);
        if !clean {
            assert!(
                r.problems[0].contains("offset"),
                "cut at {cut}: {:?}",
                r.problems
            );
        }
    }
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x10;
        std::fs::write(&damaged, &bad).expect("write");
        for json in [false, true] {
            let (_, r) = run(&damaged, &InspectOptions { json, ..opts() });
            // The header's version and dbid are not checked (ZooKeeper does not either).
            if (4..16).contains(&i) {
                continue;
            }
            assert!(!r.is_ok(), "flip at {i} went unnoticed");
        }
    }
}

fn stat(czxid: i64, owner: i64) -> StatPersisted {
    StatPersisted {
        czxid,
        mzxid: czxid,
        pzxid: czxid,
        ctime: 1000,
        mtime: 2000,
        ephemeral_owner: owner,
        ..StatPersisted::default()
    }
}

fn write_snap(dir: &Path, digest_ok: bool) -> PathBuf {
    let root = stat(0, 0);
    let a = stat(2, 0);
    let e = stat(3, SESSION);
    let c = stat(4, i64::MIN);
    let acl = vec![Acl {
        perms: 1,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }];
    let nodes = [
        SnapshotNode {
            path: "",
            data: Some(b""),
            acl: -1,
            stat: &root,
        },
        SnapshotNode {
            path: "/a",
            data: Some(b"hello"),
            acl: 1,
            stat: &a,
        },
        SnapshotNode {
            path: "/a/e",
            data: None,
            acl: -1,
            stat: &e,
        },
        SnapshotNode {
            path: "/c",
            data: Some(b"container"),
            acl: -1,
            stat: &c,
        },
    ];
    let mut d = TreeDigest::new();
    for n in &nodes {
        d.add(n.path, n.data, n.stat);
    }
    let digest = if digest_ok {
        d.as_i64()
    } else {
        d.as_i64() + 1
    };
    write_snapshot(
        Arc::new(StdFs),
        dir,
        4,
        vec![(SESSION, 30000), (7, 6000)],
        vec![(1, acl.as_slice())],
        nodes,
        &SnapshotTrailer {
            digest: Some(ZxidDigest {
                zxid: Zxid(4),
                version: 2,
                digest,
            }),
            last_processed_zxid: None,
        },
    )
    .expect("write snapshot")
}

#[test]
fn snapshot_text_json_and_summary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write_snap(tmp.path(), true);
    let (text, r) = run(&file, &opts());
    assert!(r.is_ok(), "{:?}", r.problems);
    assert_eq!(
        (r.kind, r.items, r.zxid_range),
        (FileKind::Snapshot, 4, Some((4, 4)))
    );
    assert!(text.starts_with("ZNode Details:\n----\n/\n  cZxid = 0x00000000000000\n"));
    assert!(
        text.contains("/a\n  cZxid = 0x00000000000002\n  ctime = 1970-01-01 00:00:01.000 UTC\n")
    );
    assert!(
        text.contains("  dataLength = 5\n  acl = [world:anyone:r]\n"),
        "{text}"
    );
    assert!(text.contains("  ephemeralOwner = 0x100000763740000\n"));
    assert!(text.contains(
        "ZNode count: 4\nSession Details (sid, timeout, ephemeralCount):\n0x100000763740000, 30000, 1\n0x7, 6000, 0\n----\nLast zxid: 0x4\n"
    ), "{text}");
    assert!(text.contains("(version 2): matches the nodes"), "{text}");
    // --data prints base64 instead of the length.
    let (text, _) = run(
        &file,
        &InspectOptions {
            data: true,
            ..opts()
        },
    );
    assert!(text.contains("  data = aGVsbG8=\n"));
    assert!(text.contains("  data = null\n"));
    // JSON.
    let (text, _) = run(
        &file,
        &InspectOptions {
            json: true,
            ..opts()
        },
    );
    let v = json_lines(&text);
    let kinds: Vec<&str> = v.iter().filter_map(|x| x["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "header", "node", "node", "node", "node", "session", "session", "summary"
        ]
    );
    assert_eq!(v[1]["path"], "/");
    assert_eq!(v[3]["owner"], "ephemeral");
    assert_eq!(v[3]["data_len"], -1);
    assert_eq!(v[4]["owner"], "container");
    assert_eq!(v[5]["ephemerals"], 1);
    let s = &v[7];
    assert_eq!(s["nodes"], 4);
    assert_eq!(s["digest"]["matches"], true);
    assert_eq!(s["owners"]["persistent"], 2);
    // A digest that does not match is reported, not an error.
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let file = write_snap(tmp2.path(), false);
    let (text, r) = run(
        &file,
        &InspectOptions {
            summary: true,
            ..opts()
        },
    );
    assert!(r.is_ok());
    assert!(text.contains("differs from the nodes'"), "{text}");
    assert!(
        text.contains("Nodes: 4 (1 container, 1 ephemeral, 2 persistent), 14 data bytes"),
        "{text}"
    );
}

#[test]
fn every_truncation_and_bit_flip_of_a_snapshot_is_reported_without_panicking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write_snap(tmp.path(), true);
    let good = std::fs::read(&file).expect("read");
    // Layout end: ... "/" seal1(8 + 5) digest(8 + 4 + 8) seal2(8 + 5).
    let without_digest = good.len() - (8 + 4 + 8) - (8 + 5);
    let damaged = tmp.path().join("snapshot.4");
    for cut in 0..good.len() {
        std::fs::write(&damaged, &good[..cut]).expect("write");
        let (_, r) = run(&damaged, &opts());
        // Without its optional digest block a snapshot is complete (pre-3.6 format).
        assert_eq!(
            r.is_ok(),
            cut == without_digest,
            "cut at {cut}: {:?}",
            r.problems
        );
    }
    for i in 0..good.len() - 5 {
        let mut bad = good.clone();
        bad[i] ^= 0x04;
        std::fs::write(&damaged, &bad).expect("write");
        let (_, r) = run(
            &damaged,
            &InspectOptions {
                json: true,
                ..opts()
            },
        );
        // The header's version and dbid are not checked, but they are sealed.
        assert!(!r.is_ok(), "flip at {i} went unnoticed");
    }
}

#[test]
fn directories_expand_in_zxid_order_and_unknown_files_are_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let v2 = tmp.path().join("version-2");
    std::fs::create_dir(&v2).expect("mkdir");
    write_log(&v2, 0);
    write_snap(&v2, true);
    std::fs::write(v2.join("snapshot.2.tmp"), b"junk").expect("write");
    let files = expand_paths(&StdFs, &[tmp.path().to_path_buf()]).expect("expand");
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, ["log.1", "snapshot.4"]);
    let mut out = Vec::new();
    let reports =
        inspect_paths(&StdFs, &[tmp.path().to_path_buf()], &opts(), &mut out).expect("inspect");
    assert!(reports.iter().all(FileReport::is_ok));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.starts_with(&format!("==> {} <==\n", v2.join("log.1").display())));
    // Not ZooKeeper files at all.
    let junk = v2.join("snapshot.2.tmp");
    let (_, r) = run(&junk, &opts());
    assert!(
        r.problems[0].contains("offset 0: not a ZooKeeper"),
        "{:?}",
        r.problems
    );
    let empty = tmp.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    let (_, r) = run(&empty, &opts());
    assert!(r.problems[0].contains("too short"));
    let gz = tmp.path().join("snapshot.5.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0]).expect("write");
    let (_, r) = run(&gz, &opts());
    assert!(r.problems[0].contains("gzip"));
    let missing = tmp.path().join("missing");
    let (text, r) = run(
        &missing,
        &InspectOptions {
            json: true,
            ..opts()
        },
    );
    assert!(r.problems[0].contains("cannot read"));
    assert!(r.unreadable && !r.is_damaged(), "{r:?}");
    assert_eq!(json_lines(&text)[0]["kind"], "error");
}

#[test]
fn zxid_gaps_are_summarised_but_a_new_epoch_is_not_a_gap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut log = TxnLog::open(
        Arc::new(StdFs),
        tmp.path(),
        TxnLogOptions {
            pre_alloc_size: 0,
            ..TxnLogOptions::default()
        },
    )
    .expect("open log");
    for zxid in [1, 2, 3, 7, 8, (1 << 32) | 1, (1 << 32) | 2, (3 << 32) | 5] {
        let rec = create(&format!("/z{zxid}"), b"", false);
        let txn = LoggedTxn::new(SessionId(SESSION), 0, Zxid(zxid), 0, rec, None);
        log.append_txn(&txn).expect("append");
    }
    log.commit().expect("commit");
    log.close().expect("close");
    let file = tmp.path().join("log.1");
    let (text, r) = run(
        &file,
        &InspectOptions {
            summary: true,
            ..opts()
        },
    );
    assert!(r.is_ok(), "gaps are not damage: {:?}", r.problems);
    assert!(
        text.contains("Zxid gaps: 2 (0x3 -> 0x7, 0x100000002 -> 0x300000005)"),
        "{text}"
    );
    let (text, _) = run(
        &file,
        &InspectOptions {
            summary: true,
            json: true,
            ..opts()
        },
    );
    let v = json_lines(&text);
    assert_eq!(v[1]["zxid_gaps"][0], serde_json::json!([3, 7]));
    // The earlier, gap-free log has none.
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let (text, _) = run(
        &write_log(tmp2.path(), 0),
        &InspectOptions {
            summary: true,
            ..opts()
        },
    );
    assert!(!text.contains("Zxid gaps"), "{text}");
}

/// A log entry longer than `jute.maxbuffer` (a closeSession txn listing many ephemerals, a
/// log written with a larger jute.maxbuffer) is read: logs have their own, larger limit.
#[test]
fn an_entry_longer_than_jute_maxbuffer_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut log =
        TxnLog::open(Arc::new(StdFs), dir.path(), TxnLogOptions::default()).expect("open log");
    let paths: Vec<String> = (0..40_000).map(|i| format!("/locks/{i:0>40}")).collect();
    let txn = LoggedTxn {
        header: menagerie_proto::txn::TxnHeader {
            client_id: SessionId(SESSION),
            cxid: 0,
            zxid: Zxid(1),
            time: 0,
            txn_type: -11,
        },
        body: TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: paths,
        })),
        digest: None,
    };
    assert!(txn.to_bytes().len() > 2_000_000);
    log.append_txn(&txn).expect("append");
    log.commit().expect("commit");
    let file = dir.path().join("log.1");
    let (text, r) = run(&file, &opts());
    assert!(r.is_ok(), "{r:?}");
    assert!(text.contains("closeSession"), "{text}");
}
