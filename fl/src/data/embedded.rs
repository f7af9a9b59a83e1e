//! The two small real data sets built into the binary, so that examples, tests and benchmarks run
//! with no network and no files:
//!
//! - UCI Optical Recognition of Handwritten Digits (test part), CC BY 4.0, E. Alpaydin and
//!   C. Kaynak (1998): gzip'd CSV, no header, 64 pixel columns (0..16) then the label 0..9.
//! - UCI Breast Cancer Wisconsin (Diagnostic), CC BY 4.0, W. H. Wolberg, W. N. Street and
//!   O. L. Mangasarian: CSV whose first line `569,30,malignant,benign` declares the row count,
//!   the feature count and the class names, then rows of 30 floats and the label (0 = malignant).

use std::path::{Path, PathBuf};

use super::csv::{TableLayout, parse_table};
use super::file::{gunzip, utf8};
use super::{DataError, Dataset, LabelColumn};

const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");
const BREAST_CANCER_CSV: &[u8] = include_bytes!("../../data/breast_cancer.csv");

/// Rows of the built-in digits data set.
const DIGITS_ROWS: usize = 1797;
/// Side of a digits image (8×8 pixels).
const DIGITS_SIDE: usize = 8;
/// Classes of the digits data set (0..9).
const DIGITS_CLASSES: usize = 10;

/// The built-in handwritten digits: 1797 rows of 64 pixels (0..16), 10 classes, shape 8×8,
/// named `digits`.
pub fn digits() -> Result<Dataset, DataError> {
    let path = Path::new("<built-in>/digits.csv.gz");
    let text = utf8(path, gunzip(path, DIGITS_CSV_GZ)?)?;
    let n_features = DIGITS_SIDE * DIGITS_SIDE;
    let table = parse_table(
        path,
        &text,
        1,
        &LabelColumn::Last,
        TableLayout {
            detect_header: false,
            columns: Some(n_features + 1),
            classes: Some(DIGITS_CLASSES),
        },
    )?;
    check_count(path, "rows", DIGITS_ROWS, table.labels.len())?;
    Dataset::new(
        "digits",
        table.features,
        n_features,
        table.labels,
        DIGITS_CLASSES,
        Some((DIGITS_SIDE, DIGITS_SIDE)),
    )
}

/// The built-in breast cancer data set: 569 rows of 30 features, 2 classes (0 = malignant,
/// 1 = benign), named `breast-cancer`. The header's declared counts are checked against the rows.
pub fn breast_cancer() -> Result<Dataset, DataError> {
    let path = Path::new("<built-in>/breast_cancer.csv");
    let text = utf8(path, BREAST_CANCER_CSV.to_vec())?;
    parse_declared_csv(path, &text, "breast-cancer")
}

/// Parses a CSV whose first line declares `rows,features,class names...`, as the breast cancer
/// file does, and checks the declared counts against what was read.
fn parse_declared_csv(path: &Path, text: &str, name: &str) -> Result<Dataset, DataError> {
    let (head, body) = text.split_once('\n').unwrap_or((text, ""));
    let bad_header = |reason: &str| DataError::BadHeader {
        path: PathBuf::from(path),
        line: 1,
        reason: reason.to_string(),
    };
    let fields: Vec<&str> = head.trim().split(',').map(str::trim).collect();
    let [rows, features, class_names @ ..] = fields.as_slice() else {
        return Err(bad_header("expected `rows,features,class names...`"));
    };
    let rows: usize = rows
        .parse()
        .map_err(|_| bad_header("the row count is not an integer"))?;
    let n_features: usize = features
        .parse()
        .map_err(|_| bad_header("the feature count is not an integer"))?;
    let n_columns = n_features
        .checked_add(1)
        .ok_or_else(|| bad_header("the feature count is too large"))?;
    if class_names.len() < 2 {
        return Err(bad_header("fewer than 2 class names"));
    }
    let table = parse_table(
        path,
        body,
        2,
        &LabelColumn::Last,
        TableLayout {
            detect_header: false,
            columns: Some(n_columns),
            classes: Some(class_names.len()),
        },
    )?;
    check_count(path, "rows", rows, table.labels.len())?;
    Dataset::new(
        name,
        table.features,
        n_features,
        table.labels,
        class_names.len(),
        None,
    )
}

fn check_count(
    path: &Path,
    what: &'static str,
    declared: usize,
    found: usize,
) -> Result<(), DataError> {
    if declared == found {
        Ok(())
    } else {
        Err(DataError::CountMismatch {
            path: PathBuf::from(path),
            what,
            declared,
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_has_its_documented_shape() {
        let ds = digits().expect("digits");
        assert_eq!(ds.name, "digits");
        assert_eq!(ds.len(), 1797);
        assert_eq!(ds.n_features, 64);
        assert_eq!(ds.n_classes, 10);
        assert_eq!(ds.image_shape, Some((8, 8)));
        let counts = ds.class_counts();
        assert_eq!(counts.iter().sum::<usize>(), 1797);
        assert!(
            counts.iter().all(|&c| (170..=190).contains(&c)),
            "{counts:?}"
        );
        assert!(ds.features.iter().all(|&v| (0.0..=16.0).contains(&v)));
        assert!(ds.features.contains(&16.0));
        // First row of the file: 0,0,5,13,9,1,0,0,... label 0.
        assert_eq!(&ds.row(0)[..6], &[0.0, 0.0, 5.0, 13.0, 9.0, 1.0]);
        assert_eq!(ds.labels[..3], [0, 1, 2]);
    }

    #[test]
    fn breast_cancer_has_its_documented_shape() {
        let ds = breast_cancer().expect("breast cancer");
        assert_eq!(ds.name, "breast-cancer");
        assert_eq!(ds.len(), 569);
        assert_eq!(ds.n_features, 30);
        assert_eq!(ds.n_classes, 2);
        assert_eq!(ds.image_shape, None);
        // 212 malignant, 357 benign in the UCI data.
        assert_eq!(ds.class_counts(), vec![212, 357]);
        assert_eq!(ds.row(0)[0], 17.99);
        assert_eq!(ds.row(0)[29], 0.1189);
    }

    #[test]
    fn declared_counts_are_checked() {
        let path = Path::new("bc.csv");
        let ok = parse_declared_csv(path, "2,2,no,yes\n1,2,0\n3,4,1\n", "t").expect("ok");
        assert_eq!(ok.features, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ok.n_classes, 2);

        let rows = parse_declared_csv(path, "3,2,no,yes\n1,2,0\n3,4,1\n", "t");
        let msg = rows.expect_err("row count").to_string();
        assert_eq!(msg, "bc.csv: expected 3 rows, found 2");

        let ragged = parse_declared_csv(path, "2,3,no,yes\n1,2,5,0\n3,4,1\n", "t");
        let msg = ragged.expect_err("ragged").to_string();
        assert_eq!(msg, "bc.csv line 3: expected 4 columns, found 3");

        let label = parse_declared_csv(path, "2,2,no,yes\n1,2,0\n3,4,2\n", "t");
        assert!(matches!(
            label,
            Err(DataError::LabelNotAClass { line: 3, .. })
        ));
        let header = parse_declared_csv(path, "two,2,no,yes\n1,2,0\n", "t");
        assert!(matches!(header, Err(DataError::BadHeader { line: 1, .. })));
        let one_class = parse_declared_csv(path, "2,2,no\n1,2,0\n", "t");
        assert!(matches!(one_class, Err(DataError::BadHeader { .. })));
        let empty = parse_declared_csv(path, "0,2,no,yes\n", "t");
        assert!(matches!(empty, Err(DataError::Empty { .. })));
    }
}
