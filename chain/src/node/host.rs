//! The ledger thread: runs queued jobs one at a time and produces blocks on schedule.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::block::Block;
use crate::consensus::SingleValidator;
use crate::ledger::{Ledger, LedgerError};

use super::{NodeConfig, NodeError};

/// Work for the ledger thread.
pub(crate) type Job = Box<dyn FnOnce(&mut Host) + Send>;

/// A message to the ledger thread.
pub(crate) enum Msg {
    /// Run this job.
    Job(Job),
    /// Stop accepting connections, finish what is in flight, then stop.
    Shutdown,
    /// The HTTP server has stopped (with its error, if any).
    ServerStopped(Option<String>),
}

/// The ledger and what the node keeps beside it; owned by the ledger thread.
pub(crate) struct Host {
    /// The served ledger.
    pub ledger: Ledger<SingleValidator>,
    /// Why the last automatic block failed, if it did.
    pub last_block_error: Option<String>,
    block_interval: Option<Duration>,
    empty_blocks: bool,
    shutdown_grace: Duration,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Host {
    pub(crate) fn new(ledger: Ledger<SingleValidator>, config: &NodeConfig) -> Host {
        Host {
            ledger,
            last_block_error: None,
            block_interval: config.block_interval,
            empty_blocks: config.empty_blocks,
            shutdown_grace: config.shutdown_grace,
        }
    }

    /// Produces the next block now (wall-clock time, never before the parent's).
    pub(crate) fn produce_block(&mut self) -> Result<Block, LedgerError> {
        let time = now_ms().max(self.ledger.tip().timestamp);
        self.ledger.produce_block(time)
    }

    /// The timer's block: always with [`NodeConfig::empty_blocks`](super::NodeConfig), else
    /// only when a pending transaction can be included.
    fn scheduled_block(&mut self) {
        if self.empty_blocks {
            self.last_block_error = self.produce_block().err().map(|e| e.to_string());
        } else if self.ledger.pending() > 0 {
            let time = now_ms().max(self.ledger.tip().timestamp);
            self.last_block_error = self
                .ledger
                .produce_block_if_any(time)
                .err()
                .map(|e| e.to_string());
        }
    }

    /// Serves messages until the server has stopped after a shutdown (or the grace period
    /// ran out). `stop` tells the server to stop accepting connections.
    pub(crate) fn run(
        &mut self,
        rx: &Receiver<Msg>,
        stop: tokio::sync::oneshot::Sender<()>,
    ) -> Result<(), NodeError> {
        let mut stop = Some(stop);
        let mut next_block = self.block_interval.map(|i| Instant::now() + i);
        let mut give_up: Option<Instant> = None;
        loop {
            let deadline = match (next_block, give_up) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let msg = match deadline {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match msg {
                Ok(Msg::Job(job)) => job(self),
                Ok(Msg::Shutdown) => {
                    if let Some(stop) = stop.take() {
                        // The server may already be gone; then ServerStopped is queued.
                        let _ = stop.send(());
                        give_up = Some(Instant::now() + self.shutdown_grace);
                    }
                }
                Ok(Msg::ServerStopped(error)) => {
                    return match error {
                        Some(e) => Err(NodeError::Server(e)),
                        None => Ok(()),
                    };
                }
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if give_up.is_some_and(|at| at <= now) {
                        return Ok(());
                    }
                    if let (Some(at), Some(interval)) = (next_block, self.block_interval)
                        && at <= now
                    {
                        self.scheduled_block();
                        next_block = Some(Instant::now() + interval);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }
}

/// Sends jobs to the ledger thread, refusing when too many are queued.
#[derive(Clone)]
pub(crate) struct LedgerClient {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
}

/// Why a job did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// Too many jobs are queued.
    Busy,
    /// The ledger thread has stopped.
    Stopped,
}

impl LedgerClient {
    pub(crate) fn new(tx: Sender<Msg>, max_queued: usize) -> LedgerClient {
        LedgerClient {
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            max_queued,
        }
    }

    /// Runs `job` on the ledger thread and returns its result.
    pub(crate) async fn call<T, F>(&self, job: F) -> Result<T, Unavailable>
    where
        T: Send + 'static,
        F: FnOnce(&mut Host) -> T + Send + 'static,
    {
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Unavailable::Busy);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Arc::clone(&self.queued);
        let wrapped: Job = Box::new(move |host| {
            queued.fetch_sub(1, Ordering::SeqCst);
            // The client may have gone away; its answer is then not needed.
            let _ = reply.send(job(host));
        });
        if self.tx.send(Msg::Job(wrapped)).is_err() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Unavailable::Stopped);
        }
        answer.await.map_err(|_| Unavailable::Stopped)
    }
}
