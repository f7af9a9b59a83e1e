//! `zkfl contrib`: how much each provider's updates improved a finished run's model, as Shapley
//! values (or another estimator's), with each provider's share of the escrow. Runs of linear
//! models (softmax, logreg), whose coalition models the game values exactly.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use contribution::Method;
use zkfl::valuation::{Rounds, RunValuation, value_run};

use crate::plot::plot_contributions;

/// Options of `zkfl contrib`.
#[derive(Args, Debug)]
pub struct ContribArgs {
    /// Run directory (of `zkfl run` or `zkfl train`)
    #[arg(long)]
    pub run: PathBuf,
    /// Estimator: exact | tmc | gtg | svarm | loo | gradnorm | valgrad
    #[arg(long, default_value = "exact")]
    pub method: String,
    /// Round to value, or `all`
    #[arg(long, default_value = "all")]
    pub round: String,
    /// Seed of the sampling estimators (tmc, gtg, svarm)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Escrow to split by value: exact and loo values are split in integers (payout column);
    /// the other methods print shares only
    #[arg(long, default_value_t = 1_000_000)]
    pub escrow: i128,
    /// A round is paid only if its gain |v(P) − v(∅)| is above this, per mille of the
    /// validation rows (GTG-Shapley's 1 %; 0 pays every round)
    #[arg(long, default_value_t = contribution::payout::DEFAULT_MIN_GAIN_PERMILLE)]
    pub min_gain: u32,
    /// Bar chart of the values (default: RUN/contrib.png; with --json, none unless given)
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print one JSON object (with every round's values, and for `exact` its utility table)
    #[arg(long)]
    pub json: bool,
}

/// Runs `zkfl contrib`.
pub fn run(args: ContribArgs) -> Result<()> {
    let method: Method = args.method.parse()?;
    let rounds = match args.round.trim() {
        "all" => Rounds::All,
        r => Rounds::One(r.parse().ok().filter(|&r| r >= 1).with_context(|| {
            format!("--round must be a round number (1, 2, …) or all, not {r:?}")
        })?),
    };
    let valuation = value_run(
        &args.run,
        method,
        rounds,
        args.seed,
        args.escrow,
        args.min_gain,
    )?;
    // With --json the plot is drawn only when asked for.
    let args_plot_default = args.plot.is_none();
    let png = match (args.plot, args.json) {
        (Some(png), _) => Some(png),
        (None, false) => Some(args.run.join("contrib.png")),
        (None, true) => None,
    };
    let drawn = match &png {
        Some(path) => match plot_contributions(&valuation, path) {
            Ok(()) => true,
            // The default chart is a convenience: a read-only run still gets its table.
            Err(e) if args_plot_default => {
                eprintln!("warning: no bar chart: {e:#}");
                false
            }
            Err(e) => return Err(e),
        },
        None => false,
    };
    if args.json {
        println!("{}", serde_json::to_string(&valuation)?);
    } else {
        print_table(&valuation);
        if let (true, Some(png)) = (drawn, png) {
            eprintln!("bar chart: {}", png.display());
        }
    }
    Ok(())
}

fn print_table(v: &RunValuation) {
    let per_round = v.rounds.len() <= 10;
    let mut header = format!("{:>8}", "provider");
    if per_round {
        for r in &v.rounds {
            header += &format!(" {:>8}", format!("φ r{}", r.round));
        }
    }
    header += &format!(" {:>9} {:>7}", "φ total", "share");
    if v.remainder.is_some() {
        header += &format!(" {:>10}", "payout");
    }
    let unit = match v.method {
        Method::GradNorm => "φ = ‖Δ_i‖₂".to_string(),
        Method::ValGrad => "φ in validation loss decrease, first order".to_string(),
        _ => format!("φ in correctly classified rows of {}", v.validation_rows),
    };
    println!("{} values ({unit})", v.method);
    println!("{header}");
    for p in &v.providers {
        let mut line = format!("{:>8}", p.client);
        if per_round {
            for phi in &p.phi {
                line += &match phi {
                    Some(phi) => format!(" {:>8.3}", phi.to_f64()),
                    None => format!(" {:>8}", "-"),
                };
            }
        }
        line += &format!(" {:>9.3} {:>6.1}%", p.total.to_f64(), 100.0 * p.share);
        if let Some(pay) = p.payout {
            line += &format!(" {pay:>10}");
        }
        println!("{line}");
    }
    if let Some(rest) = v.remainder {
        println!("back to the owner: {rest} of {}", v.escrow);
    }
    for r in &v.rounds {
        for x in &r.refused {
            println!(
                "round {}: client {} not valued: {}",
                r.round, x.client, x.reason
            );
        }
    }
    let unpaid: Vec<String> = v
        .rounds
        .iter()
        .filter(|r| !r.paid)
        .map(|r| r.round.to_string())
        .collect();
    if !unpaid.is_empty() {
        println!(
            "rounds not paid (gain at most {}‰ of the validation rows; only clear harm counts there): {}",
            v.min_gain_permille,
            unpaid.join(", ")
        );
    }
    if !per_round {
        println!("(per-round values: --round R, or --json)");
    }
    if !v.fedavg {
        println!(
            "the run aggregated with {}: these are values of the FedAvg game, and cannot be proven",
            v.strategy
        );
    }
    let evaluations: usize = v.rounds.iter().map(|r| r.values.evaluations).sum();
    println!(
        "{} rounds, {evaluations} coalition utilities evaluated",
        v.rounds.len()
    );
}
