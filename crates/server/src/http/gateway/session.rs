//! One gateway session: a virtual connection into the core (no socket), registered with the
//! shell like a client connection, whose outputs come back unencoded.
//!
//! It is opened as a native client would open it: `Connect` with the HTTP caller's IP as
//! the connection's `ip` identity, then the transport's `x509` identity (a verified TLS
//! client certificate), then `addauth digest` for a digest credential. Every request is an
//! ordinary `Input::Request`, so ACLs, quotas and `enforce.auth` decide exactly as for a
//! client on the client port. Replies are matched to requests by xid; watch events are
//! broadcast to the HTTP requests waiting for them. The session pings while it lives and is
//! closed (closeSession, then the connection dropped) when the pool retires it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use menagerie_core::{ConnId, Input, Output};
use menagerie_proto::error_code::ErrorCode;
use menagerie_proto::records::{AuthPacket, ConnectRequest, Id, ReplyHeader};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::inbox::ToShell;

/// Session timeout the gateway asks for (the server's min/max bound it).
pub const SESSION_TIMEOUT_MS: i32 = 30_000;
/// How long one request may wait for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Outputs buffered for one session before the shell counts it as not reading.
const OUTBOX_CAPACITY: usize = 8192;
/// Watch events buffered per subscriber before it misses some.
const EVENT_CAPACITY: usize = 1024;

/// Who a session acts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The caller's IP address (its `ip` identity).
    pub ip: String,
    /// `user:password` of a digest credential.
    pub digest: Option<String>,
    /// Subject of a verified TLS client certificate.
    pub x509: Option<String>,
}

/// A watch event as the session received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// ZooKeeper's event type number.
    pub event_type: i32,
    /// The node.
    pub path: String,
    /// zxid of the txn that fired it.
    pub zxid: i64,
}

/// Why a gateway call failed (other than with a ZooKeeper error code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The server refused or closed the session (shutting down, read-only, expired).
    #[error("the ZooKeeper session is closed")]
    Closed,
    /// No reply in time.
    #[error("no reply from the server within {0:?}")]
    Timeout(Duration),
    /// The digest credential was refused.
    #[error("authentication failed")]
    AuthFailed,
}

/// A reply: its header (zxid, error code) and body.
pub type Reply = (ReplyHeader, Response);

/// A live gateway session.
#[derive(Debug)]
pub struct Session {
    conn: ConnId,
    shell: mpsc::Sender<ToShell>,
    session_id: std::sync::atomic::AtomicI64,
    next_xid: AtomicI32,
    pending: Mutex<HashMap<i32, oneshot::Sender<Reply>>>,
    events: broadcast::Sender<WatchEvent>,
    dead: AtomicBool,
    busy: AtomicUsize,
    last_used: Mutex<Instant>,
    /// Event streams open per persistent watch (path, mode).
    persistent: Mutex<HashMap<(String, i32), usize>>,
}

impl Session {
    /// Opens a session for `who` from `peer`.
    pub async fn open(
        shell: mpsc::Sender<ToShell>,
        who: &Principal,
        peer: SocketAddr,
    ) -> Result<std::sync::Arc<Session>, SessionError> {
        let conn = crate::conn::next_conn_id();
        let (tx, rx) = crate::outbox::virtual_outbox(OUTBOX_CAPACITY);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let session = std::sync::Arc::new(Session {
            conn,
            shell: shell.clone(),
            session_id: 0.into(),
            next_xid: AtomicI32::new(1),
            pending: Mutex::new(HashMap::new()),
            events,
            dead: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
            persistent: Mutex::new(HashMap::new()),
        });
        let (connected_tx, connected) = oneshot::channel();
        tokio::spawn(pump(std::sync::Arc::clone(&session), rx, connected_tx));
        let send = |input| shell.send(ToShell::Input(input));
        let registered = shell
            .send(ToShell::Register { conn, tx, peer })
            .await
            .is_ok();
        let req = ConnectRequest {
            timeout: SESSION_TIMEOUT_MS,
            ..ConnectRequest::default()
        };
        let peer_ip = who.ip.clone();
        if !registered || send(Input::Connect { conn, peer_ip, req }).await.is_err() {
            return Err(SessionError::Closed);
        }
        if let Some(subject) = &who.x509 {
            let id = Id {
                scheme: "x509".into(),
                id: subject.clone(),
            };
            let _ = send(Input::Identity { conn, id }).await;
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, connected).await {
            Ok(Ok(id)) if id != 0 => session.session_id.store(id, Ordering::Relaxed),
            Ok(_) => {
                // Refused (read-only server, shutting down): forget the connection.
                session.close().await;
                return Err(SessionError::Closed);
            }
            Err(_) => {
                session.close().await;
                return Err(SessionError::Timeout(REQUEST_TIMEOUT));
            }
        }
        if let Some(user_password) = &who.digest {
            let auth = Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Some(user_password.as_bytes().to_vec()),
            });
            match session.call(auth).await {
                Ok((h, _)) if h.err == 0 => {}
                _ => {
                    session.close().await;
                    return Err(SessionError::AuthFailed);
                }
            }
        }
        Ok(session)
    }

    /// The session id.
    pub fn id(&self) -> i64 {
        self.session_id.load(Ordering::Relaxed)
    }

    /// Whether the server closed the session.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
    }

    /// Whether a request or a watch of it is in progress.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }

    /// Time since it was last used.
    pub fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }

    /// Marks the session in use until the guard is dropped (long polls, event streams).
    pub fn hold(self: &std::sync::Arc<Self>) -> Hold {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Hold(std::sync::Arc::clone(self))
    }

    /// Sends a request and waits for its reply.
    pub async fn call(&self, req: Request) -> Result<Reply, SessionError> {
        if self.is_dead() {
            return Err(SessionError::Closed);
        }
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.touch();
        let r = self.call_inner(req).await;
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.touch();
        r
    }

    async fn call_inner(&self, req: Request) -> Result<Reply, SessionError> {
        let xid = self.next_xid.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(xid, tx);
        }
        let input = Input::Request {
            conn: self.conn,
            xid,
            op: req.op().code(),
            req: Ok(req),
        };
        if self.shell.send(ToShell::Input(input)).await.is_err() {
            return Err(SessionError::Closed);
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(SessionError::Closed),
            Err(_) => {
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(&xid);
                }
                Err(SessionError::Timeout(REQUEST_TIMEOUT))
            }
        }
    }

    /// A stream of the session's watch events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    /// Counts one more event stream on the persistent watch (`path`, `mode`).
    pub fn acquire_persistent(&self, path: &str, mode: i32) {
        if let Ok(mut m) = self.persistent.lock() {
            *m.entry((path.to_owned(), mode)).or_insert(0) += 1;
        }
    }

    /// Counts one stream less; true when it was the last (the watch can be removed).
    pub fn release_persistent(&self, path: &str, mode: i32) -> bool {
        let Ok(mut m) = self.persistent.lock() else {
            return false;
        };
        let key = (path.to_owned(), mode);
        match m.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                m.remove(&key);
                true
            }
            None => false,
        }
    }

    /// Keeps the session alive (a ping; its reply is not awaited).
    pub async fn ping(&self) {
        let input = Input::Request {
            conn: self.conn,
            xid: -2,
            op: menagerie_proto::opcode::OpCode::Ping.code(),
            req: Ok(Request::Ping),
        };
        let _ = self.shell.send(ToShell::Input(input)).await;
    }

    /// Closes the session (closeSession, then the virtual connection is dropped).
    pub async fn close(&self) {
        if !self.is_dead() {
            let _ = tokio::time::timeout(Duration::from_secs(5), self.call(Request::CloseSession))
                .await;
        }
        self.dead.store(true, Ordering::Relaxed);
        let input = Input::Disconnected { conn: self.conn };
        let _ = self.shell.send(ToShell::Input(input)).await;
    }

    fn fail_pending(&self) {
        self.dead.store(true, Ordering::Relaxed);
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
    }
}

/// Keeps a session busy while alive (see [`Session::hold`]).
#[derive(Debug)]
pub struct Hold(std::sync::Arc<Session>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Routes the session's outputs: the handshake, replies by xid, events to subscribers.
async fn pump(
    session: std::sync::Arc<Session>,
    mut rx: mpsc::Receiver<Output>,
    connected: oneshot::Sender<i64>,
) {
    let mut connected = Some(connected);
    while let Some(o) = rx.recv().await {
        match o {
            Output::Connected { resp, .. } => {
                if let Some(tx) = connected.take() {
                    let _ = tx.send(if resp.timeout > 0 { resp.session_id } else { 0 });
                }
            }
            Output::Reply { header, body, .. } => {
                let waiter = session
                    .pending
                    .lock()
                    .ok()
                    .and_then(|mut p| p.remove(&header.xid));
                if let Some(tx) = waiter {
                    let _ = tx.send((header, body));
                }
            }
            Output::Notify { zxid, event, .. } => {
                let _ = session.events.send(WatchEvent {
                    event_type: event.event_type,
                    path: event.path,
                    zxid: zxid.0,
                });
            }
            Output::Close { .. } => break,
            // Outputs for the storage or the ensemble never name a connection.
            _ => {}
        }
    }
    session.fail_pending();
    if let Some(tx) = connected.take() {
        let _ = tx.send(0);
    }
}

/// ZooKeeper's name of an error code (`NoNode`, `NoAuth`, ...).
pub fn error_name(code: i32) -> String {
    ErrorCode::from_code(code).map_or_else(|| format!("Error{code}"), |c| format!("{c:?}"))
}
