//! The one way every part of zkfl turns a data source into training and test sets.

use super::{DataError, Dataset, DatasetSource, LabelColumn, Standardizer, load, train_test_split};

/// Share of the data held out for testing.
pub const TEST_FRACTION: f64 = 0.2;

/// Features are rounded to multiples of `2^-FEATURE_FRACTION_BITS` after standardization, so the
/// values a provider trains on are exactly the fixed-point values it commits to and proves
/// about (the proof system's feature format has the same number of fractional bits).
pub const FEATURE_FRACTION_BITS: u32 = 8;

/// Standardized features are clamped to `[-FEATURE_LIMIT, FEATURE_LIMIT - 2^-8]`, the range of
/// the proof system's 16-bit feature format.
pub const FEATURE_LIMIT: f32 = 128.0;

/// Loads `source`, splits it stratified (20% test, seeded by `seed`), standardizes both sides
/// with the training set's statistics and rounds every feature to the fixed-point grid (see
/// [`FEATURE_FRACTION_BITS`]). Proof-of-learning row ids refer to the training set this returns.
pub fn prepare_data(
    source: &DatasetSource,
    label_column: &str,
    seed: u64,
) -> Result<(Dataset, Dataset), DataError> {
    let label: LabelColumn = label_column.parse()?;
    let all = load(source, &label)?;
    let (mut train, mut test) = train_test_split(&all, TEST_FRACTION, seed)?;
    let scaler = Standardizer::fit(&train);
    scaler.apply(&mut train);
    scaler.apply(&mut test);
    snap_to_grid(&mut train);
    snap_to_grid(&mut test);
    Ok((train, test))
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
        let (train, test) = prepare_data(&DatasetSource::Digits, "last", 0).unwrap();
        for x in train.features.iter().chain(&test.features) {
            let scaled = x * 256.0;
            assert_eq!(scaled, scaled.round(), "{x} is off the grid");
            assert!((-128.0..128.0).contains(x));
        }
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
