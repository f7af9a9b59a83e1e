//! The record tree: a Merkle tree over a log's records, so that any one record can be shown to
//! be in a posted log with `O(log n)` hashes, wherever it sits.
//!
//! The hash chain ([`crate::log`]) binds a whole log to its head, but showing that a record is
//! in it takes every record after it. The record tree is committed beside the head (a provider
//! posts both) and gives short membership proofs instead:
//!
//! ```text
//! record 0       = the header,  record i = entry i-1  (i = 1..=n)
//! record hash    = SHA-256("zkfl-pol-header-v2" ‖ header)  or  SHA-256("zkfl-pol-entry-v2" ‖ entry)
//! leaf node      = SHA-256(0x00 ‖ record hash)
//! inner node     = SHA-256(0x01 ‖ left ‖ right)
//! empty node     = 32 zero bytes (pads the leaf level to the next power of two)
//! root           = the single node at the top (the leaf node itself for one record)
//! ```
//! A path lists the siblings from the leaf level up; its length is the tree's depth
//! `⌈log2(n+1)⌉`, and bit `j` of the record's index says whether the node at level `j` is a
//! right child. The 0x00/0x01 prefixes keep leaves and inner nodes apart, so a path of the wrong
//! length cannot reach the root (short of a SHA-256 collision). With one optimizer step per
//! entry (`k = 1`), record `t` holds the checkpoint at step count `t`.

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// The longest path accepted: trees of up to 2^40 records.
pub const MAX_DEPTH: usize = 40;

/// The leaf node of a record hash.
pub fn leaf_node(record: &Digest) -> Digest {
    Digest(
        Sha256::new()
            .chain_update([0u8])
            .chain_update(record.0)
            .finalize()
            .into(),
    )
}

/// The inner node over two children.
pub fn inner_node(left: &Digest, right: &Digest) -> Digest {
    Digest(
        Sha256::new()
            .chain_update([1u8])
            .chain_update(left.0)
            .chain_update(right.0)
            .finalize()
            .into(),
    )
}

/// The node that pads the leaf level.
pub const EMPTY: Digest = Digest([0; 32]);

/// A record tree with every level kept, for roots and paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordTree {
    /// `levels[0]` are the leaf nodes (padded), the last level is the root.
    levels: Vec<Vec<Digest>>,
    records: usize,
}

impl RecordTree {
    /// The tree over record hashes, in record order (at least one: the header).
    pub fn new(records: &[Digest]) -> RecordTree {
        let width = records.len().max(1).next_power_of_two();
        let mut level: Vec<Digest> = records.iter().map(leaf_node).collect();
        level.resize(width, EMPTY);
        let mut levels = vec![level];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = levels
                .last()
                .map(|l| l.chunks(2).map(|p| inner_node(&p[0], &p[1])).collect())
                .unwrap_or_default();
            levels.push(next);
        }
        RecordTree {
            levels,
            records: records.len(),
        }
    }

    /// The root.
    pub fn root(&self) -> Digest {
        self.levels
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or(EMPTY)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records
    }

    /// True when the tree holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The siblings of record `index` from the leaf level up; `None` past the last record.
    pub fn path(&self, index: usize) -> Option<Vec<Digest>> {
        if index >= self.records {
            return None;
        }
        let mut at = index;
        let mut path = Vec::with_capacity(self.levels.len().saturating_sub(1));
        for level in &self.levels[..self.levels.len() - 1] {
            path.push(level[at ^ 1]);
            at /= 2;
        }
        Some(path)
    }
}

/// The root reached from a record hash at `index` along `path`; `None` when `index` does not
/// fit in a tree of the path's depth or the path is longer than [`MAX_DEPTH`].
pub fn root_from_path(record: &Digest, index: u64, path: &[Digest]) -> Option<Digest> {
    if path.len() > MAX_DEPTH || index >> path.len() != 0 {
        return None;
    }
    let mut node = leaf_node(record);
    for (level, sibling) in path.iter().enumerate() {
        node = if (index >> level) & 1 == 1 {
            inner_node(sibling, &node)
        } else {
            inner_node(&node, sibling)
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records(n: usize) -> Vec<Digest> {
        (0..n).map(|i| Digest::of(&i.to_le_bytes())).collect()
    }

    #[test]
    fn one_record_is_its_leaf_and_two_make_one_inner_node() {
        let r = records(2);
        assert_eq!(RecordTree::new(&r[..1]).root(), leaf_node(&r[0]));
        assert_eq!(RecordTree::new(&r[..1]).path(0), Some(vec![]));
        assert_eq!(
            RecordTree::new(&r).root(),
            inner_node(&leaf_node(&r[0]), &leaf_node(&r[1]))
        );
        // Three records: the fourth leaf is the empty node.
        let r = records(3);
        let left = inner_node(&leaf_node(&r[0]), &leaf_node(&r[1]));
        let right = inner_node(&leaf_node(&r[2]), &EMPTY);
        assert_eq!(RecordTree::new(&r).root(), inner_node(&left, &right));
    }

    #[test]
    fn paths_of_the_wrong_length_or_index_fail() {
        let r = records(5);
        let tree = RecordTree::new(&r);
        let path = tree.path(3).unwrap();
        assert_eq!(path.len(), 3);
        assert_eq!(root_from_path(&r[3], 3, &path), Some(tree.root()));
        // Another record, another index, a shortened or lengthened path: another root.
        assert_ne!(root_from_path(&r[2], 3, &path), Some(tree.root()));
        assert_ne!(root_from_path(&r[3], 2, &path), Some(tree.root()));
        assert_ne!(root_from_path(&r[3], 3, &path[..2]), Some(tree.root()));
        let mut longer = path.clone();
        longer.push(EMPTY);
        assert_ne!(root_from_path(&r[3], 3, &longer), Some(tree.root()));
        // An index that does not fit the path's depth is refused outright.
        assert_eq!(root_from_path(&r[3], 3 + 8, &path), None);
        assert_eq!(tree.path(5), None);
        assert_eq!(root_from_path(&r[0], 0, &vec![EMPTY; MAX_DEPTH + 1]), None);
    }

    proptest! {
        #[test]
        fn every_record_opens_to_the_root(n in 1usize..70) {
            let r = records(n);
            let tree = RecordTree::new(&r);
            for (i, record) in r.iter().enumerate() {
                let path = tree.path(i).unwrap();
                prop_assert_eq!(root_from_path(record, i as u64, &path), Some(tree.root()));
            }
        }
    }
}
