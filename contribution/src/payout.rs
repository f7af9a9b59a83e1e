//! Paying by value, in integers: a task's value per provider summed over rounds, and the split
//! of the escrow.
//!
//! Round `t` has `N_t` players and values `N_t!·φ_{i,t}`; with `L = (max_t N_t)!` (every
//! `N_t!` divides it), a provider's task value is `φ_i = Σ_t φ_{i,t}`, held as the integer
//! `L·φ_i = Σ_t N_t!·φ_{i,t} · L / N_t!`. The escrow `E` is split as
//!
//! ```text
//! payout_i  = ⌊E · max(φ_i, 0) / Σ_j max(φ_j, 0)⌋       (0 for everyone when the sum is 0)
//! remainder = E − Σ_i payout_i                            (back to the owner)
//! ```
//!
//! The common denominator cancels, so the split runs on the integers `L·φ_i`.

use std::collections::BTreeMap;

use crate::ContributionError;
use crate::exact::factorial;

/// One round's exact values: `N_t` and `N_t!·φ_{i,t}` per provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundValues<K> {
    /// The round's number of players `N_t` (at most 33).
    pub players: usize,
    /// `N_t!·φ_{i,t}` of each provider.
    pub numerators: BTreeMap<K, i128>,
}

/// A task's values: `L·φ_i` per provider and `L`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskValues<K> {
    /// `L·φ_i` of each provider that played a round.
    pub numerators: BTreeMap<K, i128>,
    /// `L = (max_t N_t)!` (1 when there are no rounds).
    pub denominator: i128,
}

/// Sums rounds' values over a common denominator (see the module docs).
///
/// # Errors
/// [`ContributionError::Shape`] if a round has more than 33 players or more providers than
/// players; [`ContributionError::Overflow`] if a sum leaves 128 bits.
pub fn task_values<K: Ord + Clone>(
    rounds: &[RoundValues<K>],
) -> Result<TaskValues<K>, ContributionError> {
    if let Some(r) = rounds
        .iter()
        .find(|r| r.players > 33 || r.numerators.len() > r.players)
    {
        return Err(ContributionError::Shape(format!(
            "a round of {} players with {} values",
            r.players,
            r.numerators.len()
        )));
    }
    let most = rounds.iter().map(|r| r.players).max().unwrap_or(0);
    let denominator = factorial(most);
    let mut numerators = BTreeMap::new();
    for round in rounds {
        let lift = denominator / factorial(round.players);
        for (k, &v) in &round.numerators {
            let term = v
                .checked_mul(lift)
                .ok_or(ContributionError::Overflow("a task value"))?;
            let sum: &mut i128 = numerators.entry(k.clone()).or_default();
            *sum = sum
                .checked_add(term)
                .ok_or(ContributionError::Overflow("a task value"))?;
        }
    }
    Ok(TaskValues {
        numerators,
        denominator,
    })
}

/// The escrow's split by value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split<K> {
    /// What each provider is paid (0 for a value at or below 0).
    pub payouts: BTreeMap<K, i128>,
    /// What goes back to the owner.
    pub remainder: i128,
}

/// Splits `escrow` by `values` (any common denominator; see the module docs).
///
/// # Errors
/// [`ContributionError::Shape`] for a negative escrow; [`ContributionError::Overflow`] if
/// `escrow · φ_i` leaves 128 bits.
pub fn split<K: Ord + Clone>(
    escrow: i128,
    values: &BTreeMap<K, i128>,
) -> Result<Split<K>, ContributionError> {
    if escrow < 0 {
        return Err(ContributionError::Shape(format!("an escrow of {escrow}")));
    }
    let overflow = ContributionError::Overflow("a payout");
    let total = values
        .values()
        .map(|&v| v.max(0))
        .try_fold(0i128, |a, v| a.checked_add(v))
        .ok_or(overflow.clone())?;
    let mut payouts = BTreeMap::new();
    let mut paid = 0i128;
    for (k, &v) in values {
        let pay = if total == 0 {
            0
        } else {
            escrow.checked_mul(v.max(0)).ok_or(overflow.clone())? / total
        };
        paid += pay;
        payouts.insert(k.clone(), pay);
    }
    Ok(Split {
        payouts,
        remainder: escrow - paid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(u32, i128)]) -> BTreeMap<u32, i128> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn rounds_of_different_sizes_share_a_denominator() {
        // Round 1: 3 players, φ = (1/2, 1/3, 1/6) → 3!·φ = (3, 2, 1).
        // Round 2: 2 players (provider 2 dropped), φ = (1, −1/2) → 2!·φ = (2, −1).
        let rounds = vec![
            RoundValues {
                players: 3,
                numerators: map(&[(0, 3), (1, 2), (2, 1)]),
            },
            RoundValues {
                players: 2,
                numerators: map(&[(0, 2), (1, -1)]),
            },
        ];
        let task = task_values(&rounds).unwrap();
        assert_eq!(task.denominator, 6);
        // φ = (3/2, −1/6, 1/6) → 6·φ = (9, −1, 1).
        assert_eq!(task.numerators, map(&[(0, 9), (1, -1), (2, 1)]));
    }

    #[test]
    fn the_escrow_is_split_by_positive_value_and_the_rest_returns() {
        let split = split(100, &map(&[(0, 9), (1, -1), (2, 1), (3, 0)])).unwrap();
        assert_eq!(split.payouts, map(&[(0, 90), (1, 0), (2, 10), (3, 0)]));
        assert_eq!(split.remainder, 0);
        let odd = super::split(10, &map(&[(0, 1), (1, 1), (2, 1)])).unwrap();
        assert_eq!(odd.payouts, map(&[(0, 3), (1, 3), (2, 3)]));
        assert_eq!(odd.remainder, 1);
    }

    #[test]
    fn nobody_with_value_means_everything_returns() {
        let split = split(50, &map(&[(0, 0), (1, -4)])).unwrap();
        assert_eq!(split.payouts, map(&[(0, 0), (1, 0)]));
        assert_eq!(split.remainder, 50);
    }

    #[test]
    fn overflow_and_negative_escrow_are_errors() {
        assert!(split(i128::MAX, &map(&[(0, 2), (1, 1)])).is_err());
        assert!(split(-1, &map(&[(0, 1)])).is_err());
        let huge = RoundValues {
            players: 1,
            numerators: map(&[(0, i128::MAX)]),
        };
        assert!(task_values(&[huge.clone(), huge]).is_err());
    }
}
