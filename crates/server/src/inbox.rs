//! The shell's inbox: every message the tasks and threads around the shell send it, and the
//! small shared types those messages carry. A leaf of the crate's import graph (it names
//! only the outbox, the metric values and the core's and wire crates' types), so connections, the storage and snapshot
//! threads and the admin server can talk to the shell without importing it.
//!
//! Failures cross the channel as typed errors that say what failed
//! ([`menagerie_host::LogError`], [`menagerie_host::SnapshotError`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use menagerie_core::replica::Replica;
use menagerie_core::{ConnId, Input};
use menagerie_host::{LogError, SnapshotError};
use menagerie_proto::ServerId;
use menagerie_proto::quorum::QuorumPacket;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc, oneshot};

use crate::outbox::Outbox;

/// Messages to the shell task.
#[derive(Debug)]
pub enum ToShell {
    /// A new connection and where to send its outputs.
    Register {
        /// The connection.
        conn: ConnId,
        /// Its outbox.
        tx: Outbox,
        /// The client's address.
        peer: SocketAddr,
    },
    /// An input for the core.
    Input(Input),
    /// Inputs for the core, in order (the requests one read of a connection delivered).
    Inputs(Vec<Input>),
    /// A four-letter word to render.
    FourLetter {
        /// The command.
        word: String,
        /// Who asked (listed among the connections, as ZooKeeper does).
        peer: SocketAddr,
        /// Where the text goes.
        reply: oneshot::Sender<String>,
    },
    /// An admin HTTP request (command, metrics or readiness) to answer.
    Admin {
        /// What is asked.
        query: Query,
        /// Where the answer goes.
        reply: oneshot::Sender<Answer>,
    },
    /// A four-letter word or admin request whose large answer waited for its turn to be
    /// rendered (see `ops::dumps::MAX_RENDERING`); the permit is that turn.
    Turn {
        /// The `FourLetter` or `Admin` message.
        request: Box<ToShell>,
        /// Held until the answer is rendered.
        permit: OwnedSemaphorePermit,
    },
    /// The storage thread failed; nothing more will be made durable.
    StorageFailed(LogError),
    /// Something happened on a quorum-port link (see [`LinkEvent`]).
    Link {
        /// The member at the other end.
        peer: ServerId,
        /// Which link (links are numbered; events of a replaced link are ignored).
        link: u64,
        /// What happened.
        event: LinkEvent,
    },
    /// A background snapshot ended.
    SnapshotDone {
        /// Which one (`Snapshotter::id`).
        id: u64,
        /// How it ended.
        outcome: SnapshotOutcome,
    },
}

/// What a quorum-port link reports.
#[derive(Debug)]
pub enum LinkEvent {
    /// Connected; packets for the peer go through the handle.
    Up(LinkHandle),
    /// A packet arrived.
    Packet(QuorumPacket),
    /// The snapshot stream after a SNAP packet was read whole into a replica.
    Snap(Box<Replica>),
    /// The link is gone (or a dial failed).
    Down,
}

/// The sending side of a quorum-port link: its writer task's queue, how many bytes wait in
/// it, and a signal when the writer has written some.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    /// The writer's queue.
    pub tx: mpsc::Sender<LinkCmd>,
    /// Bytes queued and not yet written.
    pub queued: Arc<AtomicUsize>,
    /// Signalled after every write.
    pub written: Arc<Notify>,
}

/// What a link's writer is asked to do.
#[derive(Debug)]
pub enum LinkCmd {
    /// Write these bytes (encoded packets, or a slice of a SNAP stream).
    Bytes(Vec<u8>),
    /// Write what is queued, then close.
    Close,
}

/// How a background snapshot ended.
#[derive(Debug)]
pub enum SnapshotOutcome {
    /// Written, synced and renamed into place.
    Written(PathBuf),
    /// Given up before completion (the temporary file is removed).
    Abandoned,
    /// The file system failed.
    Failed(SnapshotError),
}

/// A question of the admin HTTP server for the shell.
#[derive(Debug)]
pub enum Query {
    /// Run an AdminServer command.
    Command {
        /// The name or alias as requested.
        name: String,
        /// Query parameters (first value of each).
        args: BTreeMap<String, String>,
    },
    /// Whether writes can be made durable (for `/ready`).
    Ready,
    /// A question of the HTTP layer (authorization, console views, snapshot, metrics).
    Http(crate::http::queries::HttpQuery),
}

/// The shell's answer to a [`Query`].
#[derive(Debug)]
pub enum Answer {
    /// A command's JSON object (`ops::commands::Object`).
    Json(serde_json::Map<String, serde_json::Value>),
    /// A command's JSON as the admin server sends it (a large answer rendered off the
    /// shell task).
    JsonText(String),
    /// Whether the server is serving (storage works).
    Ready(bool),
    /// The answer to a [`Query::Http`].
    Http(crate::http::queries::HttpAnswer),
}

/// Connection counts for `maxClientCnxns` and `maxCnxns`, shared by the accept loops.
pub type ConnCounts = Arc<Mutex<crate::admission::ConnTable>>;
