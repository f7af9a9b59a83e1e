//! `zkfl pol verify`: check a proof-of-learning log against its run's terms and what was posted
//! for it, check its hash chain and replay its largest segments.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chain::node::open_ledger_to_read;
use chain::task::posted_log;
use clap::Subcommand;
use fl::backend::BackendKind;
use fl::blob::Digest;
use fl::pol::replay::{REPLAY_ABSOLUTE_TOLERANCE, REPLAY_RELATIVE_TOLERANCE, ReplayReport};
use fl::pol::verify::{Posted, round_and_client_of, run_dir_of, run_terms_of, verify_log_file};

use zkfl::proving::{ProvingRun, posted};
use zkfl::task::ledger::ledger_files;

/// Proof-of-learning subcommands.
#[derive(Subcommand, Debug)]
pub enum PolCommand {
    /// Check a log of a run: that it keeps the run's terms (learning rate, batch size,
    /// momentum, data set, model, the round's global model, the step count epochs x batches and
    /// each epoch's rows drawn from the provider's own), its hash chain, a replay of the Q
    /// segments with the largest parameter change, and that it ends where the provider's
    /// posted head and update say. What was posted is read from the run's task ledger when there
    /// is one. Exit 0 when valid, 1 with the first failure otherwise.
    Verify {
        /// The log file (DIR/pol/round-RRRR/client-CCC.pol)
        #[arg(long)]
        log: PathBuf,
        /// The run directory whose config.json holds the terms and whose blobs hold the
        /// checkpoints (default: the log's DIR)
        #[arg(long)]
        run: Option<PathBuf>,
        /// Segments to replay
        #[arg(long, default_value_t = 2)]
        q: usize,
        /// The log's head hash as the provider posted it (hex; default: the task ledger's)
        #[arg(long)]
        head: Option<String>,
        /// SHA-256 of the update the provider posted (hex; default: the task ledger's)
        #[arg(long)]
        update: Option<String>,
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
        run,
        q,
        head,
        update,
        backend,
        json,
    } = command;
    let digest = |text: Option<String>, flag: &str| {
        text.as_deref()
            .map(str::parse::<Digest>)
            .transpose()
            .with_context(|| flag.to_owned())
    };
    let (head, update) = (digest(head, "--head")?, digest(update, "--update")?);
    let backend: BackendKind = backend.parse()?;
    let Some((round, client)) = round_and_client_of(&log) else {
        bail!(
            "{}: not a run's log (DIR/pol/round-RRRR/client-CCC.pol)",
            log.display()
        );
    };
    let root = match run.as_deref().or_else(|| run_dir_of(&log)) {
        Some(dir) => dir.to_owned(),
        None => bail!("cannot tell the run of {}: pass --run", log.display()),
    };
    let proving = ProvingRun::open(&root)?;
    let posted = match (head, update) {
        (Some(head), Some(update)) => Posted {
            head: Some(head),
            update: Some(update),
        },
        (head, update) => {
            let on_ledger = posted_on_ledger(&root, round, client)?;
            Posted {
                head: head.or(on_ledger.head),
                update: update.or(on_ledger.update),
            }
        }
    };
    let terms = run_terms_of(&proving.dir, &proving.federation, round, client)?;
    let blobs = proving.dir.blobs().root();
    let (_, report) = verify_log_file(&log, blobs, &terms, posted, q, backend)
        .with_context(|| log.display().to_string())?;
    if json {
        let value = serde_json::json!({
            "log": log,
            "valid": report.passed(),
            "posted_head_checked": posted.head.is_some(),
            "posted_update_checked": posted.update.is_some(),
            "first_failure": report.first_failure().map(|c| c.entry),
            "report": report,
        });
        println!("{value}");
    } else {
        print_report(&log, &report, posted);
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

/// What the run's task ledger (`DIR/ledger/task.redb`, if any) holds as posted for the log:
/// nothing when there is no ledger; an error when the ledger holds no post of this log.
fn posted_on_ledger(root: &Path, round: u32, client: usize) -> Result<Posted> {
    let (task_file, _) = ledger_files(&root.join("ledger"));
    if !task_file.is_file() {
        return Ok(Posted::default());
    }
    let ledger = open_ledger_to_read(&task_file, None)?;
    let tasks = ledger.get_value(&chain::Path::parse("/tasks")?);
    let ids: Vec<&String> = match &tasks {
        chain::Value::Object(map) => map.keys().collect(),
        _ => Vec::new(),
    };
    let [id] = ids[..] else {
        bail!(
            "{} holds {} tasks: pass --head and --update",
            task_file.display(),
            ids.len()
        );
    };
    let Some(post) = posted_log(|p| ledger.get_value(p), id, round.into(), client)? else {
        bail!(
            "{} holds no log post of client {client} in round {round}: nothing was posted to check against",
            task_file.display()
        );
    };
    Ok(posted(&post))
}

fn print_report(log: &Path, report: &ReplayReport, posted: Posted) {
    println!(
        "{}: run's terms kept, hash chain ok, {} entries, {} steps",
        log.display(),
        report.entries,
        report.steps
    );
    let said = |known: bool| {
        if known {
            "matches"
        } else {
            "not known, not checked"
        }
    };
    println!(
        "posted head: {}; posted update: {}",
        said(posted.head.is_some()),
        said(posted.update.is_some())
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
