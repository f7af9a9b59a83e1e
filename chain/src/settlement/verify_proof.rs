//! `_verifyTrainingProof`: checks a provider's proof of one training step against its task and
//! records it (see [`crate::settlement`] for the protocol).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use verifier::{ProofFile, verify_groth16_with_vk};

use super::config::{ProofConfig, hex32};
use super::pol_log::logged_step;
use crate::functions::builtin::{TrainingProofVerifier, credit};
use crate::functions::{FunctionCall, FunctionError};
use crate::path::Path;
use crate::state::StateTxn;
use crate::task::task_path;
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
            "a submission is {\"proof\": hex, \"log_suffix\": hex}".to_owned(),
        ));
    }
    let file = ProofFile::decode(&hex_field(submission, "proof")?)
        .map_err(|e| reject(format!("proof file: {e}")))?;
    let tail = hex_field(submission, "log_suffix")?;

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
    let round = origin.round.to_string();
    let head_path = at(task, &["rounds", &round, "heads", provider])?;
    let posted = state
        .get_value(&head_path)
        .as_str()
        .and_then(hex32)
        .ok_or_else(|| reject(format!("{provider} posted no log head for round {round}")))?;
    if origin.log_head != posted {
        return Err(reject(
            "the proof names another log head than the posted one",
        ));
    }

    // The public inputs the proof must be about.
    let logged = logged_step(&tail, origin.step, &posted).map_err(|e| reject(e.to_string()))?;
    if logged
        .header_origin
        .is_some_and(|o| o != (origin.client, origin.round))
    {
        return Err(reject("the log header is for another client or round"));
    }
    let claimed = |i: usize| file.public_inputs.get(i);
    if file.public_inputs.len() != 5
        || claimed(0) != Some(&logged.commitment_before)
        || claimed(1) != Some(&logged.commitment_after)
    {
        return Err(reject(
            "the proof's checkpoint commitments are not the logged ones",
        ));
    }
    if claimed(2) != Some(&data_root) {
        return Err(reject(format!("the proof's data root is not {provider}'s")));
    }

    // Replays: the same step, or the same statement, is paid once.
    let step = origin.step.to_string();
    let step_path = at(task, &["steps", provider, &round, &step])?;
    if !state.get_value(&step_path).is_absent() {
        return Err(reject(format!(
            "step {step} of round {round} by {provider} is already verified"
        )));
    }
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

    // The proof itself.
    let key = config
        .verifying_key()
        .map_err(|e| reject(format!("task key: {e}")))?;
    let public = verify_groth16_with_vk(&key, &file).map_err(|e| reject(e.to_string()))?;
    if !config.lrs.contains(&public.lr) {
        return Err(reject(format!(
            "learning rate {} is not allowed by the task",
            public.lr
        )));
    }
    if public.eps != config.shape.eps {
        return Err(reject(format!(
            "tolerance {} is not the task's {}",
            public.eps, config.shape.eps
        )));
    }

    let record = Value::Object(BTreeMap::from([
        ("provider".to_owned(), Value::from(provider)),
        ("round".to_owned(), Value::Int(i128::from(origin.round))),
        ("step".to_owned(), Value::Int(i128::from(origin.step))),
        ("verified".to_owned(), Value::Bool(true)),
    ]));
    state.set_value(&at(task, &["proofs", proof_id])?, record)?;
    state.set_value(&step_path, Value::from(proof_id))?;
    state.set_value(&statement_path, Value::from(proof_id))?;
    credit(state, &at(task, &["verified", provider])?, 1)
}
