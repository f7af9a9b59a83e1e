//! The one error type of the data loaders: every variant names the file (and, for parse
//! errors, the 1-based line) it is about.

use std::path::PathBuf;

/// Why a data set could not be loaded, split or described.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened, read, decompressed or decoded as UTF-8.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O (or gzip, or UTF-8) error.
        #[source]
        source: std::io::Error,
    },
    /// The file (decompressed) is larger than what allows it.
    #[error("{}: more than {limit} bytes, the most {what} allows", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most bytes allowed.
        limit: u64,
        /// What sets the limit (the IDX header, or the data file cap).
        what: &'static str,
    },
    /// `ZKFL_MAX_DATA_BYTES` is not a count of bytes.
    #[error("ZKFL_MAX_DATA_BYTES={value:?} is not a count of bytes")]
    BadLimit {
        /// The variable's value.
        value: String,
    },
    /// The file holds no data rows.
    #[error("{} is empty: it holds no data rows", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// A row has a different number of columns than the first row.
    #[error("{} line {line}: expected {expected} columns, found {found}", path.display())]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the bad row.
        line: usize,
        /// Column count of the first row (or the header).
        expected: usize,
        /// Column count of this row.
        found: usize,
    },
    /// A feature field is not a finite number.
    #[error(
        "{} line {line}, column {column}: feature {value:?} is not a finite number",
        path.display()
    )]
    BadFeature {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The offending field.
        value: String,
    },
    /// A label field is empty (or only spaces): it is missing, not a class.
    #[error("{} line {line} column {column}: the label is empty", path.display())]
    EmptyLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
    },
    /// The label column mixes numbers and text (a missing-value marker such as `?` or `NA`
    /// among numeric labels), so one kind would silently become extra classes.
    #[error(
        "{} line {line} column {column}: label {value:?} is {kind}, but the label on line {first_line} is {first_kind}: the column mixes numbers and text",
        path.display()
    )]
    MixedLabels {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first label of the other kind.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// That label.
        value: String,
        /// Its kind ("a number" or "text").
        kind: &'static str,
        /// 1-based line of the first label.
        first_line: usize,
        /// The first label's kind.
        first_kind: &'static str,
    },
    /// The label column holds numbers that are not integers, so it is not a label column.
    #[error(
        "{} line {line}: label {value:?} is not an integer; column {column} does not look like a label column",
        path.display()
    )]
    NotALabelColumn {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the first non-integer label.
        line: usize,
        /// 1-based number of the label column.
        column: usize,
        /// The offending field.
        value: String,
    },
    /// An integer label is too large to be a class id.
    #[error(
        "{} line {line}: label {value} is too large for a class id (at most {max})",
        path.display()
    )]
    LabelTooLarge {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The label read.
        value: u64,
        /// The largest class id accepted.
        max: u32,
    },
    /// A label is not a class id of a file that declares its classes.
    #[error(
        "{} line {line}: label {value:?} is not one of the {n_classes} declared classes",
        path.display()
    )]
    LabelNotAClass {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The label field read.
        value: String,
        /// Number of classes declared.
        n_classes: usize,
    },
    /// The label column index is not a column of the file.
    #[error(
        "{}: label column {index} is out of range, rows have {n_columns} columns (0-based)",
        path.display()
    )]
    LabelIndexOutOfRange {
        /// The file.
        path: PathBuf,
        /// The 0-based index asked for.
        index: usize,
        /// Number of columns per row.
        n_columns: usize,
    },
    /// The label column name is not in the header line.
    #[error(
        "{}: label column {name:?} is not in the header (columns: {})",
        path.display(),
        header.join(", ")
    )]
    LabelNameNotFound {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The column names of the header line.
        header: Vec<String>,
    },
    /// Rows have no column left for features once the label is taken out.
    #[error("{}: rows have {n_columns} column(s), need a label and at least one feature", path.display())]
    NoFeatures {
        /// The file.
        path: PathBuf,
        /// Number of columns per row.
        n_columns: usize,
    },
    /// Fewer than two distinct classes: nothing to classify.
    #[error("{}: found {n_classes} distinct class(es), need at least 2", path.display())]
    TooFewClasses {
        /// The file.
        path: PathBuf,
        /// Number of distinct labels found.
        n_classes: usize,
    },
    /// A header line is malformed.
    #[error("{} line {line}: bad header: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the header.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// What the header (or a built-in data set's definition) declares differs from what was read.
    #[error("{}: expected {declared} {what}, found {found}", path.display())]
    CountMismatch {
        /// The file.
        path: PathBuf,
        /// What was counted ("rows", "features", "classes").
        what: &'static str,
        /// The declared count.
        declared: usize,
        /// The count read.
        found: usize,
    },
    /// An IDX file starts with the wrong magic number.
    #[error(
        "{}: IDX magic number is {found:#010x}, expected {expected:#010x}",
        path.display()
    )]
    IdxMagic {
        /// The file.
        path: PathBuf,
        /// The magic number wanted.
        expected: u32,
        /// The magic number read.
        found: u32,
    },
    /// An IDX file's length differs from what its header declares (truncated or trailing bytes).
    #[error(
        "{}: IDX header declares {expected} bytes in all, the file has {found}",
        path.display()
    )]
    IdxLength {
        /// The file.
        path: PathBuf,
        /// Length implied by the header (at least the header itself).
        expected: u64,
        /// Actual (decompressed) length.
        found: u64,
    },
    /// An IDX image file declares a zero or overflowing image size.
    #[error("{}: IDX image size {rows}x{cols} is not usable", path.display())]
    IdxShape {
        /// The file.
        path: PathBuf,
        /// Rows per image.
        rows: u32,
        /// Columns per image.
        cols: u32,
    },
    /// The IDX image and label files hold different numbers of items.
    #[error(
        "{} holds {n_images} images but {} holds {n_labels} labels",
        images.display(),
        labels.display()
    )]
    IdxCountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Images declared.
        n_images: u32,
        /// Labels declared.
        n_labels: u32,
    },
    /// A data set source string is not one of the accepted forms.
    #[error(
        "unknown data set {given:?}: expected digits, breast-cancer, csv:PATH or idx:IMAGES,LABELS"
    )]
    UnknownSource {
        /// The string given.
        given: String,
    },
    /// A label column string is empty.
    #[error("empty label column: expected \"last\", a 0-based index or a header name")]
    EmptyLabelColumn,
    /// Dataset parts that do not fit together (feature length, labels, classes).
    #[error("data set {name:?}: {reason}")]
    Inconsistent {
        /// The data set's name.
        name: String,
        /// What does not fit.
        reason: String,
    },
    /// The test fraction is not strictly between 0 and 1.
    #[error("test fraction {fraction} must be strictly between 0 and 1")]
    BadTestFraction {
        /// The fraction given.
        fraction: f64,
    },
    /// A split would leave the train or the test side without rows.
    #[error(
        "data set {name:?} ({n_rows} rows) cannot be split with test fraction {fraction}: one side would be empty"
    )]
    EmptySplit {
        /// The data set's name.
        name: String,
        /// Rows in the data set.
        n_rows: usize,
        /// The test fraction asked for.
        fraction: f64,
    },
}
