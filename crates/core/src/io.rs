//! The boundary of the core: what the shell feeds in and what it must carry out.

use std::sync::Arc;

use menagerie_proto::records::{ConnectRequest, ConnectResponse, Id, ReplyHeader, WatcherEvent};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;

use crate::txn::LoggedTxn;

/// A client connection, numbered by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The clocks, read by the shell and passed with every input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Monotonic milliseconds (session expiry).
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
        up_to: i64,
    },
    /// Time passed; run timers due at `now`.
    Tick,
    /// Nothing more can be made durable (the log's disk is full or failing): from now on
    /// the server only serves reads on existing sessions.
    StorageFailed,
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
        zxid: i64,
        /// The event.
        event: WatcherEvent,
    },
    /// Flush what was queued for the connection, then close it.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Make this txn durable, then report `Input::Persisted`. Replies for it wait until then.
    Persist(Arc<LoggedTxn>),
}
