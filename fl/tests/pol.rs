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

/// Spoofing attacks on proof-of-learning (Zhang et al., S&P'22; Fang et al., 2022): logs that did
/// no work replay perfectly, so the verifier must hold them to the run's terms.
mod spoofing {
    use super::*;
    use fl::backend::BackendKind;
    use fl::blob::{Digest, f32s_to_bytes};
    use fl::error::FlError;
    use fl::pol::TermsError;
    use fl::pol::verify::{Posted, run_terms_of, verify_log_file, verify_run_log};

    /// Writes `log` beside the honest one and verifies it against the run's terms for client 1
    /// of round 1, with `posted`.
    fn verify_as_client_1(
        dir: &Path,
        federation: &Federation,
        log: &CheckpointLog,
        posted: Posted,
    ) -> Result<fl::pol::replay::ReplayReport, FlError> {
        let run = RunDir::create(dir).unwrap();
        let path = dir.join("forged.pol");
        log.write(&path).unwrap();
        let terms = run_terms_of(&run, federation, 1, 1).unwrap();
        let blobs = dir.join("blobs");
        verify_log_file(&path, &blobs, &terms, posted, usize::MAX, BackendKind::Flex)
            .map(|(_, report)| report)
    }

    fn terms_error(result: Result<fl::pol::replay::ReplayReport, FlError>) -> TermsError {
        match result {
            Err(FlError::Replay(ReplayError::Terms(e))) => e,
            other => panic!("expected a terms error, got {other:?}"),
        }
    }

    /// The digest of a log's last parameters: what an honest provider posts as its update.
    fn last_params(log: &CheckpointLog, blobs: &BlobStore, n: usize) -> Digest {
        let params = blobs
            .get_f32s(&log.entries.last().unwrap().checkpoint)
            .unwrap();
        Digest::of(&f32s_to_bytes(&params[..n]))
    }

    #[test]
    fn the_honest_log_meets_its_terms_and_ends_at_its_update() {
        let (dir, federation, path) = logged_run(0.9);
        let log = CheckpointLog::read(&path).unwrap();
        let blobs = blobs_of(dir.path());
        let n = federation.spec().param_count();
        let posted = Posted {
            head: Some(log.head()),
            update: Some(last_params(&log, &blobs, n)),
        };
        let run = RunDir::create(dir.path()).unwrap();
        let (_, report) =
            verify_run_log(&run, &federation, 1, 1, posted, 2, BackendKind::Flex).unwrap();
        assert!(report.passed());
        // Ending elsewhere than the posted update.
        let elsewhere = Posted {
            update: Some(Digest::of(b"another update")),
            ..posted
        };
        let error =
            verify_run_log(&run, &federation, 1, 1, elsewhere, 2, BackendKind::Flex).unwrap_err();
        assert!(
            matches!(error, FlError::Replay(ReplayError::Update { .. })),
            "{error}"
        );
    }

    #[test]
    fn a_log_that_did_no_work_is_refused_whatever_its_learning_rate() {
        let (dir, federation, path) = logged_run(0.0);
        let honest = CheckpointLog::read(&path).unwrap();
        let blobs = blobs_of(dir.path());
        let initial = blobs.get_f32s(&honest.header.initial).unwrap();
        for lr in [0.0, -0.0, 1e-30] {
            // Every step at `lr`, every checkpoint the initial one, re-chained.
            let mut lazy = CheckpointLog::new(honest.header.clone());
            let still = blobs.put_f32s(&initial).unwrap();
            for entry in &honest.entries {
                let steps = entry
                    .steps
                    .iter()
                    .map(|s| StepRecord {
                        lr,
                        rows: s.rows.clone(),
                    })
                    .collect();
                lazy.append(steps, still);
            }
            // Replay alone is fooled: nothing moves, distance 0.
            let replay = replay_log(
                &lazy,
                &blobs,
                federation.train_set(),
                federation.device(),
                usize::MAX,
            )
            .unwrap();
            assert!(
                replay.passed(),
                "replay alone accepts the lazy log at lr {lr}"
            );
            let error = terms_error(verify_as_client_1(
                dir.path(),
                &federation,
                &lazy,
                Posted::default(),
            ));
            assert!(
                matches!(error, TermsError::LearningRate { step: 0, .. }),
                "{lr}: {error}"
            );
        }
    }

    #[test]
    fn empty_and_short_logs_are_refused() {
        let (dir, federation, path) = logged_run(0.0);
        let honest = CheckpointLog::read(&path).unwrap();
        let empty = CheckpointLog::new(honest.header.clone());
        let error = terms_error(verify_as_client_1(
            dir.path(),
            &federation,
            &empty,
            Posted::default(),
        ));
        assert!(
            matches!(error, TermsError::StepCount { found: 0, .. }),
            "{error}"
        );
        let mut short = CheckpointLog::new(honest.header.clone());
        for entry in &honest.entries[..honest.entries.len() - 1] {
            short.append(entry.steps.clone(), entry.checkpoint);
        }
        let error = terms_error(verify_as_client_1(
            dir.path(),
            &federation,
            &short,
            Posted::default(),
        ));
        assert!(matches!(error, TermsError::StepCount { .. }), "{error}");
    }

    #[test]
    fn another_clients_rows_or_batch_size_are_refused() {
        let (dir, federation, _) = logged_run(0.0);
        // Client 0's honest log is not client 1's work.
        let other =
            CheckpointLog::read(&RunDir::create(dir.path()).unwrap().pol_path(1, 0)).unwrap();
        let error = verify_as_client_1(dir.path(), &federation, &other, Posted::default());
        assert!(
            matches!(error, Err(FlError::Replay(ReplayError::Terms(_)))),
            "{error:?}"
        );
    }
}
