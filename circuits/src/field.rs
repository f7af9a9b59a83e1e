//! The proving fields, seen through one small trait.
//!
//! Relations compute with integers (fixed-point numbers) that live in a prime field: a negative
//! integer `-x` is the field element `p - x`. [`Field`] is the little a relation needs from a
//! field: arithmetic, conversion from signed constants ([`Coeff`]), a canonical byte encoding, the
//! signed reading of an element, and the back end's Poseidon permutation of width 3.
//!
//! Implementations: BN254's scalar field (Groth16; the circom Poseidon parameters) here, Pasta's
//! `Fp` (halo2; `P128Pow5T3`) beside the halo2 back end.

use std::fmt::Debug;
use std::ops::{Add, Mul, Neg, Sub};
use std::sync::OnceLock;

use ark_ff::{BigInteger, PrimeField};

/// A signed constant of up to 256 bits: coefficients of linear combinations and constants.
///
/// Packing several fixed-point numbers into one field element needs coefficients like `2^225`,
/// beyond `i128`, so constants carry a 256-bit magnitude and a sign. A field reads it modulo its
/// prime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Coeff {
    negative: bool,
    /// Little-endian 64-bit limbs of the magnitude.
    magnitude: [u64; 4],
}

impl Coeff {
    /// Zero.
    pub const ZERO: Coeff = Coeff {
        negative: false,
        magnitude: [0; 4],
    };
    /// One.
    pub const ONE: Coeff = Coeff {
        negative: false,
        magnitude: [1, 0, 0, 0],
    };

    /// `2^k` for `k < 256`.
    pub fn pow2(k: u32) -> Coeff {
        assert!(k < 256, "2^{k} does not fit a 256-bit constant");
        let mut magnitude = [0u64; 4];
        magnitude[(k / 64) as usize] = 1u64 << (k % 64);
        Coeff {
            negative: false,
            magnitude,
        }
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.magnitude == [0; 4]
    }

    /// The sign: true for a negative non-zero constant.
    pub fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// Little-endian limbs of the magnitude.
    pub fn magnitude(&self) -> [u64; 4] {
        self.magnitude
    }

    /// The constant times `-1`.
    pub fn negated(self) -> Coeff {
        Coeff {
            negative: !self.negative,
            ..self
        }
    }

    /// The constant as an `i128`, if it fits.
    pub fn to_i128(&self) -> Option<i128> {
        if self.magnitude[2] != 0 || self.magnitude[3] != 0 {
            return None;
        }
        let m = (self.magnitude[1] as u128) << 64 | self.magnitude[0] as u128;
        if self.negative {
            if m <= 1u128 << 127 {
                Some((m as i128).wrapping_neg())
            } else {
                None
            }
        } else {
            i128::try_from(m).ok()
        }
    }
}

impl From<i128> for Coeff {
    fn from(v: i128) -> Coeff {
        let m = v.unsigned_abs();
        Coeff {
            negative: v < 0,
            magnitude: [m as u64, (m >> 64) as u64, 0, 0],
        }
    }
}

impl From<i64> for Coeff {
    fn from(v: i64) -> Coeff {
        Coeff::from(v as i128)
    }
}

/// A prime field a relation can be built in.
pub trait Field:
    Copy
    + Clone
    + Debug
    + PartialEq
    + Eq
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
{
    /// A short name for files and messages, e.g. `"bn254"`.
    const NAME: &'static str;

    /// The additive identity.
    fn zero() -> Self;

    /// The multiplicative identity.
    fn one() -> Self;

    /// The constant, reduced modulo the field's prime.
    fn from_coeff(c: Coeff) -> Self;

    /// The canonical little-endian bytes of the element's integer representative in `[0, p)`.
    fn to_le_bytes(&self) -> [u8; 32];

    /// The element whose canonical bytes these are; `None` if they encode a number `>= p`.
    fn from_le_bytes(bytes: &[u8; 32]) -> Option<Self>;

    /// The multiplicative inverse; `None` for zero.
    fn inverse(&self) -> Option<Self>;

    /// The back end's Poseidon permutation of a width-3 state, in place.
    fn permute(state: &mut [Self; 3]);

    /// The element for a signed integer.
    fn from_i128(v: i128) -> Self {
        Self::from_coeff(Coeff::from(v))
    }

    /// The signed integer this element stands for: `x` if the representative is `x < 2^127`,
    /// `-x` if it is `p - x` with `x <= 2^127`; `None` otherwise.
    fn to_i128(&self) -> Option<i128> {
        fn small(bytes: &[u8; 32]) -> Option<u128> {
            if bytes[16..].iter().any(|&b| b != 0) {
                return None;
            }
            Some(u128::from_le_bytes(
                bytes[..16].try_into().expect("16 bytes"),
            ))
        }
        if let Some(x) = small(&self.to_le_bytes()).filter(|&x| x < 1u128 << 127) {
            return Some(x as i128);
        }
        let x = small(&(-*self).to_le_bytes()).filter(|&x| x <= 1u128 << 127)?;
        Some((x as i128).wrapping_neg())
    }

    /// Bit `i` of the canonical representative.
    fn bit(&self, i: usize) -> bool {
        let bytes = self.to_le_bytes();
        i < 256 && (bytes[i / 8] >> (i % 8)) & 1 == 1
    }
}

/// BN254's scalar field, the field of Groth16 proofs in zkfl.
pub type Bn254 = ark_bn254::Fr;

/// The circom parameters of Poseidon with width 3 (x^5, 8 full and 57 partial rounds).
fn circom_t3() -> &'static light_poseidon::PoseidonParameters<Bn254> {
    static PARAMS: OnceLock<light_poseidon::PoseidonParameters<Bn254>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        light_poseidon::parameters::bn254_x5::get_poseidon_parameters::<Bn254>(3)
            .expect("circom ships width-3 parameters")
    })
}

/// The circom Poseidon constants for width 3: `(round constants, row-major MDS, full rounds,
/// partial rounds)`. Round `r` adds `ark[3r..3r+3]`.
pub fn bn254_poseidon_constants() -> (&'static [Bn254], &'static [Vec<Bn254>], usize, usize) {
    let p = circom_t3();
    (&p.ark, &p.mds, p.full_rounds, p.partial_rounds)
}

impl Field for Bn254 {
    const NAME: &'static str = "bn254";

    fn zero() -> Self {
        <Bn254 as ark_ff::Zero>::zero()
    }

    fn one() -> Self {
        <Bn254 as ark_ff::One>::one()
    }

    fn from_coeff(c: Coeff) -> Self {
        let m = c.magnitude();
        let mut bytes = [0u8; 32];
        for (i, limb) in m.iter().enumerate() {
            bytes[8 * i..8 * i + 8].copy_from_slice(&limb.to_le_bytes());
        }
        let x = Bn254::from_le_bytes_mod_order(&bytes);
        if c.is_negative() { -x } else { x }
    }

    fn to_le_bytes(&self) -> [u8; 32] {
        let bytes = self.into_bigint().to_bytes_le();
        let mut out = [0u8; 32];
        out[..bytes.len()].copy_from_slice(&bytes);
        out
    }

    fn from_le_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let x = Bn254::from_le_bytes_mod_order(bytes);
        (Field::to_le_bytes(&x) == *bytes).then_some(x)
    }

    fn inverse(&self) -> Option<Self> {
        ark_ff::Field::inverse(self)
    }

    fn permute(state: &mut [Self; 3]) {
        let (ark, mds, full, partial) = bn254_poseidon_constants();
        let half = full / 2;
        for round in 0..full + partial {
            for (i, s) in state.iter_mut().enumerate() {
                *s += ark[3 * round + i];
            }
            let sbox = |x: Bn254| {
                let x2 = x * x;
                x2 * x2 * x
            };
            if round < half || round >= half + partial {
                for s in state.iter_mut() {
                    *s = sbox(*s);
                }
            } else {
                state[0] = sbox(state[0]);
            }
            let old = *state;
            for (i, s) in state.iter_mut().enumerate() {
                *s = old[0] * mds[i][0] + old[1] * mds[i][1] + old[2] * mds[i][2];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_round_trip() {
        for v in [
            0i128,
            1,
            -1,
            12345,
            -(1 << 100),
            (1 << 126) - 1,
            i128::MIN + 1,
        ] {
            assert_eq!(Bn254::from_i128(v).to_i128(), Some(v), "{v}");
        }
        let big = Bn254::from_coeff(Coeff::pow2(200));
        assert_eq!(big.to_i128(), None);
        assert!(big.bit(200) && !big.bit(199));
    }

    #[test]
    fn coefficients_reduce_with_sign() {
        let a = Bn254::from_coeff(Coeff::pow2(130));
        let b = Bn254::from_coeff(Coeff::pow2(65));
        assert_eq!(a, b * b);
        assert_eq!(Bn254::from_coeff(Coeff::from(-7i128)), -Bn254::from_i128(7));
        assert_eq!(Coeff::from(-5i128).to_i128(), Some(-5));
        assert_eq!(Coeff::pow2(127).to_i128(), None);
        assert_eq!(Coeff::pow2(127).negated().to_i128(), Some(i128::MIN));
    }

    #[test]
    fn byte_encoding_is_canonical() {
        let x = Bn254::from_i128(-3);
        let bytes = Field::to_le_bytes(&x);
        assert_eq!(<Bn254 as Field>::from_le_bytes(&bytes), Some(x));
        assert_eq!(<Bn254 as Field>::from_le_bytes(&[0xff; 32]), None);
    }
}
