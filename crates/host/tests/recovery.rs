//! Recovery on `MemFs`: acknowledged writes survive power loss, a torn tail is cut back to
//! the last whole entry, damage in the middle of a log stops recovery naming the file.

mod common;

use common::{Node, dirs};
use menagerie_host::{LogError, RecoveryError};
use menagerie_storage::fs::{CrashMode, FaultKind, FaultOp};
use menagerie_storage::{Fs, MemFs};

#[test]
fn an_empty_directory_recovers_to_the_initial_tree() {
    let fs = MemFs::new();
    let node = Node::start(&fs).expect("recover");
    assert_eq!(node.replayed, 0);
    // The session the harness opened is the only txn.
    assert_eq!(node.server.last_processed_zxid(), menagerie_proto::Zxid(1));
    let paths: Vec<String> = node.dump().into_keys().collect();
    assert_eq!(
        paths,
        ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]
    );
    assert!(fs.exists(dirs(&fs).log_dir()));
}

#[test]
fn acknowledged_writes_survive_a_power_loss() {
    let fs = MemFs::new();
    let mut node = Node::start(&fs).expect("recover");
    node.create("/a", b"1");
    node.create("/a/b", b"2");
    node.set_data("/a", b"3");
    node.create_with("/c", b"", common::fresh_acl(1));
    node.delete("/a/b");
    let before = node.dump();
    let zxid = node.server.last_processed_zxid();
    drop(node);
    fs.crash(CrashMode::LoseUnsynced);

    let node = Node::start(&fs).expect("recover");
    // Six txns before the crash (the session and five writes); the new session is not
    // replayed.
    assert_eq!(node.replayed, 6);
    assert_eq!(node.dump(), before);
    // The harness's new session is the one txn after them.
    assert_eq!(node.server.last_processed_zxid(), zxid.next());
    assert_eq!(node.server.digest_log().mismatches(), 0);
}

#[test]
fn a_torn_tail_is_cut_back_to_the_last_whole_entry() {
    let fs = MemFs::new();
    let mut node = Node::start(&fs).expect("recover");
    node.create("/kept", b"durable");
    let before = node.dump();
    let zxid = node.server.last_processed_zxid();
    // The next commit's fsync fails: its entry is written but never durable, and the write
    // is never acknowledged.
    fs.inject(FaultOp::Sync, FaultKind::Io, Some("log."), Some(1));
    let result = node.call(menagerie_proto::request::Request::Create(
        menagerie_proto::records::CreateRequest {
            path: "/torn".into(),
            data: Some(vec![7; 300]),
            acl: menagerie_proto::records::Acl::open_unsafe(),
            flags: 0,
        },
    ));
    assert!(matches!(result, Err(LogError::Commit { .. })), "{result:?}");
    assert!(node.log.has_failed());
    drop(node);
    // Power fails while the entry is half on the platter.
    fs.crash(CrashMode::TornTail { keep_bytes: 100 });

    let mut node = Node::start(&fs).expect("a torn tail does not stop recovery");
    assert_eq!(node.dump(), before);
    assert_eq!(node.server.last_processed_zxid(), zxid.next());
    assert_eq!(node.server.digest_log().mismatches(), 0);
    // The log goes on after the cut: a new write survives the next restart.
    node.create("/after", b"x");
    let after = node.dump();
    drop(node);
    fs.crash(CrashMode::LoseUnsynced);
    let node = Node::start(&fs).expect("recover again");
    assert_eq!(node.dump(), after);
    assert!(!node.dump().contains_key("/torn"));
}

/// Writes five creates and flips one bit of the log at `offset`.
fn damaged_log(offset: u64) -> MemFs {
    let fs = MemFs::new();
    let mut node = Node::start(&fs).expect("recover");
    for i in 0..5 {
        node.create(&format!("/n{i}"), &[1; 64]);
    }
    drop(node);
    let log = dirs(&fs).logs().expect("logs").remove(0).path;
    fs.corrupt(&log, offset, 0x01).expect("corrupt");
    fs
}

/// The first entry (the session) starts after the 16-byte file header: checksum (8),
/// length (4), a 48-byte body, the end-of-record byte `B` at 76.
const FIRST_ENTRY_BODY: u64 = 16 + 12 + 10;
const FIRST_ENTRY_END_BYTE: u64 = 16 + 12 + 48;

#[test]
fn damage_in_the_middle_of_a_log_stops_recovery_naming_the_file() {
    let fs = damaged_log(FIRST_ENTRY_BODY);
    let err = Node::start(&fs).err().expect("recovery must fail");
    assert!(matches!(err, RecoveryError::Storage(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("log.1") && text.contains("offset 16"),
        "{text}"
    );
}

#[test]
fn a_bad_end_of_record_byte_in_the_middle_stops_recovery() {
    let fs = damaged_log(FIRST_ENTRY_END_BYTE);
    let err = Node::start(&fs).err();
    assert!(
        err.is_some(),
        "the five acknowledged creates after it were dropped"
    );
}

/// Issue 16, item 8: a session with many ephemerals (25,000 of 48 bytes: 1.3 MB of paths,
/// over jute.maxbuffer) closes; the server restarts, without them.
#[test]
fn a_session_with_many_ephemerals_closes_and_the_server_restarts() {
    use menagerie_core::{ConnId, Input, Output};
    use menagerie_host::LogWork;
    use menagerie_proto::records::{Acl, CreateRequest};
    use menagerie_proto::request::Request;
    let fs = MemFs::new();
    let mut node = Node::start(&fs).expect("recover");
    node.create("/locks", b"");
    // Pipelined, committed in one group.
    let mut out = Vec::new();
    for i in 0..25_000 {
        let req = Request::Create(CreateRequest {
            path: format!("/locks/{i:0>41}"),
            data: Some(Vec::new()),
            acl: Acl::open_unsafe(),
            flags: 1,
        });
        let input = Input::Request {
            conn: ConnId(1),
            xid: 100 + i,
            op: 1,
            req: Ok(req),
        };
        node.server.handle(common::START, input, &mut out);
    }
    let txns = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Persist(t) => Some(t),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(txns.len(), 25_000);
    let up_to = node.log.execute(vec![LogWork::Append(txns)]).expect("log");
    let up_to = menagerie_proto::Zxid(up_to.expect("durable"));
    node.server
        .handle(common::START, Input::Persisted { up_to }, &mut Vec::new());
    assert_eq!(node.call(Request::CloseSession).expect("close").0, 0);
    let before = node.dump();
    assert_eq!(before.len(), 5, "{:?}", before.keys());
    drop(node);
    fs.crash(CrashMode::LoseUnsynced);
    let node = Node::start(&fs).expect("the server restarts");
    assert_eq!(node.dump(), before);
    assert_eq!(node.server.digest_log().mismatches(), 0);
}
