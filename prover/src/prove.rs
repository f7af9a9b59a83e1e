//! Proving training steps with either back end, keys made once per shape and reused, many steps
//! in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use circuits::field::Bn254;
use circuits::halo2::{self, Fp, Halo2Params, ProgramKeys};
use circuits::r1cs::{self, Encoding, ProvingKey};
use circuits::relations::training_step::{self, TrainingStepShape};
use circuits::{Assignment, Field, Program};
use rand::rngs::OsRng;
use rayon::prelude::*;
use thiserror::Error;
use verifier::{Backend, KeyError, KeyStore, ProofFile, TRAINING_STEP};

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
    /// The proof system failed.
    #[error("{backend} proving failed: {message}")]
    Backend {
        /// Which back end.
        backend: Backend,
        /// Its message.
        message: String,
    },
}

/// Keys made for one program, shared by the proofs of a batch.
enum Keys {
    Groth16(Box<ProvingKey>),
    Halo2(Box<(Halo2Params, ProgramKeys)>),
}

/// Proves training steps, making each shape's keys once (or loading them from the store).
pub struct StepProver {
    store: KeyStore,
    backend: Backend,
    keys: Mutex<HashMap<[u8; 32], Arc<Keys>>>,
}

impl StepProver {
    /// A prover for `backend` with keys in `store`.
    pub fn new(store: KeyStore, backend: Backend) -> Self {
        StepProver {
            store,
            backend,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The back end.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Proves one step of a provider whose committed data set is `data`.
    pub fn prove(
        &self,
        step: &StepInstance,
        data: &CommittedData,
    ) -> Result<ProofFile, ProveError> {
        match self.backend {
            Backend::Groth16 => self.prove_in::<Bn254>(step, data),
            Backend::Halo2 => self.prove_in::<Fp>(step, data),
        }
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
        let program = match self.backend {
            Backend::Groth16 => verifier::check::program_of::<Bn254>(shape),
            Backend::Halo2 => verifier::check::program_of::<Fp>(shape),
        }
        .map_err(|e| ProveError::Witness(e.to_string()))?;
        self.keys_for(&program)?;
        Ok(program.digest())
    }

    fn prove_in<F: Field + BackendField>(
        &self,
        step: &StepInstance,
        data: &CommittedData,
    ) -> Result<ProofFile, ProveError> {
        let witness_error = |e: &dyn std::fmt::Display| ProveError::Witness(e.to_string());
        let tree = data.tree::<F>().map_err(|e| witness_error(&e))?;
        let witness = step.witness(data, &tree).map_err(|e| witness_error(&e))?;
        let (program, assignment) =
            training_step::build(&step.shape, &witness).map_err(|e| witness_error(&e))?;
        program
            .check(&assignment)
            .map_err(ProveError::Unsatisfied)?;
        let keys = self.keys_for(&program)?;
        let proof =
            F::prove(&keys, &program, &assignment).map_err(|message| ProveError::Backend {
                backend: self.backend,
                message,
            })?;
        Ok(ProofFile {
            backend: self.backend,
            relation: TRAINING_STEP.into(),
            shape: serde_json::to_string(&step.shape).expect("a shape always serializes"),
            program_digest: program.digest(),
            origin: step.origin.clone(),
            public_inputs: assignment
                .public_inputs(&program)
                .iter()
                .map(Field::to_le_bytes)
                .collect(),
            proof,
        })
    }

    fn keys_for(&self, program: &Program) -> Result<Arc<Keys>, ProveError> {
        let digest = program.digest();
        let mut cache = self
            .keys
            .lock()
            .expect("no thread panics holding the key cache");
        if let Some(keys) = cache.get(&digest) {
            return Ok(keys.clone());
        }
        let backend_error = |message: String| ProveError::Backend {
            backend: self.backend,
            message,
        };
        let keys = match self.backend {
            Backend::Groth16 => match self.store.groth16_pk(&digest)? {
                Some(pk) => Keys::Groth16(Box::new(pk)),
                None => {
                    tracing::info!("Groth16 setup for program {}", hex::encode(digest));
                    let (pk, vk) = r1cs::setup(program, &mut OsRng)
                        .map_err(|e| backend_error(e.to_string()))?;
                    self.store.save_groth16(&digest, &pk, &vk)?;
                    Keys::Groth16(Box::new(pk))
                }
            },
            Backend::Halo2 => {
                let layout =
                    halo2::Layout::new(program).map_err(|e| backend_error(e.to_string()))?;
                let params = self.store.halo2_params(halo2::required_k(&layout))?;
                let keys =
                    halo2::keygen(&params, program).map_err(|e| backend_error(e.to_string()))?;
                Keys::Halo2(Box::new((params, keys)))
            }
        };
        let keys = Arc::new(keys);
        cache.insert(digest, keys.clone());
        Ok(keys)
    }
}

/// The proving call of each back end's field.
trait BackendField: Sized {
    fn prove(
        keys: &Keys,
        program: &Program,
        assignment: &Assignment<Self>,
    ) -> Result<Vec<u8>, String>;
}

impl BackendField for Bn254 {
    fn prove(
        keys: &Keys,
        program: &Program,
        assignment: &Assignment<Self>,
    ) -> Result<Vec<u8>, String> {
        let Keys::Groth16(pk) = keys else {
            return Err("keys of another back end".into());
        };
        r1cs::prove(pk, program, assignment, &mut OsRng)
            .map(|proof| proof.to_bytes())
            .map_err(|e| e.to_string())
    }
}

impl BackendField for Fp {
    fn prove(
        keys: &Keys,
        program: &Program,
        assignment: &Assignment<Self>,
    ) -> Result<Vec<u8>, String> {
        let Keys::Halo2(halo2_keys) = keys else {
            return Err("keys of another back end".into());
        };
        let (params, keys) = &**halo2_keys;
        halo2::prove(params, keys, program, assignment).map_err(|e| e.to_string())
    }
}
