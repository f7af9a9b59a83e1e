//! How much each data provider's update improved a round's model: the contribution game and
//! estimators of its Shapley value (Shapley 1953).
//!
//! **The game.** The players of round `t` are the providers `P_t` whose updates the round
//! accepted, numbered `0..N`. A coalition `S ⊆ P_t` is a bitmask ([`Coalition`], bit `i` =
//! player `i`) and has an integer utility `v(S)` ([`Game`]); zkfl's is [`pool::PoolGame`], the
//! number of validation rows that the FedAvg model of `S`'s updates classifies correctly. The
//! Shapley value of player `i` is
//!
//! ```text
//! φ_i = Σ_{S ⊆ P_t \ {i}}  |S|! (N − |S| − 1)! / N!  · (v(S ∪ {i}) − v(S))
//! ```
//!
//! so with integer utilities `N!·φ_i` is an exact integer ([`exact`]): what the ledger pays
//! from, with no float anywhere ([`payout`]).
//!
//! **Estimators** ([`Estimator`], chosen by [`Method`]) trade exactness for utility
//! evaluations: [`exact`] evaluates all `2^N` coalitions; [`sampled`] has TMC-Shapley
//! (Ghorbani & Zou 2019) and GTG-Shapley (Liu et al. 2022), which average marginal
//! contributions over seeded random permutations with truncation; [`stratified`] has
//! Stratified SVARM (Kolpaczki et al. 2024), which averages utilities by coalition size and uses
//! every evaluated coalition for every player; [`loo`] is leave-one-out;
//! [`first_order`] has the gradient norm of an update and the first-order estimate
//! `−⟨∇L_val(w_t), Δ_i⟩`, which need no coalition at all. Coalitions are evaluated in parallel
//! (rayon) and each at most once per round. [`accuracy`] compares an estimate with the exact
//! values.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod memo;

pub mod accuracy;
pub mod draw;
pub mod exact;
pub mod first_order;
pub mod loo;
pub mod payout;
pub mod pool;
pub mod sampled;
pub mod stratified;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A coalition of players as a bitmask: bit `i` set means player `i` is in it.
pub type Coalition = u64;

/// The most players a sampled estimator takes (a coalition is a `u64`).
pub const MAX_PLAYERS: usize = 63;

/// The most players [`exact`] takes: it holds the `2^N` utilities in memory.
pub const MAX_EXACT_PLAYERS: usize = 20;

/// The default budget of the sampling estimators, in distinct coalitions: a quarter of the `2^n`,
/// at least `n²`, and all of them up to 64 coalitions (never more than `2^n`).
pub fn default_evaluation_cap(n: usize) -> usize {
    let all = if n >= 63 { usize::MAX } else { 1usize << n };
    (all / 4).max(n * n).max(all.min(64)).min(all)
}

/// A cooperative game with transferable, integer utility.
pub trait Game: Sync {
    /// Number of players `N` (at least 1).
    fn players(&self) -> usize;

    /// The utility `v(S)` of a coalition (only bits below `players()` are set).
    fn utility(&self, coalition: Coalition) -> i64;

    /// The utility scale that thresholds are relative to, e.g. the number of validation rows
    /// for a count of correct rows (so GTG's `0.001` is a 0.1 % change of accuracy).
    fn scale(&self) -> f64 {
        1.0
    }
}

/// The coalition of all `n` players.
pub fn grand(n: usize) -> Coalition {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// What an estimator needs beyond the game: each update `Δ_i = w_i − w_t` (flat, in the
/// model's parameter order) and the gradient of the validation loss at the round's global model.
#[derive(Clone, Copy, Debug)]
pub struct FirstOrder<'a> {
    /// `Δ_i` of each player, all of one length.
    pub deltas: &'a [Vec<f64>],
    /// `∇L_val(w_t)`, of the same length.
    pub validation_gradient: &'a [f64],
}

/// One round to value.
#[derive(Clone, Copy)]
pub struct Round<'a> {
    /// The round's game.
    pub game: &'a dyn Game,
    /// Updates and validation gradient, for the estimators that use them.
    pub first_order: Option<FirstOrder<'a>>,
}

/// Values of the players of one round. JSON: `{"numerators": […], "denominator": d}` or a list
/// of numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Phi {
    /// Exact rational values `numerators[i] / denominator` (the denominator `N!` for Shapley
    /// values, 1 for leave-one-out).
    Rational {
        /// One numerator per player.
        numerators: Vec<i128>,
        /// The common denominator (positive).
        denominator: i128,
    },
    /// Estimated values, in utility units.
    Real(Vec<f64>),
}

impl Phi {
    /// The values as floats, in utility units.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Phi::Rational {
                numerators,
                denominator,
            } => numerators
                .iter()
                .map(|&n| n as f64 / *denominator as f64)
                .collect(),
            Phi::Real(values) => values.clone(),
        }
    }

    /// Number of players.
    pub fn len(&self) -> usize {
        match self {
            Phi::Rational { numerators, .. } => numerators.len(),
            Phi::Real(values) => values.len(),
        }
    }

    /// Whether there are no players.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An estimator's answer for one round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Values {
    /// The values, one per player.
    pub phi: Phi,
    /// Distinct coalitions whose utility was evaluated.
    pub evaluations: usize,
    /// Permutations sampled (sampled estimators; 0 otherwise).
    pub permutations: usize,
    /// Why the values are all zero without sampling (GTG's skipped round), if so.
    pub skipped: Option<String>,
}

/// Values the players of a round: one trait, several estimators (like `fl`'s `Strategy`).
pub trait Estimator: Send + Sync {
    /// Which method this is.
    fn method(&self) -> Method;

    /// The values of `round`'s players.
    ///
    /// # Errors
    /// [`ContributionError`] for a game with no players or more than the method takes, and for
    /// a first-order method given no updates.
    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError>;
}

/// Why values could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContributionError {
    /// A game with no players.
    #[error("a round with no players has no contributions to value")]
    NoPlayers,
    /// More players than the method takes.
    #[error("{method} takes at most {max} players, the round has {players}")]
    TooManyPlayers {
        /// The method.
        method: Method,
        /// Its limit.
        max: usize,
        /// The round's players.
        players: usize,
    },
    /// A first-order method without updates, or updates of the wrong count or length.
    #[error("{0}")]
    FirstOrder(String),
    /// Inputs of inconsistent shapes.
    #[error("{0}")]
    Shape(String),
    /// An integer result does not fit in 128 bits.
    #[error("integer overflow computing {0}")]
    Overflow(&'static str),
    /// An unknown method name.
    #[error(
        "unknown contribution method {0:?}; expected exact, tmc, gtg, svarm, loo, gradnorm or valgrad"
    )]
    UnknownMethod(String),
}

/// The estimators, as a user names them (`exact`, `tmc`, `gtg`, `svarm`, `loo`, `gradnorm`, `valgrad`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Exact Shapley values over all coalitions ([`exact::Exact`]).
    Exact,
    /// Truncated Monte Carlo Shapley ([`sampled::Tmc`]).
    Tmc,
    /// Guided truncation gradient Shapley ([`sampled::Gtg`]).
    Gtg,
    /// Stratified SVARM ([`stratified::StratifiedSvarm`]).
    Svarm,
    /// Leave-one-out ([`loo::LeaveOneOut`]).
    Loo,
    /// The update's L2 norm ([`first_order::GradNorm`]).
    GradNorm,
    /// The clipped validation-gradient inner product ([`first_order::ValGrad`]).
    ValGrad,
}

impl Method {
    /// Every method, in the order above.
    pub const ALL: [Method; 7] = [
        Method::Exact,
        Method::Tmc,
        Method::Gtg,
        Method::Svarm,
        Method::Loo,
        Method::GradNorm,
        Method::ValGrad,
    ];

    /// The estimator with its published defaults; `seed` seeds the samplers.
    pub fn estimator(self, seed: u64) -> Box<dyn Estimator> {
        match self {
            Method::Exact => Box::new(exact::Exact),
            Method::Tmc => Box::new(sampled::Tmc::new(seed)),
            Method::Gtg => Box::new(sampled::Gtg::new(seed)),
            Method::Svarm => Box::new(stratified::StratifiedSvarm::new(seed)),
            Method::Loo => Box::new(loo::LeaveOneOut),
            Method::GradNorm => Box::new(first_order::GradNorm),
            Method::ValGrad => Box::new(first_order::ValGrad),
        }
    }

    /// Whether the method values players by the Shapley game (and so by utilities).
    pub fn uses_game(self) -> bool {
        !matches!(self, Method::GradNorm | Method::ValGrad)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Exact => "exact",
            Method::Tmc => "tmc",
            Method::Gtg => "gtg",
            Method::Svarm => "svarm",
            Method::Loo => "loo",
            Method::GradNorm => "gradnorm",
            Method::ValGrad => "valgrad",
        })
    }
}

impl FromStr for Method {
    type Err = ContributionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.to_string() == s.trim())
            .ok_or_else(|| ContributionError::UnknownMethod(s.to_string()))
    }
}

/// Checks a game's player count against a method's limit.
fn players_within(game: &dyn Game, method: Method, max: usize) -> Result<usize, ContributionError> {
    match game.players() {
        0 => Err(ContributionError::NoPlayers),
        n if n > max => Err(ContributionError::TooManyPlayers {
            method,
            max,
            players: n,
        }),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip_by_name() {
        for m in Method::ALL {
            assert_eq!(m.to_string().parse::<Method>().unwrap(), m);
            assert_eq!(m.estimator(0).method(), m);
        }
        assert!("shapley".parse::<Method>().is_err());
    }

    #[test]
    fn grand_coalition_masks() {
        assert_eq!(grand(0), 0);
        assert_eq!(grand(3), 0b111);
        assert_eq!(grand(63).count_ones(), 63);
    }
}
