//! Ceremony files: an 8-byte magic naming the kind and version, then the canonical uncompressed
//! encoding. Reading checks every point (on the curve, in the subgroup) and refuses trailing
//! bytes; writing goes to a temporary file renamed into place, so a file is whole or absent.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};

use crate::{Accumulator, CeremonyError, LagrangeBasis, Parameters};

/// A value kept in a ceremony file.
pub trait CeremonyFile: CanonicalSerialize + CanonicalDeserialize {
    /// The first 8 bytes of its files.
    const MAGIC: [u8; 8];
    /// What it is, for error messages.
    const KIND: &'static str;

    /// Writes `self` to `path` (whole or not at all).
    ///
    /// Errors: [`CeremonyError::Io`] naming the path.
    fn write_to(&self, path: &Path) -> Result<(), CeremonyError> {
        let io = |e: std::io::Error| CeremonyError::Io(path.display().to_string(), e);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = std::path::PathBuf::from(partial);
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let result = (|| {
            let mut out = BufWriter::new(std::fs::File::create(&partial).map_err(io)?);
            out.write_all(&Self::MAGIC).map_err(io)?;
            self.serialize_uncompressed(&mut out).map_err(|e| match e {
                ark_serialize::SerializationError::IoError(e) => io(e),
                other => CeremonyError::Encoding(other),
            })?;
            out.into_inner()
                .map_err(|e| io(e.into_error()))?
                .sync_all()
                .map_err(io)?;
            std::fs::rename(&partial, path).map_err(io)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    /// Reads a file written by [`CeremonyFile::write_to`], checking every point.
    ///
    /// Errors: [`CeremonyError::Io`] if it cannot be read, [`CeremonyError::NotA`] if it is
    /// not a file of this kind, [`CeremonyError::Encoding`] if its content is not canonical
    /// or has bytes after the end.
    fn read_from(path: &Path) -> Result<Self, CeremonyError> {
        let io = |e: std::io::Error| CeremonyError::Io(path.display().to_string(), e);
        let mut input = BufReader::new(std::fs::File::open(path).map_err(io)?);
        let mut magic = [0u8; 8];
        if input.read_exact(&mut magic).is_err() || magic != Self::MAGIC {
            return Err(CeremonyError::NotA(Self::KIND));
        }
        let value = Self::deserialize_with_mode(&mut input, Compress::No, Validate::Yes)?;
        let mut rest = [0u8; 1];
        if input.read(&mut rest).map_err(io)? != 0 {
            return Err(CeremonyError::Encoding(
                ark_serialize::SerializationError::InvalidData,
            ));
        }
        Ok(value)
    }
}

/// The canonical uncompressed bytes of a value a ledger keeps ([`Phase2Contribution`],
/// [`Transcript`]): 448 bytes for a contribution.
///
/// [`Phase2Contribution`]: crate::Phase2Contribution
/// [`Transcript`]: crate::Transcript
pub fn to_bytes<T: CanonicalSerialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.uncompressed_size());
    value
        .serialize_uncompressed(&mut out)
        .expect("invariant: writing to a Vec cannot fail");
    out
}

/// Reads bytes written by [`to_bytes`], checking every point (on the curve, in the subgroup).
///
/// Errors: [`CeremonyError::Encoding`] if they are not a canonical encoding of a `T` or have
/// bytes after its end.
pub fn from_bytes<T: CanonicalDeserialize>(bytes: &[u8]) -> Result<T, CeremonyError> {
    let mut input = bytes;
    let value = T::deserialize_with_mode(&mut input, Compress::No, Validate::Yes)?;
    if !input.is_empty() {
        return Err(CeremonyError::Encoding(
            ark_serialize::SerializationError::InvalidData,
        ));
    }
    Ok(value)
}

impl CeremonyFile for Accumulator {
    const MAGIC: [u8; 8] = *b"ZKFLPOT2";
    const KIND: &'static str = "powers of tau file";
}

impl CeremonyFile for LagrangeBasis {
    const MAGIC: [u8; 8] = *b"ZKFLLAG1";
    const KIND: &'static str = "Lagrange basis file";
}

impl CeremonyFile for Parameters {
    const MAGIC: [u8; 8] = *b"ZKFLMPC1";
    const KIND: &'static str = "phase-2 parameters file";
}
