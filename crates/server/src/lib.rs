//! Menagerie's I/O shell: the tokio runtime around the deterministic core.
//!
//! * [`config`]: zoo.cfg parsing and validation.
//! * [`shell`]: the task that owns the core, feeds it inputs and routes its outputs.
//! * [`conn`]: one task pair per client connection (framing, decoding, encoding).
//! * [`four_letter`]: the four-letter-word commands.
#![forbid(unsafe_code)]

pub mod config;
pub mod conn;
pub mod four_letter;
pub mod outbox;
pub mod persistence;
pub mod security_config;
pub mod shell;
pub mod tls;

use std::net::SocketAddr;

pub use config::ServerConfig;
use tokio::net::TcpListener;

/// A running server.
pub struct RunningServer {
    /// The bound client address.
    pub addr: SocketAddr,
    /// The bound secure (TLS) client address, if `secureClientPort` is set.
    pub secure_addr: Option<SocketAddr>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, closes every connection and waits for the tasks to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be read or recovered.
    #[error("cannot load the data directory: {0}")]
    Data(#[from] persistence::PersistenceError),
    /// The client port could not be bound.
    #[error("cannot listen on the client port: {0}")]
    Listen(#[from] std::io::Error),
    /// The TLS settings of the secure client port are unusable.
    #[error("cannot set up TLS for secureClientPort: {0}")]
    Tls(#[from] tls::TlsError),
}

/// Recovers the data directory, binds the client port and starts serving in the background.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let clock = shell::Clock::start();
    let (server, recovered) = shell::recover(&config, &clock)?;
    let listener = TcpListener::bind(config.client_addr).await?;
    let addr = listener.local_addr()?;
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
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(shell::run(
        config,
        clock,
        server,
        recovered,
        listener,
        secure,
        shutdown_rx,
    ));
    Ok(RunningServer {
        addr,
        secure_addr,
        shutdown,
        task,
    })
}
