//! Random training-step instances for the relation's tests, and checks every relation's tests
//! share.

#![allow(dead_code)] // each test binary uses part of this module

use circuits::field::Bn254;
use circuits::gadgets::commit::DataTree;
use circuits::reference::{Model, fixed_step};
use circuits::relations::training_step::{TrainingStepShape, TrainingStepWitness};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A data set, a batch drawn from it and an honest step.
pub struct Instance {
    pub shape: TrainingStepShape,
    pub witness: TrainingStepWitness<Bn254>,
    pub data: Vec<Vec<i64>>,
    pub data_labels: Vec<u32>,
    pub tree: DataTree<Bn254>,
}

/// Small shapes: d = 4, c = 3, hidden 5.
pub fn small_models() -> [Model; 3] {
    [
        Model::LogReg { inputs: 4 },
        Model::Softmax {
            inputs: 4,
            classes: 3,
        },
        Model::Mlp {
            inputs: 4,
            hidden: 5,
            classes: 3,
        },
    ]
}

/// An honest instance: `n` rows with `|x| < 4`, parameters with `|w| < 1`, learning rate up to
/// 0.2, a sorted batch of distinct rows, `params_t1` the rounded reference step.
pub fn instance(model: Model, batch: usize, depth: u32, n: usize, eps: i64, seed: u64) -> Instance {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let classes = model.classes() as u32;
    let data: Vec<Vec<i64>> = (0..n)
        .map(|_| {
            (0..model.inputs())
                .map(|_| rng.gen_range(-1024..1024))
                .collect()
        })
        .collect();
    let data_labels: Vec<u32> = (0..n).map(|_| rng.gen_range(0..classes)).collect();
    let tree = DataTree::<Bn254>::new(&data, &data_labels, depth).expect("data fits the tree");
    let mut indices: Vec<u64> = rand::seq::index::sample(&mut rng, n, batch)
        .into_iter()
        .map(|i| i as u64)
        .collect();
    indices.sort();
    let params_t: Vec<i64> = (0..model.param_count())
        .map(|_| rng.gen_range(-65535..65536))
        .collect();
    let lr = rng.gen_range(1..13107);
    let rows: Vec<Vec<i64>> = indices.iter().map(|&i| data[i as usize].clone()).collect();
    let labels: Vec<u32> = indices.iter().map(|&i| data_labels[i as usize]).collect();
    let params_t1 =
        fixed_step::step(&model, &params_t, &rows, &labels, lr).expect("inputs are in range");
    let paths = indices
        .iter()
        .map(|&i| tree.path(i).expect("index in the data set"))
        .collect();
    Instance {
        shape: TrainingStepShape {
            model,
            batch,
            depth,
            eps,
        },
        witness: TrainingStepWitness {
            params_t,
            params_t1,
            lr,
            rows,
            labels,
            indices,
            paths,
            masks: Vec::new(),
        },
        data,
        data_labels,
        tree,
    }
}

/// Asserts that `assignment` satisfies `program` and that adding 1 to any one public input
/// makes it fail (`what` names the case in the message).
pub fn each_public_input_binds(
    program: &circuits::Program,
    assignment: &circuits::Assignment<Bn254>,
    what: &str,
) {
    use circuits::field::Field;
    program.check(assignment).unwrap();
    for (i, v) in program.public.iter().enumerate() {
        let mut bad = assignment.clone();
        bad.values[v.index()] = bad.values[v.index()] + Bn254::from_i128(1);
        assert!(program.check(&bad).is_err(), "{what}: public input {i}");
    }
}
