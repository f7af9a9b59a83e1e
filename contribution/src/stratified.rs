//! Shapley values estimated from coalitions sampled by size, without marginal contributions:
//! Stratified SVARM (Kolpaczki, Bengs, Muschalik & Hüllermeier, "Approximating the Shapley Value
//! without Marginal Contributions", AAAI 2024), with an additive control variate.
//!
//! The Shapley value splits by the size `ℓ` of the coalition a player joins:
//!
//! ```text
//! φ_i = (1/N) Σ_{ℓ=0}^{N−1} ( A_{i,ℓ} − B_{i,ℓ} ),
//!     A_{i,ℓ} = mean of v(S) over |S| = ℓ+1, i ∈ S,     B_{i,ℓ} = mean of v(S) over |S| = ℓ, i ∉ S
//! ```
//!
//! so one evaluated coalition `S` of size `s` informs every player at once: `A_{i,s−1}` of each
//! `i ∈ S` and `B_{i,s}` of each `i ∉ S`. A permutation sampler ([`crate::sampled`]) uses each
//! utility in at most two marginals; here each is used `N` times.
//!
//! - **Exact strata.** Sizes `0, 1, N−1, N` (the `2N + 2` coalitions a contribution proof always
//!   checks, [`crate::draw::fixed`]) are evaluated whole: they fix `A_{i,0} = v({i})`,
//!   `B_{i,0} = v(∅)`, `B_{i,1}`, `A_{i,N−2}`, `A_{i,N−1} = v(P)`, `B_{i,N−1} = v(P∖{i})`, the
//!   strata of the largest marginals.
//! - **Sampled strata.** The rest of the budget goes to sizes `2..=N−2`, `m_s` distinct coalitions
//!   of size `s` drawn uniformly without replacement. A size-`s` sample holds `i` with chance `s/N`,
//!   so under equal within-stratum variance φ's variance is `Σ_s σ²/(N m_s) · N²/(s(N−s))`;
//!   minimizing it for `Σ m_s` fixed gives the Neyman allocation `m_s ∝ 1/√(s(N−s))`, capped at
//!   `C(N,s)` (a full stratum is exact; what it cannot take goes to the others).
//!   The paper draws sizes at random with a fixed law; a deterministic allocation spends the
//!   budget on distinct coalitions only.
//! - **Additive control variate.** The Shapley value is linear and an additive game
//!   `a(S) = Σ_{j∈S} b_j` has `φ_i(a) = b_i` exactly, so the estimate is `b_i` plus the stratified
//!   means above of the residual game `v − a`. `b` is the least-squares fit of `v` on membership
//!   within each size (a small ridge makes it unique): the strata's means then only have to carry
//!   what is not additive, which at `N = 10` on digits cuts the error by a fifth to a third. Any
//!   `b` leaves the estimate exact when every coalition is evaluated.
//! - A mean with no sample (a player in none of a stratum's few samples) takes the mean of every
//!   sample of that size, so it adds no difference between players.
//!
//! The budget is a count of distinct coalitions: by default a quarter of the `2^N`, at least
//! `N²`, and all of them up to 64 (the samplers' cap, [`crate::sampled::Stopping`]); with every
//! coalition in budget the estimate is the exact Shapley value. Stratum `s` is drawn by ChaCha8
//! seeded with the seed on stream `s`, so the estimate depends on the seed only; utilities are
//! evaluated in parallel (rayon).

use std::collections::HashSet;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::{
    Coalition, ContributionError, Estimator, MAX_PLAYERS, Method, Phi, Round, Values,
    default_evaluation_cap, grand, players_within,
};

/// Stratified SVARM (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StratifiedSvarm {
    /// Seeds the sampled strata.
    pub seed: u64,
    /// Distinct coalitions evaluated at most; `None`: the samplers' default cap. Never less
    /// than the exact strata's `2N + 2` plus one coalition per sampled stratum.
    pub max_evaluations: Option<usize>,
}

impl StratifiedSvarm {
    /// Stratified SVARM with the default budget.
    pub fn new(seed: u64) -> Self {
        StratifiedSvarm {
            seed,
            max_evaluations: None,
        }
    }
}

impl Estimator for StratifiedSvarm {
    fn method(&self) -> Method {
        Method::Svarm
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        let n = players_within(round.game, Method::Svarm, MAX_PLAYERS)?;
        let budget = self
            .max_evaluations
            .unwrap_or_else(|| default_evaluation_cap(n));
        let coalitions: Vec<Coalition> = allocation(n, budget)
            .into_iter()
            .enumerate()
            .flat_map(|(s, m)| stratum(self.seed, n, s, m))
            .collect();
        let utilities: Vec<i64> = coalitions
            .par_iter()
            .map(|&s| round.game.utility(s))
            .collect();
        Ok(Values {
            phi: Phi::Real(values(n, &coalitions, &utilities)),
            evaluations: coalitions.len(),
            permutations: 0,
            skipped: None,
        })
    }
}

/// `C(n, k)`, saturating (`n <= 63` never saturates).
fn choose(n: usize, k: usize) -> u128 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    (0..k as u128).fold(1u128, |c, j| c * (n as u128 - j) / (j + 1))
}

/// How many coalitions of each size `0..=n` to evaluate for `budget` (see the module docs): all of
/// sizes `0, 1, n−1, n`, then the Neyman allocation over the middle sizes, largest remainders
/// first, each stratum capped at its size.
fn allocation(n: usize, budget: usize) -> Vec<usize> {
    let size = |s: usize| usize::try_from(choose(n, s)).unwrap_or(usize::MAX);
    let mut m = vec![0usize; n + 1];
    for s in [0, 1, n.saturating_sub(1), n] {
        m[s] = size(s);
    }
    let middle: Vec<usize> = (2..n.saturating_sub(1)).collect();
    let floor = m.iter().sum::<usize>() + middle.len();
    let mut left = budget.max(floor) - m.iter().sum::<usize>();
    // Water-filling: strata the proportional share would overfill are taken whole, then the
    // rest is shared again among the others.
    let mut open: Vec<usize> = middle;
    loop {
        let weight = |s: usize| 1.0 / ((s * (n - s)) as f64).sqrt();
        let total: f64 = open.iter().map(|&s| weight(s)).sum();
        let full: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&s| left as f64 * weight(s) / total >= size(s) as f64)
            .collect();
        if full.is_empty() {
            let share: Vec<(usize, f64)> = open
                .iter()
                .map(|&s| (s, left as f64 * weight(s) / total))
                .collect();
            for &(s, x) in &share {
                m[s] = (x.floor() as usize).max(1);
            }
            let mut spare = left.saturating_sub(share.iter().map(|&(s, _)| m[s]).sum());
            let mut by_remainder = share;
            by_remainder.sort_by(|a, b| (b.1 - b.1.floor()).total_cmp(&(a.1 - a.1.floor())));
            for (s, _) in by_remainder {
                if spare == 0 {
                    break;
                }
                if m[s] < size(s) {
                    m[s] += 1;
                    spare -= 1;
                }
            }
            return m;
        }
        for s in full {
            m[s] = size(s);
            left -= size(s);
            open.retain(|&t| t != s);
        }
        if open.is_empty() {
            return m;
        }
    }
}

/// `m` distinct coalitions of `s` of the `n` players, uniformly drawn (all of them, in order,
/// when `m` is the stratum's size).
fn stratum(seed: u64, n: usize, s: usize, m: usize) -> Vec<Coalition> {
    let total = choose(n, s);
    if m as u128 >= total {
        return (0..=grand(n))
            .filter(|c| c.count_ones() as usize == s)
            .collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(s as u64);
    let mut players: Vec<usize> = (0..n).collect();
    let mut seen = HashSet::with_capacity(m);
    let mut out = Vec::with_capacity(m);
    // Rejection of repeats ends: m < C(n, s), and a stratum is drawn past half full only when
    // it is small (the allocation caps it at its size), so repeats stay rare enough.
    while out.len() < m {
        let (chosen, _) = players.partial_shuffle(&mut rng, s);
        let c = chosen.iter().fold(0 as Coalition, |c, &i| c | 1 << i);
        if seen.insert(c) {
            out.push(c);
        }
    }
    out
}

/// The estimate from evaluated coalitions: the fitted additive part's Shapley values plus the
/// stratified means of what it leaves (see the module docs).
fn values(n: usize, coalitions: &[Coalition], utilities: &[i64]) -> Vec<f64> {
    let v: Vec<f64> = utilities.iter().map(|&u| u as f64).collect();
    let b = additive_fit(n, coalitions, &v);
    let residual: Vec<f64> = coalitions
        .iter()
        .zip(&v)
        .map(|(&c, &u)| {
            u - (0..n)
                .filter(|&j| c >> j & 1 == 1)
                .map(|j| b[j])
                .sum::<f64>()
        })
        .collect();
    b.iter()
        .zip(stratified_means(n, coalitions, &residual))
        .map(|(b, r)| b + r)
        .collect()
}

/// `φ_i = (1/n) Σ_ℓ (A_{i,ℓ} − B_{i,ℓ})` of the game `u` known at `coalitions`.
fn stratified_means(n: usize, coalitions: &[Coalition], u: &[f64]) -> Vec<f64> {
    // Sums and counts per (player, size): with[i][s] over S ∋ i, without[i][s] over S ∌ i, and
    // all[s] over every sample of size s.
    let mut with = vec![vec![(0.0, 0u64); n + 1]; n];
    let mut without = vec![vec![(0.0, 0u64); n + 1]; n];
    let mut all = vec![(0.0, 0u64); n + 1];
    for (&c, &v) in coalitions.iter().zip(u) {
        let s = c.count_ones() as usize;
        all[s].0 += v;
        all[s].1 += 1;
        for i in 0..n {
            let cell = if c >> i & 1 == 1 {
                &mut with[i][s]
            } else {
                &mut without[i][s]
            };
            cell.0 += v;
            cell.1 += 1;
        }
    }
    let mean = |(sum, count): (f64, u64), s: usize| -> f64 {
        match (count, all[s].1) {
            (0, 0) => 0.0,
            (0, k) => all[s].0 / k as f64,
            (k, _) => sum / k as f64,
        }
    };
    (0..n)
        .map(|i| {
            (0..n)
                .map(|l| mean(with[i][l + 1], l + 1) - mean(without[i][l], l))
                .sum::<f64>()
                / n as f64
        })
        .collect()
}

/// Ridge of the additive fit, relative to the Gram matrix's mean diagonal. Membership centered
/// within a size cannot tell `b` from `b + t·1` (which moves `φ(a)` by `t` and the residual's
/// stratified estimate by `−t`, so the estimate not at all): the ridge picks one of them.
const RIDGE: f64 = 1e-9;

/// `b` minimizing `Σ_s Σ_{S sampled, |S|=s} (v(S) − v̄_s − Σ_{j∈S} (b_j − b̄_s))² + ρ·‖b‖²`:
/// the additive game closest to `v` up to a constant per size (least squares within each size,
/// pooled), solved by Cholesky.
fn additive_fit(n: usize, coalitions: &[Coalition], v: &[f64]) -> Vec<f64> {
    let mut gram = vec![vec![0.0; n]; n];
    let mut rhs = vec![0.0; n];
    for s in 0..=n {
        let members: Vec<(Coalition, f64)> = coalitions
            .iter()
            .zip(v)
            .filter(|(c, _)| c.count_ones() as usize == s)
            .map(|(&c, &u)| (c, u))
            .collect();
        if members.len() < 2 {
            continue;
        }
        let k = members.len() as f64;
        let y_mean = members.iter().map(|m| m.1).sum::<f64>() / k;
        let x_mean: Vec<f64> = (0..n)
            .map(|j| members.iter().filter(|m| m.0 >> j & 1 == 1).count() as f64 / k)
            .collect();
        for &(c, u) in &members {
            let x: Vec<f64> = (0..n)
                .map(|j| f64::from(u8::from(c >> j & 1 == 1)) - x_mean[j])
                .collect();
            for a in 0..n {
                rhs[a] += x[a] * (u - y_mean);
                for b in 0..n {
                    gram[a][b] += x[a] * x[b];
                }
            }
        }
    }
    let ridge = RIDGE * (1.0 + (0..n).map(|a| gram[a][a]).sum::<f64>() / n as f64);
    for (a, row) in gram.iter_mut().enumerate() {
        row[a] += ridge;
    }
    cholesky_solve(gram, rhs)
}

/// Solves `A x = y` for a symmetric positive definite `A` (here a Gram matrix plus a ridge).
fn cholesky_solve(mut a: Vec<Vec<f64>>, mut y: Vec<f64>) -> Vec<f64> {
    let n = y.len();
    for j in 0..n {
        let d = (a[j][j] - (0..j).map(|k| a[j][k] * a[j][k]).sum::<f64>()).sqrt();
        a[j][j] = d;
        for i in j + 1..n {
            a[i][j] = (a[i][j] - (0..j).map(|k| a[i][k] * a[j][k]).sum::<f64>()) / d;
        }
    }
    for i in 0..n {
        y[i] = (y[i] - (0..i).map(|k| a[i][k] * y[k]).sum::<f64>()) / a[i][i];
    }
    for i in (0..n).rev() {
        y[i] = (y[i] - (i + 1..n).map(|k| a[k][i] * y[k]).sum::<f64>()) / a[i][i];
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_spend_the_budget_on_distinct_coalitions() {
        // n = 10: 22 exact, 234 over sizes 2..=8, symmetric, largest at the ends.
        let m = allocation(10, 256);
        assert_eq!(m.iter().sum::<usize>(), 256);
        assert_eq!(&m[..2], &[1, 10]);
        assert_eq!(&m[9..], &[10, 1]);
        for s in 2..=8 {
            assert!(m[s] >= 1 && m[s] as u128 <= choose(10, s), "{m:?}");
        }
        assert!(m[2] > m[5] && m[8] > m[5], "{m:?}");
        // Everything in budget: every coalition once.
        for n in 1..=8 {
            let m = allocation(n, 1 << n);
            for (s, &k) in m.iter().enumerate() {
                assert_eq!(k as u128, choose(n, s), "n {n} size {s}");
            }
        }
        // A budget below the exact strata is raised to them plus one per sampled stratum.
        assert_eq!(allocation(10, 0).iter().sum::<usize>(), 22 + 7);
    }

    #[test]
    fn additive_games_are_valued_exactly_from_any_sample() {
        // The fit recovers an additive game, so what is left to sample is zero.
        let a = [5i64, -1, 3, 0, 2, 4, 7, 1, 9, 6];
        let game = |c: Coalition| {
            (0..10)
                .filter(|&i| c >> i & 1 == 1)
                .map(|i| a[i])
                .sum::<i64>()
        };
        let coalitions: Vec<Coalition> = allocation(10, 60)
            .into_iter()
            .enumerate()
            .flat_map(|(s, m)| stratum(3, 10, s, m))
            .collect();
        let utilities: Vec<i64> = coalitions.iter().map(|&c| game(c)).collect();
        for (phi, a) in values(10, &coalitions, &utilities).iter().zip(a) {
            assert!((phi - a as f64).abs() < 1e-6, "{phi} vs {a}");
        }
    }

    #[test]
    fn cholesky_solves() {
        let x = cholesky_solve(vec![vec![4.0, 2.0], vec![2.0, 3.0]], vec![2.0, 5.0]);
        assert!(
            (x[0] + 0.5).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn strata_are_distinct_of_their_size_and_seeded() {
        let a = stratum(4, 12, 5, 100);
        let b: HashSet<Coalition> = a.iter().copied().collect();
        assert_eq!(b.len(), 100);
        assert!(a.iter().all(|c| c.count_ones() == 5 && *c < 1 << 12));
        assert_eq!(a, stratum(4, 12, 5, 100));
        assert_ne!(a, stratum(5, 12, 5, 100));
        assert_eq!(stratum(0, 6, 3, 20).len(), 20);
    }
}
