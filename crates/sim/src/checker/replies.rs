//! What a reply must say: compared with the model of the tree at the reply's zxid (data,
//! stat, children, the error a write's txn carried).

use menagerie_proto::records::Stat;
use menagerie_proto::response::Response;
use menagerie_proto::{ErrorCode, Zxid};

use super::Checker;
use super::clients::Reply;
use crate::workload::{Mode, Op};

impl Checker {
    /// Compares a reply with the model at `z` (its zxid, resolved).
    pub(super) fn check_reply(&self, z: Zxid, op: &Op, reply: &Reply) -> Result<(), String> {
        let before = Zxid(z.0 - 1);
        if let Some(closed) = self.model.session_closed(reply.session)
            && closed < z
            && !op.is_write()
        {
            return Err(format!(
                "served at {z} after the session closed at {closed}"
            ));
        }
        let err = reply.err;
        let m = &self.model;
        match (op, &reply.body) {
            (Op::GetData { path, .. }, Response::GetData { data, stat }) => {
                let n = m.node_at(path, z).ok_or("data of a missing node")?;
                if data.clone().unwrap_or_default() != n.data {
                    return Err(format!(
                        "data {:?}, model has {:?}",
                        lossy(data),
                        String::from_utf8_lossy(&n.data)
                    ));
                }
                self.check_stat(path, z, stat)
            }
            (Op::Exists { path, .. }, Response::Stat(stat)) => self.check_stat(path, z, stat),
            (Op::GetChildren { path, .. }, Response::GetChildren { children }) => {
                let mut got = children.clone();
                got.sort();
                let want = m.children_at(path, z);
                (got == want)
                    .then_some(())
                    .ok_or(format!("children {got:?}, model has {want:?}"))
            }
            (
                Op::GetData { path, .. } | Op::Exists { path, .. } | Op::GetChildren { path, .. },
                _,
            ) if err == ErrorCode::NoNode.code() => m
                .node_at(path, z)
                .is_none()
                .then_some(())
                .ok_or("NoNode, but the model has it".into()),
            (Op::Create { path, mode, .. }, Response::Create2 { path: got, stat }) => {
                let ok = if *mode == Mode::Sequential {
                    got.starts_with(path.as_str())
                } else {
                    got == path
                };
                if !ok || Zxid(stat.czxid) != z {
                    return Err(format!("created {got} czxid {}", Zxid(stat.czxid)));
                }
                self.check_stat(got, z, stat)
            }
            (Op::SetData { path, .. }, Response::Stat(stat)) => self.check_stat(path, z, stat),
            (Op::Delete { path, .. }, _) if err == 0 => m
                .node_at(path, z)
                .is_none()
                .then_some(())
                .ok_or("still there after delete".into()),
            (Op::CloseSession, _) if err == 0 => (m.session_closed(reply.session) == Some(z))
                .then_some(())
                .ok_or("session not closed there".into()),
            (op, _) if err != 0 => self.check_error(op, before, err),
            _ => Ok(()),
        }
    }

    /// A write's error must follow from the state before its txn.
    fn check_error(&self, op: &Op, before: Zxid, err: i32) -> Result<(), String> {
        let m = &self.model;
        let code = ErrorCode::from_code(err);
        let parent = |p: &str| {
            p.rfind('/').map_or("/".to_string(), |i| {
                if i == 0 {
                    "/".into()
                } else {
                    p[..i].to_string()
                }
            })
        };
        let exists = |p: &str| p == "/" || m.node_at(p, before).is_some();
        let ok = match (op, code) {
            (Op::Create { path, .. }, Some(ErrorCode::NodeExists)) => exists(path),
            (Op::Create { path, .. }, Some(ErrorCode::NoNode)) => !exists(&parent(path)),
            (Op::Create { path, .. }, Some(ErrorCode::NoChildrenForEphemerals)) => m
                .node_at(&parent(path), before)
                .is_some_and(|n| n.owner != 0),
            (Op::SetData { path, .. } | Op::Delete { path, .. }, Some(ErrorCode::NoNode)) => {
                !exists(path)
            }
            (
                Op::SetData { path, version, .. } | Op::Delete { path, version },
                Some(ErrorCode::BadVersion),
            ) => m
                .node_at(path, before)
                .is_some_and(|n| n.version != *version),
            (Op::Delete { path, .. }, Some(ErrorCode::NotEmpty)) => {
                !m.children_at(path, before).is_empty()
            }
            _ => true,
        };
        ok.then_some(()).ok_or(format!(
            "error {err} does not follow from the state before it"
        ))
    }

    fn check_stat(&self, path: &str, z: Zxid, stat: &Stat) -> Result<(), String> {
        let n = self
            .model
            .node_at(path, z)
            .ok_or("stat of a missing node")?;
        let kids = self.model.children_at(path, z).len() as i32;
        let got = (
            stat.version,
            Zxid(stat.mzxid),
            Zxid(stat.czxid),
            stat.ephemeral_owner,
            stat.num_children,
        );
        let want = (n.version, n.mzxid, n.czxid, n.owner, kids);
        (got == want).then_some(()).ok_or(format!(
            "stat (version, mzxid, czxid, owner, children) {got:?}, model has {want:?}"
        ))
    }
}

fn lossy(data: &Option<Vec<u8>>) -> String {
    String::from_utf8_lossy(data.as_deref().unwrap_or_default()).into_owned()
}
