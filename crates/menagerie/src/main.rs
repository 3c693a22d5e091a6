//! `menagerie`: a drop-in replacement for Apache ZooKeeper.
//!
//! * [`serve`]: `menagerie server` in the foreground (banner, systemd readiness).
//! * [`daemon`]: `menagerie server start|stop|status|restart|print-cmd`.
//! * [`logging`]: stderr or rotated log files.
//! * [`tools`]: `bench`, `inspect` and `purge`.
//! * [`sim`]: `sim`, the deterministic ensemble simulator (`menagerie-sim`).

mod daemon;
mod logging;
mod serve;
mod sim;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// jemalloc: half the memory per connection of glibc's malloc, and (with its background
/// thread, see [`return_freed_memory`]) it gives memory freed by a burst of connections back
/// to the operating system, which glibc's malloc does not (issue 16, item 13).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background thread, which returns unused memory to the operating system
/// about ten seconds after it was freed (without it, only while allocations go on).
fn return_freed_memory() {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("menagerie: jemalloc background thread not started: {e}");
    }
}

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
    /// Run a server. Without a verb: in the foreground. Without --config: standalone on
    /// 127.0.0.1:2181 (--port) with data under ./data (--data-dir). With a verb, as
    /// zkServer.sh: start (in the background; pid file in the data directory), stop,
    /// status (prints Mode: ...; exit 1 when not running), restart, print-cmd.
    Server {
        /// start, stop, status, restart or print-cmd (none: run in the foreground).
        #[arg(value_enum)]
        verb: Option<daemon::Verb>,
        #[command(flatten)]
        args: serve::ServerArgs,
        /// Set by `server start` for the process it starts.
        #[arg(long, hide = true)]
        daemon_child: bool,
    },
    /// Drive load against a ZooKeeper-compatible server and report throughput and latency.
    Bench(tools::BenchArgs),
    /// Print transaction logs (log.<zxid>) and snapshots (snapshot.<zxid>) written by
    /// Menagerie or ZooKeeper; a directory stands for all of them in it. Exits 1 if a file is
    /// damaged (named with the byte offset on stderr) or cannot be read.
    Inspect(tools::InspectArgs),
    /// Delete old snapshots and transaction logs, keeping the newest N snapshots and the
    /// logs needed after them (ZooKeeper's zkCleanup.sh / PurgeTxnLog). Safe while the
    /// server runs.
    Purge {
        /// The data directory (dataDir), or a zoo.cfg with --config.
        data_dir: Option<PathBuf>,
        /// The transaction log directory if not the data directory (dataLogDir).
        data_log_dir: Option<PathBuf>,
        /// Read dataDir and dataLogDir from this zoo.cfg.
        #[arg(long, short, conflicts_with = "data_dir")]
        config: Option<PathBuf>,
        /// Snapshots to keep (at least 3).
        #[arg(short = 'n', long, default_value_t = 3)]
        count: usize,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server {
            verb: None,
            args,
            daemon_child,
        } => {
            return_freed_memory();
            serve::run(&args, daemon_child).map(|()| ExitCode::SUCCESS)
        }
        Command::Server {
            verb: Some(verb),
            args,
            ..
        } => {
            logging::init_stderr();
            daemon::run(verb, &args)
        }
        Command::Cli { args } => {
            logging::init_stderr();
            let code = menagerie_tools::cli::main(&args);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::Bench(args) => {
            logging::init_stderr();
            tools::bench(&args)
        }
        Command::Inspect(args) => {
            logging::init_stderr();
            tools::inspect(&args)
        }
        Command::Purge {
            data_dir,
            data_log_dir,
            config,
            count,
        } => {
            logging::init_stderr();
            tools::purge(data_dir, data_log_dir, config, count)
        }
        Command::Sim(args) => {
            logging::init_stderr();
            sim::run(&args).map(|violations| match violations {
                0 => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line with every cause, no backtrace: "invalid configuration
            // /etc/zoo.cfg: invalid value "abc" for tickTime: not a valid number".
            eprintln!("menagerie: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: many errors already name their
/// source in their own message, so a cause whose text the line holds is skipped.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::one_line;

    /// An error that names its source in its message and also returns it as its source.
    #[derive(Debug)]
    struct Bind {
        source: std::io::Error,
    }

    impl std::fmt::Display for Bind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot listen on 0.0.0.0:8080: {}", self.source)
        }
    }

    impl std::error::Error for Bind {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let e = anyhow::Error::new(Bind { source: io }).context("cannot start the server");
        assert_eq!(
            one_line(&e),
            "cannot start the server: cannot listen on 0.0.0.0:8080: Address already in use"
        );
    }
}
