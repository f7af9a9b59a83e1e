//! The statements zkfl proves, each built on [`crate::Builder`] from a shape and a witness.

pub mod contribution;
pub mod training_step;
