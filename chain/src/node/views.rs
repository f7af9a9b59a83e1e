//! What the API answers, read from the ledger on the ledger thread, as the crate's JSON.

use std::collections::BTreeMap;

use crate::account::Address;
use crate::block::BlockHeader;
use crate::config::{ConfigKind, closest};
use crate::execute::TxOutcome;
use crate::json::{self, Json};
use crate::path::{Path, PathPattern};
use crate::rules::StateView;
use crate::store::Hash;
use crate::task::{escrow_path, task_path};
use crate::value::Value;

use super::api::ApiError;
use super::host::Host;

/// Most state nodes one answer materializes (a larger subtree is refused with `400`).
pub const MAX_VIEW_NODES: usize = 10_000;

/// A JSON object from fields.
pub(crate) fn object<const N: usize>(fields: [(&str, Json); N]) -> Json {
    Json::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn text(s: impl Into<String>) -> Json {
    Json::Str(s.into())
}

fn int(n: impl Into<i128>) -> Json {
    Json::Int(n.into())
}

/// An unsigned amount: exact when it fits, else its decimal text.
fn amount(n: u128) -> Json {
    i128::try_from(n).map_or_else(|_| text(n.to_string()), Json::Int)
}

fn hash_hex(hash: &Hash) -> Json {
    text(hex::encode(hash))
}

/// The value at `path`, refusing subtrees over [`MAX_VIEW_NODES`] nodes.
pub(crate) fn read_bounded(host: &mut Host, path: &Path) -> Result<Value, ApiError> {
    let txn = host.ledger.state.begin();
    txn.get_value_bounded(path, MAX_VIEW_NODES).ok_or_else(|| {
        ApiError::bad_request(format!(
            "the value at {path} has more than {MAX_VIEW_NODES} nodes; query a deeper path"
        ))
    })
}

/// `GET /api/value`
pub(crate) fn value(host: &mut Host, path: &Path) -> Result<Json, ApiError> {
    let value = read_bounded(host, path)?;
    if value.is_absent() {
        return Err(ApiError::not_found(format!("no value at {path}")));
    }
    Ok(object([
        ("path", text(path.to_string())),
        ("value", value.into()),
    ]))
}

/// `GET /api/rule`, `/api/function`, `/api/owner`: the config that governs `pattern`.
pub(crate) fn config(
    host: &mut Host,
    kind: ConfigKind,
    pattern: &PathPattern,
) -> Result<Json, ApiError> {
    let txn = host.ledger.state.begin();
    let (found, _) = closest(&txn, kind, pattern.segments(), kind == ConfigKind::Function);
    let name = match kind {
        ConfigKind::Rule => "rule",
        ConfigKind::Function => "function",
        ConfigKind::Owner => "owner",
    };
    let Some(m) = found else {
        return Err(ApiError::not_found(format!("no {name} governs {pattern}")));
    };
    let config = match kind {
        ConfigKind::Rule => text(m.text),
        ConfigKind::Function | ConfigKind::Owner => json::parse(&m.text)
            .map_err(|e| ApiError::internal(format!("stored {name} config is corrupt: {e}")))?,
    };
    let bindings = m.bindings.into_iter().map(|(k, v)| (k, text(v))).collect();
    Ok(object([
        ("path", text(pattern.to_string())),
        ("pattern", text(format!("/{}", m.pattern.join("/")))),
        ("bindings", Json::Object(bindings)),
        (name, config),
    ]))
}

/// `GET /api/accounts/{address}`
pub(crate) fn account(host: &mut Host, addr: &Address) -> Json {
    object([
        ("address", text(addr.to_string())),
        ("balance", int(host.ledger.balance(addr))),
        ("nonce", int(host.ledger.nonce(addr))),
        ("next_nonce", int(host.ledger.next_nonce(addr))),
    ])
}

/// A block's header fields and transaction hashes.
pub(crate) fn block(header: &BlockHeader, tx_hashes: &[Hash]) -> Json {
    object([
        ("chain_id", text(header.chain_id.clone())),
        ("height", int(header.height)),
        ("hash", hash_hex(&header.hash())),
        ("parent_hash", hash_hex(&header.parent_hash)),
        ("timestamp", int(header.timestamp)),
        ("tx_root", hash_hex(&header.tx_root)),
        ("state_root", hash_hex(&header.state_root)),
        ("proposer", text(header.proposer.to_string())),
        ("txs", Json::Array(tx_hashes.iter().map(hash_hex).collect())),
    ])
}

/// `GET /api/blocks/{height}` (`None`: the tip).
pub(crate) fn block_at(host: &mut Host, height: Option<u64>) -> Result<Json, ApiError> {
    let height = height.unwrap_or(host.ledger.tip().height);
    let stored = host
        .ledger
        .block(height)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    let hashes: Vec<Hash> = stored.txs.iter().map(|tx| tx.hash()).collect();
    Ok(block(&stored.header, &hashes))
}

/// `GET /api/tx/{hash}`
pub(crate) fn receipt(host: &mut Host, hash: &Hash) -> Result<Json, ApiError> {
    let location = host
        .ledger
        .receipt(hash)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(loc) = location {
        let (ok, error) = match &loc.receipt.outcome {
            TxOutcome::Applied => (true, Json::Null),
            TxOutcome::Failed(reason) => (false, text(reason.clone())),
        };
        return Ok(object([
            ("hash", hash_hex(hash)),
            ("status", text("included")),
            ("height", int(loc.height)),
            ("index", int(loc.index)),
            ("ok", Json::Bool(ok)),
            ("error", error),
            ("fee", amount(loc.receipt.fee)),
        ]));
    }
    if host.ledger.is_pending(hash) {
        return Ok(object([
            ("hash", hash_hex(hash)),
            ("status", text("pending")),
        ]));
    }
    if let Some(rejected) = host.ledger.rejection(hash) {
        let status = if rejected.dropped {
            "dropped"
        } else {
            "refused"
        };
        return Ok(object([
            ("hash", hash_hex(hash)),
            ("status", text(status)),
            ("error", text(rejected.reason.clone())),
        ]));
    }
    Err(ApiError::not_found(format!(
        "unknown transaction {}",
        hex::encode(hash)
    )))
}

/// `GET /api/status`
pub(crate) fn status(host: &mut Host) -> Json {
    let tip = host.ledger.tip();
    object([
        ("chain_id", text(host.ledger.chain_id())),
        ("genesis_hash", hash_hex(&host.ledger.genesis_hash())),
        ("height", int(tip.height)),
        ("tip_hash", hash_hex(&tip.hash())),
        ("state_root", hash_hex(&host.ledger.state_root())),
        ("pending", int(host.ledger.pending() as u64)),
        (
            "last_block_error",
            host.last_block_error.clone().map_or(Json::Null, Json::Str),
        ),
    ])
}

/// `GET /api/tasks/{id}`: the task record (see [`crate::task`]), or `404`.
pub(crate) fn task(host: &mut Host, id: &str) -> Result<Json, ApiError> {
    let at = |leaf: &[&str]| task_path(id, leaf).map_err(|e| ApiError::bad_request(e.to_string()));
    let owner = read_bounded(host, &at(&["owner"])?)?;
    if owner.is_absent() {
        return Err(ApiError::not_found(format!("no task {id}")));
    }
    let config = read_bounded(host, &at(&["config"])?)?;
    let status = read_bounded(host, &at(&["status"])?)?;
    let round = read_bounded(host, &at(&["round"])?)?;
    let registered = read_bounded(host, &at(&["providers"])?)?;
    let stakes = read_bounded(host, &at(&["stakes"])?)?;
    let proofs = read_bounded(host, &at(&["proofs"])?)?;
    let payouts = read_bounded(host, &at(&["payouts"])?)?;
    let escrow =
        |leaf: &str| escrow_path(id, &[leaf]).map_err(|e| ApiError::bad_request(e.to_string()));
    let escrow_admin = read_bounded(host, &escrow("admin")?)?;
    let escrow_balance = read_bounded(host, &escrow("balance")?)?;

    let mut providers: BTreeMap<String, Json> = BTreeMap::new();
    let addresses = [&registered, &stakes]
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(map) => Some(map.keys().cloned()),
            _ => None,
        })
        .flatten();
    for addr in addresses {
        let stake = stakes.child(&addr).as_int().unwrap_or(0);
        let registration = registered.child(&addr);
        let data_root = registration.child("data_root").clone();
        let client = registration.child("client").clone();
        providers.insert(
            addr,
            object([
                ("stake", int(stake)),
                ("client", client.into()),
                ("data_root", data_root.into()),
            ]),
        );
    }
    let or_empty = |v: Value| {
        if v.is_absent() {
            Json::Object(BTreeMap::new())
        } else {
            v.into()
        }
    };
    let total = config.child("rounds").clone();
    Ok(object([
        ("id", text(id)),
        ("owner", owner.into()),
        ("status", status.into()),
        ("config", config.into()),
        (
            "rounds",
            object([("current", round.into()), ("total", total.into())]),
        ),
        ("providers", Json::Object(providers)),
        ("proofs", or_empty(proofs)),
        ("payouts", or_empty(payouts)),
        (
            "escrow",
            object([
                ("admin", escrow_admin.into()),
                ("balance", int(escrow_balance.as_int().unwrap_or(0))),
            ]),
        ),
    ]))
}
