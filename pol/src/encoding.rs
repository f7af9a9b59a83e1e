//! The checkpoint log's binary format, version 2, and the byte strings its hashes cover.
//!
//! All integers are little-endian; `f32` values are their IEEE-754 bit patterns as a
//! little-endian `u32` (so the encoding is bit-exact, NaN payloads included). Variable-length
//! fields carry a `u32` length prefix. Fields appear in the order of the Rust structs.
//!
//! **Log file**
//!
//! | size        | field                                   |
//! |-------------|-----------------------------------------|
//! | 7           | magic, ASCII `ZKFLPOL`                  |
//! | 1           | version, `0x02`                         |
//! | *header*    | the header, as below                    |
//! | 4           | `u32` number of entries `n`             |
//! | *entry* × n | the entries, in order, as below         |
//!
//! Nothing may follow the last entry.
//!
//! **Header** (`LogHeader`)
//!
//! | size   | field                                           |
//! |--------|-------------------------------------------------|
//! | 4      | `client`, `u32`                                 |
//! | 4      | `round`, `u32`                                  |
//! | *str*  | `dataset`                                       |
//! | *str*  | `label_column`                                  |
//! | 8      | `split_seed`, `u64`                             |
//! | *str*  | `model`                                         |
//! | 4      | `batch_size`, `u32`                             |
//! | 4      | `momentum`, `f32`                               |
//! | 4      | `proximal_mu`, `f32`                            |
//! | 4      | `every`, `u32`                                  |
//! | 32     | `global`, SHA-256 digest                        |
//! | 32     | `initial`, SHA-256 digest                       |
//! | *bytes*| `initial_commitment`                            |
//!
//! *str* is a `u32` byte length `len` followed by `len` bytes of UTF-8; *bytes* is a `u32`
//! length followed by that many bytes. A commitment's *bytes* are empty (not committed) or the 64
//! bytes of [`CheckpointCommitment::to_bytes`]; any other length is an error.
//!
//! **Entry** (`LogEntry`)
//!
//! | size       | field                                        |
//! |------------|----------------------------------------------|
//! | 8          | `step`, `u64`                                |
//! | 4          | `u32` number of steps `m`                    |
//! | *step* × m | the steps, in order, as below                |
//! | 32         | `checkpoint`, SHA-256 digest                 |
//! | *bytes*    | `commitment`                                 |
//! | 32         | `prev`, SHA-256 digest                       |
//!
//! **Step** (`StepRecord`)
//!
//! | size  | field                                            |
//! |-------|--------------------------------------------------|
//! | 4     | `lr`, `f32`                                      |
//! | 4     | `u32` number of rows `r`                         |
//! | 4 × r | `rows`, each a `u32`                             |
//!
//! **Hashes.** header hash = SHA-256([`HEADER_TAG`] ‖ header bytes) and
//! entry hash = SHA-256([`ENTRY_TAG`] ‖ entry bytes), where "header bytes" and "entry bytes" are
//! exactly the header and entry encodings above (no magic, version or count). Since an entry's
//! bytes include its `prev`, the last entry's hash (the head) binds the whole log.
//!
//! The encoding is canonical: a byte string that decodes re-encodes to itself.
//!
//! Decoding treats its input as untrusted: it never panics, and checks every length prefix
//! against the bytes that remain before allocating anything for it.

use std::path::PathBuf;

use crate::commitment::{COMMITMENT_BYTES, CheckpointCommitment};
use crate::digest::Digest;
use crate::log::{CheckpointLog, LogEntry, LogHeader, StepRecord};

/// The first bytes of every log file.
pub const MAGIC: &[u8; 7] = b"ZKFLPOL";
/// The format version this module writes and reads.
pub const VERSION: u8 = 2;
/// Domain separator prefixed to the header bytes when hashing the header.
pub const HEADER_TAG: &[u8] = b"zkfl-pol-header-v2";
/// Domain separator prefixed to an entry's bytes when hashing the entry.
pub const ENTRY_TAG: &[u8] = b"zkfl-pol-entry-v2";

/// Smallest encoded entry: step, step count, checkpoint, commitment length, prev.
const MIN_ENTRY_BYTES: u64 = 8 + 4 + 32 + 4 + 32;
/// Smallest encoded step: lr, row count.
const MIN_STEP_BYTES: u64 = 4 + 4;

/// Errors reading, writing or decoding a checkpoint log.
#[derive(Debug, thiserror::Error)]
pub enum PolError {
    /// The input does not start with [`MAGIC`].
    #[error("not a checkpoint log: bad magic bytes")]
    BadMagic,
    /// The version byte is not one this code reads.
    #[error("checkpoint log version {0} is not supported (this build reads version {VERSION})")]
    UnsupportedVersion(u8),
    /// The input ends (or a length prefix claims more bytes than remain) inside a field.
    #[error(
        "truncated checkpoint log: {field} needs {needed} bytes at offset {offset}, {remaining} left"
    )]
    Truncated {
        /// Which field was being read, e.g. `entry 3 step 1 rows`.
        field: String,
        /// Byte offset where the field starts.
        offset: usize,
        /// Bytes the field needs (at least).
        needed: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// Bytes remain after the last entry.
    #[error("checkpoint log has {0} trailing bytes after the last entry")]
    TrailingBytes(usize),
    /// A commitment field is neither empty nor 64 bytes.
    #[error("checkpoint log: {field} is {len} bytes (a commitment is 0 or {COMMITMENT_BYTES})")]
    BadCommitment {
        /// Which field, e.g. `entry 3 commitment`.
        field: String,
        /// Its length.
        len: usize,
    },
    /// A string field is not valid UTF-8.
    #[error("checkpoint log: {field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which field, e.g. `header dataset`.
        field: &'static str,
    },
    /// Reading or writing the log file failed.
    #[error("checkpoint log {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The whole log in the file format above.
///
/// # Panics
/// If a string or vector has more than `u32::MAX` elements (not representable).
pub fn encode_log(log: &CheckpointLog) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    encode_header(&log.header, &mut out);
    put_len(&mut out, log.entries.len());
    for entry in &log.entries {
        encode_entry(entry, &mut out);
    }
    out
}

/// Appends the header bytes (the header table above) to `out`.
pub fn encode_header(h: &LogHeader, out: &mut Vec<u8>) {
    out.extend_from_slice(&h.client.to_le_bytes());
    out.extend_from_slice(&h.round.to_le_bytes());
    put_str(out, &h.dataset);
    put_str(out, &h.label_column);
    out.extend_from_slice(&h.split_seed.to_le_bytes());
    put_str(out, &h.model);
    out.extend_from_slice(&h.batch_size.to_le_bytes());
    out.extend_from_slice(&h.momentum.to_bits().to_le_bytes());
    out.extend_from_slice(&h.proximal_mu.to_bits().to_le_bytes());
    out.extend_from_slice(&h.every.to_le_bytes());
    out.extend_from_slice(&h.global.0);
    out.extend_from_slice(&h.initial.0);
    put_commitment(out, h.initial_commitment.as_ref());
}

/// Appends the entry bytes (the entry table above, `prev` included) to `out`.
pub fn encode_entry(e: &LogEntry, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.step.to_le_bytes());
    put_len(out, e.steps.len());
    for s in &e.steps {
        out.extend_from_slice(&s.lr.to_bits().to_le_bytes());
        put_len(out, s.rows.len());
        for r in &s.rows {
            out.extend_from_slice(&r.to_le_bytes());
        }
    }
    out.extend_from_slice(&e.checkpoint.0);
    put_commitment(out, e.commitment.as_ref());
    out.extend_from_slice(&e.prev.0);
}

/// Decodes a whole log file from untrusted bytes.
pub fn decode_log(bytes: &[u8]) -> Result<CheckpointLog, PolError> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(MAGIC.len() as u64, || "magic".into())? != MAGIC {
        return Err(PolError::BadMagic);
    }
    let version = r.take(1, || "version".into())?[0];
    if version != VERSION {
        return Err(PolError::UnsupportedVersion(version));
    }
    let header = decode_header(&mut r)?;
    let n = r.count(MIN_ENTRY_BYTES, || "entry count".into())?;
    let mut entries = Vec::with_capacity(n);
    for i in 0..n {
        entries.push(decode_entry(&mut r, i)?);
    }
    if r.remaining() != 0 {
        return Err(PolError::TrailingBytes(r.remaining()));
    }
    Ok(CheckpointLog { header, entries })
}

fn decode_header(r: &mut Reader<'_>) -> Result<LogHeader, PolError> {
    Ok(LogHeader {
        client: r.u32(|| "header client".into())?,
        round: r.u32(|| "header round".into())?,
        dataset: r.string("header dataset")?,
        label_column: r.string("header label_column")?,
        split_seed: r.u64(|| "header split_seed".into())?,
        model: r.string("header model")?,
        batch_size: r.u32(|| "header batch_size".into())?,
        momentum: f32::from_bits(r.u32(|| "header momentum".into())?),
        proximal_mu: f32::from_bits(r.u32(|| "header proximal_mu".into())?),
        every: r.u32(|| "header every".into())?,
        global: r.digest(|| "header global".into())?,
        initial: r.digest(|| "header initial".into())?,
        initial_commitment: r.commitment(|| "header initial_commitment".into())?,
    })
}

fn decode_entry(r: &mut Reader<'_>, i: usize) -> Result<LogEntry, PolError> {
    let step = r.u64(|| format!("entry {i} step count"))?;
    let m = r.count(MIN_STEP_BYTES, || format!("entry {i} steps"))?;
    let mut steps = Vec::with_capacity(m);
    for j in 0..m {
        let lr = f32::from_bits(r.u32(|| format!("entry {i} step {j} lr"))?);
        let k = r.count(4, || format!("entry {i} step {j} rows"))?;
        let mut rows = Vec::with_capacity(k);
        for _ in 0..k {
            rows.push(r.u32(|| format!("entry {i} step {j} rows"))?);
        }
        steps.push(StepRecord { lr, rows });
    }
    Ok(LogEntry {
        step,
        steps,
        checkpoint: r.digest(|| format!("entry {i} checkpoint"))?,
        commitment: r.commitment(|| format!("entry {i} commitment"))?,
        prev: r.digest(|| format!("entry {i} prev"))?,
    })
}

/// Decodes one header's bytes (the header table above, nothing more).
pub fn decode_header_bytes(bytes: &[u8]) -> Result<LogHeader, PolError> {
    let mut r = Reader { bytes, pos: 0 };
    let header = decode_header(&mut r)?;
    match r.remaining() {
        0 => Ok(header),
        n => Err(PolError::TrailingBytes(n)),
    }
}

/// Decodes one entry's bytes (the entry table above, nothing more).
pub fn decode_entry_bytes(bytes: &[u8]) -> Result<LogEntry, PolError> {
    let mut r = Reader { bytes, pos: 0 };
    let entry = decode_entry(&mut r, 0)?;
    match r.remaining() {
        0 => Ok(entry),
        n => Err(PolError::TrailingBytes(n)),
    }
}

/// Appends a commitment: empty, or its 64 bytes, with the `u32` length prefix.
fn put_commitment(out: &mut Vec<u8>, c: Option<&CheckpointCommitment>) {
    match c {
        Some(c) => {
            put_len(out, COMMITMENT_BYTES);
            out.extend_from_slice(&c.to_bytes());
        }
        None => put_len(out, 0),
    }
}

/// Appends a `u32` length prefix.
fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("checkpoint log: length exceeds u32::MAX");
    out.extend_from_slice(&len.to_le_bytes());
}

/// Appends a length-prefixed UTF-8 string.
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over untrusted bytes; every read is bounds-checked. Field names are built lazily,
/// only when an error is reported.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes, or `Truncated` naming `field`.
    fn take(&mut self, n: u64, field: impl FnOnce() -> String) -> Result<&'a [u8], PolError> {
        let remaining = self.remaining();
        match usize::try_from(n) {
            Ok(len) if len <= remaining => {
                let out = &self.bytes[self.pos..self.pos + len];
                self.pos += len;
                Ok(out)
            }
            _ => Err(PolError::Truncated {
                field: field(),
                offset: self.pos,
                needed: n,
                remaining,
            }),
        }
    }

    fn array<const N: usize>(
        &mut self,
        field: impl FnOnce() -> String,
    ) -> Result<[u8; N], PolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, field)?);
        Ok(out)
    }

    fn u32(&mut self, field: impl FnOnce() -> String) -> Result<u32, PolError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: impl FnOnce() -> String) -> Result<u64, PolError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    fn digest(&mut self, field: impl FnOnce() -> String) -> Result<Digest, PolError> {
        Ok(Digest(self.array(field)?))
    }

    fn bytes(&mut self, field: impl Fn() -> String) -> Result<Vec<u8>, PolError> {
        let len = self.count(1, &field)?;
        Ok(self.take(len as u64, field)?.to_vec())
    }

    /// A `u32` element count whose elements take at least `min_size` bytes each; fails as
    /// `Truncated` unless that many bytes remain, so the caller may allocate `count` slots.
    fn count(&mut self, min_size: u64, field: impl Fn() -> String) -> Result<usize, PolError> {
        let at = self.pos;
        let n = self.u32(|| format!("{} length", field()))?;
        let needed = u64::from(n) * min_size;
        let remaining = self.remaining();
        match usize::try_from(needed) {
            Ok(need) if need <= remaining => Ok(n as usize),
            _ => Err(PolError::Truncated {
                field: field(),
                offset: at + 4,
                needed,
                remaining,
            }),
        }
    }

    /// A length-prefixed UTF-8 string.
    /// A commitment: empty (`None`) or exactly 64 bytes.
    fn commitment(
        &mut self,
        field: impl Fn() -> String,
    ) -> Result<Option<CheckpointCommitment>, PolError> {
        let bytes = self.bytes(&field)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        CheckpointCommitment::from_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| PolError::BadCommitment {
                field: field(),
                len: bytes.len(),
            })
    }

    fn string(&mut self, field: &'static str) -> Result<String, PolError> {
        let len = self.u32(|| format!("{field} length"))?;
        let bytes = self.take(u64::from(len), || field.into())?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| PolError::InvalidUtf8 { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tests::{arb_log, sample_header};
    use proptest::prelude::*;

    fn sample_log() -> CheckpointLog {
        let mut log = CheckpointLog::new(sample_header());
        log.append(
            vec![
                StepRecord {
                    lr: 0.5,
                    rows: vec![1, 2],
                },
                StepRecord {
                    lr: 0.25,
                    rows: vec![],
                },
            ],
            Digest([7; 32]),
        );
        log
    }

    /// The bytes of `sample_log()`, written out by hand from the tables in the module doc.
    fn sample_bytes() -> Vec<u8> {
        let h = sample_header();
        let mut b = Vec::new();
        b.extend_from_slice(b"ZKFLPOL\x02");
        b.extend_from_slice(&[3, 0, 0, 0, 7, 0, 0, 0]); // client, round
        b.extend_from_slice(&[6, 0, 0, 0]);
        b.extend_from_slice(b"digits");
        b.extend_from_slice(&[4, 0, 0, 0]);
        b.extend_from_slice(b"last");
        b.extend_from_slice(&[42, 0, 0, 0, 0, 0, 0, 0]); // split_seed
        b.extend_from_slice(&[12, 0, 0, 0]);
        b.extend_from_slice(b"mlp:64-64-10");
        b.extend_from_slice(&[32, 0, 0, 0]); // batch_size
        b.extend_from_slice(&0.9f32.to_bits().to_le_bytes());
        b.extend_from_slice(&0.01f32.to_bits().to_le_bytes());
        b.extend_from_slice(&[2, 0, 0, 0]); // every
        b.extend_from_slice(&h.global.0);
        b.extend_from_slice(&h.initial.0);
        b.extend_from_slice(&[64, 0, 0, 0]); // initial commitment: BN254, then Pasta part
        b.extend_from_slice(&[5; 32]);
        b.extend_from_slice(&[6; 32]);
        let header_end = b.len();
        b.extend_from_slice(&[1, 0, 0, 0]); // one entry
        let entry_start = b.len();
        b.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]); // step
        b.extend_from_slice(&[2, 0, 0, 0]); // two steps
        b.extend_from_slice(&[0, 0, 0, 0x3f]); // lr 0.5
        b.extend_from_slice(&[2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]); // rows [1, 2]
        b.extend_from_slice(&[0, 0, 0x80, 0x3e]); // lr 0.25
        b.extend_from_slice(&[0, 0, 0, 0]); // no rows
        b.extend_from_slice(&[7; 32]); // checkpoint
        b.extend_from_slice(&[0, 0, 0, 0]); // no commitment
        // prev = SHA-256(header tag || header bytes)
        let mut tagged = HEADER_TAG.to_vec();
        tagged.extend_from_slice(&b[8..header_end]);
        b.extend_from_slice(&Digest::of(&tagged).0);
        assert_eq!(
            b.len() - entry_start,
            8 + 4 + (4 + 12) + (4 + 4) + 32 + 4 + 32
        );
        b
    }

    #[test]
    fn encoding_matches_documented_layout() {
        let log = sample_log();
        let bytes = sample_bytes();
        assert_eq!(log.to_bytes(), bytes);
        assert_eq!(CheckpointLog::from_bytes(&bytes).expect("decode"), log);
        // The entry hash covers the tag and exactly the entry bytes.
        let entry_bytes = &bytes[bytes.len() - (8 + 4 + (4 + 12) + (4 + 4) + 32 + 4 + 32)..];
        let mut tagged = ENTRY_TAG.to_vec();
        tagged.extend_from_slice(entry_bytes);
        assert_eq!(log.head(), Digest::of(&tagged));
    }

    #[test]
    fn bad_magic_and_unknown_version() {
        let mut bytes = sample_bytes();
        bytes[0] = b'X';
        assert!(matches!(decode_log(&bytes), Err(PolError::BadMagic)));
        let mut bytes = sample_bytes();
        bytes[7] = 1;
        let err = decode_log(&bytes).expect_err("version 1");
        assert!(matches!(err, PolError::UnsupportedVersion(1)));
        assert!(err.to_string().contains("version 1"), "{err}");
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut bytes = sample_bytes();
        bytes.extend_from_slice(&[0, 0]);
        assert!(matches!(
            decode_log(&bytes),
            Err(PolError::TrailingBytes(2))
        ));
    }

    #[test]
    fn truncation_names_the_field() {
        let bytes = sample_bytes();
        let err = decode_log(&bytes[..bytes.len() - 1]).expect_err("truncated");
        match &err {
            PolError::Truncated { field, .. } => assert_eq!(field, "entry 0 prev"),
            other => panic!("expected Truncated, got {other:?}"),
        }
        let err = decode_log(&bytes[..10]).expect_err("truncated");
        assert!(err.to_string().contains("header client"), "{err}");
        let err = decode_log(&bytes[..3]).expect_err("truncated");
        assert!(err.to_string().contains("magic"), "{err}");
    }

    #[test]
    fn invalid_utf8_rejected() {
        let mut bytes = sample_bytes();
        // First byte of "digits" (after magic, version, client, round, length).
        bytes[8 + 8 + 4] = 0xff;
        assert!(matches!(
            decode_log(&bytes),
            Err(PolError::InvalidUtf8 {
                field: "header dataset"
            })
        ));
    }

    #[test]
    fn commitment_of_another_length_rejected() {
        let entry = |commitment: &[u8]| {
            let mut b = vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // step 1, no step records
            b.extend_from_slice(&[7; 32]); // checkpoint
            b.extend_from_slice(&(commitment.len() as u32).to_le_bytes());
            b.extend_from_slice(commitment);
            b.extend_from_slice(&[8; 32]); // prev
            b
        };
        assert_eq!(decode_entry_bytes(&entry(&[])).unwrap().commitment, None);
        assert!(
            decode_entry_bytes(&entry(&[3; 64]))
                .unwrap()
                .commitment
                .is_some()
        );
        for len in [3, 32, 65] {
            let err = decode_entry_bytes(&entry(&vec![3; len])).expect_err("bad length");
            assert!(
                matches!(&err, PolError::BadCommitment { field, len: l } if field == "entry 0 commitment" && *l == len),
                "{err}"
            );
        }
        let mut trailing = entry(&[]);
        trailing.push(0);
        assert!(matches!(
            decode_entry_bytes(&trailing),
            Err(PolError::TrailingBytes(1))
        ));
    }

    #[test]
    fn huge_length_prefixes_fail_without_allocating() {
        let header_len = {
            let mut v = Vec::new();
            encode_header(&sample_header(), &mut v);
            v.len()
        };
        // Entry count u32::MAX with no entries following.
        let mut bytes = sample_bytes()[..8 + header_len].to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        match decode_log(&bytes) {
            Err(PolError::Truncated {
                field,
                needed,
                remaining,
                ..
            }) => {
                assert_eq!(field, "entry count");
                assert_eq!(needed, u64::from(u32::MAX) * MIN_ENTRY_BYTES);
                assert_eq!(remaining, 0);
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
        // A string length far beyond the input.
        let mut bytes = sample_bytes();
        bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode_log(&bytes).expect_err("huge string");
        assert!(err.to_string().contains("header dataset"), "{err}");
        // A row count far beyond the input.
        let mut bytes = sample_bytes();
        let rows_at = 8 + header_len + 4 + 8 + 4 + 4;
        bytes[rows_at..rows_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode_log(&bytes).expect_err("huge rows");
        assert!(err.to_string().contains("entry 0 step 0 rows"), "{err}");
    }

    proptest! {
        #[test]
        fn round_trip(log in arb_log()) {
            let bytes = log.to_bytes();
            let back = CheckpointLog::from_bytes(&bytes).expect("decode");
            prop_assert_eq!(&back, &log);
            prop_assert_eq!(back.head(), log.head());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Canonical: anything that decodes re-encodes to the same bytes.
            if let Ok(log) = decode_log(&bytes) {
                prop_assert_eq!(log.to_bytes(), bytes);
            }
        }

        #[test]
        fn random_bytes_after_valid_prefix_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut bytes = MAGIC.to_vec();
            bytes.push(VERSION);
            bytes.extend_from_slice(&tail);
            if let Ok(log) = decode_log(&bytes) {
                prop_assert_eq!(log.to_bytes(), bytes);
            }
        }

        #[test]
        fn truncations_are_errors(log in arb_log(), cut in any::<prop::sample::Index>()) {
            let bytes = log.to_bytes();
            let len = cut.index(bytes.len());
            let is_truncated = matches!(
                decode_log(&bytes[..len]),
                Err(PolError::Truncated { .. })
            );
            prop_assert!(is_truncated);
        }

        #[test]
        fn bit_flips_never_panic(
            log in arb_log(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
        ) {
            let mut bytes = log.to_bytes();
            for (at, bit) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            match decode_log(&bytes) {
                Ok(decoded) => prop_assert_eq!(decoded.to_bytes(), bytes),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
