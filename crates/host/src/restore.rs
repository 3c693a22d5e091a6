//! ZooKeeper 3.9's `restore` admin command, the data side: an uploaded snapshot read whole
//! and checked ([`read_checked`]) before anything is replaced, then installed into a freshly
//! built core ([`install`]).

use std::path::Path;

use menagerie_core::tree::DataTree;
use menagerie_core::{Node, Now};
use menagerie_proto::digest::ZxidDigest;
use menagerie_proto::{SessionId, Zxid};
use menagerie_storage::{Fs, SnapshotReader};

use crate::recover::restore_tree;

/// A snapshot read to its end with every checksum and seal verified.
#[derive(Debug)]
pub struct CheckedSnapshot {
    /// Its tree.
    pub tree: DataTree,
    /// Its sessions (id, timeout ms).
    pub sessions: Vec<(i64, i32)>,
    /// The last txn it holds: its lastProcessedZxid block (ZooKeeper 3.9), else its digest's
    /// zxid.
    pub zxid: i64,
    /// Its digest block.
    pub digest: Option<ZxidDigest>,
}

/// Why an uploaded snapshot is refused.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The bytes are not a whole, intact snapshot.
    #[error("not a valid snapshot: {0}")]
    Invalid(#[from] menagerie_storage::Error),
    /// Bytes follow the snapshot's last block.
    #[error("not a valid snapshot: {0} bytes after its end (truncated or damaged)")]
    Trailing(u64),
    /// Neither a lastProcessedZxid nor a digest block says which zxid it is at.
    #[error("the snapshot does not say its zxid (no lastProcessedZxid or digest block)")]
    NoZxid,
}

/// Reads the snapshot in file `path` (any name) whole; `extended_types` and `seed` as for
/// the server's own tree. Nothing is changed when it fails.
pub fn read_checked(
    fs: &dyn Fs,
    path: &Path,
    extended_types: bool,
    seed: u64,
) -> Result<CheckedSnapshot, RestoreError> {
    let mut r = SnapshotReader::open(fs, path)?;
    let len = r.file_len();
    let tree = restore_tree(&mut r, DataTree::new(extended_types, seed))?;
    let sessions = r.sessions().to_vec();
    let (trailer, end) = r.finish_with_end()?;
    if end != len {
        return Err(RestoreError::Trailing(len.saturating_sub(end)));
    }
    let zxid = trailer
        .last_processed_zxid
        .or(trailer.digest.map(|d| d.zxid.0))
        .ok_or(RestoreError::NoZxid)?;
    Ok(CheckedSnapshot {
        tree,
        sessions,
        zxid,
        digest: trailer.digest,
    })
}

/// Installs `snap` into `node` (freshly built, nothing recovered into it): its tree and
/// sessions, at zxid `max(snap.zxid, at_least)`; `at_least` is the highest zxid the
/// server has logged, so that a snapshot of the restored state written under that zxid is
/// the newest on disk and no logged txn is replayed over it at the next start.
pub fn install(node: &mut Node, snap: CheckedSnapshot, at_least: Zxid, now: Now) -> Zxid {
    let zxid = Zxid(snap.zxid.max(at_least.0));
    *node.tree_mut() = snap.tree;
    for (id, timeout) in snap.sessions {
        node.restore_session(SessionId(id), timeout);
    }
    node.restore_zxid(zxid);
    let digest = snap.digest.filter(|d| d.zxid == zxid);
    node.snapshot_loaded(zxid, digest);
    node.recovery_done(now, 0);
    node.tree_mut().rebuild_quotas();
    zxid
}
