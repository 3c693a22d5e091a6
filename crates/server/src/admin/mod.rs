//! The admin HTTP server: ZooKeeper's AdminServer commands as JSON under `admin.commandURL`,
//! Prometheus metrics at `/metrics`, and `/ready` / `/health` probes for orchestrators.
//!
//! * [`commands`]: the commands and the JSON they answer (run inside the shell task).
//! * The HTTP server itself, with the REST gateway and the console, is [`crate::http`].
//!
//! The HTTP tasks never touch the core: each request becomes a
//! [`ToShell::Admin`](crate::shell::ToShell::Admin) message and the shell answers it between
//! client inputs, as it does for four-letter words.

pub mod commands;

use std::collections::BTreeMap;

use menagerie_core::Server;

use crate::four_letter::ShellView;
use crate::monitor::{self, Metric};

/// A question for the shell.
#[derive(Debug)]
pub enum Query {
    /// Run an AdminServer command.
    Command {
        /// The name or alias as requested.
        name: String,
        /// Query parameters (first value of each).
        args: BTreeMap<String, String>,
    },
    /// The monitoring numbers (for `/metrics`).
    Metrics,
    /// Whether writes can be made durable (for `/ready`).
    Ready,
    /// A question of the HTTP layer (authorization, console views, snapshot, metrics).
    Http(crate::http::queries::HttpQuery),
}

/// The shell's answer to a [`Query`].
#[derive(Debug)]
pub enum Answer {
    /// A command's JSON object.
    Json(commands::Object),
    /// The monitoring numbers, and the Prometheus-only families
    /// ([`monitor::extra_prometheus`]).
    Metrics(Vec<Metric>, String),
    /// Whether the server is serving (storage works).
    Ready(bool),
    /// The answer to a [`Query::Http`].
    Http(crate::http::queries::HttpAnswer),
}

/// Answers `query` from the core; called by the shell task. `storage_ok` is false once the
/// storage thread has failed.
pub fn answer(query: Query, server: &mut Server, view: &ShellView<'_>, storage_ok: bool) -> Answer {
    match query {
        Query::Command { name, args } => Answer::Json(commands::run(&name, &args, server, view)),
        Query::Metrics => Answer::Metrics(
            monitor::collect(server, view, 0),
            monitor::extra_prometheus(&view.fsync.snapshot(), server.stats()),
        ),
        Query::Ready => Answer::Ready(storage_ok),
        Query::Http(q) => Answer::Http(crate::http::queries::answer(q, server, view)),
    }
}

pub use crate::http::{BindError, Listeners};
