//! [`Replica`]: the committed state every member of an ensemble keeps identically: the data
//! tree, its digest checks, the last applied zxid and the global sessions with their timeouts
//! (ZooKeeper: `ZKDatabase` = `DataTree` + `sessionsWithTimeouts`).
//!
//! Txns reach it only once committed, in zxid order ([`Replica::apply`]), or during recovery
//! and learner sync, where replay over a fuzzy snapshot must be harmless
//! ([`Replica::replay`]).

use std::collections::BTreeMap;

use menagerie_proto::digest::ZxidDigest;
use menagerie_proto::txn::{LoggedTxn, TxnBody};
use menagerie_proto::{SessionId, Zxid};

use crate::apply::{Change, Outcome, apply};
use crate::digest_log::DigestLog;
use crate::tree::DataTree;

/// Trees up to this size have their digest recomputed after every txn in debug builds.
const DEBUG_DIGEST_CHECK_NODES: usize = 2000;

/// The committed state.
#[derive(Debug)]
pub struct Replica {
    tree: DataTree,
    digests: DigestLog,
    last_processed: Zxid,
    /// Global sessions and their timeouts, as the txns and snapshots say.
    sessions: BTreeMap<SessionId, i32>,
}

impl Replica {
    /// An empty tree (`/`, `/zookeeper`, its quota and config nodes).
    pub fn new(extended_types: bool, seed: u64, digest_enabled: bool) -> Replica {
        Replica {
            tree: DataTree::new(extended_types, seed),
            digests: DigestLog::new(digest_enabled),
            last_processed: Zxid::ZERO,
            sessions: BTreeMap::new(),
        }
    }

    /// The data tree.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The data tree, to load a snapshot into.
    pub fn tree_mut(&mut self) -> &mut DataTree {
        &mut self.tree
    }

    /// Digest checks and history.
    pub fn digest_log(&self) -> &DigestLog {
        &self.digests
    }

    /// The last applied zxid.
    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed
    }

    /// Global sessions with their timeouts (what a snapshot stores).
    pub fn sessions(&self) -> &BTreeMap<SessionId, i32> {
        &self.sessions
    }

    /// Applies a committed txn, the next in zxid order; returns what it did and appends the
    /// changes that fire watches.
    pub fn apply(&mut self, txn: &LoggedTxn, changes: &mut Vec<Change>) -> Outcome {
        let zxid = txn.zxid();
        assert!(
            zxid > self.last_processed,
            "txns must be applied in zxid order: {zxid} after {}",
            self.last_processed
        );
        self.apply_unchecked(txn, changes)
    }

    /// Applies a txn read from the log or received during a learner sync. Txns at or below
    /// the applied zxid are still applied (fuzzy snapshots depend on replay being harmless).
    pub fn replay(&mut self, txn: &LoggedTxn) {
        let mut changes = Vec::new();
        self.apply_unchecked(txn, &mut changes);
    }

    fn apply_unchecked(&mut self, txn: &LoggedTxn, changes: &mut Vec<Change>) -> Outcome {
        let outcome = apply(&mut self.tree, &txn.header, &txn.body, changes);
        self.digests
            .applied(txn.zxid(), txn.digest.as_ref(), self.tree.digest());
        match &txn.body {
            TxnBody::CreateSession(t) => {
                self.sessions.insert(txn.session(), t.timeout);
            }
            TxnBody::CloseSession(_) => {
                self.sessions.remove(&txn.session());
            }
            _ => {}
        }
        self.last_processed = self.last_processed.max(txn.zxid());
        // The incremental digest must equal one from scratch; checked in debug builds on
        // trees small enough for it to stay cheap.
        if cfg!(debug_assertions) && self.tree.node_count() <= DEBUG_DIGEST_CHECK_NODES {
            assert_eq!(
                self.tree.digest(),
                self.tree.recompute_digest(),
                "the incremental tree digest drifted at {}",
                txn.zxid()
            );
        }
        outcome
    }

    /// Writes the ensemble's configuration text into `/zookeeper/config`, as every Java
    /// member does at startup and a learner after a SNAP sync (ZooKeeper:
    /// `ZKDatabase.initConfigInZKDatabase`; a local write, not a txn; outside the digest).
    pub fn set_config_node(&mut self, text: &str, wall_ms: i64) {
        let path = "/zookeeper/config";
        if let Err(e) = self
            .tree
            .set_data(path, Some(text.as_bytes()), -1, 0, wall_ms)
        {
            tracing::warn!(error = ?e, "cannot write /zookeeper/config");
        }
    }

    /// Recovery: a session found in a snapshot.
    pub fn restore_session(&mut self, session: SessionId, timeout_ms: i32) {
        self.sessions.insert(session, timeout_ms);
    }

    /// Recovery: everything up to `zxid` is applied (a snapshot's zxid).
    pub fn restore_zxid(&mut self, zxid: Zxid) {
        self.last_processed = self.last_processed.max(zxid);
    }

    /// Recovery: a snapshot named `snapshot_zxid` carrying `digest` was loaded into the tree
    /// (call after [`restore_zxid`](Self::restore_zxid), before replaying the log).
    pub fn snapshot_loaded(&mut self, snapshot_zxid: Zxid, digest: Option<ZxidDigest>) {
        self.digests
            .snapshot_loaded(snapshot_zxid, digest, self.tree.digest());
    }

    /// The tree came from a fuzzy stream that may already hold the effects of txns up to
    /// `zxid`: their digests are not compared when they are applied again.
    pub fn fuzzy_until(&mut self, zxid: Zxid) {
        self.digests.fuzzy_until(zxid);
    }

    /// Recovery: the log has been replayed.
    pub fn recovery_done(&mut self) {
        self.digests.recovery_done(self.last_processed);
    }

    /// The digest a snapshot written now stores: the tree's, at the last applied zxid
    /// (ZooKeeper: `DataTree.serializeZxidDigest`). For a fuzzy snapshot this is taken when
    /// its walk ends.
    pub fn snapshot_digest(&self) -> Option<ZxidDigest> {
        self.digests.enabled().then(|| ZxidDigest {
            zxid: self.last_processed,
            version: menagerie_proto::digest::DIGEST_VERSION,
            digest: self.tree.digest() as i64,
        })
    }
}
