//! The HTTP node: one [`Ledger`] served over a JSON API, producing blocks on a timer.
//!
//! # Threads
//! The ledger is owned by one thread, the one that calls [`Node::run`] (the ledger is a single
//! writer, and it need not be `Send`). HTTP is served by a tokio runtime on
//! [`NodeConfig::workers`] other threads; handlers send jobs to the ledger thread over a queue
//! of at most [`NodeConfig::max_queued_requests`] (`503` when full) and await the answer. Jobs
//! run one at a time, so every answer is read from one consistent state. The ledger thread
//! also produces a block every [`NodeConfig::block_interval`] when a pending transaction can
//! be included (or always, with [`NodeConfig::empty_blocks`]); block time is the wall clock in
//! milliseconds, never before the parent's.
//!
//! # Shutdown
//! [`NodeHandle::shutdown`] (or SIGINT/SIGTERM after [`Node::shutdown_on_signal`]) stops
//! accepting connections; requests in flight are answered; then [`Node::run`] returns, at the
//! latest [`NodeConfig::shutdown_grace`] later. Pending transactions live only in memory and
//! are lost (the ledger file always holds whole blocks).
//!
//! # API
//! All bodies are JSON (the crate's strict JSON, integers exact to 128 bits). Every error is
//! `{"error": "<one line reason>"}` with its status: `400` malformed input (JSON, hex, path,
//! address, hash, height, task id), `404` nothing there, `405` wrong method, `408` body too
//! slow, `409` transaction conflicts with the pool or the chain (duplicate, nonce taken or
//! used, or a nonce gap after the sender's pending ones), `413` body over
//! [`NodeConfig::max_body_bytes`], `422` well-formed but refused transaction (signature, small-
//! order key, chain id, sender, fee range, fees the balance cannot pay, not a task creation),
//! `429` rate limited (with `Retry-After` in seconds) or the sender has the most pending
//! transactions one sender may have (no `Retry-After`: wait for a block), `503` pool or queue
//! full or shutting down, `500` storage failure.
//!
//! # What the pool keeps
//! Only what can run ([`crate::ledger`]): a transaction is **refused** at submission when its
//! nonce is used, taken or leaves a gap, when its sender cannot pay its pending fees plus this
//! one, or when its sender already has [`crate::LedgerConfig::max_pending_per_sender`] pending; an
//! admitted one that can no longer run at block time (its fee no longer payable after the
//! sender's earlier transfers, or a predecessor dropped) is **dropped**. Nothing waits
//! forever, and no block is made for a pool with nothing runnable. `GET /api/tx/{hash}` names
//! the cause of the last [`crate::ledger::REMEMBERED_REJECTIONS`] refusals and drops.
//!
//! | method and path | answer |
//! |---|---|
//! | `POST /api/tx` `{"tx": "<hex of SignedTransaction::encode()>"}` | `202 {"hash", "status": "pending"}` after the stateless checks ([`Ledger::submit`]) |
//! | `GET /api/tx/{hash}` | `{"hash", "status": "included", "height", "index", "ok", "error", "fee"}`, `{"hash", "status": "pending"}`, `{"hash", "status": "refused" \| "dropped", "error"}`, or `404` |
//! | `GET /api/value?path=/a/b` | `{"path", "value"}`; `404` when null; `400` when the subtree has more than [`MAX_VIEW_NODES`] nodes |
//! | `GET /api/rule?path=`, `/api/function?path=`, `/api/owner?path=` | the config that governs the path or pattern: `{"path", "pattern", "bindings", "rule" \| "function" \| "owner"}`; `404` when none |
//! | `GET /api/blocks/{height}`, `GET /api/blocks/latest` | `{"chain_id", "height", "hash", "parent_hash", "timestamp", "tx_root", "state_root", "proposer", "txs": [hash]}` |
//! | `POST /api/blocks` | produces a block now (only with [`NodeConfig::allow_block_requests`], else `403`) |
//! | `GET /api/accounts/{address}` | `{"address", "balance", "nonce", "next_nonce"}`: `nonce` counts included transactions, `next_nonce` also the pending ones (the nonce the account's next transaction takes); zero for an unknown account |
//! | `POST /api/tasks` `{"tx": "<hex>"}` | like `POST /api/tx`, but the op must be a task creation ([`crate::task`]): `202 {"id", "hash", "status": "pending"}` |
//! | `GET /api/tasks/{id}` | `{"id", "owner", "status", "config", "rounds": {"current", "total"}, "providers": {addr: {"stake", "client", "data_root"}}, "proofs", "payouts", "escrow": {"admin", "balance"}}` (a staker that has not registered shows `"client": null, "data_root": null`; absent proofs/payouts are `{}`); `404` when no task |
//! | `GET /api/status` | `{"chain_id", "genesis_hash", "height", "tip_hash", "state_root", "pending", "last_block_error"}` |
//!
//! Hashes, keys and digests are lowercase hex. A path is checked with [`crate::Path::parse`] (or
//! [`crate::PathPattern::parse`] for config look-ups: wildcards allowed).
//!
//! # Rate limit
//! Each client IP has a token bucket ([`RateLimit`]): it holds at most `burst` requests and
//! refills `per_second` per second; a request with no token left gets `429`. Defaults: burst
//! 100, 50 per second. Buckets that have refilled completely are forgotten once more than
//! 65 536 IPs are tracked.

mod api;
pub mod client;
mod host;
mod rate_limit;
mod views;

use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::consensus::SingleValidator;
use crate::genesis::{Genesis, GenesisError};
use crate::keys::{Keypair, PublicKey};
use crate::ledger::{Ledger, LedgerError};
use crate::storage::{Storage, StorageError};

pub use client::NodeClient;
pub use rate_limit::RateLimit;
pub use views::MAX_VIEW_NODES;

use host::{Host, Msg};

/// How a node serves its ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Time between automatic blocks; `None`: no automatic blocks.
    pub block_interval: Option<Duration>,
    /// Produce automatic blocks even with nothing pending.
    pub empty_blocks: bool,
    /// Allow `POST /api/blocks` (produce a block on demand; for tests and tools).
    pub allow_block_requests: bool,
    /// Per-IP rate limit; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest time a client may take to send a request body.
    pub body_timeout: Duration,
    /// Most requests waiting for the ledger thread.
    pub max_queued_requests: usize,
    /// Threads serving HTTP.
    pub workers: usize,
    /// Longest wait for requests in flight at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for NodeConfig {
    /// A block every second, no empty blocks, no on-demand blocks, the default rate limit,
    /// 256 KiB bodies sent within 10 s, 1024 queued requests, 2 workers, 5 s grace.
    fn default() -> NodeConfig {
        NodeConfig {
            block_interval: Some(Duration::from_secs(1)),
            empty_blocks: false,
            allow_block_requests: false,
            rate_limit: Some(RateLimit::default()),
            max_body_bytes: 256 * 1024,
            body_timeout: Duration::from_secs(10),
            max_queued_requests: 1024,
            workers: 2,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Why a node could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not be started.
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(std::io::Error),
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Server(String),
    /// There is no ledger file to serve.
    #[error("no ledger file at {0}")]
    NoLedger(PathBuf),
    /// The ledger file has no (or a bad) genesis config.
    #[error("ledger file {path}: {reason}")]
    BadLedger {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not the ledger's validator.
    #[error("the key {found} is not the validator of this ledger ({expected})")]
    NotValidator {
        /// The validator named in the ledger's blocks.
        expected: PublicKey,
        /// The key given.
        found: PublicKey,
    },
    /// Opening the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Stops a running node from any thread.
#[derive(Clone, Debug)]
pub struct NodeHandle {
    tx: mpsc::Sender<Msg>,
}

impl NodeHandle {
    /// Asks the node to shut down gracefully; returns at once (a stopped node ignores it).
    pub fn shutdown(&self) {
        // A send error means the node has already stopped: nothing to do.
        let _ = self.tx.send(Msg::Shutdown);
    }
}

/// A bound, not yet running node.
pub struct Node {
    runtime: Runtime,
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    config: NodeConfig,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
}

impl Node {
    /// Starts the HTTP runtime and binds `listen` (port 0 picks a free port; see
    /// [`Node::local_addr`]). Nothing is served until [`Node::run`].
    pub fn bind(listen: SocketAddr, config: NodeConfig) -> Result<Node, NodeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers.max(1))
            .thread_name("zkfl-node-http")
            .enable_io()
            .enable_time()
            .build()
            .map_err(NodeError::Runtime)?;
        let bind_err = |source| NodeError::Bind {
            addr: listen,
            source,
        };
        let std_listener = std::net::TcpListener::bind(listen).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let local_addr = std_listener.local_addr().map_err(bind_err)?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind_err)?
        };
        let (tx, rx) = mpsc::channel();
        Ok(Node {
            runtime,
            listener,
            local_addr,
            config,
            tx,
            rx,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to stop the node once it runs.
    pub fn handle(&self) -> NodeHandle {
        NodeHandle {
            tx: self.tx.clone(),
        }
    }

    /// Shuts the node down on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
    pub fn shutdown_on_signal(&self) {
        let handle = self.handle();
        self.runtime.spawn(async move {
            wait_for_signal().await;
            handle.shutdown();
        });
    }

    /// Serves `ledger` on this thread until shut down, then closes it (the file holds every
    /// produced block). An error means the HTTP server failed.
    pub fn run(self, ledger: Ledger<SingleValidator>) -> Result<(), NodeError> {
        let Node {
            runtime,
            listener,
            local_addr: _,
            config,
            tx,
            rx,
        } = self;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = api::router(api::AppState::new(tx.clone(), &config));
        let done = tx.clone();
        runtime.spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let result = axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    // Either a stop request or the node dropping the sender: stop.
                    let _ = stop_rx.await;
                })
                .await;
            let _ = done.send(Msg::ServerStopped(result.err().map(|e| e.to_string())));
        });
        drop(tx);
        let mut host = Host::new(ledger, &config);
        let outcome = host.run(&rx, stop_tx);
        runtime.shutdown_timeout(Duration::from_secs(1));
        outcome
    }

    /// Binds `listen`, stops on SIGINT/SIGTERM, and serves `ledger` on this thread until then.
    pub fn serve(
        ledger: Ledger<SingleValidator>,
        listen: SocketAddr,
        config: NodeConfig,
    ) -> Result<(), NodeError> {
        let node = Node::bind(listen, config)?;
        node.shutdown_on_signal();
        node.run(ledger)
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Opens an existing ledger file with the genesis stored in it, as validator `key` (to make
/// blocks).
pub fn open_existing_ledger(
    ledger_path: &FsPath,
    key: Keypair,
) -> Result<Ledger<SingleValidator>, NodeError> {
    let (genesis, _) = stored_genesis(ledger_path)?;
    let found = key.public();
    let ledger = Ledger::open(ledger_path, &genesis, SingleValidator::new(key))?;
    if ledger.tip().proposer != found {
        return Err(NodeError::NotValidator {
            expected: ledger.tip().proposer,
            found,
        });
    }
    Ok(ledger)
}

/// Opens an existing ledger file to read and verify it, with no secret key: the validator is
/// the one that signed its genesis block, or `validator` when given (then the genesis block
/// must name it). A ledger opened this way cannot make blocks; [`Ledger::verify`] checks every
/// block's signature against that validator.
pub fn open_ledger_to_read(
    ledger_path: &FsPath,
    validator: Option<PublicKey>,
) -> Result<Ledger<SingleValidator>, NodeError> {
    let (genesis, proposer) = stored_genesis(ledger_path)?;
    if let Some(found) = validator.filter(|v| *v != proposer) {
        return Err(NodeError::NotValidator {
            expected: proposer,
            found,
        });
    }
    Ok(Ledger::open(
        ledger_path,
        &genesis,
        SingleValidator::follower(proposer),
    )?)
}

/// The genesis config stored in an existing ledger file, and the proposer of its block 0.
fn stored_genesis(ledger_path: &FsPath) -> Result<(Genesis, PublicKey), NodeError> {
    if !ledger_path.is_file() {
        return Err(NodeError::NoLedger(ledger_path.to_owned()));
    }
    let bad = |reason: String| NodeError::BadLedger {
        path: ledger_path.to_owned(),
        reason,
    };
    let storage = Storage::open(ledger_path).map_err(LedgerError::from)?;
    let genesis_text = storage
        .genesis_json()
        .map_err(|e: StorageError| bad(e.to_string()))?
        .ok_or_else(|| bad("no genesis config stored".to_owned()))?;
    let genesis =
        Genesis::from_json_text(&genesis_text).map_err(|e: GenesisError| bad(e.to_string()))?;
    let block0 = storage
        .block(0)
        .map_err(|e: StorageError| bad(e.to_string()))?
        .ok_or_else(|| bad("no genesis block stored".to_owned()))?;
    Ok((genesis, block0.header.proposer))
}

/// The `zkfl node` entry: serves the existing ledger file at `ledger_path` on `listen` as
/// validator `key`, a block every `block_interval` when transactions are pending (or always,
/// with `empty_blocks`), default limits otherwise; returns after SIGINT/SIGTERM.
pub fn run_node(
    ledger_path: &FsPath,
    listen: SocketAddr,
    key: Keypair,
    block_interval: Duration,
    empty_blocks: bool,
) -> Result<(), NodeError> {
    let ledger = open_existing_ledger(ledger_path, key)?;
    let config = NodeConfig {
        block_interval: Some(block_interval),
        empty_blocks,
        ..NodeConfig::default()
    };
    Node::serve(ledger, listen, config)
}
