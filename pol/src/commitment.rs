//! The commitment of a checkpoint that proof systems open: Poseidon over each proving field.
//!
//! A training-step proof names the parameters before and after the step only by their
//! commitments, so the log records, beside each checkpoint's SHA-256 digest, its Poseidon
//! commitment in both proving fields: BN254 (Groth16) and Pasta's `Fp` (halo2). Which part a
//! proof uses is decided by its proof system; this crate only stores the two parts.
//!
//! **Encoding** (inside the log's *bytes* fields): 64 bytes, the BN254 element then the Pasta
//! element, each 32 bytes of canonical little-endian; a checkpoint that was not committed is the
//! empty byte string. Nothing else is valid.

/// Length of an encoded checkpoint commitment.
pub const COMMITMENT_BYTES: usize = 64;

/// A checkpoint's Poseidon commitment in both proving fields (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CheckpointCommitment {
    /// The commitment over BN254's scalar field (Groth16), canonical little-endian.
    #[serde(with = "hex32")]
    pub bn254: [u8; 32],
    /// The commitment over Pasta's `Fp` (halo2), canonical little-endian.
    #[serde(with = "hex32")]
    pub pasta: [u8; 32],
}

impl CheckpointCommitment {
    /// The 64-byte encoding: BN254 part, then Pasta part.
    pub fn to_bytes(&self) -> [u8; COMMITMENT_BYTES] {
        let mut out = [0u8; COMMITMENT_BYTES];
        out[..32].copy_from_slice(&self.bn254);
        out[32..].copy_from_slice(&self.pasta);
        out
    }

    /// Decodes the 64-byte encoding; `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<CheckpointCommitment> {
        if bytes.len() != COMMITMENT_BYTES {
            return None;
        }
        let mut bn254 = [0u8; 32];
        let mut pasta = [0u8; 32];
        bn254.copy_from_slice(&bytes[..32]);
        pasta.copy_from_slice(&bytes[32..]);
        Some(CheckpointCommitment { bn254, pasta })
    }
}

/// Makes the commitment the proof systems will open for a checkpoint, while a log is written
/// (zkfl's: Poseidon over both proving fields of the quantized parameters, in the `prover`
/// crate).
pub trait CheckpointCommitter: Send + Sync {
    /// The commitment of a checkpoint's parameters; `None` when it cannot be committed (e.g.
    /// values outside the proof systems' fixed-point range).
    fn commit(&self, checkpoint: &[f32]) -> Option<CheckpointCommitment>;
}

/// Serde of a 32-byte array as 64 lowercase hex digits.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_other_lengths_refused() {
        let c = CheckpointCommitment {
            bn254: [1; 32],
            pasta: [2; 32],
        };
        assert_eq!(CheckpointCommitment::from_bytes(&c.to_bytes()), Some(c));
        assert_eq!(&c.to_bytes()[..32], &[1; 32]);
        for len in [0, 32, 63, 65] {
            assert_eq!(CheckpointCommitment::from_bytes(&vec![0; len]), None);
        }
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            serde_json::from_str::<CheckpointCommitment>(&json).unwrap(),
            c
        );
    }
}
