//! The simulated network's state: links (TCP connections) and partitions.
//!
//! A link is a TCP stream between two ends (a learner and its leader on the quorum port, or
//! a client and a member): each direction delivers in order, after a delay drawn per
//! message but never before the message ahead of it. A partition does not lose a message
//! in the middle of a stream, as TCP retransmits: the direction stalls and resumes, in order,
//! when the partition heals — unless the ends' own timeouts give up on the connection first.
//! A connection that breaks (reset, a process that dies) loses what was in flight, and both
//! ends learn it. Election notifications travel as single messages per pair, in order; they
//! can be lost or arrive twice (ZooKeeper's election connections are torn down and its
//! send queues overwrite, so both happen).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use menagerie_core::Output;
use menagerie_core::replica::Replica;
use menagerie_proto::quorum::QuorumPacket;
use menagerie_proto::records::ConnectRequest;
use menagerie_proto::request::Request;
use menagerie_proto::{ServerId, Zxid};

/// One end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum End {
    /// A member.
    Member(ServerId),
    /// A simulated client.
    Client(usize),
}

/// What travels on a link.
#[derive(Debug)]
pub enum Msg {
    /// A quorum packet.
    Packet(QuorumPacket),
    /// SNAP and the snapshot stream after it, as the learner reads it.
    Snap(Zxid, Box<Replica>),
    /// A client's handshake.
    Connect(ConnectRequest),
    /// A client's request.
    Request {
        /// xid.
        xid: i32,
        /// Opcode.
        op: i32,
        /// Body.
        req: Request,
    },
    /// A member's message to a client (`Connected`, `Reply`, `Notify`).
    ToClient(Output),
    /// The sender closed its end after what it sent.
    Fin,
}

/// One direction of a link.
#[derive(Debug, Default)]
pub struct Direction {
    /// Messages in flight with their arrival times, in order.
    pub queue: VecDeque<(u64, Msg)>,
    /// A `LinkHead` event is scheduled for the head.
    pub armed: bool,
    /// Held by a partition until it heals.
    pub stalled: bool,
}

/// A TCP connection.
#[derive(Debug)]
pub struct Link {
    /// Ends: for a quorum link (learner, leader); for a client link (client, member).
    pub ends: [End; 2],
    /// Whether each end still reads (has not closed it).
    pub open: [bool; 2],
    /// Direction 0 carries `ends[0]` -> `ends[1]`, direction 1 back.
    pub dirs: [Direction; 2],
    /// Quorum links: the leader was told of the connection (`PeerUp`).
    pub announced: bool,
}

impl Link {
    /// The index of `end` in `ends`.
    pub fn side(&self, end: End) -> Option<usize> {
        self.ends.iter().position(|e| *e == end)
    }
}

/// The network.
#[derive(Debug, Default)]
pub struct Net {
    /// Live links by id (client connection ids are link ids).
    pub links: BTreeMap<u64, Link>,
    next_id: u64,
    /// Directed member pairs that cannot reach each other.
    pub blocked: BTreeSet<(ServerId, ServerId)>,
    /// Last arrival time of election notifications per pair (they stay in order).
    pub vote_last: BTreeMap<(ServerId, ServerId), u64>,
    /// The quorum link each member's core knows it has with a peer, by (member, peer): told
    /// by `PeerUp`, forgotten at `PeerDown` or `DropPeer`. Packets go out on it, and only
    /// packets from it come in (as a shell keeps one socket per peer).
    pub known: BTreeMap<(ServerId, ServerId), u64>,
}

impl Net {
    /// Opens a link between `a` and `b`; returns its id.
    pub fn open(&mut self, a: End, b: End) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.links.insert(
            id,
            Link {
                ends: [a, b],
                open: [true, true],
                dirs: [Direction::default(), Direction::default()],
                announced: false,
            },
        );
        id
    }

    /// Whether `from` cannot reach `to` now.
    pub fn is_blocked(&self, from: End, to: End) -> bool {
        match (from, to) {
            (End::Member(a), End::Member(b)) => self.blocked.contains(&(a, b)),
            _ => false,
        }
    }

    /// Forgets a link.
    pub fn remove(&mut self, id: u64) -> Option<Link> {
        self.links.remove(&id)
    }

    /// Quorum links (between two members), in id order.
    pub fn quorum_links(&self) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| matches!(l.ends, [End::Member(_), End::Member(_)]))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Links touching member `m`, in id order.
    pub fn links_of(&self, m: ServerId) -> Vec<u64> {
        self.links
            .iter()
            .filter(|(_, l)| l.ends.contains(&End::Member(m)))
            .map(|(id, _)| *id)
            .collect()
    }
}
