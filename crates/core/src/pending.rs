//! Changes proposed but not yet applied (ZooKeeper: `outstandingChanges`), as prep sees
//! them: the latest pending record of every path a txn in flight touches, and the tree digest
//! predicted for when all of them are applied.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use foldhash::fast::FixedState;

use menagerie_proto::records::{Acl, StatPersisted};
use menagerie_proto::{SessionId, Zxid, digest};

use crate::tree::{DataTree, Node};

/// The state of a node as prep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Data version.
    pub version: i32,
    /// Stored child version (creation count).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Owner encoding.
    pub ephemeral_owner: i64,
    /// Direct children.
    pub num_children: i32,
    /// ACL (shared with the tree's ACL cache when it comes from there).
    pub acl: Arc<[Acl]>,
    /// Length of the data (for the quota check of setData).
    pub data_len: usize,
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last setData.
    pub mzxid: i64,
    /// zxid of the last child create or delete.
    pub pzxid: i64,
    /// Create time.
    pub ctime: i64,
    /// Last setData time.
    pub mtime: i64,
    /// CRC-32 of path and data, from which the node's digest is computed.
    pub crc: u32,
}

impl NodeRecord {
    /// The node's digest once this record is applied (ZooKeeper: the `precalculatedDigest`
    /// of a `ChangeRecord`).
    pub fn digest(&self, path: &str) -> u64 {
        let stat = StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            pzxid: self.pzxid,
        };
        digest::node_digest_with(path, self.crc, &stat)
    }
}

/// Changes proposed but not yet applied (ZooKeeper: `outstandingChanges`).
#[derive(Debug, Clone, Default)]
pub struct Pending {
    latest: HashMap<Arc<str>, (Zxid, Option<NodeRecord>), FixedState>,
    order: VecDeque<(Zxid, Arc<str>)>,
    /// The tree digest predicted for when every pending change is applied (meaningful
    /// while `order` is not empty).
    digest: u64,
}

impl Pending {
    /// The node at `path` as of the latest pending change, else as in the tree.
    pub fn record(&self, tree: &DataTree, path: &str) -> Option<NodeRecord> {
        if let Some((_, rec)) = self.latest.get(path) {
            return rec.clone();
        }
        let node = tree.get(path)?;
        Some(NodeRecord {
            version: node.version,
            cversion: node.cversion,
            aversion: node.aversion,
            ephemeral_owner: node.ephemeral_owner,
            num_children: node.num_children() as i32,
            acl: tree.acl_shared(node),
            data_len: node.data_len(),
            czxid: node.czxid,
            mzxid: node.mzxid,
            pzxid: node.pzxid,
            ctime: node.ctime,
            mtime: node.mtime,
            crc: node.crc(),
        })
    }

    /// The tree digest once every pending change is applied: the digest of the tree when
    /// nothing is pending (ZooKeeper: `PrepRequestProcessor.getCurrentTreeDigest`). A txn's
    /// TxnDigest is this value right after its prep.
    pub fn tree_digest(&self, tree: &DataTree) -> u64 {
        if self.order.is_empty() {
            tree.digest()
        } else {
            self.digest
        }
    }

    /// The digest of the node at `path` as of the latest pending change (0 if absent).
    fn node_digest(&self, tree: &DataTree, path: &str) -> u64 {
        match self.latest.get(path) {
            Some((_, rec)) => rec.as_ref().map_or(0, |r| r.digest(path)),
            None => tree.get(path).map_or(0, Node::digest),
        }
    }

    pub(crate) fn put(&mut self, tree: &DataTree, zxid: Zxid, path: &str, rec: Option<NodeRecord>) {
        let before = self.node_digest(tree, path);
        let after = rec.as_ref().map_or(0, |r| r.digest(path));
        self.digest = self
            .tree_digest(tree)
            .wrapping_sub(before)
            .wrapping_add(after);
        let path: Arc<str> = Arc::from(path);
        self.latest.insert(Arc::clone(&path), (zxid, rec));
        self.order.push_back((zxid, path));
    }

    /// Forgets changes of txns up to `zxid`, now applied to the tree.
    pub fn applied(&mut self, zxid: Zxid) {
        while let Some((z, _)) = self.order.front() {
            if *z > zxid {
                break;
            }
            if let Some((z, p)) = self.order.pop_front()
                && self.latest.get(&p).is_some_and(|(latest, _)| *latest == z)
            {
                self.latest.remove(&p);
            }
        }
    }

    /// Pending ephemeral creations of `session`, and pending deletions of any path.
    pub(crate) fn session_changes(&self, session: SessionId) -> (Vec<String>, Vec<String>) {
        let mut created = Vec::new();
        let mut deleted = Vec::new();
        for (p, (_, rec)) in &self.latest {
            match rec {
                Some(r) if r.ephemeral_owner == session.0 => created.push(p.to_string()),
                None => deleted.push(p.to_string()),
                _ => {}
            }
        }
        (created, deleted)
    }

    /// Number of pending path records.
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }
}
