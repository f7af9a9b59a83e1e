//! `_verifyTrainingProof`: checks a provider's proof of one training step against its task and
//! records it (see [`crate::settlement`] for the protocol).

use std::collections::BTreeMap;

use pol::StepEvidence;
use sha2::{Digest, Sha256};
use verifier::{Expected, ProofFile, check_binding, verify_groth16_with_vk};

use super::config::{ProofConfig, hex32};
use crate::functions::builtin::{TrainingProofVerifier, credit};
use crate::functions::{FunctionCall, FunctionError};
use crate::path::Path;
use crate::state::StateTxn;
use crate::task::{LogPost, task_path};
use crate::value::Value;

/// The ledger's training-proof verifier: Groth16 proofs against the task's stored key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Groth16TaskVerifier;

impl TrainingProofVerifier for Groth16TaskVerifier {
    fn verify(
        &self,
        call: &FunctionCall<'_>,
        state: &mut StateTxn<'_>,
    ) -> Result<(), FunctionError> {
        verify_submission(call, state)
    }
}

fn reject(reason: impl Into<String>) -> FunctionError {
    FunctionError::Proof(reason.into())
}

/// `/tasks/<task>/<leaf…>`, as a function error on a bad segment.
pub(crate) fn at(task: &str, leaf: &[&str]) -> Result<Path, FunctionError> {
    task_path(task, leaf).map_err(|e| FunctionError::BadInput(e.to_string()))
}

/// Decodes a lowercase-or-not hex string field of the submission.
fn hex_field(value: &Value, name: &'static str) -> Result<Vec<u8>, FunctionError> {
    let text = value
        .child(name)
        .as_str()
        .ok_or_else(|| FunctionError::BadInput(format!("submission field {name} must be hex")))?;
    hex::decode(text).map_err(|e| FunctionError::BadInput(format!("submission field {name}: {e}")))
}

/// The provider's registration: its client index and data root.
fn registration(
    state: &StateTxn<'_>,
    task: &str,
    provider: &str,
) -> Result<(u32, [u8; 32]), FunctionError> {
    let reg = state.get_value(&at(task, &["providers", provider])?);
    if reg.is_absent() {
        return Err(FunctionError::Unauthorized(format!(
            "{provider} is not a provider of task {task}"
        )));
    }
    let client = reg
        .child("client")
        .as_int()
        .and_then(|n| u32::try_from(n).ok());
    let root = reg.child("data_root").as_str().and_then(hex32);
    match (client, root) {
        (Some(client), Some(root)) => Ok((client, root)),
        _ => Err(reject(format!(
            "the registration of {provider} is malformed"
        ))),
    }
}

fn verify_submission(
    call: &FunctionCall<'_>,
    state: &mut StateTxn<'_>,
) -> Result<(), FunctionError> {
    let (task, proof_id) = (call.var("task")?, call.var("proof")?);
    let provider = call.ctx.auth.addr.as_str();
    let submission = call.value;
    if !matches!(submission, Value::Object(m) if m.len() == 2) {
        return Err(FunctionError::BadInput(
            "a submission is {\"proof\": hex, \"evidence\": hex}".to_owned(),
        ));
    }
    let file = ProofFile::decode(&hex_field(submission, "proof")?)
        .map_err(|e| reject(format!("proof file: {e}")))?;
    let evidence = StepEvidence::decode(&hex_field(submission, "evidence")?)
        .map_err(|e| reject(e.to_string()))?;

    if state.get_value(&at(task, &["status"])?).as_str() != Some("running") {
        return Err(reject(format!("task {task} is not running")));
    }
    let config =
        ProofConfig::from_value(state.get_value(&at(task, &["config"])?).child("verifier"))
            .map_err(|e| reject(format!("task {task} has no usable verifier config: {e}")))?;
    let (client, data_root) = registration(state, task, provider)?;

    // What the file says it is.
    if file.backend.name() != super::config::SYSTEM_GROTH16 {
        return Err(reject(format!(
            "a {} proof; the task takes groth16",
            file.backend
        )));
    }
    if file.relation != verifier::TRAINING_STEP || file.shape != config.shape_json() {
        return Err(reject("the proof's relation or shape is not the task's"));
    }
    if file.program_digest != config.program_digest {
        return Err(reject("the proof's program digest is not the task's"));
    }
    let origin = &file.origin;
    if origin.client != client {
        return Err(reject(format!(
            "the proof is from client {}, {provider} is client {client}",
            origin.client
        )));
    }

    // The step must be one the round's challenge drew for this provider, in time.
    let round = origin.round.to_string();
    let step = origin.step.to_string();
    let challenge = state.get_value(&at(task, &["rounds", &round, "challenge"])?);
    if challenge.is_absent() {
        return Err(reject(format!("round {round} has no challenge drawn")));
    }
    if challenge.child("steps").child(provider).child(&step) != &Value::Bool(true) {
        return Err(reject(format!(
            "step {step} of round {round} was not challenged for {provider}"
        )));
    }
    let due = challenge.child("due").as_int().unwrap_or(0);
    if i128::from(call.ctx.block_number) > due {
        return Err(reject(format!(
            "the challenge of round {round} was due by block {due}"
        )));
    }
    let proven_path = at(task, &["rounds", &round, "proven", provider, &step])?;
    if !state.get_value(&proven_path).is_absent() {
        return Err(reject(format!(
            "step {step} of round {round} by {provider} is already verified"
        )));
    }

    // The step must be in the log the provider posted for the round.
    let post =
        LogPost::from_value(&state.get_value(&at(task, &["rounds", &round, "logs", provider])?))
            .ok_or_else(|| reject(format!("{provider} posted no log for round {round}")))?;
    if origin.log_head != post.head {
        return Err(reject(
            "the proof names another log head than the posted one",
        ));
    }
    if evidence.step != origin.step {
        return Err(reject(format!(
            "the evidence is about step {}, the proof about step {step}",
            evidence.step
        )));
    }
    let logged = evidence
        .verify(&pol::Digest(post.root))
        .map_err(|e| reject(e.to_string()))?;
    if logged
        .header_origin
        .is_some_and(|o| o != (origin.client, origin.round))
    {
        return Err(reject("the log header is for another client or round"));
    }

    // Replays of a statement are paid once.
    let statement: [u8; 32] = file
        .public_inputs
        .iter()
        .fold(Sha256::new(), |h, x| h.chain_update(x))
        .finalize()
        .into();
    let statement_path = at(task, &["statements", &hex::encode(statement)])?;
    if !state.get_value(&statement_path).is_absent() {
        return Err(reject("this statement was already proven in this task"));
    }

    // The proof itself, and what it is about.
    let key = super::setup::task_key(
        state,
        task,
        super::TaskKey::TrainingStep,
        &config.vk,
        config.ceremony,
    )?;
    let public = verify_groth16_with_vk(&key, &file).map_err(|e| reject(e.to_string()))?;
    let expected = Expected::of_logged(file.backend, &logged, data_root, config.shape.eps)
        .map_err(|e| reject(e.to_string()))?;
    check_binding(&public, &expected).map_err(|e| reject(e.to_string()))?;
    if !config.lrs.contains(&public.lr) {
        return Err(reject(format!(
            "learning rate {} is not allowed by the task",
            public.lr
        )));
    }

    let record = Value::Object(BTreeMap::from([
        ("provider".to_owned(), Value::from(provider)),
        ("round".to_owned(), Value::Int(i128::from(origin.round))),
        ("step".to_owned(), Value::Int(i128::from(origin.step))),
        ("verified".to_owned(), Value::Bool(true)),
    ]));
    state.set_value(&at(task, &["proofs", proof_id])?, record)?;
    state.set_value(&proven_path, Value::from(proof_id))?;
    state.set_value(&statement_path, Value::from(proof_id))?;
    credit(state, &at(task, &["verified", provider])?, 1)
}
