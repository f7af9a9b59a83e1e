//! `_acceptKeyContribution`: a task's Groth16 keys from a multi-party setup, so that the owner
//! (who proves the contributions) and whoever else made a key cannot forge proofs.
//!
//! A key config (`config/verifier`, `config/contribution`) with a `ceremony` field names the
//! `cs_hash` of phase-2 parameters made from a public phase 1 (Bowe–Gabizon–Miers 2017, the
//! `ceremony` crate) and carries their start key (`γ = δ = 1`). Before a task runs, each party
//! checks the parameters off the ledger (`ceremony::Parameters::verify`), multiplies δ by a
//! secret factor and writes its [`ceremony::Phase2Contribution`]:
//!
//! ```text
//! /tasks/<id>/setup/<key>/<addr>  = "<hex: the contribution, 448 bytes uncompressed>"
//!                                   replaced by {"contribution": hex, "index": n, "receipt": hex}
//! /tasks/<id>/transcripts/<key>   = "<hex: ceremony::Transcript, uncompressed>"  (functions only)
//! ```
//! `<key>` is [`TaskKey::name`]. The owner contributes first, which freezes the config (the
//! rules), so every other party checks parameters against a config that can no longer change.
//! The function accepts a contribution if it proves knowledge of
//! its factor bound to the transcript so far and moves δ by that factor in both groups (three
//! pairing checks, [`ceremony::Transcript::accept`]), records its receipt (the new transcript
//! hash, which its contributor looks for) and its place in the order. A provider registers
//! only after contributing to every key of the task (the registration rule), the config is
//! frozen once anything is under `setup`, and contributions end when the task leaves `open`.
//! The verifiers then use [`task_key`]: the start key with the δ of the last contribution. One
//! honest party that checked the parameters against a public phase 1 and forgets its factor
//! makes the key sound; a key nobody contributed to is refused (with `δ = γ = 1` anyone can
//! forge).
//!
//! After the owner, one party contributes at a time, the one the owner gave the turn to:
//!
//! ```text
//! /tasks/<id>/turns/<key>         = {"addr": "<addr>", "receipt": "<hex: transcript hash>"}
//! ```
//! The owner writes it once it has checked the parameters the party made (so that the owner
//! holds the parameters the ledger will be at), naming their transcript hash; the rules let
//! only `<addr>` contribute, and the function accepts only the contribution whose receipt is
//! the one named. So nobody else can move the transcript past the parameters the owner holds
//! (for a fee, stalling the join), a contribution seen in the mempool cannot be posted under
//! another address, and the party itself cannot post another contribution than the one it
//! handed over. The party hands the owner its signed transaction (contributions and
//! registration), which the owner submits after the turn.

use std::collections::BTreeMap;

use ceremony::{Phase2Contribution, Transcript};
use circuits::r1cs::{Encoding, VerifyingKey};

use super::verify_proof::at;
use crate::functions::{FunctionCall, FunctionError};
use crate::state::StateTxn;
use crate::value::Value;

/// The keys of a task that a ceremony can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskKey {
    /// The training-step key (`config/verifier`), that the providers prove with.
    TrainingStep,
    /// The contribution key (`config/contribution`), that the owner proves with.
    Contribution,
}

impl TaskKey {
    /// Both keys.
    pub const ALL: [TaskKey; 2] = [TaskKey::TrainingStep, TaskKey::Contribution];

    /// Its name under `setup` and `transcripts`.
    pub fn name(self) -> &'static str {
        match self {
            TaskKey::TrainingStep => "training-step",
            TaskKey::Contribution => "contribution",
        }
    }

    /// The key with this name.
    pub fn from_name(name: &str) -> Option<TaskKey> {
        TaskKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The config part that holds its key.
    pub fn config_part(self) -> &'static str {
        match self {
            TaskKey::TrainingStep => "verifier",
            TaskKey::Contribution => "contribution",
        }
    }
}

fn reject(reason: impl Into<String>) -> FunctionError {
    FunctionError::Proof(reason.into())
}

/// The `cs_hash` the task's config names for `key`, if its key comes from a ceremony.
fn ceremony_of(
    state: &StateTxn<'_>,
    task: &str,
    key: TaskKey,
) -> Result<Option<[u8; 32]>, FunctionError> {
    let part = state
        .get_value(&at(task, &["config"])?)
        .child(key.config_part())
        .clone();
    if part.is_absent() {
        return Ok(None);
    }
    match key {
        TaskKey::TrainingStep => super::ProofConfig::from_value(&part).map(|c| c.ceremony),
        TaskKey::Contribution => super::ContributionConfig::from_value(&part).map(|c| c.ceremony),
    }
    .map_err(|e| {
        reject(format!(
            "task {task} has no usable {} config: {e}",
            key.name()
        ))
    })
}

/// The ledger's transcript of `key`'s ceremony in `task` (its start, `cs_hash`, before any
/// contribution).
pub fn transcript(
    state: &StateTxn<'_>,
    task: &str,
    key: TaskKey,
    cs_hash: [u8; 32],
) -> Result<Transcript, FunctionError> {
    let stored = state.get_value(&at(task, &["transcripts", key.name()])?);
    if stored.is_absent() {
        return Ok(Transcript::start(cs_hash));
    }
    decode_transcript(&stored)
        .ok_or_else(|| reject(format!("the {} transcript is malformed", key.name())))
}

/// A transcript as `/tasks/<id>/transcripts/<key>` stores it (hex of its canonical bytes);
/// `None` if it is not one.
pub fn decode_transcript(value: &Value) -> Option<Transcript> {
    value
        .as_str()
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| ceremony::from_bytes(&bytes).ok())
}

/// The verifying key `task` verifies `key`'s proofs with: `stored` (the config's `vk` bytes),
/// with the δ of the last contribution when the config names a ceremony (`cs_hash`).
///
/// Errors: [`FunctionError::Proof`] for a ceremony nobody contributed to.
pub fn task_key(
    state: &StateTxn<'_>,
    task: &str,
    key: TaskKey,
    stored: &[u8],
    ceremony: Option<[u8; 32]>,
) -> Result<VerifyingKey, FunctionError> {
    let start = VerifyingKey::from_bytes(stored).map_err(|e| reject(format!("task key: {e}")))?;
    let Some(cs_hash) = ceremony else {
        return Ok(start);
    };
    transcript(state, task, key, cs_hash)?
        .verifying_key(&start)
        .map_err(|e| reject(format!("the task's {} key: {e}", key.name())))
}

/// `_acceptKeyContribution` at `/tasks/$task/setup/$key/$addr` (see the module docs).
pub fn accept(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let (task, name, addr) = (call.var("task")?, call.var("key")?, call.var("addr")?);
    if call.ctx.auth.addr != addr {
        return Err(FunctionError::Unauthorized(format!(
            "{} may not contribute as {addr}",
            call.ctx.auth.addr
        )));
    }
    let key =
        TaskKey::from_name(name).ok_or_else(|| reject(format!("task {task} has no key {name}")))?;
    if state.get_value(&at(task, &["status"])?).as_str() != Some("open") {
        return Err(reject(format!(
            "task {task} is not open: its keys are fixed"
        )));
    }
    let cs_hash = ceremony_of(state, task, key)?.ok_or_else(|| {
        reject(format!(
            "the {name} key of task {task} is not made by a ceremony"
        ))
    })?;
    let bytes = call
        .value
        .as_str()
        .and_then(|text| hex::decode(text).ok())
        .ok_or_else(|| FunctionError::BadInput("a contribution is hex".to_owned()))?;
    let contribution: Phase2Contribution =
        ceremony::from_bytes(&bytes).map_err(|e| reject(format!("contribution: {e}")))?;
    let mut transcript = transcript(state, task, key, cs_hash)?;
    let receipt = transcript
        .accept(&contribution)
        .map_err(|e| reject(format!("{name} key: contribution {e}")))?;
    if state.get_value(&at(task, &["owner"])?).as_str() != Some(addr) {
        let turn = state.get_value(&at(task, &["turns", name])?);
        if turn.child("receipt").as_str() != Some(hex::encode(receipt).as_str()) {
            return Err(reject(format!(
                "{name} key: the contribution of {addr} is not the one the owner gave the turn to"
            )));
        }
    }
    state.set_value(
        &at(task, &["transcripts", name])?,
        Value::Str(hex::encode(ceremony::to_bytes(&transcript))),
    )?;
    let record = Value::Object(BTreeMap::from([
        ("contribution".to_owned(), Value::Str(hex::encode(&bytes))),
        (
            "index".to_owned(),
            Value::Int(i128::from(transcript.contributions)),
        ),
        ("receipt".to_owned(), Value::Str(hex::encode(receipt))),
    ]));
    state.set_value(call.path, record)?;
    Ok(())
}
