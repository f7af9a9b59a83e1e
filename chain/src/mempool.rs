//! Pending transactions, ordered by (sender, nonce), and what became of refused and dropped ones.
//!
//! The pool holds [`VerifiedTx`]s only (stateless checks passed). One transaction per
//! (sender, nonce): a second one for a taken slot is refused, not a replacement. Block
//! production walks the pool in (sender, nonce) order; see [`crate::ledger`] for what is
//! admitted (only what can run: no nonce gaps, fees the sender can pay, a bounded number per
//! sender) and what is dropped. [`Rejections`] remembers the cause of the latest refusals and
//! drops by transaction hash.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

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
    /// The sender already has the most pending transactions one sender may have.
    #[error("{from} already has {limit} pending transactions, the most one sender may have")]
    SenderFull {
        /// The sender.
        from: Address,
        /// The per-sender limit.
        limit: usize,
    },
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

    /// The pending transactions of `from`, in nonce order.
    pub fn of_sender(&self, from: &Address) -> impl Iterator<Item = &VerifiedTx> {
        self.txs
            .range((*from, 0)..=(*from, u64::MAX))
            .map(|(_, vtx)| vtx)
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

/// What became of a transaction that is neither pending nor included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// `true`: admitted, then dropped at block time; `false`: refused at submission.
    pub dropped: bool,
    /// The one-line cause.
    pub reason: String,
}

/// The causes of the latest `capacity` refused or dropped transactions, by hash (the oldest
/// forgotten first; a later verdict on the same hash replaces the earlier one).
#[derive(Debug)]
pub struct Rejections {
    causes: HashMap<Hash, Rejected>,
    order: VecDeque<Hash>,
    capacity: usize,
}

impl Rejections {
    /// Remembers at most `capacity` causes.
    pub fn new(capacity: usize) -> Rejections {
        Rejections {
            causes: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Records why `hash` was refused (`dropped: false`) or dropped.
    pub fn record(&mut self, hash: Hash, dropped: bool, reason: String) {
        if self.capacity == 0 {
            return;
        }
        if self
            .causes
            .insert(hash, Rejected { dropped, reason })
            .is_none()
        {
            self.order.push_back(hash);
            if self.order.len() > self.capacity
                && let Some(oldest) = self.order.pop_front()
            {
                self.causes.remove(&oldest);
            }
        }
    }

    /// Why `hash` was refused or dropped, if remembered.
    pub fn get(&self, hash: &Hash) -> Option<&Rejected> {
        self.causes.get(hash)
    }

    /// Forgets `hash` (it was submitted again and admitted).
    pub fn forget(&mut self, hash: &Hash) {
        if self.causes.remove(hash).is_some() {
            self.order.retain(|h| h != hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_forget_the_oldest_beyond_capacity() {
        let mut r = Rejections::new(2);
        for i in 0..3u8 {
            r.record([i; 32], i == 1, format!("cause {i}"));
        }
        assert_eq!(r.get(&[0; 32]), None);
        assert_eq!(r.get(&[1; 32]).map(|c| c.dropped), Some(true));
        assert_eq!(r.get(&[2; 32]).map(|c| c.reason.as_str()), Some("cause 2"));
        // A later verdict replaces the earlier one without taking another place.
        r.record([2; 32], true, "dropped later".into());
        assert_eq!(r.get(&[1; 32]).map(|c| c.dropped), Some(true));
        r.forget(&[2; 32]);
        assert_eq!(r.get(&[2; 32]), None);
    }
}
