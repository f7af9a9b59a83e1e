//! Exact Shapley values in integers: `N!·φ_i` from the table of all `2^N` utilities.
//!
//! ```text
//! N!·φ_i = Σ_{S ⊆ P \ {i}} w(|S|) · (v(S ∪ {i}) − v(S)),    w(s) = s! (N − s − 1)!
//! ```
//!
//! This is the arithmetic the contribution proof constrains (`circuits::relations::contribution`)
//! and what the ledger pays from: [`shapley_numerators`] is its one home.

use rayon::prelude::*;

use crate::{
    Coalition, ContributionError, Estimator, Game, MAX_EXACT_PLAYERS, Method, Phi, Round, Values,
    players_within,
};

/// `n!` (`n <= 33` fits in 128 bits).
pub fn factorial(n: usize) -> i128 {
    (1..=n as i128).product()
}

/// The Shapley weight `w(s) = s! (n − s − 1)!` of a coalition of `s` players not containing the
/// player (`s < n`).
pub fn weight(n: usize, s: usize) -> i128 {
    factorial(s) * factorial(n - s - 1)
}

/// The utility of every coalition, indexed by its bitmask: `table[S] = v(S)`, evaluated in
/// parallel.
///
/// # Errors
/// [`ContributionError::TooManyPlayers`] above [`MAX_EXACT_PLAYERS`].
pub fn utility_table(game: &dyn Game) -> Result<Vec<i64>, ContributionError> {
    let n = players_within(game, Method::Exact, MAX_EXACT_PLAYERS)?;
    Ok((0..1u64 << n)
        .into_par_iter()
        .map(|s: Coalition| game.utility(s))
        .collect())
}

/// `N!·φ_i` for each player from a full utility table (`table.len() == 2^N`).
///
/// # Errors
/// [`ContributionError::Shape`] if the table's length is not a power of two of at most
/// `2^MAX_EXACT_PLAYERS` entries (or is 1: no players).
pub fn shapley_numerators(table: &[i64]) -> Result<Vec<i128>, ContributionError> {
    let len = table.len();
    if !len.is_power_of_two() || !(2..=1 << MAX_EXACT_PLAYERS).contains(&len) {
        return Err(ContributionError::Shape(format!(
            "a utility table has 2^N entries for 1 <= N <= {MAX_EXACT_PLAYERS}, not {len}"
        )));
    }
    let n = len.trailing_zeros() as usize;
    let weights: Vec<i128> = (0..n).map(|s| weight(n, s)).collect();
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            let bit = 1usize << i;
            (0..len)
                .filter(|s| s & bit == 0)
                .map(|s| {
                    let size = s.count_ones() as usize;
                    weights[size] * i128::from(table[s | bit] - table[s])
                })
                .sum()
        })
        .collect())
}

/// Exact Shapley values from all `2^N` coalitions (the default up to 12 providers).
#[derive(Clone, Copy, Debug, Default)]
pub struct Exact;

impl Estimator for Exact {
    fn method(&self) -> Method {
        Method::Exact
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        Ok(values_and_table(round.game)?.0)
    }
}

/// The exact Shapley values of `game` and the utility table they come from.
///
/// # Errors
/// As [`utility_table`].
pub fn values_and_table(game: &dyn Game) -> Result<(Values, Vec<i64>), ContributionError> {
    let table = utility_table(game)?;
    let values = Values {
        phi: Phi::Rational {
            numerators: shapley_numerators(&table)?,
            denominator: factorial(game.players()),
        },
        evaluations: table.len(),
        permutations: 0,
        skipped: None,
    };
    Ok((values, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_the_shapley_coefficients_times_n_factorial() {
        // n = 3: w(0) = 2, w(1) = 1, w(2) = 2; Σ_s C(2,s)·w(s) = 2 + 2 + 2 = 3! = 6.
        assert_eq!(
            (0..3).map(|s| weight(3, s)).collect::<Vec<_>>(),
            vec![2, 1, 2]
        );
        for n in 1..=12usize {
            let total: i128 = (0..n)
                .map(|s| {
                    let choose = factorial(n - 1) / (factorial(s) * factorial(n - 1 - s));
                    choose * weight(n, s)
                })
                .sum();
            assert_eq!(total, factorial(n), "n = {n}");
        }
    }

    #[test]
    fn glove_game_by_hand() {
        // Player 0 holds a left glove, players 1 and 2 right gloves; a pair is worth 1.
        // φ = (2/3, 1/6, 1/6): 3!·φ = (4, 1, 1).
        let table: Vec<i64> = (0..8u32)
            .map(|s| i64::from(s & 1 == 1 && s & 0b110 != 0))
            .collect();
        assert_eq!(shapley_numerators(&table).unwrap(), vec![4, 1, 1]);
    }

    #[test]
    fn tables_that_are_not_two_to_the_n_are_refused() {
        for len in [0, 1, 3, 6] {
            assert!(shapley_numerators(&vec![0; len]).is_err(), "len {len}");
        }
    }
}
