//! A small circuit through both phases, proved and verified with `ark_groth16`, and every kind
//! of tampering with a transcript rejected.

use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{One, UniformRand};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};
use ark_relations::lc;
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::{Accumulator, CeremonyError, Parameters};

/// `y = x³ + x + 5` with `y` public, plus `terms` witnesses `w_k = (k + 2)·x − x` so that `x`
/// has a column long enough for the multi-scalar-multiplication path and coefficients other
/// than ±1.
#[derive(Clone)]
struct Cubic {
    x: Option<Fr>,
    terms: usize,
}

impl ConstraintSynthesizer<Fr> for Cubic {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let value = |f: &dyn Fn(Fr) -> Fr| self.x.map(f).ok_or(SynthesisError::AssignmentMissing);
        let y = cs.new_input_variable(|| value(&|x| x * x * x + x + Fr::from(5u64)))?;
        let x = cs.new_witness_variable(|| value(&|x| x))?;
        let sq = cs.new_witness_variable(|| value(&|x| x * x))?;
        let cube = cs.new_witness_variable(|| value(&|x| x * x * x))?;
        cs.enforce_r1cs_constraint(|| lc![x], || lc![x], || lc![sq])?;
        cs.enforce_r1cs_constraint(|| lc![sq], || lc![x], || lc![cube])?;
        cs.enforce_r1cs_constraint(
            || {
                lc![
                    (Fr::one(), cube),
                    (Fr::one(), x),
                    (Fr::from(5u64), Variable::One)
                ]
            },
            || lc![Variable::One],
            || lc![y],
        )?;
        for k in 0..self.terms {
            let c = Fr::from(k as u64 + 2);
            let w = cs.new_witness_variable(|| value(&|x| c * x - x))?;
            let combination: LinearCombination<Fr> = lc![(c, x), (-Fr::one(), x)];
            cs.enforce_r1cs_constraint(|| combination, || lc![Variable::One], || lc![w])?;
        }
        Ok(())
    }
}

fn circuit() -> Cubic {
    Cubic { x: None, terms: 40 }
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Phase 1 of `2^7` with two verified contributions.
fn phase1() -> Accumulator {
    let mut acc = Accumulator::new(7).unwrap();
    for seed in [1, 2] {
        let (next, contribution) = acc.contribute(&mut rng(seed));
        acc.verify_contribution(&next, &contribution).unwrap();
        acc = next;
    }
    acc
}

/// The initial parameters and three contributions with their receipts.
fn phase2(acc: &Accumulator) -> (Parameters, Parameters, Vec<crate::Digest>) {
    let initial = Parameters::new(acc, circuit()).unwrap();
    let mut params = initial.clone();
    let mut receipts = Vec::new();
    for seed in [10, 11, 12] {
        let (next, receipt) = params.contribute(&mut rng(seed));
        params = next;
        receipts.push(receipt);
    }
    (initial, params, receipts)
}

fn rejected<T: std::fmt::Debug>(result: Result<T, CeremonyError>) -> bool {
    matches!(result, Err(CeremonyError::Rejected(_)))
}

#[test]
fn a_key_from_the_ceremony_proves_and_verifies_like_a_directly_generated_one() {
    let acc = phase1();
    let (initial, params, receipts) = phase2(&acc);
    assert_eq!(params.verify(&initial).unwrap(), receipts);
    assert_eq!(params.transcript(), receipts[2]);

    let pk = params.proving_key();
    let direct =
        Groth16::<Bn254>::generate_random_parameters_with_reduction(circuit(), &mut rng(3))
            .unwrap();
    let sizes = |k: &ark_groth16::ProvingKey<Bn254>| {
        [
            k.a_query.len(),
            k.b_g2_query.len(),
            k.h_query.len(),
            k.l_query.len(),
            k.vk.gamma_abc_g1.len(),
        ]
    };
    assert_eq!(sizes(pk), sizes(&direct));

    let x = Fr::from(3u64);
    let y = x * x * x + x + Fr::from(5u64);
    let proof = Groth16::<Bn254>::prove(
        pk,
        Cubic {
            x: Some(x),
            terms: 40,
        },
        &mut rng(4),
    )
    .unwrap();
    let pvk = Groth16::<Bn254>::process_vk(&pk.vk).unwrap();
    assert!(Groth16::<Bn254>::verify_with_processed_vk(&pvk, &[y], &proof).unwrap());
    assert!(!Groth16::<Bn254>::verify_with_processed_vk(&pvk, &[y + Fr::one()], &proof).unwrap());
    // Before any δ contribution the key works too (δ = 1): phase 2 only adds secrets.
    let pk0 = initial.proving_key();
    let proof0 = Groth16::<Bn254>::prove(
        pk0,
        Cubic {
            x: Some(x),
            terms: 40,
        },
        &mut rng(5),
    )
    .unwrap();
    assert!(Groth16::<Bn254>::verify(&pk0.vk, &[y], &proof0).unwrap());
}

#[test]
fn phase1_rejects_a_contribution_that_is_not_what_it_proves() {
    let acc = Accumulator::new(4).unwrap();
    let (next, contribution) = acc.contribute(&mut rng(1));
    acc.verify_contribution(&next, &contribution).unwrap();

    // One power altered: the powers are no longer consecutive.
    let mut bad = next.clone();
    bad.tau_g1[9] = (bad.tau_g1[9] + G1Affine::generator()).into_affine();
    assert!(rejected(acc.verify_contribution(&bad, &contribution)));
    let mut bad = next.clone();
    bad.tau_g2[3] = (bad.tau_g2[3] + G2Affine::generator()).into_affine();
    assert!(rejected(acc.verify_contribution(&bad, &contribution)));
    // α scaled by a factor nobody proved: consistent powers, wrong transition.
    let mut bad = next.clone();
    let two = Fr::from(2u64);
    crate::scale::by_constant(&mut bad.alpha_tau_g1, two);
    assert!(rejected(acc.verify_contribution(&bad, &contribution)));
    // β in G1 and G2 disagree.
    let mut bad = next.clone();
    bad.beta_g2 = (bad.beta_g2 * two).into_affine();
    assert!(rejected(acc.verify_contribution(&bad, &contribution)));
    // A contribution proved on another accumulator cannot be replayed here.
    let (_, elsewhere) = next.contribute(&mut rng(2));
    assert!(rejected(acc.verify_contribution(&next, &elsewhere)));
    // Someone else's accumulator with this contribution's proofs: transitions fail.
    let (other, _) = acc.contribute(&mut rng(3));
    assert!(rejected(acc.verify_contribution(&other, &contribution)));
    // Not starting at the generators.
    let mut bad = next.clone();
    crate::scale::by_constant(&mut bad.tau_g1, two);
    assert!(rejected(acc.verify_contribution(&bad, &contribution)));
    // Out-of-range sizes are refused up front.
    assert!(matches!(Accumulator::new(0), Err(CeremonyError::Power(0))));
    assert!(matches!(
        Accumulator::new(25),
        Err(CeremonyError::Power(25))
    ));
}

#[test]
fn phase2_rejects_every_kind_of_tampered_transcript() {
    let acc = phase1();
    let (initial, params, _) = phase2(&acc);
    let g1 = G1Affine::generator();

    // An element of the H or L query, or of a δ-independent query, altered.
    let mut bad = params.clone();
    bad.key.h_query[5] = (bad.key.h_query[5] + g1).into_affine();
    assert!(rejected(bad.verify(&initial)));
    let mut bad = params.clone();
    bad.key.l_query[0] = (bad.key.l_query[0] + g1).into_affine();
    assert!(rejected(bad.verify(&initial)));
    let mut bad = params.clone();
    bad.key.a_query[2] = (bad.key.a_query[2] + g1).into_affine();
    assert!(rejected(bad.verify(&initial)));
    let mut bad = params.clone();
    bad.key.vk.gamma_abc_g1[1] = (bad.key.vk.gamma_abc_g1[1] + g1).into_affine();
    assert!(rejected(bad.verify(&initial)));
    // δ set to a value its setter knows, queries divided consistently, without a proof.
    let mut bad = params.clone();
    let known = Fr::rand(&mut rng(7));
    bad.key.delta_g1 = (bad.key.delta_g1 * known).into_affine();
    bad.key.vk.delta_g2 = (bad.key.vk.delta_g2 * known).into_affine();
    let inverse = ark_ff::Field::inverse(&known).unwrap();
    crate::scale::by_constant(&mut bad.key.h_query, inverse);
    crate::scale::by_constant(&mut bad.key.l_query, inverse);
    assert!(rejected(bad.verify(&initial)));
    // A contribution dropped from the record, or one reordered.
    let mut bad = params.clone();
    bad.contributions.remove(1);
    assert!(rejected(bad.verify(&initial)));
    let mut bad = params.clone();
    bad.contributions.swap(0, 2);
    assert!(rejected(bad.verify(&initial)));
    // A contribution's proof of knowledge altered.
    let mut bad = params.clone();
    bad.contributions[1].proof.s_x = (bad.contributions[1].proof.s_x + g1).into_affine();
    assert!(rejected(bad.verify(&initial)));
    // Parameters of another circuit, or checked against another circuit's start.
    let other = Parameters::new(&acc, Cubic { x: None, terms: 41 }).unwrap();
    assert!(rejected(params.verify(&other)));
    assert!(rejected(params.verify(&params)));
    // Phase 1 too small for the circuit.
    let small = Accumulator::new(3).unwrap();
    assert!(matches!(
        Parameters::new(&small, circuit()),
        Err(CeremonyError::TooSmall {
            needed: 64,
            available: 8
        })
    ));
    // The untouched transcript still verifies (the tampering above was all on clones).
    params.verify(&initial).unwrap();
}
