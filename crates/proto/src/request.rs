//! Typed request bodies, decoded according to the opcode in the request header.

use crate::jute::{DecodeError, JuteWrite, Reader, Record};
use crate::opcode::OpCode;
use crate::records::*;

/// A decoded client request body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    DeleteContainer(PathRequest),
    Exists(PathWatchRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<Request>),
    MultiRead(Vec<Request>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

impl Request {
    /// The opcode this body belongs to.
    pub fn op(&self) -> OpCode {
        use Request::*;
        match self {
            Create(_) => OpCode::Create,
            Create2(_) => OpCode::Create2,
            CreateContainer(_) => OpCode::CreateContainer,
            CreateTtl(_) => OpCode::CreateTtl,
            Delete(_) => OpCode::Delete,
            DeleteContainer(_) => OpCode::DeleteContainer,
            Exists(_) => OpCode::Exists,
            GetData(_) => OpCode::GetData,
            SetData(_) => OpCode::SetData,
            GetAcl(_) => OpCode::GetAcl,
            SetAcl(_) => OpCode::SetAcl,
            GetChildren(_) => OpCode::GetChildren,
            GetChildren2(_) => OpCode::GetChildren2,
            Sync(_) => OpCode::Sync,
            Ping => OpCode::Ping,
            Check(_) => OpCode::Check,
            Multi(_) => OpCode::Multi,
            MultiRead(_) => OpCode::MultiRead,
            Reconfig(_) => OpCode::Reconfig,
            CheckWatches(_) => OpCode::CheckWatches,
            RemoveWatches(_) => OpCode::RemoveWatches,
            Auth(_) => OpCode::Auth,
            SetWatches(_) => OpCode::SetWatches,
            SetWatches2(_) => OpCode::SetWatches2,
            Sasl(_) => OpCode::Sasl,
            GetEphemerals(_) => OpCode::GetEphemerals,
            GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            AddWatch(_) => OpCode::AddWatch,
            WhoAmI => OpCode::WhoAmI,
            CloseSession => OpCode::CloseSession,
        }
    }

    /// Decodes the body of a request of type `op`.
    ///
    /// Returns `Ok(None)` for opcodes that are not client requests (notification, error,
    /// createSession): ZooKeeper answers those with Unimplemented.
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Option<Request>, DecodeError> {
        use Request as Q;
        Ok(Some(match op {
            OpCode::Create => Q::Create(Record::read(r)?),
            OpCode::Create2 => Q::Create2(Record::read(r)?),
            OpCode::CreateContainer => Q::CreateContainer(Record::read(r)?),
            OpCode::CreateTtl => Q::CreateTtl(Record::read(r)?),
            OpCode::Delete => Q::Delete(Record::read(r)?),
            OpCode::DeleteContainer => Q::DeleteContainer(Record::read(r)?),
            OpCode::Exists => Q::Exists(Record::read(r)?),
            OpCode::GetData => Q::GetData(Record::read(r)?),
            OpCode::SetData => Q::SetData(Record::read(r)?),
            OpCode::GetAcl => Q::GetAcl(Record::read(r)?),
            OpCode::SetAcl => Q::SetAcl(Record::read(r)?),
            OpCode::GetChildren => Q::GetChildren(Record::read(r)?),
            OpCode::GetChildren2 => Q::GetChildren2(Record::read(r)?),
            OpCode::Sync => Q::Sync(Record::read(r)?),
            OpCode::Ping => Q::Ping,
            OpCode::Check => Q::Check(Record::read(r)?),
            OpCode::Multi => decode_multi(r, false)?,
            OpCode::MultiRead => decode_multi(r, true)?,
            OpCode::Reconfig => Q::Reconfig(Record::read(r)?),
            OpCode::CheckWatches => Q::CheckWatches(Record::read(r)?),
            OpCode::RemoveWatches => Q::RemoveWatches(Record::read(r)?),
            OpCode::Auth => Q::Auth(Record::read(r)?),
            OpCode::SetWatches => Q::SetWatches(Record::read(r)?),
            OpCode::SetWatches2 => Q::SetWatches2(Record::read(r)?),
            OpCode::Sasl => Q::Sasl(Record::read(r)?),
            OpCode::GetEphemerals => Q::GetEphemerals(Record::read(r)?),
            OpCode::GetAllChildrenNumber => Q::GetAllChildrenNumber(Record::read(r)?),
            OpCode::AddWatch => Q::AddWatch(Record::read(r)?),
            OpCode::WhoAmI => Q::WhoAmI,
            OpCode::CloseSession => Q::CloseSession,
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => return Ok(None),
        }))
    }

    /// Encodes the body (what follows the request header).
    pub fn write_body(&self, w: &mut Vec<u8>) {
        use Request::*;
        match self {
            Create(x) | Create2(x) | CreateContainer(x) => x.write(w),
            CreateTtl(x) => x.write(w),
            Delete(x) => x.write(w),
            DeleteContainer(x)
            | GetAcl(x)
            | Sync(x)
            | GetEphemerals(x)
            | GetAllChildrenNumber(x) => x.write(w),
            Exists(x) | GetChildren(x) | GetChildren2(x) => x.write(w),
            GetData(x) => x.write(w),
            SetData(x) => x.write(w),
            SetAcl(x) => x.write(w),
            Check(x) => x.write(w),
            Multi(ops) | MultiRead(ops) => {
                for op in ops {
                    MultiHeader {
                        op: op.op().code(),
                        done: false,
                        err: -1,
                    }
                    .write(w);
                    op.write_body(w);
                }
                MultiHeader {
                    op: -1,
                    done: true,
                    err: -1,
                }
                .write(w);
            }
            Reconfig(x) => x.write(w),
            CheckWatches(x) | RemoveWatches(x) => x.write(w),
            Auth(x) => x.write(w),
            SetWatches(x) => x.write(w),
            SetWatches2(x) => x.write(w),
            Sasl(x) => x.write(w),
            AddWatch(x) => x.write(w),
            Ping | WhoAmI | CloseSession => {}
        }
    }

    /// A path-bearing request's path.
    pub fn path(&self) -> Option<&str> {
        use Request::*;
        match self {
            Create(x) | Create2(x) | CreateContainer(x) => Some(&x.path),
            CreateTtl(x) => Some(&x.path),
            Delete(x) => Some(&x.path),
            DeleteContainer(x)
            | GetAcl(x)
            | Sync(x)
            | GetEphemerals(x)
            | GetAllChildrenNumber(x) => Some(&x.path),
            Exists(x) | GetChildren(x) | GetChildren2(x) => Some(&x.path),
            GetData(x) => Some(&x.path),
            SetData(x) => Some(&x.path),
            SetAcl(x) => Some(&x.path),
            Check(x) => Some(&x.path),
            CheckWatches(x) | RemoveWatches(x) => Some(&x.path),
            AddWatch(x) => Some(&x.path),
            _ => None,
        }
    }
}

/// Decodes the hand-framed multi body (ZooKeeper: `MultiOperationRecord`): a sequence of
/// `MultiHeader` + op record, ended by a header with `done = true`. A `multi` (opcode 14)
/// takes write ops only, a `multiRead` (22) getData/getChildren only; any other op is an
/// error (ZooKeeper answers MarshallingError, verified against 3.8.0).
fn decode_multi(r: &mut Reader<'_>, reads: bool) -> Result<Request, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            break;
        }
        let op = OpCode::from_code(h.op).ok_or(DecodeError::InvalidValue {
            what: "multi op",
            value: h.op.into(),
        })?;
        let is_read = match op {
            OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::Check => false,
            OpCode::GetData | OpCode::GetChildren => true,
            _ => return Err(DecodeError::InvalidMulti("op not allowed in multi")),
        };
        if is_read != reads {
            return Err(DecodeError::InvalidMulti(if reads {
                "a write op in multiRead"
            } else {
                "a read op in multi"
            }));
        }
        // The `decode` of these ops always yields a request.
        if let Some(req) = Request::decode(op, r)? {
            ops.push(req);
        }
    }
    Ok(if reads {
        Request::MultiRead(ops)
    } else {
        Request::Multi(ops)
    })
}

/// Encodes a full request frame body: header then request.
pub fn encode_request(xid: i32, req: &Request) -> Vec<u8> {
    let mut w = Vec::new();
    w.put_i32(xid);
    w.put_i32(req.op().code());
    req.write_body(&mut w);
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn single_op() -> impl Strategy<Value = Request> {
        prop_oneof![
            any::<CreateRequest>().prop_map(Request::Create),
            any::<CreateRequest>().prop_map(Request::Create2),
            any::<CreateTtlRequest>().prop_map(Request::CreateTtl),
            any::<DeleteRequest>().prop_map(Request::Delete),
            any::<SetDataRequest>().prop_map(Request::SetData),
            any::<CheckVersionRequest>().prop_map(Request::Check),
        ]
    }

    fn any_request() -> impl Strategy<Value = Request> {
        prop_oneof![
            single_op(),
            any::<PathWatchRequest>().prop_map(Request::Exists),
            any::<GetDataRequest>().prop_map(Request::GetData),
            any::<PathRequest>().prop_map(Request::GetAcl),
            any::<SetAclRequest>().prop_map(Request::SetAcl),
            any::<PathWatchRequest>().prop_map(Request::GetChildren2),
            any::<PathRequest>().prop_map(Request::Sync),
            any::<ReconfigRequest>().prop_map(Request::Reconfig),
            any::<WatchesRequest>().prop_map(Request::RemoveWatches),
            any::<AuthPacket>().prop_map(Request::Auth),
            any::<SetWatches2>().prop_map(Request::SetWatches2),
            any::<AddWatchRequest>().prop_map(Request::AddWatch),
            Just(Request::WhoAmI),
            Just(Request::Ping),
            proptest::collection::vec(single_op(), 1..5).prop_map(Request::Multi),
            proptest::collection::vec(
                prop_oneof![
                    any::<GetDataRequest>().prop_map(Request::GetData),
                    any::<PathWatchRequest>().prop_map(Request::GetChildren),
                ],
                1..5
            )
            .prop_map(Request::MultiRead),
        ]
    }

    proptest! {
        #[test]
        fn requests_round_trip(xid in any::<i32>(), req in any_request()) {
            let bytes = encode_request(xid, &req);
            let mut r = Reader::new(&bytes);
            let h = RequestHeader::read(&mut r).unwrap();
            prop_assert_eq!(h.xid, xid);
            let op = OpCode::from_code(h.op).unwrap();
            let back = Request::decode(op, &mut r).unwrap().unwrap();
            prop_assert_eq!(back, req);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn garbage_never_panics(op in -20i32..120, body in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some(op) = OpCode::from_code(op) {
                let _ = Request::decode(op, &mut Reader::new(&body));
            }
        }
    }

    /// A body of `ops` framed as a multi.
    fn multi_body(ops: &[Request]) -> Vec<u8> {
        let mut w = Vec::new();
        Request::Multi(ops.to_vec()).write_body(&mut w);
        w
    }

    #[test]
    fn multi_takes_writes_and_multi_read_takes_reads_only() {
        let get = Request::GetData(GetDataRequest {
            path: "/a".into(),
            watch: false,
        });
        let del = Request::Delete(DeleteRequest {
            path: "/a".into(),
            version: -1,
        });
        let decode = |op, body: &[u8]| Request::decode(op, &mut Reader::new(body));
        for (op, ops) in [
            (OpCode::Multi, vec![get.clone()]),
            (OpCode::MultiRead, vec![del.clone()]),
        ] {
            assert!(
                matches!(
                    decode(op, &multi_body(&ops)),
                    Err(DecodeError::InvalidMulti(_))
                ),
                "{op:?} {ops:?}"
            );
        }
        // Empty ones keep their kind: an empty multiRead is no write.
        assert_eq!(
            decode(OpCode::MultiRead, &multi_body(&[])).unwrap(),
            Some(Request::MultiRead(vec![]))
        );
        assert_eq!(
            decode(OpCode::Multi, &multi_body(&[])).unwrap(),
            Some(Request::Multi(vec![]))
        );
    }

    #[test]
    fn mixed_multi_is_rejected() {
        let mut w = Vec::new();
        for (op, req) in [
            (
                OpCode::GetData,
                Request::GetData(GetDataRequest {
                    path: "/a".into(),
                    watch: false,
                }),
            ),
            (
                OpCode::Delete,
                Request::Delete(DeleteRequest {
                    path: "/a".into(),
                    version: -1,
                }),
            ),
        ] {
            MultiHeader {
                op: op.code(),
                done: false,
                err: -1,
            }
            .write(&mut w);
            req.write_body(&mut w);
        }
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
        .write(&mut w);
        assert!(matches!(
            Request::decode(OpCode::Multi, &mut Reader::new(&w)),
            Err(DecodeError::InvalidMulti(_))
        ));
    }
}
