//! The shell's table of connections, and the routing of the core's outputs: replies,
//! notifications and closes into each connection's outbox, txns to the batch for the log.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use menagerie_core::{ConnId, Output};
use menagerie_proto::txn::LoggedTxn;

use crate::outbox::{MAX_QUEUED_BYTES, Outbox};

/// Every registered connection's outbox and address, and what the current batch did to them.
#[derive(Default)]
pub struct Connections {
    /// Bytes queued in all outboxes together (each outbox keeps it up to date).
    queued_total: Arc<AtomicUsize>,
    /// Above this many queued bytes in all, the largest queues' connections are closed
    /// (0: no limit).
    queued_limit: usize,
    outboxes: HashMap<ConnId, Outbox>,
    peers: HashMap<ConnId, SocketAddr>,
    /// Connections given output in this batch, to flush at its end.
    unflushed: Vec<ConnId>,
    /// Connections closed in this batch because their output overflowed.
    overflowed: Vec<ConnId>,
}

impl Connections {
    /// An empty table whose outboxes may hold `queued_limit` bytes in all (0: no limit).
    pub fn new(queued_limit: usize) -> Connections {
        Connections {
            queued_limit,
            ..Connections::default()
        }
    }

    /// A new connection.
    pub fn register(&mut self, conn: ConnId, tx: Outbox, peer: SocketAddr) {
        tx.count_in(&self.queued_total);
        self.outboxes.insert(conn, tx);
        self.peers.insert(conn, peer);
    }

    /// Forgets a connection that is gone.
    pub fn forget(&mut self, conn: ConnId) {
        self.outboxes.remove(&conn);
        self.peers.remove(&conn);
    }

    /// Forgets every client connection (their sockets close once their writers see it).
    pub fn forget_all(&mut self) {
        self.outboxes.clear();
        self.peers.clear();
    }

    /// Remote address of every connection.
    pub fn peers(&self) -> &HashMap<ConnId, SocketAddr> {
        &self.peers
    }

    /// Routes outputs in order: txns to `to_persist`, replies and notifications into their
    /// connection's outbox (flushed at the end of the batch), a close after what is queued,
    /// anything else to `others`. It stops after an epoch write or a log cut, leaving the
    /// rest in `out` for the shell to route once that is done.
    /// A connection whose outbox overflows is killed and remembered for
    /// [`drop_overflowed`](Self::drop_overflowed).
    pub fn route(
        &mut self,
        out: &mut Vec<Output>,
        to_persist: &mut Vec<Arc<LoggedTxn>>,
        others: &mut Vec<Output>,
    ) {
        let mut rest = std::mem::take(out).into_iter();
        while let Some(o) = rest.next() {
            match o {
                Output::Persist(txn) => to_persist.push(txn),
                Output::Close { conn } => {
                    // Dropping the outbox ends the connection once its output is written.
                    if let Some(tx) = self.outboxes.remove(&conn) {
                        let _ = tx.push(&o);
                    }
                }
                Output::Connected { conn, .. }
                | Output::Reply { conn, .. }
                | Output::Notify { conn, .. } => self.push(conn, &o),
                // A barrier: what follows must wait until the shell has carried it out
                // (the epoch or its marker durable, the log cut, before later appends).
                o @ (Output::PersistEpoch { .. }
                | Output::UpdatingEpoch(_)
                | Output::Truncate { .. }) => {
                    others.push(o);
                    out.extend(rest);
                    return;
                }
                other => others.push(other),
            }
        }
    }

    fn push(&mut self, conn: ConnId, o: &Output) {
        let Some(tx) = self.outboxes.get(&conn) else {
            return;
        };
        if tx.push(o).is_ok() {
            if self.unflushed.last() != Some(&conn) {
                self.unflushed.push(conn);
            }
            return;
        }
        crate::throttled_warn!(
            conn = conn.0,
            limit = MAX_QUEUED_BYTES,
            "client is not reading its replies; closing the connection"
        );
        if let Some(tx) = self.outboxes.remove(&conn) {
            tx.kill();
        }
        self.overflowed.push(conn);
    }

    /// Forgets the connections whose output overflowed, telling `disconnected` about each.
    pub fn drop_overflowed(&mut self, mut disconnected: impl FnMut(ConnId)) {
        for conn in self.overflowed.drain(..) {
            self.peers.remove(&conn);
            disconnected(conn);
        }
    }

    /// Writes the batch's output: one write per connection. Then, if the outboxes hold
    /// more than the server-wide limit, closes the connections with the largest queues.
    pub fn flush(&mut self) {
        for conn in self.unflushed.drain(..) {
            if let Some(tx) = self.outboxes.get(&conn) {
                tx.flush();
            }
        }
        self.shed_largest();
    }

    /// Bytes queued in all outboxes together.
    pub fn queued_total(&self) -> usize {
        self.queued_total.load(Ordering::Relaxed)
    }

    /// Closes the connections with the largest output queues until the total is back
    /// under the limit (each is killed like an overflowed one, for
    /// [`drop_overflowed`](Self::drop_overflowed)).
    fn shed_largest(&mut self) {
        let mut total = self.queued_total();
        if self.queued_limit == 0 || total <= self.queued_limit {
            return;
        }
        let mut sizes: Vec<(usize, ConnId)> = self
            .outboxes
            .iter()
            .map(|(conn, tx)| (tx.queued(), *conn))
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        for (queued, conn) in sizes {
            if total <= self.queued_limit || queued == 0 {
                break;
            }
            crate::throttled_warn!(
                conn = conn.0,
                queued,
                total,
                limit = self.queued_limit,
                "replies waiting for all clients exceed menagerie.maxQueuedBytesTotal; \
                 closing the connection with the most"
            );
            if let Some(tx) = self.outboxes.remove(&conn) {
                tx.kill();
            }
            self.overflowed.push(conn);
            total = total.saturating_sub(queued);
        }
    }
}
