//! The commitments a provider makes before anything is proved: every logged checkpoint
//! (Poseidon over BN254 and over Pasta, in its proof-of-learning log) and its data set (Merkle
//! roots in both fields, plus a SHA-256 root for everything off-circuit).

use circuits::Field;
use circuits::field::Bn254;
use circuits::fixed::{FixedError, quantize_feature, quantize_params};
use circuits::gadgets::commit::{CommitError, commit_params};
use circuits::halo2::Fp;
use circuits::poseidon::MerkleTree;
use pol::{CheckpointCommitment, CheckpointCommitter, Digest};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::instance::CommittedData;

/// The commitment of a checkpoint's parameters in both proving fields; `None` when a value is
/// outside the fixed-point range.
pub fn commit_checkpoint(params: &[f32]) -> Option<CheckpointCommitment> {
    let q = quantize_params(params).ok()?;
    Some(CheckpointCommitment {
        bn254: commit_params::<Bn254>(&q).ok()?.to_le_bytes(),
        pasta: commit_params::<Fp>(&q).ok()?.to_le_bytes(),
    })
}

/// Commits a checkpoint's first `params` values (the parameters; the relation proves plain SGD,
/// so there is no momentum buffer to commit) while a log is written.
pub struct PoseidonCommitter {
    /// Number of model parameters.
    pub params: usize,
}

impl CheckpointCommitter for PoseidonCommitter {
    fn commit(&self, checkpoint: &[f32]) -> Option<CheckpointCommitment> {
        commit_checkpoint(checkpoint.get(..self.params)?)
    }
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
    /// The Poseidon root in a back end's proving field, as canonical bytes.
    pub fn root(&self, backend: verifier::Backend) -> Option<[u8; 32]> {
        let hex_root = match backend {
            verifier::Backend::Groth16 => &self.bn254_root,
            verifier::Backend::Halo2 => &self.pasta_root,
        };
        hex::decode(hex_root).ok()?.try_into().ok()
    }
}

/// The Merkle depth every provider of a task uses: the smallest that holds the largest
/// provider's `rows` (one depth per task means one proving key per model and batch size).
pub fn task_depth(largest: usize) -> u32 {
    MerkleTree::<Bn254>::depth_for(largest.max(1))
}

/// A provider's rows (features, label), in commitment order, as the proof systems commit them,
/// in a tree of `depth`.
pub fn committed_data<'a>(
    rows: impl IntoIterator<Item = (&'a [f32], u32)>,
    depth: u32,
) -> Result<CommittedData, FixedError> {
    let mut data = CommittedData {
        rows: Vec::new(),
        labels: Vec::new(),
        depth,
    };
    for (features, label) in rows {
        data.rows.push(
            features
                .iter()
                .map(|&x| quantize_feature(x))
                .collect::<Result<Vec<i64>, _>>()?,
        );
        data.labels.push(label);
    }
    Ok(data)
}

/// Commits one provider's data set in both fields and with SHA-256.
pub fn commit_data(client: usize, data: &CommittedData) -> Result<DataCommitment, CommitError> {
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
