//! A stratified, seeded train/test split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{DataError, Dataset};

/// Splits `ds` into `(train, test)`, class by class: each class's rows are shuffled with a
/// ChaCha8 generator seeded by `seed` and `round(test_fraction * n)` of them go to the test side,
/// but at least 1 and at most `n - 1` for a class of `n >= 2` rows (a class of one row stays in
/// train). Every row lands on exactly one side; both sides keep the rows in their original order.
/// The same seed always gives the same split.
pub fn train_test_split(
    ds: &Dataset,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), DataError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::BadTestFraction {
            fraction: test_fraction,
        });
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); ds.n_classes];
    for (i, &label) in ds.labels.iter().enumerate() {
        match by_class.get_mut(label as usize) {
            Some(rows) => rows.push(i),
            None => {
                return Err(DataError::Inconsistent {
                    name: ds.name.clone(),
                    reason: format!(
                        "row {i} has label {label}, but there are {} classes",
                        ds.n_classes
                    ),
                });
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut in_test = vec![false; ds.len()];
    for rows in &mut by_class {
        let n = rows.len();
        if n < 2 {
            continue;
        }
        rows.shuffle(&mut rng);
        let n_test = ((test_fraction * n as f64).round() as usize).clamp(1, n - 1);
        for &i in &rows[..n_test] {
            in_test[i] = true;
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..ds.len()).partition(|&i| in_test[i]);
    if test.is_empty() || train.is_empty() {
        return Err(DataError::EmptySplit {
            name: ds.name.clone(),
            n_rows: ds.len(),
            fraction: test_fraction,
        });
    }
    Ok((ds.select(&train), ds.select(&test)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::digits;

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        let ds = digits().expect("digits");
        let (train_a, test_a) = train_test_split(&ds, 0.2, 7).expect("split");
        let (train_b, test_b) = train_test_split(&ds, 0.2, 7).expect("split");
        assert_eq!(train_a, train_b);
        assert_eq!(test_a, test_b);
        let (_, test_c) = train_test_split(&ds, 0.2, 8).expect("split");
        assert_ne!(test_a.features, test_c.features);
    }

    #[test]
    fn every_row_lands_on_exactly_one_side() {
        // Feature 0 is the row index, so rows can be traced.
        let n = 103;
        let features: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let labels: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let ds = Dataset::new("trace", features, 1, labels, 3, None).expect("ds");
        let (train, test) = train_test_split(&ds, 0.25, 1).expect("split");
        let mut seen: Vec<usize> = train
            .features
            .iter()
            .chain(&test.features)
            .map(|&v| v as usize)
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        for side in [&train, &test] {
            assert!(side.features.windows(2).all(|w| w[0] < w[1]), "order kept");
            assert!(side.row(0)[0] as usize % 3 == side.labels[0] as usize);
        }
    }

    #[test]
    fn split_is_stratified() {
        for ds in [
            digits().expect("digits"),
            crate::data::breast_cancer().expect("bc"),
        ] {
            let (train, test) = train_test_split(&ds, 0.2, 42).expect("split");
            assert_eq!(train.len() + test.len(), ds.len());
            let all = ds.class_counts();
            let test_counts = test.class_counts();
            for (c, (&n, &t)) in all.iter().zip(&test_counts).enumerate() {
                let want = 0.2 * n as f64;
                assert!((t as f64 - want).abs() <= 1.0, "class {c}: {t} of {n}");
            }
            assert_eq!(test.name, ds.name);
            assert_eq!(test.image_shape, ds.image_shape);
        }
    }

    #[test]
    fn small_classes_still_reach_the_test_side() {
        let labels = vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2];
        let ds = Dataset::new("small", vec![0.0; 11], 1, labels, 3, None).expect("ds");
        let (train, test) = train_test_split(&ds, 0.1, 3).expect("split");
        assert_eq!(test.class_counts(), vec![1, 1, 0]);
        assert_eq!(train.class_counts(), vec![1, 7, 1]);
    }

    #[test]
    fn bad_fractions_and_unsplittable_sets_are_errors() {
        let ds = Dataset::new("two", vec![0.0; 2], 1, vec![0, 1], 2, None).expect("ds");
        for f in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                train_test_split(&ds, f, 0),
                Err(DataError::BadTestFraction { .. })
            ));
        }
        assert!(matches!(
            train_test_split(&ds, 0.5, 0),
            Err(DataError::EmptySplit { .. })
        ));
    }
}
