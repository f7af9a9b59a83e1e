//! Shard state on the parent: the branch and report ops, the freeze, and reading it back.
//!
//! Layout and rules are in the [module docs](crate::shard). Shard paths are literal data
//! paths, so finding the shard at or above a path walks the `shards` namespace one segment at
//! a time: at most one node read per segment, and one read in total when no shard exists
//! (the namespace is absent).

use std::collections::BTreeMap;

use crate::consensus::Consensus;
use crate::json;
use crate::ledger::Ledger;
use crate::path::{Path, PathPattern};
use crate::shard::{ShardConfig, ShardError, ShardReport, parse_hash};
use crate::state::{StateTree, StateTxn};
use crate::store::NodeStore;
use crate::value::Value;

/// The namespace of shard state under the tree root.
pub const NAMESPACE: &str = "shards";
/// The reserved branch under a shard's node.
pub const LEAF: &str = ".shard";
const CONFIG: &str = "config";
const LATEST: &str = "latest";
const PROOF_HASH_MAP: &str = "proof_hash_map";

/// The store key `shards/<path…>/.shard/<rest…>`.
fn key(path: &[String], rest: &[&str]) -> Vec<String> {
    let mut key = Vec::with_capacity(path.len() + rest.len() + 2);
    key.push(NAMESPACE.to_owned());
    key.extend(path.iter().cloned());
    key.push(LEAF.to_owned());
    key.extend(rest.iter().map(|s| (*s).to_owned()));
    key
}

fn text(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

/// Where a path stands relative to the shards.
enum Standing {
    /// No shard at, above or below.
    Free,
    /// The shard at or above it.
    Within(Vec<String>),
    /// A shard strictly below it.
    Above(Vec<String>),
}

fn standing(txn: &StateTxn<'_>, segments: &[String]) -> Standing {
    let mut key = vec![NAMESPACE.to_owned()];
    for i in 0..=segments.len() {
        let children = txn.children(&key);
        if children.contains(LEAF) {
            return Standing::Within(segments[..i].to_vec());
        }
        match segments.get(i) {
            Some(segment) if children.contains(segment) => key.push(segment.clone()),
            Some(_) => return Standing::Free,
            None => {}
        }
    }
    match first_shard_below(txn, &mut key) {
        Some(found) => Standing::Above(found[1..].to_vec()),
        None => Standing::Free,
    }
}

/// The key (namespace first) of the first shard at or below `key`, depth first.
fn first_shard_below(txn: &StateTxn<'_>, key: &mut Vec<String>) -> Option<Vec<String>> {
    let children = txn.children(key);
    if children.contains(LEAF) {
        return Some(key.clone());
    }
    for child in children {
        key.push(child);
        let found = first_shard_below(txn, key);
        key.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The freeze for a data write at `path`: refused at, below or above a shard.
pub(crate) fn check_data_write(txn: &StateTxn<'_>, path: &Path) -> Result<(), ShardError> {
    match standing(txn, path.segments()) {
        Standing::Free => Ok(()),
        Standing::Within(shard) | Standing::Above(shard) => Err(ShardError::Sharded {
            path: path.to_string(),
            shard: text(&shard),
        }),
    }
}

/// The freeze for a config write at `pattern`: refused when the literal prefix (up to the
/// first wildcard) is at or below a shard.
pub(crate) fn check_config_write(
    txn: &StateTxn<'_>,
    pattern: &PathPattern,
) -> Result<(), ShardError> {
    let literal: Vec<String> = pattern
        .segments()
        .iter()
        .take_while(|s| !s.starts_with('$'))
        .cloned()
        .collect();
    match standing(txn, &literal) {
        Standing::Within(shard) => Err(ShardError::Sharded {
            path: pattern.to_string(),
            shard: text(&shard),
        }),
        Standing::Free | Standing::Above(_) => Ok(()),
    }
}

/// The branch op, after the owner check: makes `path` a shard with `config`.
pub(crate) fn branch(
    txn: &mut StateTxn<'_>,
    path: &Path,
    config: &ShardConfig,
) -> Result<(), ShardError> {
    if path.depth() == 0 {
        return Err(ShardError::Root);
    }
    match standing(txn, path.segments()) {
        Standing::Free => {}
        Standing::Within(shard) | Standing::Above(shard) => {
            return Err(ShardError::Overlap {
                path: path.to_string(),
                shard: text(&shard),
            });
        }
    }
    let config_text = json::to_canonical(&config.to_json());
    txn.write_key(&key(path.segments(), &[CONFIG]), Value::Str(config_text));
    Ok(())
}

/// The report op: checks writer, period and order, then records `report`.
pub(crate) fn report(
    txn: &mut StateTxn<'_>,
    path: &Path,
    report: &ShardReport,
    writer: &str,
) -> Result<(), ShardError> {
    let shard = path.to_string();
    let config = read_config(&txn.read_key(&key(path.segments(), &[CONFIG])), &shard)?
        .ok_or_else(|| ShardError::NotAShard(shard.clone()))?;
    if writer != config.reporter.to_string() {
        return Err(ShardError::NotReporter {
            shard,
            addr: writer.to_owned(),
            reporter: config.reporter,
        });
    }
    let latest = read_latest(&txn.read_key(&key(path.segments(), &[LATEST])), &shard)?;
    if report.block_number <= latest.unwrap_or(0) {
        return Err(ShardError::NotIncreasing {
            shard,
            block_number: report.block_number,
            latest: latest.unwrap_or(0),
        });
    }
    if !report.block_number.is_multiple_of(config.reporting_period) {
        return Err(ShardError::OffPeriod {
            shard,
            block_number: report.block_number,
            period: config.reporting_period,
        });
    }
    let number = report.block_number.to_string();
    let entry = Value::Object(BTreeMap::from([
        (
            "proof_hash".to_owned(),
            Value::Str(hex::encode(report.proof_hash)),
        ),
        (
            "state_root".to_owned(),
            Value::Str(hex::encode(report.state_root)),
        ),
    ]));
    txn.write_key(&key(path.segments(), &[PROOF_HASH_MAP, &number]), entry);
    txn.write_key(
        &key(path.segments(), &[LATEST]),
        Value::Int(i128::from(report.block_number)),
    );
    Ok(())
}

fn read_config(value: &Value, shard: &str) -> Result<Option<ShardConfig>, ShardError> {
    match value {
        Value::Null => Ok(None),
        Value::Str(s) => json::parse(s)
            .ok()
            .and_then(|j| ShardConfig::from_json(&j).ok())
            .map(Some)
            .ok_or_else(|| ShardError::Corrupt(format!("{shard} config"))),
        _ => Err(ShardError::Corrupt(format!("{shard} config"))),
    }
}

fn read_latest(value: &Value, shard: &str) -> Result<Option<u64>, ShardError> {
    match value {
        Value::Null => Ok(None),
        Value::Int(n) => u64::try_from(*n)
            .map(Some)
            .map_err(|_| ShardError::Corrupt(format!("{shard} latest"))),
        _ => Err(ShardError::Corrupt(format!("{shard} latest"))),
    }
}

fn read_reports(value: &Value, shard: &str) -> Result<Vec<ShardReport>, ShardError> {
    let corrupt = |what: &str| ShardError::Corrupt(format!("{shard} proof_hash_map/{what}"));
    let Value::Object(entries) = value else {
        return match value {
            Value::Null => Ok(Vec::new()),
            _ => Err(corrupt("")),
        };
    };
    let mut reports = Vec::with_capacity(entries.len());
    for (number, entry) in entries {
        let hash = |field: &str| match entry.child(field) {
            Value::Str(s) => parse_hash(s).ok_or_else(|| corrupt(number)),
            _ => Err(corrupt(number)),
        };
        reports.push(ShardReport {
            block_number: number.parse().map_err(|_| corrupt(number))?,
            proof_hash: hash("proof_hash")?,
            state_root: hash("state_root")?,
        });
    }
    reports.sort_by_key(|r| r.block_number);
    Ok(reports)
}

impl<S: NodeStore> StateTree<S> {
    /// The config of the shard at `path`, if it is one.
    pub fn shard_config(&self, path: &Path) -> Result<Option<ShardConfig>, ShardError> {
        read_config(
            &self.read_key(&key(path.segments(), &[CONFIG])),
            &path.to_string(),
        )
    }

    /// The latest reported child block of the shard at `path` (`None` before the first).
    pub fn shard_latest(&self, path: &Path) -> Result<Option<u64>, ShardError> {
        read_latest(
            &self.read_key(&key(path.segments(), &[LATEST])),
            &path.to_string(),
        )
    }

    /// Every report of the shard at `path`, by increasing block number.
    pub fn shard_reports(&self, path: &Path) -> Result<Vec<ShardReport>, ShardError> {
        read_reports(
            &self.read_key(&key(path.segments(), &[PROOF_HASH_MAP])),
            &path.to_string(),
        )
    }
}

impl<C: Consensus> Ledger<C> {
    /// The config of the shard at `path` as of the tip, if it is one.
    pub fn shard_config(&self, path: &Path) -> Result<Option<ShardConfig>, ShardError> {
        self.state.shard_config(path)
    }

    /// The latest reported child block of the shard at `path` as of the tip.
    pub fn shard_latest(&self, path: &Path) -> Result<Option<u64>, ShardError> {
        self.state.shard_latest(path)
    }

    /// Every report of the shard at `path` as of the tip, by increasing block number.
    pub fn shard_reports(&self, path: &Path) -> Result<Vec<ShardReport>, ShardError> {
        self.state.shard_reports(path)
    }
}
