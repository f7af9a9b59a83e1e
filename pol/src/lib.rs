//! Proof-of-learning checkpoint logs (after Jia et al., "Proof-of-Learning: Definitions and
//! Practice", IEEE S&P 2021): what a data provider records while it trains, and how anyone
//! checks that a step is in a posted log. No machine learning here: this crate is the format,
//! shared by training (`fl`), the ledger (`chain`) and the command line.
//!
//! While a provider trains locally it records, every `k` optimizer steps, an entry holding the
//! steps taken since the previous record (learning rate and training-set row indices of each
//! batch), the SHA-256 digest of the checkpoint reached (parameters, plus the momentum buffer
//! when momentum is used) and the checkpoint's Poseidon commitment for the proof systems.
//!
//! The log is a hash chain, and a Merkle tree over the same records:
//!
//! ```text
//! h_header = SHA-256("zkfl-pol-header-v2" ‖ header)
//! entry_0.prev = h_header
//! entry_i.prev = SHA-256("zkfl-pol-entry-v2" ‖ entry_{i-1})     (prev included)
//! head        = hash of the last entry (h_header when empty)
//! record root = Merkle root over [h_header, h_entry_0, …]       (see tree)
//! ```
//!
//! The header commits to everything a verifier needs to replay the run besides the data rows
//! and the checkpoints: data set and split seed, model spec, batch size, momentum, proximal
//! coefficient, `k`, the global model the round started from and the step-0 checkpoint. A
//! provider posts the head and the record root of each round's log. A verifier then either
//! replays segments of the whole log (the `fl` crate), or, on the ledger, checks the evidence of
//! one challenged step against the record root and a zero-knowledge proof of that step.
//!
//! - [`digest`]: SHA-256 digests.
//! - [`commitment`]: a checkpoint's Poseidon commitment in both proving fields.
//! - [`log`]: the data types and the hash chain.
//! - [`encoding`]: the versioned binary format and the bytes the hashes cover.
//! - [`tree`]: the Merkle tree over a log's records.
//! - [`evidence`]: the two records around a step, with their paths, as evidence of the step.
//! - [`challenge`]: which logged steps a provider must prove, drawn from an unpredictable seed.
//! - [`terms`]: the run's hyperparameters and step sequence, and the check that a log keeps them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod challenge;
pub mod commitment;
pub mod digest;
pub mod encoding;
pub mod evidence;
pub mod log;
pub mod terms;
pub mod tree;

pub use challenge::ChallengeRule;
pub use commitment::{CheckpointCommitment, CheckpointCommitter};
pub use digest::Digest;
pub use encoding::PolError;
pub use evidence::{EvidenceError, LogEnds, LoggedStep, OpenedEnds, StepEvidence};
pub use log::{CheckpointLog, LogEntry, LogHeader, StepRecord};
pub use terms::{RunTerms, TermsError, check_terms};
pub use tree::RecordTree;
