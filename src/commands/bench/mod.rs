//! `zkfl bench`: speed figures, each beside a baseline measured in the same run.

mod contrib;
mod net;
mod prover;
mod train;

use anyhow::Result;
use clap::Subcommand;

/// Benchmark subcommands.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Local-training throughput (samples/s) of the default MLP 64-64-10 at batch 16 and of a
    /// 784-256-10 MLP at batch 32 (digits upscaled to 28×28), per CPU back end, and the
    /// proof-of-learning logging overhead as a share of training time.
    Train {
        /// Back ends to compare (the first is the baseline of the ratio column)
        #[arg(long, value_delimiter = ',', default_value = "ndarray,flex")]
        backends: Vec<String>,
        /// Local epochs over the digits training set per measurement
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        /// Measurements per cell (the median is reported)
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Print the rows as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Prover cost of the training-step relation per model, batch size and proof system:
    /// constraints (Groth16) or rows (halo2), setup, prove and verify time, proof bytes, peak
    /// memory, and the prove time of a plain multiplication circuit of the same size measured
    /// in the same run (the ratio is the figure that matters). Writes a PNG of prove time
    /// against batch size.
    Prover {
        /// Models: logreg (30→1) | softmax (64→10) | mlp (64→16→10), or softmax:D-C, mlp:D-H-C, logreg:D
        #[arg(long, value_delimiter = ',', default_value = "softmax")]
        model: Vec<String>,
        /// Batch sizes
        #[arg(long, value_delimiter = ',', default_value = "4,8,16")]
        batch: Vec<usize>,
        /// Proof systems
        #[arg(long, value_delimiter = ',', default_value = "groth16,halo2")]
        backend: Vec<verifier::Backend>,
        /// Depth of the data set's Merkle tree (8 holds 256 rows)
        #[arg(long, default_value_t = 8)]
        depth: u32,
        /// Where the plot goes
        #[arg(long, default_value = "bench-prover.png")]
        plot: std::path::PathBuf,
        /// Key directory for halo2 parameters (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
        #[arg(long)]
        keys: Option<std::path::PathBuf>,
        /// Print the rows as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Contribution estimators on real round games: exact, TMC and GTG Shapley values at each
    /// number of providers (time, coalitions evaluated, relative L2 error and Spearman ρ against
    /// the exact values of the same game).
    Contrib(contrib::ContribBenchArgs),
    /// What the network costs a round of the default task (digits, softmax 64→10, FedAvg,
    /// paid by credited rounds, nobody audited): mean round time with the providers in
    /// process (the baseline) and behind libp2p peers on 127.0.0.1, the bytes each training
    /// provider's TCP connections carried per round (Noise and yamux framing included) beside
    /// the model down and the update up, and the whole task's bytes (handshakes and the join
    /// included) per provider and round
    Net {
        /// Numbers of providers
        #[arg(long, value_delimiter = ',', default_value = "3,10")]
        providers: Vec<usize>,
        /// Rounds of each task
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
        #[arg(long)]
        keys: Option<std::path::PathBuf>,
        /// Print the rows as JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Ledger throughput: signed transfers per second through the full path (signature check,
    /// rules, state root, one redb commit per block) beside raw ed25519 verification measured in
    /// the same run, the replay check, and 2 shards against 1.
    Ledger {
        /// Blocks
        #[arg(long, default_value_t = 10)]
        blocks: usize,
        /// Transfers per block
        #[arg(long, default_value_t = 500)]
        per_block: usize,
        /// Print the figures as JSON on stdout
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `zkfl bench` subcommand.
pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Train {
            backends,
            epochs,
            repeat,
            json,
        } => train::run(backends, epochs, repeat, json),
        BenchCommand::Prover {
            model,
            batch,
            backend,
            depth,
            plot,
            keys,
            json,
        } => prover::run(&model, &batch, &backend, depth, &plot, keys, json),
        BenchCommand::Ledger {
            blocks,
            per_block,
            json,
        } => ledger(blocks, per_block, json),
        BenchCommand::Contrib(args) => contrib::run(args),
        BenchCommand::Net {
            providers,
            rounds,
            keys,
            json,
        } => net::run(&providers, rounds, keys, json),
    }
}

fn ledger(blocks: usize, per_block: usize, json: bool) -> Result<()> {
    anyhow::ensure!(
        blocks > 0 && per_block > 0,
        "--blocks and --per-block must be at least 1"
    );
    let dir = std::env::temp_dir().join(format!("zkfl-bench-ledger-{}", std::process::id()));
    let b = ::chain::bench::run(blocks, per_block, &dir);
    if json {
        println!("{}", serde_json::to_string(&b)?);
        return Ok(());
    }
    let share = |x: f64| 100.0 * x / b.raw_single;
    println!("{} transfers in blocks of {}", b.transactions, b.per_block);
    println!(
        "raw ed25519 verify, single        {:>9.0} /s   (baseline)",
        b.raw_single
    );
    println!("raw ed25519 verify, batched       {:>9.0} /s", b.raw_batch);
    println!(
        "full path, one verify per tx      {:>9.0} tx/s  {:>3.0}% of raw  (submit {:.0} µs, block {:.0} µs per tx)",
        b.full,
        share(b.full),
        b.submit_us,
        b.produce_us
    );
    println!(
        "full path, batched verify         {:>9.0} tx/s  {:>3.0}% of raw",
        b.full_batch,
        share(b.full_batch)
    );
    println!("replay from genesis (verify)      {:>9.0} tx/s", b.replay);
    println!(
        "1 shard reporting to a parent     {:>9.0} tx/s",
        b.one_shard
    );
    println!(
        "2 shards in parallel              {:>9.0} tx/s  {:.2}x of 1 shard ({} cores)",
        b.two_shards,
        b.two_shards / b.one_shard,
        b.cores
    );
    Ok(())
}
