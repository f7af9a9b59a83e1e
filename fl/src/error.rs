//! The crate's top-level error: one variant per domain, each with its own context.

use std::path::PathBuf;

/// Anything that can stop a federated run or a proof-of-learning check.
#[derive(Debug, thiserror::Error)]
pub enum FlError {
    /// Loading or splitting data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Dealing rows to clients.
    #[error(transparent)]
    Partition(#[from] crate::partition::PartitionError),
    /// The server strategy.
    #[error(transparent)]
    Strategy(#[from] crate::strategy::StrategyError),
    /// The attack simulation.
    #[error(transparent)]
    Attack(#[from] crate::attack::AttackError),
    /// The model.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The burn back end.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// The blob store.
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
    /// A proof-of-learning log file.
    #[error(transparent)]
    Pol(#[from] crate::pol::PolError),
    /// Replaying a proof-of-learning log.
    #[error(transparent)]
    Replay(#[from] crate::pol::replay::ReplayError),
    /// A file of the run directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A JSON file of the run directory.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A setting that does not make sense (the message says which and why).
    #[error("{0}")]
    Config(String),
}

impl FlError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FlError {
        let path = path.into();
        move |source| FlError::Io { path, source }
    }
}
