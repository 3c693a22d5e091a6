//! Durability: recovery at startup, the storage thread that group-commits the transaction log,
//! and snapshots, all in ZooKeeper's own on-disk formats (`menagerie-storage`).
//!
//! * **Recovery** ([`recover`]): the newest readable snapshot is loaded into a fresh tree,
//!   then every logged txn after it is replayed through the core (replay is idempotent, which
//!   fuzzy snapshots rely on). A torn tail is cut back to the last whole entry; a checksum
//!   failure in the middle of a log stops startup with the file and offset.
//! * **Group commit** ([`StorageThread`]): the shell hands over the txns of one batch; the
//!   thread appends them all, fsyncs once and reports the highest durable zxid. Replies wait
//!   for that report. If the disk fails, nothing more is acknowledged.
//! * **Snapshots**: every `snapCount` txns (randomised between half and all of it, as
//!   ZooKeeper does) the log is rolled and the tree is written to `snapshot.<zxid>`.
//! * **Fsync statistics** ([`FsyncStats`], in [`Recovered::fsync_stats`]): the storage
//!   thread times every commit's fsync; one slower than `fsync.warningthresholdms` is logged
//!   as a warning naming the file and duration, and counted. Metrics and admin commands read
//!   the counters with [`FsyncStats::snapshot`] from any thread.

use menagerie_proto::{SessionId, Zxid};
use std::sync::Arc;

use menagerie_core::tree::DataTree;
use menagerie_core::{Node as Server, Now};
use menagerie_proto::records::Acl;
use menagerie_proto::txn::LoggedTxn;
use menagerie_storage::{
    DataDirs, Fs, SnapshotNode, SnapshotTrailer, SnapshotWriter, TxnLog, TxnLogOptions, ZxidDigest,
};
use thiserror::Error;
use tokio::sync::mpsc;

use crate::config::ServerConfig;
use crate::shell::ToShell;

/// The transaction log's fsync counters: number of fsyncs, slow ones (over
/// `fsync.warningthresholdms`; ZooKeeper's `fsync_threshold_exceed_count`), total and maximum
/// time, and a histogram over [`FSYNC_BUCKET_BOUNDS_MS`]. Shared as an `Arc`; lock-free.
pub use menagerie_storage::txnlog::{FSYNC_BUCKET_BOUNDS_MS, FsyncStats, FsyncStatsSnapshot};

/// A problem with the data directory.
#[derive(Debug, Error)]
pub enum PersistenceError {
    /// Reading or writing ZooKeeper's files failed.
    #[error(transparent)]
    Storage(#[from] menagerie_storage::Error),
    /// A logged txn could not be decoded.
    #[error("undecodable txn {zxid:#x} in {file} at offset {offset}: {reason}")]
    BadTxn {
        /// The txn's zxid.
        zxid: i64,
        /// The log file.
        file: String,
        /// Offset of the entry.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A snapshot node could not be placed in the tree.
    #[error("snapshot node {path:?} has no parent")]
    Orphan {
        /// The node's path.
        path: String,
    },
}

/// The data directories and the open log, as recovery leaves them.
pub struct Recovered {
    /// The directories.
    pub dirs: DataDirs,
    /// The transaction log, positioned after its last entry.
    pub log: TxnLog,
    /// Txns replayed from the log.
    pub replayed: u64,
    /// The counters the log's commits record every fsync in (clone the `Arc` to read them
    /// from elsewhere, e.g. `/metrics`).
    pub fsync_stats: Arc<FsyncStats>,
}

fn log_options(config: &ServerConfig, fsync_stats: &Arc<FsyncStats>) -> TxnLogOptions {
    TxnLogOptions {
        force_sync: config.force_sync,
        pre_alloc_size: config.pre_alloc_size,
        max_entry_len: config.max_buffer + 1024,
        fsync_warning_threshold: std::time::Duration::from_millis(
            config.fsync_warning_threshold_ms,
        ),
        fsync_stats: Some(Arc::clone(fsync_stats)),
        ..TxnLogOptions::default()
    }
}

/// Loads the newest snapshot and replays the log into `server`.
pub fn recover(
    config: &ServerConfig,
    fs: Arc<dyn Fs>,
    server: &mut Server,
    now: Now,
) -> Result<Recovered, PersistenceError> {
    let dirs = DataDirs::new(fs, &config.data_dir, Some(&config.data_log_dir));
    dirs.create(true)?;
    let fsync_stats = Arc::new(FsyncStats::new());
    let log = dirs.open_txn_log(log_options(config, &fsync_stats))?;
    let extended = config.extended_types;
    let seed = now.wall_ms as u64;
    let loaded = dirs.load_newest_snapshot(|r| {
        let mut tree = DataTree::new(extended, seed);
        let acls: std::collections::HashMap<i64, Vec<Acl>> = r.acls().iter().cloned().collect();
        // -1 is OPEN_ACL_UNSAFE, which ZooKeeper never stores in the map.
        let open = Acl::open_unsafe();
        // About 100 bytes per node in a typical snapshot: size the tree's index once. Capped
        // at 2M nodes (~200 MB of slots), so that a snapshot of a few huge znodes does not
        // reserve memory for millions of nodes it does not have; beyond it the tree grows.
        tree.reserve((r.file_len() / 100).min(1 << 21) as usize);
        // The most recently restored ancestors (snapshots are in preorder): the parent of
        // the next node is found among them without hashing its path.
        let mut ancestors: Vec<u32> = Vec::new();
        while let Some(n) = r.next_node()? {
            let path = if n.path.is_empty() { "/" } else { &n.path };
            let acl = acls.get(&n.acl).map_or(open.as_slice(), Vec::as_slice);
            let parent = menagerie_core::path::parent(path);
            while ancestors
                .last()
                .is_some_and(|&id| tree.node(id).path() != parent)
            {
                ancestors.pop();
            }
            let hint = ancestors.last().copied();
            match tree.restore_node_under(hint, path, n.data.as_deref(), acl, &n.stat) {
                Ok(id) => ancestors.push(id),
                Err(_) => {
                    return Err(menagerie_storage::Error::InvalidInput(format!(
                        "snapshot node {path:?} has no parent"
                    )));
                }
            }
        }
        Ok((tree, r.sessions().to_vec()))
    })?;
    if let Some(snap) = loaded {
        let (tree, sessions) = snap.value;
        *server.tree_mut() = tree;
        for (id, timeout) in sessions {
            server.restore_session(SessionId(id), timeout);
        }
        server.restore_zxid(Zxid(snap.file.zxid));
        server.snapshot_loaded(Zxid(snap.file.zxid), snap.trailer.digest);
        tracing::info!(zxid = format_args!("{:#x}", snap.file.zxid), file = %snap.file.path.display(), "snapshot loaded");
    }
    let mut replayed = 0;
    for entry in log.read_from(server.last_processed_zxid().0 + 1)? {
        let entry = entry?;
        let txn = LoggedTxn::from_bytes(&entry.body).map_err(|e| PersistenceError::BadTxn {
            zxid: entry.zxid(),
            file: entry.file.display().to_string(),
            offset: entry.offset,
            reason: e.to_string(),
        })?;
        server.replay(&txn);
        replayed += 1;
    }
    server.recovery_done(now, replayed);
    server.tree_mut().rebuild_quotas();
    tracing::info!(
        zxid = format_args!("{:#x}", server.last_processed_zxid()),
        replayed,
        nodes = server.tree().node_count(),
        digest_mismatches = server.digest_log().mismatches(),
        "data loaded"
    );
    Ok(Recovered {
        dirs,
        log,
        replayed,
        fsync_stats,
    })
}

/// The digest block a snapshot finished now stores: the tree's digest and the zxid it is at
/// (ZooKeeper: `DataTree.serializeZxidDigest`). For a fuzzy snapshot that zxid is later than
/// the one the file is named after; recovery compares the digest when replay gets there.
/// `None` with `digest.enabled=false`.
pub fn snapshot_digest(server: &Server) -> Option<ZxidDigest> {
    server.snapshot_digest()
}

/// The sessions a snapshot stores: the committed global sessions and their timeouts.
pub fn snapshot_sessions(server: &Server) -> Vec<(i64, i32)> {
    server
        .replica()
        .sessions()
        .iter()
        .map(|(id, t)| (id.0, *t))
        .collect()
}

/// Work for the storage thread.
pub enum ToStorage {
    /// Append these txns and make them durable.
    Append(Vec<Arc<LoggedTxn>>),
    /// Start a new log file (before a snapshot).
    Roll,
}

/// The thread that owns the transaction log.
pub struct StorageThread {
    tx: std::sync::mpsc::Sender<ToStorage>,
}

impl StorageThread {
    /// Starts the thread. It publishes the highest durable zxid on `durable` (a watch, so
    /// the shell sees it ahead of queued client input and several reports coalesce) and
    /// reports a failure to `shell`.
    pub fn start(
        mut log: TxnLog,
        durable: tokio::sync::watch::Sender<i64>,
        shell: mpsc::Sender<ToShell>,
    ) -> StorageThread {
        let (tx, rx) = std::sync::mpsc::channel::<ToStorage>();
        std::thread::Builder::new()
            .name("menagerie-storage".into())
            .spawn(move || {
                let mut failed = false;
                while let Ok(first) = rx.recv() {
                    // Take everything already queued: one fsync for all of it.
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    if failed {
                        continue;
                    }
                    match write_batch(&mut log, batch) {
                        Ok(Some(up_to)) => {
                            if durable.send(up_to).is_err() {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            // Never acknowledge what may not be durable: stop here. Reads go on.
                            tracing::error!(error = %e, "transaction log write failed; no further writes will be acknowledged");
                            failed = true;
                            let _ = shell.blocking_send(ToShell::StorageFailed(e.to_string()));
                        }
                    }
                }
                let _ = log.close();
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the storage thread"));
        StorageThread { tx }
    }

    /// Queues work; false if the thread is gone.
    pub fn send(&self, work: ToStorage) -> bool {
        self.tx.send(work).is_ok()
    }
}

fn write_batch(
    log: &mut TxnLog,
    batch: Vec<ToStorage>,
) -> Result<Option<i64>, menagerie_storage::Error> {
    let mut up_to = None;
    for work in batch {
        match work {
            ToStorage::Append(txns) => {
                for t in txns {
                    log.append(t.zxid().0, &t.to_bytes())?;
                    up_to = Some(t.zxid().0);
                }
            }
            ToStorage::Roll => {
                if up_to.is_some() {
                    log.commit()?;
                }
                log.roll()?;
            }
        }
    }
    if up_to.is_some() {
        // Timed, counted in the FsyncStats and, if slow, logged by the log itself.
        log.commit()?;
    }
    Ok(up_to)
}

/// Writes a snapshot of the server's tree and sessions as of its last applied zxid.
pub fn take_snapshot(
    dirs: &DataDirs,
    server: &Server,
) -> Result<std::path::PathBuf, menagerie_storage::Error> {
    let tree = server.tree();
    let zxid = server.last_processed_zxid().0;
    let open = Acl::open_unsafe();
    let lists = tree.acl_lists();
    let acl_index = |r: u32| -> i64 {
        if tree_acl_is(&lists, r, &open) {
            -1
        } else {
            i64::from(r)
        }
    };
    let sessions = snapshot_sessions(server);
    let acls: Vec<(i64, &[Acl])> = lists
        .iter()
        .filter(|(_, acl)| *acl != open.as_slice())
        .map(|(r, acl)| (i64::from(*r), *acl))
        .collect();
    // Stream the nodes straight from the tree (no copy of it). The tree is exactly at `zxid`
    // here (written from the core's own task), so the snapshot is not fuzzy.
    let mut w = SnapshotWriter::create(Arc::clone(dirs.fs()), dirs.snap_dir(), zxid)?;
    w.sessions(sessions)?;
    w.acls(acls)?;
    let mut failed = None;
    tree.for_each_preorder(|n| {
        if failed.is_some() {
            return;
        }
        let path = if n.path() == "/" { "" } else { n.path() };
        let stat = n.stat_persisted();
        let node = SnapshotNode {
            path,
            data: n.data(),
            acl: acl_index(n.acl_ref()),
            stat: &stat,
        };
        if let Err(e) = w.node(node) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    w.finish(&SnapshotTrailer {
        digest: snapshot_digest(server),
        last_processed_zxid: None,
    })
}

fn tree_acl_is(lists: &[(u32, &[Acl])], r: u32, acl: &[Acl]) -> bool {
    lists.iter().any(|(i, l)| *i == r && *l == acl)
}

/// The snapshot threshold for this run: between half and all of `snapCount`, so that the
/// servers of an ensemble do not all snapshot at once (ZooKeeper: `SyncRequestProcessor`).
pub fn snapshot_threshold(snap_count: u64, seed: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    half + seed % half
}
