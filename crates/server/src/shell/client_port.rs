//! The plaintext client port's accept loop, which a reconfiguration may move (ZooKeeper:
//! `QuorumPeer.processReconfig` reconfigures its connection factory when the member's own
//! server line names a new client address).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::conn;
use crate::inbox::{ConnCounts, ToShell};

/// The accept loop and what starting another one takes.
pub(super) struct ClientPort {
    addr: Option<SocketAddr>,
    task: JoinHandle<()>,
    config: Arc<ServerConfig>,
    shell: mpsc::Sender<ToShell>,
    counts: ConnCounts,
    shutdown: watch::Receiver<bool>,
}

impl ClientPort {
    /// Accepts clients on `listener` until shutdown.
    pub(super) fn start(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        shell: mpsc::Sender<ToShell>,
        counts: ConnCounts,
        shutdown: watch::Receiver<bool>,
    ) -> ClientPort {
        let addr = listener.local_addr().ok();
        let task = Self::spawn(listener, &config, &shell, &counts, &shutdown);
        ClientPort {
            addr,
            task,
            config,
            shell,
            counts,
            shutdown,
        }
    }

    fn spawn(
        listener: TcpListener,
        config: &Arc<ServerConfig>,
        shell: &mpsc::Sender<ToShell>,
        counts: &ConnCounts,
        shutdown: &watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(conn::accept_loop(
            listener,
            Arc::clone(config),
            shell.clone(),
            Arc::clone(counts),
            shutdown.clone(),
        ))
    }

    /// Listens on `to` instead (connections already open stay). If `to` cannot be bound,
    /// the old port keeps serving and the error is logged.
    pub(super) fn move_to(&mut self, to: SocketAddr) {
        // `;port` (any address) names the port this member already listens on.
        let same_port_any_ip =
            to.ip().is_unspecified() && self.addr.is_some_and(|a| a.port() == to.port());
        if self.addr == Some(to) || same_port_any_ip {
            return;
        }
        let bound = std::net::TcpListener::bind(to)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(TcpListener::from_std);
        match bound {
            Ok(listener) => {
                self.task.abort();
                self.task = Self::spawn(
                    listener,
                    &self.config,
                    &self.shell,
                    &self.counts,
                    &self.shutdown,
                );
                tracing::info!(from = ?self.addr, to = %to, "client port moved by a reconfiguration");
                self.addr = Some(to);
            }
            Err(e) => {
                tracing::error!(to = %to, error = %e, "cannot listen on the reconfigured client address; the old one stays")
            }
        }
    }

    /// Stops accepting.
    pub(super) fn stop(self) {
        self.task.abort();
    }
}
