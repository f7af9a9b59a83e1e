//! Full-chain verification: replay every stored block from genesis and compare.
//!
//! [`Ledger::verify`] rebuilds the genesis state in memory and then, for each height from 0 to
//! the tip, checks: the block decodes; its chain id and height; its parent hash (zeros at
//! genesis) and that its time is not before its parent's; the proposer and its signature
//! ([`Consensus::validate`]); every transaction's stateless checks (one batch signature check);
//! the tx root; that re-applying the transactions accepts every one and yields exactly the
//! stored receipts at the stored positions; and the state root. Finally the file's live state
//! must have the tip's root. The first failure is reported with its height.

use crate::account::Address;
use crate::block::tx_root;
use crate::consensus::Consensus;
use crate::execute::{BlockEnv, apply_tx};
use crate::ledger::{Ledger, genesis_header};
use crate::recent::BlockWindow;
use crate::state::StateTree;
use crate::storage::StorageError;
use crate::store::Hash;
use crate::tx::verify_all;

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blocks checked (genesis included).
    pub blocks: u64,
    /// Transactions re-applied.
    pub txs: u64,
    /// The verified tip's state root.
    pub state_root: Hash,
}

/// The first problem found.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The block at `height` does not match what replay computes.
    #[error("block {height}: {what}")]
    Mismatch {
        /// The first bad height.
        height: u64,
        /// What differs.
        what: String,
    },
    /// The file could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn mismatch(height: u64, what: impl Into<String>) -> VerifyError {
    VerifyError::Mismatch {
        height,
        what: what.into(),
    }
}

impl<C: Consensus> Ledger<C> {
    /// Replays the stored chain from genesis; see the module docs.
    pub fn verify(&self) -> Result<VerifyReport, VerifyError> {
        let chain_id = &self.genesis.chain_id;
        let tip = self
            .storage
            .tip()?
            .ok_or_else(|| mismatch(0, "no blocks stored"))?;
        let mut state = StateTree::new();
        self.genesis
            .build(&mut state, &*self.natives)
            .map_err(|e| mismatch(0, e.to_string()))?;
        let mut parent = genesis_header(&self.genesis, state.root_hash(), &self.consensus);
        let mut tx_count = 0u64;
        let mut window = BlockWindow::default();
        for height in 0..=tip {
            let block = match self.storage.block(height) {
                Ok(Some(block)) => block,
                Ok(None) => return Err(mismatch(height, "block missing")),
                Err(e) => return Err(mismatch(height, e.to_string())),
            };
            let header = &block.header;
            if &header.chain_id != chain_id {
                return Err(mismatch(height, format!("chain id {:?}", header.chain_id)));
            }
            if header.height != height {
                return Err(mismatch(
                    height,
                    format!("header says height {}", header.height),
                ));
            }
            if height == 0 {
                if header != &parent {
                    return Err(mismatch(
                        0,
                        "genesis header differs from the genesis config",
                    ));
                }
            } else {
                if header.parent_hash != parent.hash() {
                    return Err(mismatch(
                        height,
                        "parent hash differs from the previous block's hash",
                    ));
                }
                if header.timestamp < parent.timestamp {
                    return Err(mismatch(height, "time before the parent's"));
                }
            }
            self.consensus
                .validate(header, &block.signature)
                .map_err(|e| mismatch(height, e.to_string()))?;
            let verified = verify_all(block.txs.clone(), chain_id)
                .map_err(|(i, e)| mismatch(height, format!("transaction {i}: {e}")))?;
            let hashes: Vec<Hash> = verified.iter().map(|v| v.hash()).collect();
            if tx_root(&hashes) != header.tx_root {
                return Err(mismatch(height, "tx root differs from the transactions'"));
            }
            if height > 0 {
                let env = BlockEnv {
                    height,
                    time: header.timestamp,
                    proposer: Address::of(&header.proposer),
                    recent: window.recent(),
                };
                let mut txn = state.begin();
                for (index, vtx) in verified.iter().enumerate() {
                    let receipt = apply_tx(&mut txn, vtx, &env, &*self.natives).map_err(|e| {
                        mismatch(
                            height,
                            format!("transaction {index} rejected on replay: {e}"),
                        )
                    })?;
                    let stored = self
                        .storage
                        .tx_location(&vtx.hash())
                        .map_err(|e| mismatch(height, e.to_string()))?;
                    let expected_place = (height, u32::try_from(index).ok());
                    match stored {
                        Some(loc)
                            if (loc.height, Some(loc.index)) == expected_place
                                && loc.receipt == receipt => {}
                        _ => {
                            return Err(mismatch(
                                height,
                                format!(
                                    "stored receipt of transaction {index} differs from replay"
                                ),
                            ));
                        }
                    }
                }
                txn.commit();
                tx_count += verified.len() as u64;
            }
            if state.root_hash() != header.state_root {
                return Err(mismatch(height, "state root differs from replay"));
            }
            window.push(header.hash());
            parent = block.header;
        }
        if self.state.root_hash() != parent.state_root {
            return Err(mismatch(
                tip,
                "the file's live state differs from the tip's state root",
            ));
        }
        Ok(VerifyReport {
            blocks: tip + 1,
            txs: tx_count,
            state_root: parent.state_root,
        })
    }
}
