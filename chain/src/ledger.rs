//! A ledger: one chain (or shard) with its own file, genesis, validator and mempool.
//!
//! [`Ledger::open`] creates the file with the genesis block (height 0, no transactions) or
//! resumes at the stored tip. [`Ledger::submit`] checks a transaction statelessly (signature,
//! chain id, sender address, size, fee range) and admits it to the pool only if it can run
//! after the sender's pending ones; otherwise it is **refused**, with its cause:
//! - its nonce is already used ([`LedgerError::StaleNonce`]) or taken by a pending one;
//! - its nonce is beyond the sender's next (account nonce + pending count): a gap
//!   ([`LedgerError::NonceGap`]); nothing waits in the pool for a missing predecessor;
//! - the sender's balance cannot pay its pending fees plus this one
//!   ([`LedgerError::CannotPayFee`]);
//! - the sender already has [`LedgerConfig::max_pending_per_sender`] pending, or the pool
//!   holds [`LedgerConfig::max_mempool`].
//!
//! [`Ledger::produce_block`] walks the pool in (sender, nonce) order and applies each
//! transaction in one state transaction for the whole block ([`crate::execute::apply_tx`]):
//! - applied or failed ops: included, with its receipt (fee and nonce always taken);
//! - anything else (the fee is no longer payable after the sender's earlier transfers, or a
//!   predecessor was dropped, or a corrupt account): **dropped** from the pool.
//!
//! So the pool never holds what cannot run, and [`Ledger::produce_block_if_any`] makes no
//! block when nothing in it can. The causes of the last [`REMEMBERED_REJECTIONS`] refusals
//! and drops are kept in memory by hash ([`Ledger::rejection`]).
//!
//! Then it computes the state root and tx root, has the consensus sign the header and commits
//! block, receipts and state nodes in one redb write transaction ([`crate::storage`]). If
//! anything fails before that commit returns, the state is back at the previous block and the
//! pool is unchanged. The pool lives in memory only: pending transactions are lost on restart.
//!
//! [`Ledger::verify`] replays the whole chain from genesis ([`crate::verify`]).

use std::path::Path as FsPath;

use crate::account::Address;
use crate::block::{Block, BlockHeader, MAX_BLOCK_BYTES, tx_root};
use crate::consensus::{Consensus, ConsensusError, SingleValidator};
use crate::execute::{BlockEnv, Receipt, apply_tx};
use crate::functions::NativeFunctions;
use crate::functions::builtin::Builtins;
use crate::genesis::{Genesis, GenesisError};
use crate::mempool::{Mempool, MempoolError, Rejected, Rejections};
use crate::path::Path;
use crate::recent::{BlockWindow, RECENT_BLOCKS};
use crate::redb_store::RedbNodeStore;
use crate::state::StateTree;
use crate::storage::{Storage, StorageError, TxLocation};
use crate::store::Hash;
use crate::tx::{SignedTransaction, TxError, VerifiedTx, verify_all};
use crate::value::Value;

/// Why a ledger operation failed. Whatever the error, the stored chain is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The genesis config is invalid.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The file was created with another genesis.
    #[error("the ledger file was created with another genesis config")]
    GenesisMismatch,
    /// Consensus refused (e.g. this node may not propose).
    #[error(transparent)]
    Consensus(#[from] ConsensusError),
    /// A transaction failed the stateless checks.
    #[error("transaction refused: {0}")]
    Tx(#[from] TxError),
    /// The pool refused a transaction.
    #[error("transaction refused: {0}")]
    Mempool(#[from] MempoolError),
    /// The transaction's nonce was already used.
    #[error("transaction refused: nonce {found} of {from} already used (next is {next})")]
    StaleNonce {
        /// The sender.
        from: Address,
        /// The transaction's nonce.
        found: u64,
        /// The account's next nonce.
        next: u64,
    },
    /// The transaction's nonce leaves a gap after the sender's pending ones.
    #[error(
        "transaction refused: nonce {found} of {from} leaves a gap (the next it may use is {next})"
    )]
    NonceGap {
        /// The sender.
        from: Address,
        /// The transaction's nonce.
        found: u64,
        /// The account's next nonce after its pending transactions.
        next: u64,
    },
    /// The sender's balance cannot pay the fees of its pending transactions and this one.
    #[error(
        "transaction refused: {from} has balance {balance}, its pending fees and this one need {needed}"
    )]
    CannotPayFee {
        /// The sender.
        from: Address,
        /// Its balance.
        balance: i128,
        /// The fees of its pending transactions plus this one's.
        needed: u128,
    },
    /// A block time before its parent's.
    #[error("block time {time} is before the parent's {parent}")]
    TimeBeforeParent {
        /// The requested time.
        time: u64,
        /// The tip's time.
        parent: u64,
    },
}

/// How many causes of refused or dropped transactions a ledger remembers.
pub const REMEMBERED_REJECTIONS: usize = 10_000;

/// Limits of a ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Most pending transactions.
    pub max_mempool: usize,
    /// Most pending transactions of one sender.
    pub max_pending_per_sender: usize,
}

impl Default for LedgerConfig {
    fn default() -> LedgerConfig {
        LedgerConfig {
            max_block_txs: 1000,
            max_mempool: 100_000,
            max_pending_per_sender: 64,
        }
    }
}

/// One chain: its file, state, consensus and pool.
pub struct Ledger<C: Consensus = SingleValidator> {
    pub(crate) storage: Storage,
    pub(crate) state: StateTree<RedbNodeStore>,
    pub(crate) consensus: C,
    pub(crate) natives: Box<dyn NativeFunctions>,
    pub(crate) genesis: Genesis,
    genesis_hash: Hash,
    tip: BlockHeader,
    window: BlockWindow,
    mempool: Mempool,
    rejections: Rejections,
    config: LedgerConfig,
}

impl<C: Consensus> Ledger<C> {
    /// Opens (or creates, with the genesis block) the ledger file at `path`, with the built-in
    /// native functions and default limits.
    pub fn open(path: &FsPath, genesis: &Genesis, consensus: C) -> Result<Ledger<C>, LedgerError> {
        Ledger::open_with(
            path,
            genesis,
            consensus,
            Box::new(Builtins::new()),
            LedgerConfig::default(),
        )
    }

    /// Opens with the given native functions (e.g. with a proof verifier) and limits. A
    /// reopened file must have been created with the same `genesis`.
    pub fn open_with(
        path: &FsPath,
        genesis: &Genesis,
        consensus: C,
        natives: Box<dyn NativeFunctions>,
        config: LedgerConfig,
    ) -> Result<Ledger<C>, LedgerError> {
        genesis.validate()?;
        let storage = Storage::open(path)?;
        let mut state = StateTree::with_store(storage.node_store());
        let tip = match storage.tip()? {
            Some(height) => {
                if storage.genesis_json()?.as_deref() != Some(genesis.to_json_text().as_str()) {
                    return Err(LedgerError::GenesisMismatch);
                }
                let block = storage.block(height)?.ok_or_else(|| {
                    StorageError::Corrupt(format!("tip block {height} is missing"))
                })?;
                if let Some(fault) = state.store().fault() {
                    return Err(fault.into());
                }
                if state.root_hash() != block.header.state_root {
                    return Err(StorageError::Corrupt(format!(
                        "stored state root differs from block {height}'s"
                    ))
                    .into());
                }
                block.header
            }
            None => create_genesis(&storage, &mut state, genesis, &consensus, &*natives)?,
        };
        let first = tip.height.saturating_sub(RECENT_BLOCKS as u64 - 1);
        let mut window = BlockWindow::starting_at(first);
        for height in first..tip.height {
            let header = storage
                .block_header(height)?
                .ok_or_else(|| StorageError::Corrupt(format!("block {height} is missing")))?;
            window.push(header.hash());
        }
        window.push(tip.hash());
        let genesis_hash = storage
            .block_header(0)?
            .ok_or_else(|| StorageError::Corrupt("the genesis block is missing".into()))?
            .hash();
        Ok(Ledger {
            storage,
            state,
            consensus,
            natives,
            genesis: genesis.clone(),
            genesis_hash,
            tip,
            window,
            mempool: Mempool::new(config.max_mempool),
            rejections: Rejections::new(REMEMBERED_REJECTIONS),
            config,
        })
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.genesis.chain_id
    }

    /// The hash of the genesis block: what tells this chain from another of the same id.
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The latest block's header.
    pub fn tip(&self) -> &BlockHeader {
        &self.tip
    }

    /// The current state root (the tip's).
    pub fn state_root(&self) -> Hash {
        self.state.root_hash()
    }

    /// The data at `path` as of the tip (null if absent).
    pub fn get_value(&self, path: &Path) -> Value {
        self.state.get_value(path)
    }

    /// The balance of `addr` (0 if none).
    pub fn balance(&self, addr: &Address) -> i128 {
        self.get_value(&addr.balance_path()).as_int().unwrap_or(0)
    }

    /// The next nonce of `addr`.
    pub fn nonce(&self, addr: &Address) -> u64 {
        let n = self.get_value(&addr.nonce_path()).as_int().unwrap_or(0);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// The stored block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, LedgerError> {
        Ok(self.storage.block(height)?)
    }

    /// Where the transaction `hash` was included, and its receipt.
    pub fn receipt(&self, hash: &Hash) -> Result<Option<TxLocation>, LedgerError> {
        Ok(self.storage.tx_location(hash)?)
    }

    /// Number of pending transactions.
    pub fn pending(&self) -> usize {
        self.mempool.len()
    }

    /// Whether the transaction `hash` is waiting in the pool.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.mempool.contains(hash)
    }

    /// The next nonce `addr` should sign with: its account nonce plus its transactions waiting
    /// in the pool (so several transactions can be queued before a block).
    pub fn next_nonce(&self, addr: &Address) -> u64 {
        self.nonce(addr) + self.mempool.of_sender(addr).count() as u64
    }

    /// Why the transaction `hash` was refused or dropped, if it was one of the last
    /// [`REMEMBERED_REJECTIONS`] (and is not pending or included since).
    pub fn rejection(&self, hash: &Hash) -> Option<&Rejected> {
        self.rejections.get(hash)
    }

    /// Checks `tx` statelessly and admits it if it can run (see the module docs); returns its
    /// hash. A refusal's cause is also remembered ([`Ledger::rejection`]).
    pub fn submit(&mut self, tx: SignedTransaction) -> Result<Hash, LedgerError> {
        let hash = tx.hash();
        let result = tx
            .verify(&self.genesis.chain_id)
            .map_err(LedgerError::from)
            .and_then(|vtx| self.enqueue(vtx));
        self.remember(hash, &result);
        result
    }

    /// Submits many transactions, checking their signatures in one batch (falling back to
    /// one by one if the batch fails, to say which are bad). One result per transaction.
    pub fn submit_batch(&mut self, txs: Vec<SignedTransaction>) -> Vec<Result<Hash, LedgerError>> {
        match verify_all(txs.clone(), &self.genesis.chain_id) {
            Ok(verified) => verified
                .into_iter()
                .map(|vtx| {
                    let hash = vtx.hash();
                    let result = self.enqueue(vtx);
                    self.remember(hash, &result);
                    result
                })
                .collect(),
            Err(_) => txs.into_iter().map(|tx| self.submit(tx)).collect(),
        }
    }

    /// Keeps a refusal's cause (not for a duplicate of a pending transaction, which stays
    /// pending); an admission forgets an earlier refusal of the same transaction.
    fn remember(&mut self, hash: Hash, result: &Result<Hash, LedgerError>) {
        match result {
            Ok(_) => self.rejections.forget(&hash),
            Err(LedgerError::Mempool(MempoolError::Duplicate(_))) => {}
            Err(e) => self.rejections.record(hash, false, e.to_string()),
        }
    }

    fn enqueue(&mut self, vtx: VerifiedTx) -> Result<Hash, LedgerError> {
        let from = vtx.tx().from;
        let account_nonce = self.nonce(&from);
        let found = vtx.tx().nonce;
        if found < account_nonce {
            return Err(LedgerError::StaleNonce {
                from,
                found,
                next: account_nonce,
            });
        }
        let (count, fees) = self
            .mempool
            .of_sender(&from)
            .fold((0u64, 0u128), |(n, fees), p| {
                (n + 1, fees.saturating_add(p.tx().fee))
            });
        let next = account_nonce + count;
        // A taken slot (or the same transaction again) is the pool's to refuse, below.
        if found > next {
            return Err(LedgerError::NonceGap { from, found, next });
        }
        if found == next {
            if count as usize >= self.config.max_pending_per_sender {
                return Err(MempoolError::SenderFull {
                    from,
                    limit: self.config.max_pending_per_sender,
                }
                .into());
            }
            let needed = fees.saturating_add(vtx.tx().fee);
            let balance = self.balance(&from);
            if u128::try_from(balance).unwrap_or(0) < needed {
                return Err(LedgerError::CannotPayFee {
                    from,
                    balance,
                    needed,
                });
            }
        }
        let hash = vtx.hash();
        self.mempool.insert(vtx)?;
        Ok(hash)
    }

    /// Like [`Ledger::produce_block`], but makes no block when no pending transaction can be
    /// included (those that cannot run are still dropped, with their causes). What a node's
    /// block timer calls.
    pub fn produce_block_if_any(&mut self, time: u64) -> Result<Option<Block>, LedgerError> {
        self.build_block(time, false)
    }

    /// Builds, signs and stores the next block at `time` from the pool (possibly empty);
    /// transactions that cannot run are dropped, their causes remembered.
    pub fn produce_block(&mut self, time: u64) -> Result<Block, LedgerError> {
        let block = self.build_block(time, true)?;
        Ok(block.expect("invariant: an empty block is allowed here"))
    }

    fn build_block(&mut self, time: u64, allow_empty: bool) -> Result<Option<Block>, LedgerError> {
        if time < self.tip.timestamp {
            return Err(LedgerError::TimeBeforeParent {
                time,
                parent: self.tip.timestamp,
            });
        }
        let height = self.tip.height + 1;
        let proposer = self.consensus.proposer(height);
        let env = BlockEnv {
            height,
            time,
            proposer: Address::of(&proposer),
            recent: self.window.recent(),
        };
        let mut included = Vec::new();
        let mut dropped = Vec::new();
        let mut receipts = Vec::new();
        let mut txs: Vec<SignedTransaction> = Vec::new();
        let mut bytes = 0usize;
        {
            let mut txn = self.state.begin();
            for (key, vtx) in self.mempool.iter() {
                if included.len() >= self.config.max_block_txs
                    || bytes + vtx.size() + 4 > MAX_BLOCK_BYTES - 4096
                {
                    break;
                }
                match apply_tx(&mut txn, vtx, &env, &*self.natives) {
                    Ok(receipt) => {
                        bytes += vtx.size() + 4;
                        included.push(*key);
                        txs.push(vtx.signed().clone());
                        receipts.push(receipt);
                    }
                    // Admission leaves no gaps, so a nonce ahead here means a predecessor was
                    // dropped: this one can never run either.
                    Err(rejection) => {
                        dropped.push((*key, format!("dropped at height {height}: {rejection}")))
                    }
                }
            }
            txn.commit();
        }
        if included.is_empty() && !allow_empty {
            self.state.store_mut().discard();
            self.drop_pending(dropped);
            return Ok(None);
        }
        let hashes: Vec<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
        let header = BlockHeader {
            chain_id: self.genesis.chain_id.clone(),
            height,
            parent_hash: self.tip.hash(),
            timestamp: time,
            tx_root: tx_root(&hashes),
            state_root: self.state.root_hash(),
            proposer,
        };
        let signature = match self.consensus.sign(&header) {
            Ok(s) => s,
            Err(e) => {
                self.state.store_mut().discard();
                return Err(e.into());
            }
        };
        let block = Block {
            header,
            signature,
            txs,
        };
        self.storage
            .commit_block(&block, &receipts, self.state.store_mut(), None)?;
        for key in &included {
            self.mempool.remove(key);
        }
        self.drop_pending(dropped);
        self.tip = block.header.clone();
        self.window.push(self.tip.hash());
        Ok(Some(block))
    }

    /// Removes transactions from the pool, remembering why.
    fn drop_pending(&mut self, dropped: Vec<((Address, u64), String)>) {
        for (key, reason) in dropped {
            if let Some(vtx) = self.mempool.remove(&key) {
                self.rejections.record(vtx.hash(), true, reason);
            }
        }
    }
}

/// Builds the genesis state and block and commits them to a new file.
fn create_genesis<C: Consensus>(
    storage: &Storage,
    state: &mut StateTree<RedbNodeStore>,
    genesis: &Genesis,
    consensus: &C,
    natives: &dyn NativeFunctions,
) -> Result<BlockHeader, LedgerError> {
    if let Err(e) = genesis.build(state, natives) {
        state.store_mut().discard();
        return Err(e.into());
    }
    let header = genesis_header(genesis, state.root_hash(), consensus);
    let signature = match consensus.sign(&header) {
        Ok(s) => s,
        Err(e) => {
            state.store_mut().discard();
            return Err(e.into());
        }
    };
    let block = Block {
        header,
        signature,
        txs: Vec::new(),
    };
    let receipts: [Receipt; 0] = [];
    storage.commit_block(
        &block,
        &receipts,
        state.store_mut(),
        Some(&genesis.to_json_text()),
    )?;
    Ok(block.header)
}

/// The genesis block header for a genesis state root.
pub(crate) fn genesis_header<C: Consensus>(
    genesis: &Genesis,
    state_root: Hash,
    consensus: &C,
) -> BlockHeader {
    BlockHeader {
        chain_id: genesis.chain_id.clone(),
        height: 0,
        parent_hash: [0; 32],
        timestamp: genesis.timestamp,
        tx_root: tx_root(&[]),
        state_root,
        proposer: consensus.proposer(0),
    }
}
