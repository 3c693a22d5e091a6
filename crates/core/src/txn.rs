//! Transactions: what the prep step produces, the log stores, and apply executes.
//!
//! Bodies are ZooKeeper's own txn records, so that the durability layer can write them in
//! ZooKeeper's log format unchanged.

use menagerie_proto::jute::{JuteWrite, Record};
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
}

impl LoggedTxn {
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
