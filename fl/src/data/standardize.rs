//! Z-score standardization, fitted on the training side only.

use serde::{Deserialize, Serialize};

use super::{DataError, Dataset};

/// Per-column mean and standard deviation; [`Standardizer::apply`] maps `x` to
/// `(x - mean) / std`. A column whose training values are all equal gets `std = 1`, so it maps
/// to 0 instead of dividing by zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each column over the fitted rows.
    pub mean: Vec<f32>,
    /// Population standard deviation of each column (1 for constant columns).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits on `ds` (meant to be the training side): means and population standard deviations,
    /// computed in `f64`. An empty data set gives mean 0 and std 1 for every column.
    pub fn fit(ds: &Dataset) -> Self {
        let d = ds.n_features;
        if d == 0 {
            return Self {
                mean: Vec::new(),
                std: Vec::new(),
            };
        }
        let rows = || ds.features.chunks_exact(d).take(ds.len());
        let n = rows().count();
        let mut sum = vec![0.0f64; d];
        for row in rows() {
            for (s, &x) in sum.iter_mut().zip(row) {
                *s += f64::from(x);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1) as f64).collect();
        let mut sq = vec![0.0f64; d];
        let mut constant = vec![true; d];
        let first = rows().next().unwrap_or(&[]);
        for row in rows() {
            for (j, &x) in row.iter().enumerate() {
                let dx = f64::from(x) - mean[j];
                sq[j] += dx * dx;
                constant[j] &= x == first[j];
            }
        }
        let std = sq
            .iter()
            .zip(&constant)
            .map(|(&s, &c)| {
                let sd = (s / n.max(1) as f64).sqrt() as f32;
                if c || !(sd > 0.0 && sd.is_finite()) {
                    1.0
                } else {
                    sd
                }
            })
            .collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// Number of columns this standardizer was fitted on.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Standardizes every row of `ds` in place, or reports a feature count that differs from
    /// the fitted one (leaving `ds` untouched).
    pub fn try_apply(&self, ds: &mut Dataset) -> Result<(), DataError> {
        if ds.n_features != self.n_features() {
            return Err(DataError::Inconsistent {
                name: ds.name.clone(),
                reason: format!(
                    "{} features, but the standardizer was fitted on {}",
                    ds.n_features,
                    self.n_features()
                ),
            });
        }
        if self.n_features() == 0 {
            return Ok(());
        }
        for row in ds.features.chunks_exact_mut(self.n_features()) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        Ok(())
    }

    /// Standardizes every row of `ds` in place. Panics if `ds` has a different feature count
    /// than the fitted data (a programming error; use [`Standardizer::try_apply`] for data of
    /// unknown width).
    pub fn apply(&self, ds: &mut Dataset) {
        if let Err(e) = self.try_apply(ds) {
            panic!("Standardizer::apply: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{breast_cancer, train_test_split};

    fn column_stats(ds: &Dataset, j: usize) -> (f64, f64) {
        let n = ds.len() as f64;
        let mean = (0..ds.len()).map(|i| f64::from(ds.row(i)[j])).sum::<f64>() / n;
        let var = (0..ds.len())
            .map(|i| (f64::from(ds.row(i)[j]) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    #[test]
    fn train_columns_get_mean_zero_and_std_one() {
        let ds = breast_cancer().expect("bc");
        let (mut train, mut test) = train_test_split(&ds, 0.2, 5).expect("split");
        let raw_test = test.clone();
        let st = Standardizer::fit(&train);
        assert_eq!(st.n_features(), 30);
        st.apply(&mut train);
        st.apply(&mut test);
        for j in 0..30 {
            let (m, s) = column_stats(&train, j);
            assert!(m.abs() < 1e-4, "column {j} mean {m}");
            assert!((s - 1.0).abs() < 1e-3, "column {j} std {s}");
        }
        // Test rows use the train statistics, not their own.
        let x = raw_test.row(0)[3];
        assert!((test.row(0)[3] - (x - st.mean[3]) / st.std[3]).abs() < 1e-6);
        assert_ne!(test.features, raw_test.features);
    }

    #[test]
    fn constant_columns_map_to_zero() {
        let features = vec![0.1, 5.0, 0.1, 7.0, 0.1, 9.0];
        let mut ds = Dataset::new("c", features, 2, vec![0, 1, 0], 2, None).expect("ds");
        let st = Standardizer::fit(&ds);
        assert_eq!(st.std[0], 1.0);
        assert_eq!(st.mean[1], 7.0);
        assert!((st.std[1] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
        st.apply(&mut ds);
        assert_eq!([ds.row(0)[0], ds.row(1)[0], ds.row(2)[0]], [0.0, 0.0, 0.0]);
        assert_eq!(ds.row(1)[1], 0.0);
    }

    #[test]
    fn width_mismatch_is_an_error_for_try_apply() {
        let a = Dataset::new("a", vec![1.0, 2.0], 1, vec![0, 1], 2, None).expect("a");
        let mut b = Dataset::new("b", vec![1.0, 2.0], 2, vec![0], 2, None).expect("b");
        let st = Standardizer::fit(&a);
        assert!(matches!(
            st.try_apply(&mut b),
            Err(DataError::Inconsistent { .. })
        ));
        assert_eq!(b.features, vec![1.0, 2.0]);
        let empty = a.select(&[]);
        let st = Standardizer::fit(&empty);
        assert_eq!((st.mean.clone(), st.std.clone()), (vec![0.0], vec![1.0]));
    }
}
