//! A server that speaks just enough of ZooKeeper's client protocol to accept a session and
//! answer every request with "ok" and no body: no tree, no log, no fsync. It is the floor for
//! `menagerie bench --workloads sessions` on this machine (the cost of the kernel's TCP setup
//! and teardown plus the tool itself), against which the real servers are compared in
//! docs/performance.md.
//!
//! ```sh
//! cargo run --release -p menagerie-tools --example noop_server -- 127.0.0.1:2199
//! menagerie bench --target 127.0.0.1:2199 --workloads sessions --max-client-cnxns 0
//! ```

use std::sync::atomic::{AtomicI64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// closeSession's opcode.
const CLOSE_SESSION: i32 = -11;
/// create's opcode.
const CREATE: i32 = 1;
/// A ConnectRequest without the trailing readOnly byte.
const CONNECT_LEN: usize = 44;

static NEXT_SESSION: AtomicI64 = AtomicI64::new(1);

async fn frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = s.read_u32().await? as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await?;
    Ok(body)
}

/// The four-letter words the bench asks before it starts.
async fn four_letter(s: &mut TcpStream, word: [u8; 4]) -> std::io::Result<()> {
    let text = match &word {
        b"srvr" => "Zookeeper version: no-op protocol floor\nZxid: 0x0\nMode: standalone\n",
        b"conf" => "maxClientCnxns=0\n",
        _ => "",
    };
    s.write_all(text.as_bytes()).await
}

async fn serve(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let prefix = s.read_u32().await?.to_be_bytes();
    if prefix.iter().all(u8::is_ascii_lowercase) {
        return four_letter(&mut s, prefix).await;
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut connect = vec![0; len];
    s.read_exact(&mut connect).await?;
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&0i32.to_be_bytes()); // protocol version
    reply.extend_from_slice(&30_000i32.to_be_bytes()); // timeout
    let session = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    reply.extend_from_slice(&session.to_be_bytes());
    reply.extend_from_slice(&16i32.to_be_bytes());
    reply.extend_from_slice(&[0; 16]);
    if connect.len() > CONNECT_LEN {
        reply.push(0); // readOnly
    }
    let mut out = (reply.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&reply);
    s.write_all(&out).await?;
    loop {
        let req = frame(&mut s).await?;
        let (Some(xid), Some(op)) = (req.get(0..4), req.get(4..8)) else {
            return Ok(());
        };
        let op = i32::from_be_bytes([op[0], op[1], op[2], op[3]]);
        // create (1) answers a path (the bench's setup); everything else no body.
        let body: &[u8] = if op == CREATE {
            &[0, 0, 0, 1, b'/']
        } else {
            &[]
        };
        let mut out = (16 + body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(xid);
        out.extend_from_slice(&0i64.to_be_bytes()); // zxid
        out.extend_from_slice(&0i32.to_be_bytes()); // ok
        out.extend_from_slice(body);
        s.write_all(&out).await?;
        if op == CLOSE_SESSION {
            return Ok(());
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2199".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("no-op ZooKeeper protocol server on {addr}");
    loop {
        let (s, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = serve(s).await;
        });
    }
}
