//! The Jute records of `zookeeper.jute` module `org.apache.zookeeper.txn`, field for field.

use crate::ids::{SessionId, Zxid};
use crate::jute_record;
use crate::records::Acl;

jute_record! {
    /// Header of every logged transaction.
    pub struct TxnHeader { pub client_id: SessionId, pub cxid: i32, pub zxid: Zxid, pub time: i64, pub txn_type: i32 }
}

jute_record! {
    /// Tree digest appended to transactions since 3.6.
    pub struct TxnDigest { pub version: i32, pub tree_digest: i64 }
}

jute_record! {
    /// create / create2 (opcode 1 / 15).
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// createTTL (opcode 21).
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

jute_record! {
    /// createContainer (opcode 19).
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// delete / deleteContainer.
    pub struct DeleteTxn { pub path: String }
}

jute_record! {
    /// setData.
    pub struct SetDataTxn { pub path: String, pub data: Option<Vec<u8>>, pub version: i32 }
}

jute_record! {
    /// check (inside multi).
    pub struct CheckVersionTxn { pub path: String, pub version: i32 }
}

jute_record! {
    /// setACL.
    pub struct SetAclTxn { pub path: String, pub acl: Vec<Acl>, pub version: i32 }
}

jute_record! {
    /// createSession.
    pub struct CreateSessionTxn { pub timeout: i32 }
}

jute_record! {
    /// closeSession (3.6+ body).
    pub struct CloseSessionTxn { pub paths_to_delete: Vec<String> }
}

jute_record! {
    /// A failed write.
    pub struct ErrorTxn { pub err: i32 }
}

jute_record! {
    /// One sub-transaction of a multi: its type and serialized body.
    pub struct Txn { pub txn_type: i32, pub data: Option<Vec<u8>> }
}

jute_record! {
    /// multi.
    pub struct MultiTxn { pub txns: Vec<Txn> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::{Reader, Record};
    use proptest::prelude::*;

    fn round_trip<T: Record + PartialEq + std::fmt::Debug>(v: &T) {
        let bytes = v.to_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(&T::read(&mut r).unwrap(), v);
        assert!(r.is_empty());
    }

    proptest! {
        #[test]
        fn txn_records(a in any::<TxnHeader>(), b in any::<TxnDigest>(), c in any::<CreateTxn>(),
                       d in any::<CreateTtlTxn>(), e in any::<CreateContainerTxn>(), f in any::<DeleteTxn>(),
                       g in any::<SetDataTxn>(), h in any::<CheckVersionTxn>(), i in any::<SetAclTxn>(),
                       j in any::<CreateSessionTxn>(), k in any::<CloseSessionTxn>(), l in any::<ErrorTxn>()) {
            round_trip(&a); round_trip(&b); round_trip(&c); round_trip(&d); round_trip(&e); round_trip(&f);
            round_trip(&g); round_trip(&h); round_trip(&i); round_trip(&j); round_trip(&k); round_trip(&l);
        }

        #[test]
        fn multi_txn(m in any::<MultiTxn>()) { round_trip(&m); }
    }
}
