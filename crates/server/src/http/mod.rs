//! The admin port's HTTP surface on hyper/axum: ZooKeeper's AdminServer commands, Prometheus
//! metrics and probes (the paths ZooKeeper tools already use), the REST gateway under
//! `/api/v1` and the web console under `/console`; optional TLS with client certificates.
//!
//! * [`listener`]: binding, TLS and port unification, one hyper connection per socket
//!   (HTTP/1.1 with keep-alive and HTTP/2), graceful shutdown.
//! * [`admin_routes`]: `admin.commandURL`, `/metrics`, `/ready`, `/health`.
//! * [`auth`]: who is calling (`Authorization` header, client certificate, peer address)
//!   and the permission rule of each AdminServer command.
//! * [`metrics`]: the Prometheus exposition (prometheus-client).
//! * [`queries`]: the questions the HTTP tasks ask the shell task, and their answers.
//! * [`gateway`]: znodes as REST resources, each caller a ZooKeeper session of its own.
//! * [`guard`]: refusal of cross-site browser requests and DNS rebinding.
//! * [`console`]: the web console's files, compiled into the binary.
//!
//! Nothing here touches the core: every question goes to the shell task as a message
//! ([`crate::shell::ToShell::Admin`], or client inputs of a virtual connection for the
//! gateway) and is answered between client inputs.

pub mod admin_routes;
pub mod auth;
pub mod console;
pub mod gateway;
pub mod guard;
pub mod listener;
pub mod metrics;
pub mod queries;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use listener::{BindError, Listeners};

use crate::admin::{Answer, Query};
use crate::shell::ToShell;

/// How long the shell may take to answer a question.
pub const SHELL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the transport knows about the caller of one request (set per connection).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The TCP peer address (never taken from `X-Forwarded-For` or similar headers).
    pub addr: SocketAddr,
    /// The subject of the verified TLS client certificate, if any.
    pub x509: Option<String>,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The shell task.
    pub shell: mpsc::Sender<ToShell>,
    /// `admin.commandURL` without a trailing slash.
    pub command_url: Arc<str>,
    /// The gateway's sessions.
    pub gateway: Arc<gateway::Pool>,
    /// `snapshot` rate limit (ZooKeeper's `admin.rateLimiterIntervalInMS`).
    pub snapshot_limiter: Arc<auth::RateLimiter>,
    /// The listener is bound to a loopback address (see [`guard`]).
    pub loopback_only: bool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("command_url", &self.command_url)
            .finish_non_exhaustive()
    }
}

/// Sends `query` to the shell and waits (bounded) for its answer; `None` when the shell
/// does not answer in time or is gone.
pub async fn ask(shell: &mpsc::Sender<ToShell>, query: Query) -> Option<Answer> {
    let (reply, rx) = oneshot::channel();
    tokio::time::timeout(SHELL_TIMEOUT, async {
        shell.send(ToShell::Admin { query, reply }).await.ok()?;
        rx.await.ok()
    })
    .await
    .ok()
    .flatten()
}

/// Asks the shell one of the HTTP layer's own questions.
pub async fn ask_http(
    shell: &mpsc::Sender<ToShell>,
    query: queries::HttpQuery,
) -> Option<queries::HttpAnswer> {
    match ask(shell, Query::Http(query)).await {
        Some(Answer::Http(a)) => Some(a),
        _ => None,
    }
}
