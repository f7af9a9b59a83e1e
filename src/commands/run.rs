//! `zkfl run`: the whole pipeline on the built-in default task, as one task on the embedded
//! ledger driven in protocol order ([`zkfl::task`]).
//!
//! The default task: digits, softmax regression 64→10 (the model whose training steps a
//! 2-core machine proves in seconds), 10 providers with Dirichlet(0.5) label skew, 20 rounds of
//! FedAvg, 5 local epochs of SGD (lr 0.1, batch 16, full batches only), a proof-of-learning
//! log of every step. Each round's logs are posted, the round is sealed, and its challenge is
//! drawn from the hash of a later block; challenged providers prove their steps with Groth16
//! and the ledger's native verifier checks them. The owner proves each round's Shapley values
//! (the contribution relation) and closing pays the escrow by the proven values
//! (`--reward shapley`); `--reward proportional` pays by credited rounds instead and skips
//! those proofs (about a minute a round for 10 providers on 2 cores).
//!
//! Running it again on the same directory continues an interrupted task, or re-checks a
//! finished one. The keys are demo keys derived from fixed labels (`zkfl-demo/owner`,
//! `zkfl-demo/provider-N`), written to `DIR/ledger/keys/` for use with `zkfl chain`; they
//! protect nothing: a real deployment gives each party its own key.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chain::task::{ChallengeParams, RewardRule, posted_log};
use clap::Args;
use fl::backend::BackendKind;
use fl::federation::{Federation, FederationConfig, RoundMetrics, RunDir};
use fl::pol::verify::verify_run_log;
use fl::train::TrainConfig;
use pol::ChallengeRule;
use zkfl::proving::posted;
use zkfl::task::clock::SystemClock;
use zkfl::task::embedded::{EmbeddedConfig, EmbeddedTask};
use zkfl::task::ledger::EmbeddedLedger;
use zkfl::task::{
    ContributionTerms, Events, KeySetup, ProofRecord, ProviderPayout, Step, TaskTerms,
};

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
    /// Simulated attack by the K lowest-id providers of each round: scale:S@K, freeride@K (the
    /// attacker's log ends at the model it sends, its last step forged) or flip@K (it trains on
    /// flipped labels; its rows are committed unflipped, so replay catches it)
    #[arg(long)]
    pub attack: Option<String>,
    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// How the ledger splits the escrow at closing: shapley (to each provider's proven Shapley
    /// value: the owner proves every round's values with Groth16, about a minute a round for 10
    /// providers on 2 cores, plus its keys once per shape; the task needs 12 providers or
    /// fewer), proportional (to credited rounds: the whole run in about a minute) or even
    #[arg(long, default_value = "shapley")]
    pub reward: String,
    /// Who makes the task's Groth16 keys: owner (one party, in seconds; whoever made them
    /// could forge proofs, which in one process protects nothing anyway) or ceremony (a
    /// multi-party setup: the owner and then each provider check the parameters and
    /// contribute at join, so one honest party makes the keys sound; powers of tau for the
    /// circuit's size come from the key directory's ceremony/ folder, made here once per size
    /// when absent, minutes for real shapes)
    #[arg(long, default_value = "owner")]
    pub setup: String,
    /// Providers in the task
    #[arg(long, default_value_t = 10)]
    pub providers: usize,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Reach the providers over libp2p: the owner and each provider a peer of its own on
    /// 127.0.0.1 (TCP, Noise, identities from the ledger keys), models and updates sealed to
    /// their reader; still one process
    #[arg(long)]
    pub p2p: bool,
}

/// The default task as `args` set it: its directory, federation, terms and keys.
///
/// Errors: options out of range or that do not parse (one line naming the option).
pub fn embedded_config(args: &RunArgs) -> Result<EmbeddedConfig> {
    let backend: BackendKind = args.backend.parse()?;
    let attack = args
        .attack
        .as_deref()
        .map(str::parse::<fl::attack::AttackSpec>)
        .transpose()
        .context("--attack")?;
    let reward = RewardRule::from_name(&args.reward).with_context(|| {
        format!(
            "--reward {}: not a reward rule (proportional, even or shapley)",
            args.reward
        )
    })?;
    let setup = KeySetup::from_name(&args.setup).with_context(|| {
        format!(
            "--setup {}: not a key setup (owner or ceremony)",
            args.setup
        )
    })?;
    if args.providers == 0 {
        bail!("--providers must be at least 1");
    }
    let most = circuits::relations::contribution::MAX_PROVEN_PLAYERS;
    if reward == RewardRule::Shapley && args.providers > most {
        bail!(
            "--reward shapley proves every round's values over all providers: at most {most} (got {}; \
             --reward proportional takes any number)",
            args.providers
        );
    }
    let config = FederationConfig {
        model: "softmax".into(),
        clients: args.providers,
        rounds: args.rounds,
        backend,
        attack,
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
    if !args.json && args.out.join("config.json").exists() {
        eprintln!("continuing the task in {}", args.out.display());
    }
    let store = key_store(args.keys.clone());
    if !args.json {
        match setup {
            KeySetup::Owner => eprintln!(
                "the task's Groth16 keys are in {} (made once per shape by the owner alone)",
                store.dir().display()
            ),
            KeySetup::Ceremony => eprintln!(
                "the task's Groth16 keys come from a ceremony of the owner and every provider \
                 (powers of tau in {})",
                store.dir().join("ceremony").display()
            ),
        }
    }
    Ok(EmbeddedConfig {
        dir: args.out.clone(),
        federation: config,
        terms: TaskTerms {
            id: TASK.into(),
            escrow: ESCROW,
            stake: STAKE,
            reward,
            challenge,
            contribution: ContributionTerms::default(),
            setup,
            timeout: Duration::from_secs(600),
        },
        keys: store,
        clock: Arc::new(SystemClock),
        silent: Vec::new(),
        network: args.p2p,
    })
}

/// Runs the pipeline.
pub fn run(args: RunArgs) -> Result<()> {
    let backend: BackendKind = args.backend.parse()?;
    let mut task = EmbeddedTask::open(embedded_config(&args)?)?;
    let events = Printed {
        visible: !args.json,
        out: args.out.clone(),
    };
    task.driver.run(&events, None)?;
    let log_reads = task.log_reads();
    let EmbeddedTask {
        driver,
        ledger,
        federation,
        dir,
        ..
    } = task;
    plot_metrics(
        &args.out.join("metrics.json"),
        &args.out.join("accuracy.png"),
    )?;

    let history = dir.metrics()?;
    let last = history.last().context("the task ran no round")?;
    let replayed = replay_last_round(&args, &dir, &federation, last, &ledger, backend)?;
    let (blocks, reports) = ledger.verify()?;
    let payouts = driver.payouts()?;
    let proofs: Vec<ProofRecord> = driver.proofs()?;
    let best = history.iter().map(|m| m.test_accuracy).fold(0.0, f64::max);
    // A simulated attacker's forged log failing replay, or its proof refused, is a detection;
    // anyone else's is an error.
    let attackers = |round: u32| {
        federation
            .config()
            .attack
            .map(|a| a.attackers_of(&federation.sample_clients(round)))
            .unwrap_or_default()
    };
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
            "paid_by": driver.paid_by()?,
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
            "  each provider's Shapley value and share: `zkfl contrib --run {}`",
            args.out.display()
        );
        println!(
            "proof of learning, round {} (replaying {} segments per log):",
            last.round, args.replay
        );
        let attacked = attackers(last.round);
        for (client, steps, checked, valid) in &replayed {
            println!(
                "  client {client:>2}: {steps:>4} steps logged, {checked} replayed, {}",
                match (*valid, attacked.contains(client)) {
                    (true, _) => "valid",
                    (false, true) => "INVALID (the simulated attacker is caught)",
                    (false, false) => "INVALID",
                }
            );
        }
        print_proofs(&proofs, &args);
        print_payouts(&args, &payouts, driver.paid_by()?, blocks, reports);
    }
    anyhow::ensure!(
        replayed
            .iter()
            .all(|r| r.3 || attackers(last.round).contains(&r.0)),
        "a proof-of-learning log of the last round failed replay"
    );
    anyhow::ensure!(
        proofs
            .iter()
            .all(|p| p.error.is_none() || attackers(p.round).contains(&p.client)),
        "the ledger refused a proof of a challenged step"
    );
    Ok(())
}

/// Checks every log of the last round against the run's terms and what its provider posted
/// on the ledger, and replays `--replay` segments of each: (client, steps, replayed, valid).
fn replay_last_round(
    args: &RunArgs,
    dir: &RunDir,
    federation: &Federation,
    last: &RoundMetrics,
    ledger: &EmbeddedLedger,
    backend: BackendKind,
) -> Result<Vec<(usize, u64, usize, bool)>> {
    let mut out = Vec::new();
    for client in &last.clients {
        let post = posted_log(
            |p| ledger.with_task(|t| t.get_value(p)),
            TASK,
            last.round.into(),
            client.client,
        )?
        .with_context(|| {
            format!(
                "client {} posted no log of round {}",
                client.client, last.round
            )
        })?;
        let (_, report) = verify_run_log(
            dir,
            federation,
            last.round,
            client.client,
            posted(&post),
            args.replay,
            backend,
        )
        .with_context(|| {
            format!(
                "verifying {}",
                dir.pol_path(last.round, client.client).display()
            )
        })?;
        out.push((
            client.client,
            report.steps,
            report.checked.len(),
            report.passed(),
        ));
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

fn print_payouts(
    args: &RunArgs,
    payouts: &[ProviderPayout],
    paid_by: Option<String>,
    blocks: u64,
    reports: usize,
) {
    println!(
        "settlement on the task shard {}/ledger/task.redb (task `{TASK}`, escrow {ESCROW}, paid by {}):",
        args.out.display(),
        paid_by.as_deref().unwrap_or("-")
    );
    println!(
        "  client  address                                   rounds  proofs  slashed  Shapley value  payout  balance"
    );
    for p in payouts {
        let value = p.value.map_or("-".to_owned(), |v| format!("{v:.3} rows"));
        println!(
            "  {:>6}  {}  {:>6}  {:>6}  {:>7}  {:>13}  {:>6}  {:>7}",
            p.client, p.address, p.credited, p.verified, p.slashed, value, p.payout, p.balance
        );
    }
    println!(
        "  {blocks} task blocks re-verified from genesis; {reports} shard reports on the root chain ({}/ledger/root.redb) match them",
        args.out.display()
    );
}

/// Progress lines on stderr.
pub(crate) struct Printed {
    /// Whether to print at all.
    pub(crate) visible: bool,
    /// The run directory (named in messages).
    pub(crate) out: PathBuf,
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
        if let Err(error) = plot_metrics(
            &self.out.join("metrics.json"),
            &self.out.join("accuracy.png"),
        ) {
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

    fn contribution(&self, round: u32, outcome: &std::result::Result<f64, String>) {
        if self.visible {
            match outcome {
                Ok(seconds) => eprintln!(
                    "round {round:>2}: Shapley values proven in {seconds:.1} s, accepted by the ledger"
                ),
                Err(why) => eprintln!("round {round:>2}: Shapley values NOT proven: {why}"),
            }
        }
    }
}
