//! Phase 1: powers of tau, shared by every circuit up to the accumulator's domain size.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, UniformRand, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, RngCore};

use crate::knowledge::{KnowledgeProof, hash_parts, merge_consecutive, same_ratio};
use crate::{CeremonyError, Digest, PtauOrigin, scale};

/// The largest accumulator: domains of `2^MAX_POWER` (BN254's scalar field has 2-adicity 28).
pub const MAX_POWER: u32 = 24;

/// Powers of tau for domains of size `m = 2^power`, with the contributions that made them.
///
/// Holds `[τ^i]₁` for `i < 2m − 1`, `[τ^i]₂`, `[α·τ^i]₁`, `[β·τ^i]₁` for `i < m`, and `[β]₂`
/// over BN254's standard generators. A fresh accumulator has `τ = α = β = 1`; its secrets are
/// the products of every contribution's factors, and [`Accumulator::verify`] replays the
/// contributions from the generators to the powers held. An accumulator imported from a public
/// ceremony's `.ptau` file ([`Accumulator::from_ptau`]) starts from that file's powers instead,
/// and its own contributions build on them.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Accumulator {
    pub(crate) tau_g1: Vec<G1Affine>,
    pub(crate) tau_g2: Vec<G2Affine>,
    pub(crate) alpha_tau_g1: Vec<G1Affine>,
    pub(crate) beta_tau_g1: Vec<G1Affine>,
    pub(crate) beta_g2: G2Affine,
    /// Every contribution so far, in order.
    pub(crate) contributions: Vec<Phase1Contribution>,
    /// The public ceremony the powers were imported from, if any: the base the contributions
    /// start from.
    pub(crate) imported: Option<PtauOrigin>,
}

/// One participant's update: `[τ]₁`, `[α]₁`, `[β]₁` after it, and proofs of knowledge of its
/// factors `τ'`, `α'`, `β'` bound to the transcript before it (the hash chain of the
/// contributions before, which starts from the domain size).
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase1Contribution {
    /// `[τ]₁` after this contribution.
    pub tau_g1: G1Affine,
    /// `[α]₁` after this contribution.
    pub alpha_g1: G1Affine,
    /// `[β]₁` after this contribution.
    pub beta_g1: G1Affine,
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
            contributions: Vec::new(),
            imported: None,
        })
    }

    /// The domain size `m` the accumulator serves.
    pub fn size(&self) -> usize {
        self.tau_g2.len()
    }

    /// The contributions so far, in order (those of an imported file's ceremony not among
    /// them: see [`Accumulator::imported`]).
    pub fn contributions(&self) -> &[Phase1Contribution] {
        &self.contributions
    }

    /// The public ceremony the powers were imported from, if any.
    pub fn imported(&self) -> Option<&PtauOrigin> {
        self.imported.as_ref()
    }

    /// Whether anyone contributed a secret: a contribution here, or the imported ceremony's
    /// (else `τ = α = β = 1`, known to everyone).
    pub fn has_secret(&self) -> bool {
        !self.contributions.is_empty() || self.imported.is_some()
    }

    /// SHA-256 of the canonical uncompressed encoding (contributions included).
    pub fn digest(&self) -> Digest {
        hash_parts(b"zkfl-powers-of-tau-v1", &[self])
    }

    /// The transcript hash after every contribution so far: a hash of the domain size (and of
    /// the imported ceremony's [`PtauOrigin`], if any), then
    /// `SHA-256(tag ‖ transcript ‖ contribution)` per contribution (each one's receipt).
    pub fn transcript(&self) -> Digest {
        self.contributions
            .iter()
            .fold(self.start(), |t, c| next_transcript(&t, c))
    }

    /// The transcript before any contribution here.
    fn start(&self) -> Digest {
        let m = self.size() as u64;
        match &self.imported {
            None => hash_parts(b"zkfl-powers-of-tau-start-v1", &[&m]),
            Some(origin) => hash_parts(b"zkfl-powers-of-tau-imported-v1", &[&m, origin]),
        }
    }

    /// Updates the accumulator with fresh secret factors drawn from `rng`, appends the
    /// contribution that proves it, and returns the new accumulator with the contribution's
    /// receipt. The factors are dropped on return (not zeroized).
    pub fn contribute<R: RngCore + CryptoRng>(&self, rng: &mut R) -> (Self, Digest) {
        let before = self.transcript();
        let [tau, alpha, beta] = [(); 3].map(|_| nonzero(rng));
        let mut next = self.clone();
        scale::by_powers::<G1Projective>(&mut next.tau_g1, tau, Fr::ONE);
        scale::by_powers::<G2Projective>(&mut next.tau_g2, tau, Fr::ONE);
        scale::by_powers::<G1Projective>(&mut next.alpha_tau_g1, tau, alpha);
        scale::by_powers::<G1Projective>(&mut next.beta_tau_g1, tau, beta);
        next.beta_g2 = (next.beta_g2 * beta).into_affine();
        let contribution = Phase1Contribution {
            tau_g1: next.tau_g1[1],
            alpha_g1: next.alpha_tau_g1[0],
            beta_g1: next.beta_tau_g1[0],
            tau: KnowledgeProof::new(tau, b"tau", &before, rng),
            alpha: KnowledgeProof::new(alpha, b"alpha", &before, rng),
            beta: KnowledgeProof::new(beta, b"beta", &before, rng),
        };
        let receipt = next_transcript(&before, &contribution);
        next.contributions.push(contribution);
        (next, receipt)
    }

    /// Checks the whole accumulator: its contributions replayed from the generators, or from an
    /// imported ceremony's `[τ]₁`, `[α]₁`, `[β]₁` (each
    /// proves knowledge of its factors against the transcript before it, and its `[τ]₁`,
    /// `[α]₁`, `[β]₁` are the previous ones times those factors), the powers held are the last
    /// contribution's (or the generators', before any), and they are consecutive powers of one
    /// `τ` with consistent `α`, `β`. Returns every contribution's receipt, in order.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the first failed check.
    pub fn verify(&self) -> Result<Vec<Digest>, CeremonyError> {
        self.check_lengths()?;
        let g1 = G1Affine::generator();
        let (mut tau, mut alpha, mut beta) = match &self.imported {
            None => (g1, g1, g1),
            Some(origin) => (origin.tau_g1, origin.alpha_g1, origin.beta_g1),
        };
        let mut transcript = self.start();
        let mut receipts = Vec::with_capacity(self.contributions.len());
        for c in &self.contributions {
            let steps = [
                (
                    &c.tau,
                    b"tau".as_slice(),
                    tau,
                    c.tau_g1,
                    "a contribution's τ is not the one before times its proven τ'",
                ),
                (
                    &c.alpha,
                    b"alpha".as_slice(),
                    alpha,
                    c.alpha_g1,
                    "a contribution's α is not the one before times its proven α'",
                ),
                (
                    &c.beta,
                    b"beta".as_slice(),
                    beta,
                    c.beta_g1,
                    "a contribution's β is not the one before times its proven β'",
                ),
            ];
            for (proof, tag, before, after, failure) in steps {
                let (r, r_x) = proof.check(tag, &transcript)?;
                if after.is_zero() || !same_ratio((before, after), (r, r_x)) {
                    return Err(CeremonyError::Rejected(failure));
                }
            }
            (tau, alpha, beta) = (c.tau_g1, c.alpha_g1, c.beta_g1);
            transcript = next_transcript(&transcript, c);
            receipts.push(transcript);
        }
        if (self.tau_g1[1], self.alpha_tau_g1[0], self.beta_tau_g1[0]) != (tau, alpha, beta) {
            return Err(CeremonyError::Rejected(
                "the powers held are not the last contribution's",
            ));
        }
        self.check_well_formed()?;
        Ok(receipts)
    }

    /// Checks that `next` is this accumulator updated by exactly one more contribution, and
    /// all of `next` (see [`Accumulator::verify`]); returns every receipt of `next`, the new
    /// contribution's last, which each participant compares with the one it was given.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the first failed check.
    pub fn verify_contribution(&self, next: &Self) -> Result<Vec<Digest>, CeremonyError> {
        let n = self.contributions.len();
        if next.size() != self.size()
            || next.imported != self.imported
            || next.contributions.len() != n + 1
            || next.contributions[..n] != self.contributions
        {
            return Err(CeremonyError::Rejected(
                "the updated accumulator is not this one's history plus one contribution",
            ));
        }
        next.verify()
    }

    /// The vectors' lengths fit one domain size `m ≥ 2`.
    pub(crate) fn check_lengths(&self) -> Result<(), CeremonyError> {
        let m = self.size();
        let fits = m >= 2
            && m.is_power_of_two()
            && self.tau_g1.len() == 2 * m - 1
            && self.alpha_tau_g1.len() == m
            && self.beta_tau_g1.len() == m;
        if fits {
            Ok(())
        } else {
            Err(CeremonyError::Rejected(
                "the accumulator's vectors have wrong lengths",
            ))
        }
    }

    /// Checks that the accumulator's vectors are consecutive powers of one `τ` with
    /// consistent `α`, `β`, over the standard generators, with no point at infinity.
    fn check_well_formed(&self) -> Result<(), CeremonyError> {
        self.check_lengths()?;
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

/// The transcript after `contribution`: its receipt.
fn next_transcript(transcript: &Digest, contribution: &Phase1Contribution) -> Digest {
    hash_parts(
        b"zkfl-powers-of-tau-contribution-v1",
        &[transcript, contribution],
    )
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
