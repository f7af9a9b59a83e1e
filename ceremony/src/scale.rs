//! Batch scalar multiplications of the ceremony, in parallel chunks.

use ark_bn254::Fr;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::Field;
use rayon::prelude::*;

/// Points per parallel chunk: large enough that one batch normalization per chunk is cheap.
const CHUNK: usize = 1 << 12;

/// `points[i] ← c·x^i·points[i]`.
pub(crate) fn by_powers<A: AffineRepr<ScalarField = Fr>>(points: &mut [A], x: Fr, c: Fr) {
    points
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(k, chunk)| {
            let mut factor = c * x.pow([(k * CHUNK) as u64]);
            let scaled: Vec<A::Group> = chunk
                .iter()
                .map(|p| {
                    let q = *p * factor;
                    factor *= x;
                    q
                })
                .collect();
            chunk.copy_from_slice(&A::Group::normalize_batch(&scaled));
        });
}

/// `points[i] ← c·points[i]`.
pub(crate) fn by_constant<A: AffineRepr<ScalarField = Fr>>(points: &mut [A], c: Fr) {
    points.par_chunks_mut(CHUNK).for_each(|chunk| {
        let scaled: Vec<A::Group> = chunk.iter().map(|p| *p * c).collect();
        chunk.copy_from_slice(&A::Group::normalize_batch(&scaled));
    });
}
