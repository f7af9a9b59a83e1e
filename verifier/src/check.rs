//! Verifying proof files: the proof against the key of the relation shape it names, and the
//! public inputs it carries.
//!
//! The verifier never trusts the file's description of the program: it rebuilds the relation's
//! constraint program from the shape, checks that its digest is the one the file names (and the
//! one the key was made for), then checks the proof. What the public inputs must *equal* (the
//! commitments a provider posted, the learning rate of the logged step) is for the caller to
//! bind: see [`TrainingStepPublic`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use circuits::field::Bn254;
use circuits::r1cs::{self, Encoding, Proof};
use circuits::relations::training_step::{self, PUBLIC_INPUTS, TrainingStepShape, dummy_witness};
use circuits::{Assignment, Field, Groth16, Halo2, Program, SystemError};
use rand::rngs::OsRng;
use thiserror::Error;

use crate::keys::{KeyError, KeyStore, ProgramRef, StoredKeys};
use crate::proof_file::{Backend, ProofFile};

/// The name of the training-step relation in proof files.
pub const TRAINING_STEP: &str = "training-step";

/// Why a proof file is not accepted.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// A relation this verifier does not know.
    #[error("unknown relation '{0}' (this verifier checks '{TRAINING_STEP}')")]
    UnknownRelation(String),
    /// The shape is not valid JSON for the relation, or not a valid shape.
    #[error("bad relation shape: {0}")]
    Shape(String),
    /// The file names a program other than the one its shape gives.
    #[error("the proof is for program {claimed}, but its shape gives program {actual}")]
    ProgramMismatch {
        /// Digest named in the file.
        claimed: String,
        /// Digest of the program rebuilt from the shape.
        actual: String,
    },
    /// A public input is not a canonical field element, or there are not as many as needed.
    #[error("bad public inputs: {0}")]
    PublicInputs(String),
    /// Keys could not be had.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The proof bytes do not decode.
    #[error("the proof does not decode: {0}")]
    Decode(String),
    /// The proof system rejected the proof.
    #[error("the proof is invalid: {0}")]
    Rejected(String),
}

/// The public inputs of a verified training-step proof, named.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrainingStepPublic {
    /// Commitment of the parameters at step `t` (canonical little-endian field element).
    pub commitment_t: [u8; 32],
    /// Commitment of the parameters at step `t + 1`.
    pub commitment_t1: [u8; 32],
    /// The provider's data-set Merkle root.
    pub data_root: [u8; 32],
    /// The learning rate at the fixed-point learning-rate scale.
    pub lr: i64,
    /// The tolerance in parameter units.
    pub eps: i64,
}

/// The shape a proof file names.
pub fn shape_of(file: &ProofFile) -> Result<TrainingStepShape, VerifyError> {
    if file.relation != TRAINING_STEP {
        return Err(VerifyError::UnknownRelation(file.relation.clone()));
    }
    let shape: TrainingStepShape =
        serde_json::from_str(&file.shape).map_err(|e| VerifyError::Shape(e.to_string()))?;
    shape
        .validate()
        .map_err(|e| VerifyError::Shape(e.to_string()))?;
    Ok(shape)
}

/// The training-step program of a shape in field `F` (built from the dummy witness).
pub fn program_of<F: Field>(shape: &TrainingStepShape) -> Result<Program, VerifyError> {
    let witness = dummy_witness::<F>(shape).map_err(|e| VerifyError::Shape(e.to_string()))?;
    let (program, _): (Program, Assignment<F>) =
        training_step::build(shape, &witness).map_err(|e| VerifyError::Shape(e.to_string()))?;
    Ok(program)
}

fn field_inputs<F: Field>(file: &ProofFile) -> Result<Vec<F>, VerifyError> {
    if file.public_inputs.len() != PUBLIC_INPUTS {
        return Err(VerifyError::PublicInputs(format!(
            "{} given, the relation has {PUBLIC_INPUTS}",
            file.public_inputs.len()
        )));
    }
    file.public_inputs
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            F::from_le_bytes(bytes).ok_or_else(|| {
                VerifyError::PublicInputs(format!("input {i} is not an element of {}", F::NAME))
            })
        })
        .collect()
}

fn named<F: Field>(inputs: &[F]) -> Result<TrainingStepPublic, VerifyError> {
    let int = |i: usize, what: &str| {
        inputs[i]
            .to_i128()
            .and_then(|v| i64::try_from(v).ok())
            .ok_or_else(|| VerifyError::PublicInputs(format!("{what} is not a small integer")))
    };
    Ok(TrainingStepPublic {
        commitment_t: inputs[0].to_le_bytes(),
        commitment_t1: inputs[1].to_le_bytes(),
        data_root: inputs[2].to_le_bytes(),
        lr: int(3, "the learning rate")?,
        eps: int(4, "the tolerance")?,
    })
}

/// The program digest of a shape in field `F`, built once per process: building the program
/// (witness and Poseidon included) costs far more than a Groth16 verification.
fn digest_of<F: Field>(shape: &TrainingStepShape) -> Result<[u8; 32], VerifyError> {
    type Cache = Mutex<HashMap<(&'static str, TrainingStepShape), [u8; 32]>>;
    static DIGESTS: OnceLock<Cache> = OnceLock::new();
    let cache = DIGESTS.get_or_init(Cache::default);
    let key = (F::NAME, *shape);
    if let Some(digest) = cache.lock().expect("no panics holding the cache").get(&key) {
        return Ok(*digest);
    }
    let digest = program_of::<F>(shape)?.digest();
    cache
        .lock()
        .expect("no panics holding the cache")
        .insert(key, digest);
    Ok(digest)
}

/// Checks that the file names the program its shape gives in field `F`; returns the shape.
fn check_program<F: Field>(file: &ProofFile) -> Result<TrainingStepShape, VerifyError> {
    let shape = shape_of(file)?;
    let actual = digest_of::<F>(&shape)?;
    if actual != file.program_digest {
        return Err(VerifyError::ProgramMismatch {
            claimed: hex::encode(file.program_digest),
            actual: hex::encode(actual),
        });
    }
    Ok(shape)
}

/// Verifies one proof file with the keys in `keys`; returns its named public inputs.
pub fn verify_file(keys: &KeyStore, file: &ProofFile) -> Result<TrainingStepPublic, VerifyError> {
    match file.backend {
        Backend::Groth16 => verify_with::<Groth16>(keys, file),
        Backend::Halo2 => verify_with::<Halo2>(keys, file),
    }
}

/// [`verify_file`] in proof system `S`.
fn verify_with<S: StoredKeys>(
    keys: &KeyStore,
    file: &ProofFile,
) -> Result<TrainingStepPublic, VerifyError> {
    let shape = check_program::<S::Field>(file)?;
    let inputs = field_inputs::<S::Field>(file)?;
    let build = || program_of::<S::Field>(&shape).map_err(|e| e.to_string());
    let program = ProgramRef::new(file.program_digest, &build);
    let params = S::params(keys, &program)?;
    let vk = S::verifying_key(keys, &params, &program)?;
    S::verify(&params, &vk, &inputs, &file.proof).map_err(|e| match e {
        SystemError::Decode(reason) => VerifyError::Decode(reason),
        other => VerifyError::Rejected(other.to_string()),
    })?;
    named(&inputs)
}

/// Verifies a Groth16 training-step proof file against a verifying key the caller holds (for
/// example one stored on a ledger), and returns its named public inputs.
///
/// Unlike [`verify_file`] this does **not** rebuild the relation's program from the shape: the
/// caller must already know that `vk` was made for the program `file` names (the ledger binds
/// shape, program digest and key together when a task is created, and compares the file's
/// shape and digest with them). Checks the back end, the relation name, that there are exactly
/// the relation's public inputs, each a canonical field element, that the proof decodes and
/// that it verifies.
pub fn verify_groth16_with_vk(
    vk: &r1cs::VerifyingKey,
    file: &ProofFile,
) -> Result<TrainingStepPublic, VerifyError> {
    if file.backend != Backend::Groth16 {
        return Err(VerifyError::Shape(format!(
            "a {} proof cannot be checked with a Groth16 key",
            file.backend
        )));
    }
    if file.relation != TRAINING_STEP {
        return Err(VerifyError::UnknownRelation(file.relation.clone()));
    }
    let inputs = field_inputs::<Bn254>(file)?;
    let proof = Proof::from_bytes(&file.proof).map_err(|e| VerifyError::Decode(e.to_string()))?;
    r1cs::verify(&r1cs::prepare(vk), &inputs, &proof)
        .map_err(|e| VerifyError::Rejected(e.to_string()))?;
    named(&inputs)
}

/// Verifies many Groth16 proof files of one program at once (one multi-pairing). Fails if any
/// proof is invalid without saying which: verify one by one to find it.
pub fn verify_groth16_batch(
    keys: &KeyStore,
    files: &[ProofFile],
) -> Result<Vec<TrainingStepPublic>, VerifyError> {
    let Some(first) = files.first() else {
        return Ok(Vec::new());
    };
    if let Some(other) = files
        .iter()
        .find(|f| f.backend != Backend::Groth16 || f.program_digest != first.program_digest)
    {
        return Err(VerifyError::Shape(format!(
            "a batch needs Groth16 proofs of one program; found a {} proof of program {}",
            other.backend,
            hex::encode(other.program_digest)
        )));
    }
    check_program::<Bn254>(first)?;
    let vk = keys.groth16_vk(&first.program_digest)?;
    let mut statements = Vec::with_capacity(files.len());
    for file in files {
        let inputs = field_inputs::<Bn254>(file)?;
        let proof =
            Proof::from_bytes(&file.proof).map_err(|e| VerifyError::Decode(e.to_string()))?;
        statements.push((inputs, proof));
    }
    let batch: Vec<(&[Bn254], &Proof)> = statements
        .iter()
        .map(|(inputs, proof)| (inputs.as_slice(), proof))
        .collect();
    r1cs::verify_batch(&r1cs::prepare(&vk), &batch, &mut OsRng)
        .map_err(|e| VerifyError::Rejected(e.to_string()))?;
    statements.iter().map(|(inputs, _)| named(inputs)).collect()
}
