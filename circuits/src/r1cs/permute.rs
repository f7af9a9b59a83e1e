//! The circom Poseidon permutation (width 3) as R1CS: 243 constraints.
//!
//! Each round adds its constants, applies the S-box `x^5` (to all three elements in the 4 first
//! and 4 last rounds, to element 0 in the 57 partial rounds between) and multiplies by the MDS
//! matrix. An S-box is three constraints (`x·x = x2`, `x2·x2 = x4`, `x4·x = y`); constants and
//! the MDS matrix only rewrite linear combinations. The outputs are combinations of the last
//! round's three S-box outputs, so the op defines no variable of its own.

use ark_bn254::Fr;

use super::wire::{R1cs, Synth, Wire};
use crate::field::bn254_poseidon_constants;

/// `x^5` as three constraints; the result is a fresh variable.
fn sbox(r: &R1cs, x: &Wire) -> Synth<Wire> {
    let x2 = r.mul(x, x)?;
    let x4 = r.mul(&x2, &x2)?;
    r.mul(&x4, x)
}

/// The permutation of `state`.
pub(crate) fn permute(r: &R1cs, state: [Wire; 3]) -> Synth<[Wire; 3]> {
    let (ark, mds, full, partial) = bn254_poseidon_constants();
    let half = full / 2;
    let mut state = state;
    for round in 0..full + partial {
        let is_full = round < half || round >= half + partial;
        let mut after = Vec::with_capacity(3);
        for (i, s) in state.iter().enumerate() {
            let shifted = Wire::combine([(Fr::from(1u8), s)], ark[3 * round + i], r.proving);
            after.push(if is_full || i == 0 {
                sbox(r, &shifted)?
            } else {
                shifted
            });
        }
        state = std::array::from_fn(|i| {
            Wire::combine(
                (0..3).map(|j| (mds[i][j], &after[j])),
                Fr::from(0u8),
                r.proving,
            )
        });
    }
    Ok(state)
}
