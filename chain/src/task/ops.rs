//! The transactions of a task's life after creation, as ops (see the layout in [`super`]).

use std::collections::BTreeMap;

use ceremony::Phase2Contribution;

use super::{TaskError, set, task_path};
use crate::account::Address;
use crate::ops::Op;
use crate::path::Path;
use crate::settlement::TaskKey;
use crate::value::Value;

/// What a provider posts of its proof-of-learning log for a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPost {
    /// The log's head (hash chain).
    pub head: [u8; 32],
    /// The root of the log's record tree (`pol::tree`).
    pub root: [u8; 32],
    /// Optimizer steps logged.
    pub steps: u64,
    /// SHA-256 of the update the provider trained (its final parameters' blob).
    pub update: [u8; 32],
}

impl LogPost {
    /// The value stored at `/tasks/<id>/rounds/<r>/logs/<addr>`.
    pub fn to_value(&self) -> Value {
        Value::Object(BTreeMap::from([
            ("head".to_owned(), Value::Str(hex::encode(self.head))),
            ("root".to_owned(), Value::Str(hex::encode(self.root))),
            ("steps".to_owned(), Value::Int(i128::from(self.steps))),
            ("update".to_owned(), Value::Str(hex::encode(self.update))),
        ]))
    }

    /// Reads a stored post; `None` unless it has the four fields, well formed.
    pub fn from_value(value: &Value) -> Option<LogPost> {
        let hex32 = |name: &str| crate::settlement::config::hex32(value.child(name).as_str()?);
        Some(LogPost {
            head: hex32("head")?,
            root: hex32("root")?,
            steps: u64::try_from(value.child("steps").as_int()?).ok()?,
            update: hex32("update")?,
        })
    }
}

/// What client `client` of task `id` posted for its log of `round`, read through `get` (a
/// ledger's state): `None` when the client index is unclaimed or no well-formed post is there.
pub fn posted_log(
    get: impl Fn(&Path) -> Value,
    id: &str,
    round: u64,
    client: usize,
) -> Result<Option<LogPost>, TaskError> {
    let addr = get(&task_path(id, &["clients", &client.to_string()])?);
    let Some(addr) = addr.as_str() else {
        return Ok(None);
    };
    let post = get(&task_path(
        id,
        &["rounds", &round.to_string(), "logs", addr],
    )?);
    Ok(LogPost::from_value(&post))
}

/// The `SET` by which `provider` joins task `id` as client `client` with `samples` training
/// rows: stake `stake` (skipped when 0) through the built-in `_stake` (request key `key`, which
/// must be fresh), claim the client index and the data root, and register.
pub fn provider_join_op(
    id: &str,
    provider: &Address,
    client: u32,
    data_root: &[u8; 32],
    samples: u64,
    stake: i128,
    key: &str,
) -> Result<Op, TaskError> {
    let me = provider.to_string();
    let root = hex::encode(data_root);
    let mut ops = Vec::new();
    if stake > 0 {
        let path =
            Path::from_segments(["stake", id, &me, key]).map_err(|source| TaskError::BadId {
                id: id.to_owned(),
                source,
            })?;
        ops.push(set(path, Value::Int(stake)));
    }
    let claim = Value::Str(me.clone());
    ops.push(set(
        task_path(id, &["clients", &client.to_string()])?,
        claim.clone(),
    ));
    ops.push(set(task_path(id, &["data_roots", &root])?, claim));
    let registration = Value::Object(BTreeMap::from([
        ("client".to_owned(), Value::Int(i128::from(client))),
        ("data_root".to_owned(), Value::Str(root)),
        ("samples".to_owned(), Value::Int(i128::from(samples))),
    ]));
    ops.push(set(task_path(id, &["providers", &me])?, registration));
    Ok(Op::Set(ops))
}

/// The `SET` by which `party` adds its δ contribution to the ceremony of task `id`'s `key`
/// (see [`crate::settlement::setup`]).
pub fn contribute_key_op(
    id: &str,
    party: &Address,
    key: TaskKey,
    contribution: &Phase2Contribution,
) -> Result<Op, TaskError> {
    let path = task_path(id, &["setup", key.name(), &party.to_string()])?;
    Ok(Op::Set(vec![set(
        path,
        Value::Str(hex::encode(ceremony::to_bytes(contribution))),
    )]))
}

/// The owner's op giving `party` the turn to contribute to task `id`'s `key` with the
/// contribution whose receipt (the transcript hash after it) is `receipt` (see
/// [`crate::settlement::setup`]).
pub fn key_turn_op(
    id: &str,
    key: TaskKey,
    party: &Address,
    receipt: [u8; 32],
) -> Result<Op, TaskError> {
    let turn = Value::Object(BTreeMap::from([
        ("addr".to_owned(), Value::Str(party.to_string())),
        ("receipt".to_owned(), Value::Str(hex::encode(receipt))),
    ]));
    Ok(set(task_path(id, &["turns", key.name()])?, turn))
}

/// `ops` in order as one all-or-nothing `SET` (each a `SET` or a single write): say, a
/// provider's key contributions and then its registration.
pub fn in_one_set(ops: impl IntoIterator<Item = Op>) -> Op {
    Op::Set(
        ops.into_iter()
            .flat_map(|op| match op {
                Op::Set(inner) => inner,
                single => vec![single],
            })
            .collect(),
    )
}

/// The owner's op starting round `round`: the task moves to `running` (with `start`, for the
/// first round), `round` moves there, and the global model it starts from is posted.
pub fn post_model_op(id: &str, round: u64, model: &[u8; 32], start: bool) -> Result<Op, TaskError> {
    let mut ops = Vec::new();
    if start {
        ops.push(set(task_path(id, &["status"])?, Value::from("running")));
    }
    ops.push(set(
        task_path(id, &["round"])?,
        Value::Int(i128::from(round)),
    ));
    let path = task_path(id, &["rounds", &round.to_string(), "model"])?;
    ops.push(set(path, Value::Str(hex::encode(model))));
    Ok(Op::Set(ops))
}

/// A provider's op posting its proof-of-learning log of round `round`.
pub fn post_log_op(
    id: &str,
    round: u64,
    provider: &Address,
    log: &LogPost,
) -> Result<Op, TaskError> {
    let path = task_path(
        id,
        &["rounds", &round.to_string(), "logs", &provider.to_string()],
    )?;
    Ok(set(path, log.to_value()))
}

/// What the owner of a `shapley` task fixes with a round's seal: the BN254 Poseidon
/// commitments (canonical little-endian) of the aggregate and of the round's utility table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundValuation {
    /// `C_{t+1}`, the aggregate's commitment.
    pub aggregate: [u8; 32],
    /// `H`, the utility table's commitment.
    pub table: [u8; 32],
}

impl RoundValuation {
    /// The value stored at `/tasks/<id>/rounds/<r>/valuation`.
    pub fn to_value(&self) -> Value {
        Value::Object(BTreeMap::from([
            (
                "aggregate".to_owned(),
                Value::Str(hex::encode(self.aggregate)),
            ),
            ("table".to_owned(), Value::Str(hex::encode(self.table))),
        ]))
    }

    /// Reads a stored valuation; `None` unless both fields are 64 lowercase hex digits.
    pub fn from_value(value: &Value) -> Option<RoundValuation> {
        let hex32 = |name: &str| crate::settlement::config::hex32(value.child(name).as_str()?);
        Some(RoundValuation {
            aggregate: hex32("aggregate")?,
            table: hex32("table")?,
        })
    }
}

/// The owner's op sealing round `round` with the digest of the aggregated model, and in a
/// `shapley` task the round's valuation (written first, in the same `SET`).
pub fn seal_round_op(
    id: &str,
    round: u64,
    aggregate: &[u8; 32],
    valuation: Option<&RoundValuation>,
) -> Result<Op, TaskError> {
    let r = round.to_string();
    let mut ops = Vec::new();
    if let Some(valuation) = valuation {
        ops.push(set(
            task_path(id, &["rounds", &r, "valuation"])?,
            valuation.to_value(),
        ));
    }
    let path = task_path(id, &["rounds", &r, "aggregate"])?;
    ops.push(set(path, Value::Str(hex::encode(aggregate))));
    Ok(if ops.len() == 1 {
        ops.remove(0)
    } else {
        Op::Set(ops)
    })
}

/// The owner's contribution proof of round `round` at `/tasks/<id>/rounds/<r>/contribution`:
/// the Groth16 proof (compressed), each provider's `N!·φ` by address, and each provider's log
/// ends (`pol::LogEnds::encode`) by address.
pub fn submit_contribution_op(
    id: &str,
    round: u64,
    proof: &[u8],
    values: &BTreeMap<String, i128>,
    ends: &BTreeMap<String, Vec<u8>>,
) -> Result<Op, TaskError> {
    let value = Value::Object(BTreeMap::from([
        (
            "ends".to_owned(),
            Value::Object(
                ends.iter()
                    .map(|(a, e)| (a.clone(), Value::Str(hex::encode(e))))
                    .collect(),
            ),
        ),
        ("proof".to_owned(), Value::Str(hex::encode(proof))),
        (
            "values".to_owned(),
            values.iter().map(|(a, v)| (a.clone(), *v)).collect(),
        ),
    ]));
    let path = task_path(id, &["rounds", &round.to_string(), "contribution"])?;
    Ok(set(path, value))
}

/// The op (anyone's) drawing round `round`'s challenge from the hash of block `block`, which
/// must be the block after the one that sealed the round.
pub fn draw_challenge_op(id: &str, round: u64, block: u64) -> Result<Op, TaskError> {
    let path = task_path(id, &["rounds", &round.to_string(), "draw"])?;
    Ok(set(path, Value::Int(i128::from(block))))
}

/// A provider's proof submission at `/tasks/<id>/proofs/<proof_id>`: the proof file's bytes and
/// the evidence of the step in its log (`pol::StepEvidence::encode`).
pub fn submit_proof_op(
    id: &str,
    proof_id: &str,
    proof_file: &[u8],
    evidence: &[u8],
) -> Result<Op, TaskError> {
    let value = Value::Object(BTreeMap::from([
        ("evidence".to_owned(), Value::Str(hex::encode(evidence))),
        ("proof".to_owned(), Value::Str(hex::encode(proof_file))),
    ]));
    Ok(set(task_path(id, &["proofs", proof_id])?, value))
}
