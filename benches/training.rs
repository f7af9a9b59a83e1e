//! Local training on burn, with and without the proof-of-learning log (one checkpoint per
//! step, committed for the proof systems): what logging costs beside the training it records.
//! `cargo bench --bench training`; `zkfl bench train` prints the same comparison as a table.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use fl::federation::{Federation, FederationConfig, RunDir};
use fl::train::TrainConfig;
use prover::PoseidonCommitter;

/// Softmax regression 64→10 on digits, one provider's share, one local epoch.
fn federation(pol_every: u32) -> Federation {
    let config = FederationConfig {
        model: "softmax".into(),
        rounds: 1,
        pol_every,
        train: TrainConfig {
            local_epochs: 1,
            drop_last: true,
            ..TrainConfig::default()
        },
        ..FederationConfig::default()
    };
    let federation = Federation::new(config).expect("the default task is valid");
    let params = federation.spec().param_count();
    federation.with_committer(Arc::new(PoseidonCommitter { params }))
}

fn training(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = RunDir::create(tmp.path()).expect("run dir");
    let mut group = c.benchmark_group("local epoch, softmax 64-10, digits");
    group.sample_size(10);
    for (name, every) in [("no log (baseline)", 0), ("logged and committed, k=1", 1)] {
        let federation = federation(every);
        let global = federation.spec().init_params(0);
        group.bench_function(name, |b| {
            b.iter(|| {
                federation
                    .train_client(&dir, 1, 0, &global)
                    .expect("trains")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
