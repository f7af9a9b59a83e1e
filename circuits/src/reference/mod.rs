//! Plain-Rust references of what is proven: the exact fixed-point training step (integers only;
//! this *is* the statement the circuit proves), the `f32` step training runs, for measuring the
//! gap, and the contribution game's fixed-point logits.

pub mod approx;
pub mod contribution;
pub mod fixed_step;
pub mod float_step;
pub mod model;

pub use fixed_step::{FixedGradient, ReferenceError};
pub use model::{Layer, Model};
