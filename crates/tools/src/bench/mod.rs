//! The load generator behind `menagerie bench`: closed-loop workloads against any
//! ZooKeeper-compatible server, with HDR latency percentiles.
//!
//! Every workload runs `sessions` sessions with `outstanding` requests in flight each, for a
//! fixed duration, under its own root node, which it removes afterwards.

mod plan;
mod tasks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use menagerie_proto::ErrorCode;
use menagerie_proto::records::Acl;

pub use plan::{Limit, Plan};
pub use tasks::{POPULATE_MAX_BYTES, POPULATE_ROOT};

use crate::client::{Client, ClientError};
use crate::pipeline::{DriverConfig, Script, member};
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
    /// create this many nodes of this many data bytes (100 unless named) under
    /// `/menagerie-populate` and keep them (for memory, restart and snapshot-install
    /// measurements); runs until done, not for the duration.
    Populate(u64, usize),
}

impl Workload {
    /// Parses `create`, `create1k`, `set`, `get`, `exists`, `children`, `mixed90`,
    /// `sessions`, `ephemeral`, `watch1000`, `populate1000000`, `populate1000000x4096`
    /// (nodes x data bytes; at most 1 MiB per node, ZooKeeper's default `jute.maxbuffer`).
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
                if let Some(spec) = s.strip_prefix("populate") {
                    let (n, bytes) = spec.split_once('x').unwrap_or((spec, "100"));
                    let bytes = bytes.parse().ok().filter(|b| *b <= POPULATE_MAX_BYTES)?;
                    Workload::Populate(n.parse().ok().filter(|n| *n > 0)?, bytes)
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
            Workload::Populate(n, 100) => format!("populate{n}"),
            Workload::Populate(n, bytes) => format!("populate{n}x{bytes}"),
        }
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `host:port`, or an ensemble's members joined by commas: session `i` connects to the
    /// `i`-th (modulo their number); setup and `srvr` go to the first.
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
    /// The figures of a run of `workload`: `ops` done, `errors`, in `elapsed`, with the
    /// latencies in `hist`.
    pub fn from_histogram(
        workload: Workload,
        ops: u64,
        errors: u64,
        elapsed: Duration,
        hist: &Histogram<u64>,
    ) -> BenchResult {
        BenchResult {
            workload: workload.name(),
            ops,
            errors,
            ops_per_sec: ops as f64 / elapsed.as_secs_f64().max(1e-9),
            latency_us: [
                hist.value_at_quantile(0.5),
                hist.value_at_quantile(0.99),
                hist.value_at_quantile(0.999),
                hist.max(),
            ],
        }
    }

    /// The header of the text table.
    pub fn table_header() -> String {
        format!(
            "{:<12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>8}",
            "workload", "ops/s", "p50 us", "p99 us", "p99.9 us", "max us", "errors"
        )
    }

    /// One row of the text table.
    pub fn table_row(&self) -> String {
        format!(
            "{:<12} {:>12.0} {:>10} {:>10} {:>10} {:>10} {:>8}",
            self.workload,
            self.ops_per_sec,
            self.latency_us[0],
            self.latency_us[1],
            self.latency_us[2],
            self.latency_us[3],
            self.errors
        )
    }

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

/// The node this process's workloads create their nodes under (deleted after each).
pub fn bench_root() -> String {
    format!("/menagerie-bench-{}", std::process::id())
}

/// Runs one workload.
pub async fn run(config: &BenchConfig, workload: Workload) -> Result<BenchResult, ClientError> {
    if let Workload::Populate(n, bytes) = workload {
        return tasks::populate(config, n, bytes).await;
    }
    let root = bench_root();
    let setup =
        Arc::new(Client::connect(member(&config.target, 0), Duration::from_secs(30)).await?);
    ensure(&setup, &root).await?;
    let result = match workload {
        Workload::WatchFanout(n) if config.rate.is_none() => {
            fanned_out(config, &setup, &root, n).await
        }
        Workload::WatchFanout(n) => tasks::watch_fanout(config, &setup, &root, n).await,
        _ => tasks::closed_loop(config, &setup, &root, workload).await,
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
    Ok(BenchResult::from_histogram(
        workload,
        r.ops,
        r.errors,
        Duration::from_secs_f64(r.elapsed),
        &r.histogram,
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_takes_a_count_and_an_optional_node_size() {
        assert_eq!(
            Workload::parse("populate1000"),
            Some(Workload::Populate(1000, 100))
        );
        assert_eq!(
            Workload::parse("populate1000000x4096"),
            Some(Workload::Populate(1_000_000, 4096))
        );
        assert_eq!(Workload::Populate(5, 100).name(), "populate5");
        assert_eq!(Workload::Populate(5, 4096).name(), "populate5x4096");
        for bad in [
            "populate",
            "populate0",
            "populate10x",
            "populatex5",
            "populate1x2000000",
        ] {
            assert_eq!(Workload::parse(bad), None, "{bad}");
        }
    }
}
