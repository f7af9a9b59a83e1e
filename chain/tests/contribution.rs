//! A `shapley` task on the ledger with real Groth16 contribution proofs of a tiny game
//! (softmax 2→2, three providers, six validation rows): each round's valuation fixed with the
//! seal, the proof checked against the posted logs, registrations, validation root and seed,
//! every tampered submission refused with only nonce and fee changed, and the escrow paid by
//! the proven Shapley values (or by credited rounds when a round is left unproven).

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chain::execute::{Receipt, TxOutcome};
use chain::settlement::ContributionConfig;
use chain::task::{
    ChallengeParams, RewardRule, RoundValuation, TaskSpec, draw_challenge_op, post_log_op,
    post_model_op, provider_join_op, seal_round_op, submit_contribution_op,
};
use chain::{Op, Value};
use circuits::field::{Bn254, Field};
use circuits::gadgets::commit::{DataTree, commit_params};
use circuits::r1cs::{self, Encoding, ProvingKey, VerifyingKey};
use circuits::reference::Model;
use circuits::relations::contribution::{ContributionShape, ContributionWitness, build};
use common::pol::Log;
use common::zk::proof_config;
use common::{Parties, op, path};
use contribution::payout::{RoundValues, counted, gains_enough, split, task_values};
use pol::{ChallengeRule, LogEnds};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TASK: &str = "t1";
use common::FEE;
const START: i128 = 10_000;
const ESCROW: i128 = 1000;
const STAKE: i128 = 10;
const MODEL: [u8; 32] = [1; 32];
const SAMPLES: [u64; 3] = [40, 90, 25];

fn shape() -> ContributionShape {
    ContributionShape {
        model: Model::Softmax {
            inputs: 2,
            classes: 2,
        },
        players: 3,
        rows: 6,
        depth: 3,
        drawn: 0,
    }
}

/// The owner's validation rows and labels.
fn validation() -> (Vec<Vec<i64>>, Vec<u32>) {
    let rows = vec![
        vec![300, -200],
        vec![-150, 250],
        vec![220, 40],
        vec![-90, -310],
        vec![10, 180],
        vec![260, -60],
    ];
    (rows, vec![0, 1, 0, 1, 1, 0])
}

/// The honest witness of a round starting from `global` (updates drawn by `seed`), with
/// `samples` as the sample counts (0: an absent provider, whose update is the global model).
fn witness(global: &[i64], seed: u64, samples: &[u64]) -> ContributionWitness {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let updates = samples
        .iter()
        .map(|&n| {
            let update: Vec<i64> = global
                .iter()
                .map(|w| w + rng.gen_range(-90_000..90_000))
                .collect();
            if n == 0 { global.to_vec() } else { update }
        })
        .collect();
    let (rows, labels) = validation();
    ContributionWitness::honest(
        &shape().model,
        global.to_vec(),
        updates,
        samples.to_vec(),
        rows,
        labels,
        Vec::new(),
    )
    .expect("an in-range round")
}

fn contribution_keys() -> &'static (ProvingKey, VerifyingKey, [u8; 32]) {
    static KEYS: OnceLock<(ProvingKey, VerifyingKey, [u8; 32])> = OnceLock::new();
    KEYS.get_or_init(|| {
        let w = witness(&[0; 6], 0, &SAMPLES);
        let (program, _) = build::<Bn254>(&shape(), &w).unwrap();
        let (pk, vk) = r1cs::setup(&program, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        (pk, vk, program.digest())
    })
}

fn prove(w: &ContributionWitness) -> Vec<u8> {
    prove_with(&contribution_keys().0, w)
}

fn prove_with(pk: &ProvingKey, w: &ContributionWitness) -> Vec<u8> {
    let (program, assignment) = build::<Bn254>(&shape(), w).unwrap();
    program.check(&assignment).expect("an honest witness");
    r1cs::prove(pk, &program, &assignment, &mut ChaCha8Rng::seed_from_u64(5))
        .unwrap()
        .to_bytes()
}

fn commitment(params: &[i64]) -> [u8; 32] {
    commit_params::<Bn254>(params).unwrap().to_le_bytes()
}

/// A contribution submission: proof, values and log ends by address.
type Submission = (Vec<u8>, BTreeMap<String, i128>, BTreeMap<String, Vec<u8>>);

struct World {
    parties: Parties,
    /// Each round's witness and the providers' logs (`None`: it took no part).
    rounds: Vec<(ContributionWitness, Vec<Option<Log>>)>,
    /// The key the owner proves with.
    pk: ProvingKey,
}

world_of_parties!(World);

impl World {
    /// Party `who` sends `ops`, each in a block of its own.
    fn send(&mut self, who: usize, ops: Op) -> Receipt {
        let receipt = self.parties.send(who, ops);
        self.height += 1;
        receipt
    }

    fn ok(&mut self, who: usize, ops: Op) {
        let receipt = self.send(who, ops);
        assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    }

    fn at(&self, p: &str) -> Value {
        self.state.get_value(&path(&format!("/tasks/{TASK}/{p}")))
    }

    /// Round `round` from the previous round's aggregate: model, logs, seal with the
    /// valuation, draw.
    fn round(&mut self, round: u32) {
        self.round_without(round, &[]);
    }

    /// The providers (1 to 3) in the ledger's player order: by address.
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (1..=3).collect();
        order.sort_by_key(|&p| self.addr(p).to_string());
        order
    }

    /// The registered sample counts in player order.
    fn samples(&self) -> Vec<u64> {
        self.order().iter().map(|&p| SAMPLES[p - 1]).collect()
    }

    /// [`World::round`] in which the providers `absent` (1 to 3) post no log.
    fn round_without(&mut self, round: u32, absent: &[usize]) {
        let order = self.order();
        let global = self
            .rounds
            .last()
            .map_or(vec![0; 6], |(w, _)| w.aggregate.clone());
        let samples: Vec<u64> = order
            .iter()
            .map(|p| {
                if absent.contains(p) {
                    0
                } else {
                    SAMPLES[p - 1]
                }
            })
            .collect();
        let w = witness(&global, u64::from(round), &samples);
        // Logs by provider (index p − 1); the witness is in player order.
        let logs: Vec<Option<Log>> = (1..=3)
            .map(|p| {
                let k = order.iter().position(|&q| q == p).unwrap();
                (!absent.contains(&p)).then(|| {
                    Log::new(
                        p as u32 - 1,
                        round,
                        &[commitment(&w.global), commitment(&w.updates[k])],
                    )
                })
            })
            .collect();
        self.ok(
            0,
            post_model_op(TASK, round.into(), &MODEL, round == 1).unwrap(),
        );
        for (p, log) in logs.iter().enumerate() {
            let Some(log) = log else { continue };
            let post = post_log_op(TASK, round.into(), &self.addr(p + 1), &log.post()).unwrap();
            self.ok(p + 1, post);
        }
        let valuation = RoundValuation {
            aggregate: commitment(&w.aggregate),
            table: commitment(&w.table),
        };
        let sealed = self.height;
        self.ok(
            0,
            seal_round_op(TASK, round.into(), &[0xcc; 32], Some(&valuation)).unwrap(),
        );
        self.height += 1;
        self.ok(
            0,
            draw_challenge_op(TASK, round.into(), sealed + 1).unwrap(),
        );
        self.rounds.push((w, logs));
    }

    /// The honest submission of round `round`: proof, values and ends by address.
    fn submission(&self, round: u32) -> Submission {
        let (w, logs) = &self.rounds[round as usize - 1];
        let values = (0..3)
            .map(|i| (self.addr(self.order()[i]).to_string(), w.numerators[i]))
            .collect();
        let ends = logs
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.as_ref()?;
                let ends = LogEnds::of(&l.log, &l.tree).unwrap();
                Some((self.addr(i + 1).to_string(), ends.encode()))
            })
            .collect();
        (prove_with(&self.pk, w), values, ends)
    }

    fn submit(
        &mut self,
        round: u32,
        proof: &[u8],
        values: &BTreeMap<String, i128>,
        ends: &BTreeMap<String, Vec<u8>>,
    ) -> Receipt {
        let op = submit_contribution_op(TASK, round.into(), proof, values, ends).unwrap();
        self.send(0, op)
    }

    fn close(&mut self) -> Receipt {
        self.send(
            0,
            op(&format!(
                r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/status","value":"closed"}}"#
            )),
        )
    }
}

fn world() -> World {
    let (pk, vk, digest) = contribution_keys();
    let config = ContributionConfig::new(shape(), *digest, vk, validation_root(), 0).unwrap();
    let mut w = created(config, pk.clone());
    for p in 1..=3 {
        w.ok(p, join_op(&w, p));
    }
    w
}

/// The root of the owner's validation set.
fn validation_root() -> [u8; 32] {
    let (rows, labels) = validation();
    DataTree::<Bn254>::new(&rows, &labels, shape().depth)
        .unwrap()
        .root()
        .to_le_bytes()
}

/// A world in which the owner created the task with `contribution` and proves with `pk`.
fn created(contribution: ContributionConfig, pk: ProvingKey) -> World {
    // The owner, three providers and one party that never joins.
    let mut w = World {
        parties: Parties::new(5, START),
        rounds: Vec::new(),
        pk,
    };
    let spec = TaskSpec {
        id: TASK.to_owned(),
        reward: RewardRule::Shapley,
        verifier: proof_config(),
        contribution: Some(contribution),
        // No training step is audited: this test is about contributions.
        challenge: ChallengeParams {
            rule: ChallengeRule { q: 1, audit: 0 },
            deadline: 5,
        },
        rounds: 2,
        min_stake: STAKE,
        escrow: ESCROW,
    };
    let owner = w.addr(0);
    let create = spec.create_op(&owner).unwrap();
    assert_eq!(TaskSpec::from_create_op(&create, &owner).unwrap(), spec);
    w.ok(0, create);
    w
}

/// Provider `p`'s registration (stake, client p − 1, its data root, its sample count).
fn join_op(w: &World, p: usize) -> Op {
    provider_join_op(
        TASK,
        &w.addr(p),
        p as u32 - 1,
        &[p as u8; 32],
        SAMPLES[p - 1],
        STAKE,
        "s",
    )
    .unwrap()
}

/// Party `who` sends `op`; checks that it is refused with `reason` and that only its nonce
/// and fee changed.
fn refused_op(w: &mut World, who: usize, op: Op, reason: &str) {
    let before = w.state.export();
    let sender = w.addr(who).to_string();
    let balance = common::balance(&w.state, &sender);
    let receipt = w.send(who, op);
    let TxOutcome::Failed(why) = &receipt.outcome else {
        panic!("accepted, expected {reason}");
    };
    assert!(why.contains(reason), "expected {reason:?} in {why:?}");
    assert_eq!(common::balance(&w.state, &sender), balance - FEE as i128);
    let strip = |mut v: Value| {
        if let Value::Object(m) = &mut v
            && let Some(Value::Object(accounts)) = m.get_mut("values").and_then(|v| match v {
                Value::Object(m) => m.get_mut("accounts"),
                _ => None,
            })
        {
            accounts.clear();
        }
        v
    };
    assert!(
        strip(w.state.export()) == strip(before),
        "{reason}: only the sender's nonce and fee, and the proposer's fee, may change"
    );
}

/// Sends round `round`'s submission as `edit` changes it; checks that it is refused with
/// `reason` and that only nonce and fee changed.
fn refused(
    w: &mut World,
    round: u32,
    reason: &str,
    edit: impl FnOnce(&mut Vec<u8>, &mut BTreeMap<String, i128>, &mut BTreeMap<String, Vec<u8>>),
) {
    let (mut proof, mut values, mut ends) = w.submission(round);
    edit(&mut proof, &mut values, &mut ends);
    let op = submit_contribution_op(TASK, round.into(), &proof, &values, &ends).unwrap();
    refused_op(w, 0, op, reason);
}

#[test]
fn proven_shapley_values_pay_the_escrow_and_every_tampering_is_refused() {
    let mut w = world();
    assert_eq!(w.at("config/reward"), Value::from("shapley"));
    w.round(1);
    let p1 = w.addr(1).to_string();
    let p2 = w.addr(2).to_string();

    refused(
        &mut w,
        1,
        "contribution proof of round 1",
        |_, values, _| {
            *values.get_mut(&p1).unwrap() += 1;
        },
    );
    // Two providers' values swapped (two that differ).
    refused(
        &mut w,
        1,
        "contribution proof of round 1",
        |_, values, _| {
            let mut sorted: Vec<(String, i128)> = values.clone().into_iter().collect();
            sorted.sort_by_key(|(_, v)| *v);
            let (low, high) = (sorted[0].clone(), sorted[2].clone());
            assert_ne!(low.1, high.1, "the game gives different values");
            values.insert(low.0, high.1);
            values.insert(high.0, low.1);
        },
    );
    refused(&mut w, 1, "is not in the posted log", |_, _, ends| {
        let a = ends[&p1].clone();
        let b = ends[&p2].clone();
        ends.insert(p1.clone(), b);
        ends.insert(p2.clone(), a);
    });
    refused(&mut w, 1, "must name exactly", |_, values, _| {
        values.remove(&p1);
    });
    // A flipped bit (it may leave a point off the curve instead: either is a refusal).
    refused(&mut w, 1, "contribution proof of round 1", |proof, _, _| {
        proof[40] ^= 1;
    });
    // A proof of another statement: the sample counts the owner did not register.
    let forged = {
        let (w1, _) = &w.rounds[0];
        let mut samples = w.samples();
        samples[0] += 1;
        let other = witness(&w1.global, 1, &samples);
        prove(&other)
    };
    refused(&mut w, 1, "contribution proof of round 1", |proof, _, _| {
        *proof = forged;
    });

    let (proof, values, ends) = w.submission(1);
    let receipt = w.submit(1, &proof, &values, &ends);
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    assert_eq!(w.at("rounds/1/contribution"), Value::Bool(true));
    assert_eq!(w.at("rounds/1/shapley/denominator"), Value::Int(6));
    // Once verified, the round's proof cannot be replaced, and its values cannot be edited:
    // only functions write below `shapley` (a write below the spent submission changes nothing
    // settlement reads).
    assert!(!w.submit(1, &proof, &values, &ends).is_ok());
    let edit = |leaf: &str| {
        op(&format!(
            r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/rounds/1/{leaf}","value":{{}}}}"#
        ))
    };
    assert!(!w.send(0, edit(&format!("shapley/values/{p1}/x"))).is_ok());
    assert!(!w.send(0, edit("shapley/denominator")).is_ok());
    let _ = w.send(0, edit("contribution/x"));

    w.round(2);
    let (proof, values, ends) = w.submission(2);
    let receipt = w.submit(2, &proof, &values, &ends);
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);

    let receipt = w.close();
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    assert_eq!(w.at("paid_by"), Value::from("shapley"));
    // The ledger's split is contribution::payout's over the proven values.
    let rounds: Vec<RoundValues<String>> = w
        .rounds
        .iter()
        .map(|(r, _)| {
            let gain = r.table[7] - r.table[0];
            let paid = gains_enough(0, gain, 6, 0);
            RoundValues {
                denominator: 6,
                numerators: (0..3)
                    .map(|i| {
                        let v = counted(r.numerators[i], 6, paid, 6, 0);
                        (w.addr(w.order()[i]).to_string(), v)
                    })
                    .collect(),
            }
        })
        .collect();
    let values = task_values(&rounds).unwrap();
    let expected = split(ESCROW, &values.numerators).unwrap();
    let mut paid = 0;
    for p in 1..=3 {
        let me = w.addr(p).to_string();
        let pay = w.at(&format!("payouts/{me}")).as_int().unwrap_or(0);
        assert_eq!(pay, expected.payouts[&me], "provider {p}");
        assert_eq!(
            w.at(&format!("values/values/{me}")),
            Value::Int(values.numerators[&me])
        );
        paid += pay;
    }
    assert_eq!(paid + expected.remainder, ESCROW);
    assert!(
        expected.payouts.values().any(|&p| p > 0),
        "the game pays someone"
    );
}

#[test]
fn a_provider_that_sits_a_round_out_is_a_null_player_and_the_round_is_still_proven() {
    let mut w = world();
    w.round_without(1, &[2]);
    let (proof, values, ends) = w.submission(1);
    assert_eq!(values[&w.addr(2).to_string()], 0, "a null player");
    assert_eq!(ends.len(), 2, "ends of the two logs");
    // Claiming the absent provider contributed (value moved to it from another) is refused.
    let mut moved = values.clone();
    let (p1, p2) = (w.addr(1).to_string(), w.addr(2).to_string());
    *moved.get_mut(&p1).unwrap() -= 6;
    *moved.get_mut(&p2).unwrap() += 6;
    let receipt = w.submit(1, &proof, &moved, &ends);
    assert!(
        !receipt.is_ok(),
        "a value for a provider that sat the round out"
    );
    let receipt = w.submit(1, &proof, &values, &ends);
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    w.round(2);
    let (proof, values, ends) = w.submission(2);
    assert!(w.submit(2, &proof, &values, &ends).is_ok());
    assert!(w.close().is_ok());
    assert_eq!(w.at("paid_by"), Value::from("shapley"));
}

#[test]
fn junk_below_a_registration_blocks_nothing_and_pays_its_writer_nothing() {
    let mut w = world();
    let me = w.addr(3);
    let junk = format!(
        r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/providers/{me}/samples/x","value":{{"client":2,"data_root":"{}","samples":25}}}}"#,
        hex::encode([3u8; 32])
    );
    // The registration rule judges a write below the registration too, and it passes: the
    // ledger must not trust that a registration stays well formed.
    let receipt = w.send(3, op(&junk));
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    // Its provider stays a player, absent in every round: the rounds are still proven.
    for round in 1..=2 {
        w.round_without(round, &[3]);
        let (proof, values, ends) = w.submission(round);
        let receipt = w.submit(round, &proof, &values, &ends);
        assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    }
    let receipt = w.close();
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);
    assert_eq!(w.at("paid_by"), Value::from("shapley"));
    assert!(w.at(&format!("payouts/{me}")).as_int().unwrap_or(0) == 0);
}

#[test]
fn an_unproven_round_pays_by_credited_rounds_and_a_proof_needs_its_seal_and_draw() {
    let mut w = world();
    w.round(1);
    let (proof, values, ends) = w.submission(1);
    assert!(w.submit(1, &proof, &values, &ends).is_ok());
    // Round 2 without its valuation cannot even be sealed.
    w.ok(0, post_model_op(TASK, 2, &MODEL, false).unwrap());
    assert!(
        !w.send(0, seal_round_op(TASK, 2, &[0xcc; 32], None).unwrap())
            .is_ok()
    );
    let valuation = RoundValuation {
        aggregate: [3; 32],
        table: [4; 32],
    };
    let log = Log::new(0, 2, &[[5; 32], [6; 32]]);
    let post = post_log_op(TASK, 2, &w.addr(1), &log.post()).unwrap();
    w.ok(1, post);
    let sealed = w.height;
    w.ok(
        0,
        seal_round_op(TASK, 2, &[0xcc; 32], Some(&valuation)).unwrap(),
    );
    // Before the draw there is no seed, so no proof.
    let receipt = w.submit(2, &proof, &values, &ends);
    let TxOutcome::Failed(why) = &receipt.outcome else {
        panic!("accepted before the draw");
    };
    assert!(why.contains("not drawn"), "{why}");
    w.height += 1;
    w.ok(0, draw_challenge_op(TASK, 2, sealed + 1).unwrap());
    // One provider posted: the task's key proves rounds of three.
    // Provider 1's log starts from another model than round 1's aggregate and the others
    // posted none: nobody in the round can be valued, so no proof of it can be made.
    let receipt = w.submit(2, &proof, &values, &ends);
    let TxOutcome::Failed(why) = &receipt.outcome else {
        panic!("accepted a round nobody in it can be valued");
    };
    assert!(why.contains("must name exactly"), "{why}");
    let mut ends_1 = BTreeMap::new();
    ends_1.insert(
        w.addr(1).to_string(),
        LogEnds::of(&log.log, &log.tree).unwrap().encode(),
    );
    let receipt = w.submit(2, &proof, &values, &ends_1);
    let TxOutcome::Failed(why) = &receipt.outcome else {
        panic!("accepted a round nobody in it can be valued");
    };
    assert!(why.contains("contribution proof of round 2"), "{why}");
    assert!(w.close().is_ok());
    let paid_by = w.at("paid_by");
    assert!(
        paid_by
            .as_str()
            .is_some_and(|s| s.starts_with("proportional: round 2")),
        "{paid_by:?}"
    );
    // Proportional to credited rounds: provider 1 posted two rounds, the others one.
    let pay = |p: usize| {
        w.at(&format!("payouts/{}", w.addr(p)))
            .as_int()
            .unwrap_or(0)
    };
    assert_eq!((pay(1), pay(2), pay(3)), (500, 250, 250));
}

#[test]
fn a_contribution_key_from_a_ceremony_of_owner_and_providers_is_the_one_the_ledger_verifies() {
    use ceremony::{Accumulator, LagrangeBasis, Parameters, Phase2Contribution};
    use chain::settlement::TaskKey;
    use chain::task::{contribute_key_op, in_one_set, key_turn_op};
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let program = build::<Bn254>(&shape(), &witness(&[0; 6], 0, &SAMPLES))
        .unwrap()
        .0;
    let m = r1cs::shape(&program).domain_size();
    let (phase1, _) = Accumulator::new(m.trailing_zeros())
        .unwrap()
        .contribute(&mut rng);
    let basis = LagrangeBasis::new(&phase1, m).unwrap();
    let start = r1cs::ceremony_start(&program, &basis).unwrap();
    let start_vk = start.start_verifying_key();
    // A start key (γ = δ = 1) lets anyone forge proofs: only a ceremony may post one.
    let plain = ContributionConfig::new(shape(), program.digest(), &start_vk, validation_root(), 0);
    assert!(plain.unwrap_err().reason.contains("γ = δ"));
    let config = ContributionConfig::from_ceremony(
        shape(),
        program.digest(),
        &start_vk,
        validation_root(),
        0,
        start.cs_hash(),
    )
    .unwrap();
    let contribute = |params: &Parameters, rng: &mut ChaCha8Rng| {
        let (next, _) = params.contribute(rng);
        let c = next.contributions().last().unwrap().clone();
        (next, c)
    };
    let key_op = |w: &World, who: usize, c: &Phase2Contribution| {
        contribute_key_op(TASK, &w.addr(who), TaskKey::Contribution, c).unwrap()
    };
    let turn = |w: &World, who: usize, params: &Parameters| {
        key_turn_op(
            TASK,
            TaskKey::Contribution,
            &w.addr(who),
            params.transcript(),
        )
        .unwrap()
    };
    let mut w = created(config.clone(), start.proving_key().clone());
    let rewrite = |w: &World| Op::SetValue {
        path: path(&format!("/tasks/{TASK}/config")),
        value: w.at("config"),
    };

    // Nobody contributes before the owner, nor is given the turn to; the owner's contribution
    // freezes the config.
    let (owners, c) = contribute(&start, &mut rng);
    let early_turn = turn(&w, 1, &owners);
    refused_op(
        &mut w,
        0,
        early_turn,
        "denied by rule at /tasks/$task/turns/$key",
    );
    let early = key_op(&w, 1, &c);
    refused_op(
        &mut w,
        1,
        early,
        "denied by rule at /tasks/$task/setup/$key/$addr:",
    );
    let config_op = rewrite(&w);
    w.ok(0, config_op);
    w.ok(0, key_op(&w, 0, &c));
    let config_op = rewrite(&w);
    refused_op(
        &mut w,
        0,
        config_op,
        "denied by rule at /tasks/$task/config",
    );

    // Only the owner hands out turns.
    let (checked, checked_c) = contribute(&owners, &mut rng);
    let self_given = turn(&w, 1, &checked);
    refused_op(
        &mut w,
        1,
        self_given,
        "denied by rule at /tasks/$task/turns/$key",
    );
    // Without the turn, nobody contributes after the owner: not a provider on its own, and
    // not someone who copies the contribution the owner checked (front-running it).
    let unasked = in_one_set([key_op(&w, 1, &checked_c), join_op(&w, 1)]);
    refused_op(
        &mut w,
        1,
        unasked,
        "denied by rule at /tasks/$task/setup/$key/$addr:",
    );
    w.ok(0, turn(&w, 1, &checked));
    let copied = in_one_set([key_op(&w, 2, &checked_c), join_op(&w, 2)]);
    refused_op(
        &mut w,
        2,
        copied,
        "denied by rule at /tasks/$task/setup/$key/$addr:",
    );
    // The party given the turn posts the contribution the owner checked, no other (else the
    // owner would not hold the parameters the ledger is at).
    let (_, other) = contribute(&owners, &mut rng);
    let other = in_one_set([key_op(&w, 1, &other), join_op(&w, 1)]);
    refused_op(
        &mut w,
        1,
        other,
        "is not the one the owner gave the turn to",
    );

    // A provider cannot register without contributing (nor with a write below its
    // contribution's path standing in for one), nor with a contribution that is not its own
    // update of the transcript as it stands.
    let bare = join_op(&w, 1);
    refused_op(&mut w, 1, bare, "denied by rule at /tasks/$task/providers");
    let below = op(&format!(
        r#"{{"type":"SET_VALUE","ref":"/tasks/{TASK}/setup/contribution/{}/x","value":"a"}}"#,
        w.addr(1)
    ));
    refused_op(
        &mut w,
        1,
        below,
        "denied by rule at /tasks/$task/setup/$key/$addr/$below",
    );
    let replayed = in_one_set([key_op(&w, 1, &c), join_op(&w, 1)]);
    refused_op(&mut w, 1, replayed, "contribution rejected");
    let (_, mut lying) = contribute(&owners, &mut rng);
    lying.delta_after_g2 = c.delta_after_g2;
    let lying = in_one_set([key_op(&w, 1, &lying), join_op(&w, 1)]);
    refused_op(&mut w, 1, lying, "δ in G2 is not its δ in G1");
    let (_, from_start) = contribute(&start, &mut rng);
    let stale = in_one_set([key_op(&w, 1, &from_start), join_op(&w, 1)]);
    refused_op(&mut w, 1, stale, "contribution rejected");

    // Each provider, given its turn, contributes and registers in one transaction.
    let mut params = owners.clone();
    for p in 1..=3 {
        let (next, c) = if p == 1 {
            (checked.clone(), checked_c.clone())
        } else {
            contribute(&params, &mut rng)
        };
        w.ok(0, turn(&w, p, &next));
        let join = in_one_set([key_op(&w, p, &c), join_op(&w, p)]);
        w.ok(p, join);
        assert_eq!(
            w.at(&format!("setup/contribution/{}/receipt", w.addr(p))),
            Value::Str(hex::encode(next.transcript()))
        );
        params = next;
    }
    assert!(
        r1cs::ceremony_verify(&params, &program, &phase1, &basis).is_ok(),
        "the parameters check"
    );

    // Proofs under the start key (δ = 1, forgeable by anyone) or under the owner's own
    // parameters are refused; under the final key, accepted.
    w.round(1);
    for (pk, whose) in [
        (start.proving_key(), "the start key"),
        (owners.proving_key(), "the owner's parameters"),
    ] {
        w.pk = pk.clone();
        let (proof, values, ends) = w.submission(1);
        let op = submit_contribution_op(TASK, 1, &proof, &values, &ends).unwrap();
        let receipt = w.send(0, op);
        let TxOutcome::Failed(why) = &receipt.outcome else {
            panic!("a proof under {whose} was accepted");
        };
        assert!(why.contains("contribution proof of round 1"), "{why}");
    }
    w.pk = params.proving_key().clone();
    let (proof, values, ends) = w.submission(1);
    let receipt = w.submit(1, &proof, &values, &ends);
    assert!(receipt.is_ok(), "{:?}", receipt.outcome);

    // Once the task runs, the key is fixed: a party that never contributed cannot now.
    let (_, late) = contribute(&params, &mut rng);
    let late = key_op(&w, 4, &late);
    refused_op(
        &mut w,
        4,
        late,
        "denied by rule at /tasks/$task/setup/$key/$addr",
    );
}
