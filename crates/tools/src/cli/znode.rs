//! The data commands (`ls`, `get`, `stat`, `create`, `set`, `delete`, `deleteall`,
//! `getAcl`, `setAcl`) with zkCli's flags, output and messages, and the dispatch of every
//! command that needs a live session.

use std::sync::Arc;

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{
    Acl, CreateRequest, CreateTtlRequest, DeleteRequest, GetDataRequest, PathRequest,
    PathWatchRequest, SetAclRequest, SetDataRequest,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response};
use serde_json::{Value, json};

use super::args::{Parsed, parse_opts};
use super::format::{
    acl_json, acl_text, data_json, data_text, java_list, keeper_error, parse_acl,
    plain_keeper_error, stat_json, stat_text, validate_path,
};
use super::nodes::{err_on, join, unexpected};
use super::quota;
use super::session::{Io, WatchKind};
use super::transfer;
use super::usage::usage_of;
use crate::client::{Client, ClientError};

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
pub(super) struct Ctx<'a, 'b> {
    pub(super) client: Arc<Client>,
    pub(super) shared: Arc<super::session::Shared>,
    pub(super) io: &'a mut Io<'b>,
    pub(super) json: bool,
}

/// A command failure: the message zkCli prints on stderr (exit status 1).
pub(super) type CmdResult = Result<(), String>;

/// The path argument (positional 1) of a parsed command, validated.
pub(super) fn path_arg(p: &Parsed, usage: &str) -> Result<String, String> {
    let path = p.arg(1).ok_or_else(|| usage.to_string())?;
    validate_path(path)?;
    Ok(path.to_string())
}

pub(super) fn parse_version(p: &Parsed) -> Result<i32, String> {
    match p.value('v') {
        None => Ok(-1),
        Some(v) => v
            .parse()
            .map_err(|_| format!("-v argument must be an int value, not \"{v}\"")),
    }
}

impl Ctx<'_, '_> {
    pub(super) fn watched(&self, kind: WatchKind, path: &str) {
        if let Ok(mut w) = self.shared.watches.lock() {
            w.add(kind, path);
        }
    }

    pub(super) fn out(&mut self, s: &str) {
        let _ = self.io.out.write_all(s.as_bytes());
    }

    pub(super) fn outln(&mut self, s: &str) {
        let _ = writeln!(self.io.out, "{s}");
    }

    pub(super) fn errln(&mut self, s: &str) {
        let _ = writeln!(self.io.err, "{s}");
    }

    pub(super) fn json_out(&mut self, v: &Value) {
        let _ = writeln!(self.io.out, "{v}");
    }

    pub(super) async fn call(&self, req: Request, path: &str) -> Result<Response, String> {
        self.client
            .call(req)
            .await
            .map(|(_, r)| r)
            .map_err(err_on(path))
    }

    pub(super) async fn dispatch(&mut self, cmd: &str, words: &[String]) -> CmdResult {
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
            "whoami" => self.whoami(words).await,
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

    pub(super) async fn children(&self, path: &str, watch: bool) -> Result<Vec<String>, String> {
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
        let (flags, ttl) = create_mode(&p)?;
        let path = p.arg(1).unwrap_or("/").to_string();
        if p.has('s') {
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
        let r = match ttl {
            Some(ttl) => Request::CreateTtl(CreateTtlRequest {
                path: req.path,
                data: req.data,
                acl: req.acl,
                flags,
                ttl,
            }),
            None if p.has('c') => Request::CreateContainer(req),
            None => Request::Create(req),
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

/// `create`'s mode flags (`-e`, `-s`, `-c`, `-t ttl`) as the create flags and the TTL (for a
/// TTL node), with zkCli's messages for combinations it refuses.
fn create_mode(p: &Parsed) -> Result<(i32, Option<i64>), String> {
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
    Ok((flags, t.then_some(ttl)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(
            hexdump(b"AB"),
            format!("00000000: 41 42 {}AB", "   ".repeat(14))
        );
    }
}
