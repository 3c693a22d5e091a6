//! An ensemble of real [`Node`]s in one thread: outputs are routed between members at once
//! (a reliable network, with members that can be stopped and restarted), the log and epoch
//! files are in memory, and time moves only when a test says so. Scenario tests of the Zab
//! roles use it; the simulator adds faults on top of the same idea.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use menagerie_core::ensemble::{EnsembleConfig, MemberRole};
use menagerie_core::replica::Replica;
use menagerie_core::snap_stream::{SnapLoader, SnapWriter};
use menagerie_core::{ConnId, CoreConfig, Input, Node, Now, Output, SnapshotEnd};
use menagerie_proto::quorum::snap::SnapDecoder;
use menagerie_proto::quorum::{PacketType, PeerState, QuorumPacket};
use menagerie_proto::records::{ConnectRequest, CreateRequest, ReplyHeader};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use menagerie_proto::txn::LoggedTxn;
use menagerie_proto::{ServerId, Zxid};

/// One member: its node and its "disk".
pub struct Member {
    pub node: Node,
    /// Every txn it made durable, in the order it logged them.
    pub log: Vec<Arc<LoggedTxn>>,
    /// (acceptedEpoch, currentEpoch) as written.
    pub epochs: (u32, u32),
    pub up: bool,
    /// Its timers are not run (a process stopped, or a tick that is late); packets and
    /// clients still reach it.
    pub timers_stopped: bool,
    /// Whether it listens on its quorum port.
    pub listening: bool,
    /// Client outputs per connection.
    pub client_out: BTreeMap<ConnId, Vec<Output>>,
    /// Its disk fails (see [`Cluster::fail_disk`]): txns handed to the log wait in `held`.
    pub disk_failed: bool,
    /// Txns handed to the log while the disk failed, in order (not durable).
    pub held: Vec<Arc<LoggedTxn>>,
    /// Snapshots it asks for are held (not written) until `release_snapshots`.
    pub hold_snapshots: bool,
    /// Snapshots asked for and held.
    pub held_snapshots: usize,
    /// Its disk has stopped: what it logs never becomes durable.
    pub disk_stalled: bool,
}

/// A delivery to a member.
struct Delivery {
    to: ServerId,
    input: Input,
}

/// The ensemble.
pub struct Cluster {
    pub config: EnsembleConfig,
    pub members: BTreeMap<ServerId, Member>,
    pub now: Now,
    queue: VecDeque<Delivery>,
    /// Quorum links (learner, leader).
    links: BTreeSet<(ServerId, ServerId)>,
    /// Members that cannot reach each other, as (a, b) with a < b.
    pub cut: BTreeSet<(ServerId, ServerId)>,
    /// Dials of learners to leaders not answered yet: (learner, leader, give up at). As the
    /// shell does, a dial is retried for a while (Java tries 5 times, 100 ms apart).
    dials: Vec<(ServerId, ServerId, u64)>,
    tick_ms: u64,
    /// Changes every member's core configuration (e.g. `readonlymode.enabled`).
    adjust: fn(&mut CoreConfig),
}

pub fn sid(n: i64) -> ServerId {
    ServerId(n)
}

fn core_config(
    me: ServerId,
    config: &EnsembleConfig,
    tick_ms: u64,
    adjust: fn(&mut CoreConfig),
) -> CoreConfig {
    let mut c = CoreConfig {
        server_id: me,
        tick_ms,
        min_session_timeout_ms: 2 * tick_ms as i32,
        max_session_timeout_ms: 20 * tick_ms as i32,
        seed: me.0 as u64,
        ensemble: Some(config.clone()),
        ..CoreConfig::default()
    };
    adjust(&mut c);
    c
}

impl Cluster {
    /// `voters` participants and `observers` observers, all started.
    pub fn new(voters: &[i64], observers: &[i64]) -> Cluster {
        Cluster::with_config(voters, observers, |_| {})
    }

    /// [`Cluster::new`] with every member's core configuration changed by `adjust`.
    pub fn with_config(voters: &[i64], observers: &[i64], adjust: fn(&mut CoreConfig)) -> Cluster {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .try_init();
        let mut m = BTreeMap::new();
        for v in voters {
            m.insert(sid(*v), MemberRole::Participant);
        }
        for o in observers {
            m.insert(sid(*o), MemberRole::Observer);
        }
        let text = m
            .iter()
            .map(|(s, r)| {
                let role = if *r == MemberRole::Observer {
                    "observer"
                } else {
                    "participant"
                };
                format!(
                    "server.{s}=127.0.0.1:{}:{}:{role}\n",
                    2000 + s.0,
                    3000 + s.0
                )
            })
            .collect::<String>()
            + "version=0";
        let mut config = EnsembleConfig::new(m, text);
        config.commit_log_count = 500;
        let mut c = Cluster {
            config,
            members: BTreeMap::new(),
            now: Now {
                mono_ms: 1_000_000,
                wall_ms: 1_700_000_000_000,
            },
            queue: VecDeque::new(),
            links: BTreeSet::new(),
            cut: BTreeSet::new(),
            dials: Vec::new(),
            tick_ms: 100,
            adjust,
        };
        let sids: Vec<ServerId> = c.config.members.keys().copied().collect();
        for s in sids {
            let node = c.fresh_node(s);
            let member = Member {
                node,
                log: Vec::new(),
                epochs: (0, 0),
                up: true,
                timers_stopped: false,
                listening: false,
                client_out: BTreeMap::new(),
                disk_failed: false,
                held: Vec::new(),
                hold_snapshots: false,
                held_snapshots: 0,
                disk_stalled: false,
            };
            c.members.insert(s, member);
            c.deliver(s, Input::Tick);
        }
        c
    }

    fn fresh_node(&self, s: ServerId) -> Node {
        let config = core_config(s, &self.config, self.tick_ms, self.adjust);
        let mut node = Node::new(config, self.now);
        node.recovery_done(self.now, 0);
        node
    }

    fn reachable(&self, a: ServerId, b: ServerId) -> bool {
        let up = |s: ServerId| self.members.get(&s).is_some_and(|m| m.up);
        let key = (a.min(b), a.max(b));
        up(a) && up(b) && !self.cut.contains(&key)
    }

    /// Queues `input` for `to` (delivered by the next `settle` or `run`).
    pub fn deliver(&mut self, to: ServerId, input: Input) {
        self.queue.push_back(Delivery { to, input });
    }

    /// Handles queued deliveries until none is left (bounded).
    pub fn settle(&mut self) {
        for _ in 0..1_000_000 {
            let Some(d) = self.queue.pop_front() else {
                return;
            };
            self.step(d);
        }
        panic!("deliveries never settled");
    }

    /// Handles one queued delivery; false when none is left.
    pub fn step_one(&mut self) -> bool {
        match self.queue.pop_front() {
            Some(d) => {
                self.step(d);
                true
            }
            None => false,
        }
    }

    fn step(&mut self, d: Delivery) {
        let now = self.now;
        let Some(m) = self.members.get_mut(&d.to) else {
            return;
        };
        if !m.up {
            return;
        }
        let mut out = Vec::new();
        m.node.handle(now, d.input, &mut out);
        let mut persisted = None;
        for o in out {
            self.route(d.to, o, &mut persisted);
        }
        let stalled = self.members.get(&d.to).is_some_and(|m| m.disk_stalled);
        if let Some(up_to) = persisted.filter(|_| !stalled) {
            self.deliver(d.to, Input::Persisted { up_to });
        }
    }

    fn route(&mut self, from: ServerId, o: Output, persisted: &mut Option<Zxid>) {
        match o {
            Output::SendVote { to, notification } => {
                if self.reachable(from, to) {
                    self.deliver(to, Input::Vote { from, notification });
                }
            }
            Output::Send { to, packet } => self.send_packet(from, to, packet),
            Output::SendSnapshot { to, zxid } => self.send_snapshot(from, to, zxid),
            Output::ConnectToLeader { leader } => {
                let give_up = self.now.mono_ms + 500;
                self.dials.push((from, leader, give_up));
                self.dial();
            }
            Output::DropPeer { peer } => self.unlink(from, peer),
            Output::ListenQuorum(on) => {
                if let Some(m) = self.members.get_mut(&from) {
                    m.listening = on;
                }
            }
            Output::Persist(txn) => {
                let zxid = txn.zxid();
                if let Some(m) = self.members.get_mut(&from) {
                    if m.disk_failed {
                        m.held.push(txn);
                        return;
                    }
                    m.log.push(txn);
                }
                *persisted = Some(persisted.map_or(zxid, |z| z.max(zxid)));
            }
            Output::PersistEpoch { accepted, current } => {
                if let Some(m) = self.members.get_mut(&from) {
                    m.epochs.0 = accepted.unwrap_or(m.epochs.0);
                    m.epochs.1 = current.unwrap_or(m.epochs.1);
                }
            }
            Output::Truncate { to, reload } => self.truncate(from, to, reload),
            // Restarts here keep the epochs as they were; the startup check that reads the
            // marker is the host's (`restore_epochs`, tested in crates/host).
            Output::UpdatingEpoch(_) => {}
            // Addresses and files are the shell's: nothing to do in memory.
            Output::ConfigActivated { .. } => {}
            Output::TakeSnapshot(_) => match self.members.get_mut(&from) {
                Some(m) if m.hold_snapshots => m.held_snapshots += 1,
                _ => self.deliver(from, Input::SnapshotEnded(SnapshotEnd::Written)),
            },
            o @ (Output::Connected { conn, .. }
            | Output::Reply { conn, .. }
            | Output::Notify { conn, .. }
            | Output::Close { conn }) => {
                if let Some(m) = self.members.get_mut(&from) {
                    m.client_out.entry(conn).or_default().push(o);
                }
            }
        }
    }

    /// Completes the dials whose leader listens now; fails those past their time.
    fn dial(&mut self) {
        let now = self.now.mono_ms;
        let dials = std::mem::take(&mut self.dials);
        for (from, leader, give_up) in dials {
            let listening = self.members.get(&leader).is_some_and(|m| m.listening);
            if self.reachable(from, leader) && listening {
                self.links.insert((from, leader));
                self.deliver(from, Input::PeerUp { peer: leader });
            } else if now >= give_up {
                self.deliver(from, Input::PeerDown { peer: leader });
            } else {
                self.dials.push((from, leader, give_up));
            }
        }
    }

    fn linked(&self, a: ServerId, b: ServerId) -> bool {
        self.links.contains(&(a, b)) || self.links.contains(&(b, a))
    }

    fn send_packet(&mut self, from: ServerId, to: ServerId, packet: QuorumPacket) {
        if self.linked(from, to) && self.reachable(from, to) {
            self.deliver(to, Input::Peer { from, packet });
        }
    }

    fn unlink(&mut self, a: ServerId, b: ServerId) {
        if self.links.remove(&(a, b)) || self.links.remove(&(b, a)) {
            self.deliver(b, Input::PeerDown { peer: a });
        }
    }

    /// SNAP: the packet, then the stream of the leader's replica as it is now, read into a
    /// fresh replica on the learner.
    fn send_snapshot(&mut self, from: ServerId, to: ServerId, zxid: Zxid) {
        if !self.linked(from, to) {
            return;
        }
        let Some(leader) = self.members.get(&from) else {
            return;
        };
        let mut w = SnapWriter::new();
        let mut bytes = Vec::new();
        while let Some(slice) = w
            .next_slice(leader.node.replica(), 1000)
            .expect("snapshot stream")
        {
            bytes.extend(slice);
        }
        let mut d = SnapDecoder::new();
        let mut loader = SnapLoader::new(Replica::new(false, to.0 as u64, true), zxid);
        let mut rest = &bytes[..];
        while let Some((item, used)) = d.next(rest).expect("decode") {
            rest = &rest[used..];
            loader.item(item).expect("load");
        }
        let snap = QuorumPacket::new(PacketType::Snap, zxid);
        self.deliver(to, Input::Peer { from, packet: snap });
        self.deliver(
            to,
            Input::SnapReceived {
                from,
                replica: Box::new(loader.finish()),
            },
        );
    }

    fn truncate(&mut self, member: ServerId, to: Zxid, reload: bool) {
        let Some(m) = self.members.get_mut(&member) else {
            return;
        };
        m.log.retain(|t| t.zxid() <= to);
        if reload {
            let mut r = Replica::new(false, member.0 as u64, true);
            for t in &m.log {
                r.replay(t);
            }
            self.deliver(member, Input::Reloaded(Box::new(r)));
        }
    }

    /// Advances time by `ms` in steps of 10 ms, ticking every member whose timer is due.
    pub fn run(&mut self, ms: u64) {
        self.settle();
        let end = self.now.mono_ms + ms;
        while self.now.mono_ms < end {
            self.now.mono_ms += 10;
            self.now.wall_ms += 10;
            self.dial();
            let due: Vec<ServerId> = self
                .members
                .iter()
                .filter(|(_, m)| {
                    m.up && !m.timers_stopped
                        && m.node
                            .next_deadline()
                            .is_some_and(|d| d <= self.now.mono_ms)
                })
                .map(|(s, _)| *s)
                .collect();
            for s in due {
                self.deliver(s, Input::Tick);
            }
            self.settle();
        }
    }

    /// The member's log fails (a full disk): what it hands to the log waits, not durable,
    /// and the core is told, as the shell's storage thread does.
    pub fn fail_disk(&mut self, s: ServerId) {
        if let Some(m) = self.members.get_mut(&s) {
            m.disk_failed = true;
        }
        self.deliver(s, Input::StorageFailed);
        self.settle();
    }

    /// The disk works again: the shell's retry writes what waited, reports it durable, then
    /// the storage recovered.
    pub fn heal_disk(&mut self, s: ServerId) {
        let Some(m) = self.members.get_mut(&s) else {
            return;
        };
        m.disk_failed = false;
        let held = std::mem::take(&mut m.held);
        let up_to = held.iter().map(|t| t.zxid()).max();
        m.log.extend(held);
        if let Some(up_to) = up_to {
            self.deliver(s, Input::Persisted { up_to });
        }
        self.deliver(s, Input::StorageRecovered);
        self.settle();
    }

    /// Writes the snapshots `s` asked for and were held, and stops holding them.
    pub fn release_snapshots(&mut self, s: ServerId) {
        let held = match self.members.get_mut(&s) {
            Some(m) => {
                m.hold_snapshots = false;
                std::mem::take(&mut m.held_snapshots)
            }
            None => 0,
        };
        for _ in 0..held {
            self.deliver(s, Input::SnapshotEnded(SnapshotEnd::Written));
        }
    }

    /// Crashes a member: it stops; its links drop.
    pub fn crash(&mut self, s: ServerId) {
        if let Some(m) = self.members.get_mut(&s) {
            m.up = false;
            m.listening = false;
            m.client_out.clear();
            // What waited for a failed disk was never durable.
            m.held.clear();
        }
        let links: Vec<_> = self
            .links
            .iter()
            .filter(|(a, b)| *a == s || *b == s)
            .copied()
            .collect();
        for (a, b) in links {
            self.links.remove(&(a, b));
            let other = if a == s { b } else { a };
            self.deliver(other, Input::PeerDown { peer: s });
        }
    }

    /// Restarts a crashed member from its log and epoch files.
    pub fn restart(&mut self, s: ServerId) {
        let config = core_config(s, &self.config, self.tick_ms, self.adjust);
        let mut node = Node::new(config, self.now);
        let Some(m) = self.members.get_mut(&s) else {
            return;
        };
        for t in &m.log {
            node.replay(t);
        }
        node.restore_epochs(m.epochs.0, m.epochs.1);
        node.recovery_done(self.now, m.log.len() as u64);
        m.node = node;
        m.up = true;
        self.deliver(s, Input::Tick);
    }

    /// The member that leads and serves, if exactly one does.
    pub fn leader(&self) -> Option<ServerId> {
        let leaders: Vec<ServerId> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.up && m.node.peer_state() == Some(PeerState::Leading) && m.node.is_serving()
            })
            .map(|(s, _)| *s)
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Opens a client session on `member`; returns its connection.
    pub fn connect(&mut self, member: ServerId, conn: u64) -> ConnId {
        self.connect_with(member, conn, 0, None)
    }

    /// A handshake with `session` (0: a new one) and the client's `readOnly` flag.
    pub fn connect_with(
        &mut self,
        member: ServerId,
        conn: u64,
        session: i64,
        read_only: Option<bool>,
    ) -> ConnId {
        let conn = ConnId(conn);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 4000,
            session_id: session,
            passwd: menagerie_proto::session::session_password(session).to_vec(),
            read_only,
        };
        self.deliver(
            member,
            Input::Connect {
                conn,
                peer_ip: "127.0.0.1".into(),
                req,
            },
        );
        self.settle();
        conn
    }

    /// Sends a request; returns the replies that came back for it after the network settled.
    pub fn request(
        &mut self,
        member: ServerId,
        conn: ConnId,
        xid: i32,
        req: Request,
    ) -> Vec<(ReplyHeader, Response)> {
        let op = req.op().code();
        self.deliver(
            member,
            Input::Request {
                conn,
                xid,
                op,
                req: Ok(req),
            },
        );
        self.settle();
        self.replies(member, conn, xid)
    }

    /// Replies of `conn` on `member` to `xid`.
    pub fn replies(
        &self,
        member: ServerId,
        conn: ConnId,
        xid: i32,
    ) -> Vec<(ReplyHeader, Response)> {
        self.members
            .get(&member)
            .and_then(|m| m.client_out.get(&conn))
            .map(|v| {
                v.iter()
                    .filter_map(|o| match o {
                        Output::Reply { header, body, .. } if header.xid == xid => {
                            Some((header.clone(), body.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The handshake answer `conn` on `member` got, if any.
    pub fn connect_response(
        &self,
        member: ServerId,
        conn: ConnId,
    ) -> Option<menagerie_proto::records::ConnectResponse> {
        self.members
            .get(&member)?
            .client_out
            .get(&conn)?
            .iter()
            .find_map(|o| match o {
                Output::Connected { resp, .. } => Some(resp.clone()),
                _ => None,
            })
    }

    /// Whether the handshake of `conn` on `member` was answered with a session.
    pub fn connected(&self, member: ServerId, conn: ConnId) -> bool {
        self.members
            .get(&member)
            .and_then(|m| m.client_out.get(&conn))
            .is_some_and(|v| {
                v.iter()
                    .any(|o| matches!(o, Output::Connected { resp, .. } if resp.timeout > 0))
            })
    }

    /// The tree digests and last applied zxids of the members that are up.
    pub fn digests(&self) -> BTreeMap<ServerId, (Zxid, u64)> {
        self.members
            .iter()
            .filter(|(_, m)| m.up)
            .map(|(s, m)| {
                let r = m.node.replica();
                (*s, (r.last_processed_zxid(), r.tree().digest()))
            })
            .collect()
    }
}

/// A create request.
pub fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: menagerie_proto::records::Acl::open_unsafe(),
        flags: 0,
    })
}

impl Cluster {
    /// Resumes session `session` on `member` over a new connection.
    pub fn resume(&mut self, member: ServerId, conn: u64, session: i64) -> ConnId {
        let conn = ConnId(conn);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 4000,
            session_id: session,
            passwd: menagerie_proto::session::session_password(session).to_vec(),
            read_only: None,
        };
        self.deliver(
            member,
            Input::Connect {
                conn,
                peer_ip: "127.0.0.1".into(),
                req,
            },
        );
        self.settle();
        conn
    }

    /// The session id the handshake of `conn` on `member` gave.
    pub fn session_of(&self, member: ServerId, conn: ConnId) -> Option<i64> {
        self.members
            .get(&member)?
            .client_out
            .get(&conn)?
            .iter()
            .find_map(|o| match o {
                Output::Connected { resp, .. } if resp.timeout > 0 => Some(resp.session_id),
                _ => None,
            })
    }

    /// Whether `conn` on `member` was closed by the server.
    pub fn closed(&self, member: ServerId, conn: ConnId) -> bool {
        self.members
            .get(&member)
            .and_then(|m| m.client_out.get(&conn))
            .is_some_and(|v| v.iter().any(|o| matches!(o, Output::Close { .. })))
    }

    /// Sends without waiting for anything.
    pub fn send(&mut self, member: ServerId, conn: ConnId, xid: i32, req: Request) {
        let op = req.op().code();
        self.deliver(
            member,
            Input::Request {
                conn,
                xid,
                op,
                req: Ok(req),
            },
        );
    }

    /// Whether a quorum packet of `kind` from `from` to `to` waits to be delivered.
    pub fn packet_queued(&self, from: ServerId, to: ServerId, kind: PacketType) -> bool {
        self.queue.iter().any(|d| {
            d.to == to
                && matches!(&d.input, Input::Peer { from: f, packet } if *f == from
                    && packet.kind() == Some(kind))
        })
    }

    /// Cuts (or heals) the network between `a` and `b`.
    pub fn partition(&mut self, a: ServerId, b: ServerId, cut: bool) {
        let key = (a.min(b), a.max(b));
        if cut {
            self.cut.insert(key);
        } else {
            self.cut.remove(&key);
        }
    }

    /// Watch events `conn` on `member` received, as (type, path).
    pub fn events(&self, member: ServerId, conn: ConnId) -> Vec<(i32, String)> {
        self.members
            .get(&member)
            .and_then(|m| m.client_out.get(&conn))
            .map(|v| {
                v.iter()
                    .filter_map(|o| match o {
                        Output::Notify { event, .. } => {
                            Some((event.event_type, event.path.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
