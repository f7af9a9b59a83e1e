//! Federated rounds: the server loop of FedAvg and its robust relatives, as in Flower's simulation.
//!
//! ```text
//! global ← init(seed)
//! for round r = 1..R:
//!     S ← sample ⌈fraction·N⌉ non-empty clients (seeded by r)
//!     for each client c in S (in parallel on CPU):
//!         update_c ← local SGD from global on c's rows (batch order seeded by r, c),
//!                    writing a proof-of-learning log
//!         (a simulated attacker, if any, sends its rewritten model and a log ending there)
//!     global ← strategy.aggregate(global, updates)
//!     evaluate global on the test set; save model, metrics, logs; then state.json
//! ```
//!
//! All randomness derives from the seed and the round and client numbers, never from state carried
//! between rounds, so a resumed run ends with the same model, bit for bit, as one never stopped.

pub mod metrics;
mod run_dir;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use metrics::{ClientMetrics, RoundMetrics};
pub use run_dir::{RunDir, RunState, write_atomic};

use crate::attack::AttackSpec;
use crate::backend::BackendKind;
use crate::blob::Digest;
use crate::data::{Dataset, DatasetSource, Splits, prepare_data};
use crate::error::FlError;
use crate::model::{Evaluation, ModelKind, ModelSpec, evaluate};
use crate::partition::{PartitionScheme, Partitioning, partition};
use crate::pol::{CheckpointCommitter, CheckpointLog, LogHeader, PolRecorder, RunTerms};
use crate::strategy::{ClientUpdate, Strategy, StrategyError, StrategySpec};
use crate::train::{LocalOutcome, LocalTask, TrainConfig, train_local};

/// Everything that defines a federated run. Two runs with equal configs produce equal models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FederationConfig {
    /// Where the data comes from.
    pub dataset: DatasetSource,
    /// Which CSV column holds the label (`last`, an index, or a header name).
    pub label_column: String,
    /// The model family (`logreg`, `softmax`, `mlp`, `mlp:W,…`, `cnn`).
    pub model: String,
    /// Number of clients the training rows are dealt to.
    pub clients: usize,
    /// How rows are dealt.
    pub partition: PartitionScheme,
    /// Rounds to run.
    pub rounds: u32,
    /// Local training of each client.
    pub train: TrainConfig,
    /// The server's aggregation rule.
    pub strategy: StrategySpec,
    /// Share of the non-empty clients sampled each round, in (0, 1].
    pub fraction: f64,
    /// Simulated model poisoning, if any.
    pub attack: Option<AttackSpec>,
    /// The seed of everything: split, partition, initial model, sampling, batch order.
    pub seed: u64,
    /// Where burn runs.
    pub backend: BackendKind,
    /// Proof-of-learning checkpoint interval k in steps (0: no logs).
    pub pol_every: u32,
}

impl Default for FederationConfig {
    /// The default task: digits, MLP 64-64-10, 10 clients, Dirichlet(0.5), 20 rounds of FedAvg.
    fn default() -> Self {
        FederationConfig {
            dataset: DatasetSource::Digits,
            label_column: "last".to_string(),
            model: "mlp".to_string(),
            clients: 10,
            partition: PartitionScheme::Dirichlet { alpha: 0.5 },
            rounds: 20,
            train: TrainConfig::default(),
            strategy: StrategySpec::FedAvg,
            fraction: 1.0,
            attack: None,
            seed: 0,
            backend: BackendKind::default(),
            pol_every: 1,
        }
    }
}

/// Reports progress to a user interface; every method has a silent default.
pub trait Progress: Sync {
    /// A round starts with `clients` sampled clients.
    fn round_started(&self, _round: u32, _clients: usize) {}
    /// A client finished its local training.
    fn client_finished(&self, _round: u32, _client: usize) {}
    /// A round finished and its files are on disk.
    fn round_finished(&self, _metrics: &RoundMetrics) {}
}

/// Progress that reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// The result of a finished run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// The model, e.g. `mlp:64-64-10`.
    pub model: String,
    /// Rounds finished.
    pub rounds: u32,
    /// Test accuracy of the final model.
    pub final_accuracy: f64,
    /// Test loss of the final model (`"NaN"`, `"inf"` when not finite).
    #[serde(with = "crate::federation::metrics::float_or_text")]
    pub final_loss: f64,
    /// Best test accuracy over the rounds.
    pub best_accuracy: f64,
    /// Clients that received no rows.
    pub empty_clients: Vec<usize>,
    /// SHA-256 of the final model.
    pub final_model: Digest,
    /// The run directory.
    pub out: std::path::PathBuf,
}

/// A validated federated run: data loaded and split, rows dealt, nothing written yet.
pub struct Federation {
    config: FederationConfig,
    spec: ModelSpec,
    train: Dataset,
    validation: Dataset,
    test: Dataset,
    partitioning: Partitioning,
    device: Device,
    per_round: usize,
    committer: Option<Arc<dyn CheckpointCommitter>>,
}

impl Federation {
    /// Checks every setting and loads the data; fails before anything touches the disk.
    pub fn new(config: FederationConfig) -> Result<Self, FlError> {
        let c = &config;
        let bad = |msg: String| Err(FlError::Config(msg));
        if c.clients == 0 {
            return bad("--clients must be at least 1".into());
        }
        if c.rounds == 0 {
            return bad("--rounds must be at least 1".into());
        }
        if !(c.fraction > 0.0 && c.fraction <= 1.0) {
            return bad(format!("--fraction must be in (0, 1], got {}", c.fraction));
        }
        let t = &c.train;
        if t.batch_size == 0 || t.local_epochs == 0 {
            return bad("--batch and --local-epochs must be at least 1".into());
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return bad(format!("--lr must be a positive number, got {}", t.lr));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return bad(format!("--momentum must be in [0, 1), got {}", t.momentum));
        }
        let kind: ModelKind = c.model.parse()?;
        let device = c.backend.device()?;
        let Splits {
            train,
            validation,
            test,
        } = prepare_data(&c.dataset, &c.label_column, c.seed)?;
        let spec = ModelSpec::new(kind, train.n_features, train.n_classes, train.image_shape)?;
        let partitioning = partition(
            &train.labels,
            train.n_classes,
            c.clients,
            &c.partition,
            c.seed,
        )?;
        let non_empty = c.clients - partitioning.empty_clients().len();
        if non_empty == 0 {
            return bad("every client is empty: use fewer clients or another partition".into());
        }
        let per_round = ((c.fraction * non_empty as f64).round() as usize).clamp(1, non_empty);
        c.strategy.validate(per_round)?;
        if let Some(attack) = &c.attack
            && attack.attackers > per_round
        {
            return bad(format!(
                "--attack names {} attackers but only {per_round} clients train per round",
                attack.attackers
            ));
        }
        let mut config = config;
        config.train.proximal_mu = config.strategy.build().proximal_mu();
        Ok(Federation {
            config,
            spec,
            train,
            validation,
            test,
            partitioning,
            device,
            per_round,
            committer: None,
        })
    }

    /// The same federation with the training rows dealt by hand: client `c` holds
    /// `partitioning.clients[c]`. For experiments such as one provider's rows split across two
    /// identities; `config.json` still names the configured partition scheme, so such a run
    /// cannot be resumed.
    ///
    /// # Errors
    /// [`FlError::Config`] for a row outside the training set or dealt twice, or no non-empty
    /// client.
    pub fn with_partitioning(mut self, partitioning: Partitioning) -> Result<Self, FlError> {
        let mut seen = vec![false; self.train.len()];
        for &row in partitioning.clients.iter().flatten() {
            match seen.get_mut(row) {
                Some(s) if !*s => *s = true,
                Some(_) => return Err(FlError::Config(format!("row {row} is dealt twice"))),
                None => {
                    return Err(FlError::Config(format!(
                        "row {row} is not in the training set of {} rows",
                        self.train.len()
                    )));
                }
            }
        }
        let non_empty = partitioning.clients.len() - partitioning.empty_clients().len();
        if non_empty == 0 {
            return Err(FlError::Config("every client is empty".into()));
        }
        self.config.clients = partitioning.clients.len();
        self.per_round =
            ((self.config.fraction * non_empty as f64).round() as usize).clamp(1, non_empty);
        self.partitioning = partitioning;
        Ok(self)
    }

    /// Commits every logged checkpoint with `committer` (proof systems open these commitments).
    pub fn with_committer(mut self, committer: Arc<dyn CheckpointCommitter>) -> Self {
        self.committer = Some(committer);
        self
    }

    /// The configuration (with the strategy's proximal μ filled in).
    pub fn config(&self) -> &FederationConfig {
        &self.config
    }

    /// The model fixed to the data set.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The training set (standardized).
    pub fn train_set(&self) -> &Dataset {
        &self.train
    }

    /// The owner's validation set, which values contributions (never dealt to a client).
    pub fn validation_set(&self) -> &Dataset {
        &self.validation
    }

    /// The test set (standardized with the training statistics).
    pub fn test_set(&self) -> &Dataset {
        &self.test
    }

    /// Rows per client.
    pub fn partitioning(&self) -> &Partitioning {
        &self.partitioning
    }

    /// What the run fixes for client `client`'s local training in `round`, which starts from
    /// the global model `global`: the terms its proof-of-learning log is checked against.
    pub fn run_terms(
        &self,
        round: u32,
        client: usize,
        global: Digest,
    ) -> Result<RunTerms, FlError> {
        let header = self.log_header(round, client, global)?;
        let rows = &self.partitioning.clients[client];
        let train = &self.config.train;
        Ok(RunTerms {
            header,
            lr: train.lr,
            local_epochs: small("local epochs", train.local_epochs)?,
            drop_last: train.drop_last,
            rows: rows.iter().map(|&r| r as u32).collect(),
        })
    }

    /// The header of client `client`'s proof-of-learning log in `round`, which starts from the
    /// global model `global`; `initial` and `initial_commitment` are its recorder's to fill in.
    pub fn log_header(
        &self,
        round: u32,
        client: usize,
        global: Digest,
    ) -> Result<LogHeader, FlError> {
        if client >= self.partitioning.clients.len() {
            return Err(FlError::Config(format!("the run has no client {client}")));
        }
        let train = &self.config.train;
        Ok(LogHeader {
            client: small("client", client)?,
            round,
            dataset: self.config.dataset.to_string(),
            label_column: self.config.label_column.clone(),
            split_seed: self.config.seed,
            model: self.spec.to_string(),
            batch_size: small("batch size", train.batch_size)?,
            momentum: train.momentum,
            proximal_mu: train.proximal_mu,
            every: self.config.pol_every,
            global,
            initial: Digest([0; 32]),
            initial_commitment: None,
        })
    }

    /// The burn device training runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Clients trained per round.
    pub fn clients_per_round(&self) -> usize {
        self.per_round
    }

    /// Evaluates flat parameters on the test set.
    pub fn evaluate(&self, params: &[f32]) -> Result<Evaluation, FlError> {
        Ok(evaluate(&self.spec, params, &self.test, &self.device)?)
    }

    /// The clients sampled in `round`, ascending.
    pub fn sample_clients(&self, round: u32) -> Vec<usize> {
        let empty = self.partitioning.empty_clients();
        let mut pool: Vec<usize> = (0..self.config.clients)
            .filter(|c| !empty.contains(c))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.config.seed, &[1, u64::from(round)]));
        pool.shuffle(&mut rng);
        pool.truncate(self.per_round);
        pool.sort_unstable();
        pool
    }

    /// The global model after `round`: `strategy`'s aggregate of `updates`, evaluated on the
    /// test set, unless it is not usable — a parameter that is not finite, or a test loss that
    /// is not (the model overflows, as under a scaling attack) — in which case the round keeps
    /// `global`, the strategy's state is put back, a warning says why and
    /// [`NextGlobal::kept_previous`] records it. Other strategy errors fail the round.
    pub fn next_global(
        &self,
        strategy: &mut dyn Strategy,
        round: u32,
        global: &[f32],
        updates: &[ClientUpdate],
    ) -> Result<NextGlobal, FlError> {
        let state = strategy.state();
        let refused = match strategy.aggregate(global, updates) {
            Ok(model) => {
                let evaluation = self.evaluate(&model)?;
                if evaluation.loss.is_finite() {
                    return Ok(NextGlobal {
                        model,
                        evaluation,
                        kept_previous: None,
                    });
                }
                format!("the aggregate's test loss is {}", evaluation.loss)
            }
            Err(e @ StrategyError::NonFinite { .. }) => e.to_string(),
            Err(e) => return Err(e.into()),
        };
        strategy.restore_state(state)?;
        let why = format!("{refused}: round {round} keeps the global model it started from");
        tracing::warn!("{why}");
        Ok(NextGlobal {
            model: global.to_vec(),
            evaluation: self.evaluate(global)?,
            kept_previous: Some(why),
        })
    }

    /// Runs (or, with `resume`, continues) the rounds, writing the run directory at `out`.
    pub fn run(
        &self,
        out: &Path,
        resume: bool,
        progress: &dyn Progress,
    ) -> Result<Summary, FlError> {
        let dir = RunDir::create(out)?;
        let mut strategy = self.config.strategy.build();
        let (start, mut global, mut history) = match dir
            .read_json::<FederationConfig>("config.json")?
        {
            Some(_) if !resume => {
                return Err(FlError::Config(format!(
                    "{} already holds a run: pass --resume to continue it, or choose another --out",
                    out.display()
                )));
            }
            Some(previous) if previous != self.config => {
                return Err(FlError::Config(format!(
                    "{} holds a run with a different configuration: --resume needs the same options",
                    out.display()
                )));
            }
            Some(_) => match dir.read_json::<RunState>("state.json")? {
                Some(state) => {
                    strategy.restore_state(state.strategy_state)?;
                    let global = dir.load_model(state.completed_rounds, &state.global)?;
                    let mut history = dir.metrics()?;
                    history.truncate(state.completed_rounds as usize);
                    (state.completed_rounds + 1, global, history)
                }
                None => (1, self.initial_model(&dir)?, Vec::new()),
            },
            None => {
                dir.write_json("config.json", &self.config)?;
                (1, self.initial_model(&dir)?, Vec::new())
            }
        };

        for round in start..=self.config.rounds {
            let started = Instant::now();
            let clients = self.sample_clients(round);
            progress.round_started(round, clients.len());
            let outcomes = self.train_clients(&dir, round, &clients, &global, progress)?;

            let updates: Vec<ClientUpdate> = outcomes
                .iter()
                .map(|(client, outcome, _)| ClientUpdate {
                    client: *client,
                    params: outcome.params.clone(),
                    n_samples: outcome.n_samples,
                })
                .collect();
            // Attackers sent their rewritten models (`train_client`).
            let attacked = self
                .config
                .attack
                .map(|a| a.attackers_of(&clients))
                .unwrap_or_default();
            let sent = updates
                .iter()
                .map(|u| Ok((u.client, dir.blobs().put_f32s(&u.params)?)))
                .collect::<Result<std::collections::BTreeMap<_, _>, FlError>>()?;
            let next = self.next_global(strategy.as_mut(), round, &global, &updates)?;
            global = next.model;
            let evaluation = next.evaluation;
            let model = dir.save_model(round, &global)?;
            history.push(RoundMetrics {
                round,
                test_accuracy: evaluation.accuracy,
                test_loss: evaluation.loss,
                clients: outcomes
                    .iter()
                    .map(|(client, outcome, head)| ClientMetrics {
                        client: *client,
                        samples: outcome.n_samples,
                        train_loss: outcome.train_loss,
                        steps: outcome.steps,
                        attacked: attacked.contains(client),
                        pol_head: *head,
                        update: sent.get(client).copied(),
                    })
                    .collect(),
                seconds: started.elapsed().as_secs_f64(),
                model,
                kept_previous: next.kept_previous,
            });
            dir.write_json("metrics.json", &history)?;
            dir.write_json(
                "state.json",
                &RunState {
                    completed_rounds: round,
                    global: model,
                    strategy_state: strategy.state(),
                },
            )?;
            if let Some(last) = history.last() {
                progress.round_finished(last);
            }
        }

        let last = history
            .last()
            .ok_or_else(|| FlError::Config("no round ran".into()))?;
        let summary = Summary {
            model: self.spec.to_string(),
            rounds: last.round,
            final_accuracy: last.test_accuracy,
            final_loss: last.test_loss,
            best_accuracy: history.iter().map(|m| m.test_accuracy).fold(0.0, f64::max),
            empty_clients: self.partitioning.empty_clients(),
            final_model: last.model,
            out: out.to_path_buf(),
        };
        dir.write_json("summary.json", &summary)?;
        Ok(summary)
    }

    fn initial_model(&self, dir: &RunDir) -> Result<Vec<f32>, FlError> {
        let global = self.spec.init_params(self.config.seed);
        dir.save_model(0, &global)?;
        Ok(global)
    }

    /// Trains the sampled clients from `global`: in parallel threads on CPU back ends.
    fn train_clients(
        &self,
        dir: &RunDir,
        round: u32,
        clients: &[usize],
        global: &[f32],
        progress: &dyn Progress,
    ) -> Result<Vec<(usize, LocalOutcome, Option<Digest>)>, FlError> {
        let one = |&client: &usize| -> Result<(usize, LocalOutcome, Option<Digest>), FlError> {
            let trained = self.train_client(dir, round, client, global)?;
            progress.client_finished(round, client);
            let head = trained.log.as_ref().map(CheckpointLog::head);
            Ok((client, trained.outcome, head))
        };
        if self.config.backend.is_cpu() {
            clients.par_iter().map(one).collect()
        } else {
            clients.iter().map(one).collect()
        }
    }

    /// One client's local training in `round`, with its proof-of-learning log (also written to
    /// `dir`, with its checkpoints in the blob store).
    pub fn train_client(
        &self,
        dir: &RunDir,
        round: u32,
        client: usize,
        global: &[f32],
    ) -> Result<ClientRound, FlError> {
        let attack = self.config.attack.filter(|a| {
            a.attackers_of(&self.sample_clients(round))
                .contains(&client)
        });
        let poisoned = attack.and_then(|a| a.training_data(&self.train));
        let task = LocalTask {
            spec: &self.spec,
            device: &self.device,
            data: poisoned.as_ref().unwrap_or(&self.train),
            rows: &self.partitioning.clients[client],
        };
        let seed = mix(self.config.seed, &[2, u64::from(round), client as u64]);
        let config = &self.config.train;
        if self.config.pol_every == 0 {
            let mut outcome = train_local(&task, global, config, seed, None)?;
            if let Some(a) = attack {
                a.rewrite(global, &mut outcome.params);
            }
            return Ok(ClientRound { outcome, log: None });
        }
        // The recorder stores the global model and puts its digest in the header.
        let header = self.log_header(round, client, Digest([0; 32]))?;
        let initial = config.initial_checkpoint(global);
        let mut recorder = PolRecorder::start(
            header,
            dir.blobs().clone(),
            global,
            &initial,
            self.committer.clone(),
        )?;
        if let Some(a) = attack {
            // The attacker's log ends at the model it sends (its last step forged).
            let start = global.to_vec();
            recorder.forge_last(move |mut checkpoint| {
                let params = start.len().min(checkpoint.len());
                a.rewrite(&start, &mut checkpoint[..params]);
                checkpoint
            });
        }
        let mut outcome = train_local(&task, global, config, seed, Some(&mut recorder))?;
        if let Some(a) = attack {
            a.rewrite(global, &mut outcome.params);
        }
        let log = recorder.finish()?;
        write_atomic(&dir.pol_path(round, client), &log.to_bytes())?;
        Ok(ClientRound {
            outcome,
            log: Some(log),
        })
    }
}

/// One client's local training in a round.
#[derive(Clone, Debug)]
pub struct ClientRound {
    /// What it trained.
    pub outcome: LocalOutcome,
    /// Its proof-of-learning log, when logging is on.
    pub log: Option<CheckpointLog>,
}

/// `n` as a `u32`, or a configuration error naming `what`.
fn small(what: &str, n: usize) -> Result<u32, FlError> {
    u32::try_from(n).map_err(|_| FlError::Config(format!("{what} {n} is too large")))
}

/// A round's new global model ([`Federation::next_global`]).
#[derive(Clone, Debug)]
pub struct NextGlobal {
    /// The model.
    pub model: Vec<f32>,
    /// Its evaluation on the test set.
    pub evaluation: Evaluation,
    /// Why the aggregate was refused and the round's starting model kept, if it was.
    pub kept_previous: Option<String>,
}

/// Mixes a seed with a path of numbers into an independent seed (SplitMix64 steps).
pub fn mix(seed: u64, path: &[u64]) -> u64 {
    let mut z = seed;
    for &p in path {
        z = z
            .wrapping_add(p.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}
