//! Typed response bodies (what follows the `ReplyHeader` of a successful reply).

use crate::jute::{JuteWrite, Record};
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

impl Response {
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
