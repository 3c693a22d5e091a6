//! Fuzzes crash recovery: arbitrary bytes as the tail transaction-log file (opened with
//! torn-tail repair, then read and decoded entry by entry), as a snapshot file (through the
//! snapshot picker with fallback, and the streaming reader), and as a raw txn body. None of
//! it may panic or allocate more than the input justifies; whatever decodes must survive an
//! encode/decode round trip.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use menagerie_storage::txn::{LoggedTxn, TxnBody};
use menagerie_storage::{DataDirs, Fs, MemFs, TxnLog, TxnLogOptions};

fuzz_target!(|data: &[u8]| {
    let mem = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(mem.clone());
    let dirs = DataDirs::new(fs.clone(), Path::new("/zk"), None);
    if dirs.create(true).is_err() {
        return;
    }

    // As a log file, after a valid one.
    let log_dir = dirs.log_dir().to_path_buf();
    let opts = TxnLogOptions {
        pre_alloc_size: 4096,
        ..TxnLogOptions::default()
    };
    if let Ok(mut log) = TxnLog::open(fs.clone(), &log_dir, opts.clone()) {
        let _ = log.append(1, &[0u8; 32]);
        let _ = log.commit();
    }
    let _ = mem.put_file(&log_dir.join("log.2"), data);
    if let Ok(log) = TxnLog::open(fs.clone(), &log_dir, opts)
        && let Ok(entries) = log.read_from(0)
    {
        for entry in entries {
            let Ok(entry) = entry else { break };
            let _ = entry.decode();
        }
    }

    // As a snapshot.
    let _ = mem.put_file(&dirs.snap_dir().join("snapshot.5"), data);
    let _ = dirs.load_newest_snapshot(|r| {
        let mut n = 0usize;
        while r.next_node()?.is_some() {
            n += 1;
        }
        Ok(n + r.sessions().len() + r.acls().len())
    });

    // As a txn body.
    if let Ok(txn) = LoggedTxn::from_bytes(data) {
        // A body-less closeSession followed by a digest is ambiguous in ZooKeeper's format
        // (the digest can parse as a CloseSessionTxn), so it is exempt.
        let ambiguous = matches!(txn.body, TxnBody::CloseSession(None)) && txn.digest.is_some();
        let bytes = txn.to_bytes();
        if !ambiguous {
            assert_eq!(LoggedTxn::from_bytes(&bytes).expect("re-decode"), txn);
        }
    }
});
