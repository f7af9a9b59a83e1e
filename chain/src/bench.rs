//! Throughput of signed transfers through the full ledger path, beside raw Ed25519
//! verification in the same run (`zkfl bench ledger`; release builds only).
//!
//! Full path = stateless checks with one signature verification per transaction
//! (`submit`), then per block: nonce and fee checks, rules, the `_transfer` function, the
//! incremental state root, the tx root, the proposer signature and one redb commit. Signing the
//! transactions is done beforehand and not timed. Single-threaded.
//!
//! Shards: the same number of transfers split over 1 and over 2 shards
//! ([`chain::ShardSet`]), each shard a child ledger with its own file, applying its blocks
//! (submit with one verification per transaction, then produce) in its own thread; then each
//! shard reports every block to a parent ledger, which includes the reports in one block.
//! Timed: child submit + produce (in parallel) + report submission + the parent block.

use std::path::Path as FsPath;
use std::time::Instant;

use crate::account::Address;
use crate::keys::Domain;
use crate::ledger::LedgerConfig;
use crate::shard::Shard;
use crate::workload::Workload;
use crate::{Builtins, Keypair, Ledger, Op, Path, ShardSet, SingleValidator, Transaction};

/// The figures of one run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LedgerBench {
    /// Transfers measured.
    pub transactions: usize,
    /// Transfers per block.
    pub per_block: usize,
    /// Raw ed25519 verifications per second, one by one.
    pub raw_single: f64,
    /// Raw ed25519 verifications per second, batched per block.
    pub raw_batch: f64,
    /// Transactions per second through the full path, one verification each.
    pub full: f64,
    /// Microseconds per transaction in `submit`.
    pub submit_us: f64,
    /// Microseconds per transaction in `produce_block`.
    pub produce_us: f64,
    /// Transactions per second through the full path with batched signature checks.
    pub full_batch: f64,
    /// Transactions per second re-applied by `verify()`.
    pub replay: f64,
    /// Cores available to this process.
    pub cores: usize,
    /// Transactions per second on one shard reporting to a parent.
    pub one_shard: f64,
    /// Transactions per second on two shards applying blocks in parallel.
    pub two_shards: f64,
}

/// Runs the benchmark with `blocks` blocks of `per_block` transfers, ledger files under `dir`
/// (removed afterwards).
///
/// # Panics
/// If a ledger rejects the generated workload or its files cannot be written: the workload is
/// valid by construction, so that is a bug or a full disk, not a result.
pub fn run(blocks: usize, per_block: usize, dir: &FsPath) -> LedgerBench {
    let total = blocks * per_block;

    // Raw verification: one key per signature, one by one, then in batches of a block.
    let keys: Vec<Keypair> = (0..1000u32)
        .map(|i| crate::workload::derived_key(1, "raw", u64::from(i)))
        .collect();
    let items: Vec<_> = (0..total)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let hash = [(i % 251) as u8; 32];
            (key.public(), hash, key.sign(Domain::Transaction, &hash))
        })
        .collect();
    let start = Instant::now();
    for (public, hash, sig) in &items {
        public
            .verify(Domain::Transaction, hash, sig)
            .expect("valid");
    }
    let raw = total as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for chunk in items.chunks(per_block) {
        let mut batch = crate::keys::BatchVerifier::new();
        for (public, hash, sig) in chunk {
            batch.queue(*public, Domain::Transaction, *hash, *sig);
        }
        batch.verify().expect("valid");
    }
    let raw_batch = total as f64 / start.elapsed().as_secs_f64();

    // Full path.
    std::fs::create_dir_all(dir).expect("bench dir");
    let path = dir.join("bench.redb");
    let mut workload = Workload::new("bench", 1000, 1_000_000_000, 9);
    let key = Keypair::from_secret(workload.validator.secret());
    let config = LedgerConfig {
        max_block_txs: per_block,
        max_mempool: total + 1,
        max_pending_per_sender: total + 1,
    };
    let mut ledger = Ledger::open_with(
        &path,
        &workload.genesis,
        SingleValidator::new(key),
        Box::new(Builtins::new()),
        config,
    )
    .expect("open bench ledger");
    let time = ledger.tip().timestamp + 1;
    let txs = workload.transfers(&ledger, total, 1, time);

    let start = Instant::now();
    for tx in txs.clone() {
        ledger.submit(tx).expect("valid transaction");
    }
    let submit_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut included = 0;
    for b in 0..blocks {
        included += ledger
            .produce_block(time + b as u64)
            .expect("block")
            .txs
            .len();
    }
    let produce_secs = start.elapsed().as_secs_f64();
    assert_eq!(included, total, "every transfer included");
    let full = total as f64 / (submit_secs + produce_secs);

    // The same transactions with batch signature checks, on a fresh ledger.
    let path2 = dir.join("bench2.redb");
    let key = Keypair::from_secret(workload.validator.secret());
    let mut ledger2 = Ledger::open_with(
        &path2,
        &workload.genesis,
        SingleValidator::new(key),
        Box::new(Builtins::new()),
        LedgerConfig {
            max_block_txs: per_block,
            max_mempool: total + 1,
            max_pending_per_sender: total + 1,
        },
    )
    .expect("open bench ledger");
    let start = Instant::now();
    for chunk in txs.chunks(per_block) {
        for r in ledger2.submit_batch(chunk.to_vec()) {
            r.expect("valid transaction");
        }
        ledger2.produce_block(time).expect("block");
    }
    let full_batch = total as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let report = ledger.verify().expect("verify");
    let verify_secs = start.elapsed().as_secs_f64();
    drop((ledger, ledger2));
    let one_shard = shard_bench(&dir.join("one"), 1, blocks, per_block);
    let two_shards = shard_bench(&dir.join("two"), 2, blocks, per_block);
    let _ = std::fs::remove_dir_all(dir);

    LedgerBench {
        transactions: total,
        per_block,
        raw_single: raw,
        raw_batch,
        full,
        submit_us: 1e6 * submit_secs / total as f64,
        produce_us: 1e6 * produce_secs / total as f64,
        full_batch,
        replay: report.txs as f64 / verify_secs,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        one_shard,
        two_shards,
    }
}

/// Transfers per second with `total = blocks * per_block` transfers split evenly over
/// `shards` child ledgers (blocks of `per_block`) under `dir`, produced in parallel and
/// reported to a parent every block.
fn shard_bench(dir: &FsPath, shards: usize, blocks: usize, per_block: usize) -> f64 {
    std::fs::create_dir_all(dir).expect("temp dir");
    let parent_work = Workload::new("parent", 1, 1, 40);
    let root = Keypair::from_secret(parent_work.validator.secret());
    // Each shard's reporter sends one report per shard block before the parent's one block.
    let mut parent = Ledger::open_with(
        &dir.join("parent.redb"),
        &parent_work.genesis,
        SingleValidator::new(Keypair::from_secret(root.secret())),
        Box::new(Builtins::new()),
        LedgerConfig {
            max_pending_per_sender: blocks + 1,
            ..LedgerConfig::default()
        },
    )
    .expect("open parent");
    let total = blocks * per_block;
    let mut set = Vec::new();
    let mut txs = Vec::new();
    for s in 0..shards {
        let mut work = Workload::new(&format!("shard{s}"), 1000, 1_000_000_000, 50 + s as u64);
        let ledger = Ledger::open_with(
            &dir.join(format!("shard{s}.redb")),
            &work.genesis,
            SingleValidator::new(Keypair::from_secret(work.validator.secret())),
            Box::new(Builtins::new()),
            LedgerConfig {
                max_block_txs: per_block,
                max_mempool: total + 1,
                max_pending_per_sender: total + 1,
            },
        )
        .expect("open shard");
        let time = ledger.tip().timestamp + 1;
        let count = total / shards + usize::from(s < total % shards);
        txs.push(work.transfers(&ledger, count, 1, time));
        let at = Path::parse(&format!("/apps/shard{s}")).expect("valid path");
        let reporter = crate::workload::derived_key(40, "reporter", s as u64);
        set.push(Shard::new(at, ledger, reporter, 1, 0).expect("period 1"));
    }
    let mut set = ShardSet::new(set);
    // Branch every shard on the parent (not timed).
    let branches = set
        .shards()
        .iter()
        .map(|shard| Op::SetShard {
            path: shard.path().clone(),
            config: shard.config(Address::of(&root.public())),
        })
        .collect();
    let tx = Transaction::new("parent", &root.public(), 0, 0, 1, Op::Set(branches));
    parent.submit(tx.sign(&root)).expect("branch");
    let mut time = parent.tip().timestamp + 1;
    parent.produce_block(time).expect("parent block");

    let start = Instant::now();
    let applied = set.par_zip(txs, |shard, txs| {
        let mut pending = txs.into_iter().peekable();
        let mut count = 0;
        while pending.peek().is_some() {
            for tx in pending.by_ref().take(per_block) {
                shard.ledger_mut().submit(tx).expect("valid transaction");
            }
            let now = shard.ledger().tip().timestamp + 1;
            count += shard.produce_block(now).expect("block").txs.len();
        }
        count
    });
    let reports = set.submit_reports(&mut parent, time).expect("reports");
    time += 1;
    let parent_block = parent.produce_block(time).expect("parent block");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        applied.iter().sum::<usize>(),
        total,
        "every transfer included"
    );
    assert_eq!(
        parent_block.txs.len(),
        reports.len(),
        "every report included"
    );
    for shard in set.shards() {
        let audit =
            crate::shard::audit_shard(&parent, shard.path(), shard.ledger()).expect("audit");
        assert_eq!(audit.latest, Some(shard.ledger().tip().height));
    }
    total as f64 / secs
}
