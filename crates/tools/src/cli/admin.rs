//! The session and server commands: `addauth`, `whoami`, `sync`, `addWatch`,
//! `removewatches`, `getEphemerals`, `getAllChildrenNumber`, `config`, `reconfig`.

use menagerie_proto::ErrorCode;
use menagerie_proto::records::{
    AddWatchRequest, GetDataRequest, PathRequest, ReconfigRequest, WatchesRequest,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::Response;
use serde_json::{Value, json};

use super::args::parse_opts;
use super::format::{
    data_text, java_list, keeper_error, plain_keeper_error, stat_json, stat_text, validate_path,
};
use super::nodes::{err_on, unexpected};
use super::session::WatchKind;
use super::usage::usage_of;
use super::znode::{CmdResult, Ctx, path_arg};
use crate::client::ClientError;

impl Ctx<'_, '_> {
    pub(super) async fn addauth(&mut self, words: &[String]) -> CmdResult {
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

    pub(super) async fn whoami(&mut self, words: &[String]) -> CmdResult {
        let json = self.json || parse_opts(words, "")?.json;
        match self.call(Request::WhoAmI, "null").await? {
            Response::WhoAmI(infos) => {
                if json {
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

    pub(super) async fn sync(&mut self, words: &[String], usage: &str) -> CmdResult {
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

    pub(super) async fn add_watch(&mut self, words: &[String], usage: &str) -> CmdResult {
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

    pub(super) async fn remove_watches(&mut self, words: &[String], usage: &str) -> CmdResult {
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

    pub(super) async fn get_ephemerals(&mut self, words: &[String]) -> CmdResult {
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

    pub(super) async fn all_children(&mut self, words: &[String], usage: &str) -> CmdResult {
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

    pub(super) async fn config(&mut self, words: &[String]) -> CmdResult {
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

    pub(super) async fn reconfig(&mut self, words: &[String]) -> CmdResult {
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
            // zkCli sends null for what was not given (non-empty `-members` means a
            // non-incremental reconfig).
            joining_servers: (!joining.is_empty()).then_some(joining),
            leaving_servers: (!leaving.is_empty()).then_some(leaving),
            new_members: (!members.is_empty()).then_some(members),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config() {
        assert_eq!(
            client_config_string("server.1=h:1:2;0.0.0.0:2181\nversion=100000000"),
            "100000000 0.0.0.0:2181"
        );
    }
}
