//! `menagerie bench`, `menagerie inspect` and `menagerie purge`: argument handling and
//! output around `menagerie-tools` and `menagerie-storage`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use menagerie_tools::bench::{BenchConfig, Workload};

/// `menagerie bench`'s options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Server address, or an ensemble's members joined by commas (sessions are spread over
    /// them; setup goes to the first).
    #[arg(long, default_value = "127.0.0.1:2181")]
    target: String,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 16)]
    sessions: usize,
    /// Requests in flight per session.
    #[arg(long, default_value_t = 16)]
    outstanding: usize,
    /// Seconds per workload.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Comma-separated workloads: create, create1k, set, get, exists, children,
    /// mixedNN (NN % reads), sessions, ephemeral, watchN (N watchers), populateN (create
    /// N nodes of 100 B and keep them), populateNxB (N nodes of B bytes).
    #[arg(
        long,
        default_value = "create,set,get,exists,children,mixed90,sessions,ephemeral,watch1000"
    )]
    workloads: String,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
    /// Offered load, operations per second over all sessions (default: closed loop,
    /// as fast as the server answers). Latencies then count from the scheduled start.
    #[arg(long)]
    rate: Option<f64>,
    /// The server's maxClientCnxns (connections allowed from one address; 0 = no limit).
    /// Default: asked with the `conf` four-letter word, else ZooKeeper's default, 60.
    #[arg(long)]
    max_client_cnxns: Option<usize>,
}

/// Runs the workloads one after the other, printing a row (or a JSON object) for each.
pub fn bench(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let list: Vec<Workload> = args
        .workloads
        .split(',')
        .map(|w| Workload::parse(w.trim()).ok_or_else(|| anyhow::anyhow!("unknown workload {w:?}")))
        .collect::<anyhow::Result<_>>()?;
    let config = BenchConfig {
        target: args.target.clone(),
        sessions: args.sessions.max(1),
        outstanding: args.outstanding.max(1),
        duration: std::time::Duration::from_secs_f64(args.duration.max(0.1)),
        rate: args.rate.filter(|r| *r > 0.0),
        progress: std::io::stderr().is_terminal(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let json = args.json;
    runtime.block_on(async {
        let mut plan = menagerie_tools::bench::Plan::prepare(&config, &list, args.max_client_cnxns)
            .await
            .with_context(|| format!("cannot reach {}", config.target))?;
        if !json {
            println!("{}", menagerie_tools::bench::BenchResult::table_header());
        }
        while let Some(r) = plan
            .next(&config)
            .await
            .with_context(|| format!("benchmark against {}", config.target))?
        {
            if json {
                println!("{}", r.to_json());
            } else {
                println!("{}", r.table_row());
            }
        }
        plan.finish(&config).await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// `menagerie inspect`'s options.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Files or data directories.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per line: header, txn/node/session objects, summary.
    #[arg(long)]
    json: bool,
    /// Only counts, zxid range, sessions and how the file ends.
    #[arg(long)]
    summary: bool,
    /// Show data in full (snapshots: base64, as ZooKeeper's SnapshotFormatter -d).
    #[arg(long, short)]
    data: bool,
    /// Also show each txn's file offset and tree digest.
    #[arg(long, short)]
    verbose: bool,
    /// The jute.maxbuffer the files were written with (bytes; default 1048575): longer
    /// snapshot buffers, and log entries over the larger of this and 64 MiB, are reported as
    /// damage.
    #[arg(long)]
    jute_maxbuffer: Option<usize>,
}

/// Prints the files; exit status 1 if one is damaged or cannot be read.
pub fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    use menagerie_tools::inspect::{InspectError, InspectOptions, inspect_paths};
    use std::io::Write;
    let mut opts = InspectOptions {
        json: args.json,
        summary: args.summary,
        data: args.data,
        verbose: args.verbose,
        ..InspectOptions::for_terminal()
    };
    if let Some(max) = args.jute_maxbuffer {
        opts.max_record_len = max.saturating_add(1024);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = inspect_paths(&menagerie_storage::StdFs, &args.files, &opts, &mut out)
        .and_then(|r| out.flush().map(|()| r).map_err(InspectError::from));
    let reports = match result {
        Ok(r) => r,
        // `menagerie inspect ... | head`: the reader left; that is not a failure.
        Err(InspectError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    drop(out);
    for p in reports.iter().flat_map(|r| &r.problems) {
        eprintln!("menagerie inspect: {p}");
    }
    let damaged = reports.iter().filter(|r| r.is_damaged()).count();
    if damaged > 0 {
        eprintln!(
            "menagerie inspect: {damaged} of {} files damaged",
            reports.len()
        );
    }
    Ok(if reports.iter().all(|r| r.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `menagerie purge`: keeps the newest `count` snapshots (at least 3) and the logs needed
/// after the oldest of them.
pub fn purge(
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    count: usize,
) -> anyhow::Result<ExitCode> {
    let (data_dir, data_log_dir) = match (config, data_dir) {
        (Some(cfg), _) => {
            let c = menagerie_server::ServerConfig::load(&cfg)
                .with_context(|| format!("invalid configuration {}", cfg.display()))?;
            (c.data_dir, Some(c.data_log_dir))
        }
        (None, Some(d)) => (d, data_log_dir),
        (None, None) => anyhow::bail!("give a data directory or --config zoo.cfg"),
    };
    let min = menagerie_storage::datadir::MIN_SNAP_RETAIN_COUNT;
    if count < min {
        anyhow::bail!("-n {count}: at least {min} snapshots must be kept");
    }
    let dirs = menagerie_storage::DataDirs::new(
        Arc::new(menagerie_storage::StdFs),
        &data_dir,
        data_log_dir.as_deref(),
    );
    let report = dirs
        .purge(count)
        .with_context(|| format!("cannot purge {}", data_dir.display()))?;
    // Each removed file is logged (stderr) by DataDirs::purge.
    println!(
        "kept the newest {count} snapshots; removed {} snapshots and {} logs",
        report.snapshots.len(),
        report.logs.len()
    );
    Ok(ExitCode::SUCCESS)
}
