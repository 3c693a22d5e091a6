//! Records of `zookeeper.jute` modules `org.apache.zookeeper.data` and
//! `org.apache.zookeeper.proto`, with fields in declaration order.
//!
//! Connect records are hand-written because of the optional trailing `readOnly` byte.

use crate::jute::{DecodeError, JuteWrite, Reader, Record};
use crate::jute_record;

/// Permission bits of an ACL entry.
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = 31;
}

jute_record! {
    /// An identity: authentication scheme and id within it.
    pub struct Id { pub scheme: String, pub id: String }
}

jute_record! {
    /// One ACL entry.
    pub struct Acl { pub perms: i32, pub id: Id }
}

impl Acl {
    /// `world:anyone` with all permissions (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]
    }

    /// `world:anyone` read-only (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]
    }
}

jute_record! {
    /// Node metadata as clients see it (68 bytes).
    pub struct Stat {
        /// zxid of the create.
        pub czxid: i64,
        /// zxid of the last setData.
        pub mzxid: i64,
        /// Create time, ms since the epoch.
        pub ctime: i64,
        /// Last setData time, ms since the epoch.
        pub mtime: i64,
        /// Data version.
        pub version: i32,
        /// Child version (creations + deletions).
        pub cversion: i32,
        /// ACL version.
        pub aversion: i32,
        /// Owning session of an ephemeral node, else 0.
        pub ephemeral_owner: i64,
        /// Length of the data.
        pub data_length: i32,
        /// Number of direct children.
        pub num_children: i32,
        /// zxid of the last child create or delete.
        pub pzxid: i64,
    }
}

jute_record! {
    /// Node metadata as stored in snapshots (no dataLength/numChildren).
    pub struct StatPersisted {
        /// zxid of the create.
        pub czxid: i64,
        /// zxid of the last setData.
        pub mzxid: i64,
        /// Create time.
        pub ctime: i64,
        /// Last setData time.
        pub mtime: i64,
        /// Data version.
        pub version: i32,
        /// Stored child version (creations only).
        pub cversion: i32,
        /// ACL version.
        pub aversion: i32,
        /// Owner encoding (session, container or TTL marker).
        pub ephemeral_owner: i64,
        /// zxid of the last child create or delete.
        pub pzxid: i64,
    }
}

jute_record! {
    /// One identity of a connection as `whoAmI` reports it.
    pub struct ClientInfo { pub auth_scheme: String, pub user: String }
}

/// First message of a connection (no request header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// Highest zxid the client has seen.
    pub last_zxid_seen: i64,
    /// Requested session timeout, ms.
    pub timeout: i32,
    /// Session to resume, or 0 for a new one.
    pub session_id: i64,
    /// Password of the session to resume.
    pub passwd: Vec<u8>,
    /// `Some(can_be_read_only)` if the client sent the trailing byte; `None` for old clients.
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_i32(self.protocol_version);
        w.put_i64(self.last_zxid_seen);
        w.put_i32(self.timeout);
        w.put_i64(self.session_id);
        w.put_buffer(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            w.put_bool(ro);
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.unwrap_or_default().to_vec(),
            // ZooKeeper: "try to read one more boolean, EOF means an old client".
            read_only: if r.is_empty() {
                None
            } else {
                Some(r.read_bool()?)
            },
        })
    }
}

/// First message from the server (no reply header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// Negotiated timeout; 0 means the session is invalid.
    pub timeout: i32,
    /// Session id; 0 if invalid.
    pub session_id: i64,
    /// Session password (16 bytes).
    pub passwd: Vec<u8>,
    /// Written only if the request carried the readOnly byte.
    pub read_only: Option<bool>,
}

impl Record for ConnectResponse {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_i32(self.protocol_version);
        w.put_i32(self.timeout);
        w.put_i64(self.session_id);
        w.put_buffer(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            w.put_bool(ro);
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.unwrap_or_default().to_vec(),
            read_only: if r.is_empty() {
                None
            } else {
                Some(r.read_bool()?)
            },
        })
    }
}

jute_record! {
    /// Header of every request after the handshake.
    pub struct RequestHeader { pub xid: i32, pub op: i32 }
}

jute_record! {
    /// Header of every reply and notification.
    pub struct ReplyHeader { pub xid: i32, pub zxid: i64, pub err: i32 }
}

jute_record! {
    /// Per-op header inside multi requests and responses.
    pub struct MultiHeader { pub op: i32, pub done: bool, pub err: i32 }
}

jute_record! {
    /// `addauth` packet (xid -4).
    pub struct AuthPacket { pub auth_type: i32, pub scheme: String, pub auth: Option<Vec<u8>> }
}

jute_record! {
    /// Watches to restore on reconnect (op 101).
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    /// Watches to restore on reconnect, with persistent ones (op 105).
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    /// getData request.
    pub struct GetDataRequest { pub path: String, pub watch: bool }
}

jute_record! {
    /// setData request.
    pub struct SetDataRequest { pub path: String, pub data: Option<Vec<u8>>, pub version: i32 }
}

jute_record! {
    /// reconfig request.
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// SASL token from the client.
    pub struct GetSaslRequest { pub token: Option<Vec<u8>> }
}

jute_record! {
    /// SASL token from the server.
    pub struct SetSaslResponse { pub token: Option<Vec<u8>> }
}

jute_record! {
    /// create / create2 / createContainer request.
    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }
}

jute_record! {
    /// createTTL request.
    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }
}

jute_record! {
    /// delete request.
    pub struct DeleteRequest { pub path: String, pub version: i32 }
}

jute_record! {
    /// Request naming just a path (exists-less ops: sync, getACL, getAllChildrenNumber,
    /// getEphemerals, deleteContainer).
    pub struct PathRequest { pub path: String }
}

jute_record! {
    /// getChildren / getChildren2 / exists request.
    pub struct PathWatchRequest { pub path: String, pub watch: bool }
}

jute_record! {
    /// check request (multi only).
    pub struct CheckVersionRequest { pub path: String, pub version: i32 }
}

jute_record! {
    /// setACL request.
    pub struct SetAclRequest { pub path: String, pub acl: Vec<Acl>, pub version: i32 }
}

jute_record! {
    /// addWatch request.
    pub struct AddWatchRequest { pub path: String, pub mode: i32 }
}

jute_record! {
    /// checkWatches / removeWatches request.
    pub struct WatchesRequest { pub path: String, pub watcher_type: i32 }
}

jute_record! {
    /// A watch notification body.
    pub struct WatcherEvent { pub event_type: i32, pub state: i32, pub path: String }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip<T: Record + PartialEq + std::fmt::Debug>(v: &T) {
        let bytes = v.to_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(&T::read(&mut r).unwrap(), v);
        assert!(
            r.is_empty(),
            "decoder must consume exactly what the encoder wrote"
        );
    }

    proptest! {
        #[test]
        fn data_records(a in any::<Acl>(), s in any::<Stat>(), p in any::<StatPersisted>(), c in any::<ClientInfo>()) {
            round_trip(&a); round_trip(&s); round_trip(&p); round_trip(&c);
        }

        #[test]
        fn headers(h in any::<RequestHeader>(), r in any::<ReplyHeader>(), m in any::<MultiHeader>(), a in any::<AuthPacket>()) {
            round_trip(&h); round_trip(&r); round_trip(&m); round_trip(&a);
        }

        #[test]
        fn requests(
            a in any::<GetDataRequest>(), b in any::<SetDataRequest>(), c in any::<ReconfigRequest>(),
            d in any::<CreateRequest>(), e in any::<CreateTtlRequest>(), f in any::<DeleteRequest>(),
            g in any::<PathRequest>(), h in any::<PathWatchRequest>(), i in any::<CheckVersionRequest>(),
            j in any::<SetAclRequest>(), k in any::<AddWatchRequest>(), l in any::<WatchesRequest>(),
        ) {
            round_trip(&a); round_trip(&b); round_trip(&c); round_trip(&d); round_trip(&e);
            round_trip(&f); round_trip(&g); round_trip(&h); round_trip(&i); round_trip(&j);
            round_trip(&k); round_trip(&l);
        }

        #[test]
        fn other_records(a in any::<SetWatches>(), b in any::<SetWatches2>(), c in any::<WatcherEvent>(),
                         d in any::<GetSaslRequest>(), e in any::<SetSaslResponse>()) {
            round_trip(&a); round_trip(&b); round_trip(&c); round_trip(&d); round_trip(&e);
        }

        #[test]
        fn connect_records(zxid in any::<i64>(), t in any::<i32>(), sid in any::<i64>(),
                           pw in proptest::collection::vec(any::<u8>(), 16), ro in any::<Option<bool>>()) {
            round_trip(&ConnectRequest { protocol_version: 0, last_zxid_seen: zxid, timeout: t, session_id: sid, passwd: pw.clone(), read_only: ro });
            round_trip(&ConnectResponse { protocol_version: 0, timeout: t, session_id: sid, passwd: pw, read_only: ro });
        }
    }

    #[test]
    fn stat_is_68_bytes_and_connect_sizes_match_zookeeper() {
        assert_eq!(Stat::default().to_bytes().len(), 68);
        assert_eq!(StatPersisted::default().to_bytes().len(), 60);
        let mut req = ConnectRequest {
            passwd: vec![0; 16],
            read_only: Some(false),
            ..Default::default()
        };
        assert_eq!(req.to_bytes().len(), 45);
        req.read_only = None;
        assert_eq!(req.to_bytes().len(), 44);
        let resp = ConnectResponse {
            passwd: vec![0; 16],
            read_only: Some(false),
            ..Default::default()
        };
        assert_eq!(resp.to_bytes().len(), 37);
    }
}
