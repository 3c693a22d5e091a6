//! The interactive shell (rustyline: zkCli's prompt, persistent history, tab completion of
//! command names and znode paths) and the piped mode (commands on a non-terminal stdin, no
//! prompt, as zkCli does without JLine).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use tokio::runtime::Runtime;

use super::commands::{COMMANDS, Cli, EXTRA_COMMANDS, Flow};
use super::session::Io;
use crate::client::Client;

/// The history file: `$MENAGERIE_CLI_HISTORY`, else `~/.menagerie_history`.
pub fn history_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MENAGERIE_CLI_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".menagerie_history"))
}

/// The client the completer asks for children (the shell updates it after each command).
pub type LiveClient = Arc<Mutex<Option<Arc<Client>>>>;

/// Tab completion: command names for the first word, znode paths (children fetched from
/// the server) for a word starting with `/`.
pub struct ZkHelper {
    client: LiveClient,
    runtime: tokio::runtime::Handle,
}

impl ZkHelper {
    /// A helper asking `client` through `runtime`.
    pub fn new(client: LiveClient, runtime: tokio::runtime::Handle) -> ZkHelper {
        ZkHelper { client, runtime }
    }

    fn children(&self, parent: &str) -> Vec<String> {
        let Some(client) = self.client.lock().ok().and_then(|c| c.clone()) else {
            return Vec::new();
        };
        let fut = client.get_children(parent, false);
        self.runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(3), fut).await })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

/// Completion candidates for the word `word` (the `first` word of the line or not).
pub fn complete_word(
    word: &str,
    first: bool,
    children: impl Fn(&str) -> Vec<String>,
) -> Vec<String> {
    if first {
        let mut v: Vec<String> = COMMANDS
            .iter()
            .chain(EXTRA_COMMANDS)
            .map(|(n, _)| n.to_string())
            .filter(|n| n.starts_with(word))
            .collect();
        v.sort();
        return v;
    }
    if !word.starts_with('/') {
        return Vec::new();
    }
    let cut = word.rfind('/').unwrap_or(0);
    let (parent, prefix) = (if cut == 0 { "/" } else { &word[..cut] }, &word[cut + 1..]);
    let mut kids: Vec<String> = children(parent)
        .into_iter()
        .filter(|k| k.starts_with(prefix))
        .map(|k| format!("{}/{k}", if parent == "/" { "" } else { parent }))
        .collect();
    kids.sort();
    kids
}

/// The word the cursor at byte `pos` ends: its start, its text, and whether it is the
/// line's first word.
pub fn word_at(line: &str, pos: usize) -> (usize, &str, bool) {
    let before = line.get(..pos).unwrap_or(line);
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    (start, &before[start..], before[..start].trim().is_empty())
}

impl Completer for ZkHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, word, first) = word_at(line, pos);
        let cands = complete_word(word, first, |p| self.children(p));
        Ok((
            start,
            cands
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}
impl Highlighter for ZkHelper {}
impl Validator for ZkHelper {}
impl Helper for ZkHelper {}

/// Runs the shell until `quit` or end of input; returns the exit status.
pub fn run(mut cli: Cli, runtime: &Runtime) -> i32 {
    let host = cli.session.opts.server.clone();
    say!("Connecting to {host}");
    if std::io::stdin().is_terminal() {
        interactive(&mut cli, runtime, &host)
    } else {
        piped(&mut cli, runtime, &host)
    }
}

fn connect_first(cli: &mut Cli, runtime: &Runtime, host: &str) {
    if let Err(e) = runtime.block_on(cli.session.connect(host)) {
        say_err!("{e}");
        cli.exit_code = 1;
    }
}

fn piped(cli: &mut Cli, runtime: &Runtime, host: &str) -> i32 {
    say!("Welcome to ZooKeeper!");
    cli.session.announce = true;
    connect_first(cli, runtime, host);
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let mut io = Io {
            out: &mut out,
            err: &mut err,
        };
        let flow = runtime.block_on(cli.execute_line(&line, &mut io));
        let _ = out.flush();
        if let Flow::Quit(code) = flow {
            return code;
        }
    }
    runtime.block_on(cli.session.close());
    cli.exit_code
}

fn interactive(cli: &mut Cli, runtime: &Runtime, host: &str) -> i32 {
    let mut rl: Editor<ZkHelper, DefaultHistory> = match Editor::new() {
        Ok(r) => r,
        Err(e) => {
            say_err!("cannot start the line editor ({e}); reading commands without it");
            return piped(cli, runtime, host);
        }
    };
    say!("Welcome to ZooKeeper!");
    let live: LiveClient = Arc::default();
    rl.set_helper(Some(ZkHelper::new(
        Arc::clone(&live),
        runtime.handle().clone(),
    )));
    let hist = history_file();
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    // Notifications are printed as they come, as zkCli does; the terminal may be in raw
    // mode while a line is edited, so every newline gets its carriage return.
    // (rustyline's external printer delays the echo of typed characters.)
    cli.session.shared_printer(Arc::new(|s: &str| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(s.replace('\n', "\r\n").as_bytes());
        let _ = out.flush();
    }));
    cli.session.announce = true;
    connect_first(cli, runtime, host);
    loop {
        if let Ok(mut l) = live.lock() {
            *l = cli.session.live();
        }
        match rl.readline(&cli.prompt()) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(h) = &hist
                        && rl.history().len() > 0
                    {
                        let _ = rl.save_history(h);
                    }
                }
                let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
                let mut io = Io {
                    out: &mut out,
                    err: &mut err,
                };
                let flow = runtime.block_on(cli.execute_line(&line, &mut io));
                let _ = out.flush();
                if let Flow::Quit(code) = flow {
                    return code;
                }
            }
            // Ctrl-C ends the shell as it ends zkCli (whose JVM exits on SIGINT with 130);
            // the session is closed first, so its ephemerals go at once.
            Err(ReadlineError::Interrupted) => {
                runtime.block_on(cli.session.close());
                return 130;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                say_err!("{e}");
                break;
            }
        }
    }
    runtime.block_on(cli.session.close());
    cli.exit_code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_commands_and_paths() {
        let none = |_: &str| Vec::new();
        assert_eq!(
            complete_word("getA", true, none),
            vec!["getAcl", "getAllChildrenNumber"]
        );
        assert_eq!(complete_word("delq", true, none), vec!["delquota"]);
        assert!(complete_word("/", false, none).is_empty());
        let kids = |p: &str| match p {
            "/" => vec![
                "zookeeper".to_string(),
                "app".to_string(),
                "apple".to_string(),
            ],
            "/app" => vec!["x1".to_string(), "y".to_string()],
            _ => Vec::new(),
        };
        assert_eq!(complete_word("/ap", false, kids), vec!["/app", "/apple"]);
        assert_eq!(complete_word("/app/x", false, kids), vec!["/app/x1"]);
        assert_eq!(complete_word("/", false, kids).len(), 3);
        assert!(complete_word("abc", false, kids).is_empty());
        assert_eq!(word_at("ls /a", 5), (3, "/a", false));
        assert_eq!(word_at("  get", 5), (2, "get", true));
        assert_eq!(word_at("ls\u{3000}/b", 7), (5, "/b", false));
        assert_eq!(word_at("ls /a", 99), (3, "/a", false));
    }
}
