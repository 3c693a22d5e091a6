//! [`TxnLog::recover_after_failure`]: after a failed write the log goes back to its last
//! durable entry, and what is appended again after it is read back after a power loss.

use super::tests::{body, dir, setup, small, zxids};
use super::*;
use crate::fs::{CrashMode, FaultKind, FaultOp};

#[test]
fn a_short_write_on_a_full_disk_is_cut_and_appended_again_once_space_returns() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    log.append(1, &body(1)).unwrap();
    log.commit().unwrap();
    mem.inject(FaultOp::Write, FaultKind::NoSpace, Some("log."), None);
    log.append(2, &body(2)).unwrap();
    log.append(3, &body(3)).unwrap();
    assert!(log.commit().unwrap_err().is_disk_full());
    // Still full: recovery fails and can be tried again.
    log.append(9, &body(9)).unwrap_err();
    mem.inject(FaultOp::SetLen, FaultKind::NoSpace, None, Some(1));
    assert!(log.recover_after_failure().is_err());
    mem.clear_faults();
    log.recover_after_failure().unwrap();
    assert_eq!(log.last_zxid(), 1);
    for z in [2, 3] {
        log.append(z, &body(z)).unwrap();
    }
    assert_eq!(log.commit().unwrap().last_zxid, 3);
    drop(log);
    mem.crash(CrashMode::LoseUnsynced);
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), [1, 2, 3]);
}

#[test]
fn after_a_failed_fsync_nothing_unsynced_is_trusted() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    log.append(1, &body(1)).unwrap();
    log.commit().unwrap();
    log.append(2, &body(2)).unwrap();
    mem.inject(FaultOp::Sync, FaultKind::Io, None, Some(1));
    assert!(log.commit().is_err());
    log.recover_after_failure().unwrap();
    // Entry 2 reached the file but was never synced: it is cut, not kept.
    assert_eq!(zxids(&log, 0), [1]);
    log.append(2, &body(2)).unwrap();
    log.commit().unwrap();
    drop(log);
    mem.crash(CrashMode::LoseUnsynced);
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), [1, 2]);
}

#[test]
fn a_file_half_created_by_a_failed_roll_is_removed() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    log.append(1, &body(1)).unwrap();
    log.commit().unwrap();
    log.roll().unwrap();
    // The new file is created; writing its header finds the disk full.
    mem.inject(FaultOp::Write, FaultKind::NoSpace, Some("log.2"), Some(1));
    assert!(log.append(2, &body(2)).is_err());
    assert!(mem.exists(&dir().join("log.2")));
    log.recover_after_failure().unwrap();
    assert!(!mem.exists(&dir().join("log.2")));
    for z in [2, 3] {
        log.append(z, &body(z)).unwrap();
    }
    log.commit().unwrap();
    drop(log);
    mem.crash(CrashMode::LoseUnsynced);
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), [1, 2, 3]);
}

#[test]
fn an_empty_log_that_failed_starts_afresh() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    mem.inject(FaultOp::Sync, FaultKind::Io, None, Some(1));
    log.append(1, &body(1)).unwrap();
    assert!(log.commit().is_err());
    log.recover_after_failure().unwrap();
    assert_eq!(log.last_zxid(), -1);
    log.append(1, &body(1)).unwrap();
    log.commit().unwrap();
    drop(log);
    mem.crash(CrashMode::LoseUnsynced);
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), [1]);
}
