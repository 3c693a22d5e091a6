//! Quorum-port links (spec 09 §5-§6): a learner dials its leader; a leader accepts learners
//! and knows each by the sid its first packet (FOLLOWERINFO or OBSERVERINFO) names. A link is
//! a bare stream of `QuorumPacket`s both ways, read incrementally. After a SNAP packet the
//! learner's reader reads the snapshot stream that follows into a fresh replica, off the
//! shell's task. Every event reaches the shell tagged with its link's id, so that events of a
//! link that was replaced are ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use menagerie_core::replica::Replica;
use menagerie_core::snap_stream::SnapLoader;
use menagerie_proto::quorum::packet::LearnerInfo;
use menagerie_proto::quorum::snap::SnapDecoder;
use menagerie_proto::quorum::{PacketType, QuorumPacket};
use menagerie_proto::{ServerId, Zxid};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::transport::{QuorumStream, Transport};
use crate::inbox::{LinkCmd, LinkEvent, LinkHandle, ToShell};

/// Writes queued for one link before it is dropped as too slow.
pub const LINK_QUEUE: usize = 1 << 16;

/// How a fresh replica for a SNAP stream is made (the node's own settings).
#[derive(Debug, Clone, Copy)]
pub struct ReplicaTemplate {
    /// `zookeeper.extendedTypesEnabled`.
    pub extended_types: bool,
    /// Hash seed.
    pub seed: u64,
    /// `zookeeper.digest.enabled`.
    pub digest_enabled: bool,
}

impl ReplicaTemplate {
    /// An empty replica with these settings.
    pub fn fresh(self) -> Replica {
        Replica::new(self.extended_types, self.seed, self.digest_enabled)
    }
}

/// Everything a link task needs.
#[derive(Debug, Clone)]
pub struct LinkContext {
    /// Where events go.
    pub shell: mpsc::Sender<ToShell>,
    /// For SNAP streams.
    pub template: ReplicaTemplate,
    /// How long a first packet (or a dial) may take: `initLimit` ticks.
    pub init_timeout: Duration,
    /// Link numbers, shared by dials and accepts so that they never collide.
    pub ids: Arc<AtomicU64>,
    /// TLS and SASL between members.
    pub transport: Transport,
}

impl LinkContext {
    /// A fresh link number.
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Pauses between a learner's attempts to reach its leader: short at first, since the
/// leader opens its quorum port only as it takes the role, about when its followers dial
/// (ZooKeeper waits 100 ms each time); about as long in all as ZooKeeper's five attempts.
const DIAL_PAUSES_MS: [u64; 7] = [5, 10, 20, 40, 80, 160, 160];

/// A learner dials its leader: up to 8 attempts (pauses of [`DIAL_PAUSES_MS`]), each
/// bounded by the init timeout, then authenticates if quorum SASL asks it to. The link's
/// events go to the shell; a failed dial is a `Down`.
pub fn dial(addrs: Vec<std::net::SocketAddr>, leader: ServerId, id: u64, ctx: LinkContext) {
    tokio::spawn(async move {
        for attempt in 0..=DIAL_PAUSES_MS.len() {
            for addr in &addrs {
                let mut stream = match ctx.transport.connect(*addr, ctx.init_timeout).await {
                    Ok(s) => s,
                    Err(why) => {
                        tracing::debug!(leader = %leader, %addr, why, "cannot connect to the leader");
                        continue;
                    }
                };
                match ctx
                    .transport
                    .authenticate_to(&mut stream, ctx.init_timeout)
                    .await
                {
                    Ok(rest) => {
                        tracing::info!(leader = %leader, %addr, "connected to the leader");
                        run(stream, leader, id, Vec::new(), rest, ctx).await;
                        return;
                    }
                    Err(why) => {
                        tracing::warn!(leader = %leader, %addr, why, "quorum SASL with the leader failed");
                    }
                }
            }
            if let Some(pause) = DIAL_PAUSES_MS.get(attempt) {
                tokio::time::sleep(Duration::from_millis(*pause)).await;
            }
        }
        tracing::warn!(leader = %leader, "cannot connect to the leader's quorum port");
        let _ = ctx
            .shell
            .send(ToShell::Link {
                peer: leader,
                link: id,
                event: LinkEvent::Down,
            })
            .await;
    });
}

/// A leader accepts learners until aborted.
pub async fn accept_loop(listener: TcpListener, ctx: LinkContext) {
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let ctx = ctx.clone();
        let link = ctx.next_id();
        tokio::spawn(async move {
            let timeout = ctx.init_timeout;
            let opened = async {
                let mut s = ctx.transport.accept(stream, timeout).await?;
                let buf = ctx
                    .transport
                    .authenticate_from(&mut s, Vec::new(), timeout)
                    .await?;
                first_packet(s, buf, timeout).await.map_err(str::to_owned)
            };
            match opened.await {
                Ok((sid, first, stream, rest)) => {
                    run(stream, sid, link, vec![first], rest, ctx).await;
                }
                Err(why) => tracing::warn!(%from, why, "learner connection refused"),
            }
        });
    }
}

/// Reads the first packet of an accepted learner (after `buf`, bytes already read): it must
/// be FOLLOWERINFO or OBSERVERINFO naming the learner's sid.
async fn first_packet(
    mut stream: QuorumStream,
    mut buf: Vec<u8>,
    timeout: Duration,
) -> Result<(ServerId, QuorumPacket, QuorumStream, Vec<u8>), &'static str> {
    let read = async {
        loop {
            if let Some((p, used)) = QuorumPacket::decode_prefix(&buf).map_err(|_| "bad packet")? {
                return Ok((p, used));
            }
            let mut chunk = vec![0u8; 4096];
            let n = stream.read(&mut chunk).await.map_err(|_| "read failed")?;
            if n == 0 {
                return Err("closed before its first packet");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let (p, used) = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| "no first packet in time")??;
    if !matches!(
        p.kind(),
        Some(PacketType::FollowerInfo | PacketType::ObserverInfo)
    ) {
        return Err("first packet is not FOLLOWERINFO or OBSERVERINFO");
    }
    let info = LearnerInfo::parse(p.payload()).ok_or("no LearnerInfo")?;
    let rest = buf.split_off(used);
    Ok((info.server_id, p, stream, rest))
}

/// Runs a link: announces it with its writer, delivers `first` packets, then reads (starting
/// with `pending`, bytes already read after them) until the stream ends.
async fn run(
    stream: QuorumStream,
    peer: ServerId,
    id: u64,
    first: Vec<QuorumPacket>,
    pending: Vec<u8>,
    ctx: LinkContext,
) {
    let (read, write) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(LINK_QUEUE);
    let handle = LinkHandle {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        written: Arc::new(tokio::sync::Notify::new()),
    };
    let closed = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(writer(
        write,
        rx,
        Arc::clone(&handle.queued),
        Arc::clone(&handle.written),
        (ctx.init_timeout, Arc::clone(&closed)),
    ));
    let send = |event| ToShell::Link {
        peer,
        link: id,
        event,
    };
    if ctx.shell.send(send(LinkEvent::Up(handle))).await.is_err() {
        return;
    }
    for p in first {
        if ctx.shell.send(send(LinkEvent::Packet(p))).await.is_err() {
            return;
        }
    }
    if let Err(why) = reader(read, pending, peer, id, &ctx, &closed).await {
        tracing::info!(peer = %peer, why, "quorum link closed");
    }
    let _ = ctx.shell.send(send(LinkEvent::Down)).await;
}

/// Writes what the shell queues. A write that fails or takes longer than `timeout`, or a
/// `Close`, ends the link: the writer signals `closed`, which stops the reader too.
async fn writer(
    mut w: WriteHalf<QuorumStream>,
    mut rx: mpsc::Receiver<LinkCmd>,
    queued: Arc<AtomicUsize>,
    written: Arc<tokio::sync::Notify>,
    (timeout, closed): (Duration, Arc<tokio::sync::Notify>),
) {
    let mut buf = Vec::new();
    while let Some(cmd) = rx.recv().await {
        let mut close = collect(cmd, &mut buf);
        while !close && buf.len() < (1 << 20) {
            match rx.try_recv() {
                Ok(cmd) => close = collect(cmd, &mut buf),
                Err(_) => break,
            }
        }
        if !buf.is_empty() {
            let write = async {
                w.write_all(&buf).await?;
                w.flush().await
            };
            match tokio::time::timeout(timeout, write).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::warn!("quorum link write timed out");
                    break;
                }
            }
        }
        queued.fetch_sub(buf.len(), Ordering::Relaxed);
        written.notify_one();
        buf.clear();
        if close {
            break;
        }
    }
    closed.notify_one();
    let _ = tokio::time::timeout(timeout, w.shutdown()).await;
}

/// Adds a command's bytes to `buf`; true for `Close`.
fn collect(cmd: LinkCmd, buf: &mut Vec<u8>) -> bool {
    match cmd {
        LinkCmd::Bytes(b) => {
            buf.extend_from_slice(&b);
            false
        }
        LinkCmd::Close => true,
    }
}

/// Reads packets (and the stream after a SNAP) and hands them to the shell.
async fn reader(
    mut r: ReadHalf<QuorumStream>,
    mut buf: Vec<u8>,
    peer: ServerId,
    id: u64,
    ctx: &LinkContext,
    closed: &tokio::sync::Notify,
) -> Result<(), &'static str> {
    let mut snap: Option<(Zxid, SnapDecoder, SnapLoader)> = None;
    loop {
        let mut used_total = 0;
        loop {
            let rest = &buf[used_total..];
            if let Some((zxid, decoder, loader)) = snap.as_mut() {
                let Some((item, used)) = decoder.next(rest).map_err(|_| "bad snapshot stream")?
                else {
                    break;
                };
                used_total += used;
                loader.item(item).map_err(|_| "unusable snapshot stream")?;
                if loader.is_complete() {
                    let zxid = *zxid;
                    if let Some((_, _, loader)) = snap.take() {
                        let replica = Box::new(loader.finish());
                        deliver(ctx, peer, id, LinkEvent::Snap(replica)).await?;
                        tracing::info!(leader = %peer, zxid = %zxid, "snapshot stream read");
                    }
                }
                continue;
            }
            let Some((p, used)) = QuorumPacket::decode_prefix(rest).map_err(|_| "bad packet")?
            else {
                break;
            };
            used_total += used;
            if p.kind() == Some(PacketType::Snap) {
                let loader = SnapLoader::new(ctx.template.fresh(), p.zxid);
                snap = Some((p.zxid, SnapDecoder::new(), loader));
            }
            deliver(ctx, peer, id, LinkEvent::Packet(p)).await?;
        }
        buf.drain(..used_total);
        let mut chunk = vec![0u8; 64 * 1024];
        let n = tokio::select! {
            n = r.read(&mut chunk) => n.map_err(|_| "read failed")?,
            () = closed.notified() => return Err("closed by this member"),
        };
        if n == 0 {
            return Err("closed");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn deliver(
    ctx: &LinkContext,
    peer: ServerId,
    id: u64,
    event: LinkEvent,
) -> Result<(), &'static str> {
    ctx.shell
        .send(ToShell::Link {
            peer,
            link: id,
            event,
        })
        .await
        .map_err(|_| "the shell is gone")
}
