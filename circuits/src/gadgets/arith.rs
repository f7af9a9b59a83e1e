//! Integer arithmetic on field elements: range checks, rounding shifts, rounding division,
//! zero tests. Costs are R1CS constraints.

use crate::field::{Coeff, Field};
use crate::program::{Builder, Var};

/// The value of `v` as a small signed integer, or `0` if it is not one (a forged witness; the
/// constraints that use the resulting hint then fail).
pub fn int_or_zero<F: Field>(b: &Builder<F>, v: Var) -> i128 {
    b.int(v)
        .filter(|x| x.unsigned_abs() < 1u128 << 120)
        .unwrap_or(0)
}

/// A constant from a signed integer.
pub fn constant<F: Field>(b: &mut Builder<F>, v: i128) -> Var {
    b.constant(Coeff::from(v))
}

/// A private hint with an integer value.
pub fn hint<F: Field>(b: &mut Builder<F>, v: i128) -> Var {
    b.private(F::from_i128(v))
}

/// Constrains `-2^(bits-1) <= v < 2^(bits-1)`. Cost `bits + 1`.
pub fn signed_range<F: Field>(b: &mut Builder<F>, v: Var, bits: u32) {
    let shifted = b.linear(&[(Coeff::ONE, v)], Coeff::pow2(bits - 1));
    b.range(shifted, bits);
}

/// Constrains `v ∈ {0, 1}`. Cost 2.
pub fn boolean<F: Field>(b: &mut Builder<F>, v: Var) {
    b.range(v, 1);
}

/// `q = floor(v / 2^s)` with the remainder constrained (`v = q·2^s + r`, `0 <= r < 2^s`), `q`
/// NOT range-checked: the caller must bound `q` (e.g. [`signed_range`] or [`Builder::bits`]) so
/// that `q·2^s + r` cannot wrap around the field. Cost `s + 1`.
pub fn floor_shift_unchecked<F: Field>(b: &mut Builder<F>, v: Var, s: u32) -> Var {
    let value = int_or_zero(b, v);
    let q = hint(b, value >> s);
    let r = hint(b, value & ((1i128 << s) - 1));
    b.assert_zero(
        &[
            (Coeff::ONE, v),
            (Coeff::pow2(s).negated(), q),
            (Coeff::ONE.negated(), r),
        ],
        Coeff::ZERO,
    );
    b.range(r, s);
    q
}

/// `q = round(v / 2^s)` (half up): [`floor_shift_unchecked`] of `v + 2^(s-1)`, with the same
/// obligation on the caller to bound `q`. Cost `s + 1`.
pub fn round_shift_unchecked<F: Field>(b: &mut Builder<F>, v: Var, s: u32) -> Var {
    let shifted = b.linear(&[(Coeff::ONE, v)], Coeff::pow2(s - 1));
    floor_shift_unchecked(b, shifted, s)
}

/// `round(v / 2^s)` with `-2^(q_bits-1) <= q < 2^(q_bits-1)`. Cost `s + q_bits + 2`.
pub fn round_shift_signed<F: Field>(b: &mut Builder<F>, v: Var, s: u32, q_bits: u32) -> Var {
    let q = round_shift_unchecked(b, v, s);
    signed_range(b, q, q_bits);
    q
}

/// `round(v / 2^s)` with `0 <= q < 2^q_bits`. Cost `s + q_bits + 2`.
pub fn round_shift_unsigned<F: Field>(b: &mut Builder<F>, v: Var, s: u32, q_bits: u32) -> Var {
    let q = round_shift_unchecked(b, v, s);
    b.range(q, q_bits);
    q
}

/// `round(a / d)` (half up) for a divisor known to satisfy `0 < d < 2^d_bits`, with the quotient
/// constrained to `0 <= q < 2^q_bits`: `2a + d = q·2d + r`, `0 <= r < 2d`. A non-positive `d`
/// leaves the program unsatisfied. Cost `2·d_bits + q_bits + 6`.
pub fn round_div<F: Field>(b: &mut Builder<F>, a: Var, d: Var, q_bits: u32, d_bits: u32) -> Var {
    let (av, dv) = (int_or_zero(b, a), int_or_zero(b, d));
    let (qv, rv) = if dv > 0 {
        let num = 2 * av + dv;
        (num.div_euclid(2 * dv), num.rem_euclid(2 * dv))
    } else {
        (0, 0)
    };
    let q = hint(b, qv);
    let r = hint(b, rv);
    let qd = b.mul(q, d);
    let two = Coeff::from(2i128);
    // 2a + d - 2·q·d - r = 0
    b.assert_zero(
        &[
            (two, a),
            (Coeff::ONE, d),
            (two.negated(), qd),
            (Coeff::ONE.negated(), r),
        ],
        Coeff::ZERO,
    );
    b.range(r, d_bits + 1);
    let slack = b.linear(&[(two, d), (Coeff::ONE.negated(), r)], Coeff::ONE.negated());
    b.range(slack, d_bits + 1);
    b.range(q, q_bits);
    q
}

/// `1` if `v = 0`, else `0`. Cost 3.
pub fn is_zero<F: Field>(b: &mut Builder<F>, v: Var) -> Var {
    let inverse = b.value(v).inverse().unwrap_or_else(F::zero);
    let inv = b.private(inverse);
    let product = b.mul(v, inv);
    let out = b.linear(&[(Coeff::ONE.negated(), product)], Coeff::ONE);
    let vanish = b.mul(v, out);
    b.assert_zero(&[(Coeff::ONE, vanish)], Coeff::ZERO);
    out
}

/// `Σ 2^i · bits[i]` as a new variable (free).
pub fn from_bits<F: Field>(b: &mut Builder<F>, bits: &[Var]) -> Var {
    let terms: Vec<(Coeff, Var)> = bits
        .iter()
        .enumerate()
        .map(|(i, v)| (Coeff::pow2(i as u32), *v))
        .collect();
    b.linear(&terms, Coeff::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Bn254;
    use crate::fixed;

    fn run(f: impl FnOnce(&mut Builder<Bn254>)) -> Result<(), crate::Unsatisfied> {
        let mut b = Builder::<Bn254>::new();
        f(&mut b);
        let (p, a) = b.finish();
        p.check(&a)
    }

    #[test]
    fn shifts_and_divisions_match_the_spec() {
        for v in [-1000i128, -129, -128, -127, -1, 0, 1, 127, 128, 999] {
            run(|b| {
                let x = hint(b, v);
                let q = round_shift_signed(b, x, 8, 10);
                assert_eq!(b.int(q), Some(fixed::round_shift(v, 8)));
            })
            .unwrap();
        }
        for (a, d) in [(0i128, 1i128), (5, 2), (7, 3), (1 << 30, 12345), (99, 100)] {
            run(|b| {
                let (x, y) = (hint(b, a), hint(b, d));
                let q = round_div(b, x, y, 40, 20);
                assert_eq!(b.int(q), Some(fixed::round_div(a, d)));
            })
            .unwrap();
        }
    }

    #[test]
    fn wrong_hints_and_ranges_fail() {
        assert!(
            run(|b| {
                let x = hint(b, 1 << 20);
                round_shift_signed(b, x, 8, 12);
            })
            .is_err()
        );
        assert!(
            run(|b| {
                let x = hint(b, -5);
                signed_range(b, x, 3);
            })
            .is_err()
        );
        assert!(
            run(|b| {
                let (x, y) = (hint(b, 5), hint(b, 0));
                round_div(b, x, y, 8, 8);
            })
            .is_err()
        );
        for v in [0i128, 3, -2] {
            run(|b| {
                let x = hint(b, v);
                let z = is_zero(b, x);
                assert_eq!(b.int(z), Some((v == 0) as i128));
            })
            .unwrap();
        }
    }
}
