//! Test-set evaluation of flat parameters.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::network::{loss, predictions, targets};
use super::{ModelError, ModelSpec};
use crate::data::Dataset;

/// Rows evaluated per forward pass.
const EVAL_CHUNK: usize = 512;

/// Accuracy and mean loss of a model on a data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of rows predicted right, in [0, 1].
    pub accuracy: f64,
    /// Mean loss per row.
    pub loss: f64,
}

/// Evaluates `params` of `spec` on every row of `data`, on `device` (no autodiff).
pub fn evaluate(
    spec: &ModelSpec,
    params: &[f32],
    data: &Dataset,
    device: &Device,
) -> Result<Evaluation, ModelError> {
    let network = spec.network(params, device)?;
    let (mut correct, mut loss_sum) = (0usize, 0f64);
    let rows: Vec<usize> = (0..data.len()).collect();
    for chunk in rows.chunks(EVAL_CHUNK) {
        let (x, labels) = batch_tensors(data, chunk, device);
        let logits = network.forward(x);
        let y = Tensor::<2>::from_data(targets(spec, &labels), device);
        let batch_loss: f32 = loss(&spec.kind, logits.clone(), y).into_scalar();
        loss_sum += f64::from(batch_loss) * chunk.len() as f64;
        correct += predictions(spec, logits)
            .iter()
            .zip(&labels)
            .filter(|(p, l)| p == l)
            .count();
    }
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        accuracy: correct as f64 / n,
        loss: loss_sum / n,
    })
}

/// The feature matrix `[rows, n_features]` of `rows` on `device`, and their labels.
pub(crate) fn batch_tensors(
    data: &Dataset,
    rows: &[usize],
    device: &Device,
) -> (Tensor<2>, Vec<u32>) {
    let mut features = Vec::with_capacity(rows.len() * data.n_features);
    let mut labels = Vec::with_capacity(rows.len());
    for &r in rows {
        features.extend_from_slice(data.row(r));
        labels.push(data.labels[r]);
    }
    let x = Tensor::<2>::from_data(
        TensorData::new(features, [rows.len(), data.n_features]),
        device,
    );
    (x, labels)
}
