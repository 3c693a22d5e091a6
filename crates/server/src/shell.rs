//! The shell task: owns the core [`Server`], turns socket events and time into inputs, and
//! routes outputs to connections.
//!
//! The txns proposed while handling one batch of inputs go to the storage thread together
//! (group commit: one fsync for the batch); their replies leave when it reports them durable
//! on its durable-zxid watch. Every `snapCount` txns the shell writes a snapshot.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use menagerie_core::{
    ConnId, CoreConfig, Input, Node as Server, Now, Output, SnapshotEnd, SnapshotMode,
};
use menagerie_proto::txn::LoggedTxn;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::ServerConfig;
use crate::conn;
use crate::four_letter;
use crate::outbox::Outbox;
use crate::persistence::{Recovered, StorageThread, ToStorage, take_snapshot};
use crate::snapshotter::{Progress, SnapshotOutcome, Snapshotter};

/// Messages to the shell task.
#[derive(Debug)]
pub enum ToShell {
    /// A new connection and where to send its outputs.
    Register {
        /// The connection.
        conn: ConnId,
        /// Its outbox.
        tx: Outbox,
        /// The client's address.
        peer: SocketAddr,
    },
    /// An input for the core.
    Input(Input),
    /// Inputs for the core, in order (the requests one read of a connection delivered).
    Inputs(Vec<Input>),
    /// A four-letter word to render.
    FourLetter {
        /// The command.
        word: String,
        /// Who asked (listed among the connections, as ZooKeeper does).
        peer: SocketAddr,
        /// Where the text goes.
        reply: oneshot::Sender<String>,
    },
    /// An admin HTTP request (command, metrics or readiness) to answer.
    Admin {
        /// What is asked.
        query: crate::admin::Query,
        /// Where the answer goes.
        reply: oneshot::Sender<crate::admin::Answer>,
    },
    /// The storage thread failed; nothing more will be made durable.
    StorageFailed(String),
    /// A background snapshot ended.
    SnapshotDone {
        /// Which one ([`Snapshotter::id`]).
        id: u64,
        /// How it ended.
        outcome: SnapshotOutcome,
    },
}

/// Why the shell woke up.
enum Wake {
    Message(ToShell),
    Durable,
    Timer,
    SnapshotRoom,
}

/// How many inputs the shell takes before acknowledging persistence (bounds latency).
const MAX_BATCH: usize = 256;

/// Clock readings relative to the shell's start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// The current readings.
    pub fn now(&self) -> Now {
        Now {
            mono_ms: self.start.elapsed().as_millis() as u64,
            wall_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        }
    }
}

/// Per-IP connection counts for `maxClientCnxns`.
pub type ConnCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Builds the core from `config` and recovers its data from the data directories.
pub fn recover(
    config: &ServerConfig,
    fs: Arc<dyn menagerie_storage::Fs>,
    clock: &Clock,
) -> Result<(Server, Recovered), crate::persistence::PersistenceError> {
    let boot = clock.now();
    let core_config = CoreConfig {
        server_id: menagerie_proto::ServerId(1),
        tick_ms: config.tick_ms,
        min_session_timeout_ms: config.min_session_timeout_ms,
        max_session_timeout_ms: config.max_session_timeout_ms,
        extended_types: config.extended_types,
        seed: boot.wall_ms as u64,
        snap_count: config.snap_count,
        reaper: config.reaper,
        auth: menagerie_core::auth::AuthConfig {
            nonce_secret: crate::security_config::random_u64(),
            ..config.auth.clone()
        },
        enforce_quota: config.enforce_quota,
        digest_enabled: config.digest_enabled,
    };
    let mut server = Server::new(core_config, boot);
    let recovered = crate::persistence::recover(config, fs, &mut server, boot)?;
    Ok((server, recovered))
}

/// Every socket the server listens on, bound before it starts.
pub struct Listeners {
    /// `clientPort`.
    pub client: TcpListener,
    /// `secureClientPort` with its TLS acceptor.
    pub secure: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    /// The admin HTTP and Prometheus ports.
    pub admin: crate::admin::Listeners,
}

/// Runs the server until `shutdown` turns true.
pub async fn run(
    config: ServerConfig,
    clock: Clock,
    mut server: Server,
    recovered: Recovered,
    listeners: Listeners,
    mut shutdown: watch::Receiver<bool>,
) {
    let Listeners {
        client: listener,
        secure,
        admin,
    } = listeners;
    let (tx, mut rx) = mpsc::channel::<ToShell>(4096);
    let config = Arc::new(config);
    let counts: ConnCounts = Arc::default();
    let secure_accept = secure.map(|(l, acceptor)| {
        tokio::spawn(conn::secure_accept_loop(
            l,
            acceptor,
            Arc::clone(&config),
            tx.clone(),
            Arc::clone(&counts),
            shutdown.clone(),
        ))
    });
    let accept = tokio::spawn(conn::accept_loop(
        listener,
        Arc::clone(&config),
        tx.clone(),
        counts,
        shutdown.clone(),
    ));
    let admin = tokio::spawn(admin.serve(tx.clone(), shutdown.clone()));
    let Recovered {
        dirs,
        log,
        fsync_stats,
        replayed,
    } = recovered;
    let snapshot_done = tx.clone();
    let (durable_tx, mut durable) = watch::channel(0i64);
    let mut last_durable = 0i64;
    let storage = StorageThread::start(log, durable_tx, tx);
    let mut snapshot: Option<Snapshotter> = None;
    let mut snapshots_started: u64 = 0;
    let mut snapshot_asked: Option<SnapshotMode> = None;
    let mut storage_ok = true;
    let _ = replayed;
    // The core asks for a snapshot at once when txns were replayed at startup (as ZooKeeper
    // snapshots after loading its data): one pass through the loop now, so that it starts
    // before any client.
    let mut kick = server.snapshot_due();
    let mut outboxes: HashMap<ConnId, Outbox> = HashMap::new();
    let mut peers: HashMap<ConnId, SocketAddr> = HashMap::new();
    let mut overflowed = Vec::new();
    let mut out = Vec::new();
    let mut to_persist = Vec::new();
    let mut unflushed = Vec::new();
    let started = clock.now();
    loop {
        let deadline = server.next_deadline().map(|d| {
            tokio::time::Instant::from_std(clock.start) + std::time::Duration::from_millis(d)
        });
        let wake = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            // Durability first: replies wait on it, and it must not queue behind client input.
            Ok(()) = durable.changed() => Wake::Durable,
            msg = rx.recv() => match msg {
                Some(m) => Wake::Message(m),
                None => break,
            },
            _ = sleep_until(deadline) => Wake::Timer,
            _ = std::future::ready(()), if kick => Wake::Timer,
            _ = snapshot_room(&snapshot) => Wake::SnapshotRoom,
        };
        kick = false;
        let now = clock.now();
        let mut batch = 0;
        let (mut next, mut tick) = match wake {
            Wake::Message(m) => (Some(m), false),
            Wake::Durable => (None, false),
            Wake::Timer => (None, true),
            Wake::SnapshotRoom => (None, false),
        };
        loop {
            let up_to = *durable.borrow();
            if up_to > last_durable {
                last_durable = up_to;
                server.handle(
                    now,
                    Input::Persisted {
                        up_to: menagerie_proto::Zxid(up_to),
                    },
                    &mut out,
                );
            }
            match next.take() {
                Some(ToShell::Register { conn, tx, peer }) => {
                    outboxes.insert(conn, tx);
                    peers.insert(conn, peer);
                }
                Some(ToShell::Input(input)) => {
                    handle_input(&mut server, now, input, &mut out, &mut outboxes, &mut peers);
                }
                Some(ToShell::Inputs(inputs)) => {
                    for input in inputs {
                        handle_input(&mut server, now, input, &mut out, &mut outboxes, &mut peers);
                        // Outputs go out in order, per input, as for single inputs.
                        dispatch(
                            &mut out,
                            &mut outboxes,
                            &mut overflowed,
                            &mut to_persist,
                            &mut unflushed,
                            &mut snapshot_asked,
                        );
                    }
                }
                Some(ToShell::FourLetter { word, peer, reply }) => {
                    let view = four_letter::ShellView {
                        requester: peer,
                        peers: &peers,
                        config: &config,
                        started,
                        now,
                        fsync: &fsync_stats,
                    };
                    let _ = reply.send(four_letter::render(&word, &mut server, &view));
                }
                Some(ToShell::Admin { query, reply }) => {
                    let view = four_letter::ShellView {
                        requester: SocketAddr::from(([0, 0, 0, 0], 0)),
                        peers: &peers,
                        config: &config,
                        started,
                        now,
                        fsync: &fsync_stats,
                    };
                    let _ = reply.send(crate::admin::answer(query, &mut server, &view, storage_ok));
                }
                Some(ToShell::StorageFailed(e)) => {
                    tracing::error!(error = %e, "storage failed: writes are no longer acknowledged; reads are still served");
                    storage_ok = false;
                    server.handle(now, Input::StorageFailed, &mut out);
                }
                Some(ToShell::SnapshotDone { id, outcome }) => {
                    let current = snapshot.as_ref().is_some_and(|s| s.id() == id);
                    if current {
                        snapshot = None;
                    }
                    let end = match outcome {
                        SnapshotOutcome::Written(path) => {
                            tracing::info!(file = %path.display(), "snapshot written");
                            Some(SnapshotEnd::Written)
                        }
                        // Already reported when the walk gave up.
                        SnapshotOutcome::Abandoned => {
                            tracing::debug!(id, "abandoned snapshot cleaned up");
                            None
                        }
                        SnapshotOutcome::Failed(e) => {
                            tracing::error!(error = %e, "snapshot failed");
                            Some(SnapshotEnd::Failed)
                        }
                    };
                    if let Some(end) = end.filter(|_| current) {
                        server.handle(now, Input::SnapshotEnded(end), &mut out);
                    }
                }
                None if tick => {
                    tick = false;
                    server.handle(now, Input::Tick, &mut out);
                }
                None => {}
            }
            dispatch(
                &mut out,
                &mut outboxes,
                &mut overflowed,
                &mut to_persist,
                &mut unflushed,
                &mut snapshot_asked,
            );
            for conn in overflowed.drain(..) {
                peers.remove(&conn);
                server.handle(now, Input::Disconnected { conn }, &mut out);
            }
            batch += 1;
            if batch >= MAX_BATCH {
                break;
            }
            match rx.try_recv() {
                Ok(m) => next = Some(m),
                Err(_) => break,
            }
        }
        if !to_persist.is_empty() {
            if storage_ok && !storage.send(ToStorage::Append(std::mem::take(&mut to_persist))) {
                tracing::error!("the storage thread is gone; writes are no longer acknowledged");
                storage_ok = false;
                server.handle(now, Input::StorageFailed, &mut out);
                dispatch(
                    &mut out,
                    &mut outboxes,
                    &mut overflowed,
                    &mut to_persist,
                    &mut unflushed,
                    &mut snapshot_asked,
                );
            }
            to_persist.clear();
        }
        // The batch's output, one write per connection (after the txns went to the disk, so
        // that the fsync starts first).
        for conn in unflushed.drain(..) {
            if let Some(tx) = outboxes.get(&conn) {
                tx.flush();
            }
        }
        // The snapshot the core asked for (after the batch's txns went to the disk): the log
        // is rolled first, so that the snapshot's log starts with the next txn.
        if let Some(mode) = snapshot_asked.take() {
            storage.send(ToStorage::Roll);
            match mode {
                SnapshotMode::Whole => {
                    let end = match take_snapshot(&dirs, &server) {
                        Ok(path) => {
                            tracing::info!(file = %path.display(), "snapshot written");
                            SnapshotEnd::Written
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "snapshot failed");
                            SnapshotEnd::Failed
                        }
                    };
                    server.handle(clock.now(), Input::SnapshotEnded(end), &mut out);
                }
                SnapshotMode::Fuzzy => {
                    snapshots_started += 1;
                    let s = Snapshotter::start(
                        snapshots_started,
                        &dirs,
                        &server,
                        snapshot_done.clone(),
                    );
                    tracing::info!(zxid = format_args!("{:#x}", s.zxid()), "snapshot started");
                    snapshot = Some(s);
                }
            }
            dispatch(
                &mut out,
                &mut outboxes,
                &mut overflowed,
                &mut to_persist,
                &mut unflushed,
                &mut snapshot_asked,
            );
        }
        if let Some(s) = snapshot.as_mut()
            && s.has_room()
            && s.step(&server) == Progress::Abandoned
        {
            tracing::warn!(
                zxid = format_args!("{:#x}", s.zxid()),
                "snapshot abandoned: an ACL list was created while it was written; retrying"
            );
            snapshot = None;
            server.handle(
                clock.now(),
                Input::SnapshotEnded(SnapshotEnd::Abandoned),
                &mut out,
            );
            dispatch(
                &mut out,
                &mut outboxes,
                &mut overflowed,
                &mut to_persist,
                &mut unflushed,
                &mut snapshot_asked,
            );
            kick = snapshot_asked.is_some();
        }
    }
    accept.abort();
    admin.abort();
    if let Some(a) = secure_accept {
        a.abort();
    }
    // Dropping the outboxes ends every connection's writer, which closes its socket.
    drop(outboxes);
}

/// Resolves when the snapshot in progress can take another slice (never without one).
async fn snapshot_room(snapshot: &Option<Snapshotter>) {
    match snapshot {
        Some(s) => s.room().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Hands one input to the core; forgets a connection that is gone.
fn handle_input(
    server: &mut Server,
    now: Now,
    input: Input,
    out: &mut Vec<Output>,
    outboxes: &mut HashMap<ConnId, Outbox>,
    peers: &mut HashMap<ConnId, SocketAddr>,
) {
    let gone = match &input {
        Input::Disconnected { conn } => Some(*conn),
        _ => None,
    };
    server.handle(now, input, out);
    if let Some(c) = gone {
        outboxes.remove(&c);
        peers.remove(&c);
    }
}

/// Routes outputs: txns to `to_persist`, replies and notifications into their connection's
/// outbox (`unflushed` lists the connections to flush at the end of the batch).
fn dispatch(
    out: &mut Vec<Output>,
    outboxes: &mut HashMap<ConnId, Outbox>,
    overflowed: &mut Vec<ConnId>,
    to_persist: &mut Vec<Arc<LoggedTxn>>,
    unflushed: &mut Vec<ConnId>,
    snapshot_asked: &mut Option<SnapshotMode>,
) {
    for o in out.drain(..) {
        match o {
            Output::Persist(txn) => to_persist.push(txn),
            Output::TakeSnapshot(mode) => *snapshot_asked = Some(mode),
            Output::Close { conn } => {
                // Dropping the outbox ends the connection once its output is written.
                if let Some(tx) = outboxes.remove(&conn) {
                    let _ = tx.push(&o);
                }
            }
            Output::Connected { conn, .. }
            | Output::Reply { conn, .. }
            | Output::Notify { conn, .. } => {
                if let Some(tx) = outboxes.get(&conn) {
                    if tx.push(&o).is_ok() {
                        if unflushed.last() != Some(&conn) {
                            unflushed.push(conn);
                        }
                    } else {
                        tracing::warn!(
                            conn = conn.0,
                            limit = crate::outbox::MAX_QUEUED_BYTES,
                            "client is not reading its replies; closing the connection"
                        );
                        if let Some(tx) = outboxes.remove(&conn) {
                            tx.kill();
                        }
                        overflowed.push(conn);
                    }
                }
            }
        }
    }
}
