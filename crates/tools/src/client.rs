//! A small asynchronous ZooKeeper client on `menagerie-proto`: one session, pipelined
//! requests (replies are matched to requests in order), pings, watch notifications.
//!
//! It exists for Menagerie's own tools (benchmark, CLI); tests use independent clients.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use menagerie_proto::ErrorCode;
use menagerie_proto::frame::put_frame;
use menagerie_proto::jute::{DecodeError, Reader, Record};
use menagerie_proto::opcode::OpCode;
use menagerie_proto::records::{
    Acl, ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, GetDataRequest,
    PathWatchRequest, ReplyHeader, SetDataRequest, Stat, WatcherEvent,
};
use menagerie_proto::request::{Request, encode_request};
use menagerie_proto::response::Response;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::security::ClientSecurity;

/// The reading half of a connection (plain TCP or TLS).
type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a connection.
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// Socket error.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something undecodable or out of order.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection is gone.
    #[error("connection lost")]
    ConnectionLoss,
    /// The server refused the session (expired or invalid).
    #[error("session expired")]
    SessionExpired,
    /// The server answered with an error code.
    #[error("server error {0:?}")]
    Server(ErrorCode),
    /// TLS or SASL failed (the session is not usable).
    #[error("authentication failed: {0}")]
    Auth(String),
}

impl From<DecodeError> for ClientError {
    fn from(e: DecodeError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

/// Where a reply goes.
type ReplyTx = oneshot::Sender<Result<(i64, Response), ClientError>>;
/// A request on its way to the writer.
type Call = (Request, ReplyTx);
/// A request sent and waiting for its reply.
type Waiter = (i32, OpCode, ReplyTx);

/// A connected session.
#[derive(Debug)]
pub struct Client {
    calls: mpsc::Sender<Call>,
    session_id: i64,
    timeout_ms: i32,
    passwd: Vec<u8>,
    last_zxid: Arc<AtomicI64>,
    events: Mutex<Option<mpsc::UnboundedReceiver<WatcherEvent>>>,
    chroot: Option<String>,
}

/// What a client needs to resume a session on a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The session id.
    pub session_id: i64,
    /// The session password the server gave.
    pub passwd: Vec<u8>,
    /// The highest zxid this client has seen.
    pub last_zxid: i64,
}

impl Client {
    /// Connects and creates a new session with the requested timeout.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Client, ClientError> {
        Self::connect_with(addr, timeout, false).await
    }

    /// Connects and creates a new session; `read_only` asks for a session a read-only
    /// server may accept (`canBeReadOnly`).
    pub async fn connect_with(
        addr: &str,
        timeout: Duration,
        read_only: bool,
    ) -> Result<Client, ClientError> {
        Self::connect_session(addr, timeout, read_only, None).await
    }

    /// Connects and resumes the session `resume` (a new session if `None`). A session the
    /// server no longer knows gives [`ClientError::SessionExpired`].
    pub async fn connect_session(
        addr: &str,
        timeout: Duration,
        read_only: bool,
        resume: Option<&Resume>,
    ) -> Result<Client, ClientError> {
        Self::connect_secure(addr, timeout, read_only, resume, &ClientSecurity::default()).await
    }

    /// [`Client::connect_session`] over TLS and/or with SASL DIGEST-MD5 as `security` says
    /// (SASL runs on every new connection, before any other request, as the Java client
    /// does).
    pub async fn connect_secure(
        addr: &str,
        timeout: Duration,
        read_only: bool,
        resume: Option<&Resume>,
        security: &ClientSecurity,
    ) -> Result<Client, ClientError> {
        let (read, mut write) = open_stream(addr, security).await?;
        let mut reader = BufReader::with_capacity(64 * 1024, read);
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: resume.map_or(0, |r| r.last_zxid),
            timeout: timeout.as_millis().min(i32::MAX as u128) as i32,
            session_id: resume.map_or(0, |r| r.session_id),
            passwd: resume.map_or_else(|| vec![0; 16], |r| r.passwd.clone()),
            read_only: Some(read_only),
        };
        let mut frame = Vec::new();
        put_frame(&mut frame, &req.to_bytes());
        write.write_all(&frame).await?;
        let body = read_frame(&mut reader).await?;
        let resp = ConnectResponse::from_bytes(&body)?;
        if resp.timeout <= 0 || resp.session_id == 0 {
            return Err(ClientError::SessionExpired);
        }
        if let Some(creds) = &security.sasl {
            sasl_exchange(&mut reader, &mut write, creds).await?;
        }
        let (calls, calls_rx) = mpsc::channel(1024);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let pending: Arc<Mutex<VecDeque<Waiter>>> = Arc::default();
        let ping_every = Duration::from_millis((resp.timeout as u64 / 3).max(100));
        tokio::spawn(write_loop(
            write,
            calls_rx,
            Arc::clone(&pending),
            ping_every,
        ));
        let last_zxid = Arc::new(AtomicI64::new(resume.map_or(0, |r| r.last_zxid)));
        tokio::spawn(read_loop(
            reader,
            pending,
            events_tx,
            Arc::clone(&last_zxid),
        ));
        Ok(Client {
            calls,
            session_id: resp.session_id,
            timeout_ms: resp.timeout,
            passwd: resp.passwd.clone(),
            last_zxid,
            chroot: None,
            events: Mutex::new(Some(events_rx)),
        })
    }

    /// The session id.
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// What a new connection needs to resume this session.
    pub fn resume_info(&self) -> Resume {
        Resume {
            session_id: self.session_id,
            passwd: self.passwd.clone(),
            last_zxid: self.last_zxid.load(Ordering::SeqCst),
        }
    }

    /// The negotiated session timeout, ms.
    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }

    /// Takes the stream of watch notifications (once).
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<WatcherEvent>> {
        self.events.lock().ok().and_then(|mut e| e.take())
    }

    /// This client with paths relative to `root` (a chroot such as `/app`; `None`: none).
    /// Watch notifications keep the server's paths (see [`crate::chroot::strip`]).
    pub fn with_chroot(mut self, root: Option<String>) -> Client {
        self.chroot = root;
        self
    }

    /// The chroot, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.chroot.as_deref()
    }

    /// Sends a request and waits for its reply; returns the reply's zxid and body.
    pub async fn call(&self, req: Request) -> Result<(i64, Response), ClientError> {
        match &self.chroot {
            None => self.call_unrooted(req).await,
            Some(root) => {
                let (zxid, resp) = self
                    .call_unrooted(crate::chroot::request(root, req))
                    .await?;
                Ok((zxid, crate::chroot::response(root, resp)))
            }
        }
    }

    /// [`Client::call`] with the request's paths taken as they are (no chroot).
    pub async fn call_unrooted(&self, req: Request) -> Result<(i64, Response), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.calls
            .send((req, tx))
            .await
            .map_err(|_| ClientError::ConnectionLoss)?;
        rx.await.map_err(|_| ClientError::ConnectionLoss)?
    }

    /// Creates a node; returns the path created.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: Vec<Acl>,
        flags: i32,
    ) -> Result<String, ClientError> {
        let req = Request::Create(CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl,
            flags,
        });
        match self.call(req).await?.1 {
            Response::Create { path } => Ok(path),
            r => Err(unexpected(&r)),
        }
    }

    /// Reads a node's data and stat.
    pub async fn get_data(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Vec<u8>>, Stat), ClientError> {
        let req = Request::GetData(GetDataRequest {
            path: path.into(),
            watch,
        });
        match self.call(req).await?.1 {
            Response::GetData { data, stat } => Ok((data, stat)),
            r => Err(unexpected(&r)),
        }
    }

    /// Sets a node's data.
    pub async fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: i32,
    ) -> Result<Stat, ClientError> {
        let req = Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            version,
        });
        match self.call(req).await?.1 {
            Response::Stat(s) => Ok(s),
            r => Err(unexpected(&r)),
        }
    }

    /// A node's stat, or `None` if it does not exist.
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>, ClientError> {
        let req = Request::Exists(PathWatchRequest {
            path: path.into(),
            watch,
        });
        match self.call(req).await {
            Ok((_, Response::Stat(s))) => Ok(Some(s)),
            Err(ClientError::Server(ErrorCode::NoNode)) => Ok(None),
            Ok((_, r)) => Err(unexpected(&r)),
            Err(e) => Err(e),
        }
    }

    /// Names of a node's children.
    pub async fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>, ClientError> {
        let req = Request::GetChildren(PathWatchRequest {
            path: path.into(),
            watch,
        });
        match self.call(req).await?.1 {
            Response::GetChildren { children } => Ok(children),
            r => Err(unexpected(&r)),
        }
    }

    /// Deletes a node.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), ClientError> {
        self.call(Request::Delete(DeleteRequest {
            path: path.into(),
            version,
        }))
        .await
        .map(|_| ())
    }

    /// Closes the session (its ephemerals go with it).
    pub async fn close(&self) -> Result<(), ClientError> {
        match self.call(Request::CloseSession).await {
            Ok(_) | Err(ClientError::ConnectionLoss) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn unexpected(r: &Response) -> ClientError {
    ClientError::Protocol(format!("unexpected response {r:?}"))
}

/// Connects to `addr`, over TLS if `security` says so.
async fn open_stream(
    addr: &str,
    security: &ClientSecurity,
) -> Result<(ReadHalf, WriteHalf), ClientError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let Some(tls) = &security.tls else {
        let (r, w) = stream.into_split();
        return Ok((Box::new(r), Box::new(w)));
    };
    let name = crate::security::server_name(addr).map_err(|e| ClientError::Auth(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(tls))
        .connect(name, stream)
        .await
        .map_err(|e| ClientError::Auth(format!("TLS handshake with {addr}: {e}")))?;
    let (r, w) = tokio::io::split(tls);
    Ok((Box::new(r), Box::new(w)))
}

/// SASL DIGEST-MD5 on a fresh connection, before anything else is sent: an empty token,
/// the server's challenge, the response, the server's `rspauth`.
async fn sasl_exchange(
    reader: &mut BufReader<ReadHalf>,
    write: &mut WriteHalf,
    creds: &crate::sasl::Credentials,
) -> Result<(), ClientError> {
    let auth = |m: String| ClientError::Auth(format!("SASL DIGEST-MD5: {m}"));
    let challenge = sasl_round(reader, write, 1, Vec::new()).await?;
    let cnonce = crate::sasl::cnonce().map_err(auth)?;
    let (response, exchange) = crate::sasl::respond(&challenge, creds, &cnonce).map_err(auth)?;
    let last = sasl_round(reader, write, 2, response).await?;
    crate::sasl::check_rspauth(&exchange, &last).map_err(auth)
}

/// Sends one SASL token and returns the server's.
async fn sasl_round(
    reader: &mut BufReader<ReadHalf>,
    write: &mut WriteHalf,
    xid: i32,
    token: Vec<u8>,
) -> Result<Vec<u8>, ClientError> {
    use menagerie_proto::records::{GetSaslRequest, SetSaslResponse};
    let req = Request::Sasl(GetSaslRequest { token: Some(token) });
    let mut frame = Vec::new();
    put_frame(&mut frame, &encode_request(xid, &req));
    write.write_all(&frame).await?;
    let body = read_frame(reader).await.map_err(|_| {
        ClientError::Auth(
            "SASL DIGEST-MD5: the server closed the connection (wrong user or password?)".into(),
        )
    })?;
    let mut rd = Reader::new(&body);
    let h = ReplyHeader::read(&mut rd)?;
    if h.err != 0 {
        let code = ErrorCode::from_code(h.err).unwrap_or(ErrorCode::SystemError);
        return Err(ClientError::Auth(format!(
            "SASL DIGEST-MD5: the server answered {code:?}"
        )));
    }
    Ok(SetSaslResponse::read(&mut rd)?.token.unwrap_or_default())
}

async fn read_frame(r: &mut BufReader<ReadHalf>) -> Result<Vec<u8>, ClientError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = i32::from_be_bytes(len);
    if !(0..=64 << 20).contains(&len) {
        return Err(ClientError::Protocol(format!("bad frame length {len}")));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_loop(
    mut w: WriteHalf,
    mut calls: mpsc::Receiver<Call>,
    pending: Arc<Mutex<VecDeque<Waiter>>>,
    ping_every: Duration,
) {
    let mut xid: i32 = 0;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        let first = tokio::select! {
            c = calls.recv() => match c {
                Some(c) => Some(c),
                None => return,
            },
            _ = tokio::time::sleep(ping_every) => None,
        };
        buf.clear();
        match first {
            None => put_frame(&mut buf, &encode_request(-2, &Request::Ping)),
            Some(mut call) => loop {
                xid = if xid == i32::MAX { 1 } else { xid + 1 };
                let (req, reply) = call;
                let op = req.op();
                put_frame(&mut buf, &encode_request(xid, &req));
                if let Ok(mut p) = pending.lock() {
                    p.push_back((xid, op, reply));
                }
                match calls.try_recv() {
                    Ok(c) if buf.len() < 256 * 1024 => call = c,
                    Ok(c) => {
                        // Flush what we have; the next call starts the next batch.
                        if w.write_all(&buf).await.is_err() {
                            return;
                        }
                        buf.clear();
                        call = c;
                    }
                    Err(_) => break,
                }
            },
        }
        if w.write_all(&buf).await.is_err() {
            return;
        }
    }
}

async fn read_loop(
    mut r: BufReader<ReadHalf>,
    pending: Arc<Mutex<VecDeque<Waiter>>>,
    events: mpsc::UnboundedSender<WatcherEvent>,
    last_zxid: Arc<AtomicI64>,
) {
    let fail_all = |pending: &Arc<Mutex<VecDeque<Waiter>>>| {
        if let Ok(mut p) = pending.lock() {
            for (_, _, w) in p.drain(..) {
                let _ = w.send(Err(ClientError::ConnectionLoss));
            }
        }
    };
    loop {
        let Ok(body) = read_frame(&mut r).await else {
            fail_all(&pending);
            return;
        };
        let mut rd = Reader::new(&body);
        let Ok(h) = ReplyHeader::read(&mut rd) else {
            fail_all(&pending);
            return;
        };
        if h.zxid > 0 {
            last_zxid.fetch_max(h.zxid, Ordering::SeqCst);
        }
        match h.xid {
            -1 => {
                if let Ok(e) = WatcherEvent::read(&mut rd) {
                    let _ = events.send(e);
                }
                continue;
            }
            -2 | -4 => continue,
            _ => {}
        }
        let waiter = pending.lock().ok().and_then(|mut p| p.pop_front());
        let Some((xid, op, tx)) = waiter else {
            fail_all(&pending);
            return;
        };
        if xid != h.xid {
            let _ = tx.send(Err(ClientError::Protocol(format!(
                "xid out of order: expected {xid}, got {}",
                h.xid
            ))));
            fail_all(&pending);
            return;
        }
        let result = if h.err != 0 {
            Err(ClientError::Server(
                ErrorCode::from_code(h.err).unwrap_or(ErrorCode::SystemError),
            ))
        } else {
            Response::decode(op, &mut rd)
                .map(|b| (h.zxid, b))
                .map_err(ClientError::from)
        };
        let _ = tx.send(result);
    }
}
