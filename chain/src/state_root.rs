//! The state root: a Merkle hash over the whole state tree, kept up to date incrementally.
//!
//! Encoding (SHA-256 throughout; integers big-endian):
//! - leaf: `H(0x00 ‖ tag ‖ payload)` with tag `0x01` bool (one byte 0/1), `0x02` integer
//!   (16 bytes, two's complement), `0x03` string (u32 length ‖ UTF-8 bytes);
//! - branch: `H(0x01 ‖ u32 child count ‖ for each child in byte order of its name:
//!   u32 name length ‖ name ‖ child hash)`.
//!
//! The root is the hash of the tree's root node, whose children are the namespaces `values`,
//! `rules`, `functions` and `owners` (config is state: changing a rule changes the root).
//! An empty tree hashes as a branch with no children.
//!
//! Incremental update: every node caches its hash. A write sets the written nodes and all their
//! ancestors dirty (`hash = None`); [`rehash`] then recomputes only dirty nodes, reading the
//! cached hashes of clean siblings. [`root_of_value`] recomputes a root from scratch, from the
//! materialized tree, as an independent reference.

use sha2::{Digest, Sha256};

use crate::store::{Hash, NodeBody, NodeStore, Scalar, StoredNode};
use crate::value::Value;

/// Hash of a leaf holding `scalar`.
pub fn leaf_hash(scalar: &Scalar) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    match scalar {
        Scalar::Bool(b) => {
            h.update([0x01, u8::from(*b)]);
        }
        Scalar::Int(i) => {
            h.update([0x02]);
            h.update(i.to_be_bytes());
        }
        Scalar::Str(s) => {
            h.update([0x03]);
            h.update(len_prefix(s.len()));
            h.update(s.as_bytes());
        }
    }
    h.finalize().into()
}

/// Hash of a branch from its children's names and hashes, given in byte order of the names.
pub fn branch_hash<'a>(children: impl ExactSizeIterator<Item = (&'a str, Hash)>) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(len_prefix(children.len()));
    for (name, child) in children {
        h.update(len_prefix(name.len()));
        h.update(name.as_bytes());
        h.update(child);
    }
    h.finalize().into()
}

fn len_prefix(len: usize) -> [u8; 4] {
    // Names, strings and child counts are bounded far below 4 GiB by the value size limits.
    u32::try_from(len)
        .expect("invariant: lengths in the tree fit in u32")
        .to_be_bytes()
}

/// Recomputes the hashes of all dirty nodes at and below `key`; returns the hash at `key`.
/// A missing node hashes as an empty branch.
pub fn rehash(store: &mut dyn NodeStore, key: &mut Vec<String>) -> Hash {
    let Some(node) = store.get(key) else {
        return branch_hash(std::iter::empty());
    };
    if let Some(hash) = node.hash {
        return hash;
    }
    let hash = match &node.body {
        NodeBody::Leaf(scalar) => leaf_hash(scalar),
        NodeBody::Branch(children) => {
            let hashes: Vec<(&str, Hash)> = children
                .iter()
                .map(|name| {
                    key.push(name.clone());
                    let h = rehash(store, key);
                    key.pop();
                    (name.as_str(), h)
                })
                .collect();
            branch_hash(hashes.into_iter())
        }
    };
    store.put(
        key,
        StoredNode {
            body: node.body,
            hash: Some(hash),
        },
    );
    hash
}

/// The root hash of a tree given as one materialized value (objects are branches), computed
/// from scratch. `null` hashes as an empty branch.
pub fn root_of_value(value: &Value) -> Hash {
    match value {
        Value::Null => branch_hash(std::iter::empty()),
        Value::Bool(b) => leaf_hash(&Scalar::Bool(*b)),
        Value::Int(i) => leaf_hash(&Scalar::Int(*i)),
        Value::Str(s) => leaf_hash(&Scalar::Str(s.clone())),
        Value::Object(map) => {
            let hashes: Vec<(&str, Hash)> = map
                .iter()
                .map(|(k, v)| (k.as_str(), root_of_value(v)))
                .collect();
            branch_hash(hashes.into_iter())
        }
    }
}
