//! Which linear ops a constraint back end inlines and which it gives a variable of their own.
//!
//! In R1CS a linear op costs nothing when its output is kept as a linear combination and
//! substituted wherever it is read. Substitution composes: `s_i = s_{i-1} + x_i` over `n` steps
//! makes combinations of `1, 2, ..., n` terms, quadratic in size and in prover work. The plan
//! bounds that: a linear op whose substituted combination would exceed [`INLINE_LIMIT`] terms
//! *and* is larger than its own distinct terms (so the growth comes from substitution, not from
//! a wide sum written once) is *materialized*: it gets a witness variable and one constraint
//! `combination · 1 = variable`, and later ops read that single variable.
//!
//! The plan depends only on the program's shape (it counts distinct variables, ignoring
//! coefficients and cancellations), so [`crate::program::Program::cost`] and the R1CS compiler
//! agree on it exactly. A permutation's three outputs count as combinations of the same three
//! variables (the last round's S-box outputs), as the R1CS compiler builds them.

use crate::program::{Op, Program};

/// The largest substituted combination (in distinct variables) the plan keeps inline.
pub const INLINE_LIMIT: usize = 64;

/// For each op of `program`, whether it is a linear op the back end materializes.
pub fn materialized_linears(program: &Program) -> Vec<bool> {
    // For every variable that is kept as a combination of more than itself: the sorted,
    // distinct base variables it stands for. `None` means the variable stands for itself.
    let mut bases: Vec<Option<Vec<u32>>> = vec![None; program.num_vars as usize];
    let mut flags = vec![false; program.ops.len()];
    for (i, op) in program.ops.iter().enumerate() {
        match op {
            Op::Linear { out, lin } => {
                let mut union = Vec::new();
                let mut direct: Vec<u32> = Vec::with_capacity(lin.terms.len());
                for (_, v) in &lin.terms {
                    direct.push(v.0);
                    match bases.get(v.index()).and_then(|b| b.as_ref()) {
                        Some(set) => union.extend_from_slice(set),
                        None => union.push(v.0),
                    }
                }
                union.sort_unstable();
                union.dedup();
                direct.sort_unstable();
                direct.dedup();
                if union.len() > INLINE_LIMIT && union.len() > direct.len() {
                    flags[i] = true;
                } else if let Some(slot) = bases.get_mut(out.index()) {
                    *slot = Some(union);
                }
            }
            Op::Permute { output, .. } => {
                let set: Vec<u32> = {
                    let mut s: Vec<u32> = output.iter().map(|v| v.0).collect();
                    s.sort_unstable();
                    s
                };
                for v in output {
                    if let Some(slot) = bases.get_mut(v.index()) {
                        *slot = Some(set.clone());
                    }
                }
            }
            _ => {}
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{Bn254, Coeff, Field};
    use crate::program::Builder;

    #[test]
    fn running_sums_are_cut_every_limit_steps() {
        let mut b = Builder::<Bn254>::new();
        let xs: Vec<_> = (0..200).map(|i| b.private(Bn254::from_i128(i))).collect();
        let mut sum = b.constant(Coeff::ZERO);
        for x in &xs {
            sum = b.add(sum, *x);
        }
        let (program, _) = b.finish();
        let flags = materialized_linears(&program);
        let count = flags.iter().filter(|f| **f).count();
        // Each materialized sum restarts the count at one variable: 200 inputs in runs of 64.
        assert_eq!(count, 3);
    }

    #[test]
    fn one_wide_sum_is_not_cut() {
        let mut b = Builder::<Bn254>::new();
        let terms: Vec<_> = (0..500)
            .map(|i| (Coeff::ONE, b.private(Bn254::from_i128(i))))
            .collect();
        b.linear(&terms, Coeff::ZERO);
        let (program, _) = b.finish();
        assert!(materialized_linears(&program).iter().all(|f| !f));
    }
}
