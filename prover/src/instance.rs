//! One training step to prove, with everything needed to build its witness in either field.

use circuits::Field;
use circuits::gadgets::commit::{CommitError, DataTree};
use circuits::relations::training_step::{TrainingStepShape, TrainingStepWitness};
use verifier::StepOrigin;

/// A provider's data set as committed: quantized rows and labels in commitment order (leaf `i`
/// is row `i`), with the depth of its Merkle tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedData {
    /// Features at the fixed-point feature scale, one vector per row.
    pub rows: Vec<Vec<i64>>,
    /// Labels, one per row.
    pub labels: Vec<u32>,
    /// Depth of the Merkle tree (`2^depth >= rows`).
    pub depth: u32,
}

impl CommittedData {
    /// The data set's Merkle tree in field `F`.
    pub fn tree<F: Field>(&self) -> Result<DataTree<F>, CommitError> {
        DataTree::new(&self.rows, &self.labels, self.depth)
    }
}

/// A training step taken from a proof-of-learning log: both checkpoints (quantized), the
/// learning rate, and the batch as positions in the provider's committed data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInstance {
    /// The relation's shape (selects the keys).
    pub shape: TrainingStepShape,
    /// Where the step comes from.
    pub origin: StepOrigin,
    /// Parameters at step `t`, quantized.
    pub params_t: Vec<i64>,
    /// Parameters at step `t + 1`, quantized.
    pub params_t1: Vec<i64>,
    /// The learning rate, quantized.
    pub lr: i64,
    /// Positions of the batch's rows in the committed data set.
    pub batch: Vec<u64>,
}

impl StepInstance {
    /// The relation's witness in field `F`: the batch sorted by position (the relation wants
    /// strictly increasing indices; the gradient does not depend on the order) with its
    /// Merkle paths in `data`'s tree.
    pub fn witness<F: Field>(
        &self,
        data: &CommittedData,
        tree: &DataTree<F>,
    ) -> Result<TrainingStepWitness<F>, CommitError> {
        let mut indices = self.batch.clone();
        indices.sort_unstable();
        let row = |i: u64| {
            data.rows
                .get(i as usize)
                .zip(data.labels.get(i as usize))
                .ok_or(CommitError::Index {
                    index: i,
                    depth: data.depth,
                })
        };
        let mut rows = Vec::with_capacity(indices.len());
        let mut labels = Vec::with_capacity(indices.len());
        let mut paths = Vec::with_capacity(indices.len());
        for &i in &indices {
            let (x, y) = row(i)?;
            rows.push(x.clone());
            labels.push(*y);
            paths.push(tree.path(i)?);
        }
        Ok(TrainingStepWitness {
            params_t: self.params_t.clone(),
            params_t1: self.params_t1.clone(),
            lr: self.lr,
            rows,
            labels,
            indices,
            paths,
        })
    }
}
