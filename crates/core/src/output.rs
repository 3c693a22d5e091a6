//! What the core asks the shell to do: [`Output`], carried out in order.

use std::sync::Arc;

use menagerie_proto::quorum::{Notification, QuorumPacket};
use menagerie_proto::records::{ConnectResponse, ReplyHeader, WatcherEvent};
use menagerie_proto::response::Response;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

use crate::input::ConnId;

/// How to write a snapshot the core asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// A fuzzy snapshot, written in slices between batches while the tree keeps changing.
    Fuzzy,
    /// The whole tree in one go, with no change in between (after fuzzy snapshots were
    /// abandoned several times in a row).
    Whole,
}

/// An action for the shell, carried out in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send the handshake reply.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The reply (timeout 0 means "session invalid"; a `Close` follows).
        resp: ConnectResponse,
    },
    /// Send a reply.
    Reply {
        /// The connection.
        conn: ConnId,
        /// Header.
        header: ReplyHeader,
        /// Body (not sent when `header.err != 0`).
        body: Response,
    },
    /// Send a watch notification.
    Notify {
        /// The connection.
        conn: ConnId,
        /// zxid of the txn that fired it (-1 for catch-up events).
        zxid: Zxid,
        /// The event.
        event: WatcherEvent,
    },
    /// Flush what was queued for the connection, then close it.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Make this txn durable, then report `Input::Persisted`. Nothing that depends on it
    /// (a reply, an acknowledgement) leaves the core before that.
    Persist(Arc<LoggedTxn>),
    /// Write a snapshot of the tree now (the txn log is rolled first, so the snapshot's log
    /// starts with the next txn), then report `Input::SnapshotEnded`. The core asks for at
    /// most one at a time.
    TakeSnapshot(SnapshotMode),

    // ---- the ensemble -----------------------------------------------------------------
    /// Send a notification on the election port (dialling `to` if no connection is up).
    SendVote {
        /// The receiver.
        to: ServerId,
        /// What to say.
        notification: Notification,
    },
    /// Send a packet on the quorum link to `to`.
    Send {
        /// The receiver.
        to: ServerId,
        /// The packet.
        packet: QuorumPacket,
    },
    /// Send `SNAP(zxid)` to the learner `to`, then the snapshot stream of the tree as it is
    /// from now on (fuzzy: txns after `zxid` are sent again after it); packets sent to `to`
    /// later follow the stream.
    SendSnapshot {
        /// The learner.
        to: ServerId,
        /// The zxid the SNAP packet carries (the leader's last applied zxid now).
        zxid: Zxid,
    },
    /// Dial the leader's quorum port; `Input::PeerUp` or `Input::PeerDown` answers.
    ConnectToLeader {
        /// The leader.
        leader: ServerId,
    },
    /// Close the quorum link to `peer` (after what was queued for it).
    DropPeer {
        /// The other end.
        peer: ServerId,
    },
    /// Listen on the quorum port (a leader, from the moment it decides to lead) or stop.
    ListenQuorum(bool),
    /// A new configuration is active (dynamic reconfiguration): the shell learns the
    /// members' addresses from it and writes the dynamic configuration file.
    ConfigActivated {
        /// The configuration text.
        text: String,
        /// Its version.
        version: i64,
    },
    /// Write the epoch files (`acceptedEpoch`, `currentEpoch`) durably before any later
    /// output is carried out.
    PersistEpoch {
        /// A new acceptedEpoch.
        accepted: Option<u32>,
        /// A new currentEpoch.
        current: Option<u32>,
    },
    /// `true`: create the `updatingEpoch` marker durably before any later output is carried
    /// out (a learner is about to log a sync of an epoch its `currentEpoch` does not name
    /// yet; a restart that finds the marker adopts the epoch of the last zxid). `false`:
    /// remove it (`currentEpoch` was written).
    UpdatingEpoch(bool),
    /// Truncate the txn log after `to` (TRUNC); with `reload`, recover the state up to `to`
    /// from disk and report it with `Input::Reloaded`. Later appends follow the truncation.
    Truncate {
        /// The last zxid kept.
        to: Zxid,
        /// Whether the in-memory state went past `to` and must be rebuilt.
        reload: bool,
    },
}
