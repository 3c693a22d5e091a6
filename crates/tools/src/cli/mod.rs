//! `menagerie cli`: a zkCli.sh-compatible command-line client. Same connection flags, same
//! commands and flags, same output and error messages (so scripts port), plus `--json`
//! output for read commands and the extras `tree`, `watch`, `export`, `import`.
//!
//! One-shot: `menagerie cli -server h:p get -s /a` runs one command and exits with status 1
//! if it failed. Without a command: an interactive shell (prompt, history, completion) on a
//! terminal, or commands read line by line from a piped stdin.

/// `println!` that ignores a closed stdout (no panic on a broken pipe).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! say_err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

pub mod admin;
pub mod args;
pub mod commands;
pub mod format;
pub mod nodes;
pub mod quota;
pub mod session;
pub mod shell;
pub mod transfer;
pub mod tz;
pub mod usage;
pub mod znode;

use std::io::Write;
use std::sync::Arc;

use args::parse_main;
use commands::{Cli, Flow};
use session::{Io, Session};

/// Runs `menagerie cli` with the arguments after `cli`; returns the process exit status.
pub fn main(args: &[String]) -> i32 {
    let opts = match parse_main(args) {
        Ok(o) => o,
        Err(e) => {
            say_err!("{e}");
            return 2;
        }
    };
    let security = match crate::security::ClientSecurity::load(opts.client_configuration.as_deref())
    {
        Ok(s) => Arc::new(s),
        Err(e) => {
            say_err!("Invalid client configuration: {e}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            say_err!("cannot start the async runtime: {e}");
            return 2;
        }
    };
    let printer: session::Printer = Arc::new(|s: &str| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    });
    let command = opts.command.clone();
    let host = opts.server.clone();
    let mut session = Session::new(opts, printer);
    session.security = security;
    let mut cli = Cli::new(session);
    let code = match command {
        None => shell::run(cli, &runtime),
        Some(words) => runtime.block_on(async {
            if let Err(e) = cli.session.connect(&host).await {
                say_err!("{e}");
                return 1;
            }
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            let mut io = Io {
                out: &mut out,
                err: &mut err,
            };
            let flow = cli.run(&words, &mut io).await;
            let _ = out.flush();
            cli.session.close().await;
            match flow {
                Flow::Quit(c) => c,
                Flow::Continue | Flow::Handled => cli.exit_code,
            }
        }),
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}
