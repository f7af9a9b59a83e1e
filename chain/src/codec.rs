//! The binary encoding shared by transactions, blocks, receipts and stored nodes.
//!
//! Integers are fixed-width big-endian; byte strings and strings carry a length prefix of a
//! stated width; a record starts with a 4-byte magic and a version byte. [`Reader`] checks
//! every length against what is left and against the caller's limit before allocating, so
//! decoding untrusted bytes returns [`DecodeError`] and never panics or over-allocates.

/// Why bytes did not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("truncated: {field} needs {needed} more bytes, {left} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// Bytes remain after the record.
    #[error("{0} trailing bytes after the record")]
    Trailing(usize),
    /// The record does not start with the expected magic.
    #[error("bad magic: expected {expected:?}")]
    BadMagic {
        /// The expected magic.
        expected: &'static str,
    },
    /// An unknown format version.
    #[error("unsupported {what} version {found}")]
    Version {
        /// The record kind.
        what: &'static str,
        /// The version byte found.
        found: u8,
    },
    /// A length over the field's limit.
    #[error("{field} too long: {len} bytes, at most {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field's content is invalid (bad UTF-8, bad key, non-canonical form, ...).
    #[error("bad {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl DecodeError {
    /// An invalid-field error.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> DecodeError {
        DecodeError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// Appends encoded fields to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer starting with `magic` and `version`.
    pub fn record(magic: &[u8; 4], version: u8) -> Writer {
        let mut w = Writer::default();
        w.raw(magic);
        w.u8(version);
        w
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// Raw bytes, no prefix.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.raw(&v.to_be_bytes());
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.raw(&v.to_be_bytes());
    }

    /// A big-endian u128.
    pub fn u128(&mut self, v: u128) {
        self.raw(&v.to_be_bytes());
    }

    /// Bytes with a u16 length prefix. Callers bound the length (an internal invariant).
    pub fn bytes16(&mut self, bytes: &[u8]) {
        let len = u16::try_from(bytes.len()).expect("invariant: u16-prefixed fields are bounded");
        self.u16(len);
        self.raw(bytes);
    }

    /// Bytes with a u32 length prefix. Callers bound the length (an internal invariant).
    pub fn bytes32(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).expect("invariant: u32-prefixed fields are bounded");
        self.u32(len);
        self.raw(bytes);
    }
}

/// Reads encoded fields from untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// A reader over a record: checks `magic` and that the version byte is `version`.
    pub fn record(
        bytes: &'a [u8],
        magic: &'static [u8; 4],
        what: &'static str,
        version: u8,
    ) -> Result<Reader<'a>, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.take(4, "magic")? != magic {
            return Err(DecodeError::BadMagic {
                expected: std::str::from_utf8(magic).unwrap_or("?"),
            });
        }
        let found = r.u8("version")?;
        if found != version {
            return Err(DecodeError::Version { what, found });
        }
        Ok(r)
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing(self.rest.len()))
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::Truncated {
                field,
                needed: n,
                left: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// A big-endian u32.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A big-endian u128.
    pub fn u128(&mut self, field: &'static str) -> Result<u128, DecodeError> {
        Ok(u128::from_be_bytes(self.array(field)?))
    }

    /// Bytes with a u16 length prefix, at most `max`.
    pub fn bytes16(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.u16(field)?);
        self.bounded(field, len, max)
    }

    /// Bytes with a u32 length prefix, at most `max`.
    pub fn bytes32(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        self.bounded(field, len, max)
    }

    /// A UTF-8 string with a u16 length prefix, at most `max` bytes.
    pub fn str16(&mut self, field: &'static str, max: usize) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes16(field, max)?;
        std::str::from_utf8(bytes).map_err(|e| DecodeError::invalid(field, e.to_string()))
    }

    /// A UTF-8 string with a u32 length prefix, at most `max` bytes.
    pub fn str32(&mut self, field: &'static str, max: usize) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes32(field, max)?;
        std::str::from_utf8(bytes).map_err(|e| DecodeError::invalid(field, e.to_string()))
    }

    fn bounded(
        &mut self,
        field: &'static str,
        len: usize,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        self.take(len, field)
    }
}
