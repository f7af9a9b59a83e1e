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

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use circuits::fixed::{quantize_feature, quantize_params};
use circuits::reference::contribution::{WeightedModel, round_game};
use circuits::reference::float_step;
use circuits::relations::contribution::{ContributionShape, ContributionWitness};
use contribution::exact::values_and_table;
use contribution::payout::{RoundValues, counted, gains_enough, split, task_values};
use contribution::{FirstOrder, Game, Method, Phi, Round, Values};
use fl::blob::Digest;
use fl::data::Dataset;
use fl::federation::{Federation, FederationConfig, RoundMetrics, RunDir};
use serde::Serialize;

use circuits::reference::Model;

use crate::proving::relation_model;

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
    let (run, federation, metrics) = (&opened.run, &opened.federation, &opened.metrics);
    let context = RoundContext {
        run,
        model: opened.model,
        validation: Validation::of(federation.validation_set())?,
    };
    let rows = context.validation.set.len();
    let chosen: Vec<&RoundMetrics> = match rounds {
        Rounds::All => metrics.iter().collect(),
        Rounds::One(r) => vec![opened.round(r)?],
    };
    ensure!(!chosen.is_empty(), "the run has no finished round to value");
    let mut valued = Vec::new();
    for m in chosen {
        let inputs = round_inputs(&context, federation, metrics, m)?;
        let mut round = value_round(&context, &inputs, method, seed)?;
        round.paid = gains_enough(round.empty, round.full, rows as u64, min_gain_permille);
        valued.push(round);
    }
    let mut valuation = summarize(method, rows, escrow, min_gain_permille, valued)?;
    let strategy = &federation.config().strategy;
    valuation.strategy = strategy.to_string();
    valuation.fedavg = matches!(
        strategy,
        fl::strategy::StrategySpec::FedAvg | fl::strategy::StrategySpec::FedProx { .. }
    );
    Ok(valuation)
}

/// What every round of a run is valued against.
struct RoundContext<'a> {
    run: &'a RunDir,
    model: Model,
    validation: Validation<'a>,
}

/// The owner's validation rows as floats (for the gradient) and in fixed point (for the game).
struct Validation<'a> {
    set: &'a Dataset,
    float: Vec<Vec<f32>>,
    fixed: Vec<Vec<i64>>,
}

impl<'a> Validation<'a> {
    fn of(set: &'a Dataset) -> Result<Self> {
        let float: Vec<Vec<f32>> = (0..set.len()).map(|i| set.row(i).to_vec()).collect();
        let fixed = float
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&x| quantize_feature(x))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .context("a validation feature is off the fixed-point grid")?;
        Ok(Validation { set, float, fixed })
    }
}

/// The global model round `round` started from, checked against its digest.
fn global_before(
    run: &RunDir,
    federation: &Federation,
    metrics: &[RoundMetrics],
    round: u32,
) -> Result<Vec<f32>> {
    let previous = round - 1;
    let digest = if previous == 0 {
        Digest::of(&fl::blob::f32s_to_bytes(
            &federation.spec().init_params(federation.config().seed),
        ))
    } else {
        metrics
            .iter()
            .find(|m| m.round == previous)
            .map(|m| m.model)
            .with_context(|| format!("metrics.json has no round {previous}"))?
    };
    Ok(run.load_model(previous, &digest)?)
}

/// A run directory opened for valuation: its federation (data, validation set) re-derived.
struct OpenedRun {
    run: RunDir,
    federation: Federation,
    model: Model,
    metrics: Vec<RoundMetrics>,
}

impl OpenedRun {
    fn open(dir: &Path) -> Result<Self> {
        let run = RunDir::open(dir)?;
        let config: FederationConfig = run
            .read_json("config.json")?
            .with_context(|| format!("{} holds no run (no config.json)", dir.display()))?;
        let metrics: Vec<RoundMetrics> = run.read_json("metrics.json")?.unwrap_or_default();
        let federation = Federation::new(config)?;
        let spec = federation.spec();
        ensure!(
            matches!(
                spec.kind,
                fl::model::ModelKind::Softmax | fl::model::ModelKind::LogReg
            ),
            "contributions are valued for linear models (softmax, logreg); this run trained {spec}"
        );
        let model = relation_model(spec)?;
        Ok(OpenedRun {
            run,
            federation,
            model,
            metrics,
        })
    }

    fn round(&self, round: u32) -> Result<&RoundMetrics> {
        self.metrics
            .iter()
            .find(|m| m.round == round)
            .with_context(|| format!("the run has no finished round {round}"))
    }
}

/// A round's models: the global one it started from and each provider's update, as stored and
/// in fixed point.
struct RoundInputs {
    round: u32,
    clients: Vec<usize>,
    global: Vec<f32>,
    global_q: Vec<i64>,
    updates: Vec<Vec<f32>>,
    weighted: Vec<WeightedModel>,
    refused: Vec<RefusedUpdate>,
}

/// An update a round could not value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedUpdate {
    /// The client.
    pub client: usize,
    /// Why.
    pub reason: String,
}

fn round_inputs(
    context: &RoundContext<'_>,
    federation: &Federation,
    metrics: &[RoundMetrics],
    m: &RoundMetrics,
) -> Result<RoundInputs> {
    let round = m.round;
    let global = global_before(context.run, federation, metrics, round)?;
    let quantize = |params: &[f32], whose: &str| {
        quantize_params(params).with_context(|| {
            format!("round {round}: {whose} is outside the fixed-point range and cannot be valued")
        })
    };
    let global_q = quantize(&global, "the global model")?;
    let mut inputs = RoundInputs {
        round,
        clients: Vec::new(),
        global,
        global_q,
        updates: Vec::new(),
        weighted: Vec::new(),
        refused: Vec::new(),
    };
    for c in &m.clients {
        ensure!(
            !inputs.clients.contains(&c.client)
                && !inputs.refused.iter().any(|r| r.client == c.client),
            "round {round}: metrics.json lists client {} twice",
            c.client
        );
        ensure!(
            c.samples > 0,
            "round {round}: metrics.json says client {} trained on no rows",
            c.client
        );
        let digest = c.update.with_context(|| {
            format!(
                "round {round}: metrics.json names no update of client {}",
                c.client
            )
        })?;
        let params = context
            .run
            .blobs()
            .get_f32s(&digest)
            .with_context(|| format!("round {round}: the update of client {}", c.client))?;
        ensure!(
            params.len() == inputs.global.len(),
            "round {round}: the update of client {} has {} parameters, not {}",
            c.client,
            params.len(),
            inputs.global.len()
        );
        // An update outside the fixed-point range has no commitment and cannot be proven: a
        // task refuses it, so it plays no part in the round's game (and is valued 0).
        let Ok(params_q) = quantize_params(&params) else {
            inputs.refused.push(RefusedUpdate {
                client: c.client,
                reason: "its update is outside the fixed-point range (|w| < 128)".into(),
            });
            continue;
        };
        inputs.weighted.push(WeightedModel {
            samples: c.samples as u64,
            params: params_q,
        });
        inputs.updates.push(params);
        inputs.clients.push(c.client);
    }
    if inputs.clients.is_empty() {
        bail!("round {round} has no update to value (none sent, or none in the fixed-point range)");
    }
    Ok(inputs)
}

fn value_round(
    context: &RoundContext<'_>,
    inputs: &RoundInputs,
    method: Method,
    seed: u64,
) -> Result<RoundValuation> {
    let RoundContext {
        model, validation, ..
    } = context;
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
    let deltas: Vec<Vec<f64>> = updates
        .iter()
        .map(|u| {
            u.iter()
                .zip(global)
                .map(|(w, g)| f64::from(*w) - f64::from(*g))
                .collect()
        })
        .collect();
    let labels = &validation.set.labels;
    let game = round_game(model, global_q, weighted, &validation.fixed, labels)?;
    let gradient: Vec<f64> = float_step::gradient(model, global, &validation.float, labels)?
        .into_iter()
        .map(f64::from)
        .collect();
    let (values, utilities) = match method {
        Method::Exact => {
            let (values, table) = values_and_table(&game)?;
            let table = table.into_iter().enumerate().map(|(s, v)| (s as u64, v));
            (values, Some(table.collect()))
        }
        _ => {
            let round_in = Round {
                game: &game,
                first_order: Some(FirstOrder {
                    deltas: &deltas,
                    validation_gradient: &gradient,
                }),
            };
            (
                method
                    .estimator(seed ^ u64::from(round))
                    .estimate(&round_in)?,
                None,
            )
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

/// How far the model a run posted after a round is from the exact fixed-point FedAvg that a
/// contribution proof names as the aggregate (in units of `2^-FW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AggregateGap {
    /// Coordinates that differ.
    pub differing: usize,
    /// The largest difference.
    pub largest: i64,
}

/// The contribution proof of round `round` of the run in `dir`: its shape, the owner's witness
/// (the round's models in fixed point, the validation rows, the utility table, the values, the
/// exact fixed-point FedAvg aggregate and up to `drawn` coalitions drawn by `draw_seed`), and
/// how far the run's own next model is from that aggregate (a run that aggregates in floating
/// point is off by a unit in some coordinates: a proven task must aggregate in fixed point).
///
/// # Errors
/// As [`value_run`], and when the round cannot be proven (more players than a proof takes).
pub fn contribution_witness(
    dir: &Path,
    round: u32,
    drawn: usize,
    draw_seed: &[u8; 32],
) -> Result<(ContributionShape, ContributionWitness, AggregateGap)> {
    let opened = OpenedRun::open(dir)?;
    let validation = Validation::of(opened.federation.validation_set())?;
    let context = RoundContext {
        run: &opened.run,
        model: opened.model,
        validation,
    };
    let m = opened.round(round)?;
    let inputs = round_inputs(&context, &opened.federation, &opened.metrics, m)?;
    let n = inputs.clients.len();
    let rows = context.validation.set.len();
    let coalitions = contribution::draw::drawn(draw_seed, n, drawn);
    let shape = ContributionShape {
        model: opened.model,
        players: n,
        rows,
        depth: usize::BITS - (rows.max(2) - 1).leading_zeros(),
        drawn: coalitions.len(),
    };
    shape.validate()?;
    let witness = ContributionWitness::honest(
        &opened.model,
        inputs.global_q,
        inputs.weighted.iter().map(|w| w.params.clone()).collect(),
        inputs.weighted.iter().map(|w| w.samples).collect(),
        context.validation.fixed.clone(),
        context.validation.set.labels.clone(),
        coalitions,
    )?;
    let posted = global_before(&opened.run, &opened.federation, &opened.metrics, round + 1)?;
    let posted = quantize_params(&posted).context("the run's next model is out of range")?;
    let gaps: Vec<i64> = posted
        .iter()
        .zip(&witness.aggregate)
        .map(|(a, b)| (a - b).abs())
        .filter(|&d| d != 0)
        .collect();
    let gap = AggregateGap {
        differing: gaps.len(),
        largest: gaps.iter().copied().max().unwrap_or(0),
    };
    Ok((shape, witness, gap))
}

/// Sums rounds per provider and splits the escrow.
fn summarize(
    method: Method,
    validation_rows: usize,
    escrow: i128,
    min_gain_permille: u32,
    rounds: Vec<RoundValuation>,
) -> Result<RunValuation> {
    let rows = validation_rows as u64;
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
                        .zip(&rounds)
                        .filter_map(|(phi, r)| {
                            let v = phi.as_ref()?.to_f64();
                            let harm = f64::from(min_gain_permille) * rows as f64 / 1000.0;
                            Some(if r.paid || v < -harm { v } else { 0.0 })
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
            let total = totals.get(&client).cloned().unwrap_or(match method {
                Method::Exact | Method::Loo => Value::Rational { num: 0, den: 1 },
                _ => Value::Real(0.0),
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
    Ok(RunValuation {
        method,
        strategy: String::new(),
        fedavg: true,
        validation_rows,
        escrow,
        min_gain_permille,
        remainder: split.as_ref().map(|s| s.remainder),
        rounds,
        providers,
    })
}
