//! What the shell reads of a node (the operations surface, snapshots) and how it restores
//! one from disk.

use menagerie_proto::digest::ZxidDigest;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{SessionId, Zxid};

use super::Node;
use crate::digest_log::DigestLog;
use crate::front::{ConnInfo, Stats};
use crate::input::{ConnId, Now};
use crate::replica::Replica;
use crate::tree::DataTree;

/// A live session as the operations surface lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub id: SessionId,
    /// Negotiated timeout, ms.
    pub timeout_ms: i32,
    /// Monotonic time of the expiry bucket it is in.
    pub expires_at_ms: u64,
}

impl Node {
    /// The data tree.
    pub fn tree(&self) -> &DataTree {
        self.replica.tree()
    }

    /// The committed state (tree, digests, global sessions).
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// Highest applied zxid.
    pub fn last_processed_zxid(&self) -> Zxid {
        self.replica.last_processed_zxid()
    }

    /// Tree digest checks and history (the `hash` command, `digest_mismatches_count`, the
    /// digest a snapshot stores).
    pub fn digest_log(&self) -> &DigestLog {
        self.replica.digest_log()
    }

    /// The digest a snapshot written now stores.
    pub fn snapshot_digest(&self) -> Option<ZxidDigest> {
        self.replica.snapshot_digest()
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.proposer.sessions().len()
    }

    /// Live sessions, in id order.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.proposer
            .sessions()
            .iter()
            .map(|(id, s)| SessionInfo {
                id,
                timeout_ms: s.timeout_ms,
                expires_at_ms: s.expires_at,
            })
            .collect()
    }

    /// Number of connections.
    pub fn connection_count(&self) -> usize {
        self.front.connection_count()
    }

    /// Every connection, in id order.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let sessions = self.proposer.sessions();
        self.front
            .connections(|s| sessions.get(s).map_or(0, |s| s.timeout_ms))
    }

    /// Number of watch registrations.
    pub fn watch_count(&self) -> usize {
        self.watches.count()
    }

    /// Data-watch registrations as (path, connection) pairs, sorted.
    pub fn data_watches(&self) -> Vec<(String, ConnId)> {
        self.watches.data_watches()
    }

    /// The data-watch registrations as a compact copy (for dumps rendered elsewhere).
    pub fn data_watch_copy(&self) -> crate::listing::WatchCopy {
        self.watches.data_watch_copy()
    }

    /// The ephemeral nodes of every owning session as a compact copy.
    pub fn ephemeral_copy(&self) -> crate::listing::EphemeralCopy {
        let tree = self.tree();
        let mut copy = crate::listing::EphemeralCopy::default();
        for session in tree.sessions_with_ephemerals() {
            copy.push(session, tree.ephemerals(session));
        }
        copy
    }

    /// Traffic counters.
    pub fn stats(&self) -> &Stats {
        self.front.stats()
    }

    /// Resets the server-wide counters (`srst`).
    pub fn reset_stats(&mut self) {
        self.front.reset_stats();
    }

    /// Resets every connection's counters (`crst`).
    pub fn reset_connection_stats(&mut self) {
        self.front.reset_connection_stats();
    }

    /// Writes proposed and not yet applied.
    pub fn outstanding(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether the server only serves reads: its storage failed, or it is an ensemble member
    /// in read-only mode.
    pub fn is_read_only(&self) -> bool {
        self.read_only || self.serves_read_only()
    }

    // ---- recovery ---------------------------------------------------------------------

    /// Recovery: the tree to load a snapshot into (before any client is served).
    pub fn tree_mut(&mut self) -> &mut DataTree {
        self.replica.tree_mut()
    }

    /// Recovery: a session found in a snapshot.
    pub fn restore_session(&mut self, session: SessionId, timeout_ms: i32) {
        self.replica.restore_session(session, timeout_ms);
    }

    /// Recovery: marks everything up to `zxid` as applied (the snapshot's zxid).
    pub fn restore_zxid(&mut self, zxid: Zxid) {
        self.replica.restore_zxid(zxid);
        self.proposer.restore_zxid(zxid);
    }

    /// Recovery: a snapshot named `snapshot_zxid` carrying `digest` was loaded into the tree
    /// (call after [`restore_zxid`](Self::restore_zxid), before replaying the log).
    pub fn snapshot_loaded(&mut self, snapshot_zxid: Zxid, digest: Option<ZxidDigest>) {
        self.replica.snapshot_loaded(snapshot_zxid, digest);
    }

    /// Recovery: applies a txn read from the log, without replies or notifications. Txns at
    /// or below the applied zxid are still applied (fuzzy snapshots depend on replay being
    /// harmless).
    pub fn replay(&mut self, txn: &LoggedTxn) {
        self.replica.replay(txn);
        self.proposer.restore_zxid(txn.zxid());
        if let Some(zab) = self.zab.as_mut() {
            zab.last_logged = zab.last_logged.max(txn.zxid());
            zab.durable = zab.durable.max(txn.zxid());
            if txn.zxid() > zab.committed_tail() {
                zab.committed.push(std::sync::Arc::new(txn.clone()));
            }
        }
    }

    /// Recovery: the epoch files (`acceptedEpoch`, `currentEpoch`) of an ensemble member.
    /// (Also after the data directory failed: what the files hold again.)
    pub fn restore_epochs(&mut self, accepted: u32, current: u32) {
        if let Some(zab) = self.zab.as_mut() {
            zab.accepted_epoch = accepted;
            zab.current_epoch = current;
        }
    }

    /// The epochs (`acceptedEpoch`, `currentEpoch`) of an ensemble member.
    pub fn epochs(&self) -> Option<(u32, u32)> {
        self.zab
            .as_ref()
            .map(|z| (z.accepted_epoch, z.current_epoch))
    }

    /// Recovery is complete: every session restored expires a timeout from `now` unless its
    /// client comes back, as in ZooKeeper after a restart; if `replayed` txns came from the
    /// log, a standalone server asks for a snapshot at once (as ZooKeeper snapshots after
    /// loading), so that the next start need not replay them again; an ensemble member counts
    /// them toward its next snapshot.
    pub fn recovery_done(&mut self, now: Now, replayed: u64) {
        self.replica.recovery_done();
        let last = self.replica.last_processed_zxid();
        if let Some(zab) = self.zab.as_mut() {
            zab.last_logged = zab.last_logged.max(last);
            zab.durable = zab.durable.max(last);
            // A reconfiguration the log holds but this member never activated stays in the
            // tree: it is the last seen configuration a leader elected from here must
            // carry (ZooKeeper keeps it in the `.next` dynamic file).
            if super::reconfig::last_seen_config(&self.replica, &zab.config).is_none() {
                self.replica
                    .set_config_node(&zab.config.config_text, now.wall_ms);
            }
        }
        let sessions = self.proposer.sessions_mut();
        for (&session, &timeout) in self.replica.sessions() {
            sessions.add(session, timeout, now.mono_ms);
        }
        if self.zab.is_some() {
            // As Java's learners after a DIFF: no snapshot at startup (it would compete with
            // the sync for the disk and a core); the replayed txns count toward the next one.
            self.snapshots.count_replayed(replayed);
        } else if replayed > 0 {
            self.snapshots.request_now();
        }
    }

    /// Whether a snapshot is due now (after [`recovery_done`](Self::recovery_done) asked
    /// for one, `Input::Tick` emits it).
    pub fn snapshot_due(&self) -> bool {
        self.snapshots.is_due()
    }
}
