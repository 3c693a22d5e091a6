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
        Command::Server { config } => run_server(config),
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
