//! Paying by value, in integers: a task's value per provider summed over rounds, and the split
//! of the escrow.
//!
//! Round `t` has values `d_t·φ_{i,t}` over a denominator `d_t` (`N_t!` for the Shapley values
//! of `N_t` players); with `L = lcm_t d_t` (`(max_t N_t)!` for Shapley values), a provider's
//! task value is `φ_i = Σ_t φ_{i,t}`, held as the integer `L·φ_i = Σ_t d_t·φ_{i,t} · L / d_t`.
//! The escrow `E` is split as
//!
//! ```text
//! payout_i  = ⌊E · max(φ_i, 0) / Σ_j max(φ_j, 0)⌋       (0 for everyone when the sum is 0)
//! remainder = E − Σ_i payout_i                            (back to the owner)
//! ```
//!
//! The common denominator cancels, so the split runs on the integers `L·φ_i`.
//!
//! **Rounds that gained nothing are not paid.** Once the model has converged, `v(P) = v(∅)` up
//! to a row or two and the round's Shapley values are noise of the validation set's rows (they
//! sum to about 0 but are not 0 each); summed over many rounds that noise outweighs the early
//! rounds' signal (measured on digits, 10 honest IID providers, 20 rounds: shares 2–21 % with
//! every round paid, 7–13 % with this rule). So a round counts only if its gain is above a
//! task parameter ([`gains_enough`]), GTG-Shapley's between-round truncation (Liu et al. 2022,
//! default 1 % of the utility scale), decided on `v(∅)` and `v(P)`, which the contribution
//! proof checks. In a round that is not paid, a value below minus the same bound still counts
//! ([`counted`]): a provider that clearly harmed the model is charged for it even when its harm
//! is what left the round without gain (an attacker must not erase its penalty by spoiling the
//! round).

use std::collections::BTreeMap;

use crate::ContributionError;

/// GTG-Shapley's default minimum gain of a paid round, per mille of the validation rows.
pub const DEFAULT_MIN_GAIN_PERMILLE: u32 = 10;

/// Whether a round with `v(∅) = empty` and `v(P) = full` over `rows` validation rows is paid:
/// `1000·|full − empty| > min_gain_permille·rows`, in integers; `min_gain_permille = 0` pays
/// every round (the plain Shapley values of the issue's game).
pub fn gains_enough(empty: i64, full: i64, rows: u64, min_gain_permille: u32) -> bool {
    min_gain_permille == 0
        || 1000 * i128::from(full.abs_diff(empty))
            > i128::from(min_gain_permille) * i128::from(rows)
}

/// The part of a value `numerator / denominator` that counts towards a provider's task value:
/// all of it in a paid round; in a round that is not, only a value below
/// `−min_gain_permille·rows/1000` (a clear harm, not noise), else 0. Integers only.
pub fn counted(
    numerator: i128,
    denominator: i128,
    paid: bool,
    rows: u64,
    min_gain_permille: u32,
) -> i128 {
    let harm = i128::from(min_gain_permille)
        .saturating_mul(i128::from(rows))
        .saturating_mul(denominator);
    if paid || numerator.saturating_mul(1000) < -harm {
        numerator
    } else {
        0
    }
}

/// [`counted`] for an estimated value in utility units (the same rule, in floats: estimates
/// are compared, never paid).
pub fn counted_real(value: f64, paid: bool, rows: u64, min_gain_permille: u32) -> f64 {
    let harm = f64::from(min_gain_permille) * rows as f64 / 1000.0;
    if paid || value < -harm { value } else { 0.0 }
}

/// One round's exact values: `d_t·φ_{i,t}` per provider over the denominator `d_t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundValues<K> {
    /// The denominator `d_t` (positive; `N_t!` for Shapley values).
    pub denominator: i128,
    /// `d_t·φ_{i,t}` of each provider.
    pub numerators: BTreeMap<K, i128>,
}

/// A task's values: `L·φ_i` per provider and `L`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskValues<K> {
    /// `L·φ_i` of each provider that played a round.
    pub numerators: BTreeMap<K, i128>,
    /// `L = lcm_t d_t` (1 when there are no rounds).
    pub denominator: i128,
}

/// Sums rounds' values over a common denominator (see the module docs).
///
/// # Errors
/// [`ContributionError::Shape`] for a denominator below 1; [`ContributionError::Overflow`] if
/// `L` or a sum leaves 128 bits.
pub fn task_values<K: Ord + Clone>(
    rounds: &[RoundValues<K>],
) -> Result<TaskValues<K>, ContributionError> {
    let mut denominator: i128 = 1;
    for r in rounds {
        if r.denominator < 1 {
            return Err(ContributionError::Shape(format!(
                "a round's denominator of {}",
                r.denominator
            )));
        }
        denominator = (denominator / gcd(denominator, r.denominator))
            .checked_mul(r.denominator)
            .ok_or(ContributionError::Overflow("a common denominator"))?;
    }
    let mut numerators = BTreeMap::new();
    for round in rounds {
        let lift = denominator / round.denominator;
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

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
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
                denominator: 6,
                numerators: map(&[(0, 3), (1, 2), (2, 1)]),
            },
            RoundValues {
                denominator: 2,
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
    fn a_round_is_paid_only_above_the_minimum_gain() {
        // 145 rows, 1 %: a gain of 1 row (6.9 ‰) is not enough, 2 rows (13.8 ‰) is.
        assert!(!gains_enough(137, 138, 145, 10));
        assert!(gains_enough(138, 136, 145, 10));
        assert!(!gains_enough(100, 100, 145, 10));
        assert!(gains_enough(100, 100, 145, 0));
        // Exactly at the bound is not above it: 1000·1 = 10·100.
        assert!(!gains_enough(0, 1, 100, 10));
    }

    #[test]
    fn an_unpaid_round_still_charges_clear_harm() {
        // 145 rows, 1 %: the band is 1.45 rows. Denominator 6.
        assert_eq!(counted(-60, 6, false, 145, 10), -60, "−10 rows: harm");
        assert_eq!(counted(-6, 6, false, 145, 10), 0, "−1 row: noise");
        assert_eq!(
            counted(60, 6, false, 145, 10),
            0,
            "a gain in an unpaid round"
        );
        assert_eq!(
            counted(-6, 6, true, 145, 10),
            -6,
            "paid rounds count in full"
        );
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
            denominator: 1,
            numerators: map(&[(0, i128::MAX)]),
        };
        assert!(task_values(&[huge.clone(), huge]).is_err());
        let zero = RoundValues {
            denominator: 0,
            numerators: map(&[(0, 1)]),
        };
        assert!(task_values(&[zero]).is_err());
    }
}
