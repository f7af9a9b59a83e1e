//! The contribution game of a round in fixed point: the logits that
//! [`contribution::pool::PoolGame`] pools (see its docs for the game).
//!
//! Features are at `2^FX`, parameters at `2^FW` ([`crate::fixed`]), so a linear model's logits
//! `z_j = Σ_i x_i·W[i,j] + b_j·2^FX` are exact integers at `2^(FX+FW)`; a logistic regression's
//! single logit `z` is the pair `(0, z)`. Only linear models pool: the FedAvg model of a
//! coalition of MLPs is not a mean of their logits.

use contribution::pool::{PoolGame, PoolPlayer};

use super::fixed_step::{ReferenceError, in_signed};
use super::model::Model;
use crate::fixed::{FX, W_BITS, X_BITS};

/// A provider's update in a round: its FedAvg weight and its quantized model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedModel {
    /// Its sample count `n_i` (at least 1).
    pub samples: u64,
    /// Its parameters at `2^FW`, flat in the model's order.
    pub params: Vec<i64>,
}

/// Logits of a linear model on each row, row-major `[rows][classes]`, at `2^(FX+FW)`.
///
/// # Errors
/// [`ReferenceError::Shape`] for an MLP or shapes that do not match the model;
/// [`ReferenceError::Range`] for a parameter or feature outside its fixed-point range.
pub fn logits(
    model: &Model,
    params: &[i64],
    rows: &[Vec<i64>],
) -> Result<Vec<i128>, ReferenceError> {
    if !matches!(model, Model::Softmax { .. } | Model::LogReg { .. }) || !model.is_valid() {
        return Err(ReferenceError::Shape(format!(
            "contributions are valued for linear models (softmax, logreg), not {model:?}"
        )));
    }
    if params.len() != model.param_count() {
        return Err(ReferenceError::Shape(format!(
            "{} parameters for {model:?}",
            params.len()
        )));
    }
    for &w in params {
        in_signed("parameter", i128::from(w), W_BITS)?;
    }
    let layer = model.layers()[0];
    let mut out = Vec::with_capacity(rows.len() * model.classes());
    for row in rows {
        if row.len() != model.inputs() {
            return Err(ReferenceError::Shape(format!(
                "row of {} features",
                row.len()
            )));
        }
        for &x in row {
            in_signed("feature", i128::from(x), X_BITS)?;
        }
        if matches!(model, Model::LogReg { .. }) {
            out.push(0);
        }
        for j in 0..layer.d_out {
            let dot: i128 = row
                .iter()
                .enumerate()
                .map(|(i, &x)| i128::from(x) * i128::from(params[layer.weight(i, j)]))
                .sum();
            out.push(dot + (i128::from(params[layer.bias(j)]) << FX));
        }
    }
    Ok(out)
}

/// The game of a round: the global model `global`, the providers' `updates`, the owner's
/// validation `rows` (at `2^FX`) and `labels`.
///
/// # Errors
/// As [`logits`], and [`ReferenceError::Contribution`] when the game cannot be formed (no
/// providers, a weight of 0, a label out of range, no rows).
pub fn round_game(
    model: &Model,
    global: &[i64],
    updates: &[WeightedModel],
    rows: &[Vec<i64>],
    labels: &[u32],
) -> Result<PoolGame, ReferenceError> {
    if rows.len() != labels.len() {
        return Err(ReferenceError::Shape(format!(
            "{} rows and {} labels",
            rows.len(),
            labels.len()
        )));
    }
    let base = logits(model, global, rows)?;
    let players = updates
        .iter()
        .map(|u| {
            Ok(PoolPlayer {
                weight: i128::from(u.samples),
                logits: logits(model, &u.params, rows)?,
            })
        })
        .collect::<Result<Vec<_>, ReferenceError>>()?;
    Ok(PoolGame::new(
        model.classes(),
        labels.to_vec(),
        base,
        players,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contribution::Game;

    #[test]
    fn softmax_logits_by_hand() {
        // 2 inputs, 2 classes: W = [[1, 0], [0, 2]], b = (1, 0) (in units of 2^-FW).
        let model = Model::Softmax {
            inputs: 2,
            classes: 2,
        };
        let params = vec![1, 0, 0, 2, 1, 0];
        let z = logits(&model, &params, &[vec![3, 4]]).unwrap();
        assert_eq!(z, vec![3 + (1 << FX), 8]);
    }

    #[test]
    fn logreg_logit_is_the_second_of_a_pair() {
        let model = Model::LogReg { inputs: 1 };
        let z = logits(&model, &[2, -1], &[vec![5]]).unwrap();
        assert_eq!(z, vec![0, 10 - (1 << FX)]);
    }

    #[test]
    fn the_grand_coalition_is_the_fedavg_model() {
        // For any coalition, the pooled logits' argmax is the FedAvg model's argmax: check on
        // a model average that is exact in fixed point (weights 1 and 3, params multiples of 4).
        let model = Model::Softmax {
            inputs: 2,
            classes: 3,
        };
        let a: Vec<i64> = vec![4, -8, 12, 0, 4, -4, 8, 0, 4];
        let b: Vec<i64> = vec![-4, 8, 0, 12, -12, 4, 0, 4, -8];
        let avg: Vec<i64> = a.iter().zip(&b).map(|(x, y)| (x + 3 * y) / 4).collect();
        let rows: Vec<Vec<i64>> = (0..20)
            .map(|r| vec![(r * 37 % 50) - 25, (r * 11 % 40) - 20])
            .collect();
        let labels: Vec<u32> = (0..20).map(|r| (r % 3) as u32).collect();
        let game = round_game(
            &model,
            &[0; 9],
            &[
                WeightedModel {
                    samples: 1,
                    params: a,
                },
                WeightedModel {
                    samples: 3,
                    params: b,
                },
            ],
            &rows,
            &labels,
        )
        .unwrap();
        let alone = round_game(
            &model,
            &avg,
            &[WeightedModel {
                samples: 1,
                params: avg.clone(),
            }],
            &rows,
            &labels,
        )
        .unwrap();
        assert_eq!(game.utility(0b11), alone.utility(0b1));
    }

    #[test]
    fn mlps_and_out_of_range_inputs_are_refused() {
        let mlp = Model::Mlp {
            inputs: 1,
            hidden: 1,
            classes: 2,
        };
        assert!(logits(&mlp, &[0; 6], &[vec![0]]).is_err());
        let model = Model::LogReg { inputs: 1 };
        assert!(logits(&model, &[1 << (W_BITS - 1), 0], &[vec![0]]).is_err());
        assert!(logits(&model, &[0, 0], &[vec![1 << (X_BITS - 1)]]).is_err());
    }
}
