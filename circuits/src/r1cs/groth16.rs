//! Groth16 over BN254 for compiled programs: keys, proofs, single and batch verification.
//!
//! A proof's statement is the program's public inputs in [`Program::public`] order. Single
//! verification checks `e(A, B) = e(α, β) · e(IC(x), γ) · e(C, δ)` with
//! `IC(x) = γ_abc[0] + Σ x_j · γ_abc[j + 1]`. Batch verification of `n` proofs under one key
//! draws random 128-bit `r_i` and checks the single product
//! `Π e(r_i·A_i, B_i) · e(Σ r_i·IC(x_i), -γ) · e(Σ r_i·C_i, -δ) = e(α, β)^(Σ r_i)`:
//! `n + 2` Miller loops and one final exponentiation. A batch with an invalid proof passes with
//! probability at most about `2^-128`; it does not say which proof failed (verify them one by
//! one for that).

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::pairing::{Pairing, PairingOutput};
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::{One, Zero};
use ark_groth16::Groth16;
use ark_relations::gr1cs::SynthesisError;
use rand::{CryptoRng, RngCore};
use thiserror::Error;

use super::compile::ProgramCircuit;
use super::shape::{MalformedProgram, shape, validate};
use crate::program::{Assignment, Program, Unsatisfied};

/// The pairing-friendly curve of zkfl's Groth16 proofs.
pub type Curve = ark_bn254::Bn254;
/// A Groth16 proving key for one program.
pub type ProvingKey = ark_groth16::ProvingKey<Curve>;
/// A Groth16 verifying key for one program.
pub type VerifyingKey = ark_groth16::VerifyingKey<Curve>;
/// A verifying key with its pairing `e(α, β)` and negated `γ`, `δ` precomputed.
pub type PreparedVerifyingKey = ark_groth16::PreparedVerifyingKey<Curve>;
/// A Groth16 proof: two G1 points and one G2 point (128 bytes compressed).
pub type Proof = ark_groth16::Proof<Curve>;

/// Why keys, a proof or a verification could not be had.
#[derive(Debug, Error)]
pub enum Groth16Error {
    /// The program itself is broken.
    #[error(transparent)]
    Malformed(#[from] MalformedProgram),
    /// The prover's assignment does not satisfy the program; nothing was proved.
    #[error("refusing to prove: {0}")]
    Unsatisfied(#[from] Unsatisfied),
    /// The proving key was made for a program of another shape.
    #[error("the proving key does not fit the program: {what} is {found}, expected {expected}")]
    KeyMismatch {
        /// Which part of the key.
        what: &'static str,
        /// Its size for this program.
        expected: usize,
        /// Its size in the key.
        found: usize,
    },
    /// A statement has the wrong number of public inputs for the key.
    #[error("statement {index} has {found} public inputs, the key expects {expected}")]
    PublicInputCount {
        /// Which statement of a batch (0 for a single verification).
        index: usize,
        /// How many the key expects.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// Arkworks failed while synthesizing or proving.
    #[error("constraint synthesis failed: {0}")]
    Synthesis(SynthesisError),
    /// The multi-party setup refused a step (see the `ceremony` crate).
    #[error(transparent)]
    Ceremony(#[from] ceremony::CeremonyError),
    /// The proof (or some proof of a batch) is not valid for the statement.
    #[error("the proof does not verify")]
    Rejected,
}

/// Generates a proving and a verifying key for `program` (its shape alone; no witness).
///
/// The randomness must stay secret and be discarded (this is a trusted setup by one party).
pub fn setup<R: RngCore + CryptoRng>(
    program: &Program,
    rng: &mut R,
) -> Result<(ProvingKey, VerifyingKey), Groth16Error> {
    validate(program)?;
    let circuit = ProgramCircuit {
        program,
        assignment: None,
    };
    let pk = Groth16::<Curve>::generate_random_parameters_with_reduction(circuit, rng)
        .map_err(Groth16Error::Synthesis)?;
    let vk = pk.vk.clone();
    Ok((pk, vk))
}

/// The phase-2 parameters of `program` from a checked Lagrange basis of the powers of tau
/// (made for [`R1csShape::domain_size`](super::R1csShape::domain_size)): its Groth16 key with
/// `γ = δ = 1` before any δ contribution (`ceremony::Parameters::new`). Every participant
/// computes the same parameters, so each can check a transcript against them.
pub fn ceremony_start(
    program: &Program,
    basis: &ceremony::LagrangeBasis,
) -> Result<ceremony::Parameters, Groth16Error> {
    validate(program)?;
    let circuit = ProgramCircuit {
        program,
        assignment: None,
    };
    Ok(ceremony::Parameters::new(basis, circuit)?)
}

/// Checks multi-party parameters of `program` against the Lagrange basis of a verified
/// `phase1` (`ceremony::Parameters::verify`); returns every δ contribution's receipt, in order.
pub fn ceremony_verify(
    params: &ceremony::Parameters,
    program: &Program,
    phase1: &ceremony::Accumulator,
    basis: &ceremony::LagrangeBasis,
) -> Result<Vec<ceremony::Digest>, Groth16Error> {
    validate(program)?;
    let circuit = ProgramCircuit {
        program,
        assignment: None,
    };
    Ok(params.verify(phase1, basis, circuit)?)
}

/// Proves that `assignment` satisfies `program`, after checking it natively: an unsatisfied
/// assignment is refused with the failing op, and a key of another shape with its size.
pub fn prove<R: RngCore + CryptoRng>(
    pk: &ProvingKey,
    program: &Program,
    assignment: &Assignment<Fr>,
    rng: &mut R,
) -> Result<Proof, Groth16Error> {
    validate(program)?;
    program.check(assignment)?;
    let s = shape(program);
    let sizes = [
        (
            "the number of public inputs plus one",
            s.instances,
            pk.vk.gamma_abc_g1.len(),
        ),
        ("the A query", s.instances + s.witnesses, pk.a_query.len()),
        ("the L query", s.witnesses, pk.l_query.len()),
    ];
    for (what, expected, found) in sizes {
        if expected != found {
            return Err(Groth16Error::KeyMismatch {
                what,
                expected,
                found,
            });
        }
    }
    let circuit = ProgramCircuit {
        program,
        assignment: Some(assignment),
    };
    Groth16::<Curve>::create_random_proof_with_reduction(circuit, pk, rng)
        .map_err(Groth16Error::Synthesis)
}

/// Precomputes what every verification under `vk` needs.
pub fn prepare(vk: &VerifyingKey) -> PreparedVerifyingKey {
    ark_groth16::prepare_verifying_key(vk)
}

/// The number of public inputs the key expects.
pub fn public_input_count(vk: &VerifyingKey) -> usize {
    vk.gamma_abc_g1.len().saturating_sub(1)
}

fn check_count(vk: &VerifyingKey, index: usize, inputs: &[Fr]) -> Result<(), Groth16Error> {
    let expected = public_input_count(vk);
    if inputs.len() == expected {
        Ok(())
    } else {
        Err(Groth16Error::PublicInputCount {
            index,
            expected,
            found: inputs.len(),
        })
    }
}

/// `Σ_j scalars[j] · γ_abc[j]`, the scalars being `[weight, weight·x_1, ...]` summed over
/// statements.
fn input_commitment(vk: &VerifyingKey, scalars: &[Fr]) -> G1Projective {
    G1Projective::msm(&vk.gamma_abc_g1, scalars)
        .expect("one scalar per γ_abc point (public input counts are checked first)")
}

/// Whether the multi-Miller-loop of `g1`, `g2` exponentiates to `target`.
fn pairing_product_is(
    g1: Vec<<Curve as Pairing>::G1Prepared>,
    g2: Vec<<Curve as Pairing>::G2Prepared>,
    target: PairingOutput<Curve>,
) -> Result<(), Groth16Error> {
    let product = Curve::final_exponentiation(Curve::multi_miller_loop(g1, g2))
        .ok_or(Groth16Error::Rejected)?;
    if product == target {
        Ok(())
    } else {
        Err(Groth16Error::Rejected)
    }
}

/// Verifies one proof of the statement `public_inputs` (in the program's public order).
pub fn verify(
    pvk: &PreparedVerifyingKey,
    public_inputs: &[Fr],
    proof: &Proof,
) -> Result<(), Groth16Error> {
    check_count(&pvk.vk, 0, public_inputs)?;
    let scalars: Vec<Fr> = std::iter::once(Fr::one())
        .chain(public_inputs.iter().copied())
        .collect();
    let ic = input_commitment(&pvk.vk, &scalars).into_affine();
    pairing_product_is(
        vec![proof.a.into(), ic.into(), proof.c.into()],
        vec![
            proof.b.into(),
            pvk.gamma_g2_neg_pc.clone(),
            pvk.delta_g2_neg_pc.clone(),
        ],
        PairingOutput(pvk.alpha_g1_beta_g2),
    )
}

/// A random non-zero 128-bit weight.
fn weight<R: RngCore>(rng: &mut R) -> Fr {
    let w = ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) | 1;
    Fr::from(w)
}

/// Verifies many proofs under one key at once (see the module docs); `Ok` only if every proof
/// is valid for its statement, up to a `2^-128` chance. An empty batch is accepted.
pub fn verify_batch<R: RngCore + CryptoRng>(
    pvk: &PreparedVerifyingKey,
    batch: &[(&[Fr], &Proof)],
    rng: &mut R,
) -> Result<(), Groth16Error> {
    for (index, (inputs, _)) in batch.iter().enumerate() {
        check_count(&pvk.vk, index, inputs)?;
    }
    if batch.is_empty() {
        return Ok(());
    }
    let weights: Vec<Fr> = batch.iter().map(|_| weight(rng)).collect();
    let total: Fr = weights.iter().sum();
    let mut ic_scalars = vec![Fr::zero(); pvk.vk.gamma_abc_g1.len()];
    ic_scalars[0] = total;
    for (r, (inputs, _)) in weights.iter().zip(batch) {
        for (s, x) in ic_scalars[1..].iter_mut().zip(inputs.iter()) {
            *s += *r * x;
        }
    }
    let ic = input_commitment(&pvk.vk, &ic_scalars);
    let cs: Vec<G1Affine> = batch.iter().map(|(_, p)| p.c).collect();
    let c_sum = G1Projective::msm(&cs, &weights).expect("one weight per proof");
    let scaled_a: Vec<G1Projective> = weights
        .iter()
        .zip(batch)
        .map(|(r, (_, p))| p.a * r)
        .collect();
    let mut g1: Vec<<Curve as Pairing>::G1Prepared> = G1Projective::normalize_batch(&scaled_a)
        .into_iter()
        .map(Into::into)
        .collect();
    let mut g2: Vec<<Curve as Pairing>::G2Prepared> =
        batch.iter().map(|(_, p)| p.b.into()).collect();
    g1.push(ic.into_affine().into());
    g2.push(pvk.gamma_g2_neg_pc.clone());
    g1.push(c_sum.into_affine().into());
    g2.push(pvk.delta_g2_neg_pc.clone());
    pairing_product_is(g1, g2, PairingOutput(pvk.alpha_g1_beta_g2) * total)
}
