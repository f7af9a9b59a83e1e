//! Phase 2: one circuit's Groth16 key from the powers of tau, and its δ contributions.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, One, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, R1CS_PREDICATE_LABEL,
    SynthesisError, SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rand::{CryptoRng, RngCore};
use rayon::prelude::*;

use crate::knowledge::{KnowledgeProof, hash_parts, merge_pairwise, same_ratio};
use crate::phase1::nonzero;
use crate::{Accumulator, CeremonyError, Digest, scale};

/// A circuit's Groth16 key in the making: the key as it stands, the hash of the key phase 1
/// gave (`δ = 1`), and every δ contribution so far, in order.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Parameters {
    pub(crate) key: ProvingKey<Bn254>,
    pub(crate) cs_hash: Digest,
    pub(crate) contributions: Vec<Phase2Contribution>,
}

/// One participant's δ update: the new `[δ]₁` and a proof of knowledge of `δ' = δ_new / δ_old`
/// bound to the transcript before it.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase2Contribution {
    /// `[δ]₁` after this contribution.
    pub delta_after: G1Affine,
    /// Knowledge of `δ'`.
    pub proof: KnowledgeProof,
}

impl Parameters {
    /// The key of `circuit` from `phase1` before any δ contribution: `γ = δ = 1`, queries as
    /// in `ark_groth16`'s generator with `LibsnarkReduction`, each computed in the exponent
    /// from the Lagrange basis `[L_j(τ)] = IFFT([τ^i])` (BGM17 §3.3). Deterministic: every
    /// participant recomputes it to check a transcript.
    ///
    /// Errors: [`CeremonyError::Synthesis`] if the circuit does not synthesize,
    /// [`CeremonyError::TooSmall`] if its domain exceeds the accumulator's.
    pub fn new<C: ConstraintSynthesizer<Fr>>(
        phase1: &Accumulator,
        circuit: C,
    ) -> Result<Self, CeremonyError> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        circuit
            .generate_constraints(cs.clone())
            .map_err(CeremonyError::Synthesis)?;
        cs.finalize();
        let constraints = cs.num_constraints();
        let instances = cs.num_instance_variables();
        let variables = instances + cs.num_witness_variables();
        let domain = GeneralEvaluationDomain::<Fr>::new(constraints + instances).ok_or(
            CeremonyError::Synthesis(SynthesisError::PolynomialDegreeTooLarge),
        )?;
        let m = domain.size();
        if m > phase1.size() {
            return Err(CeremonyError::TooSmall {
                needed: m,
                available: phase1.size(),
            });
        }
        let matrices = cs.to_matrices().map_err(CeremonyError::Synthesis)?;
        let r1cs = matrices
            .get(R1CS_PREDICATE_LABEL)
            .ok_or(CeremonyError::Synthesis(SynthesisError::MissingCS))?;

        // Column j of A, B, C: the (row, coefficient) pairs of variable j. The public inputs
        // get one extra row each in A (`x_i · 0 = 0`), which makes the queries independent.
        let mut columns = vec![[Vec::new(), Vec::new(), Vec::new()]; variables];
        for (k, matrix) in r1cs.iter().enumerate() {
            for (row, terms) in matrix.iter().enumerate() {
                for &(coefficient, variable) in terms {
                    columns[variable][k].push((row, coefficient));
                }
            }
        }
        for (i, column) in columns.iter_mut().take(instances).enumerate() {
            column[0].push((constraints + i, Fr::one()));
        }

        let l_g1 = lagrange::<G1Projective>(&domain, &phase1.tau_g1[..m]);
        let l_g2 = lagrange::<G2Projective>(&domain, &phase1.tau_g2[..m]);
        let l_alpha = lagrange::<G1Projective>(&domain, &phase1.alpha_tau_g1[..m]);
        let l_beta = lagrange::<G1Projective>(&domain, &phase1.beta_tau_g1[..m]);
        let queries: Vec<_> = columns
            .par_iter()
            .map(|[a, b, c]| {
                let a_g1 = combine::<G1Projective>(&l_g1, a);
                let b_g1 = combine::<G1Projective>(&l_g1, b);
                let b_g2 = combine::<G2Projective>(&l_g2, b);
                // [β·u_j(τ) + α·v_j(τ) + w_j(τ)]₁
                let abc = combine::<G1Projective>(&l_beta, a)
                    + combine::<G1Projective>(&l_alpha, b)
                    + combine::<G1Projective>(&l_g1, c);
                (a_g1, b_g1, b_g2, abc)
            })
            .collect();
        let a_query =
            G1Projective::normalize_batch(&queries.iter().map(|q| q.0).collect::<Vec<_>>());
        let b_g1_query =
            G1Projective::normalize_batch(&queries.iter().map(|q| q.1).collect::<Vec<_>>());
        let b_g2_query =
            G2Projective::normalize_batch(&queries.iter().map(|q| q.2).collect::<Vec<_>>());
        let mut abc =
            G1Projective::normalize_batch(&queries.iter().map(|q| q.3).collect::<Vec<_>>());
        let l_query = abc.split_off(instances);
        // [τ^i·t(τ)]₁ = [τ^{i+m}]₁ − [τ^i]₁ for i < m − 1 (t(x) = x^m − 1).
        let tau = &phase1.tau_g1;
        let h: Vec<G1Projective> = (0..m - 1)
            .into_par_iter()
            .map(|i| tau[i + m].into_group() - tau[i])
            .collect();
        let key = ProvingKey {
            vk: VerifyingKey {
                alpha_g1: phase1.alpha_tau_g1[0],
                beta_g2: phase1.beta_g2,
                gamma_g2: G2Affine::generator(),
                delta_g2: G2Affine::generator(),
                gamma_abc_g1: abc,
            },
            beta_g1: phase1.beta_tau_g1[0],
            delta_g1: G1Affine::generator(),
            a_query,
            b_g1_query,
            b_g2_query,
            h_query: G1Projective::normalize_batch(&h),
            l_query,
        };
        let cs_hash = hash_parts(b"zkfl-groth16-phase2-v1", &[&key]);
        Ok(Self {
            key,
            cs_hash,
            contributions: Vec::new(),
        })
    }

    /// The Groth16 proving key as it stands (its `vk` is the verifying key).
    pub fn proving_key(&self) -> &ProvingKey<Bn254> {
        &self.key
    }

    /// The δ contributions so far, in order.
    pub fn contributions(&self) -> &[Phase2Contribution] {
        &self.contributions
    }

    /// The hash of the key phase 1 gave, before any contribution.
    pub fn cs_hash(&self) -> Digest {
        self.cs_hash
    }

    /// The transcript after every contribution so far: `cs_hash`, then
    /// `SHA-256(tag ‖ transcript ‖ contribution)` per contribution. After a contribution it is
    /// that contribution's receipt.
    pub fn transcript(&self) -> Digest {
        self.receipts().last().copied().unwrap_or(self.cs_hash)
    }

    fn receipts(&self) -> Vec<Digest> {
        let mut t = self.cs_hash;
        self.contributions
            .iter()
            .map(|c| {
                t = hash_parts(b"zkfl-groth16-phase2-contribution-v1", &[&t, c]);
                t
            })
            .collect()
    }

    /// Multiplies δ by a fresh secret factor drawn from `rng` and appends the proof; returns the
    /// new parameters and the contribution's receipt. The factor is dropped on return.
    pub fn contribute<R: RngCore + CryptoRng>(&self, rng: &mut R) -> (Self, Digest) {
        let delta = nonzero(rng);
        let proof = KnowledgeProof::new(delta, b"delta", &self.transcript(), rng);
        let mut next = self.clone();
        next.key.delta_g1 = (next.key.delta_g1 * delta).into_affine();
        next.key.vk.delta_g2 = (next.key.vk.delta_g2 * delta).into_affine();
        let inverse = delta.inverse().expect("a nonzero scalar is invertible");
        scale::by_constant(&mut next.key.h_query, inverse);
        scale::by_constant(&mut next.key.l_query, inverse);
        next.contributions.push(Phase2Contribution {
            delta_after: next.key.delta_g1,
            proof,
        });
        let receipt = next.transcript();
        (next, receipt)
    }

    /// Checks the whole transcript against `initial` (what [`Parameters::new`] gives for the
    /// same phase 1 and circuit): every element that does not depend on δ is unchanged, each
    /// contribution proves knowledge of its factor and chains from the one before, the key's δ
    /// is the last one's, and the `H` and `L` queries are the initial ones divided by δ.
    /// Returns every contribution's receipt, in order.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the first failed check.
    pub fn verify(&self, initial: &Self) -> Result<Vec<Digest>, CeremonyError> {
        let (k, k0) = (&self.key, &initial.key);
        if !initial.contributions.is_empty()
            || initial.cs_hash != hash_parts(b"zkfl-groth16-phase2-v1", &[k0])
        {
            return Err(CeremonyError::Rejected(
                "the reference is not the key phase 1 gives",
            ));
        }
        if self.cs_hash != initial.cs_hash {
            return Err(CeremonyError::Rejected(
                "the parameters were made for another circuit or phase 1",
            ));
        }
        let unchanged = k.vk.alpha_g1 == k0.vk.alpha_g1
            && k.vk.beta_g2 == k0.vk.beta_g2
            && k.vk.gamma_g2 == k0.vk.gamma_g2
            && k.vk.gamma_abc_g1 == k0.vk.gamma_abc_g1
            && k.beta_g1 == k0.beta_g1
            && k.a_query == k0.a_query
            && k.b_g1_query == k0.b_g1_query
            && k.b_g2_query == k0.b_g2_query
            && k.h_query.len() == k0.h_query.len()
            && k.l_query.len() == k0.l_query.len();
        if !unchanged {
            return Err(CeremonyError::Rejected(
                "an element that does not depend on δ was changed",
            ));
        }
        let mut transcript = self.cs_hash;
        let mut delta = G1Affine::generator();
        let mut receipts = Vec::with_capacity(self.contributions.len());
        for c in &self.contributions {
            let (r, r_delta) = c.proof.check(b"delta", &transcript)?;
            if c.delta_after.is_zero() || !same_ratio((delta, c.delta_after), (r, r_delta)) {
                return Err(CeremonyError::Rejected(
                    "a contribution's δ is not the one before times its proven factor",
                ));
            }
            delta = c.delta_after;
            transcript = hash_parts(b"zkfl-groth16-phase2-contribution-v1", &[&transcript, c]);
            receipts.push(transcript);
        }
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        if k.delta_g1 != delta || !same_ratio((g1, k.delta_g1), (g2, k.vk.delta_g2)) {
            return Err(CeremonyError::Rejected(
                "the key's δ is not the last contribution's",
            ));
        }
        for (now, then, failure) in [
            (
                &k.h_query,
                &k0.h_query,
                "the H query is not the initial one divided by δ",
            ),
            (
                &k.l_query,
                &k0.l_query,
                "the L query is not the initial one divided by δ",
            ),
        ] {
            if !same_ratio(merge_pairwise(then, now), (k.vk.delta_g2, g2)) {
                return Err(CeremonyError::Rejected(failure));
            }
        }
        Ok(receipts)
    }
}

/// `[L_j(τ)]` for `j < m` from `[τ^i]` for `i < m`: `L_j(τ) = (1/m)·Σ_i ω^{−ij}·τ^i`, an
/// inverse FFT over the group.
fn lagrange<G>(domain: &GeneralEvaluationDomain<Fr>, powers: &[G::Affine]) -> Vec<G::Affine>
where
    G: CurveGroup<ScalarField = Fr>,
{
    let mut points: Vec<G> = powers.par_iter().map(|p| p.into_group()).collect();
    domain.ifft_in_place(&mut points);
    G::normalize_batch(&points)
}

/// `Σ c·bases[row]` over a column's `(row, c)` terms: a multi-scalar multiplication for long
/// columns, additions for the unit coefficients R1CS is full of.
fn combine<G>(bases: &[G::Affine], terms: &[(usize, Fr)]) -> G
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM<MulBase = <G as CurveGroup>::Affine>,
{
    if terms.len() > 32 {
        let points: Vec<G::Affine> = terms.iter().map(|&(row, _)| bases[row]).collect();
        let scalars: Vec<Fr> = terms.iter().map(|&(_, c)| c).collect();
        return G::msm_unchecked(&points, &scalars);
    }
    let minus_one = -Fr::one();
    terms.iter().fold(G::zero(), |sum, &(row, c)| {
        let p = bases[row];
        if c.is_one() {
            sum + p
        } else if c == minus_one {
            sum - p
        } else if c.is_zero() {
            sum
        } else {
            sum + p * c
        }
    })
}
