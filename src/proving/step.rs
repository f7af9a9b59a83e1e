//! A logged training step of a run, turned into a [`StepInstance`] the prover can prove.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use circuits::fixed::{quantize_lr, quantize_params};
use circuits::reference::Model;
use circuits::relations::training_step::{DEFAULT_EPS, TrainingStepShape};
use fl::federation::{Federation, FederationConfig, RunDir};
use fl::model::{ModelKind, ModelSpec};
use fl::pol::CheckpointLog;
use prover::{CommittedData, StepInstance};
use verifier::StepOrigin;

use super::commit::{committed_data, task_depth};

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

    /// Provider `client`'s data set as committed.
    pub fn committed_data(&self, client: usize) -> Result<CommittedData> {
        let rows = self
            .federation
            .partitioning()
            .clients
            .get(client)
            .with_context(|| format!("the run has no client {client}"))?;
        committed_data(self.federation.train_set(), rows, self.depth())
    }

    /// The task's data-tree depth (see [`task_depth`]).
    pub fn depth(&self) -> u32 {
        task_depth(&self.federation.partitioning().clients)
    }

    /// The proof-of-learning log of `client` in `round`.
    pub fn log(&self, round: u32, client: usize) -> Result<CheckpointLog> {
        let path = self.dir.pol_path(round, client);
        CheckpointLog::read(&path).with_context(|| {
            format!("no proof-of-learning log for client {client} in round {round}")
        })
    }

    /// The steps of `client`'s log in `round` that can be proved: single-step entries whose
    /// batch is full (the shape's batch size).
    pub fn provable_steps(&self, log: &CheckpointLog) -> Vec<u64> {
        let batch = log.header.batch_size as usize;
        log.entries
            .iter()
            .filter(|e| e.steps.len() == 1 && e.steps[0].rows.len() == batch)
            .map(|e| e.first_step())
            .collect()
    }

    /// Step `step` (checkpoint `step` → `step + 1`) of `client`'s log in `round`.
    pub fn step(&self, round: u32, client: usize, step: u64) -> Result<StepInstance> {
        let log = self.log(round, client)?;
        let header = &log.header;
        if header.momentum != 0.0 || header.proximal_mu != 0.0 {
            bail!(
                "the training-step relation proves plain SGD; this run used momentum {} and proximal mu {}",
                header.momentum,
                header.proximal_mu
            );
        }
        let spec = self.federation.spec();
        let model = relation_model(spec)?;
        let (i, _) = log.locate_step(step).with_context(|| {
            format!(
                "client {client}'s log in round {round} has {} steps; there is no step {step}",
                log.total_steps()
            )
        })?;
        let entry = &log.entries[i];
        if entry.steps.len() != 1 {
            bail!(
                "step {step} lies inside a segment of {} steps: proofs need a checkpoint after every step (--pol-every 1)",
                entry.steps.len()
            );
        }
        let record = &entry.steps[0];
        let blobs = self.dir.blobs();
        let n = spec.param_count();
        let load = |digest| -> Result<Vec<i64>> {
            let values = blobs.get_f32s(digest)?;
            let params = values
                .get(..n)
                .with_context(|| format!("checkpoint {digest} is too short"))?;
            Ok(quantize_params(params)?)
        };
        let before = log.checkpoint_before(i);
        let params_t = load(&before)?;
        let params_t1 = load(&entry.checkpoint)?;
        let rows = &self.federation.partitioning().clients[client];
        let position: HashMap<usize, u64> = rows
            .iter()
            .enumerate()
            .map(|(p, &r)| (r, p as u64))
            .collect();
        let batch = record
            .rows
            .iter()
            .map(|r| {
                position.get(&(*r as usize)).copied().with_context(|| {
                    format!(
                        "step {step} uses training row {r}, which client {client} does not hold"
                    )
                })
            })
            .collect::<Result<Vec<u64>>>()?;
        let shape = TrainingStepShape {
            model,
            batch: batch.len(),
            depth: self.depth(),
            eps: DEFAULT_EPS,
        };
        Ok(StepInstance {
            shape,
            origin: StepOrigin {
                client: client as u32,
                round,
                step,
                log_head: log.head().0,
            },
            params_t,
            params_t1,
            lr: quantize_lr(record.lr)?,
            batch,
        })
    }
}
