//! The workloads that run on Menagerie's small async client, one task per outstanding
//! request: multi-step workloads (`ephemeral`, paced `sessions`), paced watch fan-out and
//! `populateN`. Single-request workloads go through the pipelined driver instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use menagerie_proto::ErrorCode;
use menagerie_proto::records::Acl;
use tokio::sync::Mutex;

use super::{
    BenchConfig, BenchResult, Workload, churned, ensure, histogram, pipelined, prepare,
    report_progress, scripts,
};
use crate::client::{Client, ClientError};
use crate::pipeline::member;
use menagerie_proto::records::PathRequest;
use menagerie_proto::request::Request;

/// Counters shared by the tasks of one run.
struct Counters {
    hist: Mutex<Histogram<u64>>,
    ops: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    /// Paced runs: operations scheduled so far.
    scheduled: AtomicU64,
    start: Instant,
}

impl Counters {
    fn new() -> Arc<Counters> {
        Arc::new(Counters {
            hist: Mutex::new(histogram()),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            scheduled: AtomicU64::new(0),
            start: Instant::now(),
        })
    }

    /// Counts one operation that started at `t` (or its error).
    fn record(&self, local: &mut Histogram<u64>, t: Instant, ok: bool) {
        if ok {
            let _ = local.record(t.elapsed().as_micros().max(1) as u64);
            self.ops.fetch_add(1, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn result(&self, workload: Workload) -> BenchResult {
        let hist = self.hist.lock().await;
        BenchResult::from_histogram(
            workload,
            self.ops.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.start.elapsed(),
            &hist,
        )
    }
}

/// Runs a workload for the configured duration: single-request workloads (closed loop or
/// paced) and session churn on the pipelined driver, the others on task loops.
pub(super) async fn closed_loop(
    config: &BenchConfig,
    setup: &Client,
    root: &str,
    workload: Workload,
) -> Result<BenchResult, ClientError> {
    prepare(setup, root, workload, config.sessions).await?;
    caught_up(config, root).await?;
    if let Some(scripts) = scripts(root, workload, config.sessions) {
        return pipelined(config, workload, scripts).await;
    }
    if config.rate.is_none() && workload == Workload::Sessions {
        return churned(config).await;
    }
    task_loops(config, root, workload).await
}

/// With several members in the target, a `sync` through each so that every member serves
/// what the setup created before the sessions start.
async fn caught_up(config: &BenchConfig, root: &str) -> Result<(), ClientError> {
    let members = config.target.split(',').count();
    for i in (1..members).filter(|_| members > 1) {
        let c = Client::connect(member(&config.target, i), Duration::from_secs(30)).await?;
        c.call(Request::Sync(PathRequest { path: root.into() }))
            .await?;
        let _ = c.close().await;
    }
    Ok(())
}

/// `sessions` clients with `outstanding` tasks each, every task running one operation
/// after the other (paced by `rate` if set) until the duration is over.
async fn task_loops(
    config: &BenchConfig,
    root: &str,
    workload: Workload,
) -> Result<BenchResult, ClientError> {
    let mut clients = Vec::new();
    for s in 0..config.sessions {
        clients.push(Arc::new(
            Client::connect(member(&config.target, s), Duration::from_secs(30)).await?,
        ));
    }
    let counters = Counters::new();
    let mut tasks = Vec::new();
    for (s, client) in clients.iter().enumerate() {
        for _ in 0..config.outstanding {
            let worker = Worker {
                client: Arc::clone(client),
                counters: Arc::clone(&counters),
                target: member(&config.target, s).to_string(),
                root: root.to_string(),
                rate: config.rate,
                session: s,
                workload,
            };
            tasks.push(tokio::spawn(worker.run()));
        }
    }
    let start = counters.start;
    report_progress(config, workload, &counters.ops, start, || {
        start.elapsed() >= config.duration
    })
    .await;
    counters.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let result = counters.result(workload).await;
    for c in &clients {
        let _ = c.close().await;
    }
    Ok(result)
}

/// One task of [`task_loops`].
struct Worker {
    client: Arc<Client>,
    counters: Arc<Counters>,
    target: String,
    root: String,
    rate: Option<f64>,
    session: usize,
    workload: Workload,
}

impl Worker {
    async fn run(self) {
        let c = &self.counters;
        let mut local = histogram();
        let mut n: u64 = 0;
        while !c.stop.load(Ordering::Relaxed) {
            let t = match self.rate {
                Some(rate) => {
                    let k = c.scheduled.fetch_add(1, Ordering::Relaxed);
                    let due = c.start + Duration::from_secs_f64(k as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    if c.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    due
                }
                None => Instant::now(),
            };
            let r = one_op(
                &self.client,
                &self.target,
                &self.root,
                self.session,
                self.workload,
                n,
            )
            .await;
            c.record(&mut local, t, r.is_ok());
            n += 1;
        }
        let _ = c.hist.lock().await.add(&local);
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
        Workload::WatchFanout(_) | Workload::Populate(..) => Ok(()),
    }
}

/// `n` sessions each watch one node; one setData; measures until every watcher is notified,
/// repeated for the configured duration.
pub(super) async fn watch_fanout(
    config: &BenchConfig,
    setup: &Client,
    root: &str,
    n: usize,
) -> Result<BenchResult, ClientError> {
    let node = format!("{root}/watched");
    ensure(setup, &node).await?;
    let mut watchers = Vec::new();
    for i in 0..n {
        let c = Client::connect(member(&config.target, i), Duration::from_secs(30)).await?;
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
    Ok(BenchResult::from_histogram(
        Workload::WatchFanout(n),
        rounds,
        0,
        start.elapsed(),
        &hist,
    ))
}

/// The root `populateN` creates its nodes under (kept afterwards).
pub const POPULATE_ROOT: &str = "/menagerie-populate";

/// The most data bytes `populateNxB` puts in a node: ZooKeeper's default `jute.maxbuffer`
/// (1 MiB) less room for the rest of the create request.
pub const POPULATE_MAX_BYTES: usize = 1024 * 1024 - 1024;

/// Creates `n` nodes of `bytes` data bytes under [`POPULATE_ROOT`] (kept), as fast as the
/// server takes them.
pub(super) async fn populate(
    config: &BenchConfig,
    n: u64,
    bytes: usize,
) -> Result<BenchResult, ClientError> {
    let setup = Client::connect(member(&config.target, 0), Duration::from_secs(30)).await?;
    ensure(&setup, POPULATE_ROOT).await?;
    // 1,000 parents, so that no node has a million children.
    let parents = n.div_ceil(1000).max(1);
    for p in 0..parents {
        ensure(&setup, &format!("{POPULATE_ROOT}/p{p:05}")).await?;
    }
    let next = Arc::new(AtomicU64::new(0));
    let counters = Counters::new();
    let mut tasks = Vec::new();
    for s in 0..config.sessions {
        let client =
            Arc::new(Client::connect(member(&config.target, s), Duration::from_secs(30)).await?);
        for _ in 0..config.outstanding {
            let (client, next, c) = (
                Arc::clone(&client),
                Arc::clone(&next),
                Arc::clone(&counters),
            );
            tasks.push(tokio::spawn(populate_task(client, next, c, n, bytes)));
        }
    }
    let c = &counters;
    let finished = || c.ops.load(Ordering::Relaxed) + c.errors.load(Ordering::Relaxed) >= n;
    report_progress(
        config,
        Workload::Populate(n, bytes),
        &c.ops,
        c.start,
        finished,
    )
    .await;
    for t in tasks {
        let _ = t.await;
    }
    let _ = setup.close().await;
    Ok(c.result(Workload::Populate(n, bytes)).await)
}

/// Creates nodes until `n` have been taken by the tasks together.
async fn populate_task(
    client: Arc<Client>,
    next: Arc<AtomicU64>,
    c: Arc<Counters>,
    n: u64,
    bytes: usize,
) {
    let mut local = histogram();
    let data = vec![b'x'; bytes];
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        let path = format!("{POPULATE_ROOT}/p{:05}/n{i:08}", i / 1000);
        let t = Instant::now();
        let r = client.create(&path, &data, Acl::open_unsafe(), 0).await;
        let ok = matches!(r, Ok(_) | Err(ClientError::Server(ErrorCode::NodeExists)));
        c.record(&mut local, t, ok);
    }
    let _ = c.hist.lock().await.add(&local);
    let _ = client.close().await;
}
