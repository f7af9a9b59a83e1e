//! Phase 1 prepared for circuits of one domain size: the powers of tau in the Lagrange basis.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;

use crate::knowledge::random_scalars;
use crate::{Accumulator, CeremonyError, Digest, scale};

/// What phase 2 needs of phase 1 for circuits whose domain has `m` points (`ω` its generator):
/// `[L_j(τ)]₁`, `[L_j(τ)]₂`, `[α·L_j(τ)]₁`, `[β·L_j(τ)]₁` for `j < m`, with
/// `L_j(τ) = (1/m)·Σ_i ω^{−ij}·τ^i` (an inverse FFT over the group, BGM17 §3.3), and
/// `[τ^i·t(τ)]₁ = [τ^{i+m}]₁ − [τ^i]₁` for `i < m − 1` (`t(x) = x^m − 1`).
///
/// Made once per accumulator and domain size (the group FFT is `m·log m / 2` scalar
/// multiplications per vector, the slow part of a setup), then read; [`LagrangeBasis::check`]
/// confirms a basis someone else made against the accumulator with two multi-scalar
/// multiplications and a scalar FFT per vector.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct LagrangeBasis {
    /// Digest of the accumulator it was made from.
    pub(crate) phase1: Digest,
    pub(crate) l_g1: Vec<G1Affine>,
    pub(crate) l_g2: Vec<G2Affine>,
    pub(crate) l_alpha_g1: Vec<G1Affine>,
    pub(crate) l_beta_g1: Vec<G1Affine>,
    pub(crate) h_g1: Vec<G1Affine>,
    pub(crate) alpha_g1: G1Affine,
    pub(crate) beta_g1: G1Affine,
    pub(crate) beta_g2: G2Affine,
}

impl LagrangeBasis {
    /// The basis for domains of `m` points from a verified accumulator
    /// ([`Accumulator::verify`]).
    ///
    /// Errors: [`CeremonyError::Domain`] unless `m` is a power of two with `2 ≤ m`,
    /// [`CeremonyError::TooSmall`] if the accumulator serves fewer points, and
    /// [`CeremonyError::Rejected`] if it has no contribution (then `τ = α = β = 1`, known to
    /// everyone) or vectors of the wrong lengths.
    pub fn new(phase1: &Accumulator, m: usize) -> Result<Self, CeremonyError> {
        let domain = domain(phase1, m)?;
        Ok(Self {
            phase1: phase1.digest(),
            l_g1: scale::ifft::<G1Projective>(&domain, &phase1.tau_g1[..m]),
            l_g2: scale::ifft::<G2Projective>(&domain, &phase1.tau_g2[..m]),
            l_alpha_g1: scale::ifft::<G1Projective>(&domain, &phase1.alpha_tau_g1[..m]),
            l_beta_g1: scale::ifft::<G1Projective>(&domain, &phase1.beta_tau_g1[..m]),
            h_g1: vanishing(phase1, m),
            alpha_g1: phase1.alpha_tau_g1[0],
            beta_g1: phase1.beta_tau_g1[0],
            beta_g2: phase1.beta_g2,
        })
    }

    /// The basis from Lagrange evaluations someone else computed (a prepared `.ptau` file's),
    /// with the vanishing and direct elements taken from `phase1`; unchecked until
    /// [`LagrangeBasis::check`].
    pub(crate) fn from_evaluations(
        phase1: &Accumulator,
        l_g1: Vec<G1Affine>,
        l_g2: Vec<G2Affine>,
        l_alpha_g1: Vec<G1Affine>,
        l_beta_g1: Vec<G1Affine>,
    ) -> Self {
        let m = l_g1.len();
        Self {
            phase1: phase1.digest(),
            l_g1,
            l_g2,
            l_alpha_g1,
            l_beta_g1,
            h_g1: vanishing(phase1, m),
            alpha_g1: phase1.alpha_tau_g1[0],
            beta_g1: phase1.beta_tau_g1[0],
            beta_g2: phase1.beta_g2,
        }
    }

    /// The number of domain points `m`.
    pub fn size(&self) -> usize {
        self.l_g1.len()
    }

    /// Checks that this basis is the one [`LagrangeBasis::new`] makes from `phase1`: the
    /// powers are `[τ^i] = Σ_j ω^{ij}·[L_j(τ)]` for `i < m`, so for random `ρ` the
    /// combination `Σ_i ρ_i·[τ^i]` equals `Σ_j FFT(ρ)_j·[L_j(τ)]` (a wrong basis passes with
    /// probability about `1/|Fr|`); the other elements are compared directly.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the failed part (or if the accumulator has
    /// no contribution); [`CeremonyError::Domain`] or [`CeremonyError::TooSmall`] if the
    /// basis's size does not fit the accumulator.
    pub fn check(&self, phase1: &Accumulator) -> Result<(), CeremonyError> {
        let m = self.size();
        let domain = domain(phase1, m)?;
        let sizes_ok = [self.l_g2.len(), self.l_alpha_g1.len(), self.l_beta_g1.len()]
            .iter()
            .all(|&n| n == m);
        if !sizes_ok || self.phase1 != phase1.digest() {
            return Err(CeremonyError::Rejected(
                "the Lagrange basis was made from another accumulator",
            ));
        }
        let direct = self.h_g1 == vanishing(phase1, m)
            && self.alpha_g1 == phase1.alpha_tau_g1[0]
            && self.beta_g1 == phase1.beta_tau_g1[0]
            && self.beta_g2 == phase1.beta_g2;
        let bases = agrees::<G1Projective>(&domain, &phase1.tau_g1[..m], &self.l_g1)
            && agrees::<G2Projective>(&domain, &phase1.tau_g2[..m], &self.l_g2)
            && agrees::<G1Projective>(&domain, &phase1.alpha_tau_g1[..m], &self.l_alpha_g1)
            && agrees::<G1Projective>(&domain, &phase1.beta_tau_g1[..m], &self.l_beta_g1);
        if !(direct && bases) {
            return Err(CeremonyError::Rejected(
                "the Lagrange basis is not the accumulator's",
            ));
        }
        Ok(())
    }
}

/// The domain of `m` points, if `phase1` has a contribution (else `τ = α = β = 1`, known to
/// everyone) and serves `m` points.
fn domain(phase1: &Accumulator, m: usize) -> Result<GeneralEvaluationDomain<Fr>, CeremonyError> {
    phase1.check_lengths()?;
    if !phase1.has_secret() {
        return Err(CeremonyError::Rejected(
            "powers of tau without a contribution have τ = 1, known to everyone",
        ));
    }
    if m < 2 || !m.is_power_of_two() {
        return Err(CeremonyError::Domain(m));
    }
    if m > phase1.size() {
        return Err(CeremonyError::TooSmall {
            needed: m,
            available: phase1.size(),
        });
    }
    GeneralEvaluationDomain::new(m).ok_or(CeremonyError::Domain(m))
}

/// `[τ^{i+m}]₁ − [τ^i]₁` for `i < m − 1`.
fn vanishing(phase1: &Accumulator, m: usize) -> Vec<G1Affine> {
    let tau = &phase1.tau_g1;
    let h: Vec<G1Projective> = (0..m - 1)
        .into_par_iter()
        .map(|i| tau[i + m].into_group() - tau[i])
        .collect();
    G1Projective::normalize_batch(&h)
}

/// `Σ_i ρ_i·powers_i = Σ_j FFT(ρ)_j·lagrange_j` for fresh random `ρ`.
fn agrees<G>(
    domain: &GeneralEvaluationDomain<Fr>,
    powers: &[G::Affine],
    lagrange: &[G::Affine],
) -> bool
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM<MulBase = <G as CurveGroup>::Affine>,
{
    let rho = random_scalars(powers.len());
    let evaluations = domain.fft(&rho);
    G::msm_unchecked(powers, &rho) == G::msm_unchecked(lagrange, &evaluations)
}
