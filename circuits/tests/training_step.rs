//! The training-step relation against the plain-Rust reference, and tampering.

mod common;

use circuits::field::{Bn254, Field};
use circuits::reference::fixed_step;
use circuits::relations::training_step::{
    PUBLIC_INPUTS, TrainingStepWitness, build, build_traced, dummy_witness, public_inputs,
};
use common::{Instance, each_public_input_binds, instance, small_models};
use proptest::prelude::*;

const EPS: i64 = 16;

fn check(inst: &Instance, w: &TrainingStepWitness<Bn254>) -> Result<(), circuits::Unsatisfied> {
    let (program, assignment) = build(&inst.shape, w).expect("dimensions match");
    program.check(&assignment)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn circuit_step_equals_reference(seed in any::<u64>(), model in 0usize..3) {
        let inst = instance(small_models()[model], 2, 3, 6, EPS, seed);
        let w = &inst.witness;
        let (program, assignment, trace) = build_traced(&inst.shape, w).unwrap();
        let reference = fixed_step::gradient(&inst.shape.model, &w.params_t, &w.rows, &w.labels).unwrap();
        let grad: Vec<i128> = trace.grad.iter().map(|v| assignment.value(*v).to_i128().unwrap()).collect();
        prop_assert_eq!(grad, reference.grad);
        let delta: Vec<Vec<i128>> = trace
            .delta
            .iter()
            .map(|row| row.iter().map(|v| assignment.value(*v).to_i128().unwrap()).collect())
            .collect();
        prop_assert_eq!(delta, reference.delta);
        prop_assert_eq!(program.check(&assignment), Ok(()));
        prop_assert_eq!(assignment.public_inputs(&program), public_inputs(&inst.shape, w).unwrap());
    }
}

#[test]
fn program_depends_on_shape_only() {
    for model in small_models() {
        let inst = instance(model, 2, 3, 6, EPS, 7);
        let dummy = dummy_witness::<Bn254>(&inst.shape).unwrap();
        let (p1, a1) = build(&inst.shape, &inst.witness).unwrap();
        let (p2, a2) = build(&inst.shape, &dummy).unwrap();
        assert_eq!(p1.digest(), p2.digest(), "{model:?}");
        assert_ne!(a1, a2);
        p2.check(&a2).unwrap();
        assert_eq!(p1.public.len(), PUBLIC_INPUTS);
        let other = instance(model, 2, 3, 6, EPS + 1, 7);
        assert_ne!(
            build(&other.shape, &other.witness).unwrap().0.digest(),
            p1.digest()
        );
    }
}

#[test]
fn tampered_public_inputs_fail() {
    for model in small_models() {
        let inst = instance(model, 2, 3, 6, EPS, 11);
        let (program, assignment) = build(&inst.shape, &inst.witness).unwrap();
        each_public_input_binds(&program, &assignment, &format!("{model:?}"));
    }
}

#[test]
fn wrong_learning_rate_or_moved_parameter_fails() {
    for model in small_models() {
        let inst = instance(model, 2, 3, 6, EPS, 12);
        let mut w = inst.witness.clone();
        w.lr *= 2;
        assert!(check(&inst, &w).is_err(), "{model:?}: doubled lr");
        let tol = (inst.shape.honest_tolerance()).floor() as i64;
        for i in [0, inst.witness.params_t1.len() - 1] {
            for sign in [1, -1] {
                let mut w = inst.witness.clone();
                w.params_t1[i] += sign * (EPS + 1);
                let err = check(&inst, &w).unwrap_err();
                assert_eq!(err.section, "update", "{model:?} coordinate {i}");
                // Inside the honest tolerance the step still verifies.
                let mut w = inst.witness.clone();
                w.params_t1[i] += sign * (tol - 1);
                check(&inst, &w).unwrap();
            }
        }
    }
}

#[test]
fn rows_outside_the_data_set_fail() {
    for model in small_models() {
        let inst = instance(model, 2, 3, 6, EPS, 13);
        let base = &inst.witness;
        let recompute = |w: &mut TrainingStepWitness<Bn254>| {
            // Keep the step honest for the forged rows, so only membership can fail.
            if let Ok(next) =
                fixed_step::step(&inst.shape.model, &w.params_t, &w.rows, &w.labels, w.lr)
            {
                w.params_t1 = next;
            }
        };
        let mut w = base.clone();
        w.rows[1][0] += 1;
        recompute(&mut w);
        assert_eq!(
            check(&inst, &w).unwrap_err().section,
            "merkle",
            "{model:?}: feature"
        );
        let mut w = base.clone();
        w.labels[0] = (w.labels[0] + 1) % inst.shape.model.classes() as u32;
        recompute(&mut w);
        assert_eq!(
            check(&inst, &w).unwrap_err().section,
            "merkle",
            "{model:?}: label"
        );
        let mut w = base.clone();
        // Another index for the same row and path (bit 0 flipped, or bit 1 if that keeps order).
        let moved = w.indices[0] ^ if w.indices[0] & 1 == 1 { 1 } else { 2 };
        w.indices[0] = moved;
        let err = check(&inst, &w).unwrap_err();
        if moved < w.indices[1] {
            assert_eq!(err.section, "merkle", "{model:?}: index");
        }
        // A real row of the set at its real index, but the same row twice.
        let mut w = base.clone();
        w.rows[1] = w.rows[0].clone();
        w.labels[1] = w.labels[0];
        w.indices[1] = w.indices[0];
        w.paths[1] = w.paths[0].clone();
        recompute(&mut w);
        assert_eq!(
            check(&inst, &w).unwrap_err().section,
            "rows",
            "{model:?}: duplicate"
        );
        // A label outside the classes, committed as such, is rejected by the label range.
        let mut w = base.clone();
        w.labels[0] = 7;
        assert!(check(&inst, &w).is_err(), "{model:?}: label out of range");
    }
}

#[test]
fn out_of_range_start_parameter_fails() {
    for model in small_models() {
        let inst = instance(model, 2, 3, 6, EPS, 14);
        let mut w = inst.witness.clone();
        let shift = (1i64 << 23) - w.params_t[0];
        w.params_t[0] += shift;
        w.params_t1[0] += shift;
        let err = check(&inst, &w).unwrap_err();
        assert_eq!(err.section, "commit", "{model:?}");
        assert!(
            public_inputs(&inst.shape, &w).is_ok(),
            "still committable, but not provable"
        );
    }
}

#[test]
fn mismatched_dimensions_are_errors_not_panics() {
    let inst = instance(small_models()[1], 2, 3, 6, EPS, 15);
    let mut w = inst.witness.clone();
    w.paths[0].pop();
    assert!(build(&inst.shape, &w).is_err());
    let mut w = inst.witness.clone();
    w.params_t.push(0);
    assert!(build(&inst.shape, &w).is_err());
    assert!(public_inputs(&inst.shape, &w).is_err());
}
