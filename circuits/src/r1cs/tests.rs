//! Compiler and Groth16 tests on small random programs.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::field::{Coeff, Field};
use crate::program::{Assignment, Builder, Op, Program, Var};

/// A random program whose shape depends on `shape_seed` only and whose (satisfying) values
/// depend on `value_seed`: every op kind, permutations, a running sum long enough to be
/// materialized when `long_sum`.
fn random_program(shape_seed: u64, value_seed: u64, long_sum: bool) -> (Program, Assignment<Fr>) {
    let mut shape = ChaCha8Rng::seed_from_u64(shape_seed);
    let mut values = ChaCha8Rng::seed_from_u64(value_seed);
    let mut b = Builder::<Fr>::new();
    let small = |values: &mut ChaCha8Rng| Fr::from_i128(values.gen_range(0..1000));
    let mut pool: Vec<Var> = Vec::new();
    // Variables with values below 2^10.
    let mut tiny: Vec<Var> = Vec::new();
    for _ in 0..3 {
        let v = b.public(small(&mut values));
        pool.push(v);
        tiny.push(v);
    }
    for _ in 0..4 {
        let v = b.private(Fr::from_i128(values.gen_range(-(1 << 60)..1 << 60)));
        pool.push(v);
    }
    let pick = |shape: &mut ChaCha8Rng, pool: &[Var]| pool[shape.gen_range(0..pool.len())];
    for step in 0..40 {
        b.section(["alpha", "beta"][step % 2]);
        match shape.gen_range(0..8) {
            0 => {
                let (x, y) = (pick(&mut shape, &pool), pick(&mut shape, &pool));
                pool.push(b.mul(x, y));
            }
            1 => {
                let n = shape.gen_range(1..5);
                let a: Vec<Var> = (0..n).map(|_| pick(&mut shape, &pool)).collect();
                let c: Vec<Var> = (0..n).map(|_| pick(&mut shape, &pool)).collect();
                pool.push(b.dot(&a, &c));
            }
            2 => {
                let n = shape.gen_range(1..5);
                let terms: Vec<(Coeff, Var)> = (0..n)
                    .map(|_| {
                        (
                            Coeff::from(shape.gen_range(-5i128..6)),
                            pick(&mut shape, &pool),
                        )
                    })
                    .collect();
                pool.push(b.linear(&terms, Coeff::from(shape.gen_range(-9i128..10))));
            }
            3 if step % 4 == 3 => {
                let input = [0, 1, 2].map(|_| pick(&mut shape, &pool));
                pool.extend(b.permute(input));
            }
            4 => {
                let v = b.private(small(&mut values));
                let bits = shape.gen_range(10..20);
                b.range(v, bits);
                tiny.push(v);
                pool.push(v);
            }
            5 => {
                let t = pick(&mut shape, &tiny);
                let shifted = b.linear(&[(Coeff::from(3i128), t)], Coeff::from(7i128));
                let n = shape.gen_range(13..16);
                pool.extend(b.bits(shifted, n));
            }
            6 => {
                // Two ways to the same product, asserted equal.
                let (x, y) = (pick(&mut shape, &pool), pick(&mut shape, &pool));
                let p = b.mul(x, y);
                let q = b.dot(&[y], &[x]);
                let d = b.sub(p, q);
                b.assert_zero(&[(Coeff::from(2i128), d)], Coeff::ZERO);
                pool.push(p);
            }
            _ => {
                let t = pick(&mut shape, &tiny);
                let twice = b.scale(Coeff::from(2i128), t);
                let u = b.private(b.value(twice));
                b.assert_eq(u, twice);
                pool.push(u);
            }
        }
    }
    if long_sum {
        b.section("sum");
        let mut sum = b.constant(Coeff::from(1i128));
        for _ in 0..150 {
            let x = b.private(small(&mut values));
            sum = b.add(sum, x);
        }
        let y = pick(&mut shape, &pool);
        pool.push(b.mul(sum, y));
    }
    b.finish()
}

fn synthesize(program: &Program, assignment: Option<&Assignment<Fr>>) -> ConstraintSystemRef {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    if assignment.is_none() {
        cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
    }
    ProgramCircuit {
        program,
        assignment,
    }
    .generate_constraints(cs.clone())
    .expect("synthesis of a well-formed program");
    cs.finalize();
    cs
}

type ConstraintSystemRef = ark_relations::gr1cs::ConstraintSystemRef<Fr>;

fn r1cs_satisfied(program: &Program, assignment: &Assignment<Fr>) -> bool {
    synthesize(program, Some(assignment))
        .is_satisfied()
        .expect("a fully assigned system can be evaluated")
}

#[test]
fn constraint_count_is_the_cost() {
    for seed in 0..6 {
        let (program, assignment) = random_program(seed, seed, seed % 2 == 0);
        let s = shape(&program);
        assert_eq!(s.constraints as u64, program.cost().total);
        for cs in [
            synthesize(&program, None),
            synthesize(&program, Some(&assignment)),
        ] {
            assert_eq!(cs.num_constraints(), s.constraints, "seed {seed}");
            assert_eq!(cs.num_instance_variables(), s.instances, "seed {seed}");
            assert_eq!(cs.num_witness_variables(), s.witnesses, "seed {seed}");
        }
    }
    let (program, _) = mul_chain::<Fr>(100);
    assert_eq!(program.cost().total, 100);
    assert_eq!(synthesize(&program, None).num_constraints(), 100);
}

#[test]
fn long_sums_are_materialized_and_counted() {
    let (program, assignment) = random_program(7, 7, true);
    let (plain, _) = random_program(7, 7, false);
    // 150 additions: sums cut at 65 and 129 terms; plus the final product.
    assert_eq!(program.cost().total, plain.cost().total + 2 + 1);
    assert_eq!(program.cost().by_section["sum"], 3);
    assert!(r1cs_satisfied(&program, &assignment));
}

/// The assignment with every linear and permutation output recomputed from its inputs: the
/// values the R1CS gives those variables (it does not read them from the assignment).
fn with_derived_values(program: &Program, mut a: Assignment<Fr>) -> Assignment<Fr> {
    for op in &program.ops {
        match op {
            Op::Linear { out, lin } => a.values[out.index()] = lin.eval(&a.values),
            Op::Permute { input, output } => {
                let mut state = input.map(|v| a.value(v));
                Fr::permute(&mut state);
                for (o, x) in output.iter().zip(state) {
                    a.values[o.index()] = x;
                }
            }
            _ => {}
        }
    }
    a
}

#[test]
fn r1cs_agrees_with_check_when_values_are_tampered() {
    for seed in [10, 11] {
        let (program, assignment) = random_program(seed, seed + 100, seed % 2 == 1);
        program.check(&assignment).unwrap();
        assert!(r1cs_satisfied(&program, &assignment), "seed {seed}");
        let mut rejected = 0;
        for (i, op) in program.ops.iter().enumerate() {
            // The variables whose values the R1CS witness carries.
            let carried: Vec<Var> = match op {
                Op::Input { out, .. } | Op::Mul { out, .. } | Op::Dot { out, .. } => vec![*out],
                Op::Bits { bits, .. } => bits.clone(),
                _ => continue,
            };
            // A sample, to keep the test fast: every third op's variables.
            if i % 3 != 0 {
                continue;
            }
            for v in carried {
                let mut bad = assignment.clone();
                bad.values[v.index()] += Fr::from(1u8);
                let bad = with_derived_values(&program, bad);
                let native = program.check(&bad).is_ok();
                assert_eq!(
                    native,
                    r1cs_satisfied(&program, &bad),
                    "seed {seed} op {i} var {v:?}"
                );
                rejected += usize::from(!native);
            }
        }
        assert!(
            rejected > 10,
            "seed {seed}: only {rejected} tamperings were caught"
        );
    }
}

#[test]
fn range_and_bits_reject_out_of_range_values_in_r1cs() {
    let mut b = Builder::<Fr>::new();
    let v = b.private(Fr::from_i128(16));
    b.range(v, 4);
    let (program, assignment) = b.finish();
    assert!(program.check(&assignment).is_err());
    assert!(!r1cs_satisfied(&program, &assignment));
    let mut b = Builder::<Fr>::new();
    let v = b.private(Fr::from_i128(-1));
    b.bits(v, 8);
    let (program, assignment) = b.finish();
    assert!(program.check(&assignment).is_err());
    assert!(!r1cs_satisfied(&program, &assignment));
}

#[test]
fn permutation_gadget_matches_native_permutation() {
    // circomlib's Poseidon(2)([1, 2]) is P([0, 1, 2])[0].
    let expected_hash = "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a";
    let mut native = [Fr::from(0u8), Fr::from(1u8), Fr::from(2u8)];
    Fr::permute(&mut native);
    let mut be = Field::to_le_bytes(&native[0]);
    be.reverse();
    assert_eq!(hex::encode(be), expected_hash);

    let mut b = Builder::<Fr>::new();
    let input = [0, 1, 2].map(|i| b.private(Fr::from(i as u8)));
    let out = b.permute(input);
    // The outputs' values are not read by the R1CS: compare them with public copies.
    for (o, x) in out.iter().zip(native) {
        let p = b.public(x);
        b.assert_eq(*o, p);
    }
    let (program, assignment) = b.finish();
    assert_eq!(program.cost().total, 243 + 3);
    assert!(r1cs_satisfied(&program, &assignment));
    for k in 0..3 {
        let mut bad = assignment.clone();
        bad.values[program.public[k].index()] += Fr::from(1u8);
        assert!(!r1cs_satisfied(&program, &bad), "output {k}");
    }
}

#[test]
fn malformed_programs_are_refused() {
    let (good, _) = random_program(1, 1, false);
    assert_eq!(validate(&good), Ok(()));
    let mut p = good.clone();
    p.ops.push(Op::Mul {
        out: Var(p.num_vars),
        a: Var(0),
        b: Var(0),
    });
    p.op_section.push(0);
    assert!(validate(&p).is_err(), "output beyond num_vars");
    let mut p = good.clone();
    p.public.pop();
    assert!(validate(&p).is_err(), "public input missing from the list");
    let mut p = good.clone();
    p.ops.swap(0, 10);
    assert!(validate(&p).is_err() || p.ops[0] == good.ops[10]);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut p = good;
    p.ops.push(Op::Dot {
        out: Var(p.num_vars),
        a: vec![],
        b: vec![],
    });
    p.op_section.push(0);
    p.num_vars += 1;
    assert!(matches!(
        setup(&p, &mut rng),
        Err(Groth16Error::Malformed(_))
    ));
}

/// Proves `assignment` under `pk`, checks the proof verifies and that each public input
/// altered by one is rejected; returns the prepared key, the proof and the inputs.
fn proves_and_rejects_altered_inputs(
    pk: &ProvingKey,
    program: &Program,
    assignment: &Assignment<Fr>,
    rng: &mut ChaCha8Rng,
) -> (PreparedVerifyingKey, Proof, Vec<Fr>) {
    let pvk = prepare(&pk.vk);
    let proof = prove(pk, program, assignment, rng).unwrap();
    let inputs = assignment.public_inputs(program);
    verify(&pvk, &inputs, &proof).unwrap();
    for k in 0..inputs.len() {
        let mut bad = inputs.clone();
        bad[k] += Fr::from(1u8);
        assert!(
            matches!(verify(&pvk, &bad, &proof), Err(Groth16Error::Rejected)),
            "input {k}"
        );
    }
    (pvk, proof, inputs)
}

#[test]
fn groth16_round_trip_and_tampering() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (program, assignment) = random_program(1, 3, false);
    let cost = program.cost().total;
    assert!(
        (150..2000).contains(&cost),
        "test program has {cost} constraints"
    );
    let (pk, vk) = setup(&program, &mut rng).unwrap();
    let (pvk, proof, inputs) =
        proves_and_rejects_altered_inputs(&pk, &program, &assignment, &mut rng);
    assert_eq!(public_input_count(&vk), inputs.len());
    assert!(matches!(
        verify(&pvk, &inputs[1..], &proof),
        Err(Groth16Error::PublicInputCount { .. })
    ));

    // Another setup for the same program: a different key.
    let (_, other_vk) = setup(&program, &mut rng).unwrap();
    assert!(matches!(
        verify(&prepare(&other_vk), &inputs, &proof),
        Err(Groth16Error::Rejected)
    ));

    // Bytes: round trip, every single-bit flip rejected, truncation and garbage refused.
    let bytes = proof.to_bytes();
    assert_eq!(bytes.len(), 128);
    assert_eq!(Proof::from_bytes(&bytes).unwrap(), proof);
    // Some bytes of each point, including the flag bits in the last byte of each encoding.
    for i in (0..bytes.len()).step_by(9).chain([31, 95, 127]) {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (i % 8);
        if let Ok(p) = Proof::from_bytes(&bad) {
            assert!(
                verify(&pvk, &inputs, &p).is_err(),
                "flipped byte {i} accepted"
            );
        }
    }
    for len in [0, 1, 64, 127] {
        assert!(Proof::from_bytes(&bytes[..len]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Proof::from_bytes(&longer).is_err());
    assert!(Proof::from_bytes(&[0xff; 128]).is_err());
    let vk_bytes = vk.to_bytes();
    assert_eq!(VerifyingKey::from_bytes(&vk_bytes).unwrap(), vk);
    assert!(VerifyingKey::from_bytes(&vk_bytes[..vk_bytes.len() - 1]).is_err());
    let mut garbled = vk_bytes.clone();
    garbled[5] ^= 0x55;
    assert!(
        VerifyingKey::from_bytes(&garbled).is_err()
            || VerifyingKey::from_bytes(&garbled).unwrap() != vk
    );
    assert!(VerifyingKey::from_bytes(&[0xab; 1000]).is_err());
    let pk_bytes = pk.to_bytes();
    let pk2 = ProvingKey::from_bytes(&pk_bytes).unwrap();
    assert_eq!(pk2, pk);
    assert!(ProvingKey::from_bytes(&pk_bytes[..pk_bytes.len() / 2]).is_err());
    let trusted = pk.to_trusted_bytes();
    assert_eq!(ProvingKey::from_trusted_bytes(&trusted).unwrap(), pk);
    assert!(ProvingKey::from_trusted_bytes(&trusted[..trusted.len() - 1]).is_err());
    assert!(ProvingKey::from_trusted_bytes(&[0x5a; 4096]).is_err());
    let pvk2 = PreparedVerifyingKey::from_bytes(&pvk.to_bytes()).unwrap();
    verify(
        &pvk2,
        &inputs,
        &prove(&pk2, &program, &assignment, &mut rng).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_multi_party_key_proves_a_program_and_rejects_altered_inputs() {
    let mut rng = ChaCha8Rng::seed_from_u64(43);
    let (program, assignment) = random_program(1, 3, false);
    let fresh = ceremony::Accumulator::new(11).unwrap();
    let (phase1, receipt) = fresh.contribute(&mut rng);
    assert_eq!(fresh.verify_contribution(&phase1).unwrap(), [receipt]);
    let basis = ceremony::LagrangeBasis::new(&phase1, shape(&program).domain_size()).unwrap();
    basis.check(&phase1).unwrap();
    let initial = ceremony_start(&program, &basis).unwrap();
    let (owner, _) = initial.contribute(&mut rng);
    let (provider, receipt) = owner.contribute(&mut rng);
    let receipts = ceremony_verify(&provider, &program, &phase1, &basis).unwrap();
    assert_eq!(receipts.last(), Some(&receipt));
    // The program it was made for, and no other (of the same domain size).
    let (other, _) = random_program(2, 3, false);
    assert_eq!(shape(&other).domain_size(), shape(&program).domain_size());
    assert!(matches!(
        ceremony_verify(&provider, &other, &phase1, &basis),
        Err(Groth16Error::Ceremony(ceremony::CeremonyError::Rejected(why))) if why.contains("another circuit")
    ));
    let (_, proof, inputs) =
        proves_and_rejects_altered_inputs(provider.proving_key(), &program, &assignment, &mut rng);
    // A key from before the last contribution does not verify the proof.
    assert!(verify(&prepare(&owner.proving_key().vk), &inputs, &proof).is_err());
    // A basis for another domain size is refused with the sizes.
    let small = ceremony::LagrangeBasis::new(&phase1, 16).unwrap();
    assert!(matches!(
        ceremony_start(&program, &small),
        Err(Groth16Error::Ceremony(
            ceremony::CeremonyError::WrongBasis { basis: 16, .. }
        ))
    ));
}

#[test]
fn proving_refuses_bad_assignments_and_foreign_keys() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (program, assignment) = mul_chain::<Fr>(20);
    let (pk, _) = setup(&program, &mut rng).unwrap();
    let mut bad = assignment.clone();
    bad.values[4] += Fr::from(1u8);
    match prove(&pk, &program, &bad, &mut rng) {
        Err(Groth16Error::Unsatisfied(u)) => {
            assert_eq!(u.kind, "mul");
            assert!(u.to_string().contains("mul-chain"), "{u}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let short = Assignment {
        values: assignment.values[..10].to_vec(),
    };
    assert!(matches!(
        prove(&pk, &program, &short, &mut rng),
        Err(Groth16Error::Unsatisfied(_))
    ));
    let (other, other_assignment) = mul_chain::<Fr>(21);
    assert!(matches!(
        prove(&pk, &other, &other_assignment, &mut rng),
        Err(Groth16Error::KeyMismatch { .. })
    ));
}

fn borrow(s: &[(Vec<Fr>, Proof)]) -> Vec<(&[Fr], &Proof)> {
    s.iter().map(|(x, p)| (x.as_slice(), p)).collect()
}

#[test]
fn batch_verification_accepts_valid_and_rejects_one_bad_proof() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // Same shape, different values.
    let instances: Vec<(Program, Assignment<Fr>)> =
        (0..3).map(|v| random_program(4, 50 + v, false)).collect();
    let program = &instances[0].0;
    assert!(instances.iter().all(|(p, _)| p == program));
    let (pk, vk) = setup(program, &mut rng).unwrap();
    let pvk = prepare(&vk);
    let statements: Vec<(Vec<Fr>, Proof)> = instances
        .iter()
        .map(|(p, a)| (a.public_inputs(p), prove(&pk, p, a, &mut rng).unwrap()))
        .collect();
    assert_ne!(statements[0].0, statements[1].0);

    verify_batch(&pvk, &borrow(&statements), &mut rng).unwrap();
    verify_batch(&pvk, &[], &mut rng).unwrap();
    for (x, p) in &statements {
        verify(&pvk, x, p).unwrap();
    }
    for k in 0..statements.len() {
        // One proof for another statement's inputs.
        let mut bad = statements.clone();
        bad[k].1 = statements[(k + 1) % statements.len()].1.clone();
        assert!(matches!(
            verify_batch(&pvk, &borrow(&bad), &mut rng),
            Err(Groth16Error::Rejected)
        ));
        // One public input changed.
        let mut bad = statements.clone();
        bad[k].0[0] += Fr::from(1u8);
        assert!(verify_batch(&pvk, &borrow(&bad), &mut rng).is_err());
    }
    let mut bad = statements.clone();
    bad[2].0.pop();
    assert!(matches!(
        verify_batch(&pvk, &borrow(&bad), &mut rng),
        Err(Groth16Error::PublicInputCount { index: 2, .. })
    ));
}
