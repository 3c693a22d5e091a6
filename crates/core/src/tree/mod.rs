//! The data tree: every znode, its data, stat and ACL, and the indexes over them.
//!
//! Memory layout (the tree must hold millions of nodes cheaply):
//! * nodes live in one slab (`Vec<Node>`), addressed by a `u32` [`NodeId`]; freed slots are
//!   reused;
//! * a node keeps its path and its data in **one** heap allocation;
//! * the path index is a hash table of bare `u32` ids whose keys are read from the slab, so
//!   no path is stored twice;
//! * children form an intrusive doubly linked list through the slab (first child, previous
//!   and next sibling), so a child costs no extra allocation and unlinks in O(1).
//!
//! Stat rules follow ZooKeeper's `DataTree` (spec 03 §3.2); see [`DataTree::client_stat`]
//! for the derived `cversion`.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use menagerie_proto::ErrorCode;
use menagerie_proto::digest;
use menagerie_proto::records::{Acl, Stat, StatPersisted};

use crate::acl::{AclCache, AclRef};
use crate::path;

mod quota;
mod restore;
#[cfg(test)]
mod tests;

/// Index of a node in the slab.
pub type NodeId = u32;
const NIL: NodeId = u32::MAX;
/// Bit of `Node::path_len` that marks null data (the low 31 bits are the path length).
const DATA_NULL: u32 = 1 << 31;

/// `ephemeralOwner` of a container node (ZooKeeper: `EphemeralType.CONTAINER_EPHEMERAL_OWNER`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// Largest TTL (2^40 - 1 ms).
pub const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

/// What an `ephemeralOwner` value means (ZooKeeper: `EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EphemeralType {
    /// A persistent node.
    Void,
    /// An ephemeral node of this session.
    Normal(i64),
    /// A container node.
    Container,
    /// A TTL node with this TTL in ms.
    Ttl(i64),
}

impl EphemeralType {
    /// Decodes a stored owner; TTL encodings count only with extended types enabled.
    pub fn of(owner: i64, extended_types: bool) -> EphemeralType {
        if owner == 0 {
            EphemeralType::Void
        } else if owner == CONTAINER_OWNER {
            EphemeralType::Container
        } else if extended_types && (owner as u64) >> 56 == 0xFF && (owner >> 40) & 0xFFFF == 0 {
            EphemeralType::Ttl(owner & MAX_TTL)
        } else {
            EphemeralType::Normal(owner)
        }
    }

    /// The stored owner of a TTL node.
    pub fn ttl_owner(ttl: i64) -> i64 {
        (0xFF00_0000_0000_0000u64 as i64) | (ttl & MAX_TTL)
    }
}

/// One znode.
#[derive(Debug)]
pub struct Node {
    path_data: Box<[u8]>,
    /// Path length, plus [`DATA_NULL`] for null data.
    path_len: u32,
    /// CRC-32 of path and data: the start of the node's digest (spec 10 §10.9).
    crc: u32,
    acl: AclRef,
    num_children: u32,
    first_child: NodeId,
    prev_sibling: NodeId,
    next_sibling: NodeId,
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last setData.
    pub mzxid: i64,
    /// zxid of the last direct child create or delete.
    pub pzxid: i64,
    /// Create time (leader wall clock, ms).
    pub ctime: i64,
    /// Last setData time.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Stored child version: the number of child creations.
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Owner encoding (see [`EphemeralType`]).
    pub ephemeral_owner: i64,
}

impl Node {
    /// An empty slot (a deleted node's place until it is reused).
    fn vacant() -> Node {
        Node {
            path_data: Box::default(),
            path_len: 0,
            crc: 0,
            acl: 0,
            num_children: 0,
            first_child: NIL,
            prev_sibling: NIL,
            next_sibling: NIL,
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
            ctime: 0,
            mtime: 0,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
        }
    }

    fn path_len(&self) -> usize {
        (self.path_len & !DATA_NULL) as usize
    }

    fn path_bytes(&self) -> &[u8] {
        &self.path_data[..self.path_len()]
    }

    /// The node's full path.
    pub fn path(&self) -> &str {
        // Built from a `&str` in `DataTree::insert`, so always valid UTF-8.
        std::str::from_utf8(self.path_bytes()).unwrap_or_default()
    }

    /// The node's data; `None` if it was set to null.
    pub fn data(&self) -> Option<&[u8]> {
        if self.path_len & DATA_NULL != 0 {
            None
        } else {
            Some(&self.path_data[self.path_len()..])
        }
    }

    /// Length of the data (0 for null).
    pub fn data_len(&self) -> usize {
        self.path_data.len() - self.path_len()
    }

    /// Number of direct children.
    pub fn num_children(&self) -> u32 {
        self.num_children
    }

    /// The stored ACL reference.
    pub fn acl_ref(&self) -> AclRef {
        self.acl
    }

    fn set_path_data(&mut self, path: &[u8], data: Option<&[u8]>) {
        let mut buf = Vec::with_capacity(path.len() + data.map_or(0, <[u8]>::len));
        buf.extend_from_slice(path);
        buf.extend_from_slice(data.unwrap_or_default());
        self.path_data = buf.into_boxed_slice();
        // Paths are bounded by the packet size, far below 2^31.
        self.path_len = path.len() as u32 | if data.is_none() { DATA_NULL } else { 0 };
        self.crc = digest::path_data_crc(self.path(), data);
    }

    /// CRC-32 of the node's path and data (see [`digest::path_data_crc`]).
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// The node's digest (ZooKeeper: `DigestCalculator.calculateDigest`; 0 below
    /// `/zookeeper/`).
    pub fn digest(&self) -> u64 {
        digest::node_digest_with(self.path(), self.crc, &self.stat_persisted())
    }

    /// The stored stat (as snapshots hold it).
    pub fn stat_persisted(&self) -> StatPersisted {
        StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            pzxid: self.pzxid,
        }
    }
}

/// Everything a create needs besides the path.
#[derive(Debug, Clone)]
pub struct NewNode<'a> {
    /// Data (`None` = null).
    pub data: Option<&'a [u8]>,
    /// The (already validated) ACL.
    pub acl: &'a [Acl],
    /// Stored owner encoding.
    pub ephemeral_owner: i64,
    /// The parent's stored cversion after this create (`-1`: current + 1).
    pub parent_cversion: i32,
    /// zxid of the txn.
    pub zxid: i64,
    /// Txn time.
    pub time: i64,
}

/// The data tree.
pub struct DataTree {
    nodes: Vec<Node>,
    free: Vec<NodeId>,
    index: HashTable<NodeId>,
    hasher: FixedState,
    acls: AclCache,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    extended_types: bool,
    data_bytes: u64,
    path_bytes: u64,
    /// Paths with a quota (`/zookeeper/quota<path>/zookeeper_limits` exists).
    quota_roots: BTreeSet<String>,
    /// The tree digest: the wrapping sum of every node's digest (spec 10 §10.9).
    digest: u64,
}

impl std::fmt::Debug for DataTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataTree")
            .field("nodes", &self.node_count())
            .finish_non_exhaustive()
    }
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, with
    /// all-zero stats, created without txns (so `/` shows cversion -1 and `/zookeeper` -2,
    /// as in ZooKeeper). `hash_seed` seeds the path index (not observable in outputs).
    pub fn new(extended_types: bool, hash_seed: u64) -> DataTree {
        let mut t = DataTree {
            nodes: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: FixedState::with_seed(hash_seed),
            acls: AclCache::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            extended_types,
            data_bytes: 0,
            path_bytes: 0,
            quota_roots: BTreeSet::new(),
            digest: 0,
        };
        let open = Acl::open_unsafe();
        let zero = |acl| NewNode {
            data: Some(&[]),
            acl,
            ephemeral_owner: 0,
            parent_cversion: 0,
            zxid: 0,
            time: 0,
        };
        let root = t.insert("/", None, &zero(&open));
        t.rehash(root);
        for p in ["/zookeeper", "/zookeeper/quota"] {
            let parent = t.lookup(path::parent(p));
            let id = t.insert(p, parent, &zero(&open));
            t.rehash(id);
        }
        let parent = t.lookup("/zookeeper");
        let config = t.insert("/zookeeper/config", parent, &zero(&Acl::read_unsafe()));
        t.nodes[config as usize].aversion = -1;
        t.rehash(config);
        t
    }

    fn hash(&self, path: &[u8]) -> u64 {
        self.hasher.hash_one(path)
    }

    /// The tree digest ZooKeeper 3.6+ logs after every txn and stores in snapshots: the
    /// wrapping sum of the node digests, kept up to date by every change.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The tree digest computed from scratch (every node's digest summed): what
    /// [`digest`](Self::digest) must always equal. O(nodes); for checks and tests.
    pub fn recompute_digest(&self) -> u64 {
        let mut sum = 0u64;
        self.for_each_preorder(|n| {
            sum = sum.wrapping_add(digest::node_digest(n.path(), n.data(), &n.stat_persisted()));
        });
        sum
    }

    /// Takes node `id` out of the tree digest (before it changes).
    fn unhash(&mut self, id: NodeId) {
        self.digest = self.digest.wrapping_sub(self.nodes[id as usize].digest());
    }

    /// Adds node `id` to the tree digest (after it changed).
    fn rehash(&mut self, id: NodeId) {
        self.digest = self.digest.wrapping_add(self.nodes[id as usize].digest());
    }

    /// Makes room for `additional` more nodes (a loader that knows roughly how many are
    /// coming saves the index's repeated growth).
    pub fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index.reserve(additional, |&id| {
            hasher.hash_one(nodes[id as usize].path_bytes())
        });
    }

    /// The node at `path`.
    pub fn lookup(&self, path: &str) -> Option<NodeId> {
        let nodes = &self.nodes;
        self.index
            .find(self.hash(path.as_bytes()), |&id| {
                nodes[id as usize].path_bytes() == path.as_bytes()
            })
            .copied()
    }

    /// The node with id `id` (ids come from [`lookup`](Self::lookup)).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The node at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.lookup(path).map(|id| self.node(id))
    }

    /// The ACL list of a node.
    pub fn acl(&self, node: &Node) -> &[Acl] {
        self.acls.get(node.acl)
    }

    /// The ACL list of a node, shared with the tree's ACL cache (no copy).
    pub fn acl_shared(&self, node: &Node) -> std::sync::Arc<[Acl]> {
        self.acls.get_shared(node.acl)
    }

    /// The Stat clients see: `cversion` is derived as `2 * stored - numChildren` (creations
    /// plus deletions) and container/TTL owners read as 0 (ZooKeeper: `DataNode.copyStat`).
    pub fn client_stat(&self, node: &Node) -> Stat {
        let owner = match EphemeralType::of(node.ephemeral_owner, self.extended_types) {
            EphemeralType::Container | EphemeralType::Ttl(_) => 0,
            _ => node.ephemeral_owner,
        };
        Stat {
            czxid: node.czxid,
            mzxid: node.mzxid,
            ctime: node.ctime,
            mtime: node.mtime,
            version: node.version,
            cversion: node
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(node.num_children as i32),
            aversion: node.aversion,
            ephemeral_owner: owner,
            data_length: node.data_len() as i32,
            num_children: node.num_children as i32,
            pzxid: node.pzxid,
        }
    }

    /// What kind of node this is.
    pub fn ephemeral_type(&self, node: &Node) -> EphemeralType {
        EphemeralType::of(node.ephemeral_owner, self.extended_types)
    }

    /// Names of the direct children, in creation order.
    pub fn children(&self, node: &Node) -> Vec<String> {
        let mut names = Vec::with_capacity(node.num_children as usize);
        let mut c = node.first_child;
        while c != NIL {
            let child = &self.nodes[c as usize];
            names.push(path::name(child.path()).to_owned());
            c = child.next_sibling;
        }
        // Children are prepended on create; report them oldest first.
        names.reverse();
        names
    }

    /// Slots of the direct children, in creation order (see [`DataTree::live_node`]).
    pub fn child_ids(&self, node: &Node) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(node.num_children as usize);
        let mut c = node.first_child;
        while c != NIL {
            ids.push(c);
            c = self.nodes[c as usize].next_sibling;
        }
        ids.reverse();
        ids
    }

    /// The node in slot `id`, if the slot holds one. A slot freed by a delete may be reused
    /// by a later create, so a caller holding an old id must check the node's path.
    pub fn live_node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id as usize).filter(|n| n.path_len() > 0)
    }

    /// Number of descendants at all depths (the node itself excluded).
    pub fn count_descendants(&self, id: NodeId) -> u64 {
        let mut count = 0;
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            let mut c = self.nodes[n as usize].first_child;
            while c != NIL {
                count += 1;
                stack.push(c);
                c = self.nodes[c as usize].next_sibling;
            }
        }
        count
    }

    /// Number of descendants (the node itself excluded) a client can find by listing
    /// children: every child of a node it may list, and below a child only if `listable`
    /// holds for that child.
    pub fn count_listable_descendants(&self, id: NodeId, listable: impl Fn(&Node) -> bool) -> u64 {
        let mut count = 0;
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            let mut c = self.nodes[n as usize].first_child;
            while c != NIL {
                count += 1;
                if listable(&self.nodes[c as usize]) {
                    stack.push(c);
                }
                c = self.nodes[c as usize].next_sibling;
            }
        }
        count
    }

    /// Ephemeral paths owned by `session`.
    pub fn ephemerals(&self, session: i64) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&session)
            .into_iter()
            .flat_map(|s| s.iter().map(String::as_str))
    }

    /// Every session that owns ephemerals.
    pub fn sessions_with_ephemerals(&self) -> impl Iterator<Item = i64> + '_ {
        self.ephemerals.keys().copied()
    }

    /// Paths of container nodes.
    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    /// Paths of TTL nodes.
    pub fn ttl_nodes(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// Number of znodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Sum of path and data lengths over all nodes (ZooKeeper's `approximateDataSize`; the
    /// root's second entry under its alias `""` adds nothing).
    pub fn approximate_data_size(&self) -> u64 {
        self.data_bytes + self.path_bytes
    }

    /// Adds a node to the slab, the index and its parent's children; the caller adds it to
    /// the tree digest once its stat is final.
    fn insert(&mut self, path: &str, parent: Option<NodeId>, n: &NewNode<'_>) -> NodeId {
        let acl = self.acls.acquire(n.acl);
        let mut node = Node {
            path_data: Box::default(),
            path_len: 0,
            crc: 0,
            acl,
            num_children: 0,
            first_child: NIL,
            prev_sibling: NIL,
            next_sibling: NIL,
            czxid: n.zxid,
            mzxid: n.zxid,
            pzxid: n.zxid,
            ctime: n.time,
            mtime: n.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: n.ephemeral_owner,
        };
        node.set_path_data(path.as_bytes(), n.data);
        self.data_bytes += node.data_len() as u64;
        self.path_bytes += path.len() as u64;
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as NodeId
            }
        };
        let hash = self.hash(path.as_bytes());
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index.insert_unique(hash, id, |&i| {
            hasher.hash_one(nodes[i as usize].path_bytes())
        });
        if let Some(p) = parent {
            let first = self.nodes[p as usize].first_child;
            if first != NIL {
                self.nodes[first as usize].prev_sibling = id;
            }
            self.nodes[id as usize].next_sibling = first;
            let parent = &mut self.nodes[p as usize];
            parent.first_child = id;
            parent.num_children += 1;
        }
        id
    }

    /// Creates a node (ZooKeeper: `DataTree.createNode`). The parent's stored cversion and
    /// pzxid move only if `parent_cversion` is newer, so replaying a txn over a fuzzy
    /// snapshot is harmless. They move even when the node exists already: replay over a
    /// fuzzy snapshot that wrote the node but not the parent's change (ZooKeeper:
    /// `processTxn` on NODEEXISTS).
    pub fn create(&mut self, path: &str, n: &NewNode<'_>) -> Result<NodeId, ErrorCode> {
        let parent = self.lookup(path::parent(path)).ok_or(ErrorCode::NoNode)?;
        if path == "/" {
            return Err(ErrorCode::NodeExists);
        }
        let p = &self.nodes[parent as usize];
        let cversion = if n.parent_cversion == -1 {
            p.cversion.wrapping_add(1)
        } else {
            n.parent_cversion
        };
        self.raise_cversion(parent, cversion, n.zxid);
        if self.lookup(path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        let id = self.insert(path, Some(parent), n);
        self.rehash(id);
        self.index_owner(path, n.ephemeral_owner);
        self.quota_created(path, n.data.map_or(0, <[u8]>::len) as i64);
        Ok(id)
    }

    /// Records a new node in the ephemeral, container or TTL index its owner puts it in.
    fn index_owner(&mut self, path: &str, owner: i64) {
        match EphemeralType::of(owner, self.extended_types) {
            EphemeralType::Void => {}
            EphemeralType::Normal(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_owned());
            }
            EphemeralType::Container => {
                self.containers.insert(path.to_owned());
            }
            EphemeralType::Ttl(_) => {
                self.ttls.insert(path.to_owned());
            }
        }
    }

    /// Raises a parent's cversion to `cversion`, and its pzxid to `zxid` with it, unless it
    /// is at least that new already (ZooKeeper: `DataTree.setCversionPzxid`).
    fn raise_cversion(&mut self, parent: NodeId, cversion: i32, zxid: i64) {
        if cversion > self.nodes[parent as usize].cversion {
            self.unhash(parent);
            let p = &mut self.nodes[parent as usize];
            p.cversion = cversion;
            p.pzxid = zxid;
            self.rehash(parent);
        }
    }

    /// Deletes a node (ZooKeeper: `DataTree.deleteNode`); the parent's pzxid rises to `zxid`,
    /// even when the node is missing: replay over a fuzzy snapshot that skipped a child
    /// deleted after its parent was written.
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<(), ErrorCode> {
        let Some(id) = self.lookup(path) else {
            if let Some(parent) = self.lookup(path::parent(path))
                && path != "/"
            {
                self.raise_pzxid(parent, zxid);
            }
            return Err(ErrorCode::NoNode);
        };
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let parent = self.lookup(path::parent(path)).ok_or(ErrorCode::NoNode)?;
        self.unlink(parent, id);
        self.raise_pzxid(parent, zxid);
        let hash = self.hash(path.as_bytes());
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == id) {
            entry.remove();
        }
        let node = std::mem::replace(&mut self.nodes[id as usize], Node::vacant());
        self.free.push(id);
        self.acls.release(node.acl);
        self.data_bytes -= node.data_len() as u64;
        self.path_bytes -= path.len() as u64;
        self.quota_deleted(path, node.data_len() as i64);
        self.forget_owner(path, node.ephemeral_owner);
        Ok(())
    }

    /// Takes `id` out of its parent's child list (one child fewer).
    fn unlink(&mut self, parent: NodeId, id: NodeId) {
        let (prev, next) = {
            let n = &self.nodes[id as usize];
            (n.prev_sibling, n.next_sibling)
        };
        if prev != NIL {
            self.nodes[prev as usize].next_sibling = next;
        } else {
            self.nodes[parent as usize].first_child = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev_sibling = prev;
        }
        self.unhash(id);
        self.unhash(parent);
        self.nodes[parent as usize].num_children -= 1;
        self.rehash(parent);
    }

    /// Raises a node's pzxid to `zxid` if it is lower.
    fn raise_pzxid(&mut self, id: NodeId, zxid: i64) {
        if zxid > self.nodes[id as usize].pzxid {
            self.unhash(id);
            self.nodes[id as usize].pzxid = zxid;
            self.rehash(id);
        }
    }

    /// Drops a deleted node from the ephemeral, container or TTL index its owner puts it in.
    fn forget_owner(&mut self, path: &str, owner: i64) {
        match EphemeralType::of(owner, self.extended_types) {
            EphemeralType::Void => {}
            EphemeralType::Normal(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            EphemeralType::Container => {
                self.containers.remove(path);
            }
            EphemeralType::Ttl(_) => {
                self.ttls.remove(path);
            }
        }
    }

    /// Sets data; `version` is the node's new data version as carried by the txn.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<NodeId, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.unhash(id);
        let n = &mut self.nodes[id as usize];
        let old = n.data_len() as u64;
        let path_bytes = n.path_bytes().to_vec();
        n.set_path_data(&path_bytes, data);
        n.version = version;
        n.mzxid = zxid;
        n.mtime = time;
        let new = n.data_len() as u64;
        self.rehash(id);
        self.data_bytes = self.data_bytes - old + new;
        self.quota_update(path, 0, new as i64 - old as i64);
        Ok(id)
    }

    /// Visits every node, parents before children (the order snapshots are written in).
    pub fn for_each_preorder(&self, mut f: impl FnMut(&Node)) {
        let Some(root) = self.lookup("/") else { return };
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            let n = &self.nodes[id as usize];
            f(n);
            let mut c = n.first_child;
            while c != NIL {
                stack.push(c);
                c = self.nodes[c as usize].next_sibling;
            }
        }
    }

    /// The ACL lists in use, by reference.
    pub fn acl_lists(&self) -> Vec<(AclRef, &[Acl])> {
        self.acls.lists()
    }

    /// Sets the ACL; `version` is the new ACL version as carried by the txn.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<NodeId, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        let new = self.acls.acquire(acl);
        self.unhash(id);
        let n = &mut self.nodes[id as usize];
        let old = std::mem::replace(&mut n.acl, new);
        n.aversion = version;
        self.rehash(id);
        self.acls.release(old);
        Ok(id)
    }
}
