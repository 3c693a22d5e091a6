//! Transaction bodies as ZooKeeper logs them: `TxnHeader ‖ txn record ‖ [TxnDigest]`
//! (ZooKeeper: `Util.marshallTxnEntry`, `SerializeUtils.deserializeTxn`).
//!
//! Optional parts are detected by end of input, as ZooKeeper's readers do: the trailing
//! `TxnDigest` (3.6+), the body of `closeSession` (3.6+) and `CreateTxn.parentCVersion`
//! (absent in pre-3.3 `CreateTxnV0` records, read as −1).

use menagerie_proto::jute::{DecodeError, JuteWrite, Reader, Record};
use menagerie_proto::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, Txn, TxnDigest, TxnHeader,
};

use crate::{Error, Result};

/// Numeric txn types (`TxnHeader.type`, ZooKeeper: `ZooDefs.OpCode`).
pub mod txn_type {
    /// create.
    pub const CREATE: i32 = 1;
    /// delete.
    pub const DELETE: i32 = 2;
    /// setData.
    pub const SET_DATA: i32 = 5;
    /// setACL.
    pub const SET_ACL: i32 = 7;
    /// check (only inside multi).
    pub const CHECK: i32 = 13;
    /// multi.
    pub const MULTI: i32 = 14;
    /// create2.
    pub const CREATE2: i32 = 15;
    /// reconfig.
    pub const RECONFIG: i32 = 16;
    /// createContainer.
    pub const CREATE_CONTAINER: i32 = 19;
    /// deleteContainer.
    pub const DELETE_CONTAINER: i32 = 20;
    /// createTTL.
    pub const CREATE_TTL: i32 = 21;
    /// createSession.
    pub const CREATE_SESSION: i32 = -10;
    /// closeSession.
    pub const CLOSE_SESSION: i32 = -11;
    /// error (a failed write).
    pub const ERROR: i32 = -1;
}

/// A typed transaction record: one variant per logged type, wrapping the Jute record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnRecord {
    /// create (1).
    Create(CreateTxn),
    /// create2 (15).
    Create2(CreateTxn),
    /// createContainer (19).
    CreateContainer(CreateContainerTxn),
    /// createTTL (21).
    CreateTtl(CreateTtlTxn),
    /// delete (2).
    Delete(DeleteTxn),
    /// deleteContainer (20).
    DeleteContainer(DeleteTxn),
    /// setData (5).
    SetData(SetDataTxn),
    /// reconfig (16): a setData of `/zookeeper/config` with version −1.
    Reconfig(SetDataTxn),
    /// setACL (7).
    SetAcl(SetAclTxn),
    /// check (13); valid only inside a multi.
    Check(CheckVersionTxn),
    /// createSession (−10).
    CreateSession(CreateSessionTxn),
    /// closeSession (−11); `None` = no body (before 3.6, or
    /// `zookeeper.closeSessionTxn.enabled=false`).
    CloseSession(Option<CloseSessionTxn>),
    /// error (−1): a failed write.
    Error(ErrorTxn),
    /// multi (14): sub-txns sharing the header's zxid.
    Multi(Vec<TxnRecord>),
}

/// A decoded log-entry body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedTxn {
    /// The header (session, cxid, zxid, time, type).
    pub header: TxnHeader,
    /// The record its type announces.
    pub record: TxnRecord,
    /// The expected tree digest after applying it (3.6+, absent for error txns).
    pub digest: Option<TxnDigest>,
}

impl TxnRecord {
    /// The type as logged (`TxnHeader.type`, or `Txn.type` inside a multi).
    pub fn txn_type(&self) -> i32 {
        use txn_type::*;
        match self {
            TxnRecord::Create(_) => CREATE,
            TxnRecord::Create2(_) => CREATE2,
            TxnRecord::CreateContainer(_) => CREATE_CONTAINER,
            TxnRecord::CreateTtl(_) => CREATE_TTL,
            TxnRecord::Delete(_) => DELETE,
            TxnRecord::DeleteContainer(_) => DELETE_CONTAINER,
            TxnRecord::SetData(_) => SET_DATA,
            TxnRecord::Reconfig(_) => RECONFIG,
            TxnRecord::SetAcl(_) => SET_ACL,
            TxnRecord::Check(_) => CHECK,
            TxnRecord::CreateSession(_) => CREATE_SESSION,
            TxnRecord::CloseSession(_) => CLOSE_SESSION,
            TxnRecord::Error(_) => ERROR,
            TxnRecord::Multi(_) => MULTI,
        }
    }

    /// Appends the record's encoding (nothing for a body-less closeSession).
    pub fn write(&self, w: &mut Vec<u8>) {
        match self {
            TxnRecord::Create(t) | TxnRecord::Create2(t) => t.write(w),
            TxnRecord::CreateContainer(t) => t.write(w),
            TxnRecord::CreateTtl(t) => t.write(w),
            TxnRecord::Delete(t) | TxnRecord::DeleteContainer(t) => t.write(w),
            TxnRecord::SetData(t) | TxnRecord::Reconfig(t) => t.write(w),
            TxnRecord::SetAcl(t) => t.write(w),
            TxnRecord::Check(t) => t.write(w),
            TxnRecord::CreateSession(t) => t.write(w),
            TxnRecord::CloseSession(t) => {
                if let Some(t) = t {
                    t.write(w);
                }
            }
            TxnRecord::Error(t) => t.write(w),
            TxnRecord::Multi(subs) => {
                // ZooKeeper: MultiTxn{vector<Txn{int type, buffer data}>}.
                w.put_i32(subs.len() as i32);
                for s in subs {
                    let mut data = Vec::new();
                    s.write(&mut data);
                    Txn {
                        txn_type: s.txn_type(),
                        data: Some(data),
                    }
                    .write(w);
                }
            }
        }
    }

    /// Decodes a top-level record of type `txn_type` (ZooKeeper:
    /// `SerializeUtils.deserializeTxn`).
    pub fn decode(txn_type: i32, r: &mut Reader<'_>) -> Result<TxnRecord> {
        use txn_type::*;
        let start = r.clone();
        Ok(match txn_type {
            CREATE => match CreateTxn::read(r) {
                Ok(t) => TxnRecord::Create(t),
                // ZooKeeper: "perhaps this is a V0 Create" — no parentCVersion; −1 makes
                // processTxn use the parent's cversion + 1.
                Err(DecodeError::UnexpectedEof { .. }) => {
                    *r = start;
                    TxnRecord::Create(CreateTxn {
                        path: dec(r.read_string(), "CreateTxnV0")?,
                        data: dec(Record::read(r), "CreateTxnV0")?,
                        acl: dec(Record::read(r), "CreateTxnV0")?,
                        ephemeral: dec(r.read_bool(), "CreateTxnV0")?,
                        parent_cversion: -1,
                    })
                }
                Err(e) => return Err(decode_err("CreateTxn", e)),
            },
            CLOSE_SESSION => {
                if r.is_empty() {
                    TxnRecord::CloseSession(None)
                } else {
                    match CloseSessionTxn::read(r) {
                        Ok(t) => TxnRecord::CloseSession(Some(t)),
                        // ZooKeeper: "perhaps this is before CloseSessionTxn was added". Any
                        // failure counts, not only EOF: with closeSessionTxn disabled and
                        // digests enabled the bytes after the header are a TxnDigest, which
                        // ZooKeeper itself then fails to read ("Unreasonable length").
                        Err(_) => {
                            *r = start;
                            TxnRecord::CloseSession(None)
                        }
                    }
                }
            }
            MULTI => {
                let multi = dec(MultiTxn::read(r), "MultiTxn")?;
                let mut subs = Vec::with_capacity(multi.txns.len());
                for t in multi.txns {
                    subs.push(Self::decode_sub(t)?);
                }
                TxnRecord::Multi(subs)
            }
            // A top-level check is what ZooKeeper 3.4–3.8 could log for a standalone
            // `check` request, and could then not read back (ZOOKEEPER-2623).
            CHECK => return Err(Error::UnsupportedTxn { txn_type }),
            _ => Self::decode_simple(txn_type, r)?,
        })
    }

    /// The types with a plain record, shared by top level and multi.
    fn decode_simple(txn_type: i32, r: &mut Reader<'_>) -> Result<TxnRecord> {
        use txn_type::*;
        Ok(match txn_type {
            CREATE => TxnRecord::Create(dec(Record::read(r), "CreateTxn")?),
            CREATE2 => TxnRecord::Create2(dec(Record::read(r), "CreateTxn")?),
            CREATE_CONTAINER => {
                TxnRecord::CreateContainer(dec(Record::read(r), "CreateContainerTxn")?)
            }
            CREATE_TTL => TxnRecord::CreateTtl(dec(Record::read(r), "CreateTTLTxn")?),
            DELETE => TxnRecord::Delete(dec(Record::read(r), "DeleteTxn")?),
            DELETE_CONTAINER => TxnRecord::DeleteContainer(dec(Record::read(r), "DeleteTxn")?),
            SET_DATA => TxnRecord::SetData(dec(Record::read(r), "SetDataTxn")?),
            RECONFIG => TxnRecord::Reconfig(dec(Record::read(r), "SetDataTxn")?),
            SET_ACL => TxnRecord::SetAcl(dec(Record::read(r), "SetACLTxn")?),
            CHECK => TxnRecord::Check(dec(Record::read(r), "CheckVersionTxn")?),
            CREATE_SESSION => TxnRecord::CreateSession(dec(Record::read(r), "CreateSessionTxn")?),
            ERROR => TxnRecord::Error(dec(Record::read(r), "ErrorTxn")?),
            _ => return Err(Error::UnsupportedTxn { txn_type }),
        })
    }

    /// A multi's sub-txn (ZooKeeper: `DataTree.processTxn`, case multi): only the types a
    /// multi can produce; a null buffer is invalid.
    fn decode_sub(t: Txn) -> Result<TxnRecord> {
        use txn_type::*;
        match t.txn_type {
            CREATE | CREATE2 | CREATE_CONTAINER | CREATE_TTL | DELETE | DELETE_CONTAINER
            | SET_DATA | CHECK | ERROR => {}
            other => return Err(Error::UnsupportedTxn { txn_type: other }),
        }
        let data = t.data.ok_or(Error::Decode {
            what: "multi sub-txn",
            source: DecodeError::InvalidValue {
                what: "null sub-txn buffer",
                value: t.txn_type.into(),
            },
        })?;
        Self::decode_simple(t.txn_type, &mut Reader::new(&data))
    }
}

fn dec<T>(r: std::result::Result<T, DecodeError>, what: &'static str) -> Result<T> {
    r.map_err(|e| decode_err(what, e))
}

fn decode_err(what: &'static str, source: DecodeError) -> Error {
    Error::Decode { what, source }
}

/// Encodes a log-entry body: header, record, optional digest (ZooKeeper:
/// `Util.marshallTxnEntry`). The header's type should be `record.txn_type()`.
pub fn encode_txn(header: &TxnHeader, record: &TxnRecord, digest: Option<&TxnDigest>) -> Vec<u8> {
    let mut v = header.to_bytes();
    record.write(&mut v);
    if let Some(d) = digest {
        d.write(&mut v);
    }
    v
}

/// Decodes just the header of a log-entry body.
pub fn decode_header(body: &[u8]) -> Result<TxnHeader> {
    dec(TxnHeader::read(&mut Reader::new(body)), "TxnHeader")
}

/// Decodes a whole log-entry body (or PROPOSAL payload). Trailing bytes after the digest are
/// ignored, as ZooKeeper ignores them; a digest cut short counts as absent.
pub fn decode_txn(body: &[u8]) -> Result<DecodedTxn> {
    let mut r = Reader::new(body);
    let header = dec(TxnHeader::read(&mut r), "TxnHeader")?;
    let record = TxnRecord::decode(header.txn_type, &mut r)?;
    let digest = TxnDigest::read(&mut r).ok();
    Ok(DecodedTxn {
        header,
        record,
        digest,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use menagerie_proto::records::{Acl, Id};

    fn header(t: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x0100000763740000,
            cxid: 1,
            zxid: 2,
            time: 1795274139084,
            txn_type: t,
        }
    }

    /// Spec 10.2: the 91-byte body of `create /a "hello" world:anyone:cdrwa` at zxid 2,
    /// written by ZooKeeper 3.8.0, spelled out field by field.
    pub(crate) fn spec_create_body() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&[0x01, 0x00, 0x00, 0x07, 0x63, 0x74, 0x00, 0x00]); // clientId
        v.extend_from_slice(&[0, 0, 0, 1]); // cxid
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]); // zxid
        v.extend_from_slice(&1795274139084i64.to_be_bytes()); // time
        v.extend_from_slice(&[0, 0, 0, 1]); // type = create
        v.extend_from_slice(&[0, 0, 0, 2, b'/', b'a']); // path
        v.extend_from_slice(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']); // data
        v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 31]); // acl count, perms
        v.extend_from_slice(&[0, 0, 0, 5, b'w', b'o', b'r', b'l', b'd']);
        v.extend_from_slice(&[0, 0, 0, 6, b'a', b'n', b'y', b'o', b'n', b'e']);
        v.push(0); // ephemeral = false
        v.extend_from_slice(&[0, 0, 0, 1]); // parentCVersion
        v.extend_from_slice(&[0, 0, 0, 2]); // digest version
        v.extend_from_slice(&[0, 0, 0, 0x01, 0x4f, 0xf8, 0xef, 0x00]); // tree digest
        v
    }

    pub(crate) fn spec_create_txn() -> DecodedTxn {
        DecodedTxn {
            header: header(1),
            record: TxnRecord::Create(CreateTxn {
                path: "/a".into(),
                data: Some(b"hello".to_vec()),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_cversion: 1,
            }),
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: 0x14ff8ef00,
            }),
        }
    }

    #[test]
    fn spec_example_decodes_and_encodes_byte_exactly() {
        let body = spec_create_body();
        assert_eq!(body.len(), 91);
        let t = spec_create_txn();
        assert_eq!(decode_txn(&body).unwrap(), t);
        assert_eq!(encode_txn(&t.header, &t.record, t.digest.as_ref()), body);
        // The same body without its digest.
        let d = decode_txn(&body[..79]).unwrap();
        assert_eq!(d.digest, None);
        assert_eq!(d.record, t.record);
        // A digest cut short counts as absent.
        assert_eq!(decode_txn(&body[..85]).unwrap().digest, None);
    }

    #[test]
    fn create_v0_reads_parent_cversion_minus_one() {
        let body = spec_create_body();
        // Header + CreateTxn without parentCVersion (and no digest).
        let v0 = &body[..75];
        let d = decode_txn(v0).unwrap();
        let TxnRecord::Create(c) = d.record else {
            panic!("not a create")
        };
        assert_eq!(c.parent_cversion, -1);
        assert_eq!(c.path, "/a");
        // create2 has no V0 form.
        let mut h2 = body[..75].to_vec();
        h2[31] = 15;
        assert!(decode_txn(&h2).is_err());
    }

    #[test]
    fn close_session_with_and_without_body() {
        let h = header(-11);
        let none = encode_txn(&h, &TxnRecord::CloseSession(None), None);
        assert_eq!(none.len(), 32);
        assert_eq!(
            decode_txn(&none).unwrap().record,
            TxnRecord::CloseSession(None)
        );
        let rec = TxnRecord::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: vec!["/e1".into(), "/e2".into()],
        }));
        let dg = TxnDigest {
            version: 2,
            tree_digest: -5,
        };
        let with = encode_txn(&h, &rec, Some(&dg));
        let d = decode_txn(&with).unwrap();
        assert_eq!((d.record, d.digest), (rec, Some(dg.clone())));
        // No body but a digest (closeSessionTxn disabled): the digest is not mistaken for
        // a path list.
        let bare = encode_txn(&h, &TxnRecord::CloseSession(None), Some(&dg));
        let d = decode_txn(&bare).unwrap();
        assert_eq!(
            (d.record, d.digest),
            (TxnRecord::CloseSession(None), Some(dg))
        );
    }

    #[test]
    fn every_type_round_trips() {
        let acl = vec![Acl {
            perms: 1,
            id: Id {
                scheme: "digest".into(),
                id: "u:x".into(),
            },
        }];
        let create = CreateTxn {
            path: "/c".into(),
            data: None,
            acl: acl.clone(),
            ephemeral: true,
            parent_cversion: 7,
        };
        let set = SetDataTxn {
            path: "/s".into(),
            data: Some(vec![]),
            version: 3,
        };
        let records = vec![
            TxnRecord::Create(create.clone()),
            TxnRecord::Create2(create.clone()),
            TxnRecord::CreateContainer(CreateContainerTxn {
                path: "/k".into(),
                data: Some(b"d".to_vec()),
                acl: acl.clone(),
                parent_cversion: 1,
            }),
            TxnRecord::CreateTtl(CreateTtlTxn {
                path: "/t".into(),
                data: None,
                acl: acl.clone(),
                parent_cversion: 2,
                ttl: 1000,
            }),
            TxnRecord::Delete(DeleteTxn { path: "/d".into() }),
            TxnRecord::DeleteContainer(DeleteTxn { path: "/k".into() }),
            TxnRecord::SetData(set.clone()),
            TxnRecord::Reconfig(SetDataTxn {
                path: "/zookeeper/config".into(),
                data: Some(b"server.1=...".to_vec()),
                version: -1,
            }),
            TxnRecord::SetAcl(SetAclTxn {
                path: "/a".into(),
                acl,
                version: 1,
            }),
            TxnRecord::CreateSession(CreateSessionTxn { timeout: 30000 }),
            TxnRecord::Error(ErrorTxn { err: -101 }),
            TxnRecord::Multi(vec![
                TxnRecord::Create2(create),
                TxnRecord::Check(CheckVersionTxn {
                    path: "/s".into(),
                    version: 2,
                }),
                TxnRecord::SetData(set),
                TxnRecord::Error(ErrorTxn { err: -2 }),
            ]),
        ];
        for rec in records {
            let h = header(rec.txn_type());
            for digest in [
                None,
                Some(TxnDigest {
                    version: 2,
                    tree_digest: 42,
                }),
            ] {
                let body = encode_txn(&h, &rec, digest.as_ref());
                let d = decode_txn(&body).unwrap();
                assert_eq!(d.header, h);
                assert_eq!(d.record, rec);
                assert_eq!(d.digest, digest);
            }
        }
    }

    #[test]
    fn unsupported_types_are_errors() {
        for t in [13, 0, 3, 99, -12] {
            let body = header(t).to_bytes();
            assert!(
                matches!(decode_txn(&body), Err(Error::UnsupportedTxn { txn_type }) if txn_type == t)
            );
        }
        // setACL is not a valid sub-txn of a multi.
        let multi = MultiTxn {
            txns: vec![Txn {
                txn_type: 7,
                data: Some(vec![]),
            }],
        };
        let mut body = header(14).to_bytes();
        multi.write(&mut body);
        assert!(matches!(
            decode_txn(&body),
            Err(Error::UnsupportedTxn { txn_type: 7 })
        ));
        // A null sub-txn buffer.
        let multi = MultiTxn {
            txns: vec![Txn {
                txn_type: 2,
                data: None,
            }],
        };
        let mut body = header(14).to_bytes();
        multi.write(&mut body);
        assert!(decode_txn(&body).is_err());
        // A short header.
        assert!(decode_txn(&body[..20]).is_err());
    }
}
