//! Comma-separated tables: one row per line, one column holding the label, all others features.
//!
//! Header detection: the first non-blank line is a header of column names when the label column
//! is chosen by name, or when one of its feature fields is not a number. When only its label
//! field is not a number, it is a header if the next line's label is a number (`x,y,class` over
//! `1,2,0`), and data otherwise (a headerless file of string labels such as UCI's `iris.data`).
//!
//! Labels: when every label is a non-negative integer it is used as the class id
//! (`n_classes = max + 1`); when every label is an integer but some are negative, the distinct
//! values in increasing order become 0, 1, …; otherwise labels are strings and the distinct
//! values in sorted order become 0, 1, …. A column of numbers that are not all integers is
//! refused: it does not look like a label column.
//!
//! Fields are trimmed and may be wrapped in one pair of double quotes; quoted commas are not
//! supported. Blank lines are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::file::{read_text, stem_name};
use super::{DataError, Dataset, LabelColumn};

/// Largest class id accepted from an integer label column.
pub(crate) const MAX_CLASS_ID: u32 = 65_535;

/// Loads a CSV file (gzip'd if its name ends in `.gz`) with the label in column `label`.
/// The data set is named after the file stem and has no image shape.
pub fn load_csv(path: &Path, label: &LabelColumn) -> Result<Dataset, DataError> {
    let text = read_text(path)?;
    let table = parse_table(path, &text, 1, label, TableLayout::detect())?;
    Dataset::new(
        stem_name(path),
        table.features,
        table.n_features,
        table.labels,
        table.n_classes,
        None,
    )
}

/// What the caller already knows about a table's shape.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TableLayout {
    /// `false`: the first line is always data (no header detection).
    pub detect_header: bool,
    /// Columns every row must have, if known in advance.
    pub columns: Option<usize>,
    /// Number of classes, if declared: labels must then be integers below it.
    pub classes: Option<usize>,
}

impl TableLayout {
    /// Layout of a plain CSV file: header detected, nothing declared.
    fn detect() -> Self {
        Self {
            detect_header: true,
            ..Self::default()
        }
    }
}

/// A parsed table: features row-major and class ids.
#[derive(Debug)]
pub(crate) struct Table {
    /// Feature values, row after row.
    pub features: Vec<f32>,
    /// Features per row.
    pub n_features: usize,
    /// Class id per row.
    pub labels: Vec<u32>,
    /// Number of classes.
    pub n_classes: usize,
}

/// Non-blank lines of `text` with their 1-based line numbers, the first being `first_line`.
fn numbered_lines(text: &str, first_line: usize) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(move |(i, l)| (i + first_line, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn clean(field: &str) -> &str {
    let f = field.trim();
    f.strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .map_or(f, str::trim)
}

fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(clean)
}

fn is_number(field: &str) -> bool {
    field.parse::<f64>().is_ok()
}

/// Parses the lines of a table (see the module doc for the rules).
pub(crate) fn parse_table(
    path: &Path,
    text: &str,
    first_line: usize,
    label: &LabelColumn,
    layout: TableLayout,
) -> Result<Table, DataError> {
    let path_buf = || PathBuf::from(path);
    let mut lines = numbered_lines(text, first_line).peekable();
    let Some(&(first_no, first_text)) = lines.peek() else {
        return Err(DataError::Empty { path: path_buf() });
    };
    let first: Vec<&str> = fields(first_text).collect();
    let n_columns = layout.columns.unwrap_or(first.len());
    if first.len() != n_columns {
        return Err(DataError::RaggedRow {
            path: path_buf(),
            line: first_no,
            expected: n_columns,
            found: first.len(),
        });
    }
    let label_column = match label {
        LabelColumn::Last => n_columns.saturating_sub(1),
        LabelColumn::Index(i) if *i < n_columns => *i,
        LabelColumn::Index(i) => {
            return Err(DataError::LabelIndexOutOfRange {
                path: path_buf(),
                index: *i,
                n_columns,
            });
        }
        LabelColumn::Name(name) => match first.iter().position(|f| f == name) {
            Some(i) if layout.detect_header => i,
            _ => {
                return Err(DataError::LabelNameNotFound {
                    path: path_buf(),
                    name: name.clone(),
                    header: if layout.detect_header {
                        first.iter().map(|f| f.to_string()).collect()
                    } else {
                        Vec::new()
                    },
                });
            }
        },
    };
    if n_columns < 2 {
        return Err(DataError::NoFeatures {
            path: path_buf(),
            n_columns,
        });
    }
    let has_header = layout.detect_header && {
        let feature_text = first
            .iter()
            .enumerate()
            .any(|(j, f)| j != label_column && !is_number(f));
        let label_text = !is_number(first[label_column]);
        matches!(label, LabelColumn::Name(_))
            || feature_text
            || (label_text && {
                let mut rest = numbered_lines(text, first_line).skip(1);
                rest.next()
                    .is_some_and(|(_, l)| fields(l).nth(label_column).is_some_and(is_number))
            })
    };
    if has_header {
        lines.next();
    }

    let mut features = Vec::new();
    let mut label_fields: Vec<(usize, &str)> = Vec::new();
    let mut row: Vec<&str> = Vec::with_capacity(first.len());
    for (line_no, line) in lines {
        row.clear();
        row.extend(fields(line));
        if row.len() != n_columns {
            return Err(DataError::RaggedRow {
                path: path_buf(),
                line: line_no,
                expected: n_columns,
                found: row.len(),
            });
        }
        for (j, field) in row.iter().enumerate() {
            if j == label_column {
                label_fields.push((line_no, field));
                continue;
            }
            match field.parse::<f32>() {
                Ok(v) if v.is_finite() => features.push(v),
                _ => {
                    return Err(DataError::BadFeature {
                        path: path_buf(),
                        line: line_no,
                        column: j + 1,
                        value: field.to_string(),
                    });
                }
            }
        }
    }
    if label_fields.is_empty() {
        return Err(DataError::Empty { path: path_buf() });
    }
    let (labels, n_classes) = class_ids(path, &label_fields, label_column + 1, layout.classes)?;
    Ok(Table {
        features,
        n_features: n_columns - 1,
        labels,
        n_classes,
    })
}

/// The label as an integer, if it is one (`"3"`, `"-1"`, `"2.0"`).
fn integer(field: &str) -> Option<i64> {
    if let Ok(v) = field.parse::<i64>() {
        return Some(v);
    }
    let v = field.parse::<f64>().ok()?;
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
}

/// Turns label fields into class ids; `column` (1-based) only names the column in errors.
fn class_ids(
    path: &Path,
    fields: &[(usize, &str)],
    column: usize,
    declared: Option<usize>,
) -> Result<(Vec<u32>, usize), DataError> {
    let path_buf = || PathBuf::from(path);
    if let Some(&(line, _)) = fields.iter().find(|(_, f)| f.is_empty()) {
        return Err(DataError::EmptyLabel {
            path: path_buf(),
            line,
            column,
        });
    }
    if let Some(n) = declared {
        return declared_ids(path, fields, n);
    }
    let kind = |f: &str| if is_number(f) { "a number" } else { "text" };
    let (first_line, first) = fields[0];
    let first_kind = kind(first);
    if let Some(&(line, value)) = fields.iter().find(|(_, f)| kind(f) != first_kind) {
        return Err(DataError::MixedLabels {
            path: path_buf(),
            line,
            column,
            value: value.to_owned(),
            kind: kind(value),
            first_line,
            first_kind,
        });
    }
    if !is_number(first) {
        let distinct: BTreeSet<&str> = fields.iter().map(|(_, f)| *f).collect();
        let ids: BTreeMap<&str, u32> = distinct.iter().zip(0u32..).map(|(f, i)| (*f, i)).collect();
        let labels = fields.iter().map(|(_, f)| ids[f]).collect();
        return at_least_two(path, labels, distinct.len(), distinct.len());
    }
    let mut values = Vec::with_capacity(fields.len());
    for (line, field) in fields {
        match integer(field) {
            Some(v) => values.push((*line, v)),
            None => {
                return Err(DataError::NotALabelColumn {
                    path: path_buf(),
                    line: *line,
                    column,
                    value: field.to_string(),
                });
            }
        }
    }
    if values.iter().all(|(_, v)| *v >= 0) {
        let mut labels = Vec::with_capacity(values.len());
        for (line, v) in values {
            let id = u32::try_from(v)
                .ok()
                .filter(|id| *id <= MAX_CLASS_ID)
                .ok_or(DataError::LabelTooLarge {
                    path: path_buf(),
                    line,
                    value: v.unsigned_abs(),
                    max: MAX_CLASS_ID,
                })?;
            labels.push(id);
        }
        let distinct = labels.iter().collect::<BTreeSet<_>>().len();
        let n_classes = labels.iter().max().map_or(0, |m| *m as usize + 1);
        return at_least_two(path, labels, n_classes, distinct);
    }
    let distinct: BTreeSet<i64> = values.iter().map(|(_, v)| *v).collect();
    let ids: BTreeMap<i64, u32> = distinct.iter().zip(0u32..).map(|(v, i)| (*v, i)).collect();
    let labels = values.iter().map(|(_, v)| ids[v]).collect();
    at_least_two(path, labels, distinct.len(), distinct.len())
}

/// Class ids of a file that declares `n_classes`: every label must be an integer below it.
fn declared_ids(
    path: &Path,
    fields: &[(usize, &str)],
    n_classes: usize,
) -> Result<(Vec<u32>, usize), DataError> {
    let mut labels = Vec::with_capacity(fields.len());
    for (line, field) in fields {
        let id = integer(field)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&id| (id as usize) < n_classes)
            .ok_or_else(|| DataError::LabelNotAClass {
                path: PathBuf::from(path),
                line: *line,
                value: field.to_string(),
                n_classes,
            })?;
        labels.push(id);
    }
    let distinct = labels.iter().collect::<BTreeSet<_>>().len();
    at_least_two(path, labels, n_classes, distinct)
}

fn at_least_two(
    path: &Path,
    labels: Vec<u32>,
    n_classes: usize,
    distinct: usize,
) -> Result<(Vec<u32>, usize), DataError> {
    if distinct < 2 {
        return Err(DataError::TooFewClasses {
            path: PathBuf::from(path),
            n_classes: distinct,
        });
    }
    Ok((labels, n_classes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    /// Writes `text` to `name` in a fresh temp dir and loads it.
    fn load_text(name: &str, text: &str, label: &str) -> Result<Dataset, DataError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        load_csv(&path, &label.parse().expect("label column"))
    }

    fn ok(text: &str, label: &str) -> Dataset {
        load_text("t.csv", text, label).expect("valid csv")
    }

    #[test]
    fn a_missing_label_or_feature_is_an_error_naming_line_and_column() {
        let labelled = "a,b,class\n0.1,0.2,0\n0.3,0.4,1\n";
        for (row, needle) in [
            ("0.7,0.2,", "line 4 column 3: the label is empty"),
            ("0.7,0.2,   ", "line 4 column 3: the label is empty"),
            ("0.7,0.2,\"\"", "line 4 column 3: the label is empty"),
            ("0.7,0.2,?", "line 4 column 3: label \"?\" is text"),
            ("0.7,0.2,NA", "line 4 column 3: label \"NA\" is text"),
            ("0.7,,1", "line 4, column 2: feature \"\""),
            ("  ,0.2,1", "line 4, column 1: feature \"\""),
        ] {
            let err = load_text("t.csv", &format!("{labelled}{row}\n"), "last").unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("t.csv") && text.contains(needle),
                "{row:?}: {text}"
            );
        }
        // Text labels with a number among them are refused the same way.
        let err = load_text("t.csv", "1,2,cat\n3,4,dog\n5,6,7\n", "last").unwrap_err();
        assert!(
            matches!(err, DataError::MixedLabels { line: 3, .. }),
            "{err}"
        );
        // A label column of text alone is still classes.
        assert_eq!(ok("1,2,cat\n3,4,dog\n5,6,cat\n", "last").n_classes, 2);
    }

    #[test]
    fn header_and_label_column_choices() {
        let text = "a,class,b\n1,0,2\n3,1,4\n\n5,2,6\n";
        for label in ["class", "1"] {
            let ds = ok(text, label);
            assert_eq!(ds.features, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            assert_eq!((ds.labels.clone(), ds.n_classes), (vec![0, 1, 2], 3));
            assert_eq!(ds.n_features, 2);
            assert_eq!(ds.name, "t");
        }
        let last = ok(text, "last");
        assert_eq!(last.labels, vec![2, 4, 6]);
        assert_eq!(last.n_classes, 7);
        assert_eq!(last.class_counts(), vec![0, 0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn headerless_numeric_file_keeps_its_first_row() {
        let ds = ok("0.5,1.5,1\n2.5,3.5,0\n", "last");
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.labels, vec![1, 0]);
    }

    #[test]
    fn string_labels_map_in_sorted_order_without_header() {
        let text = "5.1,3.5,Iris-setosa\n7.0,3.2,Iris-versicolor\n6.3,3.3,Iris-virginica\n4.9,3.0,Iris-setosa\n";
        let ds = ok(text, "last");
        assert_eq!(ds.len(), 4, "first row is data, not a header");
        assert_eq!(ds.labels, vec![0, 1, 2, 0]);
        assert_eq!(ds.n_classes, 3);
        let with_header = ok(&format!("sl,sw,species\n{text}"), "species");
        assert_eq!(with_header.labels, ds.labels);
    }

    #[test]
    fn numeric_column_names_with_a_text_label_name_are_a_header() {
        let ds = ok("0,1,target\n1,2,0\n3,4,1\n", "last");
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.features, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn integer_like_labels() {
        let signed = ok("x,y\n1,-1\n2,1\n3,-1\n", "y");
        assert_eq!((signed.labels, signed.n_classes), (vec![0, 1, 0], 2));
        let floats = ok("x,y\n1,1.0\n2,2.0\n", "y");
        assert_eq!((floats.labels, floats.n_classes), (vec![1, 2], 3));
        let quoted = ok("\"x\",\"y\"\r\n\"1\",\"0\"\r\n 2 , 1 \r\n", "y");
        assert_eq!(
            (quoted.features, quoted.labels),
            (vec![1.0, 2.0], vec![0, 1])
        );
    }

    #[test]
    fn non_integer_labels_are_refused() {
        let err = load_text("t.csv", "x,y\n1,0\n2,0.53\n", "y").expect_err("0.53");
        assert!(matches!(
            err,
            DataError::NotALabelColumn {
                line: 3,
                column: 2,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.contains("does not look like a label column") && msg.contains("0.53"),
            "{msg}"
        );
        let err = load_text("t.csv", "x,y\n1,0\n2,70000\n", "y").expect_err("huge");
        assert!(matches!(
            err,
            DataError::LabelTooLarge {
                line: 3,
                value: 70000,
                ..
            }
        ));
    }

    #[test]
    fn ragged_rows_name_the_line() {
        let err = load_text("digits.csv", "1,2,3\n4,5,6\n\n7,8\n", "last").expect_err("ragged");
        assert_eq!(
            err.to_string().rsplit('/').next(),
            Some("digits.csv line 4: expected 3 columns, found 2")
        );
    }

    #[test]
    fn bad_features_name_line_and_column() {
        let err = load_text("t.csv", "a,b,c\n1,2,0\n1,x,1\n", "last").expect_err("x");
        assert!(matches!(
            &err,
            DataError::BadFeature { line: 3, column: 2, value, .. } if value == "x"
        ));
        let err = load_text("t.csv", "a,b,c\n1,NaN,0\n1,2,1\n", "last").expect_err("nan");
        assert!(matches!(
            err,
            DataError::BadFeature {
                line: 2,
                column: 2,
                ..
            }
        ));
        let err = load_text("t.csv", "a,b,c\n1,,0\n1,2,1\n", "last").expect_err("blank");
        assert!(matches!(
            err,
            DataError::BadFeature {
                line: 2,
                column: 2,
                ..
            }
        ));
    }

    #[test]
    fn label_column_must_exist() {
        let err = load_text("t.csv", "a,b\n1,0\n2,1\n", "2").expect_err("index");
        assert!(matches!(
            err,
            DataError::LabelIndexOutOfRange {
                index: 2,
                n_columns: 2,
                ..
            }
        ));
        let err = load_text("t.csv", "a,b\n1,0\n2,1\n", "class").expect_err("name");
        let msg = err.to_string();
        assert!(
            msg.contains("\"class\"") && msg.contains("columns: a, b"),
            "{msg}"
        );
        let err = load_text("t.csv", "y\n0\n1\n", "last").expect_err("no features");
        assert!(matches!(err, DataError::NoFeatures { n_columns: 1, .. }));
    }

    #[test]
    fn empty_files_and_single_classes_are_errors() {
        for text in ["", "\n\n", "a,b,label\n"] {
            let err = load_text("t.csv", text, "last").expect_err("empty");
            assert!(matches!(err, DataError::Empty { .. }), "{text:?}: {err}");
        }
        let err = load_text("t.csv", "a,y\n1,3\n2,3\n", "y").expect_err("one class");
        assert!(matches!(err, DataError::TooFewClasses { n_classes: 1, .. }));
        let err = load_text("t.csv", "a,y\n1,cat\n2,cat\n", "y").expect_err("one class");
        assert!(matches!(err, DataError::TooFewClasses { n_classes: 1, .. }));
    }

    #[test]
    fn missing_files_and_gzip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("absent.csv");
        let err = load_csv(&missing, &LabelColumn::Last).expect_err("missing");
        assert!(err.to_string().contains("absent.csv"), "{err}");

        let path = dir.path().join("small.csv.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"f,label\n0.25,no\n0.75,yes\n")
            .expect("gzip");
        std::fs::write(&path, enc.finish().expect("gzip")).expect("write");
        let ds = load_csv(&path, &LabelColumn::Name("label".into())).expect("gz");
        assert_eq!((ds.name.as_str(), ds.labels.clone()), ("small", vec![0, 1]));
        assert_eq!(ds.features, vec![0.25, 0.75]);
    }

    #[test]
    fn declared_layout_checks_columns_and_classes() {
        let layout = TableLayout {
            detect_header: false,
            columns: Some(3),
            classes: Some(2),
        };
        let table = parse_table(
            Path::new("d"),
            "1,2,0\n3,4,1\n",
            1,
            &LabelColumn::Last,
            layout,
        )
        .expect("ok");
        assert_eq!(table.labels, vec![0, 1]);
        assert_eq!(table.n_classes, 2);
        let err = parse_table(Path::new("d"), "1,0\n", 1, &LabelColumn::Last, layout)
            .expect_err("columns");
        assert!(matches!(
            err,
            DataError::RaggedRow {
                line: 1,
                expected: 3,
                found: 2,
                ..
            }
        ));
        let err = parse_table(
            Path::new("d"),
            "1,2,0\n3,4,-1\n",
            1,
            &LabelColumn::Last,
            layout,
        )
        .expect_err("negative");
        assert!(matches!(err, DataError::LabelNotAClass { line: 2, .. }));
        let err = parse_table(
            Path::new("d"),
            "1,2,0\n3,4,b\n",
            1,
            &LabelColumn::Last,
            layout,
        )
        .expect_err("text");
        assert!(matches!(err, DataError::LabelNotAClass { line: 2, .. }));
        let text = "1,2,0\n3,4,2\n";
        let err = parse_table(Path::new("d"), text, 1, &LabelColumn::Last, layout)
            .expect_err("class 2 of 2");
        let msg = err.to_string();
        assert_eq!(
            msg,
            "d line 2: label \"2\" is not one of the 2 declared classes"
        );
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[0-9a-c.,\\- \n\"]{0,80}", label in 0usize..4) {
            for column in [LabelColumn::Last, LabelColumn::Index(label), LabelColumn::Name("a".into())] {
                if let Ok(t) = parse_table(Path::new("f"), &text, 1, &column, TableLayout::detect()) {
                    prop_assert_eq!(t.features.len(), t.labels.len() * t.n_features);
                    prop_assert!(t.labels.iter().all(|&l| (l as usize) < t.n_classes));
                }
            }
        }
    }
}
