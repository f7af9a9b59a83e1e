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
//! 5. Settlement (Groth16): before training a task is created on a fresh ledger file
//!    (`DIR/ledger/task.redb`) with its verifying key and escrow, and every provider stakes and
//!    registers its data root; afterwards each round's model hash and log heads are posted, the
//!    proofs go to the ledger's native verifier, the task is closed, and the payouts are read
//!    back from the ledger.
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
use crate::proving::commit::{DataCommitment, task_depth};
use crate::proving::step::{ProvingRun, relation_model};
use crate::proving::{commit_run, prove_round, read_proof, verify_bound};
use crate::settle::{ESCROW, ProviderPayout, Settlement, TASK, proof_config};
use circuits::fixed::quantize_lr;
use circuits::relations::training_step::{DEFAULT_EPS, TrainingStepShape};
use fl::pol::CheckpointLog;

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
    let (federation, commitments) = commit_run(Federation::new(config)?, &dir)?;
    let mut settlement = open_task(&args, &federation, &commitments)?;
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
    let mut proofs = prove_last_round(&args, &last_round)?;
    let payouts = match settlement.as_mut() {
        Some(task) => Some(settle(task, &dir, &mut proofs)?),
        None => None,
    };
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
            "payouts": payouts,
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
                match (&p.error, p.reused) {
                    (Some(e), _) => format!("FAILED: {e}"),
                    (None, true) => format!(
                        "proof kept from an earlier run, verified, bound{}",
                        on_chain(p)
                    ),
                    (None, false) => format!(
                        "proved in {:.1} s, verified, bound to the posted commitments{}",
                        p.seconds,
                        on_chain(p)
                    ),
                }
            );
        }
        println!(
            "  check them again with `zkfl verify --run {}`",
            args.out.display()
        );
    }
    if let (Some(payouts), false) = (&payouts, args.json) {
        print_payouts(&args.out, payouts);
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
    reused: bool,
    valid: bool,
    error: Option<String>,
    proof: Option<PathBuf>,
    /// Whether the ledger's native verifier accepted it.
    accepted_on_chain: Option<bool>,
}

/// Creates the task on a fresh ledger before training: its Groth16 verifying key (made now if
/// needed), escrow, and every provider's stake and data commitment.
fn open_task(
    args: &RunArgs,
    federation: &Federation,
    commitments: &[DataCommitment],
) -> Result<Option<Settlement>> {
    if args.prove == 0 || args.proof_backend != verifier::Backend::Groth16 {
        return Ok(None);
    }
    let store = key_store(args.keys.clone());
    let shape = TrainingStepShape {
        model: relation_model(federation.spec())?,
        batch: federation.config().train.batch_size,
        depth: task_depth(&federation.partitioning().clients),
        eps: DEFAULT_EPS,
    };
    if !args.json {
        eprintln!("preparing the task's Groth16 keys (once per shape) …");
    }
    let digest = StepProver::new(store.clone(), verifier::Backend::Groth16).prepare(&shape)?;
    let lr = quantize_lr(federation.config().train.lr)?;
    let config = proof_config(shape, digest, &store, lr)?;
    Settlement::create(&args.out, config, args.rounds, commitments).map(Some)
}

/// Posts the rounds, submits every valid proof to the ledger's native verifier, closes the task
/// and reads the payouts back.
fn settle(task: &mut Settlement, dir: &RunDir, proofs: &mut [PipelineProof]) -> Result<Settled> {
    task.post_rounds(&dir.metrics()?)?;
    for p in proofs.iter_mut().filter(|p| p.valid) {
        let Some(path) = &p.proof else { continue };
        let file = read_proof(path)?;
        let log =
            CheckpointLog::read(&dir.pol_path(file.origin.round, file.origin.client as usize))?;
        let verdict = task.submit_proof(&file, &log)?;
        p.accepted_on_chain = Some(verdict.is_ok());
        if let Err(reason) = verdict {
            p.valid = false;
            p.error = Some(format!("the ledger rejected it: {reason}"));
        }
    }
    let payouts = task.close()?;
    let (blocks, reports) = task.verify()?;
    Ok(Settled {
        payouts,
        task_blocks: blocks,
        reports,
    })
}

/// The end of the settlement: payouts read back from the task chain, and how much was checked.
#[derive(serde::Serialize)]
struct Settled {
    payouts: Vec<ProviderPayout>,
    /// Blocks of the task chain, every one re-applied from genesis.
    task_blocks: u64,
    /// Shard reports on the root chain, every one matched to the task chain's block.
    reports: usize,
}

/// What the ledger said of a proof, for the proof table.
fn on_chain(p: &PipelineProof) -> &'static str {
    match p.accepted_on_chain {
        Some(true) => ", accepted by the ledger",
        _ => "",
    }
}

fn print_payouts(out: &std::path::Path, settled: &Settled) {
    println!(
        "settlement on the task shard {}/ledger/task.redb (task `{TASK}`, escrow {ESCROW}, even split):",
        out.display()
    );
    println!("  client  address                                   verified  payout  balance");
    for p in &settled.payouts {
        println!(
            "  {:>6}  {}  {:>8}  {:>6}  {:>7}",
            p.client, p.address, p.verified, p.payout, p.balance
        );
    }
    println!(
        "  {} task blocks re-verified from genesis; {} shard reports on the root chain ({}/ledger/root.redb) match them",
        settled.task_blocks,
        settled.reports,
        out.display()
    );
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
                reused: c.reused,
                valid: error.is_none(),
                error,
                proof: c.proof,
                accepted_on_chain: None,
            }
        })
        .collect())
}
