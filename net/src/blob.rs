//! Blobs in chunks: a blob of `n` bytes is `⌈n / CHUNK⌉` chunks (one empty chunk for an empty
//! blob), chunk `i` holding bytes `i·CHUNK ..`, each asked for by (SHA-256 of the blob, `i`).
//! The fetcher learns the blob's length from the first chunk, checks every chunk's length
//! against it, and the whole against the digest: a peer cannot hand over other bytes than
//! those it was asked for.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::NetError;

/// The largest chunk, in bytes (1 MiB).
pub const CHUNK: usize = 1 << 20;

/// The largest blob, in bytes (4 GiB, as chunk indices are `u32` and lengths are checked
/// before any allocation).
pub const MAX_BLOB: u64 = 1 << 32;

/// The SHA-256 digest of a blob: its address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// The number of chunks of a blob of `total` bytes.
pub fn chunks(total: u64) -> u64 {
    total.div_ceil(CHUNK as u64).max(1)
}

/// Chunk `index` of `blob`; `None` past its end.
pub fn chunk(blob: &[u8], index: u32) -> Option<&[u8]> {
    let index = index as usize;
    if index as u64 >= chunks(blob.len() as u64) {
        return None;
    }
    let start = index * CHUNK;
    Some(&blob[start..blob.len().min(start + CHUNK)])
}

/// A blob being put together from its chunks, in order.
#[derive(Debug)]
pub struct Assembly {
    digest: Digest,
    max: u64,
    total: Option<u64>,
    bytes: Vec<u8>,
}

impl Assembly {
    /// An empty assembly of the blob with `digest`, of at most `max` bytes (and never over
    /// [`MAX_BLOB`]): the fetcher says how large a blob it takes before the sender's first
    /// chunk says how large it is.
    pub fn new(digest: Digest, max: u64) -> Assembly {
        Assembly {
            digest,
            max: max.min(MAX_BLOB),
            total: None,
            bytes: Vec::new(),
        }
    }

    /// The index of the chunk to ask for next; `None` once whole.
    pub fn next(&self) -> Option<u32> {
        match self.total {
            None => Some(0),
            Some(total) => {
                let have = self.bytes.len() as u64;
                (have < total).then(|| (have / CHUNK as u64) as u32)
            }
        }
    }

    /// Adds the next chunk, which its sender says belongs to a blob of `total` bytes.
    ///
    /// Errors: [`NetError::Blob`] for a length over the assembly's most (or [`MAX_BLOB`]),
    /// another length than the first chunk said, or a chunk of the wrong size.
    pub fn add(&mut self, total: u64, bytes: &[u8]) -> Result<(), NetError> {
        let fail = |reason: String| NetError::Blob {
            digest: self.digest,
            reason,
        };
        if total > self.max {
            return Err(fail(format!(
                "a length of {total} bytes, over the {} taken",
                self.max
            )));
        }
        if self.total.is_some_and(|t| t != total) {
            return Err(fail(format!(
                "a chunk says the blob has {total} bytes, the first said {}",
                self.total.unwrap_or(0)
            )));
        }
        let have = self.bytes.len() as u64;
        let want = (total - have.min(total)).min(CHUNK as u64);
        if self.total.is_some() && have >= total {
            return Err(fail("a chunk past the blob's end".into()));
        }
        if bytes.len() as u64 != want {
            return Err(fail(format!(
                "a chunk of {} bytes where {want} were due",
                bytes.len()
            )));
        }
        self.total = Some(total);
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// The whole blob.
    ///
    /// Errors: [`NetError::Blob`] when chunks are missing or the bytes do not hash to the
    /// digest.
    pub fn finish(self) -> Result<Vec<u8>, NetError> {
        if self.next().is_some() {
            return Err(NetError::Blob {
                digest: self.digest,
                reason: "chunks are missing".into(),
            });
        }
        let found = Digest::of(&self.bytes);
        if found != self.digest {
            return Err(NetError::Blob {
                digest: self.digest,
                reason: format!("the bytes received hash to {found}"),
            });
        }
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn assemble(blob: &[u8], digest: Digest) -> Result<Vec<u8>, NetError> {
        let mut a = Assembly::new(digest, MAX_BLOB);
        let mut asked = 0;
        while let Some(i) = a.next() {
            asked += 1;
            assert!(asked <= chunks(blob.len() as u64), "asked past the chunks");
            a.add(blob.len() as u64, chunk(blob, i).unwrap())?;
        }
        a.finish()
    }

    #[test]
    fn blobs_of_every_edge_size_reassemble() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 7] {
            let blob: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            assert_eq!(chunks(n as u64), (n.div_ceil(CHUNK)).max(1) as u64);
            assert_eq!(assemble(&blob, Digest::of(&blob)).unwrap(), blob, "{n}");
            assert!(chunk(&blob, chunks(n as u64) as u32).is_none());
        }
    }

    #[test]
    fn bytes_that_do_not_hash_to_the_digest_are_refused() {
        let blob = vec![7u8; CHUNK + 3];
        let mut other = blob.clone();
        other[CHUNK] ^= 1;
        let err = assemble(&other, Digest::of(&blob)).unwrap_err();
        assert!(err.to_string().contains("hash to"), "{err}");
    }

    #[test]
    fn a_chunk_of_the_wrong_size_or_length_is_refused() {
        let mut a = Assembly::new(Digest::of(b"x"), u64::MAX);
        assert!(a.add(10, &[0; 9]).is_err(), "short first chunk");
        assert!(a.add(MAX_BLOB + 1, &[]).is_err(), "oversized blob");
        let mut a = Assembly::new(Digest::of(b"x"), 9);
        assert!(a.add(10, &[0; 10]).is_err(), "over the fetcher's most");
        let mut a = Assembly::new(Digest([0; 32]), MAX_BLOB);
        a.add(CHUNK as u64 + 2, &vec![0; CHUNK]).unwrap();
        assert!(a.add(CHUNK as u64 + 3, &[0; 3]).is_err(), "another length");
        assert!(
            a.add(CHUNK as u64 + 2, &[0; 3]).is_err(),
            "too long a last chunk"
        );
        a.add(CHUNK as u64 + 2, &[0; 2]).unwrap();
        assert!(a.add(CHUNK as u64 + 2, &[]).is_err(), "past the end");
        let err = Assembly::new(Digest([0; 32]), 1).finish().unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    proptest! {
        #[test]
        fn any_blob_reassembles(blob in proptest::collection::vec(any::<u8>(), 0..2000)) {
            prop_assert_eq!(assemble(&blob, Digest::of(&blob)).unwrap(), blob);
        }
    }
}
