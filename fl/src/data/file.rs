//! Reading a whole data file into memory, gunzipping it when its name ends in `.gz`.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::DataError;

/// True when the file name says the content is gzip'd.
pub(crate) fn is_gzip_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".gz"))
}

/// Short name for a data set read from `path`: the file name without `.gz` and without its
/// last extension (`iris.csv.gz` → `iris`, `train-images-idx3-ubyte` stays as it is).
pub(crate) fn stem_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.contains('-') => stem.to_string(),
        _ => name.to_string(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io {
        path: PathBuf::from(path),
        source,
    }
}

/// The largest (decompressed) data file read, in bytes, unless `ZKFL_MAX_DATA_BYTES` sets
/// another: 1 GiB.
pub const DEFAULT_MAX_DATA_BYTES: u64 = 1 << 30;

/// The cap on a data file's decompressed size: `ZKFL_MAX_DATA_BYTES` (a count of bytes) or
/// [`DEFAULT_MAX_DATA_BYTES`]; a value that is not a count is an error, not the default.
pub fn max_data_bytes() -> Result<u64, DataError> {
    match std::env::var("ZKFL_MAX_DATA_BYTES") {
        Err(_) => Ok(DEFAULT_MAX_DATA_BYTES),
        Ok(text) => text.trim().parse().map_err(|_| DataError::BadLimit {
            value: text.clone(),
        }),
    }
}

/// The file as a stream of its (decompressed, if its name ends in `.gz`) bytes.
pub(crate) fn open_stream(path: &Path) -> Result<Box<dyn Read>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let file = std::io::BufReader::new(file);
    Ok(if is_gzip_name(path) {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// Reads `reader` to its end, but never more than `limit` bytes: one more is
/// [`DataError::TooLarge`] (`limit` is `what` allows). Memory stays within `limit + 1` bytes
/// whatever the stream would yield (a gzip bomb stops here).
pub(crate) fn read_capped(
    path: &Path,
    reader: impl Read,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| io_error(path, e))?;
    if out.len() as u64 > limit {
        return Err(DataError::TooLarge {
            path: PathBuf::from(path),
            limit,
            what,
        });
    }
    Ok(out)
}

/// What allows a data file's size when nothing in the file declares it.
pub(crate) const DATA_CAP: &str = "the data file cap (ZKFL_MAX_DATA_BYTES)";

/// The bytes of the file, decompressed if its name ends in `.gz`, at most [`max_data_bytes`].
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    read_capped(path, open_stream(path)?, max_data_bytes()?, DATA_CAP)
}

/// The text of the file, decompressed if its name ends in `.gz`; must be UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String, DataError> {
    utf8(path, read_bytes(path)?)
}

/// Decompresses gzip bytes; `path` only names them in errors.
pub(crate) fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| io_error(path, e))?;
    Ok(out)
}

/// Checks that the bytes are UTF-8; `path` only names them in errors.
pub(crate) fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, DataError> {
    String::from_utf8(bytes).map_err(|e| {
        io_error(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    #[test]
    fn reading_stops_one_byte_past_the_cap_of_an_endless_stream() {
        let path = Path::new("endless");
        let err = read_capped(path, std::io::repeat(0), 1000, DATA_CAP).unwrap_err();
        assert!(
            matches!(err, DataError::TooLarge { limit: 1000, .. }),
            "{err}"
        );
        let exact = read_capped(path, &[7u8; 1000][..], 1000, DATA_CAP).unwrap();
        assert_eq!(exact.len(), 1000);
    }

    #[test]
    fn names_and_gzip_detection() {
        assert!(is_gzip_name(Path::new("/a/b/x.csv.gz")));
        assert!(!is_gzip_name(Path::new("/a/b.gz/x.csv")));
        assert_eq!(stem_name(Path::new("/a/iris.csv.gz")), "iris");
        assert_eq!(stem_name(Path::new("iris.csv")), "iris");
        assert_eq!(
            stem_name(Path::new("t10k-images-idx3-ubyte.gz")),
            "t10k-images-idx3-ubyte"
        );
        assert_eq!(stem_name(Path::new("data")), "data");
    }

    #[test]
    fn reads_plain_and_gzip_and_reports_missing_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("a.csv");
        std::fs::write(&plain, "1,2\n").expect("write");
        assert_eq!(read_text(&plain).expect("plain"), "1,2\n");

        let gz = dir.path().join("a.csv.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"3,4\n").expect("gzip");
        std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
        assert_eq!(read_text(&gz).expect("gz"), "3,4\n");

        let missing = dir.path().join("nope.csv");
        let err = read_text(&missing).expect_err("missing");
        assert!(err.to_string().contains("nope.csv"), "{err}");

        let not_gzip = dir.path().join("b.csv.gz");
        std::fs::write(&not_gzip, "1,2\n").expect("write");
        assert!(matches!(read_text(&not_gzip), Err(DataError::Io { .. })));

        let latin1 = dir.path().join("c.csv");
        std::fs::write(&latin1, [0xff, 0xfe, b'1']).expect("write");
        assert!(matches!(read_text(&latin1), Err(DataError::Io { .. })));
    }
}
