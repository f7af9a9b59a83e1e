//! The state tree and its transactions.
//!
//! [`StateTree`] owns a [`NodeStore`] laid out in namespaces under the tree root: `values` (the
//! data, addressed by [`Path`]), `rules`, `functions`, `owners` (config, addressed by
//! [`crate::path::PathPattern`], each config a leaf named `.rule`, `.function` or `.owner`
//! under its pattern's node), and `shards` (shard configs and reports, [`crate::shard`]). All changes go through a [`StateTxn`], which records the
//! first prior version of every node it touches (an undo log): dropping a transaction without
//! [`StateTxn::commit`] restores every node exactly, cached hashes included, so a failed op
//! leaves state and root untouched. Committing recomputes the dirty hashes.
//!
//! Transactions nest ([`StateTxn::nested`]): a nested transaction is a savepoint inside its
//! parent. Dropping it undoes only its own changes; committing it hands them to the parent
//! (hashes are recomputed once, when the outermost transaction commits). A block is one outer
//! transaction, each transaction in it a nested one, and each transaction's ops one more level.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::path::{MAX_DEPTH, Path, PathError, check_data_segment};
use crate::rules::StateView;
use crate::state_root;
use crate::store::{Hash, MemStore, NodeBody, NodeStore, Scalar, StoredNode};
use crate::value::Value;

/// Largest value one write may carry, measured as canonical JSON bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Namespace of data.
pub(crate) const VALUES: &str = "values";

/// Why a write to the tree was refused before touching it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The value is larger than [`MAX_VALUE_BYTES`].
    #[error("value too large: {size} bytes of canonical JSON, at most {max}")]
    ValueTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An object key is not a valid data segment, or the value nests too deep for its path.
    #[error("bad value at {path}: {source}")]
    BadValue {
        /// Where it was to be written.
        path: String,
        /// The segment problem.
        source: PathError,
    },
}

/// Checks a value for writing at `path`: size, object keys, and total depth.
pub fn check_value(path: &Path, value: &Value) -> Result<(), StateError> {
    let size = value.encoded_len();
    if size > MAX_VALUE_BYTES {
        return Err(StateError::ValueTooLarge {
            size,
            max: MAX_VALUE_BYTES,
        });
    }
    let bad = |source| StateError::BadValue {
        path: path.to_string(),
        source,
    };
    let depth = path.depth() + value.depth();
    if depth > MAX_DEPTH {
        return Err(bad(PathError::TooDeep {
            depth,
            max: MAX_DEPTH,
        }));
    }
    check_keys(value).map_err(bad)
}

fn check_keys(value: &Value) -> Result<(), PathError> {
    if let Value::Object(map) = value {
        for (k, v) in map {
            check_data_segment(k)?;
            check_keys(v)?;
        }
    }
    Ok(())
}

/// The ledger's state: data and config in one Merkle tree over a node store.
pub struct StateTree<S: NodeStore = MemStore> {
    store: S,
}

impl StateTree<MemStore> {
    /// An empty state in memory.
    pub fn new() -> StateTree<MemStore> {
        StateTree::with_store(MemStore::new())
    }
}

impl Default for StateTree<MemStore> {
    fn default() -> Self {
        StateTree::new()
    }
}

impl<S: NodeStore> StateTree<S> {
    /// A state over `store`, which may already hold a tree (then it is used as is).
    pub fn with_store(mut store: S) -> StateTree<S> {
        if store.get(&[]).is_none() {
            store.put(&[], StoredNode::branch(BTreeSet::new()));
        }
        state_root::rehash(&mut store, &mut Vec::new());
        StateTree { store }
    }

    /// The Merkle root of data and config, as of the last committed change.
    pub fn root_hash(&self) -> Hash {
        self.store
            .get(&[])
            .and_then(|node| node.hash)
            .expect("invariant: the root node exists and is rehashed at every commit")
    }

    /// The data at `path` (null if nothing is there).
    pub fn get_value(&self, path: &Path) -> Value {
        read_all(&self.store, &data_key(path))
    }

    /// The subtree at a raw store key (null if absent): for namespaces other than `values`.
    pub(crate) fn read_key(&self, key: &[String]) -> Value {
        read_all(&self.store, key)
    }

    /// The whole tree (all namespaces) as one value, for audits and reference hashing.
    pub fn export(&self) -> Value {
        read_all(&self.store, &[])
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Starts a transaction; it rolls back unless committed. Privileged: writes through a raw
    /// transaction skip rules and owners (use [`StateTree::apply`] for user ops).
    pub fn begin(&mut self) -> StateTxn<'_> {
        StateTxn {
            store: &mut self.store,
            journal: HashMap::new(),
            committed: false,
            nested: false,
        }
    }

    /// The underlying store, mutably: for storage backends to flush or discard what the
    /// committed transactions left in it. Writing state through it bypasses the undo log and
    /// the dirty marks: use [`StateTree::begin`] for state changes.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }
}

/// The store key of a data path.
pub(crate) fn data_key(path: &Path) -> Vec<String> {
    std::iter::once(VALUES.to_owned())
        .chain(path.segments().iter().cloned())
        .collect()
}

/// Materializes the subtree at `key` without a node budget.
fn read_all(store: &dyn NodeStore, key: &[String]) -> Value {
    let mut unlimited = usize::MAX;
    read(store, key, &mut unlimited).unwrap_or(Value::Null)
}

/// Materializes the subtree at `key`; `None` when it has more than `budget` nodes.
fn read(store: &dyn NodeStore, key: &[String], budget: &mut usize) -> Option<Value> {
    let Some(node) = store.get(key) else {
        return Some(Value::Null);
    };
    *budget = budget.checked_sub(1)?;
    Some(match node.body {
        NodeBody::Leaf(Scalar::Bool(b)) => Value::Bool(b),
        NodeBody::Leaf(Scalar::Int(i)) => Value::Int(i),
        NodeBody::Leaf(Scalar::Str(s)) => Value::Str(s),
        NodeBody::Branch(children) => {
            let mut map = BTreeMap::new();
            let mut child_key = key.to_vec();
            for name in children.iter() {
                child_key.push(name.clone());
                let v = read(store, &child_key, budget)?;
                let name = child_key.pop().expect("invariant: pushed just above");
                map.insert(name, v);
            }
            Value::Object(map)
        }
    })
}

/// A working view of the state: writes go to the store, with an undo log.
pub struct StateTxn<'a> {
    store: &'a mut dyn NodeStore,
    journal: HashMap<Vec<String>, Option<StoredNode>>,
    committed: bool,
    /// Inside another transaction: commit leaves rehashing to the outermost one.
    nested: bool,
}

impl StateTxn<'_> {
    /// The data at `path` as this transaction sees it.
    pub fn get_value(&self, path: &Path) -> Value {
        self.read_key(&data_key(path))
    }

    /// The integer at `path`: 0 when absent, `None` when something else is there.
    pub fn get_int(&self, path: &Path) -> Option<i128> {
        match self.get_value(path) {
            Value::Null => Some(0),
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// Writes data at `path` without consulting rules (native functions use this: they are
    /// trusted code). The value is checked like any write; null deletes.
    pub fn set_value(&mut self, path: &Path, value: Value) -> Result<(), StateError> {
        check_value(path, &value)?;
        self.write_key(&data_key(path), value.normalized());
        Ok(())
    }

    /// A savepoint: a transaction whose changes go to this one. Dropping it without commit
    /// undoes exactly its own changes; committing it keeps them here (still undone if this
    /// transaction rolls back).
    pub fn nested(&mut self) -> StateTxn<'_> {
        StateTxn {
            store: self,
            journal: HashMap::new(),
            committed: false,
            nested: true,
        }
    }

    /// Keeps all changes. The outermost transaction also recomputes the dirty hashes; a nested
    /// one hands its changes to its parent.
    pub fn commit(mut self) {
        if !self.nested {
            state_root::rehash(self.store, &mut Vec::new());
        }
        self.committed = true;
    }

    pub(crate) fn read_key(&self, key: &[String]) -> Value {
        read_all(&*self.store, key)
    }

    pub(crate) fn node(&self, key: &[String]) -> Option<StoredNode> {
        self.store.get(key)
    }

    pub(crate) fn children(&self, key: &[String]) -> BTreeSet<String> {
        self.store.children(key)
    }

    fn save(&mut self, key: &[String]) {
        if !self.journal.contains_key(key) {
            let prior = self.store.get(key);
            self.journal.insert(key.to_vec(), prior);
        }
    }

    fn put(&mut self, key: &[String], node: StoredNode) {
        self.save(key);
        self.store.put(key, node);
    }

    fn delete(&mut self, key: &[String]) {
        self.save(key);
        self.store.delete(key);
    }

    /// Replaces the subtree at `key` with `value` (already normalized; null removes it),
    /// creating or pruning ancestors and marking the path to the root dirty.
    pub(crate) fn write_key(&mut self, key: &[String], value: Value) {
        let existed = self.store.get(key).is_some();
        if existed {
            self.delete_subtree(&mut key.to_vec());
        }
        if value.is_absent() {
            if existed {
                self.detach(key);
            }
            return;
        }
        self.attach(key);
        self.insert_subtree(&mut key.to_vec(), value);
    }

    fn delete_subtree(&mut self, key: &mut Vec<String>) {
        for name in self.store.children(key) {
            key.push(name);
            self.delete_subtree(key);
            key.pop();
        }
        self.delete(key);
    }

    fn insert_subtree(&mut self, key: &mut Vec<String>, value: Value) {
        let node = match value {
            Value::Null => return,
            Value::Bool(b) => StoredNode::leaf(Scalar::Bool(b)),
            Value::Int(i) => StoredNode::leaf(Scalar::Int(i)),
            Value::Str(s) => StoredNode::leaf(Scalar::Str(s)),
            Value::Object(map) => {
                let names = map.keys().cloned().collect();
                for (name, child) in map {
                    key.push(name);
                    self.insert_subtree(key, child);
                    key.pop();
                }
                StoredNode::branch(names)
            }
        };
        self.put(key, node);
    }

    /// Makes every ancestor of `key` a branch listing the next segment, and marks them dirty.
    /// An ancestor that was a leaf becomes a branch (the write replaces the scalar). Stops at
    /// the first ancestor that is already a dirty branch listing the next segment: the
    /// ancestors of a dirty node are dirty and list it already (the dirty-path invariant that
    /// [`state_root::rehash`] relies on), so nothing above it would change.
    fn attach(&mut self, key: &[String]) {
        for depth in (0..key.len()).rev() {
            let parent = &key[..depth];
            if self.store.is_dirty_parent_of(parent, &key[depth]) {
                return;
            }
            let mut children = match self.store.get(parent) {
                Some(StoredNode {
                    body: NodeBody::Branch(children),
                    ..
                }) => children,
                _ => Arc::default(),
            };
            Arc::make_mut(&mut children).insert(key[depth].clone());
            self.put(parent, StoredNode::shared_branch(children));
        }
    }

    /// Removes `key`'s name from its parent, pruning ancestors left empty (never the root),
    /// and marks the remaining ancestors dirty.
    fn detach(&mut self, key: &[String]) {
        let mut prune = true;
        for depth in (0..key.len()).rev() {
            let parent = &key[..depth];
            let Some(StoredNode {
                body: NodeBody::Branch(mut children),
                ..
            }) = self.store.get(parent)
            else {
                return;
            };
            if prune {
                Arc::make_mut(&mut children).remove(&key[depth]);
                if children.is_empty() && depth > 0 {
                    self.delete(parent);
                    continue;
                }
                prune = false;
            }
            self.put(parent, StoredNode::shared_branch(children));
        }
    }
}

impl Drop for StateTxn<'_> {
    /// Rolls back every change of an uncommitted transaction.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (key, prior) in self.journal.drain() {
            match prior {
                Some(node) => self.store.put(&key, node),
                None => self.store.delete(&key),
            }
        }
    }
}

/// A transaction is the store of the transactions nested in it: their writes land here,
/// through this transaction's undo log.
impl NodeStore for StateTxn<'_> {
    fn get(&self, key: &[String]) -> Option<StoredNode> {
        self.store.get(key)
    }

    fn put(&mut self, key: &[String], node: StoredNode) {
        StateTxn::put(self, key, node);
    }

    fn delete(&mut self, key: &[String]) {
        StateTxn::delete(self, key);
    }

    fn is_dirty_parent_of(&self, key: &[String], child: &str) -> bool {
        self.store.is_dirty_parent_of(key, child)
    }
}

impl StateView for StateTxn<'_> {
    fn get_value_bounded(&self, path: &Path, max_nodes: usize) -> Option<Value> {
        let mut budget = max_nodes;
        read(&*self.store, &data_key(path), &mut budget)
    }
}
