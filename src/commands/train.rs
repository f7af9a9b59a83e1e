//! `zkfl train`: a federated run with every knob on the command line.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fl::attack::AttackSpec;
use fl::backend::BackendKind;
use fl::data::DatasetSource;
use fl::federation::{Federation, FederationConfig, Summary};
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
    /// Simulated poisoning: scale:S@K makes K clients send global + S·(update − global)
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
    let summary = train(&federation, &args.out, args.resume, !args.json)?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

/// Trains with progress bars, plotting after every round; stops cleanly on Ctrl-C.
pub fn train(
    federation: &Federation,
    out: &std::path::Path,
    resume: bool,
    bars: bool,
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
    let summary = federation.run(out, resume, &progress)?;
    progress.finish();
    plot_metrics(&out.join("metrics.json"), &out.join("accuracy.png"))?;
    Ok(summary)
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
