//! `zkfl run`: the whole pipeline on the built-in default task, as one task on the embedded
//! ledger driven in protocol order ([`zkfl::task`]).
//!
//! The default task: digits, softmax regression 64→10 (the model whose training steps a
//! 2-core machine proves in seconds), 10 providers with Dirichlet(0.5) label skew, 20 rounds of
//! FedAvg, 5 local epochs of SGD (lr 0.1, batch 16, full batches only), a proof-of-learning
//! log of every step. Each round's logs are posted, the round is sealed, and its challenge is
//! drawn from the hash of a later block; challenged providers prove their steps with Groth16
//! and the ledger's native verifier checks them; closing pays by credited rounds.
//!
//! Running it again on the same directory continues an interrupted task, or re-checks a
//! finished one. The keys are demo keys derived from fixed labels (`zkfl-demo/owner`,
//! `zkfl-demo/provider-N`), written to `DIR/ledger/keys/` for use with `zkfl chain`; they
//! protect nothing: a real deployment gives each party its own key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chain::keys::save_key_file;
use chain::task::{ChallengeParams, RewardRule};
use chain::{Address, Keypair};
use clap::Args;
use fl::backend::BackendKind;
use fl::federation::{Federation, FederationConfig, RoundMetrics, RunDir};
use fl::pol::verify::verify_log_file;
use fl::train::TrainConfig;
use pol::ChallengeRule;
use prover::StepProver;
use sha2::{Digest as _, Sha256};
use zkfl::proving::{commit_run, federation_shape};
use zkfl::task::clock::{Clock, SystemClock};
use zkfl::task::ledger::{EmbeddedLedger, LedgerSetup};
use zkfl::task::provider::{Provider, ProviderContext};
use zkfl::task::transport::InProcess;
use zkfl::task::{Events, Parties, ProofRecord, ProviderPayout, Step, TaskDriver, TaskTerms};

use crate::commands::prove::key_store;
use crate::plot::plot_metrics;

/// The task id the pipeline uses.
pub const TASK: &str = "digits";
/// What the owner puts in escrow.
pub const ESCROW: i128 = 1_000_000;
/// What each provider stakes to join.
pub const STAKE: i128 = 100;

/// Options of the default pipeline.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run directory
    #[arg(long, default_value = "runs/default")]
    pub out: PathBuf,
    /// Rounds of federated training
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Steps drawn from each audited provider's round (the challenge's q)
    #[arg(long, default_value_t = 1)]
    pub q: u32,
    /// Chance, per mille, that a provider's round is audited (1000: every round)
    #[arg(long, default_value_t = 50)]
    pub audit: u32,
    /// Blocks a challenged provider has to answer before its stake is slashed
    #[arg(long, default_value_t = 20)]
    pub deadline: u64,
    /// Segments of each of the last round's logs replayed on burn as a check
    #[arg(long, default_value_t = 2)]
    pub replay: usize,
    /// Where burn runs: flex | ndarray | wgpu
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
}

/// A demo key derived from a fixed label.
fn demo_key(label: &str) -> Keypair {
    let secret: [u8; 32] = Sha256::digest(format!("zkfl-demo/{label}").as_bytes()).into();
    Keypair::from_secret(secret)
}

/// Runs the pipeline.
pub fn run(args: RunArgs) -> Result<()> {
    let backend: BackendKind = args.backend.parse()?;
    let config = FederationConfig {
        model: "softmax".into(),
        rounds: args.rounds,
        backend,
        train: TrainConfig {
            drop_last: true,
            ..TrainConfig::default()
        },
        ..FederationConfig::default()
    };
    let challenge = ChallengeParams {
        rule: ChallengeRule {
            q: args.q,
            audit: args.audit,
        },
        deadline: args.deadline,
    };
    if challenge.rule.q == 0 || challenge.rule.audit > 1000 || challenge.deadline == 0 {
        bail!("--q and --deadline must be at least 1, and --audit at most 1000");
    }
    let dir = RunDir::create(&args.out)?;
    match dir.read_json::<FederationConfig>("config.json")? {
        Some(previous) if previous != config => bail!(
            "{} holds a run with other options: use the same ones, or another --out",
            args.out.display()
        ),
        Some(_) if !args.json => eprintln!("continuing the task in {}", args.out.display()),
        Some(_) => {}
        None => dir.write_json("config.json", &config)?,
    }
    let federation = Arc::new(commit_run(Federation::new(config)?, &dir)?.0);
    let shape = federation_shape(&federation)?;
    let dir = Arc::new(dir);

    let owner = demo_key("owner");
    let clients: Vec<usize> = (0..federation.config().clients)
        .filter(|c| !federation.partitioning().clients[*c].is_empty())
        .collect();
    let provider_keys: BTreeMap<usize, Keypair> = clients
        .iter()
        .map(|&c| (c, demo_key(&format!("provider-{c}"))))
        .collect();
    let ledger_dir = args.out.join("ledger");
    write_key_files(&ledger_dir, &owner, &provider_keys)?;
    let mut balances = BTreeMap::from([(Address::of(&owner.public()), 10 * ESCROW)]);
    for key in provider_keys.values() {
        balances.insert(Address::of(&key.public()), 10 * STAKE);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let setup = LedgerSetup {
        task: TASK.into(),
        validator: owner.clone(),
        reporter: demo_key("reporter"),
        balances,
        timestamp: 1,
    };
    let ledger = Arc::new(EmbeddedLedger::open(&ledger_dir, &setup, clock.clone())?);
    let store = key_store(args.keys.clone());
    if !args.json {
        eprintln!(
            "the task's Groth16 keys are in {} (made once per shape)",
            store.dir().display()
        );
    }
    let prover = Arc::new(StepProver::new(store, verifier::Backend::Groth16));
    let ctx = Arc::new(ProviderContext {
        task: TASK.into(),
        federation: federation.clone(),
        dir: dir.clone(),
        ledger: ledger.clone(),
        prover: prover.clone(),
        shape,
        stake: STAKE,
    });
    let providers = provider_keys
        .iter()
        .map(|(&c, key)| Provider::new(c, key.clone(), ctx.clone()))
        .collect::<Result<Vec<_>>>()?;
    let transport = Arc::new(InProcess::new(providers, clock.clone()));
    let terms = TaskTerms {
        id: TASK.into(),
        escrow: ESCROW,
        stake: STAKE,
        reward: RewardRule::Proportional,
        challenge,
        timeout: Duration::from_secs(600),
    };
    let parties = Parties {
        owner,
        providers: provider_keys
            .iter()
            .map(|(&c, k)| (c, Address::of(&k.public())))
            .collect(),
        clock,
        ledger: ledger.clone(),
        transport: transport.clone(),
        prover,
    };
    let mut driver = TaskDriver::new(terms, federation.clone(), shape, dir.clone(), parties)?;
    let events = Printed {
        visible: !args.json,
        out: args.out.clone(),
    };
    driver.run(&events, None)?;
    plot_metrics(&args.out.join("metrics.json"), &args.out.join("accuracy.png"))?;

    let history = dir.metrics()?;
    let last = history.last().context("the task ran no round")?;
    let replayed = replay_last_round(&args, &dir, last, backend)?;
    let (blocks, reports) = ledger.verify()?;
    let payouts = driver.payouts();
    let proofs: Vec<ProofRecord> = driver.proofs().to_vec();
    let log_reads: usize = clients
        .iter()
        .filter_map(|&c| transport.with_provider(c, |p| p.log_reads()))
        .sum();
    let best = history.iter().map(|m| m.test_accuracy).fold(0.0, f64::max);
    if args.json {
        let value = serde_json::json!({
            "rounds": last.round,
            "final_accuracy": last.test_accuracy,
            "best_accuracy": best,
            "final_model": last.model,
            "out": args.out,
            "pol": replayed.iter().map(|(client, steps, checked, valid)| serde_json::json!({
                "client": client, "steps": steps, "replayed": checked, "valid": valid,
            })).collect::<Vec<_>>(),
            "proofs": proofs,
            "payouts": payouts,
            "task_blocks": blocks,
            "reports": reports,
            "log_reads": log_reads,
        });
        println!("{value}");
    } else {
        println!(
            "{} rounds of {}: test accuracy {:.2}% (best {:.2}%), loss {:.4}",
            last.round,
            federation.spec(),
            100.0 * last.test_accuracy,
            100.0 * best,
            last.test_loss
        );
        println!("results in {}/", args.out.display());
        println!("  metrics.json   per-round accuracy, loss and per-client figures");
        println!("  accuracy.png   accuracy and loss per round");
        println!("  models/        global model per round (flat f32, little-endian)");
        println!(
            "  pol/           proof-of-learning logs; check one with `zkfl pol verify --log FILE`"
        );
        println!(
            "proof of learning, round {} (replaying {} segments per log):",
            last.round, args.replay
        );
        for (client, steps, checked, valid) in &replayed {
            println!(
                "  client {client:>2}: {steps:>4} steps logged, {checked} replayed, {}",
                if *valid { "valid" } else { "INVALID" }
            );
        }
        print_proofs(&proofs, &args);
        print_payouts(&args, &payouts, blocks, reports);
    }
    anyhow::ensure!(
        replayed.iter().all(|r| r.3),
        "a proof-of-learning log of the last round failed replay"
    );
    anyhow::ensure!(
        proofs.iter().all(|p| p.error.is_none()),
        "the ledger refused a proof of a challenged step"
    );
    Ok(())
}

fn write_key_files(dir: &std::path::Path, owner: &Keypair, providers: &BTreeMap<usize, Keypair>) -> Result<()> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| keys.display().to_string())?;
    for (name, key) in std::iter::once(("owner".to_string(), owner))
        .chain(providers.iter().map(|(c, k)| (format!("provider-{c}"), k)))
    {
        let path = keys.join(format!("{name}.json"));
        if !path.exists() {
            save_key_file(&path, key)?;
        }
    }
    Ok(())
}

/// Replays `--replay` segments of every log of the last round: (client, steps, replayed, valid).
fn replay_last_round(
    args: &RunArgs,
    dir: &RunDir,
    last: &RoundMetrics,
    backend: BackendKind,
) -> Result<Vec<(usize, u64, usize, bool)>> {
    let mut out = Vec::new();
    for client in &last.clients {
        let log = dir.pol_path(last.round, client.client);
        let (_, report) = verify_log_file(
            &log,
            dir.blobs().root(),
            client.pol_head.as_ref(),
            args.replay,
            backend,
        )
        .with_context(|| format!("verifying {}", log.display()))?;
        out.push((client.client, report.steps, report.checked.len(), report.passed()));
    }
    Ok(out)
}

fn print_proofs(proofs: &[ProofRecord], args: &RunArgs) {
    println!(
        "challenged steps (q = {} per audited provider-round, {}‰ of provider-rounds audited), Groth16:",
        args.q, args.audit
    );
    if proofs.is_empty() {
        println!("  none were drawn");
    }
    for p in proofs {
        println!(
            "  round {:>2} client {:>2} step {:>4}: {}",
            p.round,
            p.client,
            p.step,
            match (&p.error, p.reused) {
                (Some(e), _) => format!("REFUSED: {e}"),
                (None, true) => "proof kept from an earlier run, accepted by the ledger".into(),
                (None, false) => format!("proved in {:.1} s, accepted by the ledger", p.seconds),
            }
        );
    }
    println!(
        "  check them again with `zkfl verify --run {}`",
        args.out.display()
    );
}

fn print_payouts(args: &RunArgs, payouts: &[ProviderPayout], blocks: u64, reports: usize) {
    println!(
        "settlement on the task shard {}/ledger/task.redb (task `{TASK}`, escrow {ESCROW}, by credited rounds):",
        args.out.display()
    );
    println!("  client  address                                   rounds  proofs  slashed  payout  balance");
    for p in payouts {
        println!(
            "  {:>6}  {}  {:>6}  {:>6}  {:>7}  {:>6}  {:>7}",
            p.client, p.address, p.credited, p.verified, p.slashed, p.payout, p.balance
        );
    }
    println!(
        "  {blocks} task blocks re-verified from genesis; {reports} shard reports on the root chain ({}/ledger/root.redb) match them",
        args.out.display()
    );
}

/// Progress lines on stderr.
struct Printed {
    visible: bool,
    out: PathBuf,
}

impl Events for Printed {
    fn step(&self, step: Step) {
        if !self.visible {
            return;
        }
        match step {
            Step::Create => eprintln!("creating the task (Groth16 keys are made once per shape) …"),
            Step::Join => eprintln!("providers join: stake and data commitments …"),
            Step::Train(r) => eprint!("round {r:>2}: training … "),
            _ => {}
        }
    }

    fn round(&self, metrics: &RoundMetrics) {
        if self.visible {
            eprintln!(
                "{} providers, accuracy {:.2}% ({:.1} s)",
                metrics.clients.len(),
                100.0 * metrics.test_accuracy,
                metrics.seconds
            );
        }
        if let Err(error) = plot_metrics(&self.out.join("metrics.json"), &self.out.join("accuracy.png")) {
            tracing::warn!(%error, "could not redraw the plot");
        }
    }

    fn proofs(&self, round: u32, proofs: &[ProofRecord]) {
        if self.visible && !proofs.is_empty() {
            let ok = proofs.iter().filter(|p| p.error.is_none()).count();
            eprintln!(
                "round {round:>2}: {ok} of {} challenged steps proven and accepted by the ledger",
                proofs.len()
            );
        }
    }
}
