//! Menagerie's I/O shell: the tokio runtime around the deterministic core.
//!
//! * [`config`]: zoo.cfg parsing and validation ([`security_config`]: the security keys,
//!   [`tls`]: the TLS acceptor of the secure client port).
//! * [`shell`]: the task that owns the core, feeds it inputs and routes its outputs.
//! * [`inbox`]: the messages the shell receives (a leaf module).
//! * [`conn`]: one task pair per client connection (framing, decoding; [`outbox`]: the
//!   encoded output waiting for the socket).
//! * [`dirlock`]: one server per data directory (`menagerie.lock`).
//! * [`persistence`]: recovery and the storage thread (over `menagerie-host`), fsync
//!   statistics.
//! * [`snapshotter`]: fuzzy snapshots written in the background (over `menagerie-host`).
//! * [`ops`]: the operations surface: four-letter words, admin commands, monitoring numbers.
//! * [`http`]: the admin port on hyper/axum: AdminServer commands, Prometheus metrics,
//!   probes, the REST gateway and the web console, with TLS and authentication.
//! * [`purge`]: autopurge of old snapshots and logs.
//! * [`admission`]: which connections are admitted (per address, in all, descriptor budget);
//!   [`throttle`]: rate-limited warnings.
#![forbid(unsafe_code)]

pub mod admission;
pub mod config;
pub mod conn;
pub mod dirlock;
pub mod http;
pub mod inbox;
pub mod ops;
pub mod outbox;
pub mod persistence;
pub mod purge;
pub mod quorum;
pub mod security_config;
pub mod shell;
pub mod snapshotter;
pub mod throttle;
pub mod tls;

use std::net::SocketAddr;

pub use config::ServerConfig;
use tokio::net::TcpListener;

/// A running server.
pub struct RunningServer {
    /// The bound client address.
    pub addr: SocketAddr,
    /// The bound admin HTTP address (`None` when `admin.enableServer=false`).
    pub admin_addr: Option<SocketAddr>,
    /// The bound Prometheus-only address (`metricsProvider.httpPort`), if configured.
    pub prometheus_addr: Option<SocketAddr>,
    /// The transaction log's fsync counters (see [`persistence::FsyncStats`]).
    pub fsync_stats: std::sync::Arc<persistence::FsyncStats>,
    /// The bound secure (TLS) client address, if `secureClientPort` is set.
    pub secure_addr: Option<SocketAddr>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    purge: Option<tokio::task::JoinHandle<()>>,
    /// The data directories' locks, released once the server has stopped.
    locks: Option<dirlock::DataDirLocks>,
}

impl RunningServer {
    /// Stops accepting, closes every connection and waits for the tasks to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        if let Some(purge) = self.purge {
            let _ = purge.await;
        }
        drop(self.locks);
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be read or recovered.
    #[error("cannot load the data directory: {0}")]
    Data(#[from] menagerie_host::RecoveryError),
    /// The client port could not be bound.
    #[error("cannot listen on the client port: {0}")]
    Listen(#[from] std::io::Error),
    /// The admin or metrics port could not be bound (ZooKeeper exits then too).
    #[error("unable to start the admin server: {0}")]
    Admin(#[from] http::BindError),
    /// The epoch files of an ensemble member are missing pieces or contradict its data.
    #[error("cannot start the ensemble member: {0}")]
    Epoch(#[from] shell::boot::EpochError),
    /// The election port could not be bound.
    #[error("cannot listen on the election port {addr}: {source}")]
    ElectionPort {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS settings of the secure client port are unusable.
    #[error("cannot set up TLS for secureClientPort: {0}")]
    Tls(#[from] tls::TlsError),
    /// Another server uses the data directory (or its lock cannot be taken).
    #[error("cannot lock the data directory: {0}")]
    Locked(#[from] dirlock::LockError),
    /// The quorum TLS settings are unusable.
    #[error("cannot set up quorum TLS: {0}")]
    QuorumTls(#[from] quorum::tls::QuorumTlsError),
}

impl From<shell::boot::BootError> for StartError {
    fn from(e: shell::boot::BootError) -> StartError {
        match e {
            shell::boot::BootError::Data(e) => StartError::Data(e),
            shell::boot::BootError::Epoch(e) => StartError::Epoch(e),
        }
    }
}

/// Locks the data directories, binds the ports, recovers the data and starts serving in the
/// background. Nothing in the data directories is read or written before the locks are
/// held and every port is bound: a second server started by mistake on the same
/// directories or ports stops there, leaving the running server's files alone.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let locks = dirlock::DataDirLocks::acquire(&config.data_dir, &config.data_log_dir)?;
    let mut server = start_on(config, std::sync::Arc::new(menagerie_storage::StdFs)).await?;
    server.locks = Some(locks);
    Ok(server)
}

/// [`start`] with the data directories on `fs` (tests inject disk faults through
/// `menagerie_storage::MemFs`), without directory locks.
pub async fn start_on(
    config: ServerConfig,
    fs: std::sync::Arc<dyn menagerie_storage::Fs>,
) -> Result<RunningServer, StartError> {
    let clock = shell::Clock::start();
    // Ports first: connections wait in the listen backlog until recovery is done.
    let listener = TcpListener::bind(config.client_addr).await?;
    let addr = listener.local_addr()?;
    let admin = http::Listeners::bind(&config.admin).await?;
    let (admin_addr, prometheus_addr) = admin.local_addrs();
    let secure = match &config.secure_client {
        Some((secure_addr, settings)) => {
            let acceptor = tls::acceptor(settings)?;
            Some((TcpListener::bind(secure_addr).await?, acceptor))
        }
        None => None,
    };
    let secure_addr = match &secure {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    let (election, quorum_transport) = match &config.quorum {
        Some(q) => (
            bind_election(q).await?,
            quorum::transport::Transport::new(&q.security)?,
        ),
        None => (Vec::new(), quorum::transport::Transport::default()),
    };
    let (server, recovered) = shell::recover(&config, fs, &clock)?;
    let fsync_stats = std::sync::Arc::clone(&recovered.fsync_stats);
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let purge = purge::spawn(
        recovered.dirs.clone(),
        config.autopurge_snap_retain_count,
        config.autopurge_interval,
        shutdown_rx.clone(),
    );
    let task = tokio::spawn(shell::run(
        config,
        clock,
        server,
        recovered,
        shell::Listeners {
            client: listener,
            secure,
            admin,
            election,
            quorum_transport,
        },
        shutdown_rx,
    ));
    Ok(RunningServer {
        addr,
        admin_addr,
        prometheus_addr,
        fsync_stats,
        secure_addr,
        shutdown,
        task,
        purge,
        locks: None,
    })
}

/// Binds this member's election addresses (every interface with `quorumListenOnAllIPs`),
/// trying `electionPortBindRetry` times a second apart as ZooKeeper does.
async fn bind_election(q: &config::quorum::QuorumConfig) -> Result<Vec<TcpListener>, StartError> {
    let mut addrs: Vec<SocketAddr> = q.me().map(|m| m.election.clone()).unwrap_or_default();
    if q.listen_on_all_ips {
        for a in &mut addrs {
            a.set_ip(std::net::Ipv4Addr::UNSPECIFIED.into());
        }
    }
    let mut listeners = Vec::new();
    for addr in addrs {
        let mut attempt = 0;
        let listener = loop {
            attempt += 1;
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(source) if attempt >= q.election_bind_retries.max(1) => {
                    return Err(StartError::ElectionPort { addr, source });
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, attempt, "cannot bind the election port; trying again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        };
        listeners.push(listener);
    }
    Ok(listeners)
}
