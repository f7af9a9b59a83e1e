//! Who makes a task's Groth16 keys, the driver's part: with [`KeySetup::Ceremony`] the owner
//! makes the start parameters of each key at creation (posting their `cs_hash` and start key),
//! contributes a δ first, and hands the parameters to each provider in turn at join; the
//! provider checks them against the program and the powers of tau, contributes its own δ and
//! hands back its parameters and its signed transaction (contributions and registration),
//! which the owner submits once the parameters check and it has given the provider the turn
//! for them (`prover::setup`, `chain::settlement::setup`). Once the task runs, everyone
//! proves with the key the ledger verifies with.
//!
//! ```text
//! DIR/setup/<key>/<transcript hash>.params   the owner's parameters, named by transcript
//!                                            (written before they are posted, so a restart
//!                                            finds the ones the ledger is at; the others
//!                                            are removed once no turn of a provider that
//!                                            has not contributed stands, so a running task
//!                                            keeps its final key, which `zkfl verify
//!                                            --run` reads)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use ceremony::{CeremonyFile, Parameters, Transcript};
use chain::settlement::{ContributionConfig, ProofConfig, TaskKey};
use chain::task::task_path;
use chain::{Address, Value};
use circuits::Program;
use circuits::field::Bn254;
use circuits::r1cs::Encoding;
use circuits::relations::contribution::ContributionShape;
use circuits::relations::training_step::TrainingStepShape;
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

/// What a task config says of one key made by a ceremony: its program digest, start key,
/// `cs_hash`, and how to build its program.
struct KeyConfig {
    program_digest: [u8; 32],
    vk: Vec<u8>,
    cs_hash: [u8; 32],
    shape: KeyShape,
}

/// The relation shape a key was made for.
enum KeyShape {
    TrainingStep(TrainingStepShape),
    Contribution(ContributionShape),
}

impl KeyShape {
    fn program(&self) -> Result<Program> {
        Ok(match self {
            KeyShape::TrainingStep(shape) => verifier::check::program_of::<Bn254>(shape)?,
            KeyShape::Contribution(shape) => prover::contribution_program(shape)?,
        })
    }
}

/// The keys of the task config `config` (`/tasks/<id>/config`) that a ceremony makes.
fn ceremony_keys(config: &Value) -> Result<BTreeMap<TaskKey, KeyConfig>> {
    let v = ProofConfig::from_value(config.child("verifier"))?;
    let shape = KeyShape::TrainingStep(v.shape);
    let mut parts = vec![(
        TaskKey::TrainingStep,
        v.ceremony,
        v.program_digest,
        v.vk,
        shape,
    )];
    if !config.child("contribution").is_absent() {
        let c = ContributionConfig::from_value(config.child("contribution"))?;
        let shape = KeyShape::Contribution(c.shape);
        parts.push((
            TaskKey::Contribution,
            c.ceremony,
            c.program_digest,
            c.vk,
            shape,
        ));
    }
    Ok(parts
        .into_iter()
        .filter_map(|(key, ceremony, program_digest, vk, shape)| {
            let config = KeyConfig {
                program_digest,
                vk,
                cs_hash: ceremony?,
                shape,
            };
            Some((key, config))
        })
        .collect())
}

/// The config of task `task` on the ledger.
fn config(ledger: &dyn LedgerClient, task: &str) -> Result<Value> {
    let config = ledger.get(&task_path(task, &["config"])?)?;
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
    ceremony_keys(&config(ledger, task)?)?
        .into_iter()
        .map(|(key, config)| Ok((key, config.shape.program()?)))
        .collect()
}

/// Checks that the ledger names `params` for `key` of task `task`: the config's program digest
/// is `program`'s, its `cs_hash` and start key are the parameters', and the ledger's transcript
/// (hash, contributions, δ) is theirs.
pub fn check_on_ledger(
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
    params: &Parameters,
    program: &Program,
) -> Result<()> {
    let keys = ceremony_keys(&config(ledger, task)?)?;
    let name = key.name();
    let config = keys
        .get(&key)
        .with_context(|| format!("the {name} key of task {task} is not made by a ceremony"))?;
    ensure!(
        config.program_digest == program.digest(),
        "the {name} key's program digest on the ledger is not the program's"
    );
    ensure!(
        config.cs_hash == params.cs_hash(),
        "the ledger names other {name} parameters than these (cs_hash)"
    );
    ensure!(
        config.vk == params.start_verifying_key().to_bytes(),
        "the {name} start key on the ledger is not these parameters'"
    );
    let on_ledger = transcript(ledger, task, key)?.unwrap_or(Transcript::start(config.cs_hash));
    ensure!(
        on_ledger == params.ledger_transcript(),
        "the {name} parameters are not where the ledger's transcript is ({} contributions here, \
         {} there)",
        params.contributions().len(),
        on_ledger.contributions
    );
    Ok(())
}

/// The hash of the ledger's transcript of `key` (`cs_hash`, its start, before any
/// contribution): the name of the parameters it is at.
pub fn ledger_transcript_hash(
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
    cs_hash: [u8; 32],
) -> Result<[u8; 32]> {
    Ok(transcript(ledger, task, key)?.map_or(cs_hash, |t| t.hash))
}

/// The ledger's transcript of `key` (`None` before any contribution).
pub fn transcript(
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
) -> Result<Option<Transcript>> {
    let stored = ledger.get(&task_path(task, &["transcripts", key.name()])?)?;
    if stored.is_absent() {
        return Ok(None);
    }
    Ok(Some(
        chain::settlement::setup::decode_transcript(&stored)
            .context("the ledger's transcript is malformed")?,
    ))
}

/// Whether `party` has contributed to `key` of task `task`.
pub fn contributed(
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
    party: &Address,
) -> Result<bool> {
    let path = task_path(task, &["setup", key.name(), &party.to_string()])?;
    Ok(!ledger.get(&path)?.is_absent())
}

fn cache_dir(dir: &RunDir, key: TaskKey) -> PathBuf {
    folder(dir.root(), key)
}

fn folder(root: &Path, key: TaskKey) -> PathBuf {
    root.join("setup").join(key.name())
}

/// The parameters `key`'s ceremony ended with, if the run directory `root` holds them: once
/// the task runs, the owner keeps only those (`None` for a task whose owner made its keys).
///
/// Errors: a ceremony that has not ended (several versions), or parameters that cannot be
/// read.
pub fn final_parameters(root: &Path, key: TaskKey) -> Result<Option<Parameters>> {
    let folder = folder(root, key);
    if !folder.is_dir() {
        return Ok(None);
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| folder.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "params"))
        .collect();
    match files.as_slice() {
        [] => Ok(None),
        [one] => {
            let params = Parameters::read_from(one)?;
            ensure!(
                !params.contributions().is_empty(),
                "{} holds the {} key's start parameters (γ = δ = 1): nobody contributed",
                one.display(),
                key.name()
            );
            Ok(Some(params))
        }
        _ => bail!(
            "{} holds several versions of the {} key: its ceremony has not ended",
            folder.display(),
            key.name()
        ),
    }
}

/// Keeps `params` of `key` under their transcript hash (a file already there is kept).
pub fn save(dir: &RunDir, key: TaskKey, params: &Parameters) -> Result<()> {
    let path = cache_dir(dir, key).join(format!("{}.params", hex::encode(params.transcript())));
    if !path.exists() {
        params.write_to(&path)?;
    }
    Ok(())
}

/// The owner's parameters of `key` at the ledger's transcript (its start before any
/// contribution).
pub fn load(
    dir: &RunDir,
    ledger: &dyn LedgerClient,
    task: &str,
    key: TaskKey,
) -> Result<Parameters> {
    let keys = ceremony_keys(&config(ledger, task)?)?;
    let cs_hash = keys.get(&key).map(|k| k.cs_hash).with_context(|| {
        format!(
            "the {} key of task {task} is not made by a ceremony",
            key.name()
        )
    })?;
    let at = ledger_transcript_hash(ledger, task, key, cs_hash)?;
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
    Ok(Parameters::read_from(&path)?)
}

/// Removes every other version of `key`'s parameters than those with the transcript hashes
/// `keep`.
pub fn prune(dir: &RunDir, key: TaskKey, keep: &[[u8; 32]]) -> Result<()> {
    let folder = cache_dir(dir, key);
    let keep: Vec<PathBuf> = keep
        .iter()
        .map(|hash| folder.join(format!("{}.params", hex::encode(hash))))
        .collect();
    for entry in std::fs::read_dir(&folder)?.flatten() {
        if !keep.contains(&entry.path()) {
            std::fs::remove_file(entry.path())
                .with_context(|| entry.path().display().to_string())?;
        }
    }
    Ok(())
}
