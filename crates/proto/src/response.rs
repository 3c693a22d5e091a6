//! Typed response bodies (what follows the `ReplyHeader` of a successful reply).

use crate::jute::{DecodeError, JuteWrite, Reader, Record};
use crate::opcode::OpCode;
use crate::records::{Acl, ClientInfo, MultiHeader, ReplyHeader, Stat, WatcherEvent};

/// A response body. Error replies carry no body (except inside multi).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: delete, ping, auth, setWatches, checkWatches, removeWatches, closeSession.
    Empty,
    /// create.
    Create {
        /// Created path (with any sequential suffix).
        path: String,
    },
    /// create2, createContainer, createTTL.
    Create2 {
        /// Created path.
        path: String,
        /// Stat of the new node.
        stat: Stat,
    },
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData.
    GetData {
        /// The data (`None` = null).
        data: Option<Vec<u8>>,
        /// Stat of the node.
        stat: Stat,
    },
    /// getACL.
    GetAcl {
        /// The ACL list.
        acl: Vec<Acl>,
        /// Stat of the node.
        stat: Stat,
    },
    /// getChildren.
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// getChildren2.
    GetChildren2 {
        /// Child names.
        children: Vec<String>,
        /// Stat of the node.
        stat: Stat,
    },
    /// sync (echoes the path).
    Sync {
        /// The request's path.
        path: String,
    },
    /// multi and multiRead.
    Multi(Vec<MultiResult>),
    /// getAllChildrenNumber.
    AllChildrenNumber(i32),
    /// getEphemerals.
    Ephemerals(Vec<String>),
    /// whoAmI.
    WhoAmI(Vec<ClientInfo>),
    /// addWatch: `ErrorResponse{err}`.
    ErrorResponse(i32),
    /// sasl.
    Sasl(Option<Vec<u8>>),
}

/// One result inside a multi response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// create (type 1).
    Create(String),
    /// create2 / createContainer / createTTL (type 15).
    Create2(String, Stat),
    /// delete (type 2).
    Delete,
    /// setData (type 5).
    SetData(Stat),
    /// check (type 13).
    Check,
    /// getData in multiRead (type 4).
    GetData(Option<Vec<u8>>, Stat),
    /// getChildren in multiRead (type 8).
    GetChildren(Vec<String>),
    /// A failed (or not attempted) op.
    Error(i32),
}

impl MultiResult {
    fn write(&self, w: &mut Vec<u8>) {
        let (op, err) = match self {
            MultiResult::Create(_) => (OpCode::Create.code(), 0),
            MultiResult::Create2(..) => (OpCode::Create2.code(), 0),
            MultiResult::Delete => (OpCode::Delete.code(), 0),
            MultiResult::SetData(_) => (OpCode::SetData.code(), 0),
            MultiResult::Check => (OpCode::Check.code(), 0),
            MultiResult::GetData(..) => (OpCode::GetData.code(), 0),
            MultiResult::GetChildren(_) => (OpCode::GetChildren.code(), 0),
            MultiResult::Error(e) => (-1, *e),
        };
        MultiHeader {
            op,
            done: false,
            err,
        }
        .write(w);
        match self {
            MultiResult::Create(p) => p.write(w),
            MultiResult::Create2(p, s) => {
                p.write(w);
                s.write(w)
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData(s) => s.write(w),
            MultiResult::GetData(d, s) => {
                d.write(w);
                s.write(w)
            }
            MultiResult::GetChildren(c) => c.write(w),
            MultiResult::Error(e) => w.put_i32(*e),
        }
    }
}

impl MultiResult {
    fn read(r: &mut Reader<'_>) -> Result<Option<MultiResult>, DecodeError> {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(None);
        }
        Ok(Some(match OpCode::from_code(h.op) {
            Some(OpCode::Create) => MultiResult::Create(Record::read(r)?),
            Some(OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl) => {
                MultiResult::Create2(Record::read(r)?, Record::read(r)?)
            }
            Some(OpCode::Delete | OpCode::DeleteContainer) => MultiResult::Delete,
            Some(OpCode::SetData) => MultiResult::SetData(Record::read(r)?),
            Some(OpCode::Check) => MultiResult::Check,
            Some(OpCode::GetData) => MultiResult::GetData(Record::read(r)?, Record::read(r)?),
            Some(OpCode::GetChildren) => MultiResult::GetChildren(Record::read(r)?),
            Some(OpCode::Error) => MultiResult::Error(r.read_i32()?),
            _ => {
                return Err(DecodeError::InvalidValue {
                    what: "multi result type",
                    value: h.op.into(),
                });
            }
        }))
    }
}

impl Response {
    /// Decodes the body of a successful reply to a request of type `op`.
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Response, DecodeError> {
        use OpCode::*;
        Ok(match op {
            Create => Response::Create {
                path: Record::read(r)?,
            },
            Create2 | CreateContainer | CreateTtl => Response::Create2 {
                path: Record::read(r)?,
                stat: Record::read(r)?,
            },
            Exists | SetData | SetAcl => Response::Stat(Record::read(r)?),
            GetData | Reconfig => Response::GetData {
                data: Record::read(r)?,
                stat: Record::read(r)?,
            },
            GetAcl => Response::GetAcl {
                acl: Record::read(r)?,
                stat: Record::read(r)?,
            },
            GetChildren => Response::GetChildren {
                children: Record::read(r)?,
            },
            GetChildren2 => Response::GetChildren2 {
                children: Record::read(r)?,
                stat: Record::read(r)?,
            },
            Sync => Response::Sync {
                path: Record::read(r)?,
            },
            Multi | MultiRead => {
                let mut results = Vec::new();
                while let Some(m) = MultiResult::read(r)? {
                    results.push(m);
                }
                Response::Multi(results)
            }
            GetAllChildrenNumber => Response::AllChildrenNumber(r.read_i32()?),
            GetEphemerals => Response::Ephemerals(Record::read(r)?),
            WhoAmI => Response::WhoAmI(Record::read(r)?),
            AddWatch => Response::ErrorResponse(r.read_i32()?),
            Sasl => Response::Sasl(Record::read(r)?),
            _ => Response::Empty,
        })
    }

    /// Encodes the body.
    pub fn write_body(&self, w: &mut Vec<u8>) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => path.write(w),
            Response::Create2 { path, stat } => {
                path.write(w);
                stat.write(w);
            }
            Response::Stat(s) => s.write(w),
            Response::GetData { data, stat } => {
                data.write(w);
                stat.write(w);
            }
            Response::GetAcl { acl, stat } => {
                acl.write(w);
                stat.write(w);
            }
            Response::GetChildren { children } | Response::Ephemerals(children) => {
                children.write(w)
            }
            Response::GetChildren2 { children, stat } => {
                children.write(w);
                stat.write(w);
            }
            Response::Multi(results) => {
                for r in results {
                    r.write(w);
                }
                MultiHeader {
                    op: -1,
                    done: true,
                    err: -1,
                }
                .write(w);
            }
            Response::AllChildrenNumber(n) | Response::ErrorResponse(n) => w.put_i32(*n),
            Response::WhoAmI(infos) => infos.write(w),
            Response::Sasl(token) => token.write(w),
        }
    }
}

/// Encodes a reply: header and, when `err` is 0, the body.
pub fn encode_reply(out: &mut Vec<u8>, header: &ReplyHeader, body: &Response) {
    header.write(out);
    if header.err == 0 {
        body.write_body(out);
    }
}

/// Encodes a watch notification (xid -1).
pub fn encode_notification(out: &mut Vec<u8>, zxid: i64, event: &WatcherEvent) {
    ReplyHeader {
        xid: -1,
        zxid,
        err: 0,
    }
    .write(out);
    event.write(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_multi_layout() {
        // Two ops, the second failed with NoNode: header/err pairs then the terminator.
        let mut w = Vec::new();
        Response::Multi(vec![MultiResult::Error(0), MultiResult::Error(-101)]).write_body(&mut w);
        let expected: Vec<u8> = [
            &(-1i32).to_be_bytes()[..],
            &[0],
            &0i32.to_be_bytes(),
            &0i32.to_be_bytes(),
            &(-1i32).to_be_bytes(),
            &[0],
            &(-101i32).to_be_bytes(),
            &(-101i32).to_be_bytes(),
            &(-1i32).to_be_bytes(),
            &[1],
            &(-1i32).to_be_bytes(),
        ]
        .concat();
        assert_eq!(w, expected);
    }

    #[test]
    fn responses_round_trip() {
        let stat = Stat {
            czxid: 1,
            num_children: 2,
            ..Stat::default()
        };
        let cases = [
            (OpCode::Create, Response::Create { path: "/a".into() }),
            (
                OpCode::Create2,
                Response::Create2 {
                    path: "/a".into(),
                    stat: stat.clone(),
                },
            ),
            (
                OpCode::GetData,
                Response::GetData {
                    data: None,
                    stat: stat.clone(),
                },
            ),
            (
                OpCode::GetChildren2,
                Response::GetChildren2 {
                    children: vec!["x".into()],
                    stat: stat.clone(),
                },
            ),
            (
                OpCode::Multi,
                Response::Multi(vec![
                    MultiResult::Create("/a".into()),
                    MultiResult::Create2("/b".into(), stat.clone()),
                    MultiResult::Delete,
                    MultiResult::SetData(stat.clone()),
                    MultiResult::Check,
                    MultiResult::Error(-101),
                ]),
            ),
            (OpCode::GetAllChildrenNumber, Response::AllChildrenNumber(7)),
        ];
        for (op, resp) in cases {
            let mut w = Vec::new();
            resp.write_body(&mut w);
            assert_eq!(Response::decode(op, &mut Reader::new(&w)).unwrap(), resp);
        }
    }

    #[test]
    fn error_reply_has_no_body() {
        let mut w = Vec::new();
        encode_reply(
            &mut w,
            &ReplyHeader {
                xid: 3,
                zxid: 9,
                err: -101,
            },
            &Response::Stat(Stat::default()),
        );
        assert_eq!(w.len(), 16);
    }
}
