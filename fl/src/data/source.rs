//! Where a data set comes from, as written on the command line, and [`load`] to read it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DataError, Dataset, breast_cancer, digits, load_csv, load_idx};

/// Where a data set comes from. Written `digits`, `breast-cancer`, `csv:PATH` or
/// `idx:IMAGES,LABELS` (split at the first comma); [`fmt::Display`] gives back that string and
/// serde stores it as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DatasetSource {
    /// UCI handwritten digits, built into the binary.
    Digits,
    /// UCI breast cancer Wisconsin (diagnostic), built into the binary.
    BreastCancer,
    /// A CSV file (gzip'd if the name ends in `.gz`).
    Csv {
        /// The file.
        path: PathBuf,
    },
    /// An MNIST-style pair of IDX files (each gzip'd if its name ends in `.gz`).
    Idx {
        /// The `idx3-ubyte` image file.
        images: PathBuf,
        /// The `idx1-ubyte` label file.
        labels: PathBuf,
    },
}

impl FromStr for DatasetSource {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || DataError::UnknownSource {
            given: s.to_string(),
        };
        match s {
            "digits" => return Ok(Self::Digits),
            "breast-cancer" => return Ok(Self::BreastCancer),
            _ => {}
        }
        if let Some(path) = s.strip_prefix("csv:") {
            if path.is_empty() {
                return Err(unknown());
            }
            return Ok(Self::Csv { path: path.into() });
        }
        if let Some(pair) = s.strip_prefix("idx:") {
            return match pair.split_once(',') {
                Some((images, labels)) if !images.is_empty() && !labels.is_empty() => {
                    Ok(Self::Idx {
                        images: images.into(),
                        labels: labels.into(),
                    })
                }
                _ => Err(unknown()),
            };
        }
        Err(unknown())
    }
}

impl fmt::Display for DatasetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Digits => f.write_str("digits"),
            Self::BreastCancer => f.write_str("breast-cancer"),
            Self::Csv { path } => write!(f, "csv:{}", path.display()),
            Self::Idx { images, labels } => {
                write!(f, "idx:{},{}", images.display(), labels.display())
            }
        }
    }
}

impl Serialize for DatasetSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DatasetSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which CSV column holds the label. Written `last` (the default), a 0-based index such as `3`,
/// or a header name such as `diagnosis`; [`fmt::Display`] and serde use that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum LabelColumn {
    /// The last column.
    #[default]
    Last,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this name in the header line.
    Name(String),
}

impl FromStr for LabelColumn {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DataError::EmptyLabelColumn);
        }
        if s == "last" {
            return Ok(Self::Last);
        }
        Ok(match s.parse::<usize>() {
            Ok(i) => Self::Index(i),
            Err(_) => Self::Name(s.to_string()),
        })
    }
}

impl fmt::Display for LabelColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Last => f.write_str("last"),
            Self::Index(i) => write!(f, "{i}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

impl Serialize for LabelColumn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LabelColumn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Loads the data set `source` names; `label` picks the label column of a CSV file and is
/// ignored by the other sources.
pub fn load(source: &DatasetSource, label: &LabelColumn) -> Result<Dataset, DataError> {
    match source {
        DatasetSource::Digits => digits(),
        DatasetSource::BreastCancer => breast_cancer(),
        DatasetSource::Csv { path } => load_csv(path, label),
        DatasetSource::Idx { images, labels } => load_idx(images, labels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_through_strings_and_serde() {
        for s in [
            "digits",
            "breast-cancer",
            "csv:/tmp/x.csv.gz",
            "csv:rel/y.csv",
            "idx:/d/train-images-idx3-ubyte.gz,/d/train-labels-idx1-ubyte.gz",
        ] {
            let src: DatasetSource = s.parse().expect(s);
            assert_eq!(src.to_string(), s);
            let json = serde_json::to_string(&src).expect("serialize");
            assert_eq!(json, format!("\"{s}\""));
            let back: DatasetSource = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, src);
        }
        assert_eq!(
            "idx:a,b".parse::<DatasetSource>().expect("idx"),
            DatasetSource::Idx {
                images: "a".into(),
                labels: "b".into()
            }
        );
    }

    #[test]
    fn bad_sources_list_the_accepted_forms() {
        for s in ["", "mnist", "csv:", "idx:a", "idx:,b", "idx:a,", "Digits"] {
            let err = s.parse::<DatasetSource>().expect_err(s).to_string();
            assert!(
                err.contains("csv:PATH") && err.contains("idx:IMAGES,LABELS"),
                "{err}"
            );
        }
        assert!(serde_json::from_str::<DatasetSource>("\"mnist\"").is_err());
    }

    #[test]
    fn label_columns_parse_and_round_trip() {
        assert_eq!(
            "last".parse::<LabelColumn>().expect("last"),
            LabelColumn::Last
        );
        assert_eq!(
            "3".parse::<LabelColumn>().expect("3"),
            LabelColumn::Index(3)
        );
        assert_eq!(
            "diagnosis".parse::<LabelColumn>().expect("name"),
            LabelColumn::Name("diagnosis".into())
        );
        assert!("  ".parse::<LabelColumn>().is_err());
        assert_eq!(LabelColumn::default(), LabelColumn::Last);
        for col in [
            LabelColumn::Last,
            LabelColumn::Index(0),
            LabelColumn::Name("class".into()),
        ] {
            assert_eq!(col.to_string().parse::<LabelColumn>().expect("parse"), col);
            let json = serde_json::to_string(&col).expect("serialize");
            assert_eq!(serde_json::from_str::<LabelColumn>(&json).expect("de"), col);
        }
    }

    #[test]
    fn load_dispatches_on_the_source() {
        let digits = load(&DatasetSource::Digits, &LabelColumn::Index(0)).expect("digits");
        assert_eq!(digits.name, "digits");
        let bc = load(&DatasetSource::BreastCancer, &LabelColumn::Last).expect("bc");
        assert_eq!(bc.name, "breast-cancer");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "label,a\n0,1.5\n1,2.5\n").expect("write");
        let src: DatasetSource = format!("csv:{}", path.display()).parse().expect("src");
        let ds = load(&src, &"label".parse().expect("col")).expect("csv");
        assert_eq!((ds.name.as_str(), ds.labels.clone()), ("t", vec![0, 1]));
        assert_eq!(ds.features, vec![1.5, 2.5]);
        let missing = DatasetSource::Idx {
            images: dir.path().join("no-images"),
            labels: dir.path().join("no-labels"),
        };
        let err = load(&missing, &LabelColumn::Last).expect_err("missing");
        assert!(err.to_string().contains("no-images"), "{err}");
    }
}
