//! The checkpoint log: a header committing to the run's setup, then one entry per segment of
//! optimizer steps, each linked to the previous one by its hash.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::commitment::CheckpointCommitment;
use crate::digest::Digest;
use crate::encoding::{self, ENTRY_TAG, HEADER_TAG, PolError};
use crate::tree::RecordTree;

/// Everything a verifier needs to replay the run besides the data rows and the checkpoints.
/// It is committed in the log's first hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHeader {
    /// The data provider (client) that trained.
    pub client: u32,
    /// The federated round this local training belongs to.
    pub round: u32,
    /// Data set source as the CLI spells it, e.g. `"digits"` or `"csv:/x/y.csv"`.
    pub dataset: String,
    /// Which column holds the label, e.g. `"last"`.
    pub label_column: String,
    /// Seed of the train/test split: row indices refer to the training set it produces.
    pub split_seed: u64,
    /// Model spec string, e.g. `"mlp:64-64-10"`.
    pub model: String,
    /// Nominal mini-batch size.
    pub batch_size: u32,
    /// SGD momentum (0 for plain SGD); when non-zero, checkpoints include the momentum buffer.
    pub momentum: f32,
    /// FedProx proximal coefficient (0 for none).
    pub proximal_mu: f32,
    /// `k`: a checkpoint every `k` optimizer steps.
    pub every: u32,
    /// Blob digest of the global model the round started from (the proximal anchor).
    pub global: Digest,
    /// Blob digest of the checkpoint at step 0 (parameters, plus zero momentum if used).
    pub initial: Digest,
    /// Commitment of the step-0 checkpoint for the proof systems (see
    /// [`LogEntry::commitment`]); `None` when the run does not commit checkpoints.
    pub initial_commitment: Option<CheckpointCommitment>,
}

/// One optimizer step: its learning rate and the training-set row indices of its batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Learning rate used for this step.
    pub lr: f32,
    /// Training-set row indices of the batch, in the order they were used.
    pub rows: Vec<u32>,
}

/// One record: the optimizer steps since the previous record, and the checkpoint after them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Optimizer step count after this segment (strictly increasing; previous + `steps.len()`).
    pub step: u64,
    /// Exactly the steps of this segment, in order.
    pub steps: Vec<StepRecord>,
    /// Blob digest of the checkpoint's canonical bytes after the segment.
    pub checkpoint: Digest,
    /// The checkpoint's commitment for the proof systems (Poseidon over BN254 and over Pasta of
    /// the quantized parameters); `None` when the run does not commit checkpoints or the
    /// checkpoint cannot be committed.
    pub commitment: Option<CheckpointCommitment>,
    /// Hash of the previous entry, or of the header for the first entry.
    pub prev: Digest,
}

impl LogEntry {
    /// The optimizer step count before this segment (`step - steps.len()`, saturating at 0 for
    /// a malformed entry). Step `j` of the segment is global step `first_step() + j`
    /// (0-based), and takes the model from step count `first_step() + j` to `first_step() + j + 1`.
    pub fn first_step(&self) -> u64 {
        self.step.saturating_sub(self.steps.len() as u64)
    }
}

/// A whole log: header and entries. The head hash ([`CheckpointLog::head`]) is what gets posted
/// publicly; it binds the header and every entry through the `prev` links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointLog {
    /// The run's setup.
    pub header: LogHeader,
    /// The segments, in order.
    pub entries: Vec<LogEntry>,
}

impl CheckpointLog {
    /// An empty log for `header`.
    pub fn new(header: LogHeader) -> Self {
        CheckpointLog {
            header,
            entries: Vec::new(),
        }
    }

    /// SHA-256(`"zkfl-pol-header-v2"` ‖ encoded header).
    pub fn header_hash(&self) -> Digest {
        let mut bytes = Vec::new();
        encoding::encode_header(&self.header, &mut bytes);
        Digest::tagged(HEADER_TAG, &bytes)
    }

    /// Appends a segment of `steps` ending at `checkpoint`, computing its `prev` link and step
    /// count; returns the new entry's hash (the new head).
    pub fn append(&mut self, steps: Vec<StepRecord>, checkpoint: Digest) -> Digest {
        self.append_committed(steps, checkpoint, None)
    }

    /// [`CheckpointLog::append`] with the checkpoint's commitment.
    pub fn append_committed(
        &mut self,
        steps: Vec<StepRecord>,
        checkpoint: Digest,
        commitment: Option<CheckpointCommitment>,
    ) -> Digest {
        let prev = self.head();
        let before = self.entries.last().map_or(0, |e| e.step);
        self.entries.push(LogEntry {
            step: before + steps.len() as u64,
            steps,
            checkpoint,
            commitment,
            prev,
        });
        self.head()
    }

    /// SHA-256(`"zkfl-pol-entry-v2"` ‖ encoded entry `i`), `prev` included.
    ///
    /// # Panics
    /// If `i >= self.entries.len()`.
    pub fn entry_hash(&self, i: usize) -> Digest {
        let mut bytes = Vec::new();
        encoding::encode_entry(&self.entries[i], &mut bytes);
        Digest::tagged(ENTRY_TAG, &bytes)
    }

    /// The hash of the last entry, or of the header when the log is empty.
    pub fn head(&self) -> Digest {
        match self.entries.len() {
            0 => self.header_hash(),
            n => self.entry_hash(n - 1),
        }
    }

    /// The hashes of the log's records: the header's, then each entry's (see [`crate::tree`]).
    pub fn record_hashes(&self) -> Vec<Digest> {
        std::iter::once(self.header_hash())
            .chain((0..self.entries.len()).map(|i| self.entry_hash(i)))
            .collect()
    }

    /// The Merkle tree over the log's records; its root is posted beside the head.
    pub fn record_tree(&self) -> RecordTree {
        RecordTree::new(&self.record_hashes())
    }

    /// The checkpoint digest before entry `i`: `header.initial` for `i = 0`, else entry `i - 1`'s
    /// checkpoint. `i = entries.len()` gives the final checkpoint.
    ///
    /// # Panics
    /// If `i > self.entries.len()`.
    pub fn checkpoint_before(&self, i: usize) -> Digest {
        match i {
            0 => self.header.initial,
            _ => self.entries[i - 1].checkpoint,
        }
    }

    /// The optimizer step count at the end of the log (0 when empty).
    pub fn total_steps(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.step)
    }

    /// Where global step `step` (0-based: the step taking the model from count `step` to
    /// `step + 1`) is recorded: `(entry index, index within that entry's steps)`.
    /// `None` if the log does not reach that step. Assumes a log that passes the chain check.
    pub fn locate_step(&self, step: u64) -> Option<(usize, usize)> {
        let i = self.entries.partition_point(|e| e.step <= step);
        let entry = self.entries.get(i)?;
        let j = step.checked_sub(entry.first_step())?;
        let j = usize::try_from(j).ok()?;
        (j < entry.steps.len()).then_some((i, j))
    }

    /// The log in its binary format (see [`crate::encoding`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode_log(self)
    }

    /// Decodes a log from untrusted bytes; never panics.
    pub fn from_bytes(b: &[u8]) -> Result<Self, PolError> {
        encoding::decode_log(b)
    }

    /// Writes the log to `path` atomically (temporary file in the same directory, then rename).
    pub fn write(&self, path: &Path) -> Result<(), PolError> {
        let io_err = |source| PolError::Io {
            path: path.to_path_buf(),
            source,
        };
        let name = path
            .file_name()
            .ok_or_else(|| io_err(std::io::Error::other("path has no file name")))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let written = (|| {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&self.to_bytes())?;
            file.sync_all()?;
            fs::rename(&temp, path)
        })();
        if let Err(e) = written {
            // Best effort: the temporary file may not exist.
            let _ = fs::remove_file(&temp);
            return Err(io_err(e));
        }
        Ok(())
    }

    /// Reads and decodes a log written by [`CheckpointLog::write`].
    pub fn read(path: &Path) -> Result<Self, PolError> {
        let bytes = fs::read(path).map_err(|source| PolError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A header with distinct values in every field.
    pub(crate) fn sample_header() -> LogHeader {
        LogHeader {
            client: 3,
            round: 7,
            dataset: "digits".into(),
            label_column: "last".into(),
            split_seed: 42,
            model: "mlp:64-64-10".into(),
            batch_size: 32,
            momentum: 0.9,
            proximal_mu: 0.01,
            every: 2,
            global: Digest::of(b"global"),
            initial: Digest::of(b"initial"),
            initial_commitment: Some(CheckpointCommitment {
                bn254: [5; 32],
                pasta: [6; 32],
            }),
        }
    }

    fn digest() -> impl Strategy<Value = Digest> {
        any::<[u8; 32]>().prop_map(Digest)
    }

    fn commitment() -> impl Strategy<Value = Option<CheckpointCommitment>> {
        proptest::option::of(
            (any::<[u8; 32]>(), any::<[u8; 32]>())
                .prop_map(|(bn254, pasta)| CheckpointCommitment { bn254, pasta }),
        )
    }

    /// Finite floats so that `PartialEq` is meaningful for the round trip.
    fn float() -> impl Strategy<Value = f32> {
        -1e6f32..1e6f32
    }

    fn header() -> impl Strategy<Value = LogHeader> {
        (
            (
                any::<u32>(),
                any::<u32>(),
                ".{0,12}",
                ".{0,6}",
                any::<u64>(),
            ),
            (".{0,16}", any::<u32>(), float(), float(), any::<u32>()),
            (digest(), digest(), commitment()),
        )
            .prop_map(
                |(
                    (client, round, dataset, label_column, split_seed),
                    (model, batch_size, momentum, proximal_mu, every),
                    (global, initial, initial_commitment),
                )| LogHeader {
                    client,
                    round,
                    dataset,
                    label_column,
                    split_seed,
                    model,
                    batch_size,
                    momentum,
                    proximal_mu,
                    every,
                    global,
                    initial,
                    initial_commitment,
                },
            )
    }

    fn entry() -> impl Strategy<Value = LogEntry> {
        let step = (float(), proptest::collection::vec(any::<u32>(), 0..8))
            .prop_map(|(lr, rows)| StepRecord { lr, rows });
        (
            any::<u64>(),
            proptest::collection::vec(step, 0..5),
            digest(),
            commitment(),
            digest(),
        )
            .prop_map(|(step, steps, checkpoint, commitment, prev)| LogEntry {
                step,
                steps,
                checkpoint,
                commitment,
                prev,
            })
    }

    /// Random logs (not necessarily consistent chains) for encoding tests.
    pub(crate) fn arb_log() -> impl Strategy<Value = CheckpointLog> {
        (header(), proptest::collection::vec(entry(), 0..5))
            .prop_map(|(header, entries)| CheckpointLog { header, entries })
    }

    fn steps(n: usize, seed: u32) -> Vec<StepRecord> {
        (0..n as u32)
            .map(|i| StepRecord {
                lr: 0.1,
                rows: vec![seed + i, seed + i + 100],
            })
            .collect()
    }

    #[test]
    fn append_links_and_counts() {
        let mut log = CheckpointLog::new(sample_header());
        assert_eq!(log.head(), log.header_hash());
        let h0 = log.append(steps(2, 0), Digest::of(b"c1"));
        assert_eq!(log.entries[0].prev, log.header_hash());
        assert_eq!(log.entries[0].step, 2);
        assert_eq!(h0, log.entry_hash(0));
        let h1 = log.append(steps(3, 10), Digest::of(b"c2"));
        assert_eq!(log.entries[1].prev, h0);
        assert_eq!(log.entries[1].step, 5);
        assert_eq!(log.head(), h1);
        assert_ne!(h0, h1);
        assert_eq!(log.total_steps(), 5);
        assert_eq!(log.entries[1].first_step(), 2);
    }

    #[test]
    fn checkpoint_before_walks_the_chain() {
        let mut log = CheckpointLog::new(sample_header());
        log.append(steps(2, 0), Digest::of(b"c1"));
        log.append(steps(2, 0), Digest::of(b"c2"));
        assert_eq!(log.checkpoint_before(0), Digest::of(b"initial"));
        assert_eq!(log.checkpoint_before(1), Digest::of(b"c1"));
        assert_eq!(log.checkpoint_before(2), Digest::of(b"c2"));
    }

    #[test]
    fn hashes_depend_on_every_header_field_and_entry_field() {
        let log = CheckpointLog::new(sample_header());
        let base = log.header_hash();
        let edits: [fn(&mut LogHeader); 12] = [
            |h| h.client += 1,
            |h| h.round += 1,
            |h| h.dataset.push('x'),
            |h| h.label_column.push('x'),
            |h| h.split_seed += 1,
            |h| h.model.push('x'),
            |h| h.batch_size += 1,
            |h| h.momentum = 0.5,
            |h| h.proximal_mu = 0.5,
            |h| h.every += 1,
            |h| h.global = Digest::of(b"other"),
            |h| h.initial = Digest::of(b"other"),
        ];
        for (k, edit) in edits.iter().enumerate() {
            let mut other = log.clone();
            edit(&mut other.header);
            assert_ne!(other.header_hash(), base, "header field {k} not hashed");
        }

        let mut log = log;
        log.append(steps(2, 0), Digest::of(b"c1"));
        let base = log.entry_hash(0);
        let edits: [fn(&mut LogEntry); 6] = [
            |e| e.step += 1,
            |e| e.steps[1].lr = 0.2,
            |e| e.steps[0].rows[1] += 1,
            |e| e.steps[0].rows.push(9),
            |e| e.checkpoint = Digest::of(b"x"),
            |e| e.prev = Digest::of(b"x"),
        ];
        for (k, edit) in edits.iter().enumerate() {
            let mut other = log.clone();
            edit(&mut other.entries[0]);
            assert_ne!(other.entry_hash(0), base, "entry field {k} not hashed");
        }
    }

    #[test]
    fn locate_step_finds_entry_and_offset() {
        let mut log = CheckpointLog::new(sample_header());
        log.append(steps(2, 0), Digest::of(b"c1")); // steps 0, 1
        log.append(steps(3, 0), Digest::of(b"c2")); // steps 2, 3, 4
        log.append(steps(1, 0), Digest::of(b"c3")); // step 5
        assert_eq!(log.locate_step(0), Some((0, 0)));
        assert_eq!(log.locate_step(1), Some((0, 1)));
        assert_eq!(log.locate_step(2), Some((1, 0)));
        assert_eq!(log.locate_step(4), Some((1, 2)));
        assert_eq!(log.locate_step(5), Some((2, 0)));
        assert_eq!(log.locate_step(6), None);
        assert_eq!(CheckpointLog::new(sample_header()).locate_step(0), None);
    }

    #[test]
    fn write_read_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("client3.pol");
        let mut log = CheckpointLog::new(sample_header());
        log.append(steps(2, 0), Digest::of(b"c1"));
        log.write(&path).expect("write");
        assert_eq!(CheckpointLog::read(&path).expect("read"), log);
        // Overwrite in place; no temporary file left behind.
        log.append(steps(1, 5), Digest::of(b"c2"));
        log.write(&path).expect("rewrite");
        assert_eq!(CheckpointLog::read(&path).expect("reread"), log);
        assert_eq!(fs::read_dir(dir.path()).expect("read_dir").count(), 1);
    }

    #[test]
    fn read_missing_file_is_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = CheckpointLog::read(&dir.path().join("absent.pol")).expect_err("missing");
        assert!(matches!(err, PolError::Io { .. }), "{err}");
        assert!(err.to_string().contains("absent.pol"));
    }
}
