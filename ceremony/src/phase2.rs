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

use crate::knowledge::{KnowledgeProof, hash_parts, merge_pairwise, random_scalars, same_ratio};
use crate::phase1::nonzero;
use crate::scale::{self, Glv};
use crate::{Accumulator, CeremonyError, Digest, LagrangeBasis};

/// A circuit's Groth16 key in the making: the key as it stands, the hash of the key phase 1
/// gave (`δ = 1`), and every δ contribution so far, in order.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Parameters {
    pub(crate) key: ProvingKey<Bn254>,
    pub(crate) cs_hash: Digest,
    pub(crate) contributions: Vec<Phase2Contribution>,
}

/// One participant's δ update: the new `[δ]₁`, `[δ]₂` and a proof of knowledge of
/// `δ' = δ_new / δ_old` bound to the transcript before it (448 bytes uncompressed).
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase2Contribution {
    /// `[δ]₁` after this contribution.
    pub delta_after: G1Affine,
    /// `[δ]₂` after this contribution.
    pub delta_after_g2: G2Affine,
    /// Knowledge of `δ'`.
    pub proof: KnowledgeProof,
}

/// What a ledger keeps of a phase-2 ceremony, without the key: the transcript hash, the number
/// of contributions and the current δ in both groups. Accepting each contribution in order
/// costs three pairing checks (its points must have been read with validation, as
/// [`CeremonyFile`](crate::CeremonyFile) and canonical decoding do), and the verifying key the
/// ceremony ends with follows from the start key (`δ = 1`) and δ. What a ledger cannot check
/// this way (the `H` and `L` queries) only makes honest proofs fail to verify, and
/// [`Parameters::verify`] checks it before anyone contributes or proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Transcript {
    /// `cs_hash`, then the receipt of the last accepted contribution.
    pub hash: Digest,
    /// Contributions accepted.
    pub contributions: u64,
    /// `[δ]₁` so far.
    pub delta_g1: G1Affine,
    /// `[δ]₂` so far.
    pub delta_g2: G2Affine,
}

impl Transcript {
    /// The transcript of parameters with hash `cs_hash` before any contribution (`δ = 1`).
    pub fn start(cs_hash: Digest) -> Self {
        Self {
            hash: cs_hash,
            contributions: 0,
            delta_g1: G1Affine::generator(),
            delta_g2: G2Affine::generator(),
        }
    }

    /// Accepts `contribution` if it proves knowledge of its factor against this transcript
    /// and its δ, in both groups, is this δ times that factor; returns its receipt
    /// `SHA-256(tag ‖ transcript ‖ contribution)`, the new transcript hash.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the failed check; the transcript is then
    /// unchanged.
    pub fn accept(&mut self, contribution: &Phase2Contribution) -> Result<Digest, CeremonyError> {
        let (r, r_delta) = contribution.proof.check(b"delta", &self.hash)?;
        let (after, after_g2) = (contribution.delta_after, contribution.delta_after_g2);
        if after.is_zero() || !same_ratio((self.delta_g1, after), (r, r_delta)) {
            return Err(CeremonyError::Rejected(
                "a contribution's δ is not the one before times its proven factor",
            ));
        }
        if !same_ratio(
            (G1Affine::generator(), after),
            (G2Affine::generator(), after_g2),
        ) {
            return Err(CeremonyError::Rejected(
                "a contribution's δ in G2 is not its δ in G1",
            ));
        }
        self.hash = next_transcript(&self.hash, contribution);
        (self.delta_g1, self.delta_g2) = (after, after_g2);
        self.contributions += 1;
        Ok(self.hash)
    }

    /// The verifying key the ceremony ends with: `start` (the verifying key phase 1 gives,
    /// `δ = 1`) with this δ.
    ///
    /// Errors: [`CeremonyError::Rejected`] before any contribution (with `δ = γ = 1` anyone
    /// can forge a proof).
    pub fn verifying_key(
        &self,
        start: &VerifyingKey<Bn254>,
    ) -> Result<VerifyingKey<Bn254>, CeremonyError> {
        if self.contributions == 0 {
            return Err(CeremonyError::Rejected(
                "a key without a δ contribution lets anyone forge proofs",
            ));
        }
        Ok(VerifyingKey {
            delta_g2: self.delta_g2,
            ..start.clone()
        })
    }
}

/// Whether `vk` is a verifying key as phase 1 gives it, before any δ contribution (`γ = δ = 1`):
/// what a task posts, and [`Transcript::verifying_key`] completes.
pub fn is_start_key(vk: &VerifyingKey<Bn254>) -> bool {
    vk.gamma_g2 == G2Affine::generator() && vk.delta_g2 == G2Affine::generator()
}

/// A circuit's R1CS as phase 2 reads it: for each variable (public inputs first, the constant
/// one at 0), its `(row, coefficient)` terms in A, B and C. The public inputs get one extra row
/// each in A (`x_i · 0 = 0`, as `ark_groth16`'s `LibsnarkReduction` adds), which makes the
/// queries independent.
struct R1cs {
    columns: Vec<[Vec<(usize, Fr)>; 3]>,
    instances: usize,
    /// The QAP domain size `m`: constraints plus public inputs, to a power of two.
    domain: usize,
}

impl R1cs {
    fn synthesize<C: ConstraintSynthesizer<Fr>>(
        circuit: C,
        basis: &LagrangeBasis,
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
        let domain = GeneralEvaluationDomain::<Fr>::new(constraints + instances)
            .ok_or(CeremonyError::Synthesis(
                SynthesisError::PolynomialDegreeTooLarge,
            ))?
            .size();
        if domain != basis.size() {
            return Err(CeremonyError::WrongBasis {
                needed: domain,
                basis: basis.size(),
            });
        }
        let matrices = cs.to_matrices().map_err(CeremonyError::Synthesis)?;
        let r1cs = matrices
            .get(R1CS_PREDICATE_LABEL)
            .ok_or(CeremonyError::Synthesis(SynthesisError::MissingCS))?;
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
        Ok(Self {
            columns,
            instances,
            domain,
        })
    }

    /// What the parameters are of: the basis (hence phase 1 and the domain) and the columns.
    fn cs_hash(&self, basis: &LagrangeBasis) -> Digest {
        hash_parts(
            b"zkfl-groth16-phase2-v1",
            &[
                &basis.phase1,
                &(self.domain as u64),
                &(self.instances as u64),
                &self.columns,
            ],
        )
    }

    /// `Σ_j ρ_j·M_{r,j}` for each row `r` of matrix `k` (A, B or C), and `ρ`'s length.
    fn row_scalars(&self, k: usize, rho: &[Fr]) -> Vec<Fr> {
        let mut rows = vec![Fr::zero(); self.domain];
        for (column, r) in self.columns.iter().zip(rho) {
            for &(row, c) in &column[k] {
                rows[row] += c * r;
            }
        }
        rows
    }
}

impl Parameters {
    /// The key of `circuit` before any δ contribution: `γ = δ = 1`, queries as in
    /// `ark_groth16`'s generator with `LibsnarkReduction`, each computed in the exponent from a
    /// (checked) Lagrange basis of phase 1: one scalar multiplication per nonzero of the R1CS,
    /// so one party (the coordinator) makes it and the others check it with
    /// [`Parameters::verify`] at the cost of a few multi-scalar multiplications.
    ///
    /// Errors: [`CeremonyError::Synthesis`] if the circuit does not synthesize,
    /// [`CeremonyError::WrongBasis`] if the basis is for another domain size than the
    /// circuit's (constraints plus public inputs, to a power of two).
    pub fn new<C: ConstraintSynthesizer<Fr>>(
        basis: &LagrangeBasis,
        circuit: C,
    ) -> Result<Self, CeremonyError> {
        let r1cs = R1cs::synthesize(circuit, basis)?;
        let (columns, instances) = (&r1cs.columns, r1cs.instances);
        let (l_g1, l_g2) = (&basis.l_g1, &basis.l_g2);
        let (l_alpha, l_beta) = (&basis.l_alpha_g1, &basis.l_beta_g1);
        let query = |[a, b, c]: &[Vec<(usize, Fr)>; 3]| {
            let a_g1 = combine::<G1Projective>(l_g1, a);
            let b_g1 = combine::<G1Projective>(l_g1, b);
            let b_g2 = combine::<G2Projective>(l_g2, b);
            // [β·u_j(τ) + α·v_j(τ) + w_j(τ)]₁
            let abc = combine::<G1Projective>(l_beta, a)
                + combine::<G1Projective>(l_alpha, b)
                + combine::<G1Projective>(l_g1, c);
            (a_g1, b_g1, b_g2, abc)
        };
        // Short columns in parallel, long ones (parallel multi-scalar multiplications) one at a
        // time: nesting rayon's blocking joins a hundred thousand deep overflows its stacks.
        let is_long = |column: &[Vec<(usize, Fr)>; 3]| column.iter().any(|t| t.len() > LONG);
        let mut queries: Vec<_> = columns
            .par_iter()
            .map(|column| (!is_long(column)).then(|| query(column)))
            .collect();
        for (q, column) in queries.iter_mut().zip(columns) {
            if q.is_none() {
                *q = Some(query(column));
            }
        }
        let queries: Vec<_> = queries.into_iter().flatten().collect();
        let a_query =
            G1Projective::normalize_batch(&queries.iter().map(|q| q.0).collect::<Vec<_>>());
        let b_g1_query =
            G1Projective::normalize_batch(&queries.iter().map(|q| q.1).collect::<Vec<_>>());
        let b_g2_query =
            G2Projective::normalize_batch(&queries.iter().map(|q| q.2).collect::<Vec<_>>());
        let mut abc =
            G1Projective::normalize_batch(&queries.iter().map(|q| q.3).collect::<Vec<_>>());
        let l_query = abc.split_off(instances);
        let key = ProvingKey {
            vk: VerifyingKey {
                alpha_g1: basis.alpha_g1,
                beta_g2: basis.beta_g2,
                gamma_g2: G2Affine::generator(),
                delta_g2: G2Affine::generator(),
                gamma_abc_g1: abc,
            },
            beta_g1: basis.beta_g1,
            delta_g1: G1Affine::generator(),
            a_query,
            b_g1_query,
            b_g2_query,
            h_query: basis.h_g1.clone(),
            l_query,
        };
        let cs_hash = r1cs.cs_hash(basis);
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

    /// The verifying key before any contribution (`δ = 1`): what the coordinator posts, and
    /// what [`Transcript::verifying_key`] turns into the final key.
    pub fn start_verifying_key(&self) -> VerifyingKey<Bn254> {
        VerifyingKey {
            delta_g2: G2Affine::generator(),
            ..self.key.vk.clone()
        }
    }

    /// The ledger's view of these parameters: the transcript hash, the contribution count and
    /// δ in both groups.
    pub fn ledger_transcript(&self) -> Transcript {
        Transcript {
            hash: self.transcript(),
            contributions: self.contributions.len() as u64,
            delta_g1: self.key.delta_g1,
            delta_g2: self.key.vk.delta_g2,
        }
    }

    /// The δ contributions so far, in order.
    pub fn contributions(&self) -> &[Phase2Contribution] {
        &self.contributions
    }

    /// The hash of the key phase 1 gave, before any contribution.
    pub fn cs_hash(&self) -> Digest {
        self.cs_hash
    }

    /// The transcript hash after every contribution so far: `cs_hash`, then each
    /// contribution's receipt in turn. After a contribution it is that contribution's receipt.
    pub fn transcript(&self) -> Digest {
        self.contributions
            .iter()
            .fold(self.cs_hash, |t, c| next_transcript(&t, c))
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
        scale::by_constant::<G1Projective>(&mut next.key.h_query, inverse);
        scale::by_constant::<G1Projective>(&mut next.key.l_query, inverse);
        next.contributions.push(Phase2Contribution {
            delta_after: next.key.delta_g1,
            delta_after_g2: next.key.vk.delta_g2,
            proof,
        });
        let receipt = next.transcript();
        (next, receipt)
    }

    /// Checks the parameters against the circuit and the Lagrange basis of `phase1` (which the
    /// caller has checked with [`Accumulator::verify`]; the basis is checked against it here),
    /// without recomputing the start key: they were made for this circuit and basis
    /// (`cs_hash`); the
    /// elements that do not depend on δ are the basis's (`α`, `β`, `γ = 1`, and, by random
    /// linear combinations over the variables, `Σ ρ_j·a_j = Σ_r (ρ·A)_r·[L_r(τ)]` and likewise
    /// for the B queries and the `βu + αv + w` combinations); each contribution proves
    /// knowledge of its factor and chains from the one before; the key's δ is the last one's;
    /// and the `H` and `L` queries are the start's divided by δ. A wrong element passes with
    /// probability about `1/|Fr|`; a transcript without contributions is refused. Returns
    /// every contribution's receipt, in order.
    ///
    /// Errors: [`CeremonyError::Rejected`] naming the first failed check,
    /// [`CeremonyError::Synthesis`] or [`CeremonyError::WrongBasis`] as for
    /// [`Parameters::new`].
    pub fn verify<C: ConstraintSynthesizer<Fr>>(
        &self,
        phase1: &Accumulator,
        basis: &LagrangeBasis,
        circuit: C,
    ) -> Result<Vec<Digest>, CeremonyError> {
        basis.check(phase1)?;
        let r1cs = R1cs::synthesize(circuit, basis)?;
        let k = &self.key;
        if self.cs_hash != r1cs.cs_hash(basis) {
            return Err(CeremonyError::Rejected(
                "the parameters were made for another circuit or phase 1",
            ));
        }
        let (variables, instances, m) = (r1cs.columns.len(), r1cs.instances, r1cs.domain);
        let g2 = G2Affine::generator();
        let shaped = k.a_query.len() == variables
            && k.b_g1_query.len() == variables
            && k.b_g2_query.len() == variables
            && k.vk.gamma_abc_g1.len() == instances
            && k.l_query.len() == variables - instances
            && k.h_query.len() == m - 1;
        let fixed = k.vk.alpha_g1 == basis.alpha_g1
            && k.beta_g1 == basis.beta_g1
            && k.vk.beta_g2 == basis.beta_g2
            && k.vk.gamma_g2 == g2;
        if !(shaped && fixed) {
            return Err(CeremonyError::Rejected(
                "an element that does not depend on δ is not the basis's",
            ));
        }
        if self.contributions.is_empty() {
            return Err(CeremonyError::Rejected(
                "a key without a δ contribution lets anyone forge proofs",
            ));
        }
        let mut transcript = Transcript::start(self.cs_hash);
        let receipts = self
            .contributions
            .iter()
            .map(|c| transcript.accept(c))
            .collect::<Result<Vec<_>, _>>()?;
        if k.delta_g1 != transcript.delta_g1 || k.vk.delta_g2 != transcript.delta_g2 {
            return Err(CeremonyError::Rejected(
                "the key's δ is not the last contribution's",
            ));
        }

        let rho = random_scalars(variables);
        let [ra, rb, rc] = [0, 1, 2].map(|k| r1cs.row_scalars(k, &rho));
        let msm1 = |bases: &[G1Affine], scalars: &[Fr]| G1Projective::msm_unchecked(bases, scalars);
        let queries_ok = msm1(&k.a_query, &rho) == msm1(&basis.l_g1, &ra)
            && msm1(&k.b_g1_query, &rho) == msm1(&basis.l_g1, &rb)
            && G2Projective::msm_unchecked(&k.b_g2_query, &rho)
                == G2Projective::msm_unchecked(&basis.l_g2, &rb);
        if !queries_ok {
            return Err(CeremonyError::Rejected(
                "the A or B queries are not the circuit's over the basis",
            ));
        }
        // Σ ρ_j·(βu_j + αv_j + w_j) over all variables = γ_abc part + δ·(L part).
        let all =
            msm1(&basis.l_beta_g1, &ra) + msm1(&basis.l_alpha_g1, &rb) + msm1(&basis.l_g1, &rc);
        let public = msm1(&k.vk.gamma_abc_g1, &rho[..instances]);
        let private = msm1(&k.l_query, &rho[instances..]);
        if !same_ratio(
            ((all - public).into_affine(), private.into_affine()),
            (k.vk.delta_g2, g2),
        ) {
            return Err(CeremonyError::Rejected(
                "the public-input or L query is not the circuit's over the basis divided by δ",
            ));
        }
        if !same_ratio(merge_pairwise(&basis.h_g1, &k.h_query), (k.vk.delta_g2, g2)) {
            return Err(CeremonyError::Rejected(
                "the H query is not the basis's divided by δ",
            ));
        }
        Ok(receipts)
    }
}

/// The transcript after `contribution`: its receipt.
fn next_transcript(transcript: &Digest, contribution: &Phase2Contribution) -> Digest {
    hash_parts(
        b"zkfl-groth16-phase2-contribution-v1",
        &[transcript, contribution],
    )
}

/// Columns longer than this are summed by a multi-scalar multiplication.
const LONG: usize = 32;

/// `Σ c·bases[row]` over a column's `(row, c)` terms: a multi-scalar multiplication for long
/// columns, otherwise one multiplication per term (additions for ±1).
fn combine<G>(bases: &[G::Affine], terms: &[(usize, Fr)]) -> G
where
    G: Glv + VariableBaseMSM<MulBase = <G as CurveGroup>::Affine>,
{
    if terms.len() > LONG {
        let points: Vec<G::Affine> = terms.iter().map(|&(row, _)| bases[row]).collect();
        let scalars: Vec<Fr> = terms.iter().map(|&(_, c)| c).collect();
        return G::msm_unchecked(&points, &scalars);
    }
    terms
        .iter()
        .map(|&(row, c)| scale::by_coefficient::<G>(bases[row], c))
        .sum()
}
