//! The integer approximations of the step's non-linear functions: a specification that the
//! circuit reproduces bit for bit.
//!
//! **Logits** `z` are integers at scale `2^L`: `L = FX+FW = 24` (a dot product of features and
//! weights plus the bias shifted up by `FX` bits), or `L = FH+FW = 28` for an MLP's output layer.
//!
//! **Exponential.** For `u = max(z) - z >= 0` (scale `2^L`), `exp(-u) = 2^(-u·log2 e)`:
//!
//! 1. `q = floor(u · LOG2E / 2^(L+8))`: the exponent `u·log2 e` at scale `2^FE = 2^12`, with
//!    [`LOG2E`] `= round(log2(e)·2^20)`. The statement requires `q < 2^Q_BITS = 2^22`, i.e. a
//!    logit spread below about 709 (a completeness bound: rows beyond it cannot be proved).
//!    (Floor, not rounding, so that `q >= 0` forces `u >= 0`: the maximum is unambiguous.)
//! 2. Split `q = n·2^12 + a·2^8 + g` with `a < 16`, `g < 256`.
//! 3. If `n >= 16`, `e = 0` (the true value is below `2^-16`). Otherwise
//!    `e = round(T[a] · P(g) · 2^(15-n) / 2^47)`, where [`EXP_TABLE`]`[a] = round(2^16·2^(-a/16))`
//!    and `P(g) = 2^32 - C1·g + C2·g²` with [`EXP_C1`] `= round(ln 2·2^20)`, [`EXP_C2`]
//!    `= round((ln 2)²/2·2^8)`: `P(g)/2^32 ≈ 2^(-g/2^12)` (the quadratic Taylor polynomial).
//!
//! So `e ≈ 2^16·exp(-u)`, `e = 2^16` exactly at `u = 0`, relative error below `2^-15`.
//!
//! **Softmax.** For a row of logits, `e_j` as above against the row's maximum, `S = Σ e_j`
//! (`S >= 2^16`), and `p_j = round(e_j · 2^FP / S)`. **Sigmoid** is the softmax of `(0, z)`:
//! `σ(z) = p_1`.

use crate::fixed::{FP, round_div, round_shift};

/// `round(log2(e) · 2^20)`.
pub const LOG2E: i128 = 1_512_775;
/// Fraction bits of the exponent `q`.
pub const FE: u32 = 12;
/// Bits of the exponent `q` (so `q < 2^22`).
pub const Q_BITS: u32 = 22;
/// Fraction bits of [`LOG2E`].
pub const LOG2E_FRAC: u32 = 20;

/// The shift from `u·LOG2E` (scale `2^(L+20)`) to `q` (scale `2^12`) for logits at `2^L`.
pub fn q_shift(logit_frac: u32) -> u32 {
    logit_frac + LOG2E_FRAC - FE
}
/// Bits of `q` below the table index: `g < 2^G_BITS`.
pub const G_BITS: u32 = 8;
/// Bits of the table index `a`.
pub const TABLE_BITS: u32 = 4;
/// Bits of the integer part `n` that select the power of two; `n >= 2^N_BITS` clamps to 0.
pub const N_BITS: u32 = 4;
/// `round(2^16 · 2^(-a/16))` for `a = 0..16`.
pub const EXP_TABLE: [i128; 16] = [
    65536, 62757, 60097, 57549, 55109, 52773, 50535, 48393, 46341, 44376, 42495, 40693, 38968,
    37316, 35734, 34219,
];
/// `round(ln 2 · 2^20)`.
pub const EXP_C1: i128 = 726_817;
/// `round((ln 2)² / 2 · 2^8)`.
pub const EXP_C2: i128 = 61;
/// Scale of `P(g)`: `P(0) = 2^32`.
pub const P_SHIFT: u32 = 32;
/// The final shift: `T·P·2^(15-n)` is at scale `2^(16+32+15)`, `e` at `2^16`.
pub const E_SHIFT: u32 = 47;
/// Fraction bits of `e`: `e(0) = 2^E_FRAC`.
pub const E_FRAC: u32 = 16;

/// Why the step's non-linearities are undefined on some input (the relation's completeness
/// bounds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproxError {
    /// A logit lies too far below its row's maximum.
    #[error("logit spread too large: exponent {q} does not fit {Q_BITS} bits")]
    Spread {
        /// The exponent `q`.
        q: i128,
    },
}

/// The exponent `q = floor(u · LOG2E / 2^(L+8))` for `u >= 0` at scale `2^L`.
pub fn exponent(u: i128, logit_frac: u32) -> Result<i128, ApproxError> {
    let q = (u * LOG2E) >> q_shift(logit_frac);
    if !(0..1i128 << Q_BITS).contains(&q) {
        return Err(ApproxError::Spread { q });
    }
    Ok(q)
}

/// `P(g) = 2^32 - C1·g + C2·g²`.
pub fn poly(g: i128) -> i128 {
    (1i128 << P_SHIFT) - EXP_C1 * g + EXP_C2 * g * g
}

/// `e(q) ≈ 2^16 · 2^(-q/2^12)` as specified in the module docs.
pub fn exp2_neg(q: i128) -> i128 {
    let n = q >> FE;
    if n >= 1 << N_BITS {
        return 0;
    }
    let a = ((q >> G_BITS) & ((1 << TABLE_BITS) - 1)) as usize;
    let g = q & ((1 << G_BITS) - 1);
    round_shift((EXP_TABLE[a] * poly(g)) << (15 - n), E_SHIFT)
}

/// Probabilities `p_j` at scale `2^FP` for one row of logits at scale `2^logit_frac`.
pub fn softmax(z: &[i128], logit_frac: u32) -> Result<Vec<i128>, ApproxError> {
    let m = z.iter().copied().max().unwrap_or(0);
    let e = z
        .iter()
        .map(|&zj| Ok(exp2_neg(exponent(m - zj, logit_frac)?)))
        .collect::<Result<Vec<_>, _>>()?;
    let s: i128 = e.iter().sum();
    Ok(e.iter().map(|&ej| round_div(ej << FP, s)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        assert_eq!(exp2_neg(0), 1 << E_FRAC);
        let mut worst = 0f64;
        for q in (0..(16 << FE)).step_by(7) {
            let exact = 65536.0 * 2f64.powf(-(q as f64) / 4096.0);
            worst = worst.max((exp2_neg(q) as f64 - exact).abs());
        }
        assert!(worst <= 1.5, "absolute error {worst} units of 2^-16");
        assert_eq!(exp2_neg(16 << FE), 0);
    }

    #[test]
    fn softmax_matches_floats() {
        let z = [0i128, 3 << 23, -(5 << 22), 1 << 24];
        let p = softmax(&z, 24).unwrap();
        let zf: Vec<f64> = z.iter().map(|&v| v as f64 / (1u64 << 24) as f64).collect();
        let s: f64 = zf.iter().map(|v| v.exp()).sum();
        for (pj, zj) in p.iter().zip(&zf) {
            let exact = zj.exp() / s * (1 << FP) as f64;
            assert!((*pj as f64 - exact).abs() <= 2.0, "{pj} vs {exact}");
        }
        assert!(softmax(&[0, 1 << 34], 24).is_err());
    }
}
