//! The one way every part of zkfl turns a data source into training and test sets.

use super::{DataError, Dataset, DatasetSource, LabelColumn, Standardizer, load, train_test_split};

/// Share of the data held out for testing.
pub const TEST_FRACTION: f64 = 0.2;

/// Loads `source`, splits it stratified (20% test, seeded by `seed`) and standardizes both sides
/// with the training set's statistics. Proof-of-learning row ids refer to the training set this
/// returns.
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
    Ok((train, test))
}
