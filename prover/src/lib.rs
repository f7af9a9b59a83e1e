//! Proving zkfl relations.
//!
//! - [`commit`]: what a provider commits to before anything is proved: its checkpoints (in its
//!   proof-of-learning log) and its data set.
//! - [`instance`]: a training step taken from a proof-of-learning log, and the provider's
//!   committed data set, from which the witness is built in either field.
//! - [`prove`]: [`StepProver`] makes (or loads) keys once per relation shape, proves with
//!   Groth16 or halo2 (generic over [`circuits::ProofSystem`]), proves many steps in
//!   parallel, and writes [`verifier::ProofFile`]s.
//! - [`contribution`]: the owner's contribution proofs (Groth16), keys per contribution shape.
//! - [`setup`]: Groth16 keys from a multi-party ceremony: powers of tau kept with the keys,
//!   start parameters, checked contributions, and proving with the result.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod commit;
pub mod contribution;
pub mod instance;
pub mod prove;
pub mod setup;

pub use commit::{
    DataCommitment, PoseidonCommitter, commit_checkpoint, commit_data, committed_data, task_depth,
};
pub use contribution::contribution_program;
pub use instance::{CommittedData, InstanceError, StepInstance};
pub use prove::{ProveError, StepProver};
