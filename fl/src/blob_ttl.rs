//! Time-to-live for blobs, and collecting the expired ones.
//!
//! A blob stored with [`BlobStore::put_for`] (or given a lease with [`BlobStore::retain`]) has an
//! expiry time, kept in `DIR/.leases/<digest>` as a decimal count of seconds since the Unix epoch.
//! Leases only ever grow: retaining a blob again keeps the later of the two times, so one user's
//! short lease never cuts another's longer one. A blob with no lease is permanent.
//!
//! [`BlobStore::collect_garbage`] removes every blob whose lease has ended, then its lease. A
//! blob is removed before its lease, so a crash in between leaves a lease without a blob, which
//! the next collection removes; never a blob without its lease. Leases are written durably
//! ([`crate::blob::write_durably`]); a lease that cannot be read anyway (empty, or not a
//! number) protects its blob: the collection keeps it and reports it, and a new
//! [`BlobStore::retain`] replaces it.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::blob::{BlobError, BlobStore, Digest, write_durably};

/// What a garbage collection did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Blobs removed because their lease ended.
    pub removed: usize,
    /// Bytes those blobs took.
    pub freed_bytes: u64,
    /// Blobs whose lease is still running.
    pub leased: usize,
    /// Blobs kept because their lease cannot be read: digest and why.
    pub unreadable: Vec<(Digest, String)>,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl BlobStore {
    fn leases_dir(&self) -> PathBuf {
        self.root().join(".leases")
    }

    fn io_error(path: PathBuf) -> impl FnOnce(io::Error) -> BlobError {
        move |source| BlobError::Io { path, source }
    }

    /// The expiry of a blob's lease (seconds since the epoch), or `None` for a permanent blob.
    /// A lease file that does not hold a count of seconds is [`BlobError::BadLease`].
    pub fn expiry(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        let path = self.leases_dir().join(digest.to_hex());
        match fs::read_to_string(&path) {
            Ok(text) => match text.trim().parse::<u64>() {
                Ok(until) => Ok(Some(until)),
                Err(_) => Err(BlobError::BadLease {
                    path,
                    found: text.chars().take(40).collect(),
                }),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { path, source }),
        }
    }

    /// Keeps the blob `digest` at least until `until` (seconds since the epoch). An unreadable
    /// lease is replaced by this one.
    pub fn retain(&self, digest: &Digest, until: u64) -> Result<(), BlobError> {
        let dir = self.leases_dir();
        fs::create_dir_all(&dir).map_err(Self::io_error(dir.clone()))?;
        let until = match self.expiry(digest) {
            Ok(old) => old.map_or(until, |old| old.max(until)),
            Err(BlobError::BadLease { .. }) => until,
            Err(e) => return Err(e),
        };
        let path = dir.join(digest.to_hex());
        let temp = dir.join(format!(
            ".tmp-{}-{}-{}",
            digest.to_hex(),
            std::process::id(),
            crate::blob::next_temp_id()
        ));
        write_durably(&temp, &path, until.to_string().as_bytes()).map_err(Self::io_error(path))
    }

    /// Stores `bytes` to be kept for at least `ttl` from now; returns their digest.
    pub fn put_for(&self, bytes: &[u8], ttl: Duration) -> Result<Digest, BlobError> {
        let digest = self.put(bytes)?;
        self.retain(&digest, unix_now().saturating_add(ttl.as_secs()))?;
        Ok(digest)
    }

    /// Removes every blob whose lease ended before `now` (seconds since the epoch).
    pub fn collect_garbage(&self, now: u64) -> Result<GcReport, BlobError> {
        let dir = self.leases_dir();
        let mut report = GcReport::default();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
            Err(source) => return Err(BlobError::Io { path: dir, source }),
        };
        for entry in entries {
            let entry = entry.map_err(Self::io_error(dir.clone()))?;
            let Some(digest) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<Digest>().ok())
            else {
                continue;
            };
            match self.expiry(&digest) {
                Err(BlobError::BadLease { path, found }) => {
                    let why = format!("lease {} holds {found:?}", path.display());
                    report.unreadable.push((digest, why));
                }
                Err(e) => return Err(e),
                Ok(Some(until)) if until >= now => report.leased += 1,
                Ok(_) => {
                    let blob = self.path_of(&digest);
                    if let Ok(meta) = fs::metadata(&blob) {
                        fs::remove_file(&blob).map_err(Self::io_error(blob.clone()))?;
                        report.removed += 1;
                        report.freed_bytes += meta.len();
                    }
                    let lease = entry.path();
                    fs::remove_file(&lease).map_err(Self::io_error(lease))?;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_blobs_go_permanent_and_leased_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let permanent = store.put(b"model").unwrap();
        let short = store.put(b"checkpoint").unwrap();
        let long = store.put(b"proof").unwrap();
        store.retain(&short, 100).unwrap();
        store.retain(&long, 100).unwrap();
        store.retain(&long, 500).unwrap();
        store.retain(&long, 200).unwrap(); // a shorter lease never cuts a longer one
        assert_eq!(store.expiry(&long).unwrap(), Some(500));
        assert_eq!(store.expiry(&permanent).unwrap(), None);

        let report = store.collect_garbage(300).unwrap();
        assert_eq!(
            report,
            GcReport {
                removed: 1,
                freed_bytes: b"checkpoint".len() as u64,
                leased: 1,
                unreadable: Vec::new(),
            }
        );
        assert!(matches!(store.get(&short), Err(BlobError::NotFound(_))));
        assert_eq!(store.get(&long).unwrap(), b"proof");
        assert_eq!(store.get(&permanent).unwrap(), b"model");
        assert_eq!(store.expiry(&short).unwrap(), None);

        assert_eq!(store.collect_garbage(501).unwrap().removed, 1);
        assert_eq!(store.get(&permanent).unwrap(), b"model");
    }

    #[test]
    fn put_for_leases_from_now_and_a_lease_without_blob_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let d = store.put_for(b"x", Duration::from_secs(60)).unwrap();
        let until = store.expiry(&d).unwrap().unwrap();
        assert!(until >= unix_now() + 59 && until <= unix_now() + 61);
        assert_eq!(store.collect_garbage(unix_now()).unwrap().leased, 1);
        // A crash between removing a blob and its lease leaves only the lease.
        fs::remove_file(store.path_of(&d)).unwrap();
        let report = store.collect_garbage(until + 1).unwrap();
        assert_eq!(report.removed, 0);
        assert_eq!(store.expiry(&d).unwrap(), None);
    }

    #[test]
    fn an_unreadable_lease_keeps_its_blob_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        for (i, text) in ["", "   \n", "soon", "-5", "12abc", "\u{0}"]
            .iter()
            .enumerate()
        {
            let d = store.put(format!("blob {i}").as_bytes()).unwrap();
            store.retain(&d, 1).unwrap();
            // What a crash after an unsynced rename, or a stray edit, leaves.
            fs::write(dir.path().join(".leases").join(d.to_hex()), text).unwrap();
            assert!(matches!(store.expiry(&d), Err(BlobError::BadLease { .. })));
            let report = store.collect_garbage(u64::MAX).unwrap();
            assert_eq!(report.removed, 0, "{text:?}");
            assert_eq!(report.unreadable.len(), 1, "{text:?}");
            assert_eq!(report.unreadable[0].0, d);
            assert!(store.get(&d).is_ok(), "{text:?}: the blob is kept");
            // A new lease replaces the unreadable one; then it expires as any other.
            store.retain(&d, 10).unwrap();
            assert_eq!(store.expiry(&d).unwrap(), Some(10));
            assert_eq!(store.collect_garbage(11).unwrap().removed, 1);
        }
    }
}
