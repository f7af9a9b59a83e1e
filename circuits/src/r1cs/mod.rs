//! Programs as R1CS over BN254's scalar field, proved with Groth16 (arkworks 0.6).
//!
//! # The compilation
//!
//! Every program variable becomes a *wire*: a linear combination of R1CS variables.
//!
//! | op | R1CS | constraints |
//! | --- | --- | --- |
//! | public `Input` | an instance variable, in [`Program::public`] order | 0 |
//! | private `Input` | a witness variable | 0 |
//! | `Linear` | the substituted combination, no variable; or, when [`crate::linear_plan`] says so, a witness `w` with `combination · 1 = w` | 0 (or 1) |
//! | `Mul` | witness `out`, `a · b = out` | 1 |
//! | `Dot` (n terms) | witnesses `p_i = a_i·b_i` for `i < n`, `out`; `a_n · b_n = out - Σ p_i` | n |
//! | `AssertZero` | `combination · 1 = 0` | 1 |
//! | `Range { bits }` | witness bits `b_i`, `b_i · (1 - b_i) = 0`, `Σ 2^i b_i · 1 = v` | bits + 1 |
//! | `Bits` | the same, the bits being the op's outputs | len + 1 |
//! | `Permute` | circom Poseidon: 81 S-boxes of 3 constraints; outputs are combinations | 243 |
//!
//! The count is exactly [`Program::cost`]`().total` (see [`shape`]).
//!
//! The witness is read from the assignment for inputs, `Mul`/`Dot` outputs and bits; the
//! values of `Linear` and `Permute` outputs are not read (they are combinations of other
//! variables), and internal wires (dot partial products, range bits, S-box intermediates) are
//! computed from the wires they depend on. So the R1CS is satisfied exactly when every
//! constraint holds for those values, which is what [`Program::check`] checks when the
//! linear and permutation outputs are consistent; [`prove`] runs `check` first and refuses an
//! assignment it rejects.
//!
//! Keys depend on the shape only: [`setup`] synthesizes without an assignment, made by one
//! party who must forget its randomness; [`ceremony_start`] begins a multi-party setup instead
//! (the `ceremony` crate), after which no single party knows the trapdoor.
//!
//! [`Program::public`]: crate::program::Program::public
//! [`Program::cost`]: crate::program::Program::cost
//! [`Program::check`]: crate::program::Program::check

mod baseline;
mod codec;
mod compile;
mod groth16;
mod permute;
mod shape;
mod wire;

#[cfg(test)]
mod tests;

pub use baseline::mul_chain;
pub use codec::{DecodeError, Encoding};
pub use compile::ProgramCircuit;
pub use groth16::{
    Curve, Groth16Error, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, ceremony_start,
    ceremony_verify, prepare, prove, public_input_count, setup, verify, verify_batch,
};
pub use shape::{MalformedProgram, R1csShape, shape, validate};
