//! The exact fixed-point SGD step: the statement a training-step proof is about.
//!
//! Inputs are integers in the formats of [`crate::fixed`]: parameters at `2^FW`, features at
//! `2^FX`, the learning rate at `2^FLR`. For a batch of `B` rows:
//!
//! 1. **Forward.** Layer pre-activations `a_k = Σ_i x_i·W[i,k] + b_k·2^FX` (scale `2^24`). For the
//!    MLP's hidden layer, `ā_k = round(a_k / 2^12)` (scale `2^FH`), `h_k = max(ā_k, 0)`, and the
//!    output logits `z_j = Σ_k h_k·W2[k,j] + b2_j·2^FH` (scale `2^28`). (Inside the dead zone
//!    `|ā_k| <= RELU_DEAD_ZONE` the mask may instead follow the float training's:
//!    [`gradient_with_masks`], [`crate::fixed::relu_mask`].)
//! 2. **Output error.** `p = softmax(z)` (logistic regression: `softmax(0, z)`, `p = p_1`) per
//!    [`super::approx`], and `δ_j = p_j - y_j·2^FP` (one-hot `y`).
//! 3. **Backward.** Gradient sums over the batch, at scale `2^(F_in+FP)` where `F_in` is the
//!    layer input's fraction bits (`FX`, or `FH` for the MLP's output layer):
//!    `G_W[i,j] = Σ_b x_bi·δ_bj`, `G_b[j] = Σ_b δ_bj·2^FX`. For the MLP, the hidden error
//!    `d_k = round(Σ_j W2[k,j]·δ_j / 2^FW)` (scale `2^FP`), masked by the ReLU: `d_k = 0` unless
//!    `ā_k > 0`; then `G_W1`, `G_b1` as above with `d`, and `G_W2[k,j] = Σ_b h_bk·δ_bj`,
//!    `G_b2[j] = Σ_b δ_bj·2^FH`.
//! 4. **Update.** The mean gradient is `G / (B·2^(F_in+FP))`, so the exact new parameter is the
//!    rational `w' = w - η·G / M` with `M = B·2^(F_in+FP)` (in units of `2^-FW`, with `η` the integer
//!    learning rate). [`step`] rounds it (half up); a proof instead compares `w'` at full
//!    precision with the claimed `w_{t+1}` (see [`crate::relations::training_step`]).
//!
//! The completeness bounds of the relation are checked here and reported as
//! [`ReferenceError`]s: features, parameters and learning rate in range, hidden pre-activations
//! `-2^(H_BITS-1) < ā <= 2^(H_BITS-1)`, logit spreads per [`super::approx`], and the hidden error's width.

use thiserror::Error;

use super::approx::{self, ApproxError};
use super::model::Model;
use crate::fixed::{DELTA_BITS, FH, FP, FW, FX, H_BITS, LR_BITS, W_BITS, X_BITS};
use crate::fixed::{relu_mask, round_div, round_shift};

/// Why the fixed-point step is undefined (or unprovable) for some input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReferenceError {
    /// Parameter count, row width, label count or batch size do not match the model.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A quantity is outside its fixed-point range.
    #[error("{what} {value} is outside its range")]
    Range {
        /// Which quantity.
        what: &'static str,
        /// The offending integer.
        value: i128,
    },
    /// A non-linearity's bound is exceeded.
    #[error(transparent)]
    Approx(#[from] ApproxError),
    /// The contribution game cannot be formed.
    #[error(transparent)]
    Contribution(#[from] contribution::ContributionError),
}

/// What the step computes besides the update, for tests and diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedGradient {
    /// The gradient sums `G`, flat in parameter order, at scale `2^(FX+FP)`.
    pub grad: Vec<i128>,
    /// The output errors `δ`, one row per batch row, at scale `2^FP`.
    pub delta: Vec<Vec<i128>>,
}

pub(crate) fn in_signed(what: &'static str, v: i128, bits: u32) -> Result<(), ReferenceError> {
    if v.abs() >= 1i128 << (bits - 1) && v != -(1i128 << (bits - 1)) {
        return Err(ReferenceError::Range { what, value: v });
    }
    Ok(())
}

/// The denominator `M = B·2^(F_in+FP)` of the exact update of a layer whose input has `input_frac`
/// fraction bits.
pub fn update_denominator(batch: usize, input_frac: u32) -> i128 {
    (batch as i128) << (input_frac + FP)
}

/// Fraction bits of each layer's input: `FX`, then `FH` for the MLP's output layer.
pub fn input_fracs(model: &Model) -> Vec<u32> {
    (0..model.layers().len())
        .map(|i| if i == 0 { FX } else { FH })
        .collect()
}

/// Fraction bits of the logits: `FX+FW`, or `FH+FW` for the MLP.
pub fn logit_frac(model: &Model) -> u32 {
    input_fracs(model).last().copied().unwrap_or(FX) + FW
}

/// The update denominator `M` of every parameter, in flat order.
pub fn param_denominators(model: &Model, batch: usize) -> Vec<i128> {
    model
        .layers()
        .iter()
        .zip(input_fracs(model))
        .flat_map(|(layer, frac)| vec![update_denominator(batch, frac); layer.len()])
        .collect()
}

/// Bits of a signed hidden error `d` for `classes` outputs (see the module docs).
pub fn hidden_error_bits(classes: usize) -> u32 {
    // |W2| < 2^23, |δ| <= 2^14: |Σ_j W2·δ| / 2^16 < classes·2^21.
    usize::BITS - (classes.max(1) - 1).leading_zeros() + 21 + 1
}

/// Checks the input ranges and shapes of a step.
fn check_inputs(
    model: &Model,
    params: &[i64],
    rows: &[Vec<i64>],
    labels: &[u32],
) -> Result<(), ReferenceError> {
    if !model.is_valid() || params.len() != model.param_count() {
        return Err(ReferenceError::Shape(format!(
            "{} parameters for {model:?}",
            params.len()
        )));
    }
    if rows.is_empty() || rows.len() != labels.len() {
        return Err(ReferenceError::Shape(format!(
            "{} rows and {} labels",
            rows.len(),
            labels.len()
        )));
    }
    for w in params {
        in_signed("parameter", *w as i128, W_BITS)?;
    }
    for row in rows {
        if row.len() != model.inputs() {
            return Err(ReferenceError::Shape(format!(
                "row of {} features",
                row.len()
            )));
        }
        for x in row {
            in_signed("feature", *x as i128, X_BITS)?;
        }
    }
    for &y in labels {
        if y as usize >= model.classes() {
            return Err(ReferenceError::Range {
                what: "label",
                value: y as i128,
            });
        }
    }
    Ok(())
}

/// `Σ_i x_i·W[i,k] + b_k·2^shift` for every output `k` of a layer.
fn dense(params: &[i64], layer: super::model::Layer, x: &[i128], shift: u32) -> Vec<i128> {
    (0..layer.d_out)
        .map(|k| {
            let dot: i128 = x
                .iter()
                .enumerate()
                .map(|(i, xi)| xi * params[layer.weight(i, k)] as i128)
                .sum();
            dot + ((params[layer.bias(k)] as i128) << shift)
        })
        .collect()
}

/// The output errors `δ` of one row from its logits.
fn output_error(model: &Model, z: &[i128], label: u32) -> Result<Vec<i128>, ReferenceError> {
    let one = 1i128 << FP;
    Ok(match model {
        Model::LogReg { .. } => {
            let p = approx::softmax(&[0, z[0]], logit_frac(model))?;
            vec![p[1] - if label == 1 { one } else { 0 }]
        }
        _ => approx::softmax(z, logit_frac(model))?
            .into_iter()
            .enumerate()
            .map(|(j, pj)| pj - if j == label as usize { one } else { 0 })
            .collect(),
    })
}

/// Adds `Σ x_i·δ_j` and `δ_j·2^shift` of one row into a layer's gradient.
fn accumulate(grad: &mut [i128], layer: super::model::Layer, x: &[i128], d: &[i128], shift: u32) {
    for (i, xi) in x.iter().enumerate() {
        for (j, dj) in d.iter().enumerate() {
            grad[layer.weight(i, j)] += xi * dj;
        }
    }
    for (j, dj) in d.iter().enumerate() {
        grad[layer.bias(j)] += dj << shift;
    }
}

/// The gradient sums of one step (see the module docs).
pub fn gradient(
    model: &Model,
    params: &[i64],
    rows: &[Vec<i64>],
    labels: &[u32],
) -> Result<FixedGradient, ReferenceError> {
    gradient_with_masks(model, params, rows, labels, &[])
}

/// [`gradient`], with the float training's ReLU masks of each row's hidden units deciding the
/// mask inside the dead zone ([`crate::fixed::relu_mask`]).
pub fn gradient_with_masks(
    model: &Model,
    params: &[i64],
    rows: &[Vec<i64>],
    labels: &[u32],
    hints: &[Vec<bool>],
) -> Result<FixedGradient, ReferenceError> {
    check_inputs(model, params, rows, labels)?;
    let layers = model.layers();
    let mut grad = vec![0i128; params.len()];
    let mut delta = Vec::with_capacity(rows.len());
    for (r, (row, &label)) in rows.iter().zip(labels).enumerate() {
        let x: Vec<i128> = row.iter().map(|&v| v as i128).collect();
        let a = dense(params, layers[0], &x, FX);
        match model {
            Model::Mlp { classes, .. } => {
                let out = layers[1];
                let mut h = Vec::with_capacity(a.len());
                let mut mask = Vec::with_capacity(a.len());
                for (k, ak) in a.iter().enumerate() {
                    let at = round_shift(*ak, FX + FW - FH);
                    // The ReLU gadget's range: -2^(H_BITS-1) < ā <= 2^(H_BITS-1).
                    if at.abs() > 1i128 << (H_BITS - 1) || at == -(1i128 << (H_BITS - 1)) {
                        return Err(ReferenceError::Range {
                            what: "hidden pre-activation",
                            value: at,
                        });
                    }
                    let active = relu_mask(at, hints.get(r).and_then(|m| m.get(k)).copied());
                    h.push(if active { at } else { 0 });
                    mask.push(active);
                }
                let z = dense(params, out, &h, FH);
                let d = output_error(model, &z, label)?;
                let mut dh = Vec::with_capacity(h.len());
                for (k, active) in mask.iter().enumerate() {
                    let back: i128 = (0..*classes)
                        .map(|j| params[out.weight(k, j)] as i128 * d[j])
                        .sum();
                    let dk = round_shift(back, FW);
                    in_signed("hidden error", dk, hidden_error_bits(*classes))?;
                    dh.push(if *active { dk } else { 0 });
                }
                accumulate(&mut grad, out, &h, &d, FH);
                accumulate(&mut grad, layers[0], &x, &dh, FX);
                delta.push(d);
            }
            _ => {
                let d = output_error(model, &a, label)?;
                accumulate(&mut grad, layers[0], &x, &d, FX);
                delta.push(d);
            }
        }
    }
    Ok(FixedGradient { grad, delta })
}

/// One step: `w' = w - round(η·G / M)`, with every change below `2^(DELTA_BITS-1)` units.
pub fn step(
    model: &Model,
    params: &[i64],
    rows: &[Vec<i64>],
    labels: &[u32],
    lr: i64,
) -> Result<Vec<i64>, ReferenceError> {
    if !(0..1i64 << LR_BITS).contains(&lr) {
        return Err(ReferenceError::Range {
            what: "learning rate",
            value: lr as i128,
        });
    }
    let g = gradient(model, params, rows, labels)?;
    let denominators = param_denominators(model, rows.len());
    params
        .iter()
        .zip(&g.grad)
        .zip(&denominators)
        .map(|((w, gi), m)| {
            let change = round_div(lr as i128 * gi, *m);
            in_signed("parameter change", change, DELTA_BITS)?;
            Ok((*w as i128 - change) as i64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_step_moves_towards_the_label() {
        let model = Model::Softmax {
            inputs: 2,
            classes: 2,
        };
        let params = vec![0i64; 6];
        let rows = vec![vec![256, 0]];
        let w = step(&model, &params, &rows, &[1], 1 << 16).unwrap();
        // p = (1/2, 1/2), δ = (1/2, -1/2): w[0,1] and b[1] grow by 1/2, the others shrink.
        assert_eq!(w, vec![-(1 << 15), 1 << 15, 0, 0, -(1 << 15), 1 << 15]);
    }

    #[test]
    fn rejects_out_of_range_inputs() {
        let model = Model::LogReg { inputs: 1 };
        assert!(step(&model, &[1 << 23, 0], &[vec![0]], &[0], 1).is_err());
        assert!(step(&model, &[0, 0], &[vec![1 << 15]], &[0], 1).is_err());
        assert!(step(&model, &[0, 0], &[vec![0]], &[2], 1).is_err());
        assert!(step(&model, &[0, 0], &[vec![0]], &[1], 1).is_ok());
    }
}
