//! Moving messages: what a shell's sockets do, on the simulated network ([`crate::net`]).
//! Quorum links are dialled by learners and announced to the leader with its first packet;
//! a newer connection of the same learner replaces the older one (the leader hears the old
//! one go down first); client connection ids are link ids.

use menagerie_core::replica::Replica;
use menagerie_core::snap_stream::{SnapLoader, SnapWriter};
use menagerie_core::{ConnId, Input, Output};
use menagerie_proto::quorum::snap::SnapDecoder;
use menagerie_proto::quorum::{Notification, PacketType, QuorumPacket};
use menagerie_proto::{ServerId, Zxid};
use rand::RngExt;

use crate::net::{End, Msg};
use crate::sim::Sim;
use crate::world::Ev;

/// Attempts of a learner's dial (ZooKeeper: 5, 100 ms apart).
const DIAL_ATTEMPTS: u32 = 5;

impl Sim {
    /// One message's network delay.
    fn delay(&mut self) -> u64 {
        let (base, jitter) = self.plan.delay_ms;
        let (p, spike) = self.plan.spike;
        let mut d = base + self.rng.random_range(0..=jitter);
        // A reconfiguration may leave two voters, whose one follower link tolerates no delay
        // beyond syncLimit: with reconfig, calm means no spikes either (seed 1507 flapped
        // for the whole calm phase on spikes of up to 845 ms).
        let spiky = !(self.ensemble.reconfig_enabled && self.phase == crate::sim::Phase::Calm);
        if spiky && p > 0.0 && self.rng.random_bool(p) {
            d += self.rng.random_range(0..=spike);
        }
        d.max(1)
    }

    /// Sends `msg` on `link` from `from`; dropped if the link is gone or closed at either end.
    pub(crate) fn send_on(&mut self, link: u64, from: End, msg: Msg) {
        let delay = self.delay();
        let now = self.now;
        let Some(l) = self.net.links.get_mut(&link) else {
            return;
        };
        let Some(side) = l.side(from) else {
            return;
        };
        if !l.open[side] {
            return;
        }
        let dir = &mut l.dirs[side];
        let after = dir.queue.back().map_or(0, |(t, _)| *t);
        let arrival = (now + delay).max(after);
        dir.queue.push_back((arrival, msg));
        if !dir.armed && !dir.stalled {
            dir.armed = true;
            let at = dir.queue.front().map_or(arrival, |(t, _)| *t);
            self.queue.push(at, Ev::LinkHead { link, dir: side });
        }
    }

    /// The head of one direction of a link is due.
    pub(crate) fn link_head(&mut self, link: u64, side: usize) {
        let now = self.now;
        let Some(l) = self.net.links.get_mut(&link) else {
            return;
        };
        let (from, to) = (l.ends[side], l.ends[1 - side]);
        l.dirs[side].armed = false;
        if self.net.is_blocked(from, to) {
            if let Some(l) = self.net.links.get_mut(&link) {
                l.dirs[side].stalled = true;
            }
            return;
        }
        let Some(l) = self.net.links.get_mut(&link) else {
            return;
        };
        let dir = &mut l.dirs[side];
        let Some((_, msg)) = dir.queue.pop_front() else {
            return;
        };
        if let Some((next, _)) = dir.queue.front() {
            dir.armed = true;
            let at = (*next).max(now);
            self.queue.push(at, Ev::LinkHead { link, dir: side });
        }
        let reading = l.open[1 - side];
        if matches!(msg, Msg::Fin) {
            // Whoever reads the close is done with the connection too.
            self.net.remove(link);
        }
        if reading {
            self.arrive(link, from, to, msg);
        }
    }

    /// Messages held by partitions that have healed go on, in order.
    pub(crate) fn release_stalled(&mut self) {
        let now = self.now;
        let mut due = Vec::new();
        for (id, l) in self.net.links.iter() {
            for side in 0..2 {
                let d = &l.dirs[side];
                if d.stalled && !self.net.is_blocked(l.ends[side], l.ends[1 - side]) {
                    due.push((*id, side));
                }
            }
        }
        for (id, side) in due {
            let delay = self.delay();
            if let Some(l) = self.net.links.get_mut(&id) {
                let d = &mut l.dirs[side];
                d.stalled = false;
                d.armed = true;
                let mut t = now + delay;
                for (arrival, _) in d.queue.iter_mut() {
                    t = t.max(*arrival);
                    *arrival = t;
                }
                self.queue.push(
                    now + delay,
                    Ev::LinkHead {
                        link: id,
                        dir: side,
                    },
                );
            }
        }
    }

    /// A message reaches `to`.
    fn arrive(&mut self, link: u64, from: End, to: End, msg: Msg) {
        match (from, to) {
            (End::Member(p), End::Member(m)) => self.quorum_arrives(link, p, m, msg),
            (End::Client(c), End::Member(m)) => {
                let conn = ConnId(link);
                let input = match msg {
                    Msg::Connect(req) => Input::Connect {
                        conn,
                        peer_ip: format!("10.0.0.{}", c + 1),
                        req,
                    },
                    Msg::Request { xid, op, req } => Input::Request {
                        conn,
                        xid,
                        op,
                        req: Ok(req),
                    },
                    Msg::Fin => Input::Disconnected { conn },
                    _ => return,
                };
                self.deliver(m, input);
            }
            (End::Member(_), End::Client(c)) => self.client_receive(c, link, msg),
            (End::Client(_), End::Client(_)) => {}
        }
    }

    /// A quorum-link message from member `p` reaches member `m`. The leader learns of a
    /// learner's connection with its first packet; a member reads only the link its core
    /// knows.
    fn quorum_arrives(&mut self, link: u64, p: ServerId, m: ServerId, msg: Msg) {
        let known = self.net.known.get(&(m, p)) == Some(&link);
        if !known {
            let first = self
                .net
                .links
                .get_mut(&link)
                .filter(|l| l.ends[1] == End::Member(m) && !l.announced);
            match first {
                Some(l) => {
                    l.announced = true;
                    self.peer_up(m, p, link);
                }
                None => return,
            }
        }
        match msg {
            Msg::Packet(packet) => {
                self.deliver(m, Input::Peer { from: p, packet });
            }
            Msg::Snap(zxid, replica) => {
                if let Some(member) = self.members.get_mut(&m) {
                    member.snap_synced = true;
                }
                let packet = QuorumPacket::new(PacketType::Snap, zxid);
                self.deliver(m, Input::Peer { from: p, packet });
                self.deliver(m, Input::SnapReceived { from: p, replica });
            }
            Msg::Fin => self.peer_down(m, p, link),
            _ => {}
        }
    }

    /// Member `m`'s core learns of its connection `link` to `peer`; a connection to the same
    /// peer it knew before is closed first (and reported down).
    fn peer_up(&mut self, m: ServerId, peer: ServerId, link: u64) {
        if let Some(old) = self.net.known.insert((m, peer), link)
            && old != link
        {
            self.reset_link(old);
            self.deliver(m, Input::PeerDown { peer });
        }
        self.deliver(m, Input::PeerUp { peer });
    }

    /// Member `m`'s connection `link` to `peer` is gone: reported if its core knows it.
    pub(crate) fn peer_down(&mut self, m: ServerId, peer: ServerId, link: u64) {
        if self.net.known.get(&(m, peer)) == Some(&link) {
            self.net.known.remove(&(m, peer));
            self.deliver(m, Input::PeerDown { peer });
        }
    }

    /// Closes `link` from `end`: what it sent still arrives, then the other end sees the
    /// close; nothing more is read at `end`.
    pub(crate) fn close_end(&mut self, link: u64, end: End) {
        let Some(l) = self.net.links.get_mut(&link) else {
            return;
        };
        let Some(side) = l.side(end) else {
            return;
        };
        if !l.open[side] {
            return;
        }
        self.send_on(link, end, Msg::Fin);
        if let Some(l) = self.net.links.get_mut(&link) {
            l.open[side] = false;
        }
    }

    /// The connection breaks at once: in-flight messages are lost, and each end that still
    /// reads learns it after a short while.
    pub(crate) fn reset_link(&mut self, link: u64) {
        let Some(l) = self.net.remove(link) else {
            return;
        };
        for side in 0..2 {
            if !l.open[side] {
                continue;
            }
            let delay = self.delay();
            let at = self.now + delay;
            match (l.ends[side], l.ends[1 - side]) {
                (End::Member(m), End::Member(peer)) => {
                    let inc = self.members[&m].inc;
                    self.queue.push(
                        at,
                        Ev::PeerLost {
                            member: m,
                            inc,
                            peer,
                            link,
                        },
                    );
                }
                (End::Member(m), End::Client(_)) => {
                    let inc = self.members[&m].inc;
                    let input = Input::Disconnected { conn: ConnId(link) };
                    self.queue.push(
                        at,
                        Ev::Input {
                            member: m,
                            inc,
                            input,
                        },
                    );
                }
                (End::Client(c), _) => {
                    self.queue.push(
                        at,
                        Ev::Fault(crate::faults::FaultEv::ClientLinkLost(c, link)),
                    );
                }
            }
        }
    }

    /// A member's process died: every connection it had breaks.
    pub(crate) fn member_links_down(&mut self, sid: ServerId) {
        for link in self.net.links_of(sid) {
            if let Some(l) = self.net.links.get_mut(&link)
                && let Some(side) = l.side(End::Member(sid))
            {
                l.open[side] = false;
            }
            self.reset_link(link);
        }
    }

    /// A member's message to a client.
    pub(crate) fn send_to_client(&mut self, sid: ServerId, link: u64, o: Output) {
        self.send_on(link, End::Member(sid), Msg::ToClient(o));
    }

    /// A member closes a client's connection after what it queued.
    pub(crate) fn close_client(&mut self, sid: ServerId, link: u64) {
        self.close_end(link, End::Member(sid));
    }

    /// An election notification.
    pub(crate) fn send_vote(&mut self, from: ServerId, to: ServerId, n: Notification) {
        if from == to || self.net.blocked.contains(&(from, to)) {
            return;
        }
        let Some(dest) = self.members.get(&to) else {
            return;
        };
        if !dest.is_up() {
            return;
        }
        let to_inc = dest.inc;
        if self.plan.vote_drop > 0.0 && self.rng.random_bool(self.plan.vote_drop) {
            return;
        }
        let copies = if self.plan.vote_dup > 0.0 && self.rng.random_bool(self.plan.vote_dup) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.delay();
            let last = self.net.vote_last.entry((from, to)).or_default();
            let at = (self.now + delay).max(*last);
            *last = at;
            let notification = n.clone();
            self.queue.push(
                at,
                Ev::Vote {
                    from,
                    to,
                    to_inc,
                    notification,
                },
            );
        }
    }

    /// An election notification arrives.
    pub(crate) fn vote_arrives(&mut self, from: ServerId, to: ServerId, inc: u64, n: Notification) {
        if self.members.get(&to).is_some_and(|m| m.inc == inc) {
            self.deliver(
                to,
                Input::Vote {
                    from,
                    notification: n,
                },
            );
        }
    }

    /// A quorum packet from `from` to `to`, on their current link (dropped without one).
    pub(crate) fn send_packet(&mut self, from: ServerId, to: ServerId, packet: QuorumPacket) {
        let Some(&link) = self.net.known.get(&(from, to)) else {
            return;
        };
        // Through the wire format and back, as a socket would carry it.
        let bytes = packet.to_bytes();
        let packet = match QuorumPacket::decode_prefix(&bytes) {
            Ok(Some((p, _))) => p,
            _ => {
                let text = format!("m{from} sent a packet that does not decode: {packet:?}");
                return self.violation("WireFormat", text, vec![format!("m{from}")]);
            }
        };
        self.send_on(link, End::Member(from), Msg::Packet(packet));
    }

    /// SNAP to a learner: the stream of the leader's tree as it is now, read on the
    /// learner's side into a fresh replica.
    pub(crate) fn send_snapshot(&mut self, from: ServerId, to: ServerId, zxid: Zxid) {
        let Some(&link) = self.net.known.get(&(from, to)) else {
            return;
        };
        let Some(node) = self.members[&from].node.as_ref() else {
            return;
        };
        match stream_copy(node.replica(), zxid, to) {
            Ok(replica) => {
                self.send_on(link, End::Member(from), Msg::Snap(zxid, Box::new(replica)))
            }
            Err(e) => {
                let text = format!("m{from}: snapshot stream to m{to} failed: {e}");
                self.history.record(self.now, format!("m{from}"), text);
                self.reset_link(link);
            }
        }
    }

    /// A learner dials its leader.
    pub(crate) fn dial(&mut self, learner: ServerId, leader: ServerId) {
        let dial = self.queue.handled;
        if let Some(m) = self.members.get_mut(&learner) {
            m.dial = Some((leader, dial));
        }
        let delay = self.delay();
        self.queue.push(
            self.now + delay,
            Ev::Dial {
                learner,
                dial,
                attempt: 1,
            },
        );
    }

    /// One attempt of a dial: connected if the leader listens and is reachable; retried a
    /// few times; then the learner hears the dial failed.
    pub(crate) fn dial_attempt(&mut self, learner: ServerId, dial: u64, attempt: u32) {
        let Some(m) = self.members.get(&learner) else {
            return;
        };
        let Some((leader, current)) = m.dial else {
            return;
        };
        if current != dial || !m.is_up() {
            return;
        }
        let reachable = !self.net.blocked.contains(&(learner, leader))
            && !self.net.blocked.contains(&(leader, learner));
        let listening = self
            .members
            .get(&leader)
            .is_some_and(|l| l.is_up() && l.listening);
        if reachable && listening {
            if let Some(m) = self.members.get_mut(&learner) {
                m.dial = None;
            }
            let link = self.net.open(End::Member(learner), End::Member(leader));
            return self.peer_up(learner, leader, link);
        }
        if attempt < DIAL_ATTEMPTS {
            self.queue.push(
                self.now + 100,
                Ev::Dial {
                    learner,
                    dial,
                    attempt: attempt + 1,
                },
            );
            return;
        }
        if let Some(m) = self.members.get_mut(&learner) {
            m.dial = None;
        }
        if !self.net.known.contains_key(&(learner, leader)) {
            self.deliver(learner, Input::PeerDown { peer: leader });
        }
    }

    /// A member closes its quorum link to `peer` (or stops dialling it).
    pub(crate) fn drop_peer(&mut self, sid: ServerId, peer: ServerId) {
        if let Some(m) = self.members.get_mut(&sid)
            && m.dial.is_some_and(|(l, _)| l == peer)
        {
            m.dial = None;
        }
        if let Some(link) = self.net.known.remove(&(sid, peer)) {
            self.close_end(link, End::Member(sid));
        }
    }
}

/// The SNAP stream of `replica`, written and read back into a fresh replica (as the learner
/// `to` reads it off its socket).
fn stream_copy(
    replica: &Replica,
    zxid: Zxid,
    to: ServerId,
) -> Result<Replica, Box<dyn std::error::Error>> {
    let mut writer = SnapWriter::new();
    let mut bytes = Vec::new();
    while let Some(slice) = writer.next_slice(replica, 1000)? {
        bytes.extend(slice);
    }
    let mut decoder = SnapDecoder::new();
    let mut loader = SnapLoader::new(Replica::new(false, to.0 as u64, true), zxid);
    let mut rest = &bytes[..];
    while let Some((item, used)) = decoder.next(rest)? {
        rest = &rest[used..];
        loader.item(item)?;
    }
    Ok(loader.finish())
}
