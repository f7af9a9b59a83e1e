//! Shapley values estimated from seeded random permutations, with truncation.
//!
//! Both estimators average, over permutations `π` of the players, the marginal contribution
//! `v(π_{<k} ∪ {π_k}) − v(π_{<k})` of each player. A permutation is cut short once its prefix is
//! already worth almost `v(P)` (the players left are credited 0): that is what makes them cheap.
//!
//! - [`Tmc`], TMC-Shapley (Ghorbani & Zou, "Data Shapley", ICML 2019): uniform permutations;
//!   truncation when `|v(P) − v(prefix)| < 0.05·|v(P)|` (pyDVL's reproduction setting).
//! - [`Gtg`], GTG-Shapley (Liu et al., "GTG-Shapley: Efficient and Accurate Participant
//!   Contribution Evaluation in Federated Learning", ACM TIST 2022), with its published
//!   defaults: the round is skipped (all values 0) when `|v(P) − v(∅)| <= 0.01·scale`; guided
//!   sampling (permutation `k` starts with player `k mod N`); truncation when
//!   `|v(P) − v(prefix)| < 0.001·scale`.
//!
//! Both: permutations run in batches of [`WINDOW`] in parallel; permutation `k` is drawn from
//! ChaCha8 seeded with the seed on stream `k`, so the estimate depends on the seed only. After
//! at least `min_permutations`, sampling stops when the estimate moved less than 5 % over the
//! last 10 permutations (`‖φ_k − φ_{k−10}‖₂ < 0.05·‖φ_k‖₂`, no division by a single value),
//! or before a permutation could take the distinct coalitions evaluated past
//! `max_evaluations`, or at `max_permutations`.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::memo::Memo;
use crate::{
    Coalition, ContributionError, Estimator, MAX_PLAYERS, Method, Phi, Round, Values,
    default_evaluation_cap, grand, players_within,
};

/// Permutations per batch, and the span over which convergence is judged.
pub const WINDOW: usize = 10;

/// When a sampler stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stopping {
    /// Permutations sampled before convergence is judged.
    pub min_permutations: usize,
    /// Permutations sampled at most.
    pub max_permutations: usize,
    /// Relative change over the last [`WINDOW`] permutations below which the estimate has
    /// converged.
    pub tolerance: f64,
    /// Distinct coalitions evaluated at most; `None`: [`default_evaluation_cap`].
    pub max_evaluations: Option<usize>,
}

impl Default for Stopping {
    fn default() -> Self {
        Stopping {
            min_permutations: 30,
            max_permutations: 1000,
            tolerance: 0.05,
            max_evaluations: None,
        }
    }
}

impl Stopping {
    fn evaluation_cap(&self, n: usize) -> usize {
        self.max_evaluations
            .unwrap_or_else(|| default_evaluation_cap(n))
    }
}

/// TMC-Shapley (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tmc {
    /// Seeds the permutations.
    pub seed: u64,
    /// Truncate once `|v(P) − v(prefix)| < truncation·|v(P)|`.
    pub truncation: f64,
    /// When to stop.
    pub stopping: Stopping,
}

impl Tmc {
    /// TMC with pyDVL's settings (truncation 0.05) and the default stopping rule.
    pub fn new(seed: u64) -> Self {
        Tmc {
            seed,
            truncation: 0.05,
            stopping: Stopping::default(),
        }
    }
}

impl Estimator for Tmc {
    fn method(&self) -> Method {
        Method::Tmc
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        let n = players_within(round.game, Method::Tmc, MAX_PLAYERS)?;
        let memo = Memo::new(round.game);
        let full = memo.utility(grand(n)) as f64;
        let cut = self.truncation * full.abs();
        let permutation = |k: usize| shuffled(self.seed, k, (0..n).collect());
        Ok(sample(&memo, n, &self.stopping, permutation, |prefix| {
            (full - prefix as f64).abs() < cut
        }))
    }
}

/// GTG-Shapley (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gtg {
    /// Seeds the permutations.
    pub seed: u64,
    /// Within-permutation truncation, relative to the game's scale.
    pub truncation: f64,
    /// The round is skipped when `|v(P) − v(∅)|` is at most this, relative to the scale.
    pub skip: f64,
    /// When to stop.
    pub stopping: Stopping,
}

impl Gtg {
    /// GTG with its published defaults (truncation 0.001, skip 0.01, at least 30
    /// permutations, stop under 5 % change over the last 10).
    pub fn new(seed: u64) -> Self {
        Gtg {
            seed,
            truncation: 0.001,
            skip: 0.01,
            stopping: Stopping::default(),
        }
    }
}

impl Estimator for Gtg {
    fn method(&self) -> Method {
        Method::Gtg
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        let n = players_within(round.game, Method::Gtg, MAX_PLAYERS)?;
        let memo = Memo::new(round.game);
        let scale = round.game.scale();
        let full = memo.utility(grand(n)) as f64;
        let empty = memo.utility(0) as f64;
        if (full - empty).abs() <= self.skip * scale {
            return Ok(Values {
                phi: Phi::Real(vec![0.0; n]),
                evaluations: memo.evaluations(),
                permutations: 0,
                skipped: Some(format!(
                    "|v(P) − v(∅)| = {} is within {} of the scale {scale}",
                    (full - empty).abs(),
                    self.skip
                )),
            });
        }
        let cut = self.truncation * scale;
        let permutation = |k: usize| {
            let first = k % n;
            let mut rest = shuffled(self.seed, k, (0..n).filter(|&i| i != first).collect());
            rest.insert(0, first);
            rest
        };
        Ok(sample(&memo, n, &self.stopping, permutation, |prefix| {
            (full - prefix as f64).abs() < cut
        }))
    }
}

/// `players` shuffled by ChaCha8 seeded with `seed` on stream `k`.
fn shuffled(seed: u64, k: usize, mut players: Vec<usize>) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k as u64);
    players.shuffle(&mut rng);
    players
}

/// The marginal contributions along one permutation, stopping (crediting 0) once `truncated`
/// says the prefix's value is close enough to the whole.
fn walk(memo: &Memo<'_>, order: &[usize], truncated: &(impl Fn(i64) -> bool + Sync)) -> Vec<f64> {
    let mut marginal = vec![0.0; order.len()];
    let mut prefix: Coalition = 0;
    let mut before = memo.utility(0);
    for &player in order {
        if truncated(before) {
            break;
        }
        prefix |= 1 << player;
        let after = memo.utility(prefix);
        marginal[player] = (after - before) as f64;
        before = after;
    }
    marginal
}

/// The sampling loop shared by TMC and GTG (see the module docs). Batches shrink as the
/// evaluation cap nears, so that no permutation can take the count of evaluated coalitions past
/// it (a permutation evaluates at most `n` new ones).
fn sample(
    memo: &Memo<'_>,
    n: usize,
    stopping: &Stopping,
    permutation: impl Fn(usize) -> Vec<usize> + Sync,
    truncated: impl Fn(i64) -> bool + Sync,
) -> Values {
    let cap = stopping.evaluation_cap(n);
    // A cap that is all the coalitions cannot be passed: no need to shrink batches for it.
    let unbounded = n < 63 && cap >= 1usize << n;
    let mut sums = vec![0.0; n];
    // The estimate after each permutation, for the convergence test over the last WINDOW.
    let mut history: Vec<Vec<f64>> = Vec::new();
    let mut done = 0;
    while done < stopping.max_permutations.max(1) {
        let room = if unbounded {
            WINDOW
        } else {
            cap.saturating_sub(memo.evaluations()) / n
        };
        let batch = WINDOW.min(room).min(stopping.max_permutations - done);
        if batch == 0 {
            break;
        }
        let marginals: Vec<Vec<f64>> = (done..done + batch)
            .into_par_iter()
            .map(|k| walk(memo, &permutation(k), &truncated))
            .collect();
        for marginal in marginals {
            for (sum, m) in sums.iter_mut().zip(marginal) {
                *sum += m;
            }
            done += 1;
            history.push(sums.iter().map(|s| s / done as f64).collect());
        }
        let converged = done >= stopping.min_permutations
            && done > WINDOW
            && relative_change(&history[done - 1 - WINDOW], &history[done - 1])
                < stopping.tolerance;
        if converged {
            break;
        }
    }
    Values {
        phi: Phi::Real(sums.iter().map(|s| s / done.max(1) as f64).collect()),
        evaluations: memo.evaluations(),
        permutations: done,
        skipped: None,
    }
}

/// `‖b − a‖₂ / ‖b‖₂`; 0 when both are zero, infinite when only `b` is.
fn relative_change(a: &[f64], b: &[f64]) -> f64 {
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let norm = b.iter().map(|y| y * y).sum::<f64>();
    if norm == 0.0 {
        if diff == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        (diff / norm).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Game;

    /// `v(S) = Σ_{i∈S} a_i`: every permutation gives each player exactly `a_i`.
    struct Additive(Vec<i64>);
    impl Game for Additive {
        fn players(&self) -> usize {
            self.0.len()
        }
        fn utility(&self, s: Coalition) -> i64 {
            (0..self.0.len())
                .filter(|i| s >> i & 1 == 1)
                .map(|i| self.0[i])
                .sum()
        }
        fn scale(&self) -> f64 {
            1000.0
        }
    }

    #[test]
    fn additive_games_are_valued_exactly_without_truncation() {
        let game = Additive(vec![5, 1, 3, 0, 2, 4]);
        let round = Round {
            game: &game,
            first_order: None,
        };
        let mut tmc = Tmc::new(7);
        tmc.truncation = 0.0;
        tmc.stopping.max_evaluations = Some(usize::MAX);
        let mut gtg = Gtg::new(7);
        gtg.truncation = 0.0;
        gtg.stopping.max_evaluations = Some(usize::MAX);
        for values in [tmc.estimate(&round).unwrap(), gtg.estimate(&round).unwrap()] {
            assert_eq!(values.phi.to_f64(), vec![5.0, 1.0, 3.0, 0.0, 2.0, 4.0]);
            assert!(values.permutations >= 30);
        }
    }

    #[test]
    fn same_seed_same_estimate_and_evaluations() {
        let game = Additive((0..12).map(|i| (i * 7 % 5) as i64).collect());
        let round = Round {
            game: &game,
            first_order: None,
        };
        let a = Tmc::new(3).estimate(&round).unwrap();
        let b = Tmc::new(3).estimate(&round).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn one_and_two_players_are_sampled_to_the_minimum() {
        // Regression: the evaluation cap (all 2 or 4 coalitions) stopped sampling at once.
        for players in [vec![50], vec![50, 10]] {
            let game = Additive(players.clone());
            let round = Round {
                game: &game,
                first_order: None,
            };
            for values in [
                Tmc::new(0).estimate(&round).unwrap(),
                Gtg::new(0).estimate(&round).unwrap(),
            ] {
                assert!(values.permutations >= 30, "{values:?}");
                let phi = values.phi.to_f64();
                assert!(
                    (phi.iter().sum::<f64>() - players.iter().sum::<i64>() as f64).abs() < 1e-9
                );
            }
        }
    }

    #[test]
    fn gtg_skips_a_round_that_gained_nothing() {
        let game = Additive(vec![0, 0, 0]);
        let values = Gtg::new(0)
            .estimate(&Round {
                game: &game,
                first_order: None,
            })
            .unwrap();
        assert!(values.skipped.is_some());
        assert_eq!(values.phi.to_f64(), vec![0.0; 3]);
    }

    #[test]
    fn the_evaluation_cap_stops_sampling() {
        let game = Additive((0..16).map(|i| i as i64 - 8).collect());
        let mut tmc = Tmc::new(1);
        tmc.truncation = 0.0;
        tmc.stopping.tolerance = 0.0; // never converges
        tmc.stopping.max_evaluations = Some(100);
        let values = tmc
            .estimate(&Round {
                game: &game,
                first_order: None,
            })
            .unwrap();
        assert!(values.evaluations <= 100, "{values:?}");
        assert!(values.evaluations > 100 - 16, "{values:?}");
        assert!(values.permutations < 1000);
    }

    #[test]
    fn relative_change_has_no_division_by_zero() {
        assert_eq!(relative_change(&[0.0], &[0.0]), 0.0);
        assert_eq!(relative_change(&[1.0], &[0.0]), f64::INFINITY);
        assert!(
            (relative_change(&[3.0, 4.0], &[3.0, 4.5]) - 0.5 / (9.0f64 + 20.25).sqrt()).abs()
                < 1e-12
        );
    }
}
