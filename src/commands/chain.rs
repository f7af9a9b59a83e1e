//! `zkfl keys`, `zkfl chain` and `zkfl node`: the embedded ledger from the command line.
//!
//! A ledger is one redb file. `chain init` writes its genesis (chain id, root owner, initial
//! balances) and block 0, signed by the validator key. In the embedded default one validator
//! makes blocks on demand: `chain tx` and `chain set` sign a transaction with the sender's key,
//! then the validator includes it in a new block and the receipt is printed. `zkfl node` serves
//! the same file over HTTP and makes blocks on an interval.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::chain::keys::{load_key_file, load_public_key_file, save_key_file};
use ::chain::node::{open_existing_ledger, open_ledger_to_read, run_node};
use ::chain::{
    Address, Genesis, Keypair, Ledger, Op, Path, SingleValidator, Transaction, TxOutcome,
};
use anyhow::{Context, Result, bail};
use clap::Subcommand;

/// `zkfl keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make an ed25519 key pair and write it as a key file readable only by you
    New {
        /// Where to write the key file
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a key file's public half as a key file of its own ({"public": "<hex>"}): what a
    /// verifier is given, e.g. for `zkfl chain verify --validator`
    Public {
        /// The key file
        #[arg(long)]
        key: PathBuf,
    },
}

/// `zkfl chain` subcommands.
#[derive(Subcommand, Debug)]
pub enum ChainCommand {
    /// Create a ledger file: genesis (chain id, root owner, balances) and block 0
    Init {
        /// The ledger file to create
        #[arg(long)]
        ledger: PathBuf,
        /// Key file of the validator (also the root owner)
        #[arg(long)]
        validator: PathBuf,
        /// Chain id transactions must name
        #[arg(long, default_value = "zkfl")]
        chain_id: String,
        /// Initial balance, ADDRESS=AMOUNT (repeat for more accounts)
        #[arg(long)]
        alloc: Vec<String>,
    },
    /// Read the value at a path
    Get {
        /// The ledger file
        #[arg(long)]
        ledger: PathBuf,
        /// Expect this validator (a key file; `{"public": "<hex>"}` is enough). Without it, the
        /// validator is the signer of the ledger's genesis block. No secret key is needed.
        #[arg(long)]
        validator: Option<PathBuf>,
        /// A state path, e.g. /accounts/ADDRESS/balance
        path: String,
    },
    /// Sign and apply one op (AI Network JSON, e.g. {"type":"SET_VALUE","ref":"/a","value":1})
    Tx {
        #[command(flatten)]
        signed: SignedWrite,
        /// The op as JSON
        #[arg(long)]
        op: String,
    },
    /// Sign and apply SET_VALUE of a JSON value at a path
    Set {
        #[command(flatten)]
        signed: SignedWrite,
        /// The path
        path: String,
        /// The value, as JSON
        value: String,
    },
    /// List blocks, each with its transactions: sender, what it writes, and whether it was refused
    Blocks {
        /// The ledger file
        #[arg(long)]
        ledger: PathBuf,
        /// Expect this validator (a key file; `{"public": "<hex>"}` is enough). Without it, the
        /// validator is the signer of the ledger's genesis block. No secret key is needed.
        #[arg(long)]
        validator: Option<PathBuf>,
        /// Print JSON lines
        #[arg(long)]
        json: bool,
    },
    /// Re-apply every block from genesis: recompute block hashes, transaction roots and state
    /// roots, and name the first mismatch
    Verify {
        /// The ledger file
        #[arg(long)]
        ledger: PathBuf,
        /// Expect this validator (a key file; `{"public": "<hex>"}` is enough). Without it, the
        /// validator is the signer of the ledger's genesis block. No secret key is needed.
        #[arg(long)]
        validator: Option<PathBuf>,
    },
}

/// Who signs a write and who makes its block.
#[derive(clap::Args, Debug)]
pub struct SignedWrite {
    /// The ledger file
    #[arg(long)]
    ledger: PathBuf,
    /// Key file of the sender
    #[arg(long)]
    key: PathBuf,
    /// Key file of the validator that makes the block
    #[arg(long)]
    validator: PathBuf,
    /// Fee paid to the validator
    #[arg(long, default_value_t = 1)]
    fee: u128,
}

/// Runs `zkfl keys`.
pub fn keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::New { out } => {
            if out.exists() {
                bail!("{} exists: choose another --out", out.display());
            }
            let key = Keypair::generate();
            save_key_file(&out, &key)?;
            println!("{}", Address::of(&key.public()));
        }
        KeysCommand::Public { key } => {
            let public = load_public_key_file(&key)?;
            println!("{}", serde_json::json!({ "public": public.to_string() }));
        }
    }
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Opens a ledger to make blocks: needs the validator's secret key.
fn open(ledger: &FsPath, validator: &FsPath) -> Result<Ledger<SingleValidator>> {
    Ok(open_existing_ledger(ledger, load_key_file(validator)?)?)
}

/// Opens a ledger to read it: no secret key; `validator`, when given, must be its validator.
fn open_to_read(ledger: &FsPath, validator: Option<&FsPath>) -> Result<Ledger<SingleValidator>> {
    let expected = validator.map(load_public_key_file).transpose()?;
    Ok(open_ledger_to_read(ledger, expected)?)
}

fn apply(w: &SignedWrite, op: Op) -> Result<()> {
    let mut ledger = open(&w.ledger, &w.validator)?;
    let sender = load_key_file(&w.key)?;
    let from = Address::of(&sender.public());
    let tx = Transaction::new(
        ledger.chain_id(),
        &sender.public(),
        ledger.nonce(&from),
        w.fee,
        now_ms(),
        op,
    )
    .sign(&sender);
    let hash = ledger.submit(tx)?;
    let block = ledger.produce_block(now_ms().max(ledger.tip().timestamp + 1))?;
    let Some(location) = ledger.receipt(&hash)? else {
        match ledger.rejection(&hash) {
            Some(rejected) => bail!("{}", rejected.reason),
            None => bail!("the transaction did not make it into the block"),
        }
    };
    match location.receipt.outcome {
        TxOutcome::Applied => {
            println!(
                "applied in block {} (tx {})",
                block.header.height,
                hex::encode(hash)
            );
            Ok(())
        }
        TxOutcome::Failed(reason) => bail!(
            "rejected in block {}: {reason} (only the fee and nonce changed)",
            block.header.height
        ),
    }
}

/// Runs `zkfl chain`.
pub fn chain(command: ChainCommand) -> Result<()> {
    match command {
        ChainCommand::Init {
            ledger,
            validator,
            chain_id,
            alloc,
        } => {
            if ledger.exists() {
                bail!("{} exists: a ledger is created once", ledger.display());
            }
            let key = load_key_file(&validator)?;
            let mut balances = BTreeMap::new();
            for a in &alloc {
                let (addr, amount) = a
                    .split_once('=')
                    .with_context(|| format!("--alloc {a}: expected ADDRESS=AMOUNT"))?;
                let addr: Address = addr.parse().with_context(|| format!("--alloc {a}"))?;
                let amount: i128 = amount.parse().with_context(|| format!("--alloc {a}"))?;
                balances.insert(addr, amount);
            }
            let genesis = Genesis {
                chain_id,
                timestamp: now_ms(),
                root_owner: Address::of(&key.public()),
                balances,
            };
            genesis.validate()?;
            let ledger_file = Ledger::open(&ledger, &genesis, SingleValidator::new(key))?;
            println!(
                "created {} (chain {}, genesis block {})",
                ledger.display(),
                ledger_file.chain_id(),
                hex::encode(ledger_file.tip().state_root)
            );
            Ok(())
        }
        ChainCommand::Get {
            ledger,
            validator,
            path,
        } => {
            let ledger = open_to_read(&ledger, validator.as_deref())?;
            let path = Path::parse(&path)?;
            println!("{}", ledger.get_value(&path).to_canonical_json());
            Ok(())
        }
        ChainCommand::Tx { signed, op } => apply(&signed, Op::from_json_text(&op)?),
        ChainCommand::Set {
            signed,
            path,
            value,
        } => {
            let op = format!(
                r#"{{"type":"SET_VALUE","ref":{},"value":{value}}}"#,
                json_string(&path)
            );
            apply(&signed, Op::from_json_text(&op)?)
        }
        ChainCommand::Blocks {
            ledger,
            validator,
            json,
        } => {
            let ledger = open_to_read(&ledger, validator.as_deref())?;
            for height in 0..=ledger.tip().height {
                let Some(block) = ledger.block(height)? else {
                    continue;
                };
                let h = &block.header;
                let mut writes: Vec<(String, Vec<String>, Option<String>)> = Vec::new();
                for tx in &block.txs {
                    let mut out = Vec::new();
                    writes_of(&tx.tx.ops, &mut out);
                    let failed = match ledger.receipt(&tx.hash())? {
                        Some(at) => match at.receipt.outcome {
                            chain::TxOutcome::Applied => None,
                            chain::TxOutcome::Failed(reason) => Some(reason),
                        },
                        None => Some("no receipt".into()),
                    };
                    writes.push((tx.tx.from.to_string(), out, failed));
                }
                if json {
                    let txs: Vec<_> = writes
                        .iter()
                        .map(|(from, w, failed)| {
                            serde_json::json!({"from": from, "writes": w, "failed": failed})
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::json!({
                            "height": h.height, "hash": hex::encode(block.hash()),
                            "parent": hex::encode(h.parent_hash), "timestamp": h.timestamp,
                            "txs": txs, "tx_root": hex::encode(h.tx_root),
                            "state_root": hex::encode(h.state_root),
                        })
                    );
                } else {
                    println!(
                        "{:>6}  {}  {:>4} txs  state {}",
                        h.height,
                        hex::encode(block.hash()),
                        block.txs.len(),
                        hex::encode(h.state_root)
                    );
                    for (from, w, failed) in &writes {
                        match failed {
                            None => println!("          {from}  {}", w.join(", ")),
                            Some(reason) => {
                                println!("          {from}  refused ({reason}): {}", w.join(", "))
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        ChainCommand::Verify { ledger, validator } => {
            let report = open_to_read(&ledger, validator.as_deref())?.verify()?;
            println!(
                "valid: {} blocks, {} transactions re-applied, state root {}",
                report.blocks,
                report.txs,
                hex::encode(report.state_root)
            );
            Ok(())
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Runs `zkfl node`.
pub fn node(
    ledger: &FsPath,
    listen: SocketAddr,
    validator: &FsPath,
    block_ms: u64,
    empty_blocks: bool,
) -> Result<()> {
    let key = load_key_file(validator)?;
    eprintln!(
        "serving {} on http://{listen}/api (Ctrl-C stops)",
        ledger.display()
    );
    run_node(
        ledger,
        listen,
        key,
        Duration::from_millis(block_ms),
        empty_blocks,
    )?;
    Ok(())
}

/// What an op writes, one short line each: `path = value` (long values elided).
fn writes_of(op: &chain::Op, out: &mut Vec<String>) {
    use chain::Op;
    let short = |v: &chain::Value| {
        let text = v.to_canonical_json();
        if text.chars().count() <= 24 {
            text
        } else {
            "…".into()
        }
    };
    match op {
        Op::SetValue { path, value } => out.push(format!("{path} = {}", short(value))),
        Op::IncValue { path, .. } | Op::DecValue { path, .. } => out.push(path.to_string()),
        Op::Set(ops) => ops.iter().for_each(|o| writes_of(o, out)),
        Op::SetShard { path, .. } => out.push(format!("shard {path}")),
        Op::ReportShard { path, report } => {
            out.push(format!("report {path} block {}", report.block_number))
        }
        Op::SetRule { path, .. } => out.push(format!("rule {path}")),
        Op::SetFunction { path, .. } => out.push(format!("function {path}")),
        Op::SetOwner { path, .. } => out.push(format!("owner {path}")),
    }
}
