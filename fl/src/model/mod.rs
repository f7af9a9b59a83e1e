//! Models on burn: the spec (a value), the network (burn modules), flat parameters, evaluation.

mod eval;
pub(crate) use eval::batch_tensors;
mod network;
mod params;
mod spec;

pub use eval::{Evaluation, evaluate};
pub use network::{Network, loss, predictions, targets};
pub use spec::{ModelKind, ModelSpec, ParamShape};

/// What can go wrong describing or loading a model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// The text names no model this crate knows.
    #[error("unknown model '{0}': expected logreg, softmax, mlp, mlp:W1,W2,… or cnn")]
    UnknownModel(String),
    /// The model does not fit the data set.
    #[error("{0}")]
    Shape(String),
    /// A flat parameter vector of the wrong length.
    #[error("model {spec} has {expected} parameters, got {got}")]
    ParamCount {
        /// The model.
        spec: String,
        /// Its parameter count.
        expected: usize,
        /// The length given.
        got: usize,
    },
}

impl ModelSpec {
    /// Builds the network on `device` with the given flat parameters.
    pub fn network(
        &self,
        params: &[f32],
        device: &burn::tensor::Device,
    ) -> Result<Network, ModelError> {
        if params.len() != self.param_count() {
            return Err(ModelError::ParamCount {
                spec: self.to_string(),
                expected: self.param_count(),
                got: params.len(),
            });
        }
        Ok(Network::new(self, device).load_flat(params))
    }
}
