//! `_verifyContributionProof`: the owner's proof of a round's Shapley values, checked against
//! what the ledger already holds, and the task values a `shapley` task is paid by.
//!
//! The owner writes `/tasks/<id>/rounds/<r>/contribution` =
//! `{"proof": hex, "values": {"<addr>": N!·φ, …}, "ends": {"<addr>": hex(pol::LogEnds), …}}`
//! once the round's challenge is drawn. The function assembles the statement of
//! `circuits::relations::contribution` itself, in order:
//! - the players are the providers with a well-formed log of the round, ordered by client
//!   index; there must be the config's `shape.players` of them;
//! - each player's log ends open against its posted record root and step count; the header
//!   names the player's client index, the round and the round's posted model; every header
//!   carries the same commitment `C_t`, and from round 2 on it is the previous round's
//!   posted aggregate commitment (so the aggregation proven last round is the model trained
//!   on this round); the last entry's commitment is `C_i`;
//! - `C_{t+1}` and `H` are the round's `valuation`, posted with the seal, so before the seed;
//! - `n_i` is each player's registered sample count, `R` the task's validation root;
//! - `N!·φ_i` are the values written;
//! - the drawn coalitions are `contribution::draw::drawn` of the challenge's seed (the hash of
//!   the block after the seal): the owner could not know them when it fixed `H`.
//!
//! Then the Groth16 proof must verify under the task's contribution key. On success the
//! verified values go to `rounds/<r>/shapley` = `{"denominator": N!, "values": {…}}`, a path
//! only functions write (settlement reads nothing else), and the submission is replaced by
//! `true`; any failure is a [`FunctionError`] with a one-line reason, and the op rolls back.
//!
//! **Players.** A provider whose registration is malformed (only it can write below its own
//! registration) counts as having posted no log. A provider with a well-formed log that cannot
//! be valued (its ends do not open, its update is outside the fixed-point range) makes the
//! round unprovable, and the task then pays by credited rounds: a griefing provider can force
//! that fallback, which the closing note of the issue records as open.

use std::collections::BTreeMap;

use contribution::payout::{RoundValues, TaskValues, counted, gains_enough, task_values};
use verifier::{ContributionStatement, verify_contribution_groth16};

use super::config::{ContributionConfig, hex32};
use super::verify_proof::at;
use crate::functions::{FunctionCall, FunctionError};
use crate::state::StateTxn;
use crate::task::{LogPost, RoundValuation};
use crate::value::Value;

fn reject(reason: impl Into<String>) -> FunctionError {
    FunctionError::Proof(reason.into())
}

/// A provider of a round: its address, client index, sample count and posted log.
struct Player {
    addr: String,
    client: u32,
    samples: u64,
    post: LogPost,
}

/// The providers with a well-formed log of round `round`, by client index.
fn players(state: &StateTxn<'_>, task: &str, round: &str) -> Result<Vec<Player>, FunctionError> {
    let Value::Object(logs) = state.get_value(&at(task, &["rounds", round, "logs"])?) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (addr, post) in &logs {
        let Some(post) = LogPost::from_value(post) else {
            continue;
        };
        let reg = state.get_value(&at(task, &["providers", addr])?);
        let client = reg
            .child("client")
            .as_int()
            .and_then(|n| u32::try_from(n).ok());
        let samples = reg
            .child("samples")
            .as_int()
            .and_then(|n| u64::try_from(n).ok());
        let (Some(client), Some(samples)) = (client, samples) else {
            continue;
        };
        out.push(Player {
            addr: addr.clone(),
            client,
            samples,
            post,
        });
    }
    out.sort_by_key(|p| p.client);
    Ok(out)
}

/// `_verifyContributionProof`, attached at `/tasks/$task/rounds/$r/contribution`.
pub fn verify(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    let (task, round_text) = (call.var("task")?, call.var("r")?);
    let round: u32 = round_text
        .parse()
        .map_err(|_| FunctionError::BadInput(format!("round {round_text:?} is not a number")))?;
    let submission = call.value;
    let fields_ok = matches!(submission, Value::Object(m)
        if m.len() == 3 && ["ends", "proof", "values"].iter().all(|k| m.contains_key(*k)));
    if !fields_ok {
        return Err(FunctionError::BadInput(
            "a contribution submission is {\"proof\": hex, \"values\": {addr: n}, \"ends\": {addr: hex}}"
                .to_owned(),
        ));
    }
    let config = ContributionConfig::from_value(
        state
            .get_value(&at(task, &["config"])?)
            .child("contribution"),
    )
    .map_err(|e| reject(format!("task {task} takes no contribution proofs: {e}")))?;
    let valuation = RoundValuation::from_value(
        &state.get_value(&at(task, &["rounds", round_text, "valuation"])?),
    )
    .ok_or_else(|| {
        reject(format!(
            "round {round} has no valuation posted with its seal"
        ))
    })?;
    let challenge = state.get_value(&at(task, &["rounds", round_text, "challenge"])?);
    let seed = challenge
        .child("seed")
        .as_str()
        .and_then(hex32)
        .ok_or_else(|| {
            reject(format!(
                "round {round}'s challenge is not drawn: the checked coalitions come from its seed"
            ))
        })?;
    let model = state
        .get_value(&at(task, &["rounds", round_text, "model"])?)
        .as_str()
        .and_then(hex32)
        .ok_or_else(|| reject(format!("round {round} has no model posted")))?;
    let previous = match round {
        0 | 1 => None,
        r => Some(
            RoundValuation::from_value(
                &state.get_value(&at(task, &["rounds", &(r - 1).to_string(), "valuation"])?),
            )
            .ok_or_else(|| reject(format!("round {} has no valuation", r - 1)))?
            .aggregate,
        ),
    };

    let players = players(state, task, round_text)?;
    let n = config.shape.players;
    if players.len() != n {
        return Err(reject(format!(
            "round {round} has {} providers with logs; the task's key proves rounds of {n}",
            players.len()
        )));
    }
    let entries = |name: &str| match submission.child(name) {
        Value::Object(m) if m.len() == n && players.iter().all(|p| m.contains_key(&p.addr)) => {
            Ok(m)
        }
        _ => Err(FunctionError::BadInput(format!(
            "the submission's {name} must name exactly the round's {n} providers"
        ))),
    };
    let (values, ends) = (entries("values")?, entries("ends")?);

    let mut global = None;
    let mut updates = Vec::with_capacity(n);
    let mut numerators = Vec::with_capacity(n);
    for p in &players {
        let numerator = values[&p.addr].as_int().ok_or_else(|| {
            FunctionError::BadInput(format!("the value of {} is not an integer", p.addr))
        })?;
        numerators.push(numerator);
        let bytes = ends[&p.addr]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| {
                FunctionError::BadInput(format!("the ends of {} are not hex", p.addr))
            })?;
        let opened = pol::LogEnds::decode(&bytes)
            .and_then(|e| e.open(&pol::Digest(p.post.root), p.post.steps))
            .map_err(|e| reject(format!("the log of {}: {e}", p.addr)))?;
        let h = &opened.header;
        if h.client != p.client || h.round != round || h.global.0 != model {
            return Err(reject(format!(
                "the log of {} is not of its client, round {round} and the round's model",
                p.addr
            )));
        }
        let start = h
            .initial_commitment
            .ok_or_else(|| reject(format!("the log of {} commits no start", p.addr)))?
            .bn254;
        if *global.get_or_insert(start) != start {
            return Err(reject(format!(
                "the logs of round {round} start from different models"
            )));
        }
        let end = opened
            .last
            .commitment
            .ok_or_else(|| reject(format!("the log of {} commits no update", p.addr)))?;
        updates.push(end.bn254);
    }
    let global = global.ok_or_else(|| reject(format!("round {round} has no logs")))?;
    if previous.is_some_and(|prev| prev != global) {
        return Err(reject(format!(
            "round {round} starts from another model than round {}'s proven aggregate",
            round - 1
        )));
    }

    let statement = ContributionStatement {
        global,
        updates,
        aggregate: valuation.aggregate,
        samples: players.iter().map(|p| p.samples).collect(),
        validation_root: config.validation_root,
        table: valuation.table,
        numerators: numerators.clone(),
        drawn: contribution::draw::drawn(&seed, n, config.shape.drawn),
    };
    let proof = submission
        .child("proof")
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| FunctionError::BadInput("the proof is not hex".to_owned()))?;
    let key = config
        .verifying_key()
        .map_err(|e| reject(format!("task key: {e}")))?;
    verify_contribution_groth16(&key, &statement, &proof)
        .map_err(|e| reject(format!("contribution proof of round {round}: {e}")))?;

    let record = Value::Object(BTreeMap::from([
        (
            "denominator".to_owned(),
            Value::Int(contribution::exact::factorial(n)),
        ),
        (
            "values".to_owned(),
            Value::Object(
                players
                    .iter()
                    .zip(&numerators)
                    .map(|(p, v)| (p.addr.clone(), Value::Int(*v)))
                    .collect(),
            ),
        ),
    ]));
    state.set_value(&at(task, &["rounds", round_text, "shapley"])?, record)?;
    state.set_value(
        &at(task, &["rounds", round_text, "contribution"])?,
        Value::Bool(true),
    )?;
    Ok(())
}

/// The task values `L·φ_i` of a `shapley` task over its `rounds` rounds, with `L`: each
/// round's verified values, counted by `contribution::payout::counted` with the task's
/// `min_gain` (a round's gain `v(P) − v(∅)` is `Σ_i φ_i`, by efficiency). `Err` with the reason
/// when a round with logs has no verified contribution proof (the task then pays
/// proportionally).
pub(crate) fn task_value(
    state: &StateTxn<'_>,
    task: &str,
    rounds: i128,
) -> Result<Result<TaskValues<String>, String>, FunctionError> {
    let config = match ContributionConfig::from_value(
        state
            .get_value(&at(task, &["config"])?)
            .child("contribution"),
    ) {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("the task's contribution config: {e}"))),
    };
    let rows = config.shape.rows as u64;
    let mut per_round = Vec::new();
    for r in 1..=rounds {
        let round = r.to_string();
        if players(state, task, &round)?.is_empty() {
            continue;
        }
        let record = state.get_value(&at(task, &["rounds", &round, "shapley"])?);
        let denominator = record.child("denominator").as_int().filter(|&d| d > 0);
        let (Some(denominator), Value::Object(values)) = (denominator, record.child("values"))
        else {
            return Ok(Err(format!("round {r} has no verified contribution proof")));
        };
        let numerators: BTreeMap<String, i128> = values
            .iter()
            .filter_map(|(a, v)| Some((a.clone(), v.as_int()?)))
            .collect();
        let gain = numerators
            .values()
            .try_fold(0i128, |a, v| a.checked_add(*v))
            .ok_or_else(|| FunctionError::BadInput(format!("round {r}'s values overflow")))?
            / denominator;
        let gain = i64::try_from(gain).unwrap_or(i64::MAX);
        let paid = gains_enough(0, gain, rows, config.min_gain);
        per_round.push(RoundValues {
            denominator,
            numerators: numerators
                .into_iter()
                .map(|(a, v)| {
                    let c = counted(v, denominator, paid, rows, config.min_gain);
                    (a, c)
                })
                .collect(),
        });
    }
    let values = task_values(&per_round)
        .map_err(|e| FunctionError::BadInput(format!("task values: {e}")))?;
    Ok(Ok(values))
}
