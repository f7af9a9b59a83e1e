//! Reading a run directory for valuation: the re-derived federation and validation set, and
//! each round's models as stored and in fixed point, checked against their digests.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use circuits::fixed::quantize_params;
use circuits::reference::Model;
use circuits::reference::contribution::WeightedModel;
use fl::blob::Digest;
use fl::federation::{Federation, FederationConfig, RoundMetrics, RunDir};

use prover::{CommittedData, committed_data, task_depth};

use super::RefusedUpdate;
use crate::proving::relation_model;

/// The owner's validation rows: as floats (for the gradient) and as committed, in fixed point
/// (for the game), in a tree of the task's depth.
pub(super) struct Validation {
    pub(super) float: Vec<Vec<f32>>,
    pub(super) data: CommittedData,
}

/// A round's models: the global one it started from and each provider's update, as stored and
/// in fixed point.
pub(super) struct RoundInputs {
    pub(super) round: u32,
    pub(super) clients: Vec<usize>,
    pub(super) global: Vec<f32>,
    pub(super) global_q: Vec<i64>,
    pub(super) updates: Vec<Vec<f32>>,
    pub(super) weighted: Vec<WeightedModel>,
    pub(super) refused: Vec<RefusedUpdate>,
}

/// A run directory opened for valuation: its federation (data, validation set) re-derived.
pub(super) struct OpenedRun {
    pub(super) run: RunDir,
    pub(super) federation: Federation,
    pub(super) model: Model,
    pub(super) metrics: Vec<RoundMetrics>,
    pub(super) validation: Validation,
}

impl OpenedRun {
    pub(super) fn open(dir: &Path) -> Result<Self> {
        let run = RunDir::open(dir)?;
        let config: FederationConfig = run
            .read_json("config.json")?
            .with_context(|| format!("{} holds no run (no config.json)", dir.display()))?;
        let metrics: Vec<RoundMetrics> = run.read_json("metrics.json")?.unwrap_or_default();
        let federation = Federation::new(config)?;
        let spec = federation.spec();
        ensure!(
            matches!(
                spec.kind,
                fl::model::ModelKind::Softmax | fl::model::ModelKind::LogReg
            ),
            "contributions are valued for linear models (softmax, logreg); this run trained {spec}"
        );
        let model = relation_model(spec)?;
        let set = federation.validation_set();
        let float: Vec<Vec<f32>> = (0..set.len()).map(|i| set.row(i).to_vec()).collect();
        let rows = float
            .iter()
            .map(Vec::as_slice)
            .zip(set.labels.iter().copied());
        let data = committed_data(rows, task_depth(set.len()))
            .context("a validation feature is off the fixed-point grid")?;
        Ok(OpenedRun {
            run,
            federation,
            model,
            metrics,
            validation: Validation { float, data },
        })
    }

    pub(super) fn round(&self, round: u32) -> Result<&RoundMetrics> {
        self.metrics
            .iter()
            .find(|m| m.round == round)
            .with_context(|| format!("the run has no finished round {round}"))
    }

    /// The global model round `round` started from, checked against its digest.
    pub(super) fn global_before(&self, round: u32) -> Result<Vec<f32>> {
        let previous = round - 1;
        let digest = if previous == 0 {
            let config = self.federation.config();
            let initial = self.federation.spec().init_params(config.seed);
            Digest::of(&fl::blob::f32s_to_bytes(&initial))
        } else {
            self.round(previous)
                .with_context(|| format!("metrics.json has no round {previous}"))?
                .model
        };
        Ok(self.run.load_model(previous, &digest)?)
    }

    /// Round `m`'s models, each update checked against its digest.
    pub(super) fn round_inputs(&self, m: &RoundMetrics) -> Result<RoundInputs> {
        let round = m.round;
        let global = self.global_before(round)?;
        let quantize =
            |params: &[f32], whose: &str| {
                quantize_params(params).with_context(|| {
            format!("round {round}: {whose} is outside the fixed-point range and cannot be valued")
        })
            };
        let global_q = quantize(&global, "the global model")?;
        let mut inputs = RoundInputs {
            round,
            clients: Vec::new(),
            global,
            global_q,
            updates: Vec::new(),
            weighted: Vec::new(),
            refused: Vec::new(),
        };
        for c in &m.clients {
            ensure!(
                !inputs.clients.contains(&c.client)
                    && !inputs.refused.iter().any(|r| r.client == c.client),
                "round {round}: metrics.json lists client {} twice",
                c.client
            );
            ensure!(
                c.samples > 0,
                "round {round}: metrics.json says client {} trained on no rows",
                c.client
            );
            let digest = c.update.with_context(|| {
                format!(
                    "round {round}: metrics.json names no update of client {}",
                    c.client
                )
            })?;
            let params = self
                .run
                .blobs()
                .get_f32s(&digest)
                .with_context(|| format!("round {round}: the update of client {}", c.client))?;
            ensure!(
                params.len() == inputs.global.len(),
                "round {round}: the update of client {} has {} parameters, not {}",
                c.client,
                params.len(),
                inputs.global.len()
            );
            // An update outside the fixed-point range has no commitment and cannot be proven: a
            // task refuses it, so it plays no part in the round's game (and is valued 0).
            let Ok(params_q) = quantize_params(&params) else {
                inputs.refused.push(RefusedUpdate {
                    client: c.client,
                    reason: "its update is outside the fixed-point range (|w| < 128)".into(),
                });
                continue;
            };
            inputs.weighted.push(WeightedModel {
                samples: c.samples as u64,
                params: params_q,
            });
            inputs.updates.push(params);
            inputs.clients.push(c.client);
        }
        if inputs.clients.is_empty() {
            bail!(
                "round {round} has no update to value (none sent, or none in the fixed-point range)"
            );
        }
        Ok(inputs)
    }
}
