//! The run directory: what a federated run leaves on disk, and how it is resumed.
//!
//! ```text
//! DIR/config.json                 the run's configuration (a resume must match it)
//! DIR/state.json                  last finished round, its model's digest, the strategy's state
//! DIR/metrics.json                one object per finished round
//! DIR/models/round-RRRR.bin       global model after round R (round-0000: the initial model),
//!                                 flat f32 little-endian in ModelSpec::param_shapes order
//! DIR/pol/round-RRRR/client-CCC.pol  proof-of-learning log of client C in round R
//! DIR/blobs/                      content-addressed store: models and checkpoints by SHA-256
//! ```
//!
//! Every file is written to a temporary name and renamed, and `state.json` is written last, so a
//! run killed at any moment resumes from the last round whose files are all complete.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::metrics::RoundMetrics;
use crate::blob::{BlobStore, Digest, bytes_to_f32s, f32s_to_bytes, write_durably};
use crate::error::FlError;

/// What survives between rounds for `--resume`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    /// Rounds finished.
    pub completed_rounds: u32,
    /// SHA-256 of the global model after the last finished round.
    pub global: Digest,
    /// The server strategy's state (FedAvgM's momentum), if it has one.
    pub strategy_state: Option<Vec<f32>>,
}

/// A run directory on disk.
pub struct RunDir {
    root: PathBuf,
    blobs: BlobStore,
}

impl RunDir {
    /// Opens (creating if needed) the run directory at `root`.
    pub fn create(root: &Path) -> Result<Self, FlError> {
        for sub in ["models", "pol"] {
            fs::create_dir_all(root.join(sub)).map_err(FlError::io(root.join(sub)))?;
        }
        Ok(RunDir {
            root: root.to_path_buf(),
            blobs: BlobStore::open(root.join("blobs"))?,
        })
    }

    /// Opens the run directory at `root` to read it; creates nothing.
    ///
    /// # Errors
    /// [`FlError::Config`] when `root` holds no run (no `config.json`).
    pub fn open(root: &Path) -> Result<Self, FlError> {
        if !root.join("config.json").is_file() {
            return Err(FlError::Config(format!(
                "{} holds no run (no config.json)",
                root.display()
            )));
        }
        Ok(RunDir {
            root: root.to_path_buf(),
            blobs: BlobStore::open(root.join("blobs"))?,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob store of this run.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Path of a file in the run directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Path of the global model after `round`.
    pub fn model_path(&self, round: u32) -> PathBuf {
        self.root
            .join("models")
            .join(format!("round-{round:04}.bin"))
    }

    /// Path of client `client`'s proof-of-learning log in `round`.
    pub fn pol_path(&self, round: u32, client: usize) -> PathBuf {
        self.root
            .join("pol")
            .join(format!("round-{round:04}"))
            .join(format!("client-{client:03}.pol"))
    }

    /// Stores the global model after `round` (file and blob); returns its digest.
    pub fn save_model(&self, round: u32, params: &[f32]) -> Result<Digest, FlError> {
        let bytes = f32s_to_bytes(params);
        write_atomic(&self.model_path(round), &bytes)?;
        Ok(self.blobs.put(&bytes)?)
    }

    /// Loads the global model after `round`, checking it against `digest`.
    pub fn load_model(&self, round: u32, digest: &Digest) -> Result<Vec<f32>, FlError> {
        let path = self.model_path(round);
        let bytes = fs::read(&path).map_err(FlError::io(&path))?;
        if Digest::of(&bytes) != *digest {
            return Err(FlError::Config(format!(
                "{} does not match the digest in state.json: the run directory was modified",
                path.display()
            )));
        }
        Ok(bytes_to_f32s(&bytes)?)
    }

    /// Reads a JSON file of the run directory, `None` when it does not exist.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, FlError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| FlError::Json { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FlError::io(path)(e)),
        }
    }

    /// Writes a JSON file of the run directory atomically, only if [`RunDir::read_json`] can
    /// read it back (JSON has no infinity or NaN: serde writes them as `null`, which no `f64`
    /// reads): a file zkfl cannot read is never written.
    pub fn write_json<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        value: &T,
    ) -> Result<(), FlError> {
        let path = self.path(name);
        let json = |source| FlError::Json {
            path: path.clone(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(value).map_err(json)?;
        serde_json::from_slice::<T>(&bytes).map_err(json)?;
        write_atomic(&path, &bytes)
    }

    /// The metrics of the finished rounds (empty for a new run).
    pub fn metrics(&self) -> Result<Vec<RoundMetrics>, FlError> {
        Ok(self.read_json("metrics.json")?.unwrap_or_default())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FlError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(FlError::io(parent))?;
    }
    let tmp = path.with_extension("tmp");
    write_durably(&tmp, path, bytes).map_err(FlError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_would_not_read_back_is_not_written() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::create(tmp.path()).unwrap();
        for bad in [f64::INFINITY, f64::NAN] {
            let err = dir.write_json("x.json", &vec![1.0, bad]).unwrap_err();
            assert!(matches!(err, FlError::Json { .. }), "{err}");
            assert!(!dir.path("x.json").exists());
        }
        dir.write_json("x.json", &vec![1.0, 2.5]).unwrap();
        assert_eq!(
            dir.read_json::<Vec<f64>>("x.json").unwrap(),
            Some(vec![1.0, 2.5])
        );
    }
}
