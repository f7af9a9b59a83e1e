//! Structural check of a checkpoint log against a blob store: the hash links, the step counts
//! and the checkpoint blobs. It does not replay any training.

use crate::blob::{BlobError, BlobStore, Digest};
use crate::pol::CheckpointLog;

/// The first structural failure found in a log.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The first entry's `prev` is not the header hash (the header was altered, or the entry
    /// belongs to another log).
    #[error("entry 0: prev hash does not match the header")]
    HeaderMismatch,
    /// Entry `entry`'s `prev` is not the hash of entry `entry - 1`.
    #[error("entry {entry}: prev hash does not match entry {}", .entry - 1)]
    PrevMismatch {
        /// Index of the entry whose link is broken (at least 1).
        entry: usize,
    },
    /// An entry records no optimizer steps, so its step count does not strictly increase.
    #[error("entry {entry}: empty segment (no optimizer steps)")]
    EmptySegment {
        /// Index of the entry.
        entry: usize,
    },
    /// An entry's step count is not the previous count plus its number of steps.
    #[error(
        "entry {entry}: step count is {found}, but the previous count {before} plus {len} steps is not that"
    )]
    StepMismatch {
        /// Index of the entry.
        entry: usize,
        /// Step count before the entry (0 for the first).
        before: u64,
        /// Number of steps the entry records.
        len: u64,
        /// Step count the entry claims.
        found: u64,
    },
    /// The initial checkpoint (`header.initial`) cannot be read or is corrupt.
    #[error("initial checkpoint: {0}")]
    Initial(#[source] BlobError),
    /// An entry's checkpoint blob is not in the store.
    #[error("entry {entry}: checkpoint {digest} is not in the blob store")]
    MissingCheckpoint {
        /// Index of the entry.
        entry: usize,
        /// The checkpoint digest it records.
        digest: Digest,
    },
    /// An entry's checkpoint blob does not hash to its digest (it was edited).
    #[error("entry {entry}: checkpoint blob {digest} does not match its digest")]
    CorruptCheckpoint {
        /// Index of the entry.
        entry: usize,
        /// The checkpoint digest it records.
        digest: Digest,
    },
    /// Reading an entry's checkpoint blob failed for another reason.
    #[error("entry {entry}: reading checkpoint: {source}")]
    Blob {
        /// Index of the entry.
        entry: usize,
        /// The store's error.
        source: BlobError,
    },
    /// An entry's checkpoint has a different byte length than the initial checkpoint.
    #[error("entry {entry}: checkpoint is {found} bytes, the initial checkpoint is {expected}")]
    CheckpointLength {
        /// Index of the entry.
        entry: usize,
        /// Byte length of the initial checkpoint.
        expected: usize,
        /// Byte length of this entry's checkpoint.
        found: usize,
    },
    /// The log's head is not the hash that was posted for it.
    #[error("log head {found} does not match the posted head {expected}")]
    HeadMismatch {
        /// The posted head.
        expected: Digest,
        /// The head of the log at hand.
        found: Digest,
    },
}

/// Checks a log's structure: each entry's `prev` is the hash of the one before (the header's
/// for the first), step counts strictly increase by exactly each segment's length, and every
/// checkpoint blob (the initial one included) is in `blobs`, matches its digest and has the
/// initial checkpoint's byte length. Returns the first failure, naming its entry index.
///
/// Entries are checked in order; within an entry: link, then step count, then checkpoint.
/// It does not check the global model blob nor that rows lie in the training set (that needs
/// the data; see replay).
pub fn check_chain(log: &CheckpointLog, blobs: &BlobStore) -> Result<(), ChainError> {
    let initial_len = blobs
        .get(&log.header.initial)
        .map_err(ChainError::Initial)?
        .len();
    let mut prev = log.header_hash();
    let mut before = 0u64;
    for (i, entry) in log.entries.iter().enumerate() {
        if entry.prev != prev {
            return Err(match i {
                0 => ChainError::HeaderMismatch,
                _ => ChainError::PrevMismatch { entry: i },
            });
        }
        if entry.steps.is_empty() {
            return Err(ChainError::EmptySegment { entry: i });
        }
        let len = entry.steps.len() as u64;
        if before.checked_add(len) != Some(entry.step) {
            return Err(ChainError::StepMismatch {
                entry: i,
                before,
                len,
                found: entry.step,
            });
        }
        let digest = entry.checkpoint;
        let found = match blobs.get(&digest) {
            Ok(bytes) => bytes.len(),
            Err(BlobError::NotFound(_)) => {
                return Err(ChainError::MissingCheckpoint { entry: i, digest });
            }
            Err(BlobError::Corrupt { .. }) => {
                return Err(ChainError::CorruptCheckpoint { entry: i, digest });
            }
            Err(source) => return Err(ChainError::Blob { entry: i, source }),
        };
        if found != initial_len {
            return Err(ChainError::CheckpointLength {
                entry: i,
                expected: initial_len,
                found,
            });
        }
        prev = log.entry_hash(i);
        before = entry.step;
    }
    Ok(())
}

/// Checks that `log` hashes to the head that was posted publicly for it. Together with
/// [`check_chain`] this binds every entry and the header to the posted head.
pub fn check_head(log: &CheckpointLog, posted: &Digest) -> Result<(), ChainError> {
    let found = log.head();
    if found != *posted {
        return Err(ChainError::HeadMismatch {
            expected: *posted,
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pol::{LogHeader, StepRecord};
    use proptest::prelude::*;

    /// Parameters per checkpoint in the tests.
    const WIDTH: usize = 6;

    fn checkpoint(seed: usize) -> Vec<f32> {
        (0..WIDTH).map(|j| (seed * 10 + j) as f32 * 0.5).collect()
    }

    /// A header of a digits run; the digests are filled in by the test that needs them.
    fn sample_header() -> LogHeader {
        let zero = "0".repeat(64);
        serde_json::from_value(serde_json::json!({
            "client": 3, "round": 7, "dataset": "digits", "label_column": "last",
            "split_seed": 42, "model": "mlp:64-64-10", "batch_size": 32, "momentum": 0.9,
            "proximal_mu": 0.01, "every": 2, "global": zero, "initial": zero,
            "initial_commitment": null,
        }))
        .expect("a valid header")
    }

    /// An honest log with segments of the given lengths, every checkpoint in the store.
    fn honest(lens: &[usize]) -> (tempfile::TempDir, BlobStore, CheckpointLog) {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let mut header = sample_header();
        header.initial = blobs.put_f32s(&checkpoint(0)).expect("put");
        let mut log = CheckpointLog::new(header);
        for (i, &n) in lens.iter().enumerate() {
            let steps = (0..n as u32)
                .map(|s| StepRecord {
                    lr: 0.1,
                    rows: vec![s, s + 1],
                })
                .collect();
            let c = blobs.put_f32s(&checkpoint(i + 1)).expect("put");
            log.append(steps, c);
        }
        (dir, blobs, log)
    }

    /// Recomputes every `prev` link, as a forger rewriting the whole log would.
    fn relink(log: &mut CheckpointLog) {
        let mut prev = log.header_hash();
        for i in 0..log.entries.len() {
            log.entries[i].prev = prev;
            prev = log.entry_hash(i);
        }
    }

    #[test]
    fn honest_log_passes() {
        let (_dir, blobs, log) = honest(&[2, 2, 2, 2, 1]);
        check_chain(&log, &blobs).expect("honest");
        check_head(&log, &log.head()).expect("head");
        let (_dir, blobs, empty) = honest(&[]);
        check_chain(&empty, &blobs).expect("empty log");
    }

    #[test]
    fn edited_checkpoint_blob_names_entry() {
        let (_dir, blobs, log) = honest(&[2, 2, 2, 2]);
        let path = blobs.path_of(&log.entries[2].checkpoint);
        std::fs::write(&path, crate::blob::f32s_to_bytes(&checkpoint(99))).expect("edit");
        let err = check_chain(&log, &blobs).expect_err("edited blob");
        assert!(
            matches!(err, ChainError::CorruptCheckpoint { entry: 2, digest } if digest == log.entries[2].checkpoint),
            "{err}"
        );
    }

    #[test]
    fn deleted_checkpoint_blob_names_entry() {
        let (_dir, blobs, log) = honest(&[2, 2, 2, 2]);
        std::fs::remove_file(blobs.path_of(&log.entries[3].checkpoint)).expect("delete");
        let err = check_chain(&log, &blobs).expect_err("missing blob");
        assert!(
            matches!(err, ChainError::MissingCheckpoint { entry: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn replaced_checkpoint_digest_is_caught() {
        let (_dir, blobs, log) = honest(&[2, 2, 2, 2]);
        // A digest with no blob: the entry itself fails.
        let mut forged = log.clone();
        forged.entries[1].checkpoint = Digest::of(b"no such checkpoint");
        let err = check_chain(&forged, &blobs).expect_err("unknown digest");
        assert!(
            matches!(err, ChainError::MissingCheckpoint { entry: 1, .. }),
            "{err}"
        );
        // A digest of another stored checkpoint: the next link breaks.
        let mut forged = log.clone();
        forged.entries[1].checkpoint = log.entries[0].checkpoint;
        let err = check_chain(&forged, &blobs).expect_err("swapped digest");
        assert!(
            matches!(err, ChainError::PrevMismatch { entry: 2 }),
            "{err}"
        );
        assert_eq!(err.to_string(), "entry 2: prev hash does not match entry 1");
        // In the last entry nothing follows: only the posted head catches it.
        let mut forged = log.clone();
        forged.entries[3].checkpoint = log.entries[0].checkpoint;
        check_chain(&forged, &blobs).expect("structurally fine");
        let err = check_head(&forged, &log.head()).expect_err("head");
        assert!(matches!(err, ChainError::HeadMismatch { .. }), "{err}");
    }

    #[test]
    fn swapped_entries_name_first_swapped() {
        let (_dir, blobs, mut log) = honest(&[2, 2, 2, 2]);
        log.entries.swap(1, 2);
        let err = check_chain(&log, &blobs).expect_err("swapped");
        assert!(
            matches!(err, ChainError::PrevMismatch { entry: 1 }),
            "{err}"
        );
    }

    #[test]
    fn removed_middle_entry_names_its_successor() {
        let (_dir, blobs, mut log) = honest(&[2, 2, 2, 2]);
        log.entries.remove(2);
        let err = check_chain(&log, &blobs).expect_err("removed");
        assert!(
            matches!(err, ChainError::PrevMismatch { entry: 2 }),
            "{err}"
        );
        assert_eq!(err.to_string(), "entry 2: prev hash does not match entry 1");
    }

    #[test]
    fn wrong_step_count_names_entry() {
        let (_dir, blobs, log) = honest(&[2, 2, 2, 2]);
        // Edited in place: the entry's own step check fires before the next link.
        let mut forged = log.clone();
        forged.entries[2].step += 1;
        let err = check_chain(&forged, &blobs).expect_err("wrong step");
        assert!(
            matches!(
                err,
                ChainError::StepMismatch {
                    entry: 2,
                    before: 4,
                    len: 2,
                    found: 7
                }
            ),
            "{err}"
        );
        // Rewritten with consistent links: still caught by the step check.
        let mut forged = log.clone();
        forged.entries[3].step = 100;
        relink(&mut forged);
        let err = check_chain(&forged, &blobs).expect_err("relinked wrong step");
        assert!(
            matches!(err, ChainError::StepMismatch { entry: 3, .. }),
            "{err}"
        );
        // A huge claimed step count is an error, not a panic.
        let mut forged = log.clone();
        forged.entries[0].step = u64::MAX;
        forged.entries[1].step = 1;
        relink(&mut forged);
        let err = check_chain(&forged, &blobs).expect_err("overflow");
        assert!(
            matches!(err, ChainError::StepMismatch { entry: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn empty_segment_rejected() {
        let (_dir, blobs, mut log) = honest(&[2, 2, 2]);
        log.entries[1].steps.clear();
        log.entries[1].step = 2;
        relink(&mut log);
        let err = check_chain(&log, &blobs).expect_err("empty segment");
        assert!(
            matches!(err, ChainError::EmptySegment { entry: 1 }),
            "{err}"
        );
    }

    #[test]
    fn altered_header_breaks_first_link() {
        let (_dir, blobs, mut log) = honest(&[2, 2]);
        log.header.proximal_mu = 0.0;
        let err = check_chain(&log, &blobs).expect_err("altered header");
        assert!(matches!(err, ChainError::HeaderMismatch), "{err}");
        assert_eq!(
            err.to_string(),
            "entry 0: prev hash does not match the header"
        );
    }

    #[test]
    fn checkpoint_of_other_length_rejected() {
        let (_dir, blobs, mut log) = honest(&[2, 2, 2]);
        log.entries[1].checkpoint = blobs.put_f32s(&[1.0; WIDTH + 1]).expect("put");
        relink(&mut log);
        let err = check_chain(&log, &blobs).expect_err("length");
        assert!(
            matches!(
                err,
                ChainError::CheckpointLength {
                    entry: 1,
                    expected: 24,
                    found: 28
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_or_corrupt_initial_checkpoint_rejected() {
        let (_dir, blobs, log) = honest(&[2]);
        std::fs::write(blobs.path_of(&log.header.initial), b"edited").expect("edit");
        let err = check_chain(&log, &blobs).expect_err("corrupt initial");
        assert!(
            matches!(err, ChainError::Initial(BlobError::Corrupt { .. })),
            "{err}"
        );
        std::fs::remove_file(blobs.path_of(&log.header.initial)).expect("delete");
        let err = check_chain(&log, &blobs).expect_err("missing initial");
        assert!(
            matches!(err, ChainError::Initial(BlobError::NotFound(_))),
            "{err}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn any_removed_entry_is_caught_at_its_index(
            lens in proptest::collection::vec(1usize..4, 2..7),
            at in any::<prop::sample::Index>(),
        ) {
            let (_dir, blobs, mut log) = honest(&lens);
            prop_assert!(check_chain(&log, &blobs).is_ok());
            // Remove any entry but the last (removing the last leaves a valid shorter log,
            // which only the posted head catches).
            let i = at.index(lens.len() - 1);
            log.entries.remove(i);
            let err = check_chain(&log, &blobs).expect_err("removed entry");
            let expected_index = match err {
                ChainError::HeaderMismatch => 0,
                ChainError::PrevMismatch { entry } => entry,
                other => return Err(TestCaseError::fail(format!("unexpected {other}"))),
            };
            prop_assert_eq!(expected_index, i);
        }
    }
}
