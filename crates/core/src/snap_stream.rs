//! The SNAP stream of a [`Replica`] (spec 09 §6.5), both ways: [`SnapWriter`] produces it in
//! slices while the tree keeps changing (a fuzzy walk, as ZooKeeper's), and [`SnapLoader`]
//! builds a replica from the items a `menagerie_proto::quorum::snap::SnapDecoder` reads.
//! Pure code: the shell runs it between batches, the simulator in its single thread.

use std::collections::HashMap;

use menagerie_proto::Zxid;
use menagerie_proto::quorum::snap::{SnapItem, encode_end, encode_head, encode_node};
use menagerie_proto::records::Acl;

use crate::acl::AclRef;
use crate::replica::Replica;
use crate::tree::NodeId;
use crate::walk::FuzzyWalk;

/// Budget of a slice of [`SnapWriter::next_slice`] by default: 4,096 small nodes, fewer
/// large ones (units of [`crate::walk::FuzzyWalk::step`]; about 1 MiB of data at most).
pub const SLICE_NODES: usize = 4096;

/// Why a stream could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapStreamError {
    /// An ACL list was created after the stream's ACL table was written: the learner could
    /// not resolve it. The link is dropped and the learner syncs again (as a fuzzy file
    /// snapshot is abandoned and retried).
    #[error("an ACL list was created while the snapshot was streamed")]
    NewAcl,
    /// A node of the stream has no parent in what was loaded.
    #[error("snapshot stream node {0:?} has no parent")]
    Orphan(String),
    /// A node refers to an ACL index the stream's table lacks.
    #[error("snapshot stream node {path:?} refers to unknown ACL {index}")]
    UnknownAcl {
        /// The node.
        path: String,
        /// The index.
        index: i64,
    },
}

/// Writes the stream of a replica in slices.
#[derive(Debug)]
pub struct SnapWriter {
    walk: FuzzyWalk,
    /// The ACL table written in the head.
    acls: HashMap<AclRef, Vec<Acl>>,
    open: Vec<Acl>,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Head,
    Nodes,
    Done,
}

impl Default for SnapWriter {
    fn default() -> Self {
        SnapWriter::new()
    }
}

impl SnapWriter {
    /// A stream not started yet.
    pub fn new() -> SnapWriter {
        SnapWriter {
            walk: FuzzyWalk::new(),
            acls: HashMap::new(),
            open: Acl::open_unsafe(),
            stage: Stage::Head,
        }
    }

    /// The next slice: sessions and ACL table first, then up to `budget` nodes per call,
    /// then the end marker and signature. `Ok(None)` once everything was written.
    pub fn next_slice(
        &mut self,
        replica: &Replica,
        budget: usize,
    ) -> Result<Option<Vec<u8>>, SnapStreamError> {
        let mut out = Vec::new();
        match self.stage {
            Stage::Done => return Ok(None),
            Stage::Head => {
                self.head(replica, &mut out);
                self.stage = Stage::Nodes;
            }
            Stage::Nodes => {
                if self.nodes(replica, budget, &mut out)? {
                    encode_end(&mut out);
                    self.stage = Stage::Done;
                }
            }
        }
        Ok(Some(out))
    }

    fn head(&mut self, replica: &Replica, out: &mut Vec<u8>) {
        let sessions: Vec<_> = replica.sessions().iter().map(|(s, t)| (*s, *t)).collect();
        let tree = replica.tree();
        for (r, list) in tree.acl_lists() {
            if list != self.open.as_slice() {
                self.acls.insert(r, list.to_vec());
            }
        }
        let mut table: Vec<(i64, &[Acl])> = self
            .acls
            .iter()
            .map(|(r, l)| (i64::from(*r), l.as_slice()))
            .collect();
        table.sort_by_key(|(r, _)| *r);
        encode_head(out, &sessions, &table);
    }

    /// Up to `budget` nodes; true once the walk is complete.
    fn nodes(
        &mut self,
        replica: &Replica,
        budget: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, SnapStreamError> {
        let tree = replica.tree();
        let mut foreign = false;
        let (acls, open) = (&self.acls, &self.open);
        let done = self.walk.step(tree, budget, |n| {
            let list = tree.acl(n);
            let acl = if list == open.as_slice() {
                -1
            } else if acls.get(&n.acl_ref()).is_some_and(|l| l.as_slice() == list) {
                i64::from(n.acl_ref())
            } else {
                foreign = true;
                return;
            };
            let stat = n.stat_persisted();
            let path = if n.path() == "/" { "" } else { n.path() };
            encode_node(out, path, n.data(), acl, &stat);
        });
        if foreign {
            return Err(SnapStreamError::NewAcl);
        }
        Ok(done)
    }
}

/// Builds a replica from a SNAP stream's items.
#[derive(Debug)]
pub struct SnapLoader {
    replica: Replica,
    acls: HashMap<i64, Vec<Acl>>,
    open: Vec<Acl>,
    /// The most recent ancestors (the stream is in preorder).
    ancestors: Vec<NodeId>,
    /// The newest zxid any node's stat mentions: the stream covers txns up to about here.
    newest: Zxid,
    zxid: Zxid,
    complete: bool,
}

impl SnapLoader {
    /// A loader into `empty` (a fresh replica with the node's settings) for the stream a
    /// SNAP packet announced at `zxid`.
    pub fn new(empty: Replica, zxid: Zxid) -> SnapLoader {
        SnapLoader {
            replica: empty,
            acls: HashMap::new(),
            open: Acl::open_unsafe(),
            ancestors: Vec::new(),
            newest: zxid,
            zxid,
            complete: false,
        }
    }

    /// Whether the signature was read.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Takes one item of the stream.
    pub fn item(&mut self, item: SnapItem) -> Result<(), SnapStreamError> {
        match item {
            SnapItem::Sessions(sessions) => {
                for (s, t) in sessions {
                    self.replica.restore_session(s, t);
                }
            }
            SnapItem::Acls(acls) => self.acls = acls.into_iter().collect(),
            SnapItem::Node {
                path,
                data,
                acl,
                stat,
            } => {
                let list = if acl == -1 {
                    self.open.as_slice()
                } else {
                    self.acls.get(&acl).map(Vec::as_slice).ok_or_else(|| {
                        SnapStreamError::UnknownAcl {
                            path: path.clone(),
                            index: acl,
                        }
                    })?
                };
                let tree = self.replica.tree_mut();
                let parent = crate::path::parent(&path);
                while self
                    .ancestors
                    .last()
                    .is_some_and(|&id| tree.node(id).path() != parent)
                {
                    self.ancestors.pop();
                }
                let hint = self.ancestors.last().copied();
                let id = tree
                    .restore_node_under(hint, &path, data.as_deref(), list, &stat)
                    .map_err(|_| SnapStreamError::Orphan(path.clone()))?;
                self.ancestors.push(id);
                let newest = stat.czxid.max(stat.mzxid).max(stat.pzxid);
                self.newest = self.newest.max(Zxid(newest));
            }
            SnapItem::End => self.complete = true,
        }
        Ok(())
    }

    /// The loaded replica, at the SNAP zxid; its digest is not checked for txns up to the
    /// newest zxid the stream mentions (their effects may be in it already).
    pub fn finish(mut self) -> Replica {
        self.replica.tree_mut().rebuild_quotas();
        self.replica.restore_zxid(self.zxid);
        self.replica.fuzzy_until(self.newest);
        self.replica
    }
}

#[cfg(test)]
mod tests {
    use menagerie_proto::SessionId;
    use menagerie_proto::quorum::snap::SnapDecoder;
    use menagerie_proto::records::Id;
    use menagerie_proto::txn::{CreateTxn, LoggedTxn, TxnBody};

    use super::*;

    fn replica_with(paths: &[(&str, Vec<Acl>)]) -> Replica {
        let mut r = Replica::new(false, 1, true);
        r.restore_session(SessionId(9), 4000);
        for (i, (p, acl)) in paths.iter().enumerate() {
            let body = TxnBody::Create(CreateTxn {
                path: (*p).into(),
                data: Some(p.as_bytes().to_vec()),
                acl: acl.clone(),
                ephemeral: false,
                parent_cversion: -1,
            });
            let t = LoggedTxn::new(SessionId(9), 0, Zxid(i as i64 + 1), 0, body, None);
            r.apply(&t, &mut Vec::new());
        }
        r
    }

    fn stream(r: &Replica, budget: usize) -> Result<Vec<u8>, SnapStreamError> {
        let mut w = SnapWriter::new();
        let mut bytes = Vec::new();
        while let Some(slice) = w.next_slice(r, budget)? {
            bytes.extend(slice);
        }
        Ok(bytes)
    }

    #[test]
    fn a_replica_survives_the_round_trip() {
        let private = vec![Acl {
            perms: 31,
            id: Id {
                scheme: "digest".into(),
                id: "u:x".into(),
            },
        }];
        let r = replica_with(&[
            ("/a", Acl::open_unsafe()),
            ("/a/b", private.clone()),
            ("/c", private),
            ("/a/b/d", Acl::open_unsafe()),
        ]);
        let bytes = stream(&r, 2).expect("stream");
        let mut d = SnapDecoder::new();
        let mut loader = SnapLoader::new(Replica::new(false, 2, true), r.last_processed_zxid());
        let mut rest = &bytes[..];
        while let Some((item, used)) = d.next(rest).expect("decode") {
            rest = &rest[used..];
            loader.item(item).expect("load");
        }
        assert!(loader.is_complete() && rest.is_empty());
        let loaded = loader.finish();
        assert_eq!(loaded.tree().digest(), r.tree().digest());
        assert_eq!(loaded.sessions(), r.sessions());
        assert_eq!(loaded.last_processed_zxid(), r.last_processed_zxid());
        let b = loaded.tree().get("/a/b").expect("/a/b");
        assert_eq!(loaded.tree().acl(b)[0].id.id, "u:x");
    }

    #[test]
    fn a_new_acl_list_during_the_walk_abandons_the_stream() {
        let mut r = replica_with(&[("/a", Acl::open_unsafe())]);
        let mut w = SnapWriter::new();
        w.next_slice(&r, 1).expect("head");
        let new = vec![Acl {
            perms: 1,
            id: Id {
                scheme: "ip".into(),
                id: "10.0.0.1".into(),
            },
        }];
        let body = TxnBody::Create(CreateTxn {
            path: "/new".into(),
            data: None,
            acl: new,
            ephemeral: false,
            parent_cversion: -1,
        });
        r.apply(
            &LoggedTxn::new(SessionId(9), 0, Zxid(2), 0, body, None),
            &mut Vec::new(),
        );
        let mut result = Ok(Some(Vec::new()));
        for _ in 0..10 {
            result = w.next_slice(&r, 1);
            if !matches!(result, Ok(Some(_))) {
                break;
            }
        }
        assert_eq!(result, Err(SnapStreamError::NewAcl));
    }
}
