//! halo2 back end: any [`crate::program::Program`] as a PLONKish circuit over Pasta's `Fp`,
//! proved with IPA commitments over Vesta (no trusted setup).
//!
//! - [`field`]: `Fp` as a [`crate::Field`], with the `P128Pow5T3` Poseidon permutation.
//! - [`layout`]: how ops become rows (two arithmetic lanes with running sums, a byte lookup for
//!   range checks, booleanity gates, Poseidon regions beside the lanes).
//! - [`circuit`]: the layout as a halo2 `Circuit<Fp>`; public inputs sit in one instance
//!   column in [`crate::program::Program::public`] order.
//! - [`prover`]: cached parameters, keys, proving and verifying.

pub mod circuit;
pub mod field;
pub mod layout;
pub mod prover;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use thiserror::Error;

pub use circuit::ProgramCircuit;
pub use field::Fp;
pub use layout::Layout;
pub use prover::{
    Halo2Params, ProgramKeys, ProgramVerifier, keygen, params, prove, required_k, verifier_key,
    verify,
};

use crate::program::Unsatisfied;

/// Why the halo2 back end could not lay out, prove or verify.
#[derive(Debug, Error)]
pub enum Halo2Error {
    /// An op the circuit cannot express.
    #[error("op {op} ({kind}) cannot be laid out: {reason}")]
    Unsupported {
        /// Index of the op.
        op: usize,
        /// Its kind.
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing cached parameters failed.
    #[error("halo2 parameters {path}: {source}")]
    ParamsIo {
        /// The parameter file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A cached parameter file is for another size.
    #[error("halo2 parameters {path} are for k = {found}, not {expected}")]
    ParamsMismatch {
        /// The parameter file.
        path: PathBuf,
        /// The `k` asked for.
        expected: u32,
        /// The `k` in the file.
        found: u32,
    },
    /// The parameters have too few rows for the program.
    #[error("the program needs k = {needed}, the parameters have k = {have}")]
    ParamsTooSmall {
        /// The smallest `k` that fits.
        needed: u32,
        /// The parameters' `k`.
        have: u32,
    },
    /// The assignment does not satisfy the program, so no proof is made.
    #[error("refusing to prove: {0}")]
    Unsatisfied(#[from] Unsatisfied),
    /// The keys were made for another program.
    #[error("the keys are for another program")]
    WrongProgram,
    /// The verifier got the wrong number of public inputs.
    #[error("expected {expected} public inputs, got {got}")]
    PublicCount {
        /// The program's count.
        expected: usize,
        /// The count given.
        got: usize,
    },
    /// halo2 failed while making keys or a proof.
    #[error("halo2 {stage} failed: {message}")]
    Backend {
        /// Which step failed.
        stage: &'static str,
        /// halo2's error.
        message: String,
    },
    /// The proof does not verify.
    #[error("proof rejected: {reason}")]
    Rejected {
        /// halo2's reason, or what is wrong with the bytes.
        reason: String,
    },
}
