use std::path::PathBuf;

use menagerie_proto::txn::SetDataTxn;

use super::*;
use crate::fs::{CrashMode, FaultKind, FaultOp, MemFs};
use menagerie_proto::records::Acl;
use menagerie_proto::txn::{CreateTxn, LoggedTxn, TxnBody, TxnDigest, TxnHeader};
use menagerie_proto::{SessionId, Zxid};

pub(super) fn dir() -> PathBuf {
    PathBuf::from("/data/version-2")
}

pub(super) fn setup() -> (MemFs, Arc<dyn Fs>) {
    let mem = MemFs::new();
    mem.create_dir_all(&dir()).unwrap();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    (mem, fs)
}

pub(super) fn small() -> TxnLogOptions {
    TxnLogOptions {
        pre_alloc_size: 8192,
        ..TxnLogOptions::default()
    }
}

/// A setData body for `zxid` with `zxid % 7 * 10` bytes of data.
pub(super) fn body(zxid: i64) -> Vec<u8> {
    let header = TxnHeader {
        client_id: SessionId(0x1234),
        cxid: zxid as i32,
        zxid: Zxid(zxid),
        time: 1_700_000_000_000 + zxid,
        txn_type: 5,
    };
    let body = TxnBody::SetData(SetDataTxn {
        path: format!("/n{zxid}"),
        data: Some(vec![b'x'; (zxid % 7 * 10) as usize]),
        version: 1,
    });
    let digest = TxnDigest {
        version: 2,
        tree_digest: zxid * 1000,
    };
    LoggedTxn {
        header,
        body,
        digest: Some(digest),
    }
    .to_bytes()
}

/// Spec 10.2: `create /a "hello" world:anyone:cdrwa` at zxid 2 as ZooKeeper 3.8.0 logged it
/// (its 91 bytes are checked field by field in `menagerie-proto`'s txn tests).
fn spec_create_txn() -> LoggedTxn {
    LoggedTxn {
        header: TxnHeader {
            client_id: SessionId(0x0100000763740000),
            cxid: 1,
            zxid: Zxid(2),
            time: 1795274139084,
            txn_type: 1,
        },
        body: TxnBody::Create(CreateTxn {
            path: "/a".into(),
            data: Some(b"hello".to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 1,
        }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: 0x14ff8ef00,
        }),
    }
}

fn entry_len(zxid: i64) -> u64 {
    8 + 4 + body(zxid).len() as u64 + 1
}

pub(super) fn zxids(log: &TxnLog, from: i64) -> Vec<i64> {
    log.read_from(from)
        .unwrap()
        .map(|e| e.unwrap().zxid())
        .collect()
}

/// Adler-32 written out from its definition, independent of the adler2 crate.
fn naive_adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn file_layout_is_zookeepers() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs, &dir(), TxnLogOptions::default()).unwrap();
    let body = spec_create_txn().to_bytes();
    log.append(2, &body).unwrap();
    let info = log.commit().unwrap();
    assert!(info.fsync.is_some());
    assert_eq!(info.last_zxid, 2);
    let path = dir().join("log.2");
    // Spec 10.2: a fresh file is 16 + 64 MiB long (sparse).
    assert_eq!(mem.file_len(&path).unwrap(), 67_108_880);
    let mut head = vec![0u8; 16 + 12 + 91 + 1 + 16];
    mem.read_at(&path, 0, &mut head).unwrap();
    assert_eq!(&head[0..4], b"ZKLG");
    assert_eq!(&head[4..8], &[0, 0, 0, 2]);
    assert_eq!(&head[8..16], &[0; 8]);
    let crc = naive_adler32(&body);
    assert_eq!(&head[16..24], &u64::from(crc).to_be_bytes());
    assert_eq!(&head[24..28], &[0, 0, 0, 91]);
    assert_eq!(&head[28..119], &body[..]);
    assert_eq!(head[119], b'B');
    assert_eq!(&head[120..], &[0; 16], "then preallocated zeros");
    let entries: Vec<LogEntry> = log.read_from(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].offset, 16);
    assert_eq!(entries[0].end_offset(), 120);
    assert_eq!(entries[0].decode().unwrap(), spec_create_txn());
}

#[test]
fn padding_follows_file_padding() {
    // ZooKeeper's FilePaddingTest cases.
    assert_eq!(padded_size(1, 5000, 1000), 5000);
    assert_eq!(padded_size(4001, 5000, 1000), 6000);
    assert_eq!(padded_size(6001, 5000, 1000), 7000);
    assert_eq!(
        padded_size(16, 16, DEFAULT_PRE_ALLOC_SIZE),
        16 + DEFAULT_PRE_ALLOC_SIZE
    );
    assert_eq!(padded_size(4001, 5000, 0), 5000);
}

#[test]
fn files_grow_by_preallocation_blocks() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs, &dir(), small()).unwrap();
    for z in 1..=200 {
        log.append(z, &body(z)).unwrap();
        if z % 10 == 0 {
            log.commit().unwrap();
        }
        let size = mem.file_len(&dir().join("log.1")).unwrap();
        assert!(size >= log.current_size(), "preallocated before written");
        assert_eq!((size - 16) % 8192, 0, "{size}");
    }
    log.commit().unwrap();
    assert_eq!(zxids(&log, 0), (1..=200).collect::<Vec<_>>());
    // Without preallocation the file ends right after the last entry.
    let (mem, fs) = setup();
    let opts = TxnLogOptions {
        pre_alloc_size: 0,
        ..small()
    };
    let mut log = TxnLog::open(fs, &dir(), opts).unwrap();
    log.append(1, &body(1)).unwrap();
    log.commit().unwrap();
    assert_eq!(
        mem.file_len(&dir().join("log.1")).unwrap(),
        16 + entry_len(1)
    );
}

#[test]
fn rolls_read_across_files_in_numeric_order() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    // Files log.1, log.9, log.a, log.10: lexical order would put log.10 before log.9.
    let all: Vec<i64> = (1..=0x14).collect();
    for &z in &all {
        if [9, 0xa, 0x10].contains(&z) {
            log.roll().unwrap();
        }
        log.append(z, &body(z)).unwrap();
    }
    log.commit().unwrap();
    let mut names = mem.list_dir(&dir()).unwrap();
    names.sort();
    assert_eq!(names, ["log.1", "log.10", "log.9", "log.a"]);
    assert_eq!(zxids(&log, 0), all);
    assert_eq!(zxids(&log, 0xb), (0xb..=0x14).collect::<Vec<_>>());
    assert_eq!(zxids(&log, 0x10), (0x10..=0x14).collect::<Vec<_>>());
    assert_eq!(zxids(&log, 0x15), Vec::<i64>::new());
    // Reopening finds the last zxid.
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(log.last_zxid(), 0x14);
}

#[test]
fn commit_syncs_every_rolled_file_and_the_directory() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    log.append(1, &body(1)).unwrap();
    log.roll().unwrap();
    log.append(2, &body(2)).unwrap();
    let (d0, s0) = (mem.data_syncs(), mem.dir_syncs());
    log.commit().unwrap();
    assert_eq!(mem.data_syncs() - d0, 2);
    assert_eq!(mem.dir_syncs() - s0, 1);
    // Power loss: everything committed survives, directory entries included.
    mem.crash(CrashMode::LoseUnsynced);
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), [1, 2]);
}

#[test]
fn force_sync_off_never_fsyncs() {
    let (mem, fs) = setup();
    let opts = TxnLogOptions {
        force_sync: false,
        ..small()
    };
    let mut log = TxnLog::open(fs, &dir(), opts).unwrap();
    log.append(1, &body(1)).unwrap();
    let info = log.commit().unwrap();
    assert_eq!(info.fsync, None);
    assert_eq!(mem.data_syncs() + mem.dir_syncs(), 0);
    assert_eq!(zxids(&log, 0), [1]);
}

#[test]
fn size_limit_rolls_after_commit() {
    let (mem, fs) = setup();
    let opts = TxnLogOptions {
        size_limit: Some(300),
        ..small()
    };
    let mut log = TxnLog::open(fs, &dir(), opts).unwrap();
    for z in 1..=12 {
        log.append(z, &body(z)).unwrap();
        log.commit().unwrap();
    }
    assert!(mem.list_dir(&dir()).unwrap().len() > 2);
    assert_eq!(zxids(&log, 0), (1..=12).collect::<Vec<_>>());
}

/// Commits 1..=5, writes 6..=9 without syncing, crashes keeping `keep` bytes of the
/// unsynced writes; returns what a reopened log reads.
fn torn_after(keep: usize) -> (Vec<i64>, MemFs) {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    for z in 1..=5 {
        log.append(z, &body(z)).unwrap();
    }
    log.commit().unwrap();
    for z in 6..=9 {
        log.append(z, &body(z)).unwrap();
    }
    log.close().unwrap(); // written, not synced
    mem.crash(CrashMode::TornTail { keep_bytes: keep });
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    let got = zxids(&log, 0);
    assert_eq!(log.last_zxid(), *got.last().unwrap());
    (got, mem)
}

#[test]
fn torn_tail_is_cut_to_the_last_complete_entry() {
    let unsynced: u64 = (6..=9).map(entry_len).sum();
    for keep in 0..=unsynced as usize + 1 {
        let (got, mem) = torn_after(keep);
        // Complete entries among the first `keep` unsynced bytes survive, nothing else.
        let mut complete = 5;
        let mut used = 0;
        for z in 6..=9 {
            used += entry_len(z);
            if used <= keep as u64 {
                complete = z;
            }
        }
        assert_eq!(got, (1..=complete).collect::<Vec<_>>(), "keep {keep}");
        // The file now ends exactly after its last complete entry, if it was torn.
        let len = mem.file_len(&dir().join("log.1")).unwrap();
        let end = 16 + (1..=complete).map(entry_len).sum::<u64>();
        assert!(
            len == end || len % 8192 == 16,
            "keep {keep}: len {len}, end {end}"
        );
    }
}

#[test]
fn appends_after_repair_go_to_a_new_file() {
    let (_, mem) = torn_after(100);
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    let last = log.last_zxid();
    for z in last + 1..=last + 3 {
        log.append(z, &body(z)).unwrap();
    }
    log.commit().unwrap();
    mem.crash(CrashMode::LoseUnsynced);
    let log = TxnLog::open(fs, &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), (1..=last + 3).collect::<Vec<_>>());
}

#[test]
fn corruption_mid_log_names_file_and_offset() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    for z in 1..=5 {
        log.append(z, &body(z)).unwrap();
    }
    log.commit().unwrap();
    let third = 16 + entry_len(1) + entry_len(2);
    mem.corrupt(&dir().join("log.1"), third + 12 + 20, 0x01)
        .unwrap();
    let mut it = log.read_from(0).unwrap();
    assert_eq!(it.next().unwrap().unwrap().zxid(), 1);
    assert_eq!(it.next().unwrap().unwrap().zxid(), 2);
    let err = it.next().unwrap().unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::CrcMismatch { offset, .. } if offset == third),
        "{msg}"
    );
    assert!(msg.contains("CRC check failed"), "{msg}");
    assert!(msg.contains("log.1"), "{msg}");
    assert!(msg.contains(&format!("offset {third}")), "{msg}");
    assert!(it.next().is_none(), "fused after an error");
    // Opening refuses to "repair" damage that is not a torn tail.
    assert!(matches!(
        TxnLog::open(fs, &dir(), small()),
        Err(Error::CrcMismatch { .. })
    ));
}

#[test]
fn impossible_length_is_corruption_not_a_torn_tail() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    log.append(1, &body(1)).unwrap();
    log.append(2, &body(2)).unwrap();
    log.commit().unwrap();
    let second = 16 + entry_len(1);
    mem.corrupt(&dir().join("log.1"), second + 8, 0x40).unwrap();
    let err = log.read_from(0).unwrap().nth(1).unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { offset, .. } if offset == second + 8),
        "{err}"
    );
}

#[test]
fn a_torn_tail_in_an_older_file_continues_with_the_next() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    for z in 1..=3 {
        log.append(z, &body(z)).unwrap();
    }
    log.roll().unwrap();
    log.append(4, &body(4)).unwrap();
    log.commit().unwrap();
    // Entry 3 of log.1 lost its 'B' (a torn write ZooKeeper left there before it started
    // log.4): the end of that file, as ZooKeeper reads it.
    let b3 = 16 + entry_len(1) + entry_len(2) + entry_len(3) - 1;
    mem.corrupt(&dir().join("log.1"), b3, b'B').unwrap();
    assert_eq!(zxids(&log, 0), [1, 2, 4]);
}

#[test]
fn disk_full_on_commit_is_an_error_and_poisons_the_log() {
    for crash in [CrashMode::LoseUnsynced, CrashMode::ProcessOnly] {
        let (mem, fs) = setup();
        let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
        log.append(1, &body(1)).unwrap();
        log.commit().unwrap();
        mem.inject(FaultOp::Write, FaultKind::NoSpace, Some("log."), Some(1));
        log.append(2, &body(2)).unwrap(); // buffered
        let err = log.commit().unwrap_err();
        assert!(err.is_disk_full(), "{err}");
        // Never a later silent success: the log stays failed.
        assert!(matches!(log.commit(), Err(Error::Poisoned(_))));
        assert!(matches!(log.append(3, &body(3)), Err(Error::Poisoned(_))));
        assert_eq!(log.last_synced_zxid(), 1);
        drop(log);
        // After restart only the committed txn is there (a short write is cut off).
        mem.crash(crash);
        let log = TxnLog::open(fs, &dir(), small()).unwrap();
        assert_eq!(zxids(&log, 0), [1]);
    }
}

#[test]
fn disk_full_on_preallocation_and_eio_on_fsync() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    mem.inject(FaultOp::Write, FaultKind::NoSpace, None, None);
    let err = log.append(1, &body(1)).unwrap_err();
    assert!(err.is_disk_full(), "{err}");
    assert!(matches!(log.commit(), Err(Error::Poisoned(_))));
    mem.clear_faults();

    let mut log = TxnLog::open(fs, &dir(), small()).unwrap();
    log.append(1, &body(1)).unwrap();
    mem.inject(FaultOp::Sync, FaultKind::Io, None, Some(1));
    assert!(matches!(log.commit(), Err(Error::Io { op: "fsync", .. })));
    // The fault is gone, but an fsync error may have dropped dirty pages: stay failed.
    assert!(matches!(log.commit(), Err(Error::Poisoned(_))));
}

#[test]
fn empty_or_headerless_tail_file_is_removed_at_open() {
    for contents in [&b""[..], &b"ZKLG\0\0"[..], &[0u8; 64][..]] {
        let (mem, fs) = setup();
        let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
        log.append(1, &body(1)).unwrap();
        log.commit().unwrap();
        mem.put_file(&dir().join("log.2"), contents).unwrap();
        let log = TxnLog::open(fs, &dir(), small()).unwrap();
        assert!(!mem.exists(&dir().join("log.2")));
        assert_eq!(log.last_zxid(), 1);
        assert_eq!(zxids(&log, 0), [1]);
    }
    // A bad magic anywhere else is an error.
    let (mem, fs) = setup();
    mem.put_file(&dir().join("log.1"), &[1u8; 64]).unwrap();
    assert!(matches!(
        TxnLog::open(fs, &dir(), small()),
        Err(Error::BadMagic { .. })
    ));
}

#[test]
fn truncate_removes_everything_after_the_zxid() {
    let (mem, fs) = setup();
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    for z in 1..=10 {
        if z == 4 || z == 8 {
            log.roll().unwrap();
        }
        log.append(z, &body(z)).unwrap();
    }
    log.commit().unwrap();
    log.truncate(5).unwrap();
    assert_eq!(log.last_zxid(), 5);
    assert_eq!(zxids(&log, 0), [1, 2, 3, 4, 5]);
    assert!(!mem.exists(&dir().join("log.8")));
    assert_eq!(
        mem.file_len(&dir().join("log.4")).unwrap(),
        16 + entry_len(4) + entry_len(5)
    );
    // New appends start a new file and survive a crash with the truncation.
    log.append(6, &body(6)).unwrap();
    log.commit().unwrap();
    assert!(mem.exists(&dir().join("log.6")));
    mem.crash(CrashMode::LoseUnsynced);
    let mut log = TxnLog::open(fs.clone(), &dir(), small()).unwrap();
    assert_eq!(zxids(&log, 0), [1, 2, 3, 4, 5, 6]);
    // Truncating to before every file removes them all; to after the end changes nothing.
    log.truncate(100).unwrap();
    assert_eq!(zxids(&log, 0), [1, 2, 3, 4, 5, 6]);
    log.truncate(0).unwrap();
    assert_eq!(zxids(&log, 0), Vec::<i64>::new());
    assert!(matches!(
        log.truncate(0),
        Err(Error::NoLogToTruncate { .. })
    ));
}

#[test]
fn typed_appends_and_odd_zxids() {
    let (_, fs) = setup();
    let mut log = TxnLog::open(fs, &dir(), small()).unwrap();
    let t = spec_create_txn();
    log.append_txn(&t).unwrap();
    // A zxid that does not increase is logged with a warning, as ZooKeeper does.
    log.append(1, &body(1)).unwrap();
    assert!(matches!(log.append(3, &[]), Err(Error::InvalidInput(_))));
    log.commit().unwrap();
    let got: Vec<DecodedTxnPair> = log
        .read_from(0)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.zxid(), e.decode().unwrap().body.txn_type())
        })
        .collect();
    assert_eq!(got, [(2, 1), (1, 5)]);
    assert_eq!(log.last_zxid(), 2);
}

type DecodedTxnPair = (i64, i32);

/// A `tracing` writer that collects the formatted log lines.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn every_commit_fsync_is_counted_and_slow_ones_are_logged_with_the_file() {
    let (mem, fs) = setup();
    let stats = Arc::new(FsyncStats::new());
    let opts = TxnLogOptions {
        fsync_warning_threshold: Duration::from_millis(100),
        fsync_stats: Some(Arc::clone(&stats)),
        ..small()
    };
    let logs = Captured::default();
    let sub = tracing_subscriber::fmt()
        .with_writer({
            let l = logs.clone();
            move || l.clone()
        })
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(sub, || {
        let mut log = TxnLog::open(Arc::clone(&fs), &dir(), opts).unwrap();
        // Fast disk: counted, not slow, nothing logged.
        for z in 1..=3 {
            log.append(z, &body(z)).unwrap();
            let info = log.commit().unwrap();
            assert!(!info.slow);
            assert!(info.fsync.is_some());
        }
        // A commit with nothing new does not sync.
        assert_eq!(log.commit().unwrap().fsync, None);
        let s = stats.snapshot();
        assert_eq!((s.count, s.slow), (3, 0));
        assert!(!logs.text().contains("fsync-ing"), "{}", logs.text());
        // Slow disk: 150 ms per fsync (the fast ones above stay far below 100 ms even on a
        // loaded machine).
        mem.set_sync_delay(Duration::from_millis(150));
        log.append(4, &body(4)).unwrap();
        let info = log.commit().unwrap();
        assert!(info.slow);
        assert!(info.fsync.unwrap() >= Duration::from_millis(150));
        let s = stats.snapshot();
        assert_eq!((s.count, s.slow), (4, 1));
        assert!(s.max >= Duration::from_millis(150));
        assert!(s.total >= Duration::from_millis(150));
        // 150 ms lands in the (100, 200] bucket (or, on a very slow machine, a later one).
        let b200 = FSYNC_BUCKET_BOUNDS_MS
            .iter()
            .position(|&b| b == 200)
            .unwrap();
        assert_eq!(s.buckets[b200..].iter().sum::<u64>(), 1);
        assert_eq!(s.buckets.iter().sum::<u64>(), 4);
        mem.set_sync_delay(Duration::ZERO);
    });
    let text = logs.text();
    assert_eq!(
        text.matches("fsync-ing the write ahead log").count(),
        1,
        "{text}"
    );
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("/data/version-2/log.1"), "{text}");
    assert!(text.contains("threshold_ms=100"), "{text}");
    // Without force_sync nothing is synced or counted.
    let no_sync = TxnLogOptions {
        force_sync: false,
        fsync_stats: Some(Arc::clone(&stats)),
        ..small()
    };
    let mut log = TxnLog::open(fs, &dir(), no_sync).unwrap();
    log.append(5, &body(5)).unwrap();
    assert_eq!(log.commit().unwrap().fsync, None);
    assert_eq!(stats.snapshot().count, 4);
}

/// On a real file system the region ahead of the entries holds written zeros (allocated
/// blocks, not a hole), and writing them never touches an entry: every entry reads back.
#[test]
fn zeros_are_written_ahead_of_entries_without_touching_them() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().expect("temp dir");
    let fs: Arc<dyn Fs> = Arc::new(crate::fs::StdFs);
    let mut log = TxnLog::open(fs, tmp.path(), TxnLogOptions::default()).expect("open");
    // About 2.5 MiB of entries, committed in uneven groups, across several zero chunks.
    let n = 30_000;
    for z in 1..=n {
        log.append(z, &body(z)).expect("append");
        if z % 97 == 0 {
            log.commit().expect("commit");
            let meta = std::fs::metadata(tmp.path().join("log.1")).expect("stat");
            assert!(
                meta.blocks() * 512 >= log.current_size() + ZERO_AHEAD / 2,
                "{} bytes allocated for {} written",
                meta.blocks() * 512,
                log.current_size()
            );
        }
    }
    log.commit().expect("commit");
    let meta = std::fs::metadata(tmp.path().join("log.1")).expect("stat");
    assert_eq!(
        meta.len(),
        16 + DEFAULT_PRE_ALLOC_SIZE,
        "preallocated as ZooKeeper does"
    );
    assert!(
        meta.blocks() * 512 < DEFAULT_PRE_ALLOC_SIZE / 4,
        "still sparse beyond the zeros"
    );
    assert_eq!(zxids(&log, 0), (1..=n).collect::<Vec<_>>());
}
