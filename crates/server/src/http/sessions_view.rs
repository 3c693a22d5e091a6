//! The console's sessions view (`/api/v1/server/sessions`): every live session with its
//! connection, ephemerals and watches. It grows with the watches, so, like the large
//! operator dumps (`ops::dumps`), the shell only captures what it needs and the JSON is made
//! off the shell task.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use menagerie_core::listing::{EphemeralCopy, WatchCopy};
use menagerie_core::{ConnId, ConnInfo, Node};

use super::queries::SessionInfo;
use crate::ops::redact::masked_session;
use crate::ops::view::ShellView;

/// What the sessions view needs, copied from the core.
#[derive(Debug)]
pub struct SessionsCapture {
    conns: Vec<(ConnInfo, Option<SocketAddr>)>,
    sessions: Vec<menagerie_core::SessionInfo>,
    watches: WatchCopy,
    ephemerals: EphemeralCopy,
}

impl SessionsCapture {
    /// Copies the connections, sessions, data watches and ephemerals.
    pub fn capture(server: &Node, view: &ShellView<'_>) -> SessionsCapture {
        let conns = crate::ops::dumps::connections_with_peers(server, view);
        SessionsCapture {
            conns,
            sessions: server.sessions(),
            watches: server.data_watch_copy(),
            ephemerals: server.ephemeral_copy(),
        }
    }

    /// The view's JSON body: `{"sessions": [...]}`, connected sessions first (in connection
    /// order), then those without a connection (in session order).
    pub fn render(self) -> String {
        let body = serde_json::json!({ "sessions": self.sessions_info() });
        body.to_string()
    }

    fn sessions_info(&self) -> Vec<SessionInfo> {
        let mut watches: BTreeMap<ConnId, Vec<String>> = BTreeMap::new();
        for (path, conn) in self.watches.sorted_pairs() {
            watches.entry(conn).or_default().push(path.to_owned());
        }
        let ephemerals: HashMap<i64, Vec<String>> = self
            .ephemerals
            .iter()
            .map(|(s, paths)| (s, paths.map(str::to_owned).collect()))
            .collect();
        let owned = |id: i64| ephemerals.get(&id).cloned().unwrap_or_default();
        let mut out: Vec<SessionInfo> = self
            .conns
            .iter()
            .filter(|(c, _)| c.session != menagerie_proto::SessionId::NONE)
            .map(|(c, peer)| SessionInfo {
                session_id: masked_session(c.session.0),
                client: peer.map_or_else(|| "unknown".into(), |p| p.to_string()),
                timeout_ms: c.timeout_ms,
                established_ms: c.stats.established_ms,
                last_response_ms: c.stats.last_response_ms,
                requests: c.stats.received,
                ephemerals: owned(c.session.0),
                watches: watches.remove(&c.conn).unwrap_or_default(),
            })
            .collect();
        // Sessions without a connection (their client is reconnecting or gone).
        let connected: HashSet<i64> = self.conns.iter().map(|(c, _)| c.session.0).collect();
        for s in &self.sessions {
            let id = s.id.0;
            if !connected.contains(&id) {
                out.push(SessionInfo {
                    session_id: masked_session(id),
                    client: "unknown".into(),
                    timeout_ms: s.timeout_ms,
                    established_ms: 0,
                    last_response_ms: 0,
                    requests: 0,
                    ephemerals: owned(id),
                    watches: Vec::new(),
                });
            }
        }
        out
    }
}
