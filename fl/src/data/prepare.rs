//! The one way every part of zkfl turns a data source into training, validation and test sets.

use super::{DataError, Dataset, DatasetSource, LabelColumn, Standardizer, load, train_test_split};

/// Share of the data held out for testing.
pub const TEST_FRACTION: f64 = 0.2;

/// Share of the non-test data the model owner keeps as its validation set (the rows that value
/// contributions), before the rest is dealt to providers.
pub const VALIDATION_FRACTION: f64 = 0.1;

/// Mixed into the seed of the validation split (the bytes of "VALIDATE"), so that split is not
/// the test split's shuffle again.
const VALIDATION_SEED: u64 = 0x5641_4c49_4441_5445;

/// What [`prepare_data`] makes of a data source.
#[derive(Clone, Debug)]
pub struct Splits {
    /// The rows dealt to providers; proof-of-learning row ids refer to these.
    pub train: Dataset,
    /// The owner's validation set, which values contributions.
    pub validation: Dataset,
    /// The test set, which reports accuracy.
    pub test: Dataset,
}

/// Features are rounded to multiples of `2^-FEATURE_FRACTION_BITS` after standardization, so the
/// values a provider trains on are exactly the fixed-point values it commits to and proves
/// about (the proof system's feature format has the same number of fractional bits).
pub const FEATURE_FRACTION_BITS: u32 = 8;

/// Standardized features are clamped to `[-FEATURE_LIMIT, FEATURE_LIMIT - 2^-8]`, the range of
/// the proof system's 16-bit feature format.
pub const FEATURE_LIMIT: f32 = 128.0;

/// Loads `source`, splits it stratified (20% test, seeded by `seed`), standardizes both sides
/// with the training side's statistics, rounds every feature to the fixed-point grid (see
/// [`FEATURE_FRACTION_BITS`]) and holds out a stratified 10% of the non-test rows as the
/// owner's validation set. Proof-of-learning row ids refer to the training set this returns.
pub fn prepare_data(
    source: &DatasetSource,
    label_column: &str,
    seed: u64,
) -> Result<Splits, DataError> {
    let label: LabelColumn = label_column.parse()?;
    let all = load(source, &label)?;
    let (mut train, mut test) = train_test_split(&all, TEST_FRACTION, seed)?;
    let scaler = Standardizer::fit(&train);
    scaler.apply(&mut train);
    scaler.apply(&mut test);
    snap_to_grid(&mut train);
    snap_to_grid(&mut test);
    let (train, validation) =
        train_test_split(&train, VALIDATION_FRACTION, seed ^ VALIDATION_SEED)?;
    Ok(Splits {
        train,
        validation,
        test,
    })
}

/// Rounds every feature to the nearest multiple of `2^-8` (ties away from zero) within
/// `[-128, 128 - 2^-8]`. Such values are exact in `f32`.
pub fn snap_to_grid(ds: &mut Dataset) {
    let scale = (1u32 << FEATURE_FRACTION_BITS) as f32;
    let top = FEATURE_LIMIT - 1.0 / scale;
    for x in &mut ds.features {
        *x = ((*x * scale).round() / scale).clamp(-FEATURE_LIMIT, top);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_features_lie_on_the_fixed_point_grid() {
        let Splits {
            train,
            validation,
            test,
        } = prepare_data(&DatasetSource::Digits, "last", 0).unwrap();
        for x in train
            .features
            .iter()
            .chain(&validation.features)
            .chain(&test.features)
        {
            let scaled = x * 256.0;
            assert_eq!(scaled, scaled.round(), "{x} is off the grid");
            assert!((-128.0..128.0).contains(x));
        }
    }

    #[test]
    fn the_validation_set_is_a_stratified_tenth_of_the_non_test_rows() {
        let s = prepare_data(&DatasetSource::Digits, "last", 0).unwrap();
        let all = s.train.len() + s.validation.len();
        assert_eq!(all + s.test.len(), 1797);
        let share = s.validation.len() as f64 / all as f64;
        assert!((share - VALIDATION_FRACTION).abs() < 0.01, "{share}");
        assert!(s.validation.class_counts().iter().all(|&c| c >= 10));
        let again = prepare_data(&DatasetSource::Digits, "last", 0).unwrap();
        assert_eq!(again.validation.features, s.validation.features);
    }

    #[test]
    fn snapping_rounds_and_clamps() {
        let mut ds = Dataset::new(
            "t",
            vec![0.3, -1000.0, 1000.0, 1.0 / 512.0],
            4,
            vec![0],
            1,
            None,
        )
        .unwrap();
        snap_to_grid(&mut ds);
        assert_eq!(
            ds.features,
            vec![77.0 / 256.0, -128.0, 128.0 - 1.0 / 256.0, 1.0 / 256.0]
        );
    }
}
