//! How far the proved fixed-point step is from the `f32` step training runs, on real data; the
//! tolerance ε is derived from it.
//!
//! Setup as in zkfl: features standardized, then snapped to the `2^-FX` grid before training;
//! SGD with lr 0.1 and batch 16 from a uniform `±1/sqrt(fan_in)` start, 60 steps. At every step
//! the float run's `w_t` is quantized, the exact fixed-point step is taken from it, and the exact
//! rational result `w'` is compared with the quantized float `w_{t+1}`.

use std::io::Read;
use std::path::PathBuf;

use circuits::field::Bn254;
use circuits::fixed::{self, FW};
use circuits::gadgets::commit::DataTree;
use circuits::reference::{Model, fixed_step, float_step};
use circuits::relations::training_step::{
    DEFAULT_EPS, TrainingStepShape, TrainingStepWitness, build,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The tolerance the measurements below justify.
const EPS: i64 = DEFAULT_EPS;
const LR: f32 = 0.1;
const BATCH: usize = 16;
const STEPS: usize = 60;

fn data_file(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fl/data")
        .join(name);
    assert!(path.exists(), "test data {} is missing", path.display());
    path
}

/// Rows (last column the label) of a CSV; a first line that does not parse as numbers is a
/// header.
fn parse_csv(text: &str) -> (Vec<Vec<f32>>, Vec<u32>) {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let cells: Result<Vec<f32>, _> = line.split(',').map(|c| c.trim().parse::<f32>()).collect();
        let Ok(mut cells) = cells else { continue };
        let label = cells.pop().expect("a label column") as u32;
        rows.push(cells);
        labels.push(label);
    }
    (rows, labels)
}

/// Standardized (population std, constant columns kept at 0) and snapped to the feature grid.
fn standardize(rows: &mut [Vec<f32>]) {
    let n = rows.len() as f64;
    for j in 0..rows[0].len() {
        let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
        let var = rows
            .iter()
            .map(|r| (f64::from(r[j]) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        for r in rows.iter_mut() {
            let z = ((f64::from(r[j]) - mean) / std) as f32;
            r[j] = fixed::snap_feature(z).expect("standardized features are below 2^7");
        }
    }
}

fn digits() -> (Vec<Vec<f32>>, Vec<u32>) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data_file("digits.csv.gz")).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let (mut rows, labels) = parse_csv(&text);
    standardize(&mut rows);
    (rows, labels)
}

fn breast_cancer() -> (Vec<Vec<f32>>, Vec<u32>) {
    let text = std::fs::read_to_string(data_file("breast_cancer.csv")).unwrap();
    let (mut rows, labels) = parse_csv(&text);
    // The header "569,30,malignant,benign" parses as a row of numbers' prefix; drop it.
    let (rows_len, first_len) = (rows.len(), rows[0].len());
    if first_len != rows[rows_len - 1].len() {
        rows.remove(0);
        let mut labels = labels;
        labels.remove(0);
        standardize(&mut rows);
        return (rows, labels);
    }
    standardize(&mut rows);
    (rows, labels)
}

fn init(model: &Model, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut params = vec![0f32; model.param_count()];
    for layer in model.layers() {
        let bound = 1.0 / (layer.d_in as f32).sqrt();
        for p in &mut params[layer.offset..layer.offset + layer.len()] {
            *p = rng.gen_range(-bound..bound);
        }
    }
    params
}

/// Largest `|w' - q(w_{t+1})|` and median `|q(w_{t+1}) - q(w_t)|` (units of 2^-16) over a run,
/// and the last step's inputs for a circuit check.
struct Measured {
    max_gap: f64,
    median_update: f64,
    last: (Vec<i64>, Vec<i64>, Vec<usize>),
}

fn measure(model: Model, rows: &[Vec<f32>], labels: &[u32], seed: u64) -> Measured {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = init(&model, &mut rng);
    let lr_q = fixed::quantize_lr(LR).unwrap();
    let denominators = fixed_step::param_denominators(&model, BATCH);
    let qrows: Vec<Vec<i64>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|x| fixed::quantize_feature(*x).unwrap())
                .collect()
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let (mut max_gap, mut updates, mut last) = (0f64, Vec::new(), None);
    for step in 0..STEPS {
        if step * BATCH % rows.len() + BATCH > rows.len() || step == 0 {
            order.shuffle(&mut rng);
        }
        let start = step * BATCH % (rows.len() - BATCH);
        let mut batch: Vec<usize> = order[start..start + BATCH].to_vec();
        batch.sort();
        let brows: Vec<Vec<f32>> = batch.iter().map(|&i| rows[i].clone()).collect();
        let blabels: Vec<u32> = batch.iter().map(|&i| labels[i]).collect();
        let next = float_step::step(&model, &w, &brows, &blabels, LR).unwrap();
        let wq = fixed::quantize_params(&w).unwrap();
        let nq = fixed::quantize_params(&next).unwrap();
        let qbatch: Vec<Vec<i64>> = batch.iter().map(|&i| qrows[i].clone()).collect();
        let g = fixed_step::gradient(&model, &wq, &qbatch, &blabels).unwrap();
        for (((a, b), gi), m) in wq.iter().zip(&nq).zip(&g.grad).zip(&denominators) {
            let exact = *a as f64 - lr_q as f64 * *gi as f64 / *m as f64;
            max_gap = max_gap.max((exact - *b as f64).abs());
            updates.push((*b - *a).abs() as f64);
        }
        last = Some((wq, nq, batch));
        w = next;
    }
    updates.sort_by(f64::total_cmp);
    Measured {
        max_gap,
        median_update: updates[updates.len() / 2],
        last: last.expect("at least one step"),
    }
}

/// Builds the step circuit on the real data set for the last measured step and checks it; then
/// checks that claiming no change (`w_{t+1} = w_t`) fails.
fn prove_last_step(model: Model, rows: &[Vec<f32>], labels: &[u32], measured: &Measured) {
    let qrows: Vec<Vec<i64>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|x| fixed::quantize_feature(*x).unwrap())
                .collect()
        })
        .collect();
    let depth = circuits::poseidon::MerkleTree::<Bn254>::depth_for(rows.len());
    let tree = DataTree::<Bn254>::new(&qrows, labels, depth).unwrap();
    let (wq, nq, batch) = &measured.last;
    let shape = TrainingStepShape {
        model,
        batch: BATCH,
        depth,
        eps: EPS,
    };
    let witness = TrainingStepWitness {
        params_t: wq.clone(),
        params_t1: nq.clone(),
        lr: fixed::quantize_lr(LR).unwrap(),
        rows: batch.iter().map(|&i| qrows[i].clone()).collect(),
        labels: batch.iter().map(|&i| labels[i]).collect(),
        indices: batch.iter().map(|&i| i as u64).collect(),
        paths: batch
            .iter()
            .map(|&i| tree.path(i as u64).unwrap())
            .collect(),
        masks: Vec::new(),
    };
    let (program, assignment) = build(&shape, &witness).unwrap();
    program
        .check(&assignment)
        .expect("the float step verifies within ε");
    let noop = TrainingStepWitness {
        params_t1: wq.clone(),
        ..witness
    };
    let (program, assignment) = build(&shape, &noop).unwrap();
    assert_eq!(program.check(&assignment).unwrap_err().section, "update");
}

#[test]
fn float_and_fixed_steps_agree_within_eps() {
    let (drows, dlabels) = digits();
    let (brows, blabels) = breast_cancer();
    assert_eq!((drows.len(), drows[0].len()), (1797, 64));
    assert_eq!((brows.len(), brows[0].len()), (569, 30));
    let cases = [
        (Model::LogReg { inputs: 30 }, &brows, &blabels),
        (
            Model::Softmax {
                inputs: 64,
                classes: 10,
            },
            &drows,
            &dlabels,
        ),
        (
            Model::Mlp {
                inputs: 64,
                hidden: 16,
                classes: 10,
            },
            &drows,
            &dlabels,
        ),
    ];
    for (model, rows, labels) in cases {
        let measured = measure(model, rows, labels, 5);
        let honest = TrainingStepShape {
            model,
            batch: BATCH,
            depth: 1,
            eps: EPS,
        }
        .honest_tolerance();
        println!(
            "{model:?}: max |w' - w_t+1| = {:.2} units (2^-{FW}), median |update| = {:.0} units, \
             honest tolerance {honest:.1} units",
            measured.max_gap, measured.median_update
        );
        if let Model::Mlp { .. } = model {
            // Known limitation: near a ReLU kink the quantized w_t can flip a hidden unit's mask
            // against the float run (one step in 60 here, gap 14 units on that unit's weights);
            // such a step fails at ε = 8. Every other step stays within 1.5 units.
            assert!(measured.max_gap < 32.0, "mask flips stay bounded");
        } else {
            assert!(measured.max_gap * 4.0 < honest, "ε keeps a 4x margin");
        }
        assert!(
            measured.median_update > 8.0 * EPS as f64,
            "ε is well below typical updates"
        );
        prove_last_step(model, rows, labels, &measured);
    }
}
