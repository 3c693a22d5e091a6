//! The prep step: validate a write against the latest *pending* state and turn it into an
//! idempotent transaction (ZooKeeper: `PrepRequestProcessor`, spec 02 §2.2 and 08 §8.3).
//!
//! Writes in flight (proposed but not yet applied) are visible here through [`Pending`], so a
//! second write of the same session sees the first one's effects, as in ZooKeeper's
//! `outstandingChanges`. The order of the checks decides which error a client sees and
//! follows ZooKeeper exactly.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use foldhash::fast::FixedState;

use menagerie_proto::ErrorCode;
use menagerie_proto::digest;
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{Acl, CreateRequest, Id, StatPersisted, perms};
use menagerie_proto::request::Request;
use menagerie_proto::txn::*;

use crate::acl::fixup_acl;
use crate::auth::{check_acl, is_authenticated_scheme};
use crate::path::{self, has_slash_and_no_nul, is_undeletable, validate_path};
use crate::quota;
use crate::tree::{CONTAINER_OWNER, DataTree, EphemeralType, MAX_TTL, Node};
use crate::txn::TxnBody;

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
    latest: HashMap<Arc<str>, (i64, Option<NodeRecord>), FixedState>,
    order: VecDeque<(i64, Arc<str>)>,
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

    fn put(&mut self, tree: &DataTree, zxid: i64, path: &str, rec: Option<NodeRecord>) {
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
    pub fn applied(&mut self, zxid: i64) {
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
    fn session_changes(&self, session: i64) -> (Vec<String>, Vec<String>) {
        let mut created = Vec::new();
        let mut deleted = Vec::new();
        for (p, (_, rec)) in &self.latest {
            match rec {
                Some(r) if r.ephemeral_owner == session => created.push(p.to_string()),
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

/// Everything prep needs besides the request.
pub struct PrepContext<'a> {
    /// The committed tree.
    pub tree: &'a DataTree,
    /// Pending changes; updated by a successful prep.
    pub pending: &'a mut Pending,
    /// zxid being assigned.
    pub zxid: i64,
    /// The txn's time (`TxnHeader.time`), for the stats the digest covers.
    pub time: i64,
    /// Requesting session.
    pub session: i64,
    /// The connection's identities.
    pub ids: &'a [Id],
    /// `zookeeper.extendedTypesEnabled`.
    pub extended_types: bool,
    /// `zookeeper.skipACL=yes`.
    pub skip_acl: bool,
    /// `zookeeper.enforceQuota`.
    pub enforce_quota: bool,
}

impl PrepContext<'_> {
    fn node(&self, path: &str) -> Result<NodeRecord, ErrorCode> {
        self.pending
            .record(self.tree, path)
            .ok_or(ErrorCode::NoNode)
    }

    fn require(&self, rec: &NodeRecord, perm: i32) -> Result<(), ErrorCode> {
        if check_acl(&rec.acl, perm, self.ids, self.skip_acl) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    /// ZooKeeper's `checkQuota` (only when `enforceQuota` is on).
    fn check_quota(&self, path: &str, count_diff: i64, bytes_diff: i64) -> Result<(), ErrorCode> {
        if self.enforce_quota {
            quota::check(self.tree, path, count_diff, bytes_diff)
        } else {
            Ok(())
        }
    }

    fn authenticated_ids(&self) -> Vec<Id> {
        self.ids
            .iter()
            .filter(|i| is_authenticated_scheme(&i.scheme))
            .cloned()
            .collect()
    }

    /// Preps one write. `Err` becomes an `ErrorTxn` (which still consumes the zxid).
    pub fn prep(&mut self, req: &Request) -> Result<TxnBody, ErrorCode> {
        match req {
            Request::Create(r) => self.create(OpCode::Create, r, -1),
            Request::Create2(r) => self.create(OpCode::Create2, r, -1),
            Request::CreateContainer(r) => self.create(OpCode::CreateContainer, r, -1),
            Request::CreateTtl(r) => {
                let cr = CreateRequest {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    acl: r.acl.clone(),
                    flags: r.flags,
                };
                self.create(OpCode::CreateTtl, &cr, r.ttl)
            }
            Request::Delete(r) => self.delete(&r.path, r.version),
            Request::DeleteContainer(r) => self.delete_container(&r.path),
            Request::SetData(r) => self.set_data(&r.path, r.data.clone(), r.version),
            Request::SetAcl(r) => self.set_acl(&r.path, &r.acl, r.version),
            Request::Check(r) => self.check(&r.path, r.version),
            Request::Multi(ops) => Ok(self.multi(ops)),
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            _ => Err(ErrorCode::MarshallingError),
        }
    }

    fn create(&mut self, op: OpCode, r: &CreateRequest, ttl: i64) -> Result<TxnBody, ErrorCode> {
        // ZooKeeper: PrepRequestProcessor.pRequest2TxnCreate, in this order.
        let (ephemeral, sequential, container, is_ttl) = match r.flags {
            0 => (false, false, false, false),
            1 => (true, false, false, false),
            2 => (false, true, false, false),
            3 => (true, true, false, false),
            4 => (false, false, true, false),
            5 => (false, false, false, true),
            6 => (false, true, false, true),
            _ => return Err(ErrorCode::BadArguments),
        };
        if is_ttl && !self.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        if is_ttl {
            if ttl <= 0 || ttl > MAX_TTL || op != OpCode::CreateTtl {
                return Err(ErrorCode::BadArguments);
            }
        } else if ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        }
        // Containers only through opcode 19 and opcode 19 only for containers (spec README
        // item 33: ZooKeeper is inconsistent here; rejecting is the safe, deliberate choice).
        if container != (op == OpCode::CreateContainer) {
            return Err(ErrorCode::BadArguments);
        }
        if !has_slash_and_no_nul(&r.path) {
            return Err(ErrorCode::BadArguments);
        }
        let acl = fixup_acl(&r.acl, &self.authenticated_ids())?;
        let parent_path = path::parent(&r.path);
        let mut parent = self.node(parent_path)?;
        self.require(&parent, perms::CREATE)?;
        let path = if sequential {
            format!("{}{:010}", r.path, parent.cversion)
        } else {
            r.path.clone()
        };
        if validate_path(&path).is_err() {
            return Err(ErrorCode::BadArguments);
        }
        if self.pending.record(self.tree, &path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            EphemeralType::of(parent.ephemeral_owner, self.extended_types),
            EphemeralType::Normal(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let data_len = r.data.as_ref().map_or(0, Vec::len);
        self.check_quota(&path, 1, data_len as i64)?;
        let parent_cversion = parent.cversion.wrapping_add(1);
        parent.cversion = parent_cversion;
        parent.pzxid = self.zxid;
        parent.num_children += 1;
        let owner = if ephemeral {
            self.session
        } else if container {
            CONTAINER_OWNER
        } else if is_ttl {
            EphemeralType::ttl_owner(ttl)
        } else {
            0
        };
        self.pending
            .put(self.tree, self.zxid, parent_path, Some(parent));
        self.pending.put(
            self.tree,
            self.zxid,
            &path,
            Some(NodeRecord {
                version: 0,
                cversion: 0,
                aversion: 0,
                ephemeral_owner: owner,
                num_children: 0,
                acl: Arc::from(acl.as_slice()),
                data_len,
                czxid: self.zxid,
                mzxid: self.zxid,
                pzxid: self.zxid,
                ctime: self.time,
                mtime: self.time,
                crc: digest::path_data_crc(&path, r.data.as_deref()),
            }),
        );
        let data = r.data.clone();
        Ok(match op {
            OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn {
                path,
                data,
                acl,
                parent_cversion,
            }),
            OpCode::CreateTtl => TxnBody::CreateTtl(CreateTtlTxn {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            }),
            _ => TxnBody::Create {
                op,
                txn: CreateTxn {
                    path,
                    data,
                    acl,
                    ephemeral,
                    parent_cversion,
                },
            },
        })
    }

    fn remove_from_parent(&mut self, path: &str) -> Result<(), ErrorCode> {
        let parent_path = path::parent(path);
        let mut parent = self.node(parent_path)?;
        parent.num_children -= 1;
        parent.pzxid = parent.pzxid.max(self.zxid);
        self.pending
            .put(self.tree, self.zxid, parent_path, Some(parent));
        self.pending.put(self.tree, self.zxid, path, None);
        Ok(())
    }

    fn delete(&mut self, path: &str, version: i32) -> Result<TxnBody, ErrorCode> {
        if !has_slash_and_no_nul(path) || is_undeletable(path) {
            return Err(ErrorCode::BadArguments);
        }
        let parent = self.node(path::parent(path))?;
        self.require(&parent, perms::DELETE)?;
        let node = self.node(path)?;
        if version != -1 && version != node.version {
            return Err(ErrorCode::BadVersion);
        }
        if node.num_children > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.remove_from_parent(path)?;
        Ok(TxnBody::Delete(DeleteTxn { path: path.into() }))
    }

    fn delete_container(&mut self, path: &str) -> Result<TxnBody, ErrorCode> {
        if !has_slash_and_no_nul(path) || is_undeletable(path) {
            return Err(ErrorCode::BadArguments);
        }
        self.node(path::parent(path))?;
        let node = self.node(path)?;
        if node.num_children > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if matches!(
            EphemeralType::of(node.ephemeral_owner, self.extended_types),
            EphemeralType::Normal(_)
        ) {
            return Err(ErrorCode::BadVersion);
        }
        self.remove_from_parent(path)?;
        Ok(TxnBody::DeleteContainer(DeleteTxn { path: path.into() }))
    }

    fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
    ) -> Result<TxnBody, ErrorCode> {
        validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let mut node = self.node(path)?;
        self.require(&node, perms::WRITE)?;
        let new_len = data.as_ref().map_or(0, Vec::len);
        self.check_quota(path, 0, new_len as i64 - node.data_len as i64)?;
        if version != -1 && version != node.version {
            return Err(ErrorCode::BadVersion);
        }
        node.version = node.version.wrapping_add(1);
        node.data_len = new_len;
        node.mzxid = self.zxid;
        node.mtime = self.time;
        node.crc = digest::path_data_crc(path, data.as_deref());
        let new_version = node.version;
        self.pending.put(self.tree, self.zxid, path, Some(node));
        Ok(TxnBody::SetData(SetDataTxn {
            path: path.into(),
            data,
            version: new_version,
        }))
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<TxnBody, ErrorCode> {
        validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let acl = fixup_acl(acl, &self.authenticated_ids())?;
        let mut node = self.node(path)?;
        self.require(&node, perms::ADMIN)?;
        if version != -1 && version != node.aversion {
            return Err(ErrorCode::BadVersion);
        }
        node.aversion = node.aversion.wrapping_add(1);
        node.acl = Arc::from(acl.as_slice());
        let new_version = node.aversion;
        self.pending.put(self.tree, self.zxid, path, Some(node));
        Ok(TxnBody::SetAcl(SetAclTxn {
            path: path.into(),
            acl,
            version: new_version,
        }))
    }

    fn check(&mut self, path: &str, version: i32) -> Result<TxnBody, ErrorCode> {
        validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(path)?;
        self.require(&node, perms::READ)?;
        if version != -1 && version != node.version {
            return Err(ErrorCode::BadVersion);
        }
        Ok(TxnBody::Check(CheckVersionTxn {
            path: path.into(),
            version,
        }))
    }

    /// All ops see the effects of the earlier ones; on the first failure the pending state
    /// is rolled back, the failing op becomes its error and later ops RuntimeInconsistency.
    fn multi(&mut self, ops: &[Request]) -> TxnBody {
        let saved = self.pending.clone();
        let mut subs = Vec::with_capacity(ops.len());
        let mut failed = false;
        for op in ops {
            if failed {
                subs.push(TxnBody::Error(ErrorTxn {
                    err: ErrorCode::RuntimeInconsistency.code(),
                }));
                continue;
            }
            match self.prep(op) {
                Ok(t) => subs.push(t),
                Err(e) => {
                    failed = true;
                    subs.push(TxnBody::Error(ErrorTxn { err: e.code() }));
                }
            }
        }
        if failed {
            *self.pending = saved;
        }
        TxnBody::Multi(subs)
    }

    /// The closeSession txn: the session's ephemerals in the tree, minus pending deletes,
    /// plus its pending ephemeral creates (ZooKeeper: `PrepRequestProcessor`, closeSession).
    pub fn close_session(&mut self) -> TxnBody {
        let (created, deleted) = self.pending.session_changes(self.session);
        let mut paths: Vec<String> = self
            .tree
            .ephemerals(self.session)
            .filter(|p| !deleted.iter().any(|d| d == p))
            .map(str::to_owned)
            .chain(created)
            .collect();
        paths.sort();
        paths.dedup();
        for p in &paths {
            // A path whose parent vanished is simply skipped at apply.
            let _ = self.remove_from_parent(p);
        }
        TxnBody::CloseSession(CloseSessionTxn {
            paths_to_delete: paths,
        })
    }
}
