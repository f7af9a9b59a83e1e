//! Every honest step of an MLP is provable: a ReLU whose float and fixed-point masks disagree
//! by rounding falls in the relation's dead zone, where the prover follows its float training.
//!
//! An MLP 64-16-10 trains on digits with burn for two local epochs (over 500 steps, each
//! logged); the constraint system of the training-step relation is built and checked for every
//! one of them. The same steps checked without the float masks (`ā > 0` everywhere, the
//! relation before the dead zone) show how many would have been unprovable.

use std::sync::Arc;

use circuits::field::Bn254;
use circuits::reference::fixed_step::{gradient, gradient_with_masks};
use circuits::relations::training_step;
use fl::data::DatasetSource;
use fl::federation::{Federation, FederationConfig, RunDir};
use fl::partition::PartitionScheme;
use fl::train::TrainConfig;
use prover::StepInstance;
use rayon::prelude::*;
use zkfl::proving::{client_data, commit_run, federation_shape, row_positions};

#[test]
fn every_logged_mlp_step_satisfies_the_relation() {
    let config = FederationConfig {
        dataset: DatasetSource::Digits,
        model: "mlp:16".into(),
        clients: 1,
        partition: PartitionScheme::Iid,
        rounds: 1,
        train: TrainConfig {
            lr: 0.1,
            batch_size: 4,
            local_epochs: 2,
            drop_last: true,
            ..TrainConfig::default()
        },
        seed: 0,
        ..FederationConfig::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::create(tmp.path()).unwrap();
    let federation = Arc::new(
        commit_run(Federation::new(config).unwrap(), &dir)
            .unwrap()
            .0,
    );
    let initial = federation.spec().init_params(federation.config().seed);
    let log = federation
        .train_client(&dir, 1, 0, &initial)
        .unwrap()
        .log
        .unwrap();
    let steps = log.total_steps();
    assert!(steps >= 500, "{steps} steps");
    let shape = federation_shape(&federation).unwrap();
    let data = client_data(&federation, 0).unwrap();
    let tree = data.tree::<Bn254>().unwrap();
    let positions = row_positions(&federation, 0);
    let started = std::time::Instant::now();
    let verdicts: Vec<(bool, bool)> = (0..steps)
        .into_par_iter()
        .map(|step| {
            let (i, _) = log.locate_step(step).unwrap();
            let before = dir.blobs().get_f32s(&log.checkpoint_before(i)).unwrap();
            let after = dir.blobs().get_f32s(&log.entries[i].checkpoint).unwrap();
            let instance =
                StepInstance::from_log(shape, &log, step, (&before, &after), &positions, &data)
                    .unwrap();
            let mut witness = instance.witness(&data, &tree).unwrap();
            let (program, assignment) = training_step::build(&shape, &witness).unwrap();
            let provable = program.check(&assignment).is_ok();
            // Without the float masks the relation differs only where a mask in the dead zone
            // differs: rebuild just those steps.
            let (w, model) = (&witness, &shape.model);
            let hinted = gradient_with_masks(model, &w.params_t, &w.rows, &w.labels, &w.masks);
            let plain = gradient(model, &w.params_t, &w.rows, &w.labels);
            let without_dead_zone = if hinted == plain {
                provable
            } else {
                witness.masks.clear();
                let (program, assignment) = training_step::build(&shape, &witness).unwrap();
                program.check(&assignment).is_ok()
            };
            (provable, without_dead_zone)
        })
        .collect();
    let unprovable = verdicts.iter().filter(|v| !v.0).count();
    let flipped = verdicts.iter().filter(|v| !v.1).count();
    eprintln!(
        "{steps} steps checked in {:.1} s: {unprovable} unprovable; {flipped} would be without the dead zone",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(unprovable, 0, "an honest step did not satisfy the relation");
    assert!(flipped > 0, "this seed has steps the dead zone rescues");
}
