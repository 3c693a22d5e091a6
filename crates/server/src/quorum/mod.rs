//! The ensemble's transport in the shell: the election port ([`election`]) and the quorum
//! port's links ([`link`]), driven by the core's ensemble outputs.
//!
//! [`QuorumNet`] carries out `SendVote`, `Send`, `SendSnapshot`, `ConnectToLeader`,
//! `DropPeer` and `ListenQuorum`, and turns link events into the core's `PeerUp`, `Peer`,
//! `SnapReceived` and `PeerDown` inputs. Packets for a link collect during a batch and go to
//! its writer at the batch's end (one write per link per batch, as for client connections).
//! A SNAP stream is written a slice at a time between batches while the writer keeps up;
//! packets sent to that learner meanwhile wait until the stream has ended.

pub mod election;
pub mod link;
pub mod sasl;
pub mod tls;
pub mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use menagerie_core::replica::Replica;
use menagerie_core::snap_stream::{SLICE_NODES, SnapWriter};
use menagerie_core::{Input, Output};
use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::{ServerId, Zxid};
use tokio::task::JoinHandle;

use crate::config::quorum::QuorumConfig;
use crate::inbox::{LinkCmd, LinkEvent, LinkHandle};
use election::ElectionNet;
use link::LinkContext;

/// Bytes a link's writer may have queued before the next slice of a SNAP stream is made.
pub const SNAP_QUEUE_BYTES: usize = 4 << 20;

/// How long a leader keeps trying to bind its quorum port (the previous leader's socket may
/// still be closing).
const BIND_ATTEMPTS: u32 = 50;

/// One live link.
#[derive(Debug)]
struct Link {
    id: u64,
    handle: LinkHandle,
    /// Packets of this batch.
    out: Vec<u8>,
    /// The SNAP stream being written, and the packets waiting for it to end.
    snap: Option<(SnapWriter, Vec<u8>)>,
}

/// The shell's side of the ensemble transport.
pub struct QuorumNet {
    me: ServerId,
    /// Every member's quorum-port addresses.
    quorum_addrs: BTreeMap<ServerId, Vec<SocketAddr>>,
    /// Where this member listens when it leads.
    listen: Vec<SocketAddr>,
    election: ElectionNet,
    ctx: LinkContext,
    links: BTreeMap<ServerId, Link>,
    /// The dial under way to each member (its link number).
    dials: BTreeMap<ServerId, u64>,
    accept: Vec<JoinHandle<()>>,
    /// The zoo.cfg to rewrite when a reconfiguration activates a membership.
    config_file: Option<std::path::PathBuf>,
    /// `multiAddress.enabled`.
    multi_address: bool,
}

impl std::fmt::Debug for QuorumNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumNet")
            .field("me", &self.me)
            .field("links", &self.links.keys().collect::<Vec<_>>())
            .field("dials", &self.dials)
            .finish_non_exhaustive()
    }
}

impl QuorumNet {
    /// The transport of member `config.my_id`, with its election port already running.
    pub fn new(config: &QuorumConfig, election: ElectionNet, ctx: LinkContext) -> QuorumNet {
        let me = config.my_id;
        let quorum_addrs = config
            .members
            .iter()
            .map(|(id, m)| (*id, m.quorum.clone()))
            .collect();
        let mut listen: Vec<SocketAddr> = config.me().map(|m| m.quorum.clone()).unwrap_or_default();
        if config.listen_on_all_ips {
            for a in &mut listen {
                a.set_ip(std::net::Ipv4Addr::UNSPECIFIED.into());
            }
        }
        QuorumNet {
            me,
            quorum_addrs,
            listen,
            election,
            ctx,
            links: BTreeMap::new(),
            dials: BTreeMap::new(),
            accept: Vec::new(),
            config_file: config.config_file.clone(),
            multi_address: config.multi_address,
        }
    }

    /// Carries out one ensemble output; what the core must hear at once goes to `inputs`.
    /// Returns the output back if it is not the transport's.
    pub fn execute(&mut self, o: Output, inputs: &mut Vec<Input>) -> Option<Output> {
        match o {
            Output::SendVote { to, notification } => self.election.send(to, &notification),
            Output::Send { to, packet } => self.send(to, &packet),
            Output::SendSnapshot { to, zxid } => self.send_snapshot(to, zxid),
            Output::ConnectToLeader { leader } => self.connect(leader, inputs),
            Output::DropPeer { peer } => self.drop_peer(peer),
            Output::ListenQuorum(on) => self.listen(on),
            Output::ConfigActivated { text, version } => self.activate_config(&text, version),
            other => return Some(other),
        }
        None
    }

    /// A reconfiguration's membership: its addresses are dialled from now on, and the
    /// dynamic configuration file is written with zoo.cfg pointing at it.
    fn activate_config(&mut self, text: &str, version: i64) {
        let members = match crate::config::quorum::members_from_text(text, self.multi_address) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "activated configuration has unresolvable members; addresses kept");
                return;
            }
        };
        self.quorum_addrs = members
            .iter()
            .map(|(s, m)| (*s, m.quorum.clone()))
            .collect();
        self.election.set_addrs(
            members
                .iter()
                .map(|(s, m)| (*s, m.election.clone()))
                .collect(),
        );
        if let Some(cfg) = &self.config_file {
            let own_client = members.get(&self.me).is_some_and(|m| m.client.is_some());
            match crate::config::dynamic_file::write(cfg, text, version, own_client) {
                Ok(path) => tracing::info!(file = %path.display(), "dynamic configuration written"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot write the dynamic configuration file")
                }
            }
        }
    }

    fn send(&mut self, to: ServerId, packet: &QuorumPacket) {
        let Some(link) = self.links.get_mut(&to) else {
            tracing::debug!(peer = %to, kind = ?packet.kind(), "no link: packet dropped");
            return;
        };
        match &mut link.snap {
            Some((_, held)) => packet.write(held),
            None => packet.write(&mut link.out),
        }
    }

    fn send_snapshot(&mut self, to: ServerId, zxid: Zxid) {
        let Some(link) = self.links.get_mut(&to) else {
            return;
        };
        QuorumPacket::new(PacketType::Snap, zxid).write(&mut link.out);
        link.snap = Some((SnapWriter::new(), Vec::new()));
        tracing::info!(learner = %to, zxid = %zxid, "sending a snapshot");
    }

    fn connect(&mut self, leader: ServerId, inputs: &mut Vec<Input>) {
        let Some(addrs) = self.quorum_addrs.get(&leader).cloned() else {
            inputs.push(Input::PeerDown { peer: leader });
            return;
        };
        if let Some(old) = self.links.remove(&leader) {
            close(old);
        }
        let id = self.ctx.next_id();
        self.dials.insert(leader, id);
        link::dial(addrs, leader, id, self.ctx.clone());
    }

    fn drop_peer(&mut self, peer: ServerId) {
        self.dials.remove(&peer);
        if let Some(link) = self.links.remove(&peer) {
            close(link);
        }
    }

    fn listen(&mut self, on: bool) {
        for task in self.accept.drain(..) {
            task.abort();
        }
        if !on {
            return;
        }
        for addr in self.listen.clone() {
            let ctx = self.ctx.clone();
            self.accept.push(tokio::spawn(async move {
                for _ in 0..BIND_ATTEMPTS {
                    match bind(addr) {
                        Ok(l) => {
                            tracing::info!(%addr, "listening for learners");
                            return link::accept_loop(l, ctx).await;
                        }
                        Err(e) => {
                            tracing::debug!(%addr, error = %e, "quorum port busy; trying again");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
                tracing::error!(%addr, "cannot listen on the quorum port: learners cannot connect");
            }));
        }
    }

    /// The core's input for a link event, if the link is current.
    pub fn link_event(&mut self, peer: ServerId, id: u64, event: LinkEvent) -> Option<Input> {
        let current = self.links.get(&peer).is_some_and(|l| l.id == id);
        match event {
            LinkEvent::Up(handle) => self.link_up(peer, id, handle),
            LinkEvent::Packet(packet) if current => Some(Input::Peer { from: peer, packet }),
            LinkEvent::Snap(replica) if current => Some(Input::SnapReceived {
                from: peer,
                replica,
            }),
            LinkEvent::Down if current => {
                self.links.remove(&peer);
                Some(Input::PeerDown { peer })
            }
            LinkEvent::Down if self.dials.get(&peer) == Some(&id) => {
                self.dials.remove(&peer);
                Some(Input::PeerDown { peer })
            }
            _ => None,
        }
    }

    /// A dial this member still wants, or a learner that connected (replacing its old
    /// link); anything else is closed at once.
    fn link_up(&mut self, peer: ServerId, id: u64, handle: LinkHandle) -> Option<Input> {
        let dialled = self.dials.get(&peer) == Some(&id);
        if !dialled && self.accept.is_empty() {
            let _ = handle.tx.try_send(LinkCmd::Close);
            return None;
        }
        self.dials.remove(&peer);
        let link = Link {
            id,
            handle,
            out: Vec::new(),
            snap: None,
        };
        if let Some(old) = self.links.insert(peer, link) {
            close(old);
        }
        Some(Input::PeerUp { peer })
    }

    /// Hands each link the packets of the batch; a link whose writer cannot keep up is
    /// dropped (and the core told).
    pub fn flush(&mut self, inputs: &mut Vec<Input>) {
        let mut slow = Vec::new();
        for (peer, link) in &mut self.links {
            if !link.out.is_empty() && !queue(&link.handle, std::mem::take(&mut link.out)) {
                slow.push(*peer);
            }
        }
        self.drop_slow(slow, inputs);
    }

    fn drop_slow(&mut self, peers: Vec<ServerId>, inputs: &mut Vec<Input>) {
        for peer in peers {
            tracing::warn!(peer = %peer, "quorum link cannot keep up; dropping it");
            if let Some(link) = self.links.remove(&peer) {
                close(link);
            }
            inputs.push(Input::PeerDown { peer });
        }
    }

    /// Writes the next slice of each SNAP stream whose writer has room; a stream that ends
    /// releases the packets held behind it.
    pub fn step_snapshots(&mut self, replica: &Replica, inputs: &mut Vec<Input>) {
        let mut failed = Vec::new();
        for (peer, link) in &mut self.links {
            let Some((writer, _)) = link.snap.as_mut() else {
                continue;
            };
            if link.handle.queued.load(Ordering::Relaxed) > SNAP_QUEUE_BYTES {
                continue;
            }
            match writer.next_slice(replica, SLICE_NODES) {
                Ok(Some(bytes)) => {
                    if !queue(&link.handle, bytes) {
                        failed.push(*peer);
                    }
                }
                Ok(None) => {
                    if let Some((_, held)) = link.snap.take()
                        && !held.is_empty()
                        && !queue(&link.handle, held)
                    {
                        failed.push(*peer);
                    }
                }
                Err(e) => {
                    tracing::warn!(learner = %peer, error = %e, "snapshot stream given up; the learner will sync again");
                    failed.push(*peer);
                }
            }
        }
        self.drop_slow(failed, inputs);
    }

    /// Whether a SNAP stream is being written.
    pub fn streaming(&self) -> bool {
        self.links.values().any(|l| l.snap.is_some())
    }

    /// Resolves when a link that streams a snapshot has written something (never without
    /// one).
    pub async fn stream_room(&self) {
        match self.links.values().find(|l| l.snap.is_some()) {
            Some(l) => l.handle.written.notified().await,
            None => std::future::pending().await,
        }
    }

    /// Stops listening and closes every link (at shutdown).
    pub fn shutdown(&mut self) {
        self.listen(false);
        for (_, link) in std::mem::take(&mut self.links) {
            close(link);
        }
    }
}

/// Queues bytes on a link; false if its writer is gone or too far behind.
fn queue(handle: &LinkHandle, bytes: Vec<u8>) -> bool {
    let len = bytes.len();
    handle.queued.fetch_add(len, Ordering::Relaxed);
    handle.tx.try_send(LinkCmd::Bytes(bytes)).is_ok()
}

/// Closes a link after what it has queued (the batch's packets included).
fn close(link: Link) {
    if !link.out.is_empty() {
        queue(&link.handle, link.out);
    }
    let _ = link.handle.tx.try_send(LinkCmd::Close);
}

/// Binds a listener (SO_REUSEADDR, as std sets it on Unix) for the tokio runtime.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(l)
}
