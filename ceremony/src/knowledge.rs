//! Proofs of knowledge of a contribution's factor, and the same-ratio checks (BGM17 §3.2).

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{UniformRand, Zero};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

use crate::{CeremonyError, Digest};

/// A proof that its maker knows `x` with `s_x = x·s` (and `r_x = x·r`), bound to a transcript.
///
/// `r = hash_to_G2(tag, transcript, s, s_x)` is a point nobody knows the discrete log of, so
/// `r_x` can only be made by someone who knows `x`; the check is `e(s, r_x) = e(s_x, r)`.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct KnowledgeProof {
    /// A random point of G1.
    pub s: G1Affine,
    /// `x·s`.
    pub s_x: G1Affine,
    /// `x·r`, where `r` is hashed from the transcript, `s` and `s_x`.
    pub r_x: G2Affine,
}

impl KnowledgeProof {
    /// Proves knowledge of `x` for the contribution tagged `tag` after `transcript`.
    pub(crate) fn new<R: RngCore + CryptoRng>(
        x: Fr,
        tag: &[u8],
        transcript: &Digest,
        rng: &mut R,
    ) -> Self {
        let s = G1Projective::rand(rng).into_affine();
        let s_x = (s * x).into_affine();
        let r = hash_to_g2(tag, transcript, &s, &s_x);
        let r_x = (r * x).into_affine();
        Self { s, s_x, r_x }
    }

    /// Checks the proof and returns `(r, r_x)`, the pair whose ratio is the proven factor.
    pub(crate) fn check(
        &self,
        tag: &[u8],
        transcript: &Digest,
    ) -> Result<(G2Affine, G2Affine), CeremonyError> {
        if self.s.is_zero() || self.s_x.is_zero() || self.r_x.is_zero() {
            return Err(CeremonyError::Rejected(
                "a proof of knowledge has a point at infinity",
            ));
        }
        let r = hash_to_g2(tag, transcript, &self.s, &self.s_x);
        if !same_ratio((self.s, self.s_x), (r, self.r_x)) {
            return Err(CeremonyError::Rejected(
                "a proof of knowledge does not check against its transcript",
            ));
        }
        Ok((r, self.r_x))
    }
}

/// A point of G2 derived from `tag`, `transcript` and two G1 points, with unknown discrete
/// logarithm: SHA-256 seeds ChaCha20, which samples an `x` coordinate until it is on the curve,
/// then the cofactor is cleared (arkworks' `UniformRand` for G2).
fn hash_to_g2(tag: &[u8], transcript: &Digest, s: &G1Affine, s_x: &G1Affine) -> G2Affine {
    let mut h = Sha256::new();
    h.update(b"zkfl-ceremony-hash-to-g2-v1");
    h.update((tag.len() as u64).to_le_bytes());
    h.update(tag);
    h.update(transcript);
    s.hash_into(&mut h);
    s_x.hash_into(&mut h);
    let mut rng = ChaCha20Rng::from_seed(h.finalize().into());
    G2Projective::rand(&mut rng).into_affine()
}

/// `e(g1.0, g2.1) = e(g1.1, g2.0)`: the ratio `g1.1 / g1.0` equals `g2.1 / g2.0`.
pub(crate) fn same_ratio(g1: (G1Affine, G1Affine), g2: (G2Affine, G2Affine)) -> bool {
    let lhs = Bn254::multi_pairing([g1.0, (-g1.1.into_group()).into_affine()], [g2.1, g2.0]);
    lhs.is_zero()
}

/// A random linear combination of consecutive pairs of `points`:
/// `(Σ ρ_i·p_i, Σ ρ_i·p_{i+1})` for `i < len − 1` with fresh random `ρ_i`, so one same-ratio
/// check covers every pair (a broken pair passes with probability about `1/|Fr|`).
pub(crate) fn merge_consecutive<G>(points: &[G::Affine]) -> (G::Affine, G::Affine)
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM<MulBase = <G as CurveGroup>::Affine>,
{
    let n = points.len().saturating_sub(1);
    let rho = random_scalars(n);
    let a = G::msm_unchecked(&points[..n], &rho);
    let b = G::msm_unchecked(&points[1..=n], &rho);
    (a.into_affine(), b.into_affine())
}

/// The same random linear combination of two equally long vectors: `(Σ ρ_i·a_i, Σ ρ_i·b_i)`.
pub(crate) fn merge_pairwise(a: &[G1Affine], b: &[G1Affine]) -> (G1Affine, G1Affine) {
    let rho = random_scalars(a.len());
    let x = G1Projective::msm_unchecked(a, &rho);
    let y = G1Projective::msm_unchecked(b, &rho);
    (x.into_affine(), y.into_affine())
}

/// Verifier's randomness: fresh from the operating system, never from the contributor.
pub(crate) fn random_scalars(n: usize) -> Vec<Fr> {
    let mut rng = ChaCha20Rng::from_entropy();
    (0..n).map(|_| Fr::rand(&mut rng)).collect()
}

/// SHA-256 of a domain tag and the canonical encodings of `parts`.
pub(crate) fn hash_parts(tag: &[u8], parts: &[&dyn Hashable]) -> Digest {
    let mut h = Sha256::new();
    h.update(tag);
    for part in parts {
        part.hash_into(&mut h);
    }
    h.finalize().into()
}

/// Something a transcript hash covers.
pub(crate) trait Hashable {
    fn hash_into(&self, h: &mut Sha256);
}

impl<T: CanonicalSerialize> Hashable for T {
    fn hash_into(&self, h: &mut Sha256) {
        self.serialize_uncompressed(HashWriter(h))
            .expect("hashing cannot fail");
    }
}

/// Streams an encoding into a hash without holding it in memory.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
