//! Proof-of-learning checkpoint logs (after Jia et al., "Proof-of-Learning", 2021).
//!
//! While a data provider trains locally it records, every `k` optimizer steps, an entry holding
//! the steps taken since the previous record (learning rate and training-set row indices of each
//! batch) and the digest of the checkpoint reached (parameters, plus the momentum buffer when
//! momentum is used; the bytes themselves go to the [`crate::blob`] store).
//!
//! The log is a hash chain:
//!
//! ```text
//! h_header = SHA-256("zkfl-pol-header-v2" || header)
//! entry_0.prev = h_header
//! entry_i.prev = SHA-256("zkfl-pol-entry-v2" || entry_{i-1})     (prev included)
//! head        = hash of the last entry (h_header when empty)
//! ```
//!
//! The header commits to everything a verifier needs to replay the run besides the data rows
//! and the checkpoints: data set and split seed, model spec, batch size, momentum, proximal
//! coefficient, `k`, the global model the round started from and the step-0 checkpoint. The
//! provider posts `head` publicly; a verifier then
//! 1. checks that the log it receives hashes to the posted head ([`check_head`]),
//! 2. checks the chain's structure and the checkpoint blobs ([`check_chain`]),
//!    (The head hashes only the last entry, `prev` included: it binds the whole log only
//!    together with the chain check below, which rejects, e.g., a removed middle entry.)
//! 3. replays a few segments from `checkpoint_before(i)` with the recorded steps and compares
//!    the result with `entries[i].checkpoint`.
//!
//! Each entry names its steps exactly (global step `first_step() + j` for the `j`-th step of
//! the segment), so a SNARK can later prove one logged step at a time.
//!
//! - [`log`]: the data types and the hash chain.
//! - [`encoding`]: the versioned binary format and the bytes the hashes cover.
//! - [`chain`]: the structural check of a log against a blob store.
//! - [`recorder`]: writing a log while a client trains.
//! - [`replay`]: the replay check of the largest segments.
//! - [`verify`]: a log file checked end to end against the data set its header names.
//! - [`challenge`]: which logged steps a provider must prove, drawn from the round's log heads.

pub mod chain;
pub mod challenge;
pub mod encoding;
pub mod log;
pub mod recorder;
pub mod replay;
pub mod verify;

pub use self::chain::{ChainError, check_chain, check_head};
pub use self::challenge::challenged_steps;
pub use self::encoding::PolError;
pub use self::log::{CheckpointLog, LogEntry, LogHeader, StepRecord};
pub use self::recorder::{CheckpointCommitter, PolRecorder};
