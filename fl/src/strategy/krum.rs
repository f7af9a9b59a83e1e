//! Krum and Multi-Krum (Blanchard et al. 2017): keep the updates closest to their neighbours.
//!
//! With `n` updates of which up to `f` are Byzantine, the score of update `i` is the sum of the
//! squared distances to its `n − f − 2` nearest other updates. Krum returns the update with the
//! lowest score; Multi-Krum the unweighted mean of the `m` lowest. Ties go to the lower client id.

use super::{
    ClientUpdate, PARALLEL_MIN_WORK, Strategy, StrategyError, StrategySpec, check_round,
    finite_result, map_coordinates, restore_nothing,
};
use rayon::prelude::*;

/// Check Krum's requirement `n > 2f + 2`.
pub(super) fn check_krum(n: usize, f: usize) -> Result<(), StrategyError> {
    // n > 2f + 2  ⇔  n >= 3 and f <= (n − 3) / 2, written so a huge f cannot overflow
    if n < 3 || f > (n - 3) / 2 {
        return Err(StrategyError::TooFewClients { n, f });
    }
    Ok(())
}

/// Check Multi-Krum's requirements: `n > 2f + 2` and `1 <= m <= n − f`.
pub(super) fn check_multi_krum(n: usize, f: usize, m: usize) -> Result<(), StrategyError> {
    check_krum(n, f)?;
    if m == 0 || m > n - f {
        return Err(StrategyError::BadParameter {
            spec: StrategySpec::MultiKrum { f, m }.to_string(),
            reason: format!("M must be in 1..={} for n = {n} updates and f = {f}", n - f),
        });
    }
    Ok(())
}

/// Squared Euclidean distance, summed in f64 over the coordinates in order.
fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Krum score of every update (same order as `updates`): the sum of the squared distances to its
/// `n − f − 2` nearest other updates. Pairs are computed on rayon when the vectors are large;
/// each distance is one sequential sum, so the scores do not depend on the thread count.
fn krum_scores(updates: &[&ClientUpdate], f: usize) -> Vec<f64> {
    let n = updates.len();
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let distance =
        |&(i, j): &(usize, usize)| squared_distance(&updates[i].params, &updates[j].params);
    let dim = updates.first().map_or(0, |u| u.params.len());
    let distances: Vec<f64> = if dim * pairs.len() >= PARALLEL_MIN_WORK {
        pairs.par_iter().map(distance).collect()
    } else {
        pairs.iter().map(distance).collect()
    };
    let mut matrix = vec![0.0_f64; n * n];
    for (&(i, j), &d) in pairs.iter().zip(&distances) {
        matrix[i * n + j] = d;
        matrix[j * n + i] = d;
    }
    let neighbours = n - f - 2;
    (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| matrix[i * n + j])
                .collect();
            row.sort_unstable_by(f64::total_cmp);
            row[..neighbours].iter().sum()
        })
        .collect()
}

/// Positions (into `updates`) of the `m` lowest Krum scores, best first; ties to the lower id.
fn krum_select(updates: &[&ClientUpdate], f: usize, m: usize) -> Vec<usize> {
    let scores = krum_scores(updates, f);
    let mut ranking: Vec<usize> = (0..updates.len()).collect();
    // `updates` is in ascending client id order, so a stable sort breaks ties by id.
    ranking.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    ranking.truncate(m);
    ranking
}

/// Krum: the single update with the lowest score.
#[derive(Debug, Clone, Copy)]
pub struct Krum {
    f: usize,
}

impl Krum {
    /// Krum tolerating `f` Byzantine clients (needs more than `2f + 2` updates per round).
    pub fn new(f: usize) -> Self {
        Self { f }
    }
}

impl Strategy for Krum {
    fn name(&self) -> String {
        StrategySpec::Krum { f: self.f }.to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        let ordered = check_round(global, updates)?;
        check_krum(ordered.len(), self.f)?;
        let best = krum_select(&ordered, self.f, 1)[0];
        tracing::debug!(client = ordered[best].client, "krum selected");
        Ok(ordered[best].params.clone())
    }

    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
        restore_nothing(self.name(), state)
    }
}

/// Multi-Krum: the unweighted mean of the `m` updates with the lowest scores.
#[derive(Debug, Clone, Copy)]
pub struct MultiKrum {
    f: usize,
    m: usize,
}

impl MultiKrum {
    /// Multi-Krum tolerating `f` Byzantine clients and averaging `m` (in `1..=n − f`) updates.
    pub fn new(f: usize, m: usize) -> Self {
        Self { f, m }
    }
}

impl Strategy for MultiKrum {
    fn name(&self) -> String {
        StrategySpec::MultiKrum {
            f: self.f,
            m: self.m,
        }
        .to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        let ordered = check_round(global, updates)?;
        check_multi_krum(ordered.len(), self.f, self.m)?;
        let mut chosen = krum_select(&ordered, self.f, self.m);
        chosen.sort_unstable();
        let selected: Vec<&ClientUpdate> = chosen.iter().map(|&i| ordered[i]).collect();
        tracing::debug!(
            clients = ?selected.iter().map(|u| u.client).collect::<Vec<_>>(),
            "multi-krum selected"
        );
        let dim = global.len();
        let count = selected.len() as f64;
        let model = map_coordinates(dim, dim * selected.len(), |start, out| {
            let mut acc = vec![0.0_f64; out.len()];
            for update in &selected {
                let params = &update.params[start..start + out.len()];
                for (a, &x) in acc.iter_mut().zip(params) {
                    *a += f64::from(x);
                }
            }
            for (slot, a) in out.iter_mut().zip(acc) {
                *slot = (a / count) as f32;
            }
        });
        finite_result(model)
    }

    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
        restore_nothing(self.name(), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five 1-d updates: four clustered at 0..3 and one outlier at 100.
    fn line() -> Vec<ClientUpdate> {
        [1.0_f32, 0.0, 100.0, 3.0, 2.0]
            .iter()
            .enumerate()
            .map(|(client, &x)| ClientUpdate {
                client,
                params: vec![x],
                n_samples: 1,
            })
            .collect()
    }

    #[test]
    fn krum_scores_by_hand() {
        // n = 5, f = 1 → 2 nearest neighbours each.
        // x=1: {0,2} → 1+1 = 2;  x=0: {1,2} → 1+4 = 5;  x=100: {3,2} → 97²+98² = 19013
        // x=3: {2,1} → 1+4 = 5;  x=2: {1,3} → 1+1 = 2
        let u = line();
        let ordered: Vec<&ClientUpdate> = u.iter().collect();
        assert_eq!(krum_scores(&ordered, 1), vec![2.0, 5.0, 19013.0, 5.0, 2.0]);
        // tie 1 vs 2 (both score 2) → lower client id (client 0, value 1)
        assert_eq!(Krum::new(1).aggregate(&[0.0], &u).unwrap(), vec![1.0]);
        // m = 3 → clients 0, 4 (score 2) and 1 (score 5, lower id than 3): mean(1, 2, 0) = 1
        assert_eq!(
            MultiKrum::new(1, 3).aggregate(&[0.0], &u).unwrap(),
            vec![1.0]
        );
    }

    #[test]
    fn multi_krum_with_one_is_krum() {
        let u = line();
        assert_eq!(
            MultiKrum::new(1, 1).aggregate(&[0.0], &u).unwrap(),
            Krum::new(1).aggregate(&[0.0], &u).unwrap()
        );
    }

    #[test]
    fn krum_refuses_too_few_clients() {
        // n = 5 needs f <= 1: f = 2 gives 2f + 2 = 6 >= 5
        let u = line();
        let err = Krum::new(2).aggregate(&[0.0], &u).unwrap_err();
        assert_eq!(err, StrategyError::TooFewClients { n: 5, f: 2 });
        assert!(err.to_string().contains("n = 5") && err.to_string().contains("f = 2"));
        assert_eq!(
            MultiKrum::new(2, 1).aggregate(&[0.0], &u),
            Err(StrategyError::TooFewClients { n: 5, f: 2 })
        );
        // exactly n = 2f + 2 is refused too
        assert_eq!(
            Krum::new(1).aggregate(&[0.0], &u[..4]),
            Err(StrategyError::TooFewClients { n: 4, f: 1 })
        );
        assert_eq!(
            StrategySpec::Krum { f: 1 }.validate(4),
            Err(StrategyError::TooFewClients { n: 4, f: 1 })
        );
        assert!(StrategySpec::Krum { f: 1 }.validate(5).is_ok());
    }

    #[test]
    fn multi_krum_m_must_fit() {
        let u = line();
        // n = 5, f = 1 → m in 1..=4
        assert!(MultiKrum::new(1, 4).aggregate(&[0.0], &u).is_ok());
        assert!(matches!(
            MultiKrum::new(1, 5).aggregate(&[0.0], &u),
            Err(StrategyError::BadParameter { .. })
        ));
        assert!(StrategySpec::MultiKrum { f: 1, m: 4 }.validate(5).is_ok());
        assert!(StrategySpec::MultiKrum { f: 1, m: 5 }.validate(5).is_err());
        assert!(StrategySpec::MultiKrum { f: 1, m: 0 }.validate(5).is_err());
    }

    #[test]
    fn krum_ignores_arrival_order() {
        let mut u = line();
        let want = MultiKrum::new(1, 3).aggregate(&[0.0], &u).unwrap();
        u.reverse();
        assert_eq!(MultiKrum::new(1, 3).aggregate(&[0.0], &u).unwrap(), want);
        assert_eq!(Krum::new(1).aggregate(&[0.0], &u).unwrap(), vec![1.0]);
    }
}
