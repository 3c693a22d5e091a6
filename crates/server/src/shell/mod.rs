//! The shell task: owns the core [`Node`], turns socket events and time into inputs, and
//! routes outputs to connections.
//!
//! The shell takes up to [`MAX_BATCH`] messages at a time. Durability comes first: the
//! storage thread's durable-zxid watch is polled ahead of client input (a `biased` select)
//! and read again before every message, so replies never queue behind new requests. The txns
//! proposed while handling one batch go to the storage thread together (group commit: one
//! fsync for the batch); then every connection that got output in the batch is flushed once.
//! Between batches the shell starts snapshots when the snapshot policy says so and
//! serializes a slice of the one in progress.
//!
//! The shell uses the core in three places only: [`boot`] builds and recovers it,
//! `Shell::feed` hands it every input, and `Connections::route` (`shell/conns.rs`) carries out its
//! outputs; the operations surface (`crate::ops`) reads it through its view accessors.

pub mod boot;
mod client_port;
mod conns;
mod dumps;
mod ensemble;
mod restore;
mod storage;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use menagerie_core::{Input, Node, Now, Output, SnapshotEnd, SnapshotMode};
use menagerie_host::LogWork;
use menagerie_host::snapshot::take_snapshot;
use menagerie_proto::txn::LoggedTxn;
use menagerie_storage::{DataDirs, FsyncStats};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};

pub use boot::{Clock, recover};
use conns::Connections;
use dumps::{DumpTurns, Turn, render_elsewhere};

use crate::config::ServerConfig;
use crate::config::quorum::QuorumConfig;
use crate::conn;
use crate::inbox::{Answer, ConnCounts, Query, SnapshotOutcome, ToShell};
use crate::ops;
use crate::ops::dumps::Reply;
use crate::ops::view::ShellView;
use crate::persistence::{Recovered, StorageThread};
use crate::quorum::QuorumNet;
use crate::quorum::election::{ElectionNet, ElectionPeers};
use crate::quorum::link::{LinkContext, ReplicaTemplate};
use crate::quorum::transport::Transport;
use crate::snapshotter::{Progress, Snapshotter};

/// How many messages the shell takes before acknowledging persistence (bounds latency).
pub const MAX_BATCH: usize = 256;

/// Why the shell woke up.
enum Wake {
    Message(ToShell),
    Durable,
    Timer,
    SnapshotRoom,
    /// Time to probe the data directory that failed.
    Probe,
}

/// Every socket the server listens on, bound before it starts.
pub struct Listeners {
    /// `clientPort`.
    pub client: TcpListener,
    /// `secureClientPort` with its TLS acceptor.
    pub secure: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    /// The admin HTTP and Prometheus ports.
    pub admin: crate::http::Listeners,
    /// The election port(s) of an ensemble member (empty when standalone).
    pub election: Vec<TcpListener>,
    /// How an ensemble member reaches and accepts the others (TLS, SASL).
    pub quorum_transport: Transport,
}

/// The accept loops' connection table: `maxClientCnxns`, and `maxCnxns` within the budget
/// of file descriptors (the soft limit raised to the hard one first).
fn admission_table(config: &ServerConfig) -> crate::admission::ConnTable {
    let fd_limit = crate::admission::raise_fd_limit();
    let total = crate::admission::total_limit(config.max_cnxns, fd_limit);
    tracing::info!(
        max_cnxns = total,
        open_file_limit = ?fd_limit,
        "client connections admitted in all (maxCnxns within the open file limit)"
    );
    crate::admission::ConnTable::new(config.max_client_cnxns, total)
}

/// Runs the server until `shutdown` turns true: starts the accept loops and the admin server,
/// then the shell's loop.
pub async fn run(
    config: ServerConfig,
    clock: Clock,
    server: Node,
    recovered: Recovered,
    listeners: Listeners,
    mut shutdown: watch::Receiver<bool>,
) {
    let (tx, rx) = mpsc::channel::<ToShell>(4096);
    let config = Arc::new(config);
    let counts: ConnCounts = Arc::new(std::sync::Mutex::new(admission_table(&config)));
    let secure_accept = listeners.secure.map(|(l, acceptor)| {
        tokio::spawn(conn::secure_accept_loop(
            l,
            acceptor,
            Arc::clone(&config),
            tx.clone(),
            Arc::clone(&counts),
            shutdown.clone(),
        ))
    });
    let accept = client_port::ClientPort::start(
        listeners.client,
        Arc::clone(&config),
        tx.clone(),
        counts,
        shutdown.clone(),
    );
    let admin = tokio::spawn(listeners.admin.serve(tx.clone(), shutdown.clone()));
    let quorum = config.quorum.as_ref().map(|q| {
        let (election, transport) = (listeners.election, listeners.quorum_transport);
        start_quorum(q, &config, (election, transport), tx.clone())
    });
    let election = quorum.as_ref().map(|(_, task)| task.abort_handle());
    let mut shell = Shell::new(config, clock, server, recovered, tx, rx);
    shell.quorum = quorum.map(|(net, _)| net);
    shell.client_port = Some(accept);
    shell.serve(&mut shutdown).await;
    if let Some(q) = shell.quorum.as_mut() {
        q.shutdown();
    }
    if let Some(e) = election {
        e.abort();
    }
    if let Some(port) = shell.client_port.take() {
        port.stop();
    }
    admin.abort();
    if let Some(a) = secure_accept {
        a.abort();
    }
    // Dropping the outboxes ends every connection's writer, which closes its socket.
    drop(shell);
}

/// Starts the election transport and the quorum links of member `q`.
fn start_quorum(
    q: &QuorumConfig,
    config: &ServerConfig,
    (election, transport): (Vec<TcpListener>, Transport),
    shell: mpsc::Sender<ToShell>,
) -> (QuorumNet, tokio::task::JoinHandle<()>) {
    let cnx_timeout = Duration::from_millis(q.cnx_timeout_ms);
    let peers = ElectionPeers {
        me: q.my_id,
        addrs: q
            .members
            .iter()
            .map(|(id, m)| (*id, m.election.clone()))
            .collect(),
        multi_address: q.multi_address,
        connect_timeout: cnx_timeout,
        header_timeout: cnx_timeout,
        transport: transport.clone(),
    };
    let (net, task) = ElectionNet::start(election, peers, shell.clone());
    let ctx = LinkContext {
        shell,
        template: replica_template(config),
        init_timeout: Duration::from_millis(config.tick_ms * q.init_limit.max(1)),
        ids: Arc::default(),
        transport,
    };
    (QuorumNet::new(q, net, ctx), task)
}

/// The settings of a fresh replica (a SNAP stream's, or one rebuilt after a TRUNC).
fn replica_template(config: &ServerConfig) -> ReplicaTemplate {
    ReplicaTemplate {
        extended_types: config.extended_types,
        seed: 0,
        digest_enabled: config.digest_enabled,
    }
}

/// The shell's state: the core, the connections, the storage thread and the snapshots.
struct Shell {
    config: Arc<ServerConfig>,
    clock: Clock,
    started: Now,
    server: Node,
    inbox: mpsc::Receiver<ToShell>,
    /// The shell's own inbox, for the snapshot threads' reports.
    to_self: mpsc::Sender<ToShell>,
    /// The highest durable zxid, published by the storage thread.
    durable: watch::Receiver<i64>,
    /// The highest durable zxid the core was told about.
    last_durable: i64,
    storage: StorageThread,
    /// Whether the log and the data directory work (see `shell/storage.rs`).
    health: storage::StorageHealth,
    dirs: DataDirs,
    fsync_stats: Arc<FsyncStats>,
    /// The snapshots the core asked for, started after the batch, one at a time.
    snapshot_asked: VecDeque<SnapshotMode>,
    snapshot: Option<Snapshotter>,
    snapshots_started: u64,
    conns: Connections,
    /// The core's outputs not yet routed.
    out: Vec<Output>,
    /// The batch's txns, for the storage thread.
    to_persist: Vec<Arc<LoggedTxn>>,
    /// Outputs for others than the client connections and the log.
    others: Vec<Output>,
    /// The ensemble transport of a member (`None` when standalone).
    quorum: Option<QuorumNet>,
    /// Turns for the large operator answers rendered off this task.
    dumps: DumpTurns,
    /// The client port's accept loop (a reconfiguration may move it).
    client_port: Option<client_port::ClientPort>,
}

impl Shell {
    fn new(
        config: Arc<ServerConfig>,
        clock: Clock,
        server: Node,
        recovered: Recovered,
        to_self: mpsc::Sender<ToShell>,
        inbox: mpsc::Receiver<ToShell>,
    ) -> Shell {
        let Recovered {
            dirs,
            log,
            fsync_stats,
            replayed,
        } = recovered;
        let (durable_tx, durable) = watch::channel(0i64);
        let storage = StorageThread::start(log, durable_tx, to_self.clone());
        let _ = replayed;
        let conns = Connections::new(config.max_queued_bytes_total);
        Shell {
            started: clock.now(),
            config,
            clock,
            server,
            inbox,
            to_self,
            durable,
            last_durable: 0,
            storage,
            health: storage::StorageHealth::default(),
            dirs,
            fsync_stats,
            snapshot_asked: VecDeque::new(),
            snapshot: None,
            snapshots_started: 0,
            conns,
            out: Vec::new(),
            to_persist: Vec::new(),
            others: Vec::new(),
            quorum: None,
            dumps: DumpTurns::new(ops::dumps::MAX_RENDERING),
            client_port: None,
        }
    }

    /// The loop: wait, handle a batch, finish it; until shutdown or every sender is gone.
    async fn serve(&mut self, shutdown: &mut watch::Receiver<bool>) {
        // A snapshot of txns replayed at startup is due at once (the core's deadline says so),
        // so it starts before any client.
        while let Some(wake) = self.wait(shutdown).await {
            let now = self.clock.now();
            self.batch(now, wake);
            self.end_batch(now);
        }
    }

    /// Waits for the next reason to work; `None` at shutdown.
    async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> Option<Wake> {
        let deadline = self.server.next_deadline().map(|d| self.clock.instant(d));
        tokio::select! {
            biased;
            _ = shutdown.changed() => None,
            // Durability first: replies wait on it, and it must not queue behind client input.
            Ok(()) = self.durable.changed() => Some(Wake::Durable),
            msg = self.inbox.recv() => msg.map(Wake::Message),
            _ = sleep_until(deadline) => Some(Wake::Timer),
            _ = snapshot_room(&self.snapshot) => Some(Wake::SnapshotRoom),
            _ = stream_room(&self.quorum) => Some(Wake::SnapshotRoom),
            _ = sleep_until(self.health.probe_at()) => Some(Wake::Probe),
        }
    }

    /// Handles the message that woke the shell and up to [`MAX_BATCH`] in all that are
    /// already queued, routing the outputs of each in turn.
    fn batch(&mut self, now: Now, wake: Wake) {
        let (mut next, mut tick) = match wake {
            Wake::Message(m) => (Some(m), false),
            Wake::Timer => (None, true),
            Wake::Durable | Wake::SnapshotRoom => (None, false),
            Wake::Probe => {
                self.probe_dir(now);
                (None, false)
            }
        };
        let mut handled = 0;
        loop {
            self.take_durable(now);
            match next.take() {
                Some(msg) => self.on_message(now, msg),
                None if tick => {
                    tick = false;
                    self.feed(now, Input::Tick);
                }
                None => {}
            }
            self.dispatch();
            self.drop_overflowed(now);
            handled += 1;
            if handled >= MAX_BATCH {
                break;
            }
            match self.inbox.try_recv() {
                Ok(m) => next = Some(m),
                Err(_) => break,
            }
        }
    }

    /// Tells the core what the storage thread made durable since it last looked.
    fn take_durable(&mut self, now: Now) {
        let up_to = *self.durable.borrow();
        if up_to > self.last_durable {
            self.last_durable = up_to;
            self.server.handle(
                now,
                Input::Persisted {
                    up_to: menagerie_proto::Zxid(up_to),
                },
                &mut self.out,
            );
        }
    }

    fn on_message(&mut self, now: Now, msg: ToShell) {
        match msg {
            ToShell::Register { conn, tx, peer } => self.conns.register(conn, tx, peer),
            ToShell::Input(input) => self.feed(now, input),
            ToShell::Inputs(inputs) => {
                for input in inputs {
                    self.feed(now, input);
                    // Outputs go out in order, per input, as for single inputs.
                    self.dispatch();
                }
            }
            ToShell::FourLetter { word, peer, reply } => {
                self.on_four_letter(now, word, peer, reply, None)
            }
            ToShell::Admin { query, reply } => self.on_admin(now, query, reply, None),
            ToShell::Turn { request, permit } => match *request {
                ToShell::FourLetter { word, peer, reply } => {
                    self.on_four_letter(now, word, peer, reply, Some(permit))
                }
                ToShell::Admin { query, reply } => self.on_admin(now, query, reply, Some(permit)),
                other => self.on_message(now, other),
            },
            ToShell::StorageFailed(e) => self.on_storage_failed(now, &e),
            ToShell::StorageRecovered { down } => self.on_storage_recovered(now, down),
            ToShell::SnapshotDone { id, outcome } => self.on_snapshot_done(now, id, outcome),
            ToShell::Link { peer, link, event } => self.on_link(now, peer, link, event),
        }
    }

    /// Hands one input to the core; forgets a connection that is gone.
    fn feed(&mut self, now: Now, input: Input) {
        let gone = match &input {
            Input::Disconnected { conn } => Some(*conn),
            _ => None,
        };
        self.server.handle(now, input, &mut self.out);
        if let Some(c) = gone {
            self.conns.forget(c);
        }
    }

    /// Routes the core's outputs (see [`Connections::route`]) and carries out the others,
    /// until the outputs they lead to are routed too.
    fn dispatch(&mut self) {
        loop {
            let persisted_before = self.to_persist.len();
            self.conns
                .route(&mut self.out, &mut self.to_persist, &mut self.others);
            if self.others.is_empty() && self.out.is_empty() {
                return;
            }
            let now = self.clock.now();
            for o in std::mem::take(&mut self.others) {
                // After a failed data-directory write, what the core produced with it (an
                // acknowledgement of what is not on disk) is dropped; the snapshots it asked
                // for are still taken, as the core waits for their end.
                if self.health.discard_rest && !matches!(o, Output::TakeSnapshot(_)) {
                    continue;
                }
                self.other_output(now, o);
            }
            if std::mem::take(&mut self.health.discard_rest) {
                // Its txns too (a sync logged without its `updatingEpoch` marker could not
                // restart); the state is reloaded from disk before the member elects again.
                self.to_persist.truncate(persisted_before);
            }
        }
    }

    /// Disconnects, in the core, the connections whose output overflowed.
    fn drop_overflowed(&mut self, now: Now) {
        let (server, out) = (&mut self.server, &mut self.out);
        self.conns.drop_overflowed(|conn| {
            server.handle(now, Input::Disconnected { conn }, out);
        });
    }

    /// Answers a four-letter word; a large answer is captured here and rendered on the
    /// blocking pool, once it has its turn (`permit`).
    fn on_four_letter(
        &mut self,
        now: Now,
        word: String,
        peer: SocketAddr,
        reply: oneshot::Sender<String>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let large = ops::dumps::is_large_word(&word);
        if large && reply.is_closed() {
            return; // The asker left while it waited for its turn.
        }
        let permit = match self.dumps.turn(large, permit) {
            Turn::Go(permit) => permit,
            Turn::Wait => {
                let request = ToShell::FourLetter { word, peer, reply };
                return self.dumps.wait(request, &self.to_self);
            }
        };
        let view = ShellView {
            requester: peer,
            peers: self.conns.peers(),
            config: &self.config,
            started: self.started,
            now,
            fsync: &self.fsync_stats,
        };
        let started = std::time::Instant::now();
        match ops::four_letter::prepare(&word, &mut self.server, &view) {
            Reply::Ready(text) => {
                let _ = reply.send(text);
            }
            Reply::Later(c) => render_elsewhere((c, started.elapsed()), permit, move |text| {
                let _ = reply.send(text);
            }),
        }
    }

    /// Answers an admin HTTP query; a large command's answer is captured here and rendered
    /// on the blocking pool, once it has its turn (`permit`).
    fn on_admin(
        &mut self,
        now: Now,
        query: Query,
        reply: oneshot::Sender<Answer>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let query = match query {
            Query::Http(crate::http::queries::HttpQuery::Restore(snap)) => {
                let restored = self.restore(now, *snap);
                let answer = crate::http::queries::HttpAnswer::Restored(restored);
                let _ = reply.send(Answer::Http(answer));
                return;
            }
            other => other,
        };
        let large = ops::is_large_query(&query);
        if large && reply.is_closed() {
            return; // The asker gave up while it waited for its turn.
        }
        let permit = match self.dumps.turn(large, permit) {
            Turn::Go(permit) => permit,
            Turn::Wait => {
                return self
                    .dumps
                    .wait(ToShell::Admin { query, reply }, &self.to_self);
            }
        };
        let view = ShellView {
            requester: SocketAddr::from(([0, 0, 0, 0], 0)),
            peers: self.conns.peers(),
            config: &self.config,
            started: self.started,
            now,
            fsync: &self.fsync_stats,
        };
        let started = std::time::Instant::now();
        match ops::answer(query, &mut self.server, &view, self.health.ok()) {
            Reply::Ready(answer) => {
                let _ = reply.send(answer);
            }
            Reply::Later(c) => render_elsewhere((c, started.elapsed()), permit, move |text| {
                let _ = reply.send(Answer::JsonText(text));
            }),
        }
    }

    fn on_snapshot_done(&mut self, now: Now, id: u64, outcome: SnapshotOutcome) {
        let current = self.snapshot.as_ref().is_some_and(|s| s.id() == id);
        if current {
            self.snapshot = None;
        }
        let end = match outcome {
            SnapshotOutcome::Written(path) => {
                tracing::info!(file = %path.display(), "snapshot written");
                SnapshotEnd::Written
            }
            // Already reported when the walk gave up.
            SnapshotOutcome::Abandoned => {
                tracing::debug!(id, "abandoned snapshot cleaned up");
                return;
            }
            SnapshotOutcome::Failed(e) => {
                tracing::error!(error = %e, "snapshot failed");
                SnapshotEnd::Failed
            }
        };
        if current {
            self.feed(now, Input::SnapshotEnded(end));
        }
    }

    /// After a batch: its txns to the storage thread, then its output to the sockets, then
    /// the snapshot's turn.
    fn end_batch(&mut self, now: Now) {
        self.persist_batch(now);
        // One write per connection, after the txns went to the disk so that the fsync starts
        // first.
        self.conns.flush();
        self.drop_overflowed(now);
        self.schedule_snapshot(now);
        self.step_snapshot(now);
        self.end_batch_quorum(now);
        self.dispatch();
    }

    /// Hands the batch's txns to the storage thread (one fsync for all of them).
    fn persist_batch(&mut self, now: Now) {
        if self.to_persist.is_empty() {
            return;
        }
        // Also while the storage is failed: the storage thread keeps the work, in order, until
        // it can write it.
        if !self
            .storage
            .send(LogWork::Append(std::mem::take(&mut self.to_persist)))
        {
            self.storage_gone(now);
            self.dispatch();
        }
    }

    /// Starts the snapshot the core asked for (the log is rolled first, so that the
    /// snapshot's log starts with the next txn).
    fn schedule_snapshot(&mut self, now: Now) {
        if !self.health.ok() || self.snapshot.is_some() {
            return;
        }
        let Some(mode) = self.snapshot_asked.pop_front() else {
            return;
        };
        self.storage.send(LogWork::Roll);
        match mode {
            SnapshotMode::Whole => {
                let end = match take_snapshot(&self.dirs, self.server.replica()) {
                    Ok(path) => {
                        tracing::info!(file = %path.display(), "snapshot written");
                        SnapshotEnd::Written
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "snapshot failed");
                        SnapshotEnd::Failed
                    }
                };
                self.feed(now, Input::SnapshotEnded(end));
            }
            SnapshotMode::Fuzzy => {
                self.snapshots_started += 1;
                let s = Snapshotter::start(
                    self.snapshots_started,
                    &self.dirs,
                    &self.server,
                    self.to_self.clone(),
                );
                tracing::info!(zxid = format_args!("{:#x}", s.zxid()), "snapshot started");
                self.snapshot = Some(s);
            }
        }
    }

    /// Serializes the next slice of the snapshot in progress, if its writer has room.
    fn step_snapshot(&mut self, now: Now) {
        if let Some(s) = self.snapshot.as_mut()
            && s.has_room()
            && s.step(&self.server) == Progress::Abandoned
        {
            tracing::warn!(
                zxid = format_args!("{:#x}", s.zxid()),
                "snapshot abandoned: an ACL list was created while it was written; retrying"
            );
            self.snapshot = None;
            self.feed(now, Input::SnapshotEnded(SnapshotEnd::Abandoned));
        }
    }
}

/// Resolves when the snapshot in progress can take another slice (never without one).
async fn snapshot_room(snapshot: &Option<Snapshotter>) {
    match snapshot {
        Some(s) => s.room().await,
        None => std::future::pending().await,
    }
}

/// Resolves when a SNAP stream can take another slice (never without one).
async fn stream_room(quorum: &Option<QuorumNet>) {
    match quorum {
        Some(q) if q.streaming() => q.stream_room().await,
        _ => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
