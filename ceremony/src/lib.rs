//! A multi-party setup for Groth16 over BN254, so that no single party knows a key's trapdoor.
//!
//! Groth16 keys are powers of secret scalars (τ, α, β, δ) in the exponent; whoever knows them can
//! prove anything. Bowe, Gabizon and Miers, *A multi-party protocol for constructing the public
//! parameters of the Pinocchio zk-SNARK* (2017, ePrint 2017/1050) split the setup in two phases
//! that any number of participants update in turn, each multiplying the secrets by its own
//! random factor and proving it did so. The final secrets are the products of every
//! participant's factors: **one honest participant in each phase who forgets its factor
//! suffices** (a phase without contributions is refused: its secrets are 1).
//!
//! - **Phase 1, powers of tau** ([`Accumulator`]), for every circuit of a domain size up to
//!   `2^power`: `[τ^i]₁` for `i < 2m − 1`, `[τ^i]₂`, `[ατ^i]₁`, `[βτ^i]₁` for `i < m`, `[β]₂`.
//!   A participant draws `(τ', α', β')`, multiplies each element by the matching product and
//!   appends a [`Phase1Contribution`]; [`Accumulator::verify`] replays every contribution from
//!   the generators.
//!   Powers from a public ceremony come in as snarkjs `.ptau` files
//!   ([`Accumulator::from_ptau`]), the usual source for real circuit sizes.
//! - **Preparation, per domain size** ([`LagrangeBasis`]): the powers in the Lagrange basis
//!   `[L_j(τ)]`, their inverse FFT over the group (BGM17 §3.3); made once, checked cheaply.
//! - **Phase 2, per circuit** ([`Parameters`]): the Groth16 proving key computed once from the
//!   basis and the circuit's R1CS with `γ = δ = 1`; a participant checks the parameters against
//!   the basis and the circuit (random linear combinations, no recomputation), draws `δ'`,
//!   multiplies `[δ]₁`, `[δ]₂` by it and the `H` and `L` queries by `δ'^{-1}`, and appends a
//!   [`Phase2Contribution`]. A ledger follows the δ chain alone with a [`Transcript`].
//!
//! Each contribution carries a **proof of knowledge** of its factor `x` (BGM17 §3.2): a random
//! `s ∈ G1`, `s·x`, and `r·x` for `r = hash_to_G2(transcript, s, s·x)`; the check is
//! `e(s, r·x) = e(s·x, r)`. Because `r` hashes the transcript so far, a contribution cannot be
//! copied from another place or replayed. The update itself is checked with *same-ratio*
//! pairings: the ratio of a key element after and before equals the ratio `r·x / r`, and every
//! vector of powers is checked at once with a random linear combination of consecutive pairs
//! (a malformed vector passes with probability about `1/|Fr|`).
//!
//! A key made here is an ordinary [`ark_groth16::ProvingKey`] (the `LibsnarkReduction` QAP that
//! [`ark_groth16::Groth16`] proves with), so proving and verification do not change; only
//! `γ = 1`, which BGM17 allows.
//!
//! Transcripts are SHA-256 hash chains over the canonical uncompressed encodings; a
//! contribution's receipt (the chain after it) is what a ledger records and what its
//! participant looks for. Files ([`CeremonyFile`]) carry a magic and are read with every point
//! checked.

mod error;
mod file;
mod knowledge;
mod lagrange;
mod phase1;
mod phase2;
mod ptau;
mod scale;

#[cfg(test)]
mod tests;

pub use error::CeremonyError;
pub use file::{CeremonyFile, from_bytes, to_bytes};
pub use knowledge::KnowledgeProof;
pub use lagrange::LagrangeBasis;
pub use phase1::{Accumulator, MAX_POWER, Phase1Contribution};
pub use phase2::{Parameters, Phase2Contribution, Transcript, is_start_key};
pub use ptau::PtauOrigin;

/// A SHA-256 transcript hash.
pub type Digest = [u8; 32];
