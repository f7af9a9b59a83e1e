//! Proving zkfl relations.
//!
//! - [`instance`]: a training step taken from a proof-of-learning log, and the provider's
//!   committed data set, from which the witness is built in either field.
//! - [`prove`]: [`StepProver`] makes (or loads) keys once per relation shape, proves with
//!   Groth16 or halo2, proves many steps in parallel, and writes [`verifier::ProofFile`]s.

pub mod instance;
pub mod prove;

pub use instance::{CommittedData, StepInstance};
pub use prove::{ProveError, StepProver};
