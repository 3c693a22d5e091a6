//! What the core asks the shell to do: [`Output`], carried out in order.

use std::sync::Arc;

use menagerie_proto::Zxid;
use menagerie_proto::records::{ConnectResponse, ReplyHeader, WatcherEvent};
use menagerie_proto::response::Response;
use menagerie_proto::txn::LoggedTxn;

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
}
