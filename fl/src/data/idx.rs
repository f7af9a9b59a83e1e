//! MNIST-style IDX files: an `idx3-ubyte` image file and an `idx1-ubyte` label file.
//!
//! Layout (all integers big-endian `u32`): images start with the magic `0x00000803` (unsigned
//! bytes, 3 dimensions), then the item count, rows and columns, then `n * rows * cols` pixel
//! bytes; labels start with `0x00000801` (unsigned bytes, 1 dimension), then the item count, then
//! `n` label bytes. Both files must be exactly as long as their header says and hold the same
//! count. Pixels are scaled to `[0, 1]` by dividing by 255; labels are class ids
//! (`n_classes = max + 1`).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::file::{DATA_CAP, max_data_bytes, open_stream, read_capped, stem_name};
use super::{DataError, Dataset};

/// Magic number of an IDX file of unsigned bytes in 3 dimensions (images).
pub(crate) const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes in 1 dimension (labels).
pub(crate) const LABELS_MAGIC: u32 = 0x0000_0801;

/// Loads an image file and a label file (each gzip'd if its name ends in `.gz`) as one data set
/// named after the image file, with image shape `(rows, cols)`.
/// Each file is read as far as its header declares and no further: its header first, then at
/// most the body it declares (one byte more is an error), and never more than
/// [`max_data_bytes`] in all, so a small gzip'd file cannot make the loader allocate gigabytes.
pub fn load_idx(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let image_bytes = read_idx(images, IMAGES_MAGIC, 4, image_body_len)?;
    let label_bytes = read_idx(labels, LABELS_MAGIC, 2, |_, header| {
        Ok(u64::from(header_word(header, 1)))
    })?;
    parse_idx(images, &image_bytes, labels, &label_bytes)
}

/// The header (`words` big-endian words, the first `magic`) and then the body that `body_len`
/// reads off the header, capped as [`load_idx`] says. A short file is returned as it is: the
/// parser names what is missing.
fn read_idx(
    path: &Path,
    magic: u32,
    words: usize,
    body_len: impl FnOnce(&Path, &[u8]) -> Result<u64, DataError>,
) -> Result<Vec<u8>, DataError> {
    let mut stream = open_stream(path)?;
    let header_len = 4 * words as u64;
    let header = read_capped(path, (&mut stream).take(header_len), header_len, DATA_CAP)?;
    if (header.len() as u64) < header_len {
        return Ok(header);
    }
    check_header(path, &header, magic, words)?;
    let total = header_len.saturating_add(body_len(path, &header)?);
    let cap = max_data_bytes()?;
    if total > cap {
        return Err(DataError::TooLarge {
            path: path.into(),
            limit: cap,
            what: DATA_CAP,
        });
    }
    read_capped(
        path,
        std::io::Cursor::new(header).chain(stream),
        total,
        "the IDX header",
    )
}

/// Pixel bytes an IDX image header declares.
fn image_body_len(path: &Path, header: &[u8]) -> Result<u64, DataError> {
    Ok(image_shape(path, header)?.3)
}

/// An IDX image header's (count, rows, columns, pixel bytes); rows and columns non-zero.
fn image_shape(path: &Path, header: &[u8]) -> Result<(u32, usize, usize, u64), DataError> {
    let (count, rows, cols) = (
        header_word(header, 1),
        header_word(header, 2),
        header_word(header, 3),
    );
    let shape_error = || DataError::IdxShape {
        path: path.into(),
        rows,
        cols,
    };
    if rows == 0 || cols == 0 {
        return Err(shape_error());
    }
    // u32 * u32 fits in u64; times a third u32 it may not.
    let body = (u64::from(rows) * u64::from(cols))
        .checked_mul(u64::from(count))
        .ok_or_else(shape_error)?;
    let rows_usize = usize::try_from(rows).map_err(|_| shape_error())?;
    let cols_usize = usize::try_from(cols).map_err(|_| shape_error())?;
    Ok((count, rows_usize, cols_usize, body))
}

/// The images of an IDX image file.
struct Images<'a> {
    count: u32,
    rows: usize,
    cols: usize,
    pixels: &'a [u8],
}

/// Parses the two files' bytes; the paths only name them in errors and name the data set.
fn parse_idx(
    images_path: &Path,
    images: &[u8],
    labels_path: &Path,
    labels: &[u8],
) -> Result<Dataset, DataError> {
    let images = parse_images(images_path, images)?;
    let (label_count, label_bytes) = parse_labels(labels_path, labels)?;
    if images.count != label_count {
        return Err(DataError::IdxCountMismatch {
            images: images_path.into(),
            labels: labels_path.into(),
            n_images: images.count,
            n_labels: label_count,
        });
    }
    if label_bytes.is_empty() {
        return Err(DataError::Empty {
            path: images_path.into(),
        });
    }
    let mut seen = [false; 256];
    for &l in label_bytes {
        seen[l as usize] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct < 2 {
        return Err(DataError::TooFewClasses {
            path: labels_path.into(),
            n_classes: distinct,
        });
    }
    let n_classes = seen.iter().rposition(|s| *s).map_or(0, |m| m + 1);
    Dataset::new(
        stem_name(images_path),
        images
            .pixels
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect(),
        images.rows * images.cols,
        label_bytes.iter().map(|&l| u32::from(l)).collect(),
        n_classes,
        Some((images.rows, images.cols)),
    )
}

/// Big-endian `u32` number `i` of the header (bounds already checked by the caller).
fn header_word(bytes: &[u8], i: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[4 * i..4 * i + 4]);
    u32::from_be_bytes(word)
}

/// Checks the magic number and that the file holds at least `words` header words.
fn check_header(path: &Path, bytes: &[u8], magic: u32, words: usize) -> Result<(), DataError> {
    if bytes.len() >= 4 && header_word(bytes, 0) != magic {
        return Err(DataError::IdxMagic {
            path: path.into(),
            expected: magic,
            found: header_word(bytes, 0),
        });
    }
    if bytes.len() < 4 * words {
        return Err(DataError::IdxLength {
            path: path.into(),
            expected: 4 * words as u64,
            found: bytes.len() as u64,
        });
    }
    Ok(())
}

/// Checks that the file is exactly `header + body` bytes long.
fn check_length(path: &Path, bytes: &[u8], header: u64, body: u64) -> Result<(), DataError> {
    let expected = header + body;
    if bytes.len() as u64 != expected {
        return Err(DataError::IdxLength {
            path: PathBuf::from(path),
            expected,
            found: bytes.len() as u64,
        });
    }
    Ok(())
}

fn parse_images<'a>(path: &Path, bytes: &'a [u8]) -> Result<Images<'a>, DataError> {
    check_header(path, bytes, IMAGES_MAGIC, 4)?;
    let (count, rows, cols, body) = image_shape(path, bytes)?;
    check_length(path, bytes, 16, body)?;
    Ok(Images {
        count,
        rows,
        cols,
        pixels: &bytes[16..],
    })
}

fn parse_labels<'a>(path: &Path, bytes: &'a [u8]) -> Result<(u32, &'a [u8]), DataError> {
    check_header(path, bytes, LABELS_MAGIC, 2)?;
    let count = header_word(bytes, 1);
    check_length(path, bytes, 8, u64::from(count))?;
    Ok((count, &bytes[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    /// IDX image bytes for `n` images of `rows x cols`, pixel `k` of the file being `k % 256`.
    fn image_file(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [IMAGES_MAGIC, n, rows, cols] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b.extend((0..n * rows * cols).map(|k| (k % 256) as u8));
        b
    }

    fn label_file(labels: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        b.extend_from_slice(labels);
        b
    }

    fn parse(images: &[u8], labels: &[u8]) -> Result<Dataset, DataError> {
        parse_idx(Path::new("img.idx"), images, Path::new("lab.idx"), labels)
    }

    #[test]
    fn parses_a_small_pair_and_scales_pixels() {
        let ds = parse(&image_file(3, 2, 3), &label_file(&[4, 0, 4])).expect("valid");
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.n_features, 6);
        assert_eq!(ds.image_shape, Some((2, 3)));
        assert_eq!(ds.n_classes, 5);
        assert_eq!(ds.labels, vec![4, 0, 4]);
        assert_eq!(ds.row(1)[0], 6.0 / 255.0);
        assert_eq!(ds.name, "img");
    }

    #[test]
    fn loads_gzip_files_from_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = dir.path().join("train-images-idx3-ubyte.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&image_file(300, 2, 2)).expect("gzip");
        std::fs::write(&images, enc.finish().expect("gzip")).expect("write");
        let labels = dir.path().join("train-labels-idx1-ubyte");
        let ls: Vec<u8> = (0..300).map(|i| (i % 10) as u8).collect();
        std::fs::write(&labels, label_file(&ls)).expect("write");
        let ds = load_idx(&images, &labels).expect("load");
        assert_eq!(ds.name, "train-images-idx3-ubyte");
        assert_eq!((ds.len(), ds.n_classes), (300, 10));
        // Pixels 1196..1200 of the file hold 1196 % 256 = 172, 173, 174, 175.
        assert_eq!(
            ds.row(299),
            &[172.0 / 255.0, 173.0 / 255.0, 174.0 / 255.0, 175.0 / 255.0]
        );
        assert_eq!(ds.row(63)[3], 1.0, "pixel 255 scales to 1");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let images = image_file(4, 3, 3);
        let labels = label_file(&[0, 1, 2, 1]);
        for cut in 0..images.len() {
            let err = parse(&images[..cut], &labels).expect_err("truncated images");
            assert!(
                matches!(err, DataError::IdxLength { .. }),
                "cut {cut}: {err}"
            );
        }
        for cut in 0..labels.len() {
            let err = parse(&images, &labels[..cut]).expect_err("truncated labels");
            assert!(err.to_string().contains("lab.idx"), "cut {cut}: {err}");
        }
        let msg = parse(&images[..20], &labels)
            .expect_err("short")
            .to_string();
        assert_eq!(
            msg,
            "img.idx: IDX header declares 52 bytes in all, the file has 20"
        );
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_size_its_header_declares() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 3 images of 2x2 declared, then 64 MiB of zeros: 64 KiB gzip'd.
        let mut bomb = image_file(3, 2, 2);
        bomb.resize(bomb.len() + (64 << 20), 0);
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&bomb).expect("gzip");
        let images = dir.path().join("bomb-images-idx3-ubyte.gz");
        std::fs::write(&images, enc.finish().expect("gzip")).expect("write");
        assert!(std::fs::metadata(&images).unwrap().len() < 1 << 20);
        let labels = dir.path().join("labels-idx1-ubyte");
        std::fs::write(&labels, label_file(&[0, 1, 2])).expect("write");
        let err = load_idx(&images, &labels).expect_err("trailing data");
        assert!(
            matches!(err, DataError::TooLarge { limit: 28, .. }),
            "stops one byte past the 16 + 12 declared: {err}"
        );
        // A header that declares more than the cap is refused before reading the body.
        let huge = dir.path().join("huge-idx3-ubyte");
        let mut header = image_file(0, 1, 1)[..16].to_vec();
        header[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        header[8..16].copy_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff]);
        std::fs::write(&huge, &header).expect("write");
        let err = load_idx(&huge, &labels).expect_err("too large");
        assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn corrupt_headers_are_reported() {
        let labels = label_file(&[0, 1]);
        // Files swapped: the image file has the label magic.
        let err = parse(&labels, &labels).expect_err("magic");
        assert!(
            matches!(
                err,
                DataError::IdxMagic {
                    found: LABELS_MAGIC,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("0x00000801"), "{err}");

        let mut trailing = image_file(2, 2, 2);
        trailing.push(0);
        assert!(matches!(
            parse(&trailing, &labels),
            Err(DataError::IdxLength { .. })
        ));

        let err = parse(&image_file(3, 2, 2), &labels).expect_err("counts");
        assert!(matches!(
            err,
            DataError::IdxCountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ));

        let zero = image_file(2, 0, 5);
        assert!(matches!(
            parse(&zero, &labels),
            Err(DataError::IdxShape { .. })
        ));

        let mut huge = image_file(0, 1, 1);
        huge[4..16].copy_from_slice(&[0xff; 12]);
        assert!(matches!(
            parse(&huge, &labels),
            Err(DataError::IdxShape { .. })
        ));

        let mut big_count = image_file(2, 2, 2);
        big_count[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            parse(&big_count, &labels),
            Err(DataError::IdxLength { .. })
        ));

        let err = parse(&image_file(0, 2, 2), &label_file(&[])).expect_err("empty");
        assert!(matches!(err, DataError::Empty { .. }));

        let err = parse(&image_file(2, 2, 2), &label_file(&[3, 3])).expect_err("one class");
        assert!(matches!(err, DataError::TooFewClasses { n_classes: 1, .. }));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            images in proptest::collection::vec(any::<u8>(), 0..64),
            labels in proptest::collection::vec(any::<u8>(), 0..16),
            header_ok in any::<bool>(),
        ) {
            let mut images = images;
            if header_ok && images.len() >= 4 {
                images[..4].copy_from_slice(&IMAGES_MAGIC.to_be_bytes());
            }
            let _ = parse_idx(Path::new("i"), &images, Path::new("l"), &labels);
        }
    }
}
