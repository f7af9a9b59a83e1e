//! `_verifyContributionProof`: the owner's proof of a round's Shapley values, checked against
//! what the ledger already holds, and the task values a `shapley` task is paid by.
//!
//! The owner writes `/tasks/<id>/rounds/<r>/contribution` =
//! `{"proof": hex, "values": {"<addr>": N!·φ, …}, "ends": {"<addr>": hex(pol::LogEnds), …}}`
//! once the round's challenge is drawn. The function assembles the statement of
//! `circuits::relations::contribution` itself, in order:
//! - the players are the task's registered providers, in address order; there must be the
//!   config's `shape.players` of them, whoever takes part in the round (a provider whose
//!   registration is not well formed is a player that is always absent);
//! - each player with a well-formed log must have its log ends in the submission; they must
//!   open against its posted record root and step count, and the header must name the
//!   player's client index, the round and the round's posted model;
//! - `C_t` is the previous round's sealed aggregate commitment (so the aggregation proven last
//!   round is the model trained on this round), or in round 1 the start every valued log
//!   shares; a player whose log starts from `C_t` and commits its update is present, with
//!   `C_i` its last entry's commitment and `n_i` its registered sample count; any other player
//!   (no log, a log trained from another model, an update outside the fixed-point range) is
//!   absent: `n_i = 0`, `C_i = C_t`, a null player of the game;
//! - `C_{t+1}` and `H` are the round's `valuation`, posted with the seal, so before the seed;
//! - `R` is the task's validation root;
//! - `N!·φ_i` are the values written;
//! - the drawn coalitions are `contribution::draw::drawn` of the challenge's seed (the hash of
//!   the block after the seal): the owner could not know them when it fixed `H`.
//!
//! Then the Groth16 proof must verify under the task's contribution key. On success the
//! verified values go to `rounds/<r>/shapley` = `{"denominator": N!, "values": {…}}`, a path
//! only functions write (settlement reads nothing else), and the submission is replaced by
//! `true`; any failure is a [`FunctionError`] with a one-line reason, and the op rolls back.
//!
//! **What stays open.** A provider that posts a log and withholds its ends from the owner, or
//! sends the owner another update than its log's last checkpoint, makes the round unprovable
//! (the owner cannot show its log, or has no model that opens `C_i`), and the task then pays by
//! credited rounds. An owner can always leave a provider out of a round by not sending it the
//! model (as any FL server can); a provider checks that the model it is sent is the previous
//! round's sealed aggregate before it trains, so it is never valued absent for training on
//! another one without knowing.

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

/// A registered provider: its address, and in a round the client index, sample count and log
/// that make it a present player (`None` when its registration is not well formed — only its
/// provider can cause that — or it posted no well-formed log).
struct Player {
    addr: String,
    present: Option<(u32, u64, LogPost)>,
}

/// The task's registered providers in address order, each with what it posted in round
/// `round`.
fn players(state: &StateTxn<'_>, task: &str, round: &str) -> Result<Vec<Player>, FunctionError> {
    let Value::Object(registered) = state.get_value(&at(task, &["providers"])?) else {
        return Ok(Vec::new());
    };
    let logs = state.get_value(&at(task, &["rounds", round, "logs"])?);
    let mut out = Vec::new();
    for (addr, reg) in &registered {
        let client = reg
            .child("client")
            .as_int()
            .and_then(|n| u32::try_from(n).ok());
        let samples = reg
            .child("samples")
            .as_int()
            .and_then(|n| u64::try_from(n).ok());
        let post = LogPost::from_value(logs.child(addr));
        out.push(Player {
            addr: addr.clone(),
            present: client
                .zip(samples.filter(|&n| n > 0))
                .zip(post)
                .map(|((c, n), p)| (c, n, p)),
        });
    }
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
            "task {task} has {} registered providers; its key proves rounds of {n}",
            players.len()
        )));
    }
    let names = |name: &str, who: &dyn Fn(&Player) -> bool| {
        let count = players.iter().filter(|p| who(p)).count();
        match submission.child(name) {
            Value::Object(m)
                if m.len() == count
                    && players
                        .iter()
                        .filter(|p| who(p))
                        .all(|p| m.contains_key(&p.addr)) =>
            {
                Ok(m)
            }
            _ => Err(FunctionError::BadInput(format!(
                "the submission's {name} must name exactly the {count} providers {}",
                if name == "ends" {
                    "with a log"
                } else {
                    "of the task"
                }
            ))),
        }
    };
    let values = names("values", &|_| true)?;
    let ends = names("ends", &|p| p.present.is_some())?;

    // Each player's commitments: (start, end) of a log that can be valued, else absent.
    let mut opened_logs = Vec::with_capacity(n);
    for p in &players {
        let Some((client, _, post)) = &p.present else {
            opened_logs.push(None);
            continue;
        };
        let bytes = ends[&p.addr]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| {
                FunctionError::BadInput(format!("the ends of {} are not hex", p.addr))
            })?;
        let opened = pol::LogEnds::decode(&bytes)
            .and_then(|e| e.open(&pol::Digest(post.root), post.steps))
            .map_err(|e| reject(format!("the log of {}: {e}", p.addr)))?;
        // A log of another client, round or model, or that commits no start or no update (an
        // update outside the fixed-point range), cannot be valued: its provider is absent. The
        // ends open against the provider's own posted root: the owner cannot forge them.
        let h = &opened.header;
        if h.client != *client || h.round != round || h.global.0 != model {
            opened_logs.push(None);
            continue;
        }
        let start = h.initial_commitment.map(|c| c.bn254);
        let end = opened.last.commitment.map(|c| c.bn254);
        opened_logs.push(start.zip(end));
    }
    // The round's start: the previous round's proven aggregate, or in round 1 the start all
    // the valued logs share. From round 2 on, a log that starts elsewhere was trained from
    // another model than the proven one: it cannot be valued either.
    let global = match previous {
        Some(prev) => prev,
        None => {
            let mut starts = opened_logs.iter().flatten().map(|(s, _)| *s);
            let first = starts
                .next()
                .ok_or_else(|| reject(format!("round {round} has no log that can be valued")))?;
            if starts.any(|s| s != first) {
                return Err(reject(format!(
                    "the logs of round {round} start from different models"
                )));
            }
            first
        }
    };
    let mut updates = Vec::with_capacity(n);
    let mut samples = Vec::with_capacity(n);
    let mut numerators = Vec::with_capacity(n);
    for (p, log) in players.iter().zip(&opened_logs) {
        let numerator = values[&p.addr].as_int().ok_or_else(|| {
            FunctionError::BadInput(format!("the value of {} is not an integer", p.addr))
        })?;
        numerators.push(numerator);
        match (log, &p.present) {
            (Some((start, end)), Some((_, n, _))) if *start == global => {
                updates.push(*end);
                samples.push(*n);
            }
            _ => {
                updates.push(global);
                samples.push(0);
            }
        }
    }

    let statement = ContributionStatement {
        global,
        updates,
        aggregate: valuation.aggregate,
        samples,
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
    let key = super::setup::task_key(
        state,
        task,
        super::TaskKey::Contribution,
        &config.vk,
        config.ceremony,
    )?;
    verify_contribution_groth16(&key, &statement, &proof)
        .map_err(|e| reject(format!("contribution proof of round {round}: {e}")))?;

    let record = Value::Object(BTreeMap::from([
        (
            "denominator".to_owned(),
            Value::Int(contribution::exact::factorial(n)),
        ),
        (
            "values".to_owned(),
            players
                .iter()
                .zip(&numerators)
                .map(|(p, v)| (p.addr.clone(), *v))
                .collect(),
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
        if !players(state, task, &round)?
            .iter()
            .any(|p| p.present.is_some())
        {
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
