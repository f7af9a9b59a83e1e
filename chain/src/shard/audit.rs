//! Cross-ledger audit: every report a parent holds for a shard, against the child's blocks.
//!
//! For the shard at a path, the audit reads the parent's config, reports and `latest`
//! ([`crate::shard`]) and checks, in increasing block order:
//! 1. the child is the configured chain (its genesis header names the config's chain id);
//! 2. each reported block exists in the child's file;
//! 3. its header hash equals the reported `proof_hash` and its state root the reported
//!    `state_root`;
//! 4. `latest` is the last report's block number.
//!
//! The first failure is returned, naming the block. The audit trusts each file's own blocks;
//! [`Ledger::verify`] replays a chain to check those. [`audit_shard_files`] works on closed
//! files (a file still open in a [`Ledger`] cannot be opened a second time: use
//! [`audit_shard`] then).

use std::path::{Path as FsPath, PathBuf};

use crate::block::Block;
use crate::consensus::Consensus;
use crate::ledger::Ledger;
use crate::path::Path;
use crate::shard::{ShardConfig, ShardError, ShardReport};
use crate::state::StateTree;
use crate::storage::{Storage, StorageError};
use crate::store::Hash;

/// What a successful audit covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardAudit {
    /// The shard's path on the parent.
    pub shard: Path,
    /// The child chain id.
    pub chain_id: String,
    /// Reports checked.
    pub reports: usize,
    /// The latest reported child block (`None` before the first report).
    pub latest: Option<u64>,
}

/// Why an audit failed: the first mismatch, or a file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A ledger file does not exist.
    #[error("ledger file {0} does not exist")]
    NoFile(PathBuf),
    /// A ledger file could not be read.
    #[error("cannot read the {which} ledger: {source}")]
    Storage {
        /// `parent` or `child`.
        which: &'static str,
        /// Why.
        source: StorageError,
    },
    /// The parent's shard state could not be read.
    #[error(transparent)]
    State(#[from] ShardError),
    /// The path is not a shard on the parent.
    #[error("{0} is not a shard on the parent")]
    NotAShard(String),
    /// The child file is another chain than the configured one.
    #[error("shard {shard} is chain {expected:?}, but the child ledger is chain {found:?}")]
    WrongChain {
        /// The shard.
        shard: String,
        /// The config's chain id.
        expected: String,
        /// The child's.
        found: String,
    },
    /// A report for a block the child does not have.
    #[error("shard {shard}: block {block_number} is reported but the child has no such block")]
    MissingBlock {
        /// The shard.
        shard: String,
        /// The reported block.
        block_number: u64,
    },
    /// A reported block hash differs from the child's.
    #[error(
        "shard {shard}: block {block_number} is reported with hash {reported}, the child's is {stored}"
    )]
    HashMismatch {
        /// The shard.
        shard: String,
        /// The block.
        block_number: u64,
        /// Hex of the reported hash.
        reported: String,
        /// Hex of the child's block hash.
        stored: String,
    },
    /// A reported state root differs from the child's.
    #[error(
        "shard {shard}: block {block_number} is reported with state root {reported}, the child's is {stored}"
    )]
    StateRootMismatch {
        /// The shard.
        shard: String,
        /// The block.
        block_number: u64,
        /// Hex of the reported root.
        reported: String,
        /// Hex of the child's state root.
        stored: String,
    },
    /// `latest` is not the last report's block.
    #[error("shard {shard}: latest is {latest:?}, the last report is for {last:?}")]
    LatestMismatch {
        /// The shard.
        shard: String,
        /// The stored latest.
        latest: Option<u64>,
        /// The last report's block.
        last: Option<u64>,
    },
}

/// Audits the shard at `path` with both ledgers open.
pub fn audit_shard<P: Consensus, C: Consensus>(
    parent: &Ledger<P>,
    path: &Path,
    child: &Ledger<C>,
) -> Result<ShardAudit, AuditError> {
    let child_block = |height| {
        child.block(height).map_err(|e| AuditError::Storage {
            which: "child",
            source: match e {
                crate::ledger::LedgerError::Storage(s) => s,
                other => StorageError::Corrupt(other.to_string()),
            },
        })
    };
    audit(&parent.state, path, child.chain_id(), child_block)
}

/// Audits the shard at `path` from the parent's and the child's ledger files (both closed).
pub fn audit_shard_files(
    parent_file: &FsPath,
    path: &Path,
    child_file: &FsPath,
) -> Result<ShardAudit, AuditError> {
    let parent = open(parent_file, "parent")?;
    let child = open(child_file, "child")?;
    let parent_err = |source| AuditError::Storage {
        which: "parent",
        source,
    };
    let child_err = |source| AuditError::Storage {
        which: "child",
        source,
    };
    let state = StateTree::with_store(parent.node_store());
    let tip = parent
        .tip()
        .map_err(parent_err)?
        .ok_or_else(|| parent_err(StorageError::Corrupt("no blocks".to_owned())))?;
    let tip_block = parent
        .block(tip)
        .map_err(parent_err)?
        .ok_or_else(|| parent_err(StorageError::Corrupt(format!("tip block {tip} missing"))))?;
    if state.root_hash() != tip_block.header.state_root {
        return Err(parent_err(StorageError::Corrupt(format!(
            "stored state root differs from block {tip}'s"
        ))));
    }
    let genesis = child
        .block(0)
        .map_err(child_err)?
        .ok_or_else(|| child_err(StorageError::Corrupt("no genesis block".to_owned())))?;
    audit(&state, path, &genesis.header.chain_id, |height| {
        child.block(height).map_err(child_err)
    })
}

fn open(file: &FsPath, which: &'static str) -> Result<Storage, AuditError> {
    if !file.exists() {
        return Err(AuditError::NoFile(file.to_owned()));
    }
    Storage::open(file).map_err(|source| AuditError::Storage { which, source })
}

fn audit<S: crate::store::NodeStore>(
    parent: &StateTree<S>,
    path: &Path,
    child_chain: &str,
    child_block: impl Fn(u64) -> Result<Option<Block>, AuditError>,
) -> Result<ShardAudit, AuditError> {
    let shard = path.to_string();
    let config: ShardConfig = parent
        .shard_config(path)?
        .ok_or_else(|| AuditError::NotAShard(shard.clone()))?;
    if config.chain_id != child_chain {
        return Err(AuditError::WrongChain {
            shard,
            expected: config.chain_id,
            found: child_chain.to_owned(),
        });
    }
    let reports = parent.shard_reports(path)?;
    for report in &reports {
        check_report(&shard, report, child_block(report.block_number)?)?;
    }
    let latest = parent.shard_latest(path)?;
    let last = reports.last().map(|r| r.block_number);
    if latest != last {
        return Err(AuditError::LatestMismatch {
            shard,
            latest,
            last,
        });
    }
    Ok(ShardAudit {
        shard: path.clone(),
        chain_id: config.chain_id,
        reports: reports.len(),
        latest,
    })
}

fn check_report(shard: &str, report: &ShardReport, block: Option<Block>) -> Result<(), AuditError> {
    let block_number = report.block_number;
    let Some(block) = block else {
        return Err(AuditError::MissingBlock {
            shard: shard.to_owned(),
            block_number,
        });
    };
    let differs = |reported: &Hash, stored: &Hash| {
        (reported != stored).then(|| (hex::encode(reported), hex::encode(stored)))
    };
    if let Some((reported, stored)) = differs(&report.proof_hash, &block.hash()) {
        return Err(AuditError::HashMismatch {
            shard: shard.to_owned(),
            block_number,
            reported,
            stored,
        });
    }
    if let Some((reported, stored)) = differs(&report.state_root, &block.header.state_root) {
        return Err(AuditError::StateRootMismatch {
            shard: shard.to_owned(),
            block_number,
            reported,
            stored,
        });
    }
    Ok(())
}
