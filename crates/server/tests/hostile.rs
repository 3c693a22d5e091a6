//! Requests a hostile or careless client sends on the wire, answered as issue 16 requires
//! (raw frames, so every encoding can be tried): each gets its error, the connection stays
//! where ZooKeeper keeps it, and nothing it should not change is changed.

mod common;

use common::wire::*;
use zookeeper_client as zk;

const BAD_ARGUMENTS: i32 = -8;
const MARSHALLING_ERROR: i32 = -5;

/// Sends `frame` and returns the reply header (xid, zxid, err).
async fn call(s: &mut tokio::net::TcpStream, frame: &[u8]) -> (i32, i64, i32) {
    send(s, frame).await;
    let reply = read_frame(s).await.expect("a reply");
    reply_header(&reply)
}

/// A MultiHeader: op type, done, err.
fn multi_header(b: &mut Vec<u8>, op: i32, done: bool) {
    int(b, op);
    b.push(u8::from(done));
    int(b, -1);
}

#[tokio::test]
async fn delete_container_from_a_client_is_bad_arguments_whatever_the_body() {
    let f = common::start_with(|_| {}).await;
    let (mut s, _) = handshake(f.addr()).await;
    assert_eq!(
        call(&mut s, &request(1, 1, &create_body("/locked", b"")))
            .await
            .2,
        0
    );
    let mut jute = Vec::new();
    buffer(&mut jute, b"/locked");
    // A jute path; ZooKeeper 3.8.0's own raw encoding (the path's bytes); garbage.
    for (xid, body) in [(2, jute), (3, b"/locked".to_vec()), (4, vec![0xff; 3])] {
        let (rxid, _, err) = call(&mut s, &request(xid, 20, &body)).await;
        assert_eq!((rxid, err), (xid, BAD_ARGUMENTS), "body {body:?}");
    }
    // The connection stays and the node is still there.
    assert_eq!(exists(&mut s, 5, "/locked").await.2, 0);
}

#[tokio::test]
async fn multi_and_multi_read_take_only_their_own_kind_of_op() {
    let f = common::start_with(|_| {}).await;
    let (mut s, _) = handshake(f.addr()).await;
    assert_eq!(
        call(&mut s, &request(1, 1, &create_body("/a", b"x")))
            .await
            .2,
        0
    );
    let mut read_in_multi = Vec::new();
    multi_header(&mut read_in_multi, 4, false);
    read_in_multi.extend(path_watch("/a"));
    multi_header(&mut read_in_multi, -1, true);
    let mut write_in_multi_read = Vec::new();
    multi_header(&mut write_in_multi_read, 1, false);
    write_in_multi_read.extend(create_body("/b", b""));
    multi_header(&mut write_in_multi_read, -1, true);
    // As ZooKeeper 3.8.0 answers both (checked with kazoo): MarshallingError, and the
    // connection stays.
    for (xid, op, body) in [(2, 14, read_in_multi), (3, 22, write_in_multi_read)] {
        let (rxid, _, err) = call(&mut s, &request(xid, op, &body)).await;
        assert_eq!((rxid, err), (xid, MARSHALLING_ERROR), "opcode {op}");
    }
    assert_eq!(exists(&mut s, 4, "/b").await.2, -101, "nothing created");
}

/// Reads until the server closes the connection; the bytes read, or `None` if it is still
/// open after `wait`.
async fn read_until_closed(
    s: &mut tokio::net::TcpStream,
    wait: std::time::Duration,
) -> Option<usize> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(total),
            Ok(Ok(n)) => total += n,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_do_not_read_are_closed_when_together_they_hold_too_much() {
    // 8 MiB for all clients' unsent replies; one connection alone may queue 64 MiB.
    let f = common::start_with(|c| c.max_queued_bytes_total = 8 << 20).await;
    let (mut owner, _) = handshake(f.addr()).await;
    let data = vec![7u8; 900_000];
    assert_eq!(
        call(&mut owner, &request(1, 1, &create_body("/big", &data)))
            .await
            .2,
        0
    );
    // 40 getData of 0.9 MB (36 MB of replies), sent without reading any reply.
    let (mut hog, _) = handshake(f.addr()).await;
    let mut burst = Vec::new();
    for xid in 1..=40 {
        burst.extend(request(xid, 4, &path_watch("/big")));
    }
    send(&mut hog, &burst).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let got = read_until_closed(&mut hog, std::time::Duration::from_secs(10)).await;
    let got = got.expect("the connection holding the most is closed");
    assert!(
        got < 40 * 900_000,
        "closed before all replies were sent ({got} bytes)"
    );
    // Everyone else is served.
    assert_eq!(exists(&mut owner, 2, "/big").await.2, 0);
    still_serving(f.addr()).await;
}

/// Registers `count` data watches on paths that do not exist (`<prefix>/n<i>`), pipelined on
/// a new session; returns its connection (the watches live as long as it does).
async fn watch_many(addr: std::net::SocketAddr, prefix: &str, count: i32) -> tokio::net::TcpStream {
    // A minute-long session: this one sends no pings while the test runs.
    let mut s = dial(addr).await;
    send(
        &mut s,
        &connect_request(0, 60_000, 0, &[0; 16], Some(false)),
    )
    .await;
    read_frame(&mut s).await.expect("ConnectResponse");
    let mut frames = Vec::new();
    for i in 0..count {
        let mut body = Vec::new();
        buffer(&mut body, format!("{prefix}/n{i}").as_bytes());
        body.push(1); // watch
        frames.extend(request(i + 1, 3, &body));
    }
    send(&mut s, &frames).await;
    for i in 0..count {
        let reply = read_frame(&mut s).await.expect("exists reply");
        assert_eq!(reply_header(&reply).0, i + 1);
    }
    s
}

/// Issue 16 item 12: `wchp` with many watches is rendered off the shell task, so a client
/// keeps being served while eight large dumps are produced. Before, the shell formatted
/// each dump itself and served nothing else meanwhile: the client got at most a few
/// answers before the first dump was complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_served_while_large_dumps_render() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const SESSIONS: i32 = 4;
    const WATCHES: i32 = 25_000;
    let f = common::start_with(|c| {
        c.max_session_timeout_ms = 60_000;
        c.four_letter_whitelist = vec!["*".into()];
    })
    .await;
    let mut watchers = Vec::new();
    for s in 0..SESSIONS {
        watchers.push(watch_many(f.addr(), &format!("/dump/s{s}"), WATCHES).await);
    }
    let client = common::connect(&f.addr().to_string()).await;
    client
        .create(
            "/served",
            b"x",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .expect("create");
    let done = Arc::new(AtomicUsize::new(0));
    let mut dumps = Vec::new();
    for _ in 0..8 {
        let mut s = dial(f.addr()).await;
        send(&mut s, b"wchp").await;
        let done = Arc::clone(&done);
        dumps.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let read = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut out);
            let bound = std::time::Duration::from_secs(120);
            tokio::time::timeout(bound, read)
                .await
                .expect("dump in time")
                .expect("dump");
            done.fetch_add(1, Ordering::SeqCst);
            out
        }));
    }
    // Reads answered before the first of the eight dumps was complete.
    let mut served = 0;
    let patience = common::Patience::new("a dump completes");
    while done.load(Ordering::SeqCst) == 0 {
        assert!(!patience.expired(), "no dump completed in time");
        let (data, _) = client.get_data("/served").await.expect("getData");
        assert_eq!(data, b"x");
        served += 1;
    }
    for d in dumps {
        let text = String::from_utf8(d.await.expect("dump task")).expect("UTF-8");
        let paths = text.lines().filter(|l| l.starts_with('/')).count();
        let sessions = text.lines().filter(|l| l.starts_with('\t')).count();
        assert_eq!(
            (paths, sessions),
            ((SESSIONS * WATCHES) as usize, (SESSIONS * WATCHES) as usize)
        );
    }
    eprintln!("{served} reads answered before the first dump was complete");
    assert!(
        served >= 20,
        "only {served} reads were answered while the first dump was rendered"
    );
    drop(watchers);
}
