//! The ledger's built-in native functions, and the genesis config that wires them up.
//!
//! | trigger (value written there)           | function    | effect |
//! |-----------------------------------------|-------------|--------|
//! | `/transfer/$from/$to/$key/value` = n    | `_transfer` | moves n from `/accounts/$from/balance` to `/accounts/$to/balance` |
//! | `/escrow/$task/deposit/$from/$key` = n  | `_deposit`  | moves n from `/accounts/$from/balance` to `/escrow/$task/balance` |
//! | `/escrow/$task/release/$key` = {addr: n}| `_release`  | pays each n from `/escrow/$task/balance` to `/accounts/addr/balance` |
//! | `/stake/$task/$addr/$key` = n           | `_stake`    | moves n from `/accounts/$addr/balance` to `/tasks/$task/stakes/$addr` |
//!
//! An escrow is opened by writing `/escrow/$task/admin` = your own address (once); only that
//! admin may release. Amounts are positive integers; every function also checks that the writer
//! is the payer (`auth.addr == $from`), so it is safe even under a permissive rule. `$key` makes
//! each request a fresh path: the genesis rules require `data == null`, so a request cannot be
//! replayed. Balances, escrow balances and stakes are written only by these functions: genesis
//! sets `false` rules on them.
//!
//! Task functions ([`crate::settlement`]): `_sealRound` at `/tasks/$task/rounds/$r/aggregate`
//! seals a round, `_drawChallenge` at `/tasks/$task/rounds/$r/draw` draws its challenge,
//! `_verifyTrainingProof` at `/tasks/$task/proofs/$proof` checks a provider's training proof,
//! `_verifyContributionProof` at `/tasks/$task/rounds/$r/contribution` checks the owner's proof
//! of a round's Shapley values, `_acceptKeyContribution` at `/tasks/$task/setup/$key/$addr`
//! checks a party's δ contribution to a task key's ceremony, `_settle` at `/tasks/$task/status` pays the escrow out when
//! the task closes. `_verifyTrainingProof` is an extension point: [`Builtins::new`] uses
//! the ledger's Groth16 verifier ([`crate::settlement::Groth16TaskVerifier`]);
//! [`Builtins::with_proof_verifier`] installs another [`TrainingProofVerifier`].

use std::collections::BTreeMap;

use super::{FunctionCall, FunctionError, NativeFunctions};
use crate::ops::{FunctionConfig, Op};
use crate::owner::OwnerConfig;
use crate::path::{Path, PathPattern};
use crate::rules::Rule;
use crate::state::StateTxn;
use crate::value::Value;

/// Id of the transfer function.
pub const TRANSFER: &str = "_transfer";
/// Id of the escrow deposit function.
pub const DEPOSIT: &str = "_deposit";
/// Id of the escrow release function.
pub const RELEASE: &str = "_release";
/// Id of the task stake function.
pub const STAKE: &str = "_stake";
/// Id of the training-proof verifier.
pub const VERIFY_TRAINING_PROOF: &str = "_verifyTrainingProof";
/// Id of the task settlement function.
pub const SETTLE: &str = "_settle";
/// Id of the function sealing a task round.
pub const SEAL_ROUND: &str = "_sealRound";
/// Id of the function drawing a task round's challenge.
pub const DRAW_CHALLENGE: &str = "_drawChallenge";
/// Id of the contribution-proof verifier.
pub const VERIFY_CONTRIBUTION_PROOF: &str = "_verifyContributionProof";
/// Id of the function accepting a party's δ contribution to a task key's ceremony.
pub const ACCEPT_KEY_CONTRIBUTION: &str = "_acceptKeyContribution";

/// The proof verifier behind `_verifyTrainingProof` (the ledger's own is
/// [`crate::settlement::Groth16TaskVerifier`]; it reads the task's committed key and records
/// verified work, and a verifier may pay out directly with [`escrow_payout`]).
/// `Send` like [`NativeFunctions`], which holds it.
pub trait TrainingProofVerifier: Send {
    /// Verifies the proof submission written at `call.path`; an error rejects the write.
    fn verify(
        &self,
        call: &FunctionCall<'_>,
        state: &mut StateTxn<'_>,
    ) -> Result<(), FunctionError>;
}

/// The built-in functions, with the training-proof verifier behind `_verifyTrainingProof`.
pub struct Builtins {
    proof_verifier: Box<dyn TrainingProofVerifier>,
}

impl Default for Builtins {
    fn default() -> Builtins {
        Builtins::with_proof_verifier(Box::new(crate::settlement::Groth16TaskVerifier))
    }
}

impl Builtins {
    /// The built-ins with the ledger's Groth16 task verifier.
    pub fn new() -> Builtins {
        Builtins::default()
    }

    /// The built-ins with `_verifyTrainingProof` handled by `verifier`.
    pub fn with_proof_verifier(verifier: Box<dyn TrainingProofVerifier>) -> Builtins {
        Builtins {
            proof_verifier: verifier,
        }
    }
}

impl NativeFunctions for Builtins {
    fn exists(&self, function_id: &str) -> bool {
        matches!(
            function_id,
            TRANSFER
                | DEPOSIT
                | RELEASE
                | STAKE
                | VERIFY_TRAINING_PROOF
                | SETTLE
                | SEAL_ROUND
                | DRAW_CHALLENGE
                | VERIFY_CONTRIBUTION_PROOF
                | ACCEPT_KEY_CONTRIBUTION
        )
    }

    fn call(&self, call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
        match call.function_id {
            TRANSFER => transfer(call, state),
            DEPOSIT => deposit(call, state),
            RELEASE => release(call, state),
            STAKE => stake(call, state),
            VERIFY_TRAINING_PROOF => self.proof_verifier.verify(call, state),
            SETTLE => crate::settlement::settle(call, state),
            SEAL_ROUND => crate::settlement::challenge::seal_round(call, state),
            DRAW_CHALLENGE => crate::settlement::challenge::draw_challenge(call, state),
            VERIFY_CONTRIBUTION_PROOF => crate::settlement::contribution::verify(call, state),
            ACCEPT_KEY_CONTRIBUTION => crate::settlement::setup::accept(call, state),
            other => Err(FunctionError::Unknown(other.to_owned())),
        }
    }
}

/// `/accounts/<addr>/balance`
pub fn balance_path(addr: &str) -> Result<Path, FunctionError> {
    Path::from_segments(["accounts", addr, "balance"])
        .map_err(|e| FunctionError::BadInput(format!("address {addr:?}: {e}")))
}

/// `/escrow/<task>/<leaf>`
fn escrow_path(task: &str, leaf: &str) -> Result<Path, FunctionError> {
    Path::from_segments(["escrow", task, leaf]).map_err(|e| FunctionError::BadInput(e.to_string()))
}

fn require_writer(call: &FunctionCall<'_>, expected: &str) -> Result<(), FunctionError> {
    if call.ctx.auth.addr == expected {
        Ok(())
    } else {
        Err(FunctionError::Unauthorized(format!(
            "{} may not move funds of {expected}",
            call.ctx.auth.addr
        )))
    }
}

fn positive_amount(value: &Value) -> Result<i128, FunctionError> {
    match value {
        Value::Int(n) if *n > 0 => Ok(*n),
        other => Err(FunctionError::BadInput(format!(
            "amount must be a positive integer, got {}",
            other.to_canonical_json()
        ))),
    }
}

/// Takes `amount` from the integer at `path`; fails if it holds less.
pub fn debit(state: &mut StateTxn<'_>, path: &Path, amount: i128) -> Result<(), FunctionError> {
    let balance = state
        .get_int(path)
        .ok_or_else(|| FunctionError::BadBalance(path.to_string()))?;
    if balance < amount {
        return Err(FunctionError::InsufficientBalance {
            path: path.to_string(),
            balance,
            needed: amount,
        });
    }
    state.set_value(path, Value::Int(balance - amount))?;
    Ok(())
}

/// Adds `amount` to the integer at `path` (absent counts as 0).
pub fn credit(state: &mut StateTxn<'_>, path: &Path, amount: i128) -> Result<(), FunctionError> {
    let new = state
        .get_int(path)
        .and_then(|b| b.checked_add(amount))
        .ok_or_else(|| FunctionError::BadBalance(path.to_string()))?;
    state.set_value(path, Value::Int(new))?;
    Ok(())
}

fn transfer(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let (from, to) = (call.var("from")?, call.var("to")?);
    require_writer(call, from)?;
    let amount = positive_amount(call.value)?;
    debit(state, &balance_path(from)?, amount)?;
    credit(state, &balance_path(to)?, amount)
}

fn deposit(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let (task, from) = (call.var("task")?, call.var("from")?);
    require_writer(call, from)?;
    if state
        .get_value(&escrow_path(task, "admin")?)
        .as_str()
        .is_none()
    {
        return Err(FunctionError::BadInput(format!(
            "escrow {task} is not open (no admin)"
        )));
    }
    let amount = positive_amount(call.value)?;
    debit(state, &balance_path(from)?, amount)?;
    credit(state, &escrow_path(task, "balance")?, amount)
}

fn release(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let task = call.var("task")?;
    let admin = state.get_value(&escrow_path(task, "admin")?);
    if admin.as_str() != Some(call.ctx.auth.addr.as_str()) {
        return Err(FunctionError::Unauthorized(format!(
            "{} is not the admin of escrow {task}",
            call.ctx.auth.addr
        )));
    }
    let Value::Object(entries) = call.value else {
        return Err(FunctionError::BadInput(
            "a release is an object {address: amount}".to_owned(),
        ));
    };
    let payouts = entries
        .iter()
        .map(|(addr, amount)| Ok((addr.clone(), positive_amount(amount)?)))
        .collect::<Result<BTreeMap<_, _>, FunctionError>>()?;
    escrow_payout(state, task, &payouts)
}

/// Pays each `address: amount` from `/escrow/<task>/balance`; all or nothing (the caller's
/// transaction rolls back on error). For `_release` and the proof verifier.
pub fn escrow_payout(
    state: &mut StateTxn<'_>,
    task: &str,
    payouts: &BTreeMap<String, i128>,
) -> Result<(), FunctionError> {
    let total = payouts
        .values()
        .try_fold(0i128, |acc, n| acc.checked_add(*n))
        .ok_or_else(|| FunctionError::BadInput("payout total overflows".to_owned()))?;
    debit(state, &escrow_path(task, "balance")?, total)?;
    for (addr, amount) in payouts {
        credit(state, &balance_path(addr)?, *amount)?;
    }
    Ok(())
}

fn stake(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let (task, addr) = (call.var("task")?, call.var("addr")?);
    require_writer(call, addr)?;
    let amount = positive_amount(call.value)?;
    let stake_path = Path::from_segments(["tasks", task, "stakes", addr])
        .map_err(|e| FunctionError::BadInput(e.to_string()))?;
    debit(state, &balance_path(addr)?, amount)?;
    credit(state, &stake_path, amount)
}

/// The rules (pattern, source) genesis installs for the built-in functions.
pub const GENESIS_RULES: &[(&str, &str)] = &[
    ("/accounts/$addr/balance", "false"),
    (
        "/transfer/$from/$to/$key/value",
        "auth.addr == $from && data == null && util.isInt(newData) && newData > 0",
    ),
    (
        "/escrow/$task/admin",
        "data == null && newData == auth.addr",
    ),
    ("/escrow/$task/balance", "false"),
    (
        "/escrow/$task/deposit/$from/$key",
        "auth.addr == $from && data == null && util.isInt(newData) && newData > 0",
    ),
    (
        "/escrow/$task/release/$key",
        "data == null && util.isObject(newData) && auth.addr == getValue('/escrow/' + $task + '/admin')",
    ),
    (
        "/stake/$task/$addr/$key",
        "auth.addr == $addr && data == null && util.isInt(newData) && newData > 0",
    ),
    ("/tasks/$task/stakes", "false"),
];

/// The function attachments (pattern, id) genesis installs.
pub const GENESIS_FUNCTIONS: &[(&str, &str)] = &[
    ("/transfer/$from/$to/$key/value", TRANSFER),
    ("/escrow/$task/deposit/$from/$key", DEPOSIT),
    ("/escrow/$task/release/$key", RELEASE),
    ("/stake/$task/$addr/$key", STAKE),
    ("/tasks/$task/proofs/$proof", VERIFY_TRAINING_PROOF),
    ("/tasks/$task/status", SETTLE),
    ("/tasks/$task/rounds/$r/aggregate", SEAL_ROUND),
    ("/tasks/$task/rounds/$r/draw", DRAW_CHALLENGE),
    (
        "/tasks/$task/rounds/$r/contribution",
        VERIFY_CONTRIBUTION_PROOF,
    ),
    ("/tasks/$task/setup/$key/$addr", ACCEPT_KEY_CONTRIBUTION),
];

/// Genesis config: `root_owner` owns `/`, plus [`GENESIS_RULES`], the task rules
/// ([`crate::task::TASK_RULES`]) and [`GENESIS_FUNCTIONS`].
pub fn genesis_ops(root_owner: &str) -> Vec<Op> {
    let pattern = |p: &str| PathPattern::parse(p).expect("invariant: genesis patterns are valid");
    let mut ops = vec![Op::SetOwner {
        path: pattern("/"),
        owner: Some(OwnerConfig::sole(root_owner)),
    }];
    ops.extend(GENESIS_RULES.iter().map(|(p, src)| Op::SetRule {
        path: pattern(p),
        rule: Some(Rule::parse(src).expect("invariant: genesis rules parse")),
    }));
    ops.extend(crate::task::TASK_RULES.iter().map(|(p, src)| Op::SetRule {
        path: pattern(p),
        rule: Some(Rule::parse(src).expect("invariant: task rules parse")),
    }));
    ops.extend(GENESIS_FUNCTIONS.iter().map(|(p, id)| Op::SetFunction {
        path: pattern(p),
        function: Some(FunctionConfig::new(id).expect("invariant: genesis function ids are valid")),
    }));
    ops
}
