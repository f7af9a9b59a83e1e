//! Plain-Rust references of a training step: the exact fixed-point step (integers only; this *is*
//! the statement the circuit proves) and the `f32` step training runs, for measuring the gap.

pub mod approx;
pub mod fixed_step;
pub mod float_step;
pub mod model;

pub use fixed_step::{FixedGradient, ReferenceError};
pub use model::{Layer, Model};
