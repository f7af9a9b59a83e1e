//! `zkfl bench net`: what the network costs a round of the default task. The same task (the
//! `zkfl run` default: digits, softmax 64→10, FedAvg; paid by credited rounds, nobody
//! audited, so that the rounds are all there is) runs with its providers in process (the
//! baseline) and behind libp2p peers on 127.0.0.1. Per number of providers: the mean round
//! time of each, and the bytes each provider's TCP connections carried in a round (from the
//! owner's train request to the round's seal: the request, the model's chunks, the reply with
//! the log's ends, the update's chunks, all with Noise and yamux framing) beside the round's
//! payload, the global model down and the update up; and, for scale, all of a task's bytes
//! (handshakes and the join included) per provider and round.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Result, ensure};
use clap::Parser;
use net::Peer;
use serde::Serialize;
use zkfl::task::embedded::EmbeddedTask;
use zkfl::task::{Events, Step};

use crate::commands::run::{RunArgs, embedded_config};

/// One number of providers, both transports.
#[derive(Serialize)]
struct Row {
    providers: usize,
    rounds: u32,
    /// Mean round time in process, seconds (the baseline).
    in_process_round_seconds: f64,
    /// Mean round time over libp2p, seconds.
    p2p_round_seconds: f64,
    /// The second over the first.
    round_time_ratio: f64,
    /// Provider-rounds whose update the owner took (a provider with too few rows for a
    /// batch answers but sends no update).
    trained_provider_rounds: usize,
    /// Bytes a training provider's connections carried in a round, both ways: all
    /// providers' round bytes over the trained provider-rounds.
    wire_bytes_per_provider_round: f64,
    /// The model down and the update up, bytes.
    payload_bytes: u64,
    /// Wire bytes of a round over payload bytes, less one.
    overhead: f64,
    /// All of the task's bytes over providers and rounds.
    task_bytes_per_provider_round: f64,
    /// Whole-task wall time of each, seconds.
    in_process_seconds: f64,
    p2p_seconds: f64,
}

#[derive(Parser)]
struct Wrapped {
    #[command(flatten)]
    run: RunArgs,
}

/// Runs the bench at each number of `providers`, `rounds` rounds each.
///
/// Errors: no providers, a count of 0, 0 rounds; anything the tasks meet.
pub fn run(providers: &[usize], rounds: u32, keys: Option<PathBuf>, json: bool) -> Result<()> {
    ensure!(rounds > 0, "--rounds must be at least 1");
    ensure!(
        !providers.is_empty() && !providers.contains(&0),
        "--providers must each be at least 1"
    );
    let mut rows = Vec::new();
    for &n in providers {
        let local = task(n, rounds, false, &keys)?;
        let p2p = task(n, rounds, true, &keys)?;
        let payload = 2 * 4 * local.params as u64;
        let provider_rounds = n as f64 * f64::from(rounds);
        ensure!(
            p2p.trained > 0,
            "no provider trained in the task of {n} providers"
        );
        let per = p2p.round_bytes as f64 / p2p.trained as f64;
        let row = Row {
            providers: n,
            rounds,
            in_process_round_seconds: local.round_seconds,
            p2p_round_seconds: p2p.round_seconds,
            round_time_ratio: p2p.round_seconds / local.round_seconds,
            trained_provider_rounds: p2p.trained,
            wire_bytes_per_provider_round: per,
            payload_bytes: payload,
            overhead: per / payload as f64 - 1.0,
            task_bytes_per_provider_round: p2p.task_bytes as f64 / provider_rounds,
            in_process_seconds: local.seconds,
            p2p_seconds: p2p.seconds,
        };
        if !json {
            eprintln!(
                "{n} providers: round {:.3} s in process, {:.3} s over libp2p; {:.0} B a provider a round",
                row.in_process_round_seconds, row.p2p_round_seconds, per
            );
        }
        rows.push(row);
    }
    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!(
        "providers rounds   in process       libp2p   ratio  wire B/prov/rd    payload  overhead  task B/prov/rd"
    );
    for r in &rows {
        println!(
            "{:>9} {:>6} {:>10.3} s {:>10.3} s {:>6.2}× {:>15.0} {:>8} B {:>8.0}% {:>15.0}",
            r.providers,
            r.rounds,
            r.in_process_round_seconds,
            r.p2p_round_seconds,
            r.round_time_ratio,
            r.wire_bytes_per_provider_round,
            r.payload_bytes,
            100.0 * r.overhead,
            r.task_bytes_per_provider_round
        );
    }
    Ok(())
}

/// One task's figures.
struct Measured {
    /// Mean round time, seconds.
    round_seconds: f64,
    /// The whole task's wall time, seconds.
    seconds: f64,
    /// Model parameters.
    params: usize,
    /// Provider-rounds whose update was taken.
    trained: usize,
    /// Bytes all providers' connections carried in the rounds, and in the whole task (0 in
    /// process).
    round_bytes: u64,
    task_bytes: u64,
}

/// Counts the providers' bytes from each round's train step to its draw (after the seal).
struct RoundBytes {
    peers: Vec<Arc<Peer>>,
    /// (bytes when the round started, bytes of the rounds so far).
    count: Mutex<(u64, u64)>,
}

impl RoundBytes {
    fn now(&self) -> u64 {
        self.peers
            .iter()
            .map(|peer| {
                let t = peer.traffic();
                t.sent + t.received
            })
            .sum()
    }
}

impl Events for RoundBytes {
    fn step(&self, step: Step) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        match step {
            Step::Train(_) => count.0 = self.now(),
            Step::Draw(_) => count.1 += self.now().saturating_sub(count.0),
            _ => {}
        }
    }
}

/// Runs the default task with `n` providers, over libp2p with `p2p`.
fn task(n: usize, rounds: u32, p2p: bool, keys: &Option<PathBuf>) -> Result<Measured> {
    let dir = std::env::temp_dir().join(format!(
        "zkfl-bench-net-{}-{n}-{}",
        std::process::id(),
        if p2p { "p2p" } else { "local" }
    ));
    // A task directory is resumed: start from none, and leave none behind.
    let _ = std::fs::remove_dir_all(&dir);
    let _removed = Removed(dir.clone());
    // `zkfl run`'s defaults, but for what the bench sets.
    let args = RunArgs {
        out: dir.clone(),
        rounds,
        providers: n,
        reward: "proportional".into(),
        audit: 0,
        json: true,
        p2p,
        keys: keys.clone(),
        ..Wrapped::try_parse_from(["zkfl"])?.run
    };
    let started = Instant::now();
    let mut task = EmbeddedTask::open(embedded_config(&args)?)?;
    let counter = RoundBytes {
        peers: task
            .network
            .as_ref()
            .map(|network| network.providers.values().cloned().collect())
            .unwrap_or_default(),
        count: Mutex::new((0, 0)),
    };
    task.driver.run(&counter, None)?;
    let seconds = started.elapsed().as_secs_f64();
    let history = task.driver.history();
    ensure!(
        history.len() == rounds as usize,
        "the task ran {} rounds",
        history.len()
    );
    let round_seconds = history.iter().map(|m| m.seconds).sum::<f64>() / f64::from(rounds);
    let trained = history.iter().map(|m| m.clients.len()).sum();
    let params = task
        .federation
        .spec()
        .init_params(task.federation.config().seed)
        .len();
    let task_bytes = counter.now();
    let round_bytes = counter.count.lock().unwrap_or_else(|e| e.into_inner()).1;
    Ok(Measured {
        round_seconds,
        seconds,
        params,
        trained,
        round_bytes,
        task_bytes,
    })
}

/// Removes a directory when dropped, whether the task in it ran or failed.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
