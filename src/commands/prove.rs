//! `zkfl prove`: prove one logged training step of a run with Groth16 or halo2.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use prover::StepProver;
use verifier::{Backend, KeyStore};

use zkfl::proving::{ProvingRun, client_data, proof_path, write_proof};

/// Options of `zkfl prove`.
#[derive(Args, Debug)]
pub struct ProveArgs {
    /// The run directory (written by `zkfl train --prove` or `zkfl run`)
    #[arg(long)]
    pub run: PathBuf,
    /// The data provider whose step to prove
    #[arg(long)]
    pub client: usize,
    /// The round whose proof-of-learning log holds the step
    #[arg(long)]
    pub round: u32,
    /// The step: the proof shows checkpoint T+1 is one SGD step from checkpoint T
    #[arg(long)]
    pub step: u64,
    /// Proof system: groth16 (BN254, small proofs, per-shape setup) or halo2 (Pasta, no trusted setup)
    #[arg(long, default_value = "groth16")]
    pub backend: Backend,
    /// Where to write the proof file (default: DIR/proofs/round-R/client-C-step-T.BACKEND.proof)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys); keys are made on first use
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Print the result as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

/// The key store named by `--keys`, or the default one.
pub fn key_store(keys: Option<PathBuf>) -> KeyStore {
    keys.map_or_else(KeyStore::default_location, KeyStore::new)
}

/// Runs `zkfl prove`.
pub fn run(args: ProveArgs) -> Result<()> {
    let run = ProvingRun::open(&args.run)?;
    let log = run.log(args.round, args.client)?;
    let step = run.step(&log, args.step)?;
    let data = client_data(&run.federation, args.client)?;
    let store = key_store(args.keys);
    let started = std::time::Instant::now();
    let prover = StepProver::new(store.clone(), args.backend);
    let file = prover.prove(&step, &data)?;
    let seconds = started.elapsed().as_secs_f64();
    let out = args
        .out
        .unwrap_or_else(|| proof_path(&args.run, &file.origin, args.backend));
    write_proof(&out, &file)?;
    // A proof is only worth something if it opens the commitments the run posted.
    let public = verifier::verify_file(&store, &file).context("the new proof does not verify")?;
    let bound = run.check_binding(&file, &public);
    if args.json {
        let value = serde_json::json!({
            "proof": out, "backend": args.backend, "client": args.client, "round": args.round,
            "step": args.step, "seconds": seconds, "bytes": file.proof.len(),
            "bound_to_run": bound.is_ok(),
            "binding_error": bound.as_ref().err().map(|e| format!("{e:#}")),
        });
        println!("{value}");
    } else {
        println!(
            "proved step {} of client {} in round {} with {} in {seconds:.1} s: {} ({} proof bytes)",
            args.step,
            args.client,
            args.round,
            args.backend,
            out.display(),
            file.proof.len()
        );
        if let Err(e) = &bound {
            println!("note: the proof does not bind to the run's posted commitments: {e:#}");
        }
    }
    Ok(())
}
