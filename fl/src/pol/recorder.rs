//! Writing a proof-of-learning log while a client trains.
//!
//! The training thread hands each segment (its steps and the checkpoint after them) to a writer
//! thread, which hashes the checkpoint, stores it in the blob store and appends the log entry; so
//! hashing, committing and disk writes overlap with training instead of adding to it.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::{CheckpointCommitter, CheckpointLog, LogHeader, StepRecord};
use crate::blob::{BlobError, BlobStore};
use crate::train::{SgdRun, StepObserver};

/// Segments that may wait for the writer before training blocks.
const QUEUE_DEPTH: usize = 32;

type Segment = (Vec<StepRecord>, Vec<f32>);

/// Rewrites a run's last checkpoint (a simulated attacker's forgery).
type Forgery = Box<dyn FnOnce(Vec<f32>) -> Vec<f32> + Send>;

/// Records every `k`-th checkpoint of one client's local run into a [`CheckpointLog`].
pub struct PolRecorder {
    every: usize,
    pending: Vec<StepRecord>,
    /// The latest segment, held back until the next one (or the end) so that a forged last
    /// checkpoint can replace it.
    held: Option<Segment>,
    forge: Option<Forgery>,
    sender: Option<SyncSender<Segment>>,
    writer: Option<JoinHandle<Result<CheckpointLog, BlobError>>>,
}

impl PolRecorder {
    /// Starts a log: stores the round's `global` model and the `initial` checkpoint as blobs, fills
    /// in their digests (and, with a `committer`, the initial commitment) in `header`, and spawns
    /// the writer, which commits every checkpoint with `committer` too. `every` is k (at
    /// least 1).
    pub fn start(
        mut header: LogHeader,
        blobs: BlobStore,
        global: &[f32],
        initial: &[f32],
        committer: Option<Arc<dyn CheckpointCommitter>>,
    ) -> Result<Self, BlobError> {
        header.global = blobs.put_f32s(global)?;
        header.initial = blobs.put_f32s(initial)?;
        let commit =
            move |checkpoint: &[f32]| committer.as_ref().and_then(|c| c.commit(checkpoint));
        header.initial_commitment = commit(initial);
        let every = header.every.max(1) as usize;
        let (sender, receiver) = sync_channel::<Segment>(QUEUE_DEPTH);
        let writer = std::thread::spawn(move || {
            let mut log = CheckpointLog::new(header);
            for (steps, checkpoint) in receiver {
                let digest = blobs.put_f32s(&checkpoint)?;
                log.append_committed(steps, digest, commit(&checkpoint));
            }
            Ok(log)
        });
        Ok(PolRecorder {
            every,
            pending: Vec::new(),
            held: None,
            forge: None,
            sender: Some(sender),
            writer: Some(writer),
        })
    }

    /// Simulates a dishonest provider (`fl::attack`): the log's last checkpoint is replaced by
    /// `forge(real last checkpoint)`, so the log ends where the forged update is, and the
    /// last logged step is one no honest step reaches (a challenge of it cannot be proven).
    pub fn forge_last(&mut self, forge: impl FnOnce(Vec<f32>) -> Vec<f32> + Send + 'static) {
        self.forge = Some(Box::new(forge));
    }

    fn send(&mut self, checkpoint: Vec<f32>) {
        let steps = std::mem::take(&mut self.pending);
        if let Some(previous) = self.held.replace((steps, checkpoint)) {
            self.deliver(previous);
        }
    }

    fn deliver(&mut self, segment: Segment) {
        if let Some(sender) = &self.sender {
            // A send fails only when the writer stopped on an error, which `finish` reports.
            let _ = sender.send(segment);
        }
    }

    /// Closes the log: waits for the writer and returns the finished log. Steps still pending
    /// (when the run ended between two checkpoints) were flushed by [`StepObserver::on_finish`].
    pub fn finish(mut self) -> Result<CheckpointLog, BlobError> {
        if let Some((steps, checkpoint)) = self.held.take() {
            let checkpoint = match self.forge.take() {
                Some(forge) => forge(checkpoint),
                None => checkpoint,
            };
            self.deliver((steps, checkpoint));
        }
        self.sender = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(BlobError::Io {
                path: Default::default(),
                source: std::io::Error::other("the proof-of-learning writer thread panicked"),
            }),
        }
    }
}

impl StepObserver for PolRecorder {
    fn on_step(&mut self, lr: f32, rows: &[usize], run: &SgdRun<'_>) {
        self.pending.push(StepRecord {
            lr,
            rows: rows.iter().map(|&r| r as u32).collect(),
        });
        if self.pending.len() >= self.every {
            self.send(run.checkpoint());
        }
    }

    fn on_finish(&mut self, run: &SgdRun<'_>) {
        if !self.pending.is_empty() {
            self.send(run.checkpoint());
        }
    }
}
