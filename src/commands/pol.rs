//! `zkfl pol verify`: check a proof-of-learning log's hash chain and replay its largest steps.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use fl::backend::BackendKind;
use fl::pol::replay::{REPLAY_ABSOLUTE_TOLERANCE, REPLAY_RELATIVE_TOLERANCE, ReplayReport};
use fl::pol::verify::{default_blob_dir, verify_log_file};

/// Proof-of-learning subcommands.
#[derive(Subcommand, Debug)]
pub enum PolCommand {
    /// Check a log: hash chain, start from the round's global model, then replay the Q segments
    /// with the largest parameter change and compare with the logged checkpoints. Exit 0 when
    /// valid, 1 with the first failing entry otherwise.
    Verify {
        /// The log file (DIR/pol/round-R/client-C.pol)
        #[arg(long)]
        log: PathBuf,
        /// Segments to replay
        #[arg(long, default_value_t = 2)]
        q: usize,
        /// Blob directory holding the checkpoints (default: DIR/blobs of the log's run)
        #[arg(long)]
        blobs: Option<PathBuf>,
        /// The log's head hash as the provider posted it (hex); the log must end there
        #[arg(long)]
        head: Option<String>,
        /// Where to replay: flex | ndarray | wgpu
        #[arg(long, default_value = "flex")]
        backend: String,
        /// Print the report as one JSON object on stdout
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `zkfl pol` subcommand.
pub fn run(command: PolCommand) -> Result<()> {
    let PolCommand::Verify {
        log,
        q,
        blobs,
        head,
        backend,
        json,
    } = command;
    let head = head
        .as_deref()
        .map(str::parse::<fl::blob::Digest>)
        .transpose()
        .context("--head")?;
    let backend: BackendKind = backend.parse()?;
    let blobs = match blobs.or_else(|| default_blob_dir(&log)) {
        Some(dir) => dir,
        None => bail!(
            "cannot tell where the blobs of {} are: pass --blobs",
            log.display()
        ),
    };
    let (_, report) = verify_log_file(&log, &blobs, head.as_ref(), q, backend)
        .with_context(|| format!("{}", log.display()))?;
    if json {
        let value = serde_json::json!({
            "log": log,
            "valid": report.passed(),
            "first_failure": report.first_failure().map(|c| c.entry),
            "report": report,
        });
        println!("{value}");
    } else {
        print_report(&log, &report);
    }
    match report.first_failure() {
        Some(failed) => bail!(
            "{}: entry {} does not replay: distance {:.3e} exceeds {:.3e}",
            log.display(),
            failed.entry,
            failed.distance,
            failed.threshold
        ),
        None => Ok(()),
    }
}

fn print_report(log: &std::path::Path, report: &ReplayReport) {
    println!(
        "{}: hash chain ok, {} entries, {} steps",
        log.display(),
        report.entries,
        report.steps
    );
    println!(
        "replay tolerance: distance <= {REPLAY_RELATIVE_TOLERANCE:e} x update + {REPLAY_ABSOLUTE_TOLERANCE:e} x sqrt(n)"
    );
    for check in &report.checked {
        println!(
            "  entry {:>4}: {} step(s), update {:.3e}, replay distance {:.3e} (limit {:.3e})  {}",
            check.entry,
            check.steps,
            check.update_norm,
            check.distance,
            check.threshold,
            if check.passed { "ok" } else { "FAILED" }
        );
    }
    if report.passed() {
        println!("valid");
    }
}
