//! Who makes a task's Groth16 keys, the driver's part: with [`KeySetup::Ceremony`] the owner
//! makes the start parameters of each key at creation (posting their `cs_hash` and start key),
//! contributes a δ first, and hands the parameters to each provider in turn at join; the
//! provider checks them against the program and the powers of tau, contributes its own δ and
//! registers in the same transaction (`prover::setup`, `chain::settlement::setup`). Once the
//! task runs, everyone proves with the key the ledger verifies with.
//!
//! ```text
//! DIR/setup/<key>/<transcript hash>.params   the parameters at each transcript the owner
//!                                            saw (written before it is posted, so a restart
//!                                            finds the one the ledger is at)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use ceremony::{CeremonyFile, Parameters};
use chain::settlement::{ContributionConfig, ProofConfig, TaskKey};
use chain::task::task_path;
use chain::{Address, Value};
use circuits::Program;
use circuits::field::Bn254;
use circuits::r1cs::Encoding;
use fl::federation::RunDir;

use super::ledger::LedgerClient;

/// Who makes a task's Groth16 keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeySetup {
    /// The owner alone, with `generate_random_parameters`: quick, and whoever made the keys
    /// could forge any proof. For a task whose parties all live in one process, where a
    /// ceremony protects nothing.
    #[default]
    Owner,
    /// A multi-party ceremony (Bowe–Gabizon–Miers 2017) to which the owner and every provider
    /// contribute: sound as long as one of them forgets its secret.
    Ceremony,
}

impl KeySetup {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KeySetup::Owner => "owner",
            KeySetup::Ceremony => "ceremony",
        }
    }

    /// The setup with this name.
    pub fn from_name(name: &str) -> Option<KeySetup> {
        [KeySetup::Owner, KeySetup::Ceremony]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A ceremony's parameters in the making, by key.
pub type KeyParameters = Arc<BTreeMap<TaskKey, Parameters>>;

/// What a task config says of one key: its program digest, start key and `cs_hash`.
struct KeyConfig {
    program_digest: [u8; 32],
    vk: Vec<u8>,
    ceremony: Option<[u8; 32]>,
}

/// Each key of the task config `config` (`/tasks/<id>/config`) with its constraint program.
/// `only_ceremony` keeps the keys made by a ceremony.
fn keys_of(config: &Value, only_ceremony: bool) -> Result<BTreeMap<TaskKey, (KeyConfig, Program)>> {
    let mut out = BTreeMap::new();
    let verifier = ProofConfig::from_value(config.child("verifier"))?;
    let program = verifier::check::program_of::<Bn254>(&verifier.shape)?;
    let key = KeyConfig {
        program_digest: verifier.program_digest,
        vk: verifier.vk,
        ceremony: verifier.ceremony,
    };
    out.insert(TaskKey::TrainingStep, (key, program));
    if !config.child("contribution").is_absent() {
        let contribution = ContributionConfig::from_value(config.child("contribution"))?;
        let program = prover::contribution_program(&contribution.shape)?;
        let key = KeyConfig {
            program_digest: contribution.program_digest,
            vk: contribution.vk,
            ceremony: contribution.ceremony,
        };
        out.insert(TaskKey::Contribution, (key, program));
    }
    out.retain(|_, (k, _)| !only_ceremony || k.ceremony.is_some());
    Ok(out)
}

/// The config of task `task` on the ledger.
fn config(ledger: &dyn LedgerClient, task: &str) -> Result<Value> {
    let config = ledger.get(&task_path(task, &["config"])?);
    ensure!(
        !config.is_absent(),
        "task {task} has no config on the ledger"
    );
    Ok(config)
}

/// The programs of task `task`'s keys made by a ceremony (none for a task whose owner made
/// its keys).
pub fn ceremony_programs(
    ledger: &dyn LedgerClient,
    task: &str,
) -> Result<BTreeMap<TaskKey, Program>> {
    Ok(keys_of(&config(ledger, task)?, true)?
        .into_iter()
        .map(|(k, (_, p))| (k, p))
        .collect())
}

/// Checks that the ledger names `params` for `key` of task `task`: the config's program digest
/// is `program`'s, its `cs_hash` and start key are the parameters', and the ledger's transcript
/// ends where theirs does.
pub fn check_on_ledger(
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
    params: &Parameters,
    program: &Program,
) -> Result<()> {
    let keys = keys_of(&config(ledger, task)?, true)?;
    let (config, _) = keys.get(&key).with_context(|| {
        format!(
            "the {} key of task {task} is not made by a ceremony",
            key.name()
        )
    })?;
    let name = key.name();
    ensure!(
        config.program_digest == program.digest(),
        "the {name} key's program digest on the ledger is not the program's"
    );
    ensure!(
        config.ceremony == Some(params.cs_hash()),
        "the ledger names other {name} parameters than these (cs_hash)"
    );
    ensure!(
        config.vk == params.start_verifying_key().to_bytes(),
        "the {name} start key on the ledger is not these parameters'"
    );
    let on_ledger = transcript_hash(ledger, task, key)?.unwrap_or(params.cs_hash());
    ensure!(
        on_ledger == params.transcript(),
        "the {name} parameters are not where the ledger's transcript is ({} contributions here)",
        params.contributions().len()
    );
    Ok(())
}

/// The hash of the ledger's transcript of `key` (`None` before any contribution).
fn transcript_hash(
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
) -> Result<Option<[u8; 32]>> {
    let stored = ledger.get(&task_path(task, &["transcripts", key.name()])?);
    if stored.is_absent() {
        return Ok(None);
    }
    let bytes = stored
        .as_str()
        .and_then(|t| hex::decode(t).ok())
        .context("the ledger's transcript is not hex")?;
    let transcript: ceremony::Transcript = ceremony::from_bytes(&bytes)?;
    Ok(Some(transcript.hash))
}

/// Whether `party` has contributed to `key` of task `task`.
pub fn contributed(ledger: &dyn LedgerClient, task: &str, key: TaskKey, party: &Address) -> bool {
    task_path(task, &["setup", key.name(), &party.to_string()])
        .map(|p| !ledger.get(&p).is_absent())
        .unwrap_or(false)
}

fn cache_dir(dir: &RunDir, key: TaskKey) -> PathBuf {
    dir.root().join("setup").join(key.name())
}

/// Keeps `params` of `key` under their transcript hash.
pub fn save(dir: &RunDir, key: TaskKey, params: &Parameters) -> Result<()> {
    let path = cache_dir(dir, key).join(format!("{}.params", hex::encode(params.transcript())));
    Ok(params.write_to(&path)?)
}

/// The owner's parameters of `key` at the ledger's transcript (its start before any
/// contribution); the other versions are removed.
pub fn load(
    dir: &RunDir,
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
) -> Result<Parameters> {
    let keys = keys_of(&config(ledger, task)?, true)?;
    let cs_hash = keys
        .get(&key)
        .and_then(|(k, _)| k.ceremony)
        .with_context(|| {
            format!(
                "the {} key of task {task} is not made by a ceremony",
                key.name()
            )
        })?;
    let at = transcript_hash(ledger, task, key)?.unwrap_or(cs_hash);
    let folder = cache_dir(dir, key);
    let path = folder.join(format!("{}.params", hex::encode(at)));
    if !path.exists() {
        bail!(
            "the {} key's parameters at the ledger's transcript are not in {}: this cache \
             cannot resume the task",
            key.name(),
            folder.display()
        );
    }
    let params = Parameters::read_from(&path)?;
    for entry in std::fs::read_dir(&folder)?.flatten() {
        if entry.path() != path {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(params)
}
