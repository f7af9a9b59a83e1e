//! Task records: the creation op, its read-back, and the genesis rules that guard the record.

mod common;

use chain::account::Address;
use chain::task::{RewardRule, TaskError, TaskSpec, provider_join_op};
use chain::{ApplyError, Builtins, Keypair, Op, StateTree, Value};
use common::{ctx, genesis, op, path};

fn addr(seed: u8) -> Address {
    Address::of(&Keypair::from_secret([seed; 32]).public())
}

fn spec() -> TaskSpec {
    TaskSpec {
        id: "mnist-1".to_owned(),
        reward: RewardRule::Proportional,
        verifier: common::zk::proof_config(),
        contribution: None,
        challenge: chain::task::ChallengeParams {
            rule: pol::ChallengeRule { q: 1, audit: 1000 },
            deadline: 10,
        },
        rounds: 2,
        min_stake: 10,
        escrow: 50,
    }
}

fn apply(state: &mut StateTree, who: &Address, op: &Op) -> Result<(), ApplyError> {
    state.apply(op, &ctx(&who.to_string()), &Builtins::new())
}

fn set(who_path: &str, value: &str) -> Op {
    op(&format!(
        r#"{{"type":"SET_VALUE","ref":"{who_path}","value":{value}}}"#
    ))
}

fn denied(result: Result<(), ApplyError>) -> bool {
    matches!(
        result,
        Err(ApplyError::Denied { .. } | ApplyError::NoRule { .. })
    )
}

/// A state with the task created by `owner` (who had 1000).
fn created(owner: &Address) -> StateTree {
    let others = [addr(2), addr(3)].map(|a| a.to_string());
    let mut state = genesis(&[
        (&owner.to_string(), 1000),
        (&others[0], 1000),
        (&others[1], 1000),
    ]);
    apply(&mut state, owner, &spec().create_op(owner).unwrap()).unwrap();
    state
}

#[test]
fn creation_op_reads_back_and_rejects_tampering() {
    let owner = addr(1);
    let op = spec().create_op(&owner).unwrap();
    assert_eq!(TaskSpec::from_create_op(&op, &owner).unwrap(), spec());
    // Sent by someone else than the owner it names.
    assert!(matches!(
        TaskSpec::from_create_op(&op, &addr(2)),
        Err(TaskError::NotCreation(_))
    ));
    // One more op smuggled in.
    let Op::Set(mut ops) = op.clone() else {
        panic!("creation is a SET");
    };
    ops.push(set("/tasks/other/owner", &format!("\"{owner}\"")));
    assert!(TaskSpec::from_create_op(&Op::Set(ops.clone()), &owner).is_err());
    // A bad config: uppercase digest, unknown reward, zero rounds, extra field, halo2, a
    // garbled key, no learning rates.
    let Op::Set(good) = op else { unreachable!() };
    let text = spec().config_value().to_canonical_json();
    let digest = hex::encode(spec().verifier.program_digest);
    let vk = hex::encode(&spec().verifier.vk);
    for config in [
        text.replace(&digest, &digest.to_uppercase()),
        text.replace("proportional", "winner"),
        text.replace(r#""rounds":2"#, r#""rounds":0"#),
        text.replacen('{', r#"{"extra":1,"#, 1),
        text.replace("groth16", "halo2"),
        text.replace(&vk, &format!("{}00", &vk[..vk.len() - 2])),
        text.replace(&format!(r#"{{"{}":true}}"#, common::zk::LR), "{}"),
    ] {
        assert_ne!(config, text);
        let mut ops = good.clone();
        ops[1] = set("/tasks/mnist-1/config", &config);
        assert!(
            matches!(
                TaskSpec::from_create_op(&Op::Set(ops), &owner),
                Err(TaskError::BadConfig(_))
            ),
            "{config}"
        );
    }
    assert!(TaskSpec::from_create_op(&set("/tasks/x/owner", "1"), &owner).is_err());
    let bad_id = TaskSpec {
        id: "a/b".to_owned(),
        ..spec()
    };
    assert!(matches!(
        bad_id.create_op(&owner),
        Err(TaskError::BadId { .. })
    ));
    let no_rounds = TaskSpec {
        rounds: 0,
        ..spec()
    };
    assert!(no_rounds.create_op(&owner).is_err());
}

#[test]
fn creation_writes_the_record_and_funds_the_escrow() {
    let owner = addr(1);
    let state = created(&owner);
    let at = |p: &str| state.get_value(&path(p));
    assert_eq!(at("/tasks/mnist-1/owner"), Value::Str(owner.to_string()));
    assert_eq!(at("/tasks/mnist-1/status"), Value::from("open"));
    assert_eq!(at("/tasks/mnist-1/round"), Value::Int(0));
    assert_eq!(at("/tasks/mnist-1/config"), spec().config_value());
    assert_eq!(at("/escrow/mnist-1/admin"), Value::Str(owner.to_string()));
    assert_eq!(at("/escrow/mnist-1/balance"), Value::Int(50));
    assert_eq!(common::balance(&state, &owner.to_string()), 950);
}

#[test]
fn a_taken_id_cannot_be_created_again() {
    let owner = addr(1);
    let mut state = created(&owner);
    let root = state.root_hash();
    let thief = addr(2);
    assert!(denied(apply(
        &mut state,
        &thief,
        &spec().create_op(&thief).unwrap()
    )));
    assert!(denied(apply(
        &mut state,
        &owner,
        &spec().create_op(&owner).unwrap()
    )));
    assert_eq!(state.root_hash(), root);
}

#[test]
fn only_the_owner_changes_config_status_and_round() {
    let (owner, other) = (addr(1), addr(2));
    let mut state = created(&owner);
    let config = |reward: &str| {
        spec()
            .config_value()
            .to_canonical_json()
            .replace("proportional", reward)
    };
    let cfg = "/tasks/mnist-1/config";
    assert!(denied(apply(
        &mut state,
        &other,
        &set(cfg, &config("even"))
    )));
    assert!(denied(apply(
        &mut state,
        &owner,
        &set(cfg, &config("winner"))
    )));
    assert!(denied(apply(
        &mut state,
        &owner,
        &set("/tasks/mnist-1/config/reward", "\"even\"")
    )));
    apply(&mut state, &owner, &set(cfg, &config("even"))).unwrap();

    let round = "/tasks/mnist-1/round";
    assert!(denied(apply(&mut state, &other, &set(round, "1"))));
    assert!(denied(apply(&mut state, &owner, &set(round, "2"))));
    apply(&mut state, &owner, &set(round, "1")).unwrap();
    assert!(
        denied(apply(&mut state, &owner, &set(round, "2"))),
        "round 1 is not sealed"
    );

    let status = "/tasks/mnist-1/status";
    assert!(denied(apply(
        &mut state,
        &other,
        &set(status, "\"running\"")
    )));
    assert!(denied(apply(&mut state, &owner, &set(status, "\"done\""))));
    apply(&mut state, &owner, &set(status, "\"running\"")).unwrap();
    assert!(denied(apply(&mut state, &owner, &set(status, "\"open\""))));
    // Rounds move on once sealed, up to the task's count.
    let hex = format!("\"{}\"", "ab".repeat(32));
    for r in 1..=2 {
        let model = format!("/tasks/mnist-1/rounds/{r}/model");
        let aggregate = format!("/tasks/mnist-1/rounds/{r}/aggregate");
        if r > 1 {
            apply(&mut state, &owner, &set(round, &r.to_string())).unwrap();
        }
        assert!(denied(apply(&mut state, &other, &set(&model, &hex))));
        apply(&mut state, &owner, &set(&model, &hex)).unwrap();
        assert!(denied(apply(&mut state, &other, &set(&aggregate, &hex))));
        apply(&mut state, &owner, &set(&aggregate, &hex)).unwrap();
    }
    assert!(
        denied(apply(&mut state, &owner, &set(round, "3"))),
        "beyond the rounds"
    );
    // Config is frozen once running.
    assert!(denied(apply(
        &mut state,
        &owner,
        &set(cfg, &config("proportional"))
    )));
    apply(&mut state, &owner, &set(status, "\"closed\"")).unwrap();
    // Proofs only while running; payouts only by settlement.
    assert!(denied(apply(
        &mut state,
        &owner,
        &set("/tasks/mnist-1/proofs/0", "1")
    )));
    assert!(denied(apply(
        &mut state,
        &owner,
        &set("/tasks/mnist-1/payouts", "{}")
    )));
}

#[test]
fn providers_register_themselves_with_enough_stake_while_open() {
    let (owner, provider, other) = (addr(1), addr(2), addr(3));
    let mut state = created(&owner);
    let root = [0x11; 32];
    // Too little stake (the whole SET fails, the stake too).
    let short = provider_join_op("mnist-1", &provider, 0, &root, 50, 9, "a").unwrap();
    assert!(denied(apply(&mut state, &provider, &short)));
    assert_eq!(common::balance(&state, &provider.to_string()), 1000);
    // Registering someone else.
    let Op::Set(ops) = provider_join_op("mnist-1", &other, 0, &root, 50, 0, "a").unwrap() else {
        panic!("join is a SET");
    };
    for op in &ops {
        assert!(denied(apply(&mut state, &provider, op)));
    }
    // No rows, or more than a contribution proof weighs (2^20).
    for samples in [0, 1 << 20] {
        let bad = provider_join_op("mnist-1", &provider, 0, &root, samples, 10, "a").unwrap();
        assert!(denied(apply(&mut state, &provider, &bad)), "{samples} rows");
    }
    // Enough stake.
    let join = provider_join_op("mnist-1", &provider, 0, &root, 50, 10, "a").unwrap();
    apply(&mut state, &provider, &join).unwrap();
    assert_eq!(
        state.get_value(&path(&format!("/tasks/mnist-1/stakes/{provider}"))),
        Value::Int(10)
    );
    assert_eq!(
        state.get_value(&path(&format!(
            "/tasks/mnist-1/providers/{provider}/data_root"
        ))),
        Value::Str(hex::encode(root))
    );
    // Registering again, or someone else claiming the same client index or data root.
    let reg = format!("/tasks/mnist-1/providers/{provider}");
    assert!(denied(apply(
        &mut state,
        &provider,
        &set(
            &reg,
            &format!(
                r#"{{"client":0,"data_root":"{}","samples":50}}"#,
                "22".repeat(32)
            )
        )
    )));
    for (client, data_root) in [(0, [0x33; 32]), (1, root)] {
        let copy = provider_join_op("mnist-1", &other, client, &data_root, 50, 10, "b").unwrap();
        assert!(denied(apply(&mut state, &other, &copy)));
    }
    // A registration whose claims are not the writer's own.
    let theirs = format!("/tasks/mnist-1/providers/{other}");
    assert!(denied(apply(
        &mut state,
        &other,
        &set(
            &theirs,
            &format!(
                r#"{{"client":0,"data_root":"{}","samples":50}}"#,
                hex::encode(root)
            )
        )
    )));
    apply(
        &mut state,
        &owner,
        &set("/tasks/mnist-1/status", "\"running\""),
    )
    .unwrap();
    let late = provider_join_op("mnist-1", &other, 1, &[0x44; 32], 50, 10, "a").unwrap();
    assert!(denied(apply(&mut state, &other, &late)));
}
