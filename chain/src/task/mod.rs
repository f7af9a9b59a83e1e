//! Federated-learning tasks in the state: the record layout, the rules genesis installs for
//! it, and the transactions of a task's life.
//!
//! # Layout
//! ```text
//! /tasks/<id>/owner              = "<address>"   the creator; written once
//! /tasks/<id>/config             = {"challenge": {…}, "min_stake": n ≥ 0,
//!                                   "reward": "even" | "proportional" | "shapley",
//!                                   "rounds": n ≥ 1, "verifier": {…},
//!                                   "contribution": {…}}   (only, and always, with shapley)
//! /tasks/<id>/config/challenge   = {"q": n ≥ 1, "audit": 0..=1000, "deadline": n ≥ 1}
//!                                  steps drawn per audited provider-round, the chance (per
//!                                  mille) that a provider-round is audited, and the blocks a
//!                                  challenged provider has to answer (ChallengeParams)
//! /tasks/<id>/config/verifier    = {"system": "groth16", "relation": "training-step",
//!                                   "shape": json, "program_digest": hex, "vk": hex,
//!                                   "lrs": {"<lr>": true, …}}   (crate::settlement::ProofConfig)
//! /tasks/<id>/config/contribution = {"shape": json, "program_digest": hex, "vk": hex,
//!                                   "validation_root": hex, "min_gain": 0..=100}
//!                                  how each round's Shapley values are proven
//!                                  (crate::settlement::ContributionConfig)
//! /tasks/<id>/setup/<key>/<addr> = a δ contribution to the key's ceremony, replaced by
//!                                  {"contribution": hex, "index": n, "receipt": hex}
//!                                  (`<key>` training-step or contribution; only for a key
//!                                  config with `ceremony`; crate::settlement::setup)
//! /tasks/<id>/turns/<key>        = {"addr": "<addr>", "receipt": hex}   who may contribute
//!                                  next after the owner, and the receipt its contribution
//!                                  must have (written by the owner)
//! /tasks/<id>/transcripts/<key>  = hex of the ceremony's ceremony::Transcript (functions only)
//! /tasks/<id>/status             = "open" → "running" → "closed" (or "open" → "closed")
//! /tasks/<id>/round              = the current round: 0 at creation (not started), then +1
//!                                  up to rounds, each once the previous round is sealed
//! /tasks/<id>/providers/<addr>   = {"client": n, "data_root": "<64 hex digits>", "samples": n}
//!                                  a registration; samples (1 ≤ n < 2^20) is the provider's
//!                                  training rows, its FedAvg weight
//! /tasks/<id>/clients/<n>        = "<addr>"      client index n claimed by addr (once)
//! /tasks/<id>/data_roots/<root>  = "<addr>"      data root claimed by addr (once)
//! /tasks/<id>/stakes/<addr>      = n   written only by the built-in `_stake`
//! /tasks/<id>/rounds/<r>/model   = "<64 hex>"    SHA-256 of the global model round r starts from
//! /tasks/<id>/rounds/<r>/logs/<addr> = {"head": hex, "root": hex, "steps": n, "update": hex}
//!                                  addr's proof-of-learning log of round r: its head, the root
//!                                  of its record tree, its step count, and the SHA-256 of the
//!                                  update it trained (see the `pol` crate)
//! /tasks/<id>/rounds/<r>/valuation = {"aggregate": hex, "table": hex}   (shapley tasks) the
//!                                  BN254 Poseidon commitments of the aggregate and of the
//!                                  round's utility table, fixed with the seal (same SET, before
//!                                  the aggregate), so before the seed of the draw exists
//! /tasks/<id>/rounds/<r>/aggregate = "<64 hex>"  SHA-256 of the aggregated model; seals round r
//! /tasks/<id>/rounds/<r>/sealed  = n   the height of the block that sealed it (`_sealRound`)
//! /tasks/<id>/rounds/<r>/draw    = s + 1   asks `_drawChallenge` to draw the challenge
//! /tasks/<id>/rounds/<r>/challenge = {"block": s + 1, "seed": hex, "due": d + deadline,
//!                                     "steps": {"<addr>": {"<t>": true, …}, …}}
//!                                  drawn from the hash of block s + 1 (the block after the
//!                                  seal) in block d
//! /tasks/<id>/rounds/<r>/proven/<addr>/<t> = proof id   a challenged step, proven
//! /tasks/<id>/rounds/<r>/contribution = the owner's contribution proof of round r, replaced by
//!                                  true when `_verifyContributionProof` accepts it
//! /tasks/<id>/rounds/<r>/shapley = {"denominator": N!, "values": {"<addr>": N!·φ, …}}   the
//!                                  verified values (written by the function alone)
//! /tasks/<id>/proofs/<proof id>  = a submission, replaced by {"provider", "round", "step",
//!                                  "verified": true} when `_verifyTrainingProof` accepts it
//! /tasks/<id>/statements/<hash>  = proof id      (replay guard)
//! /tasks/<id>/verified/<addr>    = n   proofs of addr the ledger verified
//! /tasks/<id>/credited/<addr>, /slashed/<addr>, /payouts/<addr>, /refund   what closing decided
//! /tasks/<id>/paid_by            = "shapley" | "proportional" | "even", with why for a shapley
//!                                  task that falls back (closing)
//! /tasks/<id>/values             = {"denominator": L, "values": {"<addr>": L·φ, …}}   the task
//!                                  values a shapley task was paid by (closing)
//! /escrow/<id>/admin, /balance   the task's escrow (built-in escrow functions); admin = owner
//! ```
//! `<id>` is one data path segment (see [`crate::path`]). Data roots are the provider's BN254
//! Poseidon Merkle root, hex of its canonical little-endian bytes. The protocol and the functions
//! are in [`crate::settlement`].
//!
//! # Rules (installed at genesis by [`crate::functions::builtin::genesis_ops`])
//! - `owner`: may be written once, with the writer's own address;
//! - `config`: only the owner, only while the status is absent or `open`, no provider has
//!   registered and nobody has contributed to a key, and only a
//!   well-formed config (the five fields above, plus `contribution` exactly when the reward is
//!   `shapley`, nothing else; the verifier object's six fields, or seven with a
//!   64-character `ceremony`, with `system` `groth16` and `relation` `training-step`; the
//!   challenge's three);
//! - `status`: only the owner, only along `open → running → closed` or `open → closed`;
//! - `round`: only the owner, `0` first, then one more each time once the current round is
//!   sealed, at most `config.rounds`;
//! - `clients/<n>`, `data_roots/<root>`: once, with the writer's own address, while `open`
//!   (`<root>` 64 characters);
//! - `providers/<addr>`: only `<addr>` itself, once, only while the task is `open`, only
//!   `{"client": n, "data_root": <64 chars>, "samples": 1..2^20}` with `n` a `u32` and both
//!   claimed by `<addr>`,
//!   and only with a stake of at least `config.min_stake` already at `stakes/<addr>` (any stake
//!   when `min_stake` is 0), and, for each key config with a `ceremony`, only once `<addr>`
//!   has contributed to that key (`setup/<key>/<addr>`);
//! - `setup/<key>/<addr>`: only `<addr>` itself, once, while `open`, a string, `<key>`
//!   `training-step` or `contribution`, the owner's first (which freezes the config before
//!   anyone else contributes), then only the party `turns/<key>` names; nothing below it (the
//!   function checks the rest, and that the receipt is the turn's);
//! - `turns/<key>`: only the owner, while `open`, once it has contributed to `<key>`,
//!   `{"addr": string, "receipt": 64 chars}`;
//! - `rounds/<r>/model`: only the owner, once, while `running`, for the current round (≥ 1),
//!   64 characters;
//! - `rounds/<r>/logs/<addr>`: only `<addr>`, once, while `running`, for the current round
//!   once its model is posted and before it is sealed, by a registered provider, the four
//!   fields above with at least one step (a record that is not exactly these, which only its
//!   provider can cause, counts as no log);
//! - `rounds/<r>/aggregate`: only the owner, once, while `running`, for the current round once
//!   its model is posted, 64 characters; in a `shapley` task only once `valuation` is there;
//! - `rounds/<r>/valuation`: only the owner, once, while `running`, for the current round once
//!   its model is posted and before it is sealed, two 64-character strings;
//! - `rounds/<r>/contribution`: only the owner, once, an object, while `running` (the function
//!   checks the rest);
//! - `rounds/<r>/draw`: anyone, once, after the round is sealed, an integer (the function
//!   checks it is the block after the seal and writes `rounds/<r>/challenge`); nothing below it;
//! - `proofs/<proof id>`: a fresh id, an object, while `running` (the function checks the rest);
//! - `stakes`, `transcripts`, `rounds/<r>/sealed`, `rounds/<r>/challenge`, `rounds/<r>/proven`, `statements`,
//!   `verified`, `credited`,
//!   `slashed`, `payouts`, `refund`, `paid_by`, `values`, `rounds/<r>/shapley`: `false`
//!   (functions only);
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
//! (owner or escrow admin already set) or the balance is short, nothing is created. The other
//! transactions of a task are built by [`ops`].

use std::collections::BTreeMap;

use crate::account::Address;
use crate::ops::Op;
use crate::path::{Path, PathError, check_data_segment};
use crate::settlement::{ContributionConfig, ProofConfig};
use crate::value::Value;

pub mod ops;
pub mod rules;

pub use ops::{
    LogPost, RoundValuation, contribute_key_op, draw_challenge_op, in_one_set, key_turn_op,
    post_log_op, post_model_op, posted_log, provider_join_op, seal_round_op,
    submit_contribution_op, submit_proof_op,
};
pub use rules::TASK_RULES;

/// The reward rule names a config may carry.
pub const REWARD_RULES: [&str; 3] = ["even", "proportional", "shapley"];

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
    /// Equal shares among the providers credited with at least one round.
    Even,
    /// Shares proportional to each provider's credited rounds.
    Proportional,
    /// Shares proportional to each provider's proven Shapley value over the task's rounds
    /// (`contribution::payout`), among the providers not slashed; proportional when a round
    /// with logs has no verified contribution proof (see [`crate::settlement`]).
    Shapley,
}

impl RewardRule {
    /// The name stored in the config.
    pub fn name(self) -> &'static str {
        match self {
            RewardRule::Even => "even",
            RewardRule::Proportional => "proportional",
            RewardRule::Shapley => "shapley",
        }
    }

    /// The rule with this stored name.
    pub fn from_name(name: &str) -> Option<RewardRule> {
        match name {
            "even" => Some(RewardRule::Even),
            "proportional" => Some(RewardRule::Proportional),
            "shapley" => Some(RewardRule::Shapley),
            _ => None,
        }
    }
}

/// How a task challenges its providers' rounds (`/tasks/<id>/config/challenge`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeParams {
    /// Which steps are drawn: `q` per audited provider-round, each provider-round audited
    /// with probability `audit`/1000 (see [`pol::challenge`]).
    pub rule: pol::ChallengeRule,
    /// Blocks after the block the challenge is drawn in by which a challenged provider must
    /// have proven every step drawn for it; after that, it is slashed at closing.
    pub deadline: u64,
}

impl ChallengeParams {
    /// The value stored at `/tasks/<id>/config/challenge`.
    pub fn to_value(&self) -> Value {
        Value::Object(BTreeMap::from([
            ("audit".to_owned(), Value::Int(i128::from(self.rule.audit))),
            ("deadline".to_owned(), Value::Int(i128::from(self.deadline))),
            ("q".to_owned(), Value::Int(i128::from(self.rule.q))),
        ]))
    }

    /// Reads and checks a stored challenge config.
    pub fn from_value(value: &Value) -> Result<ChallengeParams, TaskError> {
        let bad = |m: &str| TaskError::BadConfig(format!("challenge: {m}"));
        let Value::Object(fields) = value else {
            return Err(bad("must be an object"));
        };
        if fields.len() != 3 {
            return Err(bad("must have exactly q, audit and deadline"));
        }
        let int = |name: &str| value.child(name).as_int();
        let q = int("q")
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| bad("q must be a positive integer"))?;
        let audit = int("audit")
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n <= 1000)
            .ok_or_else(|| bad("audit must be 0 to 1000 (per mille)"))?;
        let deadline = int("deadline")
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n > 0 && i128::from(n) <= i128::from(i64::MAX))
            .ok_or_else(|| bad("deadline must be a positive number of blocks"))?;
        Ok(ChallengeParams {
            rule: pol::ChallengeRule { q, audit },
            deadline,
        })
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
    /// How contributions are proven: `Some` exactly when the reward is `shapley`.
    pub contribution: Option<ContributionConfig>,
    /// How rounds are challenged.
    pub challenge: ChallengeParams,
    /// Number of training rounds (at least 1).
    pub rounds: u64,
    /// Least stake a provider must hold to register (0: none needed).
    pub min_stake: i128,
    /// Deposited into the task's escrow at creation (0: none).
    pub escrow: i128,
}

/// `/tasks/<id>/<leaf…>`.
pub fn task_path(id: &str, leaf: &[&str]) -> Result<Path, TaskError> {
    under("tasks", id, leaf)
}

/// `/escrow/<id>/<leaf…>`.
pub fn escrow_path(id: &str, leaf: &[&str]) -> Result<Path, TaskError> {
    under("escrow", id, leaf)
}

/// `/<root>/<id>/<leaf…>`, with `id` checked as one data segment.
fn under(root: &str, id: &str, leaf: &[&str]) -> Result<Path, TaskError> {
    let bad = |source| TaskError::BadId {
        id: id.to_owned(),
        source,
    };
    check_data_segment(id).map_err(bad)?;
    Path::from_segments([root, id].iter().chain(leaf)).map_err(bad)
}

pub(crate) fn set(path: Path, value: Value) -> Op {
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
        ChallengeParams::from_value(&self.challenge.to_value())?;
        if (self.reward == RewardRule::Shapley) != self.contribution.is_some() {
            return Err(TaskError::BadConfig(
                "a contribution config comes with the shapley reward, and only with it".into(),
            ));
        }
        Ok(())
    }

    /// The value stored at `/tasks/<id>/config`.
    pub fn config_value(&self) -> Value {
        let mut fields = BTreeMap::from([
            ("challenge".to_owned(), self.challenge.to_value()),
            ("min_stake".to_owned(), Value::Int(self.min_stake)),
            ("reward".to_owned(), Value::from(self.reward.name())),
            ("rounds".to_owned(), Value::Int(i128::from(self.rounds))),
            ("verifier".to_owned(), self.verifier.to_value()),
        ]);
        if let Some(contribution) = &self.contribution {
            fields.insert("contribution".to_owned(), contribution.to_value());
        }
        Value::Object(fields)
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
        if let Some(extra) = fields.keys().find(|k| {
            ![
                "challenge",
                "contribution",
                "min_stake",
                "reward",
                "rounds",
                "verifier",
            ]
            .contains(&k.as_str())
        }) {
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
        let challenge = ChallengeParams::from_value(field("challenge"))?;
        let contribution = match field("contribution") {
            v if v.is_absent() => None,
            v => Some(ContributionConfig::from_value(v).map_err(|e| bad(e.to_string()))?),
        };
        let spec = TaskSpec {
            id: id.to_owned(),
            reward,
            verifier,
            contribution,
            challenge,
            rounds,
            min_stake,
            escrow,
        };
        spec.validate()?;
        Ok(spec)
    }
}
