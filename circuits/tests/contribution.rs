//! The contribution relation against the plain-Rust game, tampering, and a Groth16 round trip.

mod common;

use circuits::field::{Bn254, Field};
use circuits::reference::Model;
use circuits::reference::contribution::{WeightedModel, round_game};
use circuits::relations::contribution::{
    ContributionShape, ContributionWitness, build, fedavg, public_inputs,
};
use circuits::system::{Groth16, ProofSystem};
use common::each_public_input_binds;
use contribution::Game;
use contribution::draw::{drawn, fixed};
use contribution::exact::{shapley_numerators, weight};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn models() -> [Model; 2] {
    [
        Model::LogReg { inputs: 3 },
        Model::Softmax {
            inputs: 3,
            classes: 3,
        },
    ]
}

/// A random round: `n` players, `rows` validation rows, `k` drawn coalitions.
fn instance(
    model: Model,
    n: usize,
    rows: usize,
    k: usize,
    seed: u64,
) -> (ContributionShape, ContributionWitness) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = model.param_count();
    let global: Vec<i64> = (0..p).map(|_| rng.gen_range(-20_000..20_000)).collect();
    let updates: Vec<Vec<i64>> = (0..n)
        .map(|_| {
            global
                .iter()
                .map(|w| w + rng.gen_range(-60_000..60_000))
                .collect()
        })
        .collect();
    // A quarter of the players absent (weight 0), the first always present.
    let samples: Vec<u64> = (0..n)
        .map(|i| {
            if i > 0 && rng.gen_ratio(1, 4) {
                0
            } else {
                rng.gen_range(1..200)
            }
        })
        .collect();
    let x: Vec<Vec<i64>> = (0..rows)
        .map(|_| {
            (0..model.inputs())
                .map(|_| rng.gen_range(-1024..1024))
                .collect()
        })
        .collect();
    let labels: Vec<u32> = (0..rows)
        .map(|_| rng.gen_range(0..model.classes() as u32))
        .collect();
    let depth = usize::BITS - (rows - 1).leading_zeros();
    let draw = drawn(&[seed as u8; 32], n, k);
    let shape = ContributionShape {
        model,
        players: n,
        rows,
        depth,
        drawn: k,
    };
    let w = ContributionWitness::honest(&model, global, updates, samples, x, labels, draw).unwrap();
    (shape, w)
}

fn check(shape: &ContributionShape, w: &ContributionWitness) -> Result<(), circuits::Unsatisfied> {
    let (program, assignment) = build::<Bn254>(shape, w).expect("dimensions match");
    program.check(&assignment)
}

/// Recomputes the values from a (tampered) table, as an owner would to keep them consistent.
fn revalue(w: &mut ContributionWitness) {
    w.numerators = shapley_numerators(&w.table).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn every_coalition_the_circuit_counts_is_the_games_utility(seed in any::<u64>(), m in 0usize..2) {
        // Four players, every coalition outside the heavy ten drawn: the circuit recomputes the
        // whole table, so an honest witness passes only if circuit and game agree everywhere.
        let (shape, w) = instance(models()[m], 4, 7, 6, seed);
        let mut all: Vec<u64> = fixed(4).into_iter().chain(w.drawn.iter().copied()).collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..16).collect::<Vec<u64>>());
        let (program, assignment) = build::<Bn254>(&shape, &w).unwrap();
        prop_assert_eq!(program.check(&assignment), Ok(()));
        prop_assert_eq!(assignment.public_inputs(&program), public_inputs::<Bn254>(&shape, &w).unwrap());
        prop_assert_eq!(program.public.len(), shape.public_count());
        // The table is the game's, the values its Shapley values, the aggregate the FedAvg.
        let weighted: Vec<WeightedModel> = w.updates.iter().zip(&w.samples)
            .map(|(u, &n)| WeightedModel { samples: n, params: u.clone() }).collect();
        let game = round_game(&shape.model, &w.global, &weighted, &w.rows, &w.labels).unwrap();
        prop_assert_eq!(&w.table, &(0..16).map(|s| game.utility(s)).collect::<Vec<_>>());
        prop_assert_eq!(&w.aggregate, &fedavg(&w.updates, &w.samples));
    }
}

#[test]
fn an_absent_player_is_null_and_every_coalition_of_absent_players_scores_the_global_model() {
    for model in models() {
        // Four players, all sixteen coalitions checked, players 1 and 3 absent.
        let (shape, w) = instance(model, 4, 7, 6, 11);
        let samples = vec![w.samples[0].max(1), 0, 57, 0];
        let w = ContributionWitness::honest(
            &model,
            w.global.clone(),
            w.updates.clone(),
            samples,
            w.rows.clone(),
            w.labels.clone(),
            w.drawn.clone(),
        )
        .unwrap();
        check(&shape, &w).unwrap();
        assert_eq!((w.numerators[1], w.numerators[3]), (0, 0), "{model:?}");
        assert_eq!(w.table[0b1010], w.table[0], "absent players only: v(∅)");
        // An owner that scores a coalition of absent players with anything but the global
        // model is refused: the table entry moved and the values recomputed.
        let mut bad = w.clone();
        bad.table[0b1010] = (bad.table[0] + 1) % (shape.rows as i64 + 1);
        revalue(&mut bad);
        assert!(check(&shape, &bad).is_err(), "{model:?}");
        // Nobody present: no aggregate exists, nothing can be proven.
        let none = ContributionWitness {
            samples: vec![0; 4],
            ..w.clone()
        };
        assert!(check(&shape, &none).is_err(), "{model:?}");
    }
}

#[test]
fn the_program_depends_on_the_shape_only() {
    for model in models() {
        let (shape, a) = instance(model, 3, 5, 0, 1);
        let (_, b) = instance(model, 3, 5, 0, 2);
        let (pa, _) = build::<Bn254>(&shape, &a).unwrap();
        let (pb, ab) = build::<Bn254>(&shape, &b).unwrap();
        assert_eq!(pa.digest(), pb.digest());
        pb.check(&ab).unwrap();
        let (other, c) = instance(model, 3, 6, 0, 1);
        assert_ne!(build::<Bn254>(&other, &c).unwrap().0.digest(), pa.digest());
    }
}

#[test]
fn every_altered_public_input_is_refused() {
    for model in models() {
        let (shape, w) = instance(model, 4, 5, 2, 3);
        let (program, assignment) = build::<Bn254>(&shape, &w).unwrap();
        each_public_input_binds(&program, &assignment, &format!("{model:?}"));
    }
}

#[test]
fn altered_checked_utilities_values_and_aggregates_are_refused() {
    let (shape, honest) = instance(models()[1], 4, 6, 2, 4);
    check(&shape, &honest).unwrap();
    // A value that is not the Shapley value of the table.
    let mut w = honest.clone();
    w.numerators[0] += 1;
    assert!(check(&shape, &w).is_err(), "φ_0 + 1/N!");
    // A checked utility changed, the values recomputed to match it.
    for s in fixed(4).into_iter().chain(honest.drawn.iter().copied()) {
        let mut w = honest.clone();
        w.table[s as usize] += if w.table[s as usize] == 0 { 1 } else { -1 };
        revalue(&mut w);
        assert!(check(&shape, &w).is_err(), "coalition {s:04b}");
    }
    // An aggregate that is not the FedAvg of the updates.
    let mut w = honest.clone();
    w.aggregate[0] += 1;
    assert!(check(&shape, &w).is_err(), "aggregate");
    // A witness whose model differs from the committed one (same public commitment claimed
    // would need a Poseidon collision): changing an update changes its public commitment.
    let mut w = honest;
    w.updates[1][0] += 1;
    let before = public_inputs::<Bn254>(&shape, &instance(models()[1], 4, 6, 2, 4).1).unwrap();
    let after = public_inputs::<Bn254>(&shape, &w).unwrap();
    assert_ne!(before[2], after[2]);
}

#[test]
fn an_unchecked_utility_moves_values_by_at_most_its_shapley_weight() {
    // Four players, one drawn coalition: of the 6 coalitions outside the heavy ones, 5 go
    // unchecked. Changing one (S, |S| = 2) by u rows moves each φ_i by ± w(2)·u / 4! and passes:
    // this is the freedom the sampling bound in the closing note is about.
    let (shape, honest) = instance(models()[1], 4, 8, 1, 5);
    let heavy = fixed(4);
    let s = (0u64..16)
        .find(|s| !heavy.contains(s) && !honest.drawn.contains(s))
        .unwrap();
    let mut w = honest.clone();
    w.table[s as usize] += 1;
    revalue(&mut w);
    check(&shape, &w).unwrap();
    let size = s.count_ones() as usize;
    for i in 0..4 {
        let moved = w.numerators[i] - honest.numerators[i];
        let expected = if s >> i & 1 == 1 {
            weight(4, size - 1)
        } else {
            -weight(4, size)
        };
        assert_eq!(moved, expected, "player {i}");
    }
}

#[test]
fn mismatched_dimensions_and_bad_shapes_are_errors() {
    let (shape, w) = instance(models()[1], 3, 4, 0, 6);
    let mut short = w.clone();
    short.table.pop();
    assert!(build::<Bn254>(&shape, &short).is_err());
    let mlp = ContributionShape {
        model: Model::Mlp {
            inputs: 3,
            hidden: 2,
            classes: 3,
        },
        ..shape
    };
    assert!(mlp.validate().is_err());
    assert!(
        ContributionShape {
            players: 13,
            ..shape
        }
        .validate()
        .is_err()
    );
    assert!(
        ContributionShape { drawn: 1, ..shape }.validate().is_err(),
        "3 players: nothing to draw"
    );
    assert!(
        ContributionShape {
            rows: 9,
            depth: 3,
            ..shape
        }
        .validate()
        .is_err()
    );
}

#[test]
fn groth16_proves_a_round_and_refuses_altered_values() {
    let (shape, w) = instance(models()[1], 3, 4, 0, 7);
    let (program, assignment) = build::<Bn254>(&shape, &w).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (pk, vk) = Groth16::keygen(&(), &program, &mut rng).unwrap();
    let proof = Groth16::prove(&(), &pk, &program, &assignment, &mut rng).unwrap();
    let public = assignment.public_inputs(&program);
    Groth16::verify(&(), &vk, &public, &proof).unwrap();
    for i in 0..public.len() {
        let mut bad = public.clone();
        bad[i] += Bn254::from_i128(1);
        assert!(
            Groth16::verify(&(), &vk, &bad, &proof).is_err(),
            "public input {i}"
        );
    }
}
