//! `zkfl train`: a federated run with every knob on the command line.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fl::attack::AttackSpec;
use fl::backend::BackendKind;
use fl::data::DatasetSource;
use std::sync::Mutex;

use fl::federation::{Federation, FederationConfig, Progress, RoundMetrics, RunDir, Summary};
use prover::StepProver;

use zkfl::proving::{ChallengeResult, ProvingRun, commit_run, prove_round};

use crate::commands::prove::key_store;
use fl::partition::PartitionScheme;
use fl::strategy::StrategySpec;
use fl::train::TrainConfig;

use crate::plot::plot_metrics;
use crate::progress::RoundBars;

/// Options of a federated run (defaults: the built-in digits task).
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Data: digits | breast-cancer | csv:PATH | idx:IMAGES,LABELS
    #[arg(long, default_value = "digits")]
    pub dataset: String,
    /// CSV label column: last, a 0-based index, or a header name
    #[arg(long, default_value = "last")]
    pub label_column: String,
    /// Model: logreg | softmax | mlp | mlp:W1,W2,… | cnn
    #[arg(long, default_value = "mlp")]
    pub model: String,
    /// Number of clients (data providers)
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// How training rows are dealt: iid | dirichlet:ALPHA | shards:K
    #[arg(long, default_value = "dirichlet:0.5")]
    pub partition: String,
    /// Federated rounds
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Local epochs per round
    #[arg(long, default_value_t = 5)]
    pub local_epochs: usize,
    /// Mini-batch size
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Learning rate
    #[arg(long, default_value_t = 0.1)]
    pub lr: f32,
    /// SGD momentum (0 = plain SGD)
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f32,
    /// fedavg | fedavgm[:LR,BETA] | fedprox:MU | median | trimmed-mean:BETA | krum:F | multi-krum:F,M
    #[arg(long, default_value = "fedavg")]
    pub strategy: String,
    /// Share of clients sampled per round, in (0, 1]
    #[arg(long, default_value_t = 1.0)]
    pub fraction: f64,
    /// Simulated attack by the K lowest-id clients of each round: scale:S@K (send global + S·(update − global)), freeride@K (send the global model back), flip@K (train on flipped labels)
    #[arg(long)]
    pub attack: Option<String>,
    /// Seed of split, partition, initial model, sampling and batch order
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where burn runs: flex | ndarray | wgpu (needs --features wgpu)
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Proof-of-learning checkpoint every K steps (0 = no logs)
    #[arg(long, default_value_t = 1)]
    pub pol_every: u32,
    /// Run directory (metrics.json, plot, models, logs, blobs)
    #[arg(long, default_value = "runs/train")]
    pub out: PathBuf,
    /// Continue the run in --out from its last finished round
    #[arg(long)]
    pub resume: bool,
    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// After each round, prove Q challenged steps per client (drawn from the round's log heads)
    #[arg(long, default_value_t = 0)]
    pub prove: usize,
    /// Proof system for --prove: groth16 | halo2
    #[arg(long, default_value = "groth16")]
    pub proof_backend: verifier::Backend,
    /// Key directory for --prove (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
}

impl TrainArgs {
    /// The validated configuration these options describe.
    pub fn config(&self) -> Result<FederationConfig> {
        Ok(FederationConfig {
            dataset: self.dataset.parse::<DatasetSource>().context("--dataset")?,
            label_column: self.label_column.clone(),
            model: self.model.clone(),
            clients: self.clients,
            partition: self
                .partition
                .parse::<PartitionScheme>()
                .context("--partition")?,
            rounds: self.rounds,
            train: TrainConfig {
                lr: self.lr,
                batch_size: self.batch,
                local_epochs: self.local_epochs,
                momentum: self.momentum,
                proximal_mu: 0.0,
                drop_last: false,
            },
            strategy: self
                .strategy
                .parse::<StrategySpec>()
                .context("--strategy")?,
            fraction: self.fraction,
            attack: self
                .attack
                .as_deref()
                .map(str::parse::<AttackSpec>)
                .transpose()
                .context("--attack")?,
            seed: self.seed,
            backend: self.backend.parse::<BackendKind>().context("--backend")?,
            pol_every: self.pol_every,
        })
    }
}

/// Runs `zkfl train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let federation = Federation::new(args.config()?)?;
    let proving = match args.prove {
        0 => None,
        q => Some(RoundProving::new(
            StepProver::new(key_store(args.keys.clone()), args.proof_backend),
            q,
        )),
    };
    let federation = match &proving {
        Some(_) => commit_run(federation, &RunDir::create(&args.out)?)?.0,
        None => federation,
    };
    let summary = train(
        &federation,
        &args.out,
        args.resume,
        !args.json,
        proving.as_ref(),
    )?;
    let proofs = proving.map(RoundProving::into_results).unwrap_or_default();
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        value["proofs"] = serde_json::to_value(&proofs)?;
        println!("{value}");
    } else {
        print_summary(&summary);
        if args.prove > 0 {
            print_proofs(&proofs);
        }
    }
    let failed = proofs.iter().filter(|p| p.error.is_some()).count();
    anyhow::ensure!(failed == 0, "{failed} challenged steps could not be proved");
    Ok(())
}

/// Prints challenged-step proofs for a person.
pub fn print_proofs(proofs: &[ChallengeResult]) {
    let ok = proofs.iter().filter(|p| p.proof.is_some()).count();
    println!(
        "  proofs/        {ok} of {} challenged steps proved",
        proofs.len()
    );
    for p in proofs.iter().filter(|p| p.error.is_some()) {
        println!(
            "    round {} client {} step {}: {}",
            p.round,
            p.client,
            p.step,
            p.error.as_deref().unwrap_or_default()
        );
    }
}

/// Proves challenged steps after each round, in the round's callback.
pub struct RoundProving {
    prover: StepProver,
    q: usize,
    results: Mutex<Vec<ChallengeResult>>,
}

impl RoundProving {
    /// Proves `q` steps per client per round with `prover`.
    pub fn new(prover: StepProver, q: usize) -> Self {
        RoundProving {
            prover,
            q,
            results: Mutex::new(Vec::new()),
        }
    }

    fn round_finished(&self, out: &std::path::Path, metrics: &RoundMetrics) {
        let outcome =
            ProvingRun::open(out).and_then(|run| prove_round(&run, &self.prover, metrics, self.q));
        let mut results = self
            .results
            .lock()
            .expect("no panics while holding results");
        match outcome {
            Ok(proved) => results.extend(proved),
            Err(e) => results.push(ChallengeResult {
                client: u32::MAX,
                round: metrics.round,
                step: 0,
                proof: None,
                seconds: 0.0,
                reused: false,
                error: Some(format!("{e:#}")),
            }),
        }
    }

    /// Every challenged step so far.
    pub fn into_results(self) -> Vec<ChallengeResult> {
        self.results.into_inner().unwrap_or_default()
    }
}

/// Trains with progress bars, plotting after every round (and proving challenged steps when
/// `proving` is given); stops cleanly on Ctrl-C.
pub fn train(
    federation: &Federation,
    out: &std::path::Path,
    resume: bool,
    bars: bool,
    proving: Option<&RoundProving>,
) -> Result<Summary> {
    let empty = federation.partitioning().empty_clients();
    if !empty.is_empty() {
        tracing::warn!(?empty, "clients without rows take no part in training");
        if bars {
            eprintln!("note: clients {empty:?} received no rows and are left out of every round");
        }
    }
    install_interrupt_notice(out);
    let progress = RoundBars::new(federation.config().rounds, bars, out.to_path_buf());
    let hooked = AfterRound {
        inner: &progress,
        out,
        proving,
    };
    let summary = federation.run(out, resume, &hooked)?;
    progress.finish();
    plot_metrics(&out.join("metrics.json"), &out.join("accuracy.png"))?;
    Ok(summary)
}

/// Progress that also proves after each round.
struct AfterRound<'a> {
    inner: &'a RoundBars,
    out: &'a std::path::Path,
    proving: Option<&'a RoundProving>,
}

impl Progress for AfterRound<'_> {
    fn round_started(&self, round: u32, clients: usize) {
        self.inner.round_started(round, clients);
    }

    fn client_finished(&self, round: u32, client: usize) {
        self.inner.client_finished(round, client);
    }

    fn round_finished(&self, metrics: &RoundMetrics) {
        if let Some(proving) = self.proving {
            proving.round_finished(self.out, metrics);
        }
        self.inner.round_finished(metrics);
    }
}

fn install_interrupt_notice(out: &std::path::Path) {
    let out = out.display().to_string();
    // Files are written atomically and state.json last, so stopping at any moment is safe.
    let _ = ctrlc::set_handler(move || {
        eprintln!(
            "\ninterrupted: continue with the same options plus --resume (run directory {out})"
        );
        std::process::exit(130);
    });
}

/// Prints a finished run for a person.
pub fn print_summary(summary: &Summary) {
    println!(
        "{} rounds of {}: test accuracy {:.2}% (best {:.2}%), loss {:.4}",
        summary.rounds,
        summary.model,
        100.0 * summary.final_accuracy,
        100.0 * summary.best_accuracy,
        summary.final_loss
    );
    println!("results in {}/", summary.out.display());
    println!("  metrics.json   per-round accuracy, loss and per-client figures");
    println!("  accuracy.png   accuracy and loss per round");
    println!("  models/        global model per round (flat f32, little-endian)");
    println!(
        "  pol/           proof-of-learning logs; check one with `zkfl pol verify --log FILE`"
    );
}
