//! Proofs and keys as bytes: arkworks' canonical compressed encoding.
//!
//! Decoding checks everything: points on the curve and in the right subgroup, no bytes left
//! over. Truncated or garbled bytes give a [`DecodeError`], never a panic.

use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use thiserror::Error;

use super::groth16::{PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey};

/// Bytes that are not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot decode {what}: {reason}")]
pub struct DecodeError {
    /// What was being decoded.
    pub what: &'static str,
    /// Why it failed.
    pub reason: String,
}

/// A Groth16 object with a byte encoding.
pub trait Encoding: CanonicalSerialize + CanonicalDeserialize {
    /// Its name in error messages.
    const WHAT: &'static str;

    /// The compressed canonical encoding.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.compressed_size());
        self.serialize_compressed(&mut out)
            .expect("serializing into a Vec cannot fail");
        out
    }

    /// Decodes and validates [`Encoding::to_bytes`]'s output; rejects trailing bytes.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes, Compress::Yes, Validate::Yes)
    }

    /// The uncompressed encoding, about twice as long but quick to load with
    /// [`Encoding::from_trusted_bytes`]: for caches of keys this program made itself.
    fn to_trusted_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.uncompressed_size());
        self.serialize_uncompressed(&mut out)
            .expect("serializing into a Vec cannot fail");
        out
    }

    /// Decodes [`Encoding::to_trusted_bytes`]'s output without curve or subgroup checks
    /// (decompression and subgroup checks dominate loading a large proving key). Truncated
    /// bytes are still refused, but points are taken as they are: only for bytes this program
    /// wrote itself; never for proofs or keys received from others.
    fn from_trusted_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes, Compress::No, Validate::No)
    }
}

fn decode<T: Encoding>(
    bytes: &[u8],
    compress: Compress,
    validate: Validate,
) -> Result<T, DecodeError> {
    let mut reader = bytes;
    let fail = |reason: String| DecodeError {
        what: T::WHAT,
        reason,
    };
    let value = T::deserialize_with_mode(&mut reader, compress, validate)
        .map_err(|e| fail(e.to_string()))?;
    if reader.is_empty() {
        Ok(value)
    } else {
        Err(fail(format!("{} trailing bytes", reader.len())))
    }
}

impl Encoding for Proof {
    const WHAT: &'static str = "a Groth16 proof";
}

impl Encoding for VerifyingKey {
    const WHAT: &'static str = "a Groth16 verifying key";
}

impl Encoding for PreparedVerifyingKey {
    const WHAT: &'static str = "a prepared Groth16 verifying key";
}

impl Encoding for ProvingKey {
    const WHAT: &'static str = "a Groth16 proving key";
}
