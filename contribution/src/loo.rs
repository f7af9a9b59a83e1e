//! Leave-one-out: `φ_i = v(P) − v(P \ {i})`, from `N + 1` coalitions (an exact integer).

use rayon::prelude::*;

use crate::memo::Memo;
use crate::{
    ContributionError, Estimator, MAX_PLAYERS, Method, Phi, Round, Values, grand, players_within,
};

/// Leave-one-out values.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeaveOneOut;

impl Estimator for LeaveOneOut {
    fn method(&self) -> Method {
        Method::Loo
    }

    fn estimate(&self, round: &Round<'_>) -> Result<Values, ContributionError> {
        let n = players_within(round.game, Method::Loo, MAX_PLAYERS)?;
        let memo = Memo::new(round.game);
        let all = grand(n);
        let full = memo.utility(all);
        let numerators = (0..n)
            .into_par_iter()
            .map(|i| i128::from(full - memo.utility(all & !(1 << i))))
            .collect();
        Ok(Values {
            phi: Phi::Rational {
                numerators,
                denominator: 1,
            },
            evaluations: memo.evaluations(),
            permutations: 0,
            skipped: None,
        })
    }
}
