//! The providers' contributions to a finished run, valued from its run directory.
//!
//! For each round `t`: the global model `w_t` it started from (`models/round-(t−1)`), the updates
//! the providers sent and their sample counts (`metrics.json`, blobs by digest), and the owner's
//! validation set (re-derived from `config.json`, like the providers' rows) make the round's
//! game ([`circuits::reference::contribution::round_game`]: correct validation rows of each
//! coalition's FedAvg model, in fixed point). A [`Method`] values its players; a provider's
//! value for the run is the sum over the paid rounds it played (a round is paid when its gain
//! `|v(P) − v(∅)|` is above the minimum, [`contribution::payout::gains_enough`]), and the escrow
//! is split by it ([`contribution::payout`]). Only the exact Shapley values and leave-one-out are integers the
//! ledger can pay from; sampled and first-order values are for comparison.

mod inputs;
mod witness;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, ensure};
use circuits::reference::contribution::round_game;
use circuits::reference::float_step;
use contribution::exact::values_and_table;
use contribution::payout::{RoundValues, counted, counted_real, gains_enough, split, task_values};
use contribution::{FirstOrder, Game, Method, Phi, Round, Values};
use fl::federation::RoundMetrics;
use serde::Serialize;

use self::inputs::{OpenedRun, RoundInputs};
pub use self::witness::{AggregateGap, RoundProofInputs, contribution_shape, contribution_witness};

/// Which rounds to value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounds {
    /// Every finished round.
    All,
    /// One round.
    One(u32),
}

/// A value as the ledger would hold it: `num / den`, or a float for estimates.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Exact: `num / den`.
    Rational {
        /// Numerator.
        num: i128,
        /// Denominator (positive).
        den: i128,
    },
    /// Estimated.
    Real(f64),
}

impl Value {
    /// The value as a float.
    pub fn to_f64(&self) -> f64 {
        match *self {
            Value::Rational { num, den } => num as f64 / den as f64,
            Value::Real(v) => v,
        }
    }
}

/// One valued round.
#[derive(Clone, Debug, Serialize)]
pub struct RoundValuation {
    /// The round.
    pub round: u32,
    /// Its players' client ids, in player order (bit `i` of a coalition is `clients[i]`).
    pub clients: Vec<usize>,
    /// Their sample counts (FedAvg weights).
    pub samples: Vec<u64>,
    /// Validation rows the global model `w_t` classifies correctly: `v(∅)`.
    pub empty: i64,
    /// Validation rows the FedAvg model of all updates classifies correctly: `v(P)`.
    pub full: i64,
    /// Whether the round's gain is enough for it to be paid (its values count in the totals).
    pub paid: bool,
    /// What the estimator found.
    pub values: Values,
    /// Updates left out of the game (valued 0).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedUpdate>,
    /// `v(S)` keyed by coalition bitmask (exact method only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilities: Option<BTreeMap<u64, i64>>,
}

/// One provider's value for the run.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderValue {
    /// Client id.
    pub client: usize,
    /// Its value in each valued round (`None` where it did not play).
    pub phi: Vec<Option<Value>>,
    /// Its value for the run: the sum over the *paid* rounds (`phi` lists every valued round).
    pub total: Value,
    /// Its share of the escrow: `max(φ, 0) / Σ max(φ_j, 0)`.
    pub share: f64,
    /// Its payout from the escrow in integers (methods with exact values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout: Option<i128>,
}

/// A run's valuation.
#[derive(Clone, Debug, Serialize)]
pub struct RunValuation {
    /// The method.
    pub method: Method,
    /// The run's aggregation strategy. Values are of the FedAvg game whatever it is.
    pub strategy: String,
    /// Whether the run's server aggregates by FedAvg (FedAvg or FedProx), the game a
    /// contribution proof can prove.
    pub fedavg: bool,
    /// Validation rows (the utility's scale).
    pub validation_rows: usize,
    /// The escrow split.
    pub escrow: i128,
    /// A round is paid when its gain is above this, per mille of the validation rows.
    pub min_gain_permille: u32,
    /// What returns to the owner (methods with exact values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remainder: Option<i128>,
    /// The valued rounds.
    pub rounds: Vec<RoundValuation>,
    /// Every provider that played a valued round, by client id.
    pub providers: Vec<ProviderValue>,
}

/// Values the providers of the run in `dir` with `method` (samplers seeded by `seed`), paying
/// rounds that gained more than `min_gain_permille` ‰ of the validation rows.
///
/// # Errors
/// A missing or inconsistent run directory (a model or update whose digest does not match), a
/// model that is not linear, a parameter outside the fixed-point range, or a round that is not
/// in the run.
pub fn value_run(
    dir: &Path,
    method: Method,
    rounds: Rounds,
    seed: u64,
    escrow: i128,
    min_gain_permille: u32,
) -> Result<RunValuation> {
    ensure!(escrow >= 0, "the escrow must not be negative");
    let opened = OpenedRun::open(dir)?;
    let rows = opened.validation.data.rows.len();
    let chosen: Vec<&RoundMetrics> = match rounds {
        Rounds::All => opened.metrics.iter().collect(),
        Rounds::One(r) => vec![opened.round(r)?],
    };
    ensure!(!chosen.is_empty(), "the run has no finished round to value");
    let mut valued = Vec::new();
    for m in chosen {
        let inputs = opened.round_inputs(m)?;
        let mut round = value_round(&opened, &inputs, method, seed)?;
        round.paid = gains_enough(round.empty, round.full, rows as u64, min_gain_permille);
        valued.push(round);
    }
    let (providers, remainder) = summarize(&valued, rows as u64, escrow, min_gain_permille)?;
    let strategy = &opened.federation.config().strategy;
    Ok(RunValuation {
        method,
        strategy: strategy.to_string(),
        fedavg: matches!(
            strategy,
            fl::strategy::StrategySpec::FedAvg | fl::strategy::StrategySpec::FedProx { .. }
        ),
        validation_rows: rows,
        escrow,
        min_gain_permille,
        remainder,
        rounds: valued,
        providers,
    })
}

/// An update a round could not value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedUpdate {
    /// The client.
    pub client: usize,
    /// Why.
    pub reason: String,
}

fn value_round(
    opened: &OpenedRun,
    inputs: &RoundInputs,
    method: Method,
    seed: u64,
) -> Result<RoundValuation> {
    let (model, validation) = (&opened.model, &opened.validation);
    let RoundInputs {
        round,
        clients,
        global,
        global_q,
        updates,
        weighted,
        refused,
    } = inputs;
    let round = *round;
    let labels = &validation.data.labels;
    let game = round_game(model, global_q, weighted, &validation.data.rows, labels)?;
    let (values, utilities) = match method {
        Method::Exact => {
            let (values, table) = values_and_table(&game)?;
            let table = table.into_iter().enumerate().map(|(s, v)| (s as u64, v));
            (values, Some(table.collect()))
        }
        _ if method.uses_game() => {
            let estimator = method.estimator(seed ^ u64::from(round));
            let values = estimator.estimate(&Round {
                game: &game,
                first_order: None,
            })?;
            (values, None)
        }
        _ => {
            // Only the first-order methods need the updates and the validation gradient.
            let deltas: Vec<Vec<f64>> = updates
                .iter()
                .map(|u| {
                    u.iter()
                        .zip(global)
                        .map(|(w, g)| f64::from(*w) - f64::from(*g))
                        .collect()
                })
                .collect();
            let gradient: Vec<f64> =
                float_step::gradient(model, global, &validation.float, labels)?
                    .into_iter()
                    .map(f64::from)
                    .collect();
            let values = method.estimator(seed).estimate(&Round {
                game: &game,
                first_order: Some(FirstOrder {
                    deltas: &deltas,
                    validation_gradient: &gradient,
                }),
            })?;
            (values, None)
        }
    };
    Ok(RoundValuation {
        round,
        samples: weighted.iter().map(|u| u.samples).collect(),
        empty: game.utility(0),
        full: game.utility(contribution::grand(clients.len())),
        paid: true,
        clients: clients.clone(),
        values,
        refused: refused.clone(),
        utilities,
    })
}
/// Sums rounds per provider (see [`counted`]) and splits the escrow: each provider's value,
/// and what returns to the owner when the values are exact.
fn summarize(
    rounds: &[RoundValuation],
    rows: u64,
    escrow: i128,
    min_gain_permille: u32,
) -> Result<(Vec<ProviderValue>, Option<i128>)> {
    let mut ids: Vec<usize> = rounds
        .iter()
        .flat_map(|r| {
            r.clients
                .iter()
                .copied()
                .chain(r.refused.iter().map(|x| x.client))
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let per_round = |client: usize| -> Vec<Option<Value>> {
        rounds
            .iter()
            .map(|r| {
                let i = r.clients.iter().position(|&c| c == client)?;
                Some(match &r.values.phi {
                    Phi::Rational {
                        numerators,
                        denominator,
                    } => Value::Rational {
                        num: numerators[i],
                        den: *denominator,
                    },
                    Phi::Real(v) => Value::Real(v[i]),
                })
            })
            .collect()
    };
    let exact: Option<Vec<RoundValues<usize>>> = rounds
        .iter()
        .map(|r| match &r.values.phi {
            Phi::Rational {
                numerators,
                denominator,
            } => Some(RoundValues {
                denominator: *denominator,
                numerators: r
                    .clients
                    .iter()
                    .copied()
                    .zip(
                        numerators
                            .iter()
                            .map(|&v| counted(v, *denominator, r.paid, rows, min_gain_permille)),
                    )
                    .collect(),
            }),
            Phi::Real(_) => None,
        })
        .collect();
    let (totals, split) = match exact {
        Some(exact) => {
            let task = task_values(&exact)?;
            let split = split(escrow, &task.numerators)?;
            let totals: BTreeMap<usize, Value> = task
                .numerators
                .iter()
                .map(|(&c, &num)| {
                    (
                        c,
                        Value::Rational {
                            num,
                            den: task.denominator,
                        },
                    )
                })
                .collect();
            (totals, Some(split))
        }
        None => {
            let totals = ids
                .iter()
                .map(|&c| {
                    let paid = per_round(c)
                        .iter()
                        .zip(rounds)
                        .filter_map(|(phi, r)| {
                            let v = phi.as_ref()?.to_f64();
                            Some(counted_real(v, r.paid, rows, min_gain_permille))
                        })
                        .sum();
                    (c, Value::Real(paid))
                })
                .collect();
            (totals, None)
        }
    };
    let positive: f64 = totals.values().map(|v| v.to_f64().max(0.0)).sum();
    let providers = ids
        .iter()
        .map(|&client| {
            let total = totals.get(&client).cloned().unwrap_or(match split {
                Some(_) => Value::Rational { num: 0, den: 1 },
                None => Value::Real(0.0),
            });
            let share = if positive > 0.0 {
                total.to_f64().max(0.0) / positive
            } else {
                0.0
            };
            ProviderValue {
                client,
                phi: per_round(client),
                share,
                payout: split
                    .as_ref()
                    .map(|s| s.payouts.get(&client).copied().unwrap_or(0)),
                total,
            }
        })
        .collect();
    Ok((providers, split.map(|s| s.remainder)))
}
