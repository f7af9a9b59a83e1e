//! Federated-learning tasks in the state: the record layout, the rules genesis installs for
//! it, and the one transaction that creates a task.
//!
//! # Layout
//! ```text
//! /tasks/<id>/owner              = "<address>"   the creator; written once
//! /tasks/<id>/config             = {"min_stake": n ≥ 0, "reward": "even" | "proportional",
//!                                   "rounds": n ≥ 1, "verifier": {…}}
//! /tasks/<id>/config/verifier    = {"system": "groth16", "relation": "training-step",
//!                                   "shape": json, "program_digest": hex, "vk": hex,
//!                                   "lrs": {"<lr>": true, …}}   (crate::settlement::ProofConfig)
//! /tasks/<id>/status             = "open" → "running" → "closed" (or "open" → "closed")
//! /tasks/<id>/round              = the current round: 0 at creation (not started), then +1
//!                                  up to rounds; training rounds are 1 ..= rounds
//! /tasks/<id>/providers/<addr>   = {"client": n, "data_root": "<64 hex digits>"}   a registration
//! /tasks/<id>/clients/<n>        = "<addr>"      client index n claimed by addr (once)
//! /tasks/<id>/data_roots/<root>  = "<addr>"      data root claimed by addr (once)
//! /tasks/<id>/stakes/<addr>      = n   written only by the built-in `_stake`
//! /tasks/<id>/rounds/<r>/model   = "<64 hex>"    SHA-256 of round r's global model (owner)
//! /tasks/<id>/rounds/<r>/heads/<addr> = "<64 hex>"  addr's proof-of-learning log head
//! /tasks/<id>/proofs/<proof id>  = a submission, replaced by {"provider", "round", "step",
//!                                  "verified": true} when `_verifyTrainingProof` accepts it
//! /tasks/<id>/steps/<addr>/<r>/<step>, /statements/<hash>   proof ids (replay guards)
//! /tasks/<id>/verified/<addr>    = n   verified proofs of addr (settlement's metric)
//! /tasks/<id>/payouts/<addr>, /refund   what closing paid to providers and back to the owner
//! /escrow/<id>/admin, /balance   the task's escrow (built-in escrow functions); admin = owner
//! ```
//! `<id>` is one data path segment (see [`crate::path`]). Data roots are the provider's BN254
//! Poseidon Merkle root, hex of its canonical little-endian bytes. The reward rule says how
//! settlement splits the escrow: `even` (equal shares) or `proportional` (to each provider's
//! verified proofs). The protocol and the functions are in [`crate::settlement`].
//!
//! # Rules (installed at genesis by [`crate::functions::builtin::genesis_ops`])
//! - `owner`: may be written once, with the writer's own address;
//! - `config`: only the owner, only while the status is absent or `open`, and only a
//!   well-formed config (the four fields above, nothing else; the verifier object's six
//!   fields with `system` `groth16` and `relation` `training-step`);
//! - `status`: only the owner, only along `open → running → closed` or `open → closed`;
//! - `round`: only the owner, `0` first, then one more each time, at most `config.rounds`;
//! - `clients/<n>`, `data_roots/<root>`: once, with the writer's own address, while `open`
//!   (`<root>` 64 characters);
//! - `providers/<addr>`: only `<addr>` itself, once, only while the task is `open`, only
//!   `{"client": n, "data_root": <64 chars>}` with `n` a `u32` and both claimed by `<addr>`,
//!   and only with a stake of at least `config.min_stake` already at `stakes/<addr>` (any stake
//!   when `min_stake` is 0);
//! - `rounds/<r>/model`: only the owner, once, while `running`, for the current round (≥ 1),
//!   64 characters;
//! - `rounds/<r>/heads/<addr>`: only `<addr>`, once, while `running`, for the current round
//!   once its model is posted, by a registered provider, 64 characters;
//! - `proofs/<proof id>`: a fresh id, an object, while `running` (the function checks the rest);
//! - `stakes`, `steps`, `statements`, `verified`, `payouts`, `refund`: `false` (functions only);
//! - everything else under `/tasks/<id>` has no rule and is denied (default deny).
//!
//! The rules check lengths, not hex digits: [`TaskSpec::from_create_op`] (what a node checks
//! before it accepts a creation) checks the config fully, and the functions check what they read.
//!
//! # Creating a task
//! One signed transaction whose op is exactly [`TaskSpec::create_op`]'s `SET`, in this order:
//! `owner` = sender, `config`, `status` = `"open"`, `round` = 0, `/escrow/<id>/admin` = sender,
//! and, when the escrow is positive, `/escrow/<id>/deposit/<sender>/create` = escrow (the
//! built-in `_deposit` moves it from the sender's balance). All or nothing: if the id is taken
//! (owner or escrow admin already set) or the balance is short, nothing is created.
//!
//! A provider joins with [`provider_join_op`]: its stake (through `_stake`), its client index
//! and data-root claims and its registration in one `SET`.

use std::collections::BTreeMap;

use crate::account::Address;
use crate::ops::Op;
use crate::path::{Path, PathError, check_data_segment};
use crate::settlement::ProofConfig;
use crate::value::Value;

/// The reward rule names a config may carry.
pub const REWARD_RULES: [&str; 2] = ["even", "proportional"];

/// The rules (pattern, source) genesis installs for task records.
pub const TASK_RULES: &[(&str, &str)] = &[
    ("/tasks/$task/owner", "data == null && newData == auth.addr"),
    (
        "/tasks/$task/config",
        "auth.addr == getValue('/tasks/' + $task + '/owner') \
         && (getValue('/tasks/' + $task + '/status') == null \
             || getValue('/tasks/' + $task + '/status') == 'open') \
         && util.isObject(newData) && util.length(newData) == 4 \
         && (newData.reward == 'even' || newData.reward == 'proportional') \
         && util.isInt(newData.rounds) && newData.rounds > 0 \
         && util.isInt(newData.min_stake) && newData.min_stake >= 0 \
         && util.isObject(newData.verifier) && util.length(newData.verifier) == 6 \
         && newData.verifier.system == 'groth16' \
         && newData.verifier.relation == 'training-step' \
         && util.isString(newData.verifier.shape) && util.isString(newData.verifier.vk) \
         && util.isString(newData.verifier.program_digest) \
         && util.length(newData.verifier.program_digest) == 64 \
         && util.isObject(newData.verifier.lrs)",
    ),
    (
        "/tasks/$task/status",
        "auth.addr == getValue('/tasks/' + $task + '/owner') \
         && ((data == null && newData == 'open') \
             || (data == 'open' && (newData == 'running' || newData == 'closed')) \
             || (data == 'running' && newData == 'closed'))",
    ),
    (
        "/tasks/$task/round",
        "auth.addr == getValue('/tasks/' + $task + '/owner') && util.isInt(newData) \
         && ((data == null && newData == 0) || (util.isInt(data) && newData == data + 1)) \
         && newData <= getValue('/tasks/' + $task + '/config').rounds",
    ),
    (
        "/tasks/$task/clients/$n",
        "data == null && newData == auth.addr \
         && getValue('/tasks/' + $task + '/status') == 'open'",
    ),
    (
        "/tasks/$task/data_roots/$root",
        "data == null && newData == auth.addr && util.length($root) == 64 \
         && getValue('/tasks/' + $task + '/status') == 'open'",
    ),
    (
        "/tasks/$task/providers/$addr",
        "auth.addr == $addr && data == null \
         && getValue('/tasks/' + $task + '/status') == 'open' \
         && util.isObject(newData) && util.length(newData) == 2 \
         && util.isInt(newData.client) && newData.client >= 0 \
         && newData.client <= 4294967295 \
         && getValue('/tasks/' + $task + '/clients/' + newData.client) == $addr \
         && util.isString(newData.data_root) && util.length(newData.data_root) == 64 \
         && getValue('/tasks/' + $task + '/data_roots/' + newData.data_root) == $addr \
         && (getValue('/tasks/' + $task + '/config').min_stake == 0 \
             || (getValue('/tasks/' + $task + '/stakes/' + $addr) != null \
                 && getValue('/tasks/' + $task + '/stakes/' + $addr) \
                    >= getValue('/tasks/' + $task + '/config').min_stake))",
    ),
    (
        "/tasks/$task/rounds/$r/model",
        "auth.addr == getValue('/tasks/' + $task + '/owner') && data == null \
         && getValue('/tasks/' + $task + '/status') == 'running' \
         && getValue('/tasks/' + $task + '/round') > 0 \
         && '' + getValue('/tasks/' + $task + '/round') == $r \
         && util.isString(newData) && util.length(newData) == 64",
    ),
    (
        "/tasks/$task/rounds/$r/heads/$addr",
        "auth.addr == $addr && data == null \
         && getValue('/tasks/' + $task + '/status') == 'running' \
         && '' + getValue('/tasks/' + $task + '/round') == $r \
         && getValue('/tasks/' + $task + '/rounds/' + $r + '/model') != null \
         && getValue('/tasks/' + $task + '/providers/' + $addr) != null \
         && util.isString(newData) && util.length(newData) == 64",
    ),
    (
        "/tasks/$task/proofs/$proof",
        "data == null && util.isObject(newData) \
         && getValue('/tasks/' + $task + '/status') == 'running'",
    ),
    ("/tasks/$task/steps", "false"),
    ("/tasks/$task/statements", "false"),
    ("/tasks/$task/verified", "false"),
    ("/tasks/$task/payouts", "false"),
    ("/tasks/$task/refund", "false"),
];

/// Why a task description or a creation op is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The id is not a valid path segment.
    #[error("bad task id {id:?}: {source}")]
    BadId {
        /// The id as given.
        id: String,
        /// Why.
        source: PathError,
    },
    /// A config field is missing or out of range.
    #[error("bad task config: {0}")]
    BadConfig(String),
    /// The op is not a task creation of the documented form.
    #[error("not a task creation: {0}")]
    NotCreation(String),
}

/// How settlement splits a task's escrow among its providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewardRule {
    /// Equal shares.
    Even,
    /// Shares proportional to each provider's accepted work.
    Proportional,
}

impl RewardRule {
    /// The name stored in the config.
    pub fn name(self) -> &'static str {
        match self {
            RewardRule::Even => "even",
            RewardRule::Proportional => "proportional",
        }
    }

    /// The rule with this stored name.
    pub fn from_name(name: &str) -> Option<RewardRule> {
        match name {
            "even" => Some(RewardRule::Even),
            "proportional" => Some(RewardRule::Proportional),
            _ => None,
        }
    }
}

/// A task to create: its id, config and initial escrow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpec {
    /// The task id (one path segment).
    pub id: String,
    /// How the escrow is split.
    pub reward: RewardRule,
    /// Which proofs the task pays for.
    pub verifier: ProofConfig,
    /// Number of training rounds (at least 1).
    pub rounds: u64,
    /// Least stake a provider must hold to register (0: none needed).
    pub min_stake: i128,
    /// Deposited into the task's escrow at creation (0: none).
    pub escrow: i128,
}

/// `/tasks/<id>/<leaf…>`.
pub fn task_path(id: &str, leaf: &[&str]) -> Result<Path, TaskError> {
    let bad = |source| TaskError::BadId {
        id: id.to_owned(),
        source,
    };
    check_data_segment(id).map_err(bad)?;
    Path::from_segments(["tasks", id].iter().chain(leaf)).map_err(bad)
}

/// `/escrow/<id>/<leaf…>`.
pub fn escrow_path(id: &str, leaf: &[&str]) -> Result<Path, TaskError> {
    let bad = |source| TaskError::BadId {
        id: id.to_owned(),
        source,
    };
    check_data_segment(id).map_err(bad)?;
    Path::from_segments(["escrow", id].iter().chain(leaf)).map_err(bad)
}

fn set(path: Path, value: Value) -> Op {
    Op::SetValue { path, value }
}

impl TaskSpec {
    /// Checks the id and the ranges: rounds ≥ 1, min stake ≥ 0, escrow ≥ 0.
    pub fn validate(&self) -> Result<(), TaskError> {
        task_path(&self.id, &[])?;
        if self.rounds == 0 || i128::from(self.rounds) > i128::from(i64::MAX) {
            return Err(TaskError::BadConfig(format!(
                "rounds must be 1 to {}, got {}",
                i64::MAX,
                self.rounds
            )));
        }
        if self.min_stake < 0 {
            return Err(TaskError::BadConfig(format!(
                "min_stake must be at least 0, got {}",
                self.min_stake
            )));
        }
        if self.escrow < 0 {
            return Err(TaskError::BadConfig(format!(
                "escrow must be at least 0, got {}",
                self.escrow
            )));
        }
        Ok(())
    }

    /// The value stored at `/tasks/<id>/config`.
    pub fn config_value(&self) -> Value {
        Value::Object(BTreeMap::from([
            ("min_stake".to_owned(), Value::Int(self.min_stake)),
            ("reward".to_owned(), Value::from(self.reward.name())),
            ("rounds".to_owned(), Value::Int(i128::from(self.rounds))),
            ("verifier".to_owned(), self.verifier.to_value()),
        ]))
    }

    /// The `SET` that creates this task with `owner` as creator (see the module docs).
    pub fn create_op(&self, owner: &Address) -> Result<Op, TaskError> {
        self.validate()?;
        let me = owner.to_string();
        let mut ops = vec![
            set(task_path(&self.id, &["owner"])?, Value::Str(me.clone())),
            set(task_path(&self.id, &["config"])?, self.config_value()),
            set(task_path(&self.id, &["status"])?, Value::from("open")),
            set(task_path(&self.id, &["round"])?, Value::Int(0)),
            set(escrow_path(&self.id, &["admin"])?, Value::Str(me.clone())),
        ];
        if self.escrow > 0 {
            let deposit = escrow_path(&self.id, &["deposit", &me, "create"])?;
            ops.push(set(deposit, Value::Int(self.escrow)));
        }
        Ok(Op::Set(ops))
    }

    /// Reads back a creation op sent by `sender`: it must be exactly
    /// [`TaskSpec::create_op`]`(sender)` of the spec it describes.
    pub fn from_create_op(op: &Op, sender: &Address) -> Result<TaskSpec, TaskError> {
        let not = |m: &str| TaskError::NotCreation(m.to_owned());
        let Op::Set(ops) = op else {
            return Err(not("the op must be a SET"));
        };
        let Some(Op::SetValue { path, .. }) = ops.first() else {
            return Err(not("the first op must set /tasks/<id>/owner"));
        };
        let id = match path.segments() {
            [tasks, id, owner] if tasks == "tasks" && owner == "owner" => id.clone(),
            _ => return Err(not("the first op must set /tasks/<id>/owner")),
        };
        let config = match ops.get(1) {
            Some(Op::SetValue { path, value }) if *path == task_path(&id, &["config"])? => value,
            _ => return Err(not("the second op must set /tasks/<id>/config")),
        };
        let escrow = match ops.get(5) {
            Some(Op::SetValue {
                value: Value::Int(n),
                ..
            }) => *n,
            _ => 0,
        };
        let spec = TaskSpec::from_config(&id, config, escrow)?;
        if spec.create_op(sender)? != *op {
            return Err(not(
                "the SET differs from the documented creation (owner, config, status, round, \
                 escrow admin, deposit; all by the sender)",
            ));
        }
        Ok(spec)
    }

    /// The spec of task `id` from its stored config value and an escrow amount.
    pub fn from_config(id: &str, config: &Value, escrow: i128) -> Result<TaskSpec, TaskError> {
        let bad = |m: String| TaskError::BadConfig(m);
        let Value::Object(fields) = config else {
            return Err(bad("the config must be an object".to_owned()));
        };
        if let Some(extra) = fields
            .keys()
            .find(|k| !["min_stake", "reward", "rounds", "verifier"].contains(&k.as_str()))
        {
            return Err(bad(format!("unknown field {extra:?}")));
        }
        let field = |name: &str| config.child(name);
        let reward = field("reward")
            .as_str()
            .and_then(RewardRule::from_name)
            .ok_or_else(|| bad(format!("reward must be one of {REWARD_RULES:?}")))?;
        let verifier =
            ProofConfig::from_value(field("verifier")).map_err(|e| bad(e.to_string()))?;
        let rounds = field("rounds")
            .as_int()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad("rounds must be a positive integer".to_owned()))?;
        let min_stake = field("min_stake")
            .as_int()
            .ok_or_else(|| bad("min_stake must be an integer".to_owned()))?;
        let spec = TaskSpec {
            id: id.to_owned(),
            reward,
            verifier,
            rounds,
            min_stake,
            escrow,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The `SET` by which `provider` joins task `id` as client `client`: stake `stake` (skipped
/// when 0) through the built-in `_stake` (request key `key`, which must be fresh), claim the
/// client index and the data root, and register.
pub fn provider_join_op(
    id: &str,
    provider: &Address,
    client: u32,
    data_root: &[u8; 32],
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
    ]));
    ops.push(set(task_path(id, &["providers", &me])?, registration));
    Ok(Op::Set(ops))
}

/// The owner's op posting round `round`'s global model digest (after moving `round` there).
pub fn post_model_op(id: &str, round: u64, model: &[u8; 32]) -> Result<Op, TaskError> {
    let path = task_path(id, &["rounds", &round.to_string(), "model"])?;
    Ok(set(path, Value::Str(hex::encode(model))))
}

/// A provider's op posting its proof-of-learning log head for round `round`.
pub fn post_head_op(
    id: &str,
    round: u64,
    provider: &Address,
    head: &[u8; 32],
) -> Result<Op, TaskError> {
    let path = task_path(
        id,
        &["rounds", &round.to_string(), "heads", &provider.to_string()],
    )?;
    Ok(set(path, Value::Str(hex::encode(head))))
}

/// A provider's proof submission at `/tasks/<id>/proofs/<proof_id>`: the proof file's bytes and
/// the log tail (see [`crate::settlement::pol_log`]).
pub fn submit_proof_op(
    id: &str,
    proof_id: &str,
    proof_file: &[u8],
    log_suffix: &[u8],
) -> Result<Op, TaskError> {
    let value = Value::Object(BTreeMap::from([
        ("log_suffix".to_owned(), Value::Str(hex::encode(log_suffix))),
        ("proof".to_owned(), Value::Str(hex::encode(proof_file))),
    ]));
    Ok(set(task_path(id, &["proofs", proof_id])?, value))
}
