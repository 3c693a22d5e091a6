//! The answers that grow with the number of watches, sessions or connections (`cons`,
//! `stat`, `dump`, `wchs`, `wchc`, `wchp` and their admin commands).
//!
//! With a million watches such an answer is tens of megabytes; formatting it on the shell
//! task stalled every client for seconds. So the shell only takes a compact [`Capture`] of
//! what the answer needs (a copy of the watch or ephemeral index, the connection list) and
//! [`Capture::render`] formats it on another thread, into exactly the text or JSON the
//! shell used to produce. The shell lets at most [`MAX_RENDERING`] captures exist at once.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;

use menagerie_core::listing::{EphemeralCopy, WatchCopy};
use menagerie_core::{ConnId, ConnInfo, Node, Now, SessionInfo};
use serde_json::{Map, Value, json};

use super::facts::{op_name, session_of};
use super::redact::masked_session;
use super::view::ShellView;

/// How many large answers may be captured and rendering at once; more wait their turn.
pub const MAX_RENDERING: usize = 1;

/// A JSON object in ZooKeeper's key order.
type Object = Map<String, Value>;

/// Whether four-letter word `word` is answered through a [`Capture`].
pub fn is_large_word(word: &str) -> bool {
    matches!(word, "cons" | "stat" | "dump" | "wchs" | "wchc" | "wchp")
}

/// Whether the admin command `primary` (a primary name) is answered through a [`Capture`].
pub fn is_large_command(primary: &str) -> bool {
    matches!(
        primary,
        "connections" | "stats" | "dump" | "watch_summary" | "watches" | "watches_by_path"
    )
}

/// An answer: ready now, or to be rendered from a [`Capture`] off the shell task.
#[derive(Debug)]
pub enum Reply<T> {
    /// The answer.
    Ready(T),
    /// What the answer needs; [`Capture::render`] gives its text.
    Later(Capture),
}

/// Every connection with its client's address (the shell knows the addresses).
pub(crate) fn connections_with_peers(
    server: &Node,
    view: &ShellView<'_>,
) -> Vec<(ConnInfo, Option<SocketAddr>)> {
    server
        .connections()
        .into_iter()
        .map(|c| {
            let peer = view.peers.get(&c.conn).copied();
            (c, peer)
        })
        .collect()
}

/// The connections as the shell saw them, with their remote addresses.
#[derive(Debug)]
pub struct Clients {
    requester: SocketAddr,
    conns: Vec<(ConnInfo, Option<SocketAddr>)>,
}

impl Clients {
    /// Copies the connection list and their addresses.
    pub fn capture(server: &Node, view: &ShellView<'_>) -> Clients {
        let conns = connections_with_peers(server, view);
        Clients {
            requester: view.requester,
            conns,
        }
    }
}

/// What one large answer needs, copied from the core; [`render`](Capture::render) it
/// anywhere.
#[derive(Debug)]
pub enum Capture {
    /// `cons`.
    Cons(Clients),
    /// `stat`: the text before `Clients:`, the connections, the text after them.
    Stat(String, Clients, String),
    /// `dump` (text) or the `dump` command (`json`).
    Dump {
        /// The clock when captured (expiry times are shown as wall-clock ms).
        now: Now,
        /// Live sessions.
        sessions: Vec<SessionInfo>,
        /// Ephemeral nodes by owner.
        ephemerals: EphemeralCopy,
        /// The admin command rather than the four-letter word.
        json: bool,
    },
    /// `wchs`, `wchc`, `wchp` or their admin commands (named by `name`).
    Watches {
        /// The word or the primary command name.
        name: &'static str,
        /// The data-watch registrations.
        watches: WatchCopy,
        /// The session of each connection.
        sessions: HashMap<ConnId, i64>,
    },
    /// The `connections` command.
    Connections(Clients),
    /// The `stats` command: its object up to the connections, then the connections.
    Stats(Object, Clients),
    /// The console's sessions view (its JSON body).
    Sessions(Box<crate::http::sessions_view::SessionsCapture>),
}

/// Captures what `word` needs (`None` for a word that is not large).
pub fn capture_word(word: &str, server: &Node, view: &ShellView<'_>) -> Option<Capture> {
    let name = match word {
        "cons" => return Some(Capture::Cons(Clients::capture(server, view))),
        "dump" => return Some(capture_dump(server, view, false)),
        "wchs" => "wchs",
        "wchc" => "wchc",
        "wchp" => "wchp",
        _ => return None,
    };
    Some(capture_watches(name, server))
}

/// Captures what the admin command `primary` needs (`None` for a command that is not
/// large; `stats` is captured by [`capture_stats`]).
pub fn capture_command(primary: &str, server: &Node, view: &ShellView<'_>) -> Option<Capture> {
    let name = match primary {
        "connections" => return Some(Capture::Connections(Clients::capture(server, view))),
        "dump" => return Some(capture_dump(server, view, true)),
        "watch_summary" => "watch_summary",
        "watches" => "watches",
        "watches_by_path" => "watches_by_path",
        _ => return None,
    };
    Some(capture_watches(name, server))
}

fn capture_dump(server: &Node, view: &ShellView<'_>, json: bool) -> Capture {
    Capture::Dump {
        now: view.now,
        sessions: server.sessions(),
        ephemerals: server.ephemeral_copy(),
        json,
    }
}

fn capture_watches(name: &'static str, server: &Node) -> Capture {
    Capture::Watches {
        name,
        watches: server.data_watch_copy(),
        sessions: session_of(server),
    }
}

/// A rendered answer.
enum Rendered {
    Text(String),
    Json(Object),
}

impl Capture {
    /// The answer: the four-letter word's text, or the admin command's JSON as the admin
    /// server sends it (pretty-printed, with `command` and `error`, and a final newline).
    pub fn render(self) -> String {
        match self.build() {
            Rendered::Text(text) => text,
            Rendered::Json(o) => to_json_text(&o),
        }
    }

    /// The admin command's JSON object (`None` for a four-letter word's capture).
    pub fn into_object(self) -> Option<Object> {
        match self.build() {
            Rendered::Text(_) => None,
            Rendered::Json(o) => Some(o),
        }
    }

    fn build(self) -> Rendered {
        match self {
            Capture::Cons(clients) => Rendered::Text(cons(&clients)),
            Capture::Stat(head, clients, tail) => {
                let mut s = head;
                s.push_str("Clients:\n");
                s.push_str(&requester_line(clients.requester));
                for (c, peer) in &clients.conns {
                    connection_line(&mut s, c, *peer, true);
                }
                s.push('\n');
                Rendered::Text(s + &tail)
            }
            Capture::Dump {
                now,
                sessions,
                ephemerals,
                json,
            } => {
                if json {
                    finished("dump", dump_json(&sessions, &ephemerals))
                } else {
                    Rendered::Text(dump_text(now, &sessions, &ephemerals))
                }
            }
            Capture::Watches {
                name,
                watches,
                sessions,
            } => render_watches(name, &watches, &sessions),
            Capture::Connections(clients) => {
                let mut o = Object::new();
                o.insert("connections".into(), connections_json(&clients, false));
                o.insert("secure_connections".into(), json!([]));
                finished("connections", o)
            }
            Capture::Stats(mut o, clients) => {
                o.insert("connections".into(), connections_json(&clients, true));
                o.insert("secure_connections".into(), json!([]));
                finished("stats", o)
            }
            Capture::Sessions(capture) => Rendered::Text(capture.render()),
        }
    }
}

/// A command's object with `command` and `error` appended (ZooKeeper's
/// `CommandResponse.toMap`).
fn finished(command: &str, mut o: Object) -> Rendered {
    o.insert("command".into(), command.into());
    o.insert("error".into(), Value::Null);
    Rendered::Json(o)
}

/// The admin server's body for a command's JSON object.
pub fn to_json_text(o: &Object) -> String {
    serde_json::to_string_pretty(o).unwrap_or_else(|_| "{}".into()) + "\n"
}

fn render_watches(name: &str, watches: &WatchCopy, sessions: &HashMap<ConnId, i64>) -> Rendered {
    let session = |c: &ConnId| sessions.get(c).copied().unwrap_or(0);
    match name {
        "wchs" => Rendered::Text(format!(
            "{} connections watching {} paths\nTotal watches:{}\n",
            watches.conn_count(),
            watches.path_count(),
            watches.len()
        )),
        "watch_summary" => {
            let mut o = Object::new();
            o.insert("num_connections".into(), watches.conn_count().into());
            o.insert("num_paths".into(), watches.path_count().into());
            o.insert("num_total_watches".into(), watches.len().into());
            finished(name, o)
        }
        "wchc" | "watches" => {
            let mut by_session: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
            for (p, c) in watches.sorted_pairs() {
                by_session.entry(session(&c)).or_default().push(p);
            }
            if name == "wchc" {
                Rendered::Text(grouped_text(
                    by_session.into_iter().map(|(s, v)| (masked_session(s), v)),
                ))
            } else {
                let m: Object = by_session
                    .into_iter()
                    .map(|(sid, paths)| (masked_session(sid), json!(paths)))
                    .collect();
                finished(name, one("session_id_to_watched_paths", m))
            }
        }
        _ => {
            let mut by_path: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (p, c) in watches.sorted_pairs() {
                by_path
                    .entry(p)
                    .or_default()
                    .push(masked_session(session(&c)));
            }
            if name == "wchp" {
                Rendered::Text(grouped_text(
                    by_path.into_iter().map(|(p, v)| (p.to_owned(), v)),
                ))
            } else {
                let m: Object = by_path
                    .into_iter()
                    .map(|(p, sids)| (p.to_owned(), json!(sids)))
                    .collect();
                finished(name, one("path_to_session_ids", m))
            }
        }
    }
}

/// An object with one key.
fn one(key: &str, m: Object) -> Object {
    let mut o = Object::new();
    o.insert(key.into(), m.into());
    o
}

/// `wchc`/`wchp`: each key on a line, its items below it indented by a tab, then a blank
/// line.
fn grouped_text<I, T>(groups: impl Iterator<Item = (String, I)>) -> String
where
    I: IntoIterator<Item = T>,
    T: std::fmt::Display,
{
    let mut s = String::new();
    for (key, items) in groups {
        let _ = writeln!(s, "{key}");
        for item in items {
            let _ = writeln!(s, "\t{item}");
        }
    }
    s.push('\n');
    s
}

fn cons(clients: &Clients) -> String {
    let mut s = requester_line(clients.requester);
    for (c, peer) in &clients.conns {
        connection_line(&mut s, c, *peer, false);
    }
    s.push('\n');
    s
}

/// The line for the four-letter-word connection itself (no session, nothing queued).
pub fn requester_line(requester: SocketAddr) -> String {
    format!(" /{requester}[0](queued=0,recved=1,sent=0)\n")
}

/// A remote address as ZooKeeper prints it (`unknown` for a connection the shell no
/// longer knows).
fn peer_text(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unknown".to_string(), |p| p.to_string())
}

/// One connection as ZooKeeper's `ServerCnxn.dumpConnectionInfo` prints it.
fn connection_line(s: &mut String, c: &ConnInfo, peer: Option<SocketAddr>, brief: bool) {
    let peer = peer_text(peer);
    let st = &c.stats;
    let _ = write!(
        s,
        " /{peer}[1](queued={},recved={},sent={}",
        c.queued, st.received, st.sent
    );
    if !brief && c.session != menagerie_proto::SessionId::NONE {
        let _ = write!(
            s,
            ",sid={},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={:.0},maxlat={}",
            masked_session(c.session.0),
            op_name(st.last_op),
            st.established_ms,
            c.timeout_ms,
            st.last_cxid,
            st.last_zxid,
            st.last_response_ms,
            st.latency.last,
            st.latency.min,
            st.latency.avg(),
            st.latency.max
        );
    }
    s.push_str(")\n");
}

/// One connection as ZooKeeper's `ServerCnxn.getConnectionInfo(brief)`.
fn connection_json(c: &ConnInfo, peer: Option<SocketAddr>, brief: bool) -> Value {
    let st = &c.stats;
    let mut o = Object::new();
    o.insert("remote_socket_address".into(), peer_text(peer).into());
    o.insert("interest_ops".into(), 1.into());
    o.insert("outstanding_requests".into(), c.queued.into());
    o.insert("packets_received".into(), st.received.into());
    o.insert("packets_sent".into(), st.sent.into());
    if !brief {
        o.insert("session_id".into(), masked_session(c.session.0).into());
        o.insert("last_operation".into(), op_name(st.last_op).into());
        o.insert("established".into(), st.established_ms.into());
        o.insert("session_timeout".into(), c.timeout_ms.into());
        o.insert("last_cxid".into(), st.last_cxid.into());
        o.insert("last_zxid".into(), st.last_zxid.0.into());
        o.insert("last_response_time".into(), st.last_response_ms.into());
        o.insert("last_latency".into(), st.latency.last.into());
        o.insert("min_latency".into(), st.latency.min.into());
        // ZooKeeper's per-connection average is a long (integer division).
        let avg = st.latency.total.checked_div(st.latency.count).unwrap_or(0);
        o.insert("avg_latency".into(), avg.into());
        o.insert("max_latency".into(), st.latency.max.into());
    }
    o.into()
}

fn connections_json(clients: &Clients, brief: bool) -> Value {
    clients
        .conns
        .iter()
        .map(|(c, peer)| connection_json(c, *peer, brief))
        .collect::<Vec<_>>()
        .into()
}

fn dump_text(now: Now, sessions: &[SessionInfo], ephemerals: &EphemeralCopy) -> String {
    let mut s = String::from("SessionTracker dump:\n");
    let mut buckets: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for si in sessions {
        buckets.entry(si.expires_at_ms).or_default().push(si.id.0);
    }
    let _ = writeln!(s, "Session Sets ({})/({}):", buckets.len(), sessions.len());
    for (at, ids) in &buckets {
        // Expiry times are monotonic; show them as wall-clock ms like ZooKeeper's dates.
        let wall = now.wall_ms + (*at as i64 - now.mono_ms as i64);
        let _ = writeln!(s, "{} expire at {}:", ids.len(), wall);
        for id in ids {
            let _ = writeln!(s, "\t{}", masked_session(*id));
        }
    }
    s.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(
        s,
        "Sessions with Ephemerals ({}):",
        ephemerals.owner_count()
    );
    for (id, paths) in ephemerals.iter() {
        let _ = writeln!(s, "{}:", masked_session(id));
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s
}

fn dump_json(sessions: &[SessionInfo], ephemerals: &EphemeralCopy) -> Object {
    let mut buckets: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for si in sessions {
        buckets
            .entry(si.expires_at_ms)
            .or_default()
            .push(masked_session(si.id.0));
    }
    let expiry: Object = buckets
        .into_iter()
        .map(|(at, ids)| (at.to_string(), json!(ids)))
        .collect();
    let owners: Object = ephemerals
        .iter()
        .map(|(id, paths)| (masked_session(id), json!(paths.collect::<Vec<_>>())))
        .collect();
    let mut o = Object::new();
    o.insert("expiry_time_to_session_ids".into(), expiry.into());
    o.insert("session_id_to_ephemeral_paths".into(), owners.into());
    o
}
