//! Groth16 keys from a multi-party setup (the `ceremony` crate, Bowe–Gabizon–Miers 2017)
//! instead of one party's `generate_random_parameters`: whoever runs that knows the trapdoor
//! and can prove anything.
//!
//! ```text
//! <key store>/ceremony/powers-of-tau-2^P.bin   phase 1 of power P (ZKFLPOT2)
//! <key store>/ceremony/lagrange-2^P.bin        its Lagrange basis for 2^P (ZKFLLAG1)
//! ```
//! A circuit whose domain (constraints plus public inputs, to a power of two) is `2^P` uses the
//! files of exactly that `P`. They are what `zkfl ceremony contribute --out` and `zkfl
//! ceremony prepare --out` write, so powers from a ceremony among many parties go there under
//! these names, and so does `zkfl ceremony import` from a public ceremony's snarkjs `.ptau`
//! file (the practical source for real sizes); a missing basis is prepared from the powers. When a size has no powers, a
//! prover makes them with one contribution of its own (OS randomness, dropped at once) and
//! says so: enough for one machine's tests and demos, not for a task whose parties distrust
//! each other. Powers are read, checked (`Accumulator::verify`, `LagrangeBasis::check`) and
//! kept once per [`StepProver`].
//!
//! Phase 2 per program: the coordinator makes the start parameters
//! ([`StepProver::ceremony_start`]); each party checks the parameters it is handed against the
//! program and the powers and multiplies δ by a secret of its own
//! ([`StepProver::ceremony_contribute`]); the prover then proves with the final key
//! ([`StepProver::use_ceremony_key`]) in place of the store's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ceremony::{Accumulator, CeremonyFile, LagrangeBasis, Parameters, Phase2Contribution};
use circuits::Program;
use circuits::r1cs::{self, Groth16Error};
use rand::rngs::OsRng;

use crate::prove::{ProveError, StepProver};

/// Phase 1 for one domain size, checked: the powers of tau and their Lagrange basis.
pub struct Powers {
    /// The powers of tau (every contribution replayed).
    pub phase1: Accumulator,
    /// Their Lagrange basis for the domain `2^power`.
    pub basis: LagrangeBasis,
}

/// One prover at a time makes missing powers in this process.
static MAKING: Mutex<()> = Mutex::new(());

/// Per domain power: the checked powers.
pub(crate) type PowersCache = Mutex<HashMap<u32, Arc<Powers>>>;

fn ceremony_error(e: ceremony::CeremonyError) -> ProveError {
    ProveError::Ceremony(Groth16Error::Ceremony(e))
}

impl StepProver {
    /// The checked powers of tau and Lagrange basis for domains of `2^power` (see the module
    /// docs): read from the key store and checked, or made here when the store has none.
    ///
    /// # Errors
    /// [`ProveError::Ceremony`] for files that cannot be read or written or do not check.
    pub fn powers(&self, power: u32) -> Result<Arc<Powers>, ProveError> {
        if let Some(p) = self.cached_powers(power) {
            return Ok(p);
        }
        let (pot, lagrange) = self.powers_files(power);
        let dir = self.store().dir().join("ceremony");
        let powers = {
            let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = self.cached_powers(power) {
                return Ok(p);
            }
            if !pot.exists() && lagrange.exists() {
                return Err(ceremony_error(ceremony::CeremonyError::Rejected(
                    "a Lagrange basis without the powers of tau it was prepared from",
                )));
            }
            if !pot.exists() {
                tracing::warn!(
                    "no powers of tau for 2^{power} in {}: making them here with one \
                     contribution of this machine (for a task among parties that distrust \
                     each other, import a public ceremony's: zkfl ceremony import --ptau FILE \
                     --power {power} --out {} --lagrange {})",
                    dir.display(),
                    pot.display(),
                    lagrange.display()
                );
                let (phase1, _) = Accumulator::new(power)
                    .map_err(ceremony_error)?
                    .contribute(&mut OsRng);
                phase1.write_to(&pot).map_err(ceremony_error)?;
            }
            let phase1 = Accumulator::read_from(&pot).map_err(ceremony_error)?;
            phase1.verify().map_err(ceremony_error)?;
            if !lagrange.exists() {
                tracing::info!("preparing the Lagrange basis for 2^{power} (minutes for 2^17)");
                let basis = LagrangeBasis::new(&phase1, 1 << power).map_err(ceremony_error)?;
                basis.write_to(&lagrange).map_err(ceremony_error)?;
            }
            let basis = LagrangeBasis::read_from(&lagrange).map_err(ceremony_error)?;
            basis.check(&phase1).map_err(ceremony_error)?;
            Arc::new(Powers { phase1, basis })
        };
        self.powers_cache()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(power, powers.clone());
        Ok(powers)
    }

    /// Where the powers of tau for `2^power` and their Lagrange basis are kept (see the
    /// module docs).
    pub fn powers_files(&self, power: u32) -> (PathBuf, PathBuf) {
        let dir = self.store().dir().join("ceremony");
        (
            dir.join(format!("powers-of-tau-2^{power}.bin")),
            dir.join(format!("lagrange-2^{power}.bin")),
        )
    }

    fn cached_powers(&self, power: u32) -> Option<Arc<Powers>> {
        self.powers_cache()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&power)
            .cloned()
    }

    /// The powers for `program`'s domain (constraints plus public inputs, to a power of two).
    fn powers_of(&self, program: &Program) -> Result<Arc<Powers>, ProveError> {
        let m = r1cs::shape(program).domain_size();
        self.powers(m.trailing_zeros())
    }

    /// The start parameters of `program` (`γ = δ = 1`): the coordinator's part, one scalar
    /// multiplication per nonzero of the R1CS.
    ///
    /// # Errors
    /// [`ProveError::Ceremony`] for a program that is not a valid R1CS or powers that fail.
    pub fn ceremony_start(&self, program: &Program) -> Result<Parameters, ProveError> {
        let powers = self.powers_of(program)?;
        Ok(r1cs::ceremony_start(program, &powers.basis)?)
    }

    /// Checks `params` against `program` and the powers ([`r1cs::ceremony_verify`]); returns
    /// every contribution's receipt, in order.
    ///
    /// # Errors
    /// [`ProveError::Ceremony`] naming the failed check (parameters nobody contributed to are
    /// refused: the owner contributes before anyone is handed them).
    pub fn ceremony_check(
        &self,
        params: &Parameters,
        program: &Program,
    ) -> Result<Vec<ceremony::Digest>, ProveError> {
        let powers = self.powers_of(program)?;
        Ok(r1cs::ceremony_verify(
            params,
            program,
            &powers.phase1,
            &powers.basis,
        )?)
    }

    /// Checks `params` ([`StepProver::ceremony_check`]), then multiplies δ by a fresh secret
    /// from the operating system, dropped on return. Returns the new parameters and the
    /// contribution to post.
    ///
    /// # Errors
    /// [`ProveError::Ceremony`] naming the failed check.
    pub fn ceremony_contribute(
        &self,
        params: &Parameters,
        program: &Program,
    ) -> Result<(Parameters, Phase2Contribution), ProveError> {
        self.ceremony_check(params, program)?;
        Ok(contribute(params))
    }

    /// Proves `program` with `params`'s key from now on, in place of the key store's.
    pub fn use_ceremony_key(&self, program: &Program, params: &Parameters) {
        self.install_groth16(program.digest(), params.proving_key().clone());
    }
}

/// Multiplies δ of parameters the caller made or checked itself by a fresh secret from the
/// operating system, dropped on return; returns the new parameters and the contribution.
pub fn contribute(params: &Parameters) -> (Parameters, Phase2Contribution) {
    let (next, _) = params.contribute(&mut OsRng);
    let contribution = next
        .contributions()
        .last()
        .expect("invariant: a contribution was just appended")
        .clone();
    (next, contribution)
}
