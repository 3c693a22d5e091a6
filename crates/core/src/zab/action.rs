//! What a Zab role asks its node to do. The roles never touch the tree or the connections:
//! they say what to send, persist and commit, and the node carries it out in order.

use std::sync::Arc;

use menagerie_proto::quorum::QuorumPacket;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, SessionId, Zxid};

/// One step for the node.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a packet on the quorum link to a peer.
    Send(ServerId, QuorumPacket),
    /// Stream a snapshot of the tree to a learner (SNAP).
    SendSnapshot(ServerId, Zxid),
    /// Close the quorum link to a peer.
    DropPeer(ServerId),
    /// Dial the leader.
    ConnectToLeader(ServerId),
    /// Make a txn durable (`Input::Persisted` answers).
    Persist(Arc<LoggedTxn>),
    /// Write the epoch files.
    PersistEpoch {
        /// New acceptedEpoch.
        accepted: Option<u32>,
        /// New currentEpoch.
        current: Option<u32>,
    },
    /// Create (`true`) or remove (`false`) the `updatingEpoch` marker: a learner logs a sync
    /// whose epoch `currentEpoch` does not name yet, until it writes `currentEpoch`.
    UpdatingEpoch(bool),
    /// Truncate the log after a zxid (and reload the state from disk when it went past it).
    Truncate {
        /// Last zxid kept.
        to: Zxid,
        /// Whether to reload.
        reload: bool,
    },
    /// Write a whole snapshot now (a learner synced by SNAP, at NEWLEADER).
    Snapshot,
    /// Apply a committed txn (the next in zxid order) and answer who waits for it.
    Commit(Arc<LoggedTxn>),
    /// Start serving clients in `epoch`.
    Serve(u32),
    /// Leave the role and elect again.
    StepDown(&'static str),
    /// The leader answered a forwarded `sync`: the oldest one waiting completes.
    SyncDone,
    /// A leadership confirmation round (linearizable reads) is over: reads waiting for it
    /// may be served.
    Confirmed(u64),
    /// The leader answered a REVALIDATE.
    Revalidated(SessionId, bool),
    /// Activate a committed configuration; `designated` leads it (spec 09 §10).
    Activate {
        /// The configuration text.
        text: String,
        /// The leader of the new configuration.
        designated: ServerId,
    },
}

/// Actions collected while handling one input.
pub type Actions = Vec<Action>;
