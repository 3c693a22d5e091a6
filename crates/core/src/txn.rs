//! Transactions: what the prep step produces, the log stores, and apply executes.
//!
//! Bodies are ZooKeeper's own txn records, so that the durability layer can write them in
//! ZooKeeper's log format unchanged.

use menagerie_proto::jute::{DecodeError, JuteWrite, Reader, Record};
use menagerie_proto::opcode::OpCode;
use menagerie_proto::txn::*;

/// A transaction body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// create (opcode 1) or create2 (15); `op` says which.
    Create {
        /// `Create` or `Create2`.
        op: OpCode,
        /// The record.
        txn: CreateTxn,
    },
    /// createContainer.
    CreateContainer(CreateContainerTxn),
    /// createTTL.
    CreateTtl(CreateTtlTxn),
    /// delete.
    Delete(DeleteTxn),
    /// deleteContainer (container and TTL reaping).
    DeleteContainer(DeleteTxn),
    /// setData.
    SetData(SetDataTxn),
    /// setACL.
    SetAcl(SetAclTxn),
    /// check (multi only).
    Check(CheckVersionTxn),
    /// createSession.
    CreateSession(CreateSessionTxn),
    /// closeSession with the ephemerals to delete.
    CloseSession(CloseSessionTxn),
    /// A failed write.
    Error(ErrorTxn),
    /// multi: all sub-txns share one zxid.
    Multi(Vec<TxnBody>),
}

impl TxnBody {
    /// The txn type as logged (`TxnHeader.type`, or `Txn.type` inside a multi).
    pub fn txn_type(&self) -> i32 {
        match self {
            TxnBody::Create { op, .. } => op.code(),
            TxnBody::CreateContainer(_) => OpCode::CreateContainer.code(),
            TxnBody::CreateTtl(_) => OpCode::CreateTtl.code(),
            TxnBody::Delete(_) => OpCode::Delete.code(),
            TxnBody::DeleteContainer(_) => OpCode::DeleteContainer.code(),
            TxnBody::SetData(_) => OpCode::SetData.code(),
            TxnBody::SetAcl(_) => OpCode::SetAcl.code(),
            TxnBody::Check(_) => OpCode::Check.code(),
            TxnBody::CreateSession(_) => OpCode::CreateSession.code(),
            TxnBody::CloseSession(_) => OpCode::CloseSession.code(),
            TxnBody::Error(_) => OpCode::Error.code(),
            TxnBody::Multi(_) => OpCode::Multi.code(),
        }
    }

    /// Appends the record's encoding.
    pub fn write(&self, w: &mut Vec<u8>) {
        match self {
            TxnBody::Create { txn, .. } => txn.write(w),
            TxnBody::CreateContainer(t) => t.write(w),
            TxnBody::CreateTtl(t) => t.write(w),
            TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => t.write(w),
            TxnBody::SetData(t) => t.write(w),
            TxnBody::SetAcl(t) => t.write(w),
            TxnBody::Check(t) => t.write(w),
            TxnBody::CreateSession(t) => t.write(w),
            TxnBody::CloseSession(t) => t.write(w),
            TxnBody::Error(t) => t.write(w),
            TxnBody::Multi(subs) => {
                w.put_i32(subs.len() as i32);
                for s in subs {
                    Txn {
                        txn_type: s.txn_type(),
                        data: Some(s.to_bytes()),
                    }
                    .write(w);
                }
            }
        }
    }

    /// Decodes a body of type `txn_type` (as logged by ZooKeeper or by us). Optional trailing
    /// parts are detected by end of input as ZooKeeper does: a closeSession without body
    /// (before 3.6) has an empty path list.
    pub fn decode(txn_type: i32, r: &mut Reader<'_>) -> Result<TxnBody, DecodeError> {
        let op = OpCode::from_code(txn_type).ok_or(DecodeError::InvalidValue {
            what: "txn type",
            value: txn_type.into(),
        })?;
        Ok(match op {
            OpCode::Create | OpCode::Create2 => TxnBody::Create {
                op,
                txn: CreateTxn::read(r)?,
            },
            OpCode::CreateContainer => TxnBody::CreateContainer(Record::read(r)?),
            OpCode::CreateTtl => TxnBody::CreateTtl(Record::read(r)?),
            OpCode::Delete => TxnBody::Delete(Record::read(r)?),
            OpCode::DeleteContainer => TxnBody::DeleteContainer(Record::read(r)?),
            OpCode::SetData => TxnBody::SetData(Record::read(r)?),
            OpCode::SetAcl => TxnBody::SetAcl(Record::read(r)?),
            OpCode::Check => TxnBody::Check(Record::read(r)?),
            OpCode::CreateSession => TxnBody::CreateSession(Record::read(r)?),
            OpCode::CloseSession => {
                let start = r.clone();
                // Before 3.6 (or with closeSessionTxn disabled) there is no body, but a
                // TxnDigest may follow: whatever does not read as a body is left for it.
                TxnBody::CloseSession(CloseSessionTxn::read(r).unwrap_or_else(|_| {
                    *r = start;
                    CloseSessionTxn::default()
                }))
            }
            OpCode::Error => TxnBody::Error(Record::read(r)?),
            OpCode::Multi => {
                let multi = MultiTxn::read(r)?;
                let mut subs = Vec::with_capacity(multi.txns.len());
                for t in multi.txns {
                    let data = t.data.unwrap_or_default();
                    subs.push(TxnBody::decode(t.txn_type, &mut Reader::new(&data))?);
                }
                TxnBody::Multi(subs)
            }
            _ => {
                return Err(DecodeError::InvalidValue {
                    what: "txn type",
                    value: txn_type.into(),
                });
            }
        })
    }

    /// The record's encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }

    /// Whether this is a failed write (alone, or a multi with a failed op).
    pub fn is_error(&self) -> bool {
        match self {
            TxnBody::Error(_) => true,
            TxnBody::Multi(subs) => subs.iter().any(TxnBody::is_error),
            _ => false,
        }
    }
}

/// A transaction with its header, as proposed, logged and applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    /// Session, cxid, zxid, time and type.
    pub header: TxnHeader,
    /// The body.
    pub body: TxnBody,
    /// The tree digest expected once this txn is applied (ZooKeeper 3.6+ logs it after
    /// every txn but a failed one; spec 10 §10.2).
    pub digest: Option<TxnDigest>,
}

impl LoggedTxn {
    /// Encodes header, body and digest as one log record body (ZooKeeper:
    /// `Util.marshallTxnEntry`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.header.to_bytes();
        self.body.write(&mut v);
        if let Some(d) = &self.digest {
            d.write(&mut v);
        }
        v
    }

    /// Decodes a log record body: header, then the body its type announces, then the
    /// TxnDigest if there is one (a missing or unreadable digest reads as none, as in
    /// ZooKeeper).
    pub fn from_bytes(bytes: &[u8]) -> Result<LoggedTxn, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = TxnHeader::read(&mut r)?;
        let body = TxnBody::decode(header.txn_type, &mut r)?;
        let digest = if r.is_empty() {
            None
        } else {
            TxnDigest::read(&mut r).ok()
        };
        Ok(LoggedTxn {
            header,
            body,
            digest,
        })
    }

    /// The txn's zxid.
    pub fn zxid(&self) -> i64 {
        self.header.zxid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use menagerie_proto::jute::Reader;

    #[test]
    fn logged_txns_round_trip() {
        let txn = LoggedTxn {
            header: TxnHeader {
                client_id: 5,
                cxid: 1,
                zxid: 2,
                time: 3,
                txn_type: 14,
            },
            body: TxnBody::Multi(vec![
                TxnBody::Create {
                    op: OpCode::Create2,
                    txn: CreateTxn {
                        path: "/a".into(),
                        data: None,
                        acl: vec![],
                        ephemeral: true,
                        parent_cversion: 4,
                    },
                },
                TxnBody::SetData(SetDataTxn {
                    path: "/a".into(),
                    data: Some(b"x".to_vec()),
                    version: 1,
                }),
            ]),
            digest: None,
        };
        assert_eq!(LoggedTxn::from_bytes(&txn.to_bytes()).unwrap(), txn);
        let with_digest = LoggedTxn {
            digest: Some(TxnDigest {
                version: 2,
                tree_digest: 0x14ff8ef00,
            }),
            ..txn.clone()
        };
        assert_eq!(
            LoggedTxn::from_bytes(&with_digest.to_bytes()).unwrap(),
            with_digest
        );
        // A pre-3.6 closeSession has no body; with closeSessionTxn disabled it may still
        // carry a digest.
        let mut header = txn.header.clone();
        header.txn_type = -11;
        let old = LoggedTxn::from_bytes(&header.to_bytes()).unwrap();
        assert_eq!(old.body, TxnBody::CloseSession(CloseSessionTxn::default()));
        let mut bare = header.to_bytes();
        TxnDigest {
            version: 2,
            tree_digest: 0x51c6d660,
        }
        .write(&mut bare);
        let bare = LoggedTxn::from_bytes(&bare).unwrap();
        assert_eq!(bare.body, TxnBody::CloseSession(CloseSessionTxn::default()));
        assert_eq!(bare.digest.map(|d| d.tree_digest), Some(0x51c6d660));
    }

    #[test]
    fn multi_encodes_as_multi_txn() {
        let body = TxnBody::Multi(vec![
            TxnBody::Delete(DeleteTxn { path: "/a".into() }),
            TxnBody::Error(ErrorTxn { err: -101 }),
        ]);
        let decoded = MultiTxn::read(&mut Reader::new(&body.to_bytes())).unwrap();
        assert_eq!(decoded.txns.len(), 2);
        assert_eq!(decoded.txns[0].txn_type, 2);
        assert_eq!(decoded.txns[1].txn_type, -1);
        assert!(body.is_error());
    }
}
