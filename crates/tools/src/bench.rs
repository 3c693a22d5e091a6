//! The load generator behind `menagerie bench`: closed-loop workloads against any
//! ZooKeeper-compatible server, with HDR latency percentiles.
//!
//! Every workload runs `sessions` sessions with `outstanding` requests in flight each, for a
//! fixed duration, under its own root node, which it removes afterwards.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use menagerie_proto::ErrorCode;
use menagerie_proto::records::Acl;
use tokio::sync::Mutex;

use crate::client::{Client, ClientError};
use crate::pipeline::{DriverConfig, Script};
use menagerie_proto::records::{CreateRequest, GetDataRequest, PathWatchRequest, SetDataRequest};
use menagerie_proto::request::Request;

/// A workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// create of persistent sequential nodes with this many data bytes.
    Create(usize),
    /// setData of this many bytes on a node per session.
    SetData(usize),
    /// getData of a 100-byte node.
    GetData,
    /// exists of a node.
    Exists,
    /// getChildren of a node with 1,000 children.
    GetChildren,
    /// getData / setData mix with this percentage of reads.
    Mixed(u8),
    /// connect, create a session, close it.
    Sessions,
    /// create and delete an ephemeral node.
    EphemeralChurn,
    /// this many watchers on one node; one setData; time until the last notification.
    WatchFanout(usize),
    /// create this many 100-byte nodes under `/menagerie-populate` and keep them (for memory
    /// and restart measurements); runs until done, not for the duration.
    Populate(u64),
}

impl Workload {
    /// Parses `create`, `create1k`, `set`, `get`, `exists`, `children`, `mixed90`,
    /// `sessions`, `ephemeral`, `watch1000`, `populate1000000`.
    pub fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "create" => Workload::Create(100),
            "create1k" => Workload::Create(1024),
            "set" => Workload::SetData(100),
            "get" => Workload::GetData,
            "exists" => Workload::Exists,
            "children" => Workload::GetChildren,
            "sessions" => Workload::Sessions,
            "ephemeral" => Workload::EphemeralChurn,
            _ => {
                if let Some(n) = s.strip_prefix("populate") {
                    Workload::Populate(n.parse().ok().filter(|n| *n > 0)?)
                } else if let Some(p) = s.strip_prefix("mixed") {
                    Workload::Mixed(p.parse().ok().filter(|p: &u8| *p <= 100)?)
                } else if let Some(n) = s.strip_prefix("watch") {
                    Workload::WatchFanout(n.parse().ok()?)
                } else {
                    return None;
                }
            }
        })
    }

    /// Short name for reports.
    pub fn name(&self) -> String {
        match self {
            Workload::Create(100) => "create".into(),
            Workload::Create(n) => format!("create{n}B"),
            Workload::SetData(_) => "set".into(),
            Workload::GetData => "get".into(),
            Workload::Exists => "exists".into(),
            Workload::GetChildren => "children".into(),
            Workload::Mixed(p) => format!("mixed{p}"),
            Workload::Sessions => "sessions".into(),
            Workload::EphemeralChurn => "ephemeral".into(),
            Workload::WatchFanout(n) => format!("watch{n}"),
            Workload::Populate(n) => format!("populate{n}"),
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `host:port`.
    pub target: String,
    /// Concurrent sessions.
    pub sessions: usize,
    /// Requests in flight per session.
    pub outstanding: usize,
    /// How long each workload runs.
    pub duration: Duration,
    /// Offered load in operations per second over all sessions (`None`: closed loop, as fast
    /// as replies come). Latency is then measured from each operation's scheduled start, so
    /// a stalled server is charged for the requests it delayed (no coordinated omission).
    pub rate: Option<f64>,
    /// Print progress on stderr (once a second, on one line).
    pub progress: bool,
}

/// One workload's figures.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// The workload.
    pub workload: String,
    /// Completed operations.
    pub ops: u64,
    /// Failed operations.
    pub errors: u64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Latency percentiles, microseconds: p50, p99, p99.9, max.
    pub latency_us: [u64; 4],
}

impl BenchResult {
    /// One JSON object.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"workload\":\"{}\",\"ops\":{},\"errors\":{},\"ops_per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
            self.workload,
            self.ops,
            self.errors,
            self.ops_per_sec,
            self.latency_us[0],
            self.latency_us[1],
            self.latency_us[2],
            self.latency_us[3]
        )
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits; the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

/// Runs one workload.
pub async fn run(config: &BenchConfig, workload: Workload) -> Result<BenchResult, ClientError> {
    if let Workload::Populate(n) = workload {
        return populate(config, n).await;
    }
    let root = format!("/menagerie-bench-{}", std::process::id());
    let setup = Arc::new(Client::connect(&config.target, Duration::from_secs(30)).await?);
    ensure(&setup, &root).await?;
    let result = match workload {
        Workload::WatchFanout(n) if config.rate.is_none() => {
            fanned_out(config, &setup, &root, n).await
        }
        Workload::WatchFanout(n) => watch_fanout(config, &setup, &root, n).await,
        _ => closed_loop(config, &setup, &root, workload).await,
    };
    cleanup(Arc::clone(&setup), root).await;
    let _ = setup.close().await;
    result
}

async fn ensure(c: &Client, path: &str) -> Result<(), ClientError> {
    match c.create(path, b"", Acl::open_unsafe(), 0).await {
        Ok(_) | Err(ClientError::Server(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes `root` and everything below it: a node that still has children has them deleted
/// first, 64 at a time in parallel (a workload may leave hundreds of thousands behind).
fn cleanup(c: Arc<Client>, path: String) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if !matches!(
            c.delete(&path, -1).await,
            Err(ClientError::Server(ErrorCode::NotEmpty))
        ) {
            return;
        }
        if let Ok(children) = c.get_children(&path, false).await {
            let mut tasks = tokio::task::JoinSet::new();
            let per_task = children.len().div_ceil(64).max(1);
            for chunk in children.chunks(per_task) {
                let (c, base, chunk) = (Arc::clone(&c), path.clone(), chunk.to_vec());
                tasks.spawn(async move {
                    for child in chunk {
                        cleanup(Arc::clone(&c), format!("{base}/{child}")).await;
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        }
        let _ = c.delete(&path, -1).await;
    })
}

async fn prepare(
    c: &Client,
    root: &str,
    workload: Workload,
    sessions: usize,
) -> Result<(), ClientError> {
    match workload {
        Workload::SetData(_) | Workload::GetData | Workload::Exists | Workload::Mixed(_) => {
            for s in 0..sessions {
                ensure_data(c, &format!("{root}/n{s}"), &[b'x'; 100]).await?;
            }
        }
        Workload::GetChildren => {
            ensure(c, &format!("{root}/wide")).await?;
            for i in 0..1000 {
                ensure(c, &format!("{root}/wide/c{i:04}")).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn ensure_data(c: &Client, path: &str, data: &[u8]) -> Result<(), ClientError> {
    match c.create(path, data, Acl::open_unsafe(), 0).await {
        Ok(_) | Err(ClientError::Server(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn one_op(
    c: &Client,
    target: &str,
    root: &str,
    session: usize,
    workload: Workload,
    n: u64,
) -> Result<(), ClientError> {
    let node = format!("{root}/n{session}");
    match workload {
        Workload::Create(size) => c
            .create(
                &format!("{root}/c-"),
                &vec![b'x'; size],
                Acl::open_unsafe(),
                2,
            )
            .await
            .map(|_| ()),
        Workload::SetData(size) => c.set_data(&node, &vec![b'y'; size], -1).await.map(|_| ()),
        Workload::GetData => c.get_data(&node, false).await.map(|_| ()),
        Workload::Exists => c.exists(&node, false).await.map(|_| ()),
        Workload::GetChildren => c
            .get_children(&format!("{root}/wide"), false)
            .await
            .map(|_| ()),
        Workload::Mixed(reads) => {
            // A fixed interleaving keeps runs comparable: n mod 100 < reads is a read.
            if (n % 100) < u64::from(reads) {
                c.get_data(&node, false).await.map(|_| ())
            } else {
                c.set_data(&node, &[b'y'; 100], -1).await.map(|_| ())
            }
        }
        Workload::Sessions => {
            let s = Client::connect(target, Duration::from_secs(10)).await?;
            s.close().await
        }
        Workload::EphemeralChurn => {
            let p = c
                .create(&format!("{root}/e-"), b"", Acl::open_unsafe(), 3)
                .await?;
            c.delete(&p, -1).await
        }
        Workload::WatchFanout(_) | Workload::Populate(_) => Ok(()),
    }
}

/// What each session of a single-request workload sends, for the pipelined driver;
/// `None` for workloads that need a reply before the next request (sessions, ephemeral).
fn scripts(root: &str, workload: Workload, sessions: usize) -> Option<Vec<Script>> {
    let set = |node: &str, size: usize| {
        Request::SetData(SetDataRequest {
            path: node.into(),
            data: Some(vec![b'y'; size]),
            version: -1,
        })
    };
    let get = |node: &str| {
        Request::GetData(GetDataRequest {
            path: node.into(),
            watch: false,
        })
    };
    let script = |s: usize| -> Option<Vec<Request>> {
        let node = format!("{root}/n{s}");
        Some(match workload {
            Workload::Create(size) => vec![Request::Create(CreateRequest {
                path: format!("{root}/c-"),
                data: Some(vec![b'x'; size]),
                acl: Acl::open_unsafe(),
                flags: 2,
            })],
            Workload::SetData(size) => vec![set(&node, size)],
            Workload::GetData => vec![get(&node)],
            Workload::Exists => vec![Request::Exists(PathWatchRequest {
                path: node,
                watch: false,
            })],
            Workload::GetChildren => vec![Request::GetChildren(PathWatchRequest {
                path: format!("{root}/wide"),
                watch: false,
            })],
            // A fixed interleaving keeps runs comparable: n mod 100 < reads is a read.
            Workload::Mixed(reads) => (0..100)
                .map(|i| {
                    if i < usize::from(reads) {
                        get(&node)
                    } else {
                        set(&node, 100)
                    }
                })
                .collect(),
            _ => return None,
        })
    };
    (0..sessions)
        .map(|s| script(s).map(|requests| Script { requests }))
        .collect()
}

/// A closed-loop run of a single-request workload on the pipelined driver.
async fn pipelined(
    config: &BenchConfig,
    workload: Workload,
    scripts: Vec<Script>,
) -> Result<BenchResult, ClientError> {
    let ops = Arc::new(AtomicU64::new(0));
    let driver = driver_config(config);
    let run = crate::pipeline::drive(&driver, scripts, Arc::clone(&ops));
    driven(config, workload, run, &ops).await
}

/// Session create+close loops (`sessions` x `outstanding` of them) on the driver's thread.
async fn churned(config: &BenchConfig) -> Result<BenchResult, ClientError> {
    let ops = Arc::new(AtomicU64::new(0));
    let loops = config.sessions * config.outstanding;
    let driver = driver_config(config);
    let run = crate::pipeline::churn(&driver, loops, Arc::clone(&ops));
    driven(config, Workload::Sessions, run, &ops).await
}

fn driver_config(config: &BenchConfig) -> DriverConfig {
    DriverConfig {
        target: config.target.clone(),
        outstanding: config.outstanding,
        duration: config.duration,
        rate: config.rate,
    }
}

/// Watch fan-out on the driver's thread (plain sockets; one read per notification).
async fn fanned_out(
    config: &BenchConfig,
    setup: &Client,
    root: &str,
    n: usize,
) -> Result<BenchResult, ClientError> {
    let node = format!("{root}/watched");
    ensure(setup, &node).await?;
    let ops = AtomicU64::new(0);
    let driver = driver_config(config);
    let run = crate::pipeline::fanout(&driver, n, node);
    // One operation is one round: the set, then every watcher notified.
    driven(config, Workload::WatchFanout(n), run, &ops).await
}

/// Waits for a driver run, reporting progress meanwhile.
async fn driven(
    config: &BenchConfig,
    workload: Workload,
    run: impl Future<Output = Result<crate::pipeline::DriverResult, ClientError>>,
    ops: &AtomicU64,
) -> Result<BenchResult, ClientError> {
    let start = Instant::now();
    let progress = report_progress(config, workload, ops, start, || {
        start.elapsed() >= config.duration
    });
    let (r, ()) = tokio::join!(run, progress);
    let r = r?;
    let hist = &r.histogram;
    Ok(BenchResult {
        workload: workload.name(),
        ops: r.ops,
        errors: r.errors,
        ops_per_sec: r.ops as f64 / r.elapsed,
        latency_us: [
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
        ],
    })
}

async fn closed_loop(
    config: &BenchConfig,
    setup: &Client,
    root: &str,
    workload: Workload,
) -> Result<BenchResult, ClientError> {
    prepare(setup, root, workload, config.sessions).await?;
    // Single-request workloads (closed loop or paced) and session churn go through the cheap
    // pipelined driver; multi-step workloads use one task per outstanding request.
    if let Some(scripts) = scripts(root, workload, config.sessions) {
        return pipelined(config, workload, scripts).await;
    }
    if config.rate.is_none() && workload == Workload::Sessions {
        return churned(config).await;
    }
    let mut clients = Vec::new();
    for _ in 0..config.sessions {
        clients.push(Arc::new(
            Client::connect(&config.target, Duration::from_secs(30)).await?,
        ));
    }
    let hist = Arc::new(Mutex::new(histogram()));
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let scheduled = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (s, client) in clients.iter().enumerate() {
        for _ in 0..config.outstanding {
            let (client, hist, ops, errors, stop, scheduled) = (
                Arc::clone(client),
                Arc::clone(&hist),
                Arc::clone(&ops),
                Arc::clone(&errors),
                Arc::clone(&stop),
                Arc::clone(&scheduled),
            );
            let (target, root, rate) = (config.target.clone(), root.to_string(), config.rate);
            tasks.push(tokio::spawn(async move {
                let mut local = histogram();
                let mut n: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    let t = match rate {
                        Some(rate) => {
                            let k = scheduled.fetch_add(1, Ordering::Relaxed);
                            let due = start + Duration::from_secs_f64(k as f64 / rate);
                            tokio::time::sleep_until(due.into()).await;
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            due
                        }
                        None => Instant::now(),
                    };
                    match one_op(&client, &target, &root, s, workload, n).await {
                        Ok(()) => {
                            let _ = local.record(t.elapsed().as_micros().max(1) as u64);
                            ops.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    n += 1;
                }
                let _ = hist.lock().await.add(&local);
            }));
        }
    }
    report_progress(config, workload, &ops, start, || {
        start.elapsed() >= config.duration
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    for c in &clients {
        let _ = c.close().await;
    }
    let hist = hist.lock().await;
    let ops = ops.load(Ordering::Relaxed);
    Ok(BenchResult {
        workload: workload.name(),
        ops,
        errors: errors.load(Ordering::Relaxed),
        ops_per_sec: ops as f64 / elapsed,
        latency_us: [
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
        ],
    })
}

/// `n` sessions each watch one node; one setData; measures until every watcher is notified,
/// repeated for the configured duration.
async fn watch_fanout(
    config: &BenchConfig,
    setup: &Client,
    root: &str,
    n: usize,
) -> Result<BenchResult, ClientError> {
    let node = format!("{root}/watched");
    ensure(setup, &node).await?;
    let mut watchers = Vec::new();
    for _ in 0..n {
        let c = Client::connect(&config.target, Duration::from_secs(30)).await?;
        let events = c
            .take_events()
            .ok_or_else(|| ClientError::Protocol("events taken".into()))?;
        watchers.push((c, events));
    }
    let mut hist = histogram();
    let mut rounds = 0;
    let start = Instant::now();
    while start.elapsed() < config.duration || rounds == 0 {
        for (c, _) in &watchers {
            c.exists(&node, true).await?;
        }
        let t = Instant::now();
        setup.set_data(&node, b"x", -1).await?;
        for (_, events) in &mut watchers {
            tokio::time::timeout(Duration::from_secs(30), events.recv())
                .await
                .map_err(|_| ClientError::Protocol("notification timed out".into()))?;
        }
        let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
        rounds += 1;
    }
    for (c, _) in &watchers {
        let _ = c.close().await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(BenchResult {
        workload: format!("watch{n}"),
        ops: rounds,
        errors: 0,
        ops_per_sec: rounds as f64 / elapsed,
        latency_us: [
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
        ],
    })
}

/// Waits until `done()`, printing the running operation count once a second if asked to.
async fn report_progress(
    config: &BenchConfig,
    workload: Workload,
    ops: &AtomicU64,
    start: Instant,
    done: impl Fn() -> bool,
) {
    let mut last = 0;
    while !done() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let secs = start.elapsed().as_secs();
        if config.progress && secs != last {
            last = secs;
            let n = ops.load(Ordering::Relaxed);
            eprint!(
                "\r{:<12} {:>4}s {:>12} ops {:>10.0} ops/s",
                workload.name(),
                secs,
                n,
                n as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    if config.progress {
        eprint!("\r{:60}\r", "");
    }
}

/// Creates `n` nodes of 100 bytes under `/menagerie-populate` (kept), as fast as the server
/// takes them.
async fn populate(config: &BenchConfig, n: u64) -> Result<BenchResult, ClientError> {
    const ROOT: &str = "/menagerie-populate";
    let setup = Client::connect(&config.target, Duration::from_secs(30)).await?;
    ensure(&setup, ROOT).await?;
    // 1,000 parents, so that no node has a million children.
    let parents = n.div_ceil(1000).max(1);
    for p in 0..parents {
        ensure(&setup, &format!("{ROOT}/p{p:05}")).await?;
    }
    let next = Arc::new(AtomicU64::new(0));
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let hist = Arc::new(Mutex::new(histogram()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..config.sessions {
        let client = Arc::new(Client::connect(&config.target, Duration::from_secs(30)).await?);
        for _ in 0..config.outstanding {
            let (client, next, ops, errors, hist) = (
                Arc::clone(&client),
                Arc::clone(&next),
                Arc::clone(&ops),
                Arc::clone(&errors),
                Arc::clone(&hist),
            );
            tasks.push(tokio::spawn(async move {
                let mut local = histogram();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let path = format!("{ROOT}/p{:05}/n{i:08}", i / 1000);
                    let t = Instant::now();
                    match client
                        .create(&path, &[b'x'; 100], Acl::open_unsafe(), 0)
                        .await
                    {
                        Ok(_) | Err(ClientError::Server(ErrorCode::NodeExists)) => {
                            let _ = local.record(t.elapsed().as_micros().max(1) as u64);
                            ops.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                let _ = hist.lock().await.add(&local);
                let _ = client.close().await;
            }));
        }
    }
    let finished = || ops.load(Ordering::Relaxed) + errors.load(Ordering::Relaxed) >= n;
    report_progress(config, Workload::Populate(n), &ops, start, finished).await;
    for t in tasks {
        let _ = t.await;
    }
    let _ = setup.close().await;
    let elapsed = start.elapsed().as_secs_f64();
    let hist = hist.lock().await;
    let done = ops.load(Ordering::Relaxed);
    Ok(BenchResult {
        workload: Workload::Populate(n).name(),
        ops: done,
        errors: errors.load(Ordering::Relaxed),
        ops_per_sec: done as f64 / elapsed,
        latency_us: [
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
        ],
    })
}
