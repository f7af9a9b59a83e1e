//! Binding a verified proof to a run: its public inputs must be the commitments the provider
//! posted before it was challenged, and the logged learning rate.

use anyhow::{Context, Result, bail, ensure};
use circuits::fixed::quantize_lr;
use circuits::relations::training_step::DEFAULT_EPS;
use fl::blob::Digest;
use verifier::{Backend, ProofFile, TrainingStepPublic};

use super::commit::{DataCommitment, commitment_in_field};
use super::step::ProvingRun;

/// The data commitments a run published (`DIR/data-commitments.json`).
pub const DATA_COMMITMENTS: &str = "data-commitments.json";

/// The proving field of a back end, as [`circuits::Field::NAME`] spells it.
pub fn field_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Groth16 => "bn254",
        Backend::Halo2 => "pasta-fp",
    }
}

/// Checks that a verified proof's public inputs are what the run committed to: the log it
/// names is the one posted for that round and client, the checkpoint commitments are the log's,
/// the data root is the provider's, the learning rate is the logged one and the tolerance is
/// the task's.
pub fn check_binding(
    run: &ProvingRun,
    commitments: &[DataCommitment],
    file: &ProofFile,
    public: &TrainingStepPublic,
) -> Result<()> {
    let origin = &file.origin;
    let (client, round, step) = (origin.client as usize, origin.round, origin.step);
    let posted = run
        .dir
        .metrics()?
        .into_iter()
        .find(|m| m.round == round)
        .and_then(|m| m.clients.into_iter().find(|c| c.client == client))
        .and_then(|c| c.pol_head)
        .with_context(|| format!("client {client} posted no log head in round {round}"))?;
    ensure!(
        posted == Digest(origin.log_head),
        "the proof names log head {}, but client {client} posted {posted} in round {round}",
        Digest(origin.log_head)
    );
    let log = run.log(round, client)?;
    ensure!(
        log.head() == posted,
        "the log on disk does not end at the posted head"
    );
    let (i, _) = log
        .locate_step(step)
        .with_context(|| format!("the log has no step {step}"))?;
    let field = field_name(file.backend);
    let before = if i == 0 {
        &log.header.initial_commitment
    } else {
        &log.entries[i - 1].commitment
    };
    let after = &log.entries[i].commitment;
    let logged = |bytes: &[u8], which: &str| {
        commitment_in_field(bytes, field)
            .with_context(|| format!("the log holds no {field} commitment of checkpoint {which}"))
    };
    ensure!(
        public.commitment_t == logged(before, "t")?,
        "the proof's commitment of checkpoint t is not the logged one"
    );
    ensure!(
        public.commitment_t1 == logged(after, "t+1")?,
        "the proof's commitment of checkpoint t+1 is not the logged one"
    );
    let data = commitments
        .iter()
        .find(|c| c.client == client)
        .with_context(|| format!("client {client} published no data commitment"))?;
    ensure!(
        Some(public.data_root) == data.root_in_field(field),
        "the proof's data root is not client {client}'s published data commitment"
    );
    let lr = quantize_lr(log.entries[i].steps[0].lr)?;
    ensure!(
        public.lr == lr,
        "the proof's learning rate {} is not the logged {lr}",
        public.lr
    );
    if public.eps > DEFAULT_EPS {
        bail!(
            "the proof's tolerance {} exceeds the task's {DEFAULT_EPS}",
            public.eps
        );
    }
    Ok(())
}
