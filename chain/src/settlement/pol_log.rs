//! A tail of a provider's proof-of-learning (checkpoint) log, as evidence that two checkpoint
//! commitments are the ones logged around a step under a posted log head.
//!
//! The log format is the `fl` crate's `pol::encoding`, version 2; only what the check needs is
//! re-implemented here (the ledger does not depend on `fl`). All integers are little-endian;
//! *bytes* / *str* are a `u32` length then that many bytes.
//!
//! ```text
//! header = client u32 ‖ round u32 ‖ dataset str ‖ label_column str ‖ split_seed u64 ‖ model str
//!          ‖ batch_size u32 ‖ momentum u32 ‖ proximal_mu u32 ‖ every u32 ‖ global [32]
//!          ‖ initial [32] ‖ initial_commitment bytes
//! entry  = step u64 ‖ m u32 ‖ m × (lr u32 ‖ r u32 ‖ r × row u32) ‖ checkpoint [32]
//!          ‖ commitment bytes ‖ prev [32]
//! header hash = SHA-256("zkfl-pol-header-v2" ‖ header),  entry hash = SHA-256("zkfl-pol-entry-v2" ‖ entry)
//! ```
//! An entry's `step` is the optimizer step count after it; its `prev` is the hash of the entry
//! before it (of the header for the first entry); the log's head is the last entry's hash.
//! A checkpoint commitment is 64 bytes: the BN254 Poseidon commitment (32 bytes, canonical
//! little-endian), then the Pasta one.
//!
//! **The evidence for step `t`** (the step from checkpoint count `t` to `t + 1`) is the byte
//! string `anchor ‖ e_1 ‖ … ‖ e_k` (k ≥ 1) where the anchor is the header when `t = 0`, else the
//! entry whose `step` is `t`, `e_1` is the entry with `step = t + 1` holding exactly one
//! optimizer step, and `e_k` is the log's last entry. [`logged_step`] checks every `prev` link
//! and that `e_k`'s hash is the posted head; by SHA-256's collision resistance the two
//! commitments it returns (the anchor's and `e_1`'s) are then the ones that log committed. Logs
//! that checkpoint every `k > 1` steps cannot prove single steps this way (`e_1` must hold one
//! step). Parsing is bounds-checked, never panics and allocates nothing for length prefixes.

use sha2::{Digest, Sha256};

/// Domain separator of the header hash.
pub const HEADER_TAG: &[u8] = b"zkfl-pol-header-v2";
/// Domain separator of an entry hash.
pub const ENTRY_TAG: &[u8] = b"zkfl-pol-entry-v2";
/// Length of a checkpoint commitment: BN254 (32 bytes) then Pasta (32 bytes).
pub const COMMITMENT_BYTES: usize = 64;

/// Why a log tail is not evidence for the claimed step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The bytes end inside a field.
    #[error("log tail truncated in {field} at byte {offset}")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The tail holds no entry after its anchor.
    #[error("log tail has no entry after its anchor")]
    NoEntries,
    /// An entry's `prev` is not the hash of what precedes it.
    #[error("log tail entry {0} does not link to the one before it")]
    BrokenLink(usize),
    /// The last entry's hash is not the posted head.
    #[error("log tail does not end at the posted head {posted}: its head is {found}")]
    HeadMismatch {
        /// The posted head (hex).
        posted: String,
        /// The tail's head (hex).
        found: String,
    },
    /// The anchor or first entry is not at the claimed step.
    #[error("log tail is not about step {step}: {reason}")]
    WrongStep {
        /// The claimed step.
        step: u64,
        /// What does not fit.
        reason: String,
    },
    /// A commitment is not 64 bytes.
    #[error("log {0} commitment is not {COMMITMENT_BYTES} bytes")]
    BadCommitment(&'static str),
}

/// What the log says about one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedStep {
    /// BN254 commitment of the checkpoint before the step.
    pub commitment_before: [u8; 32],
    /// BN254 commitment of the checkpoint after the step.
    pub commitment_after: [u8; 32],
    /// `(client, round)` from the header, when the anchor is the header (step 0).
    pub header_origin: Option<(u32, u32)>,
}

/// One parsed record of the tail: its byte span and the fields the check needs.
struct Record<'a> {
    bytes: &'a [u8],
    count: u64,
    steps: u32,
    commitment: &'a [u8],
    prev: Option<[u8; 32]>,
    origin: Option<(u32, u32)>,
}

impl Record<'_> {
    fn hash(&self) -> [u8; 32] {
        let tag = if self.prev.is_some() {
            ENTRY_TAG
        } else {
            HEADER_TAG
        };
        Sha256::new()
            .chain_update(tag)
            .chain_update(self.bytes)
            .finalize()
            .into()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], LogError> {
        let truncated = LogError::Truncated {
            field,
            offset: self.pos,
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let out = self.bytes.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], LogError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, LogError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, LogError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A `u32`-length-prefixed byte string.
    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], LogError> {
        let len = self.u32(field)? as usize;
        self.take(len, field)
    }

    fn header(&mut self) -> Result<Record<'a>, LogError> {
        let start = self.pos;
        let client = self.u32("header client")?;
        let round = self.u32("header round")?;
        for field in ["header dataset", "header label_column"] {
            self.bytes(field)?;
        }
        self.take(8, "header split_seed")?;
        self.bytes("header model")?;
        self.take(4 * 4, "header batch, momentum, proximal_mu, every")?;
        self.take(32 + 32, "header checkpoint digests")?;
        let commitment = self.bytes("header initial_commitment")?;
        Ok(Record {
            bytes: &self.bytes[start..self.pos],
            count: 0,
            steps: 0,
            commitment,
            prev: None,
            origin: Some((client, round)),
        })
    }

    fn entry(&mut self) -> Result<Record<'a>, LogError> {
        let start = self.pos;
        let count = self.u64("entry step")?;
        let steps = self.u32("entry step count")?;
        for _ in 0..steps {
            self.take(4, "entry lr")?;
            let rows = self.u32("entry row count")? as usize;
            let len = rows.checked_mul(4).ok_or(LogError::Truncated {
                field: "entry rows",
                offset: self.pos,
            })?;
            self.take(len, "entry rows")?;
        }
        self.take(32, "entry checkpoint")?;
        let commitment = self.bytes("entry commitment")?;
        let prev = self.array("entry prev")?;
        Ok(Record {
            bytes: &self.bytes[start..self.pos],
            count,
            steps,
            commitment,
            prev: Some(prev),
            origin: None,
        })
    }
}

fn bn254_part(commitment: &[u8], which: &'static str) -> Result<[u8; 32], LogError> {
    if commitment.len() != COMMITMENT_BYTES {
        return Err(LogError::BadCommitment(which));
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&commitment[..32]);
    Ok(out)
}

/// Checks that `tail` is evidence for step `step` under the log head `head` (see the module
/// docs) and returns the two commitments it logs around that step.
pub fn logged_step(tail: &[u8], step: u64, head: &[u8; 32]) -> Result<LoggedStep, LogError> {
    let wrong = |reason: String| LogError::WrongStep { step, reason };
    let mut r = Reader {
        bytes: tail,
        pos: 0,
    };
    let anchor = if step == 0 { r.header()? } else { r.entry()? };
    if anchor.count != step {
        return Err(wrong(format!(
            "the anchor entry is at step {}",
            anchor.count
        )));
    }
    let mut last_hash = anchor.hash();
    let mut first: Option<Record<'_>> = None;
    let mut index = 0usize;
    while r.pos < tail.len() {
        let entry = r.entry()?;
        if entry.prev != Some(last_hash) {
            return Err(LogError::BrokenLink(index));
        }
        last_hash = entry.hash();
        if first.is_none() {
            first = Some(entry);
        }
        index += 1;
    }
    let first = first.ok_or(LogError::NoEntries)?;
    if last_hash != *head {
        return Err(LogError::HeadMismatch {
            posted: hex::encode(head),
            found: hex::encode(last_hash),
        });
    }
    if first.steps != 1 || Some(first.count) != step.checked_add(1) {
        return Err(wrong(format!(
            "the entry after the anchor ends at step {} with {} steps (needs step {} with 1)",
            first.count,
            first.steps,
            step.saturating_add(1)
        )));
    }
    Ok(LoggedStep {
        commitment_before: bn254_part(anchor.commitment, "anchor")?,
        commitment_after: bn254_part(first.commitment, "entry")?,
        header_origin: anchor.origin,
    })
}
