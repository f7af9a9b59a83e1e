//! Per-round metrics, as written to `metrics.json`.

use serde::{Deserialize, Serialize};

use crate::blob::Digest;

/// One client's part in a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientMetrics {
    /// Client id.
    pub client: usize,
    /// Training rows it holds.
    pub samples: usize,
    /// Mean batch loss over its last local epoch.
    pub train_loss: f32,
    /// Optimizer steps it took.
    pub steps: u64,
    /// Whether the simulated attack rewrote its update.
    pub attacked: bool,
    /// Head hash of its proof-of-learning log, when logging is on.
    pub pol_head: Option<Digest>,
}

/// One finished round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Round number, from 1.
    pub round: u32,
    /// Accuracy of the new global model on the test set.
    pub test_accuracy: f64,
    /// Mean test loss of the new global model.
    pub test_loss: f64,
    /// The clients that trained this round, by id.
    pub clients: Vec<ClientMetrics>,
    /// Wall-clock seconds the round took.
    pub seconds: f64,
    /// SHA-256 of the new global model.
    pub model: Digest,
    /// Why the round's aggregate was refused and the previous global model kept, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_previous: Option<String>,
}
