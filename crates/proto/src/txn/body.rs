//! [`TxnBody`]: the typed record that follows a [`TxnHeader`](super::TxnHeader), one variant
//! per type ZooKeeper 3.4-3.9 logs (ZooKeeper: `SerializeUtils.deserializeTxn`,
//! `DataTree.processTxn`).
//!
//! Optional parts are detected by end of input, as ZooKeeper's readers do: the body of
//! `closeSession` (3.6+) and `CreateTxn.parentCVersion` (absent in pre-3.3 `CreateTxnV0`
//! records, read as -1).

use crate::jute::{DecodeError, JuteWrite, Reader, Record};
use crate::opcode::OpCode;

use super::TxnError;
use super::records::*;

/// A transaction body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// create (1); also a pre-3.3 `CreateTxnV0`, decoded with `parent_cversion` -1.
    Create(CreateTxn),
    /// create2 (15).
    Create2(CreateTxn),
    /// createContainer (19).
    CreateContainer(CreateContainerTxn),
    /// createTTL (21).
    CreateTtl(CreateTtlTxn),
    /// delete (2).
    Delete(DeleteTxn),
    /// deleteContainer (20): container and TTL reaping.
    DeleteContainer(DeleteTxn),
    /// setData (5).
    SetData(SetDataTxn),
    /// reconfig (16): a setData of `/zookeeper/config` whose data is the new configuration.
    Reconfig(SetDataTxn),
    /// setACL (7).
    SetAcl(SetAclTxn),
    /// check (13); valid only inside a multi.
    Check(CheckVersionTxn),
    /// createSession (-10).
    CreateSession(CreateSessionTxn),
    /// closeSession (-11) with the ephemerals to delete; `None` = no body (before 3.6, or
    /// `zookeeper.closeSessionTxn.enabled=false`): the session's ephemerals are deleted all
    /// the same.
    CloseSession(Option<CloseSessionTxn>),
    /// error (-1): a failed write, which still consumes its zxid.
    Error(ErrorTxn),
    /// multi (14): sub-txns sharing the header's zxid.
    Multi(Vec<TxnBody>),
}

impl TxnBody {
    /// The opcode of this txn type.
    pub fn op(&self) -> OpCode {
        match self {
            TxnBody::Create(_) => OpCode::Create,
            TxnBody::Create2(_) => OpCode::Create2,
            TxnBody::CreateContainer(_) => OpCode::CreateContainer,
            TxnBody::CreateTtl(_) => OpCode::CreateTtl,
            TxnBody::Delete(_) => OpCode::Delete,
            TxnBody::DeleteContainer(_) => OpCode::DeleteContainer,
            TxnBody::SetData(_) => OpCode::SetData,
            TxnBody::Reconfig(_) => OpCode::Reconfig,
            TxnBody::SetAcl(_) => OpCode::SetAcl,
            TxnBody::Check(_) => OpCode::Check,
            TxnBody::CreateSession(_) => OpCode::CreateSession,
            TxnBody::CloseSession(_) => OpCode::CloseSession,
            TxnBody::Error(_) => OpCode::Error,
            TxnBody::Multi(_) => OpCode::Multi,
        }
    }

    /// The type as logged (`TxnHeader.type`, or `Txn.type` inside a multi).
    pub fn txn_type(&self) -> i32 {
        self.op().code()
    }

    /// Whether this is a failed write (alone, or a multi with a failed op).
    pub fn is_error(&self) -> bool {
        match self {
            TxnBody::Error(_) => true,
            TxnBody::Multi(subs) => subs.iter().any(TxnBody::is_error),
            _ => false,
        }
    }

    /// Appends the record's encoding (nothing for a body-less closeSession).
    pub fn write(&self, w: &mut Vec<u8>) {
        match self {
            TxnBody::Create(t) | TxnBody::Create2(t) => t.write(w),
            TxnBody::CreateContainer(t) => t.write(w),
            TxnBody::CreateTtl(t) => t.write(w),
            TxnBody::Delete(t) | TxnBody::DeleteContainer(t) => t.write(w),
            TxnBody::SetData(t) | TxnBody::Reconfig(t) => t.write(w),
            TxnBody::SetAcl(t) => t.write(w),
            TxnBody::Check(t) => t.write(w),
            TxnBody::CreateSession(t) => t.write(w),
            TxnBody::CloseSession(t) => {
                if let Some(t) = t {
                    t.write(w);
                }
            }
            TxnBody::Error(t) => t.write(w),
            TxnBody::Multi(subs) => {
                // ZooKeeper: MultiTxn{vector<Txn{int type, buffer data}>}.
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

    /// The record's encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }

    /// Decodes a top-level record of type `txn_type` (ZooKeeper:
    /// `SerializeUtils.deserializeTxn`).
    pub fn decode(txn_type: i32, r: &mut Reader<'_>) -> Result<TxnBody, TxnError> {
        match OpCode::from_code(txn_type) {
            Some(OpCode::Create) => decode_create(r),
            Some(OpCode::CloseSession) => Ok(decode_close_session(r)),
            Some(OpCode::Multi) => {
                let multi = dec(MultiTxn::read(r), "MultiTxn")?;
                let subs = multi.txns.into_iter().map(decode_sub);
                Ok(TxnBody::Multi(subs.collect::<Result<_, _>>()?))
            }
            // A top-level check is what ZooKeeper 3.4-3.8 could log for a standalone
            // `check` request, and could then not read back (ZOOKEEPER-2623).
            Some(OpCode::Check) => Err(TxnError::Unsupported { txn_type }),
            _ => decode_simple(txn_type, r),
        }
    }
}

/// A create, or a pre-3.3 `CreateTxnV0` (no parentCVersion; -1 makes apply use the
/// parent's cversion + 1, as ZooKeeper's "perhaps this is a V0 Create" does).
fn decode_create(r: &mut Reader<'_>) -> Result<TxnBody, TxnError> {
    let start = r.clone();
    match CreateTxn::read(r) {
        Ok(t) => Ok(TxnBody::Create(t)),
        Err(DecodeError::UnexpectedEof { .. }) => {
            *r = start;
            Ok(TxnBody::Create(CreateTxn {
                path: dec(r.read_string(), "CreateTxnV0")?,
                data: dec(Record::read(r), "CreateTxnV0")?,
                acl: dec(Record::read(r), "CreateTxnV0")?,
                ephemeral: dec(r.read_bool(), "CreateTxnV0")?,
                parent_cversion: -1,
            }))
        }
        Err(e) => Err(TxnError::Decode {
            what: "CreateTxn",
            source: e,
        }),
    }
}

/// A closeSession body, if there is one. Any failure to read it means "no body", not only
/// end of input: with closeSessionTxn disabled and digests enabled the bytes after the header
/// are a TxnDigest (which ZooKeeper itself then fails to read: "Unreasonable length").
fn decode_close_session(r: &mut Reader<'_>) -> TxnBody {
    if r.is_empty() {
        return TxnBody::CloseSession(None);
    }
    let start = r.clone();
    match CloseSessionTxn::read(r) {
        Ok(t) => TxnBody::CloseSession(Some(t)),
        Err(_) => {
            *r = start;
            TxnBody::CloseSession(None)
        }
    }
}

/// The types with a plain record, shared by top level and multi.
fn decode_simple(txn_type: i32, r: &mut Reader<'_>) -> Result<TxnBody, TxnError> {
    let op = OpCode::from_code(txn_type).ok_or(TxnError::Unsupported { txn_type })?;
    Ok(match op {
        OpCode::Create => TxnBody::Create(dec(Record::read(r), "CreateTxn")?),
        OpCode::Create2 => TxnBody::Create2(dec(Record::read(r), "CreateTxn")?),
        OpCode::CreateContainer => {
            TxnBody::CreateContainer(dec(Record::read(r), "CreateContainerTxn")?)
        }
        OpCode::CreateTtl => TxnBody::CreateTtl(dec(Record::read(r), "CreateTTLTxn")?),
        OpCode::Delete => TxnBody::Delete(dec(Record::read(r), "DeleteTxn")?),
        OpCode::DeleteContainer => TxnBody::DeleteContainer(dec(Record::read(r), "DeleteTxn")?),
        OpCode::SetData => TxnBody::SetData(dec(Record::read(r), "SetDataTxn")?),
        OpCode::Reconfig => TxnBody::Reconfig(dec(Record::read(r), "SetDataTxn")?),
        OpCode::SetAcl => TxnBody::SetAcl(dec(Record::read(r), "SetACLTxn")?),
        OpCode::Check => TxnBody::Check(dec(Record::read(r), "CheckVersionTxn")?),
        OpCode::CreateSession => TxnBody::CreateSession(dec(Record::read(r), "CreateSessionTxn")?),
        OpCode::Error => TxnBody::Error(dec(Record::read(r), "ErrorTxn")?),
        _ => return Err(TxnError::Unsupported { txn_type }),
    })
}

/// A multi's sub-txn (ZooKeeper: `DataTree.processTxn`, case multi): only the types a multi
/// can produce; a null buffer is invalid.
fn decode_sub(t: Txn) -> Result<TxnBody, TxnError> {
    let allowed = matches!(
        OpCode::from_code(t.txn_type),
        Some(
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::Check
                | OpCode::Error
        )
    );
    if !allowed {
        return Err(TxnError::Unsupported {
            txn_type: t.txn_type,
        });
    }
    let data = t.data.ok_or(TxnError::Decode {
        what: "multi sub-txn",
        source: DecodeError::InvalidValue {
            what: "null sub-txn buffer",
            value: t.txn_type.into(),
        },
    })?;
    decode_simple(t.txn_type, &mut Reader::new(&data))
}

fn dec<T>(r: Result<T, DecodeError>, what: &'static str) -> Result<T, TxnError> {
    r.map_err(|source| TxnError::Decode { what, source })
}
