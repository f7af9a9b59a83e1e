//! Verifying a log end to end: what was posted for it, the run's terms, the chain, a replay of
//! its largest segments on the data set its header names, and its end against the posted
//! update.

use std::path::Path;

use super::replay::{ReplayError, ReplayReport, replay_log};
use super::{CheckpointLog, RunTerms, check_head, check_terms};
use crate::backend::BackendKind;
use crate::blob::{BlobStore, Digest, f32s_to_bytes};
use crate::data::{DatasetSource, prepare_data};
use crate::error::FlError;
use crate::federation::{Federation, RunDir};

/// The run directory `DIR` of a log at `DIR/pol/round-R/client-C.pol`.
pub fn run_dir_of(log: &Path) -> Option<&Path> {
    log.ancestors().nth(3)
}

/// The (round, client) of a log at `…/round-RRRR/client-CCC.pol`, from its path.
pub fn round_and_client_of(log: &Path) -> Option<(u32, usize)> {
    let client = log
        .file_stem()?
        .to_str()?
        .strip_prefix("client-")?
        .parse()
        .ok()?;
    let round = log
        .parent()?
        .file_name()?
        .to_str()?
        .strip_prefix("round-")?
        .parse()
        .ok()?;
    Some((round, client))
}

/// What the provider posted for a log, each checked when known.
#[derive(Clone, Copy, Debug, Default)]
pub struct Posted {
    /// The log's head hash.
    pub head: Option<Digest>,
    /// SHA-256 of the update it sent (its trained parameters, flat f32 little-endian).
    pub update: Option<Digest>,
}

/// Reads the log at `path` and checks it: against what was `posted` (head), against the run's
/// `terms` ([`check_terms`]), its chain and a replay of its `q` largest segments on `backend`
/// (on the training set its header names), and that its last checkpoint's parameters are the
/// posted update. A failed replay is in the report; every other failure is an error.
pub fn verify_log_file(
    path: &Path,
    blobs: &Path,
    terms: &RunTerms,
    posted: Posted,
    q: usize,
    backend: BackendKind,
) -> Result<(CheckpointLog, ReplayReport), FlError> {
    let log = CheckpointLog::read(path)?;
    if let Some(head) = &posted.head {
        check_head(&log, head).map_err(ReplayError::from)?;
    }
    check_terms(&log, terms).map_err(ReplayError::from)?;
    let source: DatasetSource = log.header.dataset.parse()?;
    let train = prepare_data(&source, &log.header.label_column, log.header.split_seed)?.train;
    let store = BlobStore::open(blobs)?;
    let report = replay_log(&log, &store, &train, &backend.device()?, q)?;
    if let Some(update) = posted.update {
        let global = store.get_f32s(&log.header.global)?;
        let last = log
            .entries
            .last()
            .map_or(log.header.initial, |e| e.checkpoint);
        let params = store.get_f32s(&last)?;
        let found = Digest::of(&f32s_to_bytes(&params[..global.len().min(params.len())]));
        if found != update {
            return Err(ReplayError::Update {
                posted: update,
                found,
            }
            .into());
        }
    }
    Ok((log, report))
}

/// The terms of client `client`'s local training in `round` of the run in `dir`: those of
/// `federation` (built from the run's configuration), from the global model the run saved for
/// the round.
pub fn run_terms_of(
    dir: &RunDir,
    federation: &Federation,
    round: u32,
    client: usize,
) -> Result<RunTerms, FlError> {
    let model = dir.model_path(round.saturating_sub(1));
    let bytes = std::fs::read(&model).map_err(FlError::io(&model))?;
    federation.run_terms(round, client, Digest::of(&bytes))
}

/// [`verify_log_file`] for client `client`'s log of `round` in the run directory `dir`, against
/// [`run_terms_of`] the run.
pub fn verify_run_log(
    dir: &RunDir,
    federation: &Federation,
    round: u32,
    client: usize,
    posted: Posted,
    q: usize,
    backend: BackendKind,
) -> Result<(CheckpointLog, ReplayReport), FlError> {
    verify_log_file(
        &dir.pol_path(round, client),
        dir.blobs().root(),
        &run_terms_of(dir, federation, round, client)?,
        posted,
        q,
        backend,
    )
}
