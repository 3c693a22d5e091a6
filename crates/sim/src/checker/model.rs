//! A model of the tree along the committed chain, written independently of the core: each
//! committed txn is applied in zxid order and every node's states are kept with the zxid
//! they began at, so that a reply can be compared with the tree as it was at the zxid the
//! reply carries. Applying a txn also checks it: a create of a node that exists, a setData
//! that does not bump the version by one, an ephemeral of a closed session, or a
//! closeSession whose list of ephemerals is not the session's are violations.

use std::collections::{BTreeMap, BTreeSet};

use menagerie_proto::Zxid;
use menagerie_proto::txn::{LoggedTxn, TxnBody};

/// A node as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Data.
    pub data: Vec<u8>,
    /// Data version.
    pub version: i32,
    /// zxid of the create.
    pub czxid: Zxid,
    /// zxid of the last change of data.
    pub mzxid: Zxid,
    /// Owning session of an ephemeral (0 otherwise).
    pub owner: i64,
}

/// What a change did to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created.
    Created,
    /// Deleted.
    Deleted,
    /// Data set.
    DataChanged,
    /// A child was created or deleted.
    ChildrenChanged,
}

/// The model tree.
#[derive(Debug, Default)]
pub struct Model {
    /// Each path's states, with the zxid each began at (`None`: absent).
    nodes: BTreeMap<String, Vec<(Zxid, Option<NodeState>)>>,
    /// Per path: zxids at which its set of children changed.
    child_changes: BTreeMap<String, Vec<Zxid>>,
    /// Sessions: zxid of their create and of their close.
    sessions: BTreeMap<i64, (Zxid, Option<Zxid>)>,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    applied: Zxid,
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl Model {
    /// The last zxid applied.
    pub fn applied(&self) -> Zxid {
        self.applied
    }

    /// The node at `path` as of `at` (every txn up to `at` applied).
    pub fn node_at(&self, path: &str, at: Zxid) -> Option<&NodeState> {
        let states = self.nodes.get(path)?;
        let i = states.partition_point(|(z, _)| *z <= at);
        states.get(i.checked_sub(1)?)?.1.as_ref()
    }

    fn current(&self, path: &str) -> Option<&NodeState> {
        self.node_at(path, Zxid(i64::MAX))
    }

    fn exists_now(&self, path: &str) -> bool {
        path == "/" || path.starts_with("/zookeeper") || self.current(path).is_some()
    }

    /// Names of the children of `path` as of `at`, sorted.
    pub fn children_at(&self, path: &str, at: Zxid) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| !p[prefix.len()..].contains('/'))
            .filter(|(p, _)| self.node_at(p, at).is_some())
            .map(|(p, _)| p[prefix.len()..].to_string())
            .collect()
    }

    /// The first change after `after` that fires a data watch (`child` false) or a child
    /// watch (`child` true) on `path`.
    pub fn first_change(&self, path: &str, after: Zxid, child: bool) -> Option<(Zxid, Change)> {
        let own = self.nodes.get(path).and_then(|states| {
            let i = states.partition_point(|(z, _)| *z <= after);
            let prev = i.checked_sub(1).and_then(|j| states[j].1.as_ref());
            let (z, next) = states.get(i)?;
            let change = match (prev, next) {
                (None, Some(_)) => Change::Created,
                (Some(_), None) => Change::Deleted,
                _ => Change::DataChanged,
            };
            Some((*z, change))
        });
        if !child {
            return own;
        }
        let own = own.filter(|(_, c)| *c == Change::Deleted);
        let kids = self.child_changes.get(path).and_then(|v| {
            let i = v.partition_point(|z| *z <= after);
            v.get(i).map(|z| (*z, Change::ChildrenChanged))
        });
        match (own, kids) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Whether a committed createSession made `session` global (local sessions never are).
    pub fn session_known(&self, session: i64) -> bool {
        self.sessions.contains_key(&session)
    }

    /// The ephemerals `session` owns now (after every committed txn applied).
    pub fn ephemerals_of(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// When `session` was closed, if it was.
    pub fn session_closed(&self, session: i64) -> Option<Zxid> {
        self.sessions.get(&session).and_then(|(_, c)| *c)
    }

    /// Applies the next committed txn.
    pub fn apply(&mut self, txn: &LoggedTxn) -> Result<(), String> {
        let z = txn.zxid();
        if z <= self.applied {
            return Err(format!("txn {z} applied after {}", self.applied));
        }
        self.applied = z;
        let session = txn.session().0;
        match &txn.body {
            TxnBody::CreateSession(_) => match self.sessions.get(&session) {
                Some((_, None)) => Err(format!("session {session:#x} created twice")),
                _ => {
                    self.sessions.insert(session, (z, None));
                    Ok(())
                }
            },
            TxnBody::CloseSession(t) => {
                let listed: Option<BTreeSet<String>> = t
                    .as_ref()
                    .map(|t| t.paths_to_delete.iter().cloned().collect());
                self.close_session(z, session, listed)
            }
            body if body.is_error() => Ok(()),
            TxnBody::Multi(subs) => {
                for sub in subs {
                    self.apply_op(z, session, sub)?;
                }
                Ok(())
            }
            body => self.apply_op(z, session, body),
        }
    }

    fn apply_op(&mut self, z: Zxid, session: i64, body: &TxnBody) -> Result<(), String> {
        match body {
            TxnBody::Create(t) | TxnBody::Create2(t) => {
                let owner = if t.ephemeral { session } else { 0 };
                self.create(z, &t.path, t.data.clone(), owner)
            }
            TxnBody::CreateContainer(t) => self.create(z, &t.path, t.data.clone(), 0),
            TxnBody::CreateTtl(t) => self.create(z, &t.path, t.data.clone(), 0),
            TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => self.delete(z, &t.path),
            TxnBody::SetData(t) => {
                let Some(old) = self.current(&t.path).cloned() else {
                    return Err(format!("setData of missing {} at {z}", t.path));
                };
                if t.version != old.version.wrapping_add(1) {
                    return Err(format!(
                        "setData of {} at {z} sets version {} after {}",
                        t.path, t.version, old.version
                    ));
                }
                let state = NodeState {
                    data: t.data.clone().unwrap_or_default(),
                    version: t.version,
                    mzxid: z,
                    ..old
                };
                self.push(&t.path, z, Some(state));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn push(&mut self, path: &str, z: Zxid, state: Option<NodeState>) {
        self.nodes
            .entry(path.to_string())
            .or_default()
            .push((z, state));
    }

    fn create(
        &mut self,
        z: Zxid,
        path: &str,
        data: Option<Vec<u8>>,
        owner: i64,
    ) -> Result<(), String> {
        if self.current(path).is_some() {
            return Err(format!("create of existing {path} at {z}"));
        }
        let p = parent(path);
        if !self.exists_now(p) {
            return Err(format!("create of {path} at {z} without its parent"));
        }
        if self.current(p).is_some_and(|n| n.owner != 0) {
            return Err(format!("create of {path} at {z} under an ephemeral"));
        }
        if owner != 0 {
            match self.sessions.get(&owner) {
                Some((_, None)) => {}
                Some((_, Some(closed))) => {
                    return Err(format!(
                        "ephemeral {path} created at {z} for session {owner:#x} closed at {closed}"
                    ));
                }
                None => {
                    return Err(format!(
                        "ephemeral {path} created at {z} for unknown session {owner:#x}"
                    ));
                }
            }
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_string());
        }
        let state = NodeState {
            data: data.unwrap_or_default(),
            version: 0,
            czxid: z,
            mzxid: z,
            owner,
        };
        self.push(path, z, Some(state));
        self.child_changes.entry(p.to_string()).or_default().push(z);
        Ok(())
    }

    fn delete(&mut self, z: Zxid, path: &str) -> Result<(), String> {
        let Some(old) = self.current(path).cloned() else {
            return Err(format!("delete of missing {path} at {z}"));
        };
        if !self.children_at(path, Zxid(i64::MAX)).is_empty() {
            return Err(format!("delete of {path} at {z} while it has children"));
        }
        if old.owner != 0
            && let Some(set) = self.ephemerals.get_mut(&old.owner)
        {
            set.remove(path);
        }
        self.push(path, z, None);
        self.child_changes
            .entry(parent(path).to_string())
            .or_default()
            .push(z);
        Ok(())
    }

    fn close_session(
        &mut self,
        z: Zxid,
        session: i64,
        listed: Option<BTreeSet<String>>,
    ) -> Result<(), String> {
        match self.sessions.get(&session) {
            Some((_, None)) => {}
            // A second close (a client's closeSession racing the leader's expiry) is a no-op,
            // as in ZooKeeper, as long as it deletes nothing.
            Some((_, Some(at))) if listed.as_ref().is_none_or(|l| l.is_empty()) => {
                let _ = at;
                return Ok(());
            }
            Some((_, Some(at))) => {
                return Err(format!(
                    "session {session:#x} closed again at {z} (first at {at}), deleting {listed:?}"
                ));
            }
            None => return Err(format!("unknown session {session:#x} closed at {z}")),
        }
        let owned = self.ephemerals.remove(&session).unwrap_or_default();
        if let Some(listed) = listed
            && listed != owned
        {
            return Err(format!(
                "closeSession {session:#x} at {z} deletes {listed:?}, but the session owns {owned:?}"
            ));
        }
        for path in &owned {
            self.push(path, z, None);
            self.child_changes
                .entry(parent(path).to_string())
                .or_default()
                .push(z);
        }
        self.sessions
            .insert(session, (self.sessions[&session].0, Some(z)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use menagerie_proto::SessionId;
    use menagerie_proto::txn::{CloseSessionTxn, CreateSessionTxn, CreateTxn, SetDataTxn};

    use super::*;

    fn txn(c: u32, session: i64, body: TxnBody) -> LoggedTxn {
        LoggedTxn::new(SessionId(session), 0, Zxid::new(1, c), 0, body, None)
    }

    fn create(path: &str, ephemeral: bool) -> TxnBody {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: vec![],
            ephemeral,
            parent_cversion: 0,
        })
    }

    #[test]
    fn states_by_zxid_and_watchable_changes() {
        let mut m = Model::default();
        m.apply(&txn(
            1,
            7,
            TxnBody::CreateSession(CreateSessionTxn { timeout: 1 }),
        ))
        .unwrap();
        m.apply(&txn(2, 7, create("/k", false))).unwrap();
        m.apply(&txn(3, 7, create("/k/e", true))).unwrap();
        let set = TxnBody::SetData(SetDataTxn {
            path: "/k".into(),
            data: Some(b"x".to_vec()),
            version: 1,
        });
        m.apply(&txn(4, 7, set)).unwrap();
        assert_eq!(m.node_at("/k", Zxid::new(1, 3)).map(|n| n.version), Some(0));
        assert_eq!(m.node_at("/k", Zxid::new(1, 4)).map(|n| n.version), Some(1));
        assert_eq!(m.children_at("/k", Zxid::new(1, 3)), vec!["e".to_string()]);
        assert_eq!(
            m.first_change("/k", Zxid::new(1, 2), false),
            Some((Zxid::new(1, 4), Change::DataChanged))
        );
        assert_eq!(
            m.first_change("/k", Zxid::new(1, 2), true),
            Some((Zxid::new(1, 3), Change::ChildrenChanged))
        );
        // The close must list exactly the session's ephemerals.
        let wrong = TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: vec![],
        }));
        assert!(m.apply(&txn(5, 7, wrong)).is_err());
        let mut m2 = Model::default();
        m2.apply(&txn(
            1,
            7,
            TxnBody::CreateSession(CreateSessionTxn { timeout: 1 }),
        ))
        .unwrap();
        m2.apply(&txn(2, 7, create("/e", true))).unwrap();
        let close = TxnBody::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: vec!["/e".into()],
        }));
        m2.apply(&txn(3, 7, close)).unwrap();
        assert!(m2.node_at("/e", Zxid::new(1, 3)).is_none());
        assert!(
            m2.apply(&txn(4, 7, create("/f", true))).is_err(),
            "ephemeral of a closed session"
        );
    }
}
