//! The owner's contribution proofs (`circuits::relations::contribution`): Groth16 keys made
//! once per contribution shape and kept in the prover's key store beside the training-step
//! keys, and proofs of a round's witness. Groth16 only: it is what the ledger verifies.
//!
//! **Randomness**, as for training steps ([`crate::prove`]):
//! `ChaCha20(SHA-256("zkfl-contribution-nonce-v1" ‖ secret ‖ program digest ‖ public inputs))`
//! with a secret the owner holds: a round always proves to the same bytes (a task replays byte
//! for byte), and the proof hides the witness while the secret stays secret.

use circuits::Field;
use circuits::field::Bn254;
use circuits::r1cs::VerifyingKey;
use circuits::relations::contribution::{self, ContributionShape, ContributionWitness};
use circuits::{Groth16, Program, ProofSystem};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};
use verifier::Backend;

use crate::prove::{ProveError, StepProver};

/// The constraint program of `shape` (it depends on the shape alone; built here from a
/// witness of zeros).
///
/// # Errors
/// [`ProveError::Witness`] for a shape that cannot be built.
pub fn contribution_program(shape: &ContributionShape) -> Result<Program, ProveError> {
    let n = shape.players;
    let params = shape.model.param_count();
    let zeros = ContributionWitness {
        global: vec![0; params],
        updates: vec![vec![0; params]; n],
        samples: vec![1; n],
        aggregate: vec![0; params],
        rows: vec![vec![0; shape.model.inputs()]; shape.rows],
        labels: vec![0; shape.rows],
        table: vec![0; 1 << n],
        numerators: vec![0; n],
        drawn: vec![0; shape.drawn],
    };
    let (program, _) = contribution::build::<Bn254>(shape, &zeros)
        .map_err(|e| ProveError::Witness(e.to_string()))?;
    Ok(program)
}

impl StepProver {
    /// Makes (or loads from the store) the Groth16 keys of a contribution shape; returns the
    /// program digest and the verifying key.
    ///
    /// # Errors
    /// A shape that cannot be built, or keys that cannot be made, read or written.
    pub fn prepare_contribution(
        &self,
        shape: &ContributionShape,
    ) -> Result<([u8; 32], VerifyingKey), ProveError> {
        let program = contribution_program(shape)?;
        self.keys_for::<Groth16>(&program)?;
        let digest = program.digest();
        Ok((digest, self.store().groth16_vk(&digest)?))
    }

    /// Proves a round's contribution witness with Groth16, its randomness derived from
    /// `secret` and the statement (see the module docs); returns the compressed proof.
    ///
    /// # Errors
    /// [`ProveError::Witness`] for a witness without the shape's dimensions,
    /// [`ProveError::Unsatisfied`] for one that breaks the relation, or a key or proving
    /// failure.
    pub fn prove_contribution(
        &self,
        shape: &ContributionShape,
        witness: &ContributionWitness,
        secret: &[u8; 32],
    ) -> Result<Vec<u8>, ProveError> {
        let (program, assignment) = contribution::build::<Bn254>(shape, witness)
            .map_err(|e| ProveError::Witness(e.to_string()))?;
        program
            .check(&assignment)
            .map_err(ProveError::Unsatisfied)?;
        let keys = self.keys_for::<Groth16>(&program)?;
        let mut nonce = Sha256::new()
            .chain_update(b"zkfl-contribution-nonce-v1")
            .chain_update(secret)
            .chain_update(program.digest());
        for x in assignment.public_inputs(&program) {
            nonce.update(x.to_le_bytes());
        }
        let mut rng = ChaCha20Rng::from_seed(nonce.finalize().into());
        let (params, pk) = &*keys;
        Groth16::prove(params, pk, &program, &assignment, &mut rng).map_err(|source| {
            ProveError::Backend {
                backend: Backend::Groth16,
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use circuits::reference::Model;
    use verifier::KeyStore;

    #[test]
    fn a_round_proves_to_the_same_bytes_under_one_secret_and_to_others_under_another() {
        let shape = ContributionShape {
            model: Model::Softmax {
                inputs: 2,
                classes: 2,
            },
            players: 2,
            rows: 2,
            depth: 1,
            drawn: 0,
        };
        let witness = ContributionWitness::honest(
            &shape.model,
            vec![0; 6],
            vec![
                vec![300, -200, 100, 50, 7, -7],
                vec![-90, 40, 30, -60, 0, 5],
            ],
            vec![3, 5],
            vec![vec![256, -128], vec![-64, 200]],
            vec![0, 1],
            Vec::new(),
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!("zkfl-contribution-{}", std::process::id()));
        let prover = StepProver::new(KeyStore::new(&dir), Backend::Groth16);
        let (_, vk) = prover.prepare_contribution(&shape).unwrap();
        let once = prover
            .prove_contribution(&shape, &witness, &[1; 32])
            .unwrap();
        let again = prover
            .prove_contribution(&shape, &witness, &[1; 32])
            .unwrap();
        let other = prover
            .prove_contribution(&shape, &witness, &[2; 32])
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(once, again);
        assert_ne!(once, other);
        let (program, assignment) = contribution::build::<Bn254>(&shape, &witness).unwrap();
        let public = assignment.public_inputs(&program);
        for proof in [&once, &other] {
            let proof =
                <circuits::r1cs::Proof as circuits::r1cs::Encoding>::from_bytes(proof).unwrap();
            circuits::r1cs::verify(&circuits::r1cs::prepare(&vk), &public, &proof).unwrap();
        }
    }
}
