//! `zkfl verify`: check proof files, alone or against the run they come from.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use verifier::{ProofFile, verify_file};

use zkfl::proving::{ProvingRun, proof_files, read_proof, verify_bound};

use crate::commands::prove::key_store;

/// Options of `zkfl verify`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["file", "run"]))]
pub struct VerifyArgs {
    /// A proof file; exit 0 if it is valid, non-zero with the reason otherwise
    pub file: Option<PathBuf>,
    /// Verify every proof in a run directory and check that each opens the commitments the
    /// run posted (log heads, checkpoint and data commitments, learning rate)
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// Runs `zkfl verify`.
pub fn run(args: VerifyArgs) -> Result<()> {
    let store = key_store(args.keys.clone());
    if let Some(path) = &args.file {
        let file = read_proof(path)?;
        let outcome = verify_file(&store, &file);
        if args.json {
            let value = serde_json::json!({
                "proof": path, "valid": outcome.is_ok(),
                "reason": outcome.as_ref().err().map(|e| e.to_string()),
                "backend": file.backend, "origin": file.origin, "shape": file.shape,
            });
            println!("{value}");
        }
        outcome.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if !args.json {
            println!("{}: valid {}", path.display(), describe(&file));
        }
        return Ok(());
    }
    let root = args.run.expect("clap requires a file or --run");
    let run = ProvingRun::open(&root)?;
    let paths = proof_files(&root)?;
    if paths.is_empty() {
        bail!(
            "{} holds no proofs (make some with `zkfl prove` or `zkfl train --prove Q`)",
            root.display()
        );
    }
    let rows: Vec<_> = paths
        .iter()
        .zip(verify_bound(&run, &store, &paths)?)
        .collect();
    let failed = rows.iter().filter(|(_, o)| o.is_err()).count();
    if args.json {
        let value: Vec<_> = rows
            .iter()
            .map(|(path, o)| {
                serde_json::json!({
                    "proof": path, "valid": o.is_ok(),
                    "reason": o.as_ref().err().map(|e| format!("{e:#}")),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(value));
    } else {
        for (path, outcome) in &rows {
            match outcome {
                Ok(file) => println!("  valid    {}", describe(file)),
                Err(e) => println!("  INVALID  {}: {e:#}", path.display()),
            }
        }
        println!(
            "{} of {} proofs valid and bound to the run",
            rows.len() - failed,
            rows.len()
        );
    }
    if failed > 0 {
        bail!("{failed} of {} proofs failed", rows.len());
    }
    Ok(())
}

fn describe(file: &ProofFile) -> String {
    format!(
        "{} {} proof: client {}, round {}, step {}",
        file.backend, file.relation, file.origin.client, file.origin.round, file.origin.step
    )
}
