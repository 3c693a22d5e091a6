//! Bad and unusual input on raw sockets: each offending connection gets ZooKeeper's treatment
//! (a reply and/or a close) while the server keeps serving everybody else. Every read is
//! bounded by a timeout, so a hung server fails a test instead of hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use menagerie_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for any single wait on the server.
const WAIT: Duration = Duration::from_secs(5);
/// The jute.maxbuffer the tests run with (small, so "too large" is cheap to send).
const MAX_BUFFER: usize = 4096;

const OP_CREATE: i32 = 1;
const OP_EXISTS: i32 = 3;
const OP_GET_DATA: i32 = 4;
const OP_CHECK: i32 = 13;
const ERR_MARSHALLING: i32 = -5;
const ERR_UNIMPLEMENTED: i32 = -6;
const ERR_NO_NODE: i32 = -101;

/// A started server and the directory it keeps its data in (removed on drop).
struct Fixture {
    server: RunningServer,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = ServerConfig {
        client_addr: "127.0.0.1:0".parse().expect("loopback address"),
        data_dir: dir.path().to_path_buf(),
        data_log_dir: dir.path().to_path_buf(),
        tick_ms: 200,
        min_session_timeout_ms: 400,
        max_session_timeout_ms: 20_000,
        max_buffer: MAX_BUFFER,
        pre_alloc_size: 1 << 20,
        ..ServerConfig::default()
    };
    adjust(&mut config);
    let server = tokio::time::timeout(WAIT, menagerie_server::start(config))
        .await
        .expect("start in time")
        .expect("server starts");
    Fixture { server, _dir: dir }
}

async fn start() -> Fixture {
    start_with(|_| {}).await
}

// ---- encoding ---------------------------------------------------------------------------

fn int(b: &mut Vec<u8>, v: i32) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn long(b: &mut Vec<u8>, v: i64) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn buffer(b: &mut Vec<u8>, v: &[u8]) {
    int(b, v.len() as i32);
    b.extend_from_slice(v);
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// A ConnectRequest frame; `read_only: None` leaves the trailing byte out (pre-3.4 clients).
fn connect_request(
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

fn new_session_request() -> Vec<u8> {
    connect_request(0, 10_000, 0, &[0; 16], Some(false))
}

/// A request frame: RequestHeader{xid, op} followed by `body`.
fn request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    int(&mut b, xid);
    int(&mut b, op);
    b.extend_from_slice(body);
    frame(&b)
}

/// The body of exists/getData: path and watch flag.
fn path_watch(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    buffer(&mut b, path.as_bytes());
    b.push(0);
    b
}

/// The body of a create with world:anyone ALL, persistent.
fn create_body(path: &str, data: &[u8]) -> Vec<u8> {
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

/// Reads one frame; `None` on EOF, error or timeout.
async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let len = usize::try_from(i32::from_be_bytes(len)).ok()?;
    let mut body = vec![0u8; len];
    tokio::time::timeout(WAIT, s.read_exact(&mut body))
        .await
        .ok()?
        .ok()?;
    Some(body)
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes(b.try_into().expect("4 bytes"))
}

fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b.try_into().expect("8 bytes"))
}

#[derive(Debug)]
struct Connected {
    timeout: i32,
    session: i64,
    passwd: Vec<u8>,
}

fn parse_connect_response(b: &[u8]) -> Connected {
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
fn reply_header(b: &[u8]) -> (i32, i64, i32) {
    assert!(b.len() >= 16, "reply too short: {b:?}");
    (be_i32(&b[0..4]), be_i64(&b[4..12]), be_i32(&b[12..16]))
}

/// Whether the server closes the connection within the wait *without sending anything*.
async fn closed_silently(s: &mut TcpStream) -> Result<(), String> {
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
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn dial(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn send(s: &mut TcpStream, bytes: &[u8]) {
    tokio::time::timeout(WAIT, s.write_all(bytes))
        .await
        .expect("write in time")
        .expect("write");
}

/// A fresh session on a new connection.
async fn handshake(addr: SocketAddr) -> (TcpStream, Connected) {
    let mut s = dial(addr).await;
    send(&mut s, &new_session_request()).await;
    let resp = read_frame(&mut s).await.expect("ConnectResponse");
    assert_eq!(resp.len(), 37, "with the readOnly byte");
    let c = parse_connect_response(&resp);
    assert_ne!(c.session, 0);
    (s, c)
}

/// Sends `exists(path)` and returns the reply header.
async fn exists(s: &mut TcpStream, xid: i32, path: &str) -> (i32, i64, i32) {
    send(s, &request(xid, OP_EXISTS, &path_watch(path))).await;
    let reply = read_frame(s).await.expect("exists reply");
    reply_header(&reply)
}

/// The connection answers: getData("/zookeeper") succeeds with the right xid.
async fn answers(s: &mut TcpStream, xid: i32) {
    send(s, &request(xid, OP_GET_DATA, &path_watch("/zookeeper"))).await;
    let reply = read_frame(s).await.expect("getData reply");
    let (got_xid, zxid, err) = reply_header(&reply);
    assert_eq!((got_xid, err), (xid, 0));
    assert!(zxid > 0, "a session was created, so the zxid has advanced");
    // Body: buffer data, then the 68-byte Stat.
    assert_eq!(reply.len(), 16 + 4 + 68);
}

/// The server still serves a brand-new client.
async fn still_serving(addr: SocketAddr) {
    let (mut s, _) = handshake(addr).await;
    answers(&mut s, 1).await;
}

// ---- tests ------------------------------------------------------------------------------

#[tokio::test]
async fn oversized_and_negative_lengths_close_only_that_connection() {
    let f = start().await;
    let (mut bystander, _) = handshake(f.addr()).await;

    // As the first packet: too large, and negative.
    for len in [MAX_BUFFER as i32 + 1, 0x7fff_ffff, -1, -4096] {
        let mut s = dial(f.addr()).await;
        send(&mut s, &len.to_be_bytes()).await;
        closed_silently(&mut s)
            .await
            .unwrap_or_else(|e| panic!("first length {len}: {e}"));
    }
    // After the handshake: too large, and negative.
    for len in [MAX_BUFFER as i32 + 1, -2] {
        let (mut s, _) = handshake(f.addr()).await;
        answers(&mut s, 1).await;
        send(&mut s, &len.to_be_bytes()).await;
        closed_silently(&mut s)
            .await
            .unwrap_or_else(|e| panic!("length {len} after the handshake: {e}"));
    }
    // A frame of exactly jute.maxbuffer bytes is still fine.
    let (mut s, _) = handshake(f.addr()).await;
    let base = request(1, OP_CREATE, &create_body("/big", b"")).len();
    let data = vec![b'x'; MAX_BUFFER + 4 - base];
    let big = request(1, OP_CREATE, &create_body("/big", &data));
    assert_eq!(big.len(), MAX_BUFFER + 4);
    send(&mut s, &big).await;
    let reply = read_frame(&mut s).await.expect("create reply");
    assert_eq!(reply_header(&reply).2, 0, "create of a max-size frame");
    assert_eq!(exists(&mut s, 2, "/big").await.2, 0);

    // The bystander never noticed.
    answers(&mut bystander, 1).await;
    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn garbage_first_packets_are_dropped_without_a_reply() {
    let f = start().await;
    let (mut bystander, _) = handshake(f.addr()).await;

    // An HTTP request: "GET " read as a length is far above jute.maxbuffer.
    let mut s = dial(f.addr()).await;
    send(&mut s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    closed_silently(&mut s).await.expect("HTTP request");

    // A well-framed ConnectRequest whose password claims more bytes than the frame has.
    let mut body = Vec::new();
    int(&mut body, 0);
    long(&mut body, 0);
    int(&mut body, 10_000);
    long(&mut body, 0);
    int(&mut body, 0x7fff_0000);
    body.extend_from_slice(&[0; 16]);
    let mut s = dial(f.addr()).await;
    send(&mut s, &frame(&body)).await;
    closed_silently(&mut s).await.expect("bad password length");

    // Random-looking bytes that are neither a four-letter word nor a sane length.
    let mut s = dial(f.addr()).await;
    send(&mut s, &[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]).await;
    closed_silently(&mut s).await.expect("0xdeadbeef");

    // A four-letter word the server does not know is just a (too large) length.
    let mut s = dial(f.addr()).await;
    send(&mut s, b"abcd").await;
    closed_silently(&mut s).await.expect("unknown word");

    answers(&mut bystander, 1).await;
    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn truncated_connect_requests_close_the_connection() {
    let f = start().await;

    // The frame promises a whole ConnectRequest; the client sends part of it and EOF.
    let full = new_session_request();
    let mut s = dial(f.addr()).await;
    send(&mut s, &full[..14]).await;
    s.shutdown().await.expect("shutdown");
    closed_silently(&mut s).await.expect("EOF inside the frame");

    // A complete frame whose body is too short for a ConnectRequest.
    let mut s = dial(f.addr()).await;
    send(&mut s, &frame(&full[4..20])).await;
    closed_silently(&mut s).await.expect("short body");

    // Only part of the length prefix, then EOF.
    let mut s = dial(f.addr()).await;
    send(&mut s, &[0, 0]).await;
    s.shutdown().await.expect("shutdown");
    closed_silently(&mut s).await.expect("half a prefix");

    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn unknown_opcode_gets_unimplemented_then_close() {
    let f = start().await;
    let (mut bystander, _) = handshake(f.addr()).await;
    let (mut s, _) = handshake(f.addr()).await;
    answers(&mut s, 1).await;
    send(&mut s, &request(2, 999, &path_watch("/"))).await;
    let reply = read_frame(&mut s).await.expect("a reply to opcode 999");
    let (xid, _, err) = reply_header(&reply);
    assert_eq!((xid, err), (2, ERR_UNIMPLEMENTED));
    assert_eq!(reply.len(), 16, "error replies have no body");
    // The connection is closed after the reply: a further request gets nothing.
    let _ = s.write_all(&request(3, OP_EXISTS, &path_watch("/"))).await;
    closed_silently(&mut s)
        .await
        .expect("closed after Unimplemented");

    answers(&mut bystander, 1).await;
    f.server.stop().await;
}

#[tokio::test]
async fn standalone_check_gets_unimplemented_then_close() {
    let f = start().await;
    let (mut s, _) = handshake(f.addr()).await;
    let mut body = Vec::new();
    buffer(&mut body, b"/");
    int(&mut body, -1);
    send(&mut s, &request(7, OP_CHECK, &body)).await;
    let reply = read_frame(&mut s).await.expect("a reply to check");
    let (xid, _, err) = reply_header(&reply);
    assert_eq!((xid, err), (7, ERR_UNIMPLEMENTED));
    closed_silently(&mut s).await.expect("closed after check");
    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn truncated_request_body_gets_marshalling_error_and_the_connection_stays() {
    let f = start().await;
    let (mut s, _) = handshake(f.addr()).await;
    // getData whose path claims 100 bytes but has 3.
    let mut body = Vec::new();
    int(&mut body, 100);
    body.extend_from_slice(b"/zo");
    send(&mut s, &request(1, OP_GET_DATA, &body)).await;
    let reply = read_frame(&mut s)
        .await
        .expect("a reply to the bad getData");
    let (xid, _, err) = reply_header(&reply);
    assert_eq!((xid, err), (1, ERR_MARSHALLING));
    assert_eq!(reply.len(), 16, "error replies have no body");
    // A create with nothing after its path.
    let mut body = Vec::new();
    buffer(&mut body, b"/half");
    send(&mut s, &request(2, OP_CREATE, &body)).await;
    let reply = read_frame(&mut s).await.expect("a reply to the bad create");
    assert_eq!(reply_header(&reply).2, ERR_MARSHALLING);
    // Same connection, same session: later requests are served in order.
    answers(&mut s, 3).await;
    let (xid, _, err) = exists(&mut s, 4, "/half").await;
    assert_eq!(
        (xid, err),
        (4, ERR_NO_NODE),
        "the bad create applied nothing"
    );
    f.server.stop().await;
}

#[tokio::test]
async fn a_client_that_vanishes_mid_request_does_not_disturb_others() {
    let f = start().await;
    let (mut bystander, _) = handshake(f.addr()).await;

    // A create sent, then the client closes without reading the reply: the request was
    // received whole, so it is still applied.
    let (mut s, _) = handshake(f.addr()).await;
    send(
        &mut s,
        &request(1, OP_CREATE, &create_body("/vanished", b"v")),
    )
    .await;
    drop(s);

    // A client that floods reads and resets the connection without reading any replies.
    let (mut s, _) = handshake(f.addr()).await;
    let mut burst = Vec::new();
    for xid in 1..=500 {
        burst.extend_from_slice(&request(xid, OP_GET_DATA, &path_watch("/zookeeper")));
    }
    send(&mut s, &burst).await;
    // A zero linger makes drop send a reset at once (it cannot block), so the deprecation's
    // concern does not apply.
    #[allow(deprecated)]
    s.set_linger(Some(Duration::ZERO)).expect("linger");
    drop(s);

    // A half-sent request frame, then gone.
    let (mut s, _) = handshake(f.addr()).await;
    let req = request(1, OP_GET_DATA, &path_watch("/zookeeper"));
    send(&mut s, &req[..req.len() - 3]).await;
    drop(s);

    let deadline = tokio::time::Instant::now() + WAIT;
    let mut xid = 1;
    loop {
        xid += 1;
        let (_, _, err) = exists(&mut bystander, xid, "/vanished").await;
        if err == 0 {
            break;
        }
        assert_eq!(err, ERR_NO_NODE);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the vanished client's create was never applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn ruok_is_refused_unless_whitelisted() {
    async fn four_letter(addr: SocketAddr, word: &[u8]) -> String {
        let mut s = dial(addr).await;
        send(&mut s, word).await;
        let mut text = Vec::new();
        tokio::time::timeout(WAIT, s.read_to_end(&mut text))
            .await
            .expect("the server closes after answering")
            .expect("read");
        String::from_utf8(text).expect("utf-8")
    }

    let f = start().await;
    assert_eq!(
        four_letter(f.addr(), b"ruok").await,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    // srvr is whitelisted by default.
    let srvr = four_letter(f.addr(), b"srvr").await;
    assert!(srvr.starts_with("Zookeeper version:"), "{srvr}");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    still_serving(f.addr()).await;
    f.server.stop().await;

    let f = start_with(|c| c.four_letter_whitelist = vec!["*".into()]).await;
    assert_eq!(four_letter(f.addr(), b"ruok").await, "imok");
    f.server.stop().await;
}

#[tokio::test]
async fn connect_response_has_a_read_only_byte_only_if_the_request_had_one() {
    let f = start().await;
    for (read_only, len) in [(None, 36), (Some(false), 37)] {
        let mut s = dial(f.addr()).await;
        send(&mut s, &connect_request(0, 3_000, 0, &[0; 16], read_only)).await;
        let resp = read_frame(&mut s).await.expect("ConnectResponse");
        assert_eq!(resp.len(), len, "readOnly byte {read_only:?}");
        let c = parse_connect_response(&resp);
        assert_eq!(c.timeout, 3_000);
        assert_ne!(c.session, 0);
        if len == 37 {
            assert_eq!(resp[36], 0, "a standalone server is not read-only");
        }
        // The session works without the byte too.
        answers(&mut s, 1).await;
    }
    // The requested timeout is clamped to [minSessionTimeout, maxSessionTimeout].
    for (asked, got) in [(1, 400), (1_000_000, 20_000)] {
        let mut s = dial(f.addr()).await;
        send(&mut s, &connect_request(0, asked, 0, &[0; 16], Some(false))).await;
        let c = parse_connect_response(&read_frame(&mut s).await.expect("ConnectResponse"));
        assert_eq!(c.timeout, got, "asked for {asked}");
    }
    f.server.stop().await;
}

#[tokio::test]
async fn a_client_that_has_seen_a_newer_zxid_is_disconnected_without_a_response() {
    let f = start().await;
    let (mut s, _) = handshake(f.addr()).await;
    let (_, server_zxid, _) = exists(&mut s, 1, "/").await;
    assert!(server_zxid > 0);

    // Exactly the server's zxid is fine.
    let mut ok = dial(f.addr()).await;
    send(
        &mut ok,
        &connect_request(server_zxid, 10_000, 0, &[0; 16], Some(false)),
    )
    .await;
    let resp = read_frame(&mut ok).await.expect("ConnectResponse");
    assert_ne!(parse_connect_response(&resp).session, 0);

    // Newer than anything the server has: no response at all, just a close.
    for seen in [server_zxid + 100, (5i64 << 32) | 1] {
        let mut refused = dial(f.addr()).await;
        send(
            &mut refused,
            &connect_request(seen, 10_000, 0, &[0; 16], Some(false)),
        )
        .await;
        closed_silently(&mut refused)
            .await
            .unwrap_or_else(|e| panic!("lastZxidSeen {seen:#x}: {e}"));
    }
    answers(&mut s, 2).await;
    f.server.stop().await;
}

#[tokio::test]
async fn a_resume_with_a_wrong_password_is_refused() {
    let f = start().await;
    let (mut first, c) = handshake(f.addr()).await;
    assert_eq!(c.passwd.len(), 16);
    let mut wrong = c.passwd.clone();
    wrong[0] ^= 0xff;

    let mut s = dial(f.addr()).await;
    send(
        &mut s,
        &connect_request(0, 10_000, c.session, &wrong, Some(false)),
    )
    .await;
    let resp = read_frame(&mut s).await.expect("ConnectResponse");
    assert_eq!(resp.len(), 37);
    let refused = parse_connect_response(&resp);
    assert_eq!((refused.timeout, refused.session), (0, 0));
    assert_eq!(refused.passwd, [0; 16]);
    assert!(closed(&mut s).await, "closed after the refusal");
    // ZooKeeper drops the session's current connection before checking the password.
    assert!(
        closed(&mut first).await,
        "the old connection is closed by a resume attempt"
    );

    // The right password resumes the same session on a new connection.
    let mut s = dial(f.addr()).await;
    send(
        &mut s,
        &connect_request(0, 10_000, c.session, &c.passwd, Some(false)),
    )
    .await;
    let resumed = parse_connect_response(&read_frame(&mut s).await.expect("ConnectResponse"));
    assert_eq!(resumed.session, c.session);
    assert_eq!(resumed.passwd, c.passwd);
    answers(&mut s, 1).await;
    f.server.stop().await;
}

fn auth_body(scheme: &str, auth: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    int(&mut b, 0); // type, unused
    buffer(&mut b, scheme.as_bytes());
    buffer(&mut b, auth);
    b
}

#[tokio::test]
async fn auth_replies_echo_the_xid_and_an_unknown_scheme_closes_the_connection() {
    const OP_AUTH: i32 = 100;
    const ERR_AUTH_FAILED: i32 = -115;
    let f = start().await;
    let (mut s, _) = handshake(f.addr()).await;
    // The Java client sends -4; other clients use ordinary xids, and ZooKeeper echoes either.
    for xid in [-4, 9] {
        send(&mut s, &request(xid, OP_AUTH, &auth_body("digest", b"u:p"))).await;
        let reply = read_frame(&mut s).await.expect("auth reply");
        assert_eq!(reply_header(&reply), (xid, 0, 0));
        assert_eq!(reply.len(), 16);
    }
    answers(&mut s, 10).await;

    send(&mut s, &request(11, OP_AUTH, &auth_body("nosuch", b"x"))).await;
    let reply = read_frame(&mut s).await.expect("auth reply");
    assert_eq!(reply_header(&reply), (11, 0, ERR_AUTH_FAILED));
    closed_silently(&mut s)
        .await
        .expect("closed after AuthFailed");
    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn a_watch_notification_precedes_the_reply_to_the_write_that_fired_it() {
    const OP_SET_DATA: i32 = 5;
    let f = start().await;
    let (mut s, _) = handshake(f.addr()).await;
    send(&mut s, &request(1, OP_CREATE, &create_body("/n", b"0"))).await;
    assert_eq!(
        reply_header(&read_frame(&mut s).await.expect("create")).2,
        0
    );
    // getData with a watch, then setData on the same connection, written together.
    let mut get = Vec::new();
    buffer(&mut get, b"/n");
    get.push(1);
    let mut set = Vec::new();
    buffer(&mut set, b"/n");
    buffer(&mut set, b"1");
    int(&mut set, -1);
    let mut both = request(2, OP_GET_DATA, &get);
    both.extend_from_slice(&request(3, OP_SET_DATA, &set));
    send(&mut s, &both).await;

    let get_reply = read_frame(&mut s).await.expect("getData reply");
    assert_eq!(reply_header(&get_reply).0, 2);
    let event = read_frame(&mut s).await.expect("notification");
    let (xid, _, err) = reply_header(&event);
    assert_eq!(
        (xid, err),
        (-1, 0),
        "the notification comes before the setData reply"
    );
    // WatcherEvent{int type, int state, ustring path}: NodeDataChanged, SyncConnected, "/n".
    let mut want = Vec::new();
    int(&mut want, 3);
    int(&mut want, 3);
    buffer(&mut want, b"/n");
    assert_eq!(&event[16..], want.as_slice());
    let set_reply = read_frame(&mut s).await.expect("setData reply");
    let (xid, zxid, err) = reply_header(&set_reply);
    assert_eq!((xid, err), (3, 0));
    // The event carries the zxid of the txn that fired it (ZooKeeper 3.9).
    assert_eq!(reply_header(&event).1, zxid);
    f.server.stop().await;
}

/// Sends a four-letter word on a fresh connection and returns the answer.
async fn four_letter(addr: SocketAddr, word: &str) -> String {
    let mut s = dial(addr).await;
    send(&mut s, word.as_bytes()).await;
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("4lw answer in time")
        .expect("4lw answer");
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of one `mntr` key.
async fn mntr(addr: SocketAddr, key: &str) -> i64 {
    let text = four_letter(addr, "mntr").await;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('\t')?.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {text}"))
}

/// exists() with watch=true (the body of `path_watch` with the flag set).
fn exists_watch(path: &str) -> Vec<u8> {
    let mut b = path_watch(path);
    if let Some(flag) = b.last_mut() {
        *flag = 1;
    }
    b
}

/// One client registering 100,000 watches: every one is answered, counted, and dropped with
/// its connection; another client is served meanwhile.
#[tokio::test]
async fn a_flood_of_watches_is_served_and_dropped_with_the_connection() {
    let f = start_with(|c| c.four_letter_whitelist = vec!["*".into()]).await;
    let (mut s, _) = handshake(f.addr()).await;
    const N: i32 = 100_000;
    let (mut rd, mut wr) = s.split();
    let writer = async {
        let mut batch = Vec::new();
        for i in 0..N {
            batch.extend_from_slice(&request(
                i + 1,
                OP_EXISTS,
                &exists_watch(&format!("/f/{i}")),
            ));
            if batch.len() > 64 << 10 {
                wr.write_all(&batch).await.expect("write");
                batch.clear();
            }
        }
        wr.write_all(&batch).await.expect("write");
    };
    let reader = async {
        let mut len = [0u8; 4];
        for i in 0..N {
            rd.read_exact(&mut len).await.expect("reply length");
            let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
            rd.read_exact(&mut body).await.expect("reply");
            let (xid, _, err) = reply_header(&body);
            assert_eq!((xid, err), (i + 1, ERR_NO_NODE));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(writer, reader)
    })
    .await
    .expect("100,000 exists answered in time");
    still_serving(f.addr()).await;
    assert_eq!(mntr(f.addr(), "zk_watch_count").await, i64::from(N));
    drop(s);
    let deadline = tokio::time::Instant::now() + WAIT;
    while mntr(f.addr(), "zk_watch_count").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "watches outlived the connection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client that sends requests but never reads its socket: once 64 MiB of replies wait for
/// it the server closes that connection (ZooKeeper's NIO server instead stops reading from
/// it; either way memory stays bounded) and keeps serving everybody else.
#[tokio::test]
async fn a_client_that_never_reads_is_closed_at_the_output_limit() {
    const DATA: usize = 1 << 20;
    let f = start_with(|c| c.max_buffer = DATA + 4096).await;
    let (mut w, _) = handshake(f.addr()).await;
    send(
        &mut w,
        &request(1, OP_CREATE, &create_body("/big", &vec![b'x'; DATA])),
    )
    .await;
    let created = read_frame(&mut w).await.expect("create reply");
    assert_eq!(reply_header(&created).2, 0);
    let (mut lazy, _) = handshake(f.addr()).await;
    // 200 x 1 MiB of replies asked for, none read.
    let mut reqs = Vec::new();
    for i in 0..200 {
        reqs.extend_from_slice(&request(i + 1, OP_GET_DATA, &path_watch("/big")));
    }
    send(&mut lazy, &reqs).await;
    // Meanwhile everybody else is served.
    answers(&mut w, 2).await;
    still_serving(f.addr()).await;
    // Now read what the server sent before it gave up: far fewer than 200 replies, then EOF.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection never closed"
        );
        match tokio::time::timeout(WAIT, lazy.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("the server neither sent more nor closed the connection"),
        }
    }
    assert!(
        got < 150 * DATA,
        "{got} bytes arrived: the output was not bounded"
    );
    answers(&mut w, 3).await;
}
