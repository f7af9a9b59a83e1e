//! Commitments a run makes before anything is proved: every logged checkpoint (Poseidon over
//! BN254 and over Pasta, in the proof-of-learning log) and each provider's data set (Merkle roots
//! in both fields plus a SHA-256 root, in `DIR/data-commitments.json`).

use anyhow::{Context, Result};
use circuits::Field;
use circuits::field::Bn254;
use circuits::fixed::{quantize_feature, quantize_params};
use circuits::gadgets::commit::commit_params;
use circuits::poseidon::MerkleTree;
use fl::blob::Digest;
use fl::data::Dataset;
use fl::pol::CheckpointCommitter;
use pasta_curves::Fp;
use prover::CommittedData;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Length of a checkpoint commitment in the log: BN254 then Pasta, 32 bytes each.
pub const CHECKPOINT_COMMITMENT_LEN: usize = 64;

/// Commits a checkpoint's first `params` values (the parameters; the relation proves plain SGD,
/// so there is no momentum buffer to commit) in both proving fields.
pub struct PoseidonCommitter {
    /// Number of model parameters.
    pub params: usize,
}

impl CheckpointCommitter for PoseidonCommitter {
    fn commit(&self, checkpoint: &[f32]) -> Vec<u8> {
        let Some(params) = checkpoint.get(..self.params) else {
            return Vec::new();
        };
        let Ok(q) = quantize_params(params) else {
            return Vec::new();
        };
        match (commit_params::<Bn254>(&q), commit_params::<Fp>(&q)) {
            (Ok(a), Ok(b)) => [a.to_le_bytes(), b.to_le_bytes()].concat(),
            _ => Vec::new(),
        }
    }
}

/// The part of a log commitment that belongs to a field (`bn254` or `pasta-fp`).
pub fn commitment_in_field(bytes: &[u8], field: &str) -> Option<[u8; 32]> {
    let range = match field {
        "bn254" => 0..32,
        "pasta-fp" => 32..64,
        _ => return None,
    };
    (bytes.len() == CHECKPOINT_COMMITMENT_LEN).then(|| bytes[range].try_into().expect("32 bytes"))
}

/// One provider's published data commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCommitment {
    /// The provider (client) index.
    pub client: usize,
    /// Rows committed.
    pub rows: usize,
    /// Depth of the Merkle trees.
    pub depth: u32,
    /// Poseidon Merkle root over BN254 (hex, canonical little-endian).
    pub bn254_root: String,
    /// Poseidon Merkle root over Pasta (hex, canonical little-endian).
    pub pasta_root: String,
    /// SHA-256 Merkle root of the same rows, for everything off-circuit (hex).
    pub sha256_root: String,
}

impl DataCommitment {
    /// The Poseidon root in a proving field, as canonical bytes.
    pub fn root_in_field(&self, field: &str) -> Option<[u8; 32]> {
        let hex_root = match field {
            "bn254" => &self.bn254_root,
            "pasta-fp" => &self.pasta_root,
            _ => return None,
        };
        hex::decode(hex_root).ok()?.try_into().ok()
    }
}

/// The Merkle depth every provider of a task uses: the smallest that holds the largest
/// provider's rows (one depth per task means one proving key per model and batch size).
pub fn task_depth(clients: &[Vec<usize>]) -> u32 {
    MerkleTree::<Bn254>::depth_for(clients.iter().map(Vec::len).max().unwrap_or(1))
}

/// A provider's rows (training-set indices `rows`, in partition order) as the proof system
/// commits them, in a tree of `depth`.
pub fn committed_data(train: &Dataset, rows: &[usize], depth: u32) -> Result<CommittedData> {
    let features = rows
        .iter()
        .map(|&r| {
            train
                .row(r)
                .iter()
                .map(|&x| quantize_feature(x))
                .collect::<Result<Vec<i64>, _>>()
                .with_context(|| format!("training row {r} is outside the proof system's range"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CommittedData {
        rows: features,
        labels: rows.iter().map(|&r| train.labels[r]).collect(),
        depth,
    })
}

/// Commits one provider's data set in both fields and with SHA-256.
pub fn commit_data(client: usize, data: &CommittedData) -> Result<DataCommitment> {
    let bn254 = data.tree::<Bn254>()?.root();
    let pasta = data.tree::<Fp>()?.root();
    Ok(DataCommitment {
        client,
        rows: data.rows.len(),
        depth: data.depth,
        bn254_root: hex::encode(bn254.to_le_bytes()),
        pasta_root: hex::encode(pasta.to_le_bytes()),
        sha256_root: sha256_root(data).to_hex(),
    })
}

/// SHA-256 Merkle root: leaf = SHA-256(features as i64 LE ‖ label as u32 LE), node =
/// SHA-256(left ‖ right), missing leaves all-zero, same depth as the Poseidon trees.
fn sha256_root(data: &CommittedData) -> Digest {
    let mut level: Vec<[u8; 32]> = data
        .rows
        .iter()
        .zip(&data.labels)
        .map(|(row, label)| {
            let mut h = Sha256::new();
            row.iter().for_each(|x| h.update(x.to_le_bytes()));
            h.update(label.to_le_bytes());
            h.finalize().into()
        })
        .collect();
    level.resize(1usize << data.depth, [0; 32]);
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                let mut h = Sha256::new();
                h.update(pair[0]);
                h.update(pair[1]);
                h.finalize().into()
            })
            .collect();
    }
    Digest(level[0])
}
