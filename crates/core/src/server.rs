//! [`Server`]: the standalone ZooKeeper server as a deterministic state machine.
//!
//! `handle(now, input, &mut outputs)` is the only entry point. Writes follow the path the
//! replicated ensemble will use: prep (validate, assign the zxid, build the txn) ->
//! `Output::Persist` -> `Input::Persisted` -> apply -> watch notifications -> reply.
//! Replies leave in request order per connection: a read that arrives while an earlier
//! write of the same connection is in flight waits for it (ZooKeeper's per-session FIFO).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use menagerie_proto::ErrorCode;
use menagerie_proto::digest::DIGEST_VERSION;
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{
    ClientInfo, ConnectRequest, ConnectResponse, Id, ReplyHeader, WatcherEvent, perms,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response};
use menagerie_proto::session::{PASSWORD_LEN, session_password};
use menagerie_proto::txn::{CreateSessionTxn, ErrorTxn, TxnDigest, TxnHeader};

use crate::apply::{Change, Outcome, ReadAcl, apply};
use crate::auth::{AuthConfig, check_acl, digest_auth, passes_enforcement, user_name};
use crate::digest_log::{DigestLog, ZxidDigest};
use crate::io::{BadRequest, ConnId, Input, Now, Output};
use crate::path;
use crate::prep::{Pending, PrepContext};
use crate::reaper::{self, ReaperConfig};
use crate::session::{SessionTracker, initial_session_id};
use crate::tree::DataTree;
use crate::txn::{LoggedTxn, TxnBody};
use crate::watch::{EventType, Table, WatchManager, WatcherType};

/// xid of pings.
const PING_XID: i32 = -2;
/// State value of every server-sent event: SyncConnected.
const SYNC_CONNECTED: i32 = 3;

/// Settings of the core (a subset of zoo.cfg, already validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// This server's id (1 for a standalone server, as ZooKeeper uses).
    pub server_id: u8,
    /// `tickTime`, ms.
    pub tick_ms: u64,
    /// `minSessionTimeout`, ms.
    pub min_session_timeout_ms: i32,
    /// `maxSessionTimeout`, ms.
    pub max_session_timeout_ms: i32,
    /// `zookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
    /// Seed for internal hash tables (never observable in outputs).
    pub hash_seed: u64,
    /// Container and TTL reaping.
    pub reaper: ReaperConfig,
    /// Super digest, skipACL, enforce.auth.
    pub auth: AuthConfig,
    /// `zookeeper.enforceQuota`: hard quota limits refuse writes.
    pub enforce_quota: bool,
    /// `zookeeper.digest.enabled`: log the tree digest with every txn and check it.
    pub digest_enabled: bool,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            server_id: 1,
            tick_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 60000,
            extended_types: false,
            hash_seed: 0,
            reaper: ReaperConfig::default(),
            auth: AuthConfig::default(),
            enforce_quota: false,
            digest_enabled: true,
        }
    }
}

/// One entry of a connection's reply queue.
#[derive(Debug)]
enum Slot {
    /// A write in flight; its reply comes when this zxid is applied.
    Write(i64),
    /// A read (or other in-order request) waiting behind earlier writes.
    Read {
        xid: i32,
        req: Request,
        received_ms: u64,
    },
    /// An error reply (an undecodable read) waiting behind earlier writes.
    Error {
        xid: i32,
        err: ErrorCode,
        received_ms: u64,
    },
}

#[derive(Debug)]
struct Conn {
    /// 0 until the session is established.
    session: i64,
    established: bool,
    ids: Vec<Id>,
    /// DIGEST-MD5 exchange: None before, Some(nonce) after the challenge, Some("") done.
    sasl: Option<String>,
    queue: VecDeque<Slot>,
    /// Requests received before the session was established.
    early: VecDeque<(i32, i32, Result<Request, BadRequest>)>,
    stats: ConnStats,
}

/// Per-connection counters (what `cons` and `stat` show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Requests received.
    pub received: u64,
    /// Replies and notifications sent.
    pub sent: u64,
    /// Wall-clock time the connection was established, ms.
    pub established_ms: i64,
    /// Last operation answered.
    pub last_op: Option<OpCode>,
    /// xid of the last request answered.
    pub last_cxid: i32,
    /// zxid in the last reply.
    pub last_zxid: i64,
    /// Wall-clock time of the last reply, ms.
    pub last_response_ms: i64,
    /// Request latency, ms.
    pub latency: Latency,
}

/// Request latency summary in ms (min/avg/max as ZooKeeper reports them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    /// Smallest.
    pub min: u64,
    /// Largest.
    pub max: u64,
    /// Sum.
    pub total: u64,
    /// Count.
    pub count: u64,
    /// Latest.
    pub last: u64,
}

impl Latency {
    fn add(&mut self, ms: u64) {
        self.min = if self.count == 0 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        self.total += ms;
        self.count += 1;
        self.last = ms;
    }

    /// Average, 0 when nothing was measured.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

/// What the operations surface can see of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The connection.
    pub conn: ConnId,
    /// Its session (0 before the handshake completed).
    pub session: i64,
    /// Negotiated timeout of the session, ms.
    pub timeout_ms: i32,
    /// Replies still owed (writes in flight and reads queued behind them).
    pub queued: usize,
    /// Counters.
    pub stats: ConnStats,
}

/// Who waits for a txn.
#[derive(Debug)]
enum Origin {
    Request {
        conn: ConnId,
        xid: i32,
        received_ms: u64,
    },
    NewSession {
        conn: ConnId,
        timeout: i32,
        read_only: Option<bool>,
    },
    Internal,
}

#[derive(Debug)]
struct Proposal {
    txn: Arc<LoggedTxn>,
    origin: Origin,
}

/// Counters for the operations surface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests received.
    pub packets_received: u64,
    /// Replies and notifications sent.
    pub packets_sent: u64,
    /// Request latency.
    pub latency: Latency,
    /// Latency of reads (and other requests answered without a txn), by bucket.
    pub read_latency: LatencyHistogram,
    /// Latency of writes (from receipt to the reply after apply), by bucket.
    pub update_latency: LatencyHistogram,
}

/// Upper bounds (ms, inclusive) of the [`LatencyHistogram`] buckets; one more bucket holds
/// everything slower.
pub const LATENCY_BUCKET_BOUNDS_MS: [u64; 12] =
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/// Request latencies counted by bucket (for Prometheus histograms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// `buckets[i]`: requests that took at most `LATENCY_BUCKET_BOUNDS_MS[i]` ms and more than
    /// the previous bound; the last one, those slower than every bound. Not cumulative.
    pub buckets: [u64; LATENCY_BUCKET_BOUNDS_MS.len() + 1],
    /// Requests counted.
    pub count: u64,
    /// Their total latency, ms.
    pub sum_ms: u64,
}

impl LatencyHistogram {
    fn add(&mut self, ms: u64) {
        let i = LATENCY_BUCKET_BOUNDS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(LATENCY_BUCKET_BOUNDS_MS.len());
        self.buckets[i] += 1;
        self.count += 1;
        self.sum_ms += ms;
    }
}

/// The standalone server core.
#[derive(Debug)]
pub struct Server {
    config: CoreConfig,
    tree: DataTree,
    pending: Pending,
    sessions: SessionTracker,
    watches: WatchManager,
    /// Storage failed: reads only ([`Input::StorageFailed`]).
    read_only: bool,
    conns: BTreeMap<ConnId, Conn>,
    /// Session -> its connection on this server.
    session_conn: BTreeMap<i64, ConnId>,
    proposals: VecDeque<Proposal>,
    last_zxid: i64,
    last_processed_zxid: i64,
    stats: Stats,
    /// Tree digest checks and history.
    digests: DigestLog,
    /// Monotonic time of the next container/TTL check.
    next_reap_ms: u64,
    /// Counter mixed into SASL nonces.
    sasl_serial: u64,
}

impl Server {
    /// A server with an empty tree. The wall clock in `now` provides the clock bits of session
    /// ids (ZooKeeper uses an arbitrary-origin millisecond clock; the wall clock keeps ids of
    /// successive runs apart).
    pub fn new(config: CoreConfig, now: Now) -> Server {
        let first = initial_session_id(config.server_id, now.wall_ms as u64);
        let next_reap_ms = now.mono_ms + config.reaper.check_interval_ms.max(1);
        Server {
            tree: DataTree::new(config.extended_types, config.hash_seed),
            sessions: SessionTracker::new(first, config.tick_ms),
            watches: WatchManager::new(config.hash_seed),
            read_only: false,
            digests: DigestLog::new(config.digest_enabled),
            config,
            pending: Pending::default(),
            conns: BTreeMap::new(),
            session_conn: BTreeMap::new(),
            proposals: VecDeque::new(),
            last_zxid: 0,
            last_processed_zxid: 0,
            stats: Stats::default(),
            next_reap_ms,
            sasl_serial: 0,
        }
    }

    /// Recovery: the tree to load a snapshot into (before any client is served).
    pub fn tree_mut(&mut self) -> &mut DataTree {
        &mut self.tree
    }

    /// Recovery: re-tracks a session found in a snapshot; it expires `timeout_ms` from `now`
    /// unless its client comes back, as in ZooKeeper after a restart.
    pub fn restore_session(&mut self, now: Now, session: i64, timeout_ms: i32) {
        self.sessions.add(session, timeout_ms, now.mono_ms);
    }

    /// Recovery: marks everything up to `zxid` as applied (the snapshot's zxid).
    pub fn restore_zxid(&mut self, zxid: i64) {
        self.last_processed_zxid = self.last_processed_zxid.max(zxid);
        self.last_zxid = self.last_zxid.max(zxid);
    }

    /// Recovery: a snapshot named `snapshot_zxid` carrying `digest` was loaded into the tree
    /// (call after [`restore_zxid`](Self::restore_zxid), before replaying the log).
    pub fn snapshot_digest(&mut self, snapshot_zxid: i64, digest: Option<ZxidDigest>) {
        self.digests
            .snapshot_loaded(snapshot_zxid, digest, self.tree.digest());
    }

    /// Recovery: the log has been replayed.
    pub fn recovery_done(&mut self) {
        self.digests.recovery_done(self.last_processed_zxid);
    }

    /// Tree digest checks and history (the `hash` command, `digest_mismatches_count`, the
    /// digest a snapshot stores).
    pub fn digest_log(&self) -> &DigestLog {
        &self.digests
    }

    /// Recovery: applies a txn read from the log, without replies or notifications. Txns at
    /// or below the applied zxid are still applied (fuzzy snapshots depend on replay being
    /// harmless); sessions are created and closed as the txns say.
    pub fn replay(&mut self, now: Now, txn: &LoggedTxn) {
        let mut changes = Vec::new();
        apply(&mut self.tree, &txn.header, &txn.body, &mut changes);
        self.digests
            .applied(txn.zxid(), txn.digest.as_ref(), self.tree.digest());
        match &txn.body {
            TxnBody::CreateSession(t) => {
                self.sessions
                    .add(txn.header.client_id, t.timeout, now.mono_ms)
            }
            TxnBody::CloseSession(_) => {
                self.sessions.remove(txn.header.client_id);
            }
            _ => {}
        }
        self.restore_zxid(txn.zxid());
    }

    /// The data tree.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// Highest applied zxid.
    pub fn last_processed_zxid(&self) -> i64 {
        self.last_processed_zxid
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of watch registrations.
    pub fn watch_count(&self) -> usize {
        self.watches.count()
    }

    /// Traffic counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The earliest time at which `Input::Tick` has work to do.
    pub fn next_deadline(&self) -> Option<u64> {
        Some(
            self.sessions
                .next_expiry()
                .map_or(self.next_reap_ms, |e| e.min(self.next_reap_ms)),
        )
    }

    /// Processes one input, appending the resulting actions to `out`.
    pub fn handle(&mut self, now: Now, input: Input, out: &mut Vec<Output>) {
        let first_new = out.len();
        match input {
            Input::Connect { conn, peer_ip, req } => self.connect(now, conn, peer_ip, req, out),
            Input::Request { conn, xid, op, req } => {
                self.stats.packets_received += 1;
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.stats.received += 1;
                }
                self.request(now, conn, xid, op, req, out)
            }
            Input::Disconnected { conn } => self.disconnected(conn),
            Input::Identity { conn, id } => self.add_identity(conn, id),
            Input::Persisted { up_to } => self.persisted(now, up_to, out),
            Input::Tick => self.tick(now, out),
            Input::StorageFailed => self.storage_failed(out),
        }
        for o in &out[first_new..] {
            if let Output::Reply { conn, .. } | Output::Notify { conn, .. } = o {
                self.stats.packets_sent += 1;
                if let Some(c) = self.conns.get_mut(conn) {
                    c.stats.sent += 1;
                }
            }
        }
    }

    /// Records an answered request for the statistics.
    fn record(
        &mut self,
        now: Now,
        conn: ConnId,
        op: OpCode,
        xid: i32,
        latency_ms: u64,
        write: bool,
    ) {
        self.stats.latency.add(latency_ms);
        if write {
            self.stats.update_latency.add(latency_ms);
        } else {
            self.stats.read_latency.add(latency_ms);
        }
        let zxid = self.last_processed_zxid;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.latency.add(latency_ms);
            c.stats.last_op = Some(op);
            c.stats.last_cxid = xid;
            c.stats.last_zxid = zxid;
            c.stats.last_response_ms = now.wall_ms;
        }
    }

    /// Every connection, in id order.
    pub fn connections(&self) -> Vec<ConnInfo> {
        self.conns
            .iter()
            .map(|(id, c)| ConnInfo {
                conn: *id,
                session: c.session,
                timeout_ms: self.sessions.get(c.session).map_or(0, |s| s.timeout_ms),
                queued: c.queue.len(),
                stats: c.stats.clone(),
            })
            .collect()
    }

    /// Resets the server-wide counters (`srst`).
    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// Resets every connection's counters (`crst`).
    pub fn reset_connection_stats(&mut self) {
        for c in self.conns.values_mut() {
            c.stats = ConnStats {
                established_ms: c.stats.established_ms,
                ..ConnStats::default()
            };
        }
    }

    /// Writes proposed and not yet applied.
    pub fn outstanding(&self) -> usize {
        self.proposals.len()
    }

    /// Live sessions with their timeouts and expiry bucket times (monotonic ms).
    pub fn sessions(&self) -> Vec<(i64, i32, u64)> {
        self.sessions
            .iter()
            .map(|(id, s)| (id, s.timeout_ms, s.expires_at))
            .collect()
    }

    /// Data-watch registrations as (path, connection) pairs, sorted.
    pub fn data_watches(&self) -> Vec<(String, ConnId)> {
        self.watches.data_watches()
    }

    fn reply(&self, conn: ConnId, xid: i32, err: ErrorCode, body: Response, out: &mut Vec<Output>) {
        out.push(Output::Reply {
            conn,
            header: ReplyHeader {
                xid,
                zxid: self.last_processed_zxid,
                err: err.code(),
            },
            body,
        });
    }

    // ---- connections and sessions -------------------------------------------------------

    fn connect(
        &mut self,
        now: Now,
        conn: ConnId,
        peer_ip: String,
        req: ConnectRequest,
        out: &mut Vec<Output>,
    ) {
        // A new session needs a durable createSession txn: not while storage is failed.
        if self.read_only && req.session_id == 0 {
            tracing::warn!(conn = conn.0, "refusing a new session: storage has failed");
            out.push(Output::Close { conn });
            return;
        }
        // "Client has seen a newer zxid than we have": it must try another server.
        if req.last_zxid_seen > self.last_processed_zxid {
            tracing::info!(
                conn = conn.0,
                client_zxid = req.last_zxid_seen,
                server_zxid = self.last_processed_zxid,
                "refusing client that has seen a newer zxid"
            );
            out.push(Output::Close { conn });
            return;
        }
        let timeout = req.timeout.clamp(
            self.config.min_session_timeout_ms,
            self.config.max_session_timeout_ms,
        );
        self.conns.insert(
            conn,
            Conn {
                session: 0,
                established: false,
                ids: vec![Id {
                    scheme: "ip".into(),
                    id: peer_ip,
                }],
                sasl: None,
                queue: VecDeque::new(),
                early: VecDeque::new(),
                stats: ConnStats {
                    established_ms: now.wall_ms,
                    ..ConnStats::default()
                },
            },
        );
        if req.session_id == 0 {
            let id = self.sessions.next_id();
            self.sessions.add(id, timeout, now.mono_ms);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = id;
            }
            let body = TxnBody::CreateSession(CreateSessionTxn { timeout });
            self.propose(
                now,
                id,
                0,
                body,
                Origin::NewSession {
                    conn,
                    timeout,
                    read_only: req.read_only,
                },
                out,
            );
            return;
        }
        // ZooKeeper closes any other connection of this session *before* it checks the
        // password (ZooKeeperServer.processConnectRequest -> reopenSession), so even a
        // failed resume disconnects the current owner, whose client then reconnects.
        if let Some(old) = self.session_conn.get(&req.session_id).copied()
            && old != conn
        {
            self.drop_conn(old);
            out.push(Output::Close { conn: old });
        }
        let valid = req.passwd.as_slice() == session_password(req.session_id).as_slice()
            && self.sessions.touch(req.session_id, now.mono_ms);
        if !valid {
            out.push(Output::Connected {
                conn,
                resp: ConnectResponse {
                    protocol_version: 0,
                    timeout: 0,
                    session_id: 0,
                    passwd: vec![0; PASSWORD_LEN],
                    read_only: req.read_only.map(|_| false),
                },
            });
            out.push(Output::Close { conn });
            self.conns.remove(&conn);
            return;
        }
        self.sessions
            .set_timeout(req.session_id, timeout, now.mono_ms);
        self.establish(now, conn, req.session_id, timeout, req.read_only, out);
    }

    fn establish(
        &mut self,
        now: Now,
        conn: ConnId,
        session: i64,
        timeout: i32,
        read_only: Option<bool>,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.session = session;
        c.established = true;
        let early = std::mem::take(&mut c.early);
        self.session_conn.insert(session, conn);
        out.push(Output::Connected {
            conn,
            resp: ConnectResponse {
                protocol_version: 0,
                timeout,
                session_id: session,
                passwd: session_password(session).to_vec(),
                read_only: read_only.map(|_| false),
            },
        });
        for (xid, op, req) in early {
            self.request(now, conn, xid, op, req, out);
        }
    }

    /// Adds a transport identity (x509) to a connection; the configured x509 super user
    /// also becomes `super`, as ZooKeeper's `X509AuthenticationProvider` does.
    fn add_identity(&mut self, conn: ConnId, id: Id) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let is_super = id.scheme == "x509"
            && self.config.auth.x509_super_user.as_deref() == Some(id.id.as_str());
        let subject = id.id.clone();
        if !c.ids.contains(&id) {
            c.ids.push(id);
        }
        if is_super {
            c.ids.push(Id {
                scheme: "super".into(),
                id: subject,
            });
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn)
            && self.session_conn.get(&c.session) == Some(&conn)
        {
            self.session_conn.remove(&c.session);
        }
        self.watches.remove_conn(conn);
    }

    /// The log can no longer be made durable. Writes in flight will never be acknowledged,
    /// so their connections are closed (the client sees ConnectionLoss: outcome unknown, as
    /// when a ZooKeeper server dies); new writes get NotReadOnly and new sessions are refused,
    /// as on a read-only ZooKeeper server; reads on existing sessions go on.
    fn storage_failed(&mut self, out: &mut Vec<Output>) {
        if self.read_only {
            return;
        }
        self.read_only = true;
        let stuck: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.established || c.queue.iter().any(|s| matches!(s, Slot::Write(_))))
            .map(|(id, _)| *id)
            .collect();
        for conn in stuck {
            out.push(Output::Close { conn });
            self.drop_conn(conn);
        }
    }

    /// Whether the server only serves reads because its storage failed.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn disconnected(&mut self, conn: ConnId) {
        // The session lives on until it expires or the client resumes it elsewhere.
        self.drop_conn(conn);
    }

    fn tick(&mut self, now: Now, out: &mut Vec<Output>) {
        // The first check runs one interval after start, as ZooKeeper's timer does.
        if now.mono_ms >= self.next_reap_ms {
            self.next_reap_ms = now.mono_ms + self.config.reaper.check_interval_ms.max(1);
            self.reap(now, out);
        }
        for session in self.sessions.expire(now.mono_ms) {
            tracing::info!(session = format_args!("{session:#x}"), "session expired");
            let body = self.close_session_body(now, session);
            self.propose(now, session, 0, body, Origin::Internal, out);
        }
    }

    /// Deletes due containers and TTL nodes through the normal write path
    /// (ZooKeeper: `ContainerManager.checkContainers`, opcode deleteContainer, session 0).
    fn reap(&mut self, now: Now, out: &mut Vec<Output>) {
        for path in reaper::candidates(&self.tree, now.wall_ms, &self.config.reaper) {
            let zxid = self.last_zxid + 1;
            let req = Request::DeleteContainer(menagerie_proto::records::PathRequest { path });
            let body = PrepContext {
                tree: &self.tree,
                pending: &mut self.pending,
                zxid,
                time: now.wall_ms,
                session: 0,
                ids: &[],
                extended_types: self.config.extended_types,
                skip_acl: self.config.auth.skip_acl,
                enforce_quota: self.config.enforce_quota,
            }
            .prep(&req)
            .unwrap_or_else(|e| TxnBody::Error(ErrorTxn { err: e.code() }));
            self.propose(now, 0, 0, body, Origin::Internal, out);
        }
    }

    /// The closeSession txn body for `session`, against the pending state.
    fn close_session_body(&mut self, now: Now, session: i64) -> TxnBody {
        PrepContext {
            tree: &self.tree,
            pending: &mut self.pending,
            zxid: self.last_zxid + 1,
            time: now.wall_ms,
            session,
            ids: &[],
            extended_types: self.config.extended_types,
            skip_acl: self.config.auth.skip_acl,
            enforce_quota: self.config.enforce_quota,
        }
        .close_session()
    }

    /// Proposes a client's write and reserves its place in the connection's reply order.
    fn propose_request(
        &mut self,
        now: Now,
        conn: ConnId,
        session: i64,
        xid: i32,
        body: TxnBody,
        out: &mut Vec<Output>,
    ) {
        let origin = Origin::Request {
            conn,
            xid,
            received_ms: now.mono_ms,
        };
        self.propose(now, session, xid, body, origin, out);
        let zxid = self.last_zxid;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Slot::Write(zxid));
        }
    }

    // ---- requests -------------------------------------------------------------------------

    fn request(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        op: i32,
        req: Result<Request, BadRequest>,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.established {
            c.early.push_back((xid, op, req));
            return;
        }
        // ZooKeeper's processPacket: auth and SASL packets are exempt; anything else from a
        // connection without a required identity is refused and the connection closed.
        if !matches!(req, Ok(Request::Auth(_) | Request::Sasl(_)))
            && !passes_enforcement(&c.ids, &self.config.auth)
        {
            tracing::warn!(
                conn = conn.0,
                required = ?self.config.auth.enforce_auth_schemes,
                "client not authenticated with a required scheme; closing"
            );
            out.push(Output::Reply {
                conn,
                header: ReplyHeader {
                    xid,
                    zxid: 0,
                    err: ErrorCode::SessionClosedRequireSaslAuth.code(),
                },
                body: Response::Empty,
            });
            out.push(Output::Close { conn });
            self.drop_conn(conn);
            return;
        }
        let session = c.session;
        // A request on a closing (expiring) session is dropped, as ZooKeeper's touch fails.
        if !self.sessions.touch(session, now.mono_ms) {
            return;
        }
        let req = match req {
            Ok(Request::Check(_)) | Err(BadRequest::UnknownOp) => {
                // Unknown opcodes, and standalone `check` (ZOOKEEPER-2623), are Unimplemented
                // and the connection is closed. ZooKeeper's UnimplementedRequestProcessor
                // answers with the request's zxid, which is still -1: no zxid was assigned.
                out.push(Output::Reply {
                    conn,
                    header: ReplyHeader {
                        xid,
                        zxid: -1,
                        err: ErrorCode::Unimplemented.code(),
                    },
                    body: Response::Empty,
                });
                out.push(Output::Close { conn });
                self.drop_conn(conn);
                return;
            }
            Err(BadRequest::Malformed) => {
                let is_write = OpCode::from_code(op).is_some_and(OpCode::is_write);
                if is_write {
                    let body = TxnBody::Error(ErrorTxn {
                        err: ErrorCode::MarshallingError.code(),
                    });
                    self.propose_request(now, conn, session, xid, body, out);
                } else {
                    self.in_order(now, conn, xid, None, out);
                }
                return;
            }
            Ok(r) => r,
        };
        if self.read_only && (req.op().is_write() || matches!(req, Request::CloseSession)) {
            self.in_order_error(now, conn, xid, ErrorCode::NotReadOnly, out);
            return;
        }
        match req {
            Request::Ping => {
                self.reply(conn, PING_XID, ErrorCode::Ok, Response::Empty, out);
            }
            Request::Auth(a) => self.auth(conn, xid, a, out),
            Request::Sasl(r) => self.sasl(conn, xid, r.token.unwrap_or_default(), out),
            Request::CloseSession => {
                if self.sessions.set_closing(session) {
                    let body = self.close_session_body(now, session);
                    self.propose_request(now, conn, session, xid, body, out);
                }
            }
            r if r.op().is_write() => {
                // Disjoint field borrows: no copy of the connection's identities per write.
                let ids = self.conns.get(&conn).map_or(&[][..], |c| c.ids.as_slice());
                let body = PrepContext {
                    tree: &self.tree,
                    pending: &mut self.pending,
                    zxid: self.last_zxid + 1,
                    time: now.wall_ms,
                    session,
                    ids,
                    extended_types: self.config.extended_types,
                    skip_acl: self.config.auth.skip_acl,
                    enforce_quota: self.config.enforce_quota,
                }
                .prep(&r)
                .unwrap_or_else(|e| TxnBody::Error(ErrorTxn { err: e.code() }));
                self.propose_request(now, conn, session, xid, body, out);
            }
            r => self.in_order(now, conn, xid, Some(r), out),
        }
    }

    /// Answers a read now, or queues it behind the connection's writes in flight.
    /// `None` stands for an undecodable read (MarshallingError).
    fn in_order(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        req: Option<Request>,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match req {
            Some(req) if !c.queue.is_empty() => c.queue.push_back(Slot::Read {
                xid,
                req,
                received_ms: now.mono_ms,
            }),
            Some(req) => self.read(now, conn, xid, req, now.mono_ms, out),
            None if !c.queue.is_empty() => c.queue.push_back(Slot::Error {
                xid,
                err: ErrorCode::MarshallingError,
                received_ms: now.mono_ms,
            }),
            None => self.reply(conn, xid, ErrorCode::MarshallingError, Response::Empty, out),
        }
    }

    /// Answers `err` in order: now, or behind the connection's writes in flight.
    fn in_order_error(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        err: ErrorCode,
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.queue.is_empty() {
            self.reply(conn, xid, err, Response::Empty, out);
        } else {
            c.queue.push_back(Slot::Error {
                xid,
                err,
                received_ms: now.mono_ms,
            });
        }
    }

    /// Adds an identity to the connection. The reply echoes the request's xid, as ZooKeeper's
    /// `processPacket` does: the Java client always sends -4, other clients (e.g. the Rust
    /// `zookeeper-client`) use ordinary xids and wait for them.
    fn auth(
        &mut self,
        conn: ConnId,
        xid: i32,
        a: menagerie_proto::records::AuthPacket,
        out: &mut Vec<Output>,
    ) {
        let ids = match a.scheme.as_str() {
            "digest" => {
                let text = String::from_utf8_lossy(a.auth.as_deref().unwrap_or_default());
                Some(digest_auth(&text, &self.config.auth))
            }
            "ip" => self
                .conns
                .get(&conn)
                .and_then(|c| c.ids.iter().find(|i| i.scheme == "ip").cloned())
                .map(|id| vec![id]),
            _ => None,
        };
        match ids {
            Some(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        if !c.ids.contains(&id) {
                            c.ids.push(id);
                        }
                    }
                }
                out.push(Output::Reply {
                    conn,
                    header: ReplyHeader {
                        xid,
                        zxid: 0,
                        err: 0,
                    },
                    body: Response::Empty,
                });
            }
            None => {
                out.push(Output::Reply {
                    conn,
                    header: ReplyHeader {
                        xid,
                        zxid: 0,
                        err: ErrorCode::AuthFailed.code(),
                    },
                    body: Response::Empty,
                });
                out.push(Output::Close { conn });
                self.drop_conn(conn);
            }
        }
    }

    /// One step of a SASL DIGEST-MD5 exchange (ZooKeeper: `processSasl`): the first token
    /// gets the challenge, the second is verified and answered with `rspauth`. A failure (or
    /// SASL not configured) is AuthFailed, or SessionClosedRequireSaslAuth when enforce.auth
    /// requires `sasl`, and the connection is closed.
    fn sasl(&mut self, conn: ConnId, xid: i32, token: Vec<u8>, out: &mut Vec<Output>) {
        self.sasl_serial += 1;
        let serial = self.sasl_serial;
        let auth = &self.config.auth;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let step = match c.sasl.take() {
            _ if auth.sasl_users.is_empty() => Err("SASL is not configured (no JAAS users)"),
            None => {
                let nonce = crate::sasl::nonce(auth.nonce_secret, conn.0, serial);
                let challenge = crate::sasl::challenge(&nonce);
                c.sasl = Some(nonce);
                Ok(challenge)
            }
            Some(nonce) if !nonce.is_empty() => {
                match crate::sasl::verify(&token, &nonce, &auth.sasl_users) {
                    Ok((user, rspauth)) => {
                        tracing::info!(conn = conn.0, user = %user, "SASL DIGEST-MD5 authentication succeeded");
                        let is_super = auth.sasl_super_users.contains(&user);
                        c.ids.push(Id {
                            scheme: "sasl".into(),
                            id: user,
                        });
                        if is_super {
                            c.ids.push(Id {
                                scheme: "super".into(),
                                id: String::new(),
                            });
                        }
                        c.sasl = Some(String::new());
                        Ok(rspauth)
                    }
                    Err(crate::sasl::SaslFailure::BadCredentials) => Err("bad credentials"),
                    Err(crate::sasl::SaslFailure::Protocol(why)) => Err(why),
                }
            }
            Some(_) => Err("SASL exchange already complete"),
        };
        match step {
            Ok(token) => out.push(Output::Reply {
                conn,
                header: ReplyHeader {
                    xid,
                    zxid: 0,
                    err: 0,
                },
                body: Response::Sasl(Some(token)),
            }),
            Err(why) => {
                tracing::warn!(
                    conn = conn.0,
                    reason = why,
                    "SASL authentication failed; closing"
                );
                let err = if auth.enforce_auth_schemes.iter().any(|s| s == "sasl") {
                    ErrorCode::SessionClosedRequireSaslAuth
                } else {
                    ErrorCode::AuthFailed
                };
                out.push(Output::Reply {
                    conn,
                    header: ReplyHeader {
                        xid,
                        zxid: 0,
                        err: err.code(),
                    },
                    body: Response::Empty,
                });
                out.push(Output::Close { conn });
                self.drop_conn(conn);
            }
        }
    }

    fn propose(
        &mut self,
        now: Now,
        session: i64,
        cxid: i32,
        body: TxnBody,
        origin: Origin,
        out: &mut Vec<Output>,
    ) {
        self.last_zxid += 1;
        // The tree digest once this txn is applied, as prep predicted it; failed writes
        // carry none (ZooKeeper: PrepRequestProcessor.setTxnDigest).
        let digest =
            (self.digests.enabled() && !matches!(body, TxnBody::Error(_))).then(|| TxnDigest {
                version: DIGEST_VERSION,
                tree_digest: self.pending.tree_digest(&self.tree) as i64,
            });
        let txn = Arc::new(LoggedTxn {
            header: TxnHeader {
                client_id: session,
                cxid,
                zxid: self.last_zxid,
                time: now.wall_ms,
                txn_type: body.txn_type(),
            },
            body,
            digest,
        });
        out.push(Output::Persist(Arc::clone(&txn)));
        self.proposals.push_back(Proposal { txn, origin });
    }

    // ---- commit and apply -----------------------------------------------------------------

    fn persisted(&mut self, now: Now, up_to: i64, out: &mut Vec<Output>) {
        while self
            .proposals
            .front()
            .is_some_and(|p| p.txn.zxid() <= up_to)
        {
            if let Some(p) = self.proposals.pop_front() {
                self.commit(now, p, out);
            }
        }
    }

    fn commit(&mut self, now: Now, p: Proposal, out: &mut Vec<Output>) {
        let txn = &p.txn;
        let zxid = txn.zxid();
        assert!(
            zxid > self.last_processed_zxid,
            "txns must be applied in zxid order: {zxid:#x} after {:#x}",
            self.last_processed_zxid
        );
        let mut changes = Vec::new();
        let outcome = apply(&mut self.tree, &txn.header, &txn.body, &mut changes);
        self.digests
            .applied(zxid, txn.digest.as_ref(), self.tree.digest());
        self.last_processed_zxid = zxid;
        self.pending.applied(zxid);
        self.notify(zxid, &changes, out);
        let session = txn.header.client_id;
        match (&txn.body, p.origin) {
            (
                TxnBody::CreateSession(_),
                Origin::NewSession {
                    conn,
                    timeout,
                    read_only,
                },
            ) => {
                self.establish(now, conn, session, timeout, read_only, out);
            }
            (TxnBody::CloseSession(_), origin) => {
                self.sessions.remove(session);
                if let Origin::Request {
                    conn,
                    xid,
                    received_ms,
                } = origin
                {
                    self.pop_write(conn, zxid);
                    self.record(
                        now,
                        conn,
                        OpCode::CloseSession,
                        xid,
                        now.mono_ms - received_ms,
                        true,
                    );
                    if self.conns.contains_key(&conn) {
                        self.reply(conn, xid, ErrorCode::Ok, Response::Empty, out);
                    }
                }
                if let Some(conn) = self.session_conn.get(&session).copied() {
                    out.push(Output::Close { conn });
                    self.drop_conn(conn);
                }
            }
            (
                body,
                Origin::Request {
                    conn,
                    xid,
                    received_ms,
                },
            ) => {
                self.pop_write(conn, zxid);
                let op = OpCode::from_code(body.txn_type()).unwrap_or(OpCode::Error);
                self.record(now, conn, op, xid, now.mono_ms - received_ms, true);
                // The connection may be gone (closed, or the session moved): like ZooKeeper
                // writing to a closed ServerCnxn, the reply is dropped.
                if self.conns.contains_key(&conn) {
                    let (err, resp) = write_response(outcome);
                    self.reply(conn, xid, err, resp, out);
                    self.drain(now, conn, out);
                }
            }
            _ => {}
        }
    }

    fn pop_write(&mut self, conn: ConnId, zxid: i64) {
        if let Some(c) = self.conns.get_mut(&conn)
            && matches!(c.queue.front(), Some(Slot::Write(z)) if *z == zxid)
        {
            c.queue.pop_front();
        }
    }

    /// Answers the reads that were waiting behind a write that just completed.
    fn drain(&mut self, now: Now, conn: ConnId, out: &mut Vec<Output>) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Slot::Read { .. } | Slot::Error { .. }) => {}
                _ => return,
            }
            match c.queue.pop_front() {
                Some(Slot::Read {
                    xid,
                    req,
                    received_ms,
                }) => self.read(now, conn, xid, req, received_ms, out),
                Some(Slot::Error {
                    xid,
                    err,
                    received_ms,
                }) => {
                    self.record(
                        now,
                        conn,
                        OpCode::Error,
                        xid,
                        now.mono_ms - received_ms,
                        false,
                    );
                    self.reply(conn, xid, err, Response::Empty, out)
                }
                _ => {}
            }
        }
    }

    /// Emits the watch events of one applied txn, in change order (ZooKeeper:
    /// `DataTree.createNode` / `deleteNode` / `setData` trigger calls).
    fn notify(&mut self, zxid: i64, changes: &[Change], out: &mut Vec<Output>) {
        let none = BTreeSet::new();
        for change in changes {
            match change {
                Change::Created {
                    path: p,
                    acl,
                    parent_acl,
                } => {
                    self.fire(out, zxid, Table::Data, p, EventType::Created, &none, acl);
                    let parent = path::parent(p);
                    self.fire(
                        out,
                        zxid,
                        Table::Child,
                        parent,
                        EventType::ChildrenChanged,
                        &none,
                        parent_acl,
                    );
                }
                Change::Deleted {
                    path: p,
                    acl,
                    parent_acl,
                } => {
                    // A connection watching both data and children hears NodeDeleted once.
                    let data = self.fire(out, zxid, Table::Data, p, EventType::Deleted, &none, acl);
                    self.fire(out, zxid, Table::Child, p, EventType::Deleted, &data, acl);
                    let parent = path::parent(p);
                    self.fire(
                        out,
                        zxid,
                        Table::Child,
                        parent,
                        EventType::ChildrenChanged,
                        &none,
                        parent_acl,
                    );
                }
                Change::DataChanged { path: p, acl } => {
                    self.fire(
                        out,
                        zxid,
                        Table::Data,
                        p,
                        EventType::DataChanged,
                        &none,
                        acl,
                    );
                }
            }
        }
    }

    /// Triggers `event` on `path` in `table` (skipping `skip`), emits the notifications and
    /// returns who was triggered. A triggered connection without READ under `acl` loses its
    /// one-shot watch but hears nothing (ZooKeeper 3.8.4+, CVE-2024-23944).
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &mut self,
        out: &mut Vec<Output>,
        zxid: i64,
        table: Table,
        path: &str,
        event: EventType,
        skip: &BTreeSet<ConnId>,
        acl: &ReadAcl,
    ) -> BTreeSet<ConnId> {
        let mut fired = self.watches.trigger(table, path, event, skip);
        if let Some(acl) = acl {
            let skip = self.config.auth.skip_acl;
            fired.retain(|&conn| check_acl(acl, perms::READ, self.ids(conn), skip));
        }
        push_events(out, zxid, event, path, &fired);
        fired
    }

    // ---- reads and local requests ---------------------------------------------------------

    fn ids(&self, conn: ConnId) -> &[Id] {
        self.conns.get(&conn).map_or(&[], |c| c.ids.as_slice())
    }

    fn read(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        req: Request,
        received_ms: u64,
        out: &mut Vec<Output>,
    ) {
        self.record(now, conn, req.op(), xid, now.mono_ms - received_ms, false);
        let (err, body) = match self.evaluate_read(conn, req, out) {
            Ok(body) => (ErrorCode::Ok, body),
            Err(e) => (e, Response::Empty),
        };
        self.reply(conn, xid, err, body, out);
    }

    fn readable(
        &self,
        conn: ConnId,
        path: &str,
    ) -> Result<menagerie_proto::records::Stat, ErrorCode> {
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        if !check_acl(
            self.tree.acl(node),
            perms::READ,
            self.ids(conn),
            self.config.auth.skip_acl,
        ) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(self.tree.client_stat(node))
    }

    fn evaluate_read(
        &mut self,
        conn: ConnId,
        req: Request,
        out: &mut Vec<Output>,
    ) -> Result<Response, ErrorCode> {
        match req {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                // The watch is set even when the node does not exist (it fires NodeCreated).
                if r.watch {
                    self.watches.add_standard(Table::Data, &r.path, conn);
                }
                self.readable(conn, &r.path).map(Response::Stat)
            }
            Request::GetData(r) => {
                let stat = self.readable(conn, &r.path)?;
                if r.watch {
                    self.watches.add_standard(Table::Data, &r.path, conn);
                }
                let data = self
                    .tree
                    .get(&r.path)
                    .and_then(|n| n.data().map(<[u8]>::to_vec));
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren(r) => {
                let (children, _) = self.children(conn, &r.path, r.watch)?;
                Ok(Response::GetChildren { children })
            }
            Request::GetChildren2(r) => {
                let (children, stat) = self.children(conn, &r.path, r.watch)?;
                Ok(Response::GetChildren2 { children, stat })
            }
            Request::GetAcl(r) => {
                let node = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
                let acl = self.tree.acl(node);
                let ids = self.ids(conn);
                let skip = self.config.auth.skip_acl;
                let admin = check_acl(acl, perms::ADMIN, ids, skip);
                if !admin && !check_acl(acl, perms::READ, ids, skip) {
                    return Err(ErrorCode::NoAuth);
                }
                let mut acl = acl.to_vec();
                if !admin {
                    // Without ADMIN, digest hashes are redacted (ZOOKEEPER-1392).
                    for a in &mut acl {
                        if a.id.scheme == "digest" {
                            a.id.id =
                                format!("{}:x", a.id.id.split(':').next().unwrap_or_default());
                        }
                    }
                }
                Ok(Response::GetAcl {
                    acl,
                    stat: self.tree.client_stat(node),
                })
            }
            Request::GetAllChildrenNumber(r) => {
                self.readable(conn, &r.path)?;
                let id = self.tree.lookup(&r.path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::AllChildrenNumber(
                    self.tree.count_descendants(id) as i32
                ))
            }
            Request::GetEphemerals(r) => {
                let session = self.conns.get(&conn).map_or(0, |c| c.session);
                // Java: `prefix.trim().isEmpty() || "/".equals(prefix.trim())`; `trim` strips
                // every char up to U+0020.
                let trimmed = r.path.trim_matches(|c: char| c <= ' ');
                let all = trimmed.is_empty() || trimmed == "/";
                let mut list: Vec<String> = self
                    .tree
                    .ephemerals(session)
                    .filter(|p| all || p.starts_with(r.path.as_str()))
                    .map(str::to_owned)
                    .collect();
                list.sort();
                Ok(Response::Ephemerals(list))
            }
            Request::WhoAmI => Ok(Response::WhoAmI(
                self.ids(conn)
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: user_name(id).to_owned(),
                    })
                    .collect(),
            )),
            Request::Sync(r) => Ok(Response::Sync { path: r.path }),
            Request::MultiRead(ops) => Ok(Response::Multi(
                ops.into_iter()
                    .map(|op| self.multi_read_op(conn, op))
                    .collect(),
            )),
            Request::AddWatch(r) => {
                match r.mode {
                    0 => self.watches.add_persistent(&r.path, conn, false),
                    1 => self.watches.add_persistent(&r.path, conn, true),
                    _ => return Err(ErrorCode::MarshallingError),
                }
                Ok(Response::ErrorResponse(0))
            }
            Request::CheckWatches(r) => self.remove_watches(conn, &r, false),
            Request::RemoveWatches(r) => self.remove_watches(conn, &r, true),
            Request::SetWatches(s) => {
                self.set_watches(
                    conn,
                    s.relative_zxid,
                    [&s.data_watches, &s.exist_watches, &s.child_watches],
                    &[],
                    &[],
                    out,
                );
                Ok(Response::Empty)
            }
            Request::SetWatches2(s) => {
                self.set_watches(
                    conn,
                    s.relative_zxid,
                    [&s.data_watches, &s.exist_watches, &s.child_watches],
                    &s.persistent_watches,
                    &s.persistent_recursive_watches,
                    out,
                );
                Ok(Response::Empty)
            }
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn children(
        &mut self,
        conn: ConnId,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, menagerie_proto::records::Stat), ErrorCode> {
        let stat = self.readable(conn, path)?;
        if watch {
            self.watches.add_standard(Table::Child, path, conn);
        }
        let children = self
            .tree
            .get(path)
            .map(|n| self.tree.children(n))
            .unwrap_or_default();
        Ok((children, stat))
    }

    fn remove_watches(
        &mut self,
        conn: ConnId,
        r: &menagerie_proto::records::WatchesRequest,
        remove: bool,
    ) -> Result<Response, ErrorCode> {
        let kind = WatcherType::from_code(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
        if self.watches.remove(&r.path, conn, kind, remove) {
            Ok(Response::Empty)
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    fn multi_read_op(&self, conn: ConnId, op: Request) -> MultiResult {
        let r = match &op {
            Request::GetData(r) => self.readable(conn, &r.path).map(|stat| {
                let data = self
                    .tree
                    .get(&r.path)
                    .and_then(|n| n.data().map(<[u8]>::to_vec));
                MultiResult::GetData(data, stat)
            }),
            Request::GetChildren(r) => self.readable(conn, &r.path).map(|_| {
                MultiResult::GetChildren(
                    self.tree
                        .get(&r.path)
                        .map(|n| self.tree.children(n))
                        .unwrap_or_default(),
                )
            }),
            _ => Err(ErrorCode::MarshallingError),
        };
        r.unwrap_or_else(|e| MultiResult::Error(e.code()))
    }

    /// Re-registers watches after a reconnect, sending catch-up events for changes the
    /// client missed (ZooKeeper: `DataTree.setWatches`, spec 04 §4.5).
    fn set_watches(
        &mut self,
        conn: ConnId,
        rel: i64,
        [data, exist, child]: [&Vec<String>; 3],
        persistent: &[String],
        recursive: &[String],
        out: &mut Vec<Output>,
    ) {
        let event = |out: &mut Vec<Output>, t: EventType, p: &str| {
            out.push(Output::Notify {
                conn,
                zxid: -1,
                event: WatcherEvent {
                    event_type: t as i32,
                    state: SYNC_CONNECTED,
                    path: p.to_owned(),
                },
            })
        };
        for p in data {
            match self.tree.get(p) {
                None => event(out, EventType::Deleted, p),
                Some(n) if n.mzxid > rel => event(out, EventType::DataChanged, p),
                Some(_) => self.watches.add_standard(Table::Data, p, conn),
            }
        }
        for p in exist {
            match self.tree.get(p) {
                Some(_) => event(out, EventType::Created, p),
                None => self.watches.add_standard(Table::Data, p, conn),
            }
        }
        for p in child {
            match self.tree.get(p) {
                None => event(out, EventType::Deleted, p),
                Some(n) if n.pzxid > rel => event(out, EventType::ChildrenChanged, p),
                Some(_) => self.watches.add_standard(Table::Child, p, conn),
            }
        }
        for p in persistent {
            self.watches.add_persistent(p, conn, false);
        }
        for p in recursive {
            self.watches.add_persistent(p, conn, true);
        }
    }
}

fn push_events(out: &mut Vec<Output>, zxid: i64, t: EventType, p: &str, conns: &BTreeSet<ConnId>) {
    for &conn in conns {
        out.push(Output::Notify {
            conn,
            zxid,
            event: WatcherEvent {
                event_type: t as i32,
                state: SYNC_CONNECTED,
                path: p.to_owned(),
            },
        });
    }
}

/// The reply for an applied write.
fn write_response(outcome: Outcome) -> (ErrorCode, Response) {
    match outcome {
        Outcome::Failed(e) => (e, Response::Empty),
        Outcome::Created { op, path, stat } => match op {
            OpCode::Create => (ErrorCode::Ok, Response::Create { path }),
            _ => (ErrorCode::Ok, Response::Create2 { path, stat }),
        },
        Outcome::Stat(s) => (ErrorCode::Ok, Response::Stat(s)),
        Outcome::Multi(results) => (ErrorCode::Ok, Response::Multi(results)),
        Outcome::Done => (ErrorCode::Ok, Response::Empty),
    }
}
