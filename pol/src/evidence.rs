//! Evidence that one optimizer step is in a posted log: the two records around the step, each
//! with its path in the record tree ([`crate::tree`]), checked against the posted record root.
//!
//! **Step `t`** takes the model from step count `t` to `t + 1`. With one step per entry
//! (`k = 1`, what proofs need), the checkpoint at count `t` is record `t` (the header's initial
//! checkpoint for `t = 0`) and the step is record `t + 1`: an entry with `step = t + 1` holding
//! exactly one step record. [`StepEvidence::verify`] opens both records against the root, checks
//! their positions and that both checkpoints are committed, and returns what the log says of
//! the step. The evidence is `O(log n)` whatever the step's place in the log.
//!
//! **Encoding**, version 1 (integers little-endian; *bytes* is a `u32` length and the bytes):
//!
//! | size     | field                                                     |
//! |----------|-----------------------------------------------------------|
//! | 7        | magic, ASCII `ZKFLSEV`                                    |
//! | 1        | version, `0x01`                                           |
//! | 8        | the step `t`, `u64`                                       |
//! | *proof*  | record `t` (the header bytes, or entry `t − 1`'s bytes)   |
//! | *proof*  | record `t + 1` (entry `t`'s bytes)                        |
//!
//! where a record *proof* is `u64` index ‖ *bytes* record ‖ `u8` depth ‖ depth × 32 path.
//! Nothing may follow. Decoding is bounds-checked and never panics.

use crate::commitment::CheckpointCommitment;
use crate::digest::Digest;
use crate::encoding::{
    ENTRY_TAG, HEADER_TAG, PolError, decode_entry_bytes, decode_header_bytes, encode_entry,
    encode_header,
};
use crate::log::{CheckpointLog, LogEntry, LogHeader, StepRecord};
use crate::tree::{MAX_DEPTH, RecordTree, root_from_path};

/// Magic bytes of encoded step evidence.
pub const MAGIC: &[u8; 7] = b"ZKFLSEV";
/// The evidence format version.
pub const VERSION: u8 = 1;

/// Why evidence does not show a step of the posted log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The bytes are not step evidence of this version.
    #[error("step evidence: {0}")]
    Format(String),
    /// A record does not decode.
    #[error("step evidence, record {index}: {reason}")]
    Record {
        /// Its index.
        index: u64,
        /// The decoding error.
        reason: String,
    },
    /// A record's path does not lead to the posted root.
    #[error("record {index} is not in the posted log (its path does not reach the record root)")]
    NotInLog {
        /// Its index.
        index: u64,
    },
    /// The records are not the ones around the claimed step.
    #[error("the evidence is not about step {step}: {reason}")]
    WrongStep {
        /// The claimed step.
        step: u64,
        /// What does not fit.
        reason: String,
    },
    /// A checkpoint around the step has no commitment in the log.
    #[error("the log holds no commitment of the checkpoint {which} step {step}")]
    NotCommitted {
        /// The step.
        step: u64,
        /// `before` or `after`.
        which: &'static str,
    },
}

/// A record of a log with its path in the log's record tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordProof {
    /// The record's index: 0 for the header, `i + 1` for entry `i`.
    pub index: u64,
    /// The record's bytes (the header or the entry, as [`crate::encoding`] writes them).
    pub record: Vec<u8>,
    /// The siblings from the leaf level up.
    pub path: Vec<Digest>,
}

/// A record, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// Record 0.
    Header(LogHeader),
    /// Record `i + 1`: entry `i`.
    Entry(LogEntry),
}

impl RecordProof {
    /// Record `index` of `log`, with its path in `tree` (the log's record tree); `None` past the
    /// last record.
    pub fn of(log: &CheckpointLog, tree: &RecordTree, index: usize) -> Option<RecordProof> {
        let mut record = Vec::new();
        match index {
            0 => encode_header(&log.header, &mut record),
            i => encode_entry(log.entries.get(i - 1)?, &mut record),
        }
        Some(RecordProof {
            index: index as u64,
            record,
            path: tree.path(index)?,
        })
    }

    /// Decodes the record and checks that its path leads to `root`.
    pub fn open(&self, root: &Digest) -> Result<Record, EvidenceError> {
        let bad = |e: PolError| EvidenceError::Record {
            index: self.index,
            reason: e.to_string(),
        };
        let (record, hash) = if self.index == 0 {
            let header = decode_header_bytes(&self.record).map_err(bad)?;
            (
                Record::Header(header),
                Digest::tagged(HEADER_TAG, &self.record),
            )
        } else {
            let entry = decode_entry_bytes(&self.record).map_err(bad)?;
            (
                Record::Entry(entry),
                Digest::tagged(ENTRY_TAG, &self.record),
            )
        };
        match root_from_path(&hash, self.index, &self.path) {
            Some(reached) if reached == *root => Ok(record),
            _ => Err(EvidenceError::NotInLog { index: self.index }),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&(self.record.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.record);
        out.push(self.path.len() as u8);
        for node in &self.path {
            out.extend_from_slice(&node.0);
        }
    }

    fn decode(r: &mut Reader<'_>, which: &str) -> Result<RecordProof, EvidenceError> {
        let index = u64::from_le_bytes(r.array(which)?);
        let len = u32::from_le_bytes(r.array(which)?) as usize;
        let record = r.take(len, which)?.to_vec();
        let depth = r.take(1, which)?[0] as usize;
        if depth > MAX_DEPTH {
            return Err(EvidenceError::Format(format!(
                "{which} path of {depth} nodes (at most {MAX_DEPTH})"
            )));
        }
        let path = (0..depth)
            .map(|_| r.array(which).map(Digest))
            .collect::<Result<_, _>>()?;
        Ok(RecordProof {
            index,
            record,
            path,
        })
    }
}

/// What a log says of one step, once its evidence checks out.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedStep {
    /// The step `t`.
    pub step: u64,
    /// Commitment of the checkpoint at step count `t`.
    pub before: CheckpointCommitment,
    /// Commitment of the checkpoint at step count `t + 1`.
    pub after: CheckpointCommitment,
    /// The step's learning rate and batch rows.
    pub record: StepRecord,
    /// `(client, round)` of the log's header, when the evidence opens it (step 0).
    pub header_origin: Option<(u32, u32)>,
}

/// The evidence for step `step` of a log: records `step` and `step + 1` with their paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepEvidence {
    /// The step.
    pub step: u64,
    /// Record `step`: the checkpoint before.
    pub before: RecordProof,
    /// Record `step + 1`: the step's entry, with the checkpoint after.
    pub after: RecordProof,
}

impl StepEvidence {
    /// The evidence for `step` of `log` (whose record tree is `tree`); `None` if the log has
    /// no record `step + 1`.
    pub fn of(log: &CheckpointLog, tree: &RecordTree, step: u64) -> Option<StepEvidence> {
        let at = usize::try_from(step).ok()?;
        Some(StepEvidence {
            step,
            before: RecordProof::of(log, tree, at)?,
            after: RecordProof::of(log, tree, at.checked_add(1)?)?,
        })
    }

    /// Checks the evidence against a posted record root (see the module docs).
    pub fn verify(&self, root: &Digest) -> Result<LoggedStep, EvidenceError> {
        let step = self.step;
        let wrong = |reason: String| EvidenceError::WrongStep { step, reason };
        if self.before.index != step || Some(self.after.index) != step.checked_add(1) {
            return Err(wrong(format!(
                "it opens records {} and {}",
                self.before.index, self.after.index
            )));
        }
        let (before, header_origin) = match self.before.open(root)? {
            Record::Header(h) => (h.initial_commitment, Some((h.client, h.round))),
            Record::Entry(e) if e.step == step => (e.commitment, None),
            Record::Entry(e) => {
                return Err(wrong(format!("record {step} ends at step {}", e.step)));
            }
        };
        let entry = match self.after.open(root)? {
            Record::Entry(e) => e,
            Record::Header(_) => return Err(wrong("record 1 cannot be a header".into())),
        };
        if entry.step != step + 1 || entry.steps.len() != 1 {
            return Err(wrong(format!(
                "record {} ends at step {} with {} steps (needs step {} with 1)",
                step + 1,
                entry.step,
                entry.steps.len(),
                step + 1
            )));
        }
        let before = before.ok_or(EvidenceError::NotCommitted {
            step,
            which: "before",
        })?;
        let after = entry.commitment.ok_or(EvidenceError::NotCommitted {
            step,
            which: "after",
        })?;
        let record = entry
            .steps
            .into_iter()
            .next()
            .ok_or_else(|| wrong("no step".into()))?;
        Ok(LoggedStep {
            step,
            before,
            after,
            record,
            header_origin,
        })
    }

    /// The encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = [MAGIC.as_slice(), &[VERSION]].concat();
        out.extend_from_slice(&self.step.to_le_bytes());
        self.before.encode(&mut out);
        self.after.encode(&mut out);
        out
    }

    /// Decodes untrusted bytes; never panics.
    pub fn decode(bytes: &[u8]) -> Result<StepEvidence, EvidenceError> {
        let mut r = Reader::after_magic(bytes, MAGIC, "")?;
        let step = u64::from_le_bytes(r.array("step")?);
        let before = RecordProof::decode(&mut r, "record before")?;
        let after = RecordProof::decode(&mut r, "record after")?;
        if r.pos != bytes.len() {
            return Err(EvidenceError::Format(format!(
                "{} trailing bytes",
                bytes.len() - r.pos
            )));
        }
        Ok(StepEvidence {
            step,
            before,
            after,
        })
    }
}

/// Magic bytes of encoded log ends.
pub const ENDS_MAGIC: &[u8; 7] = b"ZKFLEND";

/// The two ends of a posted log: its header (record 0) and its last record (the entry holding
/// the checkpoint the provider sent), each with its path to the posted record root. They show,
/// in `O(log n)`, which global model a log started from and which model it ended at: the
/// owner checks an update with them, and the ledger opens a contribution proof's commitments
/// with them.
///
/// **Encoding**, version 1: magic `ZKFLEND`, version `0x01`, the header's record *proof*, the
/// last record's *proof* (as in [`StepEvidence`]); nothing may follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEnds {
    /// Record 0, the header.
    pub first: RecordProof,
    /// The last record.
    pub last: RecordProof,
}

/// What the ends of a log say, once they check out.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenedEnds {
    /// The log's header.
    pub header: LogHeader,
    /// Its last entry.
    pub last: LogEntry,
}

impl LogEnds {
    /// The ends of `log` (whose record tree is `tree`); `None` for a log with no entry.
    pub fn of(log: &CheckpointLog, tree: &RecordTree) -> Option<LogEnds> {
        let last = log.entries.len();
        if last == 0 {
            return None;
        }
        Some(LogEnds {
            first: RecordProof::of(log, tree, 0)?,
            last: RecordProof::of(log, tree, last)?,
        })
    }

    /// Opens both records against a posted record root and checks that they are the header
    /// and the last entry of a log of `steps` steps logged one step per entry (what proofs
    /// need): record `steps`, an entry ending at step `steps`.
    ///
    /// # Errors
    /// A record that does not decode or is not in the log ([`EvidenceError::NotInLog`]), or
    /// records that are not the ends ([`EvidenceError::WrongStep`] about step `steps`).
    pub fn open(&self, root: &Digest, steps: u64) -> Result<OpenedEnds, EvidenceError> {
        let wrong = |reason: String| EvidenceError::WrongStep {
            step: steps,
            reason,
        };
        let Record::Header(header) = self.first.open(root)? else {
            return Err(wrong("the first record is not the header".into()));
        };
        if self.first.index != 0 {
            return Err(wrong(format!("the header is record {}", self.first.index)));
        }
        let Record::Entry(last) = self.last.open(root)? else {
            return Err(wrong(
                "the last record is the header: the log has no step".into(),
            ));
        };
        if last.step != steps || self.last.index != steps {
            return Err(wrong(format!(
                "record {} ends at step {}, not the last record of a log of {steps} steps",
                self.last.index, last.step
            )));
        }
        Ok(OpenedEnds { header, last })
    }

    /// The encoding (see the type's docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = [ENDS_MAGIC.as_slice(), &[VERSION]].concat();
        self.first.encode(&mut out);
        self.last.encode(&mut out);
        out
    }

    /// Decodes untrusted bytes; never panics.
    pub fn decode(bytes: &[u8]) -> Result<LogEnds, EvidenceError> {
        let mut r = Reader::after_magic(bytes, ENDS_MAGIC, "log ends: ")?;
        let first = RecordProof::decode(&mut r, "first record")?;
        let last = RecordProof::decode(&mut r, "last record")?;
        if r.pos != bytes.len() {
            return Err(EvidenceError::Format(format!(
                "log ends: {} trailing bytes",
                bytes.len() - r.pos
            )));
        }
        Ok(LogEnds { first, last })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader past `magic` and the version byte, which must be [`VERSION`]; `prefix` starts
    /// the error messages (`""` for step evidence, whose errors already say so).
    fn after_magic(bytes: &'a [u8], magic: &[u8], prefix: &str) -> Result<Self, EvidenceError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(magic.len(), "magic")? != magic {
            return Err(EvidenceError::Format(format!("{prefix}bad magic bytes")));
        }
        let version = r.take(1, "version")?[0];
        if version != VERSION {
            return Err(EvidenceError::Format(format!(
                "{prefix}version {version} is not supported (this build reads {VERSION})"
            )));
        }
        Ok(r)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], EvidenceError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| EvidenceError::Format(format!("truncated in {field}")))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], EvidenceError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tests::sample_header;
    use proptest::prelude::*;

    fn commitment(i: u8) -> Option<CheckpointCommitment> {
        Some(CheckpointCommitment {
            bn254: [i; 32],
            pasta: [i ^ 0xff; 32],
        })
    }

    /// A committed log of `n` single-step entries.
    fn log(n: usize) -> CheckpointLog {
        let mut header = sample_header();
        header.initial_commitment = commitment(0);
        let mut log = CheckpointLog::new(header);
        for i in 0..n {
            let step = StepRecord {
                lr: 0.1,
                rows: vec![i as u32, i as u32 + 1],
            };
            log.append_committed(vec![step], Digest::of(&[i as u8]), commitment(i as u8 + 1));
        }
        log
    }

    #[test]
    fn every_step_of_a_long_log_has_short_evidence() {
        let log = log(300);
        let tree = log.record_tree();
        for step in [0u64, 1, 150, 299] {
            let evidence = StepEvidence::of(&log, &tree, step).unwrap();
            assert!(
                evidence.encode().len() < 1100,
                "{}",
                evidence.encode().len()
            );
            let decoded = StepEvidence::decode(&evidence.encode()).unwrap();
            assert_eq!(decoded, evidence);
            let logged = decoded.verify(&tree.root()).unwrap();
            assert_eq!(logged.before, commitment(step as u8).unwrap());
            assert_eq!(logged.after, commitment(step as u8 + 1).unwrap());
            assert_eq!(logged.record.rows, vec![step as u32, step as u32 + 1]);
            assert_eq!(logged.header_origin.is_some(), step == 0);
        }
        assert!(StepEvidence::of(&log, &tree, 300).is_none());
    }

    #[test]
    fn tampered_evidence_is_refused() {
        let log = log(10);
        let tree = log.record_tree();
        let root = tree.root();
        let good = StepEvidence::of(&log, &tree, 4).unwrap();
        // Another root.
        assert!(matches!(
            good.verify(&Digest::of(b"other")),
            Err(EvidenceError::NotInLog { index: 4 })
        ));
        // An edited record (a changed commitment byte).
        let mut bad = good.clone();
        let at = bad.after.record.len() - 40;
        bad.after.record[at] ^= 1;
        assert!(matches!(
            bad.verify(&root),
            Err(EvidenceError::NotInLog { index: 5 })
        ));
        // The records of another step, claimed for this one.
        let mut bad = StepEvidence::of(&log, &tree, 5).unwrap();
        bad.step = 4;
        assert!(matches!(
            bad.verify(&root),
            Err(EvidenceError::WrongStep { .. })
        ));
        // Records swapped.
        let mut bad = good.clone();
        std::mem::swap(&mut bad.before, &mut bad.after);
        assert!(matches!(
            bad.verify(&root),
            Err(EvidenceError::WrongStep { .. })
        ));
    }

    #[test]
    fn log_ends_open_to_the_header_and_the_last_entry_and_nothing_else() {
        let log = log(9);
        let tree = log.record_tree();
        let root = tree.root();
        let ends = LogEnds::of(&log, &tree).unwrap();
        let decoded = LogEnds::decode(&ends.encode()).unwrap();
        assert_eq!(decoded, ends);
        let opened = decoded.open(&root, 9).unwrap();
        assert_eq!(opened.header, log.header);
        assert_eq!(opened.last.commitment, commitment(9));
        // Another step count, another root, a middle record, a swapped pair: refused.
        assert!(matches!(
            ends.open(&root, 8),
            Err(EvidenceError::WrongStep { .. })
        ));
        assert!(matches!(
            ends.open(&Digest::of(b"other"), 9),
            Err(EvidenceError::NotInLog { .. })
        ));
        let middle = LogEnds {
            first: ends.first.clone(),
            last: RecordProof::of(&log, &tree, 5).unwrap(),
        };
        assert!(matches!(
            middle.open(&root, 9),
            Err(EvidenceError::WrongStep { .. })
        ));
        let swapped = LogEnds {
            first: ends.last.clone(),
            last: ends.first.clone(),
        };
        assert!(swapped.open(&root, 9).is_err());
        assert!(LogEnds::of(&CheckpointLog::new(sample_header()), &tree).is_none());
        // Truncated or extended bytes: an error, never a panic.
        let bytes = ends.encode();
        for cut in 0..bytes.len() {
            assert!(LogEnds::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(LogEnds::decode(&longer).is_err());
    }

    #[test]
    fn uncommitted_or_multi_step_records_are_refused() {
        let mut uncommitted = log(3);
        uncommitted.entries[1].commitment = None;
        let tree = uncommitted.record_tree();
        let e = StepEvidence::of(&uncommitted, &tree, 1).unwrap();
        assert!(matches!(
            e.verify(&tree.root()),
            Err(EvidenceError::NotCommitted { which: "after", .. })
        ));
        let mut segments = CheckpointLog::new(sample_header());
        let steps = vec![
            StepRecord {
                lr: 0.1,
                rows: vec![1],
            },
            StepRecord {
                lr: 0.1,
                rows: vec![2],
            },
        ];
        segments.append_committed(steps.clone(), Digest::of(b"a"), commitment(1));
        segments.append_committed(steps, Digest::of(b"b"), commitment(2));
        let tree = segments.record_tree();
        let e = StepEvidence::of(&segments, &tree, 1).unwrap();
        assert!(matches!(
            e.verify(&tree.root()),
            Err(EvidenceError::WrongStep { .. })
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = StepEvidence::decode(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.push(VERSION);
            framed.extend_from_slice(&bytes);
            if let Ok(e) = StepEvidence::decode(&framed) {
                prop_assert_eq!(e.encode(), framed);
            }
        }

        #[test]
        fn truncations_and_bit_flips_are_errors(cut in any::<prop::sample::Index>(), bit in 0u8..8) {
            let log = log(6);
            let tree = log.record_tree();
            let bytes = StepEvidence::of(&log, &tree, 2).unwrap().encode();
            prop_assert!(StepEvidence::decode(&bytes[..cut.index(bytes.len())]).is_err());
            let mut flipped = bytes.clone();
            let i = cut.index(bytes.len());
            flipped[i] ^= 1 << bit;
            let verdict = StepEvidence::decode(&flipped).and_then(|e| e.verify(&tree.root()));
            prop_assert!(verdict.is_err());
        }
    }
}
