//! `_settle`: closing a task credits each provider's answered rounds, slashes the stake of
//! every provider that left a challenge unanswered past its deadline, pays the escrow out by the
//! task's reward rule and returns the other stakes (see [`crate::settlement`]).

use std::collections::{BTreeMap, BTreeSet};

use super::verify_proof::at;
use crate::functions::builtin::{balance_path, credit, debit, escrow_payout};
use crate::functions::{FunctionCall, FunctionError};
use crate::state::StateTxn;
use crate::task::{RewardRule, escrow_path};
use crate::value::Value;

/// How an escrow is split: each provider's share, and what is left for the task owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Provider address → amount (only positive amounts).
    pub shares: BTreeMap<String, i128>,
    /// The rest (rounding, or everything when no provider has a verified proof).
    pub remainder: i128,
}

/// Splits `amount` (≥ 0) among the providers of `verified` (address → credited rounds;
/// counts ≤ 0 are ignored). `Even`: `amount / n` each; `Proportional`:
/// `⌊amount · count / total⌋` each. Shares and remainder always sum to `amount`.
pub fn split(
    rule: RewardRule,
    amount: i128,
    verified: &BTreeMap<String, i128>,
) -> Result<Split, FunctionError> {
    let eligible: BTreeMap<&String, i128> = verified
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(a, n)| (a, *n))
        .collect();
    let overflow = || FunctionError::BadInput("settlement amounts overflow".to_owned());
    let total = match rule {
        RewardRule::Even => eligible.len() as i128,
        RewardRule::Proportional | RewardRule::Shapley => eligible
            .values()
            .try_fold(0i128, |acc, n| acc.checked_add(*n))
            .ok_or_else(overflow)?,
    };
    let mut shares = BTreeMap::new();
    if total > 0 && amount > 0 {
        for (addr, count) in eligible {
            let weight = match rule {
                RewardRule::Even => 1,
                RewardRule::Proportional | RewardRule::Shapley => count,
            };
            let share = amount.checked_mul(weight).ok_or_else(overflow)? / total;
            if share > 0 {
                shares.insert(addr.clone(), share);
            }
        }
    }
    let paid = shares.values().sum::<i128>();
    Ok(Split {
        shares,
        remainder: amount - paid,
    })
}

/// The `_settle` function, attached at `/tasks/$task/status`: does nothing unless the value
/// written is `"closed"`; then pays the escrow out (see [`crate::settlement`]).
pub fn settle(call: &FunctionCall<'_>, state: &mut StateTxn<'_>) -> Result<(), FunctionError> {
    if call.value.as_str() != Some("closed") {
        return Ok(());
    }
    let task = call.var("task")?;
    let owner = state
        .get_value(&at(task, &["owner"])?)
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| FunctionError::BadInput(format!("task {task} has no owner")))?;
    if call.ctx.auth.addr != owner {
        return Err(FunctionError::Unauthorized(format!(
            "{} may not close task {task}",
            call.ctx.auth.addr
        )));
    }
    let rule = state
        .get_value(&at(task, &["config"])?)
        .child("reward")
        .as_str()
        .and_then(RewardRule::from_name)
        .ok_or_else(|| FunctionError::BadInput(format!("task {task} has no reward rule")))?;
    let (credited, failed) = credit_rounds(call, state, task)?;
    let escrow =
        escrow_path(task, &["balance"]).map_err(|e| FunctionError::BadInput(e.to_string()))?;
    for addr in &failed {
        let stake_path = at(task, &["stakes", addr])?;
        let stake = state.get_int(&stake_path).unwrap_or(0);
        if stake > 0 {
            debit(state, &stake_path, stake)?;
            credit(state, &escrow, stake)?;
        }
        state.set_value(&stake_path, Value::Null)?;
        state.set_value(&at(task, &["slashed", addr])?, Value::Int(stake))?;
    }
    let amount = state
        .get_int(&escrow)
        .ok_or_else(|| FunctionError::BadBalance(escrow.to_string()))?;
    for (addr, rounds) in &credited {
        state.set_value(&at(task, &["credited", addr])?, Value::Int(*rounds))?;
    }
    let (split, paid_by) = match rule {
        RewardRule::Shapley => shapley_split(state, task, amount, &credited, &failed)?,
        rule => (split(rule, amount, &credited)?, rule.name().to_owned()),
    };
    state.set_value(&at(task, &["paid_by"])?, Value::Str(paid_by))?;

    let mut payments = split.shares.clone();
    if split.remainder > 0 {
        let to_owner = payments.entry(owner).or_insert(0);
        *to_owner = to_owner
            .checked_add(split.remainder)
            .ok_or_else(|| FunctionError::BadBalance("owner refund".to_owned()))?;
        state.set_value(&at(task, &["refund"])?, Value::Int(split.remainder))?;
    }
    escrow_payout(state, task, &payments)?;
    for (addr, share) in &split.shares {
        state.set_value(&at(task, &["payouts", addr])?, Value::Int(*share))?;
    }
    for (addr, stake) in int_entries(&state.get_value(&at(task, &["stakes"])?)) {
        if stake > 0 {
            credit(state, &balance_path(&addr)?, stake)?;
        }
        state.set_value(&at(task, &["stakes", &addr])?, Value::Null)?;
    }
    Ok(())
}

/// A `shapley` task's split: by the task values of its proven rounds among the providers not
/// slashed (recorded at `values`), with `"shapley"`; or, when a round in which a provider
/// posted a log has no verified contribution proof, by credited rounds, with `"proportional: <why>"` (an owner
/// that does not prove cannot keep the escrow, nor leave a provider unpaid by its values).
fn shapley_split(
    state: &mut StateTxn<'_>,
    task: &str,
    amount: i128,
    credited: &BTreeMap<String, i128>,
    failed: &BTreeSet<String>,
) -> Result<(Split, String), FunctionError> {
    let rounds = state
        .get_value(&at(task, &["round"])?)
        .as_int()
        .unwrap_or(0)
        .max(0);
    let contribution::payout::TaskValues {
        numerators: mut values,
        denominator,
    } = match super::contribution::task_value(state, task, rounds)? {
        Ok(values) => values,
        Err(why) => {
            let split = split(RewardRule::Proportional, amount, credited)?;
            return Ok((split, format!("proportional: {why}")));
        }
    };
    values.retain(|addr, _| !failed.contains(addr));
    let record = Value::Object(BTreeMap::from([
        ("denominator".to_owned(), Value::Int(denominator)),
        (
            "values".to_owned(),
            values.iter().map(|(a, v)| (a.clone(), *v)).collect(),
        ),
    ]));
    state.set_value(&at(task, &["values"])?, record)?;
    let by_value = contribution::payout::split(amount, &values)
        .map_err(|e| FunctionError::BadInput(format!("settlement: {e}")))?;
    let shares = by_value
        .payouts
        .into_iter()
        .filter(|(_, pay)| *pay > 0)
        .collect();
    Ok((
        Split {
            shares,
            remainder: by_value.remainder,
        },
        "shapley".to_owned(),
    ))
}

/// Every provider's credited rounds (a round in which it posted a log and proved every step
/// the challenge drew for it), and the providers that left a challenge unanswered past its
/// deadline (credited nothing). Fails while a challenge is still open, or when a round with
/// logs has no challenge drawn.
fn credit_rounds(
    call: &FunctionCall<'_>,
    state: &StateTxn<'_>,
    task: &str,
) -> Result<(BTreeMap<String, i128>, BTreeSet<String>), FunctionError> {
    let rounds = state
        .get_value(&at(task, &["round"])?)
        .as_int()
        .unwrap_or(0)
        .max(0);
    let mut credited: BTreeMap<String, i128> = BTreeMap::new();
    let mut failed = BTreeSet::new();
    for r in 1..=rounds {
        let round = r.to_string();
        let Value::Object(logs) = state.get_value(&at(task, &["rounds", &round, "logs"])?) else {
            continue;
        };
        let challenge = state.get_value(&at(task, &["rounds", &round, "challenge"])?);
        if challenge.is_absent() {
            return Err(FunctionError::BadInput(format!(
                "round {r} has logs but no challenge drawn: draw it before closing"
            )));
        }
        let due = challenge.child("due").as_int().unwrap_or(0);
        let proven = state.get_value(&at(task, &["rounds", &round, "proven"])?);
        let posted = logs
            .iter()
            .filter(|(_, post)| crate::task::LogPost::from_value(post).is_some())
            .map(|(addr, _)| addr);
        for addr in posted {
            let answered = match challenge.child("steps").child(addr) {
                Value::Object(steps) => steps
                    .keys()
                    .all(|t| !proven.child(addr).child(t).is_absent()),
                _ => true,
            };
            if answered {
                *credited.entry(addr.clone()).or_insert(0) += 1;
            } else if i128::from(call.ctx.block_number) > due {
                failed.insert(addr.clone());
            } else {
                return Err(FunctionError::BadInput(format!(
                    "the challenge of round {r} is open until block {due}"
                )));
            }
        }
    }
    credited.retain(|addr, _| !failed.contains(addr));
    Ok((credited, failed))
}

/// The integer entries of an object value.
fn int_entries(value: &Value) -> BTreeMap<String, i128> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_int()?)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(entries: &[(&str, i128)]) -> BTreeMap<String, i128> {
        entries.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect()
    }

    #[test]
    fn even_and_proportional_shares() {
        let verified = counts(&[("a", 3), ("b", 1), ("c", 0)]);
        let even = split(RewardRule::Even, 101, &verified).unwrap();
        assert_eq!(even.shares, counts(&[("a", 50), ("b", 50)]));
        assert_eq!(even.remainder, 1);
        let prop = split(RewardRule::Proportional, 101, &verified).unwrap();
        assert_eq!(prop.shares, counts(&[("a", 75), ("b", 25)]));
        assert_eq!(prop.remainder, 1);
        let nobody = split(RewardRule::Even, 101, &counts(&[("c", 0)])).unwrap();
        assert!(nobody.shares.is_empty());
        assert_eq!(nobody.remainder, 101);
        assert!(split(RewardRule::Proportional, i128::MAX, &verified).is_err());
    }

    proptest! {
        #[test]
        fn shares_and_remainder_sum_to_the_escrow(
            amount in 0i128..1_000_000_000,
            raw in prop::collection::vec(0i128..1000, 0..8),
            even in any::<bool>(),
        ) {
            let verified: BTreeMap<String, i128> =
                raw.iter().enumerate().map(|(i, n)| (format!("p{i}"), *n)).collect();
            let rule = if even { RewardRule::Even } else { RewardRule::Proportional };
            let s = split(rule, amount, &verified).unwrap();
            prop_assert!(s.remainder >= 0);
            prop_assert_eq!(s.shares.values().sum::<i128>() + s.remainder, amount);
            let paid = verified.values().filter(|n| **n > 0).count() as i128;
            prop_assert!(s.remainder < paid.max(1) || paid == 0);
        }
    }
}
