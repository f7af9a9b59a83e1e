//! SHA-256 digests: how logs, checkpoints and blobs are named.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, printed and parsed as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The SHA-256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// SHA-256(`tag` ‖ `bytes`): a digest in the domain named by `tag`.
    pub fn tagged(tag: &[u8], bytes: &[u8]) -> Digest {
        Digest(
            Sha256::new()
                .chain_update(tag)
                .chain_update(bytes)
                .finalize()
                .into(),
        )
    }

    /// The digest as 64 lowercase hex characters (same as `to_string()`).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a string is not a [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// The string does not have exactly 64 characters.
    #[error("digest must be 64 hex characters, got {0}")]
    Length(usize),
    /// The string has a character that is not a lowercase hex digit.
    #[error("digest must be lowercase hex, found {0:?}")]
    NotHex(char),
}

impl FromStr for Digest {
    type Err = DigestParseError;

    /// Parses exactly 64 lowercase hex characters (the form `Display` prints).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(c) = s.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(DigestParseError::NotHex(c));
        }
        if s.len() != 64 {
            return Err(DigestParseError::Length(s.len()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| DigestParseError::Length(s.len()))?;
        Ok(Digest(out))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_known_vector() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            Digest::of(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::tagged(b"ab", b"c"), Digest::of(b"abc"));
    }

    #[test]
    fn digest_parse_round_trip_and_errors() {
        let d = Digest::of(b"x");
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        assert_eq!("ab".parse::<Digest>(), Err(DigestParseError::Length(2)));
        let upper = d.to_string().to_uppercase();
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestParseError::NotHex(_))
        ));
        assert_eq!("zz".parse::<Digest>(), Err(DigestParseError::NotHex('z')));
        // Multi-byte characters must not panic (no slicing inside a char).
        assert!("é".repeat(32).parse::<Digest>().is_err());
    }

    #[test]
    fn digest_serde_is_hex_string() {
        let d = Digest::of(b"serde");
        let json = serde_json::to_string(&d).expect("serialize");
        assert_eq!(json, format!("\"{d}\""));
        let back: Digest = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Digest>("\"00\"").is_err());
    }
}
