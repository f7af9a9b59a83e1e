//! Values from the updates alone, with no coalition evaluated.
//!
//! - [`GradNorm`]: `φ_i = ‖Δ_i‖₂`, the seed design's measure. It pays for moving the model, not
//!   for improving it: scaling an update scales its value (kept as a baseline to show that).
//! - [`ValGrad`]: the first-order estimate of how much `Δ_i` lowers the validation loss,
//!   `φ_i = −⟨∇L_val(w_t), clip(Δ_i)⟩`, where `clip` scales `Δ_i` down to the median update
//!   norm of the round (so a scaled update gains nothing by its size). In loss units.

use crate::{ContributionError, Estimator, FirstOrder, Method, Phi, Round, Values};

/// `‖Δ_i‖₂` of each update.
#[derive(Clone, Copy, Debug, Default)]
pub struct GradNorm;

/// `−⟨∇L_val(w_t), clip(Δ_i)⟩` of each update.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValGrad;

impl Estimator for GradNorm {
    fn method(&self) -> Method {
        Method::GradNorm
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        let first = checked(round)?;
        Ok(real(first.deltas.iter().map(|d| norm(d)).collect()))
    }
}

impl Estimator for ValGrad {
    fn method(&self) -> Method {
        Method::ValGrad
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        let first = checked(round)?;
        let norms: Vec<f64> = first.deltas.iter().map(|d| norm(d)).collect();
        let mut sorted = norms.clone();
        sorted.sort_by(f64::total_cmp);
        let bound = sorted[sorted.len() / 2];
        let values = first
            .deltas
            .iter()
            .zip(&norms)
            .map(|(delta, &n)| {
                let clip = if n > bound && n > 0.0 { bound / n } else { 1.0 };
                let dot: f64 = delta
                    .iter()
                    .zip(first.validation_gradient)
                    .map(|(d, g)| d * g)
                    .sum();
                -clip * dot
            })
            .collect();
        Ok(real(values))
    }
}

fn checked<'a>(round: &Round<'a>) -> Result<FirstOrder<'a>, ContributionError> {
    let bad = |why: String| Err(ContributionError::FirstOrder(why));
    let Some(first) = round.first_order else {
        return bad("this method needs the round's updates and validation gradient".into());
    };
    let n = round.game.players();
    if first.deltas.len() != n || n == 0 {
        return bad(format!("{} updates for {n} players", first.deltas.len()));
    }
    let len = first.validation_gradient.len();
    if let Some(d) = first.deltas.iter().find(|d| d.len() != len) {
        return bad(format!(
            "an update of {} parameters against a gradient of {len}",
            d.len()
        ));
    }
    if first
        .deltas
        .iter()
        .flatten()
        .chain(first.validation_gradient)
        .any(|x| !x.is_finite())
    {
        return bad("an update or the gradient is not finite".into());
    }
    Ok(first)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn real(values: Vec<f64>) -> Values {
    Values {
        phi: Phi::Real(values),
        evaluations: 0,
        permutations: 0,
        skipped: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Coalition, Game};

    struct Players(usize);
    impl Game for Players {
        fn players(&self) -> usize {
            self.0
        }
        fn utility(&self, _: Coalition) -> i64 {
            0
        }
    }

    #[test]
    fn scaling_an_update_buys_gradient_norm_but_not_clipped_validation_gradient() {
        let gradient = vec![1.0, 0.0];
        let honest = vec![-0.1, 0.0];
        let deltas = vec![honest.clone(), honest.clone(), vec![1.0, 0.0]]; // ×−10
        let round = Round {
            game: &Players(3),
            first_order: Some(FirstOrder {
                deltas: &deltas,
                validation_gradient: &gradient,
            }),
        };
        let norms = GradNorm.estimate(&round).unwrap().phi.to_f64();
        assert!(norms[2] > 9.0 * norms[0]);
        let v = ValGrad.estimate(&round).unwrap().phi.to_f64();
        assert!((v[0] - 0.1).abs() < 1e-12 && (v[1] - 0.1).abs() < 1e-12);
        assert!((v[2] + 0.1).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn missing_or_misshapen_updates_are_errors() {
        let game = Players(2);
        let none = Round {
            game: &game,
            first_order: None,
        };
        assert!(GradNorm.estimate(&none).is_err());
        let deltas = vec![vec![0.0; 2], vec![0.0; 3]];
        let round = Round {
            game: &game,
            first_order: Some(FirstOrder {
                deltas: &deltas,
                validation_gradient: &[0.0; 2],
            }),
        };
        assert!(ValGrad.estimate(&round).is_err());
    }
}
