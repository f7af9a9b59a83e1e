//! A task's rounds on the ledger with real Groth16 proofs of tiny training steps: logs posted,
//! rounds sealed, challenges drawn from a later block's hash, challenged steps proven and
//! verified, unanswered challenges slashed, and the escrow paid by credited rounds.

#[macro_use]
mod common;

use chain::Value;
use chain::execute::{Receipt, TxOutcome};
use chain::task::{
    ChallengeParams, RewardRule, TaskSpec, draw_challenge_op, post_log_op, post_model_op,
    provider_join_op, seal_round_op, submit_proof_op,
};
use common::pol::Log;
use common::zk::{Dataset, proof_config};
use common::{Parties, op, path};
use pol::ChallengeRule;
use verifier::{ProofFile, StepOrigin};

const TASK: &str = "t1";
use common::FEE;
const START: i128 = 1000;
const ESCROW: i128 = 101;
const STAKE: i128 = 10;
const STEPS: usize = 3;
const DEADLINE: u64 = 5;

/// Owner (0), three providers (1..=3, client index = n - 1, data set n) and the proposer.
struct World {
    parties: Parties,
    data: Vec<Dataset>,
    /// Each provider's log of each round (round 1 at index 0).
    logs: Vec<Vec<Log>>,
}

world_of_parties!(World);

impl World {
    /// Moves on to the next block.
    fn block(&mut self) {
        self.height += 1;
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

    /// The steps round `round`'s challenge drew for provider `p`.
    fn drawn(&self, round: u32, p: usize) -> Vec<u64> {
        match self.at(&format!("rounds/{round}/challenge/steps/{}", self.addr(p))) {
            Value::Object(m) => m.keys().map(|t| t.parse().unwrap()).collect(),
            _ => Vec::new(),
        }
    }

    /// A proof of provider `p`'s step `step` in `round`, and its evidence.
    fn proof(&self, round: u32, p: usize, step: u64) -> (ProofFile, Vec<u8>) {
        self.proof_seeded(round, p, step, 0)
    }

    /// [`World::proof`] with prover randomness `seed`.
    fn proof_seeded(&self, round: u32, p: usize, step: u64, seed: u64) -> (ProofFile, Vec<u8>) {
        let params = trajectory(&self.data[p - 1], round);
        let log = &self.logs[round as usize - 1][p - 1];
        let origin = StepOrigin {
            client: p as u32 - 1,
            round,
            step,
            log_head: log.head(),
        };
        let file = self.data[p - 1].prove(&params, step as usize, origin, seed);
        (file, log.evidence(step))
    }

    fn submit(&mut self, p: usize, id: &str, file: &ProofFile, evidence: &[u8]) -> Receipt {
        self.send(
            p,
            submit_proof_op(TASK, id, &file.encode(), evidence).unwrap(),
        )
    }

    /// Round `round`: the owner posts the model, the providers in `posting` post their logs,
    /// the owner seals it, and once the next block exists the challenge is drawn.
    fn round(&mut self, round: u32, posting: &[usize]) {
        self.open_round(round);
        for &p in posting {
            let post = self.logs[round as usize - 1][p - 1].post();
            let op = post_log_op(TASK, round.into(), &self.addr(p), &post).unwrap();
            self.ok(p, op);
        }
        self.seal_and_draw(round);
    }

    /// The owner posts round `round`'s model; the providers' logs of the round are made.
    fn open_round(&mut self, round: u32) {
        self.block();
        self.ok(
            0,
            post_model_op(TASK, round.into(), &[0xaa; 32], round == 1).unwrap(),
        );
        self.block();
        self.logs.push(
            (1..=3)
                .map(|p| {
                    let d = &self.data[p - 1];
                    Log::new(p as u32 - 1, round, &d.commitments(&trajectory(d, round)))
                })
                .collect(),
        );
    }

    /// The owner seals round `round`, and once the next block exists its challenge is drawn.
    fn seal_and_draw(&mut self, round: u32) {
        self.block();
        let sealed = self.height;
        self.ok(
            0,
            seal_round_op(TASK, round.into(), &[0xcc; 32], None).unwrap(),
        );
        self.block();
        self.block();
        self.ok(
            0,
            draw_challenge_op(TASK, round.into(), sealed + 1).unwrap(),
        );
        assert_eq!(
            self.at(&format!("rounds/{round}/challenge/seed")),
            Value::Str(hex::encode(common::block_hash(sealed + 1))),
            "drawn from the block after the seal"
        );
    }

    /// Proves and submits every step round `round` drew for provider `p`.
    fn answer(&mut self, round: u32, p: usize) {
        for step in self.drawn(round, p) {
            let (file, evidence) = self.proof(round, p, step);
            let id = format!("r{round}-p{p}-s{step}");
            let receipt = self.submit(p, &id, &file, &evidence);
            assert!(receipt.is_ok(), "{:?}", receipt.outcome);
        }
    }

    fn close(&mut self) -> Receipt {
        self.send(
            0,
            op(&format!(
                r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/status","value":"closed"}}"#
            )),
        )
    }

    /// Moves past every challenge's deadline.
    fn past_due(&mut self) {
        self.height += DEADLINE + 10;
    }
}

/// A provider's parameters in `round` (each round from another start).
fn trajectory(data: &Dataset, round: u32) -> Vec<Vec<i64>> {
    data.trajectory_from(100 * i64::from(round), STEPS)
}

/// A created task with three registered providers; `q` steps per audited provider-round.
fn world(reward: RewardRule, q: u32) -> World {
    let mut w = World {
        parties: Parties::new(4, START),
        data: (1..=3).map(Dataset::new).collect(),
        logs: Vec::new(),
    };
    let spec = TaskSpec {
        id: TASK.to_owned(),
        reward,
        verifier: proof_config(),
        contribution: None,
        challenge: ChallengeParams {
            rule: ChallengeRule { q, audit: 1000 },
            deadline: DEADLINE,
        },
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
            50,
            STAKE,
            "s",
        );
        w.ok(p, join.unwrap());
    }
    w
}

/// Sends a submission that must fail with `reason`; checks that only nonce and fee changed.
fn rejected(w: &mut World, p: usize, file: &ProofFile, evidence: &[u8], reason: &str) {
    let sender = w.addr(p).to_string();
    let mut expected = w.state.export();
    let before_balance = w.balance(p);
    let proposer = common::balance(&w.state, &w.proposer.to_string());
    let receipt = w.submit(p, "bad", file, evidence);
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
fn challenged_proofs_are_recorded_and_paid_evenly_on_close() {
    let mut w = world(RewardRule::Even, 1);
    let total = w.total();
    w.round(1, &[1, 2, 3]);
    for p in 1..=3 {
        assert_eq!(w.drawn(1, p).len(), 1, "one step drawn for every provider");
    }
    let step = w.drawn(1, 1)[0];
    let (file, evidence) = w.proof(1, 1, step);
    let submission = submit_proof_op(TASK, "a", &file.encode(), &evidence).unwrap();
    let size = chain::json::to_canonical(&submission.to_json()).len();
    assert!(size < 8 * 1024, "{size} bytes of JSON");
    assert!(w.submit(1, "a", &file, &evidence).is_ok());
    w.answer(1, 2);
    w.answer(1, 3);
    let p1 = w.addr(1).to_string();
    assert_eq!(
        w.at("proofs/a"),
        Value::from_json(&format!(
            r#"{{"provider":"{p1}","round":1,"step":{step},"verified":true}}"#
        ))
        .unwrap()
    );
    assert_eq!(w.at(&format!("verified/{p1}")), Value::Int(1));
    assert_eq!(
        w.at(&format!("rounds/1/proven/{p1}/{step}")),
        Value::from("a")
    );

    let before: Vec<i128> = (0..4).map(|i| w.balance(i)).collect();
    assert!(w.close().is_ok());
    // 101 split evenly among three credited providers: 33 each, 2 back to the owner.
    assert_eq!(w.at(&format!("payouts/{p1}")), Value::Int(33));
    assert_eq!(w.at(&format!("credited/{p1}")), Value::Int(1));
    assert_eq!(w.at("refund"), Value::Int(2));
    assert_eq!(w.balance(0), before[0] - FEE as i128 + 2);
    for (p, was) in before.iter().enumerate().skip(1) {
        assert_eq!(w.balance(p), was + 33 + STAKE);
    }
    assert_eq!(w.total(), total, "money is conserved");
}

#[test]
fn an_unanswered_challenge_holds_closing_until_due_then_slashes() {
    let mut w = world(RewardRule::Even, 1);
    let total = w.total();
    w.round(1, &[1, 2, 3]);
    w.answer(1, 1);
    w.answer(1, 2);
    let receipt = w.close();
    assert!(
        matches!(&receipt.outcome, TxOutcome::Failed(r) if r.contains("open until block")),
        "{receipt:?}"
    );
    w.past_due();
    // Too late to answer now.
    let step = w.drawn(1, 3)[0];
    let (late, evidence) = w.proof(1, 3, step);
    rejected(&mut w, 3, &late, &evidence, "was due by block");
    let before: Vec<i128> = (0..4).map(|i| w.balance(i)).collect();
    assert!(w.close().is_ok());
    // Provider 3's stake joins the escrow: 111 split between providers 1 and 2.
    let p3 = w.addr(3).to_string();
    assert_eq!(w.at(&format!("slashed/{p3}")), Value::Int(STAKE));
    assert_eq!(w.at(&format!("payouts/{p3}")), Value::Null);
    assert_eq!(w.balance(1), before[1] + 55 + STAKE);
    assert_eq!(w.balance(2), before[2] + 55 + STAKE);
    assert_eq!(w.balance(3), before[3], "no payout, no stake back");
    assert_eq!(w.at("refund"), Value::Int(1));
    assert_eq!(w.total(), total, "money is conserved");
}

#[test]
fn proportional_shares_follow_credited_rounds() {
    let mut w = world(RewardRule::Proportional, 1);
    let total = w.total();
    w.round(1, &[1, 2, 3]);
    (1..=3).for_each(|p| w.answer(1, p));
    // Provider 2 drops out of round 2: not challenged, not credited for it.
    w.round(2, &[1, 3]);
    assert!(w.drawn(2, 2).is_empty());
    w.answer(2, 1);
    w.answer(2, 3);
    let before: Vec<i128> = (0..4).map(|i| w.balance(i)).collect();
    assert!(w.close().is_ok());
    // Credited rounds 2, 1, 2: ⌊101·2/5⌋ = 40, ⌊101/5⌋ = 20; 1 back to the owner.
    assert_eq!(w.balance(1), before[1] + 40 + STAKE);
    assert_eq!(w.balance(2), before[2] + 20 + STAKE);
    assert_eq!(w.balance(3), before[3] + 40 + STAKE);
    assert_eq!(w.at("refund"), Value::Int(1));
    assert_eq!(w.total(), total, "money is conserved");
}

#[test]
fn a_round_cannot_start_before_the_last_is_sealed_nor_logs_come_after_the_seal() {
    let mut w = world(RewardRule::Even, 1);
    w.round(1, &[1, 2]);
    // Provider 3 posts after the seal: refused by the rules.
    let post = w.logs[0][2].post();
    let late = post_log_op(TASK, 1, &w.addr(3), &post).unwrap();
    assert!(!w.send(3, late).is_ok());
    // The challenge is drawn once, from the block after the seal only.
    let again = draw_challenge_op(TASK, 1, 9).unwrap();
    assert!(!w.send(1, again).is_ok());
    let mut fresh = world(RewardRule::Even, 1);
    fresh.block();
    fresh.ok(0, post_model_op(TASK, 1, &[0xaa; 32], true).unwrap());
    let skip = op(&format!(
        r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/round","value":2}}"#
    ));
    assert!(!fresh.send(0, skip).is_ok(), "round 1 is not sealed");
    fresh.block();
    fresh.ok(0, seal_round_op(TASK, 1, &[0xcc; 32], None).unwrap());
    // Drawing from the seal's own block, or before the next block exists, is refused.
    let sealed = fresh.height;
    for block in [sealed, sealed + 1] {
        let draw = draw_challenge_op(TASK, 1, block).unwrap();
        assert!(!fresh.send(0, draw).is_ok(), "draw from block {block}");
    }
}

#[test]
fn junk_below_a_log_or_a_draw_blocks_nothing() {
    let mut w = world(RewardRule::Even, 1);
    w.open_round(1);
    for p in 1..=2 {
        let post = w.logs[0][p - 1].post();
        let op = post_log_op(TASK, 1, &w.addr(p), &post).unwrap();
        w.ok(p, op);
    }
    // Provider 3 writes a log-shaped value below its own record instead of the record itself.
    let junk = w.logs[0][2].post().to_value().to_canonical_json();
    let p3 = w.addr(3);
    w.ok(
        3,
        op(&format!(
            r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/rounds/1/logs/{p3}/head","value":{junk}}}"#
        )),
    );
    // Anyone writing below the draw before it is made would block it: refused.
    let below = op(&format!(
        r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/rounds/1/draw/x","value":5}}"#
    ));
    assert!(!w.send(2, below).is_ok());
    w.seal_and_draw(1);
    assert!(w.drawn(1, 3).is_empty(), "a malformed log is no log");
    w.answer(1, 1);
    w.answer(1, 2);
    assert!(w.close().is_ok());
    assert_eq!(w.at(&format!("credited/{p3}")), Value::Null);
    assert_eq!(w.at(&format!("credited/{}", w.addr(1))), Value::Int(1));
}

#[test]
fn bad_submissions_are_rejected_with_a_reason_and_change_only_nonce_and_fee() {
    let mut w = world(RewardRule::Even, STEPS as u32);
    w.round(1, &[1, 2, 3]);
    assert_eq!(w.drawn(1, 1), vec![0, 1, 2], "every step drawn");
    let (good, evidence) = w.proof(1, 1, 1);

    // A flipped byte in the proof.
    let mut flipped = good.clone();
    let last = flipped.proof.len() - 1;
    flipped.proof[last] ^= 1;
    rejected(&mut w, 1, &flipped, &evidence, "proof rejected: the proof");
    let mut flipped = good.clone();
    flipped.proof[40] ^= 0x10;
    rejected(&mut w, 1, &flipped, &evidence, "proof rejected");
    // A flipped public input (the learning rate) with the logged commitments intact.
    let mut other_lr = good.clone();
    other_lr.public_inputs[3][0] ^= 1;
    rejected(
        &mut w,
        1,
        &other_lr,
        &evidence,
        "proof rejected: the proof is invalid",
    );
    // Evidence of another step, of another provider's log, tampered, or naming another head.
    let (step_2, other_log) = (w.logs[0][0].evidence(2), w.logs[0][1].evidence(1));
    rejected(&mut w, 1, &good, &step_2, "the evidence is about step 2");
    rejected(&mut w, 1, &good, &other_log, "not in the posted log");
    let mut tampered = evidence.clone();
    let at = tampered.len() - 40;
    tampered[at] ^= 1;
    rejected(&mut w, 1, &good, &tampered, "proof rejected");
    let mut other_head = good.clone();
    other_head.origin.log_head = w.logs[0][1].head();
    rejected(&mut w, 1, &other_head, &evidence, "another log head");
    // Wrong task shape / program.
    let mut shape = good.clone();
    shape.shape = shape.shape.replace("\"eps\":8", "\"eps\":9");
    rejected(&mut w, 1, &shape, &evidence, "shape is not the task's");
    let mut program = good.clone();
    program.program_digest[0] ^= 1;
    rejected(&mut w, 1, &program, &evidence, "program digest");
    // Another provider's proof: as is, and re-labelled with its own client and log.
    rejected(&mut w, 2, &good, &evidence, "from client 0");
    let mut relabelled = good.clone();
    relabelled.origin.client = 1;
    relabelled.origin.log_head = w.logs[0][1].head();
    rejected(&mut w, 2, &relabelled, &other_log, "not the logged one");
    // Not registered at all (the task owner).
    rejected(&mut w, 0, &good, &evidence, "not a provider");
    // A round without a challenge.
    let mut no_round = good.clone();
    no_round.origin.round = 2;
    rejected(&mut w, 1, &no_round, &evidence, "round 2 has no challenge");
    // Garbage.
    let mut garbage = good.encode();
    garbage.truncate(20);
    let receipt = w.send(1, submit_proof_op(TASK, "g", &garbage, &evidence).unwrap());
    assert!(
        matches!(&receipt.outcome, TxOutcome::Failed(r) if r.contains("truncated")),
        "{receipt:?}"
    );

    // The genuine proof passes once; a replay, even re-proved, does not.
    assert!(w.submit(1, "ok", &good, &evidence).is_ok());
    rejected(&mut w, 1, &good, &evidence, "already verified");
    let (again, evidence) = w.proof_seeded(1, 1, 1, 1);
    assert_ne!(again.proof, good.proof, "fresh randomness");
    rejected(&mut w, 1, &again, &evidence, "already verified");
}

#[test]
fn a_proof_of_an_unchallenged_step_is_refused() {
    let mut w = world(RewardRule::Even, 1);
    w.round(1, &[1, 2, 3]);
    let drawn = w.drawn(1, 1)[0];
    let other = (0..STEPS as u64).find(|t| *t != drawn).unwrap();
    let (file, evidence) = w.proof(1, 1, other);
    rejected(&mut w, 1, &file, &evidence, "was not challenged");
}

#[test]
fn a_copied_log_and_proof_fail_on_the_data_root() {
    // Provider 2 posts provider 1's log as its own and submits provider 1's proof under its
    // own client index: everything matches except the data root.
    let mut w = world(RewardRule::Even, STEPS as u32);
    w.block();
    w.ok(0, post_model_op(TASK, 1, &[0xaa; 32], true).unwrap());
    w.block();
    let d = &w.data[0];
    let victim = Log::new(0, 1, &d.commitments(&trajectory(d, 1)));
    let copier = w.addr(2);
    w.ok(2, post_log_op(TASK, 1, &copier, &victim.post()).unwrap());
    w.block();
    let sealed = w.height;
    w.ok(0, seal_round_op(TASK, 1, &[0xcc; 32], None).unwrap());
    w.block();
    w.block();
    w.ok(0, draw_challenge_op(TASK, 1, sealed + 1).unwrap());
    w.logs.push(vec![]);
    let params = trajectory(&w.data[0], 1);
    let origin = StepOrigin {
        client: 1,
        round: 1,
        step: 1,
        log_head: victim.head(),
    };
    let copy = w.data[0].prove(&params, 1, origin, 0);
    rejected(&mut w, 2, &copy, &victim.evidence(1), "data root is not");
}

#[test]
fn proofs_need_a_running_task() {
    let mut w = world(RewardRule::Even, 1);
    w.round(1, &[1, 2, 3]);
    let step = w.drawn(1, 1)[0];
    let (good, evidence) = w.proof(1, 1, step);
    w.past_due();
    assert!(w.close().is_ok());
    let receipt = w.submit(1, "late", &good, &evidence);
    assert!(
        matches!(&receipt.outcome, TxOutcome::Failed(r) if r.contains("denied")),
        "{receipt:?}"
    );
}
