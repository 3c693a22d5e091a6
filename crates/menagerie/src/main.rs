//! `menagerie`: a drop-in replacement for Apache ZooKeeper.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use menagerie_server::ServerConfig;

mod sim;

#[derive(Parser)]
#[command(
    name = "menagerie",
    version,
    about = "A drop-in replacement for Apache ZooKeeper"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server in the foreground. Without --config: standalone on 127.0.0.1:2181 with
    /// data under ./data.
    Server {
        /// A ZooKeeper zoo.cfg file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Drive load against a ZooKeeper-compatible server and report throughput and latency.
    Bench {
        /// Server address.
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
        /// N nodes of 100 B and keep them).
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
    },
    /// Print transaction logs (log.<zxid>) and snapshots (snapshot.<zxid>) written by
    /// Menagerie or ZooKeeper; a directory stands for all of them in it. Exits 1 if a file is
    /// damaged (named with the byte offset on stderr).
    Inspect {
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
    },
    /// A zkCli.sh-compatible client: `menagerie cli -server host:port [cmd args]`. Same
    /// flags (-server, -timeout, -r, -waitforconnection, -client-configuration) and commands;
    /// without a command, an interactive shell. Extras: --json, tree, watch, export, import.
    Cli {
        /// zkCli.sh arguments: connection flags, then optionally one command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run seeds of the deterministic ensemble simulator and check every history; exits
    /// non-zero if any seed violates a property. Prints `N seeds, M violations` last.
    Sim(sim::SimArgs),
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // MENAGERIE_LOG_FORMAT=json: one JSON object per line (for log shippers).
    if std::env::var("MENAGERIE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Cli { args } => std::process::exit(menagerie_tools::cli::main(&args)),
        Command::Sim(args) => {
            if sim::run(&args)? > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Server { config } => run_server(config),
        Command::Bench {
            target,
            sessions,
            outstanding,
            duration,
            workloads,
            json,
            rate,
        } => {
            use std::io::IsTerminal;
            let config = menagerie_tools::bench::BenchConfig {
                target,
                sessions,
                outstanding,
                duration: std::time::Duration::from_secs_f64(duration.max(0.1)),
                rate: rate.filter(|r| *r > 0.0),
                progress: std::io::stderr().is_terminal(),
            };
            run_bench(&config, &workloads, json)
        }
        Command::Inspect {
            files,
            json,
            summary,
            data,
            verbose,
        } => run_inspect(&files, json, summary, data, verbose),
    }
}

fn run_inspect(
    files: &[PathBuf],
    json: bool,
    summary: bool,
    data: bool,
    verbose: bool,
) -> anyhow::Result<()> {
    use menagerie_tools::inspect::{InspectError, InspectOptions, inspect_paths};
    use std::io::Write;
    let opts = InspectOptions {
        json,
        summary,
        data,
        verbose,
        ..InspectOptions::for_terminal()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = inspect_paths(&menagerie_storage::StdFs, files, &opts, &mut out)
        .and_then(|r| out.flush().map(|()| r).map_err(InspectError::from));
    let reports = match result {
        Ok(r) => r,
        // `menagerie inspect ... | head`: the reader left; that is not a failure.
        Err(InspectError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    drop(out);
    let mut damaged = 0;
    for r in &reports {
        for p in &r.problems {
            eprintln!("menagerie inspect: {p}");
        }
        damaged += usize::from(!r.is_ok());
    }
    if damaged > 0 {
        eprintln!(
            "menagerie inspect: {damaged} of {} files damaged",
            reports.len()
        );
        std::process::exit(1);
    }
    Ok(())
}

fn run_server(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = match &config_path {
        Some(p) => ServerConfig::load(p)
            .with_context(|| format!("invalid configuration {}", p.display()))?,
        None => ServerConfig::default(),
    };
    for key in &config.unused_keys {
        tracing::warn!(key = %key, "configuration key accepted but not used by this version");
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create dataDir {}", config.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = menagerie_server::start(config.clone())
            .await
            .with_context(|| format!("cannot start the server on {}", config.client_addr))?;
        tracing::info!(addr = %server.addr, data_dir = %config.data_dir.display(), "menagerie serving clients");
        if let Some(a) = server.admin_addr {
            tracing::info!(addr = %a, command_url = %config.admin.command_url, "admin server (commands, /metrics, /ready, /health)");
        }
        if let Some(a) = server.prometheus_addr {
            tracing::info!(addr = %a, "Prometheus metrics at /metrics");
        }
        if let Some(secure) = server.secure_addr {
            tracing::info!(addr = %secure, "menagerie serving TLS clients (secureClientPort)");
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        server.stop().await;
        anyhow::Ok(())
    })
}

fn run_bench(
    config: &menagerie_tools::bench::BenchConfig,
    workloads: &str,
    json: bool,
) -> anyhow::Result<()> {
    use menagerie_tools::bench::{Workload, run};
    let list: Vec<Workload> = workloads
        .split(',')
        .map(|w| Workload::parse(w.trim()).ok_or_else(|| anyhow::anyhow!("unknown workload {w:?}")))
        .collect::<anyhow::Result<_>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        if !json {
            println!(
                "{:<12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>8}",
                "workload", "ops/s", "p50 us", "p99 us", "p99.9 us", "max us", "errors"
            );
        }
        for w in list {
            let r = run(config, w)
                .await
                .with_context(|| format!("workload {} against {}", w.name(), config.target))?;
            if json {
                println!("{}", r.to_json());
            } else {
                println!(
                    "{:<12} {:>12.0} {:>10} {:>10} {:>10} {:>10} {:>8}",
                    r.workload,
                    r.ops_per_sec,
                    r.latency_us[0],
                    r.latency_us[1],
                    r.latency_us[2],
                    r.latency_us[3],
                    r.errors
                );
            }
        }
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
