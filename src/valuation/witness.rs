//! The owner's contribution proof of a run's round: its shape and witness from the run
//! directory.

use std::path::Path;

use anyhow::{Context, Result};
use circuits::fixed::quantize_params;
use circuits::relations::contribution::{ContributionShape, ContributionWitness};
use serde::Serialize;

use super::inputs::OpenedRun;

/// How far the model a run posted after a round is from the exact fixed-point FedAvg that a
/// contribution proof names as the aggregate (in units of `2^-FW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AggregateGap {
    /// Coordinates that differ.
    pub differing: usize,
    /// The largest difference.
    pub largest: i64,
}

/// What the owner proves of a round: the shape, the witness, the players' client indices (in
/// the witness's order) and how far the run's own next model is from the proven aggregate.
pub struct RoundProofInputs {
    /// The relation's shape.
    pub shape: ContributionShape,
    /// The owner's witness.
    pub witness: ContributionWitness,
    /// The client index of each player, in the witness's order.
    pub clients: Vec<usize>,
    /// The run's next model against the exact fixed-point FedAvg.
    pub gap: AggregateGap,
}

/// The contribution proof of round `round` of the run in `dir`: its shape, the owner's witness
/// (the round's models in fixed point, the validation rows, the utility table, the values, the
/// exact fixed-point FedAvg aggregate and up to `drawn` coalitions drawn by `draw_seed`), and
/// how far the run's own next model is from that aggregate (a run that aggregates in floating
/// point is off by a unit in some coordinates: a proven task must aggregate in fixed point).
///
/// The players are `players` (client indices, in the order a task's ledger takes them), each
/// absent (weight 0, its model the global one) unless the round valued its update; or, with
/// `None`, the providers whose updates the round valued.
///
/// # Errors
/// As [`super::value_run`], and when the round cannot be proven (more players than a proof takes).
pub fn contribution_witness(
    dir: &Path,
    round: u32,
    players: Option<&[usize]>,
    drawn: usize,
    draw_seed: &[u8; 32],
) -> Result<RoundProofInputs> {
    let opened = OpenedRun::open(dir)?;
    let inputs = opened.round_inputs(opened.round(round)?)?;
    let clients = players.map_or_else(|| inputs.clients.clone(), <[usize]>::to_vec);
    let (updates, samples): (Vec<Vec<i64>>, Vec<u64>) = clients
        .iter()
        .map(|c| match inputs.clients.iter().position(|v| v == c) {
            Some(k) => (
                inputs.weighted[k].params.clone(),
                inputs.weighted[k].samples,
            ),
            None => (inputs.global_q.clone(), 0),
        })
        .unzip();
    let n = clients.len();
    let data = &opened.validation.data;
    let coalitions = contribution::draw::drawn(draw_seed, n, drawn);
    let shape = ContributionShape {
        model: opened.model,
        players: n,
        rows: data.rows.len(),
        depth: data.depth,
        drawn: coalitions.len(),
    };
    shape.validate()?;
    let witness = ContributionWitness::honest(
        &opened.model,
        inputs.global_q,
        updates,
        samples,
        data.rows.clone(),
        data.labels.clone(),
        coalitions,
    )?;
    let posted = opened.global_before(round + 1)?;
    let posted = quantize_params(&posted).context("the run's next model is out of range")?;
    let gaps: Vec<i64> = posted
        .iter()
        .zip(&witness.aggregate)
        .map(|(a, b)| (a - b).abs())
        .filter(|&d| d != 0)
        .collect();
    let gap = AggregateGap {
        differing: gaps.len(),
        largest: gaps.iter().copied().max().unwrap_or(0),
    };
    Ok(RoundProofInputs {
        shape,
        witness,
        clients,
        gap,
    })
}

/// The contribution shape of a task run in `dir` (its config.json written) with `players`
/// providers and up to `drawn` drawn coalitions, and the root of the owner's validation set
/// (BN254, canonical little-endian).
///
/// # Errors
/// A run that cannot be opened or valued (a model that is not linear), or a shape a proof
/// cannot take (more than `MAX_PROVEN_PLAYERS` providers).
pub fn contribution_shape(
    dir: &Path,
    players: usize,
    drawn: usize,
) -> Result<(ContributionShape, [u8; 32])> {
    use circuits::field::{Bn254, Field};
    let opened = OpenedRun::open(dir)?;
    let data = &opened.validation.data;
    let heavy = contribution::draw::fixed(players).len();
    let shape = ContributionShape {
        model: opened.model,
        players,
        rows: data.rows.len(),
        depth: data.depth,
        drawn: drawn.min((1usize << players.min(20)).saturating_sub(heavy)),
    };
    shape.validate()?;
    let root = data
        .tree::<Bn254>()
        .context("the validation set cannot be committed")?
        .root()
        .to_le_bytes();
    Ok((shape, root))
}
