//! The proof systems behind one interface, so that proving and verifying are written once,
//! generic over the system, instead of once per back end.
//!
//! | system      | field            | parameters            | keys                       | proof        |
//! |-------------|------------------|-----------------------|----------------------------|--------------|
//! | [`Groth16`] | BN254 scalars    | none                  | per-program trusted setup  | 128 bytes    |
//! | [`Halo2`]   | Pasta `Fp`       | IPA parameters, `2^k` | deterministic from params  | a few KB     |
//!
//! Randomness comes from the caller: a prover that derives it from a secret and the statement
//! (as RFC 6979 does for signatures) makes deterministic proofs that still hide the witness.

use rand::{CryptoRng, RngCore};
use thiserror::Error;

use crate::field::{Bn254, Field};
use crate::halo2::{self, Fp, Halo2Error, Halo2Params, ProgramKeys, ProgramVerifier};
use crate::program::{Assignment, Program};
use crate::r1cs::{self, Encoding, Groth16Error};

/// Why a proof system failed.
#[derive(Debug, Error)]
pub enum SystemError {
    /// Groth16 failed.
    #[error(transparent)]
    Groth16(#[from] Groth16Error),
    /// halo2 failed.
    #[error(transparent)]
    Halo2(#[from] Halo2Error),
    /// The proof bytes do not decode.
    #[error("the proof does not decode: {0}")]
    Decode(String),
}

/// A proof system for constraint programs.
pub trait ProofSystem: Send + Sync + 'static {
    /// Its name in proof files and on the command line.
    const NAME: &'static str;
    /// The field programs are proven in.
    type Field: Field;
    /// Public parameters keys are made from (halo2's IPA parameters; none for Groth16).
    type Params: Send + Sync + 'static;
    /// What proving a program needs.
    type ProvingKey: Send + Sync + 'static;
    /// What verifying a proof of a program needs.
    type VerifyingKey: Send + Sync + 'static;

    /// Makes the keys of `program`; `rng` is the setup's secret randomness where the system
    /// has one (Groth16's toxic waste: discard it).
    fn keygen<R: RngCore + CryptoRng>(
        params: &Self::Params,
        program: &Program,
        rng: &mut R,
    ) -> Result<(Self::ProvingKey, Self::VerifyingKey), SystemError>;

    /// Proves that `assignment` satisfies `program`; the proof's bytes.
    fn prove<R: RngCore + CryptoRng>(
        params: &Self::Params,
        pk: &Self::ProvingKey,
        program: &Program,
        assignment: &Assignment<Self::Field>,
        rng: &mut R,
    ) -> Result<Vec<u8>, SystemError>;

    /// Checks proof bytes against the public inputs (in [`Program::public`] order).
    fn verify(
        params: &Self::Params,
        vk: &Self::VerifyingKey,
        public: &[Self::Field],
        proof: &[u8],
    ) -> Result<(), SystemError>;
}

/// Groth16 over BN254 (arkworks): [`crate::r1cs`].
pub struct Groth16;

impl ProofSystem for Groth16 {
    const NAME: &'static str = "groth16";
    type Field = Bn254;
    type Params = ();
    type ProvingKey = r1cs::ProvingKey;
    type VerifyingKey = r1cs::PreparedVerifyingKey;

    fn keygen<R: RngCore + CryptoRng>(
        _: &(),
        program: &Program,
        rng: &mut R,
    ) -> Result<(Self::ProvingKey, Self::VerifyingKey), SystemError> {
        let (pk, vk) = r1cs::setup(program, rng)?;
        Ok((pk, r1cs::prepare(&vk)))
    }

    fn prove<R: RngCore + CryptoRng>(
        _: &(),
        pk: &Self::ProvingKey,
        program: &Program,
        assignment: &Assignment<Bn254>,
        rng: &mut R,
    ) -> Result<Vec<u8>, SystemError> {
        Ok(r1cs::prove(pk, program, assignment, rng)?.to_bytes())
    }

    fn verify(
        _: &(),
        vk: &Self::VerifyingKey,
        public: &[Bn254],
        proof: &[u8],
    ) -> Result<(), SystemError> {
        let proof =
            r1cs::Proof::from_bytes(proof).map_err(|e| SystemError::Decode(e.to_string()))?;
        Ok(r1cs::verify(vk, public, &proof)?)
    }
}

/// halo2 with IPA commitments over the Pasta curves: [`crate::halo2`].
pub struct Halo2;

impl ProofSystem for Halo2 {
    const NAME: &'static str = "halo2";
    type Field = Fp;
    type Params = Halo2Params;
    type ProvingKey = ProgramKeys;
    type VerifyingKey = ProgramVerifier;

    fn keygen<R: RngCore + CryptoRng>(
        params: &Halo2Params,
        program: &Program,
        _: &mut R,
    ) -> Result<(ProgramKeys, ProgramVerifier), SystemError> {
        Ok((
            halo2::keygen(params, program)?,
            halo2::verifier_key(params, program)?,
        ))
    }

    fn prove<R: RngCore + CryptoRng>(
        params: &Halo2Params,
        pk: &ProgramKeys,
        program: &Program,
        assignment: &Assignment<Fp>,
        rng: &mut R,
    ) -> Result<Vec<u8>, SystemError> {
        Ok(halo2::prove(params, pk, program, assignment, Compat(rng))?)
    }

    fn verify(
        params: &Halo2Params,
        vk: &ProgramVerifier,
        public: &[Fp],
        proof: &[u8],
    ) -> Result<(), SystemError> {
        Ok(halo2::verify(params, vk, public, proof)?)
    }
}

/// A `rand` 0.8 generator seen as a `rand_core` 0.10 one (halo2's).
pub(crate) struct Compat<'a, R>(pub(crate) &'a mut R);

impl<R: RngCore> rand_core::TryRng for Compat<'_, R> {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.0.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}

impl<R: RngCore + CryptoRng> rand_core::TryCryptoRng for Compat<'_, R> {}
