//! Byte-level tests of the transaction codec against ZooKeeper's own encoding.

use super::*;
use crate::ids::{SessionId, Zxid};
use crate::jute::Record;
use crate::records::{Acl, Id};

fn encode_txn(header: &TxnHeader, body: &TxnBody, digest: Option<&TxnDigest>) -> Vec<u8> {
    LoggedTxn {
        header: header.clone(),
        body: body.clone(),
        digest: digest.cloned(),
    }
    .to_bytes()
}

fn header(t: i32) -> TxnHeader {
    TxnHeader {
        client_id: SessionId(0x0100000763740000),
        cxid: 1,
        zxid: Zxid(2),
        time: 1795274139084,
        txn_type: t,
    }
}

/// Spec 10.2: the 91-byte body of `create /a "hello" world:anyone:cdrwa` at zxid 2,
/// written by ZooKeeper 3.8.0, spelled out field by field.
fn spec_create_body() -> Vec<u8> {
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

fn spec_create_txn() -> LoggedTxn {
    LoggedTxn {
        header: header(1),
        body: TxnBody::Create(CreateTxn {
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
    assert_eq!(LoggedTxn::from_bytes(&body).unwrap(), t);
    assert_eq!(t.to_bytes(), body);
    // The same body without its digest.
    let d = LoggedTxn::from_bytes(&body[..79]).unwrap();
    assert_eq!(d.digest, None);
    assert_eq!(d.body, t.body);
    // A digest cut short counts as absent.
    assert_eq!(LoggedTxn::from_bytes(&body[..85]).unwrap().digest, None);
}

#[test]
fn create_v0_reads_parent_cversion_minus_one() {
    let body = spec_create_body();
    // Header + CreateTxn without parentCVersion (and no digest).
    let v0 = &body[..75];
    let d = LoggedTxn::from_bytes(v0).unwrap();
    let TxnBody::Create(c) = d.body else {
        panic!("not a create")
    };
    assert_eq!(c.parent_cversion, -1);
    assert_eq!(c.path, "/a");
    // create2 has no V0 form.
    let mut h2 = body[..75].to_vec();
    h2[31] = 15;
    assert!(LoggedTxn::from_bytes(&h2).is_err());
}

#[test]
fn close_session_with_and_without_body() {
    let h = header(-11);
    let none = encode_txn(&h, &TxnBody::CloseSession(None), None);
    assert_eq!(none.len(), 32);
    assert_eq!(
        LoggedTxn::from_bytes(&none).unwrap().body,
        TxnBody::CloseSession(None)
    );
    let rec = TxnBody::CloseSession(Some(CloseSessionTxn {
        paths_to_delete: vec!["/e1".into(), "/e2".into()],
    }));
    let dg = TxnDigest {
        version: 2,
        tree_digest: -5,
    };
    let with = encode_txn(&h, &rec, Some(&dg));
    let d = LoggedTxn::from_bytes(&with).unwrap();
    assert_eq!((d.body, d.digest), (rec, Some(dg.clone())));
    // No body but a digest (closeSessionTxn disabled): the digest is not mistaken for
    // a path list.
    let bare = encode_txn(&h, &TxnBody::CloseSession(None), Some(&dg));
    let d = LoggedTxn::from_bytes(&bare).unwrap();
    assert_eq!((d.body, d.digest), (TxnBody::CloseSession(None), Some(dg)));
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
        TxnBody::Create(create.clone()),
        TxnBody::Create2(create.clone()),
        TxnBody::CreateContainer(CreateContainerTxn {
            path: "/k".into(),
            data: Some(b"d".to_vec()),
            acl: acl.clone(),
            parent_cversion: 1,
        }),
        TxnBody::CreateTtl(CreateTtlTxn {
            path: "/t".into(),
            data: None,
            acl: acl.clone(),
            parent_cversion: 2,
            ttl: 1000,
        }),
        TxnBody::Delete(DeleteTxn { path: "/d".into() }),
        TxnBody::DeleteContainer(DeleteTxn { path: "/k".into() }),
        TxnBody::SetData(set.clone()),
        TxnBody::Reconfig(SetDataTxn {
            path: "/zookeeper/config".into(),
            data: Some(b"server.1=...".to_vec()),
            version: -1,
        }),
        TxnBody::SetAcl(SetAclTxn {
            path: "/a".into(),
            acl,
            version: 1,
        }),
        TxnBody::CreateSession(CreateSessionTxn { timeout: 30000 }),
        TxnBody::Error(ErrorTxn { err: -101 }),
        TxnBody::Multi(vec![
            TxnBody::Create2(create),
            TxnBody::Check(CheckVersionTxn {
                path: "/s".into(),
                version: 2,
            }),
            TxnBody::SetData(set),
            TxnBody::Error(ErrorTxn { err: -2 }),
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
            let d = LoggedTxn::from_bytes(&body).unwrap();
            assert_eq!(d.header, h);
            assert_eq!(d.body, rec);
            assert_eq!(d.digest, digest);
        }
    }
}

#[test]
fn unsupported_types_are_errors() {
    for t in [13, 0, 3, 99, -12] {
        let body = header(t).to_bytes();
        assert!(
            matches!(LoggedTxn::from_bytes(&body), Err(TxnError::Unsupported { txn_type }) if txn_type == t)
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
        LoggedTxn::from_bytes(&body),
        Err(TxnError::Unsupported { txn_type: 7 })
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
    assert!(LoggedTxn::from_bytes(&body).is_err());
    // A short header.
    assert!(LoggedTxn::from_bytes(&body[..20]).is_err());
}
