//! Client connections: framing, the four-letter-word check, request decoding (reader task)
//! and reply encoding with write batching (writer task).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use menagerie_core::{BadRequest, ConnId, Input};
use menagerie_proto::frame::{FrameStart, frame_start};
use menagerie_proto::jute::{Reader, Record};
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{ConnectRequest, RequestHeader};
use menagerie_proto::request::Request;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::admission::Refusal;
use crate::config::ServerConfig;
use crate::inbox::{ConnCounts, ToShell};
use crate::outbox::{Chunk, OutboxRx, WriteSide, outbox};

/// How long a connection may take to send its ConnectRequest
/// (ZooKeeper: `zookeeper.nio.sessionlessCnxnTimeout`).
const SESSIONLESS_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection's read buffer: room for a pipelining client's requests of one read, small
/// enough that idle connections stay cheap (a frame larger than it is read around it).
const READ_BUFFER: usize = 16 * 1024;

/// A frame's body buffer starts at most this large and then doubles as the bytes arrive: a
/// length prefix alone never makes the server allocate the length.
const BODY_FIRST: usize = 4 * 1024;

/// A body buffer larger than this is not kept for the next frame.
const BODY_KEEP: usize = 64 * 1024;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// A new connection id, unique in this process (also for virtual connections such as the
/// HTTP gateway's sessions).
pub fn next_conn_id() -> ConnId {
    ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed))
}

/// Accepts connections until shutdown.
pub async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    shell: mpsc::Sender<ToShell>,
    counts: ConnCounts,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some((stream, peer)) =
        next_admitted(&listener, &counts, &mut shutdown, "client").await
    {
        let _ = stream.set_nodelay(true);
        let conn = next_conn_id();
        let (config, shell, counts) = (Arc::clone(&config), shell.clone(), Arc::clone(&counts));
        tokio::spawn(async move {
            let (read, write) = stream.into_split();
            let write = WriteSide::Tcp(Arc::new(write));
            serve(conn, read, write, peer, None, &config, &shell).await;
            release(&counts, peer);
        });
    }
}

/// Accepts TLS connections on the secure client port until shutdown. A failed handshake
/// (plaintext on this port, an untrusted, expired or missing client certificate) is logged
/// and the connection closed.
pub async fn secure_accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    config: Arc<ServerConfig>,
    shell: mpsc::Sender<ToShell>,
    counts: ConnCounts,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some((stream, peer)) =
        next_admitted(&listener, &counts, &mut shutdown, "secure client").await
    {
        let _ = stream.set_nodelay(true);
        let conn = next_conn_id();
        let (config, shell, counts) = (Arc::clone(&config), shell.clone(), Arc::clone(&counts));
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(SESSIONLESS_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let subject = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| crate::tls::subject_dn(c));
                    let (read, write) = tokio::io::split(tls);
                    let write = WriteSide::Stream(Box::new(write));
                    serve(conn, read, write, peer, subject, &config, &shell).await;
                }
                Ok(Err(e)) => {
                    crate::throttled_warn!(peer = %peer, error = %e, "TLS handshake failed; closing")
                }
                Err(_) => {
                    crate::throttled_warn!(peer = %peer, "no TLS handshake in time; closing")
                }
            }
            release(&counts, peer);
        });
    }
}

/// The next connection [`crate::admission`] admits (others are closed, with a throttled
/// warning); `None` at shutdown. An accept error (e.g. EMFILE) backs off briefly instead of
/// spinning.
async fn next_admitted(
    listener: &TcpListener,
    counts: &ConnCounts,
    shutdown: &mut watch::Receiver<bool>,
    port: &str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return None,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    crate::throttled_warn!(error = %e, port, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admitted = match counts.lock() {
            Ok(mut table) => table.admit(peer.ip()),
            Err(_) => Ok(()),
        };
        match admitted {
            Ok(()) => return Some((stream, peer)),
            Err(Refusal::PerAddress(limit)) => crate::throttled_warn!(peer = %peer, port, limit,
                "too many connections from this address (maxClientCnxns); closing"),
            Err(Refusal::Total(limit)) => crate::throttled_warn!(peer = %peer, port, limit,
                "too many connections (maxCnxns, or the open file limit less the descriptors \
                 kept for storage); closing"),
        }
    }
}

fn release(counts: &ConnCounts, peer: SocketAddr) {
    if let Ok(mut table) = counts.lock() {
        table.release(peer.ip());
    }
}

/// Why a connection's reader stopped.
#[derive(Debug)]
enum ReadEnd {
    Eof,
    Io(std::io::Error),
    Protocol(String),
}

async fn read_prefix<R: AsyncRead + Unpin>(r: &mut BufReader<R>) -> Result<[u8; 4], ReadEnd> {
    let mut p = [0u8; 4];
    match r.read_exact(&mut p).await {
        Ok(_) => Ok(p),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ReadEnd::Eof),
        Err(e) => Err(ReadEnd::Io(e)),
    }
}

/// Reads a frame body of `len` bytes into `buf`, growing it as the bytes arrive (see
/// [`next_body_size`]); a buffer left large by an earlier frame is given back first.
async fn read_body<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    len: usize,
    buf: &mut Vec<u8>,
) -> Result<(), ReadEnd> {
    if buf.capacity() > BODY_KEEP {
        *buf = Vec::new();
    }
    buf.clear();
    while buf.len() < len {
        let have = buf.len();
        buf.resize(next_body_size(have, len), 0);
        r.read_exact(&mut buf[have..])
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => ReadEnd::Eof,
                _ => ReadEnd::Io(e),
            })?;
    }
    Ok(())
}

/// The size a body buffer holding `have` of `len` bytes grows to for the next read: by at
/// most [`BODY_FIRST`] or `have`, whichever is larger, so memory follows the bytes received.
fn next_body_size(have: usize, len: usize) -> usize {
    len.min(have + BODY_FIRST.max(have))
}

fn frame_len(prefix: [u8; 4], max: usize, first: bool) -> Result<FrameStart, ReadEnd> {
    // A TLS ClientHello record starts 0x16 0x03: say so instead of a bare length error.
    if first && prefix[0] == 0x16 && prefix[1] == 0x03 {
        return Err(ReadEnd::Protocol(
            "TLS handshake on the plaintext client port (use secureClientPort)".into(),
        ));
    }
    match frame_start(prefix, max, first) {
        FrameStart::TooLarge(len) => Err(ReadEnd::Protocol(format!(
            "Len error {len}: frame larger than jute.maxbuffer ({max}) or negative"
        ))),
        s => Ok(s),
    }
}

/// Serves one connection: `x509` is the subject of its verified client certificate.
async fn serve<R>(
    conn: ConnId,
    read: R,
    write: WriteSide,
    peer: SocketAddr,
    x509: Option<String>,
    config: &ServerConfig,
    shell: &mpsc::Sender<ToShell>,
) where
    R: AsyncRead + Unpin,
{
    let mut reader = BufReader::with_capacity(READ_BUFFER, read);
    let connect = match first_packet(conn, peer, &mut reader, config.max_buffer).await {
        None => return,
        Some(FirstPacket::FourLetterWord(word)) => {
            four_letter(word, peer, &mut reader, write, config, shell).await;
            return;
        }
        Some(FirstPacket::Connect(req)) => req,
    };
    let (tx, rx) = outbox(&write);
    if shell
        .send(ToShell::Register { conn, tx, peer })
        .await
        .is_err()
    {
        return;
    }
    let mut writer = tokio::spawn(write_loop(write, rx));
    if start_session(conn, peer, connect, x509, shell).await {
        // The writer ends when the server closes the connection (or the socket fails):
        // stop reading then too, so a client cannot keep a closed session's socket open.
        let end = tokio::select! {
            end = read_loop(conn, &mut reader, config.max_buffer, shell) => end,
            _ = &mut writer => ReadEnd::Eof,
        };
        log_end(conn, peer, &end);
        let _ = shell
            .send(ToShell::Input(Input::Disconnected { conn }))
            .await;
    }
    if !writer.is_finished() {
        let _ = writer.await;
    }
}

/// What a connection's first packet was.
enum FirstPacket {
    /// A four-letter word.
    FourLetterWord([u8; 4]),
    /// The handshake of a session.
    Connect(ConnectRequest),
}

/// Reads the first packet, a four-letter word or the ConnectRequest, within the sessionless
/// timeout; `None` (logged) when there is none.
async fn first_packet<R: AsyncRead + Unpin>(
    conn: ConnId,
    peer: SocketAddr,
    reader: &mut BufReader<R>,
    max: usize,
) -> Option<FirstPacket> {
    let mut buf = Vec::new();
    let first = tokio::time::timeout(SESSIONLESS_TIMEOUT, async {
        let prefix = read_prefix(reader).await?;
        match frame_len(prefix, max, true)? {
            FrameStart::FourLetterWord(w) => Ok(FirstPacket::FourLetterWord(w)),
            FrameStart::Length(len) => {
                read_body(reader, len, &mut buf).await?;
                ConnectRequest::read(&mut Reader::new(&buf))
                    .map(FirstPacket::Connect)
                    .map_err(|e| ReadEnd::Protocol(format!("bad ConnectRequest: {e}")))
            }
            FrameStart::TooLarge(_) => Err(ReadEnd::Protocol("unreachable".into())),
        }
    })
    .await;
    match first {
        Err(_) => {
            tracing::debug!(conn = conn.0, peer = %peer, "no ConnectRequest in time; closing");
            None
        }
        Ok(Err(end)) => {
            log_end(conn, peer, &end);
            None
        }
        Ok(Ok(packet)) => Some(packet),
    }
}

/// Hands the handshake (and the TLS identity, if any) to the core; false if the shell is
/// gone.
async fn start_session(
    conn: ConnId,
    peer: SocketAddr,
    req: ConnectRequest,
    x509: Option<String>,
    shell: &mpsc::Sender<ToShell>,
) -> bool {
    let input = Input::Connect {
        conn,
        peer_ip: peer.ip().to_string(),
        req,
    };
    if shell.send(ToShell::Input(input)).await.is_err() {
        return false;
    }
    let Some(subject) = x509 else {
        return true;
    };
    let id = menagerie_proto::records::Id {
        scheme: "x509".into(),
        id: subject,
    };
    shell
        .send(ToShell::Input(Input::Identity { conn, id }))
        .await
        .is_ok()
}

fn log_end(conn: ConnId, peer: SocketAddr, end: &ReadEnd) {
    match end {
        ReadEnd::Eof => tracing::debug!(conn = conn.0, peer = %peer, "connection closed by client"),
        ReadEnd::Io(e) => {
            tracing::debug!(conn = conn.0, peer = %peer, error = %e, "connection error")
        }
        ReadEnd::Protocol(m) => {
            crate::throttled_warn!(conn = conn.0, peer = %peer, "closing connection: {m}")
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    conn: ConnId,
    reader: &mut BufReader<R>,
    max: usize,
    shell: &mpsc::Sender<ToShell>,
) -> ReadEnd {
    let mut buf = Vec::new();
    let mut batch = Vec::new();
    loop {
        // Every request already in the read buffer goes to the shell in one message.
        let end = loop {
            if let Err(e) = read_request(conn, reader, max, &mut buf, &mut batch).await {
                break Some(e);
            }
            if !whole_frame_buffered(reader.buffer()) {
                break None;
            }
        };
        let msg = if batch.len() == 1 {
            batch.pop().map(ToShell::Input)
        } else if batch.is_empty() {
            None
        } else {
            Some(ToShell::Inputs(std::mem::take(&mut batch)))
        };
        if let Some(msg) = msg
            && shell.send(msg).await.is_err()
        {
            return ReadEnd::Eof;
        }
        if let Some(e) = end {
            return e;
        }
    }
}

/// Whether `buffered` starts with a whole frame (reading it will not wait).
fn whole_frame_buffered(buffered: &[u8]) -> bool {
    match buffered.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok()) {
        Some(p) => usize::try_from(i32::from_be_bytes(p)).is_ok_and(|l| buffered.len() >= 4 + l),
        None => false,
    }
}

/// Reads one request frame and decodes it onto `batch`.
async fn read_request<R: AsyncRead + Unpin>(
    conn: ConnId,
    reader: &mut BufReader<R>,
    max: usize,
    buf: &mut Vec<u8>,
    batch: &mut Vec<Input>,
) -> Result<(), ReadEnd> {
    {
        let prefix = read_prefix(reader).await?;
        let len = match frame_len(prefix, max, false)? {
            FrameStart::Length(l) => l,
            _ => return Err(ReadEnd::Protocol("unexpected frame".into())),
        };
        read_body(reader, len, buf).await?;
        let mut r = Reader::new(buf);
        let header = match RequestHeader::read(&mut r) {
            Ok(h) => h,
            Err(e) => return Err(ReadEnd::Protocol(format!("bad request header: {e}"))),
        };
        let req = match OpCode::from_code(header.op) {
            None => Err(BadRequest::UnknownOp),
            Some(op) => match Request::decode(op, &mut r) {
                Ok(Some(req)) => Ok(req),
                Ok(None) => Err(BadRequest::UnknownOp),
                Err(e) => {
                    tracing::debug!(conn = conn.0, op = header.op, error = %e, "undecodable request");
                    Err(BadRequest::Malformed)
                }
            },
        };
        batch.push(Input::Request {
            conn,
            xid: header.xid,
            op: header.op,
            req,
        });
        Ok(())
    }
}

/// Writes what the shell could not write directly (see [`crate::outbox`]). Stops at once
/// when the shell kills the connection (its output overflowed).
async fn write_loop(mut w: WriteSide, rx: OutboxRx) {
    // Empty until the first hand-over (which swaps in the outbox's buffer).
    let mut chunk = Vec::new();
    loop {
        match rx.next(&mut chunk).await {
            Chunk::Killed => return,
            Chunk::Close => {
                w.shutdown().await;
                return;
            }
            Chunk::Data => {
                let written = tokio::select! {
                    biased;
                    _ = rx.killed() => return,
                    r = w.write_all(&chunk) => r,
                };
                if written.is_err() {
                    return;
                }
                chunk.clear();
                if chunk.capacity() > BODY_KEEP {
                    // Do not keep a burst's buffer for the connection's lifetime.
                    chunk = Vec::new();
                }
            }
        }
    }
}

async fn four_letter<R: AsyncRead + Unpin>(
    word: [u8; 4],
    peer: SocketAddr,
    reader: &mut BufReader<R>,
    mut w: WriteSide,
    config: &ServerConfig,
    shell: &mpsc::Sender<ToShell>,
) {
    let word = String::from_utf8_lossy(&word).into_owned();
    let text = if word == "stmk" && config.four_letter_allowed(&word) {
        // The new mask follows as an 8-byte big-endian long; the answer is the mask.
        let mut mask = [0u8; 8];
        match tokio::time::timeout(SESSIONLESS_TIMEOUT, reader.read_exact(&mut mask)).await {
            Ok(Ok(_)) => {
                let mask = i64::from_be_bytes(mask);
                crate::ops::facts::set_trace_mask(mask);
                tracing::info!(peer = %peer, mask, "trace mask set (stmk)");
                mask.to_string()
            }
            _ => return,
        }
    } else if config.four_letter_allowed(&word) {
        let (reply, rx) = oneshot::channel();
        if shell
            .send(ToShell::FourLetter {
                word: word.clone(),
                peer,
                reply,
            })
            .await
            .is_err()
        {
            return;
        }
        rx.await.unwrap_or_default()
    } else {
        format!("{word} is not executed because it is not in the whitelist.\n")
    };
    let _ = w.write_all(text.as_bytes()).await;
    w.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_buffers_grow_with_the_bytes_received() {
        // A 1 MiB frame: 4 KiB first, then doubling, never past the length.
        let mut sizes = vec![0];
        while let Some(&have) = sizes.last().filter(|&&h| h < 1 << 20) {
            sizes.push(next_body_size(have, 1 << 20));
        }
        let kib = [0, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
        assert_eq!(sizes, kib.map(|k| k << 10).to_vec());
        // Small frames are read in one go.
        assert_eq!(next_body_size(0, 100), 100);
    }
}
