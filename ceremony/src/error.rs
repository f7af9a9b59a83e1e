//! Why a ceremony step was refused.

use ark_relations::gr1cs::SynthesisError;
use ark_serialize::SerializationError;
use thiserror::Error;

/// Why a setup step, a contribution or its check failed.
#[derive(Debug, Error)]
pub enum CeremonyError {
    /// Powers of tau are made for domains of `2^1` to `2^MAX_POWER`.
    #[error("powers of tau for 2^{0} are out of range (1..={max})", max = crate::MAX_POWER)]
    Power(u32),
    /// The circuit needs a larger domain than the powers of tau reach.
    #[error("the circuit needs a domain of {needed} but the powers of tau reach {available}")]
    TooSmall {
        /// The circuit's domain size (constraints plus public inputs, to a power of two).
        needed: usize,
        /// The accumulator's domain size.
        available: usize,
    },
    /// A domain size that is not a power of two of at least 2.
    #[error("a domain of {0} points is not a power of two of at least 2")]
    Domain(usize),
    /// The Lagrange basis was prepared for another domain size than the circuit's.
    #[error("the circuit needs a domain of {needed} but the Lagrange basis is for {basis}")]
    WrongBasis {
        /// The circuit's domain size.
        needed: usize,
        /// The basis's domain size.
        basis: usize,
    },
    /// Arkworks could not synthesize the circuit.
    #[error("constraint synthesis failed: {0}")]
    Synthesis(SynthesisError),
    /// A contribution, a transcript or a basis does not check; the text names the failed check.
    #[error("rejected: {0}")]
    Rejected(&'static str),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A file of another kind (its first 8 bytes name what it is).
    #[error("not a {0} (wrong magic bytes)")]
    NotA(&'static str),
    /// Bytes that are not a canonical encoding of the expected object.
    #[error("not a valid encoding: {0}")]
    Encoding(#[from] SerializationError),
}
