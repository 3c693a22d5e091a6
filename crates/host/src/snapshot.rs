//! Snapshots: the core's tree and sessions written as a ZooKeeper snapshot file
//! (`snapshot.<zxid>`), either in one go or as a fuzzy snapshot spread over many steps.
//!
//! A fuzzy snapshot (ZooKeeper's kind) is named after the zxid the tree is at when it starts.
//! [`FuzzySnapshot::next_slice`] serializes the tree a slice at a time (a
//! [`FuzzyWalk`]: the tree may change between slices) into encoded bytes, and
//! [`write_sliced`] writes those bytes: header, slices, digest, seal, fsync, rename. The two
//! halves can run on different threads (the tokio shell) or one after the other (a
//! simulator). Replaying the log from the snapshot's zxid on makes the result exact.
//!
//! The ACL table is written first, so a node whose ACL list did not exist (under the same
//! reference) when the snapshot started cannot be written correctly; the snapshot is then
//! abandoned ([`Slice::Abandoned`]). The digest block holds the tree's digest when the walk
//! ended, with the zxid it was at (later than the file's name, as in ZooKeeper); recovery
//! checks it when replay reaches that zxid.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use menagerie_core::replica::Replica;
use menagerie_core::tree::{DataTree, Node};
use menagerie_core::walk::FuzzyWalk;
use menagerie_proto::records::Acl;
use menagerie_storage::snapshot::encode_node;
use menagerie_storage::{DataDirs, Fs, SnapshotNode, SnapshotTrailer, SnapshotWriter, ZxidDigest};
use thiserror::Error;

/// A snapshot could not be written.
#[derive(Debug, Error)]
#[error("cannot write the snapshot of zxid {zxid:#x}: {source}")]
pub struct SnapshotError {
    /// The zxid the snapshot is named after.
    pub zxid: i64,
    /// What the file system said (names the operation and the file).
    #[source]
    pub source: menagerie_storage::Error,
}

/// What a snapshot file holds before its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The zxid the snapshot is named after (the tree's when it started).
    pub zxid: i64,
    /// Live sessions: (id, timeout ms).
    pub sessions: Vec<(i64, i32)>,
    /// The ACL table by reference, sorted (the open ACL is -1 and not in it).
    pub acls: Vec<(i64, Vec<Acl>)>,
}

/// The digest block a snapshot finished now stores: the tree's digest and the zxid it is at
/// (ZooKeeper: `DataTree.serializeZxidDigest`). For a fuzzy snapshot that zxid is later than
/// the one the file is named after; recovery compares the digest when replay gets there.
/// `None` with `digest.enabled=false`.
pub fn snapshot_digest(replica: &Replica) -> Option<ZxidDigest> {
    replica.snapshot_digest()
}

/// The tree's ACL lists as a snapshot's ACL table stores them.
#[derive(Debug, Clone)]
struct AclTable {
    /// Every list but the open ACL, by the tree's reference.
    by_ref: HashMap<u32, Vec<Acl>>,
    open: Vec<Acl>,
}

impl AclTable {
    fn of(tree: &DataTree) -> AclTable {
        let open = Acl::open_unsafe();
        let by_ref = tree
            .acl_lists()
            .into_iter()
            .filter(|(_, l)| *l != open.as_slice())
            .map(|(r, l)| (r, l.to_vec()))
            .collect();
        AclTable { by_ref, open }
    }

    /// The table as written: (reference, list), sorted by reference.
    fn entries(&self) -> Vec<(i64, Vec<Acl>)> {
        let mut table: Vec<(i64, Vec<Acl>)> = self
            .by_ref
            .iter()
            .map(|(r, l)| (i64::from(*r), l.clone()))
            .collect();
        table.sort_by_key(|(r, _)| *r);
        table
    }

    /// The reference `node` is written with: -1 for the open ACL, `None` when its list is
    /// not in the table (it was created after the table was taken).
    fn reference(&self, tree: &DataTree, node: &Node) -> Option<i64> {
        let list = tree.acl(node);
        if list == self.open.as_slice() {
            Some(-1)
        } else if self.by_ref.get(&node.acl_ref()).is_some_and(|l| l == list) {
            Some(i64::from(node.acl_ref()))
        } else {
            None
        }
    }
}

/// The header of a snapshot of `replica` as it is now, and its ACL table.
fn header_of(replica: &Replica) -> (SnapshotHeader, AclTable) {
    let acls = AclTable::of(replica.tree());
    let sessions = replica
        .sessions()
        .iter()
        .map(|(id, timeout)| (id.0, *timeout))
        .collect();
    let header = SnapshotHeader {
        zxid: replica.last_processed_zxid().0,
        sessions,
        acls: acls.entries(),
    };
    (header, acls)
}

/// Hands `node`, written with ACL reference `acl`, to `f` as a snapshot record.
fn as_record<R>(node: &Node, acl: i64, f: impl FnOnce(SnapshotNode<'_>) -> R) -> R {
    let stat = node.stat_persisted();
    let path = if node.path() == "/" { "" } else { node.path() };
    f(SnapshotNode {
        path,
        data: node.data(),
        acl,
        stat: &stat,
    })
}

/// Creates the snapshot file and writes its header (sessions and ACL table).
fn begin(
    fs: Arc<dyn Fs>,
    snap_dir: &Path,
    header: &SnapshotHeader,
) -> Result<SnapshotWriter, menagerie_storage::Error> {
    let mut w = SnapshotWriter::create(fs, snap_dir, header.zxid)?;
    w.sessions(header.sessions.iter().copied())?;
    w.acls(header.acls.iter().map(|(r, l)| (*r, l.as_slice())))?;
    Ok(w)
}

/// Writes a snapshot of the replica's tree and sessions as of its last applied zxid, in one
/// go (the tree does not change meanwhile, so the snapshot is exact, not fuzzy).
pub fn take_snapshot(dirs: &DataDirs, replica: &Replica) -> Result<PathBuf, SnapshotError> {
    let (header, acls) = header_of(replica);
    let zxid = header.zxid;
    let fail = |source| SnapshotError { zxid, source };
    let mut w = begin(Arc::clone(dirs.fs()), dirs.snap_dir(), &header).map_err(fail)?;
    // Stream the nodes straight from the tree (no copy of it).
    let tree = replica.tree();
    let mut failed = None;
    tree.for_each_preorder(|n| {
        if failed.is_some() {
            return;
        }
        // Every list of the tree is in the table taken just now.
        let acl = acls
            .reference(tree, n)
            .unwrap_or_else(|| i64::from(n.acl_ref()));
        if let Err(e) = as_record(n, acl, |record| w.node(record)) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(fail(e));
    }
    let trailer = SnapshotTrailer {
        digest: snapshot_digest(replica),
        last_processed_zxid: None,
    };
    w.finish(&trailer).map_err(fail)
}

/// Budget of a slice of a fuzzy snapshot by default: 4,096 typical nodes (about 0.5 MB),
/// fewer large ones (units of `FuzzyWalk::step`: about 1 MiB of data at most), small
/// enough not to stall requests noticeably.
pub const SLICE_NODES: usize = 4096;

/// What one [`FuzzySnapshot::next_slice`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Slice {
    /// Encoded nodes; more follow.
    More(Vec<u8>),
    /// The last encoded nodes, and the digest block to finish the file with.
    Last(Vec<u8>, Option<ZxidDigest>),
    /// A node's ACL list is not in the snapshot's ACL table: drop this snapshot.
    Abandoned,
}

/// A piece of a snapshot file for [`write_sliced`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPart {
    /// Encoded nodes to append.
    Nodes(Vec<u8>),
    /// Every node was written: write this digest block, seal, fsync and rename.
    Finish(Option<ZxidDigest>),
}

/// A fuzzy snapshot in progress: the walk and the ACL table its header was written with.
#[derive(Debug)]
pub struct FuzzySnapshot {
    zxid: i64,
    walk: FuzzyWalk,
    acls: AclTable,
}

impl FuzzySnapshot {
    /// Starts a snapshot of the tree as it is now; the header goes to [`write_sliced`].
    pub fn start(replica: &Replica) -> (FuzzySnapshot, SnapshotHeader) {
        let (header, acls) = header_of(replica);
        let snapshot = FuzzySnapshot {
            zxid: header.zxid,
            walk: FuzzyWalk::new(),
            acls,
        };
        (snapshot, header)
    }

    /// The zxid the snapshot is named after.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// Nodes serialized so far.
    pub fn nodes_written(&self) -> u64 {
        self.walk.visited()
    }

    /// Serializes up to `budget` more nodes of the tree as it is now.
    pub fn next_slice(&mut self, replica: &Replica, budget: usize) -> Slice {
        let tree = replica.tree();
        let mut buf = Vec::with_capacity(budget.min(SLICE_NODES) * 128);
        let mut foreign_acl = false;
        let acls = &self.acls;
        let done = self
            .walk
            .step(tree, budget, |n| match acls.reference(tree, n) {
                Some(acl) => as_record(n, acl, |record| encode_node(&mut buf, record)),
                None => foreign_acl = true,
            });
        if foreign_acl {
            Slice::Abandoned
        } else if done {
            Slice::Last(buf, snapshot_digest(replica))
        } else {
            Slice::More(buf)
        }
    }
}

/// Writes a snapshot file from its header and the parts `next` yields, until
/// [`SnapshotPart::Finish`]: returns the file's path once it is synced and renamed into
/// place, or `None` when `next` ends first (the snapshot was given up; the temporary file is
/// removed).
pub fn write_sliced(
    fs: Arc<dyn Fs>,
    snap_dir: &Path,
    header: SnapshotHeader,
    mut next: impl FnMut() -> Option<SnapshotPart>,
) -> Result<Option<PathBuf>, SnapshotError> {
    let zxid = header.zxid;
    let fail = |source| SnapshotError { zxid, source };
    let mut w = begin(fs, snap_dir, &header).map_err(fail)?;
    while let Some(part) = next() {
        match part {
            SnapshotPart::Nodes(bytes) => w.encoded_nodes(&bytes).map_err(fail)?,
            SnapshotPart::Finish(digest) => {
                let trailer = SnapshotTrailer {
                    digest,
                    last_processed_zxid: None,
                };
                return w.finish(&trailer).map(Some).map_err(fail);
            }
        }
    }
    // Dropping the writer removes the temporary file.
    Ok(None)
}
