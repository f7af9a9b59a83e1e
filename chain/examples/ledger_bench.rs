//! Throughput of signed transfers through the full ledger path, beside raw Ed25519
//! verification in the same run.
//!
//! Run: `cargo run --release --example ledger_bench [blocks] [txs per block]` (defaults 10 and
//! 500). Full path = stateless checks with one signature verification per transaction
//! (`submit`), then per block: nonce and fee checks, rules, the `_transfer` function, the
//! incremental state root, the tx root, the proposer signature and one redb commit. Signing the
//! transactions is done beforehand and not timed. Single-threaded.

use std::time::Instant;

use chain::keys::Domain;
use chain::ledger::LedgerConfig;
use chain::workload::Workload;
use chain::{Builtins, Keypair, Ledger, SingleValidator};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let blocks = args.first().copied().unwrap_or(10);
    let per_block = args.get(1).copied().unwrap_or(500);
    let total = blocks * per_block;

    // Raw verification: one key per signature, one by one, then in batches of a block.
    let keys: Vec<Keypair> = (0..1000u32)
        .map(|i| chain::workload::derived_key(1, "raw", u64::from(i)))
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
        let mut batch = chain::keys::BatchVerifier::new();
        for (public, hash, sig) in chunk {
            batch.queue(*public, Domain::Transaction, *hash, *sig);
        }
        batch.verify().expect("valid");
    }
    let raw_batch = total as f64 / start.elapsed().as_secs_f64();

    // Full path.
    let dir = std::env::temp_dir().join(format!("zkfl-ledger-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.redb");
    let mut workload = Workload::new("bench", 1000, 1_000_000_000, 9);
    let key = Keypair::from_secret(workload.validator.secret());
    let config = LedgerConfig {
        max_block_txs: per_block,
        max_mempool: total + 1,
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
    let _ = std::fs::remove_dir_all(&dir);

    println!("transactions: {total} in {blocks} blocks of {per_block}");
    println!("raw ed25519 verify (single):      {raw:>9.0} /s");
    println!("raw ed25519 verify (batch {per_block}):  {raw_batch:>9.0} /s");
    println!(
        "full path, single verify:         {full:>9.0} tx/s = {:.0}% of raw single",
        100.0 * full / raw
    );
    println!(
        "  submit (stateless + verify):    {:>9.1} µs/tx",
        1e6 * submit_secs / total as f64
    );
    println!(
        "  produce (apply, roots, commit): {:>9.1} µs/tx",
        1e6 * produce_secs / total as f64
    );
    println!(
        "full path, batch verify:          {full_batch:>9.0} tx/s = {:.0}% of raw single",
        100.0 * full_batch / raw
    );
    println!(
        "verify() replay of {} blocks:       {:>9.0} tx/s",
        report.blocks,
        report.txs as f64 / verify_secs
    );
}
