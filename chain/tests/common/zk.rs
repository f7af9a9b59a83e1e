//! Real Groth16 proofs of tiny training steps (softmax 2→2, batch 1, data tree of depth 1),
//! with keys made once per test binary.

use std::sync::OnceLock;

use circuits::field::Bn254;
use circuits::gadgets::commit::DataTree;
use circuits::r1cs::{self, Encoding, ProvingKey, VerifyingKey};
use circuits::reference::{Model, fixed_step};
use circuits::relations::training_step::{
    DEFAULT_EPS, TrainingStepShape, TrainingStepWitness, build, dummy_witness, public_inputs,
};
use circuits::{Field, Program};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use verifier::{Backend, ProofFile, StepOrigin, TRAINING_STEP};

/// The learning rate of every proven step (≈ 0.1 at 2^16).
pub const LR: i64 = 6554;

/// The tiny shape.
pub fn shape() -> TrainingStepShape {
    TrainingStepShape {
        model: Model::Softmax {
            inputs: 2,
            classes: 2,
        },
        batch: 1,
        depth: 1,
        eps: DEFAULT_EPS,
    }
}

/// The shape's program, proving key and verifying key (made once).
pub fn keys() -> &'static (Program, ProvingKey, VerifyingKey) {
    static KEYS: OnceLock<(Program, ProvingKey, VerifyingKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let witness = dummy_witness::<Bn254>(&shape()).expect("tiny shape is valid");
        let (program, _) = build(&shape(), &witness).expect("dummy witness fits");
        let (pk, vk) = r1cs::setup(&program, &mut ChaCha8Rng::seed_from_u64(7)).expect("setup");
        (program, pk, vk)
    })
}

/// A provider's data set: two rows of two features.
pub struct Dataset {
    rows: Vec<Vec<i64>>,
    labels: Vec<u32>,
    tree: DataTree<Bn254>,
}

impl Dataset {
    /// Data set number `seed` (different seeds give different roots).
    pub fn new(seed: i64) -> Dataset {
        let rows = vec![vec![300 + seed, -200], vec![-150, 250 - seed]];
        let labels = vec![0, 1];
        let tree = DataTree::new(&rows, &labels, 1).expect("two rows fit depth 1");
        Dataset { rows, labels, tree }
    }

    /// The data root, canonical little-endian bytes.
    pub fn root(&self) -> [u8; 32] {
        self.tree.root().to_le_bytes()
    }

    /// Parameters after `steps` honest steps from a fixed start (row `i % 2` at step `i`).
    pub fn trajectory(&self, steps: usize) -> Vec<Vec<i64>> {
        self.trajectory_from(0, steps)
    }

    /// [`Dataset::trajectory`] from a start moved by `shift` (another round's).
    pub fn trajectory_from(&self, shift: i64, steps: usize) -> Vec<Vec<i64>> {
        let mut params = vec![vec![1200i64 + shift, -800, 400, 1600, -300, 700]];
        for i in 0..steps {
            let (rows, labels) = (&self.rows[i % 2..i % 2 + 1], &self.labels[i % 2..i % 2 + 1]);
            let next = fixed_step::step(&shape().model, &params[i], rows, labels, LR)
                .expect("inputs in range");
            params.push(next);
        }
        params
    }

    /// The BN254 commitments of a trajectory.
    pub fn commitments(&self, params: &[Vec<i64>]) -> Vec<[u8; 32]> {
        params
            .iter()
            .map(|p| {
                circuits::gadgets::commit::commit_params::<Bn254>(p)
                    .expect("parameters in range")
                    .to_le_bytes()
            })
            .collect()
    }

    /// A proof file of step `step` of `params` (from `params[step]` to `params[step + 1]`),
    /// made with prover randomness `seed`.
    pub fn prove(
        &self,
        params: &[Vec<i64>],
        step: usize,
        origin: StepOrigin,
        seed: u64,
    ) -> ProofFile {
        let i = step % 2;
        let witness = TrainingStepWitness {
            params_t: params[step].clone(),
            params_t1: params[step + 1].clone(),
            lr: LR,
            rows: vec![self.rows[i].clone()],
            labels: vec![self.labels[i]],
            indices: vec![i as u64],
            paths: vec![self.tree.path(i as u64).expect("row exists")],
            masks: Vec::new(),
        };
        let (program, pk, _) = keys();
        let (built, assignment) = build(&shape(), &witness).expect("witness fits the shape");
        assert_eq!(built.digest(), program.digest(), "same shape, same program");
        let inputs = public_inputs(&shape(), &witness).expect("in range");
        let proof = r1cs::prove(
            pk,
            &built,
            &assignment,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
        .expect("honest witness proves");
        ProofFile {
            backend: Backend::Groth16,
            relation: TRAINING_STEP.to_owned(),
            shape: serde_json::to_string(&shape()).expect("shape serializes"),
            program_digest: program.digest(),
            origin,
            public_inputs: inputs.iter().map(Field::to_le_bytes).collect(),
            proof: proof.to_bytes(),
        }
    }
}

/// The task's verifier config for the tiny shape, allowing [`LR`].
pub fn proof_config() -> chain::settlement::ProofConfig {
    let (program, _, vk) = keys();
    chain::settlement::ProofConfig::new(shape(), program.digest(), vk, [LR])
        .expect("a valid config")
}
