//! Whole tasks in one process, seeded and deterministic: three providers on breast-cancer data
//! train logistic regression over two rounds on the in-process transport, the simulated clock
//! and the embedded ledger, with real Groth16 proofs of the challenged steps.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chain::settlement::TaskKey;
use chain::task::{ChallengeParams, RewardRule, submit_proof_op};
use chain::{Op, TxOutcome, Value};
use fl::data::DatasetSource;
use fl::federation::FederationConfig;
use fl::partition::PartitionScheme;
use fl::train::TrainConfig;
use pol::{ChallengeRule, CheckpointLog, StepEvidence};
use prover::{StepInstance, StepProver};
use verifier::{Backend, KeyStore};
use zkfl::proving::{client_data, federation_shape, row_positions};
use zkfl::task::clock::SimClock;
use zkfl::task::embedded::{EmbeddedConfig, EmbeddedTask, demo_key};
use zkfl::task::ledger::{EmbeddedLedger, LedgerClient};
use zkfl::task::provider::DRAW_GRACE;
use zkfl::task::transport::{Reply, Request};
use zkfl::task::wire;
use zkfl::task::{ContributionTerms, KeySetup, Quiet, Step, TaskTerms};

const TASK: &str = "bc";
const ESCROW: i128 = 1000;

/// One key store for the whole test binary (keys are made once per shape).
fn keys() -> KeyStore {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    KeyStore::new(DIR.get_or_init(|| tempfile::tempdir().unwrap()).path())
}

fn federation() -> FederationConfig {
    FederationConfig {
        dataset: DatasetSource::BreastCancer,
        model: "logreg".into(),
        clients: 3,
        partition: PartitionScheme::Iid,
        rounds: 2,
        train: TrainConfig {
            lr: 0.1,
            batch_size: 2,
            local_epochs: 1,
            drop_last: true,
            ..TrainConfig::default()
        },
        seed: 7,
        ..FederationConfig::default()
    }
}

fn terms() -> TaskTerms {
    TaskTerms {
        id: TASK.into(),
        escrow: ESCROW,
        stake: 10,
        reward: RewardRule::Proportional,
        challenge: ChallengeParams {
            rule: ChallengeRule { q: 1, audit: 1000 },
            deadline: 4,
        },
        contribution: ContributionTerms::default(),
        setup: KeySetup::Owner,
        timeout: Duration::from_secs(30),
    }
}

fn open_with(dir: &Path, federation: FederationConfig, silent: Vec<(usize, u32)>) -> EmbeddedTask {
    open_on(dir, federation, terms(), silent)
}

fn open_on(
    dir: &Path,
    federation: FederationConfig,
    terms: TaskTerms,
    silent: Vec<(usize, u32)>,
) -> EmbeddedTask {
    open_config(dir, federation, terms, silent, false)
}

fn open_config(
    dir: &Path,
    federation: FederationConfig,
    terms: TaskTerms,
    silent: Vec<(usize, u32)>,
    network: bool,
) -> EmbeddedTask {
    EmbeddedTask::open(EmbeddedConfig {
        dir: dir.to_path_buf(),
        federation,
        terms,
        keys: keys(),
        clock: Arc::new(SimClock::new(1_700_000_000_000)),
        silent,
        network,
    })
    .unwrap()
}

fn open(dir: &Path, silent: Vec<(usize, u32)>) -> EmbeddedTask {
    open_with(dir, federation(), silent)
}

/// Runs a task to its end; returns it.
fn finished(dir: &Path, silent: Vec<(usize, u32)>) -> EmbeddedTask {
    let mut task = open(dir, silent);
    task.driver.run(&Quiet, None).unwrap();
    task
}

/// Every block of both chains, encoded.
fn blocks(ledger: &EmbeddedLedger) -> Vec<Vec<u8>> {
    let all = |l: &chain::Ledger| {
        (0..=l.tip().height)
            .map(|h| l.block(h).unwrap().unwrap().encode())
            .collect::<Vec<_>>()
    };
    let mut out = ledger.with_task(all);
    out.extend(ledger.with_root(all));
    out
}

fn at(ledger: &dyn LedgerClient, leaf: &str) -> Value {
    let path = format!("/tasks/{TASK}/{leaf}");
    ledger
        .get(&chain::Path::parse(path.trim_end_matches('/')).unwrap())
        .unwrap()
}

/// The paths an op writes.
fn paths(op: &Op, out: &mut Vec<String>) {
    match op {
        Op::SetValue { path, .. } => out.push(path.to_string()),
        Op::Set(ops) => ops.iter().for_each(|o| paths(o, out)),
        _ => {}
    }
}

/// The senders of the task chain's transactions that write a path `matches` takes, in
/// block order (once per transaction).
fn writers(ledger: &EmbeddedLedger, matches: impl Fn(&str) -> bool) -> Vec<chain::Address> {
    ledger.with_task(|l| {
        (0..=l.tip().height)
            .flat_map(|h| l.block(h).unwrap().unwrap().txs)
            .filter(|tx| {
                let mut p = Vec::new();
                paths(&tx.tx.ops, &mut p);
                p.iter().any(|p| matches(p))
            })
            .map(|tx| tx.tx.from)
            .collect()
    })
}

/// The heights of the task blocks writing each path.
fn writes(ledger: &EmbeddedLedger) -> Vec<(u64, String)> {
    ledger.with_task(|l| {
        let mut out = Vec::new();
        for h in 0..=l.tip().height {
            for tx in l.block(h).unwrap().unwrap().txs {
                let mut p = Vec::new();
                paths(&tx.tx.ops, &mut p);
                out.extend(p.into_iter().map(|p| (h, p)));
            }
        }
        out
    })
}

#[test]
fn a_task_runs_in_protocol_order_and_pays_by_credited_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let task = finished(dir.path(), vec![]);
    let ledger = &*task.ledger;
    let writes = writes(ledger);
    let heights = |pattern: &str| -> Vec<u64> {
        writes
            .iter()
            .filter(|(_, p)| p.starts_with(pattern))
            .map(|(h, _)| *h)
            .collect()
    };
    for round in 1..=2u64 {
        let logs = heights(&format!("/tasks/{TASK}/rounds/{round}/logs/"));
        assert_eq!(
            logs.len(),
            3,
            "every provider posted its log of round {round}"
        );
        let model = heights(&format!("/tasks/{TASK}/rounds/{round}/model"))[0];
        let seal = heights(&format!("/tasks/{TASK}/rounds/{round}/aggregate"))[0];
        let draw = heights(&format!("/tasks/{TASK}/rounds/{round}/draw"))[0];
        let seed_block = at(ledger, &format!("rounds/{round}/challenge/block"))
            .as_int()
            .unwrap() as u64;
        assert!(
            logs.iter().all(|&h| model < h && h < seal),
            "logs between model and seal"
        );
        assert!(
            seal < seed_block && seed_block < draw,
            "challenge from a block after the seal"
        );
        if round == 2 {
            let earlier = heights(&format!("/tasks/{TASK}/rounds/1/logs/"));
            assert!(
                earlier.iter().max() < logs.iter().min(),
                "round 1's logs come first"
            );
        }
    }
    let proofs = task.driver.proofs().unwrap();
    assert_eq!(
        proofs.len(),
        6,
        "one challenged step per provider and round"
    );
    assert!(proofs.iter().all(|p| p.error.is_none()), "{proofs:?}");
    let payouts = task.driver.payouts().unwrap();
    assert!(
        payouts
            .iter()
            .all(|p| p.credited == 2 && p.verified == 2 && p.slashed == 0)
    );
    let paid: i128 = payouts.iter().map(|p| p.payout).sum();
    let refund = at(ledger, "refund").as_int().unwrap_or(0);
    assert_eq!(paid + refund, ESCROW, "the whole escrow is paid out");
    assert_eq!(payouts[0].payout, ESCROW / 3);
    let (blocks, reports) = ledger.verify().unwrap();
    assert_eq!(
        reports as u64,
        blocks - 1,
        "every task block reported to the root chain"
    );
    assert_eq!(
        task.log_reads(),
        0,
        "proofs come from the logs kept in memory"
    );
}

/// A task whose keys a ceremony makes, in `dir`: batches of one row, a 2^13 domain, so the
/// powers of tau the test binary makes once take seconds.
fn ceremony_task(dir: &Path, silent: Vec<(usize, u32)>) -> EmbeddedTask {
    let terms = TaskTerms {
        setup: KeySetup::Ceremony,
        ..terms()
    };
    let mut federation = federation();
    federation.train.batch_size = 1;
    open_on(dir, federation, terms, silent)
}

/// The ledger's transcript of the training-step key's ceremony.
fn key_transcript(ledger: &dyn LedgerClient) -> ceremony::Transcript {
    chain::settlement::setup::decode_transcript(&at(ledger, "transcripts/training-step")).unwrap()
}

#[test]
fn a_task_whose_keys_a_ceremony_makes_pays_for_proofs_under_them_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = ceremony_task(dir.path(), vec![]);
    assert_eq!(task.driver.run(&Quiet, Some(1)).unwrap(), 1, "created");
    let verifier = at(&*task.ledger, "config/verifier");
    assert!(
        verifier.child("ceremony").as_str().is_some(),
        "{verifier:?}"
    );

    // A provider refuses parameters the ledger does not name: here, with a contribution the
    // ledger never saw. It writes nothing.
    let start =
        zkfl::task::setup::load(&task.dir, &*task.ledger, TASK, TaskKey::TrainingStep).unwrap();
    let (unseen, _) = prover::setup::contribute(&start);
    let unseen = Arc::new(BTreeMap::from([(TaskKey::TrainingStep, unseen)]));
    let reply = task
        .transport
        .with_provider(0, |p| p.handle(&Request::Join { keys: Some(unseen) }))
        .unwrap();
    match reply {
        Reply::Failed(why) => assert!(
            why.contains("not where the ledger's transcript is"),
            "{why}"
        ),
        Reply::Contributed { .. } => {
            panic!("contributed to parameters the ledger does not name")
        }
        _ => panic!("an unexpected reply"),
    }
    task.ledger.make_block().unwrap();
    assert!(at(&*task.ledger, "providers").is_absent());
    assert!(at(&*task.ledger, "setup").is_absent());

    // Join (owner first, then each provider in turn); a restarted owner finishes the task
    // from the ledger and its cache.
    assert_eq!(task.driver.run(&Quiet, Some(1)).unwrap(), 1, "joined");
    drop(task);
    let mut task = ceremony_task(dir.path(), vec![]);
    task.driver.run(&Quiet, None).unwrap();
    let ledger = &*task.ledger;

    // The ledger recorded the owner's contribution and then each provider's, chained.
    let contributions = at(ledger, "setup/training-step");
    let owner = zkfl::task::embedded::demo_key("owner");
    let order: Vec<String> = std::iter::once(chain::Address::of(&owner.public()))
        .chain((0..3).map(|c| chain::Address::of(&demo_key(&format!("provider-{c}")).public())))
        .map(|a| a.to_string())
        .collect();
    for (i, addr) in order.iter().enumerate() {
        assert_eq!(
            contributions.child(addr).child("index").as_int(),
            Some(i as i128 + 1),
            "contribution {} is {addr}'s",
            i + 1
        );
    }
    let transcript = key_transcript(ledger);
    assert_eq!(transcript.contributions, 4);
    assert_eq!(
        contributions.child(&order[3]).child("receipt").as_str(),
        Some(hex::encode(transcript.hash).as_str()),
        "the last receipt is the transcript"
    );
    assert!(at(ledger, "transcripts/contribution").is_absent());

    // Every challenged step was proven under the key the contributions made.
    let proofs = task.driver.proofs().unwrap();
    assert_eq!(proofs.len(), 6);
    assert!(proofs.iter().all(|p| p.error.is_none()), "{proofs:?}");
    assert!(
        task.driver
            .payouts()
            .unwrap()
            .iter()
            .all(|p| p.credited == 2 && p.verified == 2)
    );

    // Off the ledger (`zkfl verify --run`), the run's proofs verify under the same key.
    let run = zkfl::proving::ProvingRun::open(dir.path()).unwrap();
    let files = zkfl::proving::proof_files(dir.path()).unwrap();
    assert_eq!(files.len(), 6);
    for outcome in zkfl::proving::verify_bound(&run, &keys(), &files).unwrap() {
        outcome.unwrap();
    }
}

#[test]
fn a_restarted_owner_finishes_a_ceremony_join_a_silent_provider_missed() {
    let dir = tempfile::tempdir().unwrap();
    // Provider 2 does not answer the join: the others contribute and register.
    let mut task = ceremony_task(dir.path(), vec![(2, 0)]);
    assert_eq!(
        task.driver.run(&Quiet, Some(2)).unwrap(),
        2,
        "created, joined"
    );
    assert_eq!(task.driver.next_step().unwrap(), Step::Start);
    assert_eq!(key_transcript(&*task.ledger).contributions, 3);

    // Without the owner's turn, its contribution and registration are refused, whoever
    // submits them (itself, or a rival that copied them), and the ledger stays at the
    // parameters the owner holds.
    let held =
        zkfl::task::setup::load(&task.dir, &*task.ledger, TASK, TaskKey::TrainingStep).unwrap();
    let keys = Arc::new(BTreeMap::from([(TaskKey::TrainingStep, held)]));
    let reply = task.transport.with_provider(2, |p| {
        p.handle(&Request::Join {
            keys: Some(keys.clone()),
        })
    });
    let Some(Reply::Contributed { registration, .. }) = reply else {
        panic!("provider 2 did not contribute: {reply:?}");
    };
    let hash = task.ledger.submit_signed(*registration).unwrap();
    task.ledger.make_block().unwrap();
    match task.ledger.outcome(&hash).unwrap() {
        Some(TxOutcome::Failed(why)) => assert!(
            why.contains("denied by rule at /tasks/$task/setup/$key/$addr"),
            "{why}"
        ),
        other => panic!("a contribution without its turn: {other:?}"),
    }
    assert_eq!(key_transcript(&*task.ledger).contributions, 3);
    drop(task);
    // A restarted owner asks it once more, from the parameters the ledger is at.
    let mut task = ceremony_task(dir.path(), vec![]);
    assert_eq!(task.driver.next_step().unwrap(), Step::Join);
    task.driver.run(&Quiet, None).unwrap();
    assert_eq!(key_transcript(&*task.ledger).contributions, 4);
    let proofs = task.driver.proofs().unwrap();
    assert_eq!(proofs.len(), 6);
    assert!(proofs.iter().all(|p| p.error.is_none()), "{proofs:?}");
}

/// The transactions `party` sent that the task chain holds.
fn sent_by(ledger: &EmbeddedLedger, party: &chain::Address) -> Vec<chain::SignedTransaction> {
    ledger.with_task(|l| {
        (0..=l.tip().height)
            .flat_map(|h| l.block(h).unwrap().unwrap().txs)
            .filter(|tx| tx.tx.from == *party)
            .collect()
    })
}

/// The first op of a provider's join transaction: its contribution to the training-step key,
/// without its registration.
fn contribution_alone(registration: &chain::SignedTransaction) -> Op {
    match &registration.tx.ops {
        Op::Set(ops) => ops[0].clone(),
        other => panic!("not a join transaction: {other:?}"),
    }
}

fn provider(client: usize) -> (chain::Keypair, chain::Address) {
    let key = demo_key(&format!("provider-{client}"));
    let addr = chain::Address::of(&key.public());
    (key, addr)
}

#[test]
fn a_provider_whose_registration_fails_loses_its_turn_and_its_contribution_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = ceremony_task(dir.path(), vec![(2, 0)]);
    assert_eq!(task.driver.run(&Quiet, Some(1)).unwrap(), 1, "created");
    // Provider 1 gives its balance away: it cannot stake.
    let (key, addr) = provider(1);
    let owner = chain::Address::of(&demo_key("owner").public());
    let give = task.ledger.balance(&addr).unwrap() - 5;
    let op = chain::workload::transfer_op(&addr, &owner, 0, give);
    task.ledger.submit(&key, op).unwrap();
    task.ledger.make_block().unwrap();
    assert!(task.ledger.balance(&addr).unwrap() < 10);

    assert_eq!(task.driver.run(&Quiet, Some(1)).unwrap(), 1, "joined");
    assert!(
        at(&*task.ledger, "providers")
            .child(&addr.to_string())
            .is_absent()
    );
    assert_eq!(key_transcript(&*task.ledger).contributions, 2);
    assert_eq!(
        at(&*task.ledger, "turns/training-step/addr").as_str(),
        Some(owner.to_string().as_str()),
        "its turn ended (and nobody else holds one)"
    );
    // Its contribution the owner checked, sent again without the registration, is refused.
    let sent = sent_by(&task.ledger, &addr);
    let late = contribution_alone(sent.last().unwrap());
    let hash = task.ledger.submit(&key, late).unwrap();
    task.ledger.make_block().unwrap();
    match task.ledger.outcome(&hash).unwrap() {
        Some(TxOutcome::Failed(why)) => assert!(
            why.contains("denied by rule at /tasks/$task/setup/$key/$addr"),
            "{why}"
        ),
        other => panic!("a contribution after its turn ended: {other:?}"),
    }
    assert_eq!(key_transcript(&*task.ledger).contributions, 2);

    // A restarted owner goes on from there: provider 2 joins, and the task pays the two.
    drop(task);
    let mut task = ceremony_task(dir.path(), vec![]);
    task.driver.run(&Quiet, None).unwrap();
    assert_eq!(key_transcript(&*task.ledger).contributions, 3);
    let proofs = task.driver.proofs().unwrap();
    assert_eq!(proofs.len(), 4);
    assert!(proofs.iter().all(|p| p.error.is_none()), "{proofs:?}");
}

#[test]
fn a_restarted_owner_ends_a_standing_turn_and_keeps_the_parameters_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = ceremony_task(dir.path(), vec![(2, 0)]);
    assert_eq!(
        task.driver.run(&Quiet, Some(2)).unwrap(),
        2,
        "created, joined"
    );
    // Provider 2 answers late; the owner checks and saves its parameters, gives it the turn
    // and stops before it submits provider 2's transaction.
    let held =
        zkfl::task::setup::load(&task.dir, &*task.ledger, TASK, TaskKey::TrainingStep).unwrap();
    let keys = Arc::new(BTreeMap::from([(TaskKey::TrainingStep, held)]));
    let reply = task.transport.with_provider(2, |p| {
        p.handle(&Request::Join {
            keys: Some(keys.clone()),
        })
    });
    let Some(Reply::Contributed {
        keys: next,
        registration,
    }) = reply
    else {
        panic!("provider 2 did not contribute: {reply:?}");
    };
    let next = next[&TaskKey::TrainingStep].clone();
    zkfl::task::setup::save(&task.dir, TaskKey::TrainingStep, &next).unwrap();
    let (key, addr) = provider(2);
    let turn =
        chain::task::key_turn_op(TASK, TaskKey::TrainingStep, &addr, next.transcript()).unwrap();
    task.ledger.submit(&demo_key("owner"), turn).unwrap();
    task.ledger.make_block().unwrap();
    drop(task);

    // Its contribution alone (no registration) is on its way when the owner restarts: it
    // lands in the block that ends the turn, the owner has the parameters it names, and
    // provider 2 registers by itself.
    let mut task = ceremony_task(dir.path(), vec![]);
    let late = task
        .ledger
        .submit(&key, contribution_alone(&registration))
        .unwrap();
    task.driver.run(&Quiet, None).unwrap();
    assert_eq!(
        task.ledger.outcome(&late).unwrap(),
        Some(TxOutcome::Applied)
    );
    let transcript = key_transcript(&*task.ledger);
    assert_eq!(transcript.contributions, 4);
    assert_eq!(transcript.hash, next.transcript());
    assert!(
        !at(&*task.ledger, "providers")
            .child(&addr.to_string())
            .is_absent()
    );
    let proofs = task.driver.proofs().unwrap();
    assert_eq!(proofs.len(), 6);
    assert!(proofs.iter().all(|p| p.error.is_none()), "{proofs:?}");
}

#[test]
fn writing_below_a_guessed_proof_id_does_not_block_a_providers_proof() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = open(dir.path(), vec![]);
    // Create, Join, Start, Train(1), Draw(1): round 1's challenge is drawn, nothing proven.
    assert_eq!(task.driver.run(&Quiet, Some(5)).unwrap(), 5);
    assert_eq!(task.driver.next_step().unwrap(), Step::Prove(1));
    // A rival (provider 2) claims every id of the form providers once used for the round's
    // steps (the rules let anyone write below an unused proof id).
    let rival = demo_key("provider-2");
    for c in 0..3 {
        let claims = (0..200)
            .map(|step| {
                let path = format!("/tasks/{TASK}/proofs/r1-c{c}-s{step}/x");
                Op::SetValue {
                    path: chain::Path::parse(&path).unwrap(),
                    value: Value::Object(BTreeMap::from([("x".to_owned(), Value::Bool(true))])),
                }
            })
            .collect();
        task.ledger.submit(&rival, Op::Set(claims)).unwrap();
    }
    task.ledger.make_block().unwrap();
    assert!(
        !at(&*task.ledger, "proofs/r1-c0-s0/x").is_absent(),
        "the claims landed"
    );
    task.driver.run(&Quiet, None).unwrap();
    let proofs = task.driver.proofs().unwrap();
    assert_eq!(proofs.len(), 6);
    assert!(proofs.iter().all(|p| p.error.is_none()), "{proofs:?}");
}

#[test]
fn providers_draw_and_prove_a_challenge_their_stopped_owner_left_and_the_owner_resumes_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = open(dir.path(), vec![]);
    // Create, Join, Start, Train(1): round 1 is sealed, and the owner stops before the draw.
    assert_eq!(task.driver.run(&Quiet, Some(4)).unwrap(), 4);
    assert_eq!(task.driver.next_step().unwrap(), Step::Draw(1));
    let answer = |task: &EmbeddedTask, c: usize| {
        let answers = task
            .transport
            .with_provider(c, |p| p.answer_challenges().unwrap())
            .unwrap();
        assert!(answers.failed.is_empty(), "{answers:?}");
        answers.proofs
    };
    let owes = |task: &EmbeddedTask, c: usize| task.transport.with_provider(c, |p| p.owes());
    let sealed = at(&*task.ledger, "rounds/1/sealed").as_int().unwrap();
    // Within the grace the providers leave the draw to the owner.
    while i128::from(task.ledger.tip().unwrap().height) <= sealed + 1 + DRAW_GRACE {
        for c in 0..3 {
            assert!(answer(&task, c).is_empty());
        }
        task.ledger.make_block().unwrap();
        assert!(at(&*task.ledger, "rounds/1/challenge").is_absent());
        assert_eq!(
            owes(&task, 0),
            Some(true),
            "a logged round waits on its draw"
        );
    }
    // Past it, provider 0 draws; once the draw is in a block, each proves its step unasked,
    // and asked before that proof is in a block, names the same submission.
    for c in 0..3 {
        assert!(answer(&task, c).is_empty());
    }
    task.ledger.make_block().unwrap();
    let mut submitted = Vec::new();
    for c in 0..3 {
        let unasked = answer(&task, c);
        assert_eq!(unasked.len(), 1, "provider {c}: {unasked:?}");
        let asked = task
            .transport
            .with_provider(c, |p| p.handle(&Request::Prove { round: 1 }))
            .unwrap();
        let Reply::Proved(asked) = asked else {
            panic!("provider {c}: {asked:?}")
        };
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].tx, unasked[0].1.tx, "provider {c}");
        submitted.extend(unasked.into_iter().map(|(r, p)| (c, r, p)));
    }
    task.ledger.make_block().unwrap();
    let drawn_by = writers(&task.ledger, |p| p.ends_with("/rounds/1/draw"));
    assert_eq!(drawn_by, vec![provider(0).1], "drawn once, by provider 0");
    let challenge = at(&*task.ledger, "rounds/1/challenge");
    let drawn_in = challenge.child("due").as_int().unwrap() - 4;
    assert!(
        drawn_in > sealed + 1 + DRAW_GRACE,
        "the deadline runs from the draw's block ({drawn_in}), not the seed's"
    );
    assert_eq!(submitted.len(), 3, "{submitted:?}");
    for (c, round, proof) in &submitted {
        assert_eq!(*round, 1);
        let hash = proof.tx.as_ref().unwrap();
        assert_eq!(
            task.ledger.outcome(hash).unwrap(),
            Some(TxOutcome::Applied),
            "provider {c}"
        );
    }
    // Nothing is submitted twice: not unasked, nor when the restarted owner asks; and
    // nothing is owed any more.
    for c in 0..3 {
        assert!(answer(&task, c).is_empty());
        assert_eq!(owes(&task, c), Some(false), "provider {c}");
    }
    drop(task);
    let mut task = open(dir.path(), vec![]);
    assert_eq!(task.driver.next_step().unwrap(), Step::Prove(1));
    task.driver.run(&Quiet, None).unwrap();
    let payouts = task.driver.payouts().unwrap();
    assert!(
        payouts.iter().all(|p| p.verified == 2 && p.slashed == 0),
        "{payouts:?}"
    );
    let mut round1 = writers(&task.ledger, |p| p.contains("/proofs/r1-"));
    round1.sort();
    let mut providers: Vec<chain::Address> = (0..3).map(|c| provider(c).1).collect();
    providers.sort();
    assert_eq!(
        round1, providers,
        "one proof submission per provider for round 1"
    );
}

#[test]
fn a_provider_without_the_owners_proving_key_is_refused_at_joining() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = open(dir.path(), vec![]);
    assert_eq!(task.driver.run(&Quiet, Some(1)).unwrap(), 1, "created");
    // A key directory that is empty, and one holding the verifying keys alone: the prover
    // would make proving keys of its own in either, and every proof would then be refused.
    let empty = tempfile::tempdir().unwrap();
    let vk_only = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(vk_only.path().join("groth16")).unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(keys().dir().join("groth16")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "vk") {
            std::fs::copy(
                &path,
                vk_only
                    .path()
                    .join("groth16")
                    .join(path.file_name().unwrap()),
            )
            .unwrap();
            copied += 1;
        }
    }
    for held in [empty.path(), vk_only.path()] {
        let ctx = Arc::new(zkfl::task::provider::ProviderContext {
            task: TASK.into(),
            federation: task.federation.clone(),
            dir: task.dir.clone(),
            ledger: task.ledger.clone(),
            prover: Arc::new(StepProver::new(KeyStore::new(held), Backend::Groth16)),
            shape: federation_shape(&task.federation).unwrap(),
            stake: terms().stake,
        });
        let mut p = zkfl::task::provider::Provider::new(0, demo_key("provider-0"), ctx).unwrap();
        match p.handle(&Request::Join { keys: None }) {
            Reply::Failed(why) => assert!(why.contains("proving key"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        at(&*task.ledger, &format!("providers/{}", provider(0).1)).is_absent(),
        "not registered"
    );
    assert!(
        copied > 0
            && std::fs::read_dir(empty.path()).unwrap().next().is_none()
            && std::fs::read_dir(vk_only.path().join("groth16"))
                .unwrap()
                .count()
                == copied,
        "no key was made"
    );
}

#[test]
fn a_provider_that_stops_answering_is_left_out_and_not_paid_for_that_round() {
    let dir = tempfile::tempdir().unwrap();
    let task = finished(dir.path(), vec![(2, 2)]);
    let history = task.driver.history();
    assert_eq!(history[0].clients.len(), 3);
    let round2: Vec<usize> = history[1].clients.iter().map(|c| c.client).collect();
    assert_eq!(
        round2,
        vec![0, 1],
        "round 2 completed with the others after the timeout"
    );
    let payouts = task.driver.payouts().unwrap();
    let credited: Vec<i128> = payouts.iter().map(|p| p.credited).collect();
    assert_eq!(credited, vec![2, 2, 1]);
    // ⌊1000·2/5⌋ = 400 for the others, ⌊1000/5⌋ = 200 for the one that dropped out.
    let paid: Vec<i128> = payouts.iter().map(|p| p.payout).collect();
    assert_eq!(paid, vec![400, 400, 200]);
    assert!(payouts.iter().all(|p| p.slashed == 0));
}

#[test]
fn a_provider_that_does_not_prove_loses_its_stake() {
    // Provider 1 trains and posts in round 2 but falls silent when asked for its proof.
    let dir = tempfile::tempdir().unwrap();
    let mut task = open(dir.path(), vec![]);
    loop {
        let step = task.driver.next_step().unwrap();
        if step == Step::Prove(2) {
            break;
        }
        task.driver.run(&Quiet, Some(1)).unwrap();
    }
    drop(task);
    let task = finished(dir.path(), vec![(1, 2)]);
    let payouts = task.driver.payouts().unwrap();
    assert_eq!(payouts[1].slashed, 10, "its stake went to the escrow");
    assert_eq!(payouts[1].payout, 0);
    assert_eq!(payouts[1].credited, 0);
    // The others share the escrow and the slashed stake.
    assert_eq!(payouts[0].payout, 505);
    assert_eq!(payouts[2].payout, 505);
}

#[test]
fn an_owner_that_crashes_between_any_two_steps_resumes_to_the_same_end() {
    let reference = tempfile::tempdir().unwrap();
    let mut task = open(reference.path(), vec![]);
    let steps = task.driver.run(&Quiet, None).unwrap();
    let expected = blocks(&task.ledger);
    let payouts = format!("{:?}", task.driver.payouts().unwrap());
    drop(task);
    assert!(steps >= 9, "{steps} steps");
    for crash_after in 1..steps {
        let dir = tempfile::tempdir().unwrap();
        let mut task = open(dir.path(), vec![]);
        assert_eq!(
            task.driver.run(&Quiet, Some(crash_after)).unwrap(),
            crash_after
        );
        drop(task);
        let task = finished(dir.path(), vec![]);
        assert!(
            blocks(&task.ledger) == expected,
            "a crash after step {crash_after} changed the ledger"
        );
        assert_eq!(format!("{:?}", task.driver.payouts().unwrap()), payouts);
    }
}

#[test]
fn one_seed_twice_gives_byte_identical_ledgers() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = blocks(&finished(a.path(), vec![]).ledger);
    let second = blocks(&finished(b.path(), vec![]).ledger);
    assert!(first.len() > 20);
    assert!(first == second, "the same seed made different ledgers");
    let another = tempfile::tempdir().unwrap();
    let mut config = federation();
    config.seed = 8;
    let mut other = open_with(another.path(), config, vec![]);
    other.driver.run(&Quiet, None).unwrap();
    assert!(
        blocks(&other.ledger) != first,
        "another seed, another ledger"
    );
}

#[test]
fn options_that_cannot_run_leave_the_directory_free_for_ones_that_can() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("task");
    let bad = EmbeddedTask::open(EmbeddedConfig {
        dir: out.clone(),
        federation: FederationConfig {
            rounds: 0,
            ..federation()
        },
        terms: terms(),
        keys: keys(),
        clock: Arc::new(SimClock::new(1_700_000_000_000)),
        silent: vec![],
        network: false,
    });
    assert!(bad.is_err(), "0 rounds were taken");
    assert!(!out.exists(), "a refused task wrote {}", out.display());
    // The same directory then takes a task that can run.
    open_on(&out, federation(), terms(), vec![]);
}

#[test]
fn providers_behind_libp2p_peers_on_loopback_make_the_same_ledger_as_in_process() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = blocks(&finished(a.path(), vec![]).ledger);
    let mut task = open_config(b.path(), federation(), terms(), vec![], true);
    task.driver.run(&Quiet, None).unwrap();
    assert!(
        blocks(&task.ledger) == local,
        "the transport changed the ledger"
    );

    // A peer that is not the task's owner is refused by a provider, and logged.
    let network = task.network.as_ref().unwrap();
    let stranger = net::Peer::start(net::PeerConfig::loopback([99; 32])).unwrap();
    let provider = stranger
        .dial(network.providers[&0].address(), Duration::from_secs(20))
        .unwrap();
    let mut none = NoBlobs;
    let message = wire::encode_request(&Request::Prove { round: 1 }, u64::MAX, &mut none).unwrap();
    match stranger.request(provider, message, Duration::from_secs(20)) {
        Err(net::NetError::Refused { reason, .. }) => {
            assert_eq!(reason, "not the task's owner")
        }
        other => panic!("a stranger was answered: {other:?}"),
    }
    // From the owner's key, a new request is answered, and the same bytes again, or a
    // number below those the transport used, are refused as replays.
    let to = network.providers[&0].id();
    let ask = |sequence: u64| {
        let message =
            wire::encode_request(&Request::Join { keys: None }, sequence, &mut NoBlobs).unwrap();
        network.owner.request(to, message, Duration::from_secs(20))
    };
    let answer = ask(u64::MAX - 1).unwrap();
    assert!(matches!(
        wire::decode_reply(&answer, &mut NoBlobs).unwrap(),
        Reply::Joined(None)
    ));
    for sequence in [u64::MAX - 1, 1] {
        match ask(sequence) {
            Err(net::NetError::Refused { reason, .. }) => assert_eq!(reason, "a replayed request"),
            other => panic!("a replayed request was answered: {other:?}"),
        }
    }
    // The owner's peer takes no messages at all.
    let owner = stranger
        .dial(network.owner.address(), Duration::from_secs(20))
        .unwrap();
    match stranger.request(owner, b"hello".to_vec(), Duration::from_secs(20)) {
        Err(net::NetError::Refused { reason, .. }) => assert!(reason.contains("no messages")),
        other => panic!("the owner took a message: {other:?}"),
    }
}

/// The byte strings of `values` a leak of them would contain: every run of 4 consecutive
/// values (that are not all one value), as f32, f64 and fixed-point i64 little-endian.
fn leak_needles(values: &[f32], out: &mut std::collections::HashSet<Vec<u8>>) {
    for run in values.windows(4).filter(|w| w.iter().any(|v| *v != w[0])) {
        out.insert(run.iter().flat_map(|v| v.to_le_bytes()).collect());
        out.insert(
            run.iter()
                .flat_map(|v| f64::from(*v).to_le_bytes())
                .collect(),
        );
        if let Ok(q) = run
            .iter()
            .map(|v| circuits::fixed::quantize_feature(*v))
            .collect::<Result<Vec<_>, _>>()
        {
            out.insert(q.iter().flat_map(|v| v.to_le_bytes()).collect());
        }
    }
}

/// Whether `payload` holds one of `needles` (16 or 32 bytes long).
fn leaks(payload: &[u8], needles: &std::collections::HashSet<Vec<u8>>) -> bool {
    [16, 32]
        .iter()
        .any(|&n| payload.windows(n).any(|w| needles.contains(w)))
}

#[test]
fn no_frame_a_provider_sends_and_no_transaction_it_signs_holds_a_row_of_its_data() {
    use sha2::Digest as _;
    use std::sync::Mutex;
    let dir = tempfile::tempdir().unwrap();
    let mut task = open_config(dir.path(), federation(), terms(), vec![], true);
    // Every frame provider 0's peer writes, as encoded before Noise.
    let frames: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let network = task.network.as_ref().unwrap();
    let tapped = frames.clone();
    network.providers[&0].tap_frames(Some(Arc::new(move |body: &[u8]| {
        tapped.lock().unwrap().push(body.to_vec())
    })));
    let provider_id = network.providers[&0].id();
    task.driver.run(&Quiet, None).unwrap();

    // Its rows, as it holds them (standardized features), in every encoding a leak might take.
    let mut needles = std::collections::HashSet::new();
    let rows = &task.federation.partitioning().clients[0];
    for &r in rows {
        leak_needles(task.federation.train_set().row(r), &mut needles);
    }
    assert!(needles.len() > 3 * rows.len(), "{} needles", needles.len());
    // The detector finds a row planted in a frame.
    let mut planted = b"reply".to_vec();
    planted.extend(
        task.federation.train_set().row(rows[rows.len() / 2])[..8]
            .iter()
            .flat_map(|v| v.to_le_bytes()),
    );
    assert!(leaks(&planted, &needles), "a planted row goes unseen");

    // What it sent: message bodies in the clear, and each blob chunk opened with the owner's
    // key (the chunks are sealed to it).
    let owner = demo_key("owner").secret();
    let mut payloads = Vec::new();
    let mut opened = 0;
    for frame in frames.lock().unwrap().iter() {
        use net::frame::{Request as Asked, Response as Answered};
        if let Ok(asked) = Asked::decode(frame) {
            match asked {
                Asked::App(body) => payloads.push(body),
                Asked::Chunk { .. } => {} // a digest and an index
            }
            continue;
        }
        match Answered::decode(frame).unwrap() {
            Answered::Chunk { total, bytes } => {
                assert_eq!(total as usize, bytes.len(), "one chunk a blob here");
                payloads.push(net::seal::open(owner, &provider_id, &bytes).unwrap());
                opened += 1;
            }
            Answered::App(body) => payloads.push(body),
            Answered::Refused(reason) => payloads.push(reason.into_bytes()),
        }
    }
    // The tap saw what matters: both rounds' updates, whose digests the provider posted.
    let me = provider(0).1.to_string();
    for round in ["1", "2"] {
        let post = chain::task::LogPost::from_value(&at(
            &*task.ledger,
            &format!("rounds/{round}/logs/{me}"),
        ))
        .unwrap();
        assert!(
            payloads
                .iter()
                .any(|p| <[u8; 32]>::from(sha2::Sha256::digest(p)) == post.update),
            "round {round}'s update is not among the {opened} blobs sent"
        );
    }
    for (i, payload) in payloads.iter().enumerate() {
        assert!(
            !leaks(payload, &needles),
            "payload {i} holds a row of its data"
        );
    }
    // Nor does anything it put on the ledger (its registration, logs and proofs).
    let sent = sent_by(&task.ledger, &provider(0).1);
    assert!(sent.len() >= 3, "{} transactions", sent.len());
    for tx in &sent {
        assert!(!leaks(&tx.encode(), &needles), "a transaction holds a row");
    }
}

#[test]
fn a_provider_whose_peer_declines_a_round_is_left_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = open_config(dir.path(), federation(), terms(), vec![(2, 2)], true);
    task.driver.run(&Quiet, None).unwrap();
    let round2: Vec<usize> = task.driver.history()[1]
        .clients
        .iter()
        .map(|c| c.client)
        .collect();
    assert_eq!(round2, vec![0, 1]);
    let paid: Vec<i128> = task
        .driver
        .payouts()
        .unwrap()
        .iter()
        .map(|p| p.payout)
        .collect();
    assert_eq!(paid, vec![400, 400, 200]);
}

/// Blobs for a message that has none.
struct NoBlobs;

impl wire::Blobs for NoBlobs {
    fn put(&mut self, _: Vec<u8>) -> anyhow::Result<[u8; 32]> {
        anyhow::bail!("no blobs here")
    }
    fn get(&mut self, _: [u8; 32], _: u64) -> anyhow::Result<Vec<u8>> {
        anyhow::bail!("no blobs here")
    }
}

#[test]
fn a_proof_of_an_unchallenged_step_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = open(dir.path(), vec![]);
    while task.driver.next_step().unwrap() != Step::Prove(1) {
        task.driver.run(&Quiet, Some(1)).unwrap();
    }
    let provider = demo_key("provider-0");
    let me = chain::Address::of(&provider.public()).to_string();
    let drawn = at(&*task.ledger, &format!("rounds/1/challenge/steps/{me}"));
    let log = CheckpointLog::read(&task.dir.pol_path(1, 0)).unwrap();
    let step = (0..log.total_steps())
        .find(|t| drawn.child(&t.to_string()).is_absent())
        .unwrap();
    let federation = &task.federation;
    let data = client_data(federation, 0).unwrap();
    let (i, _) = log.locate_step(step).unwrap();
    let blobs = task.dir.blobs();
    let before = blobs.get_f32s(&log.checkpoint_before(i)).unwrap();
    let after = blobs.get_f32s(&log.entries[i].checkpoint).unwrap();
    let instance = StepInstance::from_log(
        federation_shape(federation).unwrap(),
        &log,
        step,
        (&before, &after),
        &row_positions(federation, 0),
        &data,
    )
    .unwrap();
    let file = StepProver::new(keys(), Backend::Groth16)
        .prove(&instance, &data)
        .unwrap();
    let evidence = StepEvidence::of(&log, &log.record_tree(), step).unwrap();
    let state_before = at(&*task.ledger, "");
    let op = submit_proof_op(TASK, "sneaky", &file.encode(), &evidence.encode()).unwrap();
    let hash = task.ledger.submit(&provider, op).unwrap();
    task.ledger.make_block().unwrap();
    match task.ledger.outcome(&hash).unwrap() {
        Some(TxOutcome::Failed(why)) => assert!(why.contains("was not challenged"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        at(&*task.ledger, ""),
        state_before,
        "the task's record is unchanged"
    );
    // The task still finishes and pays as usual.
    task.driver.run(&Quiet, None).unwrap();
    let payouts: BTreeMap<usize, i128> = task
        .driver
        .payouts()
        .unwrap()
        .into_iter()
        .map(|p| (p.client, p.credited))
        .collect();
    assert!(payouts.values().all(|c| *c == 2));
}

/// A finished task paid by proven Shapley values (every round paid: min gain 0).
fn shapley_task(dir: &Path, silent: Vec<(usize, u32)>) -> EmbeddedTask {
    let mut terms = terms();
    terms.reward = RewardRule::Shapley;
    terms.contribution.min_gain = 0;
    let mut task = open_on(dir, federation(), terms, silent);
    task.driver.run(&Quiet, None).unwrap();
    task
}

#[test]
fn a_provider_that_drops_out_of_a_shapley_task_is_a_null_player_of_that_round() {
    let dir = tempfile::tempdir().unwrap();
    let task = shapley_task(dir.path(), vec![(2, 2)]);
    let ledger = &*task.ledger;
    assert_eq!(task.driver.paid_by().unwrap().as_deref(), Some("shapley"));
    let gone = task.driver.payouts().unwrap()[2].address.clone();
    for round in 1..=2u32 {
        assert_eq!(
            at(ledger, &format!("rounds/{round}/contribution")),
            Value::Bool(true),
            "round {round} is proven with or without provider 2"
        );
    }
    assert!(at(ledger, &format!("rounds/2/logs/{gone}")).is_absent());
    assert_eq!(
        at(ledger, &format!("rounds/2/shapley/values/{gone}")),
        Value::Int(0),
        "absent, so null"
    );
}

#[test]
fn a_shapley_task_proves_each_rounds_values_and_pays_by_them() {
    let dir = tempfile::tempdir().unwrap();
    let task = shapley_task(dir.path(), vec![]);
    let ledger = &*task.ledger;
    let writes = writes(ledger);
    let height = |p: String| writes.iter().find(|(_, w)| *w == p).map(|(h, _)| *h);
    let mut rounds = Vec::new();
    for round in 1..=2u32 {
        assert_eq!(
            at(ledger, &format!("rounds/{round}/contribution")),
            Value::Bool(true),
            "round {round}'s values are proven"
        );
        let valuation = height(format!("/tasks/{TASK}/rounds/{round}/valuation"));
        let seal = height(format!("/tasks/{TASK}/rounds/{round}/aggregate"));
        assert!(
            valuation.is_some() && valuation == seal,
            "valued with the seal"
        );
        // The values the ledger verified are the owner's exact game of the round.
        let inputs =
            zkfl::valuation::contribution_witness(dir.path(), round, None, 0, &[0; 32]).unwrap();
        assert_eq!(
            inputs.gap.differing, 0,
            "the next model is the proven FedAvg"
        );
        let numerators: std::collections::BTreeMap<String, i128> = inputs
            .clients
            .iter()
            .zip(&inputs.witness.numerators)
            .map(|(c, v)| (task.driver.payouts().unwrap()[*c].address.clone(), *v))
            .collect();
        for (addr, v) in &numerators {
            assert_eq!(
                at(ledger, &format!("rounds/{round}/shapley/values/{addr}")),
                Value::Int(*v)
            );
        }
        rounds.push(contribution::payout::RoundValues {
            denominator: 6,
            numerators,
        });
    }
    assert_eq!(task.driver.paid_by().unwrap().as_deref(), Some("shapley"));
    let values = contribution::payout::task_values(&rounds).unwrap();
    let split = contribution::payout::split(ESCROW, &values.numerators).unwrap();
    let payouts = task.driver.payouts().unwrap();
    for p in &payouts {
        assert_eq!(p.payout, split.payouts[&p.address], "client {}", p.client);
        let expected = values.numerators[&p.address] as f64 / values.denominator as f64;
        assert_eq!(p.value, Some(expected));
    }
    let refund = at(ledger, "refund").as_int().unwrap_or(0);
    assert_eq!(
        payouts.iter().map(|p| p.payout).sum::<i128>() + refund,
        ESCROW
    );
}

#[test]
fn a_provider_refuses_to_train_a_shapley_round_on_a_model_that_is_not_the_sealed_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let mut terms = terms();
    terms.reward = RewardRule::Shapley;
    let mut task = open_on(dir.path(), federation(), terms, vec![]);
    // Create, join, start, train and seal round 1.
    task.driver.run(&Quiet, Some(4)).unwrap();
    assert_eq!(task.driver.next_step().unwrap(), Step::Draw(1));
    // The owner sends round 2 a model one fixed-point unit off its sealed aggregate.
    let mut other = task.driver.global().to_vec();
    other[0] += 1.0 / 65536.0;
    let request = zkfl::task::transport::Request::Train {
        round: 2,
        model: Arc::new(other),
    };
    let reply = task
        .transport
        .with_provider(0, |p| p.handle(&request))
        .unwrap();
    let zkfl::task::transport::Reply::Failed(why) = reply else {
        panic!("trained on a model that is not the sealed aggregate");
    };
    assert!(why.contains("not round 1's sealed aggregate"), "{why}");
}
