//! Bad and unusual input on raw sockets: each offending connection gets ZooKeeper's treatment
//! (a reply and/or a close) while the server keeps serving everybody else. Every read is
//! bounded by a timeout, so a hung server fails a test instead of hanging it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::wire::*;
use common::{Fixture, Patience, eventually, four_letter};
use menagerie_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The jute.maxbuffer the tests run with (small, so "too large" is cheap to send).
const MAX_BUFFER: usize = 4096;

/// A server with a small jute.maxbuffer and sessions of up to 20 s, changed by `adjust`.
async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Fixture {
    common::start_with(|c| {
        c.max_session_timeout_ms = 20_000;
        c.max_buffer = MAX_BUFFER;
        adjust(c);
    })
    .await
}

async fn start() -> Fixture {
    start_with(|_| {}).await
}

/// The value of one numeric `mntr` key.
async fn mntr(addr: SocketAddr, key: &str) -> i64 {
    let value = common::mntr(addr, key).await;
    value.parse().unwrap_or_else(|_| panic!("{key}: {value}"))
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

    let patience = Patience::new("the vanished client's create is applied");
    for xid in 2.. {
        let (_, _, err) = exists(&mut bystander, xid, "/vanished").await;
        if err == 0 {
            break;
        }
        assert_eq!(err, ERR_NO_NODE);
        patience.wait().await;
    }
    still_serving(f.addr()).await;
    f.server.stop().await;
}

#[tokio::test]
async fn ruok_is_refused_unless_whitelisted() {
    let f = start().await;
    assert_eq!(
        four_letter(f.addr(), "ruok").await,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    // srvr is whitelisted by default.
    let srvr = four_letter(f.addr(), "srvr").await;
    assert!(srvr.starts_with("Zookeeper version:"), "{srvr}");
    assert!(srvr.contains("Mode: standalone"), "{srvr}");
    still_serving(f.addr()).await;
    f.server.stop().await;

    let f = start_with(|c| c.four_letter_whitelist = vec!["*".into()]).await;
    assert_eq!(four_letter(f.addr(), "ruok").await, "imok");
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
    // ZooKeeper drops the session's current connection before checking the password, which
    // lets anyone who knows a session id keep disconnecting its owner; Menagerie keeps it
    // (issue 16, item 3).
    answers(&mut first, 1).await;

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
    assert_eq!(mntr(f.addr(), "watch_count").await, i64::from(N));
    drop(s);
    let addr = f.addr();
    eventually("the watches go with the connection", || async move {
        mntr(addr, "watch_count").await == 0
    })
    .await;
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
