//! Verifying a proof-of-learning log by replay (Jia et al. 2021, "Proof-of-Learning", §4).
//!
//! 1. The hash chain must hold ([`check_chain`]): links, step counts, every checkpoint blob
//!    present and matching its digest.
//! 2. The run must start where the round did: the initial checkpoint is the global model (and a
//!    zero momentum buffer).
//! 3. The `Q` segments with the largest update `‖c_i − c_{i−1}‖₂` (where a forger who skips work
//!    must hide it) are replayed from the logged checkpoint `c_{i−1}` with the logged batches and
//!    learning rates, and the result `r_i` is compared with the logged `c_i`. A segment passes when
//!
//!    ```text
//!    ‖r_i − c_i‖₂ ≤ ρ·‖c_i − c_{i−1}‖₂ + α·√n      ρ = 10⁻², α = 10⁻⁶, n = checkpoint length
//!    ```
//!
//!    On the back end that trained, replay is bit-for-bit and the distance is 0; the slack absorbs
//!    float differences between back ends (far below 1% of a step) while an edited, reordered or
//!    interpolated checkpoint misses by a sizable fraction of its own update.

use burn::tensor::Device;
use serde::Serialize;

use super::{ChainError, CheckpointLog, TermsError, check_chain};
use crate::blob::{BlobError, BlobStore, Digest};
use crate::data::Dataset;
use crate::model::{ModelError, ModelSpec};
use crate::train::SgdRun;

/// ρ: allowed replay distance as a fraction of the segment's own update.
pub const REPLAY_RELATIVE_TOLERANCE: f64 = 1e-2;
/// α: allowed replay distance per √(checkpoint length), for segments that barely move.
pub const REPLAY_ABSOLUTE_TOLERANCE: f64 = 1e-6;

/// The outcome of replaying one segment.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentCheck {
    /// Index of the log entry.
    pub entry: usize,
    /// Optimizer steps in the segment.
    pub steps: usize,
    /// ‖c_i − c_{i−1}‖₂ of the logged checkpoints.
    pub update_norm: f64,
    /// ‖r_i − c_i‖₂ between replay and log.
    pub distance: f64,
    /// The largest distance that passes.
    pub threshold: f64,
    /// Whether the segment passed.
    pub passed: bool,
}

/// What a replay verification checked.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// Entries in the log.
    pub entries: usize,
    /// Optimizer steps the log covers.
    pub steps: u64,
    /// The replayed segments, by entry index.
    pub checked: Vec<SegmentCheck>,
}

impl ReplayReport {
    /// The first replayed segment (by entry index) that failed, if any.
    pub fn first_failure(&self) -> Option<&SegmentCheck> {
        self.checked.iter().find(|c| !c.passed)
    }

    /// Whether every replayed segment passed.
    pub fn passed(&self) -> bool {
        self.first_failure().is_none()
    }
}

/// Why a log could not be replayed at all (a failed segment is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The hash chain is broken.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A checkpoint could not be read.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The log's model or checkpoints do not fit.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The header's model spec does not parse.
    #[error("log header: {0}")]
    Header(String),
    /// A batch names a row outside the training set.
    #[error("entry {entry}: batch row {row} is outside the training set of {rows} rows")]
    RowOutOfRange {
        /// Log entry.
        entry: usize,
        /// The row id.
        row: u32,
        /// Rows in the training set.
        rows: usize,
    },
    /// The run did not start from the round's global model.
    #[error("the initial checkpoint is not the round's global model (with zero momentum)")]
    WrongStart,
    /// The log departs from the run's terms.
    #[error("the log does not keep the run's terms: {0}")]
    Terms(#[from] TermsError),
    /// The log does not end at the update the provider posted.
    #[error("the log ends at parameters {found}, not at the posted update {posted}")]
    Update {
        /// The posted update's digest.
        posted: Digest,
        /// The digest of the log's last parameters.
        found: Digest,
    },
}

/// Checks `log` against the checkpoints in `blobs` and replays its `q` largest segments on
/// `train` (the training set the log's row ids refer to) on `device`.
pub fn replay_log(
    log: &CheckpointLog,
    blobs: &BlobStore,
    train: &Dataset,
    device: &Device,
    q: usize,
) -> Result<ReplayReport, ReplayError> {
    check_chain(log, blobs)?;
    let header = &log.header;
    let spec: ModelSpec = header
        .model
        .parse()
        .map_err(|e: ModelError| ReplayError::Header(e.to_string()))?;
    let load = |digest| blobs.get_f32s(digest);

    let global = load(&header.global)?;
    let initial = load(&header.initial)?;
    let n = global.len();
    if initial.len() < n || initial[..n] != global[..] || initial[n..].iter().any(|&v| v != 0.0) {
        return Err(ReplayError::WrongStart);
    }

    let mut checkpoints = vec![initial];
    for entry in &log.entries {
        checkpoints.push(load(&entry.checkpoint)?);
    }
    let update_norms: Vec<f64> = checkpoints
        .windows(2)
        .map(|pair| distance(&pair[0], &pair[1]))
        .collect();
    let mut chosen: Vec<usize> = (0..log.entries.len()).collect();
    chosen.sort_by(|&a, &b| update_norms[b].total_cmp(&update_norms[a]).then(a.cmp(&b)));
    chosen.truncate(q);
    chosen.sort_unstable();

    let mut checked = Vec::with_capacity(chosen.len());
    for i in chosen {
        let entry = &log.entries[i];
        let mut run = SgdRun::new(
            &spec,
            device,
            &checkpoints[i],
            &global,
            header.momentum,
            header.proximal_mu,
        )?;
        for step in &entry.steps {
            let rows = step
                .rows
                .iter()
                .map(|&row| {
                    let r = row as usize;
                    (r < train.len())
                        .then_some(r)
                        .ok_or(ReplayError::RowOutOfRange {
                            entry: i,
                            row,
                            rows: train.len(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            run.step(train, &rows, step.lr);
        }
        let replayed = run.checkpoint();
        let logged = &checkpoints[i + 1];
        let dist = if replayed.len() == logged.len() {
            distance(&replayed, logged)
        } else {
            f64::INFINITY
        };
        let threshold = REPLAY_RELATIVE_TOLERANCE * update_norms[i]
            + REPLAY_ABSOLUTE_TOLERANCE * (logged.len() as f64).sqrt();
        checked.push(SegmentCheck {
            entry: i,
            steps: entry.steps.len(),
            update_norm: update_norms[i],
            distance: dist,
            threshold,
            passed: dist <= threshold,
        });
    }
    Ok(ReplayReport {
        entries: log.entries.len(),
        steps: log.entries.last().map_or(0, |e| e.step),
        checked,
    })
}

/// Euclidean distance (∞ when the lengths differ).
fn distance(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        .sqrt()
}
