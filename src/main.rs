//! `zkfl`: verifiable federated learning from one command line.
//!
//! Every command returns `anyhow::Result`; `main` prints the one-line error chain and exits 1.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod commands;
mod plot;
mod progress;

use clap::{Parser, Subcommand};

/// Verifiable federated learning: train a model across data providers with burn, log every local
/// run as a proof of learning, and check those logs by replay.
#[derive(Parser)]
#[command(name = "zkfl", version, about, long_about = None)]
#[command(
    after_help = "Start with `zkfl run` (the whole pipeline on the built-in digits task), \
then `zkfl train --help` to choose your own data, model and strategy."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on the built-in default task and say where the results are.
    Run(commands::run::RunArgs),
    /// Federated training: rounds of local SGD on partitioned data, aggregated by a strategy.
    Train(commands::train::TrainArgs),
    /// Proof-of-learning logs.
    Pol {
        #[command(subcommand)]
        command: commands::pol::PolCommand,
    },
    /// Prove one logged training step in zero knowledge (Groth16 or halo2).
    Prove(commands::prove::ProveArgs),
    /// Check proof files, alone or against the run they come from.
    Verify(commands::verify::VerifyArgs),
    /// Value each provider's contribution to a run of a linear model (softmax, logreg): Shapley
    /// values of the validation rows each round's coalitions classify, and shares of the escrow.
    Contrib(commands::contrib::ContribArgs),
    /// A multi-party trusted setup for Groth16 keys: powers of tau that each participant updates
    /// with its own secret, so that no one knows the keys' trapdoor if one participant is honest.
    Ceremony {
        #[command(subcommand)]
        command: commands::ceremony::CeremonyCommand,
    },
    /// Keys for the ledger: `zkfl keys new --out FILE` prints the new address.
    Keys {
        #[command(subcommand)]
        command: commands::chain::KeysCommand,
    },
    /// The embedded ledger: init, get, tx, set, blocks, verify.
    Chain {
        #[command(subcommand)]
        command: commands::chain::ChainCommand,
    },
    /// Serve a ledger file over HTTP (JSON API under /api), making blocks on an interval.
    Node {
        /// The ledger file (made by `zkfl chain init`)
        #[arg(long)]
        ledger: std::path::PathBuf,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:8545")]
        listen: std::net::SocketAddr,
        /// Key file of the ledger's validator
        #[arg(long)]
        validator: std::path::PathBuf,
        /// Milliseconds between blocks (when transactions are pending)
        #[arg(long, default_value_t = 1000)]
        block_ms: u64,
        /// Make a block every interval even with nothing pending, as a chain whose clock is
        /// its block height needs (a task's challenges and deadlines count blocks: a node
        /// serving `zkfl owner` and `zkfl provider join` needs this)
        #[arg(long)]
        empty_blocks: bool,
    },
    /// Run a task as its owner, against a `zkfl node` and with providers over libp2p: create
    /// it, wait for the providers named in the task file, run its rounds, aggregate, prove
    /// contributions, settle.
    Owner(commands::party::OwnerArgs),
    /// Be a task's data provider in a process of your own (`zkfl provider join`).
    Provider {
        #[command(subcommand)]
        command: commands::party::ProviderCommand,
    },
    /// Content-addressed blobs: leases (time-to-live) and collecting expired ones.
    Blobs {
        #[command(subcommand)]
        command: commands::blobs::BlobsCommand,
    },
    /// Measure speed: release builds only give meaningful figures.
    Bench {
        #[command(subcommand)]
        command: commands::bench::BenchCommand,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Pol { command } => commands::pol::run(command),
        Command::Prove(args) => commands::prove::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Contrib(args) => commands::contrib::run(args),
        Command::Bench { command } => commands::bench::run(command),
        Command::Ceremony { command } => commands::ceremony::run(command),
        Command::Keys { command } => commands::chain::keys(command),
        Command::Blobs { command } => commands::blobs::run(command),
        Command::Owner(args) => commands::party::owner(args),
        Command::Provider { command } => commands::party::provider(command),
        Command::Chain { command } => commands::chain::chain(command),
        Command::Node {
            ledger,
            listen,
            validator,
            block_ms,
            empty_blocks,
        } => commands::chain::node(&ledger, listen, &validator, block_ms, empty_blocks),
    };
    if let Err(error) = result {
        eprintln!("error: {}", one_line(&error));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, `a: b: c`, each cause said once: many library errors
/// already put their source in their own message.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
