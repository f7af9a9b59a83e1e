//! A whole task in one process: the embedded ledger, the providers behind the in-process
//! transport, and the owner's driver, wired from one configuration. `zkfl run` and the
//! whole-task tests use it.
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

use anyhow::{Context, Result, bail};
use chain::keys::save_key_file;
use chain::{Address, Keypair};
use fl::federation::{Federation, FederationConfig, RunDir};
use prover::StepProver;
use sha2::{Digest as _, Sha256};
use verifier::KeyStore;

use super::clock::Clock;
use super::ledger::{EmbeddedLedger, LedgerSetup};
use super::provider::{Provider, ProviderContext};
use super::transport::InProcess;
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
}

impl EmbeddedTask {
    /// Opens (or resumes) the task in `config.dir`.
    pub fn open(config: EmbeddedConfig) -> Result<EmbeddedTask> {
        let dir = RunDir::create(&config.dir)?;
        match dir.read_json::<FederationConfig>("config.json")? {
            Some(previous) if previous != config.federation => bail!(
                "{} holds a task with other options: use the same ones, or another directory",
                config.dir.display()
            ),
            Some(_) => {}
            None => dir.write_json("config.json", &config.federation)?,
        }
        let federation = Arc::new(commit_run(Federation::new(config.federation)?, &dir)?.0);
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
        let parties = Parties {
            owner,
            providers: provider_keys
                .iter()
                .map(|(&c, k)| (c, Address::of(&k.public())))
                .collect(),
            clock: config.clock,
            ledger: ledger.clone(),
            transport: transport.clone(),
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
