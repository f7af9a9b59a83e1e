//! What zkfl proves, written once.
//!
//! A relation (say, "one fixed-point SGD step of softmax regression on committed rows") is written
//! against the small gadget interface of [`program::Builder`]: private and public inputs, linear
//! combinations, products, dot products, range checks, bit decompositions and the Poseidon
//! permutation. Building a relation yields a field-independent [`program::Program`] (the
//! constraints' shape) and an [`program::Assignment`] (the witness, in one back end's field). Each
//! proof system compiles the same program: R1CS for Groth16 over BN254, PLONKish rows for halo2
//! over Pasta. [`program::Program::check`] evaluates every constraint natively, so tests can tell
//! a satisfied witness from a tampered one without proving. [`system::ProofSystem`] puts both
//! proof systems behind one interface.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod field;
pub mod fixed;
pub mod gadgets;
pub mod halo2;
pub mod linear_plan;
pub mod poseidon;
pub mod program;
pub mod r1cs;
pub mod reference;
pub mod relations;
pub mod system;

pub use field::{Coeff, Field};
pub use program::{Assignment, Builder, Op, Program, Unsatisfied, Var};
pub use system::{Groth16, Halo2, ProofSystem, SystemError};
