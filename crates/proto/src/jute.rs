//! Jute binary encoding (ZooKeeper: `BinaryOutputArchive` / `BinaryInputArchive`).
//!
//! Integers are big-endian two's complement; `boolean` is one byte (any non-zero reads as
//! true); `ustring` and `buffer` are an `int` length followed by the bytes, with `-1` meaning
//! null; `vector` is an `int` count followed by the elements; nested records are inlined.

use thiserror::Error;

/// Why a byte sequence could not be decoded as the expected record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("unexpected end of input: needed {needed} bytes at offset {offset}")]
    UnexpectedEof {
        /// Byte offset at which more input was needed.
        offset: usize,
        /// How many bytes were needed.
        needed: usize,
    },
    /// A length or count field was negative (other than the null marker) or impossible.
    #[error("unreasonable length {length} at offset {offset}")]
    BadLength {
        /// Byte offset of the length field.
        offset: usize,
        /// The length read.
        length: i32,
    },
    /// A value was outside the set the field admits.
    #[error("invalid value {value} for {what}")]
    InvalidValue {
        /// The field or enum concerned.
        what: &'static str,
        /// The value read.
        value: i64,
    },
    /// A `multi` request mixed read and write operations, or used an op not allowed there.
    #[error("invalid multi: {0}")]
    InvalidMulti(&'static str),
}

/// A cursor over an encoded record.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf` from its first byte.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Consumes exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::UnexpectedEof {
                offset: self.pos,
                needed: n,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Consumes the rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Reads a Jute `int`.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Reads a Jute `long`.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Reads a Jute `boolean` (any non-zero byte is true).
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.array::<1>()?[0] != 0)
    }

    /// Reads a length prefix; `None` is the null marker `-1`.
    fn read_len(&mut self) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let length = self.read_i32()?;
        match length {
            -1 => Ok(None),
            l if l < 0 => Err(DecodeError::BadLength { offset, length }),
            l => Ok(Some(l as usize)),
        }
    }

    /// Reads a Jute `buffer`; `None` is null (length -1).
    pub fn read_buffer(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let offset = self.pos;
        match self.read_len()? {
            None => Ok(None),
            Some(n) if n > self.remaining() => Err(DecodeError::BadLength {
                offset,
                length: n as i32,
            }),
            Some(n) => Ok(Some(self.take(n)?)),
        }
    }

    /// Reads a Jute `ustring`; null reads as the empty string, malformed UTF-8 is replaced
    /// with U+FFFD as Java's decoder does.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(match self.read_buffer()? {
            None => String::new(),
            Some(b) => String::from_utf8_lossy(b).into_owned(),
        })
    }

    /// Reads a vector count; null (-1) reads as zero.
    pub fn read_count(&mut self) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let n = self.read_len()?.unwrap_or(0);
        // Every element takes at least one byte: a larger count cannot be honest, and
        // believing it would let a 4-byte frame make us allocate gigabytes.
        if n > self.remaining() {
            return Err(DecodeError::BadLength {
                offset,
                length: n as i32,
            });
        }
        Ok(n)
    }
}

/// Appends Jute-encoded values to a byte vector.
pub trait JuteWrite {
    /// Writes a Jute `int`.
    fn put_i32(&mut self, v: i32);
    /// Writes a Jute `long`.
    fn put_i64(&mut self, v: i64);
    /// Writes a Jute `boolean`.
    fn put_bool(&mut self, v: bool);
    /// Writes a Jute `buffer` (`None` = null).
    fn put_buffer(&mut self, v: Option<&[u8]>);
    /// Writes a Jute `ustring`.
    fn put_string(&mut self, v: &str);
}

impl JuteWrite for Vec<u8> {
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    fn put_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_i32(-1),
            Some(b) => {
                self.put_i32(b.len() as i32);
                self.extend_from_slice(b);
            }
        }
    }
    fn put_string(&mut self, v: &str) {
        self.put_buffer(Some(v.as_bytes()));
    }
}

/// A value with a Jute encoding.
pub trait Record: Sized {
    /// Appends the encoding of `self`.
    fn write(&self, w: &mut Vec<u8>);
    /// Decodes one value.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Encodes `self` into a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }

    /// Decodes a value that must span all of `buf`... or at least its beginning: trailing
    /// bytes are ignored, as Java's readers ignore them.
    fn from_bytes(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::read(&mut Reader::new(buf))
    }
}

impl Record for i32 {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_i32(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_i32()
    }
}

impl Record for i64 {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_i64(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_i64()
    }
}

impl Record for bool {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_bool(*self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_bool()
    }
}

impl Record for String {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_string(self)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_string()
    }
}

/// A Jute `ustring` that may be null (`None`), distinct from an empty string (ZooKeeper's
/// reconfig tells an incremental request from a non-incremental one by which are null).
impl Record for Option<String> {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_buffer(self.as_deref().map(str::as_bytes))
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }
}

/// A Jute `buffer`: `None` is null, distinct from an empty buffer.
impl Record for Option<Vec<u8>> {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_buffer(self.as_deref())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.map(<[u8]>::to_vec))
    }
}

/// A Jute `vector`; a null vector reads as empty.
impl<T: Record> Record for Vec<T> {
    fn write(&self, w: &mut Vec<u8>) {
        w.put_i32(self.len() as i32);
        for item in self {
            item.write(w);
        }
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = r.read_count()?;
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push(T::read(r)?);
        }
        Ok(v)
    }
}

/// Declares a Jute record: a struct whose fields are encoded in declaration order.
#[macro_export]
macro_rules! jute_record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),+ $(,)? }) => {
        $(#[$m])*
        ///
        /// Fields are those of the `zookeeper.jute` record of the same name, in wire order.
        #[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
        #[allow(missing_docs)]
        pub struct $name { $($(#[$fm])* pub $f: $t),+ }

        impl $crate::jute::Record for $name {
            fn write(&self, w: &mut Vec<u8>) {
                $($crate::jute::Record::write(&self.$f, w);)+
            }
            fn read(r: &mut $crate::jute::Reader<'_>) -> Result<Self, $crate::jute::DecodeError> {
                Ok(Self { $($f: $crate::jute::Record::read(r)?),+ })
            }
        }

        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::BoxedStrategy<Self>;
            fn arbitrary_with(_: ()) -> Self::Strategy {
                use proptest::strategy::Strategy;
                ($(proptest::arbitrary::any::<$t>(),)+)
                    .prop_map(|($($f,)+)| Self { $($f),+ })
                    .boxed()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_buffers_differ() {
        let null: Option<Vec<u8>> = None;
        let empty: Option<Vec<u8>> = Some(vec![]);
        assert_eq!(null.to_bytes(), vec![0xff, 0xff, 0xff, 0xff]);
        assert_eq!(empty.to_bytes(), vec![0, 0, 0, 0]);
        assert_eq!(Option::<Vec<u8>>::from_bytes(&null.to_bytes()), Ok(None));
        assert_eq!(
            Option::<Vec<u8>>::from_bytes(&empty.to_bytes()),
            Ok(Some(vec![]))
        );
    }

    #[test]
    fn lengths_are_checked() {
        // Negative length other than -1.
        assert!(matches!(
            Option::<Vec<u8>>::from_bytes(&(-2i32).to_be_bytes()),
            Err(DecodeError::BadLength { .. })
        ));
        // Length past the end.
        assert!(Option::<Vec<u8>>::from_bytes(&[0, 0, 0, 5, 1, 2]).is_err());
        // A huge vector count in a tiny input.
        assert!(Vec::<i32>::from_bytes(&[0x7f, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn bool_reads_any_nonzero_as_true() {
        assert_eq!(bool::from_bytes(&[7]), Ok(true));
        assert_eq!(bool::from_bytes(&[0]), Ok(false));
    }

    #[test]
    fn malformed_utf8_is_replaced() {
        let s = String::from_bytes(&[0, 0, 0, 2, 0xff, b'a']).unwrap();
        assert_eq!(s, "\u{fffd}a");
    }
}
