//! The task driver: one federated-learning task, in protocol order, as a state machine over a
//! clock, a transport to the providers and a ledger client (see `DESIGN.md`, "The data flow of
//! one task").
//!
//! ```text
//! Create    owner: the task (model shape, rounds, Groth16 verifying key, allowed learning
//!           rates, challenge rule, escrow)                                          → block
//! Join      providers: stake and register their data roots                         → block
//!           (keys by ceremony: the owner contributes its δ → block; then each provider
//!           in turn checks the parameters, contributes and hands back its signed
//!           registration; the owner checks, gives it the turn → block, submits   → block)
//! Start(1)  owner: running; round 1; the global model's digest                      → block
//! Train(r)  owner → providers: train round r; each posts its log (head, record root, steps,
//!           update digest) and sends its update                                     → block
//!           owner: checks each update against its log's ends, aggregates, evaluates,
//!           seals round r with the aggregate's digest                              → block s
//! Draw(r)   (after block s + 1 exists) anyone: draw round r's challenge from the hash of
//!           block s + 1, so from a block made after every log of the round     → block
//! Prove(r)  owner → challenged providers: prove your drawn steps; each proves and submits
//!           its proofs, which the ledger verifies as they come                    → block
//!           then owner: start round r + 1 with the aggregate                       → block
//!           or, after the last round, wait until every challenge is answered or due,
//!           and close the task: the ledger credits rounds, slashes, pays         → block
//! ```
//!
//! **The ledger is the state.** Which step comes next is read from the ledger alone
//! ([`TaskDriver::next_step`]); every step is idempotent (a provider that already posted, or a
//! step already proven, sends nothing again, and a step that has nothing to send makes no
//! block). So a driver that stops between any two steps, restarted on the same ledger and
//! cache, makes exactly the blocks an uninterrupted one would have made. A restarted driver
//! asks the providers that have not registered to join once more (with a key ceremony, Join is
//! two blocks per provider, so a stop inside it leaves some unregistered). The run directory is a
//! cache (models, logs, checkpoints, proofs, metrics), not the channel between steps: values
//! pass in memory.

pub mod clock;
pub mod embedded;
pub mod ledger;
pub mod network;
pub mod provider;
pub mod remote;
pub mod setup;
pub mod transport;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use chain::settlement::{ContributionConfig, ProofConfig, TaskKey};
use chain::store::Hash;
use chain::task::{
    ChallengeParams, LogPost, RewardRule, RoundValuation, TaskSpec, contribute_key_op,
    draw_challenge_op, in_one_set, key_turn_op, post_model_op, seal_round_op,
    submit_contribution_op, task_path,
};
use chain::{Address, Keypair, Op, SignedTransaction, TxOutcome, Value};
use circuits::fixed::quantize_lr;
use circuits::relations::training_step::TrainingStepShape;
use fl::federation::{ClientMetrics, Federation, RoundMetrics, RunDir};
use fl::strategy::{ClientUpdate, Strategy};
use pol::Digest;
use prover::StepProver;
use serde::{Deserialize, Serialize};

use self::clock::Clock;
use self::ledger::LedgerClient;
pub use self::setup::KeySetup;
use self::transport::{Reply, Request, Transport, Update};

/// A task's parameters beyond the federation's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskTerms {
    /// The task id.
    pub id: String,
    /// What the owner puts in escrow.
    pub escrow: i128,
    /// What each provider stakes to join.
    pub stake: i128,
    /// How the escrow is split.
    pub reward: RewardRule,
    /// How rounds are challenged.
    pub challenge: ChallengeParams,
    /// How contributions are proven (used when the reward is `shapley`).
    pub contribution: ContributionTerms,
    /// Who makes the task's Groth16 keys.
    pub setup: KeySetup,
    /// How long the owner waits for a provider's answer.
    pub timeout: Duration,
}

/// How a `shapley` task's contributions are proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContributionTerms {
    /// Coalitions each proof checks beyond the heavy ones, drawn from a later block's hash
    /// (fewer when fewer exist).
    pub drawn: usize,
    /// The least gain of a paid round, per mille of the validation rows
    /// (`contribution::payout::gains_enough`).
    pub min_gain: u32,
}

impl Default for ContributionTerms {
    fn default() -> Self {
        ContributionTerms {
            drawn: 8,
            min_gain: contribution::payout::DEFAULT_MIN_GAIN_PERMILLE,
        }
    }
}

/// One step of the protocol (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Step {
    /// Create the task.
    Create,
    /// Providers join.
    Join,
    /// Start round 1.
    Start,
    /// Train round `r` and seal it.
    Train(u32),
    /// Draw round `r`'s challenge.
    Draw(u32),
    /// Prove round `r`'s challenged steps; start the next round or close the task.
    Prove(u32),
    /// The task is closed.
    Done,
}

/// A challenged step, proven or not, as the ledger judged it.
#[derive(Clone, Debug, Serialize)]
pub struct ProofRecord {
    /// The provider.
    pub client: usize,
    /// The round.
    pub round: u32,
    /// The step.
    pub step: u64,
    /// Seconds spent proving.
    pub seconds: f64,
    /// Whether a proof kept from an earlier run was submitted.
    pub reused: bool,
    /// `None` if the ledger accepted the proof; otherwise why not.
    pub error: Option<String>,
}

/// What the ledger says about one provider after closing.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderPayout {
    /// The provider's client index.
    pub client: usize,
    /// Its address.
    pub address: String,
    /// Rounds in which it posted a log and answered its challenge.
    pub credited: i128,
    /// Proofs the ledger verified.
    pub verified: i128,
    /// Stake lost to the escrow (an unanswered challenge).
    pub slashed: i128,
    /// Paid from escrow at closing.
    pub payout: i128,
    /// Its proven Shapley value over the task, in validation rows (`shapley` tasks that were
    /// paid by value).
    pub value: Option<f64>,
    /// Balance after settlement.
    pub balance: i128,
}

/// Reports progress; every method has a silent default.
pub trait Events: Sync {
    /// A step starts.
    fn step(&self, _step: Step) {}
    /// A round is sealed.
    fn round(&self, _metrics: &RoundMetrics) {}
    /// The proofs of a round were judged.
    fn proofs(&self, _round: u32, _proofs: &[ProofRecord]) {}
    /// The owner's contribution proof of a round: seconds spent, or why there is none.
    fn contribution(&self, _round: u32, _outcome: &std::result::Result<f64, String>) {}
}

/// Reports nothing.
pub struct Quiet;
impl Events for Quiet {}

/// The owner's saved progress (the cache's `task.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct OwnerState {
    /// Rounds sealed.
    sealed: u32,
    /// The strategy's state after them.
    strategy: Option<Vec<f32>>,
}

/// The task owner, running the task through its steps.
pub struct TaskDriver {
    terms: TaskTerms,
    federation: Arc<Federation>,
    dir: Arc<RunDir>,
    owner: Keypair,
    ledger: Arc<dyn LedgerClient>,
    transport: Arc<dyn Transport>,
    prover: Arc<StepProver>,
    shape: TrainingStepShape,
    providers: BTreeMap<usize, Address>,
    strategy: Box<dyn Strategy>,
    global: Vec<f32>,
    history: Vec<RoundMetrics>,
    proofs: Vec<ProofRecord>,
    /// Whether the prover holds the keys a ceremony made (once the task runs).
    ceremony_keys: bool,
    /// Transcript hashes of ceremony parameters this driver checked against their program and
    /// the powers of tau (each check costs seconds at real sizes: done once).
    checked: std::collections::BTreeSet<[u8; 32]>,
    /// Whether this driver ran the join step (a restarted one asks the providers that have
    /// not registered once more).
    join_attempted: bool,
    _clock: Arc<dyn Clock>,
}

/// How the driver is put together.
pub struct Parties {
    /// The owner's key.
    pub owner: Keypair,
    /// Every provider's address, by client index.
    pub providers: BTreeMap<usize, Address>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The ledger.
    pub ledger: Arc<dyn LedgerClient>,
    /// The transport to the providers.
    pub transport: Arc<dyn Transport>,
    /// The owner's prover (it makes the task's keys).
    pub prover: Arc<StepProver>,
}

impl TaskDriver {
    /// A driver for the task, resuming from the ledger and the cache `dir` where a previous
    /// driver stopped.
    pub fn new(
        terms: TaskTerms,
        federation: Arc<Federation>,
        shape: TrainingStepShape,
        dir: Arc<RunDir>,
        parties: Parties,
    ) -> Result<TaskDriver> {
        let mut strategy = federation.config().strategy.build();
        let mut driver = TaskDriver {
            terms,
            global: Vec::new(),
            history: Vec::new(),
            proofs: Vec::new(),
            strategy: federation.config().strategy.build(),
            federation,
            dir,
            owner: parties.owner,
            ledger: parties.ledger,
            transport: parties.transport,
            prover: parties.prover,
            shape,
            providers: parties.providers,
            ceremony_keys: false,
            checked: Default::default(),
            join_attempted: false,
            _clock: parties.clock,
        };
        // Resume: the global model after the last sealed round, checked against the ledger.
        let state: OwnerState = driver.dir.read_json("task.json")?.unwrap_or_default();
        let sealed = driver.sealed_rounds()?;
        let mut history = driver.dir.metrics()?;
        history.truncate(sealed as usize);
        ensure!(
            history.len() == sealed as usize && state.sealed >= sealed,
            "the cache in {} is behind the ledger ({sealed} rounds sealed): it cannot resume this task",
            driver.dir.root().display()
        );
        if state.sealed == sealed {
            strategy.restore_state(state.strategy)?;
        }
        driver.global = if sealed == 0 {
            let initial = federation_init(&driver.federation);
            driver.dir.save_model(0, &initial)?;
            initial
        } else {
            let digest = driver
                .round_value(sealed, "aggregate")?
                .as_str()
                .and_then(|s| s.parse::<Digest>().ok())
                .context("the ledger has no aggregate of the last sealed round")?;
            driver.dir.load_model(sealed, &digest)?
        };
        driver.history = history;
        driver.strategy = strategy;
        Ok(driver)
    }

    fn at(&self, leaf: &[&str]) -> Result<chain::Path> {
        Ok(task_path(&self.terms.id, leaf)?)
    }

    fn value(&self, leaf: &[&str]) -> Result<Value> {
        self.ledger.get(&self.at(leaf)?)
    }

    fn round_value(&self, round: u32, leaf: &str) -> Result<Value> {
        self.value(&["rounds", &round.to_string(), leaf])
    }

    fn sealed_rounds(&self) -> Result<u32> {
        let current = self.current_round()?;
        Ok(if self.round_value(current, "aggregate")?.is_absent() {
            current.saturating_sub(1)
        } else {
            current
        })
    }

    fn current_round(&self) -> Result<u32> {
        Ok(self
            .value(&["round"])?
            .as_int()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0))
    }

    /// The next step, read from the ledger alone.
    ///
    /// Errors: the ledger cannot be read.
    pub fn next_step(&self) -> Result<Step> {
        Ok(match self.value(&["status"])?.as_str() {
            None => Step::Create,
            Some("open") => {
                let missing = self.joined()?.len() < self.providers.len();
                if self.value(&["providers"])?.is_absent() || (missing && !self.join_attempted) {
                    Step::Join
                } else {
                    Step::Start
                }
            }
            Some("running") => {
                let r = self.current_round()?;
                if self.round_value(r, "aggregate")?.is_absent() {
                    Step::Train(r)
                } else if self.round_value(r, "challenge")?.is_absent() {
                    Step::Draw(r)
                } else {
                    Step::Prove(r)
                }
            }
            _ => Step::Done,
        })
    }

    /// Runs the task to its end (or, with `max_steps`, stops after that many steps, as a
    /// crashed owner would); returns the steps run.
    pub fn run(&mut self, events: &dyn Events, max_steps: Option<usize>) -> Result<usize> {
        let mut steps = 0;
        loop {
            let step = self.next_step()?;
            if step == Step::Done || max_steps.is_some_and(|m| steps >= m) {
                return Ok(steps);
            }
            events.step(step);
            if matches!(step, Step::Train(_) | Step::Draw(_) | Step::Prove(_)) {
                self.use_ceremony_keys()?;
            }
            match step {
                Step::Create => self.create()?,
                Step::Join => self.join()?,
                Step::Start => self.start(1)?,
                Step::Train(r) => self.train(r, events)?,
                Step::Draw(r) => self.draw(r)?,
                Step::Prove(r) => self.prove(r, events)?,
                Step::Done => {}
            }
            steps += 1;
            ensure!(steps < 100_000, "the task does not end");
        }
    }

    /// Sends the owner's op and makes a block; fails with the ledger's reason if refused.
    fn owner_block(&self, op: Op) -> Result<()> {
        let hash = self.ledger.submit(&self.owner, op)?;
        self.ledger.make_block()?;
        match self.ledger.outcome(&hash)? {
            Some(TxOutcome::Applied) => Ok(()),
            Some(TxOutcome::Failed(reason)) => {
                bail!("the ledger refused the owner's write: {reason}")
            }
            None => bail!("the owner's transaction was not included"),
        }
    }

    fn create(&mut self) -> Result<()> {
        let lr = quantize_lr(self.federation.config().train.lr)?;
        let ceremony = self.terms.setup == KeySetup::Ceremony;
        let verifier = if ceremony {
            let program = verifier::check::program_of::<circuits::field::Bn254>(&self.shape)?;
            let start = self.prover.ceremony_start(&program)?;
            let vk = start.start_verifying_key();
            setup::save(&self.dir, TaskKey::TrainingStep, &start)?;
            ProofConfig::from_ceremony(self.shape, program.digest(), &vk, [lr], start.cs_hash())?
        } else {
            let digest = self.prover.prepare(&self.shape)?;
            let vk = self.prover.store().groth16_vk(&digest)?;
            ProofConfig::new(self.shape, digest, &vk, [lr])?
        };
        let contribution = match self.terms.reward {
            RewardRule::Shapley => Some(self.contribution_config(ceremony)?),
            _ => None,
        };
        let spec = TaskSpec {
            id: self.terms.id.clone(),
            reward: self.terms.reward,
            verifier,
            contribution,
            challenge: self.terms.challenge,
            rounds: u64::from(self.federation.config().rounds),
            min_stake: self.terms.stake,
            escrow: self.terms.escrow,
        };
        self.owner_block(spec.create_op(&Address::of(&self.owner.public()))?)
    }

    /// The contribution config of a `shapley` task: FedAvg only, one player per provider,
    /// keys made (or loaded) for the shape, or with `ceremony` the start parameters of one.
    fn contribution_config(&self, ceremony: bool) -> Result<ContributionConfig> {
        ensure!(
            self.federation.config().strategy == fl::strategy::StrategySpec::FedAvg,
            "only FedAvg rounds are proven: a shapley task needs the fedavg strategy \
             (`zkfl contrib` still values runs of the others, unproven)"
        );
        let terms = self.terms.contribution;
        let (shape, root) = crate::valuation::contribution_shape(
            self.dir.root(),
            self.providers.len(),
            terms.drawn,
        )?;
        if ceremony {
            let program = prover::contribution_program(&shape)?;
            let start = self.prover.ceremony_start(&program)?;
            let vk = start.start_verifying_key();
            setup::save(&self.dir, TaskKey::Contribution, &start)?;
            return Ok(ContributionConfig::from_ceremony(
                shape,
                program.digest(),
                &vk,
                root,
                terms.min_gain,
                start.cs_hash(),
            )?);
        }
        let (digest, vk) = self.prover.prepare_contribution(&shape)?;
        Ok(ContributionConfig::new(
            shape,
            digest,
            &vk,
            root,
            terms.min_gain,
        )?)
    }

    /// The players of a contribution proof: the registered providers' client indices, in the
    /// ledger's order (by address).
    fn players(&self) -> Result<Vec<usize>> {
        let mut joined: Vec<(String, usize)> = self
            .joined()?
            .into_iter()
            .map(|(c, a)| (a.to_string(), c))
            .collect();
        joined.sort();
        Ok(joined.into_iter().map(|(_, c)| c).collect())
    }

    fn shapley(&self) -> bool {
        self.terms.reward == RewardRule::Shapley
    }

    fn join(&mut self) -> Result<()> {
        let programs = setup::ceremony_programs(self.ledger.as_ref(), &self.terms.id)?;
        let joined = self.joined()?;
        let clients: Vec<usize> = self
            .providers
            .keys()
            .copied()
            .filter(|c| !joined.contains_key(c))
            .collect();
        if programs.is_empty() {
            let replies = self.transport.broadcast(
                &clients,
                &Request::Join { keys: None },
                self.terms.timeout,
            );
            if self.ledger.pending()? > 0 {
                self.ledger.make_block()?;
            }
            self.report_joins(&clients, &replies)?;
        } else {
            self.ceremony_join(&programs, &clients)?;
        }
        ensure!(!self.joined()?.is_empty(), "no provider joined the task");
        self.join_attempted = true;
        Ok(())
    }

    /// Joining a task whose keys a ceremony makes: the owner contributes first (which
    /// freezes the config), then each provider that has not registered is handed the
    /// parameters as they stand, checks them, contributes and hands back its parameters and
    /// its signed transaction (contributions and registration). The owner checks the
    /// parameters, gives the provider the turn for exactly those (a block), then submits its
    /// transaction (a block): contributions chain, so one at a time, and the ledger only ever
    /// moves to parameters the owner holds. A provider that does not answer, returns
    /// parameters that fail or whose registration fails is left out (its turn ended, a
    /// block), and the next one gets the parameters the ledger is at.
    ///
    /// The owner's cache holds the parameters the ledger is at, and while a turn stands for
    /// a provider that has not registered, the ones that turn names; a restarted owner ends
    /// such a turn before it goes on.
    fn ceremony_join(
        &mut self,
        programs: &BTreeMap<TaskKey, circuits::Program>,
        clients: &[usize],
    ) -> Result<()> {
        let task = self.terms.id.clone();
        let owner = Address::of(&self.owner.public());
        let mut ops = Vec::new();
        for (key, program) in programs {
            if !setup::contributed(self.ledger.as_ref(), &task, *key, &owner)? {
                let params = self.ledger_parameters(*key, program)?;
                let (next, contribution) = prover::setup::contribute(&params);
                ops.push(contribute_key_op(&task, &owner, *key, &contribution)?);
                setup::save(&self.dir, *key, &next)?;
            }
        }
        if !ops.is_empty() {
            self.owner_block(in_one_set(ops))?;
        }
        // A turn left standing (by an owner that stopped before the provider's transaction
        // landed) ends here: its contribution may still land, up to this block.
        let names: Vec<TaskKey> = programs.keys().copied().collect();
        if let Some(party) = self.standing_turn(&names)? {
            self.end_turns(party, &names)?;
        }
        let mut keys = self.ledger_keys(programs)?;
        for &client in clients {
            let request = Request::Join {
                keys: Some(keys.clone()),
            };
            let replies = self
                .transport
                .broadcast(&[client], &request, self.terms.timeout);
            match replies.first() {
                Some(Some(Reply::Contributed {
                    keys: next,
                    registration,
                })) => match self.check_returned(client, &keys, next, registration, programs) {
                    Ok(()) => {
                        self.give_turn(client, next, registration, &names)?;
                        keys = self.ledger_keys(programs)?;
                    }
                    Err(why) => {
                        tracing::warn!("provider {client} returned parameters that fail: {why:#}")
                    }
                },
                // A provider whose contributions are on the ledger registers by itself.
                Some(Some(Reply::Joined(Some(_)))) if self.ledger.pending()? > 0 => {
                    self.ledger.make_block()?;
                }
                _ => {}
            }
            self.report_joins(&[client], &replies)?;
        }
        Ok(())
    }

    /// The ledger's parameters of `key` from the owner's cache, checked against `program`.
    fn ledger_parameters(
        &self,
        key: TaskKey,
        program: &circuits::Program,
    ) -> Result<ceremony::Parameters> {
        let params = setup::load(&self.dir, self.ledger.as_ref(), &self.terms.id, key)?;
        setup::check_on_ledger(self.ledger.as_ref(), &self.terms.id, key, &params, program)?;
        Ok(params)
    }

    /// The parameters the ledger is at, by key; every other version leaves the cache (call
    /// it when no turn stands for a provider that has not contributed).
    fn ledger_keys(
        &self,
        programs: &BTreeMap<TaskKey, circuits::Program>,
    ) -> Result<setup::KeyParameters> {
        let mut keys = BTreeMap::new();
        for (key, program) in programs {
            let params = self.ledger_parameters(*key, program)?;
            setup::prune(&self.dir, *key, &[params.transcript()])?;
            keys.insert(*key, params);
        }
        Ok(Arc::new(keys))
    }

    /// The party other than the owner that holds a turn to contribute to one of `keys` and
    /// has not used it.
    fn standing_turn(&self, keys: &[TaskKey]) -> Result<Option<Address>> {
        let owner = Address::of(&self.owner.public());
        for key in keys {
            let addr = self.value(&["turns", key.name(), "addr"])?;
            let Some(addr) = addr.as_str().and_then(|a| a.parse::<Address>().ok()) else {
                continue;
            };
            let used = !self
                .value(&["setup", key.name(), &addr.to_string()])?
                .is_absent();
            if addr != owner && !used {
                return Ok(Some(addr));
            }
        }
        Ok(None)
    }

    /// Ends the turns to contribute to `keys` that `party` holds (a block): each turn then
    /// names the owner, who has contributed already, so nobody may contribute until the
    /// next turn.
    fn end_turns(&mut self, party: Address, keys: &[TaskKey]) -> Result<()> {
        let owner = Address::of(&self.owner.public());
        let task = self.terms.id.clone();
        let mut ops = Vec::new();
        for key in keys {
            let addr = self.value(&["turns", key.name(), "addr"])?;
            if addr.as_str() == Some(party.to_string().as_str()) {
                let at = setup::transcript(self.ledger.as_ref(), &task, *key)?
                    .context("a turn before the owner's contribution")?;
                ops.push(key_turn_op(&task, *key, &owner, at.hash)?);
            }
        }
        if !ops.is_empty() {
            self.owner_block(in_one_set(ops))?;
        }
        Ok(())
    }

    /// Gives provider `client` the turn for the parameters `next` it returned (checked): saves
    /// them, writes the turns (a block), submits its `registration` (a block), and ends its
    /// turns if it did not register (a block).
    fn give_turn(
        &mut self,
        client: usize,
        next: &setup::KeyParameters,
        registration: &SignedTransaction,
        keys: &[TaskKey],
    ) -> Result<()> {
        let task = self.terms.id.clone();
        let addr = self.providers[&client];
        for (key, params) in next.iter() {
            setup::save(&self.dir, *key, params)?;
        }
        let turns = next
            .iter()
            .map(|(key, params)| key_turn_op(&task, *key, &addr, params.transcript()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.owner_block(in_one_set(turns))?;
        let submitted = self.ledger.submit_signed(registration.clone());
        self.ledger.make_block()?;
        let refused = match submitted {
            Ok(hash) => self.rejection(&hash)?,
            Err(why) => Some(format!("{why:#}")),
        };
        if let Some(why) = refused {
            tracing::warn!(
                "provider {client}'s contributions and registration were refused: {why}"
            );
        }
        if !self.joined()?.contains_key(&client) {
            self.end_turns(addr, keys)?;
        }
        Ok(())
    }

    /// Checks what provider `client` returned: its transaction signed by its address, and
    /// its parameters: the same keys, each the ones it was handed plus one contribution, and
    /// each passing [`StepProver::ceremony_check`].
    fn check_returned(
        &mut self,
        client: usize,
        before: &BTreeMap<TaskKey, ceremony::Parameters>,
        after: &BTreeMap<TaskKey, ceremony::Parameters>,
        registration: &SignedTransaction,
        programs: &BTreeMap<TaskKey, circuits::Program>,
    ) -> Result<()> {
        ensure!(
            registration.tx.from == self.providers[&client],
            "its transaction is signed by {}, not by its address",
            registration.tx.from
        );
        ensure!(
            after.keys().eq(before.keys()),
            "parameters of other keys than the task's"
        );
        for (key, params) in after {
            let old = before[key].contributions();
            let new = params.contributions();
            ensure!(
                new.len() == old.len() + 1 && new.starts_with(old),
                "the {} parameters are not the ones handed over plus one contribution",
                key.name()
            );
            self.prover.ceremony_check(params, &programs[key])?;
            self.checked.insert(params.transcript());
        }
        Ok(())
    }

    fn report_joins(&self, clients: &[usize], replies: &[Option<Reply>]) -> Result<()> {
        let joined = self.joined()?;
        for (client, reply) in clients.iter().zip(replies) {
            if let Some(Reply::Failed(why)) = reply {
                tracing::warn!("provider {client} could not join: {why}");
            } else if !joined.contains_key(client) {
                tracing::warn!("provider {client} did not join");
            }
        }
        Ok(())
    }

    /// Once the task runs (its keys fixed), proves with the keys its ceremonies made, in place
    /// of the key store's: the owner's parameters at the ledger's transcript, checked against
    /// the programs and the powers of tau unless this driver checked them at join.
    fn use_ceremony_keys(&mut self) -> Result<()> {
        if self.ceremony_keys {
            return Ok(());
        }
        for (key, program) in setup::ceremony_programs(self.ledger.as_ref(), &self.terms.id)? {
            let params = setup::load(&self.dir, self.ledger.as_ref(), &self.terms.id, key)?;
            setup::check_on_ledger(self.ledger.as_ref(), &self.terms.id, key, &params, &program)?;
            if !self.checked.contains(&params.transcript()) {
                self.prover.ceremony_check(&params, &program)?;
            }
            setup::prune(&self.dir, key, &[params.transcript()])?;
            self.prover.use_ceremony_key(&program, &params);
        }
        self.ceremony_keys = true;
        Ok(())
    }

    /// The registered providers, by client index.
    fn joined(&self) -> Result<BTreeMap<usize, Address>> {
        let registered = self.value(&["providers"])?;
        Ok(self
            .providers
            .iter()
            .filter(|(_, addr)| !registered.child(&addr.to_string()).is_absent())
            .map(|(c, a)| (*c, *a))
            .collect())
    }

    fn start(&mut self, round: u32) -> Result<()> {
        if round == 1 && self.shapley() {
            let joined = self.joined()?.len();
            ensure!(
                joined == self.providers.len(),
                "only {joined} of {} providers joined: the task's contribution key proves rounds \
                 of all {} (every registered provider is a player)",
                self.providers.len(),
                self.providers.len()
            );
        }
        let model = Digest::of(&fl::blob::f32s_to_bytes(&self.global));
        self.owner_block(post_model_op(
            &self.terms.id,
            u64::from(round),
            &model.0,
            round == 1,
        )?)
    }

    fn train(&mut self, round: u32, events: &dyn Events) -> Result<()> {
        let started = std::time::Instant::now();
        let joined = self.joined()?;
        let sampled: Vec<usize> = self
            .federation
            .sample_clients(round)
            .into_iter()
            .filter(|c| joined.contains_key(c))
            .collect();
        let model = Arc::new(self.global.clone());
        let request = Request::Train {
            round,
            model: model.clone(),
        };
        let replies = self
            .transport
            .broadcast(&sampled, &request, self.terms.timeout);
        if self.ledger.pending()? > 0 {
            self.ledger.make_block()?;
        }
        let global_digest = Digest::of(&fl::blob::f32s_to_bytes(&model));
        // A simulated attack (tests and demos) is the providers' doing; the metrics name it.
        let attackers = self
            .federation
            .config()
            .attack
            .map(|a| a.attackers_of(&self.federation.sample_clients(round)))
            .unwrap_or_default();
        let mut updates = Vec::new();
        let mut clients = Vec::new();
        let mut ends = BTreeMap::new();
        for (client, reply) in sampled.iter().zip(replies) {
            let update = match reply {
                Some(Reply::Trained(update)) => update,
                Some(Reply::Failed(why)) => {
                    tracing::warn!("round {round}: provider {client} failed: {why}");
                    continue;
                }
                _ => {
                    tracing::warn!("round {round}: provider {client} did not answer in time");
                    continue;
                }
            };
            if let Err(why) =
                self.check_update(round, *client, &joined[client], &global_digest, &update)?
            {
                tracing::warn!(
                    "round {round}: the update of provider {client} is refused: {why:#}"
                );
                continue;
            }
            clients.push(ClientMetrics {
                client: *client,
                samples: update.samples,
                train_loss: update.train_loss,
                steps: update.post.steps,
                attacked: attackers.contains(client),
                pol_head: Some(Digest(update.post.head)),
                update: Some(Digest(update.post.update)),
            });
            ends.insert(
                joined[client].to_string(),
                hex::encode(update.ends.encode()),
            );
            updates.push(ClientUpdate {
                client: *client,
                params: update.params,
                n_samples: update.samples,
            });
        }
        let (evaluation, kept_previous) = if updates.is_empty() {
            (self.federation.evaluate(&self.global)?, None)
        } else if self.shapley() {
            self.global = proven_fedavg(&self.global, &updates)?;
            (self.federation.evaluate(&self.global)?, None)
        } else {
            let next = self.federation.next_global(
                self.strategy.as_mut(),
                round,
                &self.global,
                &updates,
            )?;
            self.global = next.model;
            (next.evaluation, next.kept_previous)
        };
        let digest = self.dir.save_model(round, &self.global)?;
        let metrics = RoundMetrics {
            round,
            test_accuracy: evaluation.accuracy,
            test_loss: evaluation.loss,
            clients,
            seconds: started.elapsed().as_secs_f64(),
            model: digest,
            kept_previous,
        };
        self.history.truncate(round as usize - 1);
        self.history.push(metrics);
        self.dir.write_json("metrics.json", &self.history)?;
        self.dir.write_json(
            "task.json",
            &OwnerState {
                sealed: round,
                strategy: self.strategy.state(),
            },
        )?;
        self.dir.write_json(&format!("ends-{round}.json"), &ends)?;
        let valuation = match self.shapley() {
            true => Some(self.valuation(round)?),
            false => None,
        };
        self.owner_block(seal_round_op(
            &self.terms.id,
            u64::from(round),
            &digest.0,
            valuation.as_ref(),
        )?)?;
        if let Some(last) = self.history.last() {
            events.round(last);
        }
        Ok(())
    }

    /// Checks a provider's update against the log it posted: the update has the model's
    /// shape, the post is on the ledger, the log's header names this round, this provider and
    /// the global model, and its last record holds the update after the posted number of steps.
    ///
    /// Returns `Ok(Err(why))` for a refused update; the outer error is a ledger that cannot
    /// be read, which must stop the round rather than pass for a refusal.
    fn check_update(
        &self,
        round: u32,
        client: usize,
        addr: &Address,
        global: &Digest,
        update: &Update,
    ) -> Result<Result<()>> {
        let posted = self.round_value_of(round, addr)?;
        let registered = self.value(&["providers", &addr.to_string(), "samples"])?;
        Ok((|| {
            // First: a provider that logged an update of another length would otherwise pass
            // the log's checks and reach the aggregation.
            same_shape(&update.params, &self.global)?;
            let posted = LogPost::from_value(&posted).context("no log posted on the ledger")?;
            ensure!(
                posted == update.post,
                "the update is not the one its log posted"
            );
            let opened = update.ends.open(&Digest(posted.root), posted.steps)?;
            let header = &opened.header;
            ensure!(
                header.round == round
                    && header.client as usize == client
                    && header.global == *global,
                "the log is not of this round, provider and global model"
            );
            ensure!(
                registered.as_int() == Some(update.samples as i128),
                "it trained on {} rows, it registered {registered:?}",
                update.samples
            );
            let params = Digest::of(&fl::blob::f32s_to_bytes(&update.params));
            ensure!(
                opened.last.checkpoint == params && params.0 == posted.update,
                "the update is not the log's last checkpoint"
            );
            Ok(())
        })())
    }

    fn round_value_of(&self, round: u32, addr: &Address) -> Result<Value> {
        self.value(&["rounds", &round.to_string(), "logs", &addr.to_string()])
    }

    fn draw(&mut self, round: u32) -> Result<()> {
        let sealed = self
            .round_value(round, "sealed")?
            .as_int()
            .and_then(|n| u64::try_from(n).ok())
            .context("the round is not sealed")?;
        if self.ledger.tip()?.height <= sealed {
            self.ledger.make_block()?;
        }
        let op = draw_challenge_op(&self.terms.id, u64::from(round), sealed + 1)?;
        match self.owner_block(op) {
            // Anyone may draw, once (a provider does when the owner has not for a while):
            // a draw refused because one landed first is the same challenge.
            Err(_) if !self.round_value(round, "challenge")?.is_absent() => Ok(()),
            other => other,
        }
    }

    fn prove(&mut self, round: u32, events: &dyn Events) -> Result<()> {
        let challenge = self.round_value(round, "challenge")?;
        let joined = self.joined()?;
        let challenged: Vec<usize> = joined
            .iter()
            .filter(|(_, addr)| {
                !challenge
                    .child("steps")
                    .child(&addr.to_string())
                    .is_absent()
            })
            .map(|(c, _)| *c)
            .collect();
        let replies =
            self.transport
                .broadcast(&challenged, &Request::Prove { round }, self.terms.timeout);
        if self.ledger.pending()? > 0 {
            self.ledger.make_block()?;
        }
        let mut judged = Vec::new();
        for (client, reply) in challenged.iter().zip(replies) {
            let submitted = match reply {
                Some(Reply::Proved(proofs)) => proofs,
                Some(Reply::Failed(why)) => {
                    tracing::warn!("round {round}: provider {client} could not prove: {why}");
                    continue;
                }
                _ => continue,
            };
            for proof in submitted {
                let error = match &proof.tx {
                    Ok(hash) => self.rejection(hash)?,
                    Err(why) => Some(why.clone()),
                };
                judged.push(ProofRecord {
                    client: *client,
                    round,
                    step: proof.step,
                    seconds: proof.seconds,
                    reused: proof.reused,
                    error,
                });
            }
        }
        events.proofs(round, &judged);
        self.proofs.extend(judged);
        if self.shapley()
            && self.round_value(round, "contribution")?.is_absent()
            && !self.round_value(round, "logs")?.is_absent()
        {
            let started = std::time::Instant::now();
            let outcome = self
                .prove_contribution(round)?
                .map(|()| started.elapsed().as_secs_f64())
                .map_err(|e| format!("{e:#}"));
            if let Err(why) = &outcome {
                tracing::warn!("round {round}: the contributions are not proven: {why}");
            }
            events.contribution(round, &outcome);
        }
        if round < self.federation.config().rounds {
            self.start(round + 1)
        } else {
            self.close()
        }
    }

    /// The valuation of a sealed round's models, fixed with its seal: the commitments of the
    /// exact fixed-point aggregate and of the utility table. A round that cannot be valued
    /// (no update, or one a proof cannot take) gets the commitment of the model it keeps and a
    /// zero table: it will not be proven, and the next round still starts from that aggregate.
    ///
    /// Errors: the ledger cannot be read.
    fn valuation(&self, round: u32) -> Result<RoundValuation> {
        use circuits::field::{Bn254, Field};
        use circuits::gadgets::commit::commit_params;
        let players = self.players()?;
        let valued = crate::valuation::contribution_witness(
            self.dir.root(),
            round,
            Some(&players),
            0,
            &[0; 32],
        )
        .and_then(|p| {
            let commit =
                |v: &[i64]| -> Result<[u8; 32]> { Ok(commit_params::<Bn254>(v)?.to_le_bytes()) };
            Ok(RoundValuation {
                aggregate: commit(&p.witness.aggregate)?,
                table: commit(&p.witness.table)?,
            })
        });
        Ok(valued.unwrap_or_else(|e| {
            tracing::warn!("round {round} cannot be valued: {e:#}");
            let kept = circuits::fixed::quantize_params(&self.global)
                .ok()
                .and_then(|q| commit_params::<Bn254>(&q).ok());
            RoundValuation {
                aggregate: kept.map_or([0; 32], |c| c.to_le_bytes()),
                table: [0; 32],
            }
        }))
    }

    /// Proves round `round`'s Shapley values and submits the proof, with the coalitions drawn
    /// from the seed of the round's challenge.
    ///
    /// Returns `Ok(Err(why))` when the round cannot be proven (its witness, its key's shape,
    /// or the ledger's refusal of the proof); the outer error is a ledger that cannot be read
    /// or written.
    fn prove_contribution(&self, round: u32) -> Result<Result<()>> {
        let config = self.value(&["config", "contribution"])?;
        let challenge = self.round_value(round, "challenge")?;
        let players = self.players()?;
        let joined = self.joined()?;
        let proven = (|| {
            let config = ContributionConfig::from_value(&config)?;
            let seed = challenge
                .child("seed")
                .as_str()
                .and_then(chain::settlement::config::hex32)
                .context("the round's challenge is not drawn")?;
            let inputs = crate::valuation::contribution_witness(
                self.dir.root(),
                round,
                Some(&players),
                config.shape.drawn,
                &seed,
            )?;
            ensure!(
                inputs.shape == config.shape,
                "the task has {} registered providers; its key proves rounds of {}",
                inputs.shape.players,
                config.shape.players
            );
            ensure!(
                inputs.gap.differing == 0,
                "the round's model is not the exact fixed-point FedAvg"
            );
            let ends: BTreeMap<String, String> = self
                .dir
                .read_json(&format!("ends-{round}.json"))?
                .context("the round's log ends are not in the cache")?;
            let mut values = BTreeMap::new();
            for (client, value) in inputs.clients.iter().zip(&inputs.witness.numerators) {
                let addr = joined
                    .get(client)
                    .with_context(|| format!("provider {client} is not registered"))?;
                values.insert(addr.to_string(), *value);
            }
            let ends = ends
                .into_iter()
                .map(|(a, e)| Ok((a, hex::decode(e)?)))
                .collect::<Result<BTreeMap<_, _>>>()?;
            use sha2::Digest as _;
            let secret: [u8; 32] = sha2::Sha256::new()
                .chain_update(b"zkfl-proof-secret")
                .chain_update(self.owner.secret())
                .finalize()
                .into();
            let proof = self
                .prover
                .prove_contribution(&inputs.shape, &inputs.witness, &secret)?;
            Ok(submit_contribution_op(
                &self.terms.id,
                u64::from(round),
                &proof,
                &values,
                &ends,
            )?)
        })();
        let op = match proven {
            Ok(op) => op,
            Err(why) => return Ok(Err(why)),
        };
        let hash = self.ledger.submit(&self.owner, op)?;
        self.ledger.make_block()?;
        Ok(match self.rejection(&hash)? {
            None => Ok(()),
            Some(reason) => Err(anyhow!("the ledger refused the proof: {reason}")),
        })
    }

    /// `None` if the ledger applied the transaction, else its reason.
    fn rejection(&self, hash: &Hash) -> Result<Option<String>> {
        Ok(match self.ledger.outcome(hash)? {
            Some(TxOutcome::Applied) => None,
            Some(TxOutcome::Failed(reason)) => Some(reason),
            None => Some("not included in a block".into()),
        })
    }

    /// Waits (in blocks) until every challenge is answered or past due, then closes the task.
    fn close(&mut self) -> Result<()> {
        let mut latest_due = 0i128;
        for r in 1..=self.current_round()? {
            let challenge = self.round_value(r, "challenge")?;
            if !self.all_answered(r, &challenge)? {
                latest_due = latest_due.max(challenge.child("due").as_int().unwrap_or(0));
            }
        }
        while i128::from(self.ledger.tip()?.height) < latest_due {
            self.ledger.make_block()?;
        }
        self.owner_block(Op::SetValue {
            path: self.at(&["status"])?,
            value: Value::from("closed"),
        })
    }

    fn all_answered(&self, round: u32, challenge: &Value) -> Result<bool> {
        let proven = self.round_value(round, "proven")?;
        Ok(match challenge.child("steps") {
            Value::Object(steps) => steps.iter().all(|(addr, drawn)| match drawn {
                Value::Object(drawn) => drawn
                    .keys()
                    .all(|t| !proven.child(addr).child(t).is_absent()),
                _ => true,
            }),
            _ => true,
        })
    }

    /// The rounds sealed so far, with their metrics.
    pub fn history(&self) -> &[RoundMetrics] {
        &self.history
    }

    /// Every step the ledger's challenges drew, and whether the ledger holds a verified proof
    /// of it (with this driver's timings and refusal reasons where it saw the step proven).
    ///
    /// Errors: the ledger cannot be read.
    pub fn proofs(&self) -> Result<Vec<ProofRecord>> {
        let mut out = Vec::new();
        for round in 1..=self.current_round()? {
            let challenge = self.round_value(round, "challenge")?;
            let proven = self.round_value(round, "proven")?;
            for (client, addr) in &self.providers {
                let me = addr.to_string();
                let Value::Object(drawn) = challenge.child("steps").child(&me) else {
                    continue;
                };
                for step in drawn.keys().filter_map(|t| t.parse::<u64>().ok()) {
                    let seen = self
                        .proofs
                        .iter()
                        .find(|p| p.client == *client && p.round == round && p.step == step);
                    let accepted = !proven.child(&me).child(&step.to_string()).is_absent();
                    out.push(ProofRecord {
                        client: *client,
                        round,
                        step,
                        seconds: seen.map_or(0.0, |p| p.seconds),
                        reused: seen.is_none_or(|p| p.reused),
                        error: match (accepted, seen) {
                            (true, _) => None,
                            (false, Some(p)) => p.error.clone().or(Some("not proven".into())),
                            (false, None) => Some("not proven".into()),
                        },
                    });
                }
            }
        }
        out.sort_by_key(|p| (p.round, p.client, p.step));
        Ok(out)
    }

    /// The global model.
    pub fn global(&self) -> &[f32] {
        &self.global
    }

    /// How the closed task's escrow was split, as the ledger recorded it: `"shapley"`, or the
    /// rule it fell back to and why.
    pub fn paid_by(&self) -> Result<Option<String>> {
        Ok(self.value(&["paid_by"])?.as_str().map(str::to_owned))
    }

    /// Every provider's standing, read from the ledger.
    ///
    /// Errors: the ledger cannot be read.
    pub fn payouts(&self) -> Result<Vec<ProviderPayout>> {
        let int = |leaf: &[&str]| -> Result<i128> { Ok(self.value(leaf)?.as_int().unwrap_or(0)) };
        let denominator = self.value(&["values", "denominator"])?.as_int();
        self.providers
            .iter()
            .map(|(client, addr)| {
                let me = addr.to_string();
                let value = match denominator {
                    Some(d) => self
                        .value(&["values", "values", &me])?
                        .as_int()
                        .map(|v| v as f64 / d as f64),
                    None => None,
                };
                Ok(ProviderPayout {
                    client: *client,
                    address: me.clone(),
                    credited: int(&["credited", &me])?,
                    verified: int(&["verified", &me])?,
                    slashed: int(&["slashed", &me])?,
                    payout: int(&["payouts", &me])?,
                    value,
                    balance: self.ledger.balance(addr)?,
                })
            })
            .collect()
    }
}

/// An update of as many parameters as the global model.
fn same_shape(update: &[f32], global: &[f32]) -> Result<()> {
    ensure!(
        update.len() == global.len(),
        "an update of {} parameters for a model of {}",
        update.len(),
        global.len()
    );
    Ok(())
}

/// The exact fixed-point FedAvg of the updates (`circuits::relations::contribution::fedavg`),
/// back in floats: what a `shapley` task's contribution proof shows is the next global model.
fn proven_fedavg(global: &[f32], updates: &[ClientUpdate]) -> Result<Vec<f32>> {
    use circuits::fixed::{FW, dequantize, quantize_params};
    let mut quantized = Vec::new();
    let mut samples = Vec::new();
    for u in updates {
        match quantize_params(&u.params) {
            Ok(q) => {
                quantized.push(q);
                samples.push(u.n_samples as u64);
            }
            Err(e) => tracing::warn!(
                "the update of provider {} is outside the fixed-point range and is left out: {e}",
                u.client
            ),
        }
    }
    if quantized.is_empty() {
        return Ok(global.to_vec());
    }
    let aggregate = circuits::relations::contribution::fedavg(&quantized, &samples);
    Ok(aggregate.iter().map(|&q| dequantize(q, FW)).collect())
}

/// The initial global model of a federation.
fn federation_init(federation: &Federation) -> Vec<f32> {
    federation.spec().init_params(federation.config().seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_of_another_shape_is_refused_before_it_reaches_fedavg() {
        let global = vec![0.0f32; 650];
        assert!(same_shape(&vec![0.5; 650], &global).is_ok());
        for len in [0, 649, 651] {
            let err = same_shape(&vec![0.5; len], &global).unwrap_err();
            assert!(err.to_string().contains("for a model of 650"), "{err}");
        }
    }
}
