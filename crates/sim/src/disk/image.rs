//! Snapshots and log replay: the state of a [`Node`] (at start) or a [`Replica`] (after a
//! TRUNC) rebuilt from the newest snapshot and the log, and snapshots written from a
//! replica, in ZooKeeper's formats (the same steps as the server's recovery).

use std::collections::HashMap;
use std::sync::Arc;

use menagerie_core::Node;
use menagerie_core::replica::Replica;
use menagerie_core::tree::DataTree;
use menagerie_proto::records::Acl;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{SessionId, Zxid};
use menagerie_storage::{
    DataDirs, SnapshotNode, SnapshotReader, SnapshotTrailer, SnapshotWriter, TxnLog, ZxidDigest,
};

use super::DiskError;

/// What recovery restores into: a whole node at start, a replica after a TRUNC.
pub trait Restorable {
    /// The tree to load a snapshot into.
    fn tree_mut(&mut self) -> &mut DataTree;
    /// A session found in a snapshot.
    fn restore_session(&mut self, session: SessionId, timeout_ms: i32);
    /// Everything up to `zxid` is applied.
    fn restore_zxid(&mut self, zxid: Zxid);
    /// The snapshot's digest block.
    fn snapshot_loaded(&mut self, zxid: Zxid, digest: Option<ZxidDigest>);
    /// A txn read from the log.
    fn replay(&mut self, txn: &LoggedTxn);
}

impl Restorable for Node {
    fn tree_mut(&mut self) -> &mut DataTree {
        Node::tree_mut(self)
    }
    fn restore_session(&mut self, session: SessionId, timeout_ms: i32) {
        Node::restore_session(self, session, timeout_ms)
    }
    fn restore_zxid(&mut self, zxid: Zxid) {
        Node::restore_zxid(self, zxid)
    }
    fn snapshot_loaded(&mut self, zxid: Zxid, digest: Option<ZxidDigest>) {
        Node::snapshot_loaded(self, zxid, digest)
    }
    fn replay(&mut self, txn: &LoggedTxn) {
        Node::replay(self, txn)
    }
}

impl Restorable for Replica {
    fn tree_mut(&mut self) -> &mut DataTree {
        Replica::tree_mut(self)
    }
    fn restore_session(&mut self, session: SessionId, timeout_ms: i32) {
        Replica::restore_session(self, session, timeout_ms)
    }
    fn restore_zxid(&mut self, zxid: Zxid) {
        Replica::restore_zxid(self, zxid)
    }
    fn snapshot_loaded(&mut self, zxid: Zxid, digest: Option<ZxidDigest>) {
        Replica::snapshot_loaded(self, zxid, digest)
    }
    fn replay(&mut self, txn: &LoggedTxn) {
        Replica::replay(self, txn)
    }
}

/// Loads the newest readable snapshot into `target`; returns the zxid replay starts after
/// (0 without a snapshot). With `at_most`, a newer snapshot is an error.
pub fn load_snapshot(
    dirs: &DataDirs,
    target: &mut impl Restorable,
    at_most: Option<Zxid>,
) -> Result<Zxid, DiskError> {
    let loaded = dirs.load_newest_snapshot(|r| {
        let tree = read_tree(r)?;
        Ok((tree, r.sessions().to_vec()))
    })?;
    let Some(snap) = loaded else {
        return Ok(Zxid::ZERO);
    };
    let zxid = Zxid(snap.file.zxid);
    if let Some(to) = at_most
        && zxid > to
    {
        return Err(DiskError::SnapshotBeyond { found: zxid, to });
    }
    let (tree, sessions) = snap.value;
    *target.tree_mut() = tree;
    for (id, timeout) in sessions {
        target.restore_session(SessionId(id), timeout);
    }
    target.restore_zxid(zxid);
    target.snapshot_loaded(zxid, snap.trailer.digest);
    Ok(zxid)
}

fn read_tree(r: &mut SnapshotReader) -> menagerie_storage::Result<DataTree> {
    let mut tree = DataTree::new(false, 0);
    let acls: HashMap<i64, Vec<Acl>> = r.acls().iter().cloned().collect();
    let open = Acl::open_unsafe();
    while let Some(n) = r.next_node()? {
        let path = if n.path.is_empty() { "/" } else { &n.path };
        let acl = acls.get(&n.acl).map_or(open.as_slice(), Vec::as_slice);
        if tree
            .restore_node_under(None, path, n.data.as_deref(), acl, &n.stat)
            .is_err()
        {
            return Err(menagerie_storage::Error::InvalidInput(format!(
                "snapshot node {path:?} has no parent"
            )));
        }
    }
    Ok(tree)
}

/// Replays logged txns after `after` (up to `until`, if given) into `target`.
pub fn replay(
    log: &TxnLog,
    target: &mut impl Restorable,
    after: Zxid,
    until: Option<Zxid>,
) -> Result<u64, DiskError> {
    let mut replayed = 0;
    for entry in log.read_from(after.0 + 1)? {
        let entry = entry?;
        if until.is_some_and(|to| Zxid(entry.zxid()) > to) {
            break;
        }
        let txn = LoggedTxn::from_bytes(&entry.body).map_err(|e| DiskError::BadTxn {
            zxid: Zxid(entry.zxid()),
            reason: e.to_string(),
        })?;
        target.replay(&txn);
        replayed += 1;
    }
    Ok(replayed)
}

/// Writes a snapshot of `replica` as of its last applied zxid.
pub fn write_snapshot(dirs: &DataDirs, replica: &Replica) -> Result<(), DiskError> {
    let tree = replica.tree();
    let zxid = replica.last_processed_zxid().0;
    let open = Acl::open_unsafe();
    let lists = tree.acl_lists();
    let index = |r: u32| -> i64 {
        match lists.iter().find(|(i, _)| *i == r) {
            Some((_, l)) if *l == open.as_slice() => -1,
            _ => i64::from(r),
        }
    };
    let sessions: Vec<(i64, i32)> = replica.sessions().iter().map(|(s, t)| (s.0, *t)).collect();
    let acls: Vec<(i64, &[Acl])> = lists
        .iter()
        .filter(|(_, acl)| *acl != open.as_slice())
        .map(|(r, acl)| (i64::from(*r), *acl))
        .collect();
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
            acl: index(n.acl_ref()),
            stat: &stat,
        };
        if let Err(e) = w.node(node) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    w.finish(&SnapshotTrailer {
        digest: replica.snapshot_digest(),
        last_processed_zxid: None,
    })?;
    Ok(())
}

/// Removes snapshots of states after `to`.
pub fn remove_snapshots_after(dirs: &DataDirs, to: Zxid) -> Result<(), DiskError> {
    let mut removed = false;
    for s in dirs.snapshots()? {
        if s.zxid > to.0 {
            dirs.fs()
                .remove_file(&s.path)
                .map_err(|source| menagerie_storage::Error::Io {
                    op: "remove",
                    path: s.path.clone(),
                    source,
                })?;
            removed = true;
        }
    }
    if removed {
        let dir = dirs.snap_dir();
        dirs.fs()
            .sync_dir(dir)
            .map_err(|source| menagerie_storage::Error::Io {
                op: "fsync dir",
                path: dir.to_path_buf(),
                source,
            })?;
    }
    Ok(())
}
