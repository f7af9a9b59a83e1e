//! Paths into the state tree, and the patterns config is attached to.
//!
//! A path is written `/seg/seg/...`; `/` alone is the root. Rules for every segment:
//! - not empty (`//` and a trailing `/` are errors);
//! - at most [`MAX_SEGMENT_LEN`] bytes, from `A-Z a-z 0-9 _ - . : @`;
//! - a [`Path`] (where data lives) has no segment starting with `.` or `$`: those are reserved
//!   for config (`.rule`, `.function`, `.owner`) and wildcards;
//! - a [`PathPattern`] (where rules, functions and owners are attached) may have wildcard
//!   segments `$name` (name from `A-Z a-z 0-9 _`), each matching any one segment and binding
//!   `$name` to it. No segment may start with `.`.
//!
//! At most [`MAX_DEPTH`] segments. Object keys of a written value count as segments too: a
//! value written at depth d may nest at most `MAX_DEPTH - d` levels.

use std::collections::BTreeMap;
use std::fmt;

/// Most segments a path (plus the nesting of a value written there) may have.
pub const MAX_DEPTH: usize = 32;
/// Longest segment, in bytes.
pub const MAX_SEGMENT_LEN: usize = 128;

/// Wildcard names bound by matching a pattern: `$from` is stored under `from`.
pub type Bindings = BTreeMap<String, String>;

/// Why a path was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("path {0:?} must start with '/'")]
    NoLeadingSlash(String),
    /// Two slashes in a row, or a trailing slash.
    #[error("path {path:?} has an empty segment at position {index}")]
    EmptySegment {
        /// The path as given.
        path: String,
        /// 0-based segment index.
        index: usize,
    },
    /// More than [`MAX_DEPTH`] segments.
    #[error("path is too deep: {depth} segments, at most {max}")]
    TooDeep {
        /// Segments found (including value nesting where it applies).
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// A segment longer than [`MAX_SEGMENT_LEN`].
    #[error("segment {index} is too long: {len} bytes, at most {max}")]
    SegmentTooLong {
        /// 0-based segment index.
        index: usize,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("segment {segment:?} has a bad character {ch:?}")]
    BadCharacter {
        /// The segment.
        segment: String,
        /// The first bad character.
        ch: char,
    },
    /// A data path (or object key) uses a segment reserved for config or wildcards.
    #[error("segment {0:?} is reserved: segments starting with '.' or '$' are for config")]
    Reserved(String),
    /// A `$` segment with an empty or bad name.
    #[error("wildcard {0:?} must be '$' followed by letters, digits or '_'")]
    BadWildcard(String),
}

fn check_plain_segment(segment: &str, index: usize) -> Result<(), PathError> {
    if segment.is_empty() {
        return Err(PathError::EmptySegment {
            path: String::new(),
            index,
        });
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err(PathError::SegmentTooLong {
            index,
            len: segment.len(),
            max: MAX_SEGMENT_LEN,
        });
    }
    if segment.starts_with('.') || segment.starts_with('$') {
        return Err(PathError::Reserved(segment.to_owned()));
    }
    if let Some(ch) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@')))
    {
        return Err(PathError::BadCharacter {
            segment: segment.to_owned(),
            ch,
        });
    }
    Ok(())
}

/// Checks one data segment (also used for the keys of written objects).
pub fn check_data_segment(segment: &str) -> Result<(), PathError> {
    check_plain_segment(segment, 0)
}

fn check_pattern_segment(segment: &str, index: usize) -> Result<(), PathError> {
    match segment.strip_prefix('$') {
        Some(name) => {
            if segment.len() > MAX_SEGMENT_LEN {
                return Err(PathError::SegmentTooLong {
                    index,
                    len: segment.len(),
                    max: MAX_SEGMENT_LEN,
                });
            }
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(PathError::BadWildcard(segment.to_owned()));
            }
            Ok(())
        }
        None => check_plain_segment(segment, index),
    }
}

fn split(
    text: &str,
    check: fn(&str, usize) -> Result<(), PathError>,
) -> Result<Vec<String>, PathError> {
    let Some(rest) = text.strip_prefix('/') else {
        return Err(PathError::NoLeadingSlash(text.to_owned()));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.len() > MAX_DEPTH {
        return Err(PathError::TooDeep {
            depth: segments.len(),
            max: MAX_DEPTH,
        });
    }
    segments
        .iter()
        .enumerate()
        .map(|(index, s)| {
            if s.is_empty() {
                return Err(PathError::EmptySegment {
                    path: text.to_owned(),
                    index,
                });
            }
            check(s, index).map(|()| (*s).to_owned())
        })
        .collect()
}

fn write_segments(f: &mut fmt::Formatter<'_>, segments: &[String]) -> fmt::Result {
    if segments.is_empty() {
        return f.write_str("/");
    }
    for s in segments {
        write!(f, "/{s}")?;
    }
    Ok(())
}

/// A validated path where data lives (no reserved segments).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Path(Vec<String>);

impl Path {
    /// Parses and validates a data path such as `/apps/task1/escrow`.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        split(text, check_plain_segment).map(Path)
    }

    /// The root path `/`.
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// Number of segments.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// This path extended by one validated segment.
    pub fn child(&self, segment: &str) -> Result<Path, PathError> {
        check_plain_segment(segment, self.0.len())?;
        if self.0.len() >= MAX_DEPTH {
            return Err(PathError::TooDeep {
                depth: self.0.len() + 1,
                max: MAX_DEPTH,
            });
        }
        let mut segments = self.0.clone();
        segments.push(segment.to_owned());
        Ok(Path(segments))
    }

    /// Builds a path from segments, validating each.
    pub fn from_segments<I: IntoIterator<Item = S>, S: AsRef<str>>(
        segments: I,
    ) -> Result<Path, PathError> {
        segments
            .into_iter()
            .try_fold(Path::root(), |p, s| p.child(s.as_ref()))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_segments(f, &self.0)
    }
}

impl std::str::FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Path, PathError> {
        Path::parse(s)
    }
}

/// A validated path pattern: data segments and `$name` wildcards.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PathPattern(Vec<String>);

impl PathPattern {
    /// Parses and validates a pattern such as `/transfer/$from/$to/$key/value`.
    pub fn parse(text: &str) -> Result<PathPattern, PathError> {
        split(text, check_pattern_segment).map(PathPattern)
    }

    /// The segments, root first (wildcards keep their `$`).
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// The wildcard names this pattern binds, without `$`.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|s| s.strip_prefix('$'))
    }

    /// Matches a whole path (same length); returns the wildcard bindings on success.
    pub fn matches(&self, path: &Path) -> Option<Bindings> {
        if self.0.len() != path.depth() {
            return None;
        }
        let mut bindings = Bindings::new();
        for (pat, seg) in self.0.iter().zip(path.segments()) {
            match pat.strip_prefix('$') {
                Some(name) => {
                    bindings.insert(name.to_owned(), seg.clone());
                }
                None if pat == seg => {}
                None => return None,
            }
        }
        Some(bindings)
    }
}

impl From<Path> for PathPattern {
    fn from(p: Path) -> PathPattern {
        PathPattern(p.0)
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_segments(f, &self.0)
    }
}

impl std::str::FromStr for PathPattern {
    type Err = PathError;
    fn from_str(s: &str) -> Result<PathPattern, PathError> {
        PathPattern::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(Path::parse("/").unwrap().depth(), 0);
        assert_eq!(
            Path::parse("/apps/task1/escrow").unwrap().to_string(),
            "/apps/task1/escrow"
        );
        assert!(matches!(
            Path::parse("apps"),
            Err(PathError::NoLeadingSlash(_))
        ));
        assert!(matches!(
            Path::parse("/a//b"),
            Err(PathError::EmptySegment { index: 1, .. })
        ));
        assert!(matches!(
            Path::parse("/a/"),
            Err(PathError::EmptySegment { index: 1, .. })
        ));
        let deep = "/a".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            Path::parse(&deep),
            Err(PathError::TooDeep { depth: 33, max: 32 })
        ));
        assert!(Path::parse(&"/a".repeat(MAX_DEPTH)).is_ok());
        let long = format!("/{}", "x".repeat(MAX_SEGMENT_LEN + 1));
        assert!(matches!(
            Path::parse(&long),
            Err(PathError::SegmentTooLong { .. })
        ));
        assert!(matches!(
            Path::parse("/a b"),
            Err(PathError::BadCharacter { ch: ' ', .. })
        ));
        assert!(matches!(
            Path::parse("/a/.rule"),
            Err(PathError::Reserved(_))
        ));
        assert!(matches!(Path::parse("/a/$x"), Err(PathError::Reserved(_))));
        assert!(matches!(
            PathPattern::parse("/a/$"),
            Err(PathError::BadWildcard(_))
        ));
        assert!(matches!(
            PathPattern::parse("/a/.x"),
            Err(PathError::Reserved(_))
        ));
    }

    #[test]
    fn pattern_binds_variables() {
        let pat = PathPattern::parse("/transfer/$from/$to/$key/value").unwrap();
        let path = Path::parse("/transfer/alice/bob/k1/value").unwrap();
        let b = pat.matches(&path).unwrap();
        assert_eq!(b["from"], "alice");
        assert_eq!(b["to"], "bob");
        assert!(
            pat.matches(&Path::parse("/transfer/alice/bob/k1").unwrap())
                .is_none()
        );
        assert!(
            pat.matches(&Path::parse("/transfer/alice/bob/k1/other").unwrap())
                .is_none()
        );
    }
}
