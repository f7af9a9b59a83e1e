//! Where tree nodes live: a small key-value interface, and the in-memory implementation.
//!
//! The state tree is stored node by node. A node's key is its full list of segments from the
//! tree root (so `/values/accounts/alice/balance` is `["values","accounts","alice","balance"]`).
//! A node is a leaf holding one scalar, or a branch holding the names of its children; each
//! node also caches its Merkle hash, `None` while it is dirty (see [`crate::state_root`]).
//!
//! A file-backed store (redb) implements [`NodeStore`] the same way; the state tree never
//! assumes more than get, put and delete of single nodes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The content of a leaf: a value that is not an object and not null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A string.
    Str(String),
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeBody {
    /// A scalar at the end of a path.
    Leaf(Scalar),
    /// The names of the children, in canonical order (shared: cloning a node, as undo logs
    /// do, does not copy the names; a change copies them once).
    Branch(Arc<BTreeSet<String>>),
}

/// A node as stored: its body and its cached hash (`None` = dirty, to be recomputed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredNode {
    /// Leaf scalar or branch children.
    pub body: NodeBody,
    /// Cached Merkle hash; `None` while the node or a descendant changed since the last rehash.
    pub hash: Option<Hash>,
}

impl StoredNode {
    /// A dirty branch with the given children.
    pub fn branch(children: BTreeSet<String>) -> StoredNode {
        StoredNode::shared_branch(Arc::new(children))
    }

    /// A dirty branch with already shared children.
    pub fn shared_branch(children: Arc<BTreeSet<String>>) -> StoredNode {
        StoredNode {
            body: NodeBody::Branch(children),
            hash: None,
        }
    }

    /// A dirty leaf.
    pub fn leaf(scalar: Scalar) -> StoredNode {
        StoredNode {
            body: NodeBody::Leaf(scalar),
            hash: None,
        }
    }
}

/// Node storage keyed by segment lists. Implementations must return exactly what was put.
pub trait NodeStore {
    /// The node at `key`, if any.
    fn get(&self, key: &[String]) -> Option<StoredNode>;
    /// Stores `node` at `key`, replacing any node there.
    fn put(&mut self, key: &[String], node: StoredNode);
    /// Removes the node at `key` (children are removed by the caller, one by one).
    fn delete(&mut self, key: &[String]);

    /// True when the node at `key` is a dirty branch (`hash: None`) that lists `child`.
    /// Stores override this to answer without cloning the node.
    fn is_dirty_parent_of(&self, key: &[String], child: &str) -> bool {
        dirty_parent_of(self.get(key).as_ref(), child)
    }

    /// Names of the children of the node at `key` (empty for a leaf or a missing node).
    fn children(&self, key: &[String]) -> BTreeSet<String> {
        match self.get(key) {
            Some(StoredNode {
                body: NodeBody::Branch(children),
                ..
            }) => Arc::unwrap_or_clone(children),
            _ => BTreeSet::new(),
        }
    }
}

/// Whether `node` is a dirty branch listing `child` (for [`NodeStore::is_dirty_parent_of`]).
pub fn dirty_parent_of(node: Option<&StoredNode>, child: &str) -> bool {
    matches!(
        node,
        Some(StoredNode {
            body: NodeBody::Branch(children),
            hash: None,
        }) if children.contains(child)
    )
}

/// Nodes in a hash map: the default store, for tests and in-memory nodes.
#[derive(Clone, Debug, Default)]
pub struct MemStore {
    nodes: HashMap<Vec<String>, StoredNode>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeStore for MemStore {
    fn get(&self, key: &[String]) -> Option<StoredNode> {
        self.nodes.get(key).cloned()
    }

    fn put(&mut self, key: &[String], node: StoredNode) {
        self.nodes.insert(key.to_vec(), node);
    }

    fn delete(&mut self, key: &[String]) {
        self.nodes.remove(key);
    }

    fn is_dirty_parent_of(&self, key: &[String], child: &str) -> bool {
        dirty_parent_of(self.nodes.get(key), child)
    }
}
