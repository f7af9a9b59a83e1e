//! Proofs of training for a run: what a run commits to, which steps are challenged, proving them
//! and checking proofs against the run.
//!
//! ```text
//! DIR/data-commitments.json                          each provider's data-set commitment
//! DIR/proofs/round-RRRR/client-CCC-step-TTTTTT.<backend>.proof   proof files
//! ```
//!
//! - [`commit`]: checkpoint commitments (in the logs) and data-set commitments.
//! - [`step`]: a logged step as a [`prover::StepInstance`].
//! - [`bind`]: a verified proof's public inputs checked against the run.

pub mod bind;
pub mod commit;
pub mod step;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use fl::federation::{Federation, RoundMetrics, RunDir};
use fl::pol::challenged_steps;
use prover::StepProver;
use rayon::prelude::*;
use verifier::{Backend, ProofFile, StepOrigin};

use self::bind::DATA_COMMITMENTS;
use self::commit::{DataCommitment, PoseidonCommitter, commit_data, committed_data, task_depth};
use self::step::ProvingRun;

/// Where the proof of a step goes in a run directory.
pub fn proof_path(run: &Path, origin: &StepOrigin, backend: Backend) -> PathBuf {
    run.join("proofs")
        .join(format!("round-{:04}", origin.round))
        .join(format!(
            "client-{:03}-step-{:06}.{backend}.proof",
            origin.client, origin.step
        ))
}

/// Every proof file under `DIR/proofs`, sorted by path.
pub fn proof_files(run: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let root = run.join("proofs");
    if !root.exists() {
        return Ok(out);
    }
    for round in std::fs::read_dir(&root).with_context(|| root.display().to_string())? {
        let round = round?.path();
        if !round.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&round)? {
            let path = file?.path();
            if path.extension().is_some_and(|e| e == "proof") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads and decodes a proof file.
pub fn read_proof(path: &Path) -> Result<ProofFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ProofFile::decode(&bytes).with_context(|| path.display().to_string())
}

/// Writes a proof file (whole, then renamed into place).
pub fn write_proof(path: &Path, file: &ProofFile) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    }
    fl::federation::write_atomic(path, &file.encode())?;
    Ok(())
}

/// Verifies proof files and binds each to the run (see [`bind::check_binding`]); results in
/// input order.
pub fn verify_bound(
    run: &ProvingRun,
    keys: &verifier::KeyStore,
    paths: &[PathBuf],
) -> Result<Vec<Result<ProofFile>>> {
    let commitments: Vec<DataCommitment> = run.dir.read_json(DATA_COMMITMENTS)?.unwrap_or_default();
    Ok(paths
        .par_iter()
        .map(|path| {
            let file = read_proof(path)?;
            let public =
                verifier::verify_file(keys, &file).with_context(|| path.display().to_string())?;
            bind::check_binding(run, &commitments, &file, &public)
                .with_context(|| path.display().to_string())?;
            Ok(file)
        })
        .collect())
}

/// Makes a federation commit to its checkpoints and its providers to their data: sets the
/// checkpoint committer and writes `DIR/data-commitments.json` (kept if already there).
pub fn commit_run(
    federation: Federation,
    dir: &RunDir,
) -> Result<(Federation, Vec<DataCommitment>)> {
    let committer = Arc::new(PoseidonCommitter {
        params: federation.spec().param_count(),
    });
    let federation = federation.with_committer(committer);
    if let Some(existing) = dir.read_json::<Vec<DataCommitment>>(DATA_COMMITMENTS)? {
        return Ok((federation, existing));
    }
    let train = federation.train_set();
    let clients = &federation.partitioning().clients;
    let depth = task_depth(clients);
    let commitments = clients
        .par_iter()
        .enumerate()
        .map(|(client, rows)| commit_data(client, &committed_data(train, rows, depth)?))
        .collect::<Result<Vec<_>>>()?;
    dir.write_json(DATA_COMMITMENTS, &commitments)?;
    Ok((federation, commitments))
}

/// One proven (or failed) challenged step.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChallengeResult {
    /// Where the step comes from.
    pub client: u32,
    /// The round.
    pub round: u32,
    /// The step.
    pub step: u64,
    /// The proof file, when proving succeeded (or a proof was already there).
    pub proof: Option<PathBuf>,
    /// Seconds spent proving.
    pub seconds: f64,
    /// Whether a proof already on disk was kept instead of proving again.
    pub reused: bool,
    /// Why proving failed, otherwise.
    pub error: Option<String>,
}

/// Proves `q` challenged steps of every client of a finished round, in parallel; the steps are
/// drawn from the round's posted log heads ([`challenged_steps`]).
pub fn prove_round(
    run: &ProvingRun,
    prover: &StepProver,
    metrics: &RoundMetrics,
    q: usize,
) -> Result<Vec<ChallengeResult>> {
    let heads: Vec<_> = metrics.clients.iter().filter_map(|c| c.pol_head).collect();
    let mut jobs = Vec::new();
    let mut data = Vec::new();
    for client in metrics.clients.iter().filter(|c| c.pol_head.is_some()) {
        let log = run.log(metrics.round, client.client)?;
        let provable = run.provable_steps(&log);
        let picks = challenged_steps(
            metrics.round,
            &heads,
            client.client as u32,
            provable.len() as u64,
            q,
        );
        data.push((client.client, run.committed_data(client.client)?));
        for pick in picks {
            jobs.push((client.client, provable[pick as usize]));
        }
    }
    let results = jobs
        .par_iter()
        .map(|&(client, step)| {
            let started = std::time::Instant::now();
            let mut reused = false;
            let outcome = (|| -> Result<PathBuf> {
                let instance = run.step(metrics.round, client, step)?;
                let path = proof_path(run.dir.root(), &instance.origin, prover.backend());
                if path.exists() {
                    reused = true;
                    return Ok(path);
                }
                let committed = &data
                    .iter()
                    .find(|(c, _)| *c == client)
                    .expect("data loaded for every job's client")
                    .1;
                let file = prover.prove(&instance, committed)?;
                write_proof(&path, &file)?;
                Ok(path)
            })();
            ChallengeResult {
                client: client as u32,
                round: metrics.round,
                step,
                seconds: started.elapsed().as_secs_f64(),
                reused,
                error: outcome.as_ref().err().map(|e| format!("{e:#}")),
                proof: outcome.ok(),
            }
        })
        .collect();
    Ok(results)
}
