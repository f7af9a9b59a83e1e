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
use chain::node::client::TxStatus;
use chain::store::Hash;
use chain::{Address, BlockHeader, Keypair, Op, Path, SignedTransaction, Transaction};
use chain::{TxOutcome, Value};

use super::ledger::{FEE, LedgerClient};

/// How often a wait for a block asks the node.
const POLL: Duration = Duration::from_millis(100);

/// A node's ledger over HTTP.
pub struct RemoteLedger {
    node: NodeClient,
    chain_id: String,
    /// Transactions submitted and not yet seen in a block.
    submitted: Mutex<Vec<Hash>>,
}

impl RemoteLedger {
    /// The longest wait for a block.
    pub const BLOCK_WAIT: Duration = Duration::from_secs(60);

    /// Connects to the node at `url` (`http://HOST:PORT`) and reads its chain id.
    ///
    /// Errors: a bad URL, or a node that does not answer within the client's patience.
    pub fn connect(url: &str) -> Result<RemoteLedger> {
        let node = NodeClient::new(url)?;
        let chain_id = node
            .status()
            .with_context(|| format!("the ledger node at {url}"))?
            .chain_id;
        Ok(RemoteLedger {
            node,
            chain_id,
            submitted: Mutex::new(Vec::new()),
        })
    }

    /// The node's URL.
    pub fn url(&self) -> String {
        self.node.url()
    }

    /// Whether every transaction this client submitted has left the pool (dropping the ones
    /// that have).
    fn own_settled(&self) -> Result<bool> {
        let mut submitted = self.submitted.lock().unwrap_or_else(|e| e.into_inner());
        let mut still = Vec::new();
        for hash in submitted.iter() {
            if self.node.transaction(hash)? == TxStatus::Pending {
                still.push(*hash);
            }
        }
        *submitted = still;
        Ok(submitted.is_empty())
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
        self.submitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(hash);
        Ok(hash)
    }

    fn get(&self, path: &Path) -> Result<Value> {
        Ok(self.node.value(path)?)
    }

    fn make_block(&self) -> Result<BlockHeader> {
        let start = self.node.status()?.height;
        let began = Instant::now();
        let mut last = (start, Instant::now());
        loop {
            let status = self.node.status()?;
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
        Ok(self.node.status()?.pending)
    }
}
