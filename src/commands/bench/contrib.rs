//! `zkfl bench contrib`: the cost and accuracy of the contribution estimators on real round
//! games (digits, softmax regression, Dirichlet(0.5) providers, round 1: the round whose values
//! carry the most signal), each sampled estimator beside the exact values of the same game.

use std::time::Instant;

use anyhow::{Result, ensure};
use contribution::Method;
use contribution::accuracy::{relative_l2, spearman};
use fl::federation::{Federation, FederationConfig, Silent};
use serde::Serialize;
use zkfl::valuation::{Rounds, RunValuation, value_run};

/// One measured estimator at one number of providers.
#[derive(Serialize)]
struct Row {
    providers: usize,
    method: Method,
    /// Median wall time of valuing the round, seconds.
    seconds: f64,
    /// Distinct coalitions evaluated.
    evaluations: usize,
    /// Share of the `2^N` coalitions evaluated.
    evaluated_share: f64,
    /// Time relative to exact on the same game.
    time_vs_exact: f64,
    relative_l2: f64,
    spearman: f64,
}

/// Runs `zkfl bench contrib`.
pub fn run(providers: &[usize], repeat: usize, json: bool) -> Result<()> {
    ensure!(
        providers.iter().all(|&n| (2..=16).contains(&n)),
        "--providers must be between 2 and 16"
    );
    let scratch = std::env::temp_dir().join(format!("zkfl-bench-contrib-{}", std::process::id()));
    let mut rows = Vec::new();
    for &n in providers {
        let dir = scratch.join(format!("n{n}"));
        let federation = Federation::new(FederationConfig {
            model: "softmax".into(),
            clients: n,
            rounds: 1,
            pol_every: 0,
            ..FederationConfig::default()
        })?;
        federation.run(&dir, false, &Silent)?;
        let mut exact: Option<(Vec<f64>, f64)> = None;
        for method in [Method::Exact, Method::Tmc, Method::Gtg] {
            let mut times = Vec::new();
            let mut last: Option<RunValuation> = None;
            for _ in 0..repeat.max(1) {
                let started = Instant::now();
                last = Some(value_run(&dir, method, Rounds::One(1), 0, 1, 0)?);
                times.push(started.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let seconds = times[times.len() / 2];
            let round = &last.expect("repeat >= 1").rounds[0];
            let phi = round.values.phi.to_f64();
            let (reference, exact_seconds) = exact.get_or_insert((phi.clone(), seconds)).clone();
            rows.push(Row {
                providers: round.clients.len(),
                method,
                seconds,
                evaluations: round.values.evaluations,
                evaluated_share: round.values.evaluations as f64
                    / (1u64 << round.clients.len()) as f64,
                time_vs_exact: seconds / exact_seconds,
                relative_l2: relative_l2(&reference, &phi),
                spearman: spearman(&reference, &phi),
            });
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!(
        "{:>3} {:<6} {:>9} {:>11} {:>9} {:>8} {:>9} {:>6}",
        "N", "method", "ms", "evaluations", "of 2^N", "vs exact", "rel. L2", "ρ"
    );
    for r in &rows {
        println!(
            "{:>3} {:<6} {:>9.2} {:>11} {:>8.1}% {:>7.2}x {:>8.1}% {:>6.3}",
            r.providers,
            r.method.to_string(),
            1000.0 * r.seconds,
            r.evaluations,
            100.0 * r.evaluated_share,
            r.time_vs_exact,
            100.0 * r.relative_l2,
            r.spearman
        );
    }
    if let Some(r) = rows.iter().rfind(|r| r.method == Method::Exact) {
        println!(
            "exact at N = {}: {:.0} coalition utilities/s end to end (reading the run included)",
            r.providers,
            r.evaluations as f64 / r.seconds
        );
    }
    Ok(())
}
