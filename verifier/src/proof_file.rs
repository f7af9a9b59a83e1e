//! The proof file, version 1.
//!
//! One file holds one proof and everything needed to check it against a verifying key: which
//! proof system made it, which relation and shape it is about (the shape selects the key), the
//! digest of the constraint program the key was made for, where the proven step comes from, the
//! public inputs and the proof bytes.
//!
//! All integers are little-endian. *str* and *bytes* are a `u32` length followed by that many
//! bytes (UTF-8 for *str*).
//!
//! | size       | field                                                        |
//! |------------|--------------------------------------------------------------|
//! | 7          | magic, ASCII `ZKFLPRF`                                       |
//! | 1          | version, `0x01`                                              |
//! | 1          | back end: `1` Groth16 (BN254), `2` halo2 (Pasta, IPA)        |
//! | *str*      | relation name, e.g. `training-step`                          |
//! | *str*      | shape, canonical JSON of the relation's shape                |
//! | 32         | program digest (SHA-256, see `circuits::Program::digest`)    |
//! | 4          | origin: client, `u32`                                        |
//! | 4          | origin: round, `u32`                                         |
//! | 8          | origin: step, `u64` (the step from checkpoint t to t+1)      |
//! | 32         | origin: head of the proof-of-learning log the step is from   |
//! | 4          | number of public inputs `n` (at most 64)                     |
//! | 32 × n     | public inputs, canonical little-endian field elements        |
//! | *bytes*    | the proof, in the back end's own serialization               |
//!
//! Nothing may follow the proof. Decoding never panics and never allocates more than the input's
//! length.

use thiserror::Error;

/// File magic.
pub const MAGIC: &[u8; 7] = b"ZKFLPRF";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// The most public inputs a proof file may carry (relations have a constant, small number).
pub const MAX_PUBLIC_INPUTS: u32 = 64;

/// The proof system a proof was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Groth16 over BN254 (arkworks); needs a circuit-specific trusted setup.
    Groth16,
    /// halo2 with IPA commitments over the Pasta curves; no trusted setup.
    Halo2,
}

impl Backend {
    /// The byte this back end has in proof files.
    pub fn tag(self) -> u8 {
        match self {
            Backend::Groth16 => 1,
            Backend::Halo2 => 2,
        }
    }

    /// The back end with this tag.
    pub fn from_tag(tag: u8) -> Option<Backend> {
        match tag {
            1 => Some(Backend::Groth16),
            2 => Some(Backend::Halo2),
            _ => None,
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Groth16 => "groth16",
            Backend::Halo2 => "halo2",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "groth16" => Ok(Backend::Groth16),
            "halo2" => Ok(Backend::Halo2),
            other => Err(format!(
                "unknown proof back end '{other}' (expected groth16 or halo2)"
            )),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a proven training step comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepOrigin {
    /// The data provider.
    pub client: u32,
    /// The federated round.
    pub round: u32,
    /// The optimizer step: the proof is about checkpoint `step` → `step + 1`.
    pub step: u64,
    /// Head hash of the proof-of-learning log the checkpoints are committed in.
    pub log_head: [u8; 32],
}

/// A proof and what it is a proof of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofFile {
    /// The proof system.
    pub backend: Backend,
    /// The relation's name, e.g. `training-step`.
    pub relation: String,
    /// The relation's shape as canonical JSON; it selects the verifying key.
    pub shape: String,
    /// Digest of the constraint program the keys were made for.
    pub program_digest: [u8; 32],
    /// Where the proven step comes from.
    pub origin: StepOrigin,
    /// Public inputs, each a canonical little-endian field element of the back end's field.
    pub public_inputs: Vec<[u8; 32]>,
    /// The proof, in the back end's serialization.
    pub proof: Vec<u8>,
}

/// Why bytes are not a proof file this version can read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofFileError {
    /// The magic is missing.
    #[error("not a zkfl proof file (bad magic)")]
    BadMagic,
    /// A version this code does not read.
    #[error("proof file version {0} is not supported (this build reads version {VERSION})")]
    UnsupportedVersion(u8),
    /// An unknown back-end tag.
    #[error("unknown proof back end tag {0}")]
    UnknownBackend(u8),
    /// The bytes end inside a field.
    #[error("proof file truncated in {0}")]
    Truncated(&'static str),
    /// A string is not UTF-8.
    #[error("proof file field {0} is not UTF-8")]
    NotUtf8(&'static str),
    /// Too many public inputs.
    #[error("proof file claims {0} public inputs (at most {MAX_PUBLIC_INPUTS})")]
    TooManyPublicInputs(u32),
    /// Bytes after the proof.
    #[error("{0} unexpected bytes after the proof")]
    TrailingBytes(usize),
}

impl ProofFile {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.shape.len() + self.proof.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.backend.tag());
        put_bytes(&mut out, self.relation.as_bytes());
        put_bytes(&mut out, self.shape.as_bytes());
        out.extend_from_slice(&self.program_digest);
        out.extend_from_slice(&self.origin.client.to_le_bytes());
        out.extend_from_slice(&self.origin.round.to_le_bytes());
        out.extend_from_slice(&self.origin.step.to_le_bytes());
        out.extend_from_slice(&self.origin.log_head);
        out.extend_from_slice(&(self.public_inputs.len() as u32).to_le_bytes());
        for x in &self.public_inputs {
            out.extend_from_slice(x);
        }
        put_bytes(&mut out, &self.proof);
        out
    }

    /// Reads a proof file.
    pub fn decode(bytes: &[u8]) -> Result<ProofFile, ProofFileError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len(), "magic").ok() != Some(MAGIC.as_slice()) {
            return Err(ProofFileError::BadMagic);
        }
        let version = r.array::<1>("version")?[0];
        if version != VERSION {
            return Err(ProofFileError::UnsupportedVersion(version));
        }
        let tag = r.array::<1>("back end")?[0];
        let backend = Backend::from_tag(tag).ok_or(ProofFileError::UnknownBackend(tag))?;
        let relation = r.string("relation")?;
        let shape = r.string("shape")?;
        let program_digest = r.array::<32>("program digest")?;
        let origin = StepOrigin {
            client: u32::from_le_bytes(r.array("client")?),
            round: u32::from_le_bytes(r.array("round")?),
            step: u64::from_le_bytes(r.array("step")?),
            log_head: r.array("log head")?,
        };
        let n = u32::from_le_bytes(r.array("public input count")?);
        if n > MAX_PUBLIC_INPUTS {
            return Err(ProofFileError::TooManyPublicInputs(n));
        }
        let public_inputs = (0..n)
            .map(|_| r.array::<32>("public inputs"))
            .collect::<Result<_, _>>()?;
        let proof = r.bytes("proof")?.to_vec();
        if !r.0.is_empty() {
            return Err(ProofFileError::TrailingBytes(r.0.len()));
        }
        Ok(ProofFile {
            backend,
            relation,
            shape,
            program_digest,
            origin,
            public_inputs,
            proof,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ProofFileError> {
        if self.0.len() < n {
            return Err(ProofFileError::Truncated(field));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ProofFileError> {
        Ok(self
            .take(N, field)?
            .try_into()
            .expect("take returned N bytes"))
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], ProofFileError> {
        let len = u32::from_le_bytes(self.array(field)?) as usize;
        self.take(len, field)
    }

    fn string(&mut self, field: &'static str) -> Result<String, ProofFileError> {
        let bytes = self.bytes(field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ProofFileError::NotUtf8(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ProofFile {
        ProofFile {
            backend: Backend::Groth16,
            relation: "training-step".into(),
            shape: r#"{"model":"softmax:4-3","batch":2}"#.into(),
            program_digest: [7; 32],
            origin: StepOrigin {
                client: 3,
                round: 19,
                step: 42,
                log_head: [9; 32],
            },
            public_inputs: vec![[1; 32], [2; 32]],
            proof: vec![0xab; 128],
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let file = sample();
        let bytes = file.encode();
        assert_eq!(&bytes[..7], b"ZKFLPRF");
        assert_eq!(bytes[7], VERSION);
        assert_eq!(bytes[8], 1);
        assert_eq!(ProofFile::decode(&bytes).unwrap(), file);
    }

    #[test]
    fn bad_files_are_named() {
        let bytes = sample().encode();
        assert_eq!(ProofFile::decode(b"hello"), Err(ProofFileError::BadMagic));
        let mut v2 = bytes.clone();
        v2[7] = 2;
        assert_eq!(
            ProofFile::decode(&v2),
            Err(ProofFileError::UnsupportedVersion(2))
        );
        let mut other = bytes.clone();
        other[8] = 9;
        assert_eq!(
            ProofFile::decode(&other),
            Err(ProofFileError::UnknownBackend(9))
        );
        assert_eq!(
            ProofFile::decode(&bytes[..bytes.len() - 1]),
            Err(ProofFileError::Truncated("proof"))
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            ProofFile::decode(&long),
            Err(ProofFileError::TrailingBytes(1))
        );
    }

    fn arb_file() -> impl Strategy<Value = ProofFile> {
        (
            prop::bool::ANY,
            "[a-z-]{0,20}",
            "\\PC{0,40}",
            any::<[u8; 32]>(),
            (any::<u32>(), any::<u32>(), any::<u64>(), any::<[u8; 32]>()),
            prop::collection::vec(any::<[u8; 32]>(), 0..6),
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(
                |(g, relation, shape, program_digest, o, public_inputs, proof)| ProofFile {
                    backend: if g { Backend::Groth16 } else { Backend::Halo2 },
                    relation,
                    shape,
                    program_digest,
                    origin: StepOrigin {
                        client: o.0,
                        round: o.1,
                        step: o.2,
                        log_head: o.3,
                    },
                    public_inputs,
                    proof,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn encoding_round_trips(file in arb_file()) {
            prop_assert_eq!(ProofFile::decode(&file.encode()).unwrap(), file);
        }

        #[test]
        fn every_truncation_is_an_error(file in arb_file(), cut in any::<prop::sample::Index>()) {
            let bytes = file.encode();
            let cut = cut.index(bytes.len());
            prop_assert!(ProofFile::decode(&bytes[..cut]).is_err());
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = ProofFile::decode(&bytes);
        }
    }
}
