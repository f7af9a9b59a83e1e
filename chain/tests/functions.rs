//! Native functions: transfer, escrow, stake, the proof-verifier hook, and conservation of funds.

mod common;

use std::collections::BTreeMap;

use chain::functions::builtin::{TrainingProofVerifier, escrow_payout};
use chain::{ApplyError, Builtins, FunctionCall, FunctionError, StateTree, StateTxn, Value};
use common::{ROOT, balance, ctx, genesis, op, path};
use proptest::prelude::*;

fn apply(state: &mut StateTree, addr: &str, json: &str) -> Result<(), ApplyError> {
    state.apply(&op(json), &ctx(addr), &Builtins::new())
}

fn transfer(
    state: &mut StateTree,
    signer: &str,
    from: &str,
    to: &str,
    key: &str,
    amount: i128,
) -> Result<(), ApplyError> {
    let json = format!(
        r#"{{"type":"SET_VALUE","ref":"/transfer/{from}/{to}/{key}/value","value":{amount}}}"#
    );
    apply(state, signer, &json)
}

fn function_error(err: ApplyError) -> FunctionError {
    match err {
        ApplyError::Function { source, .. } => *source,
        other => panic!("expected a function error, got {other}"),
    }
}

#[test]
fn transfer_moves_funds_once() {
    let mut state = genesis(&[("alice", 100)]);
    transfer(&mut state, "alice", "alice", "bob", "k1", 30).unwrap();
    assert_eq!((balance(&state, "alice"), balance(&state, "bob")), (70, 30));
    assert_eq!(
        state.get_value(&path("/transfer/alice/bob/k1/value")),
        Value::Int(30)
    );

    let root = state.root_hash();
    // Replaying the same key is denied by the rule (data == null).
    assert!(matches!(
        transfer(&mut state, "alice", "alice", "bob", "k1", 30),
        Err(ApplyError::Denied { .. })
    ));
    // Bob cannot spend alice's money.
    assert!(matches!(
        transfer(&mut state, "bob", "alice", "bob", "k2", 1),
        Err(ApplyError::Denied { .. })
    ));
    // Insufficient balance fails inside the function, and the record write is rolled back.
    let err = function_error(transfer(&mut state, "alice", "alice", "bob", "k3", 71).unwrap_err());
    assert_eq!(
        err,
        FunctionError::InsufficientBalance {
            path: "/accounts/alice/balance".to_owned(),
            balance: 70,
            needed: 71
        }
    );
    assert_eq!(
        state.get_value(&path("/transfer/alice/bob/k3/value")),
        Value::Null
    );
    // Nobody writes balances directly.
    assert!(
        apply(
            &mut state,
            "alice",
            r#"{"type":"SET_VALUE","ref":"/accounts/alice/balance","value":1000}"#
        )
        .is_err()
    );
    assert_eq!(state.root_hash(), root);
}

#[test]
fn transfer_checks_the_payer_even_under_a_permissive_rule() {
    let mut state = genesis(&[("alice", 100)]);
    apply(
        &mut state,
        ROOT,
        r#"{"type":"SET_RULE","ref":"/transfer/$from/$to/$key/value","value":"true"}"#,
    )
    .unwrap();
    let err =
        function_error(transfer(&mut state, "mallory", "alice", "mallory", "k", 50).unwrap_err());
    assert!(matches!(err, FunctionError::Unauthorized(_)), "{err}");
    let err = function_error(transfer(&mut state, "alice", "alice", "bob", "k", 0).unwrap_err());
    assert!(matches!(err, FunctionError::BadInput(_)), "{err}");
    assert_eq!(balance(&state, "alice"), 100);
}

#[test]
fn escrow_deposit_and_release() {
    let mut state = genesis(&[("owner", 100), ("bob", 40)]);
    let deposit = |state: &mut StateTree, who: &str, key: &str, amount: i128| {
        let json = format!(
            r#"{{"type":"SET_VALUE","ref":"/escrow/t1/deposit/{who}/{key}","value":{amount}}}"#
        );
        apply(state, who, &json)
    };
    // Not open yet.
    let err = function_error(deposit(&mut state, "owner", "d0", 10).unwrap_err());
    assert!(err.to_string().contains("not open"), "{err}");
    // Nobody can open it in another's name; the owner opens it as admin.
    assert!(
        apply(
            &mut state,
            "bob",
            r#"{"type":"SET_VALUE","ref":"/escrow/t1/admin","value":"owner"}"#
        )
        .is_err()
    );
    apply(
        &mut state,
        "owner",
        r#"{"type":"SET_VALUE","ref":"/escrow/t1/admin","value":"owner"}"#,
    )
    .unwrap();
    assert!(
        apply(
            &mut state,
            "bob",
            r#"{"type":"SET_VALUE","ref":"/escrow/t1/admin","value":"bob"}"#
        )
        .is_err()
    );

    deposit(&mut state, "owner", "d1", 80).unwrap();
    deposit(&mut state, "bob", "d1", 20).unwrap();
    assert_eq!(
        state.get_value(&path("/escrow/t1/balance")),
        Value::Int(100)
    );
    assert_eq!((balance(&state, "owner"), balance(&state, "bob")), (20, 20));

    let release =
        r#"{"type":"SET_VALUE","ref":"/escrow/t1/release/r1","value":{"carol":60,"dave":30}}"#;
    assert!(matches!(
        apply(&mut state, "bob", release),
        Err(ApplyError::Denied { .. })
    ));
    apply(&mut state, "owner", release).unwrap();
    assert_eq!(
        (balance(&state, "carol"), balance(&state, "dave")),
        (60, 30)
    );
    assert_eq!(state.get_value(&path("/escrow/t1/balance")), Value::Int(10));

    let too_much =
        r#"{"type":"SET_VALUE","ref":"/escrow/t1/release/r2","value":{"carol":5,"dave":6}}"#;
    let err = function_error(apply(&mut state, "owner", too_much).unwrap_err());
    assert!(
        matches!(
            err,
            FunctionError::InsufficientBalance {
                needed: 11,
                balance: 10,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(balance(&state, "carol"), 60, "a failed release pays nobody");
    let negative = r#"{"type":"SET_VALUE","ref":"/escrow/t1/release/r3","value":{"carol":-5}}"#;
    assert!(apply(&mut state, "owner", negative).is_err());
}

#[test]
fn stake_to_join_a_task() {
    let mut state = genesis(&[("bob", 50)]);
    apply(
        &mut state,
        "bob",
        r#"{"type":"SET_VALUE","ref":"/stake/t1/bob/s1","value":10}"#,
    )
    .unwrap();
    apply(
        &mut state,
        "bob",
        r#"{"type":"SET_VALUE","ref":"/stake/t1/bob/s2","value":15}"#,
    )
    .unwrap();
    assert_eq!(
        state.get_value(&path("/tasks/t1/stakes/bob")),
        Value::Int(25)
    );
    assert_eq!(balance(&state, "bob"), 25);
    assert!(
        apply(
            &mut state,
            "eve",
            r#"{"type":"SET_VALUE","ref":"/stake/t1/bob/s3","value":1}"#
        )
        .is_err()
    );
    assert!(
        apply(
            &mut state,
            "bob",
            r#"{"type":"SET_VALUE","ref":"/tasks/t1/stakes/bob","value":0}"#
        )
        .is_err()
    );
    let err = function_error(
        apply(
            &mut state,
            "bob",
            r#"{"type":"SET_VALUE","ref":"/stake/t1/bob/s4","value":26}"#,
        )
        .unwrap_err(),
    );
    assert!(matches!(err, FunctionError::InsufficientBalance { .. }));
}

/// Accepts a submission `{"valid": true, "pay": {addr: amount}}` and pays from the escrow.
struct PayIfValid;

impl TrainingProofVerifier for PayIfValid {
    fn verify(
        &self,
        call: &FunctionCall<'_>,
        state: &mut StateTxn<'_>,
    ) -> Result<(), FunctionError> {
        if call.value.child("valid") != &Value::Bool(true) {
            return Err(FunctionError::Proof("invalid".to_owned()));
        }
        let Value::Object(pay) = call.value.child("pay") else {
            return Err(FunctionError::BadInput("no payouts".to_owned()));
        };
        let payouts: BTreeMap<String, i128> = pay
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_int()?)))
            .collect();
        escrow_payout(state, call.var("task")?, &payouts)
    }
}

#[test]
fn proof_verifier_hook_runs_inside_the_transaction() {
    let natives = Builtins::with_proof_verifier(Box::new(PayIfValid));
    let mut state = genesis(&[("owner", 50)]);
    let run = |state: &mut StateTree, addr: &str, json: &str| {
        state.apply(&op(json), &ctx(addr), &natives)
    };
    run(&mut state, ROOT, r#"{"type":"SET","op_list":[
        {"type":"SET_RULE","ref":"/proofs/$task/$id","value":"data == null"},
        {"type":"SET_FUNCTION","ref":"/proofs/$task/$id","value":{"function_id":"_verifyTrainingProof"}}]}"#)
    .unwrap();
    run(
        &mut state,
        "owner",
        r#"{"type":"SET_VALUE","ref":"/escrow/t1/admin","value":"owner"}"#,
    )
    .unwrap();
    run(
        &mut state,
        "owner",
        r#"{"type":"SET_VALUE","ref":"/escrow/t1/deposit/owner/d","value":50}"#,
    )
    .unwrap();
    let root = state.root_hash();
    let bad = run(
        &mut state,
        "p1",
        r#"{"type":"SET_VALUE","ref":"/proofs/t1/1","value":{"valid":false}}"#,
    );
    assert!(matches!(
        bad.map_err(function_error),
        Err(FunctionError::Proof(_))
    ));
    assert_eq!(state.root_hash(), root);
    run(
        &mut state,
        "p1",
        r#"{"type":"SET_VALUE","ref":"/proofs/t1/2","value":{"valid":true,"pay":{"p1":20}}}"#,
    )
    .unwrap();
    assert_eq!(balance(&state, "p1"), 20);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random transfers, deposits, releases and stakes by random signers never create or
    /// destroy money, and failures leave the root unchanged.
    #[test]
    fn funds_are_conserved(actions in prop::collection::vec((0u8..4, 0usize..3, 0usize..3, 1i128..60), 1..30)) {
        let people = ["alice", "bob", "carol"];
        let mut state = genesis(&[("alice", 100), ("bob", 100), ("carol", 100)]);
        apply(&mut state, "alice", r#"{"type":"SET_VALUE","ref":"/escrow/t/admin","value":"alice"}"#).unwrap();
        let total = |s: &StateTree| -> i128 {
            let stakes: i128 = match s.get_value(&path("/tasks/t/stakes")) {
                Value::Object(m) => m.values().filter_map(Value::as_int).sum(),
                _ => 0,
            };
            people.iter().map(|p| balance(s, p)).sum::<i128>()
                + s.get_value(&path("/escrow/t/balance")).as_int().unwrap_or(0)
                + stakes
        };
        for (n, (kind, a, b, amount)) in actions.into_iter().enumerate() {
            let (who, other) = (people[a], people[b]);
            let json = match kind {
                0 => format!(r#"{{"type":"SET_VALUE","ref":"/transfer/{who}/{other}/k{n}/value","value":{amount}}}"#),
                1 => format!(r#"{{"type":"SET_VALUE","ref":"/escrow/t/deposit/{who}/k{n}","value":{amount}}}"#),
                2 => format!(r#"{{"type":"SET_VALUE","ref":"/escrow/t/release/k{n}","value":{{"{other}":{amount}}}}}"#),
                _ => format!(r#"{{"type":"SET_VALUE","ref":"/stake/t/{who}/k{n}","value":{amount}}}"#),
            };
            let root = state.root_hash();
            if apply(&mut state, who, &json).is_err() {
                prop_assert_eq!(state.root_hash(), root);
            }
            prop_assert_eq!(total(&state), 300);
            prop_assert!(people.iter().all(|p| balance(&state, p) >= 0));
        }
    }
}
