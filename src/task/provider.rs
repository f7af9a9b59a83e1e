//! The data provider's side of a task: it joins with a commitment to its data, trains each
//! round it is asked to on its own rows (writing a proof-of-learning log), posts its log, sends
//! its update to the owner, and proves the steps the ledger's challenge draws for it. Its rows
//! never leave it; only commitments, its update and proofs do.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use chain::store::Hash;
use chain::task::{
    LogPost, contribute_key_op, draw_challenge_op, in_one_set, post_log_op, provider_join_op,
    submit_proof_op, task_path,
};
use chain::{Address, Keypair, Value};
use circuits::relations::training_step::TrainingStepShape;
use fl::federation::{Federation, RunDir};
use pol::LogEnds;
use pol::{CheckpointLog, Digest, RecordTree, StepEvidence};
use prover::{CommittedData, DataCommitment, StepInstance, StepProver};
use sha2::{Digest as _, Sha256};
use verifier::{Backend, ProofFile};

use super::ledger::LedgerClient;
use super::setup::{self, KeyParameters};
use super::transport::{Reply, Request, SubmittedProof, Update};
use crate::proving::{client_data, proof_path, read_proof, row_positions, write_proof};

/// What every provider of a task shares in this process: the task, the federation (data and
/// partition, from which each provider takes only its own rows), the cache directory, the
/// ledger and the prover.
pub struct ProviderContext {
    /// The task id.
    pub task: String,
    /// The federation.
    pub federation: Arc<Federation>,
    /// The cache: logs, checkpoints and proofs.
    pub dir: Arc<RunDir>,
    /// The ledger.
    pub ledger: Arc<dyn LedgerClient>,
    /// The prover (Groth16: what the ledger verifies).
    pub prover: Arc<StepProver>,
    /// The training-step shape the task's key was made for.
    pub shape: TrainingStepShape,
    /// What each provider stakes to join.
    pub stake: i128,
}

/// Blocks past the one after a round's seal that a provider waits for its owner to draw the
/// round's challenge before it draws it itself.
pub const DRAW_GRACE: i128 = 8;

/// Blocks after which a provider tries again a round whose draw or proofs failed.
pub const RETRY_BLOCKS: i128 = 8;

/// One round a provider trained.
struct Trained {
    log: CheckpointLog,
    tree: RecordTree,
    update: Update,
}

/// A data provider.
pub struct Provider {
    client: usize,
    key: Keypair,
    ctx: Arc<ProviderContext>,
    data: CommittedData,
    commitment: DataCommitment,
    /// Position of each of its training rows in its committed data set.
    positions: HashMap<u32, u64>,
    rounds: BTreeMap<u32, Trained>,
    log_reads: usize,
    /// Proofs submitted, by round and step.
    sent: BTreeMap<(u32, u64), SubmittedProof>,
    /// Rounds whose challenge it has nothing left to do for.
    answered: BTreeSet<u32>,
    /// The draws it submitted, by round.
    draws: BTreeMap<u32, Hash>,
    /// The height from which a round whose draw or proofs failed is tried again.
    retry_at: BTreeMap<u32, i128>,
    /// Whether the last look at the ledger found a challenge it may have to answer.
    owing: bool,
}

/// What [`Provider::answer_challenges`] did.
#[derive(Debug, Default)]
pub struct Answers {
    /// The proofs submitted, by round.
    pub proofs: Vec<(u32, SubmittedProof)>,
    /// The rounds that could not be answered, and why (tried again later).
    pub failed: Vec<(u32, String)>,
}

impl Provider {
    /// Provider `client` with its ledger key; commits to its rows.
    pub fn new(client: usize, key: Keypair, ctx: Arc<ProviderContext>) -> Result<Provider> {
        let data = client_data(&ctx.federation, client)?;
        let commitment = prover::commit_data(client, &data)?;
        let positions = row_positions(&ctx.federation, client);
        Ok(Provider {
            client,
            key,
            ctx,
            data,
            commitment,
            positions,
            rounds: BTreeMap::new(),
            log_reads: 0,
            sent: BTreeMap::new(),
            answered: BTreeSet::new(),
            draws: BTreeMap::new(),
            retry_at: BTreeMap::new(),
            owing: false,
        })
    }

    /// Its client index.
    pub fn client(&self) -> usize {
        self.client
    }

    /// Its ledger address.
    pub fn address(&self) -> Address {
        Address::of(&self.key.public())
    }

    /// Its data commitment.
    pub fn commitment(&self) -> &DataCommitment {
        &self.commitment
    }

    /// Proof-of-learning logs it had to read back from disk (it keeps the logs of the rounds it
    /// trained in memory; only a restarted provider reads them).
    pub fn log_reads(&self) -> usize {
        self.log_reads
    }

    /// Answers a request of the owner.
    pub fn handle(&mut self, request: &Request) -> Reply {
        let result = match request {
            Request::Join { keys } => self.join(keys.as_ref()),
            Request::Train { round, model } => self
                .train(*round, model)
                .map(|u| Reply::Trained(Box::new(u))),
            Request::Prove { round } => self.prove(*round).map(Reply::Proved),
        };
        result.unwrap_or_else(|e| Reply::Failed(format!("{e:#}")))
    }

    /// Does what the ledger asks of this provider without waiting for its owner to ask:
    /// draws the challenge of a round it logged that its owner has left undrawn for
    /// [`DRAW_GRACE`] blocks after the seal's next block, plus two per client index so that
    /// one provider draws rather than all (anyone may, once; the seed is that block's hash
    /// whoever draws, and the deadline runs from the draw), and proves the steps drawn for
    /// it not yet proven. A provider that only proved when asked would be slashed for an
    /// owner that stopped after the draw. A round whose draw or proofs failed is tried again
    /// [`RETRY_BLOCKS`] blocks later; one whose challenge can no longer be drawn (its seed
    /// block out of [`chain::recent::RECENT_BLOCKS`]) or answered (past due) is done with.
    ///
    /// Errors: the ledger cannot be read (a round's own failure is in [`Answers::failed`]).
    pub fn answer_challenges(&mut self) -> Result<Answers> {
        let me = self.address().to_string();
        let current = self
            .ctx
            .ledger
            .get(&self.at(&["round"])?)?
            .as_int()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        let tip = i128::from(self.ctx.ledger.tip()?.height);
        let mut answers = Answers::default();
        let (open, waiting): (Vec<u32>, Vec<u32>) = (1..=current)
            .filter(|r| !self.answered.contains(r))
            .partition(|r| self.retry_at.get(r).is_none_or(|at| tip >= *at));
        self.owing = !waiting.is_empty();
        for round in open {
            match self.answer_round(round, &me, tip) {
                Ok((owed, proofs, retry)) => {
                    self.owing |= owed;
                    if retry {
                        self.retry_at.insert(round, tip + RETRY_BLOCKS);
                    }
                    answers
                        .proofs
                        .extend(proofs.into_iter().map(|p| (round, p)));
                }
                Err(e) => {
                    self.owing = true;
                    self.retry_at.insert(round, tip + RETRY_BLOCKS);
                    answers.failed.push((round, format!("{e:#}")));
                }
            }
        }
        Ok(answers)
    }

    /// Whether a round it logged still waits on a challenge it may have to answer (as of its
    /// last [`Provider::answer_challenges`]).
    pub fn owes(&self) -> bool {
        self.owing
    }

    /// One round of [`Provider::answer_challenges`]: whether the round still owes a
    /// challenge's answer, the proofs submitted now, and whether to look again only after
    /// [`RETRY_BLOCKS`] (a proof failed, or was sent again because the first did not stand).
    fn answer_round(
        &mut self,
        round: u32,
        me: &str,
        tip: i128,
    ) -> Result<(bool, Vec<SubmittedProof>, bool)> {
        let r = round.to_string();
        let value = self.ctx.ledger.get(&self.at(&["rounds", &r])?)?;
        let logged = !value.child("logs").child(me).is_absent();
        let Some(sealed) = value.child("sealed").as_int() else {
            // Still training: nothing can be drawn (or slashed) before the owner seals.
            return Ok((false, Vec::new(), false));
        };
        if !logged {
            self.answered.insert(round);
            return Ok((false, Vec::new(), false));
        }
        let challenge = value.child("challenge");
        if challenge.is_absent() {
            if tip > sealed + 1 + chain::recent::RECENT_BLOCKS as i128 - 1 {
                self.answered.insert(round); // nobody can draw it any more
                return Ok((false, Vec::new(), false));
            }
            // Staggered by client index, so that one provider draws, not all at once.
            let grace = DRAW_GRACE + 2 * self.client as i128;
            let drew = match self.draws.get(&round) {
                Some(hash) => self.ctx.ledger.stands(hash)?,
                None => false,
            };
            if tip > sealed + 1 + grace && !drew {
                let block = u64::try_from(sealed + 1)?;
                let op = draw_challenge_op(&self.ctx.task, u64::from(round), block)?;
                let hash = self.ctx.ledger.submit(&self.key, op)?;
                self.draws.insert(round, hash);
            }
            return Ok((true, Vec::new(), false));
        }
        if challenge.child("steps").child(me).is_absent()
            || challenge.child("due").as_int().is_some_and(|due| tip > due)
        {
            self.answered.insert(round);
            return Ok((false, Vec::new(), false));
        }
        let known: BTreeMap<u64, Result<Hash, String>> = self
            .sent
            .range((round, 0)..=(round, u64::MAX))
            .map(|((_, step), sent)| (*step, sent.tx.clone()))
            .collect();
        let proofs = self.prove(round)?;
        if proofs.is_empty() {
            // Every step drawn for it is proven.
            self.answered.insert(round);
            return Ok((false, Vec::new(), false));
        }
        // What it sent now: first submissions, resubmissions of ones that did not stand,
        // and failures (not the earlier submissions it named again).
        let new: Vec<SubmittedProof> = proofs
            .into_iter()
            .filter(|p| known.get(&p.step) != Some(&p.tx))
            .collect();
        let retry = new
            .iter()
            .any(|p| p.tx.is_err() || known.contains_key(&p.step));
        Ok((true, new, retry))
    }

    fn at(&self, leaf: &[&str]) -> Result<chain::Path> {
        Ok(task_path(&self.ctx.task, leaf)?)
    }

    /// Registers; in a task whose keys a ceremony makes, checks `keys`, contributes to each
    /// and hands back the parameters after its contributions with its signed transaction
    /// (contributions and registration) for the owner to submit. A provider whose
    /// contributions are on the ledger already submits its registration itself.
    fn join(&mut self, keys: Option<&KeyParameters>) -> Result<Reply> {
        let me = self.address().to_string();
        if !self
            .ctx
            .ledger
            .get(&self.at(&["providers", &me])?)?
            .is_absent()
        {
            return Ok(Reply::Joined(None));
        }
        let root = self
            .commitment
            .root(Backend::Groth16)
            .context("no BN254 data root")?;
        let mut ops = Vec::new();
        let programs = setup::ceremony_programs(self.ctx.ledger.as_ref(), &self.ctx.task)?;
        if programs.is_empty() {
            // Keys the owner made: a provider without them is refused now, not at its first
            // challenge.
            self.check_proving_key()?;
        }
        let ledger = self.ctx.ledger.as_ref();
        let mut done = 0;
        for key in programs.keys() {
            done += usize::from(setup::contributed(
                ledger,
                &self.ctx.task,
                *key,
                &self.address(),
            )?);
        }
        // Contributions of its own on the ledger (a transaction of its that split them from
        // its registration): it registers, by itself; a part of them: it cannot.
        ensure!(
            done == 0 || done == programs.len(),
            "it contributed to {done} of the task's {} keys, and may not contribute to the others",
            programs.len()
        );
        let registered_by_itself = done > 0;
        let mut next = BTreeMap::new();
        for (key, program) in programs.iter().filter(|_| !registered_by_itself) {
            let params = keys.and_then(|k| k.get(key)).with_context(|| {
                format!("the owner sent no parameters of the {} key", key.name())
            })?;
            setup::check_on_ledger(
                self.ctx.ledger.as_ref(),
                &self.ctx.task,
                *key,
                params,
                program,
            )?;
            let (params, contribution) = self.ctx.prover.ceremony_contribute(params, program)?;
            ops.push(contribute_key_op(
                &self.ctx.task,
                &self.address(),
                *key,
                &contribution,
            )?);
            next.insert(*key, params);
        }
        ops.push(provider_join_op(
            &self.ctx.task,
            &self.address(),
            self.client as u32,
            &root,
            self.positions.len() as u64,
            self.ctx.stake,
            "join",
        )?);
        let op = in_one_set(ops);
        if programs.is_empty() || registered_by_itself {
            return Ok(Reply::Joined(Some(self.ctx.ledger.submit(&self.key, op)?)));
        }
        Ok(Reply::Contributed {
            keys: Arc::new(next),
            registration: Box::new(self.ctx.ledger.sign(&self.key, op)?),
        })
    }

    fn train(&mut self, round: u32, model: &[f32]) -> Result<Update> {
        let global = Digest::of(&fl::blob::f32s_to_bytes(model));
        if let Some(done) = self.rounds.get(&round)
            && done.log.header.global == global
        {
            return Ok(done.update.clone());
        }
        self.check_model(round, model)?;
        let trained = self
            .ctx
            .federation
            .train_client(&self.ctx.dir, round, self.client, model)?;
        let log = trained.log.context("the task logs every step")?;
        let tree = log.record_tree();
        let post = LogPost {
            head: log.head().0,
            root: tree.root().0,
            steps: log.total_steps(),
            update: Digest::of(&fl::blob::f32s_to_bytes(&trained.outcome.params)).0,
        };
        let ends = LogEnds::of(&log, &tree).context("the log has no step")?;
        let me = self.address().to_string();
        let posted =
            self.ctx
                .ledger
                .get(&self.at(&["rounds", &round.to_string(), "logs", &me])?)?;
        match LogPost::from_value(&posted) {
            Some(p) if p == post => {}
            Some(_) => bail!("round {round}: the ledger holds another log of this provider"),
            None => {
                let op = post_log_op(&self.ctx.task, u64::from(round), &self.address(), &post)?;
                self.ctx.ledger.submit(&self.key, op)?;
            }
        }
        let update = Update {
            params: trained.outcome.params,
            samples: trained.outcome.n_samples,
            train_loss: trained.outcome.train_loss,
            post,
            ends,
        };
        self.rounds.insert(
            round,
            Trained {
                log,
                tree,
                update: update.clone(),
            },
        );
        Ok(update)
    }

    /// In a task paid by proven Shapley values, the model of round `round > 1` must be the
    /// aggregate the owner sealed (and proves) for round `round − 1`: a provider that trained
    /// on another model would be valued as absent, so it refuses to train instead (and the
    /// owner's deviation is visible in its refusal).
    fn check_model(&self, round: u32, model: &[f32]) -> Result<()> {
        use circuits::field::{Bn254, Field};
        let at = |leaf: &[&str]| -> Result<chain::Value> { self.ctx.ledger.get(&self.at(leaf)?) };
        if round < 2 || at(&["config", "reward"])?.as_str() != Some("shapley") {
            return Ok(());
        }
        let previous = (round - 1).to_string();
        let sealed =
            chain::task::RoundValuation::from_value(&at(&["rounds", &previous, "valuation"])?)
                .with_context(|| format!("round {previous} has no valuation on the ledger"))?;
        let quantized = circuits::fixed::quantize_params(model)
            .context("the global model is outside the fixed-point range")?;
        let commitment = circuits::gadgets::commit::commit_params::<Bn254>(&quantized)?;
        ensure!(
            commitment.to_le_bytes() == sealed.aggregate,
            "round {round}: the global model is not round {previous}'s sealed aggregate; not training on it"
        );
        Ok(())
    }

    /// The log of `round`: kept from training, or read back from the cache.
    fn round_log(&mut self, round: u32) -> Result<(CheckpointLog, RecordTree)> {
        if let Some(t) = self.rounds.get(&round) {
            return Ok((t.log.clone(), t.tree.clone()));
        }
        let path = self.ctx.dir.pol_path(round, self.client);
        let log = CheckpointLog::read(&path)?;
        self.log_reads += 1;
        let tree = log.record_tree();
        Ok((log, tree))
    }

    fn prove(&mut self, round: u32) -> Result<Vec<SubmittedProof>> {
        let me = self.address().to_string();
        let r = round.to_string();
        let challenge = self
            .ctx
            .ledger
            .get(&self.at(&["rounds", &r, "challenge"])?)?;
        let steps: Vec<u64> = match challenge.child("steps").child(&me) {
            Value::Object(steps) => steps.keys().filter_map(|t| t.parse().ok()).collect(),
            _ => Vec::new(),
        };
        let proven = self
            .ctx
            .ledger
            .get(&self.at(&["rounds", &r, "proven", &me])?)?;
        let todo: Vec<u64> = steps
            .into_iter()
            .filter(|t| proven.child(&t.to_string()).is_absent())
            .collect();
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        self.check_proving_key()?;
        let (log, tree) = self.round_log(round)?;
        let posted = LogPost::from_value(
            &self
                .ctx
                .ledger
                .get(&self.at(&["rounds", &r, "logs", &me])?)?,
        )
        .context("no log posted for the round")?;
        if posted.root != tree.root().0 {
            bail!("round {round}: the log in the cache is not the one posted");
        }
        let mut out = Vec::new();
        for step in todo {
            // Submitted before (unasked, or to an earlier request) and not refused: the same
            // submission, rather than a second one the ledger would refuse as a taken path.
            if let Some(sent) = self.sent.get(&(round, step))
                && let Ok(hash) = &sent.tx
                && self.ctx.ledger.stands(hash)?
            {
                out.push(sent.clone());
                continue;
            }
            let started = Instant::now();
            let made = self.proof_of(&log, step);
            let seconds = started.elapsed().as_secs_f64();
            let tx = made.and_then(|(file, reused)| {
                let evidence = StepEvidence::of(&log, &tree, step)
                    .with_context(|| format!("the log has no record of step {step}"))?;
                let id = self.proof_id(round, step);
                let op = submit_proof_op(&self.ctx.task, &id, &file.encode(), &evidence.encode())?;
                Ok((self.ctx.ledger.submit(&self.key, op)?, reused))
            });
            out.push(match tx {
                Ok((hash, reused)) => {
                    let sent = SubmittedProof {
                        step,
                        tx: Ok(hash),
                        seconds: if reused { 0.0 } else { seconds },
                        reused,
                    };
                    self.sent.insert((round, step), sent.clone());
                    sent
                }
                Err(e) => SubmittedProof {
                    step,
                    tx: Err(format!("{e:#}")),
                    seconds,
                    reused: false,
                },
            });
        }
        Ok(out)
    }

    /// Checks that the Groth16 key this provider proves with is the task's (a task whose
    /// owner made its keys: a provider whose key directory lacks them would make keys of its
    /// own, and the ledger would refuse every proof made with them).
    fn check_proving_key(&self) -> Result<()> {
        let value = self.ctx.ledger.get(&self.at(&["config", "verifier"])?)?;
        let config = chain::settlement::ProofConfig::from_value(&value)?;
        if config.ceremony.is_some() {
            return Ok(());
        }
        let store = self.ctx.prover.store();
        let missing = || {
            format!(
                "the task's Groth16 proving key (made by its owner) is not in {}: give this \
                 provider the owner's key directory (--keys), or run the task with setup = \
                 \"ceremony\"",
                store.dir().display()
            )
        };
        // The proving key itself: the prover makes keys of its own when it finds none, so a
        // verifying key alone in the directory would pass here and every proof then fail.
        let held = store
            .groth16_pk(&config.program_digest)
            .with_context(missing)?
            .with_context(missing)?
            .vk;
        let held = chain::settlement::ProofConfig::new(
            config.shape,
            config.program_digest,
            &held,
            config.lrs.iter().copied(),
        )?;
        ensure!(
            held.vk == config.vk,
            "the Groth16 key in {} for the task's program is not the one on the ledger",
            store.dir().display()
        );
        Ok(())
    }

    /// The proof of `step` of `log`: kept in the cache, or made now (deterministically, from
    /// the provider's secret) and cached; and whether it was kept.
    fn proof_of(&self, log: &CheckpointLog, step: u64) -> Result<(ProofFile, bool)> {
        let head = log.head().0;
        let origin = verifier::StepOrigin {
            client: self.client as u32,
            round: log.header.round,
            step,
            log_head: head,
        };
        let path = proof_path(self.ctx.dir.root(), &origin, Backend::Groth16);
        if let Ok(file) = read_proof(&path)
            && file.origin == origin
        {
            return Ok((file, true));
        }
        let (i, _) = log
            .locate_step(step)
            .with_context(|| format!("the log has no step {step}"))?;
        let blobs = self.ctx.dir.blobs();
        let before = blobs.get_f32s(&log.checkpoint_before(i))?;
        let after = blobs.get_f32s(&log.entries[i].checkpoint)?;
        let instance = StepInstance::from_log(
            self.ctx.shape,
            log,
            step,
            (&before, &after),
            &self.positions,
            &self.data,
        )?;
        let file =
            self.ctx
                .prover
                .prove_deterministic(&instance, &self.data, &self.proof_secret())?;
        write_proof(&path, &file)?;
        Ok((file, false))
    }

    /// The id its proof of `step` of `round` is submitted under: keyed by its secret, so
    /// nobody can write below it first (which the rules allow, and which would make the
    /// submission fail as a write to a taken path), and the same on a replay.
    fn proof_id(&self, round: u32, step: u64) -> String {
        let tag: [u8; 32] = Sha256::new()
            .chain_update(b"zkfl-proof-id")
            .chain_update(self.proof_secret())
            .chain_update(round.to_le_bytes())
            .chain_update(step.to_le_bytes())
            .finalize()
            .into();
        format!("r{round}-s{step}-{}", hex::encode(&tag[..12]))
    }

    /// The secret its proofs' randomness derives from (never leaves it).
    fn proof_secret(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"zkfl-proof-secret")
            .chain_update(self.key.secret())
            .finalize()
            .into()
    }
}
