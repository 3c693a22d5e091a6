//! The snapshot stream that follows a SNAP packet on the quorum port (spec 09 §6.5;
//! ZooKeeper: `ZKDatabase.serializeSnapshot`, `SerializeUtils.serializeSnapshot`,
//! `DataTree.serialize`), written and read incrementally:
//!
//! ```text
//! int count, count x (long sessionId, int timeoutMs)       global sessions
//! int count, count x (long aclIndex, vector<ACL>)          the ACL cache
//! (ustring path, buffer data, long aclIndex, StatPersisted)*  root path "" first, parents first
//! ustring "/"                                               end of nodes
//! ustring "BenWasHere"                                      signature
//! ```
//!
//! No header, seals or digest. The stream is fuzzy: the leader keeps applying commits while
//! it writes, and re-sends those txns afterwards.

use crate::ids::SessionId;
use crate::jute::{DecodeError, JuteWrite, Reader, Record};
use crate::records::{Acl, StatPersisted};

use super::cursor::Cursor;

/// The signature that ends the stream.
pub const SIGNATURE: &str = "BenWasHere";

/// Most ACL lists or sessions one count may announce (a sanity bound on allocation).
const MAX_COUNT: usize = 1 << 26;

/// Writes the part before the nodes.
pub fn encode_head(out: &mut Vec<u8>, sessions: &[(SessionId, i32)], acls: &[(i64, &[Acl])]) {
    out.put_i32(sessions.len() as i32);
    for (s, t) in sessions {
        out.put_i64(s.0);
        out.put_i32(*t);
    }
    out.put_i32(acls.len() as i32);
    for (index, list) in acls {
        out.put_i64(*index);
        list.to_vec().write(out);
    }
}

/// Writes one node (`path` "" for the root).
pub fn encode_node(
    out: &mut Vec<u8>,
    path: &str,
    data: Option<&[u8]>,
    acl: i64,
    stat: &StatPersisted,
) {
    out.put_string(path);
    out.put_buffer(data);
    out.put_i64(acl);
    stat.write(out);
}

/// Writes the end of the nodes and the signature.
pub fn encode_end(out: &mut Vec<u8>) {
    out.put_string("/");
    out.put_string(SIGNATURE);
}

/// What the stream holds, item by item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapItem {
    /// The global sessions.
    Sessions(Vec<(SessionId, i32)>),
    /// The ACL cache.
    Acls(Vec<(i64, Vec<Acl>)>),
    /// A node (`path` "/" for the root, whatever the stream spelled).
    Node {
        /// Its path.
        path: String,
        /// Its data.
        data: Option<Vec<u8>>,
        /// Its ACL list's index in the cache (-1 = open).
        acl: i64,
        /// Its stat.
        stat: StatPersisted,
    },
    /// The signature was read: the stream is complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Sessions,
    Acls,
    Nodes,
    Done,
}

/// Reads a snapshot stream from bytes as they arrive.
#[derive(Debug, Clone)]
pub struct SnapDecoder {
    stage: Stage,
}

impl Default for SnapDecoder {
    fn default() -> Self {
        SnapDecoder::new()
    }
}

impl SnapDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> SnapDecoder {
        SnapDecoder {
            stage: Stage::Sessions,
        }
    }

    /// Whether the signature has been read.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Decodes the next item from the front of `buf`: `Ok(Some((item, bytes used)))`, or
    /// `Ok(None)` when more bytes are needed (nothing is consumed then). After
    /// [`SnapItem::End`] the rest of `buf` belongs to the packets that follow.
    pub fn next(&mut self, buf: &[u8]) -> Result<Option<(SnapItem, usize)>, DecodeError> {
        let mut c = Cursor::new(buf);
        let item = match self.stage {
            Stage::Sessions => sessions(&mut c)?,
            Stage::Acls => acls(&mut c)?,
            Stage::Nodes => node_or_end(&mut c)?,
            Stage::Done => None,
        };
        let Some(item) = item else {
            return Ok(None);
        };
        self.stage = match item {
            SnapItem::Sessions(_) => Stage::Acls,
            SnapItem::Acls(_) => Stage::Nodes,
            SnapItem::Node { .. } => Stage::Nodes,
            SnapItem::End => Stage::Done,
        };
        Ok(Some((item, c.position())))
    }
}

fn count(c: &mut Cursor<'_>) -> Result<Option<usize>, DecodeError> {
    let offset = c.position();
    let Some(n) = c.i32() else {
        return Ok(None);
    };
    if n < 0 || n as usize > MAX_COUNT {
        return Err(DecodeError::BadLength { offset, length: n });
    }
    Ok(Some(n as usize))
}

fn sessions(c: &mut Cursor<'_>) -> Result<Option<SnapItem>, DecodeError> {
    let Some(n) = count(c)? else {
        return Ok(None);
    };
    let mut v = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let (Some(s), Some(t)) = (c.i64(), c.i32()) else {
            return Ok(None);
        };
        v.push((SessionId(s), t));
    }
    Ok(Some(SnapItem::Sessions(v)))
}

fn acls(c: &mut Cursor<'_>) -> Result<Option<SnapItem>, DecodeError> {
    let Some(n) = count(c)? else {
        return Ok(None);
    };
    let mut v = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let Some(index) = c.i64() else {
            return Ok(None);
        };
        let Some(list) = acl_list(c)? else {
            return Ok(None);
        };
        v.push((index, list));
    }
    Ok(Some(SnapItem::Acls(v)))
}

/// A `vector<ACL>`: count, then (int perms, ustring scheme, ustring id) each.
fn acl_list(c: &mut Cursor<'_>) -> Result<Option<Vec<Acl>>, DecodeError> {
    let Some(n) = count(c)? else {
        return Ok(None);
    };
    let mut list = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let Some(perms) = c.i32() else {
            return Ok(None);
        };
        let Some(scheme) = c.string()? else {
            return Ok(None);
        };
        let Some(id) = c.string()? else {
            return Ok(None);
        };
        list.push(Acl {
            perms,
            id: crate::records::Id { scheme, id },
        });
    }
    Ok(Some(list))
}

/// A node, or the end marker `"/"` followed by the signature (read as one item, so that a
/// short buffer never leaves the decoder between the two).
fn node_or_end(c: &mut Cursor<'_>) -> Result<Option<SnapItem>, DecodeError> {
    let Some(path) = c.string()? else {
        return Ok(None);
    };
    if path == "/" {
        return signature(c);
    }
    let Some(data) = c.buffer()? else {
        return Ok(None);
    };
    let Some(acl) = c.i64() else {
        return Ok(None);
    };
    let Some(raw) = c.take(60) else {
        return Ok(None);
    };
    let stat = StatPersisted::read(&mut Reader::new(raw))?;
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Ok(Some(SnapItem::Node {
        path,
        data: data.map(<[u8]>::to_vec),
        acl,
        stat,
    }))
}

fn signature(c: &mut Cursor<'_>) -> Result<Option<SnapItem>, DecodeError> {
    let offset = c.position();
    let Some(s) = c.string()? else {
        return Ok(None);
    };
    if s != SIGNATURE {
        return Err(DecodeError::InvalidValue {
            what: "snapshot stream signature",
            value: offset as i64,
        });
    }
    Ok(Some(SnapItem::End))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> Vec<u8> {
        let open = Acl::open_unsafe();
        let mut v = Vec::new();
        encode_head(&mut v, &[(SessionId(7), 30000)], &[(1, &open[..])]);
        let stat = StatPersisted {
            czxid: 1,
            ..StatPersisted::default()
        };
        encode_node(&mut v, "", Some(b""), -1, &StatPersisted::default());
        encode_node(&mut v, "/a", Some(b"x"), 1, &stat);
        encode_node(&mut v, "/b", None, -1, &stat);
        encode_end(&mut v);
        v
    }

    fn decode_all(bytes: &[u8], chunk: usize) -> Vec<SnapItem> {
        let mut d = SnapDecoder::new();
        let mut items = Vec::new();
        let mut pending = Vec::new();
        for piece in bytes.chunks(chunk) {
            pending.extend_from_slice(piece);
            while let Some((item, used)) = d.next(&pending).expect("valid stream") {
                pending.drain(..used);
                items.push(item);
            }
        }
        assert!(d.is_done() && pending.is_empty());
        items
    }

    #[test]
    fn streams_decode_whatever_the_chunking() {
        let bytes = stream();
        let whole = decode_all(&bytes, bytes.len());
        assert_eq!(whole.len(), 6);
        assert_eq!(whole[0], SnapItem::Sessions(vec![(SessionId(7), 30000)]));
        assert!(matches!(&whole[2], SnapItem::Node { path, .. } if path == "/"));
        assert!(matches!(&whole[4], SnapItem::Node { path, data: None, .. } if path == "/b"));
        assert_eq!(whole[5], SnapItem::End);
        for chunk in [1, 3, 7, 50] {
            assert_eq!(decode_all(&bytes, chunk), whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_wrong_signature_or_count_is_an_error() {
        let mut bytes = stream();
        let n = bytes.len();
        bytes[n - 1] = b'x';
        let mut d = SnapDecoder::new();
        let mut rest = &bytes[..];
        let err = loop {
            match d.next(rest) {
                Ok(Some((_, used))) => rest = &rest[used..],
                Ok(None) => panic!("complete stream reported incomplete"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, DecodeError::InvalidValue { .. }));
        assert!(SnapDecoder::new().next(&(-5i32).to_be_bytes()).is_err());
    }
}
