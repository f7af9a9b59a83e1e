//! Local training: mini-batch SGD with optional momentum and FedProx's proximal term, on any burn
//! device, with a seeded batch order.
//!
//! One optimizer step, for learning rate η, momentum β and proximal coefficient μ, with `w_g` the
//! round's global model:
//!
//! ```text
//! g ← ∇ loss(w; batch) + μ·(w − w_g)
//! v ← β·v + g          (only when β > 0; v starts at 0)
//! w ← w − η·v          (or w − η·g without momentum)
//! ```
//!
//! A *checkpoint* is the flat parameters followed, when β > 0, by the flat momentum buffer `v`:
//! everything the next step depends on besides the batch. [`SgdRun`] is the one implementation of
//! the step; training and proof-of-learning replay both call it, so replay on the same back end is
//! bit-for-bit.

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::model::{ModelError, ModelSpec, Network, batch_tensors, loss, targets};

/// Hyper-parameters of a client's local training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Learning rate η.
    pub lr: f32,
    /// Rows per mini-batch (the last batch of an epoch may be smaller, unless `drop_last`).
    pub batch_size: usize,
    /// Passes over the client's rows per round.
    pub local_epochs: usize,
    /// Momentum β (0 for plain SGD).
    pub momentum: f32,
    /// FedProx proximal coefficient μ (0 for none).
    pub proximal_mu: f32,
    /// Skip the last, smaller batch of each epoch (as PyTorch's `drop_last`), so that every
    /// step has exactly `batch_size` rows: what proofs of training need, since a relation's
    /// shape fixes the batch size. Each epoch reshuffles, so every row is still used.
    #[serde(default)]
    pub drop_last: bool,
}

impl TrainConfig {
    /// The checkpoint local training starts from: the global model, then a zero momentum buffer
    /// when momentum is on.
    pub fn initial_checkpoint(&self, global: &[f32]) -> Vec<f32> {
        let mut start = global.to_vec();
        if self.momentum > 0.0 {
            start.resize(2 * global.len(), 0.0);
        }
        start
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lr: 0.1,
            batch_size: 16,
            local_epochs: 5,
            momentum: 0.0,
            proximal_mu: 0.0,
            drop_last: false,
        }
    }
}

/// SGD state on a device: the network, the momentum buffer and the proximal anchor.
pub struct SgdRun<'a> {
    spec: &'a ModelSpec,
    device: Device,
    network: Option<Network>,
    velocity: Option<Vec<Tensor<1>>>,
    anchor: Option<Vec<Tensor<1>>>,
    momentum: f32,
    proximal_mu: f32,
}

impl<'a> SgdRun<'a> {
    /// Starts from `checkpoint` (parameters, then the momentum buffer when `momentum > 0`) with
    /// `global` as the proximal anchor, on an autodiff version of `device`.
    pub fn new(
        spec: &'a ModelSpec,
        device: &Device,
        checkpoint: &[f32],
        global: &[f32],
        momentum: f32,
        proximal_mu: f32,
    ) -> Result<Self, ModelError> {
        let n = spec.param_count();
        let expected = if momentum > 0.0 { 2 * n } else { n };
        if checkpoint.len() != expected || global.len() != n {
            return Err(ModelError::ParamCount {
                spec: spec.to_string(),
                expected,
                got: checkpoint.len().min(global.len()),
            });
        }
        let device = device.clone().autodiff();
        let network = spec.network(&checkpoint[..n], &device)?;
        let pieces = |values: &[f32]| -> Vec<Tensor<1>> {
            let mut pos = 0;
            spec.param_shapes()
                .iter()
                .map(|shape| {
                    let piece = values[pos..pos + shape.len()].to_vec();
                    pos += shape.len();
                    Tensor::<1>::from_data(TensorData::new(piece, [shape.len()]), &device)
                        .without_autodiff()
                })
                .collect()
        };
        let velocity = (momentum > 0.0).then(|| pieces(&checkpoint[n..]));
        let anchor = (proximal_mu > 0.0).then(|| pieces(global));
        Ok(SgdRun {
            spec,
            device,
            network: Some(network),
            velocity,
            anchor,
            momentum,
            proximal_mu,
        })
    }

    /// One optimizer step on the given training rows at learning rate `lr`; returns the batch's
    /// mean loss (without the proximal term).
    pub fn step(&mut self, data: &Dataset, rows: &[usize], lr: f32) -> f32 {
        let (x, labels) = batch_tensors(data, rows, &self.device);
        let y = Tensor::<2>::from_data(targets(self.spec, &labels), &self.device);
        let network = self
            .network
            .take()
            .expect("the network is only taken inside step");
        let loss = loss(&self.spec.kind, network.forward(x), y);
        let grads = loss.backward();
        let value: f32 = loss.into_scalar();
        let mut update = SgdUpdate {
            grads: &grads,
            lr,
            momentum: self.momentum,
            proximal_mu: self.proximal_mu,
            velocity: self.velocity.as_mut(),
            anchor: self.anchor.as_deref(),
            index: 0,
        };
        self.network = Some(network.map(&mut update));
        value
    }

    /// The flat parameters.
    pub fn params(&self) -> Vec<f32> {
        self.network
            .as_ref()
            .expect("the network is only taken inside step")
            .to_flat()
    }

    /// The checkpoint: parameters, then the momentum buffer when momentum is on.
    pub fn checkpoint(&self) -> Vec<f32> {
        let mut out = self.params();
        if let Some(velocity) = &self.velocity {
            for v in velocity {
                let data = v.clone().into_data().convert::<f32>();
                out.extend_from_slice(data.as_slice::<f32>().expect("converted to f32 above"));
            }
        }
        out
    }
}

struct SgdUpdate<'g> {
    grads: &'g Gradients,
    lr: f32,
    momentum: f32,
    proximal_mu: f32,
    velocity: Option<&'g mut Vec<Tensor<1>>>,
    anchor: Option<&'g [Tensor<1>]>,
    index: usize,
}

impl ModuleMapper for SgdUpdate<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let Some(grad) = tensor.grad(self.grads) else {
            self.index += 1;
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let w = tensor.without_autodiff();
        let mut g = grad;
        if let Some(anchor) = self.anchor {
            let w_g = anchor[self.index].clone().reshape(shape.clone());
            g = g + (w.clone() - w_g).mul_scalar(self.proximal_mu);
        }
        if let Some(velocity) = self.velocity.as_deref_mut() {
            let v = velocity[self.index]
                .clone()
                .reshape(shape.clone())
                .mul_scalar(self.momentum)
                + g;
            velocity[self.index] = v.clone().reshape([shape.num_elements()]);
            g = v;
        }
        self.index += 1;
        let updated = (w - g.mul_scalar(self.lr)).autodiff().require_grad();
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// Receives each optimizer step as it happens (the proof-of-learning recorder is one).
pub trait StepObserver {
    /// Called after every step with its learning rate, its batch (training-set row ids) and the
    /// run, whose checkpoint the observer may read.
    fn on_step(&mut self, lr: f32, rows: &[usize], run: &SgdRun<'_>);
    /// Called once after the last step.
    fn on_finish(&mut self, _run: &SgdRun<'_>) {}
}

/// What a client's local training produced.
#[derive(Clone, Debug)]
pub struct LocalOutcome {
    /// The trained flat parameters.
    pub params: Vec<f32>,
    /// Rows trained on.
    pub n_samples: usize,
    /// Mean batch loss over the last local epoch.
    pub train_loss: f32,
    /// Optimizer steps taken.
    pub steps: u64,
}

/// One client's local training job: the model, where it runs, and the training-set rows it holds.
#[derive(Clone, Copy)]
pub struct LocalTask<'a> {
    /// The model.
    pub spec: &'a ModelSpec,
    /// Where burn runs.
    pub device: &'a Device,
    /// The training set the row ids refer to.
    pub data: &'a Dataset,
    /// The client's rows.
    pub rows: &'a [usize],
}

/// Trains `task.spec` from `global` on the task's rows for `config.local_epochs` epochs, batches
/// in an order drawn from `seed`, reporting every step to `observer`.
pub fn train_local(
    task: &LocalTask<'_>,
    global: &[f32],
    config: &TrainConfig,
    seed: u64,
    mut observer: Option<&mut dyn StepObserver>,
) -> Result<LocalOutcome, ModelError> {
    let LocalTask {
        spec,
        device,
        data,
        rows,
    } = *task;
    let start = config.initial_checkpoint(global);
    let mut run = SgdRun::new(
        spec,
        device,
        &start,
        global,
        config.momentum,
        config.proximal_mu,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order = rows.to_vec();
    let (mut steps, mut last_epoch_loss) = (0u64, 0f32);
    for _ in 0..config.local_epochs {
        order.shuffle(&mut rng);
        let (mut sum, mut count) = (0f32, 0usize);
        let size = config.batch_size.max(1);
        for batch in order.chunks(size) {
            if config.drop_last && batch.len() < size {
                break;
            }
            sum += run.step(data, batch, config.lr) * batch.len() as f32;
            count += batch.len();
            steps += 1;
            if let Some(observer) = observer.as_deref_mut() {
                observer.on_step(config.lr, batch, &run);
            }
        }
        last_epoch_loss = if count > 0 { sum / count as f32 } else { 0.0 };
    }
    if let Some(observer) = observer {
        observer.on_finish(&run);
    }
    Ok(LocalOutcome {
        params: run.params(),
        n_samples: rows.len(),
        train_loss: last_epoch_loss,
        steps,
    })
}
