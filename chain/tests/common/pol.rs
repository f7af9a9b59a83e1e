//! Proof-of-learning logs of tiny trajectories, built with the `pol` crate: one step per
//! entry, the BN254 commitments given, a stand-in Pasta part.

use pol::{
    CheckpointCommitment, CheckpointLog, Digest, LogHeader, RecordTree, StepEvidence, StepRecord,
};

/// A 64-byte checkpoint commitment: the BN254 part, then a stand-in Pasta part.
pub fn commitment(bn254: [u8; 32]) -> CheckpointCommitment {
    CheckpointCommitment {
        bn254,
        pasta: [0x5a; 32],
    }
}

/// A log of `client` in `round` whose checkpoints are committed as `commitments` (the first
/// in the header, one entry per later one; step `i` uses row `i % 2` at lr 0.1).
pub struct Log {
    /// The log.
    pub log: CheckpointLog,
    /// Its record tree.
    pub tree: RecordTree,
}

impl Log {
    /// See the type's docs.
    pub fn new(client: u32, round: u32, commitments: &[[u8; 32]]) -> Log {
        let header = LogHeader {
            client,
            round,
            dataset: "digits".into(),
            label_column: "last".into(),
            split_seed: 42,
            model: "softmax:2-2".into(),
            batch_size: 1,
            momentum: 0.0,
            proximal_mu: 0.0,
            every: 1,
            global: Digest([1; 32]),
            initial: Digest([2; 32]),
            initial_commitment: Some(commitment(commitments[0])),
        };
        let mut log = CheckpointLog::new(header);
        for (i, c) in commitments.iter().enumerate().skip(1) {
            let step = StepRecord {
                lr: 0.1,
                rows: vec![(i as u32 - 1) % 2],
            };
            log.append_committed(vec![step], Digest([i as u8; 32]), Some(commitment(*c)));
        }
        let tree = log.record_tree();
        Log { log, tree }
    }

    /// The head.
    pub fn head(&self) -> [u8; 32] {
        self.log.head().0
    }

    /// What its provider posts.
    pub fn post(&self) -> chain::task::LogPost {
        chain::task::LogPost {
            head: self.head(),
            root: self.tree.root().0,
            steps: self.log.total_steps(),
            update: [7; 32],
        }
    }

    /// The evidence of step `t`, encoded.
    pub fn evidence(&self, t: u64) -> Vec<u8> {
        StepEvidence::of(&self.log, &self.tree, t)
            .expect("the log has the step")
            .encode()
    }
}
