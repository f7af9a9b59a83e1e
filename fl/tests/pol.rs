//! Proof-of-learning: honest logs replay exactly; edited, reordered and interpolated ones fail.

use std::path::{Path, PathBuf};

use fl::blob::BlobStore;
use fl::federation::{Federation, FederationConfig, RunDir, Silent};
use fl::partition::PartitionScheme;
use fl::pol::replay::{ReplayError, replay_log};
use fl::pol::{CheckpointLog, StepRecord};
use fl::train::TrainConfig;

/// A short real run with logs: 3 clients, 1 round, 1 local epoch; returns (dir, federation, log path).
fn logged_run(momentum: f32) -> (tempfile::TempDir, Federation, PathBuf) {
    let config = FederationConfig {
        clients: 3,
        partition: PartitionScheme::Iid,
        rounds: 1,
        train: TrainConfig {
            local_epochs: 1,
            momentum,
            ..TrainConfig::default()
        },
        ..FederationConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let federation = Federation::new(config).unwrap();
    federation.run(dir.path(), false, &Silent).unwrap();
    let log = RunDir::create(dir.path()).unwrap().pol_path(1, 1);
    (dir, federation, log)
}

fn checkpoints(log: &CheckpointLog, blobs: &BlobStore) -> Vec<Vec<f32>> {
    log.entries
        .iter()
        .map(|e| blobs.get_f32s(&e.checkpoint).unwrap())
        .collect()
}

/// A forger's consistent log: same header and steps, the given checkpoints, chain recomputed.
fn forge(log: &CheckpointLog, blobs: &BlobStore, checkpoints: &[Vec<f32>]) -> CheckpointLog {
    let mut forged = CheckpointLog::new(log.header.clone());
    for (entry, checkpoint) in log.entries.iter().zip(checkpoints) {
        let digest = blobs.put_f32s(checkpoint).unwrap();
        forged.append(entry.steps.clone(), digest);
    }
    forged
}

fn blobs_of(dir: &Path) -> BlobStore {
    BlobStore::open(dir.join("blobs")).unwrap()
}

#[test]
fn honest_logs_replay_exactly_with_and_without_momentum() {
    for momentum in [0.0, 0.9] {
        let (dir, federation, path) = logged_run(momentum);
        let log = CheckpointLog::read(&path).unwrap();
        assert!(log.entries.len() > 5, "a real run logs every step");
        let report = replay_log(
            &log,
            &blobs_of(dir.path()),
            federation.train_set(),
            federation.device(),
            usize::MAX,
        )
        .unwrap();
        assert_eq!(report.checked.len(), log.entries.len());
        assert!(report.passed(), "{report:?}");
        assert!(
            report.checked.iter().all(|c| c.distance == 0.0),
            "same back end replays bit for bit"
        );
    }
}

#[test]
fn an_edited_checkpoint_breaks_the_chain() {
    let (dir, federation, path) = logged_run(0.0);
    let log = CheckpointLog::read(&path).unwrap();
    let blobs = blobs_of(dir.path());
    let target = blobs.path_of(&log.entries[3].checkpoint);
    let mut bytes = std::fs::read(&target).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&target, bytes).unwrap();
    let error =
        replay_log(&log, &blobs, federation.train_set(), federation.device(), 2).unwrap_err();
    assert!(matches!(error, ReplayError::Chain(_)), "{error}");
    assert!(error.to_string().contains('3'), "names the entry: {error}");
}

#[test]
fn an_edited_and_rehashed_checkpoint_fails_replay() {
    let (dir, federation, path) = logged_run(0.0);
    let log = CheckpointLog::read(&path).unwrap();
    let blobs = blobs_of(dir.path());
    let mut points = checkpoints(&log, &blobs);
    let i = points.len() / 2;
    for v in points[i].iter_mut().step_by(7) {
        *v += 0.05;
    }
    let forged = forge(&log, &blobs, &points);
    let report = replay_log(
        &forged,
        &blobs,
        federation.train_set(),
        federation.device(),
        2,
    )
    .unwrap();
    let failed = report.first_failure().expect("the edit must be caught");
    assert!(
        failed.entry == i || failed.entry == i + 1,
        "failed at {}",
        failed.entry
    );
}

#[test]
fn reordered_entries_fail() {
    let (dir, federation, path) = logged_run(0.0);
    let log = CheckpointLog::read(&path).unwrap();
    let blobs = blobs_of(dir.path());

    let mut swapped = log.clone();
    swapped.entries.swap(2, 3);
    let error = replay_log(
        &swapped,
        &blobs,
        federation.train_set(),
        federation.device(),
        2,
    )
    .unwrap_err();
    assert!(matches!(error, ReplayError::Chain(_)), "{error}");

    // A forger who re-chains the swapped checkpoints is caught by replay.
    let mut points = checkpoints(&log, &blobs);
    points.swap(2, 3);
    let forged = forge(&log, &blobs, &points);
    let report = replay_log(
        &forged,
        &blobs,
        federation.train_set(),
        federation.device(),
        2,
    )
    .unwrap();
    assert!(!report.passed(), "{report:?}");
}

#[test]
fn interpolated_checkpoints_fail_replay() {
    let (dir, federation, path) = logged_run(0.0);
    let log = CheckpointLog::read(&path).unwrap();
    let blobs = blobs_of(dir.path());
    let start = blobs.get_f32s(&log.header.initial).unwrap();
    let points = checkpoints(&log, &blobs);
    let end = points.last().unwrap().clone();
    let n = points.len() as f32;
    let interpolated: Vec<Vec<f32>> = (1..=points.len())
        .map(|i| {
            let t = i as f32 / n;
            start
                .iter()
                .zip(&end)
                .map(|(a, b)| a + t * (b - a))
                .collect()
        })
        .collect();
    let forged = forge(&log, &blobs, &interpolated);
    let report = replay_log(
        &forged,
        &blobs,
        federation.train_set(),
        federation.device(),
        2,
    )
    .unwrap();
    assert!(!report.passed(), "{report:?}");
    assert_eq!(report.checked.len(), 2);
}

#[test]
fn a_changed_learning_rate_or_batch_breaks_the_chain() {
    let (dir, federation, path) = logged_run(0.0);
    let log = CheckpointLog::read(&path).unwrap();
    let blobs = blobs_of(dir.path());
    let mut tampered = log.clone();
    tampered.entries[1].steps[0] = StepRecord {
        lr: 0.2,
        rows: tampered.entries[1].steps[0].rows.clone(),
    };
    assert!(
        replay_log(
            &tampered,
            &blobs,
            federation.train_set(),
            federation.device(),
            2
        )
        .is_err()
    );

    // Start elsewhere than the round's global model: refused even with a consistent chain.
    let mut header = log.header.clone();
    header.initial = blobs
        .put_f32s(&vec![0.0; federation.spec().param_count()])
        .unwrap();
    let mut moved = CheckpointLog::new(header);
    for entry in &log.entries {
        moved.append(entry.steps.clone(), entry.checkpoint);
    }
    let error = replay_log(
        &moved,
        &blobs,
        federation.train_set(),
        federation.device(),
        2,
    )
    .unwrap_err();
    assert!(matches!(error, ReplayError::WrongStart), "{error}");
}
