//! In-circuit building blocks on [`crate::Builder`], each the constrained twin of a plain-Rust
//! function in [`crate::fixed`], [`crate::reference`] or [`commit`].
//!
//! Hints (quotients, remainders, signs, a row's maximum) enter through [`crate::Builder::private`]
//! and are then constrained, so an assignment with a wrong hint fails [`crate::Program::check`].
//! Hint values are computed from the builder's values; when those are not small integers (a
//! forged witness) the hint is zero and the program is left unsatisfied rather than panicking.

pub mod arith;
pub mod commit;
pub mod nonlinear;
