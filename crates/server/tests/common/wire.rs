//! ZooKeeper's client protocol by hand, for tests that send what no client library would:
//! encoding (frames, ConnectRequest, RequestHeader, bodies), decoding (frames, ConnectResponse,
//! ReplyHeader) and bounded waits on raw sockets. Every read and write is bounded by
//! [`WAIT`], so a hung server fails a test instead of hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for any single wait on the server.
pub const WAIT: Duration = Duration::from_secs(5);

/// Opcodes and error codes the tests use.
pub const OP_CREATE: i32 = 1;
/// `exists`.
pub const OP_EXISTS: i32 = 3;
/// `getData`.
pub const OP_GET_DATA: i32 = 4;
/// `check` (multi only).
pub const OP_CHECK: i32 = 13;
/// MarshallingError.
pub const ERR_MARSHALLING: i32 = -5;
/// Unimplemented.
pub const ERR_UNIMPLEMENTED: i32 = -6;
/// NoNode.
pub const ERR_NO_NODE: i32 = -101;

// ---- encoding ---------------------------------------------------------------------------

/// Appends a Jute int.
pub fn int(b: &mut Vec<u8>, v: i32) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// Appends a Jute long.
pub fn long(b: &mut Vec<u8>, v: i64) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// Appends a Jute buffer (or ustring).
pub fn buffer(b: &mut Vec<u8>, v: &[u8]) {
    int(b, v.len() as i32);
    b.extend_from_slice(v);
}

/// `body` with its length prefix.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A ConnectRequest frame; `read_only: None` leaves the trailing byte out (pre-3.4 clients).
pub fn connect_request(
    last_zxid: i64,
    timeout: i32,
    session: i64,
    passwd: &[u8],
    read_only: Option<bool>,
) -> Vec<u8> {
    let mut b = Vec::new();
    int(&mut b, 0); // protocol version
    long(&mut b, last_zxid);
    int(&mut b, timeout);
    long(&mut b, session);
    buffer(&mut b, passwd);
    if let Some(ro) = read_only {
        b.push(u8::from(ro));
    }
    frame(&b)
}

/// A ConnectRequest for a new 10 s session, with the readOnly byte.
pub fn new_session_request() -> Vec<u8> {
    connect_request(0, 10_000, 0, &[0; 16], Some(false))
}

/// A request frame: RequestHeader{xid, op} followed by `body`.
pub fn request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    int(&mut b, xid);
    int(&mut b, op);
    b.extend_from_slice(body);
    frame(&b)
}

/// The body of exists/getData: path and watch flag (not set).
pub fn path_watch(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    buffer(&mut b, path.as_bytes());
    b.push(0);
    b
}

/// The body of a create with world:anyone ALL, persistent.
pub fn create_body(path: &str, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    buffer(&mut b, path.as_bytes());
    buffer(&mut b, data);
    int(&mut b, 1); // one ACL
    int(&mut b, 31);
    buffer(&mut b, b"world");
    buffer(&mut b, b"anyone");
    int(&mut b, 0); // flags: persistent
    b
}

// ---- decoding ---------------------------------------------------------------------------

/// Reads one frame (at most 1 MiB); `None` on EOF, error or timeout.
pub async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let len = usize::try_from(i32::from_be_bytes(len)).ok()?;
    if len > 1 << 21 {
        return None;
    }
    let mut body = vec![0u8; len];
    tokio::time::timeout(WAIT, s.read_exact(&mut body))
        .await
        .ok()?
        .ok()?;
    Some(body)
}

/// A big-endian int from 4 bytes.
pub fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes(b.try_into().expect("4 bytes"))
}

/// A big-endian long from 8 bytes.
pub fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b.try_into().expect("8 bytes"))
}

/// The fields of a ConnectResponse the tests look at.
#[derive(Debug)]
pub struct Connected {
    /// Negotiated timeout (0: refused).
    pub timeout: i32,
    /// Session id.
    pub session: i64,
    /// Session password.
    pub passwd: Vec<u8>,
}

/// Decodes a ConnectResponse (protocol version 0, 16-byte password).
pub fn parse_connect_response(b: &[u8]) -> Connected {
    assert!(b.len() >= 36, "ConnectResponse too short: {b:?}");
    assert_eq!(be_i32(&b[0..4]), 0);
    assert_eq!(be_i32(&b[16..20]), 16);
    Connected {
        timeout: be_i32(&b[4..8]),
        session: be_i64(&b[8..16]),
        passwd: b[20..36].to_vec(),
    }
}

/// ReplyHeader{xid, zxid, err}.
pub fn reply_header(b: &[u8]) -> (i32, i64, i32) {
    assert!(b.len() >= 16, "reply too short: {b:?}");
    (be_i32(&b[0..4]), be_i64(&b[4..12]), be_i32(&b[12..16]))
}

// ---- sockets ----------------------------------------------------------------------------

/// Whether the server closes the connection within the wait *without sending anything*.
pub async fn closed_silently(s: &mut TcpStream) -> Result<(), String> {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
        Ok(Ok(0)) => Ok(()),
        // A reset (the server closed with our bytes unread) is a close too.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Ok(Ok(n)) => Err(format!("server sent {n} bytes: {:?}", &buf[..n])),
        Ok(Err(e)) => Err(format!("read failed: {e}")),
        Err(_) => Err("the connection is still open".into()),
    }
}

/// Whether the server closes the connection within the wait (after whatever it still sends).
pub async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A new connection to `addr`.
pub async fn dial(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// Writes `bytes`.
pub async fn send(s: &mut TcpStream, bytes: &[u8]) {
    tokio::time::timeout(WAIT, s.write_all(bytes))
        .await
        .expect("write in time")
        .expect("write");
}

/// A fresh session on a new connection.
pub async fn handshake(addr: SocketAddr) -> (TcpStream, Connected) {
    let mut s = dial(addr).await;
    send(&mut s, &new_session_request()).await;
    let resp = read_frame(&mut s).await.expect("ConnectResponse");
    assert_eq!(resp.len(), 37, "with the readOnly byte");
    let c = parse_connect_response(&resp);
    assert_ne!(c.session, 0);
    (s, c)
}

/// Sends `exists(path)` and returns the reply header.
pub async fn exists(s: &mut TcpStream, xid: i32, path: &str) -> (i32, i64, i32) {
    send(s, &request(xid, OP_EXISTS, &path_watch(path))).await;
    let reply = read_frame(s).await.expect("exists reply");
    reply_header(&reply)
}

/// The connection answers: getData("/zookeeper") succeeds with the right xid.
pub async fn answers(s: &mut TcpStream, xid: i32) {
    send(s, &request(xid, OP_GET_DATA, &path_watch("/zookeeper"))).await;
    let reply = read_frame(s).await.expect("getData reply");
    let (got_xid, zxid, err) = reply_header(&reply);
    assert_eq!((got_xid, err), (xid, 0));
    assert!(zxid > 0, "a session was created, so the zxid has advanced");
    // Body: buffer data, then the 68-byte Stat.
    assert_eq!(reply.len(), 16 + 4 + 68);
}

/// The server still serves a brand-new client.
pub async fn still_serving(addr: SocketAddr) {
    let (mut s, _) = handshake(addr).await;
    answers(&mut s, 1).await;
}
