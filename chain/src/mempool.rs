//! Pending transactions, ordered by (sender, nonce).
//!
//! The pool holds [`VerifiedTx`]s only (stateless checks passed). One transaction per
//! (sender, nonce): a second one for a taken slot is refused, not a replacement. Block
//! production walks the pool in (sender, nonce) order; see [`crate::ledger`].

use std::collections::{BTreeMap, HashSet};

use crate::account::Address;
use crate::store::Hash;
use crate::tx::VerifiedTx;

/// Why the pool refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The same transaction is already pending.
    #[error("transaction {0} is already pending")]
    Duplicate(String),
    /// Another transaction with this sender and nonce is pending.
    #[error("{from} already has a pending transaction with nonce {nonce}")]
    NonceTaken {
        /// The sender.
        from: Address,
        /// The nonce.
        nonce: u64,
    },
    /// The pool is full.
    #[error("mempool full ({0} transactions)")]
    Full(usize),
}

/// Pending transactions keyed by (sender, nonce).
#[derive(Debug)]
pub struct Mempool {
    txs: BTreeMap<(Address, u64), VerifiedTx>,
    hashes: HashSet<Hash>,
    limit: usize,
}

impl Mempool {
    /// An empty pool holding at most `limit` transactions.
    pub fn new(limit: usize) -> Mempool {
        Mempool {
            txs: BTreeMap::new(),
            hashes: HashSet::new(),
            limit,
        }
    }

    /// Adds a transaction.
    pub fn insert(&mut self, vtx: VerifiedTx) -> Result<(), MempoolError> {
        if self.hashes.contains(&vtx.hash()) {
            return Err(MempoolError::Duplicate(hex::encode(vtx.hash())));
        }
        let key = (vtx.tx().from, vtx.tx().nonce);
        if self.txs.contains_key(&key) {
            return Err(MempoolError::NonceTaken {
                from: key.0,
                nonce: key.1,
            });
        }
        if self.txs.len() >= self.limit {
            return Err(MempoolError::Full(self.limit));
        }
        self.hashes.insert(vtx.hash());
        self.txs.insert(key, vtx);
        Ok(())
    }

    /// Removes the transaction at (sender, nonce), if any.
    pub fn remove(&mut self, key: &(Address, u64)) -> Option<VerifiedTx> {
        let vtx = self.txs.remove(key)?;
        self.hashes.remove(&vtx.hash());
        Some(vtx)
    }

    /// Pending transactions in (sender, nonce) order.
    pub fn iter(&self) -> impl Iterator<Item = (&(Address, u64), &VerifiedTx)> {
        self.txs.iter()
    }

    /// Whether the transaction `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.hashes.contains(hash)
    }

    /// Number of pending transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }
}
