//! What every HTTP handler shares ([`AppState`]) and how the handlers ask the shell task.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::gateway::pool::Pool;
use super::{auth, queries};
use crate::inbox::{Answer, Query, ToShell};

/// How long the shell may take to answer a question.
pub const SHELL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The shell task.
    pub shell: mpsc::Sender<ToShell>,
    /// `admin.commandURL` without a trailing slash.
    pub command_url: Arc<str>,
    /// The gateway's sessions.
    pub gateway: Arc<Pool>,
    /// `snapshot` rate limit (ZooKeeper's `admin.rateLimiterIntervalInMS`).
    pub snapshot_limiter: Arc<auth::RateLimiter>,
    /// `restore` rate limit (the same interval, counted apart, as in ZooKeeper).
    pub restore_limiter: Arc<auth::RateLimiter>,
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

/// How long a large answer (`ops::dumps`) may take: it may wait for its turn behind others
/// and is rendered off the shell task.
pub const LARGE_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Sends `query` to the shell and waits (bounded) for its answer; `None` when the shell
/// does not answer in time or is gone.
pub async fn ask(shell: &mpsc::Sender<ToShell>, query: Query) -> Option<Answer> {
    let bound = if crate::ops::is_large_query(&query) {
        LARGE_ANSWER_TIMEOUT
    } else {
        SHELL_TIMEOUT
    };
    let (reply, rx) = oneshot::channel();
    tokio::time::timeout(bound, async {
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
