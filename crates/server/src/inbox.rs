//! The shell's inbox: every message the tasks and threads around the shell send it, and the
//! small shared types those messages carry. A leaf of the crate's import graph (it names
//! only the outbox and the metric values), so connections, the storage and snapshot
//! threads and the admin server can talk to the shell without importing it.
//!
//! Failures cross the channel as typed errors that say what failed
//! ([`menagerie_host::LogError`], [`menagerie_host::SnapshotError`]).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use menagerie_core::{ConnId, Input};
use menagerie_host::{LogError, SnapshotError};
use tokio::sync::oneshot;

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
    /// The storage thread failed; nothing more will be made durable.
    StorageFailed(LogError),
    /// A background snapshot ended.
    SnapshotDone {
        /// Which one (`Snapshotter::id`).
        id: u64,
        /// How it ended.
        outcome: SnapshotOutcome,
    },
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
    /// Whether the server is serving (storage works).
    Ready(bool),
    /// The answer to a [`Query::Http`].
    Http(crate::http::queries::HttpAnswer),
}

/// Per-IP connection counts for `maxClientCnxns`, shared by the accept loops.
pub type ConnCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;
