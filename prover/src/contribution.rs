//! The owner's contribution proofs (`circuits::relations::contribution`): Groth16 keys made
//! once per contribution shape and kept in the prover's key store beside the training-step
//! keys, and proofs of a round's witness. Groth16 only: it is what the ledger verifies.

use circuits::field::Bn254;
use circuits::r1cs::VerifyingKey;
use circuits::relations::contribution::{self, ContributionShape, ContributionWitness};
use circuits::{Groth16, Program, ProofSystem};
use rand::SeedableRng;
use rand::rngs::OsRng;
use rand_chacha::ChaCha20Rng;
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

    /// Proves a round's contribution witness with Groth16 (randomness from the operating
    /// system); returns the compressed proof.
    ///
    /// # Errors
    /// [`ProveError::Witness`] for a witness without the shape's dimensions,
    /// [`ProveError::Unsatisfied`] for one that breaks the relation, or a key or proving
    /// failure.
    pub fn prove_contribution(
        &self,
        shape: &ContributionShape,
        witness: &ContributionWitness,
    ) -> Result<Vec<u8>, ProveError> {
        let (program, assignment) = contribution::build::<Bn254>(shape, witness)
            .map_err(|e| ProveError::Witness(e.to_string()))?;
        program
            .check(&assignment)
            .map_err(ProveError::Unsatisfied)?;
        let keys = self.keys_for::<Groth16>(&program)?;
        let mut rng =
            ChaCha20Rng::from_rng(OsRng).map_err(|e| ProveError::Witness(e.to_string()))?;
        let (params, pk) = &*keys;
        Groth16::prove(params, pk, &program, &assignment, &mut rng).map_err(|source| {
            ProveError::Backend {
                backend: Backend::Groth16,
                source,
            }
        })
    }
}
