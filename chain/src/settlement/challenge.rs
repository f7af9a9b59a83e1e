//! `_sealRound` and `_drawChallenge`: closing a round to new logs, and drawing which logged
//! steps each provider must prove, from the hash of a block made after the round was sealed.
//!
//! 1. The owner posts `rounds/<r>/aggregate`; `_sealRound` records the block's height `s` at
//!    `rounds/<r>/sealed`. From then on no log can be posted for round `r` (the rule on
//!    `logs` checks that no aggregate is there), so every log of the round is in a block `≤ s`.
//! 2. Once block `s + 1` exists, anyone writes `rounds/<r>/draw` = `s + 1`; `_drawChallenge`
//!    takes the hash of block `s + 1` from the recent block hashes ([`crate::recent`]) as the
//!    seed, and for every provider that posted a log draws its steps with the task's
//!    [`pol::ChallengeRule`] over the steps it posted. It writes
//!    `rounds/<r>/challenge` = `{"block": s + 1, "seed": hex, "due": d + deadline,
//!    "steps": {"<addr>": {"<t>": true, …}}}` (audited providers only), where `d` is the
//!    block the draw is in: a challenge drawn late (its owner down, say) still leaves its
//!    providers the whole deadline to prove in.
//!
//! Nobody knows the seed before block `s + 1` is made, which is after every log of the round
//! is fixed: a provider cannot grind its log to choose its own steps. The block's proposer
//! could bias the seed by choosing among blocks it might make; with one validator (the
//! embedded ledger) that is the task's owner, who gains nothing by excusing a provider.

use std::collections::BTreeMap;

use super::verify_proof::at;
use crate::functions::{FunctionCall, FunctionError};
use crate::state::StateTxn;
use crate::task::{ChallengeParams, LogPost};
use crate::value::Value;

/// `_sealRound`, attached at `/tasks/$task/rounds/$r/aggregate`.
pub fn seal_round(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let (task, round) = (call.var("task")?, call.var("r")?);
    let height = Value::Int(i128::from(call.ctx.block_number));
    state.set_value(&at(task, &["rounds", round, "sealed"])?, height)?;
    Ok(())
}

/// `_drawChallenge`, attached at `/tasks/$task/rounds/$r/draw`.
pub fn draw_challenge(
    call: &FunctionCall<'_>,
    state: &mut StateTxn<'_>,
) -> Result<(), FunctionError> {
    let (task, round_text) = (call.var("task")?, call.var("r")?);
    let round: u64 = round_text
        .parse()
        .map_err(|_| FunctionError::BadInput(format!("round {round_text:?} is not a number")))?;
    let sealed = state
        .get_value(&at(task, &["rounds", round_text, "sealed"])?)
        .as_int()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| FunctionError::BadInput(format!("round {round} is not sealed")))?;
    let block = sealed + 1;
    if call.value.as_int() != Some(i128::from(block)) {
        return Err(FunctionError::BadInput(format!(
            "round {round} was sealed in block {sealed}: its challenge is drawn from block {block}"
        )));
    }
    let seed = call.ctx.recent.hash(block).ok_or_else(|| {
        FunctionError::BadInput(format!(
            "block {block} is not among the recent blocks (draw after it is made, within {} blocks)",
            crate::recent::RECENT_BLOCKS
        ))
    })?;
    let params =
        ChallengeParams::from_value(state.get_value(&at(task, &["config"])?).child("challenge"))
            .map_err(|e| FunctionError::BadInput(format!("task {task}: {e}")))?;
    let logs = state.get_value(&at(task, &["rounds", round_text, "logs"])?);
    let mut steps = BTreeMap::new();
    if let Value::Object(logs) = &logs {
        // A provider that wrote something else below its own log record posted no log.
        let posts = logs
            .iter()
            .filter_map(|(addr, post)| Some((addr, LogPost::from_value(post)?)));
        for (addr, post) in posts {
            let drawn = params.rule.draw(&seed, task, round, addr, post.steps);
            if !drawn.is_empty() {
                let set = drawn
                    .into_iter()
                    .map(|t| (t.to_string(), Value::Bool(true)))
                    .collect();
                steps.insert(addr.clone(), Value::Object(set));
            }
        }
    }
    let due = call.ctx.block_number.saturating_add(params.deadline);
    let challenge = Value::Object(BTreeMap::from([
        ("block".to_owned(), Value::Int(i128::from(block))),
        ("due".to_owned(), Value::Int(i128::from(due))),
        ("seed".to_owned(), Value::Str(hex::encode(seed))),
        ("steps".to_owned(), Value::Object(steps)),
    ]));
    state.set_value(&at(task, &["rounds", round_text, "challenge"])?, challenge)?;
    Ok(())
}
