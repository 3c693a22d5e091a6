//! What the shell feeds into the core: [`Input`], with the clocks in [`Now`].

use menagerie_proto::quorum::{Notification, QuorumPacket};
use menagerie_proto::records::{ConnectRequest, Id};
use menagerie_proto::request::Request;
use menagerie_proto::{ServerId, Zxid};

/// A client connection, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The clocks, read by the shell and passed with every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Monotonic milliseconds (session expiry, timers).
    pub mono_ms: u64,
    /// Wall-clock milliseconds since the Unix epoch (ctime/mtime of new txns).
    pub wall_ms: i64,
}

/// Why a request body could not be turned into a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRequest {
    /// The opcode is not a client request ZooKeeper accepts.
    UnknownOp,
    /// The body did not decode.
    Malformed,
}

/// How a snapshot the core asked for ([`Output::TakeSnapshot`](crate::Output::TakeSnapshot))
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotEnd {
    /// Written and durable.
    Written,
    /// Given up because the tree changed in a way a fuzzy snapshot cannot follow (an ACL list
    /// created during the walk); the core asks again soon.
    Abandoned,
    /// An I/O error; the core asks again after the next `snapCount` txns.
    Failed,
}

/// An event for the core.
#[derive(Debug)]
pub enum Input {
    /// A connection sent its ConnectRequest.
    Connect {
        /// The connection.
        conn: ConnId,
        /// Remote IP address as text (the connection's `ip` identity).
        peer_ip: String,
        /// The handshake.
        req: ConnectRequest,
    },
    /// A request after the handshake.
    Request {
        /// The connection.
        conn: ConnId,
        /// Request xid.
        xid: i32,
        /// Opcode as sent.
        op: i32,
        /// The decoded body.
        req: Result<Request, BadRequest>,
    },
    /// The connection is gone (closed by the peer, an error, or a `Close` output).
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// The transport authenticated the connection (a TLS client certificate: scheme `x509`,
    /// id = the certificate's subject). Sent right after `Connect`.
    Identity {
        /// The connection.
        conn: ConnId,
        /// The identity.
        id: Id,
    },
    /// Every txn up to this zxid is durable.
    Persisted {
        /// Highest durable zxid.
        up_to: Zxid,
    },
    /// A snapshot asked for with `Output::TakeSnapshot` ended.
    SnapshotEnded(SnapshotEnd),
    /// Time passed; run timers due at `now`.
    Tick,
    /// Nothing can be made durable for now (the log's disk is full or failing; the shell
    /// keeps what was handed to the log and retries): until [`Input::StorageRecovered`] a
    /// standalone server serves only reads on existing sessions, and an ensemble member
    /// leaves its role and stays out of elections.
    StorageFailed,
    /// Everything handed to the log is durable again (reported with `Persisted` first):
    /// writes and new sessions are accepted again; an ensemble member elects.
    StorageRecovered,

    // ---- the ensemble -----------------------------------------------------------------
    /// A Fast Leader Election notification from `from` (election port).
    Vote {
        /// The sender.
        from: ServerId,
        /// What it says.
        notification: Notification,
    },
    /// The election-port connection to `peer` came up (`up`) or closed: a closed one means
    /// no better vote can come from it (the election may decide without waiting).
    ElectionLink {
        /// The other end.
        peer: ServerId,
        /// Whether the connection is up.
        up: bool,
    },
    /// A quorum-port link to `peer` is up: on a learner, its connection to the leader it was
    /// told to dial ([`Output::ConnectToLeader`](crate::Output::ConnectToLeader)); on a
    /// leader, a learner's connection whose first packet (FOLLOWERINFO or OBSERVERINFO,
    /// delivered next) named it.
    PeerUp {
        /// The other end.
        peer: ServerId,
    },
    /// The quorum-port link to `peer` is gone (or the dial failed).
    PeerDown {
        /// The other end.
        peer: ServerId,
    },
    /// A packet from `from` on the quorum port.
    Peer {
        /// The sender.
        from: ServerId,
        /// The packet.
        packet: QuorumPacket,
    },
    /// The snapshot stream that followed a SNAP packet from the leader was read whole into
    /// `replica` (its tree, sessions and zxid as the packet announced).
    SnapReceived {
        /// The leader.
        from: ServerId,
        /// The state it describes.
        replica: Box<crate::replica::Replica>,
    },
    /// After [`Output::Truncate`](crate::Output::Truncate) with `reload`: the state
    /// recovered from disk up to the truncation point.
    Reloaded(Box<crate::replica::Replica>),
}
