//! `zkfl ceremony`: the powers of tau of a multi-party Groth16 setup, one participant per
//! process, passed on as files (what `snarkjs powersoftau` does, over BN254 for zkfl's keys).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use ceremony::{Accumulator, CeremonyFile, LagrangeBasis};
use clap::Subcommand;
use indicatif::ProgressBar;

/// Ceremony subcommands.
#[derive(Subcommand, Debug)]
pub enum CeremonyCommand {
    /// Start powers of tau for circuits of up to 2^POWER constraints plus public inputs (no
    /// secret yet: every participant then contributes in turn)
    New {
        /// Domain size exponent, 1 to 24 (the contribution key of 4 digits providers needs 19)
        #[arg(long)]
        power: u32,
        /// Where the powers of tau go
        #[arg(long)]
        out: PathBuf,
    },
    /// Add your secret randomness (drawn from the operating system, dropped on exit) to the
    /// powers of tau and print your receipt: `zkfl ceremony verify` of any later file lists it
    Contribute {
        /// The powers of tau to update (checked first: every contribution replayed)
        #[arg(long)]
        input: PathBuf,
        /// Where the updated powers of tau go
        #[arg(long)]
        out: PathBuf,
        /// Print one JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Check that AFTER is BEFORE plus exactly one contribution, and all of AFTER (every
    /// contribution replayed from the generators, each proving knowledge of its secret); print
    /// every contribution's receipt, the new one last. Exit 1 if not.
    Verify {
        /// The powers of tau before the contribution
        #[arg(long)]
        before: PathBuf,
        /// The powers of tau after it
        #[arg(long)]
        after: PathBuf,
        /// Print one JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Take the powers of tau for 2^POWER from a public ceremony's snarkjs .ptau file (for
    /// example the Perpetual Powers of Tau's), checked as `verify` checks ours, with its Lagrange
    /// basis when the file was prepared for phase 2; `contribute` can add yours on top. The
    /// file's own contributions are not replayed: check them with `snarkjs powersoftau verify
    /// FILE`, which prints the next challenge hash this command prints. For a task's keys, write
    /// them to the key directory as ceremony/powers-of-tau-2^POWER.bin and
    /// ceremony/lagrange-2^POWER.bin
    Import {
        /// The .ptau file
        #[arg(long)]
        ptau: PathBuf,
        /// Domain size exponent of the circuits it serves (at most the file's)
        #[arg(long)]
        power: u32,
        /// Where the powers of tau go
        #[arg(long)]
        out: PathBuf,
        /// Where their Lagrange basis for 2^POWER goes (the file's, or made here if the file
        /// was not prepared)
        #[arg(long)]
        lagrange: Option<PathBuf>,
        /// Print one JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Convert the powers of tau to the Lagrange basis for circuits of one domain size (once
    /// per size: m·log m scalar multiplications), or with --check confirm a basis someone
    /// else made
    Prepare {
        /// The powers of tau (checked first: every contribution replayed)
        #[arg(long)]
        input: PathBuf,
        /// Domain size exponent of the circuits it serves (at most the powers of tau's)
        #[arg(long)]
        power: u32,
        /// Where the basis goes (or, with --check, the basis to check)
        #[arg(long)]
        out: PathBuf,
        /// Check the basis at --out against the powers of tau instead of making it
        #[arg(long)]
        check: bool,
    },
}

/// Runs a `zkfl ceremony` subcommand.
pub fn run(command: CeremonyCommand) -> Result<()> {
    match command {
        CeremonyCommand::New { power, out } => {
            let fresh = Accumulator::new(power)?;
            fresh.write_to(&out)?;
            println!(
                "powers of tau for 2^{power} points, no contribution yet: {}",
                out.display()
            );
        }
        CeremonyCommand::Contribute { input, out, json } => {
            let before = read_powers(&input)?;
            working("checking", || before.verify())
                .context("the powers of tau to update do not check")?;
            let (after, receipt) =
                working("contributing", || before.contribute(&mut rand::rngs::OsRng));
            after.write_to(&out)?;
            let index = after.contributions().len();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "contribution": index, "receipt": hex::encode(receipt) })
                );
            } else {
                println!(
                    "yours is contribution {index}; receipt {} (a later `zkfl ceremony verify` lists it); wrote {}",
                    hex::encode(receipt),
                    out.display()
                );
            }
        }
        CeremonyCommand::Verify {
            before,
            after,
            json,
        } => {
            let (before, after) = (read_powers(&before)?, read_powers(&after)?);
            let receipts = working("checking", || before.verify_contribution(&after))
                .context("the contribution does not check")?;
            let receipts: Vec<String> = receipts.iter().map(hex::encode).collect();
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "contribution": receipts.len(),
                        "receipt": receipts.last(),
                        "receipts": receipts,
                        "points": after.size(),
                    })
                );
            } else {
                println!(
                    "contribution {} checks, and the {} before it; receipts in order:",
                    receipts.len(),
                    receipts.len() - 1
                );
                for r in &receipts {
                    println!("  {r}");
                }
            }
        }
        CeremonyCommand::Import {
            ptau,
            power,
            out,
            lagrange,
            json,
        } => {
            let (powers, basis) = working("reading and checking", || {
                Accumulator::from_ptau(&ptau, power)
            })
            .with_context(|| format!("importing {}", ptau.display()))?;
            let origin = powers
                .imported()
                .expect("an imported accumulator has its origin");
            let prepared = basis.is_some();
            if let Some(path) = &lagrange {
                let basis = match basis {
                    Some(basis) => basis,
                    None => working("converting", || LagrangeBasis::new(&powers, 1 << power))?,
                };
                basis.write_to(path)?;
            }
            powers.write_to(&out)?;
            let hash = hex::encode(origin.next_challenge);
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "points": powers.size(),
                        "ptau_power": origin.power,
                        "contributions": origin.contributions,
                        "next_challenge": hash,
                        "prepared": prepared,
                        "transcript": hex::encode(powers.transcript()),
                    })
                );
            } else {
                println!(
                    "powers of tau for 2^{power} points from a ceremony of {} contributions \
                     (2^{}); its next challenge hash {hash}: wrote {}{}",
                    origin.contributions,
                    origin.power,
                    out.display(),
                    lagrange
                        .map(|p| format!(" and {}", p.display()))
                        .unwrap_or_default()
                );
            }
        }
        CeremonyCommand::Prepare {
            input,
            power,
            out,
            check,
        } => {
            let m = 1usize
                .checked_shl(power)
                .filter(|_| (1..=ceremony::MAX_POWER).contains(&power))
                .context("--power is between 1 and 24")?;
            let powers = read_powers(&input)?;
            working("checking", || powers.verify()).context("the powers of tau do not check")?;
            if check {
                let basis = LagrangeBasis::read_from(&out)?;
                anyhow::ensure!(
                    basis.size() == m,
                    "the basis is for {} points, not 2^{power} = {m}",
                    basis.size()
                );
                working("checking", || basis.check(&powers))
                    .context("the basis is not this powers of tau's")?;
                println!("the Lagrange basis for 2^{power} points is this powers of tau's");
            } else {
                let basis = working("converting", || LagrangeBasis::new(&powers, m))?;
                basis.write_to(&out)?;
                println!("Lagrange basis for 2^{power} points: {}", out.display());
            }
        }
    }
    Ok(())
}

fn read_powers(path: &Path) -> Result<Accumulator> {
    Accumulator::read_from(path).with_context(|| format!("reading {}", path.display()))
}

/// Runs `work` under a spinner on stderr, with its elapsed time.
fn working<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(what.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    let started = Instant::now();
    let result = work();
    spinner.finish_and_clear();
    tracing::info!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    result
}
