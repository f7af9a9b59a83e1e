//! Phase 1: powers of tau, shared by every circuit up to the accumulator's domain size.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, UniformRand, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, RngCore};

use crate::knowledge::{KnowledgeProof, hash_parts, merge_consecutive, same_ratio};
use crate::{CeremonyError, Digest, scale};

/// The largest accumulator: domains of `2^MAX_POWER` (BN254's scalar field has 2-adicity 28).
pub const MAX_POWER: u32 = 24;

/// Powers of tau for domains of size `m = 2^power`.
///
/// Holds `[τ^i]₁` for `i < 2m − 1`, `[τ^i]₂`, `[α·τ^i]₁`, `[β·τ^i]₁` for `i < m`, and `[β]₂`
/// over BN254's standard generators. A fresh accumulator has `τ = α = β = 1`; its secrets are
/// the products of every contribution's factors.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Accumulator {
    pub(crate) tau_g1: Vec<G1Affine>,
    pub(crate) tau_g2: Vec<G2Affine>,
    pub(crate) alpha_tau_g1: Vec<G1Affine>,
    pub(crate) beta_tau_g1: Vec<G1Affine>,
    pub(crate) beta_g2: G2Affine,
}

/// One participant's update of an accumulator: proofs of knowledge of its `τ'`, `α'`, `β'`,
/// bound to the digest of the accumulator it updated.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase1Contribution {
    /// For `τ'`.
    pub tau: KnowledgeProof,
    /// For `α'`.
    pub alpha: KnowledgeProof,
    /// For `β'`.
    pub beta: KnowledgeProof,
}

impl Accumulator {
    /// The accumulator before any contribution, for domains of `2^power`.
    ///
    /// Errors: [`CeremonyError::Power`] unless `1 ≤ power ≤ MAX_POWER`.
    pub fn new(power: u32) -> Result<Self, CeremonyError> {
        if !(1..=MAX_POWER).contains(&power) {
            return Err(CeremonyError::Power(power));
        }
        let m = 1usize << power;
        let g1 = G1Affine::generator();
        let g2 = G2Affine::generator();
        Ok(Self {
            tau_g1: vec![g1; 2 * m - 1],
            tau_g2: vec![g2; m],
            alpha_tau_g1: vec![g1; m],
            beta_tau_g1: vec![g1; m],
            beta_g2: g2,
        })
    }

    /// The domain size `m` the accumulator serves.
    pub fn size(&self) -> usize {
        self.tau_g2.len()
    }

    /// SHA-256 of the canonical uncompressed encoding: what the next contribution is bound to.
    pub fn digest(&self) -> Digest {
        hash_parts(b"zkfl-powers-of-tau-v1", &[self])
    }

    /// Updates the accumulator with fresh secret factors drawn from `rng` and returns the new
    /// accumulator with the contribution that proves it. The factors are dropped on return.
    pub fn contribute<R: RngCore + CryptoRng>(&self, rng: &mut R) -> (Self, Phase1Contribution) {
        let before = self.digest();
        let [tau, alpha, beta] = [(); 3].map(|_| nonzero(rng));
        let contribution = Phase1Contribution {
            tau: KnowledgeProof::new(tau, b"tau", &before, rng),
            alpha: KnowledgeProof::new(alpha, b"alpha", &before, rng),
            beta: KnowledgeProof::new(beta, b"beta", &before, rng),
        };
        let mut next = self.clone();
        scale::by_powers(&mut next.tau_g1, tau, Fr::ONE);
        scale::by_powers(&mut next.tau_g2, tau, Fr::ONE);
        scale::by_powers(&mut next.alpha_tau_g1, tau, alpha);
        scale::by_powers(&mut next.beta_tau_g1, tau, beta);
        next.beta_g2 = (next.beta_g2 * beta).into_affine();
        (next, contribution)
    }

    /// Checks that `next` is this accumulator updated by the factors `contribution` proves
    /// knowledge of, and that `next` is well formed; returns the contribution's hash
    /// (SHA-256 over both digests and the contribution), the receipt its participant keeps.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the first failed check.
    pub fn verify_contribution(
        &self,
        next: &Self,
        contribution: &Phase1Contribution,
    ) -> Result<Digest, CeremonyError> {
        if next.size() != self.size() {
            return Err(CeremonyError::Rejected(
                "the updated accumulator has another size",
            ));
        }
        next.check_well_formed()?;
        let before = self.digest();
        let (r, r_tau) = contribution.tau.check(b"tau", &before)?;
        let (ra, r_alpha) = contribution.alpha.check(b"alpha", &before)?;
        let (rb, r_beta) = contribution.beta.check(b"beta", &before)?;
        let transitions = [
            (
                (self.tau_g1[1], next.tau_g1[1]),
                (r, r_tau),
                "the updated τ is not the old τ times the proven τ'",
            ),
            (
                (self.alpha_tau_g1[0], next.alpha_tau_g1[0]),
                (ra, r_alpha),
                "the updated α is not the old α times the proven α'",
            ),
            (
                (self.beta_tau_g1[0], next.beta_tau_g1[0]),
                (rb, r_beta),
                "the updated β is not the old β times the proven β'",
            ),
        ];
        for (g1, g2, failure) in transitions {
            if !same_ratio(g1, g2) {
                return Err(CeremonyError::Rejected(failure));
            }
        }
        Ok(hash_parts(
            b"zkfl-powers-of-tau-contribution-v1",
            &[&before, contribution, &next.digest()],
        ))
    }

    /// Checks that the accumulator's vectors are consecutive powers of one `τ` with
    /// consistent `α`, `β`, over the standard generators, with no point at infinity.
    fn check_well_formed(&self) -> Result<(), CeremonyError> {
        let m = self.size();
        let lengths = self.tau_g1.len() == 2 * m - 1
            && self.alpha_tau_g1.len() == m
            && self.beta_tau_g1.len() == m
            && m >= 2;
        if !lengths {
            return Err(CeremonyError::Rejected(
                "the accumulator's vectors have wrong lengths",
            ));
        }
        let g1 = G1Affine::generator();
        let g2 = G2Affine::generator();
        if self.tau_g1[0] != g1 || self.tau_g2[0] != g2 {
            return Err(CeremonyError::Rejected(
                "the accumulator does not start at the standard generators",
            ));
        }
        let any_zero = self.tau_g1.iter().any(|p| p.is_zero())
            || self.tau_g2.iter().any(|p| p.is_zero())
            || self.alpha_tau_g1.iter().any(|p| p.is_zero())
            || self.beta_tau_g1.iter().any(|p| p.is_zero())
            || self.beta_g2.is_zero();
        if any_zero {
            return Err(CeremonyError::Rejected(
                "the accumulator holds a point at infinity",
            ));
        }
        let tau_2 = (g2, self.tau_g2[1]);
        let powers_ok = same_ratio(merge_consecutive::<G1Projective>(&self.tau_g1), tau_2)
            && same_ratio(
                (g1, self.tau_g1[1]),
                merge_consecutive::<G2Projective>(&self.tau_g2),
            )
            && same_ratio(merge_consecutive::<G1Projective>(&self.alpha_tau_g1), tau_2)
            && same_ratio(merge_consecutive::<G1Projective>(&self.beta_tau_g1), tau_2)
            && same_ratio((g1, self.beta_tau_g1[0]), (g2, self.beta_g2));
        if !powers_ok {
            return Err(CeremonyError::Rejected(
                "the accumulator's vectors are not consecutive powers of one τ",
            ));
        }
        Ok(())
    }
}

/// A uniformly random nonzero scalar.
pub(crate) fn nonzero<R: RngCore + CryptoRng>(rng: &mut R) -> Fr {
    loop {
        let x = Fr::rand(rng);
        if !x.is_zero() {
            return x;
        }
    }
}
