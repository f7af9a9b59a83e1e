//! The same SGD step in `f32`, mirroring burn's arithmetic (no fixed point), so tests can measure
//! how far the proved fixed-point step is from what training computed.
//!
//! Logistic regression: `δ = (σ(z) - y) / B`. Softmax regression and the MLP: `δ = (softmax(z) -
//! onehot(y)) / B` with the maximum subtracted before `exp`. The MLP back-propagates through the
//! ReLU with the mask `a > 0`. Then `w' = w - η·Σ_b (x_b ⊗ δ_b)` (and `Σ_b δ_b` for biases).

use super::fixed_step::ReferenceError;
use super::model::{Layer, Model};

fn dense(params: &[f32], layer: Layer, x: &[f32]) -> Vec<f32> {
    (0..layer.d_out)
        .map(|k| {
            x.iter()
                .enumerate()
                .fold(params[layer.bias(k)], |acc, (i, xi)| {
                    acc + xi * params[layer.weight(i, k)]
                })
        })
        .collect()
}

fn output_error(model: &Model, z: &[f32], label: u32, batch: f32) -> Vec<f32> {
    match model {
        Model::LogReg { .. } => {
            let p = 1.0 / (1.0 + (-z[0]).exp());
            vec![(p - label as f32) / batch]
        }
        _ => {
            let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = z.iter().map(|zj| (zj - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.iter()
                .enumerate()
                .map(|(j, ej)| (ej / s - if j == label as usize { 1.0 } else { 0.0 }) / batch)
                .collect()
        }
    }
}

fn accumulate(grad: &mut [f32], layer: Layer, x: &[f32], d: &[f32]) {
    for (i, xi) in x.iter().enumerate() {
        for (j, dj) in d.iter().enumerate() {
            grad[layer.weight(i, j)] += xi * dj;
        }
    }
    for (j, dj) in d.iter().enumerate() {
        grad[layer.bias(j)] += dj;
    }
}

/// One SGD step in `f32`: the new parameters `w − η·∇L`.
pub fn step(
    model: &Model,
    params: &[f32],
    rows: &[Vec<f32>],
    labels: &[u32],
    lr: f32,
) -> Result<Vec<f32>, ReferenceError> {
    let grad = gradient(model, params, rows, labels)?;
    Ok(params.iter().zip(&grad).map(|(w, g)| w - lr * g).collect())
}

/// The gradient `∇L` of the mean loss over `rows` at `params`, flat in parameter order.
pub fn gradient(
    model: &Model,
    params: &[f32],
    rows: &[Vec<f32>],
    labels: &[u32],
) -> Result<Vec<f32>, ReferenceError> {
    if !model.is_valid() || params.len() != model.param_count() || rows.len() != labels.len() {
        return Err(ReferenceError::Shape(format!(
            "{} parameters, {} rows, {} labels for {model:?}",
            params.len(),
            rows.len(),
            labels.len()
        )));
    }
    if rows.iter().any(|r| r.len() != model.inputs()) {
        return Err(ReferenceError::Shape("row width".to_string()));
    }
    let batch = rows.len() as f32;
    let layers = model.layers();
    let mut grad = vec![0f32; params.len()];
    for (x, &label) in rows.iter().zip(labels) {
        let a = dense(params, layers[0], x);
        if let Model::Mlp { classes, .. } = model {
            let out = layers[1];
            let h: Vec<f32> = a.iter().map(|v| v.max(0.0)).collect();
            let d = output_error(model, &dense(params, out, &h), label, batch);
            let dh: Vec<f32> = (0..h.len())
                .map(|k| {
                    if a[k] > 0.0 {
                        (0..*classes).map(|j| params[out.weight(k, j)] * d[j]).sum()
                    } else {
                        0.0
                    }
                })
                .collect();
            accumulate(&mut grad, out, &h, &d);
            accumulate(&mut grad, layers[0], x, &dh);
        } else {
            let d = output_error(model, &a, label, batch);
            accumulate(&mut grad, layers[0], x, &d);
        }
    }
    Ok(grad)
}
