//! The one binding check: a verified training-step proof counts only if its public inputs are
//! the commitments its provider posted.
//!
//! A proof shows that *some* step from a committed checkpoint to another is a valid SGD step on
//! *some* committed data. It is evidence of the provider's training only when
//! - the two checkpoint commitments are the ones its proof-of-learning log records around the
//!   challenged step (the log itself bound to what it posted: `pol::StepEvidence` on the ledger,
//!   the posted head off it),
//! - the data root is the one it registered,
//! - the learning rate is the one it logged, and
//! - the tolerance is the task's.
//!
//! [`check_binding`] compares a proof's named public inputs with those [`Expected`] values. The
//! ledger's `_verifyTrainingProof` and `zkfl verify --run` both call it.

use pol::{CheckpointCommitment, LoggedStep};

use crate::check::TrainingStepPublic;
use crate::proof_file::Backend;

/// What a proof's public inputs must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Commitment of the checkpoint before the step, in the proof system's field.
    pub commitment_t: [u8; 32],
    /// Commitment of the checkpoint after the step.
    pub commitment_t1: [u8; 32],
    /// The provider's registered data root, in the proof system's field.
    pub data_root: [u8; 32],
    /// The logged learning rate, quantized ([`circuits::fixed::quantize_lr`]).
    pub lr: i64,
    /// The task's tolerance.
    pub eps: i64,
}

/// Why a verified proof is not about what was posted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BindError {
    /// The commitment of checkpoint `t` differs from the logged one.
    #[error("the proof's commitment of checkpoint t is not the logged one")]
    CommitmentBefore,
    /// The commitment of checkpoint `t + 1` differs from the logged one.
    #[error("the proof's commitment of checkpoint t+1 is not the logged one")]
    CommitmentAfter,
    /// The data root is not the provider's.
    #[error("the proof's data root is not the provider's registered one")]
    DataRoot,
    /// The learning rate is not the logged one.
    #[error("the proof's learning rate {found} is not the logged {expected}")]
    LearningRate {
        /// The logged rate.
        expected: i64,
        /// The proof's.
        found: i64,
    },
    /// The tolerance is not the task's.
    #[error("the proof's tolerance {found} is not the task's {expected}")]
    Tolerance {
        /// The task's.
        expected: i64,
        /// The proof's.
        found: i64,
    },
    /// The logged learning rate is not a fixed-point rate.
    #[error("the logged learning rate {0} cannot be proven: {1}")]
    LoggedRate(f32, String),
}

impl Backend {
    /// The part of a checkpoint commitment in this back end's proving field.
    pub fn commitment_part(self, c: &CheckpointCommitment) -> [u8; 32] {
        match self {
            Backend::Groth16 => c.bn254,
            Backend::Halo2 => c.pasta,
        }
    }
}

impl Expected {
    /// What a `backend` proof of the logged step must show, given the provider's data root in
    /// that back end's field and the task's tolerance.
    pub fn of_logged(
        backend: Backend,
        logged: &LoggedStep,
        data_root: [u8; 32],
        eps: i64,
    ) -> Result<Expected, BindError> {
        let lr = circuits::fixed::quantize_lr(logged.record.lr)
            .map_err(|e| BindError::LoggedRate(logged.record.lr, e.to_string()))?;
        Ok(Expected {
            commitment_t: backend.commitment_part(&logged.before),
            commitment_t1: backend.commitment_part(&logged.after),
            data_root,
            lr,
            eps,
        })
    }
}

/// Checks a verified proof's public inputs against what was posted (see the module docs).
pub fn check_binding(public: &TrainingStepPublic, expected: &Expected) -> Result<(), BindError> {
    if public.commitment_t != expected.commitment_t {
        return Err(BindError::CommitmentBefore);
    }
    if public.commitment_t1 != expected.commitment_t1 {
        return Err(BindError::CommitmentAfter);
    }
    if public.data_root != expected.data_root {
        return Err(BindError::DataRoot);
    }
    if public.lr != expected.lr {
        return Err(BindError::LearningRate {
            expected: expected.lr,
            found: public.lr,
        });
    }
    if public.eps != expected.eps {
        return Err(BindError::Tolerance {
            expected: expected.eps,
            found: public.eps,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_input_is_bound() {
        let expected = Expected {
            commitment_t: [1; 32],
            commitment_t1: [2; 32],
            data_root: [3; 32],
            lr: 6554,
            eps: 8,
        };
        let public = TrainingStepPublic {
            commitment_t: [1; 32],
            commitment_t1: [2; 32],
            data_root: [3; 32],
            lr: 6554,
            eps: 8,
        };
        assert_eq!(check_binding(&public, &expected), Ok(()));
        let edits: [fn(&mut TrainingStepPublic); 5] = [
            |p| p.commitment_t[0] ^= 1,
            |p| p.commitment_t1[0] ^= 1,
            |p| p.data_root[0] ^= 1,
            |p| p.lr += 1,
            |p| p.eps += 1,
        ];
        for edit in edits {
            let mut bad = public.clone();
            edit(&mut bad);
            assert!(check_binding(&bad, &expected).is_err());
        }
    }
}
