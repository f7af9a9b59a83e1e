//! Server-side aggregation rules, in the way Flower's strategies work.
//!
//! A round: the server sends the global model `w` to the selected clients; each client `i` trains
//! locally and returns [`ClientUpdate`] `(w_i, n_i)`; a [`Strategy`] combines the updates into the
//! next global model. Models are flat `f32` parameter vectors of one shared length.
//!
//! - `fedavg`: `Σ n_i·w_i / Σ n_i` (McMahan et al. 2017).
//! - `fedprox:MU`: aggregates like FedAvg; clients add `MU/2·‖w − w_global‖²` to their loss.
//! - `fedavgm:LR,BETA`: `d = w − fedavg`, `v ← BETA·v + d`, `w ← w − LR·v` (Hsu et al. 2019).
//! - `median`: coordinate-wise median (Yin et al. 2018).
//! - `trimmed-mean:BETA`: per coordinate drop the `⌊BETA·n⌋` largest and smallest values and
//!   average the rest.
//! - `krum:F`: the update with the lowest sum of squared distances to its `n − F − 2` nearest
//!   neighbours (Blanchard et al. 2017); needs `n > 2F + 2`.
//! - `multi-krum:F,M`: unweighted mean of the `M` updates with the lowest Krum scores.
//!
//! Every rule is deterministic: updates are taken in ascending client id order (so arrival order
//! does not matter), each coordinate is reduced sequentially, and rayon only splits the work
//! between coordinates or between pairs of clients, so the bits of the result do not depend on the
//! thread count. Any non-finite input is rejected; a non-finite result is an error, never a model.

mod fedavg;
mod krum;
mod robust;

pub use fedavg::{FedAvg, FedAvgM, FedProx};
pub use krum::{Krum, MultiKrum};
pub use robust::{Median, TrimmedMean};

use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The `--strategy` forms accepted by [`StrategySpec::from_str`], for error messages and help.
pub const ACCEPTED_FORMS: &str = "fedavg, fedavgm, fedavgm:LR,BETA, fedprox:MU, median, \
                                  trimmed-mean:BETA (0 <= BETA < 0.5), krum:F, multi-krum:F,M";

/// One client's contribution to a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientUpdate {
    /// Id of the client that trained this update.
    pub client: usize,
    /// The client's locally trained parameters (same length as the global model).
    pub params: Vec<f32>,
    /// Number of training samples behind the update (FedAvg's weight).
    pub n_samples: usize,
}

/// A server-side aggregation rule.
pub trait Strategy: Send {
    /// Short name, e.g. "fedavg", "krum:2" (the [`StrategySpec`] string that builds it).
    fn name(&self) -> String;
    /// Combine the updates of one round into the next global model. `global` is the model the
    /// clients started from.
    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError>;
    /// FedProx proximal coefficient μ that clients must use (0 for all but FedProx).
    fn proximal_mu(&self) -> f32 {
        0.0
    }
    /// Server state that must survive a resume (FedAvgM's momentum buffer); None when stateless.
    fn state(&self) -> Option<Vec<f32>> {
        None
    }
    /// Restore what `state` returned.
    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError>;
}

/// Where a non-finite value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueOrigin {
    /// The global model the round started from.
    Global,
    /// The update of the client with this id.
    Client(usize),
    /// Server state handed to `restore_state` or kept between rounds.
    State,
    /// The aggregated model (overflow in the rule's arithmetic).
    Result,
}

impl fmt::Display for ValueOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueOrigin::Global => write!(f, "the global model"),
            ValueOrigin::Client(id) => write!(f, "the update of client {id}"),
            ValueOrigin::State => write!(f, "the server state"),
            ValueOrigin::Result => write!(f, "the aggregated model"),
        }
    }
}

/// Why a strategy could not be parsed, checked or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// The strategy name is not one we know.
    #[error("unknown strategy {0:?}; accepted forms: {ACCEPTED_FORMS}")]
    UnknownStrategy(String),
    /// A strategy parameter is missing, malformed or out of range.
    #[error("bad parameter in strategy {spec:?}: {reason}")]
    BadParameter {
        /// The strategy as written or displayed.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Krum and Multi-Krum need `n > 2f + 2` updates per round.
    #[error(
        "krum with f = {f} needs n > 2f + 2 = {} updates per round, got n = {n}",
        .f.saturating_mul(2).saturating_add(2)
    )]
    TooFewClients {
        /// Updates per round.
        n: usize,
        /// Byzantine clients tolerated.
        f: usize,
    },
    /// A round (or a run) with no client updates.
    #[error("round has no client updates to aggregate")]
    EmptyRound,
    /// Two updates in one round came from the same client.
    #[error("client {0} sent more than one update in the round")]
    DuplicateClient(usize),
    /// An update does not have the global model's length.
    #[error("client {client} sent {got} parameters but the global model has {expected}")]
    LengthMismatch {
        /// Client id.
        client: usize,
        /// Length of the global model.
        expected: usize,
        /// Length of the update.
        got: usize,
    },
    /// Every update reports zero samples, so FedAvg has no weights.
    #[error("all {0} updates report zero samples; the weighted average is undefined")]
    ZeroSamples(usize),
    /// A NaN or infinity in an input, the server state or the result.
    #[error("non-finite value at parameter {index} of {origin}")]
    NonFinite {
        /// Which vector holds it.
        origin: ValueOrigin,
        /// Its position.
        index: usize,
    },
    /// Server state whose length differs from the model's.
    #[error("server state has {got} values but the global model has {expected}")]
    StateMismatch {
        /// Length of the global model.
        expected: usize,
        /// Length of the state.
        got: usize,
    },
    /// State handed to a strategy that keeps none.
    #[error("strategy {0} keeps no server state but was given some")]
    UnexpectedState(String),
}

/// Parsed `--strategy` value. `FromStr`/`Display` round-trip; serde as that string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrategySpec {
    /// `fedavg`.
    FedAvg,
    /// `fedavgm` (lr 1, momentum 0.9) or `fedavgm:LR,BETA`.
    FedAvgM {
        /// Server learning rate (> 0).
        server_lr: f32,
        /// Server momentum β in [0, 1).
        momentum: f32,
    },
    /// `fedprox:MU`.
    FedProx {
        /// Proximal coefficient μ (>= 0).
        mu: f32,
    },
    /// `median`.
    Median,
    /// `trimmed-mean:BETA`.
    TrimmedMean {
        /// Fraction trimmed at each end, in [0, 0.5).
        beta: f32,
    },
    /// `krum:F`.
    Krum {
        /// Byzantine clients tolerated.
        f: usize,
    },
    /// `multi-krum:F,M`.
    MultiKrum {
        /// Byzantine clients tolerated.
        f: usize,
        /// Updates averaged (>= 1).
        m: usize,
    },
}

impl StrategySpec {
    /// Default server learning rate of `fedavgm`.
    pub const DEFAULT_SERVER_LR: f32 = 1.0;
    /// Default server momentum of `fedavgm`.
    pub const DEFAULT_MOMENTUM: f32 = 0.9;

    /// A fresh strategy with this spec's parameters (no server state yet).
    pub fn build(&self) -> Box<dyn Strategy> {
        match *self {
            StrategySpec::FedAvg => Box::new(FedAvg),
            StrategySpec::FedAvgM {
                server_lr,
                momentum,
            } => Box::new(FedAvgM::new(server_lr, momentum)),
            StrategySpec::FedProx { mu } => Box::new(FedProx::new(mu)),
            StrategySpec::Median => Box::new(Median),
            StrategySpec::TrimmedMean { beta } => Box::new(TrimmedMean::new(beta)),
            StrategySpec::Krum { f } => Box::new(Krum::new(f)),
            StrategySpec::MultiKrum { f, m } => Box::new(MultiKrum::new(f, m)),
        }
    }

    /// Check the spec against the number of clients that will report per round, before any work
    /// starts: parameter ranges, Krum's `n > 2f + 2`, Multi-Krum's `m <= n - f`, and that trimmed
    /// mean keeps at least one value per coordinate.
    pub fn validate(&self, clients_per_round: usize) -> Result<(), StrategyError> {
        self.check_params()?;
        let n = clients_per_round;
        if n == 0 {
            return Err(StrategyError::EmptyRound);
        }
        match *self {
            StrategySpec::TrimmedMean { beta } => robust::check_trim(beta, n),
            StrategySpec::Krum { f } => krum::check_krum(n, f),
            StrategySpec::MultiKrum { f, m } => krum::check_multi_krum(n, f, m),
            _ => Ok(()),
        }
    }

    /// Check the parameter ranges that do not depend on the number of clients.
    fn check_params(&self) -> Result<(), StrategyError> {
        let reason = match *self {
            StrategySpec::FedAvgM { server_lr, .. }
                if !(server_lr.is_finite() && server_lr > 0.0) =>
            {
                "server learning rate LR must be finite and > 0"
            }
            StrategySpec::FedAvgM { momentum, .. } if !(0.0..1.0).contains(&momentum) => {
                "momentum BETA must be in [0, 1)"
            }
            StrategySpec::FedProx { mu } if !(mu.is_finite() && mu >= 0.0) => {
                "proximal coefficient MU must be finite and >= 0"
            }
            StrategySpec::TrimmedMean { beta } if !(0.0..0.5).contains(&beta) => {
                "trim fraction BETA must be in [0, 0.5)"
            }
            StrategySpec::MultiKrum { m: 0, .. } => "multi-krum must average M >= 1 updates",
            _ => return Ok(()),
        };
        Err(StrategyError::BadParameter {
            spec: self.to_string(),
            reason: reason.to_string(),
        })
    }
}

impl fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategySpec::FedAvg => write!(f, "fedavg"),
            StrategySpec::FedAvgM {
                server_lr,
                momentum,
            } => write!(f, "fedavgm:{server_lr},{momentum}"),
            StrategySpec::FedProx { mu } => write!(f, "fedprox:{mu}"),
            StrategySpec::Median => write!(f, "median"),
            StrategySpec::TrimmedMean { beta } => write!(f, "trimmed-mean:{beta}"),
            StrategySpec::Krum { f: byz } => write!(f, "krum:{byz}"),
            StrategySpec::MultiKrum { f: byz, m } => write!(f, "multi-krum:{byz},{m}"),
        }
    }
}

impl FromStr for StrategySpec {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (name, args) = match text.split_once(':') {
            Some((name, args)) => (name, Some(args)),
            None => (text, None),
        };
        let bad = |reason: String| StrategyError::BadParameter {
            spec: text.to_string(),
            reason,
        };
        let spec = match name {
            "fedavg" | "median" => {
                if args.is_some() {
                    return Err(bad(format!("{name} takes no parameters")));
                }
                if name == "fedavg" {
                    StrategySpec::FedAvg
                } else {
                    StrategySpec::Median
                }
            }
            "fedavgm" => match args {
                None => StrategySpec::FedAvgM {
                    server_lr: Self::DEFAULT_SERVER_LR,
                    momentum: Self::DEFAULT_MOMENTUM,
                },
                Some(args) => {
                    let [server_lr, momentum] = parse_args(args, "fedavgm:LR,BETA").map_err(bad)?;
                    StrategySpec::FedAvgM {
                        server_lr,
                        momentum,
                    }
                }
            },
            "fedprox" => {
                let [mu] = parse_args(args.unwrap_or(""), "fedprox:MU").map_err(bad)?;
                StrategySpec::FedProx { mu }
            }
            "trimmed-mean" => {
                let [beta] = parse_args(args.unwrap_or(""), "trimmed-mean:BETA").map_err(bad)?;
                StrategySpec::TrimmedMean { beta }
            }
            "krum" => {
                let [f] = parse_args(args.unwrap_or(""), "krum:F").map_err(bad)?;
                StrategySpec::Krum { f }
            }
            "multi-krum" => {
                let [f, m] = parse_args(args.unwrap_or(""), "multi-krum:F,M").map_err(bad)?;
                StrategySpec::MultiKrum { f, m }
            }
            _ => return Err(StrategyError::UnknownStrategy(text.to_string())),
        };
        spec.check_params()?;
        Ok(spec)
    }
}

/// Parse exactly `N` comma-separated numbers; the error names the expected `form`.
fn parse_args<T: FromStr, const N: usize>(args: &str, form: &str) -> Result<[T; N], String> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let wrong = || format!("expected {form}, got {args:?}");
    if parts.len() != N {
        return Err(wrong());
    }
    let values: Vec<T> = parts
        .iter()
        .map(|p| p.parse::<T>().map_err(|_| wrong()))
        .collect::<Result<_, _>>()?;
    values.try_into().map_err(|_| wrong())
}

impl Serialize for StrategySpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StrategySpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Coordinates handled by one rayon task; fixed, so the split never depends on the thread count.
const CHUNK: usize = 4096;
/// Below this many scalar operations a round runs on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 16;

/// Check a round's inputs and return the updates in ascending client id order.
///
/// Errors on an empty round, a duplicate client, a length mismatch or any non-finite value.
fn check_round<'a>(
    global: &[f32],
    updates: &'a [ClientUpdate],
) -> Result<Vec<&'a ClientUpdate>, StrategyError> {
    if updates.is_empty() {
        return Err(StrategyError::EmptyRound);
    }
    check_finite(global, ValueOrigin::Global)?;
    let mut ordered: Vec<&ClientUpdate> = updates.iter().collect();
    ordered.sort_by_key(|u| u.client);
    for pair in ordered.windows(2) {
        if pair[0].client == pair[1].client {
            return Err(StrategyError::DuplicateClient(pair[0].client));
        }
    }
    for update in &ordered {
        if update.params.len() != global.len() {
            return Err(StrategyError::LengthMismatch {
                client: update.client,
                expected: global.len(),
                got: update.params.len(),
            });
        }
        check_finite(&update.params, ValueOrigin::Client(update.client))?;
    }
    Ok(ordered)
}

/// Error on the first non-finite value of `values`.
fn check_finite(values: &[f32], origin: ValueOrigin) -> Result<(), StrategyError> {
    let bad = |v: &f32| !v.is_finite();
    let index = if values.len() >= PARALLEL_MIN_WORK {
        values.par_iter().position_first(bad)
    } else {
        values.iter().position(bad)
    };
    match index {
        Some(index) => Err(StrategyError::NonFinite { origin, index }),
        None => Ok(()),
    }
}

/// Build a `dim`-long vector chunk by chunk: `fill(start, out)` writes coordinates
/// `start..start + out.len()`. Chunks run on rayon when `work` (scalar operations) is large; each
/// coordinate must be computed by `fill` alone, so the result is the same on any thread count.
fn map_coordinates<F>(dim: usize, work: usize, fill: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let mut out = vec![0.0_f32; dim];
    if work >= PARALLEL_MIN_WORK {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| fill(c * CHUNK, chunk));
    } else {
        out.chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| fill(c * CHUNK, chunk));
    }
    out
}

/// Fill each coordinate of the result from its column of values (one per update, in the order
/// of `updates`) with `reduce`, which may reorder the column it is given.
fn map_columns<F>(dim: usize, updates: &[&ClientUpdate], reduce: F) -> Vec<f32>
where
    F: Fn(&mut [f32]) -> f32 + Sync,
{
    map_coordinates(dim, dim * updates.len(), |start, out| {
        let mut column = vec![0.0_f32; updates.len()];
        for (offset, slot) in out.iter_mut().enumerate() {
            for (value, update) in column.iter_mut().zip(updates) {
                *value = update.params[start + offset];
            }
            *slot = reduce(&mut column);
        }
    })
}

/// Error if the aggregated model holds a NaN or infinity; otherwise pass it through.
fn finite_result(model: Vec<f32>) -> Result<Vec<f32>, StrategyError> {
    check_finite(&model, ValueOrigin::Result)?;
    Ok(model)
}

/// `restore_state` for strategies without state: only `None` is accepted.
fn restore_nothing(name: String, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
    match state {
        None => Ok(()),
        Some(_) => Err(StrategyError::UnexpectedState(name)),
    }
}

#[cfg(test)]
mod tests;
