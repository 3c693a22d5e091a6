//! Damage that looks like a torn tail but is not one: the reader must stop with an error
//! naming the file and offset instead of cutting the log there, which would silently drop
//! every acknowledged entry after it. And the log's own entry limit: whatever the writer
//! appends, the reader reads back.

use std::path::PathBuf;

use menagerie_proto::txn::{CloseSessionTxn, LoggedTxn, TxnBody, TxnHeader};
use menagerie_proto::{SessionId, Zxid};

use super::*;
use crate::fs::MemFs;

fn dir() -> PathBuf {
    PathBuf::from("/data/version-2")
}

fn log_file() -> PathBuf {
    dir().join("log.1")
}

/// A closeSession txn for `zxid` listing `n` paths of 48 bytes.
fn close_session(zxid: i64, n: usize) -> Vec<u8> {
    LoggedTxn {
        header: TxnHeader {
            client_id: SessionId(0x1234),
            cxid: 0,
            zxid: Zxid(zxid),
            time: 1_700_000_000_000,
            txn_type: -11,
        },
        body: TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: (0..n).map(|i| format!("/locks/{i:0>41}")).collect(),
        })),
        digest: None,
    }
    .to_bytes()
}

/// Entry `zxid` (1-based): a closeSession listing `zxid` paths.
fn entry(zxid: i64) -> Vec<u8> {
    close_session(zxid, zxid as usize)
}

fn entry_len(zxid: i64) -> u64 {
    8 + 4 + entry(zxid).len() as u64 + 1
}

/// Offset of entry `zxid` in log.1.
fn offset_of(zxid: i64) -> u64 {
    16 + (1..zxid).map(entry_len).sum::<u64>()
}

/// A log of entries 1..=5 in one file, committed; preallocated unless `pre_alloc` is 0.
fn five_entries(pre_alloc: u64) -> (MemFs, Arc<dyn Fs>, TxnLogOptions) {
    let mem = MemFs::new();
    mem.create_dir_all(&dir()).expect("mkdir");
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let opts = TxnLogOptions {
        pre_alloc_size: pre_alloc,
        ..TxnLogOptions::default()
    };
    let mut log = TxnLog::open(fs.clone(), &dir(), opts.clone()).expect("open");
    for z in 1..=5 {
        log.append(z, &entry(z)).expect("append");
    }
    log.commit().expect("commit");
    (mem, fs, opts)
}

/// Opening the log must fail naming log.1 and `offset`, leave the file as it was, and the
/// reader must stop at the same place.
fn assert_damage_at(mem: &MemFs, fs: Arc<dyn Fs>, opts: TxnLogOptions, offset: u64) {
    let len = mem.file_len(&log_file()).expect("len");
    let err = TxnLog::open(fs.clone(), &dir(), opts.clone()).expect_err("damage, not a tail");
    let text = err.to_string();
    assert!(
        matches!(err, Error::Corrupt { offset: o, .. } if o == offset),
        "{text}"
    );
    assert!(text.contains("log.1"), "{text}");
    assert_eq!(mem.file_len(&log_file()).expect("len"), len, "nothing cut");
    let mut r = LogFileReader::open(fs.as_ref(), &log_file(), opts.max_entry_len).expect("open");
    let mut read = Vec::new();
    let err = loop {
        match r.next_step() {
            Ok(Step::Entry(e)) => read.push(e.zxid()),
            Ok(Step::End(end)) => panic!("ended ({end:?}) after {read:?}"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Corrupt { offset: o, .. } if o == offset));
}

#[test]
fn a_bad_end_of_record_byte_mid_log_is_damage_not_a_torn_tail() {
    for pre_alloc in [0, 8192] {
        let (mem, fs, opts) = five_entries(pre_alloc);
        let marker = offset_of(3) - 1; // entry 2's 'B'
        mem.corrupt(&log_file(), marker, 0x01).expect("flip");
        assert_damage_at(&mem, fs, opts, marker);
    }
}

#[test]
fn a_zero_end_of_record_byte_before_a_whole_entry_is_damage() {
    let (mem, fs, opts) = five_entries(8192);
    let marker = offset_of(3) - 1;
    mem.corrupt(&log_file(), marker, b'B').expect("zero it");
    assert_damage_at(&mem, fs, opts, marker);
}

#[test]
fn a_length_running_over_later_entries_is_damage() {
    // Past the end of an unpadded file, and into the zeros of a preallocated one: either
    // way the "torn" entry would swallow entries 3..=5.
    for (pre_alloc, mask) in [(0u64, 0x10u8), (1 << 20, 0x04)] {
        let (mem, fs, opts) = five_entries(pre_alloc);
        let len_field = offset_of(2) + 8;
        mem.corrupt(&log_file(), len_field + 1, mask).expect("flip");
        assert_damage_at(&mem, fs, opts, len_field);
    }
}

#[test]
fn a_torn_last_entry_is_still_cut() {
    // The last entry's marker never reached the disk (zero), its body did: a torn tail.
    let (mem, fs, opts) = five_entries(8192);
    let marker = offset_of(6) - 1;
    mem.corrupt(&log_file(), marker, b'B').expect("zero it");
    let log = TxnLog::open(fs, &dir(), opts).expect("a torn tail is repaired");
    assert_eq!(log.last_zxid(), 4);
    assert_eq!(mem.file_len(&log_file()).expect("len"), offset_of(5));
}

/// Issue 16, item 8: the log never holds an entry its own reader refuses. An entry far over
/// `jute.maxbuffer` (3.4 MB here) is written and read back with the default options.
#[test]
fn entries_over_jute_maxbuffer_are_read_back() {
    let mem = MemFs::new();
    mem.create_dir_all(&dir()).expect("mkdir");
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let mut log = TxnLog::open(fs.clone(), &dir(), TxnLogOptions::default()).expect("open");
    let big = close_session(1, 70_000);
    assert!(big.len() > 3 << 20);
    log.append(1, &big).expect("append");
    log.append(2, &entry(2)).expect("append");
    log.commit().expect("commit");
    drop(log);
    let log = TxnLog::open(fs, &dir(), TxnLogOptions::default()).expect("reopen");
    let read: Vec<LogEntry> = log
        .read_from(0)
        .expect("read")
        .map(|e| e.expect("entry"))
        .collect();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].body, big);
}

/// With a smaller limit the writer refuses what its reader would refuse, and a reader with
/// a smaller limit than the writer's names the setting to raise.
#[test]
fn the_writer_never_appends_what_the_reader_refuses() {
    let mem = MemFs::new();
    mem.create_dir_all(&dir()).expect("mkdir");
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let limited = TxnLogOptions {
        max_entry_len: 4096,
        ..TxnLogOptions::default()
    };
    let mut log = TxnLog::open(fs.clone(), &dir(), limited.clone()).expect("open");
    let err = log
        .append(1, &close_session(1, 100))
        .expect_err("over the limit");
    assert!(err.to_string().contains("entry limit of 4096"), "{err}");

    let mut log = TxnLog::open(fs.clone(), &dir(), TxnLogOptions::default()).expect("open");
    log.append(1, &close_session(1, 100)).expect("append");
    log.commit().expect("commit");
    let err = TxnLog::open(fs, &dir(), limited).expect_err("entry over the reader's limit");
    assert!(
        err.to_string().contains("set jute.maxbuffer to at least"),
        "{err}"
    );
}
