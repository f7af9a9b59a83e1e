//! Proving and verifying one training step with Groth16 (the ledger's proof system), beside a
//! plain multiplication chain of the same size proved in the same run (the baseline), and
//! verifying one proof against a batch of eight. `cargo bench --bench proving`;
//! `zkfl bench prover` prints a wider table.

use circuits::field::Bn254;
use circuits::reference::Model;
use circuits::relations::training_step::{self, DEFAULT_EPS, TrainingStepShape};
use circuits::{Groth16, ProofSystem, r1cs};
use criterion::{Criterion, criterion_group, criterion_main};
use prover::StepInstance;
use rand::rngs::OsRng;

fn shape() -> TrainingStepShape {
    TrainingStepShape {
        model: Model::LogReg { inputs: 30 },
        batch: 4,
        depth: 8,
        eps: DEFAULT_EPS,
    }
}

fn proving(c: &mut Criterion) {
    let (step, data) = StepInstance::random(&shape(), 1);
    let tree = data.tree::<Bn254>().expect("tree");
    let witness = step.witness(&data, &tree).expect("witness");
    let (program, assignment) = training_step::build(&step.shape, &witness).expect("build");
    let (pk, vk) = Groth16::keygen(&(), &program, &mut OsRng).expect("setup");
    let (plain, plain_assignment) = r1cs::mul_chain::<Bn254>(program.cost().total as usize);
    let (plain_pk, _) = Groth16::keygen(&(), &plain, &mut OsRng).expect("setup");

    let mut group = c.benchmark_group("Groth16, logreg 30, batch 4");
    group.sample_size(10);
    group.bench_function("prove a plain chain of the same size (baseline)", |b| {
        b.iter(|| Groth16::prove(&(), &plain_pk, &plain, &plain_assignment, &mut OsRng).unwrap())
    });
    group.bench_function("prove the training step", |b| {
        b.iter(|| Groth16::prove(&(), &pk, &program, &assignment, &mut OsRng).unwrap())
    });
    let proof = Groth16::prove(&(), &pk, &program, &assignment, &mut OsRng).expect("proves");
    let public = assignment.public_inputs(&program);
    group.bench_function("verify one proof", |b| {
        b.iter(|| Groth16::verify(&(), &vk, &public, &proof).unwrap())
    });
    let proofs: Vec<r1cs::Proof> = (0..8)
        .map(|_| r1cs::prove(&pk, &program, &assignment, &mut OsRng).expect("proves"))
        .collect();
    let batch: Vec<(&[Bn254], &r1cs::Proof)> = proofs.iter().map(|p| (&public[..], p)).collect();
    group.bench_function("verify a batch of 8 proofs", |b| {
        b.iter(|| r1cs::verify_batch(&vk, &batch, &mut OsRng).unwrap())
    });
    group.finish();
}

criterion_group!(benches, proving);
criterion_main!(benches);
