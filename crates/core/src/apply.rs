//! The apply step: execute a committed transaction on the tree (ZooKeeper:
//! `DataTree.processTxn`). Apply is deterministic and idempotent enough for replay over a fuzzy
//! snapshot: creates of existing nodes and deletes of missing ones report an error and change
//! nothing.

use menagerie_proto::ErrorCode;
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{Acl, Stat, perms};
use menagerie_proto::response::MultiResult;
use menagerie_proto::txn::{CreateTxn, SetDataTxn, TxnBody, TxnHeader};

use crate::auth::check_acl;
use crate::tree::{CONTAINER_OWNER, DataTree, EphemeralType, NewNode};

/// A change that may fire watches, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Node created.
    Created {
        /// The new node.
        path: String,
        /// Who may hear NodeCreated.
        acl: ReadAcl,
        /// Who may hear the parent's NodeChildrenChanged.
        parent_acl: ReadAcl,
    },
    /// Node deleted.
    Deleted {
        /// The deleted node.
        path: String,
        /// Who may hear NodeDeleted (the ACL the node had).
        acl: ReadAcl,
        /// Who may hear the parent's NodeChildrenChanged.
        parent_acl: ReadAcl,
    },
    /// Node data set.
    DataChanged {
        /// The node.
        path: String,
        /// Who may hear NodeDataChanged.
        acl: ReadAcl,
    },
}

/// Who may receive a change's watch events (ZooKeeper 3.8.4+/3.9.2+ drop an event for a
/// connection without READ on the node concerned, judged by the ACL at the time of the
/// change): `None` when anyone may read (nothing to filter), else a copy of that ACL.
pub type ReadAcl = Option<Vec<Acl>>;

/// The [`ReadAcl`] of the node at `path` as it is now (`None` if there is no such node).
fn read_acl(tree: &DataTree, path: &str) -> ReadAcl {
    let acl = tree.acl(tree.get(path)?);
    if check_acl(acl, perms::READ, &[], false) {
        None
    } else {
        Some(acl.to_vec())
    }
}

/// What applying one txn produced (besides watch changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report (delete, check, session txns).
    Done,
    /// A node was created.
    Created {
        /// The opcode of the create (decides create vs create2 replies).
        op: OpCode,
        /// Path created.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// setData or setACL: the node's new stat.
    Stat(Stat),
    /// A multi: one result per op.
    Multi(Vec<MultiResult>),
    /// The txn failed with this code.
    Failed(ErrorCode),
}

/// Applies `body` (with `header`) to `tree`, appending watch-relevant changes to `changes`.
pub fn apply(
    tree: &mut DataTree,
    header: &TxnHeader,
    body: &TxnBody,
    changes: &mut Vec<Change>,
) -> Outcome {
    match body {
        TxnBody::Multi(subs) => apply_multi(tree, header, subs, changes),
        _ => apply_one(tree, header, body, changes),
    }
}

fn apply_multi(
    tree: &mut DataTree,
    header: &TxnHeader,
    subs: &[TxnBody],
    changes: &mut Vec<Change>,
) -> Outcome {
    if subs.iter().any(TxnBody::is_error) {
        // Nothing is applied; ops before the failure report 0, the rest their codes.
        return Outcome::Multi(
            subs.iter()
                .map(|s| match s {
                    TxnBody::Error(e) => MultiResult::Error(e.err),
                    _ => MultiResult::Error(0),
                })
                .collect(),
        );
    }
    let results = subs
        .iter()
        .map(|s| match apply_one(tree, header, s, changes) {
            Outcome::Created { op, path, stat } => match op {
                OpCode::Create => MultiResult::Create(path),
                _ => MultiResult::Create2(path, stat),
            },
            Outcome::Stat(stat) => MultiResult::SetData(stat),
            Outcome::Failed(e) => MultiResult::Error(e.code()),
            Outcome::Done | Outcome::Multi(_) => match s {
                TxnBody::Check(_) => MultiResult::Check,
                _ => MultiResult::Delete,
            },
        })
        .collect();
    Outcome::Multi(results)
}

fn create(
    tree: &mut DataTree,
    op: OpCode,
    path: &str,
    n: NewNode<'_>,
    changes: &mut Vec<Change>,
) -> Outcome {
    match tree.create(path, &n) {
        Ok(id) => {
            changes.push(Change::Created {
                path: path.to_owned(),
                acl: read_acl(tree, path),
                parent_acl: read_acl(tree, crate::path::parent(path)),
            });
            Outcome::Created {
                op,
                path: path.to_owned(),
                stat: tree.client_stat(tree.node(id)),
            }
        }
        Err(e) => Outcome::Failed(e),
    }
}

fn apply_one(
    tree: &mut DataTree,
    header: &TxnHeader,
    body: &TxnBody,
    changes: &mut Vec<Change>,
) -> Outcome {
    let zxid = header.zxid.0;
    match body {
        TxnBody::Create(txn) => create_node(tree, header, OpCode::Create, txn, changes),
        TxnBody::Create2(txn) => create_node(tree, header, OpCode::Create2, txn, changes),
        TxnBody::CreateContainer(t) => {
            let n = new_node(
                header,
                t.data.as_deref(),
                &t.acl,
                CONTAINER_OWNER,
                t.parent_cversion,
            );
            create(tree, OpCode::CreateContainer, &t.path, n, changes)
        }
        TxnBody::CreateTtl(t) => {
            let owner = EphemeralType::ttl_owner(t.ttl);
            let n = new_node(header, t.data.as_deref(), &t.acl, owner, t.parent_cversion);
            create(tree, OpCode::CreateTtl, &t.path, n, changes)
        }
        TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => delete(tree, &t.path, zxid, changes),
        // ZooKeeper applies a reconfig as a setData of /zookeeper/config.
        TxnBody::SetData(t) | TxnBody::Reconfig(t) => set_data(tree, header, t, changes),
        TxnBody::SetAcl(t) => match tree.set_acl(&t.path, &t.acl, t.version) {
            Ok(id) => Outcome::Stat(tree.client_stat(tree.node(id))),
            Err(e) => Outcome::Failed(e),
        },
        TxnBody::CloseSession(t) => close_session(
            tree,
            header,
            t.as_ref().map(|t| &t.paths_to_delete[..]),
            changes,
        ),
        TxnBody::Check(_) | TxnBody::CreateSession(_) => Outcome::Done,
        TxnBody::Error(e) => {
            Outcome::Failed(ErrorCode::from_code(e.err).unwrap_or(ErrorCode::RuntimeInconsistency))
        }
        TxnBody::Multi(subs) => apply_multi(tree, header, subs, changes),
    }
}

/// The node a create txn describes.
fn new_node<'a>(
    header: &TxnHeader,
    data: Option<&'a [u8]>,
    acl: &'a [Acl],
    ephemeral_owner: i64,
    parent_cversion: i32,
) -> NewNode<'a> {
    NewNode {
        data,
        acl,
        ephemeral_owner,
        parent_cversion,
        zxid: header.zxid.0,
        time: header.time,
    }
}

fn set_data(
    tree: &mut DataTree,
    header: &TxnHeader,
    t: &SetDataTxn,
    changes: &mut Vec<Change>,
) -> Outcome {
    match tree.set_data(
        &t.path,
        t.data.as_deref(),
        t.version,
        header.zxid.0,
        header.time,
    ) {
        Ok(id) => {
            changes.push(Change::DataChanged {
                path: t.path.clone(),
                acl: read_acl(tree, &t.path),
            });
            Outcome::Stat(tree.client_stat(tree.node(id)))
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// create / create2 of a plain or ephemeral node.
fn create_node(
    tree: &mut DataTree,
    header: &TxnHeader,
    op: OpCode,
    txn: &CreateTxn,
    changes: &mut Vec<Change>,
) -> Outcome {
    let owner = if txn.ephemeral { header.client_id.0 } else { 0 };
    let n = new_node(
        header,
        txn.data.as_deref(),
        &txn.acl,
        owner,
        txn.parent_cversion,
    );
    create(tree, op, &txn.path, n, changes)
}

/// closeSession: the listed ephemerals, then any the list missed or that a body-less
/// (pre-3.6) txn did not list (ZooKeeper: `DataTree.killSession`).
fn close_session(
    tree: &mut DataTree,
    header: &TxnHeader,
    listed: Option<&[String]>,
    changes: &mut Vec<Change>,
) -> Outcome {
    let zxid = header.zxid.0;
    for p in listed.unwrap_or_default() {
        // Already gone (replay, or removed by an earlier op): ignore, as ZooKeeper does.
        delete(tree, p, zxid, changes);
    }
    let leftovers: Vec<String> = tree
        .ephemerals(header.client_id.0)
        .map(str::to_owned)
        .collect();
    // An empty list is how a session with too many ephemerals to list is closed.
    if listed.is_some_and(|l| !l.is_empty()) && !leftovers.is_empty() {
        tracing::warn!(session = %header.client_id, count = leftovers.len(), first = %leftovers[0],
            "ephemerals not listed in closeSession txn; deleting them too");
    }
    for p in leftovers {
        delete(tree, &p, zxid, changes);
    }
    Outcome::Done
}

fn delete(tree: &mut DataTree, path: &str, zxid: i64, changes: &mut Vec<Change>) -> Outcome {
    let acl = read_acl(tree, path);
    match tree.delete(path, zxid) {
        Ok(()) => {
            changes.push(Change::Deleted {
                path: path.to_owned(),
                acl,
                parent_acl: read_acl(tree, crate::path::parent(path)),
            });
            Outcome::Done
        }
        Err(e) => Outcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use menagerie_proto::txn::{CloseSessionTxn, DeleteTxn, ErrorTxn};
    use menagerie_proto::{SessionId, Zxid};

    use super::*;

    fn header(zxid: i64, session: i64) -> TxnHeader {
        TxnHeader {
            client_id: SessionId(session),
            cxid: 1,
            zxid: Zxid(zxid),
            time: 5000 + zxid,
            txn_type: 0,
        }
    }

    fn create(path: &str, ephemeral: bool, parent_cversion: i32) -> TxnBody {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(b"v".to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral,
            parent_cversion,
        })
    }

    fn run(tree: &mut DataTree, zxid: i64, session: i64, body: &TxnBody) -> (Outcome, Vec<Change>) {
        let mut changes = Vec::new();
        let o = apply(tree, &header(zxid, session), body, &mut changes);
        (o, changes)
    }

    #[test]
    fn create_reports_stat_and_changes() {
        let mut t = DataTree::new(false, 0);
        let (o, changes) = run(&mut t, 1, 0, &create("/a", false, 1));
        let Outcome::Created { op, path, stat } = o else {
            panic!("{o:?}")
        };
        assert_eq!((op, path.as_str()), (OpCode::Create, "/a"));
        assert_eq!(
            (stat.czxid, stat.mzxid, stat.ctime, stat.data_length),
            (1, 1, 5001, 1)
        );
        assert_eq!(
            changes,
            vec![Change::Created {
                path: "/a".into(),
                acl: None,
                parent_acl: None,
            }]
        );
    }

    #[test]
    fn replay_over_a_newer_tree_converges() {
        let mut t = DataTree::new(false, 0);
        run(&mut t, 1, 0, &create("/a", false, 1));
        let digest = t.digest();
        // The same create again (a fuzzy snapshot already had it): NodeExists, no change.
        let (o, changes) = run(&mut t, 1, 0, &create("/a", false, 1));
        assert_eq!(
            (o, changes.len()),
            (Outcome::Failed(ErrorCode::NodeExists), 0)
        );
        assert_eq!(t.digest(), digest);
        // A delete of a missing node: NoNode, but the parent's pzxid still rises to the
        // txn's (ZooKeeper: DataTree.deleteNode), as it did when the node was deleted.
        let del = TxnBody::Delete(DeleteTxn { path: "/b".into() });
        assert_eq!(
            run(&mut t, 2, 0, &del).0,
            Outcome::Failed(ErrorCode::NoNode)
        );
        assert_eq!(t.get("/").map(|n| n.pzxid), Some(2));
    }

    #[test]
    fn a_v0_create_takes_the_parents_cversion_plus_one() {
        let mut t = DataTree::new(false, 0);
        run(&mut t, 1, 0, &create("/a", false, 1));
        run(&mut t, 2, 0, &create("/a/x", false, -1));
        run(&mut t, 3, 0, &create("/a/y", false, -1));
        let a = t.get("/a").expect("/a");
        assert_eq!((a.cversion, a.pzxid), (2, 3));
    }

    #[test]
    fn reconfig_sets_the_config_node() {
        let mut t = DataTree::new(false, 0);
        let text = b"server.1=127.0.0.1:2888:3888:participant\nversion=100000002".to_vec();
        let body = TxnBody::Reconfig(SetDataTxn {
            path: "/zookeeper/config".into(),
            data: Some(text.clone()),
            version: -1,
        });
        let (o, changes) = run(&mut t, 0x1_0000_0002, 0, &body);
        assert!(
            matches!(&o, Outcome::Stat(s) if s.mzxid == 0x1_0000_0002),
            "{o:?}"
        );
        assert_eq!(changes.len(), 1, "watchers of /zookeeper/config hear it");
        let node = t.get("/zookeeper/config").expect("config node");
        assert_eq!(node.data(), Some(&text[..]));
    }

    #[test]
    fn close_session_deletes_ephemerals_with_or_without_a_list() {
        for listed in [true, false] {
            let mut t = DataTree::new(false, 0);
            run(&mut t, 1, 7, &create("/e1", true, 1));
            run(&mut t, 2, 7, &create("/e2", true, 2));
            run(&mut t, 3, 8, &create("/other", true, 3));
            let body = TxnBody::CloseSession(listed.then(|| CloseSessionTxn {
                paths_to_delete: vec!["/e1".into()],
            }));
            let (o, changes) = run(&mut t, 4, 7, &body);
            assert_eq!(o, Outcome::Done);
            assert_eq!(changes.len(), 2, "listed={listed}");
            assert!(t.get("/e1").is_none() && t.get("/e2").is_none());
            assert!(
                t.get("/other").is_some(),
                "another session's ephemeral stays"
            );
        }
    }

    #[test]
    fn a_multi_with_an_error_applies_nothing() {
        let mut t = DataTree::new(false, 0);
        let multi = TxnBody::Multi(vec![
            create("/a", false, 1),
            TxnBody::Error(ErrorTxn { err: -101 }),
        ]);
        let (o, changes) = run(&mut t, 1, 0, &multi);
        assert_eq!(
            o,
            Outcome::Multi(vec![MultiResult::Error(0), MultiResult::Error(-101)])
        );
        assert!(changes.is_empty() && t.get("/a").is_none());
    }
}
