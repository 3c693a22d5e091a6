//! The commands: the zkCli.sh set with its flags, messages and output, plus Menagerie's
//! extras (`tree`, `watch`, `export`, `import`, `--json`). `Cli::execute_line` is what the
//! shell calls for each line; `Cli::execute` runs one command given as words.

use std::sync::Arc;

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{
    Acl, AddWatchRequest, CreateRequest, CreateTtlRequest, DeleteRequest, GetDataRequest,
    PathRequest, PathWatchRequest, ReconfigRequest, SetAclRequest, SetDataRequest, Stat,
    WatchesRequest,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response};
use serde_json::{Value, json};

use super::args::{Parsed, parse_opts, split_line};
use super::format::{
    acl_json, acl_text, data_json, data_text, java_list, keeper_error, parse_acl,
    plain_keeper_error, stat_json, stat_text, validate_path,
};
use super::quota;
use super::session::{Io, Session, WatchKind};
use super::transfer;
use crate::client::{Client, ClientError};

/// zkCli's commands and their usage strings, in `usage` order (sorted by name).
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    (
        "reconfig",
        "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
    ),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

/// Menagerie's own commands (listed after zkCli's in `usage`).
pub const EXTRA_COMMANDS: &[(&str, &str)] = &[
    ("tree", "[path]  # recursive listing with data sizes"),
    (
        "watch",
        "[-R] [-n count] path  # print events until Ctrl-C or count events",
    ),
    (
        "export",
        "path file  # subtree with data and ACLs to a JSON file",
    ),
    ("import", "file [path]  # a JSON export back into the tree"),
];

/// The usage string of a command (`name options`).
pub fn usage_of(name: &str) -> String {
    COMMANDS
        .iter()
        .chain(EXTRA_COMMANDS)
        .find(|(n, _)| *n == name)
        .map(|(n, u)| format!("{n} {u}"))
        .unwrap_or_else(|| name.to_string())
}

/// The text `usage()` prints (zkCli's list, then the extras).
pub fn usage_text() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (n, u) in COMMANDS {
        s.push_str(&format!("\t{n} {u}\n"));
    }
    s
}

/// `help` (not a zkCli command): the usage, then Menagerie's extras.
pub fn help_text() -> String {
    let mut s = usage_text();
    s.push_str("Menagerie extras (read commands also take --json):\n");
    s.push_str("\thelp \n");
    for (n, u) in EXTRA_COMMANDS {
        s.push_str(&format!("\t{n} {u}\n"));
    }
    s
}

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

/// A command failure: the message zkCli prints on stderr (exit status 1).
type CmdResult = Result<(), String>;

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
        match cmd {
            "quit" => {
                self.session.close().await;
                return Ok(Flow::Quit(self.exit_code));
            }
            "history" => {
                // zkCli prints the last ten and this one ("null" if it is not in the
                // history, as in one-shot mode)
                let n = self.history.len().saturating_sub(1);
                for i in n.saturating_sub(10)..=n {
                    let line = self.history.get(i).map(String::as_str).unwrap_or("null");
                    let _ = writeln!(io.out, "{i} - {line}");
                }
                return Ok(Flow::Continue);
            }
            "redo" if words.len() >= 2 => return Box::pin(self.redo(&words[1], io)).await,
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
                return Ok(Flow::Continue);
            }
            "help" => {
                let _ = write!(io.out, "{}", help_text());
                return Ok(Flow::Continue);
            }
            "connect" => {
                let host = words
                    .get(1)
                    .cloned()
                    .unwrap_or_else(|| self.session.host.clone());
                self.session.connect(&host).await?;
                return Ok(Flow::Continue);
            }
            _ => {}
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
            let p = parse_opts(words, "")?;
            if p.args.len() > 1 {
                return Err(usage_of(cmd));
            }
            let _ = writeln!(
                io.out,
                "ZooKeeper CLI version: 3.8.0-menagerie-{}",
                env!("CARGO_PKG_VERSION")
            );
            return Ok(Flow::Continue);
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

/// What a subtree walk does with each node.
enum Visit<'a> {
    /// `ls -R`: print the path.
    Print,
    /// `ls -R --json`: collect the paths.
    Collect(&'a mut Vec<String>),
    /// `setAcl -R`: set this ACL (with this version).
    SetAcl(&'a [Acl], i32),
}

/// One command's context: the live client and the output.
struct Ctx<'a, 'b> {
    client: Arc<Client>,
    shared: Arc<super::session::Shared>,
    io: &'a mut Io<'b>,
    json: bool,
}

/// Maps a call error on `path` to zkCli's message.
fn err_on(path: &str) -> impl Fn(ClientError) -> String + '_ {
    move |e| match e {
        ClientError::Server(code) => keeper_error(code, Some(path)),
        ClientError::ConnectionLoss | ClientError::Io(_) => {
            plain_keeper_error(ErrorCode::ConnectionLoss, Some(path))
        }
        e => e.to_string(),
    }
}

fn unexpected(r: &Response) -> String {
    format!("unexpected response from the server: {r:?}")
}

/// The path argument (positional 1) of a parsed command, validated.
fn path_arg(p: &Parsed, usage: &str) -> Result<String, String> {
    let path = p.arg(1).ok_or_else(|| usage.to_string())?;
    validate_path(path)?;
    Ok(path.to_string())
}

fn parse_version(p: &Parsed) -> Result<i32, String> {
    match p.value('v') {
        None => Ok(-1),
        Some(v) => v
            .parse()
            .map_err(|_| format!("-v argument must be an int value, not \"{v}\"")),
    }
}

impl Ctx<'_, '_> {
    fn watched(&self, kind: WatchKind, path: &str) {
        if let Ok(mut w) = self.shared.watches.lock() {
            w.add(kind, path);
        }
    }

    fn out(&mut self, s: &str) {
        let _ = self.io.out.write_all(s.as_bytes());
    }

    fn outln(&mut self, s: &str) {
        let _ = writeln!(self.io.out, "{s}");
    }

    fn errln(&mut self, s: &str) {
        let _ = writeln!(self.io.err, "{s}");
    }

    fn json_out(&mut self, v: &Value) {
        let _ = writeln!(self.io.out, "{v}");
    }

    async fn call(&self, req: Request, path: &str) -> Result<Response, String> {
        self.client
            .call(req)
            .await
            .map(|(_, r)| r)
            .map_err(err_on(path))
    }

    async fn dispatch(&mut self, cmd: &str, words: &[String]) -> CmdResult {
        let usage = usage_of(cmd);
        match cmd {
            "ls" => self.ls(words, &usage).await,
            "get" => self.get(words, &usage).await,
            "stat" => self.stat(words, &usage).await,
            "create" => self.create(words, &usage).await,
            "set" => self.set(words, &usage).await,
            "delete" => self.delete(words, &usage).await,
            "deleteall" => self.deleteall(words, &usage).await,
            "getAcl" => self.get_acl(words, &usage).await,
            "setAcl" => self.set_acl(words, &usage).await,
            "whoami" => self.whoami().await,
            "sync" => self.sync(words, &usage).await,
            "addWatch" => self.add_watch(words, &usage).await,
            "removewatches" => self.remove_watches(words, &usage).await,
            "getEphemerals" => self.get_ephemerals(words).await,
            "getAllChildrenNumber" => self.all_children(words, &usage).await,
            "setquota" => {
                let p = parse_opts(words, "n:b:N:B:")?;
                quota::setquota(&self.client, &p, &usage, self.io).await
            }
            "listquota" => {
                let p = parse_opts(words, "")?;
                let json = self.json || p.json;
                quota::listquota(&self.client, &p, &usage, json, self.io).await
            }
            "delquota" => {
                let p = parse_opts(words, "nbNB")?;
                quota::delquota(&self.client, &p, &usage, self.io).await
            }
            "config" => self.config(words).await,
            "reconfig" => self.reconfig(words).await,
            "tree" => {
                let p = parse_opts(words, "")?;
                let path = p.arg(1).unwrap_or("/").to_string();
                validate_path(&path)?;
                let json = self.json || p.json;
                transfer::tree(&self.client, &path, json, self.io).await
            }
            "watch" => {
                let p = parse_opts(words, "Rn:")?;
                transfer::watch(&self.client, &self.shared, &p, &usage, self.io).await
            }
            "export" => {
                let p = parse_opts(words, "")?;
                transfer::export(&self.client, &p, &usage, self.io).await
            }
            "import" => {
                let p = parse_opts(words, "")?;
                transfer::import(&self.client, &p, &usage, self.io).await
            }
            _ => Err(format!("Command not found: Command not found {cmd}")),
        }
    }

    /// `ls path [watch]`, `get path [watch]`, `stat path [watch]`: the old form still works.
    fn old_watch_form(&mut self, p: &mut Parsed, cmd: &str, new_form: &str) {
        if p.args.len() > 2 {
            self.errln(&format!(
                "'{cmd} path [watch]' has been deprecated. Please use '{new_form}' instead."
            ));
            p.args.truncate(2);
            p.flags.push(('w', None));
        }
    }

    async fn ls(&mut self, words: &[String], usage: &str) -> CmdResult {
        let mut p = parse_opts(words, "swR?")?;
        self.old_watch_form(&mut p, "ls", "ls [-w] path");
        let path = path_arg(&p, usage)?;
        let json = self.json || p.json;
        let watch = p.has('w');
        if p.has('R') {
            let mut all = Vec::new();
            let action = if json {
                Visit::Collect(&mut all)
            } else {
                Visit::Print
            };
            self.visit(&path, watch, action).await?;
            if json {
                self.json_out(&json!(all));
            }
            return Ok(());
        }
        let (mut children, stat) = if p.has('s') {
            let r = Request::GetChildren2(PathWatchRequest {
                path: path.clone(),
                watch,
            });
            match self.call(r, &path).await? {
                Response::GetChildren2 { children, stat } => (children, Some(stat)),
                r => return Err(unexpected(&r)),
            }
        } else {
            (self.children(&path, watch).await?, None)
        };
        if watch {
            self.watched(WatchKind::Child, &path);
        }
        children.sort();
        if json {
            let mut v = json!({"path": path, "children": children});
            if let Some(s) = &stat {
                v["stat"] = stat_json(s);
            }
            self.json_out(&v);
        } else {
            self.outln(&java_list(&children));
            if let Some(s) = &stat {
                self.out(&stat_text(s));
            }
        }
        Ok(())
    }

    /// `ZKUtil.visitSubTreeDFS`: reads the root (a data watch with `watch`), visits it, then
    /// for each node lists its children (sorted; a child watch with `watch`), visits them
    /// all, then descends into each. Nodes deleted meanwhile are skipped.
    async fn visit(&mut self, root: &str, watch: bool, mut action: Visit<'_>) -> CmdResult {
        let r = Request::GetData(GetDataRequest {
            path: root.to_string(),
            watch,
        });
        self.call(r, root).await?;
        if watch {
            self.watched(WatchKind::Data, root);
        }
        self.visit_one(root, &mut action).await;
        let mut stack = vec![root.to_string()];
        let mut steps = 0usize;
        while let Some(node) = stack.pop() {
            steps += 1;
            if steps > 10_000_000 {
                return Err("subtree too large".into());
            }
            let r = Request::GetChildren(PathWatchRequest {
                path: node.clone(),
                watch,
            });
            let mut kids = match self.client.call(r).await {
                Ok((_, Response::GetChildren { children })) => children,
                Ok((_, r)) => return Err(unexpected(&r)),
                Err(ClientError::Server(ErrorCode::NoNode)) => continue,
                Err(e) => return Err(err_on(&node)(e)),
            };
            if watch {
                self.watched(WatchKind::Child, &node);
            }
            kids.sort();
            let paths: Vec<String> = kids.iter().map(|k| join(&node, k)).collect();
            for k in &paths {
                self.visit_one(k, &mut action).await;
            }
            stack.extend(paths.into_iter().rev());
        }
        Ok(())
    }

    async fn visit_one(&mut self, path: &str, action: &mut Visit<'_>) {
        match action {
            Visit::Print => self.outln(path),
            Visit::Collect(all) => all.push(path.to_string()),
            Visit::SetAcl(acl, version) => {
                let r = Request::SetAcl(SetAclRequest {
                    path: path.to_string(),
                    acl: acl.to_vec(),
                    version: *version,
                });
                if let Err(e) = self.client.call(r).await {
                    // zkCli prints the message without a newline here
                    let msg = match e {
                        ClientError::Server(c) => plain_keeper_error(c, Some(path)),
                        e => e.to_string(),
                    };
                    self.out(&msg);
                }
            }
        }
    }

    async fn children(&self, path: &str, watch: bool) -> Result<Vec<String>, String> {
        let r = Request::GetChildren(PathWatchRequest {
            path: path.to_string(),
            watch,
        });
        match self.call(r, path).await? {
            Response::GetChildren { children } => Ok(children),
            r => Err(unexpected(&r)),
        }
    }

    async fn get(&mut self, words: &[String], usage: &str) -> CmdResult {
        let mut p = parse_opts(words, "swbx")?;
        if p.args.len() < 2 {
            return Err(usage.to_string());
        }
        self.old_watch_form(&mut p, "get", "get [-s] [-w] path");
        let path = path_arg(&p, usage)?;
        let r = Request::GetData(GetDataRequest {
            path: path.clone(),
            watch: p.has('w'),
        });
        let (data, stat) = match self.call(r, &path).await? {
            Response::GetData { data, stat } => (data, stat),
            r => return Err(unexpected(&r)),
        };
        if p.has('w') {
            self.watched(WatchKind::Data, &path);
        }
        if self.json || p.json {
            let mut v = json!({"path": path, "data": data_json(data.as_deref())});
            if p.has('s') {
                v["stat"] = stat_json(&stat);
            }
            self.json_out(&v);
            return Ok(());
        }
        let text = if p.has('b') {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(data.as_deref().unwrap_or(b"null"))
        } else if p.has('x') {
            hexdump(data.as_deref().unwrap_or(b"null"))
        } else {
            data_text(data.as_deref())
        };
        self.outln(&text);
        if p.has('s') {
            self.out(&stat_text(&stat));
        }
        Ok(())
    }

    async fn stat(&mut self, words: &[String], usage: &str) -> CmdResult {
        let mut p = parse_opts(words, "w")?;
        if p.args.len() < 2 {
            return Err(usage.to_string());
        }
        self.old_watch_form(&mut p, "stat", "stat [-w] path");
        let path = path_arg(&p, usage)?;
        let r = Request::Exists(PathWatchRequest {
            path: path.clone(),
            watch: p.has('w'),
        });
        let stat = match self.client.call(r).await {
            Ok((_, Response::Stat(s))) => s,
            Ok((_, r)) => return Err(unexpected(&r)),
            Err(e) => {
                if p.has('w') && matches!(e, ClientError::Server(ErrorCode::NoNode)) {
                    self.watched(WatchKind::Exist, &path);
                }
                return Err(err_on(&path)(e));
            }
        };
        if p.has('w') {
            self.watched(WatchKind::Data, &path);
        }
        if self.json || p.json {
            let mut v = stat_json(&stat);
            v["path"] = json!(path);
            self.json_out(&v);
        } else {
            self.out(&stat_text(&stat));
        }
        Ok(())
    }

    async fn create(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "escot:")?;
        if p.args.len() < 2 {
            return Err(usage.to_string());
        }
        let (e, s, c, t) = (p.has('e'), p.has('s'), p.has('c'), p.has('t'));
        if c && (e || s) {
            return Err(
                "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."
                    .into(),
            );
        }
        let ttl: i64 = match p.value('t') {
            Some(v) => v
                .parse()
                .map_err(|_| "-t argument must be a long value".to_string())?,
            None => 0,
        };
        if t && e {
            return Err("TTLs cannot be used with Ephemeral znodes".into());
        }
        if t && c {
            return Err("TTLs cannot be used with Container znodes".into());
        }
        let flags = match (e, s, c, t) {
            (true, true, _, _) => 3,
            (true, false, _, _) => 1,
            (false, true, _, true) => 6,
            (false, true, _, false) => 2,
            (false, false, true, _) => 4,
            (false, false, false, true) => 5,
            _ => 0,
        };
        const MAX_TTL: i64 = 0xFF_FFFF_FFFF;
        if t && (ttl <= 0 || ttl > MAX_TTL) {
            return Err(format!(
                "ttl must be positive and cannot be larger than: {MAX_TTL}"
            ));
        }
        let path = p.arg(1).unwrap_or("/").to_string();
        if s {
            validate_path(&format!("{path}1"))?;
        } else {
            validate_path(&path)?;
        }
        let data = p.arg(2).map(|d| d.as_bytes().to_vec());
        let acl = match p.arg(3) {
            Some(a) => {
                let (acl, warnings) = parse_acl(a);
                for w in warnings {
                    self.errln(&w);
                }
                acl
            }
            None => Acl::open_unsafe(),
        };
        if acl.is_empty() {
            self.errln("KeeperErrorCode = InvalidACL");
            return Err(keeper_error(ErrorCode::InvalidAcl, None));
        }
        let req = CreateRequest {
            path: path.clone(),
            data,
            acl,
            flags,
        };
        let r = if t {
            Request::CreateTtl(CreateTtlRequest {
                path: req.path,
                data: req.data,
                acl: req.acl,
                flags,
                ttl,
            })
        } else if c {
            Request::CreateContainer(req)
        } else {
            Request::Create(req)
        };
        match self.client.call(r).await {
            Ok((_, Response::Create { path: created }))
            | Ok((_, Response::Create2 { path: created, .. })) => {
                self.errln(&format!("Created {created}"));
                Ok(())
            }
            Ok((_, r)) => Err(unexpected(&r)),
            Err(ClientError::Server(ErrorCode::InvalidAcl)) => {
                self.errln(&plain_keeper_error(ErrorCode::InvalidAcl, Some(&path)));
                Err(keeper_error(ErrorCode::InvalidAcl, Some(&path)))
            }
            Err(e) => Err(err_on(&path)(e)),
        }
    }

    async fn set(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "sv:b")?;
        if p.args.len() < 3 {
            return Err(usage.to_string());
        }
        let path = path_arg(&p, usage)?;
        let raw = p.arg(2).unwrap_or("");
        let data = if p.has('b') {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|e| format!("Illegal base64 data: {e}"))?
        } else {
            raw.as_bytes().to_vec()
        };
        let version = parse_version(&p)?;
        let r = Request::SetData(SetDataRequest {
            path: path.clone(),
            data: Some(data),
            version,
        });
        match self.call(r, &path).await? {
            Response::Stat(s) => {
                if p.has('s') {
                    self.out(&stat_text(&s));
                }
                Ok(())
            }
            r => Err(unexpected(&r)),
        }
    }

    async fn delete(&mut self, words: &[String], usage: &str) -> CmdResult {
        let mut p = parse_opts(words, "v:")?;
        if p.args.len() < 2 {
            return Err(usage.to_string());
        }
        if p.args.len() > 2 {
            self.errln("'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.");
            let v = p.args.remove(2);
            p.args.truncate(2);
            p.flags.push(('v', Some(v)));
        }
        let path = path_arg(&p, usage)?;
        let version = parse_version(&p)?;
        self.call(
            Request::Delete(DeleteRequest {
                path: path.clone(),
                version,
            }),
            &path,
        )
        .await
        .map(|_| ())
    }

    async fn deleteall(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "b:")?;
        if p.args.len() < 2 {
            return Err(usage.to_string());
        }
        let batch: usize = match p.value('b') {
            Some(v) => v
                .parse::<i32>()
                .map_err(|_| "-b argument must be an int value".to_string())?
                .max(1) as usize,
            None => 1000,
        };
        let path = path_arg(&p, usage)?;
        // breadth-first list of the subtree, then delete from the end in batches (multi)
        let mut tree = vec![path.clone()];
        let mut i = 0;
        while i < tree.len() {
            if tree.len() > 10_000_000 {
                return Err("subtree too large".into());
            }
            let node = tree[i].clone();
            let kids = self.children(&node, false).await?;
            tree.extend(kids.iter().map(|k| join(&node, k)));
            i += 1;
        }
        let mut ok = true;
        let mut ops = Vec::new();
        for (idx, node) in tree.iter().enumerate().rev() {
            ops.push(Request::Delete(DeleteRequest {
                path: node.clone(),
                version: -1,
            }));
            if ops.len() == batch || idx == 0 {
                let batch_ops = std::mem::take(&mut ops);
                match self.client.call(Request::Multi(batch_ops)).await {
                    Ok((_, Response::Multi(rs)))
                        if !rs.iter().any(|r| matches!(r, MultiResult::Error(_))) => {}
                    Ok(_) | Err(ClientError::Server(_)) => {
                        ok = false;
                        break;
                    }
                    Err(e) => return Err(err_on(node)(e)),
                }
            }
        }
        if !ok {
            self.errln("Failed to delete some node(s) in the subtree!");
        }
        Ok(())
    }

    async fn get_acl(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "s")?;
        let path = path_arg(&p, usage)?;
        let (acl, stat) = match self
            .call(Request::GetAcl(PathRequest { path: path.clone() }), &path)
            .await?
        {
            Response::GetAcl { acl, stat } => (acl, stat),
            r => return Err(unexpected(&r)),
        };
        if self.json || p.json {
            let mut v = json!({"path": path, "acl": acl_json(&acl)});
            if p.has('s') {
                v["stat"] = stat_json(&stat);
            }
            self.json_out(&v);
        } else {
            self.out(&acl_text(&acl));
            if p.has('s') {
                self.out(&stat_text(&stat));
            }
        }
        Ok(())
    }

    async fn set_acl(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "sv:R")?;
        if p.args.len() < 3 {
            return Err(usage.to_string());
        }
        let path = path_arg(&p, usage)?;
        let (acl, warnings) = parse_acl(p.arg(2).unwrap_or(""));
        for w in warnings {
            self.errln(&w);
        }
        let version = parse_version(&p)?;
        if p.has('R') {
            return self.visit(&path, false, Visit::SetAcl(&acl, version)).await;
        }
        let r = Request::SetAcl(SetAclRequest {
            path: path.clone(),
            acl,
            version,
        });
        match self.call(r, &path).await? {
            Response::Stat(s) => {
                if p.has('s') {
                    self.out(&stat_text(&s));
                }
                Ok(())
            }
            r => Err(unexpected(&r)),
        }
    }

    async fn addauth(&mut self, words: &[String]) -> CmdResult {
        let p = parse_opts(words, "")?;
        let Some(scheme) = p.arg(1) else {
            return Err(usage_of("addauth"));
        };
        let auth = p.arg(2).map(|a| a.as_bytes().to_vec());
        let r = Request::Auth(menagerie_proto::records::AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth,
        });
        match self.client.call(r).await {
            Ok(_) => Ok(()),
            Err(ClientError::Server(ErrorCode::AuthFailed)) => {
                // the Java client reports this as an event, not a command failure
                self.outln("\nWATCHER::\n\nWatchedEvent state:AuthFailed type:None path:null");
                Ok(())
            }
            Err(e) => Err(err_on("null")(e)),
        }
    }

    async fn whoami(&mut self) -> CmdResult {
        match self.call(Request::WhoAmI, "null").await? {
            Response::WhoAmI(infos) => {
                if self.json {
                    let v: Vec<Value> = infos
                        .iter()
                        .map(|i| json!({"scheme": i.auth_scheme, "user": i.user}))
                        .collect();
                    self.json_out(&json!(v));
                } else {
                    self.outln("Auth scheme: User");
                    for i in infos {
                        self.outln(&format!("{}: {}", i.auth_scheme, i.user));
                    }
                }
                Ok(())
            }
            r => Err(unexpected(&r)),
        }
    }

    async fn sync(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "")?;
        let path = path_arg(&p, usage)?;
        match self
            .client
            .call(Request::Sync(PathRequest { path: path.clone() }))
            .await
        {
            Ok(_) => self.outln("Sync is OK"),
            Err(ClientError::Server(c)) => self.outln(&format!("Sync has failed. rc={}", c.code())),
            Err(e) => return Err(err_on(&path)(e)),
        }
        Ok(())
    }

    async fn add_watch(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "m:")?;
        if p.args.len() != 2 {
            return Err(usage.to_string());
        }
        let mode = match p.value('m').map(str::to_uppercase).as_deref() {
            None | Some("PERSISTENT_RECURSIVE") => 1,
            Some("PERSISTENT") => 0,
            Some(_) => return Err(usage.to_string()),
        };
        let path = path_arg(&p, usage)?;
        self.call(
            Request::AddWatch(AddWatchRequest {
                path: path.clone(),
                mode,
            }),
            &path,
        )
        .await?;
        let kind = if mode == 0 {
            WatchKind::Persistent
        } else {
            WatchKind::Recursive
        };
        self.watched(kind, &path);
        Ok(())
    }

    async fn remove_watches(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "cdal")?;
        let path = path_arg(&p, usage)?;
        let watcher_type = if p.has('c') {
            1
        } else if p.has('d') {
            2
        } else {
            3
        };
        let r = Request::RemoveWatches(WatchesRequest {
            path: path.clone(),
            watcher_type,
        });
        match self.client.call(r).await {
            Ok(_) => {}
            Err(ClientError::Server(c)) => return Err(plain_keeper_error(c, Some(&path))),
            Err(_) if p.has('l') => {}
            Err(e) => return Err(err_on(&path)(e)),
        }
        let removed = match self.shared.watches.lock() {
            Ok(mut w) => w.remove(&path, watcher_type),
            Err(_) => Vec::new(),
        };
        if removed.is_empty() {
            return Err(plain_keeper_error(ErrorCode::NoWatcher, Some(&path)));
        }
        for t in removed {
            self.shared.deliver(menagerie_proto::records::WatcherEvent {
                event_type: t,
                state: 3,
                path: path.clone(),
            });
        }
        Ok(())
    }

    async fn get_ephemerals(&mut self, words: &[String]) -> CmdResult {
        let p = parse_opts(words, "")?;
        let path = p.arg(1).unwrap_or("/").to_string();
        validate_path(&path)?;
        match self
            .call(
                Request::GetEphemerals(PathRequest { path: path.clone() }),
                &path,
            )
            .await?
        {
            Response::Ephemerals(list) => {
                if self.json || p.json {
                    self.json_out(&json!(list));
                } else {
                    self.outln(&java_list(&list));
                }
                Ok(())
            }
            r => Err(unexpected(&r)),
        }
    }

    async fn all_children(&mut self, words: &[String], usage: &str) -> CmdResult {
        let p = parse_opts(words, "")?;
        let path = path_arg(&p, usage)?;
        match self
            .call(
                Request::GetAllChildrenNumber(PathRequest { path: path.clone() }),
                &path,
            )
            .await?
        {
            Response::AllChildrenNumber(n) => {
                if self.json || p.json {
                    self.json_out(&json!({"path": path, "allChildrenNumber": n}));
                } else {
                    self.outln(&n.to_string());
                }
                Ok(())
            }
            r => Err(unexpected(&r)),
        }
    }

    async fn config(&mut self, words: &[String]) -> CmdResult {
        let p = parse_opts(words, "swc")?;
        let path = "/zookeeper/config";
        let r = Request::GetData(GetDataRequest {
            path: path.into(),
            watch: p.has('w'),
        });
        // the config node is outside any chroot, as in the Java client
        let (data, stat) = match self.client.call_unrooted(r).await {
            Ok((_, Response::GetData { data, stat })) => (data, stat),
            Ok((_, r)) => return Err(unexpected(&r)),
            Err(ClientError::Server(c)) => return Err(plain_keeper_error(c, Some(path))),
            Err(e) => return Err(err_on(path)(e)),
        };
        if p.has('w') {
            self.watched(WatchKind::Data, path);
        }
        let text = data_text(data.as_deref());
        if self.json || p.json {
            let mut v = json!({"config": text});
            if p.has('s') {
                v["stat"] = stat_json(&stat);
            }
            self.json_out(&v);
            return Ok(());
        }
        if p.has('c') {
            self.outln(&client_config_string(&text));
        } else {
            self.outln(&text);
        }
        if p.has('s') {
            self.out(&stat_text(&stat));
        }
        Ok(())
    }

    async fn reconfig(&mut self, words: &[String]) -> CmdResult {
        // long options (-members, -add, -remove, -file) take one value each
        let mut joining = String::new();
        let mut leaving = String::new();
        let mut members = String::new();
        let mut version: i64 = -1;
        let mut with_stat = false;
        let mut it = words.iter().skip(1);
        while let Some(w) = it.next() {
            match w.as_str() {
                "-s" => with_stat = true,
                "-v" | "-add" | "-remove" | "-members" | "-file" => {
                    let v = it.next().ok_or_else(|| usage_of("reconfig"))?.clone();
                    match w.as_str() {
                        "-v" => {
                            version = i64::from_str_radix(v.trim_start_matches("0x"), 16)
                                .map_err(|_| usage_of("reconfig"))?
                        }
                        "-add" => joining = v,
                        "-remove" => leaving = v,
                        "-members" => members = v,
                        _ => {
                            members = std::fs::read_to_string(&v)
                                .map_err(|e| format!("cannot read {v}: {e}"))?
                                .lines()
                                .filter(|l| l.starts_with("server."))
                                .collect::<Vec<_>>()
                                .join(",")
                        }
                    }
                }
                _ => return Err(usage_of("reconfig")),
            }
        }
        if joining.is_empty() && leaving.is_empty() && members.is_empty() {
            return Err(usage_of("reconfig"));
        }
        let r = Request::Reconfig(ReconfigRequest {
            joining_servers: joining,
            leaving_servers: leaving,
            new_members: members,
            cur_config_id: version,
        });
        match self.client.call(r).await {
            Ok((_, Response::GetData { data, stat })) => {
                self.outln("Committed new configuration:");
                self.outln(&data_text(data.as_deref()));
                if with_stat {
                    self.out(&stat_text(&stat));
                }
                Ok(())
            }
            Ok((_, r)) => Err(unexpected(&r)),
            Err(ClientError::Server(c)) => Err(keeper_error(c, None).replace(" for null", "")),
            Err(e) => Err(err_on("null")(e)),
        }
    }
}

/// `ConfigUtils.getClientConfigStr`: `version host:port,...` from a dynamic config.
fn client_config_string(config: &str) -> String {
    let mut version = String::new();
    let mut hosts = Vec::new();
    for line in config.lines() {
        if let Some(v) = line.strip_prefix("version=") {
            version = v.to_string();
        } else if line.starts_with("server.")
            && let Some((_, rhs)) = line.split_once('=')
            && let Some((_, client)) = rhs.split_once(';')
        {
            hosts.push(client.to_string());
        }
    }
    format!("{version} {}", hosts.join(","))
}

/// `parent/child` without doubling the root's slash.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// A hex dump like zkCli's `get -x`: offset, 16 bytes in hex, the printable characters.
fn hexdump(data: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in data.chunks(16).enumerate() {
        s.push_str(&format!("{:08x}: ", i * 16));
        for b in chunk {
            s.push_str(&format!("{b:02x} "));
        }
        for _ in chunk.len()..16 {
            s.push_str("   ");
        }
        for &b in chunk {
            s.push(if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            });
        }
        s.push('\n');
    }
    s.trim_end_matches('\n').to_string()
}

/// Reads data and stat of a node; `None` if it does not exist.
pub async fn read_node(
    client: &Client,
    path: &str,
) -> Result<Option<(Option<Vec<u8>>, Stat)>, String> {
    let r = Request::GetData(GetDataRequest {
        path: path.to_string(),
        watch: false,
    });
    match client.call(r).await {
        Ok((_, Response::GetData { data, stat })) => Ok(Some((data, stat))),
        Ok((_, r)) => Err(unexpected(&r)),
        Err(ClientError::Server(ErrorCode::NoNode)) => Ok(None),
        Err(e) => Err(err_on(path)(e)),
    }
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
    fn java_ints_and_helpers() {
        assert_eq!(parse_java_int("12"), Some(12));
        assert_eq!(parse_java_int("0x1f"), Some(31));
        assert_eq!(parse_java_int("010"), Some(8));
        assert_eq!(parse_java_int("-3"), Some(-3));
        assert_eq!(parse_java_int("x"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(
            client_config_string("server.1=h:1:2;0.0.0.0:2181\nversion=100000000"),
            "100000000 0.0.0.0:2181"
        );
        assert_eq!(
            hexdump(b"AB"),
            format!("00000000: 41 42 {}AB", "   ".repeat(14))
        );
    }
}
