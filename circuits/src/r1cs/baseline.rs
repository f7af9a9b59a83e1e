//! A plain multiplication chain, the yardstick relations are measured against.

use crate::field::Field;
use crate::program::{Assignment, Builder, Program};

/// `n` multiplication constraints: `x_{i+1} = x_i · y_i`, with `x_0` public and `y_i` private,
/// values pseudo-random from a fixed seed. Its R1CS has exactly `n` constraints, one public input
/// and `2n` witness variables.
pub fn mul_chain<F: Field>(n: usize) -> (Program, Assignment<F>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        F::from_i128(i128::from(z ^ (z >> 31)))
    };
    let mut b = Builder::<F>::new();
    b.section("mul-chain");
    let mut x = b.public(next());
    for _ in 0..n {
        let y = b.private(next());
        x = b.mul(x, y);
    }
    b.finish()
}
