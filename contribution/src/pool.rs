//! zkfl's round game: the number of validation rows that the FedAvg model of a coalition's
//! updates classifies correctly.
//!
//! For a linear model (softmax or logistic regression) the logits of the FedAvg model
//! `w_S = Σ_{i∈S} n_i w_i / n_S` of coalition `S` on a row are the `n_i`-weighted mean of the
//! members' own logits, and `argmax` of a mean is `argmax` of the sum: so
//!
//! ```text
//! v(∅) = #{ rows r : argmax_j z_t[r][j] = y_r }
//! v(S) = #{ rows r : argmax_j Σ_{i∈S} n_i · z_i[r][j] = y_r }
//! ```
//!
//! with `z_t` the logits of the round's global model and `z_i` those of provider `i`'s model,
//! integers (the fixed-point logits of `circuits::reference::contribution`), ties broken by the
//! lowest class index. No division, no rounding: exactly what the contribution proof
//! constrains. A logistic regression's single logit `z` is the pair `(0, z)`.
//!
//! **Absent players.** A player of weight `n_i = 0` sent nothing that can be valued (it dropped
//! out, or its update is outside the fixed-point range): the FedAvg of a coalition whose
//! members all weigh 0 is the global model, so such a coalition's utility is `v(∅)`, and an
//! absent player is a null player (`φ_i = 0`). A task's proof thus has one player per
//! registered provider whoever takes part in a round.

use crate::{Coalition, ContributionError, Game, MAX_PLAYERS};

/// One provider of a [`PoolGame`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolPlayer {
    /// Its FedAvg weight `n_i` (its sample count), or 0 for an absent player.
    pub weight: i128,
    /// Its model's logits, row-major `[rows][classes]`.
    pub logits: Vec<i128>,
}

/// The round game of a linear model (see the module docs).
#[derive(Clone, Debug)]
pub struct PoolGame {
    classes: usize,
    labels: Vec<u32>,
    base: Vec<i128>,
    players: Vec<PoolPlayer>,
}

impl PoolGame {
    /// The game of a round: `labels` of the validation rows, `base` the global model's logits
    /// (row-major `[rows][classes]`) and each provider's weight and logits.
    ///
    /// # Errors
    /// [`ContributionError::Shape`] when shapes disagree, a label is out of range, a weight is
    /// negative, there are no rows or fewer than 2 classes; [`ContributionError::NoPlayers`] or
    /// [`ContributionError::TooManyPlayers`] for the player count; and
    /// [`ContributionError::Overflow`] if a coalition's weighted logit sum could overflow.
    pub fn new(
        classes: usize,
        labels: Vec<u32>,
        base: Vec<i128>,
        players: Vec<PoolPlayer>,
    ) -> Result<Self, ContributionError> {
        let shape = |why: String| Err(ContributionError::Shape(why));
        let rows = labels.len();
        if classes < 2 || rows == 0 {
            return shape(format!("{rows} validation rows of {classes} classes"));
        }
        if let Some(y) = labels.iter().find(|&&y| y as usize >= classes) {
            return shape(format!("label {y} of {classes} classes"));
        }
        if players.is_empty() {
            return Err(ContributionError::NoPlayers);
        }
        if players.len() > MAX_PLAYERS {
            return Err(ContributionError::TooManyPlayers {
                method: crate::Method::Exact,
                max: MAX_PLAYERS,
                players: players.len(),
            });
        }
        let cells = rows * classes;
        if base.len() != cells {
            return shape(format!("{} base logits for {rows}×{classes}", base.len()));
        }
        let mut bound: i128 = 0;
        for (i, p) in players.iter().enumerate() {
            if p.weight < 0 || p.logits.len() != cells {
                return shape(format!(
                    "player {i}: weight {} and {} logits for {rows}×{classes}",
                    p.weight,
                    p.logits.len()
                ));
            }
            let largest = p.logits.iter().map(|z| z.unsigned_abs()).max().unwrap_or(0);
            let term = i128::try_from(largest)
                .ok()
                .and_then(|z| z.checked_mul(p.weight))
                .ok_or(ContributionError::Overflow("a weighted logit"))?;
            bound = bound
                .checked_add(term)
                .ok_or(ContributionError::Overflow("a coalition's logit sum"))?;
        }
        Ok(PoolGame {
            classes,
            labels,
            base,
            players,
        })
    }

    /// Number of validation rows.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    /// The coalition's pooled logits of one row, `Σ_{i∈S} n_i · z_i[row]` (the base logits
    /// when `Σ_{i∈S} n_i = 0`, as for `S = ∅`), written into `out`.
    pub fn pooled(&self, coalition: Coalition, row: usize, out: &mut [i128]) {
        let cells = row * self.classes..(row + 1) * self.classes;
        let present = self
            .players
            .iter()
            .enumerate()
            .any(|(i, p)| coalition >> i & 1 == 1 && p.weight > 0);
        if !present {
            out.copy_from_slice(&self.base[cells]);
            return;
        }
        out.fill(0);
        for (i, p) in self.players.iter().enumerate() {
            if coalition >> i & 1 == 1 {
                for (o, z) in out.iter_mut().zip(&p.logits[cells.clone()]) {
                    *o += p.weight * z;
                }
            }
        }
    }
}

/// The index of the largest value, the lowest index among equals.
pub fn argmax(values: &[i128]) -> usize {
    let mut best = 0;
    for (j, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = j;
        }
    }
    best
}

impl Game for PoolGame {
    fn players(&self) -> usize {
        self.players.len()
    }

    fn utility(&self, coalition: Coalition) -> i64 {
        let mut scores = vec![0i128; self.classes];
        let mut correct = 0;
        for (row, &y) in self.labels.iter().enumerate() {
            self.pooled(coalition, row, &mut scores);
            correct += i64::from(argmax(&scores) == y as usize);
        }
        correct
    }

    fn scale(&self) -> f64 {
        self.rows() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_lowest_class() {
        assert_eq!(argmax(&[3, 5, 5, 1]), 1);
        assert_eq!(argmax(&[0, 0]), 0);
        assert_eq!(argmax(&[-2, -1]), 1);
    }

    /// Two players of a two-row, two-class game (see `coalitions_pool_weighted_logits`).
    fn two_players() -> Vec<PoolPlayer> {
        vec![
            PoolPlayer {
                weight: 3,
                logits: vec![0, 2, 1, 0],
            },
            PoolPlayer {
                weight: 1,
                logits: vec![5, 0, 0, 4],
            },
        ]
    }

    #[test]
    fn coalitions_pool_weighted_logits() {
        // Two rows, two classes; labels 1 and 0.
        // Base predicts class 0 on both: v(∅) = 1.
        // Player 0 (n = 3): row 0 → (0, 2), row 1 → (1, 0): both right.
        // Player 1 (n = 1): row 0 → (5, 0), row 1 → (0, 4): both wrong.
        // Together: row 0 → (5, 6) → 1 right; row 1 → (3, 4) → 1 wrong: v = 1.
        let game = PoolGame::new(2, vec![1, 0], vec![1, 0, 1, 0], two_players()).unwrap();
        assert_eq!(
            (0..4).map(|s| game.utility(s)).collect::<Vec<_>>(),
            vec![1, 2, 0, 1]
        );
    }

    #[test]
    fn an_absent_player_is_null_and_a_coalition_of_absent_players_is_the_global_model() {
        // The game of `two_players` with an absent third player whose logits would change
        // everything.
        let mut players = two_players();
        players.push(PoolPlayer {
            weight: 0,
            logits: vec![0, 9, 9, 0],
        });
        let game = PoolGame::new(2, vec![1, 0], vec![1, 0, 1, 0], players).unwrap();
        for s in 0..4 {
            assert_eq!(
                game.utility(s | 4),
                game.utility(s),
                "coalition {s} with the absent player"
            );
        }
        let phi =
            crate::exact::shapley_numerators(&crate::exact::utility_table(&game).unwrap()).unwrap();
        assert_eq!(phi[2], 0);
    }

    #[test]
    fn misshapen_games_are_refused() {
        let p = |w, n| PoolPlayer {
            weight: w,
            logits: vec![0; n],
        };
        assert!(PoolGame::new(2, vec![0], vec![0, 0], vec![p(1, 2)]).is_ok());
        assert!(PoolGame::new(2, vec![2], vec![0, 0], vec![p(1, 2)]).is_err());
        assert!(PoolGame::new(2, vec![0], vec![0, 0], vec![p(-1, 2)]).is_err());
        assert!(PoolGame::new(2, vec![0], vec![0, 0], vec![p(1, 3)]).is_err());
        assert!(PoolGame::new(2, vec![0], vec![0], vec![p(1, 2)]).is_err());
        assert!(PoolGame::new(2, vec![0], vec![0, 0], vec![]).is_err());
        assert!(PoolGame::new(1, vec![0], vec![0], vec![p(1, 1)]).is_err());
        let huge = PoolPlayer {
            weight: i128::MAX / 2,
            logits: vec![4, 0],
        };
        assert!(PoolGame::new(2, vec![0], vec![0, 0], vec![huge]).is_err());
    }
}
