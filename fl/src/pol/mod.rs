//! Proof-of-learning logs in training: writing them while a client trains, checking their
//! structure against the blob store, and replaying their segments on burn.
//!
//! The log format itself (data types, binary encoding, hash chain, record tree, step evidence,
//! challenges) is the [`pol`] crate's, re-exported here; this module adds what needs the
//! checkpoints and the training code:
//!
//! 1. a verifier checks that the log it receives hashes to the posted head ([`check_head`]),
//!    and that it keeps the run's terms: hyperparameters, step count, batches ([`check_terms`]),
//! 2. checks the chain's structure and the checkpoint blobs ([`check_chain`]),
//!    (The head hashes only the last entry, `prev` included: it binds the whole log only
//!    together with the chain check, which rejects, e.g., a removed middle entry.)
//! 3. replays a few segments from `checkpoint_before(i)` with the recorded steps and compares
//!    the result with `entries[i].checkpoint` ([`replay`]),
//! 4. checks that the log ends at the update the provider posted ([`verify`]).
//!
//! - [`chain`]: the structural check of a log against a blob store.
//! - [`recorder`]: writing a log while a client trains.
//! - [`replay`]: the replay check of the largest segments.
//! - [`verify`]: a log file checked end to end against the data set its header names.

pub mod chain;
pub mod recorder;
pub mod replay;
pub mod verify;

pub use self::chain::{ChainError, check_chain, check_head};
pub use self::recorder::PolRecorder;
pub use ::pol::{
    CheckpointCommitment, CheckpointCommitter, CheckpointLog, LogEntry, LogHeader, PolError,
    RecordTree, RunTerms, StepRecord, TermsError, check_terms,
};
