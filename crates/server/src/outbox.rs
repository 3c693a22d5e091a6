//! A connection's queue of outputs, bounded in bytes.
//!
//! A client that stops reading its socket must not make the server buffer without bound:
//! once more than [`MAX_QUEUED_BYTES`] of replies and notifications wait for one connection,
//! the connection is closed (its session lives on and can resume elsewhere), as ZooKeeper
//! closes connections it cannot write to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use menagerie_core::Output;
use menagerie_proto::response::{MultiResult, Response};
use tokio::sync::{Notify, mpsc};

/// Largest amount of unsent output one connection may accumulate: 64 MiB.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// The shell's end.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Output>,
    shared: Arc<Shared>,
}

/// The writer's end.
#[derive(Debug)]
pub struct OutboxRx {
    rx: mpsc::UnboundedReceiver<Output>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queued: AtomicUsize,
    kill: Notify,
}

/// The connection's queue is over its limit (or its writer is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// A new queue.
pub fn outbox() -> (Outbox, OutboxRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    (
        Outbox {
            tx,
            shared: Arc::clone(&shared),
        },
        OutboxRx { rx, shared },
    )
}

/// Roughly how many bytes an output takes on the wire.
pub fn approx_size(o: &Output) -> usize {
    const BASE: usize = 96;
    match o {
        Output::Reply { body, .. } => BASE + response_size(body),
        Output::Notify { event, .. } => BASE + event.path.len(),
        _ => BASE,
    }
}

fn response_size(r: &Response) -> usize {
    match r {
        Response::GetData { data, .. } => data.as_ref().map_or(0, Vec::len),
        Response::GetChildren { children }
        | Response::GetChildren2 { children, .. }
        | Response::Ephemerals(children) => children.iter().map(|c| c.len() + 4).sum(),
        Response::Multi(results) => results
            .iter()
            .map(|m| match m {
                MultiResult::GetData(d, _) => d.as_ref().map_or(0, Vec::len) + 80,
                MultiResult::GetChildren(c) => c.iter().map(|c| c.len() + 4).sum(),
                _ => 80,
            })
            .sum(),
        Response::GetAcl { acl, .. } => acl.len() * 64,
        _ => 0,
    }
}

impl Outbox {
    /// Queues an output; `Err` means the connection must be closed now.
    pub fn send(&self, o: Output) -> Result<(), Overflow> {
        let n = approx_size(&o);
        let queued = self.shared.queued.fetch_add(n, Ordering::Relaxed) + n;
        if queued > MAX_QUEUED_BYTES {
            self.shared.kill.notify_one();
            return Err(Overflow);
        }
        self.tx.send(o).map_err(|_| Overflow)
    }

    /// Makes the writer stop at once, dropping whatever is queued.
    pub fn kill(&self) {
        self.shared.kill.notify_one();
    }
}

impl OutboxRx {
    /// The next output; `None` when the shell dropped the connection.
    pub async fn recv(&mut self) -> Option<Output> {
        self.rx.recv().await
    }

    /// The next output if one is queued.
    pub fn try_recv(&mut self) -> Option<Output> {
        self.rx.try_recv().ok()
    }

    /// Reports that `o` has been written (or dropped).
    pub fn written(&self, o: &Output) {
        self.shared
            .queued
            .fetch_sub(approx_size(o), Ordering::Relaxed);
    }

    /// A handle that resolves when the shell asks the writer to stop.
    pub fn kill_signal(&self) -> KillSignal {
        KillSignal(Arc::clone(&self.shared))
    }
}

/// Resolves when the connection's queue overflowed and the writer must stop.
#[derive(Debug)]
pub struct KillSignal(Arc<Shared>);

impl KillSignal {
    /// Waits for the kill.
    pub async fn killed(&self) {
        self.0.kill.notified().await
    }
}
