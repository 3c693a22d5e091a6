//! Sequential Jute reading from a file, with position tracking, an optional running Adler-32
//! (ZooKeeper: `CheckedInputStream`) and lengths bounded by what is left in the file.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Largest buffer ZooKeeper accepts by default: `jute.maxbuffer` (0xfffff) plus
/// `BinaryInputArchive`'s 1024-byte allowance for the surrounding record.
pub const DEFAULT_MAX_RECORD_LEN: usize = 0xfffff + 1024;

pub(crate) struct JuteIn {
    r: BufReader<Box<dyn Read + Send>>,
    file: PathBuf,
    pos: u64,
    len: u64,
    adler: Option<adler2::Adler32>,
    /// Bytes consumed but not yet added to `adler`: Jute reads a few bytes at a time, and
    /// Adler-32 is several times faster over large slices.
    unsummed: Vec<u8>,
}

/// How many consumed bytes are collected before they are added to the checksum.
const SUM_CHUNK: usize = 32 * 1024;

impl JuteIn {
    /// Wraps `r`, which reads `file` of `len` bytes from its start.
    pub(crate) fn new(r: Box<dyn Read + Send>, file: &Path, len: u64, checked: bool) -> JuteIn {
        JuteIn {
            r: BufReader::with_capacity(64 * 1024, r),
            file: file.to_path_buf(),
            pos: 0,
            len,
            adler: checked.then(adler2::Adler32::new),
            unsummed: Vec::with_capacity(if checked { SUM_CHUNK } else { 0 }),
        }
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// Offset of the next byte.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// Bytes left before the end of the file.
    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// The Adler-32 of every byte consumed so far (1 if unchecked or nothing read).
    pub(crate) fn checksum(&self) -> u32 {
        self.adler.as_ref().map_or(1, |a| {
            let mut a = *a;
            a.write_slice(&self.unsummed);
            a.checksum()
        })
    }

    pub(crate) fn corrupt(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            file: self.file.clone(),
            offset,
            reason: reason.into(),
        }
    }

    /// Fills `buf`; a short file is [`Error::UnexpectedEof`].
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.r.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(Error::UnexpectedEof {
                        file: self.file.clone(),
                        offset: self.pos + done as u64,
                    });
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read", &self.file, e)),
            }
        }
        if let Some(a) = &mut self.adler {
            if self.unsummed.len() + buf.len() > SUM_CHUNK {
                a.write_slice(&self.unsummed);
                self.unsummed.clear();
            }
            if buf.len() >= SUM_CHUNK {
                a.write_slice(buf);
            } else {
                self.unsummed.extend_from_slice(buf);
            }
        }
        self.pos += buf.len() as u64;
        Ok(())
    }

    pub(crate) fn read_u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub(crate) fn read_i32(&mut self) -> Result<i32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(i32::from_be_bytes(b))
    }

    pub(crate) fn read_i64(&mut self) -> Result<i64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(i64::from_be_bytes(b))
    }

    /// Reads a Jute `buffer` (`None` = null). A length above `max` is corruption (ZooKeeper:
    /// `BinaryInputArchive.checkLength`, "Unreasonable length"); a length running past the
    /// end of the file is [`Error::UnexpectedEof`], without allocating it.
    pub(crate) fn read_buffer(&mut self, max: usize) -> Result<Option<Vec<u8>>> {
        let offset = self.pos;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 || len as usize > max {
            return Err(self.corrupt(offset, format!("Unreasonable length = {len}")));
        }
        if len as u64 > self.remaining() {
            return Err(Error::UnexpectedEof {
                file: self.file.clone(),
                offset: self.len,
            });
        }
        let mut v = vec![0u8; len as usize];
        self.read_exact(&mut v)?;
        Ok(Some(v))
    }

    /// Reads a Jute `ustring` (null reads as empty; bad UTF-8 is replaced, as Java does).
    pub(crate) fn read_string(&mut self, max: usize) -> Result<String> {
        Ok(match self.read_buffer(max)? {
            None => String::new(),
            Some(b) => String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        })
    }

    /// Reads a vector count, bounded by the bytes left (each element takes at least
    /// `min_elem` bytes); `None` is null (-1).
    pub(crate) fn read_count_opt(&mut self, min_elem: u64) -> Result<Option<usize>> {
        let offset = self.pos;
        let n = self.read_i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 || (n as u64).saturating_mul(min_elem.max(1)) > self.remaining() {
            return Err(self.corrupt(offset, format!("impossible count {n}")));
        }
        Ok(Some(n as usize))
    }

    /// Like [`JuteIn::read_count_opt`], null reading as 0.
    pub(crate) fn read_count(&mut self, min_elem: u64) -> Result<usize> {
        Ok(self.read_count_opt(min_elem)?.unwrap_or(0))
    }
}

/// Whether `e` is the end of the file (as opposed to damage or an I/O error).
pub(crate) fn is_eof(e: &Error) -> bool {
    matches!(e, Error::UnexpectedEof { .. })
}
