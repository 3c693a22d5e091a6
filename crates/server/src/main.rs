//! `menagerie`: a drop-in replacement for Apache ZooKeeper.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use menagerie_server::ServerConfig;

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
        /// mixedNN (NN % reads), sessions, ephemeral, watchN (N watchers).
        #[arg(
            long,
            default_value = "create,set,get,exists,children,mixed90,sessions,ephemeral,watch1000"
        )]
        workloads: String,
        /// Print one JSON object per workload instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A zkCli.sh-compatible client: `menagerie cli -server host:port [cmd args]`. Same
    /// flags (-server, -timeout, -r, -waitforconnection, -client-configuration) and commands;
    /// without a command, an interactive shell. Extras: --json, tree, watch, export, import.
    Cli {
        /// zkCli.sh arguments: connection flags, then optionally one command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Cli { args } => std::process::exit(menagerie_tools::cli::main(&args)),
        Command::Server { config } => run_server(config),
        Command::Bench {
            target,
            sessions,
            outstanding,
            duration,
            workloads,
            json,
        } => {
            let config = menagerie_tools::bench::BenchConfig {
                target,
                sessions,
                outstanding,
                duration: std::time::Duration::from_secs_f64(duration.max(0.1)),
            };
            run_bench(&config, &workloads, json)
        }
    }
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
            .with_context(|| format!("cannot listen on {}", config.client_addr))?;
        tracing::info!(addr = %server.addr, data_dir = %config.data_dir.display(), "menagerie serving clients");
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
