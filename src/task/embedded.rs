//! A whole task in one process: the embedded ledger, the providers behind the in-process
//! transport (or, with [`EmbeddedConfig::network`], behind peers of their own on 127.0.0.1,
//! reached over libp2p), and the owner's driver, wired from one configuration. `zkfl run` and
//! the whole-task tests use it.
//!
//! ```text
//! DIR/config.json              the federation (a resumed task must have the same)
//! DIR/data-commitments.json    each provider's data commitment
//! DIR/ledger/task.redb, root.redb, keys/   the ledger files and the demo keys
//! DIR/models/, pol/, blobs/, proofs/, metrics.json, task.json   the cache
//! ```
//!
//! The keys are demo keys derived from fixed labels (`zkfl-demo/owner`,
//! `zkfl-demo/provider-N`), written to `DIR/ledger/keys/` for use with `zkfl chain`; they
//! protect nothing: a real deployment gives each party its own key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chain::keys::save_key_file;
use chain::{Address, Keypair};
use fl::federation::{Federation, FederationConfig, RunDir};
use net::{Peer, PeerConfig};
use prover::StepProver;
use sha2::{Digest as _, Sha256};
use verifier::KeyStore;

use super::clock::Clock;
use super::ledger::{EmbeddedLedger, LedgerSetup};
use super::network::{NetTransport, ProviderServer};
use super::provider::{Provider, ProviderContext};
use super::transport::{InProcess, Transport};
use super::{Parties, TaskDriver, TaskTerms};
use crate::proving::{commit_run, federation_shape};

/// A demo key derived from a fixed label.
pub fn demo_key(label: &str) -> Keypair {
    let secret: [u8; 32] = Sha256::digest(format!("zkfl-demo/{label}").as_bytes()).into();
    Keypair::from_secret(secret)
}

/// Everything an embedded task is made from.
pub struct EmbeddedConfig {
    /// The run directory.
    pub dir: PathBuf,
    /// The federation (data, model, providers, rounds, training).
    pub federation: FederationConfig,
    /// The task's terms.
    pub terms: TaskTerms,
    /// Where the Groth16 keys are.
    pub keys: KeyStore,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Providers that stop answering from a round on: `(client, round)`.
    pub silent: Vec<(usize, u32)>,
    /// Reach the providers over libp2p: the owner and each provider a peer of its own on
    /// 127.0.0.1 (real TCP, Noise, identities from the ledger keys), not in process.
    pub network: bool,
}

/// A task wired in one process.
pub struct EmbeddedTask {
    /// The owner's driver.
    pub driver: TaskDriver,
    /// The ledger.
    pub ledger: Arc<EmbeddedLedger>,
    /// The providers.
    pub transport: Arc<InProcess>,
    /// The federation.
    pub federation: Arc<Federation>,
    /// The run directory.
    pub dir: Arc<RunDir>,
    /// With [`EmbeddedConfig::network`]: the peers and the providers' servers.
    pub network: Option<Loopback>,
}

/// The owner's and the providers' peers on 127.0.0.1, and the servers answering for the
/// providers (each stopped when dropped; a peer stops with its last handle).
pub struct Loopback {
    /// The owner's peer.
    pub owner: Arc<Peer>,
    /// The providers' peers, by client index.
    pub providers: BTreeMap<usize, Arc<Peer>>,
    // Held, not read: each answers until dropped.
    _servers: Vec<ProviderServer>,
}

impl Loopback {
    /// Starts a peer for the owner and for each provider, dials each from the owner, and
    /// serves each provider's requests with `transport`'s provider. Requests stay open a
    /// minute past the task's `timeout`, so that the task's terms decide when a provider is
    /// late; the owner's peer takes no messages (it only asks).
    fn start(
        owner: &Keypair,
        providers: &BTreeMap<usize, Keypair>,
        transport: &Arc<InProcess>,
        timeout: Duration,
    ) -> Result<Loopback> {
        let config = |key: &Keypair| PeerConfig {
            request_timeout: timeout.saturating_add(Duration::from_secs(60)),
            ..PeerConfig::loopback(key.secret())
        };
        let owner_peer = Arc::new(Peer::start(PeerConfig {
            max_waiting: 0,
            ..config(owner)
        })?);
        let mut peers = BTreeMap::new();
        let mut servers = Vec::new();
        for (&client, key) in providers {
            let peer = Arc::new(Peer::start(config(key))?);
            owner_peer.dial(peer.address(), Duration::from_secs(20))?;
            let transport = transport.clone();
            servers.push(ProviderServer::start(
                peer.clone(),
                owner_peer.id(),
                move |request| transport.answer(client, request),
            ));
            peers.insert(client, peer);
        }
        Ok(Loopback {
            owner: owner_peer,
            providers: peers,
            _servers: servers,
        })
    }

    /// The owner's transport to the providers' peers.
    fn transport(&self) -> NetTransport {
        let ids = self.providers.iter().map(|(&c, p)| (c, p.id())).collect();
        NetTransport::new(self.owner.clone(), ids)
    }
}

impl EmbeddedTask {
    /// Opens (or resumes) the task in `config.dir`.
    pub fn open(config: EmbeddedConfig) -> Result<EmbeddedTask> {
        // The options are checked before anything is written: a directory never holds a
        // task whose options cannot run.
        let federation = Federation::new(config.federation.clone())?;
        let dir = RunDir::create(&config.dir)?;
        match dir.read_json::<FederationConfig>("config.json")? {
            Some(previous) if previous != config.federation => bail!(
                "{} holds a task with other options: use the same ones, or another directory",
                config.dir.display()
            ),
            Some(_) => {}
            None => dir.write_json("config.json", &config.federation)?,
        }
        let federation = Arc::new(commit_run(federation, &dir)?.0);
        let shape = federation_shape(&federation)?;
        let dir = Arc::new(dir);
        let terms = config.terms;

        let owner = demo_key("owner");
        let provider_keys: BTreeMap<usize, Keypair> = (0..federation.config().clients)
            .filter(|c| !federation.partitioning().clients[*c].is_empty())
            .map(|c| (c, demo_key(&format!("provider-{c}"))))
            .collect();
        let ledger_dir = config.dir.join("ledger");
        write_key_files(&ledger_dir.join("keys"), &owner, &provider_keys)?;
        let mut balances = BTreeMap::from([(Address::of(&owner.public()), 10 * terms.escrow)]);
        for key in provider_keys.values() {
            balances.insert(Address::of(&key.public()), 10 * terms.stake);
        }
        let setup = LedgerSetup {
            task: terms.id.clone(),
            validator: owner.clone(),
            reporter: demo_key("reporter"),
            balances,
            timestamp: 1,
        };
        let ledger = Arc::new(EmbeddedLedger::open(
            &ledger_dir,
            &setup,
            config.clock.clone(),
        )?);
        let prover = Arc::new(StepProver::new(config.keys, verifier::Backend::Groth16));
        let ctx = Arc::new(ProviderContext {
            task: terms.id.clone(),
            federation: federation.clone(),
            dir: dir.clone(),
            ledger: ledger.clone(),
            prover: prover.clone(),
            shape,
            stake: terms.stake,
        });
        let providers = provider_keys
            .iter()
            .map(|(&c, key)| Provider::new(c, key.clone(), ctx.clone()))
            .collect::<Result<Vec<_>>>()?;
        let mut transport = InProcess::new(providers, config.clock.clone());
        for (client, round) in config.silent {
            transport = transport.silence_from(client, round);
        }
        let transport = Arc::new(transport);
        let network = config
            .network
            .then(|| Loopback::start(&owner, &provider_keys, &transport, terms.timeout))
            .transpose()?;
        let to_providers: Arc<dyn Transport> = match &network {
            Some(network) => Arc::new(network.transport()),
            None => transport.clone(),
        };
        let parties = Parties {
            owner,
            providers: provider_keys
                .iter()
                .map(|(&c, k)| (c, Address::of(&k.public())))
                .collect(),
            clock: config.clock,
            ledger: ledger.clone(),
            transport: to_providers,
            prover,
        };
        let driver = TaskDriver::new(terms, federation.clone(), shape, dir.clone(), parties)
            .context("resuming the task")?;
        Ok(EmbeddedTask {
            driver,
            ledger,
            transport,
            federation,
            dir,
            network,
        })
    }

    /// Proof-of-learning logs the providers had to read back from the cache.
    pub fn log_reads(&self) -> usize {
        self.federation
            .partitioning()
            .clients
            .iter()
            .enumerate()
            .filter_map(|(c, _)| self.transport.with_provider(c, |p| p.log_reads()))
            .sum()
    }
}

fn write_key_files(
    dir: &std::path::Path,
    owner: &Keypair,
    providers: &BTreeMap<usize, Keypair>,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    for (name, key) in std::iter::once(("owner".to_string(), owner))
        .chain(providers.iter().map(|(c, k)| (format!("provider-{c}"), k)))
    {
        let path = dir.join(format!("{name}.json"));
        if !path.exists() {
            save_key_file(&path, key)?;
        }
    }
    Ok(())
}
