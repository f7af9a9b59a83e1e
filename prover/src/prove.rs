//! Proving training steps with either proof system, keys made once per shape and reused, many
//! steps in parallel.
//!
//! **Randomness.** [`StepProver::prove`] draws the proof's blinding from the operating system.
//! [`StepProver::prove_deterministic`] derives it from a secret the provider holds and the
//! statement, `ChaCha20(SHA-256("zkfl-proof-nonce-v1" ‖ secret ‖ program digest ‖ origin ‖
//! public inputs))`, as RFC 6979 does for signature nonces: the same step always proves to the
//! same bytes (so a task replays byte for byte), and the proof still hides the witness as long
//! as the secret stays secret.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use circuits::relations::training_step::{self, TrainingStepShape};
use circuits::{Field, Groth16, Halo2, Program, SystemError};
use rand::SeedableRng;
use rand::rngs::OsRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use thiserror::Error;
use verifier::keys::{ProgramRef, StoredKeys};
use verifier::{Backend, KeyError, KeyStore, ProofFile, StepOrigin, TRAINING_STEP};

use crate::instance::{CommittedData, StepInstance};

/// Why a step could not be proved.
#[derive(Debug, Error)]
pub enum ProveError {
    /// The witness could not be assembled (a row or commitment out of range, a bad index).
    #[error("witness: {0}")]
    Witness(String),
    /// The logged step is not a valid fixed-point step within tolerance: nothing to prove.
    #[error("the logged step does not satisfy the relation: {0}")]
    Unsatisfied(circuits::Unsatisfied),
    /// Keys could not be read, made or written.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A multi-party key setup step failed (see [`crate::setup`]).
    #[error("key ceremony: {0}")]
    Ceremony(#[from] circuits::r1cs::Groth16Error),
    /// The proof system failed.
    #[error("{backend} proving failed: {source}")]
    Backend {
        /// Which back end.
        backend: Backend,
        /// Its error.
        source: SystemError,
    },
}

/// What proving one program needs in proof system `S`: its parameters and proving key.
type ProgramKeys<S> = Arc<(
    <S as circuits::ProofSystem>::Params,
    <S as circuits::ProofSystem>::ProvingKey,
)>;

/// Proves training steps, making each shape's keys once (or loading them from the store).
pub struct StepProver {
    store: KeyStore,
    backend: Backend,
    /// Per program digest: the proof system's `(params, proving key)`.
    keys: Mutex<HashMap<[u8; 32], Arc<dyn Any + Send + Sync>>>,
    /// Checked powers of tau by domain power ([`crate::setup`]).
    powers: crate::setup::PowersCache,
}

impl StepProver {
    /// A prover for `backend` with keys in `store`.
    pub fn new(store: KeyStore, backend: Backend) -> Self {
        StepProver {
            store,
            backend,
            keys: Mutex::new(HashMap::new()),
            powers: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn powers_cache(&self) -> &crate::setup::PowersCache {
        &self.powers
    }

    /// Proves the program with digest `digest` with `pk` from now on (Groth16), in place of
    /// the key store's.
    pub(crate) fn install_groth16(&self, digest: [u8; 32], pk: circuits::r1cs::ProvingKey) {
        let keys: ProgramKeys<Groth16> = Arc::new(((), pk));
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(digest, keys);
    }

    /// The back end.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The key store.
    pub fn store(&self) -> &KeyStore {
        &self.store
    }

    /// Proves one step of a provider whose committed data set is `data`, with randomness from
    /// the operating system.
    pub fn prove(
        &self,
        step: &StepInstance,
        data: &CommittedData,
    ) -> Result<ProofFile, ProveError> {
        self.dispatch(step, data, None)
    }

    /// Proves one step with randomness derived from `secret` and the statement (see the
    /// module docs): deterministic, and hiding while `secret` is secret.
    pub fn prove_deterministic(
        &self,
        step: &StepInstance,
        data: &CommittedData,
        secret: &[u8; 32],
    ) -> Result<ProofFile, ProveError> {
        self.dispatch(step, data, Some(secret))
    }

    /// Proves many steps in parallel (rayon); results in input order.
    pub fn prove_all(
        &self,
        steps: &[(StepInstance, &CommittedData)],
    ) -> Vec<Result<ProofFile, ProveError>> {
        steps
            .par_iter()
            .map(|(step, data)| self.prove(step, data))
            .collect()
    }

    /// Makes (or loads) the keys for `shape` ahead of proving; returns the program digest.
    pub fn prepare(&self, shape: &TrainingStepShape) -> Result<[u8; 32], ProveError> {
        match self.backend {
            Backend::Groth16 => self.prepare_in::<Groth16>(shape),
            Backend::Halo2 => self.prepare_in::<Halo2>(shape),
        }
    }

    fn dispatch(
        &self,
        step: &StepInstance,
        data: &CommittedData,
        secret: Option<&[u8; 32]>,
    ) -> Result<ProofFile, ProveError> {
        match self.backend {
            Backend::Groth16 => self.prove_in::<Groth16>(step, data, secret),
            Backend::Halo2 => self.prove_in::<Halo2>(step, data, secret),
        }
    }

    fn prepare_in<S: StoredKeys>(&self, shape: &TrainingStepShape) -> Result<[u8; 32], ProveError> {
        let program = verifier::check::program_of::<S::Field>(shape)
            .map_err(|e| ProveError::Witness(e.to_string()))?;
        self.keys_for::<S>(&program)?;
        Ok(program.digest())
    }

    fn prove_in<S: StoredKeys>(
        &self,
        step: &StepInstance,
        data: &CommittedData,
        secret: Option<&[u8; 32]>,
    ) -> Result<ProofFile, ProveError> {
        let witness_error = |e: &dyn std::fmt::Display| ProveError::Witness(e.to_string());
        let tree = data.tree::<S::Field>().map_err(|e| witness_error(&e))?;
        let witness = step.witness(data, &tree).map_err(|e| witness_error(&e))?;
        let (program, assignment) =
            training_step::build(&step.shape, &witness).map_err(|e| witness_error(&e))?;
        program
            .check(&assignment)
            .map_err(ProveError::Unsatisfied)?;
        let keys = self.keys_for::<S>(&program)?;
        let public_inputs: Vec<[u8; 32]> = assignment
            .public_inputs(&program)
            .iter()
            .map(Field::to_le_bytes)
            .collect();
        let mut rng = match secret {
            Some(secret) => ChaCha20Rng::from_seed(nonce_seed(
                secret,
                &program.digest(),
                &step.origin,
                &public_inputs,
            )),
            None => ChaCha20Rng::from_rng(OsRng).map_err(|e| ProveError::Witness(e.to_string()))?,
        };
        let (params, pk) = &*keys;
        let proof = S::prove(params, pk, &program, &assignment, &mut rng).map_err(|source| {
            ProveError::Backend {
                backend: self.backend,
                source,
            }
        })?;
        Ok(ProofFile {
            backend: self.backend,
            relation: TRAINING_STEP.into(),
            shape: serde_json::to_string(&step.shape).expect("a shape always serializes"),
            program_digest: program.digest(),
            origin: step.origin.clone(),
            public_inputs,
            proof,
        })
    }

    pub(crate) fn keys_for<S: StoredKeys>(
        &self,
        program: &Program,
    ) -> Result<ProgramKeys<S>, ProveError> {
        let digest = program.digest();
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(keys) = cache.get(&digest).and_then(|k| k.clone().downcast().ok()) {
            return Ok(keys);
        }
        let program = ProgramRef::of(program);
        let params = S::params(&self.store, &program)?;
        let pk = S::proving_key(&self.store, &params, &program)?;
        let keys = Arc::new((params, pk));
        cache.insert(digest, keys.clone());
        Ok(keys)
    }
}

/// The seed of a deterministic proof's randomness (see the module docs).
fn nonce_seed(
    secret: &[u8; 32],
    digest: &[u8; 32],
    origin: &StepOrigin,
    public_inputs: &[[u8; 32]],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"zkfl-proof-nonce-v1");
    h.update(secret);
    h.update(digest);
    h.update(origin.client.to_le_bytes());
    h.update(origin.round.to_le_bytes());
    h.update(origin.step.to_le_bytes());
    h.update(origin.log_head);
    for x in public_inputs {
        h.update(x);
    }
    h.finalize().into()
}
