//! The step's non-linearities in-circuit, reproducing [`crate::reference::approx`] bit for bit:
//! a row's maximum, the exponential, softmax and ReLU.

use super::arith::{
    self, boolean, floor_shift_unchecked, int_or_zero, round_div, round_shift_unchecked,
};
use crate::field::{Coeff, Field};
use crate::fixed::{FP, H_BITS, RELU_DEAD_ZONE, relu_mask};
use crate::program::{Builder, Var};
use crate::reference::approx::{
    E_FRAC, E_SHIFT, EXP_C1, EXP_C2, EXP_TABLE, FE, G_BITS, LOG2E, N_BITS, P_SHIFT, Q_BITS,
    TABLE_BITS, q_shift,
};

/// The maximum `m` of `zs` and the differences `m - z_j`. Constrains `m` to be one of the
/// `z_j` (`Π (m - z_j) = 0`, cost `len`); the differences are NOT range-checked: the caller
/// must constrain them non-negative (see [`max_row`]).
pub fn max_with_differences<F: Field>(b: &mut Builder<F>, zs: &[Var]) -> (Var, Vec<Var>) {
    assert!(!zs.is_empty(), "the maximum of an empty row");
    let values: Vec<i128> = zs.iter().map(|z| int_or_zero(b, *z)).collect();
    let best = values.iter().copied().max().unwrap_or(0);
    let m = arith::hint(b, best);
    let diffs: Vec<Var> = zs.iter().map(|z| b.sub(m, *z)).collect();
    let product = diffs[1..].iter().fold(diffs[0], |acc, d| b.mul(acc, *d));
    b.assert_zero(&[(Coeff::ONE, product)], Coeff::ZERO);
    (m, diffs)
}

/// The maximum of `zs`, with every `m - z_j` checked to lie in `[0, 2^bits)`.
pub fn max_row<F: Field>(b: &mut Builder<F>, zs: &[Var], bits: u32) -> Var {
    let (m, diffs) = max_with_differences(b, zs);
    for d in diffs {
        b.range(d, bits);
    }
    m
}

/// The multilinear extension of a 16-entry table on four bits (least significant first):
/// `Σ_S c_S · Π_{i∈S} bit_i` with Möbius coefficients `c_S`. Cost 11.
fn table4<F: Field>(b: &mut Builder<F>, bits: &[Var], table: &[i128; 16]) -> Var {
    let mut monomials: Vec<Option<Var>> = vec![None; 16];
    for set in 1usize..16 {
        let top = usize::BITS - 1 - set.leading_zeros();
        let rest = set & !(1 << top);
        monomials[set] = Some(match monomials[rest] {
            None => bits[top as usize],
            Some(m) => b.mul(m, bits[top as usize]),
        });
    }
    let mut terms = Vec::with_capacity(15);
    let mut constant = Coeff::ZERO;
    for (set, monomial) in monomials.iter().enumerate() {
        let coeff: i128 = (0usize..16)
            .filter(|sub| sub & !set == 0)
            .map(|sub| {
                let sign = if (set ^ sub).count_ones() % 2 == 1 {
                    -1
                } else {
                    1
                };
                sign * table[sub]
            })
            .sum();
        match monomial {
            None => constant = Coeff::from(coeff),
            Some(m) => terms.push((Coeff::from(coeff), *m)),
        }
    }
    b.linear(&terms, constant)
}

/// `e ≈ 2^16·exp(-u)` for `u` at scale `2^logit_frac`, exactly
/// [`crate::reference::approx::exp2_neg`] of [`crate::reference::approx::exponent`]`(u)`. The exponent's bit decomposition constrains
/// `0 <= u·log2 e < 2^10` (so a negative `u` fails). Cost about 140.
pub fn exp_neg<F: Field>(b: &mut Builder<F>, u: Var, logit_frac: u32) -> Var {
    let scaled = b.scale(Coeff::from(LOG2E), u);
    let q = floor_shift_unchecked(b, scaled, q_shift(logit_frac));
    let bits = b.bits(q, Q_BITS as usize);
    let g = arith::from_bits(b, &bits[..G_BITS as usize]);
    let a_bits = &bits[G_BITS as usize..(G_BITS + TABLE_BITS) as usize];
    let n_bits = &bits[FE as usize..(FE + N_BITS) as usize];
    let high: Vec<(Coeff, Var)> = bits[(FE + N_BITS) as usize..]
        .iter()
        .map(|v| (Coeff::ONE, *v))
        .collect();
    let high_sum = b.linear(&high, Coeff::ZERO);
    let in_range = arith::is_zero(b, high_sum);
    // 2^(15-n) = Π_k (2^(2^k) - (2^(2^k) - 1)·bit_k) over the four bits of n.
    let factors: Vec<Var> = n_bits
        .iter()
        .enumerate()
        .map(|(k, bit)| {
            let big = 1i128 << (1 << k);
            b.linear(&[(Coeff::from(1 - big), *bit)], Coeff::from(big))
        })
        .collect();
    let shift = factors[1..]
        .iter()
        .fold(factors[0], |acc, f| b.mul(acc, *f));
    let table = table4(b, a_bits, &EXP_TABLE);
    let g2 = b.mul(g, g);
    let poly = b.linear(
        &[(Coeff::from(-EXP_C1), g), (Coeff::from(EXP_C2), g2)],
        Coeff::pow2(P_SHIFT),
    );
    let tp = b.mul(table, poly);
    let numerator = b.mul(tp, shift);
    let e = round_shift_unchecked(b, numerator, E_SHIFT);
    b.range(e, E_FRAC + 1);
    b.mul(in_range, e)
}

/// Bits of a softmax denominator `S = Σ e_j <= n·2^16` for `n` logits.
pub fn denominator_bits(n: usize) -> u32 {
    E_FRAC + 1 + (usize::BITS - (n.max(1) - 1).leading_zeros())
}

/// Probabilities at scale `2^FP` for one row of logits at scale `2^logit_frac`, exactly
/// [`crate::reference::approx::softmax`]. Cost about `200·len`.
pub fn softmax<F: Field>(b: &mut Builder<F>, zs: &[Var], logit_frac: u32) -> Vec<Var> {
    let (_, diffs) = max_with_differences(b, zs);
    let es: Vec<Var> = diffs.iter().map(|u| exp_neg(b, *u, logit_frac)).collect();
    let terms: Vec<(Coeff, Var)> = es.iter().map(|e| (Coeff::ONE, *e)).collect();
    let sum = b.linear(&terms, Coeff::ZERO);
    let d_bits = denominator_bits(zs.len());
    es.iter()
        .map(|e| {
            let numerator = b.scale(Coeff::pow2(FP), *e);
            round_div(b, numerator, sum, FP + 1, d_bits)
        })
        .collect()
}

/// ReLU of a rounded pre-activation `a` with a dead zone: `(h, s)` with `h = s·a` and the mask
/// `s` free inside `|a| <= RELU_DEAD_ZONE` ([`relu_mask`] picks it, from `hint` when given) and
/// `s = [a > 0]` outside; constrains `|a| < 2^(H_BITS-1)` (up to the dead zone). Cost
/// `H_BITS + 3`.
pub fn relu<F: Field>(b: &mut Builder<F>, a: Var, hint: Option<bool>) -> (Var, Var) {
    let active = relu_mask(int_or_zero(b, a), hint);
    let s = arith::hint(b, active as i128);
    boolean(b, s);
    let h = b.mul(s, a);
    // (2s - 1)·a + Z = 2h - a + Z: a >= -Z when s = 1, a <= Z when s = 0.
    let slack = b.linear(
        &[(Coeff::from(2i128), h), (Coeff::ONE.negated(), a)],
        Coeff::from(RELU_DEAD_ZONE),
    );
    b.range(slack, H_BITS);
    (h, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Bn254;
    use crate::reference::approx;

    #[test]
    fn exp_matches_reference_everywhere_it_matters() {
        let mut b = Builder::<Bn254>::new();
        let mut expected = Vec::new();
        let mut outs = Vec::new();
        for k in 0..300i128 {
            let u = k * k * 12_345 + k * 89;
            let v = arith::hint(&mut b, u);
            outs.push(exp_neg(&mut b, v, 24));
            expected.push(approx::exp2_neg(approx::exponent(u, 24).unwrap()));
        }
        let got: Vec<i128> = outs.iter().map(|v| b.int(*v).unwrap()).collect();
        assert_eq!(got, expected);
        let (p, a) = b.finish();
        p.check(&a).unwrap();
    }

    #[test]
    fn softmax_and_relu_match_reference() {
        let z = [0i128, 3 << 23, -(5 << 22), 1 << 24, -(300 << 24)];
        let mut b = Builder::<Bn254>::new();
        let vars: Vec<Var> = z.iter().map(|v| arith::hint(&mut b, *v)).collect();
        let p = softmax(&mut b, &vars, 24);
        let got: Vec<i128> = p.iter().map(|v| b.int(*v).unwrap()).collect();
        assert_eq!(got, approx::softmax(&z, 24).unwrap());
        for a in [-500i128, -5, 0, 1, 7, 500] {
            let v = arith::hint(&mut b, a);
            let (h, s) = relu(&mut b, v, None);
            assert_eq!(
                (b.int(h), b.int(s)),
                (Some(a.max(0)), Some((a > 0) as i128))
            );
            // Inside the dead zone the hint decides; outside it is ignored.
            let (h, s) = relu(&mut b, v, Some(a <= 0));
            let flipped = a.abs() <= RELU_DEAD_ZONE;
            let active = (a > 0) != flipped;
            assert_eq!(
                (b.int(h), b.int(s)),
                (Some(if active { a } else { 0 }), Some(active as i128))
            );
        }
        let (prog, asg) = b.finish();
        prog.check(&asg).unwrap();
    }

    #[test]
    fn forged_maximum_and_sign_fail() {
        let mut b = Builder::<Bn254>::new();
        let vars: Vec<Var> = [5i128, 9].iter().map(|v| arith::hint(&mut b, *v)).collect();
        softmax(&mut b, &vars, 24);
        let (prog, mut asg) = b.finish();
        prog.check(&asg).unwrap();
        // The maximum hint is the third variable: claim 5 instead of 9.
        asg.values[2] = Bn254::from_i128(5);
        assert!(prog.check(&asg).is_err());

        // Just outside the dead zone the sign is forced either way.
        for (a, forged) in [(RELU_DEAD_ZONE + 1, 0i128), (-RELU_DEAD_ZONE - 1, 1)] {
            let mut b = Builder::<Bn254>::new();
            let v = arith::hint(&mut b, a);
            relu(&mut b, v, None);
            let (prog, mut asg) = b.finish();
            prog.check(&asg).unwrap();
            asg.values[1] = Bn254::from_i128(forged);
            asg.values[2] = Bn254::from_i128(forged * a);
            assert!(prog.check(&asg).is_err(), "sign {forged} for a = {a}");
        }
        // Inside it, both signs are valid.
        for a in [-RELU_DEAD_ZONE, RELU_DEAD_ZONE] {
            for active in [false, true] {
                let mut b = Builder::<Bn254>::new();
                let v = arith::hint(&mut b, a);
                let (_, s) = relu(&mut b, v, Some(active));
                assert_eq!(b.int(s), Some(active as i128));
                let (prog, asg) = b.finish();
                assert!(prog.check(&asg).is_ok(), "sign {active} for a = {a}");
            }
        }
    }
}
