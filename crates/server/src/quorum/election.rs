//! The election port (ZooKeeper: `QuorumCnxManager`; spec 09 §2): one TCP connection per
//! pair of members, kept by the member with the larger sid; the dialler's initial message
//! in one write; 4-byte length frames of FLE notifications; a send queue of one message per
//! peer (a new one replaces an unsent one) and the last message sent again whenever a
//! connection (re)starts. Notifications received go to the shell as `Input::Vote`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use menagerie_core::Input;
use menagerie_proto::ServerId;
use menagerie_proto::quorum::Notification;
use menagerie_proto::quorum::election::{InitialMessage, MAX_NOTIFICATION};
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::transport::{QuorumStream, Transport};
use crate::inbox::ToShell;

/// How the election transport reaches every member.
#[derive(Debug, Clone)]
pub struct ElectionPeers {
    /// This member.
    pub me: ServerId,
    /// Every member's election addresses.
    pub addrs: BTreeMap<ServerId, Vec<SocketAddr>>,
    /// Send the V2 header (several addresses).
    pub multi_address: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// How long an accepted connection may take to send its header.
    pub header_timeout: Duration,
    /// TLS and SASL between members.
    pub transport: Transport,
}

/// A message for the manager task.
enum Cmd {
    /// Send a notification to a member.
    Send(ServerId, Arc<Vec<u8>>),
    /// A connection this member may keep: accepted from a larger sid, or dialled to a
    /// smaller one (with the bytes read after its header or authentication).
    Install(ServerId, QuorumStream, Vec<u8>),
    /// A dial ended without a connection to keep.
    DialEnded(ServerId),
    /// A smaller sid dialled: it must be called back.
    CallBack(ServerId),
    /// A connection ended.
    Closed(ServerId, u64),
    /// A reconfiguration changed the members' election addresses.
    SetAddrs(BTreeMap<ServerId, Vec<SocketAddr>>),
}

/// The handle the shell sends notifications through.
#[derive(Debug, Clone)]
pub struct ElectionNet {
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Send(s, _) => write!(f, "Send({s})"),
            Cmd::Install(s, _, _) => write!(f, "Install({s})"),
            Cmd::DialEnded(s) => write!(f, "DialEnded({s})"),
            Cmd::CallBack(s) => write!(f, "CallBack({s})"),
            Cmd::Closed(s, c) => write!(f, "Closed({s}, {c})"),
            Cmd::SetAddrs(a) => write!(f, "SetAddrs({:?})", a.keys().collect::<Vec<_>>()),
        }
    }
}

impl ElectionNet {
    /// Starts the transport on bound listeners; notifications go to `shell`.
    pub fn start(
        listeners: Vec<TcpListener>,
        peers: ElectionPeers,
        shell: mpsc::Sender<ToShell>,
    ) -> (ElectionNet, tokio::task::JoinHandle<()>) {
        let (cmd, rx) = mpsc::unbounded_channel();
        let net = ElectionNet { cmd: cmd.clone() };
        let manager = Manager {
            peers: Arc::new(peers),
            shell,
            cmd,
            conns: BTreeMap::new(),
            next_conn: 0,
            events: Vec::new(),
        };
        let task = tokio::spawn(manager.run(listeners, rx));
        (net, task)
    }

    /// Sends a notification to `to` (dialling if needed).
    pub fn send(&self, to: ServerId, n: &Notification) {
        let _ = self.cmd.send(Cmd::Send(to, Arc::new(n.to_bytes())));
    }

    /// Dials members at these election addresses from now on (a reconfiguration).
    pub fn set_addrs(&self, addrs: BTreeMap<ServerId, Vec<SocketAddr>>) {
        let _ = self.cmd.send(Cmd::SetAddrs(addrs));
    }
}

/// Tasks aborted when this is dropped.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// The latest notification for a peer (the send queue of one).
type Latest = Option<Arc<Vec<u8>>>;

/// One member's connection state.
#[derive(Debug, Default)]
struct Peer {
    /// The live connection: its id and the watch its writer sends from.
    conn: Option<(u64, watch::Sender<Latest>)>,
    /// The last notification sent to it (sent again on every new connection).
    last: Option<Arc<Vec<u8>>>,
    dialing: bool,
}

struct Manager {
    peers: Arc<ElectionPeers>,
    shell: mpsc::Sender<ToShell>,
    cmd: mpsc::UnboundedSender<Cmd>,
    conns: BTreeMap<ServerId, Peer>,
    next_conn: u64,
    /// Connections that came up or closed, for the core, in order.
    events: Vec<(ServerId, bool)>,
}

impl Manager {
    async fn run(mut self, listeners: Vec<TcpListener>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        // Dropped (aborting the accept loops) when this future ends or is dropped.
        let _accept = AbortOnDrop(
            listeners
                .into_iter()
                .map(|l| tokio::spawn(accept_loop(l, Arc::clone(&self.peers), self.cmd.clone())))
                .collect(),
        );
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Send(to, bytes) => self.send(to, bytes),
                Cmd::Install(sid, stream, rest) => self.install(sid, stream, rest),
                Cmd::DialEnded(sid) => self.peer(sid).dialing = false,
                Cmd::CallBack(sid) => {
                    // ZooKeeper closes what it has to the smaller sid and dials it.
                    self.peer(sid).conn = None;
                    self.dial(sid);
                }
                Cmd::SetAddrs(addrs) => {
                    let mut peers = (*self.peers).clone();
                    peers.addrs = addrs;
                    self.peers = Arc::new(peers);
                }
                Cmd::Closed(sid, id) => {
                    let p = self.peer(sid);
                    if p.conn.as_ref().is_some_and(|(c, _)| *c == id) {
                        p.conn = None;
                        self.events.push((sid, false));
                    }
                }
            }
            for (peer, up) in std::mem::take(&mut self.events) {
                let input = Input::ElectionLink { peer, up };
                if self.shell.send(ToShell::Input(input)).await.is_err() {
                    return;
                }
            }
        }
    }

    fn peer(&mut self, sid: ServerId) -> &mut Peer {
        self.conns.entry(sid).or_default()
    }

    fn send(&mut self, to: ServerId, bytes: Arc<Vec<u8>>) {
        let p = self.peer(to);
        p.last = Some(Arc::clone(&bytes));
        match &p.conn {
            Some((_, tx)) => {
                let _ = tx.send(Some(bytes));
            }
            None => self.dial(to),
        }
    }

    /// Dials `to` unless a dial is under way (spec 09 §2.1: only when not connected).
    fn dial(&mut self, to: ServerId) {
        let peers = Arc::clone(&self.peers);
        let cmd = self.cmd.clone();
        let p = self.peer(to);
        if p.dialing || p.conn.is_some() {
            return;
        }
        p.dialing = true;
        tokio::spawn(async move {
            match dial(&peers, to).await {
                // A larger sid keeps the connection: ours only asked it to call back.
                Some((stream, rest)) if to < peers.me => {
                    let _ = cmd.send(Cmd::Install(to, stream, rest));
                }
                Some((mut stream, _)) => {
                    let _ = stream.shutdown().await;
                }
                None => {}
            }
            let _ = cmd.send(Cmd::DialEnded(to));
        });
    }

    /// Keeps a connection to `sid`, replacing any previous one; the last notification goes
    /// out on it at once.
    fn install(&mut self, sid: ServerId, stream: QuorumStream, rest: Vec<u8>) {
        self.next_conn += 1;
        let id = self.next_conn;
        let (read, write) = tokio::io::split(stream);
        let p = self.peer(sid);
        let (tx, rx) = watch::channel(p.last.clone());
        p.conn = Some((id, tx));
        let cmd = self.cmd.clone();
        tokio::spawn(writer(write, rx, cmd.clone(), sid, id));
        let read = std::io::Cursor::new(rest).chain(read);
        tokio::spawn(reader(read, self.shell.clone(), cmd, sid, id));
        self.events.push((sid, true));
        tracing::debug!(peer = %sid, "election connection up");
    }
}

/// Connects to one of `to`'s election addresses, sends the initial message in one write and
/// authenticates if quorum SASL asks it to; returns the stream with the bytes read after
/// the authentication.
async fn dial(peers: &ElectionPeers, to: ServerId) -> Option<(QuorumStream, Vec<u8>)> {
    let addrs = peers.addrs.get(&to)?;
    let mine: Vec<String> = peers
        .addrs
        .get(&peers.me)
        .map(|a| a.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let header = InitialMessage {
        sid: peers.me,
        addrs: mine,
    }
    .to_bytes(peers.multi_address);
    let transport = &peers.transport;
    for addr in addrs {
        let mut stream = match transport.connect(*addr, peers.connect_timeout).await {
            Ok(s) => s,
            Err(why) => {
                tracing::debug!(peer = %to, %addr, why, "cannot open an election connection");
                continue;
            }
        };
        if stream.write_all(&header).await.is_err() || stream.flush().await.is_err() {
            continue;
        }
        match transport
            .authenticate_to(&mut stream, peers.connect_timeout)
            .await
        {
            Ok(rest) => return Some((stream, rest)),
            Err(why) => tracing::warn!(peer = %to, %addr, why, "quorum SASL failed"),
        }
    }
    tracing::debug!(peer = %to, "cannot connect to the election port");
    None
}

/// Accepts connections and reads their initial message (each in its own task, so that a
/// silent peer holds up nobody).
async fn accept_loop(
    listener: TcpListener,
    peers: Arc<ElectionPeers>,
    cmd: mpsc::UnboundedSender<Cmd>,
) {
    loop {
        let Ok((stream, from)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let (peers, cmd) = (Arc::clone(&peers), cmd.clone());
        tokio::spawn(async move {
            let timeout = peers.header_timeout;
            let opened = async {
                let s = peers.transport.accept(stream, timeout).await?;
                let (header, mut s, rest) = read_header(s, timeout).await.map_err(str::to_owned)?;
                let rest = peers
                    .transport
                    .authenticate_from(&mut s, rest, timeout)
                    .await?;
                Ok::<_, String>((header, s, rest))
            };
            match opened.await {
                Ok((header, stream, rest)) => admit(&peers, &cmd, header, stream, rest),
                Err(why) => tracing::warn!(%from, why, "election connection refused"),
            }
        });
    }
}

/// Applies the rule on which side keeps a connection (spec 09 §2.1).
fn admit(
    peers: &ElectionPeers,
    cmd: &mpsc::UnboundedSender<Cmd>,
    h: InitialMessage,
    stream: QuorumStream,
    rest: Vec<u8>,
) {
    if h.sid < peers.me {
        drop(stream);
        let _ = cmd.send(Cmd::CallBack(h.sid));
    } else if h.sid == peers.me {
        tracing::warn!("election connection from a server with our own id");
    } else {
        let _ = cmd.send(Cmd::Install(h.sid, stream, rest));
    }
}

/// Reads a connection's initial message; returns it with the bytes read after it (the
/// dialler may send its first notification at once).
async fn read_header(
    mut stream: QuorumStream,
    timeout: Duration,
) -> Result<(InitialMessage, QuorumStream, Vec<u8>), &'static str> {
    let mut buf = Vec::with_capacity(64);
    let read = async {
        loop {
            let mut chunk = [0u8; 256];
            let n = stream.read(&mut chunk).await.map_err(|_| "read failed")?;
            if n == 0 {
                return Err("closed before its header");
            }
            buf.extend_from_slice(&chunk[..n]);
            match InitialMessage::parse(&buf) {
                Ok(Some((h, used))) => return Ok((h, used)),
                Ok(None) => {}
                Err(_) => return Err("bad header"),
            }
        }
    };
    let (h, used) = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| "no header in time")??;
    let rest = buf.split_off(used);
    Ok((h, stream, rest))
}

/// Writes the latest notification whenever it changes (the send queue of one).
async fn writer(
    mut w: WriteHalf<QuorumStream>,
    mut rx: watch::Receiver<Latest>,
    cmd: mpsc::UnboundedSender<Cmd>,
    sid: ServerId,
    id: u64,
) {
    loop {
        let msg = rx.borrow_and_update().clone();
        if let Some(bytes) = msg {
            let mut frame = Vec::with_capacity(4 + bytes.len());
            frame.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            frame.extend_from_slice(&bytes);
            if w.write_all(&frame).await.is_err() || w.flush().await.is_err() {
                break;
            }
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
    let _ = cmd.send(Cmd::Closed(sid, id));
}

/// Reads frames and hands each notification to the shell.
async fn reader(
    mut r: impl tokio::io::AsyncRead + Unpin,
    shell: mpsc::Sender<ToShell>,
    cmd: mpsc::UnboundedSender<Cmd>,
    sid: ServerId,
    id: u64,
) {
    loop {
        let mut len = [0u8; 4];
        if r.read_exact(&mut len).await.is_err() {
            break;
        }
        let len = i32::from_be_bytes(len);
        if len <= 0 || len as usize > MAX_NOTIFICATION {
            tracing::warn!(peer = %sid, len, "bad election frame length; dropping the connection");
            break;
        }
        let mut payload = vec![0u8; len as usize];
        if r.read_exact(&mut payload).await.is_err() {
            break;
        }
        let Some(notification) = Notification::parse(&payload) else {
            continue;
        };
        let input = Input::Vote {
            from: sid,
            notification,
        };
        if shell.send(ToShell::Input(input)).await.is_err() {
            break;
        }
    }
    let _ = cmd.send(Cmd::Closed(sid, id));
}
