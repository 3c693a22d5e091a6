//! Bad input on the wire: each bad connection gets ZooKeeper's treatment and the server keeps
//! serving everyone else.

use std::time::Duration;

use menagerie_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

async fn server(dir: &std::path::Path) -> RunningServer {
    let config = ServerConfig {
        client_addr: "127.0.0.1:0".parse().expect("loopback address"),
        data_dir: dir.to_path_buf(),
        data_log_dir: dir.to_path_buf(),
        pre_alloc_size: 1 << 20,
        ..ServerConfig::default()
    };
    menagerie_server::start(config).await.expect("start")
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn connect_request(read_only_byte: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0i32.to_be_bytes()); // protocol version
    b.extend_from_slice(&0i64.to_be_bytes()); // last zxid seen
    b.extend_from_slice(&10_000i32.to_be_bytes()); // timeout
    b.extend_from_slice(&0i64.to_be_bytes()); // session id
    b.extend_from_slice(&16i32.to_be_bytes());
    b.extend_from_slice(&[0u8; 16]); // password
    if read_only_byte {
        b.push(0);
    }
    frame(&b)
}

async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    tokio::time::timeout(WAIT, s.read_exact(&mut body))
        .await
        .ok()?
        .ok()?;
    Some(body)
}

/// True once the server has closed the connection (EOF within the wait).
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn handshake(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&connect_request(true)).await.expect("write");
    let resp = read_frame(&mut s).await.expect("ConnectResponse");
    assert_eq!(resp.len(), 37);
    s
}

/// getData("/zookeeper") on a fresh handshake must work: the server still serves.
async fn still_serving(addr: std::net::SocketAddr) {
    let mut s = handshake(addr).await;
    let mut req = Vec::new();
    req.extend_from_slice(&1i32.to_be_bytes());
    req.extend_from_slice(&4i32.to_be_bytes());
    req.extend_from_slice(&10i32.to_be_bytes());
    req.extend_from_slice(b"/zookeeper");
    req.push(0);
    s.write_all(&frame(&req)).await.expect("write");
    let reply = read_frame(&mut s).await.expect("reply");
    assert_eq!(&reply[0..4], &1i32.to_be_bytes(), "xid");
    assert_eq!(&reply[12..16], &0i32.to_be_bytes(), "err");
}

#[tokio::test]
async fn oversized_negative_and_garbage_frames_close_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let bystander = handshake(srv.addr).await;
    for prefix in [0x0010_0000i32.to_be_bytes(), (-5i32).to_be_bytes()] {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(&prefix).await.unwrap();
        assert!(closed(&mut s).await, "bad length must close the connection");
    }
    // A truncated ConnectRequest followed by EOF from the client.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(&frame(&[0, 0, 0])).await.unwrap();
    assert!(closed(&mut s).await);
    // After the handshake, a frame too large for jute.maxbuffer.
    let mut s = handshake(srv.addr).await;
    s.write_all(&0x7fff_ffffi32.to_be_bytes()).await.unwrap();
    assert!(closed(&mut s).await);
    drop(bystander);
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn unknown_opcode_gets_unimplemented_then_close_and_bad_body_gets_marshalling_error() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    let mut s = handshake(srv.addr).await;
    // getData with a body cut short: MarshallingError, connection stays up.
    let mut req = Vec::new();
    req.extend_from_slice(&1i32.to_be_bytes());
    req.extend_from_slice(&4i32.to_be_bytes());
    req.extend_from_slice(&100i32.to_be_bytes());
    s.write_all(&frame(&req)).await.unwrap();
    let reply = read_frame(&mut s).await.expect("reply");
    assert_eq!(&reply[12..16], &(-5i32).to_be_bytes());
    // Opcode 999: Unimplemented, then the connection is closed.
    let mut req = Vec::new();
    req.extend_from_slice(&2i32.to_be_bytes());
    req.extend_from_slice(&999i32.to_be_bytes());
    s.write_all(&frame(&req)).await.unwrap();
    let reply = read_frame(&mut s).await.expect("reply");
    assert_eq!(&reply[0..4], &2i32.to_be_bytes());
    assert_eq!(&reply[12..16], &(-6i32).to_be_bytes());
    assert!(closed(&mut s).await);
    still_serving(srv.addr).await;
    srv.stop().await;
}

#[tokio::test]
async fn old_clients_newer_zxids_and_vanishing_clients() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(dir.path()).await;
    // Without the readOnly byte the response has none either (36 bytes).
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(&connect_request(false)).await.unwrap();
    assert_eq!(read_frame(&mut s).await.expect("response").len(), 36);
    // A client that has seen a newer zxid is disconnected without a response.
    let mut req = connect_request(true);
    req[8..16].copy_from_slice(&1_000_000i64.to_be_bytes());
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(&req).await.unwrap();
    assert!(read_frame(&mut s).await.is_none());
    // A client that sends a request and disappears before reading the reply.
    let mut s = handshake(srv.addr).await;
    let mut req = Vec::new();
    req.extend_from_slice(&1i32.to_be_bytes());
    req.extend_from_slice(&3i32.to_be_bytes());
    req.extend_from_slice(&2i32.to_be_bytes());
    req.extend_from_slice(b"/x");
    req.push(1);
    s.write_all(&frame(&req)).await.unwrap();
    drop(s);
    // A four-letter word outside the whitelist.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"ruok").await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut text))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        text,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    still_serving(srv.addr).await;
    srv.stop().await;
}
