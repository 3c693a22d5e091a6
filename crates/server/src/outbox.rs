//! A connection's output: replies and notifications, encoded by the shell into one byte
//! buffer per connection, bounded in bytes.
//!
//! The shell encodes every output of a batch into the connection's buffer ([`Outbox::push`])
//! and at the end of the batch writes it straight to the socket when the socket takes it
//! ([`Outbox::flush`], plain TCP only). Whatever the socket does not take at once (and all
//! output of a TLS connection) is written by the connection's writer task, which the flush
//! then wakes; while the writer holds bytes the shell only appends, so output leaves in
//! order. One batch thus costs one `write` per connection and no task wake-up in the common
//! case.
//!
//! A client that stops reading its socket must not make the server buffer without bound:
//! once more than [`MAX_QUEUED_BYTES`] of replies and notifications wait for one connection,
//! the connection is closed (its session lives on and can resume elsewhere), as ZooKeeper
//! closes connections it cannot write to. The bytes waiting in all outboxes of a server are
//! also counted together ([`Outbox::count_in`]), so that the shell can close the largest
//! offenders when many such clients together hold too much (issue 16, item 11).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use menagerie_core::Output;
use menagerie_proto::jute::Record;
use menagerie_proto::response::{encode_notification, encode_reply};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, mpsc};

/// Largest amount of unsent output one connection may accumulate: 64 MiB.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// The writing side of a connection's socket.
pub enum WriteSide {
    /// A plain TCP socket: the shell may write to it directly.
    Tcp(Arc<OwnedWriteHalf>),
    /// Any other stream (TLS): written by the writer task only.
    Stream(Box<dyn AsyncWrite + Unpin + Send>),
}

impl WriteSide {
    /// Writes all of `buf`.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            WriteSide::Tcp(w) => {
                let mut at = 0;
                while let Some(rest) = buf.get(at..).filter(|r| !r.is_empty()) {
                    w.writable().await?;
                    match w.try_write(rest) {
                        Ok(n) => at += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
            WriteSide::Stream(s) => s.write_all(buf).await,
        }
    }

    /// Ends the output (a plain socket is shut down for writing when its last handle goes).
    pub async fn shutdown(&mut self) {
        if let WriteSide::Stream(s) = self {
            let _ = s.shutdown().await;
        }
    }
}

impl std::fmt::Debug for WriteSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteSide::Tcp(_) => "WriteSide::Tcp",
            WriteSide::Stream(_) => "WriteSide::Stream",
        })
    }
}

/// The shell's end.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<Shared>,
    direct: Option<Arc<OwnedWriteHalf>>,
    /// A virtual connection (the HTTP gateway): outputs go to this channel as they are,
    /// instead of being encoded for a socket.
    virtual_tx: Option<mpsc::Sender<Output>>,
}

/// The writer's end.
#[derive(Debug)]
pub struct OutboxRx {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: there are bytes for it, or it must close.
    wake: Notify,
    /// Makes the writer stop at once.
    kill: Notify,
    /// The server-wide count of queued bytes this queue adds to, once registered.
    total: OnceLock<Arc<AtomicUsize>>,
}

#[derive(Debug, Default)]
struct State {
    /// Encoded frames not yet handed to the socket or the writer.
    buf: Vec<u8>,
    /// Bytes the writer has taken and is writing.
    writing: usize,
    /// The writer owns the output now: the shell only appends.
    writer_busy: bool,
    /// No more output: the writer ends once the buffer is written.
    closing: bool,
    /// The writer must stop at once (overflow), or is gone.
    killed: bool,
    /// `buf.len() + writing` as last added to the server-wide count.
    accounted: usize,
}

impl State {
    /// Bytes waiting: buffered, or taken by the writer and not yet written.
    fn queued(&self) -> usize {
        self.buf.len() + self.writing
    }
}

/// The connection's queue is over its limit (or its writer is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// What the writer is to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Write the bytes just taken.
    Data,
    /// Everything is written: end the connection's output.
    Close,
    /// Stop now without writing more.
    Killed,
}

/// A new queue for a connection whose socket is `side`. The shell writes to a plain TCP
/// socket directly; `side` itself goes to the writer task.
pub fn outbox(side: &WriteSide) -> (Outbox, OutboxRx) {
    let shared = Arc::new(Shared::default());
    let direct = match side {
        WriteSide::Tcp(w) => Some(Arc::clone(w)),
        WriteSide::Stream(_) => None,
    };
    (
        Outbox {
            shared: Arc::clone(&shared),
            direct,
            virtual_tx: None,
        },
        OutboxRx { shared },
    )
}

/// The outbox of a virtual connection (one without a socket, such as a session of the HTTP
/// gateway): every output the shell pushes arrives on the receiver unencoded, in order,
/// `Output::Close` included. More than `capacity` outputs not yet taken count as an overflow
/// (the shell closes the connection, as for a client that stops reading). The receiver ends
/// when the shell forgets the connection.
pub fn virtual_outbox(capacity: usize) -> (Outbox, mpsc::Receiver<Output>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (
        Outbox {
            shared: Arc::new(Shared::default()),
            direct: None,
            virtual_tx: Some(tx),
        },
        rx,
    )
}

impl Shared {
    /// Brings the server-wide count up to date with `s` (call after every change of the
    /// buffer or of `writing`, under the lock).
    fn settle(&self, s: &mut State) {
        let now = s.queued();
        if let Some(total) = self.total.get() {
            if now > s.accounted {
                total.fetch_add(now - s.accounted, Ordering::Relaxed);
            } else {
                total.fetch_sub(s.accounted - now, Ordering::Relaxed);
            }
        }
        s.accounted = now;
    }

    /// Wakes the writer wherever it waits (for work, or for the socket).
    fn kill_writer(&self) {
        self.kill.notify_one();
        self.wake.notify_one();
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // The state stays consistent even if a holder panicked: every update is one assignment.
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Appends `o` to `buf` as one length-prefixed frame (nothing for outputs that are not sent).
fn encode(buf: &mut Vec<u8>, o: &Output) {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    match o {
        Output::Connected { resp, .. } => resp.write(buf),
        Output::Reply { header, body, .. } => encode_reply(buf, header, body),
        Output::Notify { zxid, event, .. } => encode_notification(buf, zxid.0, event),
        // Nothing else goes to a client.
        _ => {
            buf.truncate(at);
            return;
        }
    }
    let len = (buf.len() - at - 4) as i32;
    if let Some(prefix) = buf.get_mut(at..at + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
}

impl Outbox {
    /// Encodes an output into the connection's buffer (sent at the next [`Outbox::flush`];
    /// `Output::Close` ends the connection once everything before it is written). `Err`
    /// means the connection must be closed now.
    pub fn push(&self, o: &Output) -> Result<(), Overflow> {
        if let Some(tx) = &self.virtual_tx {
            return tx.try_send(o.clone()).map_err(|_| Overflow);
        }
        let mut s = lock(&self.shared);
        if s.killed {
            return Err(Overflow);
        }
        if s.closing {
            return Ok(());
        }
        if let Output::Close { .. } = o {
            s.closing = true;
            return Ok(());
        }
        encode(&mut s.buf, o);
        if s.queued() > MAX_QUEUED_BYTES {
            s.killed = true;
            s.buf = Vec::new();
            self.shared.settle(&mut s);
            drop(s);
            self.shared.kill_writer();
            return Err(Overflow);
        }
        self.shared.settle(&mut s);
        Ok(())
    }

    /// Adds this queue's bytes to `total` from now on (the shell's count for the whole
    /// server). Only the first call counts.
    pub fn count_in(&self, total: &Arc<AtomicUsize>) {
        let mut s = lock(&self.shared);
        if self.shared.total.set(Arc::clone(total)).is_ok() {
            s.accounted = 0;
            self.shared.settle(&mut s);
        }
    }

    /// Bytes queued for this connection and not yet written.
    pub fn queued(&self) -> usize {
        lock(&self.shared).queued()
    }

    /// Sends what is buffered: straight to the socket if the writer is idle and the socket
    /// takes it, otherwise by waking the writer.
    pub fn flush(&self) {
        if self.virtual_tx.is_some() {
            return;
        }
        let mut s = lock(&self.shared);
        if s.killed || s.writer_busy || (s.buf.is_empty() && !s.closing) {
            return;
        }
        if !s.closing
            && let Some(w) = &self.direct
        {
            let mut at = 0;
            while let Some(rest) = s.buf.get(at..).filter(|r| !r.is_empty()) {
                match w.try_write(rest) {
                    Ok(n) => at += n,
                    // Would block, or failed: the writer waits for room or meets the error.
                    Err(_) => break,
                }
            }
            if at == s.buf.len() {
                s.buf.clear();
                self.shared.settle(&mut s);
                return;
            }
            s.buf.drain(..at);
            self.shared.settle(&mut s);
        }
        s.writer_busy = true;
        drop(s);
        self.shared.wake.notify_one();
    }

    /// Makes the writer stop at once, dropping whatever is queued.
    pub fn kill(&self) {
        let mut s = lock(&self.shared);
        s.killed = true;
        s.buf = Vec::new();
        self.shared.settle(&mut s);
        drop(s);
        self.shared.kill_writer();
    }
}

impl Drop for Outbox {
    /// The shell forgot the connection: the writer writes what is left, then ends.
    fn drop(&mut self) {
        let mut s = lock(&self.shared);
        s.closing = true;
        s.writer_busy = true;
        drop(s);
        self.shared.wake.notify_one();
    }
}

impl OutboxRx {
    /// Waits for the next thing to do; on [`Chunk::Data`], `chunk` (cleared by the caller
    /// after writing) holds the bytes to write.
    pub async fn next(&self, chunk: &mut Vec<u8>) -> Chunk {
        loop {
            {
                let mut s = lock(&self.shared);
                s.writing = 0;
                if s.killed {
                    self.shared.settle(&mut s);
                    return Chunk::Killed;
                }
                if !s.buf.is_empty() {
                    std::mem::swap(&mut s.buf, chunk);
                    s.writing = chunk.len();
                    self.shared.settle(&mut s);
                    return Chunk::Data;
                }
                self.shared.settle(&mut s);
                if s.closing {
                    return Chunk::Close;
                }
                // Idle: the shell may write directly again.
                s.writer_busy = false;
            }
            self.shared.wake.notified().await;
        }
    }

    /// Resolves when the shell asks the writer to stop.
    pub async fn killed(&self) {
        self.shared.kill.notified().await
    }
}

impl Drop for OutboxRx {
    /// The writer is gone (socket error or end): later output is refused.
    fn drop(&mut self) {
        let mut s = lock(&self.shared);
        s.killed = true;
        s.buf = Vec::new();
        s.writing = 0;
        self.shared.settle(&mut s);
    }
}
