//! The ledger, as the task driver and its parties see it: submit signed writes, read the
//! state, have a block made, read receipts.
//!
//! [`LedgerClient`] is what the driver is written against. [`EmbeddedLedger`] is the one in
//! this process: the task's own chain, a shard (`task.redb`) of a root chain (`root.redb`) that
//! branches `/tasks/<id>` to it and receives a report of every task block, both made by a
//! single validator when the driver asks. A client of a remote node implements the same trait.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use chain::shard::{Shard, audit_shard};
use chain::store::Hash;
use chain::{
    Address, BlockHeader, Genesis, Keypair, Ledger, Op, Path, SignedTransaction, SingleValidator,
    Transaction, TxOutcome, Value,
};

use super::clock::Clock;

/// The fee of every transaction the driver sends.
pub const FEE: u128 = 1;

/// A ledger the task's parties write to and read from.
pub trait LedgerClient: Send + Sync {
    /// `op` signed with `key` at the sender's next nonce (not submitted: a party can hand it
    /// to another to submit).
    fn sign(&self, key: &Keypair, op: Op) -> Result<SignedTransaction>;

    /// Submits a signed transaction, whoever signed it; its hash.
    fn submit_signed(&self, tx: SignedTransaction) -> Result<Hash>;

    /// Signs `op` with `key` at the sender's next nonce and submits it; its hash.
    fn submit(&self, key: &Keypair, op: Op) -> Result<Hash> {
        self.submit_signed(self.sign(key, op)?)
    }

    /// The value at `path` as of the latest block.
    fn get(&self, path: &Path) -> Result<Value>;

    /// Has a block made of what is pending (an empty one when nothing is), and returns its
    /// header.
    fn make_block(&self) -> Result<BlockHeader>;

    /// The latest block's header.
    fn tip(&self) -> Result<BlockHeader>;

    /// The outcome of a transaction: its receipt's once included, `Failed` with the reason
    /// once refused or dropped without being included, `None` while pending or unknown.
    fn outcome(&self, hash: &Hash) -> Result<Option<TxOutcome>>;

    /// The number of pending transactions.
    fn pending(&self) -> Result<usize>;

    /// Whether transaction `hash` is waiting in the pool (`outcome` is `None` for such a
    /// transaction, and for one the ledger has never seen or has lost).
    fn is_pending(&self, hash: &Hash) -> Result<bool>;

    /// Whether transaction `hash` stands: pending, or included and applied. One that does
    /// not (refused, failed, or unknown to the ledger) must be sent again to take effect.
    fn stands(&self, hash: &Hash) -> Result<bool> {
        // Pending first: one included between the two looks is then seen as included.
        Ok(self.is_pending(hash)? || matches!(self.outcome(hash)?, Some(TxOutcome::Applied)))
    }

    /// The balance of an account.
    fn balance(&self, addr: &Address) -> Result<i128> {
        Ok(self.get(&addr.balance_path())?.as_int().unwrap_or(0))
    }
}

/// Where the embedded ledger keeps its files.
pub fn ledger_files(dir: &FsPath) -> (PathBuf, PathBuf) {
    (dir.join("task.redb"), dir.join("root.redb"))
}

/// The task's chain and the root chain it reports to, in this process.
pub struct EmbeddedLedger {
    inner: Mutex<Chains>,
    clock: Arc<dyn Clock>,
}

struct Chains {
    root: Ledger<SingleValidator>,
    shard: Shard<SingleValidator>,
}

/// What a new embedded ledger starts from.
pub struct LedgerSetup {
    /// The task id (its shard's path on the root chain is `/tasks/<id>`).
    pub task: String,
    /// The validator's key (it also owns the root chain and the shard branch).
    pub validator: Keypair,
    /// The shard reporter's key.
    pub reporter: Keypair,
    /// Genesis balances of the task chain.
    pub balances: BTreeMap<Address, i128>,
    /// Genesis time, milliseconds since the Unix epoch.
    pub timestamp: u64,
}

impl EmbeddedLedger {
    /// Opens the ledger files in `dir`, creating them when absent: the task chain with
    /// `setup`'s balances, the root chain, and the root's branch of `/tasks/<id>` to the
    /// task chain (the root's first block). Reopening resumes at the stored tips.
    pub fn open(
        dir: &FsPath,
        setup: &LedgerSetup,
        clock: Arc<dyn Clock>,
    ) -> Result<EmbeddedLedger> {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let (task_file, root_file) = ledger_files(dir);
        let owner = Address::of(&setup.validator.public());
        let task_genesis = Genesis {
            chain_id: format!("zkfl-task-{}", setup.task),
            timestamp: setup.timestamp,
            root_owner: owner,
            balances: setup.balances.clone(),
        };
        let root_genesis = Genesis {
            chain_id: "zkfl-root".into(),
            timestamp: setup.timestamp,
            root_owner: owner,
            balances: BTreeMap::from([(owner, 1_000)]),
        };
        let validator = || SingleValidator::new(setup.validator.clone());
        let task = Ledger::open(&task_file, &task_genesis, validator())
            .with_context(|| task_file.display().to_string())?;
        let mut root = Ledger::open(&root_file, &root_genesis, validator())
            .with_context(|| root_file.display().to_string())?;
        let path = chain::task::task_path(&setup.task, &[])?;
        let shard = Shard::new(path, task, setup.reporter.clone(), 1, 0)?;
        if root.tip().height == 0 {
            let branch = Transaction::new(
                root.chain_id(),
                &setup.validator.public(),
                root.next_nonce(&owner),
                FEE,
                setup.timestamp,
                Op::SetShard {
                    path: shard.path().clone(),
                    config: shard.config(owner),
                },
            );
            root.submit(branch.sign(&setup.validator))?;
            root.produce_block(clock.block_time(setup.timestamp))?;
        }
        Ok(EmbeddedLedger {
            inner: Mutex::new(Chains { root, shard }),
            clock,
        })
    }

    fn chains(&self) -> MutexGuard<'_, Chains> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the task chain.
    pub fn with_task<R>(&self, f: impl FnOnce(&Ledger<SingleValidator>) -> R) -> R {
        f(self.chains().shard.ledger())
    }

    /// Runs `f` on the root chain.
    pub fn with_root<R>(&self, f: impl FnOnce(&Ledger<SingleValidator>) -> R) -> R {
        f(&self.chains().root)
    }

    /// Re-applies every block of both chains from genesis (as `zkfl chain verify` does) and
    /// checks every shard report on the root chain against the task chain's blocks; returns
    /// the task chain's block count and the number of reports.
    pub fn verify(&self) -> Result<(u64, usize)> {
        let chains = self.chains();
        let task = chains.shard.ledger().verify()?;
        chains.root.verify()?;
        let audit = audit_shard(&chains.root, chains.shard.path(), chains.shard.ledger())?;
        Ok((task.blocks, audit.reports))
    }
}

impl LedgerClient for EmbeddedLedger {
    fn sign(&self, key: &Keypair, op: Op) -> Result<SignedTransaction> {
        let chains = self.chains();
        let ledger = chains.shard.ledger();
        let from = Address::of(&key.public());
        Ok(Transaction::new(
            ledger.chain_id(),
            &key.public(),
            ledger.next_nonce(&from),
            FEE,
            ledger.tip().timestamp,
            op,
        )
        .sign(key))
    }

    fn submit_signed(&self, tx: SignedTransaction) -> Result<Hash> {
        Ok(self.chains().shard.ledger_mut().submit(tx)?)
    }

    fn get(&self, path: &Path) -> Result<Value> {
        Ok(self.chains().shard.ledger().get_value(path))
    }

    fn make_block(&self) -> Result<BlockHeader> {
        let mut chains = self.chains();
        let Chains { root, shard } = &mut *chains;
        let time = self.clock.block_time(shard.ledger().tip().timestamp);
        let block = shard.produce_block(time)?;
        shard.submit_reports(root, time)?;
        let root_time = self.clock.block_time(root.tip().timestamp).max(time);
        root.produce_block(root_time)?;
        Ok(block.header)
    }

    fn tip(&self) -> Result<BlockHeader> {
        Ok(self.chains().shard.ledger().tip().clone())
    }

    fn outcome(&self, hash: &Hash) -> Result<Option<TxOutcome>> {
        let chains = self.chains();
        Ok(chains
            .shard
            .ledger()
            .receipt(hash)?
            .map(|location| location.receipt.outcome))
    }

    fn pending(&self) -> Result<usize> {
        Ok(self.chains().shard.ledger().pending())
    }

    fn is_pending(&self, hash: &Hash) -> Result<bool> {
        Ok(self.chains().shard.ledger().is_pending(hash))
    }
}
