//! Sample-weighted averaging: FedAvg, FedProx (same server rule) and FedAvgM (server momentum).

use super::{
    ClientUpdate, Strategy, StrategyError, StrategySpec, ValueOrigin, check_finite, check_round,
    finite_result, map_coordinates, restore_nothing,
};

/// `Σ n_i·w_i / Σ n_i` per coordinate, accumulated in f64 in ascending client id order.
fn weighted_mean(global: &[f32], updates: &[ClientUpdate]) -> Result<Vec<f32>, StrategyError> {
    let ordered = check_round(global, updates)?;
    let weights: Vec<f64> = ordered.iter().map(|u| u.n_samples as f64).collect();
    let total: f64 = weights.iter().sum();
    if total == 0.0 {
        return Err(StrategyError::ZeroSamples(ordered.len()));
    }
    let dim = global.len();
    let mean = map_coordinates(dim, dim * ordered.len(), |start, out| {
        let mut acc = vec![0.0_f64; out.len()];
        for (update, weight) in ordered.iter().zip(&weights) {
            let params = &update.params[start..start + out.len()];
            for (a, &x) in acc.iter_mut().zip(params) {
                *a += weight * f64::from(x);
            }
        }
        for (slot, a) in out.iter_mut().zip(acc) {
            *slot = (a / total) as f32;
        }
    });
    finite_result(mean)
}

/// Federated averaging (McMahan et al. 2017): the mean of the updates weighted by `n_samples`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FedAvg;

impl Strategy for FedAvg {
    fn name(&self) -> String {
        StrategySpec::FedAvg.to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        weighted_mean(global, updates)
    }

    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
        restore_nothing(self.name(), state)
    }
}

/// FedProx (Li et al. 2020): FedAvg on the server; clients add `μ/2·‖w − w_global‖²` to their loss.
#[derive(Debug, Clone, Copy)]
pub struct FedProx {
    mu: f32,
}

impl FedProx {
    /// FedProx with proximal coefficient `mu` (checked by [`StrategySpec::validate`]).
    pub fn new(mu: f32) -> Self {
        Self { mu }
    }
}

impl Strategy for FedProx {
    fn name(&self) -> String {
        StrategySpec::FedProx { mu: self.mu }.to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        weighted_mean(global, updates)
    }

    fn proximal_mu(&self) -> f32 {
        self.mu
    }

    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
        restore_nothing(self.name(), state)
    }
}

/// FedAvg with server momentum (Hsu et al. 2019): with pseudo-gradient `d = global − fedavg`,
/// `v ← β·v + d` and `new = global − server_lr·v`. The momentum `v` is kept in f32 so that
/// [`Strategy::state`] captures it exactly and a resumed run continues bit for bit.
#[derive(Debug, Clone)]
pub struct FedAvgM {
    server_lr: f32,
    momentum: f32,
    velocity: Option<Vec<f32>>,
}

impl FedAvgM {
    /// FedAvgM with server learning rate `server_lr` and momentum `momentum`, zero velocity.
    pub fn new(server_lr: f32, momentum: f32) -> Self {
        Self {
            server_lr,
            momentum,
            velocity: None,
        }
    }
}

impl Strategy for FedAvgM {
    fn name(&self) -> String {
        StrategySpec::FedAvgM {
            server_lr: self.server_lr,
            momentum: self.momentum,
        }
        .to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        let mean = weighted_mean(global, updates)?;
        if let Some(v) = &self.velocity
            && v.len() != global.len()
        {
            return Err(StrategyError::StateMismatch {
                expected: global.len(),
                got: v.len(),
            });
        }
        let dim = global.len();
        let beta = f64::from(self.momentum);
        let old = self.velocity.as_deref();
        let velocity = map_coordinates(dim, dim, |start, out| {
            for (offset, slot) in out.iter_mut().enumerate() {
                let j = start + offset;
                let d = f64::from(global[j]) - f64::from(mean[j]);
                let previous = old.map_or(0.0, |v| f64::from(v[j]));
                *slot = (beta * previous + d) as f32;
            }
        });
        check_finite(&velocity, ValueOrigin::State)?;
        let lr = f64::from(self.server_lr);
        let model = map_coordinates(dim, dim, |start, out| {
            for (offset, slot) in out.iter_mut().enumerate() {
                let j = start + offset;
                *slot = (f64::from(global[j]) - lr * f64::from(velocity[j])) as f32;
            }
        });
        let model = finite_result(model)?;
        self.velocity = Some(velocity);
        Ok(model)
    }

    fn state(&self) -> Option<Vec<f32>> {
        self.velocity.clone()
    }

    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
        if let Some(v) = &state {
            check_finite(v, ValueOrigin::State)?;
        }
        self.velocity = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(client: usize, params: &[f32], n_samples: usize) -> ClientUpdate {
        ClientUpdate {
            client,
            params: params.to_vec(),
            n_samples,
        }
    }

    #[test]
    fn fedavg_weights_by_samples() {
        // (1·[1, 2] + 3·[5, -2]) / 4 = [4, -1]
        let updates = [update(0, &[1.0, 2.0], 1), update(1, &[5.0, -2.0], 3)];
        let out = FedAvg.aggregate(&[0.0, 0.0], &updates).unwrap();
        assert_eq!(out, vec![4.0, -1.0]);
        // equal weights → plain mean
        let updates = [update(0, &[1.0, 2.0], 7), update(1, &[5.0, -2.0], 7)];
        assert_eq!(
            FedAvg.aggregate(&[0.0, 0.0], &updates).unwrap(),
            vec![3.0, 0.0]
        );
    }

    #[test]
    fn fedavg_ignores_zero_weight_clients_and_rejects_all_zero() {
        let updates = [update(3, &[2.0], 5), update(1, &[100.0], 0)];
        assert_eq!(FedAvg.aggregate(&[0.0], &updates).unwrap(), vec![2.0]);
        let updates = [update(0, &[2.0], 0), update(1, &[100.0], 0)];
        assert_eq!(
            FedAvg.aggregate(&[0.0], &updates),
            Err(StrategyError::ZeroSamples(2))
        );
    }

    #[test]
    fn fedavg_rejects_bad_rounds() {
        assert_eq!(
            FedAvg.aggregate(&[0.0], &[]),
            Err(StrategyError::EmptyRound)
        );
        let short = [update(4, &[1.0], 1)];
        assert_eq!(
            FedAvg.aggregate(&[0.0, 0.0], &short),
            Err(StrategyError::LengthMismatch {
                client: 4,
                expected: 2,
                got: 1
            })
        );
        let nan = [update(0, &[1.0, 1.0], 1), update(2, &[1.0, f32::NAN], 1)];
        assert_eq!(
            FedAvg.aggregate(&[0.0, 0.0], &nan),
            Err(StrategyError::NonFinite {
                origin: ValueOrigin::Client(2),
                index: 1
            })
        );
        let ok = [update(0, &[1.0], 1)];
        assert_eq!(
            FedAvg.aggregate(&[f32::INFINITY], &ok),
            Err(StrategyError::NonFinite {
                origin: ValueOrigin::Global,
                index: 0
            })
        );
        let twice = [update(5, &[1.0], 1), update(5, &[2.0], 1)];
        assert_eq!(
            FedAvg.aggregate(&[0.0], &twice),
            Err(StrategyError::DuplicateClient(5))
        );
    }

    #[test]
    fn fedavg_does_not_overflow_on_large_values() {
        let big = f32::MAX;
        let updates = [update(0, &[big], 1), update(1, &[big], 1)];
        assert_eq!(FedAvg.aggregate(&[0.0], &updates).unwrap(), vec![big]);
    }

    #[test]
    fn fedprox_aggregates_like_fedavg_and_reports_mu() {
        let updates = [update(0, &[1.0, 2.0], 1), update(1, &[5.0, -2.0], 3)];
        let mut prox = FedProx::new(0.01);
        assert_eq!(prox.proximal_mu(), 0.01);
        assert_eq!(FedAvg.proximal_mu(), 0.0);
        assert_eq!(
            prox.aggregate(&[0.0, 0.0], &updates).unwrap(),
            FedAvg.aggregate(&[0.0, 0.0], &updates).unwrap()
        );
        assert_eq!(prox.name(), "fedprox:0.01");
    }

    fn rounds() -> Vec<(Vec<f32>, Vec<ClientUpdate>)> {
        (0..4)
            .map(|r| {
                let global: Vec<f32> = (0..5).map(|j| 0.1 * (r * 5 + j) as f32).collect();
                let updates = (0..3)
                    .map(|c| {
                        let params: Vec<f32> = global
                            .iter()
                            .enumerate()
                            .map(|(j, g)| g - 0.03 * ((c + j + r) as f32).sin())
                            .collect();
                        update(c, &params, 10 + c * 7)
                    })
                    .collect();
                (global, updates)
            })
            .collect()
    }

    #[test]
    fn fedavgm_without_momentum_is_fedavg() {
        let mut m = FedAvgM::new(1.0, 0.0);
        for (global, updates) in rounds() {
            let got = m.aggregate(&global, &updates).unwrap();
            let want = FedAvg.aggregate(&global, &updates).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{g} vs {w}");
            }
        }
    }

    #[test]
    fn fedavgm_applies_momentum_by_hand() {
        // global 1, fedavg 0.5 → d = 0.5; v = 0.5; new = 1 − 2·0.5 = 0
        let mut m = FedAvgM::new(2.0, 0.5);
        let out = m.aggregate(&[1.0], &[update(0, &[0.5], 1)]).unwrap();
        assert_eq!(out, vec![0.0]);
        assert_eq!(m.state(), Some(vec![0.5]));
        // global 0, fedavg −1 → d = 1; v = 0.5·0.5 + 1 = 1.25; new = 0 − 2·1.25 = −2.5
        let out = m.aggregate(&[0.0], &[update(0, &[-1.0], 1)]).unwrap();
        assert_eq!(out, vec![-2.5]);
        assert_eq!(m.state(), Some(vec![1.25]));
    }

    #[test]
    fn fedavgm_resume_continues_bitwise() {
        let rounds = rounds();
        let mut straight = FedAvgM::new(0.7, 0.9);
        let mut first = FedAvgM::new(0.7, 0.9);
        let mut straight_out = Vec::new();
        for (global, updates) in &rounds {
            straight_out.push(straight.aggregate(global, updates).unwrap());
        }
        for (global, updates) in &rounds[..2] {
            first.aggregate(global, updates).unwrap();
        }
        let saved = first.state();
        assert!(saved.is_some());
        let mut resumed = StrategySpec::FedAvgM {
            server_lr: 0.7,
            momentum: 0.9,
        }
        .build();
        resumed.restore_state(saved).unwrap();
        for (r, (global, updates)) in rounds.iter().enumerate().skip(2) {
            let out = resumed.aggregate(global, updates).unwrap();
            let bits: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
            let want: Vec<u32> = straight_out[r].iter().map(|x| x.to_bits()).collect();
            assert_eq!(bits, want, "round {r}");
        }
        assert_eq!(resumed.state(), straight.state());
    }

    #[test]
    fn fedavgm_rejects_bad_state() {
        let mut m = FedAvgM::new(1.0, 0.9);
        assert_eq!(
            m.restore_state(Some(vec![0.0, f32::NAN])),
            Err(StrategyError::NonFinite {
                origin: ValueOrigin::State,
                index: 1
            })
        );
        m.restore_state(Some(vec![0.0, 0.0, 0.0])).unwrap();
        assert_eq!(
            m.aggregate(&[0.0, 0.0], &[update(0, &[1.0, 1.0], 1)]),
            Err(StrategyError::StateMismatch {
                expected: 2,
                got: 3
            })
        );
        // a failed round leaves the state untouched
        assert_eq!(m.state(), Some(vec![0.0, 0.0, 0.0]));
    }

    #[test]
    fn fedavgm_overflow_is_an_error_not_a_model() {
        let mut m = FedAvgM::new(1e30, 0.0);
        let out = m.aggregate(&[1e30], &[update(0, &[-1e30], 1)]);
        assert!(
            matches!(out, Err(StrategyError::NonFinite { .. })),
            "{out:?}"
        );
        assert_eq!(m.state(), None);
    }

    #[test]
    fn stateless_strategies_refuse_state() {
        assert_eq!(FedAvg.state(), None);
        assert!(FedAvg.restore_state(None).is_ok());
        assert_eq!(
            FedAvg.restore_state(Some(vec![1.0])),
            Err(StrategyError::UnexpectedState("fedavg".into()))
        );
    }
}
