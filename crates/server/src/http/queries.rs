//! Questions the HTTP layer asks the shell task, answered from the core between client
//! inputs (so every answer is a consistent view), and the answers.

use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::Arc;

use menagerie_core::Node;
use menagerie_core::auth::{check_acl, digest_auth};
use menagerie_proto::records::Id;
use serde::Serialize;

use super::auth::Credential;
use crate::ops::view::ShellView;

/// A question for the shell.
#[derive(Debug)]
pub enum HttpQuery {
    /// Whether `credential` has `perm` on `path` (ZooKeeper's admin command authorization).
    Authorize {
        /// Who.
        credential: Credential,
        /// Permission bits (ZooKeeper's `Perms`).
        perm: i32,
        /// The node whose ACL decides.
        path: String,
    },
    /// The largest znodes by data size.
    Largest {
        /// How many.
        limit: usize,
    },
    /// Live sessions with their connections, ephemerals and watches.
    Sessions,
    /// Write a snapshot of the tree now (ZooKeeper 3.9's `snapshot` command).
    Snapshot,
    /// The numbers of a `/metrics` scrape.
    Metrics,
    /// Where the transaction log is (for the change history, read off the shell task).
    LogDir,
    /// Whether `restore` may run, and how to read the snapshot (asked before the upload).
    RestorePlan,
    /// Replace the state with this checked snapshot (ZooKeeper 3.9's `restore`).
    Restore(Box<menagerie_host::restore::CheckedSnapshot>),
}

/// The shell's answer.
#[derive(Debug)]
pub enum HttpAnswer {
    /// To [`HttpQuery::Authorize`].
    Authorized(Result<(), Denied>),
    /// To [`HttpQuery::Largest`], with `jute.maxbuffer`.
    Largest(Vec<NodeSize>, usize),
    /// To [`HttpQuery::Sessions`]: the JSON body (see [`super::sessions_view`]).
    Sessions(String),
    /// To [`HttpQuery::Snapshot`]: the file written and its zxid, or why not.
    Snapshot(Result<(PathBuf, i64), String>),
    /// To [`HttpQuery::Metrics`].
    Metrics(Box<super::metrics::Scrape>),
    /// To [`HttpQuery::LogDir`]: the data directories.
    LogDir(menagerie_storage::DataDirs),
    /// To [`HttpQuery::RestorePlan`]: where to put the upload and how to read it, or why
    /// `restore` is refused here (HTTP status, message).
    RestorePlan(Result<RestorePlan, (u16, String)>),
    /// To [`HttpQuery::Restore`]: the new last zxid, or why nothing changed.
    Restored(Result<i64, String>),
}

/// How the admin server reads an uploaded snapshot for `restore`.
#[derive(Debug)]
pub struct RestorePlan {
    /// The data directories (the upload is kept in the snapshot directory while checked).
    pub dirs: menagerie_storage::DataDirs,
    /// `zookeeper.extendedTypesEnabled`: how the tree reads ephemeral owners.
    pub extended_types: bool,
}

/// Why an authorization failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The identities lack the permission.
    NoAuth,
    /// The node does not exist.
    NoNode,
}

/// One znode and its data size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct NodeSize {
    /// Data length in bytes.
    pub bytes: usize,
    /// The node.
    pub path: String,
}

/// What the console shows of a live session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// Session id in hex (`0x...`), as ZooKeeper prints it.
    pub session_id: String,
    /// Client address (`unknown` when not connected).
    pub client: String,
    /// Negotiated timeout, ms.
    pub timeout_ms: i32,
    /// Wall-clock ms of the connection's establishment.
    pub established_ms: i64,
    /// Wall-clock ms of the last reply to it.
    pub last_response_ms: i64,
    /// Requests received on the connection.
    pub requests: u64,
    /// Its ephemeral nodes.
    pub ephemerals: Vec<String>,
    /// Paths with a data watch of the connection.
    pub watches: Vec<String>,
}

/// Answers `q`; called by the shell task.
pub fn answer(q: HttpQuery, server: &Node, view: &ShellView<'_>) -> HttpAnswer {
    match q {
        HttpQuery::Authorize {
            credential,
            perm,
            path,
        } => HttpAnswer::Authorized(authorize(server, view, &credential, perm, &path)),
        HttpQuery::Largest { limit } => {
            HttpAnswer::Largest(largest(server, limit), view.config.max_buffer)
        }
        HttpQuery::Sessions => HttpAnswer::Sessions(
            super::sessions_view::SessionsCapture::capture(server, view).render(),
        ),
        HttpQuery::Snapshot => HttpAnswer::Snapshot(snapshot(server, view)),
        HttpQuery::LogDir => HttpAnswer::LogDir(data_dirs(view)),
        HttpQuery::RestorePlan => HttpAnswer::RestorePlan(restore_plan(view)),
        // The shell itself replaces its state (`shell::restore`).
        HttpQuery::Restore(_) => HttpAnswer::Restored(Err("not answered by the shell".into())),
        HttpQuery::Metrics => HttpAnswer::Metrics(Box::new(super::metrics::Scrape {
            metrics: crate::ops::monitor::collect(server, view, 0),
            fsync: view.fsync.snapshot(),
            stats: server.stats().clone(),
        })),
    }
}

/// The identities a credential gives, as the matching ZooKeeper provider adds them.
pub fn identities(credential: &Credential, view: &ShellView<'_>) -> Vec<Id> {
    let auth = &view.config.auth;
    match credential {
        Credential::Digest(user_password) => digest_auth(user_password, auth),
        Credential::Ip(ip) => vec![Id {
            scheme: "ip".into(),
            id: ip.clone(),
        }],
        Credential::X509(subject) => {
            let mut ids = vec![Id {
                scheme: "x509".into(),
                id: subject.clone(),
            }];
            if auth.x509_super_user.as_deref() == Some(subject.as_str()) {
                ids.push(Id {
                    scheme: "super".into(),
                    id: subject.clone(),
                });
            }
            ids
        }
    }
}

fn authorize(
    server: &Node,
    view: &ShellView<'_>,
    credential: &Credential,
    perm: i32,
    path: &str,
) -> Result<(), Denied> {
    let tree = server.tree();
    let node = tree.get(path).ok_or(Denied::NoNode)?;
    let ids = identities(credential, view);
    let acl = tree.acl(node);
    // ZooKeeper checks each bit of `perm` on its own.
    for bit in (0..5).map(|b| 1 << b).filter(|b| perm & b != 0) {
        if !check_acl(acl, bit, &ids, view.config.auth.skip_acl) {
            return Err(Denied::NoAuth);
        }
    }
    Ok(())
}

/// The `limit` largest nodes (one pass, a bounded heap).
fn largest(server: &Node, limit: usize) -> Vec<NodeSize> {
    let limit = limit.clamp(1, 1000);
    let mut heap: BinaryHeap<std::cmp::Reverse<(usize, Arc<str>)>> = BinaryHeap::new();
    server.tree().for_each_preorder(|n| {
        let bytes = n.data_len();
        if heap.len() < limit {
            heap.push(std::cmp::Reverse((bytes, Arc::from(n.path()))));
        } else if heap.peek().is_some_and(|m| m.0.0 < bytes) {
            heap.pop();
            heap.push(std::cmp::Reverse((bytes, Arc::from(n.path()))));
        }
    });
    let mut v: Vec<NodeSize> = heap
        .into_iter()
        .map(|std::cmp::Reverse((bytes, path))| NodeSize {
            bytes,
            path: path.to_string(),
        })
        .collect();
    v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    v
}

/// Writes a snapshot into the data directory as of the last applied zxid (exact, not
/// fuzzy: written from the core's own task).
fn snapshot(server: &Node, view: &ShellView<'_>) -> Result<(PathBuf, i64), String> {
    let dirs = data_dirs(view);
    let zxid = server.last_processed_zxid().0;
    menagerie_host::snapshot::take_snapshot(&dirs, server.replica())
        .map(|path| (path, zxid))
        .map_err(|e| e.to_string())
}

/// Whether `restore` runs here: ZooKeeper's `zookeeper.admin.restore.enabled` (503 when
/// off), standalone servers only.
fn restore_plan(view: &ShellView<'_>) -> Result<RestorePlan, (u16, String)> {
    if !view.config.admin.restore_enabled {
        return Err((
            503,
            "restore is disabled (admin.restore.enabled=false)".into(),
        ));
    }
    if view.config.quorum.is_some() {
        return Err((
            500,
            "restore is supported on a standalone server only".into(),
        ));
    }
    Ok(RestorePlan {
        dirs: data_dirs(view),
        extended_types: view.config.extended_types,
    })
}

fn data_dirs(view: &ShellView<'_>) -> menagerie_storage::DataDirs {
    menagerie_storage::DataDirs::new(
        Arc::new(menagerie_storage::StdFs),
        &view.config.data_dir,
        Some(&view.config.data_log_dir),
    )
}
