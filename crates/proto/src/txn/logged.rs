//! [`LoggedTxn`]: one transaction as a log entry body or a PROPOSAL/INFORM payload.

use crate::ids::{SessionId, Zxid};
use crate::jute::{Reader, Record};

use super::{TxnBody, TxnDigest, TxnError, TxnHeader};

/// A transaction with its header, as proposed, logged, replicated and applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    /// Session, cxid, zxid, time and type.
    pub header: TxnHeader,
    /// The record its type announces.
    pub body: TxnBody,
    /// The tree digest expected once this txn is applied (ZooKeeper 3.6+ writes it after
    /// every txn but a failed one; spec 10 §10.2).
    pub digest: Option<TxnDigest>,
}

impl LoggedTxn {
    /// A txn whose header type is the body's.
    pub fn new(
        session: SessionId,
        cxid: i32,
        zxid: Zxid,
        time: i64,
        body: TxnBody,
        digest: Option<TxnDigest>,
    ) -> LoggedTxn {
        LoggedTxn {
            header: TxnHeader {
                client_id: session,
                cxid,
                zxid,
                time,
                txn_type: body.txn_type(),
            },
            body,
            digest,
        }
    }

    /// Appends header, body and digest (ZooKeeper: `Util.marshallTxnEntry`).
    pub fn write(&self, w: &mut Vec<u8>) {
        self.header.write(w);
        self.body.write(w);
        if let Some(d) = &self.digest {
            d.write(w);
        }
    }

    /// Header, body and digest as one buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }

    /// Decodes header, the body its type announces, and the TxnDigest if there is one (a
    /// missing or unreadable digest reads as none, as in ZooKeeper).
    pub fn from_bytes(bytes: &[u8]) -> Result<LoggedTxn, TxnError> {
        let mut r = Reader::new(bytes);
        let header = TxnHeader::read(&mut r).map_err(|source| TxnError::Decode {
            what: "TxnHeader",
            source,
        })?;
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
    pub fn zxid(&self) -> Zxid {
        self.header.zxid
    }

    /// The session it belongs to (0 for server-internal txns).
    pub fn session(&self) -> SessionId {
        self.header.client_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::Reader;
    use crate::txn::*;

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
        let txn = LoggedTxn::new(SessionId(1), 2, Zxid::new(1, 3), 9, body, None);
        assert_eq!(txn.header.txn_type, 14);
        assert_eq!(LoggedTxn::from_bytes(&txn.to_bytes()), Ok(txn));
    }
}
