//! Checking a contribution proof (`circuits::relations::contribution`) against a statement
//! the verifier assembles itself from what it trusts (on the ledger: the commitments in the
//! posted logs, the registrations, the task's validation root, the round's seal and the
//! drawn coalitions), so that nothing the prover says about the statement is taken on faith.

use circuits::field::{Bn254, Field};
use circuits::r1cs::{self, Encoding, Proof, VerifyingKey};

use crate::VerifyError;

/// The relation name of contribution proofs.
pub const CONTRIBUTION: &str = "contribution";

/// The public inputs of a contribution proof of `N` players, in the relation's order (see
/// `circuits::relations::contribution`). Commitments are BN254 elements in canonical
/// little-endian bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionStatement {
    /// `C_t`, the commitment of the round's global model.
    pub global: [u8; 32],
    /// `C_1 … C_N`, the commitments of the players' updates.
    pub updates: Vec<[u8; 32]>,
    /// `C_{t+1}`, the commitment of the round's aggregate.
    pub aggregate: [u8; 32],
    /// `n_1 … n_N`, the players' sample counts.
    pub samples: Vec<u64>,
    /// `R`, the validation set's root.
    pub validation_root: [u8; 32],
    /// `H`, the commitment of the utility table.
    pub table: [u8; 32],
    /// `N!·φ_1 … N!·φ_N`.
    pub numerators: Vec<i128>,
    /// The drawn coalitions, as bitmasks.
    pub drawn: Vec<u64>,
}

impl ContributionStatement {
    /// The public inputs as field elements.
    ///
    /// # Errors
    /// [`VerifyError::PublicInputs`] when the players' vectors differ in length or a
    /// commitment is not a canonical element.
    pub fn inputs<F: Field>(&self) -> Result<Vec<F>, VerifyError> {
        let n = self.updates.len();
        if self.samples.len() != n || self.numerators.len() != n {
            return Err(VerifyError::PublicInputs(format!(
                "{n} update commitments, {} sample counts, {} values",
                self.samples.len(),
                self.numerators.len()
            )));
        }
        let element = |bytes: &[u8; 32], what: &str| {
            F::from_le_bytes(bytes).ok_or_else(|| {
                VerifyError::PublicInputs(format!("{what} is not an element of {}", F::NAME))
            })
        };
        let mut out = vec![element(&self.global, "the global model's commitment")?];
        for u in &self.updates {
            out.push(element(u, "an update's commitment")?);
        }
        out.push(element(&self.aggregate, "the aggregate's commitment")?);
        out.extend(self.samples.iter().map(|&s| F::from_i128(i128::from(s))));
        out.push(element(&self.validation_root, "the validation root")?);
        out.push(element(&self.table, "the utility table's commitment")?);
        out.extend(self.numerators.iter().map(|&v| F::from_i128(v)));
        out.extend(self.drawn.iter().map(|&s| F::from_i128(i128::from(s))));
        Ok(out)
    }
}

/// Verifies a Groth16 contribution proof (compressed bytes) of `statement` under `vk`.
///
/// # Errors
/// [`VerifyError::PublicInputs`] for a statement that is not one ([`ContributionStatement::inputs`])
/// or does not have the key's number of inputs, [`VerifyError::Decode`] for proof bytes that
/// do not decode, [`VerifyError::Rejected`] for a proof that does not verify.
pub fn verify_contribution_groth16(
    vk: &VerifyingKey,
    statement: &ContributionStatement,
    proof: &[u8],
) -> Result<(), VerifyError> {
    let inputs = statement.inputs::<Bn254>()?;
    if inputs.len() != r1cs::public_input_count(vk) {
        return Err(VerifyError::PublicInputs(format!(
            "{} inputs, the key takes {}",
            inputs.len(),
            r1cs::public_input_count(vk)
        )));
    }
    let proof = Proof::from_bytes(proof).map_err(|e| VerifyError::Decode(e.to_string()))?;
    r1cs::verify(&r1cs::prepare(vk), &inputs, &proof)
        .map_err(|e| VerifyError::Rejected(e.to_string()))
}
