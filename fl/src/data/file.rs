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

/// The bytes of the file, decompressed if its name ends in `.gz`.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| io_error(path, e))?;
    if is_gzip_name(path) {
        gunzip(path, &raw)
    } else {
        Ok(raw)
    }
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
