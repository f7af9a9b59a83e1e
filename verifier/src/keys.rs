//! Where keys and parameters live on disk.
//!
//! ```text
//! DIR/groth16/<program digest>.vk    Groth16 verifying key (compressed, validated on load)
//! DIR/groth16/<program digest>.pk    Groth16 proving key (uncompressed, written by this program)
//! DIR/halo2/halo2-ipa-vesta-k<K>.params   halo2 IPA parameters for 2^K rows (no trusted setup)
//! ```
//!
//! Keys are named by the digest of the constraint program they were made for, so a relation
//! shape maps to exactly one key and a changed relation can never pick up a stale key. halo2
//! keys are not stored: they are rebuilt from the parameters and the program in seconds.
//! The default directory is `$ZKFL_KEYS`, else `$XDG_CACHE_HOME/zkfl/keys`, else
//! `$HOME/.cache/zkfl/keys`, else `.zkfl-keys`.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use circuits::halo2::{self, Halo2Params};
use circuits::r1cs::{Encoding, ProvingKey, VerifyingKey};
use circuits::{Groth16, Halo2, Program, ProofSystem, SystemError};
use rand::rngs::OsRng;
use thiserror::Error;

/// Why a key could not be read or written.
#[derive(Debug, Error)]
pub enum KeyError {
    /// No verifying key was made for this program.
    #[error(
        "no Groth16 verifying key for program {digest} in {dir} (keys are made by `zkfl prove`; pass --keys to point at them)"
    )]
    Missing {
        /// Hex digest of the program.
        digest: String,
        /// The key directory.
        dir: PathBuf,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file does not hold a valid key.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// halo2 parameters could not be had.
    #[error(transparent)]
    Halo2(#[from] circuits::halo2::Halo2Error),
    /// Making keys failed.
    #[error("making keys: {0}")]
    Keygen(#[from] SystemError),
    /// The program the keys are for could not be built.
    #[error("building the program: {0}")]
    Program(String),
}

/// A constraint program known by its digest, built only when a proof system needs more than
/// the digest (Groth16 keys are found by digest; halo2 lays the program out).
pub struct ProgramRef<'a> {
    digest: [u8; 32],
    build: Option<&'a dyn Fn() -> Result<Program, String>>,
    built: OnceCell<Program>,
    given: Option<&'a Program>,
}

impl<'a> ProgramRef<'a> {
    /// The program with `digest` that `build` makes.
    pub fn new(digest: [u8; 32], build: &'a dyn Fn() -> Result<Program, String>) -> Self {
        ProgramRef {
            digest,
            build: Some(build),
            built: OnceCell::new(),
            given: None,
        }
    }

    /// A program at hand.
    pub fn of(program: &'a Program) -> Self {
        ProgramRef {
            digest: program.digest(),
            build: None,
            built: OnceCell::new(),
            given: Some(program),
        }
    }

    /// The program's digest.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The program, built on first use.
    pub fn get(&self) -> Result<&Program, KeyError> {
        if let Some(program) = self.given.or(self.built.get()) {
            return Ok(program);
        }
        let build = self
            .build
            .ok_or_else(|| KeyError::Program("no program".into()))?;
        let program = build().map_err(KeyError::Program)?;
        Ok(self.built.get_or_init(|| program))
    }
}

/// A directory of proving material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// The store at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        KeyStore { dir: dir.into() }
    }

    /// The store at the default directory (see the module docs).
    pub fn default_location() -> Self {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = env("ZKFL_KEYS")
            .map(PathBuf::from)
            .or_else(|| env("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("zkfl/keys")))
            .or_else(|| env("HOME").map(|d| PathBuf::from(d).join(".cache/zkfl/keys")))
            .unwrap_or_else(|| PathBuf::from(".zkfl-keys"));
        KeyStore::new(dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn groth16_path(&self, digest: &[u8; 32], ext: &str) -> PathBuf {
        self.dir
            .join("groth16")
            .join(format!("{}.{ext}", hex::encode(digest)))
    }

    /// The Groth16 verifying key of a program, validated.
    pub fn groth16_vk(&self, digest: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
        let path = self.groth16_path(digest, "vk");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::Missing {
                    digest: hex::encode(digest),
                    dir: self.dir.clone(),
                });
            }
            Err(source) => return Err(KeyError::Io { path, source }),
        };
        VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// The Groth16 proving key of a program, if one was made.
    pub fn groth16_pk(&self, digest: &[u8; 32]) -> Result<Option<ProvingKey>, KeyError> {
        let path = self.groth16_path(digest, "pk");
        match fs::read(&path) {
            Ok(bytes) => ProvingKey::from_trusted_bytes(&bytes)
                .map(Some)
                .map_err(|e| KeyError::Corrupt {
                    path,
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Io { path, source }),
        }
    }

    /// Stores a program's Groth16 keys (each file written whole, then renamed into place).
    pub fn save_groth16(
        &self,
        digest: &[u8; 32],
        pk: &ProvingKey,
        vk: &VerifyingKey,
    ) -> Result<(), KeyError> {
        write_whole(&self.groth16_path(digest, "vk"), &vk.to_bytes())?;
        write_whole(&self.groth16_path(digest, "pk"), &pk.to_trusted_bytes())
    }

    /// halo2 parameters for `2^k` rows, generated once (slow) and read back afterwards.
    pub fn halo2_params(&self, k: u32) -> Result<Halo2Params, KeyError> {
        Ok(halo2::params(k, &self.dir.join("halo2"))?)
    }
}

/// How a proof system's keys are kept in a [`KeyStore`]: what the prover and the verifier
/// crates are generic over.
pub trait StoredKeys: ProofSystem {
    /// The public parameters for `program` (halo2's for its size; none for Groth16).
    fn params(store: &KeyStore, program: &ProgramRef<'_>) -> Result<Self::Params, KeyError>;

    /// The verifying key of `program`: Groth16's stored one (made with the proving key),
    /// halo2's rebuilt from the parameters.
    fn verifying_key(
        store: &KeyStore,
        params: &Self::Params,
        program: &ProgramRef<'_>,
    ) -> Result<Self::VerifyingKey, KeyError>;

    /// The proving key of `program`: the stored one, or made now and stored (Groth16's setup
    /// draws its secret from the operating system and forgets it).
    fn proving_key(
        store: &KeyStore,
        params: &Self::Params,
        program: &ProgramRef<'_>,
    ) -> Result<Self::ProvingKey, KeyError>;
}

/// One Groth16 setup at a time in this process, so that two provers of one program never store
/// the keys of two setups.
static GROTH16_SETUP: Mutex<()> = Mutex::new(());

impl StoredKeys for Groth16 {
    fn params(_: &KeyStore, _: &ProgramRef<'_>) -> Result<(), KeyError> {
        Ok(())
    }

    fn verifying_key(
        store: &KeyStore,
        _: &(),
        program: &ProgramRef<'_>,
    ) -> Result<Self::VerifyingKey, KeyError> {
        Ok(circuits::r1cs::prepare(
            &store.groth16_vk(&program.digest())?,
        ))
    }

    fn proving_key(
        store: &KeyStore,
        _: &(),
        program: &ProgramRef<'_>,
    ) -> Result<ProvingKey, KeyError> {
        let digest = program.digest();
        if let Some(pk) = store.groth16_pk(&digest)? {
            return Ok(pk);
        }
        let _one = GROTH16_SETUP.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pk) = store.groth16_pk(&digest)? {
            return Ok(pk);
        }
        let (pk, _) = Groth16::keygen(&(), program.get()?, &mut OsRng)?;
        store.save_groth16(&digest, &pk, &pk.vk)?;
        Ok(pk)
    }
}

impl StoredKeys for Halo2 {
    fn params(store: &KeyStore, program: &ProgramRef<'_>) -> Result<Halo2Params, KeyError> {
        let layout = halo2::Layout::new(program.get()?)?;
        store.halo2_params(halo2::required_k(&layout))
    }

    fn verifying_key(
        _: &KeyStore,
        params: &Halo2Params,
        program: &ProgramRef<'_>,
    ) -> Result<halo2::ProgramVerifier, KeyError> {
        Ok(halo2::verifier_key(params, program.get()?)?)
    }

    fn proving_key(
        _: &KeyStore,
        params: &Halo2Params,
        program: &ProgramRef<'_>,
    ) -> Result<halo2::ProgramKeys, KeyError> {
        Ok(halo2::keygen(params, program.get()?)?)
    }
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&temp, bytes).map_err(io)?;
    fs::rename(&temp, path).map_err(io)
}
