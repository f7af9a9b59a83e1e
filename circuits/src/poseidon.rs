//! Poseidon hashing and Merkle trees, natively and inside a relation, in any [`Field`].
//!
//! Everything is built from the back end's width-3 permutation `P` (circom's parameters on BN254,
//! `P128Pow5T3` on Pasta):
//!
//! - `hash2(a, b) = P([0, a, b])[0]`. On BN254 this is circomlib's `Poseidon(2)`, so Merkle nodes
//!   can be recomputed with standard tools.
//! - `sponge(x_1..x_n)`: the state starts as `[n, 0, 0]` (the length in the capacity element
//!   separates lengths); each pair of inputs is added to elements 1 and 2, then `P` runs (an odd
//!   tail adds only element 1); the digest is element 0.
//! - A Merkle tree of depth `d` has `2^d` leaves, missing leaves are zero, nodes are `hash2(left,
//!   right)`. A path lists the siblings from the leaf up.

use crate::field::{Coeff, Field};
use crate::program::{Builder, Var};

/// `P([0, a, b])[0]`.
pub fn hash2<F: Field>(a: F, b: F) -> F {
    let mut state = [F::zero(), a, b];
    F::permute(&mut state);
    state[0]
}

/// The sponge digest of a sequence (see the module docs).
pub fn sponge<F: Field>(inputs: &[F]) -> F {
    let mut state = [F::from_i128(inputs.len() as i128), F::zero(), F::zero()];
    for pair in inputs.chunks(2) {
        state[1] = state[1] + pair[0];
        if let Some(second) = pair.get(1) {
            state[2] = state[2] + *second;
        }
        F::permute(&mut state);
    }
    state[0]
}

/// A Merkle tree over field-element leaves, every level stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree<F> {
    /// `levels[0]` are the `2^depth` padded leaves, `levels[depth]` is `[root]`.
    levels: Vec<Vec<F>>,
}

impl<F: Field> MerkleTree<F> {
    /// The tree of `depth` over `leaves` (padded with zeros).
    ///
    /// # Panics
    /// If there are more than `2^depth` leaves or `depth > 32`.
    pub fn new(leaves: &[F], depth: u32) -> Self {
        assert!(depth <= 32, "Merkle depth {depth} is too large");
        assert!(
            leaves.len() as u64 <= 1u64 << depth,
            "{} leaves do not fit depth {depth}",
            leaves.len()
        );
        let mut level = leaves.to_vec();
        level.resize(1usize << depth, F::zero());
        let mut levels = vec![level];
        for _ in 0..depth {
            let below = levels.last().expect("at least the leaves");
            let above = below.chunks(2).map(|p| hash2(p[0], p[1])).collect();
            levels.push(above);
        }
        MerkleTree { levels }
    }

    /// The smallest depth whose tree holds `n` leaves.
    pub fn depth_for(n: usize) -> u32 {
        (n.max(1) as u64).next_power_of_two().trailing_zeros()
    }

    /// The root.
    pub fn root(&self) -> F {
        self.levels.last().expect("at least the leaves")[0]
    }

    /// The depth.
    pub fn depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    /// Siblings of leaf `index`, from the leaf level up.
    pub fn path(&self, index: usize) -> Vec<F> {
        let mut i = index;
        self.levels[..self.levels.len() - 1]
            .iter()
            .map(|level| {
                let sibling = level[i ^ 1];
                i /= 2;
                sibling
            })
            .collect()
    }
}

/// The root a leaf and its path give (the native mirror of [`merkle_root_var`]).
pub fn merkle_root_from_path<F: Field>(leaf: F, index: u64, path: &[F]) -> F {
    path.iter()
        .enumerate()
        .fold(leaf, |node, (level, sibling)| {
            if (index >> level) & 1 == 1 {
                hash2(*sibling, node)
            } else {
                hash2(node, *sibling)
            }
        })
}

/// In-circuit [`hash2`].
pub fn hash2_var<F: Field>(b: &mut Builder<F>, left: Var, right: Var) -> Var {
    let zero = b.constant(Coeff::ZERO);
    b.permute([zero, left, right])[0]
}

/// In-circuit [`sponge`].
pub fn sponge_var<F: Field>(b: &mut Builder<F>, inputs: &[Var]) -> Var {
    let zero = b.constant(Coeff::ZERO);
    let mut state = [b.constant(Coeff::from(inputs.len() as i128)), zero, zero];
    for pair in inputs.chunks(2) {
        state[1] = b.add(state[1], pair[0]);
        if let Some(second) = pair.get(1) {
            state[2] = b.add(state[2], *second);
        }
        state = b.permute(state);
    }
    state[0]
}

/// In-circuit Merkle path: the root reached from `leaf` going up with `index_bits` (least
/// significant first, each constrained boolean by the caller, e.g. from [`Builder::bits`]) and
/// `siblings`. One product per level chooses the order.
pub fn merkle_root_var<F: Field>(
    b: &mut Builder<F>,
    leaf: Var,
    index_bits: &[Var],
    siblings: &[Var],
) -> Var {
    assert_eq!(index_bits.len(), siblings.len(), "one index bit per level");
    let mut node = leaf;
    for (bit, sibling) in index_bits.iter().zip(siblings) {
        // swap = bit·(sibling − node); left = node + swap; right = sibling − swap.
        let diff = b.sub(*sibling, node);
        let swap = b.mul(*bit, diff);
        let left = b.add(node, swap);
        let right = b.sub(*sibling, swap);
        node = hash2_var(b, left, right);
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Bn254;
    use ark_ff::PrimeField;

    fn dec(s: &str) -> Bn254 {
        Bn254::from_le_bytes_mod_order(&num_le_bytes(s))
    }

    /// Decimal string → little-endian bytes (schoolbook, for test vectors only).
    fn num_le_bytes(s: &str) -> Vec<u8> {
        let mut out = vec![0u8; 32];
        for digit in s.bytes().map(|c| (c - b'0') as u32) {
            let mut carry = digit;
            for byte in out.iter_mut() {
                let v = *byte as u32 * 10 + carry;
                *byte = v as u8;
                carry = v >> 8;
            }
        }
        out
    }

    #[test]
    fn hash2_is_circom_poseidon() {
        let expected =
            "7853200120776062878684798364095072458815029376092732009249414926327459813530";
        assert_eq!(
            hash2(Bn254::from_i128(1), Bn254::from_i128(2)),
            dec(expected)
        );
    }

    #[test]
    fn sponge_separates_lengths_and_order() {
        let x: Vec<Bn254> = (1..=5).map(Bn254::from_i128).collect();
        assert_ne!(sponge(&x[..4]), sponge(&x[..5]));
        assert_ne!(sponge(&x[..2]), sponge(&[x[1], x[0]]));
        assert_ne!(sponge(&x[..1]), sponge(&[x[0], Bn254::zero()]));
    }

    #[test]
    fn circuit_hashes_match_native() {
        let mut b = Builder::<Bn254>::new();
        let xs: Vec<Bn254> = (0..5).map(|i| Bn254::from_i128(i * 7 - 3)).collect();
        let vars: Vec<Var> = xs.iter().map(|x| b.private(*x)).collect();
        let s = sponge_var(&mut b, &vars);
        let h = hash2_var(&mut b, vars[0], vars[1]);
        assert_eq!(b.value(s), sponge(&xs));
        assert_eq!(b.value(h), hash2(xs[0], xs[1]));
        let (program, assignment) = b.finish();
        program.check(&assignment).unwrap();
    }

    #[test]
    fn merkle_paths_open_every_leaf_in_and_out_of_circuit() {
        let leaves: Vec<Bn254> = (0..11).map(|i| Bn254::from_i128(1000 + i)).collect();
        let depth = MerkleTree::<Bn254>::depth_for(leaves.len());
        assert_eq!(depth, 4);
        let tree = MerkleTree::new(&leaves, depth);
        for (i, leaf) in leaves.iter().enumerate() {
            let path = tree.path(i);
            assert_eq!(merkle_root_from_path(*leaf, i as u64, &path), tree.root());
            let mut b = Builder::<Bn254>::new();
            let leaf_var = b.private(*leaf);
            let index = b.private(Bn254::from_i128(i as i128));
            let bits = b.bits(index, depth as usize);
            let siblings: Vec<Var> = path.iter().map(|s| b.private(*s)).collect();
            let root = merkle_root_var(&mut b, leaf_var, &bits, &siblings);
            assert_eq!(b.value(root), tree.root());
            let (program, assignment) = b.finish();
            program.check(&assignment).unwrap();
        }
        assert_ne!(
            merkle_root_from_path(leaves[3], 4, &tree.path(3)),
            tree.root()
        );
    }
}
