//! A small circuit through both phases, proved and verified with `ark_groth16`, and every kind
//! of tampering with a transcript rejected.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
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

use crate::{Accumulator, CeremonyError, LagrangeBasis, Parameters, Transcript};

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
        let (next, receipt) = acc.contribute(&mut rng(seed));
        assert_eq!(
            acc.verify_contribution(&next).unwrap().last(),
            Some(&receipt)
        );
        acc = next;
    }
    acc
}

/// The circuit's domain size: 43 constraints plus 2 instance variables, to a power of two.
const DOMAIN: usize = 64;

/// The checked Lagrange basis of `acc` for the circuit.
fn basis(acc: &Accumulator) -> LagrangeBasis {
    let basis = LagrangeBasis::new(acc, DOMAIN).unwrap();
    basis.check(acc).unwrap();
    basis
}

/// The initial parameters and three contributions with their receipts.
fn phase2(acc: &Accumulator) -> (Parameters, Parameters, Vec<crate::Digest>) {
    let initial = Parameters::new(&basis(acc), circuit()).unwrap();
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

/// Rejected, by the check whose message contains `why`.
fn rejected_for<T: std::fmt::Debug>(result: Result<T, CeremonyError>, why: &str) -> bool {
    matches!(result, Err(CeremonyError::Rejected(m)) if m.contains(why))
}

#[test]
fn a_key_from_the_ceremony_proves_and_verifies_like_a_directly_generated_one() {
    let acc = phase1();
    let (_, params, receipts) = phase2(&acc);
    assert_eq!(
        params.verify(&acc, &basis(&acc), circuit()).unwrap(),
        receipts
    );
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
}

#[test]
fn phase1_rejects_a_contribution_that_is_not_what_it_proves() {
    let acc = Accumulator::new(4).unwrap();
    let (next, _) = acc.contribute(&mut rng(1));
    acc.verify_contribution(&next).unwrap();
    assert_eq!(next.contributions().len(), 1);

    // One power altered: the powers are no longer consecutive.
    let mut bad = next.clone();
    bad.tau_g1[9] = (bad.tau_g1[9] + G1Affine::generator()).into_affine();
    assert!(rejected(acc.verify_contribution(&bad)));
    let mut bad = next.clone();
    bad.tau_g2[3] = (bad.tau_g2[3] + G2Affine::generator()).into_affine();
    assert!(rejected(acc.verify_contribution(&bad)));
    // α scaled by a factor nobody proved: consistent powers, wrong transition.
    let mut bad = next.clone();
    let two = Fr::from(2u64);
    crate::scale::by_constant::<G1Projective>(&mut bad.alpha_tau_g1, two);
    assert!(rejected(acc.verify_contribution(&bad)));
    // β in G1 and G2 disagree.
    let mut bad = next.clone();
    bad.beta_g2 = (bad.beta_g2 * two).into_affine();
    assert!(rejected(acc.verify_contribution(&bad)));
    // A contribution proved on another accumulator cannot be replayed here.
    let (later, _) = next.contribute(&mut rng(2));
    let mut bad = next.clone();
    bad.contributions[0] = later.contributions[1].clone();
    assert!(rejected(acc.verify_contribution(&bad)));
    // Someone else's update under this contribution's record: not the powers it claims.
    let (mut other, _) = acc.contribute(&mut rng(3));
    other.contributions = next.contributions.clone();
    assert!(rejected_for(
        acc.verify_contribution(&other),
        "not the last contribution's"
    ));
    // A record whose [τ]₁ is not the proven factor times the one before.
    let mut bad = next.clone();
    bad.contributions[0].tau_g1 = other.tau_g1[1];
    assert!(rejected_for(acc.verify_contribution(&bad), "proven τ'"));
    // Two updates at once, or a rewritten history, are not one contribution.
    assert!(rejected(acc.verify_contribution(&later)));
    assert!(rejected(next.verify_contribution(&next)));
    // All powers scaled: no longer the last contribution's.
    let mut bad = next.clone();
    crate::scale::by_constant::<G1Projective>(&mut bad.tau_g1, two);
    assert!(rejected_for(
        acc.verify_contribution(&bad),
        "not the last contribution's"
    ));
    // Not starting at the generator (everything else as recorded).
    let mut bad = next.clone();
    bad.tau_g1[0] = (bad.tau_g1[0] * two).into_affine();
    assert!(rejected_for(
        acc.verify_contribution(&bad),
        "standard generators"
    ));
    // Powers with a known τ and no contribution claiming them, or no contribution at all.
    let mut bad = acc.clone();
    crate::scale::by_powers::<G1Projective>(&mut bad.tau_g1, Fr::from(5u64), Fr::one());
    assert!(rejected(bad.verify()));
    acc.verify().unwrap();
    assert!(rejected(LagrangeBasis::new(&acc, 8)));
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
    let (_, params, _) = phase2(&acc);
    let g1 = G1Affine::generator();

    // An element of the H or L query, or of a δ-independent query, altered.
    let mut bad = params.clone();
    bad.key.h_query[5] = (bad.key.h_query[5] + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.l_query[0] = (bad.key.l_query[0] + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.a_query[2] = (bad.key.a_query[2] + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.b_g1_query[2] = (bad.key.b_g1_query[2] + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.b_g2_query[2] = (bad.key.b_g2_query[2] + G2Affine::generator()).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.h_query.push(g1);
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.beta_g1 = (bad.key.beta_g1 + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.vk.alpha_g1 = (bad.key.vk.alpha_g1 + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.key.vk.gamma_abc_g1[1] = (bad.key.vk.gamma_abc_g1[1] + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    // δ set to a value its setter knows, queries divided consistently, without a proof.
    let mut bad = params.clone();
    let known = Fr::rand(&mut rng(7));
    bad.key.delta_g1 = (bad.key.delta_g1 * known).into_affine();
    bad.key.vk.delta_g2 = (bad.key.vk.delta_g2 * known).into_affine();
    let inverse = ark_ff::Field::inverse(&known).unwrap();
    crate::scale::by_constant::<G1Projective>(&mut bad.key.h_query, inverse);
    crate::scale::by_constant::<G1Projective>(&mut bad.key.l_query, inverse);
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    // A contribution dropped from the record, or one reordered.
    let mut bad = params.clone();
    bad.contributions.remove(1);
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    let mut bad = params.clone();
    bad.contributions.swap(0, 2);
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    // A contribution's proof of knowledge altered.
    let mut bad = params.clone();
    bad.contributions[1].proof.s_x = (bad.contributions[1].proof.s_x + g1).into_affine();
    assert!(rejected(bad.verify(&acc, &basis(&acc), circuit())));
    // Parameters of another circuit, or checked against another circuit's start.
    assert!(rejected(params.verify(
        &acc,
        &basis(&acc),
        Cubic { x: None, terms: 41 }
    )));
    let (later, _) = acc.contribute(&mut rng(8));
    let later_basis = LagrangeBasis::new(&later, DOMAIN).unwrap();
    assert!(rejected(params.verify(&later, &later_basis, circuit())));
    // A basis of another size, or beyond the accumulator.
    let small = LagrangeBasis::new(&acc, 32).unwrap();
    assert!(matches!(
        Parameters::new(&small, circuit()),
        Err(CeremonyError::WrongBasis {
            needed: 64,
            basis: 32
        })
    ));
    assert!(matches!(
        LagrangeBasis::new(&acc, 256),
        Err(CeremonyError::TooSmall {
            needed: 256,
            available: 128
        })
    ));
    assert!(matches!(
        LagrangeBasis::new(&acc, 48),
        Err(CeremonyError::Domain(48))
    ));
    // The untouched transcript still verifies (the tampering above was all on clones).
    params.verify(&acc, &basis(&acc), circuit()).unwrap();
}

#[test]
fn a_lagrange_basis_is_checked_against_its_accumulator() {
    let acc = phase1();
    let basis = LagrangeBasis::new(&acc, DOMAIN).unwrap();
    basis.check(&acc).unwrap();
    let g1 = G1Affine::generator();
    for part in 0..4 {
        let mut bad = basis.clone();
        match part {
            0 => bad.l_g1[7] = (bad.l_g1[7] + g1).into_affine(),
            1 => bad.l_g2[0] = (bad.l_g2[0] + G2Affine::generator()).into_affine(),
            2 => bad.l_alpha_g1[63] = (bad.l_alpha_g1[63] + g1).into_affine(),
            _ => bad.h_g1[1] = (bad.h_g1[1] + g1).into_affine(),
        }
        assert!(rejected(bad.check(&acc)), "part {part}");
    }
    // A basis of powers nobody contributed to (τ = α = β = 1), however it was made.
    let fresh = Accumulator::new(7).unwrap();
    let mut known = basis.clone();
    known.phase1 = fresh.digest();
    assert!(rejected_for(known.check(&fresh), "without a contribution"));
    for part in 0..4 {
        let mut bad = basis.clone();
        match part {
            0 => bad.l_beta_g1[3] = (bad.l_beta_g1[3] + g1).into_affine(),
            1 => bad.alpha_g1 = (bad.alpha_g1 + g1).into_affine(),
            2 => bad.beta_g1 = (bad.beta_g1 + g1).into_affine(),
            _ => bad.beta_g2 = (bad.beta_g2 + G2Affine::generator()).into_affine(),
        }
        assert!(rejected(bad.check(&acc)), "part {part}");
    }
    // The basis of the accumulator before the last contribution.
    let (later, _) = acc.contribute(&mut rng(9));
    assert!(rejected(basis.check(&later)));
}

#[test]
fn a_ledger_transcript_accepts_the_contributions_in_order_and_derives_the_verifying_key() {
    let acc = phase1();
    let (initial, params, receipts) = phase2(&acc);
    let mut ledger = Transcript::start(initial.cs_hash());
    for (c, receipt) in params.contributions().iter().zip(&receipts) {
        assert_eq!(ledger.accept(c).unwrap(), *receipt);
    }
    assert_eq!(ledger.hash, params.transcript());
    let vk = ledger.verifying_key(&initial.proving_key().vk).unwrap();
    assert_eq!(vk, params.proving_key().vk);

    let c = params.contributions();
    // Replayed, out of order, or against another circuit's start: refused, nothing changes.
    let before = ledger;
    assert!(rejected(ledger.accept(&c[2])));
    assert_eq!(ledger, before);
    let mut fresh = Transcript::start(initial.cs_hash());
    assert!(rejected(fresh.accept(&c[1])));
    // No contribution, no key: δ = γ = 1 would let anyone forge.
    assert!(rejected(fresh.verifying_key(&initial.proving_key().vk)));
    assert!(rejected(initial.verify(&acc, &basis(&acc), circuit())));
    let mut other = Transcript::start([7; 32]);
    assert!(rejected(other.accept(&c[0])));
    // δ in G2 that is not δ in G1.
    let mut bad = c[0].clone();
    bad.delta_after_g2 = (bad.delta_after_g2 + G2Affine::generator()).into_affine();
    assert!(rejected(Transcript::start(initial.cs_hash()).accept(&bad)));
}

#[test]
fn ceremony_files_round_trip_and_refuse_other_bytes() {
    use crate::CeremonyFile;
    let dir = std::env::temp_dir().join(format!("zkfl-ceremony-test-{}", std::process::id()));
    let acc = phase1();
    let (_, params, _) = phase2(&acc);
    let path = dir.join("pot.bin");
    acc.write_to(&path).unwrap();
    assert_eq!(Accumulator::read_from(&path).unwrap(), acc);
    let params_path = dir.join("params.bin");
    params.write_to(&params_path).unwrap();
    assert_eq!(Parameters::read_from(&params_path).unwrap(), params);
    // Another kind, a truncated file, a byte appended, a point moved off the curve.
    assert!(matches!(
        Parameters::read_from(&path),
        Err(CeremonyError::NotA(_))
    ));
    let bytes = std::fs::read(&path).unwrap();
    let bad = dir.join("bad.bin");
    std::fs::write(&bad, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        Accumulator::read_from(&bad),
        Err(CeremonyError::Encoding(_))
    ));
    let mut longer = bytes.clone();
    longer.push(0);
    std::fs::write(&bad, &longer).unwrap();
    assert!(matches!(
        Accumulator::read_from(&bad),
        Err(CeremonyError::Encoding(_))
    ));
    let mut moved = bytes.clone();
    moved[8 + 8 + 64 + 3] ^= 1; // the x coordinate of [τ]₁ (after the magic and a length)
    std::fs::write(&bad, &moved).unwrap();
    assert!(matches!(
        Accumulator::read_from(&bad),
        Err(CeremonyError::Encoding(_))
    ));
    assert!(matches!(
        Accumulator::read_from(&dir.join("missing.bin")),
        Err(CeremonyError::Io(..))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_key_equals_ark_groth16s_for_the_same_secrets() {
    use ark_ec::PrimeGroup;
    use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
    let (alpha, beta) = (Fr::from(11u64), Fr::from(13u64));
    // ark's generator draws τ first thing from its rng: draw it the same way from a twin.
    let domain = GeneralEvaluationDomain::<Fr>::new(DOMAIN).unwrap();
    let tau = domain.sample_element_outside_domain(&mut rng(99));
    let mut acc = Accumulator::new(7).unwrap();
    crate::scale::by_powers::<G1Projective>(&mut acc.tau_g1, tau, Fr::one());
    crate::scale::by_powers::<ark_bn254::G2Projective>(&mut acc.tau_g2, tau, Fr::one());
    crate::scale::by_powers::<G1Projective>(&mut acc.alpha_tau_g1, tau, alpha);
    crate::scale::by_powers::<G1Projective>(&mut acc.beta_tau_g1, tau, beta);
    acc.beta_g2 = (acc.beta_g2 * beta).into_affine();
    // The basis does not replay history; any contribution stands in for the known secrets.
    acc.contributions = phase1().contributions;
    let basis = LagrangeBasis::new(&acc, DOMAIN).unwrap();
    let ours = Parameters::new(&basis, circuit()).unwrap();
    let theirs = Groth16::<Bn254>::generate_parameters_with_qap(
        circuit(),
        alpha,
        beta,
        Fr::one(),
        Fr::one(),
        G1Projective::generator(),
        ark_bn254::G2Projective::generator(),
        &mut rng(99),
    )
    .unwrap();
    assert_eq!(ours.proving_key(), &theirs);
}

/// A `.ptau` file made by snarkjs 0.7.6 (`ceremony/tests/data/README.md` says how).
fn ptau(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Proves `y = x³ + x + 5` for `x = 3` under `pk` and checks the proof, and that it fails for
/// another `y`.
fn proves_and_verifies(pk: &ark_groth16::ProvingKey<Bn254>) {
    let x = Fr::from(3u64);
    let y = x * x * x + x + Fr::from(5u64);
    let witness = Cubic {
        x: Some(x),
        terms: 40,
    };
    let proof = Groth16::<Bn254>::prove(pk, witness, &mut rng(4)).unwrap();
    let pvk = Groth16::<Bn254>::process_vk(&pk.vk).unwrap();
    assert!(Groth16::<Bn254>::verify_with_processed_vk(&pvk, &[y], &proof).unwrap());
    assert!(!Groth16::<Bn254>::verify_with_processed_vk(&pvk, &[y + Fr::one()], &proof).unwrap());
}

#[test]
fn powers_of_tau_from_a_snarkjs_ceremony_key_a_circuit_and_take_further_contributions() {
    let file = ptau("snarkjs-2^7-prepared.ptau");
    let (acc, basis) = Accumulator::from_ptau(&file, 6).unwrap();
    let origin = acc.imported().unwrap().clone();
    // What `snarkjs powersoftau verify` printed for this file: 2 contributions, this hash.
    assert_eq!((origin.power, origin.contributions), (7, 2));
    assert_eq!(
        hex::encode(origin.next_challenge),
        "4c7953fa7db8488e55cf0e7746bc04420b120030cdf713ce113214e5a08c6e5d\
         abed43d56003cba203c23322ff4a6a6230c872c0488e585a76788b4d40cb63ae"
    );
    assert_eq!(acc.size(), DOMAIN);
    assert!(acc.contributions().is_empty() && acc.has_secret());
    assert_eq!(acc.verify().unwrap(), Vec::<crate::Digest>::new());

    // snarkjs's Lagrange basis is the one we compute from its powers, point for point.
    let basis = basis.unwrap();
    assert_eq!(basis, LagrangeBasis::new(&acc, DOMAIN).unwrap());
    basis.check(&acc).unwrap();

    // Phase 2 on the imported powers: a key that proves and verifies.
    let (params, _) = Parameters::new(&basis, circuit())
        .unwrap()
        .contribute(&mut rng(10));
    params.verify(&acc, &basis, circuit()).unwrap();
    proves_and_verifies(params.proving_key());

    // Our own contribution on top of the public ceremony's, replayed from its powers.
    let (next, receipt) = acc.contribute(&mut rng(1));
    assert_eq!(acc.verify_contribution(&next).unwrap(), vec![receipt]);
    assert_eq!(next.imported(), Some(&origin));
    // The same contribution claimed on fresh powers, or the import dropped: not this history.
    let mut orphan = next.clone();
    orphan.imported = None;
    assert!(rejected(orphan.verify()));
    assert!(rejected(
        Accumulator::new(6).unwrap().verify_contribution(&next)
    ));

    // The whole file, and more than it has.
    let (whole, _) = Accumulator::from_ptau(&file, 7).unwrap();
    assert_eq!(whole.size(), 128);
    assert!(matches!(
        Accumulator::from_ptau(&file, 8),
        Err(CeremonyError::TooSmall {
            needed: 256,
            available: 128
        })
    ));
}

/// Section id → (offset, length) of a `.ptau` file's bytes.
fn sections(bytes: &[u8]) -> std::collections::HashMap<u32, (usize, usize)> {
    let word = |at: usize, n: usize| {
        let mut le = [0u8; 8];
        le[..n].copy_from_slice(&bytes[at..at + n]);
        u64::from_le_bytes(le) as usize
    };
    let mut found = std::collections::HashMap::new();
    let mut at = 12;
    for _ in 0..word(8, 4) {
        let (id, len) = (word(at, 4) as u32, word(at + 4, 8));
        found.insert(id, (at + 12, len));
        at += 12 + len;
    }
    found
}

#[test]
fn a_ptau_file_that_is_not_a_ceremonys_powers_is_refused() {
    let good = std::fs::read(ptau("snarkjs-2^7-prepared.ptau")).unwrap();
    let at = sections(&good);
    let dir = tempfile::tempdir().unwrap();
    let import = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        Accumulator::from_ptau(&path, 6)
    };
    let altered = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = good.clone();
        edit(&mut bytes);
        bytes
    };
    let point = |id: u32, k: usize, size: usize| at[&id].0 + k * size;

    // Powers nobody contributed to.
    assert!(rejected_for(
        Accumulator::from_ptau(&ptau("snarkjs-2^7-fresh.ptau"), 6),
        "no contribution"
    ));
    // [τ^5]₁ replaced by [τ^6]₁: every point valid, no longer consecutive powers.
    let shifted = altered(&|b| b.copy_within(point(2, 6, 64)..point(2, 7, 64), point(2, 5, 64)));
    assert!(rejected_for(
        import("shifted", &shifted),
        "consecutive powers"
    ));
    // [β]₂ swapped for [τ]₂: β in G1 and G2 disagree.
    let beta = altered(&|b| b.copy_within(point(3, 1, 128)..point(3, 2, 128), point(6, 0, 128)));
    assert!(rejected_for(import("beta", &beta), "consecutive powers"));
    // One byte of a coordinate flipped: not a point of the curve.
    let flipped = altered(&|b| b[point(4, 3, 64) + 7] ^= 1);
    assert!(rejected_for(
        import("flipped", &flipped),
        "not on the curve"
    ));
    // The last contribution's [τ]₁ is not the powers' (the contribution record altered).
    let tau = &good[point(2, 1, 64)..point(2, 2, 64)];
    let contributions = &good[at[&7].0..at[&7].0 + at[&7].1];
    let record = at[&7].0 + contributions.windows(64).rposition(|w| w == tau).unwrap();
    let last = altered(&|b| b.copy_within(point(2, 2, 64)..point(2, 3, 64), record));
    assert!(rejected_for(import("record", &last), "last contribution"));
    // Two Lagrange points of the 2^6 domain swapped.
    let first = point(12, (1 << 6) - 1, 64);
    let lagrange = altered(&|b| {
        let (x, y) = (
            b[first..first + 64].to_vec(),
            b[first + 64..first + 128].to_vec(),
        );
        b[first..first + 64].copy_from_slice(&y);
        b[first + 64..first + 128].copy_from_slice(&x);
    });
    assert!(rejected_for(
        import("lagrange", &lagrange),
        "Lagrange basis"
    ));
    // Cut short, another magic, another curve, a power out of range.
    assert!(rejected_for(
        import("short", &good[..good.len() / 2]),
        "cut short"
    ));
    assert!(matches!(
        import("magic", &altered(&|b| b[..4].copy_from_slice(b"zkey"))),
        Err(CeremonyError::NotA(_))
    ));
    let curve = altered(&|b| b[at[&1].0 + 4] ^= 1);
    assert!(rejected_for(import("curve", &curve), "another curve"));
    assert!(matches!(
        Accumulator::from_ptau(&ptau("snarkjs-2^7-prepared.ptau"), 0),
        Err(CeremonyError::Power(0))
    ));
    // Untouched, the same bytes import.
    assert!(import("good", &good).is_ok());
}
