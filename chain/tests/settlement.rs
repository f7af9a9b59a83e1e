//! Verifying real Groth16 training-step proofs on the ledger and paying providers on close.

mod common;

use std::time::Instant;

use chain::account::Address;
use chain::execute::{BlockEnv, Receipt, TxOutcome, apply_tx};
use chain::task::{
    RewardRule, TaskSpec, post_head_op, post_model_op, provider_join_op, submit_proof_op,
};
use chain::{Builtins, Keypair, Op, StateTree, Transaction, Value};
use common::pol::Log;
use common::zk::{Dataset, proof_config};
use common::{genesis, op, path};
use verifier::{ProofFile, StepOrigin};

const TASK: &str = "t1";
const FEE: u128 = 1;
const START: i128 = 1000;
const ESCROW: i128 = 101;
const STAKE: i128 = 10;
const STEPS: usize = 3;

/// Owner (0), three providers (1..=3, client index = n - 1, data set n) and the proposer.
struct World {
    state: StateTree,
    natives: Builtins,
    keys: Vec<Keypair>,
    nonces: Vec<u64>,
    proposer: Address,
    data: Vec<Dataset>,
    logs: Vec<Log>,
}

impl World {
    fn addr(&self, i: usize) -> Address {
        Address::of(&self.keys[i].public())
    }

    fn send(&mut self, who: usize, ops: Op) -> Receipt {
        let tx = Transaction::new(
            "test",
            &self.keys[who].public(),
            self.nonces[who],
            FEE,
            0,
            ops,
        )
        .sign(&self.keys[who])
        .verify("test")
        .expect("signed by its key");
        let env = BlockEnv {
            height: 1,
            time: 5,
            proposer: self.proposer,
        };
        let mut txn = self.state.begin();
        let receipt = apply_tx(&mut txn, &tx, &env, &self.natives).expect("nonce and fee are fine");
        txn.commit();
        self.nonces[who] += 1;
        receipt
    }

    fn ok(&mut self, who: usize, ops: Op) {
        let receipt = self.send(who, ops);
        assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    }

    fn at(&self, p: &str) -> Value {
        self.state.get_value(&path(&format!("/tasks/{TASK}/{p}")))
    }

    fn balance(&self, i: usize) -> i128 {
        common::balance(&self.state, &self.addr(i).to_string())
    }

    /// All the money there is: balances (proposer included), escrow and stakes.
    fn total(&self) -> i128 {
        let sum = |v: Value| match v {
            Value::Object(m) => m.values().filter_map(Value::as_int).sum(),
            _ => 0,
        };
        (0..4).map(|i| self.balance(i)).sum::<i128>()
            + common::balance(&self.state, &self.proposer.to_string())
            + self
                .state
                .get_value(&path(&format!("/escrow/{TASK}/balance")))
                .as_int()
                .unwrap_or(0)
            + sum(self.at("stakes"))
    }

    /// A proof of provider `p`'s step `step` in round 1, its submission and its log tail.
    fn proof(&self, p: usize, step: usize) -> (ProofFile, Vec<u8>) {
        self.proof_seeded(p, step, 0)
    }

    /// [`World::proof`] with prover randomness `seed`.
    fn proof_seeded(&self, p: usize, step: usize, seed: u64) -> (ProofFile, Vec<u8>) {
        let params = self.data[p - 1].trajectory(STEPS);
        let origin = StepOrigin {
            client: p as u32 - 1,
            round: 1,
            step: step as u64,
            log_head: self.logs[p - 1].head(),
        };
        let file = self.data[p - 1].prove(&params, step, origin, seed);
        (file, self.logs[p - 1].suffix(step))
    }

    fn submit(&mut self, p: usize, id: &str, file: &ProofFile, tail: &[u8]) -> Receipt {
        self.send(p, submit_proof_op(TASK, id, &file.encode(), tail).unwrap())
    }
}

/// A running task in round 1 with three registered providers that posted their log heads.
fn world(reward: RewardRule) -> World {
    let keys: Vec<Keypair> = (1..=4).map(|i| Keypair::from_secret([i; 32])).collect();
    let proposer = Address::of(&Keypair::from_secret([99; 32]).public());
    let addrs: Vec<String> = keys
        .iter()
        .map(|k| Address::of(&k.public()).to_string())
        .collect();
    let balances: Vec<(&str, i128)> = addrs.iter().map(|a| (a.as_str(), START)).collect();
    let data: Vec<Dataset> = (1..=3).map(Dataset::new).collect();
    let logs = data
        .iter()
        .enumerate()
        .map(|(i, d)| Log::new(i as u32, 1, &d.commitments(&d.trajectory(STEPS))))
        .collect();
    let mut w = World {
        state: genesis(&balances),
        natives: Builtins::new(),
        keys,
        nonces: vec![0; 4],
        proposer,
        data,
        logs,
    };
    let spec = TaskSpec {
        id: TASK.to_owned(),
        reward,
        verifier: proof_config(),
        rounds: 2,
        min_stake: STAKE,
        escrow: ESCROW,
    };
    let owner = w.addr(0);
    w.ok(0, spec.create_op(&owner).unwrap());
    for p in 1..=3 {
        let join = provider_join_op(
            TASK,
            &w.addr(p),
            p as u32 - 1,
            &w.data[p - 1].root(),
            STAKE,
            "s",
        );
        w.ok(p, join.unwrap());
    }
    let set = |p: &str, v: &str| {
        op(&format!(
            r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/{p}","value":{v}}}"#
        ))
    };
    w.ok(0, set("status", "\"running\""));
    w.ok(0, set("round", "1"));
    w.ok(0, post_model_op(TASK, 1, &[0xaa; 32]).unwrap());
    for p in 1..=3 {
        let head = w.logs[p - 1].head();
        w.ok(p, post_head_op(TASK, 1, &w.addr(p), &head).unwrap());
    }
    w
}

fn close(w: &mut World) {
    w.ok(
        0,
        op(&format!(
            r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/status","value":"closed"}}"#
        )),
    );
}

/// Sends a submission that must fail with `reason`; checks that only nonce and fee changed.
fn rejected(w: &mut World, p: usize, file: &ProofFile, tail: &[u8], reason: &str) {
    let sender = w.addr(p).to_string();
    let mut expected = w.state.export();
    let before_balance = w.balance(p);
    let proposer = common::balance(&w.state, &w.proposer.to_string());
    let receipt = w.submit(p, "bad", file, tail);
    let TxOutcome::Failed(why) = &receipt.outcome else {
        panic!("accepted, expected {reason}");
    };
    assert!(why.contains(reason), "expected {reason:?} in {why:?}");
    let put = |v: &mut Value, at: &[&str], x: Value| {
        let mut node = v;
        for seg in at {
            let Value::Object(m) = node else {
                panic!("no object at {seg}")
            };
            node = m
                .entry((*seg).to_owned())
                .or_insert(Value::Object(Default::default()));
        }
        *node = x;
    };
    let nonce = w.nonces[p] as i128;
    put(
        &mut expected,
        &["values", "accounts", &sender, "nonce"],
        Value::Int(nonce),
    );
    put(
        &mut expected,
        &["values", "accounts", &sender, "balance"],
        Value::Int(before_balance - FEE as i128),
    );
    let proposer_at = w.proposer.to_string();
    put(
        &mut expected,
        &["values", "accounts", &proposer_at, "balance"],
        Value::Int(proposer + FEE as i128),
    );
    assert!(
        w.state.export() == expected,
        "{reason}: only nonce and fee may change"
    );
}

#[test]
fn verified_proofs_are_recorded_and_paid_evenly_on_close() {
    let mut w = world(RewardRule::Even);
    let total = w.total();
    let t = Instant::now();
    let (p1_0, tail) = w.proof(1, 0);
    eprintln!("tiny proof (with key setup): {:?}", t.elapsed());
    let submission = submit_proof_op(TASK, "a", &p1_0.encode(), &tail).unwrap();
    let size = chain::json::to_canonical(&submission.to_json()).len();
    eprintln!("submission op: {size} bytes of JSON");
    assert!(size < 128 * 1024);
    let t = Instant::now();
    let receipt = w.submit(1, "a", &p1_0, &tail);
    eprintln!("verifying transaction: {:?}", t.elapsed());
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    let (p1_2, tail) = w.proof(1, 2);
    assert!(w.submit(1, "b", &p1_2, &tail).is_ok());
    let (p2_1, tail) = w.proof(2, 1);
    assert!(w.submit(2, "c", &p2_1, &tail).is_ok());

    let p1 = w.addr(1).to_string();
    assert_eq!(
        w.at("proofs/a"),
        Value::from_json(&format!(
            r#"{{"provider":"{p1}","round":1,"step":0,"verified":true}}"#
        ))
        .unwrap()
    );
    assert_eq!(w.at(&format!("verified/{p1}")), Value::Int(2));
    assert_eq!(w.at(&format!("steps/{p1}/1/2")), Value::from("b"));

    let before: Vec<i128> = (0..4).map(|i| w.balance(i)).collect();
    close(&mut w);
    // 101 split evenly between providers 1 and 2: 50 each, 1 back to the owner; stakes return.
    assert_eq!(w.at(&format!("payouts/{p1}")), Value::Int(50));
    assert_eq!(w.at("refund"), Value::Int(1));
    assert_eq!(w.balance(0), before[0] - FEE as i128 + 1);
    assert_eq!(w.balance(1), before[1] + 50 + STAKE);
    assert_eq!(w.balance(2), before[2] + 50 + STAKE);
    assert_eq!(
        w.balance(3),
        before[3] + STAKE,
        "no verified proof, no share"
    );
    assert_eq!(
        w.state.get_value(&path(&format!("/escrow/{TASK}/balance"))),
        Value::Int(0)
    );
    assert_eq!(w.total(), total, "money is conserved");
}

#[test]
fn proportional_shares_follow_verified_counts() {
    let mut w = world(RewardRule::Proportional);
    let total = w.total();
    for (p, step, id) in [(1, 0, "a"), (1, 1, "b"), (2, 2, "c")] {
        let (file, tail) = w.proof(p, step);
        let receipt = w.submit(p, id, &file, &tail);
        assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    }
    let before: Vec<i128> = (0..4).map(|i| w.balance(i)).collect();
    close(&mut w);
    // ⌊101·2/3⌋ = 67 and ⌊101·1/3⌋ = 33; 1 back to the owner.
    assert_eq!(w.balance(1), before[1] + 67 + STAKE);
    assert_eq!(w.balance(2), before[2] + 33 + STAKE);
    assert_eq!(w.balance(3), before[3] + STAKE);
    assert_eq!(w.balance(0), before[0] - FEE as i128 + 1);
    assert_eq!(w.at("refund"), Value::Int(1));
    assert_eq!(w.total(), total, "money is conserved");
}

#[test]
fn bad_submissions_are_rejected_with_a_reason_and_change_only_nonce_and_fee() {
    let mut w = world(RewardRule::Even);
    let (good, tail) = w.proof(1, 1);

    // A flipped byte in the proof.
    let mut flipped = good.clone();
    let last = flipped.proof.len() - 1;
    flipped.proof[last] ^= 1;
    rejected(&mut w, 1, &flipped, &tail, "proof rejected: the proof");
    let mut flipped = good.clone();
    flipped.proof[40] ^= 0x10;
    rejected(&mut w, 1, &flipped, &tail, "proof rejected");
    // A flipped public input (the learning rate) with the logged commitments intact.
    let mut other_lr = good.clone();
    other_lr.public_inputs[3][0] ^= 1;
    rejected(
        &mut w,
        1,
        &other_lr,
        &tail,
        "proof rejected: the proof is invalid",
    );
    // Commitments not under the posted head: the tail of another step, of another log, a
    // tampered tail, a file naming another head.
    let (step_2, other_log) = (w.logs[0].suffix(2), w.logs[1].suffix(1));
    rejected(&mut w, 1, &good, &step_2, "not about step 1");
    rejected(
        &mut w,
        1,
        &good,
        &other_log,
        "does not end at the posted head",
    );
    let mut tampered = tail.clone();
    tampered[tail.len() - 40] ^= 1;
    rejected(&mut w, 1, &good, &tampered, "proof rejected: log tail");
    let mut other_head = good.clone();
    other_head.origin.log_head = w.logs[1].head();
    rejected(&mut w, 1, &other_head, &tail, "another log head");
    // Wrong task shape / program.
    let mut shape = good.clone();
    shape.shape = shape.shape.replace("\"eps\":8", "\"eps\":9");
    rejected(&mut w, 1, &shape, &tail, "shape is not the task's");
    let mut program = good.clone();
    program.program_digest[0] ^= 1;
    rejected(&mut w, 1, &program, &tail, "program digest");
    // Another provider's proof: as is, re-labelled with its own client and log, and after
    // copying the victim's log head.
    rejected(&mut w, 2, &good, &tail, "from client 0");
    let mut relabelled = good.clone();
    relabelled.origin.client = 1;
    relabelled.origin.log_head = w.logs[1].head();
    rejected(&mut w, 2, &relabelled, &other_log, "not the logged ones");
    // Not registered at all (the task owner).
    rejected(&mut w, 0, &good, &tail, "not a provider");
    // Garbage.
    let mut garbage = good.encode();
    garbage.truncate(20);
    let receipt = w.send(1, submit_proof_op(TASK, "g", &garbage, &tail).unwrap());
    assert!(
        matches!(&receipt.outcome, TxOutcome::Failed(r) if r.contains("truncated")),
        "{receipt:?}"
    );

    // The genuine proof passes once; a replay, even re-proved, does not.
    assert!(w.submit(1, "ok", &good, &tail).is_ok());
    rejected(&mut w, 1, &good, &tail, "already verified");
    let (again, tail) = w.proof_seeded(1, 1, 1);
    assert_ne!(again.proof, good.proof, "fresh randomness");
    rejected(&mut w, 1, &again, &tail, "already verified");
}

#[test]
fn a_copied_head_and_proof_fail_on_the_data_root() {
    // In round 2 provider 2 posts provider 1's log head as its own and submits provider 1's
    // proof under its own client index: everything matches except the data root.
    let mut w = world(RewardRule::Even);
    w.ok(
        0,
        op(&format!(
            r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/round","value":2}}"#
        )),
    );
    w.ok(0, post_model_op(TASK, 2, &[0xbb; 32]).unwrap());
    let victim = Log::new(0, 2, &w.data[0].commitments(&w.data[0].trajectory(STEPS)));
    let copier = w.addr(2);
    w.ok(2, post_head_op(TASK, 2, &copier, &victim.head()).unwrap());
    let (mut copy, _) = w.proof(1, 1);
    copy.origin = StepOrigin {
        client: 1,
        round: 2,
        step: 1,
        log_head: victim.head(),
    };
    rejected(&mut w, 2, &copy, &victim.suffix(1), "data root is not");
}

#[test]
fn proofs_need_a_running_task() {
    let mut w = world(RewardRule::Even);
    let (good, tail) = w.proof(1, 0);
    close(&mut w);
    let receipt = w.submit(1, "late", &good, &tail);
    assert!(
        matches!(&receipt.outcome, TxOutcome::Failed(r) if r.contains("denied")),
        "{receipt:?}"
    );
}
