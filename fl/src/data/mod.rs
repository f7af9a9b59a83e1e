//! Labelled data sets for federated learning: loaders, a stratified train/test split and a
//! z-score standardizer.
//!
//! A [`Dataset`] is a row-major table of `f32` features with one class id per row. Where it comes
//! from is a [`DatasetSource`], written on the command line as
//!
//! - `digits`: UCI handwritten digits, 1797 8×8 images, 10 classes (built into the binary);
//! - `breast-cancer`: UCI breast cancer Wisconsin (diagnostic), 569 rows × 30, 2 classes (built in);
//! - `csv:PATH`: any comma-separated file (gzip'd if the name ends in `.gz`), label column chosen
//!   by [`LabelColumn`];
//! - `idx:IMAGES,LABELS`: an MNIST-style pair of IDX files (gzip'd if a name ends in `.gz`).
//!
//! [`load`] reads any of them; [`train_test_split`] then deals rows into a train and a test side,
//! class by class, from a seed; [`Standardizer`] is fitted on the train side and applied to both.
//! Every error is a [`DataError`] naming the file and, for text files, the 1-based line.

mod csv;
mod embedded;
mod error;
mod file;
mod idx;
mod prepare;
mod source;
mod split;
mod standardize;

pub use csv::load_csv;
pub use embedded::{breast_cancer, digits};
pub use error::DataError;
pub use idx::load_idx;
pub use prepare::{
    FEATURE_FRACTION_BITS, FEATURE_LIMIT, Splits, TEST_FRACTION, VALIDATION_FRACTION, prepare_data,
    snap_to_grid,
};
pub use source::{DatasetSource, LabelColumn, load};
pub use split::train_test_split;
pub use standardize::Standardizer;

use serde::{Deserialize, Serialize};

/// A labelled table of `f32` features, row-major: row `i` is
/// `features[i * n_features..(i + 1) * n_features]` and its class is `labels[i] < n_classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Short name of the data set ("digits", "breast-cancer", a file stem).
    pub name: String,
    /// All feature values, row after row.
    pub features: Vec<f32>,
    /// Number of features per row.
    pub n_features: usize,
    /// Class id of each row.
    pub labels: Vec<u32>,
    /// Number of classes; every label is below it.
    pub n_classes: usize,
    /// `(height, width)` of each row seen as an image (`Some((8, 8))` for digits), `None` for tables.
    pub image_shape: Option<(usize, usize)>,
}

impl Dataset {
    /// Builds a data set after checking that its parts fit: `features.len() == labels.len() *
    /// n_features`, every label `< n_classes`, and `height * width == n_features` for images.
    pub fn new(
        name: impl Into<String>,
        features: Vec<f32>,
        n_features: usize,
        labels: Vec<u32>,
        n_classes: usize,
        image_shape: Option<(usize, usize)>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let inconsistent = |reason: String| DataError::Inconsistent {
            name: name.clone(),
            reason,
        };
        let expected = labels.len().checked_mul(n_features);
        if expected != Some(features.len()) {
            return Err(inconsistent(format!(
                "{} feature values for {} rows of {n_features} features",
                features.len(),
                labels.len()
            )));
        }
        if let Some((i, label)) = labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= n_classes)
        {
            return Err(inconsistent(format!(
                "row {i} has label {label}, but there are {n_classes} classes"
            )));
        }
        if let Some((h, w)) = image_shape
            && h.checked_mul(w) != Some(n_features)
        {
            return Err(inconsistent(format!(
                "image shape {h}x{w} does not hold {n_features} features"
            )));
        }
        Ok(Self {
            name,
            features,
            n_features,
            labels,
            n_classes,
            image_shape,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the data set has no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The features of row `i`. Panics if `i >= self.len()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// A new data set holding the given rows, in the given order (repeats allowed), with the
    /// same name, feature count, class count and image shape. Panics on an index `>= self.len()`.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(rows.len() * self.n_features);
        let mut labels = Vec::with_capacity(rows.len());
        for &i in rows {
            features.extend_from_slice(self.row(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            name: self.name.clone(),
            features,
            n_features: self.n_features,
            labels,
            n_classes: self.n_classes,
            image_shape: self.image_shape,
        }
    }

    /// Number of rows of each class, indexed by class id (length `n_classes`; labels at or above
    /// `n_classes`, which [`Dataset::new`] rules out, are not counted).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &label in &self.labels {
            if let Some(c) = counts.get_mut(label as usize) {
                *c += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::new(
            "tiny",
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            2,
            vec![1, 0, 1],
            3,
            Some((1, 2)),
        )
        .expect("consistent")
    }

    #[test]
    fn rows_select_and_counts() {
        let ds = tiny();
        assert_eq!(ds.len(), 3);
        assert!(!ds.is_empty());
        assert_eq!(ds.row(1), &[2.0, 3.0]);
        let sub = ds.select(&[2, 0]);
        assert_eq!(sub.features, vec![4.0, 5.0, 0.0, 1.0]);
        assert_eq!(sub.labels, vec![1, 1]);
        assert_eq!(sub.name, "tiny");
        assert_eq!(sub.image_shape, Some((1, 2)));
        assert_eq!(sub.n_classes, 3);
        assert_eq!(ds.class_counts(), vec![1, 2, 0]);
        assert!(ds.select(&[]).is_empty());
    }

    #[test]
    fn new_rejects_parts_that_do_not_fit() {
        let short = Dataset::new("x", vec![0.0; 5], 2, vec![0, 1, 0], 2, None);
        assert!(matches!(short, Err(DataError::Inconsistent { .. })));
        let label = Dataset::new("x", vec![0.0; 4], 2, vec![0, 2], 2, None);
        let msg = label.expect_err("label 2 of 2 classes").to_string();
        assert!(msg.contains("row 1 has label 2"), "{msg}");
        let shape = Dataset::new("x", vec![0.0; 4], 2, vec![0, 1], 2, Some((2, 2)));
        assert!(matches!(shape, Err(DataError::Inconsistent { .. })));
    }
}
