//! One simulated client: its session, its connection, its requests in flight.

use std::collections::{BTreeMap, VecDeque};

use menagerie_core::Output;
use menagerie_proto::records::{ConnectRequest, ReplyHeader, WatcherEvent};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use menagerie_proto::session::session_password;
use menagerie_proto::{OpCode, ServerId, Zxid};
use rand::RngExt;

use super::ops::{self, Mode, Op, PARENTS};
use crate::net::{End, Msg};
use crate::sim::Sim;
use crate::world::Ev;

/// Session timeout the clients ask for, ms.
const SESSION_TIMEOUT_MS: i32 = 1500;
/// Requests a client keeps in flight at most.
const PIPELINE: usize = 3;
/// xid of pings.
const PING_XID: i32 = -2;

/// A connection of a client.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The link (also the member's connection id).
    pub link: u64,
    /// The member.
    pub member: ServerId,
    /// The handshake was answered with a session.
    pub established: bool,
    /// When the handshake was sent.
    pub opened_at: u64,
    /// When something last arrived.
    pub last_recv: u64,
    /// When something was last sent.
    pub last_sent: u64,
    /// The member answered the handshake read-only (it serves no quorum).
    pub read_only: bool,
}

/// A request in flight.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its xid.
    pub xid: i32,
    /// What it asks.
    pub op: Op,
    /// The checker's context taken when it was sent.
    pub ctx: crate::checker::InvokeCtx,
}

/// A simulated client.
#[derive(Debug)]
pub struct Client {
    /// Its number.
    pub id: usize,
    /// Its session, once established.
    pub session: Option<i64>,
    /// Negotiated timeout, ms.
    pub timeout_ms: u64,
    /// Its connection, if any.
    pub conn: Option<Conn>,
    next_xid: i32,
    /// The highest zxid it has seen.
    pub last_zxid: i64,
    outstanding: VecDeque<Pending>,
    /// Arming of its wake-up timer.
    pub wake_generation: u64,
    next_op_at: u64,
    asleep_until: u64,
    versions: BTreeMap<String, i32>,
    queued: VecDeque<Op>,
    tag: u64,
    /// Its handshakes say it accepts a read-only member (`canBeReadOnly`).
    pub asks_read_only: bool,
    /// It creates ephemeral nodes (with local sessions, those that do not stay local).
    pub makes_ephemerals: bool,
}

impl Client {
    /// A client with no session yet.
    pub fn new(id: usize) -> Client {
        Client {
            id,
            session: None,
            timeout_ms: SESSION_TIMEOUT_MS as u64,
            conn: None,
            next_xid: 1,
            last_zxid: 0,
            outstanding: VecDeque::new(),
            wake_generation: 0,
            next_op_at: 0,
            asleep_until: 0,
            versions: BTreeMap::new(),
            queued: VecDeque::new(),
            tag: 0,
            asks_read_only: false,
            makes_ephemerals: true,
        }
    }

    fn who(&self) -> String {
        format!("c{}", self.id)
    }

    fn read_timeout(&self) -> u64 {
        self.timeout_ms * 2 / 3
    }
}

impl Sim {
    /// Arms client `c`'s wake-up at `at` (replacing the previous arming).
    pub(crate) fn wake_client(&mut self, c: usize, at: u64) {
        let client = &mut self.clients[c];
        client.wake_generation += 1;
        let generation = client.wake_generation;
        self.queue.push(
            at.max(self.now),
            Ev::ClientWake {
                client: c,
                generation,
            },
        );
    }

    /// Client `c` acts: connects, gives up on a silent connection, pings, or sends a request.
    pub(crate) fn client_wake(&mut self, c: usize, generation: u64) {
        let now = self.now;
        let client = &self.clients[c];
        if client.wake_generation != generation || self.stopped() {
            return;
        }
        if now < client.asleep_until {
            let at = client.asleep_until;
            return self.wake_client(c, at);
        }
        let Some(conn) = client.conn.clone() else {
            return self.client_connect(c);
        };
        if !conn.established {
            if now >= conn.opened_at + 1000 {
                self.client_disconnect(c, "no handshake answer");
                return self.wake_client(c, now + 10);
            }
            return self.wake_client(c, conn.opened_at + 1000);
        }
        let read_timeout = client.read_timeout();
        if now >= conn.last_recv + read_timeout {
            self.client_disconnect(c, "connection silent");
            return self.wake_client(c, now + 10);
        }
        if now >= conn.last_sent + read_timeout / 2 {
            self.client_send(c, PING_XID, Request::Ping);
        }
        let client = &self.clients[c];
        if client.outstanding.len() < PIPELINE && now >= client.next_op_at && !self.quiet() {
            self.client_issue(c);
        }
        let client = &self.clients[c];
        let Some(conn) = &client.conn else {
            return self.wake_client(c, now + 10);
        };
        let mut at = conn.last_recv + read_timeout;
        at = at.min(conn.last_sent + read_timeout / 2);
        if client.outstanding.len() < PIPELINE {
            at = at.min(client.next_op_at);
        }
        self.wake_client(c, at.max(now + 1));
    }

    fn client_connect(&mut self, c: usize) {
        let sids: Vec<ServerId> = self.members.keys().copied().collect();
        let member = sids[self.rng.random_range(0..sids.len())];
        let now = self.now;
        let client = &self.clients[c];
        let session = client.session.unwrap_or(0);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: client.last_zxid,
            timeout: SESSION_TIMEOUT_MS,
            session_id: session,
            passwd: if session == 0 {
                vec![0; 16]
            } else {
                session_password(session).to_vec()
            },
            read_only: client.asks_read_only.then_some(true),
        };
        if !self.members[&member].is_up() {
            let who = client.who();
            self.history
                .record(now, who, format!("connect to m{member}: refused"));
            let backoff = self.rng.random_range(20..200);
            return self.wake_client(c, now + backoff);
        }
        let link = self.net.open(End::Client(c), End::Member(member));
        let text = format!("connect to m{member} (session {session:#x}, conn {link})");
        self.history.record(now, client.who(), text);
        self.clients[c].conn = Some(Conn {
            link,
            member,
            established: false,
            opened_at: now,
            last_recv: now,
            last_sent: now,
            read_only: false,
        });
        self.send_on(link, End::Client(c), Msg::Connect(req));
        self.wake_client(c, now + 1000);
    }

    /// The client closes its connection (its requests' outcomes are unknown).
    pub(crate) fn client_disconnect(&mut self, c: usize, why: &str) {
        let Some(conn) = self.clients[c].conn.take() else {
            return;
        };
        let who = self.clients[c].who();
        self.history.record(
            self.now,
            who,
            format!("disconnect from m{} ({why})", conn.member),
        );
        self.close_end(conn.link, End::Client(c));
        self.client_lost_requests(c, conn.link);
    }

    fn client_lost_requests(&mut self, c: usize, link: u64) {
        let lost: Vec<Pending> = self.clients[c].outstanding.drain(..).collect();
        let who = self.clients[c].who();
        for p in lost {
            let text = format!("xid {} lost ({})", p.xid, p.op.describe());
            self.history.record(self.now, who.clone(), text);
        }
        self.checker.conn_closed(link);
    }

    fn client_send(&mut self, c: usize, xid: i32, req: Request) {
        let Some(conn) = self.clients[c].conn.as_mut() else {
            return;
        };
        conn.last_sent = self.now;
        let link = conn.link;
        let op = match &req {
            Request::CloseSession => OpCode::CloseSession.code(),
            r => r.op().code(),
        };
        self.send_on(link, End::Client(c), Msg::Request { xid, op, req });
    }

    /// Sends the client's next operation.
    fn client_issue(&mut self, c: usize) {
        let now = self.now;
        let gap = self.rng.random_range(5..120);
        let nap = self.rng.random_bool(0.004);
        let close = self.rng.random_bool(0.004);
        let client = &mut self.clients[c];
        client.next_op_at = now + gap;
        client.tag += 1;
        let (id, tag) = (client.id, client.tag);
        let op = match client.queued.pop_front() {
            Some(op) => op,
            None if close => Op::CloseSession,
            None if self.ensemble.reconfig_enabled
                && let Some(op) = ops::draw_reconfig(&mut self.rng, self.opts.voters) =>
            {
                op
            }
            None => {
                let versions = client.versions.clone();
                let ephemerals = client.makes_ephemerals;
                ops::draw(&mut self.rng, (id, tag), ephemerals, |k| {
                    versions.get(k).copied()
                })
            }
        };
        if nap {
            // A long pause (a GC, a stopped VM): longer than the session timeout.
            let client = &mut self.clients[c];
            client.asleep_until = now + client.timeout_ms * 2;
            let who = client.who();
            self.history
                .record(now, who, "pauses beyond its session timeout");
        }
        let client = &mut self.clients[c];
        let xid = client.next_xid;
        client.next_xid += 1;
        let session = client.session.unwrap_or(0);
        let member = client.conn.as_ref().map_or(ServerId(0), |k| k.member);
        let who = client.who();
        self.history.record(
            now,
            who,
            format!("xid {xid} -> m{member}: {}", op.describe()),
        );
        let read_only = self.clients[c].conn.as_ref().is_some_and(|k| k.read_only);
        let ctx = self.checker.invoke(now, (session, xid), &op, read_only);
        let req = op.request();
        self.clients[c]
            .outstanding
            .push_back(Pending { xid, op, ctx });
        self.client_send(c, xid, req);
    }

    /// Something arrived for client `c` on `link`.
    pub(crate) fn client_receive(&mut self, c: usize, link: u64, msg: Msg) {
        let current = self.clients[c]
            .conn
            .as_ref()
            .is_some_and(|k| k.link == link);
        if !current {
            return;
        }
        if let Some(conn) = self.clients[c].conn.as_mut() {
            conn.last_recv = self.now;
        }
        match msg {
            Msg::ToClient(Output::Connected { resp, .. }) => self.client_connected(c, resp),
            Msg::ToClient(Output::Reply { header, body, .. }) => {
                self.client_reply(c, link, header, body)
            }
            Msg::ToClient(Output::Notify { zxid, event, .. }) => {
                self.client_event(c, link, zxid, event)
            }
            Msg::Fin => self.client_link_lost(c, link),
            other => tracing::debug!(?other, "unexpected message for a client"),
        }
    }

    /// The client's connection broke (closed by the member, reset, or the member died).
    pub(crate) fn client_link_lost(&mut self, c: usize, link: u64) {
        let current = self.clients[c]
            .conn
            .as_ref()
            .is_some_and(|k| k.link == link);
        if !current {
            return;
        }
        let conn = self.clients[c].conn.take();
        let member = conn.map_or(ServerId(0), |k| k.member);
        let who = self.clients[c].who();
        self.history
            .record(self.now, who, format!("connection to m{member} closed"));
        if let Some(l) = self.net.links.get_mut(&link)
            && let Some(side) = l.side(End::Client(c))
        {
            l.open[side] = false;
        }
        self.client_lost_requests(c, link);
        let backoff = self.rng.random_range(5..100);
        self.wake_client(c, self.now + backoff);
    }

    fn client_connected(&mut self, c: usize, resp: menagerie_proto::records::ConnectResponse) {
        let now = self.now;
        let client = &mut self.clients[c];
        let who = client.who();
        let Some(conn) = client.conn.as_mut() else {
            return;
        };
        let member = conn.member;
        if resp.timeout <= 0 {
            let old = client.session.take();
            self.history.record(
                now,
                who,
                format!(
                    "session {:#x} expired (told by m{member})",
                    old.unwrap_or(0)
                ),
            );
            if let Some(s) = old {
                self.checker.expired_told(now, c, s, member);
            }
            return;
        }
        conn.established = true;
        conn.read_only = resp.read_only == Some(true);
        let resumed = client.session == Some(resp.session_id);
        client.session = Some(resp.session_id);
        client.timeout_ms = resp.timeout as u64;
        if !resumed {
            client.versions.clear();
            client.queued.extend(PARENTS.iter().map(|p| Op::Create {
                path: p.to_string(),
                data: Vec::new(),
                mode: Mode::Persistent,
            }));
        }
        let what = match (resumed, conn.read_only) {
            (true, false) => "resumed",
            (false, false) => "new",
            (true, true) => "read-only, resumed",
            (false, true) => "read-only, new",
        };
        self.history.record(
            now,
            who,
            format!(
                "connected to m{member}: {what} session {:#x}, timeout {}",
                resp.session_id, resp.timeout
            ),
        );
        self.wake_client(c, now);
    }

    fn client_reply(&mut self, c: usize, link: u64, header: ReplyHeader, body: Response) {
        let now = self.now;
        let session = self.clients[c].session.unwrap_or(0);
        self.clients[c].last_zxid = self.clients[c].last_zxid.max(header.zxid);
        if header.xid == PING_XID {
            self.checker
                .seen_zxid(now, c, session, Zxid(header.zxid), "ping");
            return;
        }
        let Some(p) = self.clients[c].outstanding.pop_front() else {
            let text = format!("reply xid {} with nothing outstanding", header.xid);
            return self.violation("ClientFifo", text, vec![self.clients[c].who()]);
        };
        if p.xid != header.xid {
            let text = format!(
                "reply for xid {} while xid {} was the oldest outstanding",
                header.xid, p.xid
            );
            return self.violation("ClientFifo", text, vec![self.clients[c].who()]);
        }
        let who = self.clients[c].who();
        let text = format!(
            "xid {} <- err {} zxid {}: {}",
            header.xid,
            header.err,
            Zxid(header.zxid),
            crate::checker::describe_response(&body)
        );
        self.history.record(now, who, text);
        self.note_versions(c, &p.op, header.err, &body);
        if matches!(p.op, Op::CloseSession) && header.err == 0 {
            self.clients[c].session = None;
        }
        let reply = crate::checker::Reply {
            client: c,
            session,
            link,
            xid: header.xid,
            zxid: Zxid(header.zxid),
            err: header.err,
            body,
            read_only: self.clients[c].conn.as_ref().is_some_and(|k| k.read_only),
            from_own_log: self.clients[c].conn.as_ref().is_some_and(|k| {
                k.read_only
                    && self
                        .members
                        .get(&k.member)
                        .is_some_and(|m| !m.served_since_start)
            }),
        };
        self.checker.reply(now, &p.op, &p.ctx, reply);
    }

    fn note_versions(&mut self, c: usize, op: &Op, err: i32, body: &Response) {
        let versions = &mut self.clients[c].versions;
        match (op, body) {
            (Op::GetData { path, .. }, Response::GetData { stat, .. })
            | (Op::Exists { path, .. }, Response::Stat(stat))
            | (Op::SetData { path, .. }, Response::Stat(stat)) => {
                versions.insert(path.clone(), stat.version);
            }
            (Op::Create { path, .. }, Response::Create2 { .. }) if err == 0 => {
                versions.insert(path.clone(), 0);
            }
            (Op::Delete { path, .. }, _) if err == 0 => {
                versions.remove(path);
            }
            _ => {}
        }
    }

    fn client_event(&mut self, c: usize, link: u64, zxid: Zxid, event: WatcherEvent) {
        let now = self.now;
        let session = self.clients[c].session.unwrap_or(0);
        let who = self.clients[c].who();
        self.history.record(
            now,
            who,
            format!("event {} {} zxid {zxid}", event.event_type, event.path),
        );
        self.checker.event(now, c, session, link, zxid, &event);
    }
}
