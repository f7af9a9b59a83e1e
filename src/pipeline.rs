//! `zkfl run`: the whole pipeline on the built-in default task.
//!
//! 1. Commitments: each provider commits to its data set (Poseidon Merkle roots over BN254 and
//!    Pasta, and a SHA-256 root) before training; every logged checkpoint is committed too.
//! 2. Federated training: digits, softmax regression 64→10 (the model whose training steps a
//!    2-core machine proves in seconds), 10 clients with Dirichlet(0.5) label skew, 20 rounds of
//!    FedAvg, 5 local epochs of SGD (lr 0.1, batch 16), proof-of-learning logs.
//! 3. Proof-of-learning check: every client's log of the last round is verified by replay.
//! 4. Proofs of training: Q steps per client of the last round, challenged by a hash of the
//!    round's log heads, are proved with Groth16 (or halo2), then every proof is verified and
//!    checked against the commitments the run posted.
//!
//! Running it again on the same directory continues an interrupted run, or re-checks a finished one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fl::backend::BackendKind;
use fl::federation::RunDir;
use fl::federation::{Federation, FederationConfig};
use fl::pol::verify::verify_log_file;

use fl::federation::RoundMetrics;
use prover::StepProver;

use crate::commands::prove::key_store;
use crate::commands::train::{print_summary, train};
use crate::proving::step::ProvingRun;
use crate::proving::{commit_run, prove_round, verify_bound};

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
    /// Challenged steps proved per client of the last round (0 = no proofs)
    #[arg(long, default_value_t = 1)]
    pub prove: usize,
    /// Proof system: groth16 | halo2
    #[arg(long, default_value = "groth16")]
    pub proof_backend: verifier::Backend,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
}

/// Runs the pipeline.
pub fn run(args: RunArgs) -> Result<()> {
    let backend: BackendKind = args.backend.parse()?;
    let config = FederationConfig {
        model: "softmax".into(),
        rounds: args.rounds,
        backend,
        ..FederationConfig::default()
    };
    let dir = RunDir::create(&args.out)?;
    let (federation, _) = commit_run(Federation::new(config)?, &dir)?;
    let resume = args.out.join("config.json").exists();
    if resume && !args.json {
        eprintln!("continuing the run in {}", args.out.display());
    }
    let summary = train(&federation, &args.out, resume, !args.json, None)?;

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
    let proofs = prove_last_round(&args, &last_round)?;
    let proofs_valid = proofs.iter().all(|p| p.valid);

    if args.json {
        let value = serde_json::json!({
            "summary": summary,
            "pol": verified.iter().map(|(client, report)| serde_json::json!({
                "client": client, "valid": report.passed(), "steps": report.steps,
                "replayed": report.checked.len(),
            })).collect::<Vec<_>>(),
            "pol_all_valid": all_valid,
            "proofs": proofs,
            "proofs_all_valid": proofs_valid,
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
    if !args.json && !proofs.is_empty() {
        println!(
            "proofs of training, round {} ({} challenged step(s) per client, {}):",
            summary.rounds, args.prove, args.proof_backend
        );
        for p in &proofs {
            println!(
                "  client {:>2} step {:>4}: {}",
                p.client,
                p.step,
                match (&p.error, p.seconds) {
                    (Some(e), _) => format!("FAILED: {e}"),
                    (None, s) =>
                        format!("proved in {s:.1} s, verified, bound to the posted commitments"),
                }
            );
        }
        println!(
            "  check them again with `zkfl verify --run {}`",
            args.out.display()
        );
    }
    anyhow::ensure!(
        all_valid,
        "a proof-of-learning log of the last round failed replay"
    );
    anyhow::ensure!(
        proofs_valid,
        "a challenged step could not be proved or verified"
    );
    Ok(())
}

/// One challenged step of the pipeline: proved, verified and bound, or why not.
#[derive(serde::Serialize)]
struct PipelineProof {
    client: u32,
    step: u64,
    seconds: f64,
    valid: bool,
    error: Option<String>,
}

/// Proves `--prove` challenged steps per client of the last round, then verifies every proof and
/// binds it to the run.
fn prove_last_round(args: &RunArgs, last: &RoundMetrics) -> Result<Vec<PipelineProof>> {
    if args.prove == 0 {
        return Ok(Vec::new());
    }
    let run = ProvingRun::open(&args.out)?;
    let store = key_store(args.keys.clone());
    let prover = StepProver::new(store.clone(), args.proof_backend);
    if !args.json {
        eprintln!(
            "proving {} challenged step(s) per client with {} (keys in {}; the first run makes them)",
            args.prove,
            args.proof_backend,
            store.dir().display()
        );
    }
    let challenged = prove_round(&run, &prover, last, args.prove)?;
    let paths: Vec<PathBuf> = challenged.iter().filter_map(|c| c.proof.clone()).collect();
    let mut checked = verify_bound(&run, &store, &paths)?.into_iter();
    Ok(challenged
        .into_iter()
        .map(|c| {
            let error = match (&c.error, &c.proof) {
                (Some(e), _) => Some(e.clone()),
                (None, Some(_)) => checked
                    .next()
                    .and_then(|r| r.err())
                    .map(|e| format!("{e:#}")),
                (None, None) => Some("no proof".into()),
            };
            PipelineProof {
                client: c.client,
                step: c.step,
                seconds: c.seconds,
                valid: error.is_none(),
                error,
            }
        })
        .collect())
}
