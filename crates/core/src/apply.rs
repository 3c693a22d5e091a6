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
            let n = new_node(header, t.data.as_deref(), &t.acl, CONTAINER_OWNER, t.parent_cversion);
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
        TxnBody::CloseSession(t) => {
            close_session(tree, header, t.as_ref().map(|t| &t.paths_to_delete[..]), changes)
        }
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
    match tree.set_data(&t.path, t.data.as_deref(), t.version, header.zxid.0, header.time) {
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
    let n = new_node(header, txn.data.as_deref(), &txn.acl, owner, txn.parent_cversion);
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
    for p in leftovers {
        if listed.is_some() {
            tracing::warn!(path = %p, session = %header.client_id,
                "ephemeral not listed in closeSession txn; deleting it too");
        }
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
