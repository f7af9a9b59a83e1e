//! The run's terms, and the check that a log trained under them.
//!
//! A hash chain and a replay show that the logged checkpoints follow from the logged steps;
//! they do not show that the steps are the ones the run asked for. A log whose every step has
//! learning rate 0 (or 1e-30, or −0.0) and whose checkpoints all equal the initial one replays
//! with distance 0; so does a log with no entries. These are the spoofing attacks on
//! proof-of-learning of Zhang et al., "'Adversarial Examples' for Proof-of-Learning" (IEEE S&P
//! 2022) and Fang et al., "On the Fundamental Limits of Proof-of-Learning" (2022): the
//! verifier must bind every logged hyperparameter to the run's.
//!
//! [`check_terms`] does that against [`RunTerms`]: the header's provider and round (an old log
//! presented for a new round is refused), data set, split, model, batch
//! size, momentum, proximal coefficient and global model; every step's learning rate
//! (bit for bit: −0.0 is not 0.0); and the step sequence — `local_epochs` epochs, each a
//! shuffle of the provider's rows cut into batches of `batch_size` (the last one smaller, or
//! dropped with `drop_last`), so exactly `E · ⌈n / B⌉` steps (`E · ⌊n / B⌋` with `drop_last`),
//! every epoch drawing each of the provider's rows at most once, and all of them without
//! `drop_last`.

use std::collections::HashMap;

use crate::log::{CheckpointLog, LogHeader};

/// What the run fixed for a provider's local training in one round.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTerms {
    /// The header the provider's log must have (its `every`, `initial` and
    /// `initial_commitment` are the recorder's and not compared).
    pub header: LogHeader,
    /// Learning rate of every step.
    pub lr: f32,
    /// Passes over the provider's rows.
    pub local_epochs: u32,
    /// Whether each epoch's last, smaller batch is skipped.
    pub drop_last: bool,
    /// The provider's training-set rows (its partition).
    pub rows: Vec<u32>,
}

impl RunTerms {
    /// The batch size of each step the run asks for, in order.
    pub fn batch_sizes(&self) -> Vec<usize> {
        let n = self.rows.len();
        let b = (self.header.batch_size as usize).max(1);
        let mut epoch = vec![b; n / b];
        if !self.drop_last && !n.is_multiple_of(b) {
            epoch.push(n % b);
        }
        epoch.repeat(self.local_epochs as usize)
    }
}

/// How a log departs from its run's terms.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TermsError {
    /// A header field is not the run's.
    #[error("header: {field} is {found}, the run's is {expected}")]
    Header {
        /// The field.
        field: &'static str,
        /// The run's value.
        expected: String,
        /// The log's value.
        found: String,
    },
    /// The log has another number of steps than the run asks for.
    #[error("the log has {found} steps, the run asks for {expected} (epochs × batches per epoch)")]
    StepCount {
        /// Steps the run asks for.
        expected: u64,
        /// Steps in the log.
        found: u64,
    },
    /// A step's learning rate is not the run's.
    #[error("step {step}: learning rate {found:e} is not the run's {expected:e}")]
    LearningRate {
        /// The step (0-based).
        step: u64,
        /// The run's.
        expected: f32,
        /// The logged one.
        found: f32,
    },
    /// A step's batch has another size than the run's sequence asks for there.
    #[error("step {step}: batch of {found} rows, the run asks for {expected} there")]
    BatchSize {
        /// The step.
        step: u64,
        /// The size asked for.
        expected: usize,
        /// The logged size.
        found: usize,
    },
    /// A batch names a row that is not the provider's, or one its epoch already drew.
    #[error("step {step}: row {row} is not the provider's or was already drawn in epoch {epoch}")]
    Row {
        /// The step.
        step: u64,
        /// The epoch (0-based).
        epoch: usize,
        /// The row id.
        row: u32,
    },
}

/// Checks `log` against `terms` (see the module docs). The first departure is returned.
pub fn check_terms(log: &CheckpointLog, terms: &RunTerms) -> Result<(), TermsError> {
    check_header(&log.header, terms)?;
    let sizes = terms.batch_sizes();
    // The steps recorded, not the count the last entry claims (the chain check compares those).
    let found: u64 = log.entries.iter().map(|e| e.steps.len() as u64).sum();
    if found != sizes.len() as u64 {
        return Err(TermsError::StepCount {
            expected: sizes.len() as u64,
            found,
        });
    }
    let per_epoch = sizes.len() / (terms.local_epochs as usize).max(1);
    let mut owned: HashMap<u32, usize> = HashMap::new();
    for &row in &terms.rows {
        *owned.entry(row).or_default() += 1;
    }
    let mut left = owned.clone();
    let steps = log.entries.iter().flat_map(|e| &e.steps);
    for (step, (record, &size)) in steps.zip(&sizes).enumerate() {
        let step = step as u64;
        if record.lr.to_bits() != terms.lr.to_bits() {
            return Err(TermsError::LearningRate {
                step,
                expected: terms.lr,
                found: record.lr,
            });
        }
        if record.rows.len() != size {
            return Err(TermsError::BatchSize {
                step,
                expected: size,
                found: record.rows.len(),
            });
        }
        let epoch = step as usize / per_epoch.max(1);
        if (step as usize).is_multiple_of(per_epoch.max(1)) {
            left.clone_from(&owned);
        }
        for &row in &record.rows {
            match left.get_mut(&row) {
                Some(n) if *n > 0 => *n -= 1,
                _ => return Err(TermsError::Row { step, epoch, row }),
            }
        }
    }
    Ok(())
}

fn check_header(h: &LogHeader, t: &RunTerms) -> Result<(), TermsError> {
    // Floats by their bits: the run's value was logged as is.
    let bits = |v: f32| format!("{v:e} (bits {:#010x})", v.to_bits());
    let t = &t.header;
    let fields = [
        ("client", t.client.to_string(), h.client.to_string()),
        ("round", t.round.to_string(), h.round.to_string()),
        ("dataset", t.dataset.clone(), h.dataset.clone()),
        (
            "label_column",
            t.label_column.clone(),
            h.label_column.clone(),
        ),
        (
            "split_seed",
            t.split_seed.to_string(),
            h.split_seed.to_string(),
        ),
        ("model", t.model.clone(), h.model.clone()),
        (
            "batch_size",
            t.batch_size.to_string(),
            h.batch_size.to_string(),
        ),
        ("momentum", bits(t.momentum), bits(h.momentum)),
        ("proximal_mu", bits(t.proximal_mu), bits(h.proximal_mu)),
        ("global", t.global.to_string(), h.global.to_string()),
    ];
    match fields
        .into_iter()
        .find(|(_, expected, found)| expected != found)
    {
        Some((field, expected, found)) => Err(TermsError::Header {
            field,
            expected,
            found,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::log::StepRecord;
    use crate::log::tests::sample_header;

    fn terms(rows: u32, batch: u32, epochs: u32, drop_last: bool) -> RunTerms {
        RunTerms {
            header: LogHeader {
                batch_size: batch,
                ..sample_header()
            },
            lr: 0.1,
            local_epochs: epochs,
            drop_last,
            rows: (100..100 + rows).collect(),
        }
    }

    /// The log an honest provider writes: each epoch a rotation of its rows, one record a step.
    fn honest(t: &RunTerms) -> CheckpointLog {
        let mut log = CheckpointLog::new(t.header.clone());
        let b = t.header.batch_size as usize;
        for epoch in 0..t.local_epochs as usize {
            let mut order = t.rows.clone();
            let n = order.len().max(1);
            order.rotate_left(epoch % n);
            for batch in order.chunks(b) {
                if t.drop_last && batch.len() < b {
                    break;
                }
                let step = StepRecord {
                    lr: t.lr,
                    rows: batch.to_vec(),
                };
                log.append(vec![step], Digest::of(&[epoch as u8]));
            }
        }
        log
    }

    fn edit(t: &RunTerms, f: impl Fn(&mut CheckpointLog)) -> Result<(), TermsError> {
        let mut log = honest(t);
        f(&mut log);
        check_terms(&log, t)
    }

    #[test]
    fn an_honest_log_meets_its_terms() {
        for (rows, batch, epochs, drop_last) in
            [(10, 4, 3, false), (10, 4, 3, true), (8, 4, 1, false)]
        {
            let t = terms(rows, batch, epochs, drop_last);
            let steps = epochs * rows.div_ceil(batch);
            let steps = if drop_last {
                epochs * (rows / batch)
            } else {
                steps
            };
            assert_eq!(t.batch_sizes().len() as u32, steps);
            assert_eq!(check_terms(&honest(&t), &t), Ok(()));
        }
    }

    #[test]
    fn spoofed_learning_rates_are_refused() {
        let t = terms(10, 4, 2, false);
        for lr in [0.0, -0.0, 1e-30, 0.1000001, f32::NAN] {
            let err = edit(&t, |log| log.entries[3].steps[0].lr = lr).unwrap_err();
            assert!(
                matches!(err, TermsError::LearningRate { step: 3, .. }),
                "{lr}: {err}"
            );
        }
    }

    #[test]
    fn empty_short_and_long_logs_are_refused() {
        let t = terms(10, 4, 2, false);
        let empty = CheckpointLog::new(honest(&t).header);
        assert_eq!(
            check_terms(&empty, &t),
            Err(TermsError::StepCount {
                expected: 6,
                found: 0
            })
        );
        let err = edit(&t, |log| {
            log.entries.pop();
        });
        assert!(matches!(err, Err(TermsError::StepCount { found: 5, .. })));
        let mut long = honest(&t);
        long.append(
            vec![StepRecord {
                lr: 0.1,
                rows: vec![100],
            }],
            Digest::of(b"x"),
        );
        assert!(matches!(
            check_terms(&long, &t),
            Err(TermsError::StepCount { found: 7, .. })
        ));
    }

    #[test]
    fn batches_must_be_the_runs_and_rows_the_providers() {
        let t = terms(10, 4, 2, false);
        // A smaller batch where a full one belongs.
        let err = edit(&t, |log| {
            log.entries[0].steps[0].rows.pop();
        });
        assert!(matches!(err, Err(TermsError::BatchSize { step: 0, .. })));
        // A row of another provider.
        let err = edit(&t, |log| log.entries[1].steps[0].rows[0] = 7);
        assert!(matches!(
            err,
            Err(TermsError::Row {
                row: 7,
                epoch: 0,
                ..
            })
        ));
        // The same row twice in one epoch (a cheap batch repeated).
        let err = edit(&t, |log| {
            log.entries[1].steps[0].rows = log.entries[0].steps[0].rows.clone()
        });
        assert!(matches!(err, Err(TermsError::Row { epoch: 0, .. })));
        // Each epoch draws afresh: the same row in two epochs is fine (the honest log does it).
        assert_eq!(edit(&t, |_| {}), Ok(()));
    }

    #[test]
    fn header_fields_are_bound() {
        let t = terms(10, 4, 1, false);
        type Edit = fn(&mut LogHeader);
        let cases: [(&str, Edit); 9] = [
            ("client", |h| h.client += 1),
            ("round", |h| h.round -= 1),
            ("dataset", |h| h.dataset = "iris".into()),
            ("split_seed", |h| h.split_seed += 1),
            ("model", |h| h.model = "logreg".into()),
            ("batch_size", |h| h.batch_size = 2),
            ("momentum", |h| h.momentum = -h.momentum),
            ("proximal_mu", |h| h.proximal_mu = 0.0),
            ("global", |h| h.global = Digest::of(b"another model")),
        ];
        for (field, f) in cases {
            let err = edit(&t, |log| f(&mut log.header)).unwrap_err();
            assert!(
                matches!(err, TermsError::Header { field: found, .. } if found == field),
                "{err}"
            );
        }
    }
}
