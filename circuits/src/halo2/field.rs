//! Pasta's `Fp` (the scalar field of Vesta, the field of halo2 circuits over `EqAffine`) as a
//! [`Field`], with the `P128Pow5T3` Poseidon permutation of Zcash's Orchard.
//!
//! The permutation is written here from `halo2_poseidon`'s published constants (its own
//! `permute` is crate-private): 4 full rounds, 56 partial rounds, 4 full rounds; each round adds
//! the round constants, applies `x^5` (to all three words in a full round, to word 0 in a
//! partial round), then multiplies by the MDS matrix. It is the function `halo2_gadgets`'
//! `Pow5Chip` constrains.

use std::sync::OnceLock;

use ff::{Field as _, PrimeField};
use halo2_poseidon::{Mds, P128Pow5T3, Spec};
pub use pasta_curves::Fp;

use crate::field::{Coeff, Field};

/// `P128Pow5T3`'s round constants (one triple per round) and MDS matrix.
struct PoseidonConstants {
    round_constants: Vec<[Fp; 3]>,
    mds: Mds<Fp, 3>,
}

fn constants() -> &'static PoseidonConstants {
    static CONSTANTS: OnceLock<PoseidonConstants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let (round_constants, mds, _) = <P128Pow5T3 as Spec<Fp, 3, 2>>::constants();
        PoseidonConstants {
            round_constants,
            mds,
        }
    })
}

/// Full rounds before and after the partial rounds.
const HALF_FULL_ROUNDS: usize = 4;
/// Partial rounds (one S-box each).
const PARTIAL_ROUNDS: usize = 56;

fn pow5(x: Fp) -> Fp {
    let x2 = x.square();
    x2.square() * x
}

impl Field for Fp {
    const NAME: &'static str = "pasta-fp";

    fn zero() -> Self {
        Fp::ZERO
    }

    fn one() -> Self {
        Fp::ONE
    }

    fn from_coeff(c: Coeff) -> Self {
        // Σ limb_i · 2^(64 i), reduced as we go.
        let two64 = Fp::from_u128(1u128 << 64);
        let x = c
            .magnitude()
            .iter()
            .rev()
            .fold(Fp::ZERO, |acc, limb| acc * two64 + Fp::from(*limb));
        if c.is_negative() { -x } else { x }
    }

    fn to_le_bytes(&self) -> [u8; 32] {
        self.to_repr()
    }

    fn from_le_bytes(bytes: &[u8; 32]) -> Option<Self> {
        Option::from(Fp::from_repr(*bytes))
    }

    fn inverse(&self) -> Option<Self> {
        Option::from(self.invert())
    }

    fn permute(state: &mut [Self; 3]) {
        let PoseidonConstants {
            round_constants,
            mds,
        } = constants();
        for (round, rc) in round_constants.iter().enumerate() {
            for (s, c) in state.iter_mut().zip(rc) {
                *s += c;
            }
            let full = !(HALF_FULL_ROUNDS..HALF_FULL_ROUNDS + PARTIAL_ROUNDS).contains(&round);
            if full {
                state.iter_mut().for_each(|s| *s = pow5(*s));
            } else {
                state[0] = pow5(state[0]);
            }
            let old = *state;
            for (s, row) in state.iter_mut().zip(mds) {
                *s = row[0] * old[0] + row[1] * old[1] + row[2] * old[2];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_poseidon::{ConstantLength, Hash};

    fn fp(bytes: &[u8; 32]) -> Fp {
        <Fp as Field>::from_le_bytes(bytes).expect("test vectors are canonical")
    }

    #[test]
    fn round_count_matches_the_spec() {
        let spec_rounds = <P128Pow5T3 as Spec<Fp, 3, 2>>::full_rounds()
            + <P128Pow5T3 as Spec<Fp, 3, 2>>::partial_rounds();
        assert_eq!(constants().round_constants.len(), spec_rounds);
        assert_eq!(spec_rounds, 2 * HALF_FULL_ROUNDS + PARTIAL_ROUNDS);
    }

    #[test]
    fn permutation_matches_zcash_test_vectors() {
        let vectors = halo2_poseidon::test_vectors::fp::permute();
        assert!(!vectors.is_empty());
        for v in vectors {
            let mut state = v.initial_state.map(|b| fp(&b));
            Fp::permute(&mut state);
            assert_eq!(state, v.final_state.map(|b| fp(&b)));
        }
    }

    #[test]
    fn permutation_gives_halo2_poseidon_constant_length_hash() {
        // ConstantLength<2> with rate 2: state [a, b, 2·2^64], one permutation, squeeze word 0.
        for (a, b) in [(0u64, 0u64), (1, 2), (u64::MAX, 12345)] {
            let (a, b) = (Fp::from(a), Fp::from(b));
            let expected = Hash::<Fp, P128Pow5T3, ConstantLength<2>, 3, 2>::init().hash([a, b]);
            let mut state = [a, b, Fp::from_u128(2u128 << 64)];
            Fp::permute(&mut state);
            assert_eq!(state[0], expected);
        }
        for v in halo2_poseidon::test_vectors::fp::hash() {
            let mut state = [fp(&v.input[0]), fp(&v.input[1]), Fp::from_u128(2u128 << 64)];
            Fp::permute(&mut state);
            assert_eq!(state[0], fp(&v.output));
        }
    }

    #[test]
    fn signed_constants_and_bytes() {
        for v in [0i128, 1, -1, 1 << 100, -(1 << 126), i128::MIN + 1] {
            assert_eq!(Fp::from_i128(v).to_i128(), Some(v), "{v}");
        }
        let a = Fp::from_coeff(Coeff::pow2(200));
        let b = Fp::from_coeff(Coeff::pow2(100));
        assert_eq!(a, b * b);
        assert!(a.bit(200) && !a.bit(199));
        // 2^255 exceeds p, so it is reduced: 2^255 = 2 · 2^254.
        let top = Fp::from_coeff(Coeff::pow2(255));
        assert_eq!(top, Fp::from_coeff(Coeff::pow2(254)).double());
        assert_eq!(Fp::from_coeff(Coeff::from(-7i128)), -Fp::from(7u64));
        let bytes = Field::to_le_bytes(&Fp::from_i128(-3));
        assert_eq!(
            <Fp as Field>::from_le_bytes(&bytes),
            Some(Fp::from_i128(-3))
        );
        assert_eq!(<Fp as Field>::from_le_bytes(&[0xff; 32]), None);
        assert_eq!(Field::inverse(&Fp::ZERO), None);
        assert_eq!(
            Field::inverse(&Fp::from(5u64)).map(|x| x * Fp::from(5u64)),
            Some(Fp::ONE)
        );
    }
}
