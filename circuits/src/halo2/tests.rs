//! The halo2 back end against [`Program::check`]: MockProver agrees on random programs and on
//! tampered assignments; real proofs verify, and tampered statements or proofs do not.

use std::path::PathBuf;

use ff::{Field as _, PrimeField as _};
use halo2_proofs::dev::MockProver;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::field::{Coeff, Field};
use crate::program::{Assignment, Builder, Program, Var};

/// The operating system's randomness, as halo2's prover takes it.
fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Whether MockProver accepts the assignment with the given public inputs.
fn mock_accepts(program: &Program, assignment: &Assignment<Fp>, public: Vec<Fp>) -> bool {
    let layout = Layout::new(program).expect("test programs lay out");
    let k = required_k(&layout);
    let circuit = ProgramCircuit::new(&layout, Some(assignment));
    let prover = MockProver::run(k, &circuit, vec![public]).expect("synthesis succeeds");
    prover.verify().is_ok()
}

fn mock(program: &Program, assignment: &Assignment<Fp>) -> bool {
    mock_accepts(program, assignment, assignment.public_inputs(program))
}

fn random_fp(rng: &mut ChaCha8Rng) -> Fp {
    match rng.gen_range(0..3) {
        0 => Fp::from_i128(rng.gen_range(-1000..1000)),
        1 => Fp::from(rng.r#gen::<u64>()),
        _ => Fp::from_u128(rng.r#gen::<u128>()) * Fp::from(rng.r#gen::<u64>()),
    }
}

fn random_coeff(rng: &mut ChaCha8Rng) -> Coeff {
    match rng.gen_range(0..4) {
        0 => Coeff::pow2(rng.gen_range(0..255)),
        1 => Coeff::pow2(rng.gen_range(0..255)).negated(),
        _ => Coeff::from(rng.gen_range(-5i128..=5)),
    }
}

/// A random program mixing every op, with an honest assignment.
fn random_program(rng: &mut ChaCha8Rng, ops: usize, permutes: bool) -> (Program, Assignment<Fp>) {
    let mut b = Builder::<Fp>::new();
    let first = random_fp(rng);
    let mut vars = vec![b.private(first), b.public(Fp::from(7u64))];
    for _ in 0..ops {
        let pick = |rng: &mut ChaCha8Rng, vars: &[Var]| vars[rng.gen_range(0..vars.len())];
        let terms = |rng: &mut ChaCha8Rng, vars: &[Var], n: usize| -> Vec<(Coeff, Var)> {
            (0..n)
                .map(|_| (random_coeff(rng), pick(rng, vars)))
                .collect()
        };
        match rng.gen_range(0..9) {
            0 => vars.push(b.private(random_fp(rng))),
            1 => vars.push(b.public(random_fp(rng))),
            2 => {
                let n = rng.gen_range(0..6);
                let t = terms(rng, &vars, n);
                vars.push(b.linear(&t, random_coeff(rng)));
            }
            3 => {
                let (x, y) = (pick(rng, &vars), pick(rng, &vars));
                vars.push(b.mul(x, y));
            }
            4 => {
                let n = rng.gen_range(1..5);
                let x: Vec<Var> = (0..n).map(|_| pick(rng, &vars)).collect();
                let y: Vec<Var> = (0..n).map(|_| pick(rng, &vars)).collect();
                vars.push(b.dot(&x, &y));
            }
            5 => {
                let n = rng.gen_range(0..5);
                let mut t = terms(rng, &vars, n);
                let c = random_coeff(rng);
                let out = b.linear(&t, c);
                t.push((Coeff::ONE.negated(), out));
                b.assert_zero(&t, c);
            }
            6 => {
                let width = rng.gen_range(0..=40u32);
                let x = rng.r#gen::<u64>() & ((1u64 << width) - 1);
                let v = b.private(Fp::from(x));
                b.range(v, (width + rng.gen_range(0..10)).min(128));
                vars.push(v);
            }
            7 => {
                let width = rng.gen_range(0..=20usize);
                let x = rng.r#gen::<u64>() & ((1u64 << width) - 1);
                let v = b.private(Fp::from(x));
                vars.extend(b.bits(v, width + rng.gen_range(0..3)));
            }
            _ if permutes => {
                let input = [(); 3].map(|_| pick(rng, &vars));
                vars.extend(b.permute(input));
            }
            _ => {}
        }
    }
    b.finish()
}

#[test]
fn mock_prover_agrees_with_check_on_random_programs() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for round in 0..12 {
        let (program, assignment) = random_program(&mut rng, 40, round % 3 == 0);
        program.check(&assignment).expect("honest assignment");
        assert!(
            mock(&program, &assignment),
            "round {round}: honest assignment rejected"
        );
        for _ in 0..6 {
            let mut bad = assignment.clone();
            let i = rng.gen_range(0..bad.values.len());
            bad.values[i] += Fp::ONE;
            let checked = program.check(&bad).is_ok();
            assert_eq!(mock(&program, &bad), checked, "round {round}, variable {i}");
        }
    }
}

#[test]
fn mock_prover_rejects_what_check_rejects() {
    // Range: 2^12 does not fit 12 bits (top limb 16 ≥ 2^4); -1 fits nothing.
    for (value, bits) in [(1i128 << 12, 12u32), (-1, 64), (256, 8), (1, 0)] {
        let mut b = Builder::<Fp>::new();
        let v = b.private(Fp::from_i128(value));
        b.range(v, bits);
        let (program, assignment) = b.finish();
        assert!(program.check(&assignment).is_err());
        assert!(!mock(&program, &assignment), "range {value} in {bits} bits");
    }
    // The largest value of each width passes.
    for bits in [1u32, 7, 8, 9, 16, 63, 128] {
        let mut b = Builder::<Fp>::new();
        let v = b.private(Fp::from_coeff(Coeff::pow2(bits)) - Fp::ONE);
        b.range(v, bits);
        let (program, assignment) = b.finish();
        program.check(&assignment).expect("fits");
        assert!(mock(&program, &assignment), "2^{bits} - 1 in {bits} bits");
    }
    // Bits: a non-boolean decomposition with the right sum (2 = 2·1 + 0 → [2, 0]).
    let mut b = Builder::<Fp>::new();
    let v = b.private(Fp::from(2u64));
    let bits = b.bits(v, 2);
    let (program, mut assignment) = b.finish();
    assignment.values[bits[0].index()] = Fp::from(2u64);
    assignment.values[bits[1].index()] = Fp::ZERO;
    assert!(program.check(&assignment).is_err());
    assert!(!mock(&program, &assignment));
    // Permute: a wrong output word.
    let mut b = Builder::<Fp>::new();
    let x = b.private(Fp::from(3u64));
    let out = b.permute([x, x, x]);
    let (program, mut assignment) = b.finish();
    assert!(mock(&program, &assignment));
    assignment.values[out[2].index()] += Fp::ONE;
    assert!(!mock(&program, &assignment));
}

#[test]
fn mock_prover_binds_public_inputs() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (program, assignment) = random_program(&mut rng, 30, true);
    let mut public = assignment.public_inputs(&program);
    assert!(mock_accepts(&program, &assignment, public.clone()));
    public[0] += Fp::ONE;
    assert!(!mock_accepts(&program, &assignment, public));
}

#[test]
fn same_shape_for_any_witness() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (program, assignment) = random_program(&mut rng, 30, true);
    let layout = Layout::new(&program).expect("lays out");
    let zeros = Assignment {
        values: vec![Fp::ZERO; assignment.values.len()],
    };
    // Cell values differ, the layout (fixed columns, copies) is the program's alone.
    assert_ne!(layout.cell_values(&zeros), layout.cell_values(&assignment));
    assert_eq!(Layout::new(&program).expect("lays out").lanes, layout.lanes);
}

fn temp_cache(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("zkfl-halo2-{name}-{}", std::process::id()))
}

fn sample_program() -> (Program, Assignment<Fp>) {
    let mut b = Builder::<Fp>::new();
    let x = b.private(Fp::from(6u64));
    let y = b.private(Fp::from_i128(-7));
    let p = b.mul(x, y);
    let out = b.public(Fp::from_i128(-42));
    b.assert_eq(p, out);
    let d = b.dot(&[x, y, p], &[y, x, x]);
    let s = b.linear(&[(Coeff::ONE, x)], Coeff::from(10i128));
    b.range(s, 5);
    b.bits(s, 6);
    let h = b.permute([x, y, d]);
    b.public(b.value(h[0]));
    let last = b.public(Fp::ZERO);
    let zero = b.constant(Coeff::ZERO);
    b.assert_eq(last, zero);
    let _ = (s, d);
    b.finish()
}

#[test]
fn prove_and_verify_round_trip_rejecting_tampering() {
    let (program, assignment) = sample_program();
    program.check(&assignment).expect("honest");
    let cache = temp_cache("roundtrip");
    let layout = Layout::new(&program).expect("lays out");
    let k = required_k(&layout);
    assert!(k <= 10, "k = {k}");
    let params = params(k, &cache).expect("params");
    let again = super::params(k, &cache).expect("cached params");
    let (mut p1, mut p2) = (Vec::new(), Vec::new());
    params.write(&mut p1).expect("in memory");
    again.write(&mut p2).expect("in memory");
    assert_eq!(p1, p2, "cached parameters read back unchanged");

    let keys = keygen(&params, &program).expect("keygen");
    let proof = prove(&params, &keys, &program, &assignment, os_rng()).expect("prove");
    let public = assignment.public_inputs(&program);
    verify(&params, keys.verifier(), &public, &proof).expect("honest proof verifies");
    // A verifier that made its own key from the program accepts too.
    let vk = verifier_key(&params, &program).expect("vk");
    verify(&params, &vk, &public, &proof).expect("independent verifier key");

    for i in 0..public.len() {
        let mut wrong = public.clone();
        wrong[i] += Fp::ONE;
        assert!(
            verify(&params, &vk, &wrong, &proof).is_err(),
            "public input {i}"
        );
    }
    assert!(matches!(
        verify(&params, &vk, &public[1..], &proof),
        Err(Halo2Error::PublicCount { .. })
    ));
    for pos in [
        0,
        31,
        32,
        proof.len() / 2,
        proof.len() - 33,
        proof.len() - 1,
    ] {
        let mut bad = proof.clone();
        bad[pos] ^= 1;
        assert!(verify(&params, &vk, &public, &bad).is_err(), "byte {pos}");
    }
    for len in [0, 1, 32, proof.len() / 2, proof.len() - 1] {
        assert!(
            verify(&params, &vk, &public, &proof[..len]).is_err(),
            "truncated {len}"
        );
    }
    let mut longer = proof.clone();
    longer.push(0);
    assert!(verify(&params, &vk, &public, &longer).is_err());
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let garbage: Vec<u8> = (0..proof.len()).map(|_| rng.r#gen()).collect();
    assert!(verify(&params, &vk, &public, &garbage).is_err());

    // Unsatisfied assignments are refused, naming the op.
    let mut bad = assignment.clone();
    bad.values[2] += Fp::ONE; // p = x·y
    match prove(&params, &keys, &program, &bad, os_rng()) {
        Err(Halo2Error::Unsatisfied(u)) => assert_eq!(u.kind, "mul"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Keys are bound to their program.
    let (other, other_assignment) = random_program(&mut rng, 5, false);
    assert!(matches!(
        prove(&params, &keys, &other, &other_assignment, os_rng()),
        Err(Halo2Error::WrongProgram)
    ));
    std::fs::remove_dir_all(&cache).expect("remove test cache");
}

#[test]
fn unsupported_ops_are_errors() {
    let mut b = Builder::<Fp>::new();
    let v = b.private(Fp::ONE);
    b.range(v, 100);
    let (mut program, _) = b.finish();
    if let crate::program::Op::Range { bits, .. } = &mut program.ops[1] {
        *bits = 254;
    }
    assert!(matches!(
        Layout::new(&program),
        Err(Halo2Error::Unsupported { op: 1, .. })
    ));
    program.ops[1] = crate::program::Op::Range { v: Var(9), bits: 8 };
    assert!(matches!(
        Layout::new(&program),
        Err(Halo2Error::Unsupported { op: 1, .. })
    ));
}
