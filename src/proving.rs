//! Proofs of training for a run directory, off the ledger: what `zkfl train --prove`,
//! `zkfl prove` and `zkfl verify --run` do with a run's logs. The proving itself is the
//! `prover` crate's, the binding check the `verifier` crate's; this module finds the pieces in
//! a run directory.
//!
//! ```text
//! DIR/data-commitments.json                          each provider's data-set commitment
//! DIR/proofs/round-RRRR/client-CCC-step-TTTTTT.<backend>.proof   proof files
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use circuits::reference::Model;
use circuits::relations::training_step::{DEFAULT_EPS, TrainingStepShape};
use fl::federation::{Federation, FederationConfig, RoundMetrics, RunDir};
use fl::model::{ModelKind, ModelSpec};
use fl::pol::verify::Posted;
use pol::{ChallengeRule, CheckpointLog, Digest, StepEvidence};
use prover::{CommittedData, DataCommitment, PoseidonCommitter, StepInstance, StepProver};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use verifier::{Backend, Expected, ProofFile, StepOrigin, check_binding};

/// The data commitments a run published.
pub const DATA_COMMITMENTS: &str = "data-commitments.json";

/// The relation's model for a model spec, if the training-step relation covers it.
pub fn relation_model(spec: &ModelSpec) -> Result<Model> {
    let (inputs, outputs) = (spec.inputs, spec.outputs);
    Ok(match &spec.kind {
        ModelKind::LogReg => Model::LogReg { inputs },
        ModelKind::Softmax => Model::Softmax {
            inputs,
            classes: outputs,
        },
        ModelKind::Mlp { hidden } if hidden.len() == 1 => Model::Mlp {
            inputs,
            hidden: hidden[0],
            classes: outputs,
        },
        _ => bail!(
            "training-step proofs cover logreg, softmax and MLPs with one hidden layer, not {spec}"
        ),
    })
}

/// The Merkle depth of a federation's data trees: one per task (the largest provider's).
pub fn federation_depth(federation: &Federation) -> u32 {
    let largest = federation.partitioning().clients.iter().map(Vec::len).max();
    prover::task_depth(largest.unwrap_or(1))
}

/// The training-step shape of a federation's steps (its model, batch size and data depth).
pub fn federation_shape(federation: &Federation) -> Result<TrainingStepShape> {
    Ok(TrainingStepShape {
        model: relation_model(federation.spec())?,
        batch: federation.config().train.batch_size,
        depth: federation_depth(federation),
        eps: DEFAULT_EPS,
    })
}

/// Provider `client`'s rows of a federation, as the proof systems commit them.
pub fn client_data(federation: &Federation, client: usize) -> Result<CommittedData> {
    let rows = federation
        .partitioning()
        .clients
        .get(client)
        .with_context(|| format!("the run has no client {client}"))?;
    let train = federation.train_set();
    Ok(prover::committed_data(
        rows.iter().map(|&r| (train.row(r), train.labels[r])),
        federation_depth(federation),
    )?)
}

/// Position of each of provider `client`'s training rows in its committed data set.
pub fn row_positions(federation: &Federation, client: usize) -> HashMap<u32, u64> {
    federation.partitioning().clients[client]
        .iter()
        .enumerate()
        .map(|(p, &r)| (r as u32, p as u64))
        .collect()
}

/// What a provider posted on the ledger for a log ([`chain::task::LogPost`]), as the log
/// verifier checks it: the head and the update.
pub fn posted(post: &chain::task::LogPost) -> Posted {
    Posted {
        head: Some(Digest(post.head)),
        update: Some(Digest(post.update)),
    }
}

/// A run directory opened for proving: its federation (data, partition, model) and files.
pub struct ProvingRun {
    /// The run's files.
    pub dir: RunDir,
    /// The federation rebuilt from the run's `config.json`.
    pub federation: Federation,
}

impl ProvingRun {
    /// Opens the run at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.join("config.json").is_file() {
            bail!("{} holds no run (no config.json)", root.display());
        }
        let dir = RunDir::create(root)?;
        let config: FederationConfig = dir
            .read_json("config.json")?
            .with_context(|| format!("{} holds no run (no config.json)", root.display()))?;
        let federation = Federation::new(config)?;
        Ok(ProvingRun { dir, federation })
    }

    /// The proof-of-learning log of `client` in `round`.
    pub fn log(&self, round: u32, client: usize) -> Result<CheckpointLog> {
        let path = self.dir.pol_path(round, client);
        CheckpointLog::read(&path).with_context(|| {
            format!("no proof-of-learning log for client {client} in round {round}")
        })
    }

    /// The steps of a log that can be proved: single-step entries whose batch is full (the
    /// shape's batch size).
    pub fn provable_steps(&self, log: &CheckpointLog) -> Vec<u64> {
        let batch = log.header.batch_size as usize;
        log.entries
            .iter()
            .filter(|e| e.steps.len() == 1 && e.steps[0].rows.len() == batch)
            .map(|e| e.first_step())
            .collect()
    }

    /// Step `step` (checkpoint `step` → `step + 1`) of `log`, as an instance of the relation.
    pub fn step(&self, log: &CheckpointLog, step: u64) -> Result<StepInstance> {
        let mut shape = federation_shape(&self.federation)?;
        let (i, _) = log.locate_step(step).with_context(|| {
            format!(
                "the log has {} steps; there is no step {step}",
                log.total_steps()
            )
        })?;
        shape.batch = log.entries[i].steps[0].rows.len();
        let blobs = self.dir.blobs();
        let before = blobs.get_f32s(&log.checkpoint_before(i))?;
        let after = blobs.get_f32s(&log.entries[i].checkpoint)?;
        let client = log.header.client as usize;
        let positions = row_positions(&self.federation, client);
        let data = client_data(&self.federation, client)?;
        Ok(StepInstance::from_log(
            shape,
            log,
            step,
            (&before, &after),
            &positions,
            &data,
        )?)
    }

    /// The run's published data commitment of `client`.
    pub fn data_commitment(&self, client: usize) -> Result<DataCommitment> {
        let all: Vec<DataCommitment> = self.dir.read_json(DATA_COMMITMENTS)?.unwrap_or_default();
        all.into_iter()
            .find(|c| c.client == client)
            .with_context(|| format!("client {client} published no data commitment"))
    }

    /// Checks that a verified proof opens what the run posted: the log head in `metrics.json`,
    /// the log's commitments around the step (through its record tree, as the ledger checks
    /// them), the provider's data commitment, the logged learning rate and the task's ε
    /// ([`check_binding`]).
    pub fn check_binding(
        &self,
        file: &ProofFile,
        public: &verifier::TrainingStepPublic,
    ) -> Result<()> {
        let origin = &file.origin;
        let (client, round) = (origin.client as usize, origin.round);
        let posted = self
            .dir
            .metrics()?
            .into_iter()
            .find(|m| m.round == round)
            .and_then(|m| m.clients.into_iter().find(|c| c.client == client))
            .and_then(|c| c.pol_head)
            .with_context(|| format!("client {client} posted no log head in round {round}"))?;
        if posted != Digest(origin.log_head) {
            bail!(
                "the proof names log head {}, but client {client} posted {posted} in round {round}",
                Digest(origin.log_head)
            );
        }
        let log = self.log(round, client)?;
        if log.head() != posted {
            bail!("the log on disk does not end at the posted head");
        }
        let tree = log.record_tree();
        let logged = StepEvidence::of(&log, &tree, origin.step)
            .with_context(|| format!("the log has no step {}", origin.step))?
            .verify(&tree.root())?;
        let root = self
            .data_commitment(client)?
            .root(file.backend)
            .context("a malformed data commitment")?;
        let expected = Expected::of_logged(file.backend, &logged, root, DEFAULT_EPS)?;
        Ok(check_binding(public, &expected)?)
    }
}

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

/// Verifies proof files and binds each to the run ([`ProvingRun::check_binding`]); results
/// in input order. Groth16 proofs of a task whose keys a ceremony made verify under the key it
/// ended with (kept in the run directory, [`crate::task::setup::final_parameters`]), the
/// others under the key store's.
pub fn verify_bound(
    run: &ProvingRun,
    keys: &verifier::KeyStore,
    paths: &[PathBuf],
) -> Result<Vec<Result<ProofFile>>> {
    let ceremony = crate::task::setup::final_parameters(
        run.dir.root(),
        chain::settlement::TaskKey::TrainingStep,
    )?
    .map(|params| params.proving_key().vk.clone());
    Ok(paths
        .par_iter()
        .map(|path| {
            let file = read_proof(path)?;
            let public = match &ceremony {
                Some(vk) if file.backend == Backend::Groth16 => {
                    verifier::verify_groth16_with_vk(vk, &file)
                }
                _ => verifier::verify_file(keys, &file),
            }
            .with_context(|| path.display().to_string())?;
            run.check_binding(&file, &public)
                .with_context(|| path.display().to_string())?;
            Ok(file)
        })
        .collect())
}

/// Makes a federation commit to its checkpoints (Poseidon, as the training-step circuit opens
/// them).
pub fn with_checkpoint_committer(federation: Federation) -> Federation {
    let committer = Arc::new(PoseidonCommitter {
        params: federation.spec().param_count(),
    });
    federation.with_committer(committer)
}

/// Makes a federation commit to its checkpoints and its providers to their data: sets the
/// checkpoint committer and writes `DIR/data-commitments.json` (kept if already there).
pub fn commit_run(
    federation: Federation,
    dir: &RunDir,
) -> Result<(Federation, Vec<DataCommitment>)> {
    let federation = with_checkpoint_committer(federation);
    if let Some(existing) = dir.read_json::<Vec<DataCommitment>>(DATA_COMMITMENTS)? {
        return Ok((federation, existing));
    }
    let clients = federation.partitioning().clients.len();
    let commitments = (0..clients)
        .into_par_iter()
        .map(|client| {
            Ok(prover::commit_data(
                client,
                &client_data(&federation, client)?,
            )?)
        })
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

/// Proves `q` challenged steps of every client of a finished round, in parallel. Off the
/// ledger there is no later block to draw from, so the seed is the hash of the round's log
/// heads: good enough for checking one's own run, not for paying anyone (the ledger's
/// challenge is; see `pol::challenge`).
pub fn prove_round(
    run: &ProvingRun,
    prover: &StepProver,
    metrics: &RoundMetrics,
    q: usize,
) -> Result<Vec<ChallengeResult>> {
    let mut seed = Sha256::new();
    seed.update(b"zkfl-offline-challenge");
    seed.update(metrics.round.to_le_bytes());
    for head in metrics.clients.iter().filter_map(|c| c.pol_head) {
        seed.update(head.0);
    }
    let seed: [u8; 32] = seed.finalize().into();
    let rule = ChallengeRule {
        q: u32::try_from(q).unwrap_or(u32::MAX),
        audit: 1000,
    };
    let mut jobs = Vec::new();
    for client in metrics.clients.iter().filter(|c| c.pol_head.is_some()) {
        let log = Arc::new(run.log(metrics.round, client.client)?);
        let provable = run.provable_steps(&log);
        let picks = rule.draw(
            &seed,
            "offline",
            u64::from(metrics.round),
            &client.client.to_string(),
            provable.len() as u64,
        );
        let data = Arc::new(client_data(&run.federation, client.client)?);
        for pick in picks {
            jobs.push((log.clone(), data.clone(), provable[pick as usize]));
        }
    }
    Ok(jobs
        .par_iter()
        .map(|(log, data, step)| {
            let started = std::time::Instant::now();
            let mut reused = false;
            let outcome = (|| -> Result<PathBuf> {
                let instance = run.step(log, *step)?;
                let path = proof_path(run.dir.root(), &instance.origin, prover.backend());
                if path.exists() {
                    reused = true;
                    return Ok(path);
                }
                let file = prover.prove(&instance, data)?;
                write_proof(&path, &file)?;
                Ok(path)
            })();
            ChallengeResult {
                client: log.header.client,
                round: metrics.round,
                step: *step,
                seconds: started.elapsed().as_secs_f64(),
                reused,
                error: outcome.as_ref().err().map(|e| format!("{e:#}")),
                proof: outcome.ok(),
            }
        })
        .collect())
}
