//! `menagerie server` in the foreground: load the configuration, set up logging, start the
//! server, print the startup banner, tell systemd (or `menagerie server start`) that it is
//! ready, and stop on SIGTERM or Ctrl-C.

use std::path::PathBuf;

use anyhow::Context;
use menagerie_server::{RunningServer, ServerConfig};

use crate::logging::{self, LogSettings, absolute};

/// Which server to run: a zoo.cfg, or the built-in defaults with `--port`/`--data-dir`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// A ZooKeeper zoo.cfg file.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Without --config: the client port on 127.0.0.1 (default 2181).
    #[arg(long, conflicts_with = "config")]
    pub port: Option<u16>,
    /// Without --config: the data directory (default ./data, relative to the directory the
    /// server is started in).
    #[arg(long, conflicts_with = "config")]
    pub data_dir: Option<PathBuf>,
}

/// A configuration ready to run: the server's settings and where its log goes.
pub struct Loaded {
    /// The server's settings (data directories made absolute).
    pub config: ServerConfig,
    /// The zoo.cfg file, absolute (`None`: built-in defaults).
    pub config_path: Option<PathBuf>,
    /// Log file settings.
    pub log: LogSettings,
}

impl ServerArgs {
    /// Reads the zoo.cfg (or the defaults) and the log settings. Errors name the file, the
    /// key and the value.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let config_file = self.config.as_deref().map(absolute);
        let jvm = menagerie_server::config::jvm_flags::from_environment(config_file.as_deref());
        let mut props = jvm.clone();
        let (mut config, config_path) = match config_file {
            Some(path) => {
                let config = ServerConfig::load(&path)
                    .with_context(|| format!("invalid configuration {}", path.display()))?;
                let cfg = menagerie_server::config::parse_properties(&config.initial_config);
                props = menagerie_server::config::jvm_flags::merge(jvm, cfg).0;
                (config, Some(path))
            }
            None => {
                let mut config = ServerConfig::default();
                if let Some(port) = self.port {
                    config.client_addr.set_port(port);
                }
                if let Some(dir) = &self.data_dir {
                    config.data_dir.clone_from(dir);
                    config.data_log_dir.clone_from(dir);
                }
                (config, None)
            }
        };
        config.data_dir = absolute(&config.data_dir);
        config.data_log_dir = absolute(&config.data_log_dir);
        config
            .unused_keys
            .retain(|k| !logging::KEYS.contains(&k.as_str()));
        let log =
            LogSettings::from_sources(&props, |v| std::env::var(v).ok()).with_context(|| {
                match &config_path {
                    Some(p) => format!("invalid configuration {}", p.display()),
                    None => "invalid log settings".into(),
                }
            })?;
        Ok(Loaded {
            config,
            config_path,
            log: LogSettings {
                dir: log.dir.map(|d| absolute(&d)),
                ..log
            },
        })
    }
}

/// Runs the server until SIGTERM or Ctrl-C. `daemon` (a child of `menagerie server start`):
/// SIGHUP is ignored, as `nohup` makes ZooKeeper's script ignore it.
pub fn run(args: &ServerArgs, daemon: bool) -> anyhow::Result<()> {
    let loaded = args.load()?;
    logging::init_server(&loaded.log)?;
    if let Some(path) = loaded.log.path()
        && !daemon
    {
        eprintln!("menagerie: logging to {}", path.display());
    }
    for key in &loaded.config.unused_keys {
        tracing::warn!(key = %key, "configuration key accepted but not used by this version");
    }
    let config = loaded.config.clone();
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
        banner(&loaded, &server);
        notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&format!("serving clients on {}", server.addr)),
        ]);
        wait_for_signal(daemon).await;
        tracing::info!("shutting down");
        notify(&[sd_notify::NotifyState::Stopping]);
        server.stop().await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

/// The startup banner: version, configuration, data directories, log file and ports.
fn banner(loaded: &Loaded, server: &RunningServer) {
    let c = &loaded.config;
    let mode = match &c.quorum {
        Some(q) => format!("ensemble member {} of {}", q.my_id, q.members.len()),
        None => "standalone".to_owned(),
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        zookeeper_version = zookeeper_version(),
        pid = std::process::id(),
        "menagerie starting (ZooKeeper-compatible server, {mode})"
    );
    if let Some(q) = &c.quorum {
        for (sid, m) in &q.members {
            tracing::info!(sid = %sid, member = %m.text, me = *sid == q.my_id, "ensemble member");
        }
    }
    match &loaded.config_path {
        Some(p) => tracing::info!(file = %p.display(), "configuration"),
        None => tracing::info!("configuration: built-in defaults (no --config)"),
    }
    tracing::info!(
        dataDir = %c.data_dir.display(),
        dataLogDir = %c.data_log_dir.display(),
        "data directories"
    );
    match loaded.log.path() {
        Some(p) => tracing::info!(
            file = %p.display(),
            max_file_size = loaded.log.max_file_size,
            max_backups = loaded.log.max_backups,
            "log file"
        ),
        None => tracing::info!("logging to stderr"),
    }
    tracing::info!(addr = %server.addr, "serving clients (clientPort)");
    if let Some(secure) = server.secure_addr {
        tracing::info!(addr = %secure, "serving TLS clients (secureClientPort)");
    }
    if let Some(a) = server.admin_addr {
        tracing::info!(addr = %a, command_url = %c.admin.command_url, "admin server (commands, /metrics, /ready, /health)");
    }
    if let Some(a) = server.prometheus_addr {
        tracing::info!(addr = %a, "Prometheus metrics at /metrics");
    }
}

/// The ZooKeeper version Menagerie reports (`srvr`'s `Zookeeper version:`), e.g. `3.9.3`.
pub fn zookeeper_version() -> &'static str {
    let v = menagerie_server::ops::facts::VERSION;
    v.split('-').next().unwrap_or(v)
}

/// Tells the service manager (systemd's `NOTIFY_SOCKET`, or `menagerie server start`)
/// about the server's state; without `NOTIFY_SOCKET` this does nothing.
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}

async fn wait_for_signal(ignore_hangup: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                if !ignore_hangup {
                    tracing::info!("SIGHUP");
                    return;
                }
                tracing::info!("SIGHUP ignored (daemon)");
            }
        }
    }
}
