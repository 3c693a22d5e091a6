//! Loading nodes from a snapshot or a leader's snapshot stream.

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{Acl, StatPersisted};

use super::{DataTree, NewNode, NodeId};
use crate::path;

impl DataTree {
    /// Replaces a node's data without touching its stat.
    pub(super) fn overwrite_data(&mut self, id: NodeId, data: &[u8]) {
        self.unhash(id);
        let n = &mut self.nodes[id as usize];
        let old = n.data_len() as u64;
        let path_bytes = n.path_bytes().to_vec();
        n.set_path_data(&path_bytes, Some(data));
        self.data_bytes = self.data_bytes - old + data.len() as u64;
        self.rehash(id);
    }

    /// Inserts a node read from a snapshot, with its stored stat as is. Parents come before
    /// their children in a snapshot, so the parent must exist (else `NoNode`); the root and
    /// the built-in `/zookeeper` nodes are updated in place.
    pub fn restore_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        stat: &StatPersisted,
    ) -> Result<NodeId, ErrorCode> {
        self.restore_node_under(None, path, data, acl, stat)
    }

    /// [`DataTree::restore_node`] with the parent's id when the caller knows it (snapshots
    /// list parents before children, so a loader can track them without hashing the parent
    /// path for every node). A wrong hint is ignored: the parent is looked up by path.
    pub fn restore_node_under(
        &mut self,
        parent_hint: Option<NodeId>,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        stat: &StatPersisted,
    ) -> Result<NodeId, ErrorCode> {
        let id = match self.lookup(path) {
            Some(id) => {
                self.set_data(path, data, stat.version, stat.mzxid, stat.mtime)?;
                self.set_acl(path, acl, stat.aversion)?;
                // Rehashed below with its restored stat.
                self.unhash(id);
                id
            }
            None => {
                let parent_path = path::parent(path);
                let parent = match parent_hint {
                    Some(h)
                        if self
                            .nodes
                            .get(h as usize)
                            .is_some_and(|n| n.path_bytes() == parent_path.as_bytes()) =>
                    {
                        h
                    }
                    _ => self.lookup(parent_path).ok_or(ErrorCode::NoNode)?,
                };
                let n = NewNode {
                    data,
                    acl,
                    ephemeral_owner: stat.ephemeral_owner,
                    parent_cversion: 0,
                    zxid: stat.czxid,
                    time: stat.ctime,
                };
                // Not in the digest yet: added below with its restored stat.
                let id = self.insert(path, Some(parent), &n);
                self.index_owner(path, stat.ephemeral_owner);
                id
            }
        };
        let n = &mut self.nodes[id as usize];
        n.czxid = stat.czxid;
        n.mzxid = stat.mzxid;
        n.pzxid = stat.pzxid;
        n.ctime = stat.ctime;
        n.mtime = stat.mtime;
        n.version = stat.version;
        n.cversion = stat.cversion;
        n.aversion = stat.aversion;
        n.ephemeral_owner = stat.ephemeral_owner;
        self.rehash(id);
        Ok(id)
    }
}
