//! One training step to prove, taken from a proof-of-learning log, with everything needed to
//! build its witness in either field.

use std::collections::HashMap;

use circuits::Field;
use circuits::fixed::{FX, FixedError, quantize_lr, quantize_params};
use circuits::gadgets::commit::{CommitError, DataTree};
use circuits::reference::Model;
use circuits::relations::training_step::{TrainingStepShape, TrainingStepWitness};
use pol::CheckpointLog;
use verifier::StepOrigin;

/// Why a logged step cannot be turned into an instance of the training-step relation.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The relation proves plain SGD.
    #[error(
        "the training-step relation proves plain SGD; this log used momentum {momentum} and proximal mu {mu}"
    )]
    NotPlainSgd {
        /// The log's momentum.
        momentum: f32,
        /// The log's proximal coefficient.
        mu: f32,
    },
    /// The log does not reach the step.
    #[error("the log has {total} steps; there is no step {step}")]
    NoStep {
        /// The step asked for.
        step: u64,
        /// Steps logged.
        total: u64,
    },
    /// The step shares its checkpoint with other steps.
    #[error(
        "step {step} lies inside a segment of {len} steps: proofs need a checkpoint after every step (--pol-every 1)"
    )]
    NotSingleStep {
        /// The step.
        step: u64,
        /// Steps in its segment.
        len: usize,
    },
    /// The batch is not the shape's size.
    #[error("step {step} has a batch of {found} rows, the relation's shape takes {expected}")]
    BatchSize {
        /// The step.
        step: u64,
        /// Its batch size.
        found: usize,
        /// The shape's.
        expected: usize,
    },
    /// A batch row is not in the provider's data set.
    #[error("step {step} uses training row {row}, which the provider does not hold")]
    RowNotHeld {
        /// The step.
        step: u64,
        /// The row.
        row: u32,
    },
    /// A checkpoint has fewer values than the model's parameters.
    #[error("a checkpoint of step {step} holds {found} values, the model has {expected}")]
    Checkpoint {
        /// The step.
        step: u64,
        /// Values held.
        found: usize,
        /// Parameters of the model.
        expected: usize,
    },
    /// A value is outside the fixed-point range.
    #[error(transparent)]
    Fixed(#[from] FixedError),
}

/// A provider's data set as committed: quantized rows and labels in commitment order (leaf `i`
/// is row `i`), with the depth of its Merkle tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedData {
    /// Features at the fixed-point feature scale, one vector per row.
    pub rows: Vec<Vec<i64>>,
    /// Labels, one per row.
    pub labels: Vec<u32>,
    /// Depth of the Merkle tree (`2^depth >= rows`).
    pub depth: u32,
}

impl CommittedData {
    /// The data set's Merkle tree in field `F`.
    pub fn tree<F: Field>(&self) -> Result<DataTree<F>, CommitError> {
        DataTree::new(&self.rows, &self.labels, self.depth)
    }
}

/// A training step taken from a proof-of-learning log: both checkpoints (quantized), the
/// learning rate, and the batch as positions in the provider's committed data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInstance {
    /// The relation's shape (selects the keys).
    pub shape: TrainingStepShape,
    /// Where the step comes from.
    pub origin: StepOrigin,
    /// Parameters at step `t`, quantized.
    pub params_t: Vec<i64>,
    /// Parameters at step `t + 1`, quantized.
    pub params_t1: Vec<i64>,
    /// The learning rate, quantized.
    pub lr: i64,
    /// Positions of the batch's rows in the committed data set.
    pub batch: Vec<u64>,
    /// For an MLP, the float training's ReLU mask of each batch row's hidden units (in `batch`
    /// order), which the relation follows inside its dead zone; empty otherwise.
    pub masks: Vec<Vec<bool>>,
}

impl StepInstance {
    /// Step `step` of `log` (checkpoint `step` → `step + 1`) for `shape`, given the two
    /// checkpoints' values and the position of each training row in the provider's committed
    /// data set.
    pub fn from_log(
        shape: TrainingStepShape,
        log: &CheckpointLog,
        step: u64,
        checkpoints: (&[f32], &[f32]),
        positions: &HashMap<u32, u64>,
        data: &CommittedData,
    ) -> Result<StepInstance, InstanceError> {
        let header = &log.header;
        if header.momentum != 0.0 || header.proximal_mu != 0.0 {
            return Err(InstanceError::NotPlainSgd {
                momentum: header.momentum,
                mu: header.proximal_mu,
            });
        }
        let (i, _) = log.locate_step(step).ok_or(InstanceError::NoStep {
            step,
            total: log.total_steps(),
        })?;
        let entry = &log.entries[i];
        let [record] = entry.steps.as_slice() else {
            return Err(InstanceError::NotSingleStep {
                step,
                len: entry.steps.len(),
            });
        };
        if record.rows.len() != shape.batch {
            return Err(InstanceError::BatchSize {
                step,
                found: record.rows.len(),
                expected: shape.batch,
            });
        }
        let n = shape.model.param_count();
        let params = |values: &[f32]| -> Result<Vec<i64>, InstanceError> {
            let values = values.get(..n).ok_or(InstanceError::Checkpoint {
                step,
                found: values.len(),
                expected: n,
            })?;
            Ok(quantize_params(values)?)
        };
        let batch = record
            .rows
            .iter()
            .map(|r| {
                positions
                    .get(r)
                    .copied()
                    .ok_or(InstanceError::RowNotHeld { step, row: *r })
            })
            .collect::<Result<Vec<u64>, _>>()?;
        Ok(StepInstance {
            shape,
            origin: StepOrigin {
                client: header.client,
                round: header.round,
                step,
                log_head: log.head().0,
            },
            params_t: params(checkpoints.0)?,
            params_t1: params(checkpoints.1)?,
            lr: quantize_lr(record.lr)?,
            masks: float_masks(&shape.model, &checkpoints.0[..n], &batch, data),
            batch,
        })
    }

    /// The relation's witness in field `F`: the batch sorted by position (the relation wants
    /// strictly increasing indices; the gradient does not depend on the order) with its
    /// Merkle paths in `data`'s tree.
    pub fn witness<F: Field>(
        &self,
        data: &CommittedData,
        tree: &DataTree<F>,
    ) -> Result<TrainingStepWitness<F>, CommitError> {
        let mut order: Vec<usize> = (0..self.batch.len()).collect();
        order.sort_by_key(|&j| self.batch[j]);
        let indices: Vec<u64> = order.iter().map(|&j| self.batch[j]).collect();
        let masks = match self.masks.len() {
            0 => Vec::new(),
            _ => order
                .iter()
                .filter_map(|&j| self.masks.get(j).cloned())
                .collect(),
        };
        let row = |i: u64| {
            data.rows
                .get(i as usize)
                .zip(data.labels.get(i as usize))
                .ok_or(CommitError::Index {
                    index: i,
                    depth: data.depth,
                })
        };
        let mut rows = Vec::with_capacity(indices.len());
        let mut labels = Vec::with_capacity(indices.len());
        let mut paths = Vec::with_capacity(indices.len());
        for &i in &indices {
            let (x, y) = row(i)?;
            rows.push(x.clone());
            labels.push(*y);
            paths.push(tree.path(i)?);
        }
        Ok(TrainingStepWitness {
            params_t: self.params_t.clone(),
            params_t1: self.params_t1.clone(),
            lr: self.lr,
            rows,
            labels,
            indices,
            paths,
            masks,
        })
    }
}

impl StepInstance {
    /// A realistic honest step of `shape`, for benchmarks and tests: a data set filling the
    /// tree, features in `±4`, parameters in `±1`, learning rate 0.1, and the reference step's
    /// result as checkpoint `t + 1`; with the committed data set. Deterministic in `seed`.
    ///
    /// # Panics
    /// If `shape` is invalid.
    pub fn random(shape: &TrainingStepShape, seed: u64) -> (StepInstance, CommittedData) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let model = shape.model;
        let n = 1usize << shape.depth;
        let rows: Vec<Vec<i64>> = (0..n)
            .map(|_| {
                (0..model.inputs())
                    .map(|_| rng.gen_range(-1024..1024))
                    .collect()
            })
            .collect();
        let labels: Vec<u32> = (0..n)
            .map(|_| rng.gen_range(0..model.classes() as u32))
            .collect();
        let mut batch: Vec<u64> = rand::seq::index::sample(&mut rng, n, shape.batch)
            .into_iter()
            .map(|i| i as u64)
            .collect();
        batch.sort_unstable();
        let params_t: Vec<i64> = (0..model.param_count())
            .map(|_| rng.gen_range(-65535..65536))
            .collect();
        let lr = 6554; // 0.1 at 2^16
        let batch_rows: Vec<Vec<i64>> = batch.iter().map(|&i| rows[i as usize].clone()).collect();
        let batch_labels: Vec<u32> = batch.iter().map(|&i| labels[i as usize]).collect();
        let params_t1 = circuits::reference::fixed_step::step(
            &model,
            &params_t,
            &batch_rows,
            &batch_labels,
            lr,
        )
        .expect("random inputs are in range");
        let step = StepInstance {
            shape: *shape,
            origin: StepOrigin {
                client: 0,
                round: 0,
                step: 0,
                log_head: [0; 32],
            },
            params_t,
            params_t1,
            lr,
            batch,
            masks: Vec::new(),
        };
        let data = CommittedData {
            rows,
            labels,
            depth: shape.depth,
        };
        (step, data)
    }
}

/// The ReLU masks the float training used for a step of an MLP: each batch row's hidden
/// pre-activations computed in `f32` from the float parameters before the step, as burn
/// computes them (`x·W1 + b1`, `W1` stored `[inputs, hidden]`); empty for other models.
fn float_masks(
    model: &Model,
    params: &[f32],
    batch: &[u64],
    data: &CommittedData,
) -> Vec<Vec<bool>> {
    let Model::Mlp { .. } = model else {
        return Vec::new();
    };
    let layer = model.layers()[0];
    let scale = (1u64 << FX) as f32;
    batch
        .iter()
        .map(|&i| {
            let x: Vec<f32> = data
                .rows
                .get(i as usize)
                .map(|row| row.iter().map(|&q| q as f32 / scale).collect())
                .unwrap_or_default();
            (0..layer.d_out)
                .map(|k| {
                    let a: f32 = x
                        .iter()
                        .enumerate()
                        .map(|(j, xj)| xj * params[layer.weight(j, k)])
                        .sum();
                    a + params[layer.bias(k)] > 0.0
                })
                .collect()
        })
        .collect()
}
