//! The ledger of a `zkfl node` elsewhere, through its HTTP API ([`chain::node::NodeClient`]):
//! what the owner and the providers use when each runs as a process of its own.
//!
//! The node makes its blocks on its own timer; nobody asks it for one. So
//! [`LedgerClient::make_block`] here waits: for a block above the tip it saw when called, in
//! which every transaction this client submitted has been included (or refused), and for the
//! node's pool to be empty (the other parties' writes of the step, sent before this call, are
//! then in a block too), or two more blocks when other traffic keeps the pool full. The
//! task's challenges and deadlines count blocks, so the node must make them even when nothing
//! is pending (`zkfl node --empty-blocks`); a node that makes no block within
//! [`RemoteLedger::BLOCK_WAIT`] is an error that says so.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use chain::node::NodeClient;
use chain::node::client::{NodeStatus, TxStatus};
use chain::store::Hash;
use chain::{Address, BlockHeader, Keypair, Op, Path, SignedTransaction, Transaction};
use chain::{TxOutcome, Value};

use super::ledger::{FEE, LedgerClient};

/// How often a wait for a block asks the node.
const POLL: Duration = Duration::from_millis(100);
/// The most submitted transactions tracked before the settled ones are looked up and forgotten.
const MAX_TRACKED: usize = 64;

/// The node now serves another chain than the one this client connected to.
#[derive(Debug, thiserror::Error)]
#[error("the ledger node at {url} now serves another chain (genesis {found}, not {joined})")]
pub struct OtherChain {
    /// The node.
    pub url: String,
    /// The genesis hash it serves now.
    pub found: String,
    /// The genesis hash of the chain connected to.
    pub joined: String,
}

/// A node's ledger over HTTP.
pub struct RemoteLedger {
    node: NodeClient,
    chain_id: String,
    /// The genesis hash of the chain it connected to.
    genesis: Hash,
    /// Transactions submitted and not yet seen to leave the pool.
    submitted: Mutex<Vec<Hash>>,
    /// Held from signing to submitting in [`LedgerClient::submit`], so that two threads of
    /// this party cannot sign at the same nonce.
    submitting: Mutex<()>,
}

impl RemoteLedger {
    /// The longest wait for a block.
    pub const BLOCK_WAIT: Duration = Duration::from_secs(60);

    /// Connects to the node at `url` (`http://HOST:PORT`) and reads its chain id.
    ///
    /// Errors: a bad URL, or a node that does not answer within the client's patience.
    pub fn connect(url: &str) -> Result<RemoteLedger> {
        let node = NodeClient::new(url)?;
        let status = node
            .status()
            .with_context(|| format!("the ledger node at {url}"))?;
        Ok(RemoteLedger {
            node,
            chain_id: status.chain_id,
            genesis: status.genesis_hash,
            submitted: Mutex::new(Vec::new()),
            submitting: Mutex::new(()),
        })
    }

    /// The node's status, checked to be of the chain it connected to.
    ///
    /// Errors: the node does not answer, or now serves another chain (a node started again
    /// on another ledger file at the same address): a party of a task on the first must not
    /// go on with the second.
    pub fn status(&self) -> Result<NodeStatus> {
        let status = self.node.status()?;
        if status.genesis_hash != self.genesis {
            return Err(OtherChain {
                url: self.url(),
                found: hex::encode(status.genesis_hash),
                joined: hex::encode(self.genesis),
            }
            .into());
        }
        Ok(status)
    }

    /// The node's recent block interval: the mean over its last 20 blocks (fewer on a young
    /// chain, never counting the genesis block), from their timestamps; `None` below height
    /// 3.
    pub fn block_interval(&self) -> Result<Option<Duration>> {
        let tip = self.node.latest_block()?;
        // From block 1 on: the genesis timestamp is when the chain was made, not when its
        // node started making blocks.
        let back = tip.height.saturating_sub(1).min(20);
        if back < 2 {
            return Ok(None);
        }
        let past = self.node.block_header(tip.height - back)?;
        let ms = tip.timestamp.saturating_sub(past.timestamp) / back;
        Ok(Some(Duration::from_millis(ms)))
    }

    /// The genesis hash of the chain it connected to.
    pub fn genesis_hash(&self) -> Hash {
        self.genesis
    }

    /// The chain id of the node's ledger.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The node's URL.
    pub fn url(&self) -> String {
        self.node.url()
    }

    /// Whether every transaction this client submitted has left the pool: included,
    /// refused, dropped, or unknown to the node (one that lost its pool on a restart; its
    /// outcome then reads `None`). Forgets the ones that have; no lock is held while asking.
    fn own_settled(&self) -> Result<bool> {
        let asked = self.lock_submitted().clone();
        let mut settled = std::collections::HashSet::new();
        for hash in &asked {
            if self.node.transaction(hash)? != TxStatus::Pending {
                settled.insert(*hash);
            }
        }
        let mut submitted = self.lock_submitted();
        submitted.retain(|h| !settled.contains(h));
        Ok(submitted.is_empty())
    }

    fn lock_submitted(&self) -> std::sync::MutexGuard<'_, Vec<Hash>> {
        self.submitted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LedgerClient for RemoteLedger {
    fn sign(&self, key: &Keypair, op: Op) -> Result<SignedTransaction> {
        let from = Address::of(&key.public());
        let nonce = self.node.account(&from)?.next_nonce;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Ok(Transaction::new(&self.chain_id, &key.public(), nonce, FEE, now, op).sign(key))
    }

    fn submit_signed(&self, tx: SignedTransaction) -> Result<Hash> {
        let hash = self.node.submit(&tx)?;
        let crowded = {
            let mut submitted = self.lock_submitted();
            submitted.push(hash);
            submitted.len() > MAX_TRACKED
        };
        // A provider submits and never waits for blocks: forget what has settled. The
        // transaction is the node's already, so a failure to look is no failure to submit.
        if crowded && let Err(e) = self.own_settled() {
            tracing::warn!("cannot look up this party's submitted transactions: {e:#}");
        }
        Ok(hash)
    }

    fn submit(&self, key: &Keypair, op: Op) -> Result<Hash> {
        let _signing = self.submitting.lock().unwrap_or_else(|e| e.into_inner());
        self.submit_signed(self.sign(key, op)?)
    }

    fn get(&self, path: &Path) -> Result<Value> {
        Ok(self.node.value(path)?)
    }

    fn make_block(&self) -> Result<BlockHeader> {
        let start = self.status()?.height;
        let began = Instant::now();
        let mut last = (start, Instant::now());
        loop {
            let status = self.status()?;
            if status.height > last.0 {
                last = (status.height, Instant::now());
            }
            let past = status.height.saturating_sub(start);
            if past >= 1 && (status.pending == 0 || past >= 3) && self.own_settled()? {
                return Ok(self.node.latest_block()?);
            }
            if last.1.elapsed() >= Self::BLOCK_WAIT {
                let why = status
                    .last_block_error
                    .map_or_else(String::new, |e| format!(" (its last block failed: {e})"));
                bail!(
                    "the ledger node at {} made no block in {} s{why}: it must make blocks on a \
                     timer, empty ones too (zkfl node --empty-blocks)",
                    self.url(),
                    Self::BLOCK_WAIT.as_secs()
                );
            }
            if began.elapsed() >= 10 * Self::BLOCK_WAIT {
                bail!(
                    "the ledger node at {} makes blocks but leaves this party's transactions \
                     pending",
                    self.url()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    fn tip(&self) -> Result<BlockHeader> {
        Ok(self.node.latest_block()?)
    }

    fn outcome(&self, hash: &Hash) -> Result<Option<TxOutcome>> {
        Ok(match self.node.transaction(hash)? {
            TxStatus::Included { outcome, .. } => Some(outcome),
            TxStatus::Rejected(why) => Some(TxOutcome::Failed(format!("not included: {why}"))),
            TxStatus::Pending | TxStatus::Unknown => None,
        })
    }

    fn pending(&self) -> Result<usize> {
        Ok(self.status()?.pending)
    }

    fn is_pending(&self, hash: &Hash) -> Result<bool> {
        Ok(self.node.transaction(hash)? == TxStatus::Pending)
    }

    fn stands(&self, hash: &Hash) -> Result<bool> {
        Ok(matches!(
            self.node.transaction(hash)?,
            TxStatus::Pending
                | TxStatus::Included {
                    outcome: TxOutcome::Applied,
                    ..
                }
        ))
    }
}
