//! `zkfl owner` and `zkfl provider join`: a task's owner and each of its data providers as a
//! process of its own, on the ledger of a `zkfl node` (over HTTP) and talking to each other
//! over libp2p, on the same driver as `zkfl run`.
//!
//! Both read the same task file (TOML), which names the task and its parties:
//!
//! ```toml
//! id = "digits"                  # the task id on the ledger
//! owner = "<hex ed25519 key>"    # the owner's ledger key (`zkfl keys public`)
//! providers = ["<hex>", "<hex>"] # provider i's ledger key: it trains client i's rows
//! rounds = 2                     # the rest as `zkfl run`'s options, with its defaults
//! reward = "proportional"        # shapley | proportional | even
//! setup = "owner"                # owner | ceremony
//! q = 1
//! audit = 50
//! deadline = 20
//! ```
//!
//! The data is `zkfl run`'s default task (digits, softmax 64→10, Dirichlet(0.5) label skew
//! over as many clients as providers). Provider i builds the same federation from the file
//! and keeps client i's rows alone: they never leave its process, only its commitments, its
//! log heads, its sealed update and its proofs do. The owner waits for its providers to
//! connect, then runs the task's steps; each provider answers the owner alone until the task
//! is closed on the ledger.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chain::keys::load_key_file;
use chain::{Address, Keypair, Path, PublicKey};
use clap::{Args, Subcommand};
use fl::federation::{Federation, FederationConfig, RunDir};
use net::{Multiaddr, Peer, PeerConfig, PeerId, peer_id_of_public};
use prover::StepProver;
use serde::Deserialize;
use zkfl::proving::{federation_shape, with_checkpoint_committer};
use zkfl::task::clock::SystemClock;
use zkfl::task::embedded::EmbeddedConfig;
use zkfl::task::ledger::LedgerClient;
use zkfl::task::network::{NetTransport, ProviderServer};
use zkfl::task::provider::{Provider, ProviderContext};
use zkfl::task::remote::{OtherChain, RemoteLedger};
use zkfl::task::transport::{Reply, Request};
use zkfl::task::{Parties, TaskDriver};

use crate::commands::run::{Printed, RunArgs, embedded_config};

/// A task file: the task and its parties.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    id: String,
    owner: String,
    providers: Vec<String>,
    #[serde(default = "default_rounds")]
    rounds: u32,
    #[serde(default = "default_reward")]
    reward: String,
    #[serde(default = "default_setup")]
    setup: String,
    #[serde(default = "one")]
    q: u32,
    #[serde(default = "default_audit")]
    audit: u32,
    #[serde(default = "default_deadline")]
    deadline: u64,
}

fn default_rounds() -> u32 {
    20
}
fn default_reward() -> String {
    "shapley".into()
}
fn default_setup() -> String {
    "owner".into()
}
fn one() -> u32 {
    1
}
fn default_audit() -> u32 {
    50
}
fn default_deadline() -> u64 {
    20
}

/// A party's view of its task file.
struct Task {
    config: EmbeddedConfig,
    owner: PublicKey,
    providers: Vec<PublicKey>,
}

impl Task {
    /// Reads the task file at `path`; `out` is the party's cache directory, `keys` its key
    /// store.
    fn read(path: &FsPath, out: &FsPath, keys: Option<PathBuf>, quiet: bool) -> Result<Task> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let file: TaskFile = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        let key = |what: &str, hex_key: &str| -> Result<PublicKey> {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hex_key, &mut bytes).with_context(|| {
                format!(
                    "{}: {what} is not 64 hex digits of an ed25519 key",
                    path.display()
                )
            })?;
            Ok(PublicKey(bytes))
        };
        let owner = key("owner", &file.owner)?;
        let providers = file
            .providers
            .iter()
            .enumerate()
            .map(|(i, k)| key(&format!("providers[{i}]"), k))
            .collect::<Result<Vec<_>>>()?;
        ensure!(!providers.is_empty(), "{}: no providers", path.display());
        for (i, k) in providers.iter().enumerate() {
            ensure!(
                *k != owner,
                "{}: providers[{i}] is the owner's key: a party takes one role",
                path.display()
            );
            if let Some(j) = providers[..i].iter().position(|other| other == k) {
                bail!(
                    "{}: providers[{j}] and providers[{i}] are the same key",
                    path.display()
                );
            }
        }
        let args = RunArgs {
            out: out.to_owned(),
            rounds: file.rounds,
            q: file.q,
            audit: file.audit,
            deadline: file.deadline,
            replay: 0,
            backend: "flex".into(),
            attack: None,
            json: quiet,
            reward: file.reward,
            setup: file.setup,
            providers: providers.len(),
            keys,
            p2p: true,
        };
        let mut config = embedded_config(&args).with_context(|| path.display().to_string())?;
        config.terms.id = file.id;
        Ok(Task {
            config,
            owner,
            providers,
        })
    }

    /// The federation, with the party's cache directory: refused when it holds another
    /// task's, or another party's of this one, or one on another chain (`party.json` names
    /// the task, the party's address and the chain id; `config.json` the federation).
    fn federation(
        &self,
        party: &Address,
        ledger: &RemoteLedger,
    ) -> Result<(Arc<Federation>, Arc<RunDir>)> {
        let federation = Federation::new(self.config.federation.clone())?;
        let dir = RunDir::create(&self.config.dir)?;
        let whose = serde_json::json!({
            "task": self.config.terms.id,
            "party": party.to_string(),
            "chain_id": ledger.chain_id(),
            "genesis_hash": hex::encode(ledger.genesis_hash()),
        });
        let mut party = dir.read_json::<serde_json::Value>("party.json")?;
        // A party.json from before the genesis hash was pinned: it takes the one served now.
        let unpinned = match &mut party {
            Some(serde_json::Value::Object(fields)) if !fields.contains_key("genesis_hash") => {
                fields.insert("genesis_hash".into(), whose["genesis_hash"].clone());
                true
            }
            _ => false,
        };
        let held = (dir.read_json::<FederationConfig>("config.json")?, party);
        match held {
            (Some(config), Some(party)) if config == self.config.federation && party == whose => {
                if unpinned {
                    dir.write_json("party.json", &whose)?;
                }
            }
            // A new directory, or one whose party was not written yet (by an older zkfl, or
            // a party stopped between the two writes).
            (None, None) => {
                dir.write_json("config.json", &self.config.federation)?;
                dir.write_json("party.json", &whose)?;
            }
            (Some(config), None) if config == self.config.federation => {
                dir.write_json("party.json", &whose)?;
            }
            _ => bail!(
                "{} holds the cache of another task, party or chain: use another --out",
                self.config.dir.display()
            ),
        }
        Ok((
            Arc::new(with_checkpoint_committer(federation)),
            Arc::new(dir),
        ))
    }

    /// A peer of `key`'s, listening on `listen`, whose requests stay open a minute past the
    /// task's timeout.
    fn peer(&self, key: &Keypair, listen: &str, max_waiting: Option<usize>) -> Result<Arc<Peer>> {
        let listen: Multiaddr = listen
            .parse()
            .with_context(|| format!("--p2p {listen}: not a multiaddr"))?;
        let base = PeerConfig::new(key.secret(), listen);
        let config = PeerConfig {
            request_timeout: self.config.terms.timeout + Duration::from_secs(60),
            max_waiting: max_waiting.unwrap_or(base.max_waiting),
            ..base
        };
        Ok(Arc::new(Peer::start(config)?))
    }
}

/// A party's key, checked against the one the task file names for it.
fn party_key(path: &FsPath, expected: &PublicKey, role: &str) -> Result<Keypair> {
    let key = load_key_file(path).with_context(|| path.display().to_string())?;
    ensure!(
        key.public() == *expected,
        "{}: the task file names another key as {role}",
        path.display()
    );
    Ok(key)
}

/// Options of `zkfl owner`.
#[derive(Args, Debug)]
pub struct OwnerArgs {
    /// The task file (TOML: id, owner, providers, rounds, reward, ...; see `zkfl owner --help`)
    #[arg(long)]
    pub task: PathBuf,
    /// The owner's key file (the task file's `owner`)
    #[arg(long)]
    pub key: PathBuf,
    /// The ledger: a `zkfl node --empty-blocks` (http://HOST:PORT)
    #[arg(long)]
    pub ledger: String,
    /// Where providers reach the owner (libp2p multiaddr)
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/9000")]
    pub p2p: String,
    /// Cache directory (the global models, metrics.json, keys it made)
    #[arg(long, default_value = "runs/owner")]
    pub out: PathBuf,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Seconds to wait for every provider to connect before starting with those that did
    #[arg(long, default_value_t = 300)]
    pub wait: u64,
    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

/// Runs `zkfl owner`.
pub fn owner(args: OwnerArgs) -> Result<()> {
    let task = Task::read(&args.task, &args.out, args.keys.clone(), args.json)?;
    let key = party_key(&args.key, &task.owner, "owner")?;
    let ledger = Arc::new(RemoteLedger::connect(&args.ledger)?);
    warn_of_a_short_deadline(&ledger, task.config.terms.challenge.deadline);
    let (federation, dir) = task.federation(&Address::of(&key.public()), &ledger)?;
    let shape = federation_shape(&federation)?;
    let peer = task.peer(&key, &args.p2p, Some(0))?;
    eprintln!("owner listening at {}", peer.address());
    let ids = task
        .providers
        .iter()
        .enumerate()
        .map(|(c, k)| Ok((c, peer_id_of_public(k.0)?)))
        .collect::<Result<BTreeMap<usize, PeerId>>>()?;
    wait_for_providers(&peer, &ids, Duration::from_secs(args.wait))?;
    let addresses = task
        .providers
        .iter()
        .enumerate()
        .map(|(c, k)| (c, Address::of(k)))
        .collect();
    let config = task.config;
    let parties = Parties {
        owner: key,
        providers: addresses,
        clock: Arc::new(SystemClock),
        ledger: ledger.clone(),
        transport: Arc::new(NetTransport::new(peer, ids)),
        prover: Arc::new(StepProver::new(config.keys, verifier::Backend::Groth16)),
    };
    let mut driver = TaskDriver::new(config.terms, federation, shape, dir, parties)
        .context("resuming the task")?;
    let events = Printed {
        visible: !args.json,
        out: args.out.clone(),
    };
    driver.run(&events, None)?;
    let payouts = driver.payouts()?;
    let last = driver.history().last();
    if args.json {
        let value = serde_json::json!({
            "rounds": driver.history().len(),
            "final_accuracy": last.map(|m| m.test_accuracy),
            "paid_by": driver.paid_by()?,
            "payouts": payouts,
            "tip": hex::encode(ledger.tip()?.hash()),
        });
        println!("{value}");
    } else {
        if let Some(last) = last {
            println!(
                "{} rounds: test accuracy {:.2}%",
                last.round,
                100.0 * last.test_accuracy
            );
        }
        for p in &payouts {
            println!(
                "  provider {:>2} {}: credited {} rounds, {} proofs verified, slashed {}, paid {}",
                p.client, p.address, p.credited, p.verified, p.slashed, p.payout
            );
        }
    }
    Ok(())
}

/// Below this, a challenged provider may not prove in time (a step's Groth16 proof takes
/// seconds on 2 cores, a few are drawn, and the provider looks once a second).
const SHORT_DEADLINE: Duration = Duration::from_secs(30);

/// Says so when the task's challenge deadline (in blocks) is under [`SHORT_DEADLINE`] at the
/// node's block interval.
fn warn_of_a_short_deadline(ledger: &RemoteLedger, deadline: u64) {
    let interval = match ledger.block_interval() {
        Ok(Some(interval)) => interval,
        Ok(None) => return, // too young a chain to tell
        Err(e) => {
            tracing::warn!("cannot read the node's block interval: {e:#}");
            return;
        }
    };
    let time = interval.saturating_mul(u32::try_from(deadline).unwrap_or(u32::MAX));
    if time < SHORT_DEADLINE {
        eprintln!(
            "warning: deadline = {deadline} blocks is {:.1} s at the node's {} ms blocks: a \
             challenged provider may not prove in time (raise it to {} or more)",
            time.as_secs_f64(),
            interval.as_millis(),
            SHORT_DEADLINE
                .as_millis()
                .div_ceil(interval.as_millis().max(1))
        );
    }
}

/// Waits until every provider's peer is connected, or `wait` has passed.
fn wait_for_providers(peer: &Peer, ids: &BTreeMap<usize, PeerId>, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut shown = usize::MAX;
    loop {
        let mut connected = 0;
        for id in ids.values() {
            connected += usize::from(peer.connected(*id)?);
        }
        if connected != shown {
            eprintln!("{connected} of {} providers connected", ids.len());
            shown = connected;
        }
        if connected == ids.len() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            ensure!(
                connected > 0,
                "no provider connected in {} s",
                wait.as_secs()
            );
            eprintln!("starting with the {connected} providers connected");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `zkfl provider` subcommands.
#[derive(Subcommand, Debug)]
pub enum ProviderCommand {
    /// Join a task as one of its data providers: connect to its owner, stake and commit to your
    /// rows, train the rounds you are asked to, prove your challenged steps; until the task closes
    Join(JoinArgs),
}

/// Options of `zkfl provider join`.
#[derive(Args, Debug)]
pub struct JoinArgs {
    /// The task file (the owner's)
    #[arg(long)]
    pub task: PathBuf,
    /// Your key file (the task file's `providers[CLIENT]`)
    #[arg(long)]
    pub key: PathBuf,
    /// Your client index: whose rows of the task's data set you hold
    #[arg(long)]
    pub client: usize,
    /// The owner's multiaddr (printed by `zkfl owner`)
    #[arg(long)]
    pub owner: String,
    /// The ledger: a `zkfl node --empty-blocks` (http://HOST:PORT)
    #[arg(long)]
    pub ledger: String,
    /// Where to listen (libp2p multiaddr)
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
    pub p2p: String,
    /// Cache directory (your proof-of-learning logs, checkpoints and proofs; default
    /// runs/provider-CLIENT)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Key directory (default: $ZKFL_KEYS or ~/.cache/zkfl/keys)
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Seconds without the owner, or without an answer from the ledger, the task still open,
    /// before giving up (never while a challenge of yours may still be answered)
    #[arg(long, default_value_t = 900)]
    pub owner_wait: u64,
    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

/// Runs `zkfl provider`.
pub fn provider(command: ProviderCommand) -> Result<()> {
    match command {
        ProviderCommand::Join(args) => join(args),
    }
}

fn join(args: JoinArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/provider-{}", args.client)));
    let task = Task::read(&args.task, &out, args.keys.clone(), true)?;
    let expected = task.providers.get(args.client).with_context(|| {
        format!(
            "--client {}: the task has {} providers",
            args.client,
            task.providers.len()
        )
    })?;
    let key = party_key(&args.key, expected, &format!("providers[{}]", args.client))?;
    let owner_addr: Multiaddr = args
        .owner
        .parse()
        .with_context(|| format!("--owner {}: not a multiaddr", args.owner))?;
    let ledger = Arc::new(RemoteLedger::connect(&args.ledger)?);
    let (federation, dir) = task.federation(&Address::of(&key.public()), &ledger)?;
    let shape = federation_shape(&federation)?;
    let id = task.config.terms.id.clone();
    let ctx = Arc::new(ProviderContext {
        task: id.clone(),
        federation,
        dir,
        ledger: ledger.clone(),
        prover: Arc::new(StepProver::new(
            task.config.keys.clone(),
            verifier::Backend::Groth16,
        )),
        shape,
        stake: task.config.terms.stake,
    });
    let provider = Arc::new(Mutex::new(Provider::new(args.client, key.clone(), ctx)?));
    let peer = task.peer(&key, &args.p2p, None)?;
    let owner = peer_id_of_public(task.owner.0)?;
    dial_owner(&peer, &owner_addr, owner, Duration::from_secs(120))?;
    eprintln!(
        "provider {} connected to the owner; listening at {}",
        args.client,
        peer.address()
    );
    let client = args.client;
    // Why its join failed, if it did: said when the task goes on without it.
    let refused: Arc<Mutex<Option<String>>> = Arc::default();
    let server = {
        let (provider, refused) = (provider.clone(), refused.clone());
        ProviderServer::start(peer.clone(), owner, move |request| {
            eprintln!("provider {client}: {}", asked(request));
            let reply = lock(&provider).handle(request);
            eprintln!("provider {client}: {}", answered(&reply));
            if let (Request::Join { .. }, Reply::Failed(why)) = (request, &reply) {
                *lock(&refused) = Some(why.clone());
            }
            Some(reply)
        })
    };
    let me = Address::of(&key.public()).to_string();
    let (status, registered) = (
        chain::task::task_path(&id, &["status"])?,
        chain::task::task_path(&id, &["providers", &me])?,
    );
    let give_up = Duration::from_secs(args.owner_wait);
    let (mut owner_seen, mut ledger_seen) = (Instant::now(), Instant::now());
    // Once it is registered in a running task it stays so: not looked up again.
    let mut in_task = false;
    let mut last_warning = String::new();
    loop {
        let step = (|| -> Result<Standing> {
            ledger.status()?;
            let status = ledger.get(&status)?;
            if !in_task && matches!(status.as_str(), Some("running" | "closed")) {
                if ledger.get(&registered)?.is_absent() {
                    return Ok(Standing::Left);
                }
                in_task = true;
            }
            if status.as_str() == Some("closed") {
                return Ok(Standing::Closed);
            }
            // The ledger's challenges are answered whether or not the owner asks.
            let answers = lock(&provider).answer_challenges()?;
            for (round, proof) in answers.proofs {
                let outcome = proof.tx.map_or_else(|e| e, |_| "submitted".into());
                eprintln!(
                    "provider {client}: round {round}: step {} proven unasked: {outcome}",
                    proof.step
                );
            }
            for (round, why) in answers.failed {
                eprintln!("provider {client}: round {round}: cannot answer its challenge: {why}");
            }
            Ok(Standing::Open)
        })();
        if step.is_ok() {
            ledger_seen = Instant::now();
        }
        match step {
            Ok(Standing::Closed) => break,
            Ok(Standing::Open) => {}
            Ok(Standing::Left) => {
                let why = lock(&refused).clone();
                bail!(
                    "task {id} went on without provider {client}: {}",
                    why.unwrap_or_else(|| "it was not asked to join in time".into())
                );
            }
            Err(e) if e.is::<OtherChain>() => return Err(e),
            Err(e) => {
                // Waited out, as a missing owner is (the node may be restarting).
                ensure!(
                    ledger_seen.elapsed() < give_up,
                    "provider {client}: the ledger has not answered for {} s: {e:#}",
                    give_up.as_secs()
                );
                let warning = format!("{e:#}");
                if warning != last_warning {
                    eprintln!("provider {client}: {warning}");
                    last_warning = warning;
                }
            }
        }
        if peer.connected(owner).unwrap_or(false) {
            owner_seen = Instant::now();
        } else {
            // Not while a challenge may still be answered: leaving then would be slashed.
            ensure!(
                owner_seen.elapsed() < give_up || lock(&provider).owes(),
                "provider {client}: no owner for {} s and task {id} is not closed: giving up \
                 (join again to resume)",
                give_up.as_secs()
            );
            // The owner restarted or the link broke: it resumes from the ledger, and asks
            // again once connected.
            // One try of at most a second: the ledger's challenges are looked at each second.
            let _ = dial_owner(&peer, &owner_addr, owner, Duration::from_secs(1));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(server);
    let int = |leaf: &[&str]| -> Result<i128> {
        let path: Path = chain::task::task_path(&id, leaf)?;
        Ok(ledger.get(&path)?.as_int().unwrap_or(0))
    };
    let (credited, verified) = (int(&["credited", &me])?, int(&["verified", &me])?);
    let (slashed, paid) = (int(&["slashed", &me])?, int(&["payouts", &me])?);
    let balance = ledger.balance(&Address::of(&key.public()))?;
    if args.json {
        let value = serde_json::json!({
            "client": client, "address": me, "credited": credited, "verified": verified,
            "slashed": slashed, "payout": paid, "balance": balance,
        });
        println!("{value}");
    } else {
        println!(
            "task {id} closed: provider {client} credited {credited} rounds, {verified} proofs \
             verified, slashed {slashed}, paid {paid} (balance {balance})"
        );
    }
    Ok(())
}

/// Where a provider stands in its task, as the ledger says.
enum Standing {
    /// It is in the task, still open.
    Open,
    /// The task is closed.
    Closed,
    /// The task went on (or ended) without it.
    Left,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Dials the owner until connected (it may start later), checking it is the task's owner.
fn dial_owner(peer: &Peer, addr: &Multiaddr, owner: PeerId, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match peer.dial(addr.clone(), left.min(Duration::from_secs(10))) {
            Ok(id) if id == owner => return Ok(()),
            Ok(id) => bail!("{addr} is {id}, not the task's owner {owner}"),
            Err(e) if Instant::now() >= deadline => {
                bail!("cannot reach the owner at {addr}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

fn asked(request: &Request) -> String {
    match request {
        Request::Join { .. } => "asked to join".into(),
        Request::Train { round, .. } => format!("round {round}: training"),
        Request::Prove { round } => format!("round {round}: proving the challenged steps"),
    }
}

fn answered(reply: &Reply) -> String {
    match reply {
        Reply::Joined(_) => "joined".into(),
        Reply::Contributed { .. } => "contributed to the keys and sent its registration".into(),
        Reply::Trained(update) => format!(
            "trained on {} rows (loss {:.4}), update sent",
            update.samples, update.train_loss
        ),
        Reply::Proved(proofs) => format!("{} proofs submitted", proofs.len()),
        Reply::Failed(why) => format!("could not: {why}"),
    }
}
