//! The log executor: one fsync per batch, rolls, and after a failure no acknowledgement
//! until a retry has written the work again.

mod common;

use std::sync::Arc;

use common::{dirs, log_options};
use menagerie_host::{LogError, LogExecutor, LogWork};
use menagerie_proto::txn::{CreateSessionTxn, TxnHeader};
use menagerie_proto::txn::{LoggedTxn, TxnBody};
use menagerie_storage::MemFs;
use menagerie_storage::fs::{FaultKind, FaultOp};

/// A createSession txn at `zxid`.
fn txn(zxid: i64) -> Arc<LoggedTxn> {
    Arc::new(LoggedTxn {
        header: TxnHeader {
            client_id: menagerie_proto::SessionId(0x100 + zxid),
            cxid: 0,
            zxid: menagerie_proto::Zxid(zxid),
            time: 1_700_000_000_000,
            txn_type: menagerie_proto::opcode::OpCode::CreateSession.code(),
        },
        body: TxnBody::CreateSession(CreateSessionTxn { timeout: 10_000 }),
        digest: None,
    })
}

fn executor(fs: &MemFs) -> LogExecutor {
    let dirs = dirs(fs);
    dirs.create(true).expect("dirs");
    LogExecutor::new(dirs.open_txn_log(log_options()).expect("log"))
}

fn logged_zxids(fs: &MemFs) -> Vec<i64> {
    let log = dirs(fs).open_txn_log(log_options()).expect("log");
    log.read_from(1)
        .expect("read")
        .map(|e| e.expect("entry").zxid())
        .collect()
}

#[test]
fn a_batch_is_appended_with_one_fsync() {
    let fs = MemFs::new();
    let mut log = executor(&fs);
    let syncs = fs.data_syncs();
    let batch = vec![
        LogWork::Append(vec![txn(1), txn(2)]),
        LogWork::Append(vec![txn(3)]),
    ];
    assert_eq!(log.execute(batch).expect("written"), Some(3));
    assert_eq!(fs.data_syncs() - syncs, 1);
    // Nothing appended: nothing to report, nothing synced.
    assert_eq!(log.execute(Vec::new()).expect("nothing"), None);
    assert_eq!(fs.data_syncs() - syncs, 1);
    log.close().expect("close");
    assert_eq!(logged_zxids(&fs), [1, 2, 3]);
}

#[test]
fn a_roll_commits_what_came_before_and_starts_a_new_file() {
    let fs = MemFs::new();
    let mut log = executor(&fs);
    let batch = vec![
        LogWork::Append(vec![txn(1)]),
        LogWork::Roll,
        LogWork::Append(vec![txn(2)]),
    ];
    assert_eq!(log.execute(batch).expect("written"), Some(2));
    log.close().expect("close");
    let files: Vec<i64> = dirs(&fs)
        .logs()
        .expect("logs")
        .iter()
        .map(|f| f.zxid)
        .collect();
    assert_eq!(files, [1, 2]);
    assert_eq!(logged_zxids(&fs), [1, 2]);
}

#[test]
fn after_a_failure_work_waits_in_order_and_a_retry_writes_it_once_the_disk_works() {
    let fs = MemFs::new();
    let mut log = executor(&fs);
    assert_eq!(
        log.execute(vec![LogWork::Append(vec![txn(1)])]).ok(),
        Some(Some(1))
    );
    fs.inject(FaultOp::Write, FaultKind::NoSpace, None, None);
    let err = log
        .execute(vec![LogWork::Append(vec![txn(2)])])
        .expect_err("the disk is full");
    assert!(matches!(err, LogError::Commit { .. }), "{err:?}");
    assert!(log.has_failed());
    // Work handed over meanwhile waits: nothing is acknowledged.
    let batch = vec![
        LogWork::Append(vec![txn(3)]),
        LogWork::Roll,
        LogWork::Append(vec![txn(4)]),
    ];
    assert_eq!(log.execute(batch).ok(), Some(None));
    // Still full: the retry fails and nothing is acknowledged.
    assert!(log.retry().is_err());
    assert!(log.has_failed());
    fs.clear_faults();
    assert_eq!(log.retry().expect("the disk works"), Some(4));
    assert!(!log.has_failed());
    assert_eq!(
        log.execute(vec![LogWork::Append(vec![txn(5)])]).ok(),
        Some(Some(5))
    );
    log.close().expect("close");
    assert_eq!(logged_zxids(&fs), [1, 2, 3, 4, 5]);
}

#[test]
fn a_retry_after_a_failed_roll_does_not_append_what_was_already_durable() {
    let fs = MemFs::new();
    let mut log = executor(&fs);
    // The appends are committed before the roll; creating the next file fails.
    fs.inject(FaultOp::Create, FaultKind::Io, Some("log.3"), Some(1));
    let batch = vec![
        LogWork::Append(vec![txn(1), txn(2)]),
        LogWork::Roll,
        LogWork::Append(vec![txn(3)]),
    ];
    assert!(log.execute(batch).is_err());
    // 1 and 2 are durable and reported by the retry; 3 is written once.
    assert_eq!(log.retry().expect("retry"), Some(3));
    log.close().expect("close");
    assert_eq!(logged_zxids(&fs), [1, 2, 3]);
}

/// Found by the simulator: a batch that appends and then cuts the log reported the cut
/// appends as durable; a learner re-logging them after its TRUNC would have acknowledged
/// them before they were on disk again.
#[test]
fn a_cut_in_a_batch_caps_what_is_reported_durable() {
    let fs = MemFs::new();
    let mut log = executor(&fs);
    assert_eq!(
        log.execute(vec![LogWork::Append(vec![txn(1), txn(2)])])
            .expect("written"),
        Some(2)
    );
    let batch = vec![LogWork::Append(vec![txn(3), txn(4)]), LogWork::Truncate(2)];
    assert_eq!(log.execute(batch).expect("cut"), Some(2));
    log.close().expect("close");
    assert_eq!(logged_zxids(&fs), [1, 2]);
}
