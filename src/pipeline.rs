//! `zkfl run`: the whole pipeline on the built-in default task.
//!
//! 1. Federated training: digits, MLP 64-64-10, 10 clients with Dirichlet(0.5) label skew,
//!    20 rounds of FedAvg, 5 local epochs of SGD (lr 0.1, batch 16), proof-of-learning logs.
//! 2. Proof-of-learning check: every client's log of the last round is verified by replay.
//!
//! Running it again on the same directory continues an interrupted run, or re-checks a finished one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fl::backend::BackendKind;
use fl::federation::RunDir;
use fl::federation::{Federation, FederationConfig};
use fl::pol::verify::verify_log_file;

use crate::commands::train::{print_summary, train};

/// Options of the default pipeline.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run directory
    #[arg(long, default_value = "runs/default")]
    pub out: PathBuf,
    /// Rounds of federated training
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Segments replayed per proof-of-learning log
    #[arg(long, default_value_t = 2)]
    pub q: usize,
    /// Where burn runs: flex | ndarray | wgpu
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

/// Runs the pipeline.
pub fn run(args: RunArgs) -> Result<()> {
    let backend: BackendKind = args.backend.parse()?;
    let config = FederationConfig {
        rounds: args.rounds,
        backend,
        ..FederationConfig::default()
    };
    let federation = Federation::new(config)?;
    let resume = args.out.join("config.json").exists();
    if resume && !args.json {
        eprintln!("continuing the run in {}", args.out.display());
    }
    let summary = train(&federation, &args.out, resume, !args.json, None)?;

    let dir = RunDir::create(&args.out)?;
    let last_round = dir.metrics()?.pop().context("the run finished no round")?;
    let mut verified = Vec::new();
    for client in &last_round.clients {
        let log = dir.pol_path(summary.rounds, client.client);
        let (_, report) = verify_log_file(
            &log,
            dir.blobs().root(),
            client.pol_head.as_ref(),
            args.q,
            backend,
        )
        .with_context(|| format!("verifying {}", log.display()))?;
        verified.push((client.client, report));
    }
    let all_valid = verified.iter().all(|(_, r)| r.passed());

    if args.json {
        let value = serde_json::json!({
            "summary": summary,
            "pol": verified.iter().map(|(client, report)| serde_json::json!({
                "client": client, "valid": report.passed(), "steps": report.steps,
                "replayed": report.checked.len(),
            })).collect::<Vec<_>>(),
            "pol_all_valid": all_valid,
        });
        println!("{value}");
    } else {
        print_summary(&summary);
        println!(
            "proof of learning, round {} (replaying {} segments per log):",
            summary.rounds, args.q
        );
        for (client, report) in &verified {
            println!(
                "  client {client:>2}: {:>4} steps logged, {} replayed, {}",
                report.steps,
                report.checked.len(),
                if report.passed() { "valid" } else { "INVALID" }
            );
        }
    }
    anyhow::ensure!(
        all_valid,
        "a proof-of-learning log of the last round failed replay"
    );
    Ok(())
}
