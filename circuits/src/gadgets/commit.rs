//! Commitments to parameters and to data sets, natively and in-circuit (the two agree).
//!
//! **Packing.** Signed integers of a known width `k` ("slot bits") are packed into field elements
//! `k` bits at a time, `⌊250/k⌋` slots per element, least significant slot first; a slot holds
//! `v + 2^(k-1) ∈ [0, 2^k)`. 250 bits stay below both proving fields' primes, so packing is
//! injective on in-range values; in-circuit, the caller range-checks every value first.
//!
//! - [`commit_params`]: `sponge(pack(params, 25 bits))`. Any parameter with `|w| < 2^24` units has
//!   a commitment; a proved step's start is further bounded by [`crate::fixed::W_BITS`].
//! - [`row_leaf`]: `sponge(pack(features, 16 bits) ‖ label)`, the leaf of one row.
//! - [`DataTree`]: the Merkle tree ([`crate::poseidon::MerkleTree`]) of a data set's row leaves
//!   in row order; its root is what a data provider publishes.

use thiserror::Error;

use crate::field::{Coeff, Field};
use crate::fixed::X_BITS;
use crate::poseidon::{MerkleTree, merkle_root_var, sponge, sponge_var};
use crate::program::{Builder, Var};

/// Slot width of a packed parameter.
pub const PARAM_SLOT_BITS: u32 = 25;
/// Slot width of a packed feature.
pub const FEATURE_SLOT_BITS: u32 = X_BITS;
/// Bits of one packed field element.
pub const PACK_CAPACITY: u32 = 250;

/// Why a commitment cannot be formed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommitError {
    /// A value does not fit its slot, so packing would not be injective.
    #[error("{what} {index} = {value} does not fit {bits} signed bits")]
    OutOfRange {
        /// Which kind of value.
        what: &'static str,
        /// Its position.
        index: usize,
        /// The value.
        value: i64,
        /// The slot width.
        bits: u32,
    },
    /// The data set does not fit the tree, or rows and labels disagree.
    #[error("data set shape: {0}")]
    Shape(String),
    /// A leaf index beyond the tree.
    #[error("row index {index} is outside a tree of depth {depth}")]
    Index {
        /// The index.
        index: u64,
        /// The tree's depth.
        depth: u32,
    },
}

/// Slots per packed element for a slot width.
pub fn slots_per_element(slot_bits: u32) -> usize {
    (PACK_CAPACITY / slot_bits) as usize
}

fn check_slots(what: &'static str, values: &[i64], bits: u32) -> Result<(), CommitError> {
    let half = 1i64 << (bits - 1);
    match values.iter().position(|v| !(-half..half).contains(v)) {
        Some(index) => Err(CommitError::OutOfRange {
            what,
            index,
            value: values[index],
            bits,
        }),
        None => Ok(()),
    }
}

/// Packs values (in field arithmetic; injective only for values in `[-2^(k-1), 2^(k-1))`).
pub fn pack<F: Field>(values: &[i64], slot_bits: u32) -> Vec<F> {
    let offset = 1i128 << (slot_bits - 1);
    values
        .chunks(slots_per_element(slot_bits))
        .map(|chunk| {
            chunk.iter().enumerate().fold(F::zero(), |acc, (i, v)| {
                acc + F::from_coeff(Coeff::pow2(slot_bits * i as u32))
                    * F::from_i128(*v as i128 + offset)
            })
        })
        .collect()
}

/// In-circuit [`pack`] (free: linear combinations). The caller range-checks the values.
pub fn pack_vars<F: Field>(b: &mut Builder<F>, values: &[Var], slot_bits: u32) -> Vec<Var> {
    // The slot offsets Σ 2^(k·i + k - 1) exceed i128, so they enter as multiples of a constant 1.
    let one = b.constant(Coeff::ONE);
    values
        .chunks(slots_per_element(slot_bits))
        .map(|chunk| {
            let terms: Vec<(Coeff, Var)> = chunk
                .iter()
                .enumerate()
                .flat_map(|(i, v)| {
                    let low = slot_bits * i as u32;
                    [
                        (Coeff::pow2(low), *v),
                        (Coeff::pow2(low + slot_bits - 1), one),
                    ]
                })
                .collect();
            b.linear(&terms, Coeff::ZERO)
        })
        .collect()
}

/// The commitment to a parameter vector.
pub fn commit_params<F: Field>(params: &[i64]) -> Result<F, CommitError> {
    check_slots("parameter", params, PARAM_SLOT_BITS)?;
    Ok(claimed_commitment(params))
}

/// What [`commit_params`] computes, for any values (packing in field arithmetic, no range
/// check): the commitment a prover claims, so that a relation builds even from a forged witness.
pub fn claimed_commitment<F: Field>(params: &[i64]) -> F {
    sponge(&pack::<F>(params, PARAM_SLOT_BITS))
}

/// In-circuit [`commit_params`]; the caller bounds every parameter to the slot width.
pub fn commit_params_var<F: Field>(b: &mut Builder<F>, params: &[Var]) -> Var {
    let packed = pack_vars(b, params, PARAM_SLOT_BITS);
    sponge_var(b, &packed)
}

/// The leaf of one data row (features at the [`crate::fixed::FX`] grid, then its label).
pub fn row_leaf<F: Field>(features: &[i64], label: u32) -> Result<F, CommitError> {
    check_slots("feature", features, FEATURE_SLOT_BITS)?;
    Ok(claimed_row_leaf(features, label))
}

/// What [`row_leaf`] computes, for any values (no range check), like [`claimed_commitment`].
pub fn claimed_row_leaf<F: Field>(features: &[i64], label: u32) -> F {
    let mut inputs = pack::<F>(features, FEATURE_SLOT_BITS);
    inputs.push(F::from_i128(label as i128));
    sponge(&inputs)
}

/// In-circuit [`row_leaf`]; the caller range-checks features and label.
pub fn row_leaf_var<F: Field>(b: &mut Builder<F>, features: &[Var], label: Var) -> Var {
    let mut inputs = pack_vars(b, features, FEATURE_SLOT_BITS);
    inputs.push(label);
    sponge_var(b, &inputs)
}

/// In-circuit Merkle opening: the root reached from `leaf` at `index` (constrained to
/// `depth` bits, which are bound to the path) with the given siblings. Cost
/// `depth·(PERMUTE + 1) + depth + 1`.
pub fn open_leaf_var<F: Field>(b: &mut Builder<F>, leaf: Var, index: Var, siblings: &[Var]) -> Var {
    let bits = b.bits(index, siblings.len());
    merkle_root_var(b, leaf, &bits, siblings)
}

/// The Merkle tree of a data set's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTree<F> {
    tree: MerkleTree<F>,
    rows: usize,
}

impl<F: Field> DataTree<F> {
    /// The tree of depth `depth` over `rows` (quantized features) and their labels.
    pub fn new(rows: &[Vec<i64>], labels: &[u32], depth: u32) -> Result<Self, CommitError> {
        if rows.len() != labels.len() || depth > 32 || rows.len() as u64 > 1u64 << depth {
            return Err(CommitError::Shape(format!(
                "{} rows, {} labels, depth {depth}",
                rows.len(),
                labels.len()
            )));
        }
        let leaves = rows
            .iter()
            .zip(labels)
            .map(|(r, y)| row_leaf::<F>(r, *y))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DataTree {
            tree: MerkleTree::new(&leaves, depth),
            rows: rows.len(),
        })
    }

    /// The root, the data set's public commitment.
    pub fn root(&self) -> F {
        self.tree.root()
    }

    /// The depth.
    pub fn depth(&self) -> u32 {
        self.tree.depth()
    }

    /// The Merkle path (siblings, leaf level first) of row `index`.
    pub fn path(&self, index: u64) -> Result<Vec<F>, CommitError> {
        if index >= self.rows as u64 {
            return Err(CommitError::Index {
                index,
                depth: self.depth(),
            });
        }
        Ok(self.tree.path(index as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Bn254;
    use crate::poseidon::merkle_root_from_path;

    #[test]
    fn circuit_commitments_match_native() {
        let params: Vec<i64> = (0..23)
            .map(|i| (i * 712_345 % (1 << 23)) - (1 << 22))
            .collect();
        let features: Vec<i64> = (0..20).map(|i| i * 1000 - 9000).collect();
        let mut b = Builder::<Bn254>::new();
        let pv: Vec<Var> = params
            .iter()
            .map(|v| b.private(Bn254::from_i128(*v as i128)))
            .collect();
        let fv: Vec<Var> = features
            .iter()
            .map(|v| b.private(Bn254::from_i128(*v as i128)))
            .collect();
        let label = b.private(Bn254::from_i128(3));
        let c = commit_params_var(&mut b, &pv);
        let l = row_leaf_var(&mut b, &fv, label);
        assert_eq!(b.value(c), commit_params::<Bn254>(&params).unwrap());
        assert_eq!(b.value(l), row_leaf::<Bn254>(&features, 3).unwrap());
        let (p, a) = b.finish();
        p.check(&a).unwrap();
    }

    #[test]
    fn packing_separates_values_and_rejects_overflow() {
        let a = commit_params::<Bn254>(&[1, 0]).unwrap();
        let b = commit_params::<Bn254>(&[0, 1]).unwrap();
        assert_ne!(a, b);
        assert!(commit_params::<Bn254>(&[1 << 24]).is_err());
        assert!(row_leaf::<Bn254>(&[1 << 15], 0).is_err());
        assert_ne!(
            row_leaf::<Bn254>(&[1], 0).unwrap(),
            row_leaf::<Bn254>(&[1], 1).unwrap()
        );
    }

    #[test]
    fn data_tree_paths_reach_the_root() {
        let rows: Vec<Vec<i64>> = (0..5).map(|i| vec![i, -i, 7]).collect();
        let labels = [0, 1, 0, 1, 1];
        let tree = DataTree::<Bn254>::new(&rows, &labels, 3).unwrap();
        for i in 0..5 {
            let leaf = row_leaf::<Bn254>(&rows[i], labels[i]).unwrap();
            let path = tree.path(i as u64).unwrap();
            assert_eq!(merkle_root_from_path(leaf, i as u64, &path), tree.root());
        }
        assert!(tree.path(5).is_err());
        assert!(DataTree::<Bn254>::new(&rows, &labels, 2).is_err());
    }
}
