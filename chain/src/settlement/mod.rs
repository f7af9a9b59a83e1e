//! Paying data providers for verified training: the proof-verifier function
//! `_verifyTrainingProof` and the settlement function `_settle`.
//!
//! # Protocol (record layout and rules in [`crate::task`])
//! 1. **Creation.** The owner fixes the reward rule and the verifier config
//!    ([`config::ProofConfig`]: Groth16, the training-step shape with its ε, the program digest,
//!    the verifying key, the allowed learning rates) at `/tasks/<id>/config` and funds the escrow.
//! 2. **Joining** (status `open`). A provider stakes and registers
//!    `/tasks/<id>/providers/<addr>` = `{"client": n, "data_root": hex}`, claiming the client
//!    index at `clients/<n>` and the data root at `data_roots/<root>` (each once per task, so
//!    no one else can register the same root and be paid for a proof about it).
//! 3. **Rounds** (status `running`, config frozen). The owner moves `round` to `r` and posts
//!    `rounds/<r>/model` (SHA-256 hex of the global model); each provider posts its
//!    proof-of-learning log head `rounds/<r>/heads/<addr>` (only itself, only once, only while
//!    `r` is the current round).
//! 4. **Proofs** (status `running`). A provider writes `/tasks/<id>/proofs/<proof id>` =
//!    `{"proof": hex(ProofFile::encode()), "log_suffix": hex(log tail)}` (fresh id). The
//!    function ([`verify_proof::Groth16TaskVerifier`]) checks, in order: the file decodes; the
//!    task is running and its verifier config is valid; the writer is registered; back end,
//!    relation, shape and program digest are the task's; `origin.client` is the writer's client
//!    index; `origin.log_head` is the head the writer posted for `origin.round`; the log tail
//!    ([`pol_log`]) leads from the checkpoint before `origin.step` to that head, and the first
//!    two public inputs are the BN254 commitments it logs before and after the step; the third
//!    is the writer's data root; neither this (provider, round, step) nor this statement (the
//!    five public inputs) was paid before in the task; the proof verifies under the task's key;
//!    the learning rate is allowed and ε is the shape's. Then it replaces the submission with
//!    `{"provider", "round", "step", "verified": true}`, marks `steps/<addr>/<r>/<step>` and
//!    `statements/<sha256 of the inputs>` with the proof id, and adds 1 to `verified/<addr>`.
//!    Any failure is a [`crate::FunctionError`] with a one-line reason: the transaction's op
//!    rolls back and only its fee and nonce remain ([`crate::execute`]).
//! 5. **Settlement.** The owner sets `status` to `closed`; `_settle` ([`payout::settle`]), in
//!    the same transaction, splits the whole escrow balance by the reward rule
//!    ([`payout::split`]) among providers with `verified/<addr>` ≥ 1: `even` equal shares,
//!    `proportional` shares by verified proof count, each rounded down; the remainder (all of
//!    it when nobody has a verified proof) goes back to the owner. It records
//!    `payouts/<addr>` and `refund`, pays through [`crate::functions::builtin::escrow_payout`],
//!    and returns every stake at `stakes/<addr>` to its provider (there is no slashing yet).
//!
//! # What is not checked on the ledger
//! That the posted head belongs to an honest run (that is the proof-of-learning challenge's
//! job, off the ledger), that the logged `f32` learning rate matches the proven fixed-point one
//! (the allowed set bounds it instead), and that the key was made for the program digest (the
//! owner's promise, checkable off the ledger). Evidence must fit in one value (64 KiB of hex):
//! at about 200 bytes per entry, a step must be within roughly 150 entries of the log's end.

pub mod config;
pub mod payout;
pub mod pol_log;
pub mod verify_proof;

pub use config::{ProofConfig, ProofConfigError};
pub use payout::{Split, settle, split};
pub use pol_log::{LogError, LoggedStep, logged_step};
pub use verify_proof::Groth16TaskVerifier;
