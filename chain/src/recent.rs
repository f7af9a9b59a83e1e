//! The latest block hashes, as native functions see them.
//!
//! A function that needs randomness nobody could know before some block was made (the challenge
//! of a training round is drawn from the hash of the block after the round was sealed) reads
//! the hash of that block from [`RecentBlocks`] in its [`crate::Context`]: the hashes of the
//! [`RECENT_BLOCKS`] blocks before the one being built, like the EVM's `BLOCKHASH` over the
//! history of EIP-2935. Block production and replay keep the same window ([`BlockWindow`]),
//! so both see the same hashes.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::store::Hash;

/// How many of the latest block hashes functions can read: EIP-2935's
/// `HISTORY_SERVE_WINDOW`. A window of the EVM's 256 would have a round whose challenge is not
/// drawn within a minute of 250 ms blocks (its owner restarting, say) stuck for good; 8191
/// blocks is over half an hour of them, and over two hours of 1 s blocks.
pub const RECENT_BLOCKS: usize = 8191;

/// The hashes of the blocks just before the one being built (at most [`RECENT_BLOCKS`]).
/// Cheap to clone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentBlocks {
    first: u64,
    hashes: Arc<[Hash]>,
}

impl RecentBlocks {
    /// The hashes of heights `first`, `first + 1`, … in order.
    pub fn new(first: u64, hashes: impl IntoIterator<Item = Hash>) -> RecentBlocks {
        RecentBlocks {
            first,
            hashes: hashes.into_iter().collect(),
        }
    }

    /// The hash of the block at `height`, if it is among the recent ones.
    pub fn hash(&self, height: u64) -> Option<Hash> {
        let i = usize::try_from(height.checked_sub(self.first)?).ok()?;
        self.hashes.get(i).copied()
    }
}

/// The sliding window of the latest [`RECENT_BLOCKS`] block hashes of a chain.
#[derive(Clone, Debug, Default)]
pub struct BlockWindow {
    first: u64,
    hashes: VecDeque<Hash>,
}

impl BlockWindow {
    /// Appends the hash of the next block (height `first + len`), dropping the oldest beyond
    /// the window.
    pub fn push(&mut self, hash: Hash) {
        self.hashes.push_back(hash);
        if self.hashes.len() > RECENT_BLOCKS {
            self.hashes.pop_front();
            self.first += 1;
        }
    }

    /// A window whose first hash is that of block `first`.
    pub fn starting_at(first: u64) -> BlockWindow {
        BlockWindow {
            first,
            hashes: VecDeque::new(),
        }
    }

    /// What functions of the next block see.
    pub fn recent(&self) -> RecentBlocks {
        RecentBlocks::new(self.first, self.hashes.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_keeps_the_latest_hashes_by_height() {
        let mut w = BlockWindow::default();
        let n = RECENT_BLOCKS as u64 + 44;
        let hash = |h: u64| -> Hash { std::array::from_fn(|i| (h >> (8 * (i % 8))) as u8) };
        for h in 0..n {
            w.push(hash(h));
        }
        let recent = w.recent();
        assert_eq!(recent.hash(n - 1), Some(hash(n - 1)));
        assert_eq!(recent.hash(44), Some(hash(44)));
        assert_eq!(recent.hash(43), None);
        assert_eq!(recent.hash(n), None);
        assert_eq!(RecentBlocks::default().hash(0), None);
    }
}
