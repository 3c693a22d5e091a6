//! What the shell feeds into the core: [`Input`], with the clocks in [`Now`].

use menagerie_proto::Zxid;
use menagerie_proto::records::{ConnectRequest, Id};
use menagerie_proto::request::Request;

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Nothing more can be made durable (the log's disk is full or failing): from now on
    /// the server only serves reads on existing sessions.
    StorageFailed,
}
