//! Verifying a log file end to end: read it, rebuild the training set its header names, replay.

use std::path::{Path, PathBuf};

use super::replay::{ReplayError, ReplayReport, replay_log};
use super::{CheckpointLog, check_head};
use crate::backend::BackendKind;
use crate::blob::{BlobStore, Digest};
use crate::data::{DatasetSource, prepare_data};
use crate::error::FlError;

/// Where a run keeps the blobs of a log at `DIR/pol/round-R/client-C.pol`: `DIR/blobs`.
pub fn default_blob_dir(log: &Path) -> Option<PathBuf> {
    log.ancestors().nth(3).map(|run| run.join("blobs"))
}

/// Reads the log at `path`, checks it against the head hash the provider posted (when given),
/// loads the training set its header names (same source, label column and split seed), and
/// replays its `q` largest segments on `backend`.
pub fn verify_log_file(
    path: &Path,
    blobs: &Path,
    posted_head: Option<&Digest>,
    q: usize,
    backend: BackendKind,
) -> Result<(CheckpointLog, ReplayReport), FlError> {
    let log = CheckpointLog::read(path)?;
    if let Some(head) = posted_head {
        check_head(&log, head).map_err(ReplayError::from)?;
    }
    let source: DatasetSource = log.header.dataset.parse()?;
    let (train, _) = prepare_data(&source, &log.header.label_column, log.header.split_seed)?;
    let store = BlobStore::open(blobs)?;
    let report = replay_log(&log, &store, &train, &backend.device()?, q)?;
    Ok((log, report))
}
