//! The fixed-point number format of zkfl's proofs: a specification.
//!
//! Every real number a proved training step touches is an integer `q` standing for `q / 2^F`,
//! where the scale `2^F` depends on the quantity:
//!
//! | quantity                         | fraction bits   | bound                                  |
//! |----------------------------------|-----------------|----------------------------------------|
//! | features `x`                     | [`FX`] = 8      | `|x| < 2^7`  (`|q| < 2^15`)            |
//! | parameters `w` (weights, biases) | [`FW`] = 16     | `|w| < 2^7`  (`|q| < 2^23`)            |
//! | learning rate `η`                | [`FLR`] = 16    | `0 <= η < 2^4` (`0 <= q < 2^20`)       |
//! | tolerance `ε`                    | [`FW`] = 16     | `ε > 0`                                |
//! | probabilities, output errors `δ` | [`FP`] = 14     | `|δ| <= 1`                             |
//! | hidden activations `h`           | [`FH`] = 12     | `|h| < 2^7`  (`|q| < 2^19`)            |
//!
//! **Rounding.** One rule everywhere, in quantization and inside the step: *round half up*,
//! `round(v) = floor(v + 1/2)`. For integers this is [`round_shift`] (`v / 2^s`) and [`round_div`]
//! (`a / b`); both are what the circuit constrains (a floor division of `2a + b` by `2b`).
//!
//! **Data.** A data set is snapped to the feature grid ([`snap_feature`]) *before* training, so the
//! float training run and the proof see exactly the committed features. Parameters are quantized
//! at proof time ([`quantize_param`]); the gap between the float step and the fixed-point step is
//! absorbed by the statement's tolerance `ε`.
//!
//! **Why these bounds.** They make every integer a relation computes far smaller than the proving
//! fields' primes (about `2^254`), so field arithmetic is integer arithmetic, and they fix the
//! width of the range checks that make commitments injective.

use thiserror::Error;

/// Fraction bits of features.
pub const FX: u32 = 8;
/// Signed width of a quantized feature: `|q| < 2^(X_BITS-1)`.
pub const X_BITS: u32 = 16;
/// Fraction bits of parameters (and of the tolerance `ε`).
pub const FW: u32 = 16;
/// Signed width of a quantized parameter at a step's start: `|q| < 2^(W_BITS-1)`.
pub const W_BITS: u32 = 24;
/// Fraction bits of the learning rate.
pub const FLR: u32 = 16;
/// Unsigned width of a quantized learning rate: `0 <= q < 2^LR_BITS`.
pub const LR_BITS: u32 = 20;
/// Fraction bits of probabilities and of the output errors `δ = p - y`.
pub const FP: u32 = 14;
/// Fraction bits of hidden activations.
pub const FH: u32 = 12;
/// Signed width of a quantized hidden pre-activation: `|q| < 2^(H_BITS-1)`.
pub const H_BITS: u32 = 20;
/// Half-width of the ReLU's dead zone, in units of `2^-FH`: a hidden pre-activation `ā` with
/// `|ā| <= RELU_DEAD_ZONE` may be masked either way, as the prover chooses (following its
/// float training), so that a float step whose mask differs from the fixed-point one only by
/// rounding stays provable. 16 units is `2^-8`, about ten times the float-versus-fixed error
/// of a pre-activation measured on digits (`tests/mlp_steps.rs`).
pub const RELU_DEAD_ZONE: i128 = 16;

/// The ReLU mask of a hidden pre-activation `a` (units of `2^-FH`): `a > 0`, except inside the
/// dead zone, where `hint` (the float training's mask) decides when given.
pub fn relu_mask(a: i128, hint: Option<bool>) -> bool {
    match hint {
        Some(active) if a.abs() <= RELU_DEAD_ZONE => active,
        _ => a > 0,
    }
}
/// Signed width of one step's change of a parameter: `|w_{t+1} - w_t| < 2^(DELTA_BITS-1)`
/// units of `2^-FW` (that is, less than 1.0).
pub const DELTA_BITS: u32 = 17;

/// Why a real number has no fixed-point representation.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FixedError {
    /// NaN or infinite.
    #[error("{what} is not finite ({value})")]
    NotFinite {
        /// Which quantity.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// Outside the format's bound.
    #[error("{what} {value} is outside the fixed-point range (|v| < {bound})")]
    OutOfRange {
        /// Which quantity.
        what: &'static str,
        /// The value.
        value: f64,
        /// The exclusive bound on its magnitude.
        bound: f64,
    },
    /// A learning rate or tolerance that is not positive.
    #[error("{what} must be positive, got {value}")]
    NotPositive {
        /// Which quantity.
        what: &'static str,
        /// The value.
        value: f64,
    },
}

/// `round(v · 2^frac)` with `|result| < 2^(bits-1)`, or why not.
///
/// The product is exact in `f64` for any `f32` input, so the rounding is the documented one.
pub fn quantize(what: &'static str, v: f32, frac: u32, bits: u32) -> Result<i64, FixedError> {
    let value = f64::from(v);
    if !value.is_finite() {
        return Err(FixedError::NotFinite { what, value });
    }
    let bound = (1u64 << (bits - 1)) as f64;
    let q = (value * (1u64 << frac) as f64 + 0.5).floor();
    if q.abs() >= bound {
        return Err(FixedError::OutOfRange {
            what,
            value,
            bound: bound / (1u64 << frac) as f64,
        });
    }
    Ok(q as i64)
}

/// The real number `q / 2^frac` as the nearest `f32`.
pub fn dequantize(q: i64, frac: u32) -> f32 {
    (q as f64 / (1u64 << frac) as f64) as f32
}

/// A feature on the grid: `round(x · 2^FX)`.
pub fn quantize_feature(x: f32) -> Result<i64, FixedError> {
    quantize("feature", x, FX, X_BITS)
}

/// A feature snapped to the grid, as the `f32` training should use: `dequantize(quantize(x))`.
pub fn snap_feature(x: f32) -> Result<f32, FixedError> {
    Ok(dequantize(quantize_feature(x)?, FX))
}

/// A parameter: `round(w · 2^FW)`.
pub fn quantize_param(w: f32) -> Result<i64, FixedError> {
    quantize("parameter", w, FW, W_BITS)
}

/// All parameters of a model, in order; fails on the first that has no representation.
pub fn quantize_params(ws: &[f32]) -> Result<Vec<i64>, FixedError> {
    ws.iter().map(|&w| quantize_param(w)).collect()
}

/// A learning rate: `round(η · 2^FLR)`, positive and below `2^(LR_BITS-FLR)`.
pub fn quantize_lr(lr: f32) -> Result<i64, FixedError> {
    let q = quantize("learning rate", lr, FLR, LR_BITS + 1)?;
    if q <= 0 {
        return Err(FixedError::NotPositive {
            what: "learning rate",
            value: f64::from(lr),
        });
    }
    Ok(q)
}

/// A tolerance on parameters: `round(ε · 2^FW)`, positive.
pub fn quantize_eps(eps: f32) -> Result<i64, FixedError> {
    let q = quantize("tolerance", eps, FW, 40)?;
    if q <= 0 {
        return Err(FixedError::NotPositive {
            what: "tolerance",
            value: f64::from(eps),
        });
    }
    Ok(q)
}

/// `round(v / 2^s)` (half up), for `s >= 1`.
pub fn round_shift(v: i128, s: u32) -> i128 {
    (v + (1i128 << (s - 1))) >> s
}

/// `round(a / b)` (half up) for `b > 0`: `floor((2a + b) / (2b))`.
///
/// # Panics
/// If `b <= 0` (an internal invariant: divisors are sums of positive terms).
pub fn round_div(a: i128, b: i128) -> i128 {
    assert!(b > 0, "round_div by non-positive {b}");
    (2 * a + b).div_euclid(2 * b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(round_shift(3, 1), 2);
        assert_eq!(round_shift(-3, 1), -1);
        assert_eq!(round_shift(-5, 2), -1);
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(-5, 2), -2);
        assert_eq!(round_div(7, 3), 2);
        assert_eq!(quantize_param(0.5 / 65536.0), Ok(1));
        assert_eq!(quantize_param(-0.5 / 65536.0), Ok(0));
    }

    #[test]
    fn quantization_round_trips_and_rejects() {
        assert_eq!(quantize_feature(1.5), Ok(384));
        assert_eq!(dequantize(384, FX), 1.5);
        assert_eq!(snap_feature(0.0041), Ok(1.0 / 256.0));
        assert!(matches!(
            quantize_feature(128.0),
            Err(FixedError::OutOfRange { .. })
        ));
        assert!(quantize_feature(127.99).is_ok());
        assert!(matches!(
            quantize_param(f32::NAN),
            Err(FixedError::NotFinite { .. })
        ));
        assert!(matches!(
            quantize_lr(0.0),
            Err(FixedError::NotPositive { .. })
        ));
        assert_eq!(quantize_lr(0.1), Ok(6554));
        assert!(quantize_lr(16.0).is_err());
    }
}
