//! Checking zkfl proofs.
//!
//! - [`proof_file`]: the versioned proof file a prover writes and anyone can check: back end,
//!   relation, shape, program digest, where the proven step comes from, public inputs and proof.
//! - [`keys`]: where verifying keys, proving keys and halo2 parameters live on disk.
//! - [`check`]: verifying a proof file (Groth16 or halo2) and batches of Groth16 proofs.
//! - [`bind`]: the one check that a verified proof's public inputs are what its provider posted.
//! - [`contribution`]: verifying a contribution proof against a statement the verifier assembles.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bind;
pub mod check;
pub mod contribution;
pub mod keys;
pub mod proof_file;

pub use bind::{BindError, Expected, check_binding};
pub use check::{
    TRAINING_STEP, TrainingStepPublic, VerifyError, verify_file, verify_groth16_batch,
    verify_groth16_with_vk,
};
pub use contribution::{CONTRIBUTION, ContributionStatement, verify_contribution_groth16};
pub use keys::{KeyError, KeyStore};
pub use proof_file::{Backend, ProofFile, ProofFileError, StepOrigin};
