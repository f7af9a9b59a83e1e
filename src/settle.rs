//! Settlement of a run on the embedded ledger: the task is created with its verifying key and
//! escrow, providers stake and register their data commitments, each round's model hash and
//! log heads are posted, proofs are submitted to the native verifier, and closing the task pays
//! the providers. Everything goes through signed transactions in blocks of redb ledger files.
//!
//! The task has its own chain, a shard (`DIR/ledger/task.redb`) of the root chain
//! (`DIR/ledger/root.redb`): the root branches `/tasks/<id>` to it, and after every task block
//! the shard's reporter writes the block's hash and state root to the root chain, which refuses
//! every other write under the task's path.
//!
//! The keys are demo keys derived from fixed labels (`zkfl-demo/owner`, `zkfl-demo/provider-N`)
//! so a rerun reproduces the same addresses; they are written to `DIR/ledger/keys/` for use
//! with `zkfl chain`. They protect nothing: a real deployment gives each party its own key.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};

use ::chain::keys::save_key_file;
use ::chain::settlement::ProofConfig;
use ::chain::shard::{Shard, audit_shard};
use ::chain::task::{
    RewardRule, TaskSpec, post_head_op, post_model_op, provider_join_op, submit_proof_op, task_path,
};
use ::chain::{
    Address, Genesis, Keypair, Ledger, Op, SingleValidator, Transaction, TxOutcome, Value,
};
use anyhow::{Context, Result, bail};
use circuits::relations::training_step::TrainingStepShape;
use fl::federation::RoundMetrics;
use fl::pol::CheckpointLog;
use fl::pol::encoding::{encode_entry, encode_header};
use sha2::{Digest as _, Sha256};
use verifier::ProofFile;

use crate::proving::commit::DataCommitment;

/// The task id the pipeline uses.
pub const TASK: &str = "digits";
/// What the owner puts in escrow.
pub const ESCROW: i128 = 1_000_000;
/// What each provider stakes to join.
pub const STAKE: i128 = 100;
/// The fee of every transaction.
const FEE: u128 = 1;

fn demo_key(label: &str) -> Keypair {
    let secret: [u8; 32] = Sha256::digest(format!("zkfl-demo/{label}").as_bytes()).into();
    Keypair::from_secret(secret)
}

/// A task on a ledger file, driven by the run's owner and providers.
pub struct Settlement {
    root: Ledger<SingleValidator>,
    shard: Shard<SingleValidator>,
    owner: Keypair,
    providers: BTreeMap<usize, Keypair>,
    time: u64,
}

/// What the ledger says about one provider after settlement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProviderPayout {
    /// The provider's client index.
    pub client: usize,
    /// Its address.
    pub address: String,
    /// Proofs the native verifier accepted.
    pub verified: i128,
    /// Paid from escrow at closing.
    pub payout: i128,
    /// Balance after settlement (stake returned).
    pub balance: i128,
}

impl Settlement {
    /// Creates the root chain `DIR/ledger/root.redb` and the task's shard `DIR/ledger/task.redb`
    /// afresh: the root branches the task's path to the shard; the shard's genesis funds the
    /// owner and `providers`; then the task with its Groth16 verifying key and escrow, and every
    /// provider's stake and data commitment.
    pub fn create(
        dir: &FsPath,
        config: ProofConfig,
        rounds: u32,
        commitments: &[DataCommitment],
    ) -> Result<Settlement> {
        let ledger_dir = dir.join("ledger");
        let file = ledger_dir.join("task.redb");
        let root_file = ledger_dir.join("root.redb");
        for f in [&file, &root_file] {
            if f.exists() {
                std::fs::remove_file(f).with_context(|| f.display().to_string())?;
            }
        }
        std::fs::create_dir_all(ledger_dir.join("keys"))?;
        let owner = demo_key("owner");
        let providers: BTreeMap<usize, Keypair> = commitments
            .iter()
            .map(|c| (c.client, demo_key(&format!("provider-{}", c.client))))
            .collect();
        let key_file =
            |name: &str| -> PathBuf { ledger_dir.join("keys").join(format!("{name}.json")) };
        for (name, key) in std::iter::once(("owner".to_string(), &owner))
            .chain(providers.iter().map(|(c, k)| (format!("provider-{c}"), k)))
        {
            let path = key_file(&name);
            if !path.exists() {
                save_key_file(&path, key)?;
            }
        }
        let mut balances = BTreeMap::from([(Address::of(&owner.public()), 10 * ESCROW)]);
        for key in providers.values() {
            balances.insert(Address::of(&key.public()), 10 * STAKE);
        }
        let genesis = Genesis {
            chain_id: format!("zkfl-task-{TASK}"),
            timestamp: 1,
            root_owner: Address::of(&owner.public()),
            balances,
        };
        let ledger = Ledger::open(&file, &genesis, SingleValidator::new(demo_key("owner")))?;
        let owner_addr = Address::of(&owner.public());
        let root_genesis = Genesis {
            chain_id: "zkfl-root".into(),
            timestamp: 1,
            root_owner: owner_addr,
            balances: BTreeMap::from([(owner_addr, ESCROW)]),
        };
        let mut root = Ledger::open(
            &root_file,
            &root_genesis,
            SingleValidator::new(demo_key("owner")),
        )?;
        let shard = Shard::new(task_path(TASK, &[])?, ledger, demo_key("reporter"), 1, 0)?;
        let branch = Transaction::new(
            root.chain_id(),
            &owner.public(),
            root.next_nonce(&owner_addr),
            FEE,
            2,
            Op::SetShard {
                path: shard.path().clone(),
                config: shard.config(owner_addr),
            },
        );
        root.submit(branch.sign(&owner))?;
        root.produce_block(2)?;
        let mut settlement = Settlement {
            root,
            shard,
            owner,
            providers,
            time: 2,
        };
        let spec = TaskSpec {
            id: TASK.into(),
            reward: RewardRule::Even,
            verifier: config,
            rounds: u64::from(rounds),
            min_stake: STAKE,
            escrow: ESCROW,
        };
        settlement.send(None, spec.create_op(&owner_addr)?)?;
        // Blocks order transactions by sender: the task must exist before anyone joins it.
        settlement.block()?;
        for c in commitments {
            let root = c
                .root_in_field("bn254")
                .context("a data commitment without a BN254 root")?;
            let provider = Address::of(&settlement.providers[&c.client].public());
            let op = provider_join_op(TASK, &provider, c.client as u32, &root, STAKE, "join")?;
            settlement.send(Some(c.client), op)?;
        }
        settlement.block()?;
        Ok(settlement)
    }

    /// Signs `op` by the owner (`None`) or a provider and puts it in the pool.
    fn send(&mut self, from: Option<usize>, op: Op) -> Result<[u8; 32]> {
        let key = match from {
            None => &self.owner,
            Some(client) => self
                .providers
                .get(&client)
                .with_context(|| format!("client {client} is not a provider of the task"))?,
        };
        let addr = Address::of(&key.public());
        let ledger = self.shard.ledger_mut();
        let nonce = ledger.next_nonce(&addr);
        self.time += 1;
        let tx =
            Transaction::new(ledger.chain_id(), &key.public(), nonce, FEE, self.time, op).sign(key);
        Ok(ledger.submit(tx)?)
    }

    /// Makes a task block of everything pending, and a root block with its report.
    fn block(&mut self) -> Result<()> {
        self.time += 1;
        self.shard.produce_block(self.time)?;
        self.shard.submit_reports(&mut self.root, self.time)?;
        self.root.produce_block(self.time)?;
        Ok(())
    }

    fn owner_set(&mut self, leaf: &[&str], value: Value) -> Result<()> {
        let op = Op::SetValue {
            path: task_path(TASK, leaf)?,
            value,
        };
        self.send(None, op)?;
        Ok(())
    }

    /// Starts the task and posts every round: the global model's digest (owner) and each
    /// provider's log head.
    pub fn post_rounds(&mut self, history: &[RoundMetrics]) -> Result<()> {
        self.owner_set(&["status"], Value::Str("running".into()))?;
        self.block()?;
        for round in history {
            self.owner_set(&["round"], Value::Int(i128::from(round.round)))?;
            self.send(
                None,
                post_model_op(TASK, u64::from(round.round), &round.model.0)?,
            )?;
            self.block()?;
            for client in &round.clients {
                let Some(head) = client.pol_head else {
                    continue;
                };
                let addr = Address::of(&self.providers[&client.client].public());
                let op = post_head_op(TASK, u64::from(round.round), &addr, &head.0)?;
                self.send(Some(client.client), op)?;
            }
            self.block()?;
        }
        Ok(())
    }

    /// Submits a proof file with its log tail; returns `Ok(())` if the native verifier accepted
    /// it, or the reason the ledger recorded.
    pub fn submit_proof(
        &mut self,
        file: &ProofFile,
        log: &CheckpointLog,
    ) -> Result<Result<(), String>> {
        let tail = log_tail(log, file.origin.step)?;
        let id = format!(
            "r{}-c{}-s{}",
            file.origin.round, file.origin.client, file.origin.step
        );
        let op = submit_proof_op(TASK, &id, &file.encode(), &tail)?;
        let hash = self.send(Some(file.origin.client as usize), op)?;
        self.block()?;
        let location = self
            .shard
            .ledger()
            .receipt(&hash)?
            .context("the proof transaction is not in the block")?;
        Ok(match location.receipt.outcome {
            TxOutcome::Applied => Ok(()),
            TxOutcome::Failed(reason) => Err(reason),
        })
    }

    /// Closes the task (the escrow is split and stakes are returned) and reads every
    /// provider's verified proofs, payout and balance back from the ledger.
    pub fn close(&mut self) -> Result<Vec<ProviderPayout>> {
        self.owner_set(&["status"], Value::Str("closed".into()))?;
        self.block()?;
        let ledger = self.shard.ledger();
        let status = ledger.get_value(&task_path(TASK, &["status"])?);
        if status != Value::Str("closed".into()) {
            bail!(
                "the task did not close (status {})",
                status.to_canonical_json()
            );
        }
        let int = |v: Value| match v {
            Value::Int(n) => n,
            _ => 0,
        };
        let mut out = Vec::new();
        for (client, key) in &self.providers {
            let addr = Address::of(&key.public());
            let me = addr.to_string();
            out.push(ProviderPayout {
                client: *client,
                address: me.clone(),
                verified: int(ledger.get_value(&task_path(TASK, &["verified", &me])?)),
                payout: int(ledger.get_value(&task_path(TASK, &["payouts", &me])?)),
                balance: ledger.balance(&addr),
            });
        }
        Ok(out)
    }

    /// Re-applies every block of both chains from genesis (as `zkfl chain verify` does) and
    /// checks every shard report on the root chain against the task chain's blocks; returns the
    /// task chain's block count and the number of reports.
    pub fn verify(&self) -> Result<(u64, usize)> {
        let task = self.shard.ledger().verify()?;
        self.root.verify()?;
        let audit = audit_shard(&self.root, self.shard.path(), self.shard.ledger())?;
        Ok((task.blocks, audit.reports))
    }
}

/// The evidence the ledger wants for step `t` of a log: the header (for `t = 0`) or the entry
/// ending at `t`, then every entry from the one ending at `t + 1` to the last.
pub fn log_tail(log: &CheckpointLog, step: u64) -> Result<Vec<u8>> {
    let (i, _) = log
        .locate_step(step)
        .with_context(|| format!("the log has no step {step}"))?;
    let mut out = Vec::new();
    match i {
        0 => encode_header(&log.header, &mut out),
        _ => encode_entry(&log.entries[i - 1], &mut out),
    }
    for entry in &log.entries[i..] {
        encode_entry(entry, &mut out);
    }
    Ok(out)
}

/// The shape, digest, key and learning rate a task fixes for proofs of this run.
pub fn proof_config(
    shape: TrainingStepShape,
    program_digest: [u8; 32],
    keys: &verifier::KeyStore,
    lr: i64,
) -> Result<ProofConfig> {
    let vk = keys.groth16_vk(&program_digest)?;
    Ok(ProofConfig::new(shape, program_digest, &vk, [lr])?)
}
