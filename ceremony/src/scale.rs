//! Scalar multiplications of the ceremony: GLV for both groups, in parallel chunks.
//!
//! Arkworks multiplies a BN254 G1 point given in projective form with the GLV endomorphism,
//! but an affine point, and any G2 point, by plain double-and-add; here every multiplication
//! takes the GLV path (about half the doublings).

use std::ops::{Add, AddAssign, MulAssign, Sub, SubAssign};

use ark_bn254::Fr;
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, Field, One, PrimeField, Zero};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use rayon::prelude::*;

/// Points per parallel chunk: large enough that one batch normalization per chunk is cheap.
const CHUNK: usize = 1 << 12;

/// A BN254 group whose scalar multiplication takes the GLV path.
pub(crate) trait Glv: CurveGroup<ScalarField = Fr> {
    /// `k·p`.
    fn times(p: Self, k: Fr) -> Self;
}

impl<P: GLVConfig + SWCurveConfig<ScalarField = Fr>> Glv for Projective<P> {
    fn times(p: Self, k: Fr) -> Self {
        P::glv_mul_projective(p, k)
    }
}

/// `points[i] ← c·x^i·points[i]`.
pub(crate) fn by_powers<G: Glv>(points: &mut [G::Affine], x: Fr, c: Fr) {
    points
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| {
            let mut factor = c * x.pow([(k * CHUNK) as u64]);
            let scaled: Vec<G> = chunk
                .iter()
                .map(|p| {
                    let q = G::times(p.into_group(), factor);
                    factor *= x;
                    q
                })
                .collect();
            chunk.copy_from_slice(&G::normalize_batch(&scaled));
        });
}

/// `points[i] ← c·points[i]`.
pub(crate) fn by_constant<G: Glv>(points: &mut [G::Affine], c: Fr) {
    points.par_chunks_mut(CHUNK).for_each(|chunk| {
        let scaled: Vec<G> = chunk.iter().map(|p| G::times(p.into_group(), c)).collect();
        chunk.copy_from_slice(&G::normalize_batch(&scaled));
    });
}

/// `c·p` for a sparse-matrix coefficient. R1CS coefficients are mostly ±1 (an addition) or
/// small: powers of two of bit decompositions, fixed-point scales. A coefficient or its
/// negation below 2^128 takes double-and-add over its own bits (one doubling for 2, 64 for
/// 2^64), cheaper than GLV's 128; others take GLV.
pub(crate) fn by_coefficient<G: Glv>(p: G::Affine, c: Fr) -> G {
    if c.is_one() {
        return p.into_group();
    }
    if c.is_zero() {
        return G::zero();
    }
    let small = |c: Fr| {
        let bits = c.into_bigint();
        (bits.num_bits() <= 128).then_some(bits)
    };
    if let Some(bits) = small(c) {
        p.mul_bigint(bits)
    } else if let Some(bits) = small(-c) {
        -p.mul_bigint(bits)
    } else {
        G::times(p.into_group(), c)
    }
}

/// The inverse FFT of `points` over the group (ark-poly's, its twiddle multiplications on the
/// GLV path).
pub(crate) fn ifft<G: Glv>(
    domain: &GeneralEvaluationDomain<Fr>,
    points: &[G::Affine],
) -> Vec<G::Affine> {
    let mut values: Vec<Fast<G>> = points.par_iter().map(|p| Fast(p.into_group())).collect();
    domain.ifft_in_place(&mut values);
    let values: Vec<G> = values.into_iter().map(|v| v.0).collect();
    G::normalize_batch(&values)
}

/// A group element whose `*=` by a scalar is GLV, so that ark-poly's FFT uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fast<G>(G);

impl<G: Glv> Add for Fast<G> {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Fast(self.0 + other.0)
    }
}

impl<G: Glv> Sub for Fast<G> {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Fast(self.0 - other.0)
    }
}

impl<G: Glv> AddAssign for Fast<G> {
    fn add_assign(&mut self, other: Self) {
        self.0 += other.0;
    }
}

impl<G: Glv> SubAssign for Fast<G> {
    fn sub_assign(&mut self, other: Self) {
        self.0 -= other.0;
    }
}

impl<G: Glv> MulAssign<Fr> for Fast<G> {
    fn mul_assign(&mut self, k: Fr) {
        self.0 = G::times(self.0, k);
    }
}

impl<G: Glv> Zero for Fast<G> {
    fn zero() -> Self {
        Fast(G::zero())
    }
    fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}
