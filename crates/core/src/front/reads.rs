//! Requests answered from the local tree without a txn (ZooKeeper:
//! `FinalRequestProcessor`, read cases): reads, watch registration and removal, `whoami`,
//! `sync`'s local reply and `setWatches`' catch-up events.

use menagerie_proto::records::{
    ClientInfo, Id, PathRequest, SetWatches2, Stat, WatcherEvent, WatchesRequest, perms,
};
use menagerie_proto::request::Request;
use menagerie_proto::response::{MultiResult, Response};
use menagerie_proto::{ErrorCode, SessionId, Zxid};

use crate::auth::{check_acl, user_name};
use crate::input::ConnId;
use crate::output::Output;
use crate::tree::DataTree;
use crate::watch::{EventType, Table, WatchManager, WatcherType};

/// State value of every server-sent event: SyncConnected.
pub(crate) const SYNC_CONNECTED: i32 = 3;

/// Everything a read needs: the tree, the watch registry, and who asks.
pub struct ReadContext<'a> {
    /// The committed tree.
    pub tree: &'a DataTree,
    /// Watch registrations.
    pub watches: &'a mut WatchManager,
    /// The asking connection.
    pub conn: ConnId,
    /// Its identities.
    pub ids: &'a [Id],
    /// Its session.
    pub session: SessionId,
    /// `zookeeper.skipACL=yes`.
    pub skip_acl: bool,
}

impl ReadContext<'_> {
    /// Answers a request; catch-up events of `setWatches` go to `out` (before the reply).
    pub fn evaluate(&mut self, req: Request, out: &mut Vec<Output>) -> Result<Response, ErrorCode> {
        match req {
            Request::Exists(r) => self.exists(&r.path, r.watch),
            Request::GetData(r) => self.get_data(&r.path, r.watch),
            Request::GetChildren(r) => {
                let (children, _) = self.children(&r.path, r.watch)?;
                Ok(Response::GetChildren { children })
            }
            Request::GetChildren2(r) => {
                let (children, stat) = self.children(&r.path, r.watch)?;
                Ok(Response::GetChildren2 { children, stat })
            }
            Request::GetAcl(r) => self.get_acl(&r),
            Request::GetAllChildrenNumber(r) => self.all_children_number(&r),
            Request::GetEphemerals(r) => Ok(self.ephemerals(&r.path)),
            Request::WhoAmI => Ok(self.who_am_i()),
            Request::Sync(r) => Ok(Response::Sync { path: r.path }),
            Request::MultiRead(ops) => Ok(Response::Multi(
                ops.into_iter().map(|op| self.multi_read_op(op)).collect(),
            )),
            Request::AddWatch(r) => {
                match r.mode {
                    0 => self.watches.add_persistent(&r.path, self.conn, false),
                    1 => self.watches.add_persistent(&r.path, self.conn, true),
                    _ => return Err(ErrorCode::MarshallingError),
                }
                Ok(Response::ErrorResponse(0))
            }
            Request::CheckWatches(r) => self.remove_watches(&r, false),
            Request::RemoveWatches(r) => self.remove_watches(&r, true),
            Request::SetWatches(s) => {
                let s = SetWatches2 {
                    relative_zxid: s.relative_zxid,
                    data_watches: s.data_watches,
                    exist_watches: s.exist_watches,
                    child_watches: s.child_watches,
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                };
                self.set_watches(&s, out);
                Ok(Response::Empty)
            }
            Request::SetWatches2(s) => {
                self.set_watches(&s, out);
                Ok(Response::Empty)
            }
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// The node's client Stat, if it exists and the caller may READ it.
    fn readable(&self, path: &str) -> Result<Stat, ErrorCode> {
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        if !check_acl(self.tree.acl(node), perms::READ, self.ids, self.skip_acl) {
            return Err(ErrorCode::NoAuth);
        }
        Ok(self.tree.client_stat(node))
    }

    fn data(&self, path: &str) -> Option<Vec<u8>> {
        self.tree
            .get(path)
            .and_then(|n| n.data().map(<[u8]>::to_vec))
    }

    fn exists(&mut self, path: &str, watch: bool) -> Result<Response, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        // The watch is set even when the node does not exist (it fires NodeCreated).
        if watch {
            self.watches.add_standard(Table::Data, path, self.conn);
        }
        self.readable(path).map(Response::Stat)
    }

    fn get_data(&mut self, path: &str, watch: bool) -> Result<Response, ErrorCode> {
        let stat = self.readable(path)?;
        if watch {
            self.watches.add_standard(Table::Data, path, self.conn);
        }
        Ok(Response::GetData {
            data: self.data(path),
            stat,
        })
    }

    fn children(&mut self, path: &str, watch: bool) -> Result<(Vec<String>, Stat), ErrorCode> {
        let stat = self.readable(path)?;
        if watch {
            self.watches.add_standard(Table::Child, path, self.conn);
        }
        let children = self
            .tree
            .get(path)
            .map(|n| self.tree.children(n))
            .unwrap_or_default();
        Ok((children, stat))
    }

    fn get_acl(&self, r: &PathRequest) -> Result<Response, ErrorCode> {
        let node = self.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
        let acl = self.tree.acl(node);
        let admin = check_acl(acl, perms::ADMIN, self.ids, self.skip_acl);
        if !admin && !check_acl(acl, perms::READ, self.ids, self.skip_acl) {
            return Err(ErrorCode::NoAuth);
        }
        let mut acl = acl.to_vec();
        if !admin {
            // Without ADMIN, digest hashes are redacted (ZOOKEEPER-1392).
            for a in &mut acl {
                if a.id.scheme == "digest" {
                    a.id.id = format!("{}:x", a.id.id.split(':').next().unwrap_or_default());
                }
            }
        }
        Ok(Response::GetAcl {
            acl,
            stat: self.tree.client_stat(node),
        })
    }

    /// The descendants the caller could find by listing children: none below a child it
    /// may not READ (ZooKeeper counts those too).
    fn all_children_number(&self, r: &PathRequest) -> Result<Response, ErrorCode> {
        self.readable(&r.path)?;
        let id = self.tree.lookup(&r.path).ok_or(ErrorCode::NoNode)?;
        let (tree, ids, skip) = (self.tree, self.ids, self.skip_acl);
        let n =
            tree.count_listable_descendants(id, |n| check_acl(tree.acl(n), perms::READ, ids, skip));
        Ok(Response::AllChildrenNumber(n as i32))
    }

    /// Whether the caller may READ `node`.
    fn may_read(&self, node: &crate::tree::Node) -> bool {
        check_acl(self.tree.acl(node), perms::READ, self.ids, self.skip_acl)
    }

    fn ephemerals(&self, prefix: &str) -> Response {
        // Java: `prefix.trim().isEmpty() || "/".equals(prefix.trim())`; `trim` strips every
        // char up to U+0020.
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        let all = trimmed.is_empty() || trimmed == "/";
        let mut list: Vec<String> = self
            .tree
            .ephemerals(self.session.0)
            .filter(|p| all || p.starts_with(prefix))
            .map(str::to_owned)
            .collect();
        list.sort();
        Response::Ephemerals(list)
    }

    fn who_am_i(&self) -> Response {
        Response::WhoAmI(
            self.ids
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: user_name(id).to_owned(),
                })
                .collect(),
        )
    }

    fn remove_watches(&mut self, r: &WatchesRequest, remove: bool) -> Result<Response, ErrorCode> {
        let kind = WatcherType::from_code(r.watcher_type).ok_or(ErrorCode::MarshallingError)?;
        if self.watches.remove(&r.path, self.conn, kind, remove) {
            Ok(Response::Empty)
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    fn multi_read_op(&self, op: Request) -> MultiResult {
        let r = match &op {
            Request::GetData(r) => self
                .readable(&r.path)
                .map(|stat| MultiResult::GetData(self.data(&r.path), stat)),
            Request::GetChildren(r) => self.readable(&r.path).map(|_| {
                MultiResult::GetChildren(
                    self.tree
                        .get(&r.path)
                        .map(|n| self.tree.children(n))
                        .unwrap_or_default(),
                )
            }),
            _ => Err(ErrorCode::MarshallingError),
        };
        r.unwrap_or_else(|e| MultiResult::Error(e.code()))
    }

    /// Re-registers watches after a reconnect, sending catch-up events for changes the
    /// client missed (ZooKeeper: `DataTree.setWatches`, spec 04 §4.5). A change to a node the
    /// caller may not READ (a data change, children changed, a creation) fires its watch
    /// without an event, as a live one does (ZooKeeper 3.8.4+ filters only live events, so
    /// its catch-up events tell the existence and change of unreadable nodes). A deletion is
    /// told: `exists` tells it to anyone.
    fn set_watches(&mut self, s: &SetWatches2, out: &mut Vec<Output>) {
        let (conn, rel) = (self.conn, s.relative_zxid);
        let event = |out: &mut Vec<Output>, t: EventType, p: &str| {
            out.push(Output::Notify {
                conn,
                zxid: Zxid::NONE,
                event: WatcherEvent {
                    event_type: t as i32,
                    state: SYNC_CONNECTED,
                    path: p.to_owned(),
                },
            })
        };
        for p in &s.data_watches {
            match self.tree.get(p) {
                None => event(out, EventType::Deleted, p),
                Some(n) if n.mzxid > rel && self.may_read(n) => {
                    event(out, EventType::DataChanged, p)
                }
                Some(n) if n.mzxid > rel => {}
                Some(_) => self.watches.add_standard(Table::Data, p, conn),
            }
        }
        for p in &s.exist_watches {
            match self.tree.get(p) {
                Some(n) if self.may_read(n) => event(out, EventType::Created, p),
                Some(_) => {}
                None => self.watches.add_standard(Table::Data, p, conn),
            }
        }
        for p in &s.child_watches {
            match self.tree.get(p) {
                None => event(out, EventType::Deleted, p),
                Some(n) if n.pzxid > rel && self.may_read(n) => {
                    event(out, EventType::ChildrenChanged, p)
                }
                Some(n) if n.pzxid > rel => {}
                Some(_) => self.watches.add_standard(Table::Child, p, conn),
            }
        }
        for p in &s.persistent_watches {
            self.watches.add_persistent(p, conn, false);
        }
        for p in &s.persistent_recursive_watches {
            self.watches.add_persistent(p, conn, true);
        }
    }
}
