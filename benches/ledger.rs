//! Ledger throughput: a block of 500 signed transfers through the full path (stateless checks
//! with one signature verification each, then the block: nonces, fees, rules, `_transfer`,
//! state root, redb commit), beside verifying the same 500 signatures alone (the baseline).
//! `cargo bench --bench ledger`; `zkfl bench ledger` adds replay and shards.

use chain::keys::Domain;
use chain::workload::Workload;
use chain::{Ledger, SingleValidator};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const PER_BLOCK: usize = 500;

fn ledger(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("500 signed transfers");
    group.sample_size(20);
    let workload = Workload::new("bench", 1000, 1_000_000_000, 9);
    let signatures: Vec<_> = workload.accounts[..PER_BLOCK]
        .iter()
        .map(|key| {
            let hash = [7u8; 32];
            (key.public(), hash, key.sign(Domain::Transaction, &hash))
        })
        .collect();
    group.bench_function("verify the signatures alone (baseline)", |b| {
        b.iter(|| {
            for (public, hash, sig) in &signatures {
                public.verify(Domain::Transaction, hash, sig).unwrap();
            }
        })
    });
    let mut run = 0u32;
    group.bench_function("submit and make a block", |b| {
        b.iter_batched(
            || {
                run += 1;
                let mut workload = Workload::new("bench", 1000, 1_000_000_000, 9);
                let key = chain::Keypair::from_secret(workload.validator.secret());
                let path = tmp.path().join(format!("bench-{run}.redb"));
                let ledger = Ledger::open(&path, &workload.genesis, SingleValidator::new(key))
                    .expect("ledger");
                let time = ledger.tip().timestamp + 1;
                let txs = workload.transfers(&ledger, PER_BLOCK, 1, time);
                (ledger, txs, time)
            },
            |(mut ledger, txs, time)| {
                for tx in txs {
                    ledger.submit(tx).unwrap();
                }
                ledger.produce_block(time).unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, ledger);
criterion_main!(benches);
