//! The shell's command loop: zkCli.sh's command table and usage text, history and `redo`,
//! `printwatches`, `connect`, `quit`, and the hand-off of every other command to
//! [`super::znode`] (data commands) and [`super::admin`] (session and server commands).
//! `Cli::execute_line` is what the shell calls for each line; `Cli::execute` runs one
//! command given as words.

use std::sync::Arc;

use super::args::{parse_opts, split_line};
use super::session::{Io, Session};
use super::znode::Ctx;

pub use super::usage::{COMMANDS, EXTRA_COMMANDS, help_text, usage_of, usage_text};

/// What a command asks of the shell after it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading commands.
    Continue,
    /// Keep reading; the command already set the exit status.
    Handled,
    /// `quit`: leave with this exit status.
    Quit(i32),
}

/// The shell's state: the session, the history and the last exit status.
pub struct Cli {
    /// The connection.
    pub session: Session,
    /// Command history by number (`history`, `redo`).
    pub history: Vec<String>,
    /// Exit status of the last command (zkCli exits with it).
    pub exit_code: i32,
    /// `--json` given on the command line: JSON for every read command.
    pub json: bool,
}

impl Cli {
    /// A shell over `session`.
    pub fn new(session: Session) -> Cli {
        let json = session.opts.json;
        Cli {
            session,
            history: Vec::new(),
            exit_code: 0,
            json,
        }
    }

    /// The prompt zkCli shows: `[zk: host:port(CONNECTED) 0] `.
    pub fn prompt(&self) -> String {
        format!(
            "[zk: {}({}) {}] ",
            self.session.host,
            self.session.state().name(),
            self.history.len()
        )
    }

    /// Runs one interactive line (ignored if blank); it joins the history.
    pub async fn execute_line(&mut self, line: &str, io: &mut Io<'_>) -> Flow {
        if line.trim().is_empty() {
            return Flow::Continue;
        }
        let words = split_line(line);
        self.history.push(line.to_string());
        self.run(&words, io).await
    }

    /// Runs one command given as words, setting `exit_code`.
    pub async fn run(&mut self, words: &[String], io: &mut Io<'_>) -> Flow {
        match self.execute(words, io).await {
            Ok(Flow::Handled) => Flow::Continue,
            Ok(flow) => {
                if flow == Flow::Continue {
                    self.exit_code = 0;
                }
                flow
            }
            Err(msg) => {
                self.exit_code = 1;
                let _ = writeln!(io.err, "{msg}");
                Flow::Continue
            }
        }
    }

    /// Runs one command; `Err` is the message to print.
    pub async fn execute(&mut self, words: &[String], io: &mut Io<'_>) -> Result<Flow, String> {
        let Some(cmd) = words.first().map(String::as_str) else {
            let _ = write!(io.err, "{}", usage_text());
            return Err("No command entered".into());
        };
        if let Some(flow) = self.shell_command(cmd, words, io).await {
            return flow;
        }
        let known = COMMANDS
            .iter()
            .chain(EXTRA_COMMANDS)
            .any(|(n, _)| *n == cmd);
        if !known {
            let _ = write!(io.err, "{}", usage_text());
            self.exit_code = 127;
            let _ = writeln!(io.err, "Command not found: Command not found {cmd}");
            return Ok(Flow::Handled);
        }
        if matches!(cmd, "history" | "redo" | "printwatches" | "connect") {
            return Ok(Flow::Continue);
        }
        if cmd == "version" {
            return version(words, io);
        }
        let Some(client) = self.session.live_wait().await else {
            let _ = writeln!(io.out, "Not connected");
            return Ok(Flow::Continue);
        };
        let mut ctx = Ctx {
            client,
            shared: Arc::clone(&self.session.shared),
            io,
            json: self.json,
        };
        let r = match cmd {
            "close" => {
                self.session.close().await;
                Ok(())
            }
            "addauth" => ctx.addauth(words).await,
            _ => ctx.dispatch(cmd, words).await,
        };
        r.map(|()| Flow::Continue)
    }

    /// The commands about the shell itself (no server needed); `None` for the others.
    async fn shell_command(
        &mut self,
        cmd: &str,
        words: &[String],
        io: &mut Io<'_>,
    ) -> Option<Result<Flow, String>> {
        match cmd {
            "quit" => {
                self.session.close().await;
                Some(Ok(Flow::Quit(self.exit_code)))
            }
            "history" => {
                // zkCli prints the last ten and this one ("null" if it is not in the
                // history, as in one-shot mode)
                let n = self.history.len().saturating_sub(1);
                for i in n.saturating_sub(10)..=n {
                    let line = self.history.get(i).map(String::as_str).unwrap_or("null");
                    let _ = writeln!(io.out, "{i} - {line}");
                }
                Some(Ok(Flow::Continue))
            }
            "redo" if words.len() >= 2 => Some(Box::pin(self.redo(&words[1], io)).await),
            "printwatches" => {
                use std::sync::atomic::Ordering;
                let pw = &self.session.shared.print_watches;
                match words.get(1) {
                    None => {
                        let on = pw.load(Ordering::SeqCst);
                        let _ =
                            writeln!(io.out, "printwatches is {}", if on { "on" } else { "off" });
                    }
                    Some(v) => pw.store(v == "on", Ordering::SeqCst),
                }
                Some(Ok(Flow::Continue))
            }
            "help" => {
                let _ = write!(io.out, "{}", help_text());
                Some(Ok(Flow::Continue))
            }
            "connect" => {
                let host = words
                    .get(1)
                    .cloned()
                    .unwrap_or_else(|| self.session.host.clone());
                Some(self.session.connect(&host).await.map(|()| Flow::Continue))
            }
            _ => None,
        }
    }

    async fn redo(&mut self, n: &str, io: &mut Io<'_>) -> Result<Flow, String> {
        let count = self.history.len().saturating_sub(1);
        let i = parse_java_int(n).ok_or_else(|| format!("For input string: \"{n}\""))?;
        if i < 0 || i as usize >= count {
            return Err("Command index out of range".into());
        }
        let line = self.history[i as usize].clone();
        let words = split_line(&line);
        if words.first().map(String::as_str) == Some("redo") {
            return Err("No redoing redos".into());
        }
        if let Some(last) = self.history.last_mut() {
            *last = line;
        }
        Ok(self.run(&words, io).await)
    }
}

/// `Integer.decode`: decimal, `0x`/`#` hex, leading `0` octal, optional sign.
fn parse_java_int(s: &str) -> Option<i32> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))
        .or_else(|| body.strip_prefix('#'))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    i32::try_from(if neg { -v } else { v }).ok()
}

/// `version`: the CLI's version line, as zkCli prints it.
fn version(words: &[String], io: &mut Io<'_>) -> Result<Flow, String> {
    let p = parse_opts(words, "")?;
    if p.args.len() > 1 {
        return Err(usage_of("version"));
    }
    let _ = writeln!(
        io.out,
        "ZooKeeper CLI version: 3.8.0-menagerie-{}",
        env!("CARGO_PKG_VERSION")
    );
    Ok(Flow::Continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lists_zkcli_commands_sorted() {
        let names: Vec<&str> = COMMANDS.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(usage_of("ls"), "ls [-s] [-w] [-R] path");
        assert_eq!(usage_of("close"), "close ");
        assert!(usage_text().starts_with(
            "ZooKeeper -server host:port -client-configuration properties-file cmd args\n\taddWatch "
        ));
    }

    #[test]
    fn java_ints() {
        assert_eq!(parse_java_int("12"), Some(12));
        assert_eq!(parse_java_int("0x1f"), Some(31));
        assert_eq!(parse_java_int("010"), Some(8));
        assert_eq!(parse_java_int("-3"), Some(-3));
        assert_eq!(parse_java_int("x"), None);
    }
}
