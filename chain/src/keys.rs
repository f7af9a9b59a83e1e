//! Ed25519 keys, signatures with domain tags, batch verification and key files.
//!
//! **Rule set: ZIP215**, through `ed25519-zebra`. A signature is valid when the ZIP215
//! equation holds (cofactored verification, non-canonical point encodings of `A` and `R`
//! accepted, `s` must be canonical). ZIP215 is chosen because under it batch verification and
//! single verification accept exactly the same signatures, so a node that checks a block's
//! transactions in one batch and a node that checks them one by one always agree on validity
//! (consensus-critical). Every signature in this crate is verified under these rules, batched
//! or not.
//!
//! **Small-order keys are refused.** ZIP215 accepts a public key in the 8-torsion (for
//! example the identity `01‖00×31`), and with it the signature `R = identity, s = 0` over any
//! message. No one holds a secret for such a key, so [`PublicKey::verify`] and
//! [`BatchVerifier::verify`] refuse all of them (every encoding, canonical or not) before the
//! equation is checked: a transaction or block from such a key never verifies.
//!
//! **Domain separation.** What is signed is never a raw hash: it is
//! `tag ‖ 0x00 ‖ hash`, with tag `zkfl/tx/v1` for transactions and `zkfl/block/v1` for block
//! headers ([`Domain`]), so a signature over one kind can never be replayed as the other.
//!
//! **Key files** are JSON `{"public": "<64 hex>", "secret": "<64 hex>"}` (the 32-byte public key
//! and the 32-byte secret seed), written with mode 0600. Loading checks the shape, the lengths,
//! that the public key matches the secret, and (on Unix) that the file is not readable by group
//! or others; each failure has its own [`KeyFileError`]. Where only a public key is needed
//! (verifying), a file `{"public": "<64 hex>"}` will do ([`load_public_key_file`]).

use std::fmt;
use std::io::Write;
use std::path::Path as FsPath;

use ed25519_zebra::{SigningKey, VerificationKey, VerificationKeyBytes, batch};
use rand_core::OsRng;

use crate::store::Hash;

/// Length of a public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a signature.
pub const SIGNATURE_LEN: usize = 64;

/// What a signature is for; its tag is signed with the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// A transaction hash.
    Transaction,
    /// A block header hash.
    Block,
}

impl Domain {
    /// The tag signed before the hash.
    pub fn tag(self) -> &'static [u8] {
        match self {
            Domain::Transaction => b"zkfl/tx/v1",
            Domain::Block => b"zkfl/block/v1",
        }
    }

    /// The signed message: `tag ‖ 0x00 ‖ hash`.
    pub fn message(self, hash: &Hash) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.tag().len() + 1 + hash.len());
        m.extend_from_slice(self.tag());
        m.push(0);
        m.extend_from_slice(hash);
        m
    }
}

/// An Ed25519 public key (32 bytes as encoded; not necessarily a valid point until verified).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

/// A signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key is not a valid curve point.
    #[error("public key {0} is not a valid Ed25519 point")]
    BadKey(PublicKey),
    /// The public key is a point of small order (in the 8-torsion): no secret key belongs to
    /// it, and under ZIP215 signatures that anyone can make verify against it.
    #[error("public key {0} has small order: no one holds a secret for it, it authorizes nothing")]
    SmallOrderKey(PublicKey),
    /// The signature does not verify under the key (ZIP215 rules).
    #[error("signature does not verify under {0}")]
    Invalid(PublicKey),
}

impl PublicKey {
    /// True when the key decodes (as ZIP215 decodes it: non-canonical encodings included) to a
    /// point of small order, that is one of the eight points of the 8-torsion subgroup. Such a
    /// key has no discrete log anyone could know: with `R` of small order and `s = 0` the
    /// cofactored ZIP215 equation `[8][s]B = [8]R + [8][k]A` holds for every message.
    pub fn is_small_order(&self) -> bool {
        curve25519_dalek::edwards::CompressedEdwardsY(self.0)
            .decompress()
            .is_some_and(|point| point.is_small_order())
    }

    /// Verifies `signature` over `hash` in `domain` (ZIP215 rules), refusing keys of small
    /// order ([`PublicKey::is_small_order`]) whatever the signature.
    pub fn verify(
        &self,
        domain: Domain,
        hash: &Hash,
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        if self.is_small_order() {
            return Err(SignatureError::SmallOrderKey(*self));
        }
        let key = VerificationKey::try_from(self.0).map_err(|_| SignatureError::BadKey(*self))?;
        let sig = ed25519_zebra::Signature::from_bytes(&signature.0);
        key.verify(&sig, &domain.message(hash))
            .map_err(|_| SignatureError::Invalid(*self))
    }
}

/// A signing key pair.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({}, secret hidden)", self.public())
    }
}

impl Keypair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Keypair {
        Keypair {
            signing: SigningKey::new(OsRng),
        }
    }

    /// The key pair of a 32-byte secret seed (deterministic: same seed, same key).
    pub fn from_secret(secret: [u8; 32]) -> Keypair {
        Keypair {
            signing: SigningKey::from(secret),
        }
    }

    /// The 32-byte secret seed.
    pub fn secret(&self) -> [u8; 32] {
        *self.signing.as_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(VerificationKeyBytes::from(&self.signing).into())
    }

    /// Signs `hash` in `domain`.
    pub fn sign(&self, domain: Domain, hash: &Hash) -> Signature {
        Signature(self.signing.sign(&domain.message(hash)).to_bytes())
    }
}

/// Collects signatures and verifies them together (ZIP215: same verdicts as one by one, keys
/// of small order refused in both).
#[derive(Default)]
pub struct BatchVerifier {
    items: Vec<(PublicKey, Domain, Hash, Signature)>,
}

impl BatchVerifier {
    /// An empty batch.
    pub fn new() -> BatchVerifier {
        BatchVerifier::default()
    }

    /// Adds one signature to check.
    pub fn queue(&mut self, key: PublicKey, domain: Domain, hash: Hash, signature: Signature) {
        self.items.push((key, domain, hash, signature));
    }

    /// Verifies all queued signatures. On failure, names the first bad one by its queue index
    /// (found by checking one by one, which ZIP215 guarantees gives the same verdicts).
    pub fn verify(self) -> Result<(), (usize, SignatureError)> {
        // Refused one by one too: the batch equation alone would accept them.
        if let Some(index) = self.items.iter().position(|(key, ..)| key.is_small_order()) {
            return Err((index, SignatureError::SmallOrderKey(self.items[index].0)));
        }
        let messages: Vec<Vec<u8>> = self
            .items
            .iter()
            .map(|(_, domain, hash, _)| domain.message(hash))
            .collect();
        let mut batch = batch::Verifier::new();
        for ((key, _, _, sig), msg) in self.items.iter().zip(&messages) {
            let sig = ed25519_zebra::Signature::from_bytes(&sig.0);
            batch.queue((VerificationKeyBytes::from(key.0), sig, msg));
        }
        if batch.verify(OsRng).is_ok() {
            return Ok(());
        }
        for (index, (key, domain, hash, sig)) in self.items.iter().enumerate() {
            key.verify(*domain, hash, sig).map_err(|e| (index, e))?;
        }
        // ZIP215 makes batch and single verdicts agree, so some single check failed above.
        unreachable!("invariant: ZIP215 batch and single verification agree")
    }
}

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not `{"public": hex, "secret": hex}` (or, where a public key is enough,
    /// `{"public": hex}`).
    #[error("key file {path}: not a key file ({reason})")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The public key in the file is not the secret's.
    #[error("key file {path}: public key does not match the secret key")]
    Mismatch {
        /// The file.
        path: String,
    },
    /// The file may be read by group or others.
    #[error("key file {path}: permissions {mode:o} are too open, use 0600")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    public: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// Writes `keypair` to a new key file at `path` with mode 0600 (fails if the file exists).
pub fn save_key_file(path: &FsPath, keypair: &Keypair) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let json = KeyFileJson {
        public: keypair.public().to_string(),
        secret: Some(hex::encode(keypair.secret())),
    };
    let text = serde_json::to_string_pretty(&json).map_err(|e| io(std::io::Error::other(e)))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads a key file written by [`save_key_file`]: it must hold the secret and be private.
pub fn load_key_file(path: &FsPath) -> Result<Keypair, KeyFileError> {
    let name = path.display().to_string();
    let io = |source| KeyFileError::Io {
        path: name.clone(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let (public, keypair) = parse_key_file(&name, &text)?;
    let keypair = keypair.ok_or_else(|| KeyFileError::Format {
        path: name.clone(),
        reason: format!("no secret key for {public}: this needs the key that signs"),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: name, mode });
        }
    }
    Ok(keypair)
}

/// The public key of a key file: a whole one, or one that holds only `{"public": "<64 hex>"}`
/// (what a verifier is given). When the file holds a secret too, it must match.
pub fn load_public_key_file(path: &FsPath) -> Result<PublicKey, KeyFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: name.clone(),
        source,
    })?;
    Ok(parse_key_file(&name, &text)?.0)
}

/// The public key of a key file's text, and its key pair when it holds the secret.
fn parse_key_file(name: &str, text: &str) -> Result<(PublicKey, Option<Keypair>), KeyFileError> {
    let format = |reason: String| KeyFileError::Format {
        path: name.to_owned(),
        reason,
    };
    let json: KeyFileJson = serde_json::from_str(text).map_err(|e| format(e.to_string()))?;
    let bytes32 = |field: &str, hex_text: &str| -> Result<[u8; 32], KeyFileError> {
        let bytes = hex::decode(hex_text).map_err(|e| format(format!("{field}: {e}")))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| format(format!("{field}: {} bytes, expected 32", bytes.len())))
    };
    let public = PublicKey(bytes32("public", &json.public)?);
    let Some(secret) = &json.secret else {
        return Ok((public, None));
    };
    let keypair = Keypair::from_secret(bytes32("secret", secret)?);
    if keypair.public() != public {
        return Err(KeyFileError::Mismatch {
            path: name.to_owned(),
        });
    }
    Ok((public, Some(keypair)))
}
