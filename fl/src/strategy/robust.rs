//! Coordinate-wise robust statistics: median and trimmed mean (Yin et al. 2018).
//!
//! Each coordinate's values are sorted with `f32::total_cmp` and reduced in that order, so the
//! result does not depend on the order of the updates.

use super::{
    ClientUpdate, Strategy, StrategyError, StrategySpec, check_round, finite_result, map_columns,
    restore_nothing,
};

/// Coordinate-wise median; for an even number of updates, the mean of the two middle values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Median;

/// The median of `column` (sorts it in place); `column` must not be empty.
fn median_of(column: &mut [f32]) -> f32 {
    column.sort_unstable_by(f32::total_cmp);
    let n = column.len();
    if n % 2 == 1 {
        column[n / 2]
    } else {
        ((f64::from(column[n / 2 - 1]) + f64::from(column[n / 2])) / 2.0) as f32
    }
}

impl Strategy for Median {
    fn name(&self) -> String {
        StrategySpec::Median.to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        let ordered = check_round(global, updates)?;
        finite_result(map_columns(global.len(), &ordered, median_of))
    }

    fn restore_state(&mut self, state: Option<Vec<f32>>) -> Result<(), StrategyError> {
        restore_nothing(self.name(), state)
    }
}

/// Coordinate-wise trimmed mean: drop the `⌊β·n⌋` largest and smallest values, average the rest.
#[derive(Debug, Clone, Copy)]
pub struct TrimmedMean {
    beta: f32,
}

impl TrimmedMean {
    /// Trimmed mean cutting the fraction `beta` (in [0, 0.5)) at each end.
    pub fn new(beta: f32) -> Self {
        Self { beta }
    }
}

/// Values dropped at each end for `n` updates: `⌊β·n⌋`. A tolerance of 1e-6 absorbs the error of
/// writing β as f32 (0.35_f32 · 20 = 6.99999988…, meant as 7).
pub(super) fn trim_count(beta: f32, n: usize) -> usize {
    (f64::from(beta) * n as f64 + 1e-6).floor() as usize
}

/// Check that trimming `beta` of `n` updates at each end keeps at least one value.
pub(super) fn check_trim(beta: f32, n: usize) -> Result<(), StrategyError> {
    let spec = StrategySpec::TrimmedMean { beta };
    if !(0.0..0.5).contains(&beta) {
        return Err(StrategyError::BadParameter {
            spec: spec.to_string(),
            reason: "trim fraction BETA must be in [0, 0.5)".into(),
        });
    }
    let k = trim_count(beta, n);
    if n <= 2 * k {
        return Err(StrategyError::BadParameter {
            spec: spec.to_string(),
            reason: format!("trimming {k} values at each end of n = {n} keeps none"),
        });
    }
    Ok(())
}

impl Strategy for TrimmedMean {
    fn name(&self) -> String {
        StrategySpec::TrimmedMean { beta: self.beta }.to_string()
    }

    fn aggregate(
        &mut self,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<Vec<f32>, StrategyError> {
        let ordered = check_round(global, updates)?;
        let n = ordered.len();
        check_trim(self.beta, n)?;
        let k = trim_count(self.beta, n);
        let kept = (n - 2 * k) as f64;
        let model = map_columns(global.len(), &ordered, |column| {
            column.sort_unstable_by(f32::total_cmp);
            let sum: f64 = column[k..n - k].iter().map(|&x| f64::from(x)).sum();
            (sum / kept) as f32
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

    fn updates(columns: &[&[f32]]) -> Vec<ClientUpdate> {
        columns
            .iter()
            .enumerate()
            .map(|(client, params)| ClientUpdate {
                client,
                params: params.to_vec(),
                n_samples: 1 + client * 100,
            })
            .collect()
    }

    #[test]
    fn median_by_hand() {
        // odd n: coordinate 0 values {3, -1, 7} → 3; coordinate 1 values {0, 10, 2} → 2
        let u = updates(&[&[3.0, 0.0], &[-1.0, 10.0], &[7.0, 2.0]]);
        assert_eq!(Median.aggregate(&[0.0, 0.0], &u).unwrap(), vec![3.0, 2.0]);
        // even n: {1, 4, 2, 100} → (2 + 4) / 2 = 3; ignores sample counts
        let u = updates(&[&[1.0], &[4.0], &[2.0], &[100.0]]);
        assert_eq!(Median.aggregate(&[0.0], &u).unwrap(), vec![3.0]);
    }

    #[test]
    fn median_of_extremes_does_not_overflow() {
        let u = updates(&[&[f32::MAX], &[f32::MAX]]);
        assert_eq!(Median.aggregate(&[0.0], &u).unwrap(), vec![f32::MAX]);
    }

    #[test]
    fn trimmed_mean_by_hand() {
        // n = 5, β = 0.2 → drop 1 at each end: {10, -50, 1, 2, 3} → mean(1, 2, 3) = 2
        let u = updates(&[&[10.0], &[-50.0], &[1.0], &[2.0], &[3.0]]);
        assert_eq!(
            TrimmedMean::new(0.2).aggregate(&[0.0], &u).unwrap(),
            vec![2.0]
        );
        // β = 0.1 → ⌊0.5⌋ = 0 dropped: plain mean (10 - 50 + 6) / 5 = -6.8
        assert_eq!(
            TrimmedMean::new(0.1).aggregate(&[0.0], &u).unwrap(),
            vec![-6.8]
        );
        // β = 0.4 → drop 2 at each end: the median 2
        assert_eq!(
            TrimmedMean::new(0.4).aggregate(&[0.0], &u).unwrap(),
            vec![2.0]
        );
    }

    #[test]
    fn trim_count_reads_beta_as_the_decimal_written() {
        assert_eq!(trim_count(0.35, 20), 7);
        assert_eq!(trim_count(0.2, 12), 2);
        assert_eq!(trim_count(0.0, 12), 0);
        assert_eq!(trim_count(0.49, 100), 49);
    }

    #[test]
    fn trimmed_mean_refuses_to_keep_nothing() {
        // the largest f32 below 0.5 trims 1 of 2 at each end
        let beta = 0.499_999_97;
        let u = updates(&[&[1.0], &[2.0]]);
        assert!(matches!(
            TrimmedMean::new(beta).aggregate(&[0.0], &u),
            Err(StrategyError::BadParameter { .. })
        ));
        assert!(check_trim(beta, 3).is_ok());
        assert!(check_trim(0.5, 100).is_err());
    }

    #[test]
    fn robust_rules_reject_nan() {
        let u = updates(&[&[1.0], &[f32::NAN], &[2.0]]);
        assert!(matches!(
            Median.aggregate(&[0.0], &u),
            Err(StrategyError::NonFinite { .. })
        ));
        assert!(matches!(
            TrimmedMean::new(0.2).aggregate(&[0.0], &u),
            Err(StrategyError::NonFinite { .. })
        ));
    }
}
