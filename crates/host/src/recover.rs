//! Recovery at startup (ZooKeeper: `FileTxnSnapLog.restore`): the newest readable snapshot is
//! loaded into a fresh tree, then every logged txn after it is replayed through the core
//! (replay is idempotent, which fuzzy snapshots rely on). Opening the log cuts a torn tail
//! back to the last whole entry; a checksum failure in the middle of a log stops recovery
//! with the file and offset.

use std::collections::HashMap;

use menagerie_core::replica::Replica;
use menagerie_core::tree::DataTree;
use menagerie_core::{Node, Now};
use menagerie_proto::records::Acl;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{SessionId, Zxid};
use menagerie_storage::txnlog::TxnIterator;
use menagerie_storage::{DataDirs, SnapshotReader, TxnLog, TxnLogOptions};
use thiserror::Error;

/// Why the data directories could not be recovered.
#[derive(Debug, Error)]
pub enum RecoveryError {
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
}

/// How to open the data directories.
#[derive(Debug, Clone, Default)]
pub struct RecoveryOptions {
    /// How the transaction log is opened and later written (fsync, preallocation, fsync
    /// statistics).
    pub log: TxnLogOptions,
    /// `zookeeper.extendedTypesEnabled`: how the restored tree reads ephemeral owners (TTL
    /// nodes); must match the core's configuration.
    pub extended_types: bool,
}

/// What recovery leaves besides the restored core.
#[derive(Debug)]
pub struct Recovered {
    /// The transaction log, positioned after its last entry, ready for appends.
    pub log: TxnLog,
    /// The zxid of the snapshot that was loaded, if any.
    pub snapshot_zxid: Option<i64>,
    /// Txns replayed from the log.
    pub replayed: u64,
}

/// Creates the data directories if needed, opens the log, loads the newest snapshot into
/// `server` (a freshly built core) and replays the log after it. `now` is the clock restored
/// sessions start from; its wall clock also seeds the restored tree's path index.
pub fn recover(
    dirs: &DataDirs,
    options: RecoveryOptions,
    server: &mut Node,
    now: Now,
) -> Result<Recovered, RecoveryError> {
    dirs.create(true)?;
    let log = dirs.open_txn_log(options.log)?;
    let snapshot_zxid = load_snapshot(dirs, options.extended_types, server, now)?;
    let replayed = replay_log(&log, server)?;
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
        log,
        snapshot_zxid,
        replayed,
    })
}

/// Loads the newest readable snapshot (older ones are tried when it is damaged) into
/// `server`: tree, sessions, zxid and the digest to compare during replay.
fn load_snapshot(
    dirs: &DataDirs,
    extended_types: bool,
    server: &mut Node,
    now: Now,
) -> Result<Option<i64>, RecoveryError> {
    let seed = now.wall_ms as u64;
    let loaded = dirs.load_newest_snapshot(|r| {
        let tree = restore_tree(r, DataTree::new(extended_types, seed))?;
        Ok((tree, r.sessions().to_vec()))
    })?;
    let Some(snap) = loaded else {
        return Ok(None);
    };
    let (tree, sessions) = snap.value;
    *server.tree_mut() = tree;
    for (id, timeout) in sessions {
        server.restore_session(SessionId(id), timeout);
    }
    server.restore_zxid(Zxid(snap.file.zxid));
    server.snapshot_loaded(Zxid(snap.file.zxid), snap.trailer.digest);
    tracing::info!(zxid = format_args!("{:#x}", snap.file.zxid), file = %snap.file.path.display(), "snapshot loaded");
    Ok(Some(snap.file.zxid))
}

/// Reads every node of a snapshot into `tree`.
pub(crate) fn restore_tree(
    r: &mut SnapshotReader,
    mut tree: DataTree,
) -> Result<DataTree, menagerie_storage::Error> {
    let acls: HashMap<i64, Vec<Acl>> = r.acls().iter().cloned().collect();
    // -1 is OPEN_ACL_UNSAFE, which ZooKeeper never stores in the map.
    let open = Acl::open_unsafe();
    // About 100 bytes per node in a typical snapshot: size the tree's index once. Capped at
    // 2M nodes (~200 MB of slots), so that a snapshot of a few huge znodes does not reserve
    // memory for millions of nodes it does not have; beyond it the tree grows.
    tree.reserve((r.file_len() / 100).min(1 << 21) as usize);
    // The most recently restored ancestors (snapshots are in preorder): the parent of the
    // next node is found among them without hashing its path.
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
    Ok(tree)
}

/// Replays every logged txn after the server's zxid; returns how many there were.
fn replay_log(log: &TxnLog, server: &mut Node) -> Result<u64, RecoveryError> {
    let mut replayed = 0;
    for entry in log.read_from(server.last_processed_zxid().0 + 1)? {
        let entry = entry?;
        let txn = LoggedTxn::from_bytes(&entry.body).map_err(|e| RecoveryError::BadTxn {
            zxid: entry.zxid(),
            file: entry.file.display().to_string(),
            offset: entry.offset,
            reason: e.to_string(),
        })?;
        server.replay(&txn);
        replayed += 1;
    }
    Ok(replayed)
}

/// Rebuilds the committed state from disk up to `up_to` (after the log was cut there, for a
/// learner told to TRUNC): the newest snapshot holding nothing after it, then the log up to
/// it, into `replica` (a fresh one with the node's settings).
pub fn reload(
    dirs: &DataDirs,
    extended_types: bool,
    mut replica: Replica,
    up_to: Zxid,
) -> Result<Replica, RecoveryError> {
    let seed = 0;
    let loaded = dirs.load_snapshot_within(up_to.0, |r| {
        let tree = restore_tree(r, DataTree::new(extended_types, seed))?;
        Ok((tree, r.sessions().to_vec()))
    })?;
    if let Some(snap) = loaded {
        let (tree, sessions) = snap.value;
        *replica.tree_mut() = tree;
        for (id, timeout) in sessions {
            replica.restore_session(SessionId(id), timeout);
        }
        replica.restore_zxid(Zxid(snap.file.zxid));
        replica.snapshot_loaded(Zxid(snap.file.zxid), snap.trailer.digest);
    }
    let from = replica.last_processed_zxid().0 + 1;
    let iter = TxnIterator::open(
        std::sync::Arc::clone(dirs.fs()),
        dirs.log_dir(),
        from,
        menagerie_storage::DEFAULT_MAX_RECORD_LEN,
    )?;
    for entry in iter {
        let entry = entry?;
        if entry.zxid() > up_to.0 {
            break;
        }
        let txn = LoggedTxn::from_bytes(&entry.body).map_err(|e| RecoveryError::BadTxn {
            zxid: entry.zxid(),
            file: entry.file.display().to_string(),
            offset: entry.offset,
            reason: e.to_string(),
        })?;
        replica.replay(&txn);
    }
    replica.recovery_done();
    replica.tree_mut().rebuild_quotas();
    Ok(replica)
}
