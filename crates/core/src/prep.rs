//! The prep step: validate a write against the latest *pending* state and turn it into an
//! idempotent transaction (ZooKeeper: `PrepRequestProcessor`, spec 02 §2.2 and 08 §8.3).
//!
//! Writes in flight (proposed but not yet applied) are visible here through [`Pending`], so a
//! second write of the same session sees the first one's effects, as in ZooKeeper's
//! `outstandingChanges`. The order of the checks decides which error a client sees and
//! follows ZooKeeper exactly.

use std::sync::Arc;

use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{Acl, CreateRequest, Id, perms};
use menagerie_proto::request::Request;
use menagerie_proto::txn::*;
use menagerie_proto::{ErrorCode, SessionId, Zxid, digest};

use crate::acl::fixup_acl;
use crate::auth::{check_acl, is_authenticated_scheme};
use crate::path::{self, has_slash_and_no_nul, is_undeletable, validate_path};
use crate::pending::{NodeRecord, Pending};
use crate::quota;
use crate::tree::{CONTAINER_OWNER, DataTree, EphemeralType, MAX_TTL};

/// Everything prep needs besides the request.
pub struct PrepContext<'a> {
    /// The committed tree.
    pub tree: &'a DataTree,
    /// Pending changes; updated by a successful prep.
    pub pending: &'a mut Pending,
    /// zxid being assigned.
    pub zxid: Zxid,
    /// The txn's time (`TxnHeader.time`), for the stats the digest covers.
    pub time: i64,
    /// Requesting session.
    pub session: SessionId,
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
        let kind = CreateKind::parse(r.flags)?;
        self.check_create_kind(op, kind, ttl)?;
        if !has_slash_and_no_nul(&r.path) {
            return Err(ErrorCode::BadArguments);
        }
        let acl = fixup_acl(&r.acl, &self.authenticated_ids())?;
        let parent_path = path::parent(&r.path);
        let parent = self.node(parent_path)?;
        self.require(&parent, perms::CREATE)?;
        let path = if kind.sequential {
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
        let owner = kind.owner(self.session, ttl);
        let parent_cversion = self.record_create(parent_path, parent, &path, r, &acl, owner);
        let (data, ephemeral) = (r.data.clone(), kind.ephemeral);
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
            _ => {
                let txn = CreateTxn {
                    path,
                    data,
                    acl,
                    ephemeral,
                    parent_cversion,
                };
                if op == OpCode::Create {
                    TxnBody::Create(txn)
                } else {
                    TxnBody::Create2(txn)
                }
            }
        })
    }

    /// The TTL and container rules of a create.
    fn check_create_kind(&self, op: OpCode, kind: CreateKind, ttl: i64) -> Result<(), ErrorCode> {
        if kind.ttl && !self.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        if kind.ttl {
            if ttl <= 0 || ttl > MAX_TTL || op != OpCode::CreateTtl {
                return Err(ErrorCode::BadArguments);
            }
        } else if ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        }
        // Containers only through opcode 19 and opcode 19 only for containers (spec README
        // item 33: ZooKeeper is inconsistent here; rejecting is the safe, deliberate choice).
        if kind.container != (op == OpCode::CreateContainer) {
            return Err(ErrorCode::BadArguments);
        }
        Ok(())
    }

    /// Records a create and its parent's new child version as pending; returns that
    /// version (the txn's `parentCVersion`).
    fn record_create(
        &mut self,
        parent_path: &str,
        mut parent: NodeRecord,
        path: &str,
        r: &CreateRequest,
        acl: &[Acl],
        owner: i64,
    ) -> i32 {
        let parent_cversion = parent.cversion.wrapping_add(1);
        parent.cversion = parent_cversion;
        parent.pzxid = self.zxid.0;
        parent.num_children += 1;
        self.pending
            .put(self.tree, self.zxid, parent_path, Some(parent));
        let zxid = self.zxid.0;
        let node = NodeRecord {
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            num_children: 0,
            acl: Arc::from(acl),
            data_len: r.data.as_ref().map_or(0, Vec::len),
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: self.time,
            mtime: self.time,
            crc: digest::path_data_crc(path, r.data.as_deref()),
        };
        self.pending.put(self.tree, self.zxid, path, Some(node));
        parent_cversion
    }

    fn remove_from_parent(&mut self, path: &str) -> Result<(), ErrorCode> {
        let parent_path = path::parent(path);
        let mut parent = self.node(parent_path)?;
        parent.num_children -= 1;
        parent.pzxid = parent.pzxid.max(self.zxid.0);
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
        node.mzxid = self.zxid.0;
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
            .ephemerals(self.session.0)
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
        // Every replica deletes the session's ephemerals it holds whether they are listed
        // or not (apply, and ZooKeeper's `killSession`), so a list too long for a log entry
        // that any reader accepts is left out rather than written.
        let listed_bytes: usize = paths.iter().map(|p| 4 + p.len()).sum();
        if listed_bytes > CLOSE_SESSION_LIST_LIMIT {
            tracing::info!(session = %self.session, ephemerals = paths.len(), bytes = listed_bytes,
                "closeSession txn leaves its ephemerals unlisted: the list would be too long for one log entry");
            paths.clear();
        }
        TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: paths,
        }))
    }
}

/// Longest encoded path list a closeSession txn carries (half of ZooKeeper's default
/// `jute.maxbuffer`, so the entry stays readable by any ZooKeeper or Menagerie with default
/// settings); a longer list is left out and each replica deletes the session's ephemerals
/// from its own tree.
pub const CLOSE_SESSION_LIST_LIMIT: usize = 512 * 1024;

/// What the flags of a create ask for (ZooKeeper: `CreateMode.fromFlag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CreateKind {
    ephemeral: bool,
    sequential: bool,
    container: bool,
    ttl: bool,
}

impl CreateKind {
    fn parse(flags: i32) -> Result<CreateKind, ErrorCode> {
        let (ephemeral, sequential, container, ttl) = match flags {
            0 => (false, false, false, false),
            1 => (true, false, false, false),
            2 => (false, true, false, false),
            3 => (true, true, false, false),
            4 => (false, false, true, false),
            5 => (false, false, false, true),
            6 => (false, true, false, true),
            _ => return Err(ErrorCode::BadArguments),
        };
        Ok(CreateKind {
            ephemeral,
            sequential,
            container,
            ttl,
        })
    }

    /// The new node's `ephemeralOwner` field.
    fn owner(self, session: SessionId, ttl: i64) -> i64 {
        if self.ephemeral {
            session.0
        } else if self.container {
            CONTAINER_OWNER
        } else if self.ttl {
            EphemeralType::ttl_owner(ttl)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use menagerie_proto::records::{DeleteRequest, SetDataRequest};

    use super::*;
    use crate::apply::apply;

    const S: SessionId = SessionId(0x77);

    /// A tree, the pending state and a zxid counter: preps requests as a proposer would and
    /// applies them on demand.
    struct Bench {
        tree: DataTree,
        pending: Pending,
        txns: Vec<(Zxid, TxnBody)>,
    }

    impl Bench {
        fn new() -> Bench {
            Bench {
                tree: DataTree::new(true, 0),
                pending: Pending::default(),
                txns: Vec::new(),
            }
        }

        fn prep_as(&mut self, session: SessionId, req: &Request) -> Result<TxnBody, ErrorCode> {
            let zxid = Zxid(self.txns.len() as i64 + 1);
            let r = PrepContext {
                tree: &self.tree,
                pending: &mut self.pending,
                zxid,
                time: 1000 + zxid.0,
                session,
                ids: &[],
                extended_types: true,
                skip_acl: false,
                enforce_quota: false,
            }
            .prep(req);
            let body = r
                .clone()
                .unwrap_or_else(|e| TxnBody::Error(ErrorTxn { err: e.code() }));
            self.txns.push((zxid, body));
            r
        }

        fn prep(&mut self, req: &Request) -> Result<TxnBody, ErrorCode> {
            self.prep_as(S, req)
        }

        /// Applies every txn prepped so far, in order, and forgets their pending changes.
        fn apply_all(&mut self) {
            for (zxid, body) in self.txns.drain(..) {
                let header = TxnHeader {
                    client_id: S,
                    cxid: 0,
                    zxid,
                    time: 1000 + zxid.0,
                    txn_type: body.txn_type(),
                };
                apply(&mut self.tree, &header, &body, &mut Vec::new());
                self.pending.applied(zxid);
            }
        }
    }

    fn create(path: &str, flags: i32) -> Request {
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: Acl::open_unsafe(),
            flags,
        })
    }

    fn delete(path: &str, version: i32) -> Request {
        Request::Delete(DeleteRequest {
            path: path.into(),
            version,
        })
    }

    #[test]
    fn creates_see_pending_creates_and_number_sequentials_from_the_pending_parent() {
        let mut b = Bench::new();
        assert!(b.prep(&create("/a", 0)).is_ok());
        // Not applied yet: a second create of /a sees the pending one.
        assert_eq!(b.prep(&create("/a", 0)), Err(ErrorCode::NodeExists));
        assert!(b.prep(&create("/a/b", 0)).is_ok());
        let Ok(TxnBody::Create(t)) = b.prep(&create("/a/s-", 2)) else {
            panic!("sequential create")
        };
        // /a's pending cversion is 1 after /a/b: the suffix and the new parentCVersion.
        assert_eq!((t.path.as_str(), t.parent_cversion), ("/a/s-0000000001", 2));
        let parent = b.pending.record(&b.tree, "/a").expect("pending /a");
        assert_eq!((parent.num_children, parent.pzxid), (2, 4));
    }

    #[test]
    fn create_flags_and_kinds_are_checked_in_zookeepers_order() {
        let mut b = Bench::new();
        assert_eq!(b.prep(&create("/x", 7)), Err(ErrorCode::BadArguments));
        // A container only through createContainer.
        assert_eq!(b.prep(&create("/x", 4)), Err(ErrorCode::BadArguments));
        assert_eq!(b.prep(&create("no-slash", 0)), Err(ErrorCode::BadArguments));
        assert_eq!(b.prep(&create("/missing/x", 0)), Err(ErrorCode::NoNode));
        assert!(b.prep(&create("/e", 1)).is_ok());
        assert_eq!(
            b.prep(&create("/e/child", 0)),
            Err(ErrorCode::NoChildrenForEphemerals)
        );
        let Ok(TxnBody::Create(e)) = b.prep(&create("/e2", 1)) else {
            panic!("ephemeral create")
        };
        assert!(e.ephemeral);
    }

    #[test]
    fn deletes_check_versions_and_pending_children() {
        let mut b = Bench::new();
        b.prep(&create("/a", 0)).expect("create /a");
        b.prep(&create("/a/b", 0)).expect("create /a/b");
        assert_eq!(b.prep(&delete("/a", -1)), Err(ErrorCode::NotEmpty));
        assert_eq!(b.prep(&delete("/a/b", 3)), Err(ErrorCode::BadVersion));
        assert!(b.prep(&delete("/a/b", 0)).is_ok());
        // /a/b's delete is pending: /a is empty now.
        assert!(b.prep(&delete("/a", -1)).is_ok());
        assert_eq!(b.prep(&delete("/a", -1)), Err(ErrorCode::NoNode));
        assert_eq!(
            b.prep(&delete("/zookeeper", -1)),
            Err(ErrorCode::BadArguments)
        );
    }

    #[test]
    fn a_failed_multi_rolls_the_pending_state_back() {
        let mut b = Bench::new();
        let multi = Request::Multi(vec![create("/m", 0), delete("/nope", -1), create("/n", 0)]);
        let Ok(TxnBody::Multi(subs)) = b.prep(&multi) else {
            panic!("multi")
        };
        assert_eq!(
            subs,
            vec![
                TxnBody::Create(CreateTxn {
                    path: "/m".into(),
                    data: Some(b"d".to_vec()),
                    acl: Acl::open_unsafe(),
                    ephemeral: false,
                    parent_cversion: 1,
                }),
                TxnBody::Error(ErrorTxn {
                    err: ErrorCode::NoNode.code()
                }),
                TxnBody::Error(ErrorTxn {
                    err: ErrorCode::RuntimeInconsistency.code()
                }),
            ]
        );
        assert!(
            b.pending.is_empty(),
            "nothing of the failed multi stays pending"
        );
        assert!(b.prep(&create("/m", 0)).is_ok());
    }

    #[test]
    fn close_session_lists_pending_ephemerals_and_skips_pending_deletes() {
        let mut b = Bench::new();
        b.prep(&create("/e1", 1)).expect("e1");
        b.prep(&create("/e2", 1)).expect("e2");
        b.apply_all();
        b.prep(&create("/e3", 1)).expect("pending e3");
        b.prep(&delete("/e1", -1)).expect("pending delete of e1");
        let body = PrepContext {
            tree: &b.tree,
            pending: &mut b.pending,
            zxid: Zxid(10),
            time: 0,
            session: S,
            ids: &[],
            extended_types: true,
            skip_acl: false,
            enforce_quota: false,
        }
        .close_session();
        assert_eq!(
            body,
            TxnBody::CloseSession(Some(CloseSessionTxn {
                paths_to_delete: vec!["/e2".into(), "/e3".into()],
            }))
        );
    }

    #[test]
    fn the_predicted_digest_is_the_digest_after_apply() {
        let mut b = Bench::new();
        let reqs = [
            create("/a", 0),
            create("/a/b", 0),
            Request::SetData(SetDataRequest {
                path: "/a".into(),
                data: Some(b"new".to_vec()),
                version: -1,
            }),
            delete("/a/b", -1),
            create("/a/s-", 2),
        ];
        let mut predicted = Vec::new();
        for r in &reqs {
            b.prep(r).expect("prep");
            predicted.push(b.pending.tree_digest(&b.tree));
        }
        // Applied one at a time, the tree passes through every predicted digest.
        let txns: Vec<_> = b.txns.drain(..).collect();
        for ((zxid, body), want) in txns.into_iter().zip(predicted) {
            let header = TxnHeader {
                client_id: S,
                cxid: 0,
                zxid,
                time: 1000 + zxid.0,
                txn_type: body.txn_type(),
            };
            apply(&mut b.tree, &header, &body, &mut Vec::new());
            assert_eq!(b.tree.digest(), want, "after {zxid}");
        }
    }
}
