//! Shards: subtrees of a parent chain's state that run as their own chains and report to it.
//!
//! A **shard** is a data subtree of the parent (say `/apps/vision`) that becomes its own chain:
//! its own ledger file, chain id, validator and blocks ([`reporter::Shard`]). The parent keeps
//! only the shard's config and the proofs its reporter sends.
//!
//! # Ops
//! - **Branch** (`SET_SHARD`): `{"type":"SET_SHARD","ref":"/apps/vision","value":<config>}`
//!   with config `{"chain_id":"<child chain id>","reporter":"<address>",
//!   "reporting_period":<blocks ≥ 1>,"shard_owner":"<address>"}` ([`ShardConfig`]). The writer
//!   needs `branch_owner` from the owner config governing the path ([`crate::owner`]). The
//!   path may not be `/`, and may not be at, above or below an existing shard (no nesting). A
//!   shard is permanent: its config cannot be changed or removed (not even by the owner).
//! - **Report** (`REPORT_SHARD`): `{"type":"REPORT_SHARD","ref":"/apps/vision","value":
//!   {"block_number":<n>,"proof_hash":"<64 hex>","state_root":"<64 hex>"}}` ([`ShardReport`]):
//!   the child block `n`'s hash (of its header, [`crate::block`]) and state root. Accepted only
//!   if the writer is the configured reporter, `n` is a multiple of the reporting period, and
//!   `n` is greater than the latest reported block (so block 0 is never reported, a replayed or
//!   older report is refused, and skipped periods may not be filled in later).
//!
//! Both are ordinary ops inside signed transactions on the parent (fee, nonce, all-or-nothing).
//!
//! # The freeze
//! Once `/p` is a shard, the parent refuses every write of user ops at or below `/p` except
//! reports: `SET_VALUE`/`INC_VALUE`/`DEC_VALUE` at a path at or below `/p`, or above it (a
//! write above `/p` replaces the subtree holding it), and `SET_RULE`/`SET_FUNCTION`/`SET_OWNER`
//! whose pattern's literal prefix (up to its first wildcard) is at or below `/p`. This holds for
//! every writer, the shard owner and the root owner included. The data the parent held at `/p`
//! when it was branched stays there, frozen. Writes by the ledger itself (fees, nonces) and
//! by native functions are not user ops and are not checked: do not shard `/accounts` or
//! other paths that native functions write.
//!
//! # Layout in the state tree
//! Shard state has its own namespace `shards` beside `values`, `rules`, `functions` and
//! `owners`, at the node of the shard's path, under a branch named `.shard` (reserved: data
//! segments never start with `.`, so it cannot collide with a path segment):
//! ```text
//! shards/<path…>/.shard/config                             canonical JSON of ShardConfig
//! shards/<path…>/.shard/latest                             latest reported child block
//! shards/<path…>/.shard/proof_hash_map/<n>/proof_hash      64 hex: child block n's hash
//! shards/<path…>/.shard/proof_hash_map/<n>/state_root      64 hex: its state root
//! ```
//! All of it is part of the state root. [`state`] applies the two ops and the freeze;
//! [`reporter`] runs child chains and submits their reports; [`audit`] checks the reports on a
//! parent against a child's stored blocks.

pub mod audit;
pub mod reporter;
pub mod state;

use std::collections::BTreeMap;

use crate::account::Address;
use crate::json::Json;
use crate::ops::{OpError, object_fields};
use crate::store::Hash;
use crate::tx::check_chain_id;

pub use audit::{AuditError, ShardAudit, audit_shard, audit_shard_files};
pub use reporter::{Shard, ShardSet};

/// A shard's config on the parent (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardConfig {
    /// The account responsible for the shard (recorded; it gets no write access on the parent).
    pub shard_owner: Address,
    /// The only account whose reports the parent accepts.
    pub reporter: Address,
    /// Reports are for child blocks that are multiples of this (at least 1).
    pub reporting_period: u64,
    /// The child chain's id.
    pub chain_id: String,
}

impl ShardConfig {
    /// Checks the period (≥ 1) and the chain id.
    pub fn validate(&self) -> Result<(), OpError> {
        if self.reporting_period == 0 {
            return Err(OpError::BadShard(
                "reporting_period must be at least 1".to_owned(),
            ));
        }
        check_chain_id(&self.chain_id).map_err(|e| OpError::BadShard(e.to_string()))
    }

    /// `{"chain_id":…,"reporter":…,"reporting_period":…,"shard_owner":…}`
    pub fn to_json(&self) -> Json {
        Json::Object(BTreeMap::from([
            ("chain_id".to_owned(), Json::Str(self.chain_id.clone())),
            ("reporter".to_owned(), Json::Str(self.reporter.to_string())),
            (
                "reporting_period".to_owned(),
                Json::Int(i128::from(self.reporting_period)),
            ),
            (
                "shard_owner".to_owned(),
                Json::Str(self.shard_owner.to_string()),
            ),
        ]))
    }

    /// Reads and validates [`ShardConfig::to_json`]'s form (all fields required, no others).
    pub fn from_json(json: &Json) -> Result<ShardConfig, OpError> {
        let fields = object_fields(
            json,
            "shard config",
            &["chain_id", "reporter", "reporting_period", "shard_owner"],
        )?;
        let config = ShardConfig {
            shard_owner: address_field(fields, "shard_owner")?,
            reporter: address_field(fields, "reporter")?,
            reporting_period: u64_field(fields, "reporting_period")?,
            chain_id: match &fields["chain_id"] {
                Json::Str(s) => s.clone(),
                _ => return Err(bad("\"chain_id\" must be a string")),
            },
        };
        config.validate()?;
        Ok(config)
    }
}

/// One report: a finalized child block's hash and state root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardReport {
    /// The child block's height.
    pub block_number: u64,
    /// The child block's hash ([`crate::block::BlockHeader::hash`]).
    pub proof_hash: Hash,
    /// The child block's state root.
    pub state_root: Hash,
}

impl ShardReport {
    /// The report of a child block header.
    pub fn of(header: &crate::block::BlockHeader) -> ShardReport {
        ShardReport {
            block_number: header.height,
            proof_hash: header.hash(),
            state_root: header.state_root,
        }
    }

    /// `{"block_number":…,"proof_hash":"<hex>","state_root":"<hex>"}`
    pub fn to_json(&self) -> Json {
        Json::Object(BTreeMap::from([
            (
                "block_number".to_owned(),
                Json::Int(i128::from(self.block_number)),
            ),
            (
                "proof_hash".to_owned(),
                Json::Str(hex::encode(self.proof_hash)),
            ),
            (
                "state_root".to_owned(),
                Json::Str(hex::encode(self.state_root)),
            ),
        ]))
    }

    /// Reads [`ShardReport::to_json`]'s form (all fields required, no others; lowercase hex).
    pub fn from_json(json: &Json) -> Result<ShardReport, OpError> {
        let fields = object_fields(
            json,
            "shard report",
            &["block_number", "proof_hash", "state_root"],
        )?;
        Ok(ShardReport {
            block_number: u64_field(fields, "block_number")?,
            proof_hash: hash_field(fields, "proof_hash")?,
            state_root: hash_field(fields, "state_root")?,
        })
    }
}

/// Why a shard op was refused, or shard state could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// A write at, below or above a shard (only reports are accepted there).
    #[error("write to {path} refused: {shard} is a shard (the parent accepts only its reports)")]
    Sharded {
        /// The written path or config pattern.
        path: String,
        /// The shard's path.
        shard: String,
    },
    /// Branching at, above or below an existing shard.
    #[error("cannot branch {path}: it overlaps the shard {shard}")]
    Overlap {
        /// The requested shard path.
        path: String,
        /// The existing shard's path.
        shard: String,
    },
    /// Branching at the root.
    #[error("the root path / cannot be a shard")]
    Root,
    /// A report for a path that is not a shard.
    #[error("{0} is not a shard")]
    NotAShard(String),
    /// A report from someone other than the reporter.
    #[error("{addr} is not the reporter of shard {shard} (the reporter is {reporter})")]
    NotReporter {
        /// The shard.
        shard: String,
        /// The writer.
        addr: String,
        /// The configured reporter.
        reporter: Address,
    },
    /// A report for a block not after the latest reported one.
    #[error("shard {shard}: report for block {block_number}, but block {latest} is reported")]
    NotIncreasing {
        /// The shard.
        shard: String,
        /// The reported block.
        block_number: u64,
        /// The latest reported block.
        latest: u64,
    },
    /// A report for a block that is not a multiple of the period.
    #[error("shard {shard}: block {block_number} is not a multiple of the period {period}")]
    OffPeriod {
        /// The shard.
        shard: String,
        /// The reported block.
        block_number: u64,
        /// The reporting period.
        period: u64,
    },
    /// Stored shard state that does not decode (only possible with a corrupted store).
    #[error("corrupt shard state at {0}")]
    Corrupt(String),
}

fn bad(message: &str) -> OpError {
    OpError::BadShard(message.to_owned())
}

fn address_field(fields: &BTreeMap<String, Json>, name: &str) -> Result<Address, OpError> {
    match &fields[name] {
        Json::Str(s) => s.parse().map_err(|e: crate::account::AddressError| {
            OpError::BadShard(format!("\"{name}\": {e}"))
        }),
        _ => Err(bad(&format!("\"{name}\" must be an address string"))),
    }
}

fn u64_field(fields: &BTreeMap<String, Json>, name: &str) -> Result<u64, OpError> {
    match &fields[name] {
        Json::Int(n) => u64::try_from(*n)
            .map_err(|_| OpError::BadShard(format!("\"{name}\" must be 0 to 2^64-1, got {n}"))),
        _ => Err(bad(&format!("\"{name}\" must be an integer"))),
    }
}

/// Parses 64 lowercase hex digits.
pub(crate) fn parse_hash(text: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    let lower = !text.bytes().any(|b| b.is_ascii_uppercase());
    (lower && text.len() == 64 && hex::decode_to_slice(text, &mut out).is_ok()).then_some(out)
}

fn hash_field(fields: &BTreeMap<String, Json>, name: &str) -> Result<Hash, OpError> {
    match &fields[name] {
        Json::Str(s) => {
            parse_hash(s).ok_or_else(|| bad(&format!("\"{name}\" must be 64 lowercase hex digits")))
        }
        _ => Err(bad(&format!("\"{name}\" must be a hex string"))),
    }
}
