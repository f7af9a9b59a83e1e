//! Running shards: a child ledger with its reporter, and a set of them producing in parallel.
//!
//! A [`Shard`] owns a child [`Ledger`] (its own file, chain id and validator) and the
//! reporter's key for the parent. [`Shard::submit_reports`] sends the parent one signed
//! `REPORT_SHARD` transaction for each final child block that is a multiple of the period and
//! lies after both the parent's latest report and the last one this shard submitted. So a
//! shard that restarts catches up from the parent's record, and a report is submitted at most
//! once per `Shard` value (one whose transaction is lost, e.g. because the parent restarted
//! before including it, is skipped; the next period's report still lands).
//!
//! Reporter nonces: the parent's next nonce for the reporter, counting its reports still pending
//! there ([`Ledger::next_nonce`]); the parent admits no nonce gap.
//!
//! A [`ShardSet`] runs work on all its shards at once, one scoped thread per shard
//! ([`std::thread::scope`]). Shards share nothing (each ledger has its own file and state), so
//! they need no locking; the parent is touched only afterwards, on the calling thread.

use crate::account::Address;
use crate::block::Block;
use crate::consensus::{Consensus, SingleValidator};
use crate::keys::Keypair;
use crate::ledger::{Ledger, LedgerError};
use crate::ops::Op;
use crate::path::Path;
use crate::shard::{ShardConfig, ShardError, ShardReport};
use crate::store::Hash;
use crate::tx::Transaction;

/// Why running a shard or submitting its reports failed.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    /// A shard needs a reporting period of at least one block.
    #[error("shard {0}: the reporting period must be at least 1")]
    ZeroPeriod(String),
    /// The child ledger failed.
    #[error("shard {shard}: child ledger: {source}")]
    Child {
        /// The shard's path.
        shard: String,
        /// Why (boxed to keep the error small).
        source: Box<LedgerError>,
    },
    /// The parent refused a report transaction.
    #[error("shard {shard}: parent refused the report of block {block_number}: {source}")]
    Parent {
        /// The shard's path.
        shard: String,
        /// The report's block.
        block_number: u64,
        /// Why (boxed to keep the error small).
        source: Box<LedgerError>,
    },
    /// The parent's shard state could not be read.
    #[error(transparent)]
    State(#[from] ShardError),
}

/// A child chain and its reporter.
pub struct Shard<C: Consensus = SingleValidator> {
    path: Path,
    ledger: Ledger<C>,
    reporter: Keypair,
    period: u64,
    fee: u128,
    /// Highest block number submitted to the parent by this value (0: none).
    submitted: u64,
}

impl<C: Consensus> Shard<C> {
    /// The shard at `path` on the parent, run by `ledger`, reporting every `period` blocks
    /// with `reporter`'s key and paying `fee` per report.
    pub fn new(
        path: Path,
        ledger: Ledger<C>,
        reporter: Keypair,
        period: u64,
        fee: u128,
    ) -> Result<Shard<C>, ReporterError> {
        if period == 0 {
            return Err(ReporterError::ZeroPeriod(path.to_string()));
        }
        Ok(Shard {
            path,
            ledger,
            reporter,
            period,
            fee,
            submitted: 0,
        })
    }

    /// The shard's path on the parent.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The child ledger.
    pub fn ledger(&self) -> &Ledger<C> {
        &self.ledger
    }

    /// The child ledger, to submit transactions to it.
    pub fn ledger_mut(&mut self) -> &mut Ledger<C> {
        &mut self.ledger
    }

    /// The reporter's address on the parent.
    pub fn reporter(&self) -> Address {
        Address::of(&self.reporter.public())
    }

    /// The config to branch this shard with on the parent.
    pub fn config(&self, shard_owner: Address) -> ShardConfig {
        ShardConfig {
            shard_owner,
            reporter: self.reporter(),
            reporting_period: self.period,
            chain_id: self.ledger.chain_id().to_owned(),
        }
    }

    /// Produces the next child block at `time`.
    pub fn produce_block(&mut self, time: u64) -> Result<Block, ReporterError> {
        self.ledger
            .produce_block(time)
            .map_err(|source| ReporterError::Child {
                shard: self.path.to_string(),
                source: Box::new(source),
            })
    }

    /// The reports owed to a parent whose latest record for this shard is `parent_latest`:
    /// final child blocks at multiples of the period after it and after the last submitted.
    pub fn due_reports(
        &self,
        parent_latest: Option<u64>,
    ) -> Result<Vec<ShardReport>, ReporterError> {
        let tip = self.ledger.tip().height;
        let after = parent_latest.unwrap_or(0).max(self.submitted);
        let first = (after / self.period + 1).saturating_mul(self.period);
        let mut due = Vec::new();
        let mut height = first;
        while height <= tip && self.ledger.consensus.is_final(height, tip) {
            let block = self
                .ledger
                .block(height)
                .map_err(|source| ReporterError::Child {
                    shard: self.path.to_string(),
                    source: Box::new(source),
                })?;
            let Some(block) = block else { break };
            due.push(ShardReport::of(&block.header));
            height = match height.checked_add(self.period) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(due)
    }

    /// Signs and submits the due reports to `parent` (see the module docs); returns the
    /// transaction hashes. Stops at the first refusal, keeping what was submitted before.
    pub fn submit_reports<P: Consensus>(
        &mut self,
        parent: &mut Ledger<P>,
        time: u64,
    ) -> Result<Vec<Hash>, ReporterError> {
        let parent_latest = parent.shard_latest(&self.path)?;
        let reporter = self.reporter();
        let mut hashes = Vec::new();
        for report in self.due_reports(parent_latest)? {
            // After its pending reports, this one's included (admission leaves no nonce gaps).
            let nonce = parent.next_nonce(&reporter);
            let op = Op::ReportShard {
                path: self.path.clone(),
                report,
            };
            let tx = Transaction::new(
                parent.chain_id(),
                &self.reporter.public(),
                nonce,
                self.fee,
                time,
                op,
            );
            let hash =
                parent
                    .submit(tx.sign(&self.reporter))
                    .map_err(|source| ReporterError::Parent {
                        shard: self.path.to_string(),
                        block_number: report.block_number,
                        source: Box::new(source),
                    })?;
            hashes.push(hash);
            self.submitted = report.block_number;
        }
        Ok(hashes)
    }
}

/// Shards that run side by side, each in its own thread while working.
pub struct ShardSet<C: Consensus = SingleValidator> {
    shards: Vec<Shard<C>>,
}

impl<C: Consensus + Send> ShardSet<C> {
    /// A set of shards (their paths should differ; the parent enforces that they do not
    /// overlap when they are branched).
    pub fn new(shards: Vec<Shard<C>>) -> ShardSet<C> {
        ShardSet { shards }
    }

    /// The shards, in the order given.
    pub fn shards(&self) -> &[Shard<C>] {
        &self.shards
    }

    /// The shards, mutably (e.g. to submit child transactions).
    pub fn shards_mut(&mut self) -> &mut [Shard<C>] {
        &mut self.shards
    }

    /// Runs `work` on every shard at once, one scoped thread per shard; one result per shard,
    /// in order. A panic in `work` is re-raised here.
    pub fn par_each<R, F>(&mut self, work: F) -> Vec<R>
    where
        R: Send,
        F: Fn(&mut Shard<C>) -> R + Sync,
    {
        let inputs = vec![(); self.shards.len()];
        self.par_zip(inputs, |shard, ()| work(shard))
    }

    /// Like [`ShardSet::par_each`] with one input per shard, in order (e.g. each shard's own
    /// transactions). Pairs stop at the shorter of the two lists.
    pub fn par_zip<T, R, F>(&mut self, inputs: Vec<T>, work: F) -> Vec<R>
    where
        T: Send,
        R: Send,
        F: Fn(&mut Shard<C>, T) -> R + Sync,
    {
        let work = &work;
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .shards
                .iter_mut()
                .zip(inputs)
                .map(|(shard, input)| scope.spawn(move || work(shard, input)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    /// Every shard produces its next block at `time`, in parallel.
    pub fn produce_blocks(&mut self, time: u64) -> Vec<Result<Block, ReporterError>> {
        self.par_each(|shard| shard.produce_block(time))
    }

    /// Submits every shard's due reports to `parent` (on this thread); returns the report
    /// transaction hashes. Stops at the first refusal.
    pub fn submit_reports<P: Consensus>(
        &mut self,
        parent: &mut Ledger<P>,
        time: u64,
    ) -> Result<Vec<Hash>, ReporterError> {
        let mut hashes = Vec::new();
        for shard in &mut self.shards {
            hashes.extend(shard.submit_reports(parent, time)?);
        }
        Ok(hashes)
    }
}
