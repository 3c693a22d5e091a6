//! The closed-loop driver behind `menagerie bench`'s throughput workloads: cheap per
//! operation, so that the server is what gets measured rather than the tool.
//!
//! Each session is one connection driven by one task that owns the socket: it keeps
//! `outstanding` requests in flight, reads whatever replies have arrived in one read, and
//! answers each reply by appending the next request to one write. Requests are encoded once
//! and only their xid is patched per send; there is no channel, no per-request task and no
//! per-request allocation. All sessions run on one thread with a current-thread runtime, so
//! the tool needs at most one core.
//!
//! Replies arrive in request order on a connection (ZooKeeper guarantees it), which this
//! driver checks: a reply with an unexpected xid ends the run with a protocol error.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use menagerie_proto::frame::put_frame;
use menagerie_proto::jute::{Reader, Record};
use menagerie_proto::records::{
    ConnectRequest, ConnectResponse, PathWatchRequest, ReplyHeader, SetDataRequest,
};
use menagerie_proto::request::{Request, encode_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::ClientError;

/// The xid of ZooKeeper's ping replies and of watch notifications, which carry no request.
const PING_XID: i32 = -2;
const NOTIFICATION_XID: i32 = -1;
/// A reply larger than this is a protocol error (ZooKeeper's default `jute.maxbuffer` is
/// just under 1 MiB; getChildren of 1,000 children is ~10 KiB).
const MAX_FRAME: usize = 64 << 20;
/// How long the end of a run (draining replies, closing sessions) may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What one session sends, over and over.
#[derive(Debug, Clone)]
pub struct Script {
    /// The requests, sent in turn (request `n` of a session is `requests[n % len]`).
    pub requests: Vec<Request>,
}

/// How to run the driver.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// `host:port`, or several joined by commas (an ensemble's members: session `i`
    /// connects to the `i`-th modulo their number).
    pub target: String,
    /// Requests in flight per session.
    pub outstanding: usize,
    /// How long to keep issuing requests.
    pub duration: Duration,
    /// Offered load in operations per second over all sessions (`None`: closed loop, each
    /// reply answered with the next request). Paced requests are due at fixed times and
    /// their latency counts from when they were due, so a server that stalls is charged for
    /// the requests it delayed (no coordinated omission); at most `outstanding` per session
    /// are in flight.
    pub rate: Option<f64>,
}

/// When a paced session's requests are due.
#[derive(Debug, Clone, Copy)]
struct Pace {
    first: Instant,
    interval: Duration,
}

impl Pace {
    /// When request `k` (from 0) is due.
    fn due(&self, k: usize) -> Instant {
        self.first + self.interval.mul_f64(k as f64)
    }
}

/// What the sessions did.
#[derive(Debug)]
pub struct DriverResult {
    /// Completed operations (a reply with error code 0).
    pub ops: u64,
    /// Replies with an error code.
    pub errors: u64,
    /// Seconds from the first request to the last counted reply.
    pub elapsed: f64,
    /// Latency of every operation, microseconds.
    pub histogram: Histogram<u64>,
}

/// One request, framed, with the offset of its xid in the frame (patched per send).
struct Encoded {
    frame: Vec<u8>,
}

impl Encoded {
    fn new(req: &Request) -> Encoded {
        let mut frame = Vec::new();
        put_frame(&mut frame, &encode_request(0, req));
        Encoded { frame }
    }

    /// Appends the request with `xid` to `out`.
    fn put(&self, out: &mut Vec<u8>, xid: i32) {
        let at = out.len();
        out.extend_from_slice(&self.frame);
        // The frame is 4 bytes of length, then the RequestHeader's xid.
        if let Some(slot) = out.get_mut(at + 4..at + 8) {
            slot.copy_from_slice(&xid.to_be_bytes());
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits; the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

/// Runs `work` on a new thread with a current-thread runtime of its own, so that the tool
/// needs at most one core, and waits for its result.
async fn on_driver_thread<F, Fut>(work: F) -> Result<DriverResult, ClientError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<DriverResult, ClientError>>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-driver".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(ClientError::Io)
                .and_then(|rt| rt.block_on(work()));
            let _ = tx.send(result);
        })
        .map_err(ClientError::Io)?;
    rx.await.map_err(|_| ClientError::ConnectionLoss)?
}

/// Runs one session per script, all on one new thread, for `config.duration`. `ops` counts
/// completed operations as they happen (for progress reports).
pub async fn drive(
    config: &DriverConfig,
    scripts: Vec<Script>,
    ops: Arc<AtomicU64>,
) -> Result<DriverResult, ClientError> {
    let config = config.clone();
    on_driver_thread(move || async move { drive_all(&config, scripts, ops).await }).await
}

async fn drive_all(
    config: &DriverConfig,
    scripts: Vec<Script>,
    ops: Arc<AtomicU64>,
) -> Result<DriverResult, ClientError> {
    let mut conns = Vec::new();
    for (i, s) in scripts.into_iter().enumerate() {
        conns.push((connect(member(&config.target, i)).await?, s));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    let results = local
        .run_until(async {
            let mut tasks = Vec::new();
            let sessions = conns.len().max(1);
            for (i, (stream, script)) in conns.into_iter().enumerate() {
                let (ops, stop) = (Arc::clone(&ops), Arc::clone(&stop));
                let outstanding = config.outstanding;
                // Each session offers rate / sessions, the sessions staggered evenly.
                let pace = config.rate.filter(|r| *r > 0.0).map(|rate| {
                    let interval = Duration::from_secs_f64(sessions as f64 / rate);
                    Pace {
                        first: start + interval.mul_f64(i as f64 / sessions as f64),
                        interval,
                    }
                });
                tasks.push(tokio::task::spawn_local(async move {
                    session(stream, &script, outstanding, pace, &ops, &stop).await
                }));
            }
            tokio::time::sleep(config.duration).await;
            stop.store(true, Ordering::Relaxed);
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.map_err(|_| ClientError::ConnectionLoss));
            }
            results
        })
        .await;
    let elapsed = start.elapsed().as_secs_f64();
    let mut total = DriverResult {
        ops: 0,
        errors: 0,
        elapsed,
        histogram: histogram(),
    };
    for r in results {
        let s = r??;
        total.ops += s.ops;
        total.errors += s.errors;
        let _ = total.histogram.add(&s.histogram);
    }
    Ok(total)
}

/// Session churn: `loops` loops, each creating a session on a new connection and closing
/// it, for `config.duration`, all on one new thread.
pub async fn churn(
    config: &DriverConfig,
    loops: usize,
    ops: Arc<AtomicU64>,
) -> Result<DriverResult, ClientError> {
    let config = config.clone();
    on_driver_thread(move || async move { churn_all(&config, loops, ops).await }).await
}

async fn churn_all(
    config: &DriverConfig,
    loops: usize,
    ops: Arc<AtomicU64>,
) -> Result<DriverResult, ClientError> {
    let start = Instant::now();
    let deadline = start + config.duration;
    let local = tokio::task::LocalSet::new();
    let results = local
        .run_until(async {
            let mut tasks = Vec::new();
            for i in 0..loops {
                let (ops, target) = (Arc::clone(&ops), member(&config.target, i).to_string());
                tasks.push(tokio::task::spawn_local(async move {
                    let mut r = SessionResult {
                        ops: 0,
                        errors: 0,
                        histogram: histogram(),
                    };
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match create_and_close(&target).await {
                            Ok(()) => {
                                let _ = r.histogram.record(t.elapsed().as_micros().max(1) as u64);
                                r.ops += 1;
                                ops.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => r.errors += 1,
                        }
                    }
                    r
                }));
            }
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.map_err(|_| ClientError::ConnectionLoss));
            }
            results
        })
        .await;
    let mut total = DriverResult {
        ops: 0,
        errors: 0,
        elapsed: start.elapsed().as_secs_f64(),
        histogram: histogram(),
    };
    for r in results {
        let s = r?;
        total.ops += s.ops;
        total.errors += s.errors;
        let _ = total.histogram.add(&s.histogram);
    }
    Ok(total)
}

/// Watch fan-out: `watchers` sessions each set a data watch on `path` (exists), one more
/// session sets its data, and the time until every watcher has read its notification is
/// one operation; repeated for `config.duration` (at least once), all on one new thread.
pub async fn fanout(
    config: &DriverConfig,
    watchers: usize,
    path: String,
) -> Result<DriverResult, ClientError> {
    let config = config.clone();
    on_driver_thread(move || async move { fanout_rounds(&config, watchers, &path).await }).await
}

async fn fanout_rounds(
    config: &DriverConfig,
    watchers: usize,
    path: &str,
) -> Result<DriverResult, ClientError> {
    let mut conns = Vec::with_capacity(watchers);
    for i in 0..watchers {
        conns.push(connect(member(&config.target, i)).await?);
    }
    let mut setter = connect(member(&config.target, 0)).await?;
    let arm = Encoded::new(&Request::Exists(PathWatchRequest {
        path: path.into(),
        watch: true,
    }));
    let set = Encoded::new(&Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(b"x".to_vec()),
        version: -1,
    }));
    let mut result = DriverResult {
        ops: 0,
        errors: 0,
        elapsed: 0.0,
        histogram: histogram(),
    };
    let mut frame = Vec::new();
    let start = Instant::now();
    let mut xid: i32 = 0;
    while start.elapsed() < config.duration || result.ops == 0 {
        xid += 1;
        frame.clear();
        arm.put(&mut frame, xid);
        for c in &mut conns {
            c.write_all(&frame).await?;
        }
        for c in &mut conns {
            expect_frame(c, xid).await?;
        }
        frame.clear();
        set.put(&mut frame, xid);
        let t = Instant::now();
        setter.write_all(&frame).await?;
        for c in &mut conns {
            expect_frame(c, NOTIFICATION_XID).await?;
        }
        let _ = result
            .histogram
            .record(t.elapsed().as_micros().max(1) as u64);
        result.ops += 1;
        expect_frame(&mut setter, xid).await?;
    }
    result.elapsed = start.elapsed().as_secs_f64();
    frame.clear();
    Encoded::new(&Request::CloseSession).put(&mut frame, xid + 1);
    for c in conns.iter_mut().chain(std::iter::once(&mut setter)) {
        c.write_all(&frame).await?;
    }
    Ok(result)
}

/// Reads frames until one with `xid` (pings skipped); a reply carrying an error fails.
async fn expect_frame(stream: &mut TcpStream, xid: i32) -> Result<(), ClientError> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let mut len = [0u8; 4];
        tokio::time::timeout_at(deadline.into(), stream.read_exact(&mut len))
            .await
            .map_err(|_| ClientError::Protocol(format!("nothing with xid {xid} in time")))??;
        let mut body = vec![0u8; frame_len(len)?];
        stream.read_exact(&mut body).await?;
        let header = ReplyHeader::read(&mut Reader::new(&body))?;
        if header.xid == xid {
            return match header.err {
                0 => Ok(()),
                e => Err(ClientError::Protocol(format!("request {xid} failed: {e}"))),
            };
        }
    }
}

/// Creates a session on a new connection and closes it (waits for the close's reply).
async fn create_and_close(target: &str) -> Result<(), ClientError> {
    let mut stream = connect(target).await?;
    let mut frame = Vec::new();
    Encoded::new(&Request::CloseSession).put(&mut frame, 1);
    stream.write_all(&frame).await?;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let mut len = [0u8; 4];
        tokio::time::timeout_at(deadline.into(), stream.read_exact(&mut len))
            .await
            .map_err(|_| ClientError::Protocol("no reply to closeSession".into()))??;
        let mut body = vec![0u8; frame_len(len)?];
        stream.read_exact(&mut body).await?;
        let header = ReplyHeader::read(&mut Reader::new(&body))?;
        if header.xid == 1 {
            return match header.err {
                0 => Ok(()),
                e => Err(ClientError::Protocol(format!("closeSession failed: {e}"))),
            };
        }
    }
}

/// The `i`-th (modulo their number) of the comma-separated addresses in `targets`.
pub fn member(targets: &str, i: usize) -> &str {
    let n = targets.split(',').count();
    targets.split(',').nth(i % n).unwrap_or(targets).trim()
}

/// Connects and creates a session; returns the socket ready for requests.
async fn connect(target: &str) -> Result<TcpStream, ClientError> {
    let mut stream = TcpStream::connect(target).await?;
    stream.set_nodelay(true)?;
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    let mut frame = Vec::new();
    put_frame(&mut frame, &req.to_bytes());
    stream.write_all(&frame).await?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let len = frame_len(len)?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    let resp = ConnectResponse::from_bytes(&body)?;
    if resp.timeout <= 0 || resp.session_id == 0 {
        return Err(ClientError::SessionExpired);
    }
    Ok(stream)
}

fn frame_len(prefix: [u8; 4]) -> Result<usize, ClientError> {
    let len = i32::from_be_bytes(prefix);
    usize::try_from(len)
        .ok()
        .filter(|l| *l <= MAX_FRAME)
        .ok_or_else(|| ClientError::Protocol(format!("bad frame length {len}")))
}

/// One session's counts.
struct SessionResult {
    ops: u64,
    errors: u64,
    histogram: Histogram<u64>,
}

/// Drives one connection until `stop`, then drains its replies and closes its session.
async fn session(
    mut stream: TcpStream,
    script: &Script,
    outstanding: usize,
    pace: Option<Pace>,
    ops: &AtomicU64,
    stop: &AtomicBool,
) -> Result<SessionResult, ClientError> {
    let mut s = SessionDriver::new(script, outstanding, pace)?;
    if pace.is_none() {
        let now = Instant::now();
        for _ in 0..outstanding {
            s.send(now);
        }
    }
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        s.queue(Instant::now(), stopping);
        if !s.out.is_empty() {
            stream.write_all(&s.out).await?;
            s.out.clear();
        }
        let Some(read) = s.read(&mut stream, stopping).await? else {
            continue;
        };
        if read == 0 {
            return if s.closing {
                Ok(s.result)
            } else {
                Err(ClientError::ConnectionLoss)
            };
        }
        s.filled += read;
        match s.take_replies(Instant::now(), stop.load(Ordering::Relaxed))? {
            Replies::Counted(done) => {
                ops.fetch_add(done, Ordering::Relaxed);
            }
            Replies::Closed => return Ok(s.result),
        }
    }
}

/// What a batch of replies amounted to.
enum Replies {
    /// This many operations completed.
    Counted(u64),
    /// The closeSession reply came: the session is over.
    Closed,
}

/// The state of one pipelined session.
struct SessionDriver {
    requests: Vec<Encoded>,
    close: Encoded,
    outstanding: usize,
    pace: Option<Pace>,
    result: SessionResult,
    next_xid: i32,
    /// Requests sent so far (the script repeats).
    n: usize,
    in_flight: VecDeque<(i32, Instant)>,
    out: Vec<u8>,
    input: Vec<u8>,
    filled: usize,
    closing: bool,
    drain_deadline: Option<Instant>,
}

impl SessionDriver {
    fn new(
        script: &Script,
        outstanding: usize,
        pace: Option<Pace>,
    ) -> Result<SessionDriver, ClientError> {
        let requests: Vec<Encoded> = script.requests.iter().map(Encoded::new).collect();
        if requests.is_empty() {
            return Err(ClientError::Protocol("empty script".into()));
        }
        Ok(SessionDriver {
            requests,
            close: Encoded::new(&Request::CloseSession),
            outstanding,
            pace,
            result: SessionResult {
                ops: 0,
                errors: 0,
                histogram: histogram(),
            },
            next_xid: 1,
            n: 0,
            in_flight: VecDeque::with_capacity(outstanding + 1),
            out: Vec::with_capacity(outstanding * 256),
            input: vec![0u8; 64 * 1024],
            filled: 0,
            closing: false,
            drain_deadline: None,
        })
    }

    /// Appends the session's next request to `out` and remembers it as in flight since `at`.
    fn send(&mut self, at: Instant) {
        if let Some(req) = self.requests.get(self.n % self.requests.len()) {
            req.put(&mut self.out, self.next_xid);
            self.in_flight.push_back((self.next_xid, at));
            self.next_xid = if self.next_xid == i32::MAX {
                1
            } else {
                self.next_xid + 1
            };
            self.n += 1;
        }
    }

    /// Queues what is due: paced requests, and once stopping and drained, the close.
    fn queue(&mut self, now: Instant, stopping: bool) {
        if let Some(p) = self.pace
            && !stopping
        {
            while self.in_flight.len() < self.outstanding && p.due(self.n) <= now {
                self.send(p.due(self.n));
            }
        }
        if stopping && self.in_flight.is_empty() && !self.closing {
            self.closing = true;
            self.close.put(&mut self.out, self.next_xid);
            self.in_flight.push_back((self.next_xid, now));
        }
        if stopping && self.drain_deadline.is_none() {
            self.drain_deadline = Some(now + DRAIN_TIMEOUT);
        }
    }

    /// Reads what has arrived; `None` when a paced session's next request fell due first.
    async fn read(
        &mut self,
        stream: &mut TcpStream,
        stopping: bool,
    ) -> Result<Option<usize>, ClientError> {
        if self.filled == self.input.len() {
            self.input.resize(self.input.len() * 2, 0);
        }
        // A paced session with room also wakes when its next request is due.
        let next_due = self
            .pace
            .filter(|_| !stopping && self.in_flight.len() < self.outstanding)
            .map(|p| p.due(self.n));
        let buf = &mut self.input[self.filled..];
        match self.drain_deadline.or(next_due) {
            None => Ok(Some(stream.read(buf).await?)),
            Some(d) => match tokio::time::timeout_at(d.into(), stream.read(buf)).await {
                Ok(r) => Ok(Some(r?)),
                Err(_) if self.drain_deadline.is_some() => Err(ClientError::Protocol(
                    "replies did not come back in time".into(),
                )),
                Err(_) => Ok(None),
            },
        }
    }

    /// Matches the whole replies in the input to the requests in flight, counting them
    /// and (closed loop) sending the next request for each.
    fn take_replies(&mut self, now: Instant, stopping: bool) -> Result<Replies, ClientError> {
        let mut done = 0;
        let mut at = 0;
        while let Some(prefix) = self.input.get(at..(at + 4).min(self.filled)) {
            let Ok(p) = <[u8; 4]>::try_from(prefix) else {
                break;
            };
            let len = frame_len(p)?;
            let Some(body) = self
                .input
                .get(at + 4..at + 4 + len)
                .filter(|_| at + 4 + len <= self.filled)
            else {
                break;
            };
            at += 4 + len;
            let header = ReplyHeader::read(&mut Reader::new(body))?;
            if header.xid == PING_XID || header.xid == NOTIFICATION_XID {
                continue;
            }
            if self.reply(header.xid, header.err, now)? {
                return Ok(Replies::Closed);
            }
            done += u64::from(header.err == 0);
            if !stopping && self.pace.is_none() {
                self.send(now);
            }
        }
        self.input.copy_within(at..self.filled, 0);
        self.filled -= at;
        Ok(Replies::Counted(done))
    }

    /// Accounts for the reply to `xid`; true if it answers the close.
    fn reply(&mut self, xid: i32, err: i32, now: Instant) -> Result<bool, ClientError> {
        let Some((expected, sent)) = self.in_flight.pop_front() else {
            return Err(ClientError::Protocol(format!("reply {xid} to no request")));
        };
        if expected != xid {
            return Err(ClientError::Protocol(format!(
                "xid out of order: expected {expected}, got {xid}"
            )));
        }
        if self.closing {
            // The reply to closeSession: the server closes the connection next.
            return Ok(true);
        }
        if err == 0 {
            let _ = self
                .result
                .histogram
                .record(now.duration_since(sent).as_micros().max(1) as u64);
            self.result.ops += 1;
        } else {
            self.result.errors += 1;
        }
        Ok(false)
    }
}
