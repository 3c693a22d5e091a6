//! A node for the host's tests: a core `Server` whose writes go through the host's log
//! executor to a `MemFs` and which is recovered by the host's `recover`, all in one thread,
//! as a simulator would run it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use menagerie_core::{ConnId, CoreConfig, Input, Node as Server, Now, Output};
use menagerie_host::{LogError, LogExecutor, LogWork, RecoveryError, RecoveryOptions};
use menagerie_proto::records::{
    Acl, ConnectRequest, CreateRequest, DeleteRequest, Id, SetDataRequest, StatPersisted, perms,
};
use menagerie_proto::request::Request;
use menagerie_storage::{DataDirs, MemFs, TxnLogOptions};

/// The clock every node starts at.
pub const START: Now = Now {
    mono_ms: 1_000_000,
    wall_ms: 1_700_000_000_000,
};

const CONN: ConnId = ConnId(1);

/// Every node with its data, stat and ACL, by path.
pub type Dump = BTreeMap<String, (Option<Vec<u8>>, StatPersisted, Vec<Acl>)>;

/// A standalone node on a `MemFs`.
pub struct Node {
    /// The core.
    pub server: Server,
    /// Its data directories.
    pub dirs: DataDirs,
    /// The log executor its writes go through.
    pub log: LogExecutor,
    /// Txns replayed when it started.
    pub replayed: u64,
    xid: i32,
}

/// The data directories of every test node.
pub fn dirs(fs: &MemFs) -> DataDirs {
    DataDirs::new(Arc::new(fs.clone()), Path::new("/data"), None)
}

/// Log options with small preallocation (the file system is in memory).
pub fn log_options() -> TxnLogOptions {
    TxnLogOptions {
        pre_alloc_size: 64 * 1024,
        ..TxnLogOptions::default()
    }
}

impl Node {
    /// Recovers a node from `fs` (an empty one starts empty) and opens a session on it.
    pub fn start(fs: &MemFs) -> Result<Node, RecoveryError> {
        let dirs = dirs(fs);
        let mut server = Server::new(CoreConfig::default(), START);
        let options = RecoveryOptions {
            log: log_options(),
            extended_types: false,
        };
        let recovered = menagerie_host::recover(&dirs, options, &mut server, START)?;
        let mut node = Node {
            server,
            dirs,
            log: LogExecutor::new(recovered.log),
            replayed: recovered.replayed,
            xid: 0,
        };
        node.connect();
        Ok(node)
    }

    fn connect(&mut self) {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        let input = Input::Connect {
            conn: CONN,
            peer_ip: "127.0.0.1".into(),
            req,
        };
        let out = self.feed(input).expect("the session is logged");
        assert!(
            matches!(out.as_slice(), [Output::Connected { .. }]),
            "{out:?}"
        );
    }

    /// Feeds `input`; the txns it produces go to the log at once, and the outputs of their
    /// acknowledgement follow. Returns every output but `Persist` and `TakeSnapshot`.
    pub fn feed(&mut self, input: Input) -> Result<Vec<Output>, LogError> {
        let mut raw = Vec::new();
        self.server.handle(START, input, &mut raw);
        let mut visible = Vec::new();
        let mut txns = Vec::new();
        let mut snapshot_asked = false;
        for o in raw {
            match o {
                Output::Persist(txn) => txns.push(txn),
                // The snapshot the core asks for after replaying txns: these tests take
                // none; it is answered as failed (asked again after snapCount txns).
                Output::TakeSnapshot(_) => snapshot_asked = true,
                o => visible.push(o),
            }
        }
        if snapshot_asked {
            let ended = Input::SnapshotEnded(menagerie_core::SnapshotEnd::Failed);
            self.server.handle(START, ended, &mut visible);
        }
        if !txns.is_empty()
            && let Some(up_to) = self.log.execute(vec![LogWork::Append(txns)])?
        {
            self.server.handle(
                START,
                Input::Persisted {
                    up_to: menagerie_proto::Zxid(up_to),
                },
                &mut visible,
            );
        }
        Ok(visible)
    }

    /// Sends a request; returns the reply's error code (0 = ok) and zxid.
    pub fn call(&mut self, req: Request) -> Result<(i32, i64), LogError> {
        self.xid += 1;
        let input = Input::Request {
            conn: CONN,
            xid: self.xid,
            op: req.op().code(),
            req: Ok(req),
        };
        let out = self.feed(input)?;
        let reply = out.iter().find_map(|o| match o {
            Output::Reply { header, .. } if header.xid == self.xid => {
                Some((header.err, header.zxid))
            }
            _ => None,
        });
        Ok(reply.unwrap_or_else(|| panic!("no reply in {out:?}")))
    }

    /// Creates a persistent node readable and writable by anyone, or with `acl`.
    pub fn create_with(&mut self, path: &str, data: &[u8], acl: Vec<Acl>) -> i64 {
        let req = Request::Create(CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl,
            flags: 0,
        });
        let (err, zxid) = self.call(req).expect("logged");
        assert_eq!(err, 0, "create {path}");
        zxid
    }

    /// Creates a persistent node readable and writable by anyone.
    pub fn create(&mut self, path: &str, data: &[u8]) -> i64 {
        self.create_with(path, data, Acl::open_unsafe())
    }

    /// Deletes a node.
    pub fn delete(&mut self, path: &str) -> i64 {
        let req = Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        });
        let (err, zxid) = self.call(req).expect("logged");
        assert_eq!(err, 0, "delete {path}");
        zxid
    }

    /// Sets a node's data.
    pub fn set_data(&mut self, path: &str, data: &[u8]) -> i64 {
        let req = Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            version: -1,
        });
        let (err, zxid) = self.call(req).expect("logged");
        assert_eq!(err, 0, "setData {path}");
        zxid
    }

    /// The whole tree.
    pub fn dump(&self) -> Dump {
        let tree = self.server.tree();
        let mut out = BTreeMap::new();
        tree.for_each_preorder(|n| {
            let entry = (
                n.data().map(<[u8]>::to_vec),
                n.stat_persisted(),
                tree.acl(n).to_vec(),
            );
            out.insert(n.path().to_owned(), entry);
        });
        out
    }
}

/// An ACL list no node has yet: anyone may read, one made-up address may do everything.
pub fn fresh_acl(n: u8) -> Vec<Acl> {
    let mut acl = Acl::open_unsafe();
    acl[0].perms = perms::READ;
    acl.push(Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "ip".into(),
            id: format!("10.0.0.{n}"),
        },
    });
    acl
}
