//! Content-addressed blob store: files named by the SHA-256 of their content.
//!
//! Checkpoints (model parameters, plus the momentum buffer when momentum is used) are stored as
//! blobs and referred to by their [`Digest`] from the proof-of-learning log. A blob is written to a
//! temporary file in the store's directory and then renamed into place, so a reader never sees a
//! half-written blob under its final name. Reading re-hashes the content, so a blob edited on disk
//! is reported as [`BlobError::Corrupt`] instead of being returned.
//!
//! The canonical checkpoint bytes are the `f32` values little-endian, in order
//! ([`f32s_to_bytes`] / [`bytes_to_f32s`]).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use pol::Digest;
pub use pol::digest::DigestParseError;

/// Errors of the blob store and of the checkpoint byte format.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A file system operation on the store failed.
    #[error("blob store {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No blob with this digest is in the store.
    #[error("blob {0} is not in the store")]
    NotFound(Digest),
    /// The blob's content does not hash to its name.
    #[error("blob {expected} is corrupt: its content hashes to {actual}")]
    Corrupt {
        /// The digest the blob is stored under.
        expected: Digest,
        /// The digest of the content actually found.
        actual: Digest,
    },
    /// Checkpoint bytes whose length is not a multiple of 4.
    #[error("checkpoint bytes: length {0} is not a multiple of 4")]
    NotF32s(usize),
    /// A lease file does not hold a time (e.g. empty after a crash): its blob is kept.
    #[error("lease {path} cannot be read: {found:?} is not a count of seconds")]
    BadLease {
        /// The lease file.
        path: PathBuf,
        /// What it holds (at most 40 characters).
        found: String,
    },
}

/// Distinguishes temporary files written concurrently by one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A number no other temporary file of this process has used.
pub(crate) fn next_temp_id() -> u64 {
    TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Files named by the SHA-256 of their content, in one directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens the store in `dir`, creating the directory (and its parents) if needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = dir.into();
        fs::create_dir_all(&root).map_err(|source| BlobError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(BlobStore { root })
    }

    /// Stores `bytes` and returns their digest. The write is atomic (temporary file in the same
    /// directory, then rename); nothing is written if a blob with that digest is already present.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, BlobError> {
        let digest = Digest::of(bytes);
        let path = self.path_of(&digest);
        if path.is_file() {
            return Ok(digest);
        }
        let temp = self.root.join(format!(
            ".tmp-{}-{}-{}",
            digest,
            std::process::id(),
            next_temp_id()
        ));
        // No fsync: a blob is named by its digest, so one lost or cut short by a power loss is
        // reported (missing, or corrupt on read) and never taken for another; an fsync per blob
        // cost ~0.5 ms, several training steps, on every proof-of-learning checkpoint.
        write_renamed(&temp, &path, bytes, false)
            .map_err(|source| BlobError::Io { path, source })?;
        Ok(digest)
    }

    /// Reads the blob named `digest`, checking that its content still hashes to that name.
    pub fn get(&self, digest: &Digest) -> Result<Vec<u8>, BlobError> {
        let path = self.path_of(digest);
        let bytes = fs::read(&path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                BlobError::NotFound(*digest)
            } else {
                BlobError::Io { path, source }
            }
        })?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(BlobError::Corrupt {
                expected: *digest,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Whether a blob named `digest` is present (its content is not checked).
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path_of(digest).is_file()
    }

    /// Stores a checkpoint given as `f32` values in their canonical bytes ([`f32s_to_bytes`]).
    pub fn put_f32s(&self, values: &[f32]) -> Result<Digest, BlobError> {
        self.put(&f32s_to_bytes(values))
    }

    /// Reads a checkpoint stored with [`BlobStore::put_f32s`], checking its digest.
    pub fn get_f32s(&self, digest: &Digest) -> Result<Vec<f32>, BlobError> {
        bytes_to_f32s(&self.get(digest)?)
    }

    /// The path where the blob named `d` is (or would be) stored.
    pub fn path_of(&self, d: &Digest) -> PathBuf {
        self.root.join(d.to_hex())
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Writes `bytes` to the file `temp`, flushes it to disk, renames it to `path` and flushes
/// the directory: after a crash, `path` holds either its old content or all of `bytes`, never an
/// empty or partial file (a rename alone can reach the disk before the data it names). `temp`
/// is removed on failure. For leases and run files, whose loss or emptiness would be read as
/// something else.
pub fn write_durably(temp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_renamed(temp, path, bytes, true)
}

/// [`write_durably`] with the two flushes only when `durable`. Without them a killed process
/// still leaves `path` whole or absent; a power loss may drop it (or, on some file systems,
/// leave it empty).
fn write_renamed(temp: &Path, path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let written = (|| {
        // Temporary names are unique among live writers (process id and a counter): one that
        // exists is left by a crashed process that had this id, and is overwritten.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(temp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(temp, path)?;
        if durable { sync_dir(path) } else { Ok(()) }
    })();
    if written.is_err() {
        // Best effort: the temporary file may not even exist.
        let _ = fs::remove_file(temp);
    }
    written
}

/// Flushes the directory holding `path` (its entries), where the platform allows it.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Canonical checkpoint bytes: the `f32` values little-endian, in order.
pub fn f32s_to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The inverse of [`f32s_to_bytes`]; fails if the length is not a multiple of 4.
pub fn bytes_to_f32s(bytes: &[u8]) -> Result<Vec<f32>, BlobError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(BlobError::NotF32s(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path().join("blobs")).expect("open");
        (dir, store)
    }

    #[test]
    fn put_get_contains() {
        let (_dir, store) = store();
        assert!(store.root().is_dir());
        let d = store.put(b"hello").expect("put");
        assert_eq!(d, Digest::of(b"hello"));
        assert!(store.contains(&d));
        assert_eq!(store.get(&d).expect("get"), b"hello");
        assert_eq!(store.path_of(&d), store.root().join(d.to_string()));
        // Putting again is a no-op with the same digest.
        assert_eq!(store.put(b"hello").expect("put again"), d);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(store.root())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(d.to_string())]);
    }

    #[test]
    fn get_missing_is_not_found() {
        let (_dir, store) = store();
        let d = Digest::of(b"absent");
        assert!(!store.contains(&d));
        assert!(matches!(store.get(&d), Err(BlobError::NotFound(x)) if x == d));
    }

    #[test]
    fn get_detects_edited_content() {
        let (_dir, store) = store();
        let d = store.put(b"original").expect("put");
        fs::write(store.path_of(&d), b"edited").expect("edit");
        match store.get(&d) {
            Err(BlobError::Corrupt { expected, actual }) => {
                assert_eq!(expected, d);
                assert_eq!(actual, Digest::of(b"edited"));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn f32_bytes_are_little_endian() {
        assert_eq!(
            f32s_to_bytes(&[1.0, -2.5]),
            vec![0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0]
        );
        assert!(matches!(
            bytes_to_f32s(&[0, 0, 0]),
            Err(BlobError::NotF32s(3))
        ));
        assert_eq!(bytes_to_f32s(&[]).expect("empty"), Vec::<f32>::new());
    }

    #[test]
    fn put_get_f32s() {
        let (_dir, store) = store();
        let values = [0.5f32, -1.0, 3.25];
        let d = store.put_f32s(&values).expect("put");
        assert_eq!(d, Digest::of(&f32s_to_bytes(&values)));
        assert_eq!(store.get_f32s(&d).expect("get"), values);
    }

    proptest! {
        #[test]
        fn f32_bytes_round_trip_bitwise(bits in proptest::collection::vec(any::<u32>(), 0..64)) {
            let values: Vec<f32> = bits.iter().map(|b| f32::from_bits(*b)).collect();
            let back = bytes_to_f32s(&f32s_to_bytes(&values)).expect("round trip");
            let back_bits: Vec<u32> = back.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(back_bits, bits);
        }

        #[test]
        fn digest_display_parse_round_trip(bytes in any::<[u8; 32]>()) {
            let d = Digest(bytes);
            prop_assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        }
    }
}
