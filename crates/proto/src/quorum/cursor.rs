//! A read cursor for streams without framing: "not enough bytes yet" is `None`, a length
//! that can never be honest is an error.

use crate::jute::DecodeError;
use crate::records::Id;

/// Largest buffer or string on the quorum stream: `jute.maxbuffer` +
/// `zookeeper.jute.maxbuffer.extrasize` with their defaults (Java's `BinaryInputArchive`
/// drops the connection past it).
pub const MAX_QUORUM_BUFFER: usize = 0xFFFFF + 0xFFFFF;

/// Most identities a REQUEST's authinfo may carry here (a sanity bound; Java has none).
const MAX_AUTHINFO: usize = 4096;

/// A cursor that reports "not enough bytes yet" as `None`.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(i64::from_be_bytes(a))
    }

    /// A length, checked: `Some(None)` = null.
    pub(crate) fn len(&mut self, max: usize) -> Result<Option<Option<usize>>, DecodeError> {
        let offset = self.pos;
        let Some(l) = self.i32() else {
            return Ok(None);
        };
        match l {
            -1 => Ok(Some(None)),
            l if l < 0 || l as usize > max => Err(DecodeError::BadLength { offset, length: l }),
            l => Ok(Some(Some(l as usize))),
        }
    }

    /// `Ok(None)` = incomplete; `Ok(Some(None))` = null buffer.
    #[allow(clippy::type_complexity)]
    pub(crate) fn buffer(&mut self) -> Result<Option<Option<&'a [u8]>>, DecodeError> {
        Ok(match self.len(MAX_QUORUM_BUFFER)? {
            None => None,
            Some(None) => Some(None),
            Some(Some(n)) => self.take(n).map(Some),
        })
    }

    pub(crate) fn string(&mut self) -> Result<Option<String>, DecodeError> {
        Ok(self
            .buffer()?
            .map(|b| b.map_or_else(String::new, |b| String::from_utf8_lossy(b).into_owned())))
    }

    pub(crate) fn ids(&mut self) -> Result<Option<Option<Vec<Id>>>, DecodeError> {
        let Some(count) = self.len(MAX_AUTHINFO)? else {
            return Ok(None);
        };
        let Some(count) = count else {
            return Ok(Some(None));
        };
        let mut ids = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let Some(scheme) = self.string()? else {
                return Ok(None);
            };
            let Some(id) = self.string()? else {
                return Ok(None);
            };
            ids.push(Id { scheme, id });
        }
        Ok(Some(Some(ids)))
    }
}
