//! The state tree's nodes in a redb file: a [`NodeStore`] whose writes are staged in memory and
//! flushed by [`crate::storage::Storage::commit_block`] in the block's one write transaction.
//!
//! Reads look in the staged writes, then in a cache of committed nodes, then in the file (one
//! long-lived read snapshot, renewed after each commit). The cache holds only committed nodes,
//! so discarding the staged writes ([`RedbNodeStore::discard`]) returns the store exactly to
//! the last committed block.
//!
//! [`NodeStore::get`] cannot return an error, so a read failure or an undecodable stored node is
//! recorded ([`RedbNodeStore::fault`]) and reads as absent; the ledger checks the fault before
//! committing a block and refuses to commit on a faulty read.
//!
//! # Encoding
//! Key: `'N'` then each segment as `u16 len ‖ bytes`. Node: `u8 kind` (0 bool, 1 integer,
//! 2 string, 3 branch) ‖ `u8 has_hash` ‖ hash (32, if present) ‖ body (bool: u8; integer:
//! 16 bytes two's complement; string: `u32 len ‖ UTF-8`; branch: `u32 count ‖ count × (u16 len
//! ‖ name)`).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use redb::{Database, ReadOnlyTable, ReadableDatabase, TableError};

use crate::codec::{DecodeError, Reader, Writer};
use crate::path::MAX_SEGMENT_LEN;
use crate::state::MAX_VALUE_BYTES;
use crate::storage::{STATE, StorageError};
use crate::store::{NodeBody, NodeStore, Scalar, StoredNode};

/// Most committed nodes kept in the read cache before it is cleared.
pub const CACHE_LIMIT: usize = 1 << 20;

type NodeTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// State nodes in a redb file, with staged writes and a read cache.
pub struct RedbNodeStore {
    db: Arc<Database>,
    staged: HashMap<Vec<String>, Option<StoredNode>>,
    cache: RefCell<HashMap<Vec<String>, Option<StoredNode>>>,
    snapshot: RefCell<Option<NodeTable>>,
    fault: RefCell<Option<StorageError>>,
}

impl RedbNodeStore {
    /// A store over the `state` table of `db`.
    pub fn new(db: Arc<Database>) -> RedbNodeStore {
        RedbNodeStore {
            db,
            staged: HashMap::new(),
            cache: RefCell::new(HashMap::new()),
            snapshot: RefCell::new(None),
            fault: RefCell::new(None),
        }
    }

    /// The first read failure since the last commit or discard, if any.
    pub fn fault(&self) -> Option<StorageError> {
        self.fault.borrow().clone()
    }

    /// The staged writes as encoded (key, node or `None` to delete), for the block commit.
    pub fn staged_encoded(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.staged
            .iter()
            .map(|(key, node)| (encode_key(key), node.as_ref().map(encode_node)))
            .collect()
    }

    /// Number of staged node writes.
    pub fn staged_len(&self) -> usize {
        self.staged.len()
    }

    /// The staged writes are now in the file: move them to the cache, renew the snapshot.
    pub fn committed(&mut self) {
        let mut cache = self.cache.borrow_mut();
        if cache.len() + self.staged.len() > CACHE_LIMIT {
            cache.clear();
        }
        cache.extend(self.staged.drain());
        *self.snapshot.borrow_mut() = None;
        *self.fault.borrow_mut() = None;
    }

    /// Drops the staged writes: the store is back at the last committed block.
    pub fn discard(&mut self) {
        self.staged.clear();
        *self.snapshot.borrow_mut() = None;
        *self.fault.borrow_mut() = None;
    }

    fn record_fault(&self, error: StorageError) {
        let mut fault = self.fault.borrow_mut();
        if fault.is_none() {
            *fault = Some(error);
        }
    }

    fn read_committed(&self, key: &[String]) -> Result<Option<StoredNode>, StorageError> {
        let mut snapshot = self.snapshot.borrow_mut();
        if snapshot.is_none() {
            let txn = self.db.begin_read().map_err(redb::Error::from)?;
            match txn.open_table(STATE) {
                Ok(table) => *snapshot = Some(table),
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(redb::Error::from(e).into()),
            }
        }
        let Some(table) = snapshot.as_ref() else {
            return Ok(None);
        };
        let Some(bytes) = table
            .get(encode_key(key).as_slice())
            .map_err(redb::Error::from)?
        else {
            return Ok(None);
        };
        decode_node(bytes.value())
            .map(Some)
            .map_err(|e| StorageError::Corrupt(format!("state node /{}: {e}", key.join("/"))))
    }
}

impl NodeStore for RedbNodeStore {
    fn get(&self, key: &[String]) -> Option<StoredNode> {
        if let Some(node) = self.staged.get(key) {
            return node.clone();
        }
        if let Some(node) = self.cache.borrow().get(key) {
            return node.clone();
        }
        match self.read_committed(key) {
            Ok(node) => {
                let mut cache = self.cache.borrow_mut();
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(key.to_vec(), node.clone());
                node
            }
            Err(e) => {
                self.record_fault(e);
                None
            }
        }
    }

    fn put(&mut self, key: &[String], node: StoredNode) {
        self.staged.insert(key.to_vec(), Some(node));
    }

    fn delete(&mut self, key: &[String]) {
        self.staged.insert(key.to_vec(), None);
    }

    fn is_dirty_parent_of(&self, key: &[String], child: &str) -> bool {
        // Only staged nodes can be dirty: committed nodes are always rehashed.
        self.staged
            .get(key)
            .is_some_and(|node| crate::store::dirty_parent_of(node.as_ref(), child))
    }
}

/// The table key of a node key.
pub fn encode_key(key: &[String]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(b'N');
    for segment in key {
        w.bytes16(segment.as_bytes());
    }
    w.finish()
}

/// The stored form of a node.
pub fn encode_node(node: &StoredNode) -> Vec<u8> {
    let mut w = Writer::default();
    let kind = match &node.body {
        NodeBody::Leaf(Scalar::Bool(_)) => 0,
        NodeBody::Leaf(Scalar::Int(_)) => 1,
        NodeBody::Leaf(Scalar::Str(_)) => 2,
        NodeBody::Branch(_) => 3,
    };
    w.u8(kind);
    match &node.hash {
        Some(hash) => {
            w.u8(1);
            w.raw(hash);
        }
        None => w.u8(0),
    }
    match &node.body {
        NodeBody::Leaf(Scalar::Bool(b)) => w.u8(u8::from(*b)),
        NodeBody::Leaf(Scalar::Int(i)) => w.raw(&i.to_be_bytes()),
        NodeBody::Leaf(Scalar::Str(s)) => w.bytes32(s.as_bytes()),
        NodeBody::Branch(children) => {
            w.u32(u32::try_from(children.len()).expect("invariant: child counts fit in u32"));
            for name in children.iter() {
                w.bytes16(name.as_bytes());
            }
        }
    }
    w.finish()
}

/// Decodes [`encode_node`]'s output.
pub fn decode_node(bytes: &[u8]) -> Result<StoredNode, DecodeError> {
    let mut r = Reader::new(bytes);
    let kind = r.u8("node kind")?;
    let hash = match r.u8("hash flag")? {
        0 => None,
        1 => Some(r.array("node hash")?),
        other => return Err(DecodeError::invalid("hash flag", format!("{other}"))),
    };
    let body = match kind {
        0 => match r.u8("bool")? {
            0 => NodeBody::Leaf(Scalar::Bool(false)),
            1 => NodeBody::Leaf(Scalar::Bool(true)),
            other => return Err(DecodeError::invalid("bool", format!("{other}"))),
        },
        1 => NodeBody::Leaf(Scalar::Int(i128::from_be_bytes(r.array("integer")?))),
        2 => NodeBody::Leaf(Scalar::Str(r.str32("string", MAX_VALUE_BYTES)?.to_owned())),
        3 => {
            let count = r.u32("child count")?;
            let mut children = BTreeSet::new();
            for _ in 0..count {
                children.insert(r.str16("child name", MAX_SEGMENT_LEN)?.to_owned());
            }
            NodeBody::Branch(children.into())
        }
        other => return Err(DecodeError::invalid("node kind", format!("{other}"))),
    };
    r.finish()?;
    Ok(StoredNode { body, hash })
}
